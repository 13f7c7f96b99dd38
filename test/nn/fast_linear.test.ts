// The fused small-product Linear of native/fast_attention.cc (FastLinear) against the reference
// path (torch.backends.fastPath(false): at::linear, which the fixture suites check against
// PyTorch): random shapes, with and without bias, float32 and float64, and the calls that must NOT
// take it (a gradient needed, non-contiguous operands, large products, other dtypes).

import { expect } from 'chai';

import * as torch from '../../lib';
import { prng } from '../helpers';

const { nn } = torch;
const F = nn.functional;

const hits = () => torch.backends.fastPathStats().linear;

/** Largest |a - b| / max(1, |b|). */
function relDiff(a: torch.Tensor, b: torch.Tensor): number {
  expect(a.shape).to.deep.equal(b.shape);
  const x = a.flatten().toArray() as number[];
  const y = b.flatten().toArray() as number[];
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i])));
  return worst;
}

/** fn on the fast path, then on the reference path; checks whether the fast path counted. */
function both(fn: () => torch.Tensor, fastExpected: boolean): [torch.Tensor, torch.Tensor] {
  const before = hits();
  const fast = fn();
  expect(hits() - before, 'fast path taken').to.equal(fastExpected ? 1 : 0);
  torch.backends.fastPath(false);
  try {
    const mid = hits();
    const ref = fn();
    expect(hits(), 'reference path does not count').to.equal(mid);
    return [fast, ref];
  } finally {
    torch.backends.fastPath(true);
  }
}

describe('fast Linear (native FastLinear)', () => {
  let saved: boolean;
  before(() => {
    saved = torch.backends.fastPath();
    torch.backends.fastPath(true);
  });
  after(() => torch.backends.fastPath(saved));

  it('equals at::linear within 1e-6 over 200 random shapes (1-D to 4-D input, bias or not, float32/float64)', () => {
    const rnd = prng(7);
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    let worst = 0;
    for (let c = 0; c < 200; c++) {
      const dtype = c % 4 === 3 ? 'float64' : 'float32';
      const inF = int(1, 40),
        outF = int(1, 40);
      const lead = Array.from({ length: int(0, 3) }, () => int(1, 6));
      const bias = c % 3 !== 0;
      torch.tidy(() => {
        const lin = new nn.Linear(inF, outF, { bias, dtype }).eval();
        const x = torch.randn([...lead, inF], { dtype });
        const [fast, ref] = torch.noGrad(() => both(() => lin.forward(x), true));
        worst = Math.max(worst, relDiff(fast, ref));
        expect(fast.dtype).to.equal(dtype);
      });
    }
    expect(worst).to.be.at.most(1e-6);
  });

  it('F.linear takes it too; the result is a fresh tensor the caller owns', () => {
    torch.tidy(() => {
      const x = torch.randn([3, 4]);
      const w = torch.randn([5, 4]);
      const b = torch.randn([5]);
      const [fast, ref] = torch.noGrad(() => both(() => F.linear(x, w, b), true));
      expect(relDiff(fast, ref)).to.be.at.most(1e-6);
      fast.fill_(0); // writing the result leaves the inputs alone
      expect(x.abs().sum().item()).to.be.above(0);
    });
  });

  it('a call that needs a gradient runs at::linear, and its gradients are right', () => {
    torch.tidy(() => {
      const lin = new nn.Linear(4, 3);
      const x = torch.randn([2, 4], { requiresGrad: true });
      const before = hits();
      const y = lin.forward(x);
      expect(hits()).to.equal(before);
      y.sum().backward();
      // d(sum(x W^T + b))/dx = column sums of W, for every row
      const expected = lin.weight.sum(0).unsqueeze(0).expand([2, 4]);
      expect(relDiff(x.grad!, expected)).to.be.at.most(1e-6);
      expect(lin.bias!.grad!.toArray()).to.deep.equal([2, 2, 2]);
    });
  });

  it('non-contiguous operands, large products and other dtypes take the reference path', () => {
    torch.tidy(() =>
      torch.noGrad(() => {
        const w = torch.randn([6, 5]);
        const xt = torch.randn([5, 3]).t(); // (3, 5), not contiguous
        const [f1, r1] = both(() => F.linear(xt, w), false);
        expect(relDiff(f1, r1)).to.equal(0);
        const x2 = torch.randn([3, 5]);
        const [f2, r2] = both(() => F.linear(x2, w.t().t()), true); // a contiguous view
        expect(relDiff(f2, r2)).to.be.at.most(1e-6);
        const wt = torch.randn([5, 6]).t(); // (6, 5), not contiguous
        both(() => F.linear(torch.randn([2, 5]), wt), false);
        // 256 x 256 x 256 multiply-adds: past the small-product limit, libtorch's own path
        const big = torch.randn([256, 256]);
        both(() => F.linear(big, big), false);
        // an integer product is not fused (libtorch's own message for what it refuses)
        const xi = torch.ones([2, 3], { dtype: 'int64' });
        const wi = torch.ones([4, 3], { dtype: 'int64' });
        const before = hits();
        expect(F.linear(xi, wi).toArray()).to.deep.equal([
          [3, 3, 3, 3],
          [3, 3, 3, 3],
        ]);
        expect(hits()).to.equal(before);
      }),
    );
  });

  it("shape errors are libtorch's, whichever path runs", () => {
    torch.tidy(() =>
      torch.noGrad(() => {
        const x = torch.randn([2, 3]);
        const w = torch.randn([4, 5]);
        expect(() => F.linear(x, w)).to.throw(Error);
        torch.backends.fastPath(false);
        try {
          expect(() => F.linear(x, w)).to.throw(Error);
        } finally {
          torch.backends.fastPath(true);
        }
        // a bias of the wrong length
        expect(() => F.linear(x, torch.randn([4, 3]), torch.randn([3]))).to.throw(Error);
      }),
    );
  });
});
