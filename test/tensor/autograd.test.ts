import { expect } from 'chai';

import * as torch from '../../lib';
import { expectClose, expectError, expectExact, fixture, gradCase, input } from '../helpers';

type Fn = (...xs: torch.Tensor[]) => torch.Tensor;

describe('autograd', () => {
  const mask = input('mask');
  const g34 = input('g34');

  describe('gradients match PyTorch (fixture)', () => {
    // Each case mirrors the Python lambda of the same name in test/fixtures/gen/gen_tensor_fixtures.py.
    const cases: [string, string[], Fn, torch.Tensor?][] = [
      ['mul_exp', ['a', 'b'], (x, y) => x.mul(y).add(x.exp()).sum()],
      ['softmax_log_mean', ['a'], (x) => x.softmax(1).log().mean()],
      ['log_softmax_mul', ['a', 'b'], (x, y) => x.logSoftmax(0).mul(y).mean()],
      ['matmul_chain', ['m1', 'm2', 'w'], (p, q, r) => p.matmul(q).tanh().matmul(r).pow(2).sum()],
      ['bmm', ['b1', 'b2'], (p, q) => p.bmm(q).sigmoid().sum()],
      ['activations', ['a'], (x) => x.tanh().mul(x.sigmoid()).add(x.gelu()).sub(x.relu().mul(3)).sum()],
      ['gelu_tanh', ['a'], (x) => x.gelu({ approximate: 'tanh' }).sum()],
      ['pow', ['pos', 'b'], (p, q) => p.pow(q).sum().add(q.pow(3).sum())],
      ['div', ['a', 'pos'], (x, p) => x.div(p).sum().add(x.div(4).sum())],
      ['bcast_add', ['col', 'row'], (p, q) => p.add(q).pow(2).sum()],
      ['unary_chain', ['pos', 'a'], (p, x) => p.sqrt().log().add(x.abs().exp().neg()).sum()],
      ['max_min', ['d'], (x) => x.max().add(x.min().mul(2)).add(x.max(1)[0].sum()).add(x.min(0, true)[0].sum().mul(3))],
      [
        'var_std',
        ['a'],
        (x) =>
          x
            .var()
            .add(x.std(1).sum())
            .add(x.var(0, { unbiased: false }).sum()),
      ],
      ['masked_fill', ['a', 'b'], (x, y) => x.maskedFill(mask, 0).mul(y).sum()],
      ['where', ['a', 'b'], (x, y) => torch.where(mask, x.mul(2), y.mul(3)).sum()],
      ['clamp', ['a'], (x) => x.clamp(-1, 1).mul(x).sum()],
      ['clamp_tensor', ['a', 'b'], (x, y) => x.clamp(y).sum()],
      ['maximum', ['a', 'b'], (x, y) => torch.maximum(x, y).mul(x).sum()],
      ['mean_sum_keepdim', ['x3'], (x) => x.sum(1, true).mul(x).mean([0, 2]).sum()],
      [
        'shape_ops',
        ['x3'],
        (x) =>
          x
            .permute(2, 0, 1)
            .reshape(4, 6)
            .index('1:3')
            .t()
            .mul(torch.arange(12, { dtype: 'float32' }).reshape(6, 2))
            .sum(),
      ],
      [
        'cat_stack',
        ['a', 'b'],
        (x, y) =>
          torch
            .cat([x, y.mul(2)], 1)
            .sum(0)
            .mul(torch.stack([x, y]).sum([0, 1]).repeat(2))
            .sum(),
      ],
      ['nonscalar', ['a', 'b'], (x, y) => x.mul(2).add(y.mul(x)), g34],
    ];
    for (const [name, names, fn, gradient] of cases) {
      it(name, () => {
        const want = gradCase(name);
        const xs = names.map((n) => input(n, { requiresGrad: true }));
        const out = fn(...xs);
        expect(out.requiresGrad).to.equal(true);
        expect(out.gradFn).to.be.a('string');
        expectClose(out, want.out, { rtol: 1e-5, atol: 1e-5 }, `${name} value`);
        out.backward(gradient);
        names.forEach((n, i) => {
          const g = xs[i].grad;
          expect(g, `grad of ${n}`).to.not.equal(null);
          expectClose(g!, want.grads[n], { rtol: 1e-5, atol: 1e-5 }, `${name}: grad of ${n}`);
        });
      });
    }
  });

  describe("grad_fn names are PyTorch's", () => {
    const x = input('a', { requiresGrad: true });
    const y = input('b', { requiresGrad: true });
    const exprs: Record<string, () => torch.Tensor> = {
      add: () => x.add(y),
      add_scalar: () => x.add(1),
      sub: () => x.sub(y),
      sub_scalar: () => x.sub(1),
      mul: () => x.mul(y),
      mul_scalar: () => x.mul(2),
      div: () => x.div(y),
      div_scalar: () => x.div(2),
      pow_scalar: () => x.pow(2),
      pow_tensor: () => x.pow(y),
      neg: () => x.neg(),
      exp: () => x.exp(),
      tanh: () => x.tanh(),
      sigmoid: () => x.sigmoid(),
      relu: () => x.relu(),
      softmax: () => x.softmax(1),
      log_softmax: () => x.logSoftmax(1),
      matmul: () => x.matmul(y.t()),
      t: () => x.t(),
      sum: () => x.sum(),
      sum_dim: () => x.sum(1),
      mean: () => x.mean(),
      max: () => x.max(),
      max_dim: () => x.max(1)[0],
      reshape: () => x.reshape(12),
      view: () => x.view(4, 3),
      unsqueeze: () => x.unsqueeze(0),
      permute: () => x.permute(1, 0),
      select: () => x.select(0, 1),
      clamp: () => x.clamp(-1, 1),
      masked_fill: () => x.maskedFill(mask, 0),
      where: () => torch.where(mask, x, y),
      var: () => x.var(),
      std: () => x.std(),
      gelu: () => x.gelu(),
      cat: () => torch.cat([x, y]),
      stack: () => torch.stack([x, y]),
      index_select: () => x.indexSelect(0, torch.tensor([0n])),
      expand: () => x.index(':1').expand(3, 4),
      slice: () => x.index('1:'),
    };
    // (scalar operands give the names PyTorch's wrapped numbers give: x.add(1) is AddBackward0)
    const names = fixture().gradfn;
    it('the fixture has all 40 grad_fn names', () => {
      expect(Object.keys(names)).to.have.length(40);
    });
    // The names are libtorch's own; PyTorch 2.x renamed a few (reshape of a contiguous tensor is
    // a plain view there). Our fixtures come from 1.13.
    const renamedIn2x: Record<string, string> = { reshape: 'ViewBackward0' };
    const v2 = Number(torch.libtorchVersion.split('.')[0]) >= 2;
    for (const [key, fixed] of Object.entries(names)) {
      const expected = v2 && renamedIn2x[key] ? renamedIn2x[key] : fixed;
      it(`${key} → ${expected}`, () => {
        expect(exprs[key], `no JS expression for ${key}`).to.be.a('function');
        expect(exprs[key]().gradFn).to.equal(expected);
      });
    }
  });

  describe('leaves, requiresGrad, gradFn', () => {
    it('requiresGrad / isLeaf / gradFn', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      const c = torch.tensor([3, 4]);
      expect(x.requiresGrad).to.equal(true);
      expect(x.isLeaf).to.equal(true);
      expect(x.gradFn).to.equal(null);
      expect(x.grad).to.equal(null);
      expect(c.requiresGrad).to.equal(false);
      expect(c.isLeaf).to.equal(true);
      const y = x.mul(c);
      expect(y.requiresGrad).to.equal(true);
      expect(y.isLeaf).to.equal(false);
      expect(y.gradFn).to.equal('MulBackward0');
      const z = c.mul(2);
      expect(z.requiresGrad).to.equal(false);
      expect(z.isLeaf).to.equal(true);
      expect(z.gradFn).to.equal(null);
    });

    it('the requiresGrad setter and requiresGrad_()', () => {
      const x = torch.tensor([1, 2]);
      x.requiresGrad = true;
      expect(x.requiresGrad).to.equal(true);
      x.requiresGrad = false;
      expect(x.requiresGrad).to.equal(false);
      expect(x.requiresGrad_()).to.equal(x);
      expect(x.requiresGrad).to.equal(true);
      x.mul(x).sum().backward();
      expectExact(x.grad!, [2, 4]);
    });

    it('a simple gradient by hand: d/dx sum(x^2 + 3x) = 2x + 3', () => {
      const x = torch.tensor([1, -2, 0.5], { requiresGrad: true });
      x.pow(2).add(x.mul(3)).sum().backward();
      expectClose(x.grad!, [5, -1, 4]);
      expect(x.grad!.requiresGrad).to.equal(false);
      expect(x.grad!.shape).to.deep.equal([3]);
    });

    it('float64 gradients', () => {
      const x = torch.tensor([0.1, 0.2], { dtype: 'float64', requiresGrad: true });
      x.mul(x).sum().backward();
      expect(x.grad!.dtype).to.equal('float64');
      expectClose(x.grad!, [0.2, 0.4], { rtol: 1e-15, atol: 0 });
    });
  });

  describe('retainGrad, backward(gradient), accumulation', () => {
    it('retainGrad() keeps .grad of a non-leaf', () => {
      const x = torch.tensor([1, 2, 3], { requiresGrad: true });
      const h = x.mul(2);
      h.retainGrad();
      const k = x.mul(3); // not retained
      h.mul(k).sum().backward();
      expectExact(h.grad!, [3, 6, 9]);
      expectExact(x.grad!, [12, 24, 36]);
    });

    it('backward(gradient) for a non-scalar output', () => {
      const x = torch.tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { requiresGrad: true },
      );
      const y = x.mul(x);
      y.backward(
        torch.tensor([
          [1, 0],
          [0.5, 2],
        ]),
      );
      expectExact(x.grad!, [
        [2, 0],
        [3, 16],
      ]);
    });

    it('backward(gradient) on a scalar scales the gradient', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      x.sum().backward(torch.tensor(3));
      expectExact(x.grad!, [3, 3]);
    });

    it('gradients accumulate over two backward calls', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      x.mul(x).sum().backward();
      expectExact(x.grad!, [2, 4]);
      x.mul(3).sum().backward();
      expectExact(x.grad!, [5, 7]);
    });

    it('retainGraph allows a second backward through the same graph', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      const y = x.exp().sum();
      y.backward(null, { retainGraph: true });
      y.backward();
      expectClose(x.grad!, [2 * Math.E, 2 * Math.exp(2)]);
    });

    it('a second backward without retainGraph fails with a TorchError', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      const y = x.exp().sum();
      y.backward();
      expect(() => y.backward()).to.throw(torch.TorchError, /backward through the graph a second time/);
    });

    it("the second-backward error says {retainGraph: true}, in this API's words, sync and async", async () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      const y = x.exp().sum();
      y.backward();
      const err = expectError(() => y.backward(), torch.TorchError, 'Tensor.backward: ', 'Pass {retainGraph: true}');
      expect(err.message).to.not.match(/retain_graph|autograd\.grad/);
      const z = x.exp().sum();
      await z.backwardAsync();
      let rejected: unknown;
      await z.backwardAsync().catch((e: unknown) => {
        rejected = e;
      });
      expect(rejected).to.be.instanceOf(torch.TorchError);
      expect((rejected as Error).message)
        .to.include('Tensor.backwardAsync: ')
        .and.include('Pass {retainGraph: true}');
      expect((rejected as Error).message).to.not.match(/retain_graph|autograd\.grad/);
      expectError(
        () =>
          x
            .exp()
            .sum()
            .backward(null, { retain_graph: true } as never),
        TypeError,
        "'retainGraph'",
      );
    });

    it('setting t.grad = null clears it; setting a tensor sets it', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      x.mul(2).sum().backward();
      expectExact(x.grad!, [2, 2]);
      x.grad = null;
      expect(x.grad).to.equal(null);
      x.mul(5).sum().backward();
      expectExact(x.grad!, [5, 5]);
      x.grad = torch.tensor([10, 20]);
      expectExact(x.grad!, [10, 20]);
      x.sum().backward();
      expectExact(x.grad!, [11, 21]);
    });

    it("setting a grad of another shape or dtype, or the tensor itself, throws PyTorch's messages; the grad is unchanged", () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      x.grad = torch.tensor([10, 20]);
      expectError(
        () => {
          x.grad = torch.zeros(3);
        },
        RangeError,
        /Tensor\.grad: assigned grad has data of a different size/,
        /\[3\]/,
        /\[2\]/,
      );
      expectError(
        () => {
          x.grad = torch.zeros(2, 1);
        },
        RangeError,
        /different size/,
      );
      expectError(
        () => {
          x.grad = torch.zeros(2, { dtype: 'float64' });
        },
        TypeError,
        /assigned grad has data of a different type/,
        /float64/,
      );
      expectError(
        () => {
          x.grad = torch.tensor([1n, 2n]);
        },
        TypeError,
        /different type/,
        /int64/,
      );
      expectError(
        () => {
          x.grad = x;
        },
        TypeError,
        /can't assign Variable as its own grad/,
      );
      expectExact(x.grad!, [10, 20]);
      x.sum().backward();
      expectExact(x.grad!, [11, 21]);
      x.grad = null;
      expect(x.grad).to.equal(null);
    });

    it('.grad is shared storage: zero_() on it resets the gradient', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      x.mul(2).sum().backward();
      x.grad!.zero_();
      expectExact(x.grad!, [0, 0]);
      x.mul(3).sum().backward();
      expectExact(x.grad!, [3, 3]);
    });

    it('createGraph gives a differentiable gradient (double backward)', () => {
      const x = torch.tensor([2, 3], { requiresGrad: true });
      x.pow(3).sum().backward(null, { createGraph: true });
      const g = x.grad!; // 3x^2
      expectExact(g, [12, 27]);
      expect(g.requiresGrad).to.equal(true);
      x.grad = null;
      g.sum().backward();
      expectExact(x.grad!, [12, 18]); // 6x
    });
  });

  describe('grad mode', () => {
    it("noGrad returns fn's value and results do not require grad", () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      expect(torch.isGradEnabled()).to.equal(true);
      const r = torch.noGrad(() => {
        expect(torch.isGradEnabled()).to.equal(false);
        return x.mul(2);
      });
      expect(r.requiresGrad).to.equal(false);
      expect(r.gradFn).to.equal(null);
      expectExact(r, [2, 4]);
      expect(torch.isGradEnabled()).to.equal(true);
      expect(torch.noGrad(() => 42)).to.equal(42);
      const obj = { a: 1 };
      expect(torch.noGrad(() => obj)).to.equal(obj);
    });

    it('enableGrad inside noGrad', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      torch.noGrad(() => {
        const inner = torch.enableGrad(() => {
          expect(torch.isGradEnabled()).to.equal(true);
          return x.mul(x);
        });
        expect(torch.isGradEnabled()).to.equal(false);
        expect(inner.requiresGrad).to.equal(true);
        expect(inner.gradFn).to.equal('MulBackward0');
        expect(x.mul(x).requiresGrad).to.equal(false);
      });
      expect(torch.isGradEnabled()).to.equal(true);
    });

    it('grad mode is restored when fn throws', () => {
      expect(() =>
        torch.noGrad(() => {
          throw new Error('boom');
        }),
      ).to.throw('boom');
      expect(torch.isGradEnabled()).to.equal(true);
      torch.noGrad(() => {
        expect(() =>
          torch.enableGrad(() => {
            throw new Error('boom');
          }),
        ).to.throw('boom');
        expect(torch.isGradEnabled()).to.equal(false);
      });
      expect(torch.isGradEnabled()).to.equal(true);
    });

    it('setGradEnabled', () => {
      try {
        torch.setGradEnabled(false);
        expect(torch.isGradEnabled()).to.equal(false);
        expect(torch.tensor([1], { requiresGrad: true }).mul(2).requiresGrad).to.equal(false);
      } finally {
        torch.setGradEnabled(true);
      }
      expect(torch.isGradEnabled()).to.equal(true);
    });

    it('in-place updates of a leaf under noGrad (an optimizer step)', () => {
      const w = torch.tensor([1, 2], { requiresGrad: true });
      w.mul(w).sum().backward();
      torch.noGrad(() => {
        w.sub_(w.grad!, 0.5);
      });
      expectExact(w, [0, 0]);
      expect(w.isLeaf).to.equal(true);
      expect(w.requiresGrad).to.equal(true);
    });

    it('in-place on a leaf that requires grad outside noGrad is refused (TorchError)', () => {
      const w = torch.tensor([1, 2], { requiresGrad: true });
      expect(() => w.add_(1)).to.throw(torch.TorchError, /leaf Variable that requires grad/);
    });
  });

  describe('detach', () => {
    it('detach() cuts the graph and shares storage', () => {
      const x = torch.tensor([1, 2], { requiresGrad: true });
      const y = x.mul(2);
      const dy = y.detach();
      expect(dy.requiresGrad).to.equal(false);
      expect(dy.gradFn).to.equal(null);
      expect(dy.isLeaf).to.equal(true);
      expectExact(dy, [2, 4]);
      const dx = x.detach();
      dx.fill_(5);
      expectExact(x, [5, 5]);
      // a detached operand contributes no gradient
      x.mul(x.detach()).sum().backward();
      expectExact(x.grad!, [5, 5]);
    });
  });
});
