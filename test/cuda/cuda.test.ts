// CUDA end to end (tag @cuda: `mocha --grep @cuda`, what scripts/ci/gpu-check.sh runs). Every case
// compares the GPU against the CPU on the same inputs and parameters. Without a CUDA-enabled
// libtorch and a GPU the whole block is skipped, and the reason is printed.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { SeedModel } from '../../examples/seed_model';
import * as torch from '../../lib';

const { nn, optim } = torch;
type Tensor = torch.Tensor;

/** Why CUDA cases cannot run here, or null when they can. */
function unavailable(): string | null {
  const c = torch.config().cuda;
  if (!c.built) return `libtorch ${torch.libtorchVersion} was built without CUDA`;
  if (!c.available) return 'libtorch has CUDA but no usable GPU was found';
  return null;
}

/** GPU kernels (cuDNN, TF32 where PyTorch allows it, other reduction orders) differ from the CPU in the last bits. */
function close(gpu: Tensor, cpu: Tensor, what: string, tol = 2e-3): void {
  expect(gpu.device.startsWith('cuda'), `${what}: on ${gpu.device}`).to.equal(true);
  expect(gpu.shape, `${what}: shape`).to.deep.equal(cpu.shape);
  const g = gpu.cpu();
  const diff = g.sub(cpu).abs().max().item() as number;
  expect(g.allclose(cpu, { rtol: tol, atol: tol }), `${what}: max |gpu - cpu| = ${diff}`).to.equal(true);
}

describe('CUDA @cuda', () => {
  before(function () {
    const why = unavailable();
    if (why) {
      // A visible reason in the run's output, not just a pending count.
      console.log(`      CUDA tests skipped: ${why}`);
      this.skip();
    }
  });

  it('creation on the GPU, .cuda(), .to(), .cpu() and data() round-trip exactly', () => {
    const cpu = torch.randn(3, 4);
    const g = cpu.cuda();
    expect(g.device).to.equal('cuda:0');
    expect(g.cpu().equal(cpu)).to.equal(true);
    expect(Array.from(g.data() as Float32Array)).to.deep.equal(Array.from(cpu.data() as Float32Array));
    expect(cpu.to('cuda').device).to.equal('cuda:0');
    expect(cpu.to({ device: 'cuda:0', dtype: 'float64' }).dtype).to.equal('float64');
    for (const t of [
      torch.zeros([2, 2], { device: 'cuda' }),
      torch.ones([2], { device: 'cuda' }),
      torch.randn([5], { device: 'cuda' }),
      torch.full([2], 7, { device: 'cuda' }),
      torch.arange(4, { device: 'cuda' }),
      torch.tensor([1, 2, 3], { device: 'cuda' }),
    ])
      expect(t.device).to.equal('cuda:0');
    expect(Array.from(torch.tensor([1, 2, 3], { device: 'cuda' }).data() as Float32Array)).to.deep.equal([1, 2, 3]);
  });

  it('ops and autograd on the GPU equal the CPU', () => {
    torch.manualSeed(0);
    const a = torch.randn(16, 32, { requiresGrad: true }),
      b = torch.randn(32, 8, { requiresGrad: true });
    const ag = a.detach().cuda().requiresGrad_(),
      bg = b.detach().cuda().requiresGrad_();
    const f = (x: Tensor, y: Tensor) => x.matmul(y).tanh().softmax(1).mul(x.sum(1, true)).sum();
    const yc = f(a, b),
      yg = f(ag, bg);
    close(yg, yc, 'value');
    yc.backward();
    yg.backward();
    close(ag.grad!, a.grad!, 'grad a');
    close(bg.grad!, b.grad!, 'grad b');
  });

  it('a device mismatch is a clear error naming the fix', () => {
    const mha = new nn.MultiheadAttention(8, 2).to('cuda');
    const q = torch.randn([4, 2, 8], { device: 'cuda' });
    expect(() => mha.forward(q, q, q, { attnMask: nn.masks.causal(4) })).to.throw(
      TypeError,
      /attnMask is on cpu but query is on cuda:0; create it there/,
    );
    expect(() => mha.forward(q.cpu(), q.cpu(), q.cpu())).to.throw(TypeError, /module's parameters are on cuda:0/);
    const pad = nn.masks.keyPadding([4, 2], 4, { device: 'cuda' });
    expect(pad.device).to.equal('cuda:0');
    expect(
      mha.forward(q, q, q, { keyPaddingMask: pad, attnMask: nn.masks.causal(4, 4, { device: 'cuda' }) })[0].device,
    ).to.equal('cuda:0');
  });

  it('the seed model: forward and backward on the GPU equal the CPU (module.to, masks on the device)', () => {
    torch.manualSeed(3);
    const L = 12,
      N = 4,
      lengths = [12, 9, 5, 1];
    const cpuModel = new SeedModel();
    const gpuModel = new SeedModel();
    gpuModel.loadStateDict(cpuModel.stateDict());
    gpuModel.to('cuda');
    for (const [name, p] of gpuModel.namedParameters()) expect(p.device, name).to.equal('cuda:0');
    const x = torch.randn(L, N, 10),
      y = torch.randn(L, N, 10);
    const pad = nn.masks.keyPadding(lengths, L);
    const lossOf = (m: SeedModel, dev: string) => nn.functional.mseLoss(m.forward(x.to(dev), pad.to(dev)), y.to(dev));
    const lc = lossOf(cpuModel, 'cpu'),
      lg = lossOf(gpuModel, 'cuda');
    close(lg, lc, 'loss');
    lc.backward();
    lg.backward();
    const gp = new Map(gpuModel.namedParameters());
    for (const [name, p] of cpuModel.namedParameters()) close(gp.get(name)!.grad!, p.grad!, `grad ${name}`);
  });

  it('Adam steps on the GPU equal the CPU; the optimizer state lives with the parameters', () => {
    torch.manualSeed(4);
    const a = new nn.Linear(6, 3),
      b = new nn.Linear(6, 3);
    b.loadStateDict(a.stateDict());
    b.to('cuda');
    const oa = new optim.Adam(a.parameters(), { lr: 0.01 }),
      ob = new optim.Adam(b.parameters(), { lr: 0.01 });
    const x = torch.randn(8, 6),
      t = torch.randn(8, 3);
    for (let i = 0; i < 5; i++) {
      for (const [m, o, dev] of [
        [a, oa, 'cpu'],
        [b, ob, 'cuda'],
      ] as const) {
        o.zeroGrad();
        nn.functional.mseLoss(m.forward(x.to(dev)), t.to(dev)).backward();
        o.step();
      }
    }
    close(b.weight, a.weight, 'weight after 5 steps', 1e-4);
    const st = ob.stateDict().state.get(0)!;
    expect((st.exp_avg as Tensor).device).to.equal('cuda:0');
  });

  it('forwardAsync on the GPU equals forward', async () => {
    const lstm = new nn.LSTM(8, 16, { numLayers: 2 }).to('cuda');
    const x = torch.randn([10, 3, 8], { device: 'cuda' });
    const [o1] = lstm.forward(x);
    const [o2] = await lstm.forwardAsync(x);
    close(o2, o1.cpu(), 'LSTM forwardAsync', 1e-6);
  });

  it('a checkpoint of GPU tensors records cuda:0 and loads back to the CPU or the GPU', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-cuda-'));
    try {
      const g = torch.randn([3, 3], { device: 'cuda' });
      const file = path.join(dir, 'g.pt');
      torch.save({ g }, file);
      const onCpu = torch.load(file) as { g: Tensor };
      expect(onCpu.g.device).to.equal('cpu');
      expect(onCpu.g.equal(g.cpu())).to.equal(true);
      const back = torch.load(file, { mapLocation: { 'cuda:0': 'cuda:0' } }) as { g: Tensor };
      expect(back.g.device).to.equal('cuda:0');
      expect(back.g.cpu().equal(g.cpu())).to.equal(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CUDA entry points without CUDA', () => {
  before(function () {
    if (torch.cuda.isAvailable()) this.skip();
  });

  it('torch.cuda.synchronize() is a clear error, and its argument is checked first', () => {
    expect(() => torch.cuda.synchronize()).to.throw(torch.TorchError, /torch\.cudaSynchronize: CUDA is not available/);
    expect(() => torch.cuda.synchronize('gpu')).to.throw(TypeError, /torch\.cuda\.synchronize: expected a CUDA device/);
    expect(() => torch.cuda.synchronize(-1)).to.throw(/torch\.cuda\.synchronize/);
  });

  it("nn.masks.keyPadding's device option: 'cpu' works, 'cuda' says why not, unknown keys are refused", () => {
    const m = nn.masks.keyPadding([3, 1], 3, { device: 'cpu' });
    expect(m.device).to.equal('cpu');
    expect(Array.from(m.data() as Uint8Array)).to.deep.equal([0, 0, 0, 0, 1, 1]);
    expect(() => nn.masks.keyPadding([3, 1], 3, { device: 'cuda' })).to.throw(
      /nn\.masks\.keyPadding: device 'cuda' requested but CUDA is not available/,
    );
    expect(() => nn.masks.keyPadding([3, 1], 3, { devise: 'cpu' } as never)).to.throw(
      TypeError,
      /unknown option 'devise'/,
    );
  });
});
