import { expect } from 'chai';
import { SeedModel } from '../../examples/seed_model';
import * as torch from '../../lib';

const { nn } = torch;

describe('examples: the corrected seed model', () => {
  const L = 8,
    N = 3;
  let model: SeedModel;
  let x: torch.Tensor, padding: torch.Tensor;
  const lengths = [8, 5, 3];

  before(() => {
    torch.manualSeed(1);
    model = new SeedModel();
    model.eval();
    x = torch.randn(L, N, 10);
    padding = nn.masks.keyPadding(lengths, L);
  });

  const run = (input: torch.Tensor) => torch.noGrad(() => model.forward(input, padding));

  it("has the seed's shapes and PyTorch parameter names", () => {
    const out = run(x);
    expect(out.shape).to.deep.equal([L, N, 10]);
    expect(Object.keys(model.stateDict())).to.include.members([
      'encoder.weight_ih_l0',
      'encoder.weight_hh_l1',
      'decoder.bias_hh_l1',
      'cross.in_proj_weight',
      'cross.out_proj.weight',
      'head.weight',
    ]);
  });

  it('outputs at real positions do not change when padded inputs change', () => {
    const base = run(x);
    // overwrite every padded step with large values
    const mask = padding.t().unsqueeze(2); // (L, N, 1) true = padded
    const noisy = x.maskedFill(mask, 123.0);
    const changed = run(noisy);
    for (let n = 0; n < N; n++) {
      const a = base.select(1, n).narrow(0, 0, lengths[n]);
      const b = changed.select(1, n).narrow(0, 0, lengths[n]);
      expect(a.sub(b).abs().max().item()).to.equal(0);
    }
    // and padded positions did see the change (the test can fail)
    expect(
      base
        .select(1, 2)
        .narrow(0, 3, 5)
        .sub(changed.select(1, 2).narrow(0, 3, 5))
        .abs()
        .max()
        .item(),
    ).to.be.greaterThan(0);
  });

  it('position t does not change when inputs after t change (causal)', () => {
    const base = run(x);
    const t = 4;
    const later = x.clone();
    later.narrow(0, t + 1, L - t - 1).normal_(0, 5);
    const changed = run(later);
    expect(
      base
        .narrow(0, 0, t + 1)
        .sub(changed.narrow(0, 0, t + 1))
        .abs()
        .max()
        .item(),
    ).to.equal(0);
    expect(
      base
        .narrow(0, t + 1, L - t - 1)
        .sub(changed.narrow(0, t + 1, L - t - 1))
        .abs()
        .max()
        .item(),
    ).to.be.greaterThan(0);
  });

  it('cross-attention weights are zero on the future and on padded keys, and rows sum to 1', () => {
    const [, w] = torch.noGrad(() => model.forwardWithWeights(x, padding));
    expect(w!.shape).to.deep.equal([N, 4, L, L]);
    const future = nn.masks.causal(L, L); // (L, S)
    const blocked = future.unsqueeze(0).logicalOr(padding.unsqueeze(1)).unsqueeze(1).expand(N, 4, L, L);
    expect(w!.maskedFill(blocked.logicalNot(), 0).abs().max().item()).to.equal(0);
    const sums = w!.sum(-1);
    expect(sums.sub(1).abs().max().item()).to.be.below(1e-5);
  });

  it("the seed's bug — a mask passed as the decoder's hidden state — is a clear TypeError", () => {
    const mask = nn.masks.causal(L);
    expect(() => model.decoder.forward(x.narrow(2, 0, 10).matmul(torch.zeros(10, 20)), mask as never)).to.throw(
      TypeError,
      /no attention mask.*MultiheadAttention/s,
    );
  });

  it('trains: a few Adam steps lower the masked loss, gradients reach every parameter', () => {
    torch.manualSeed(2);
    const m = new SeedModel();
    const opt = new torch.optim.Adam(m.parameters(), { lr: 1e-2 });
    const target = torch.randn(L, N, 10);
    const losses: number[] = [];
    for (let i = 0; i < 15; i++) {
      torch.tidy(() => {
        opt.zeroGrad();
        const loss = m.forward(x, padding).sub(target).square().mean();
        loss.backward();
        if (i === 0) for (const [name, p] of m.namedParameters()) expect(p.grad, name).to.not.equal(null);
        opt.step();
        losses.push(loss.item() as number);
      });
    }
    expect(losses[losses.length - 1]).to.be.below(losses[0]);
  });
});
