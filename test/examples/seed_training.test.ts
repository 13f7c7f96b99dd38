import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import { SeedModel } from '../../examples/seed_model';
import * as torch from '../../lib';
import { withFastPath } from '../helpers';

const { nn, optim } = torch;

interface Enc {
  shape: number[];
  values: number[];
}
const fx = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'test/fixtures/seed_training.json'), 'utf8')) as {
  initSums: Record<string, number>;
  losses: number[];
  final: Record<string, Enc>;
};

/** Ten Adam steps of the seed model from seed 0: the losses and the largest |Δweight| from PyTorch's. */
function trainTenSteps(): { losses: number[]; worst: number } {
  const L = 8,
    N = 4,
    C = 10;
  torch.manualSeed(0);
  const model = new SeedModel();
  const sd = model.stateDict();
  expect(Object.keys(sd)).to.deep.equal(Object.keys(fx.initSums));
  expect(Object.keys(fx.initSums), 'fixture: initial sums').to.have.length(22);
  expect(Object.keys(fx.final), 'fixture: final weights').to.deep.equal(Object.keys(fx.initSums));
  expect(fx.losses, 'fixture: losses').to.have.length(10);
  for (const [k, t] of Object.entries(sd))
    expect(t.double().sum().item(), `initial ${k}`).to.be.closeTo(fx.initSums[k], 1e-4);
  torch.dispose(sd);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  const losses: number[] = [];
  for (let step = 0; step < 10; step++) {
    torch.tidy(() => {
      let x = torch.randn(L, N, C);
      const lengths = torch.randint(3, L + 1, [N]);
      const pad = torch.arange(L).unsqueeze(0).ge(lengths.unsqueeze(1));
      x = x.mul(pad.logicalNot().t().unsqueeze(2));
      const valid = torch.arange(L).unsqueeze(1).lt(lengths.sub(1).unsqueeze(0));
      const y = torch.randn(L, N, C).mul(valid.unsqueeze(2));
      opt.zeroGrad();
      const w = valid.unsqueeze(2).float();
      const loss = model.forward(x, pad).sub(y).pow(2).mul(w).sum().div(w.sum().mul(C));
      loss.backward();
      nn.utils.clipGradNorm_(model.parameters(), 1.0);
      opt.step();
      losses.push(loss.item() as number);
    });
  }
  const final = model.stateDict();
  let worst = 0;
  for (const [k, e] of Object.entries(fx.final)) {
    const got = Array.from(final[k].data() as Float32Array);
    expect(final[k].shape, k).to.deep.equal(e.shape);
    e.values.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(got[i] - v));
    });
  }
  torch.dispose(final);
  for (const p of model.parameters()) {
    p.grad?.dispose();
    p.dispose();
  }
  return { losses, worst };
}

/** trainTenSteps with the fused kernels on or off (restored afterwards). */
function trainTenStepsWith(fastPath: boolean): { losses: number[]; worst: number } {
  return withFastPath(fastPath, trainTenSteps);
}

describe("examples: a short training run of the seed model equals PyTorch's", () => {
  it('same seed → same initial weights, same batches → same weights after 10 Adam steps (1e-4; 2e-4 on libtorch 2.x), reference kernels', function () {
    this.timeout(60000);
    // libtorch's own kernels (the fused ones off): PyTorch's algorithm op for op.
    const r = trainTenStepsWith(false);
    r.losses.forEach((l, i) => expect(l, `loss at step ${i}`).to.be.closeTo(fx.losses[i], 1e-4));
    // libtorch 2.x computes the same algorithm with other GEMM and elementwise kernels (Debian 13's
    // OpenBLAS 0.3.29), and Adam's normalised steps amplify float32 rounding: with the composed
    // LSTM (the default where oneDNN's LSTM is wrong) the drift from PyTorch 1.13's weights
    // measured 1.19e-4 on libtorch 2.6; the losses above still agree within 1e-4.
    const tol = torch.libtorchVersion.startsWith('1.') ? 1e-4 : 2e-4;
    expect(r.worst, 'max |Δweight| after 10 steps').to.be.below(tol);
  });

  it('the same run on the default fused kernels (the LSTM training kernel) stays within 4e-4', function () {
    this.timeout(60000);
    const r = trainTenStepsWith(true);
    r.losses.forEach((l, i) => expect(l, `loss at step ${i}`).to.be.closeTo(fx.losses[i], 1e-4));
    // The fused LSTM's gradients equal the reference's to about 1e-6 relative (test/nn/lstm_train);
    // Adam's normalised steps (lr 1e-2) turn such rounding into weight drift: measured 1.57e-4 from
    // PyTorch's weights on libtorch 1.13 (the reference kernels: below 1e-4); the bound leaves room
    // for libtorch 2.x's own 1.19e-4.
    expect(r.worst, 'max |Δweight| after 10 steps').to.be.below(4e-4);
  });
});
