// torch.jit.trace: a function or module's ATen ops recorded once (native/trace.cc), replayed on
// the JS thread and on the pool with the same results, bit for bit, and the same gradients.
import { expect } from 'chai';

import * as torch from '../../lib';
import { expectSame, rejection } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

class MLP extends nn.Module {
  fc1 = new nn.Linear(6, 16);
  fc2 = new nn.Linear(16, 3);
  forward(x: Tensor): Tensor {
    return this.fc2.forward(nn.functional.relu(this.fc1.forward(x)));
  }
}

describe('torch.jit.trace', () => {
  before(() => torch.manualSeed(11));

  it('traces a function of tensors: forward and forwardAsync replay it exactly', async () => {
    const f = (a: Tensor, b: Tensor) => a.matmul(b).tanh().add(b.sum(0));
    const a = torch.randn(4, 5),
      b = torch.randn(5, 3);
    const traced = torch.jit.trace(f, [a, b]);
    expect(traced.graph)
      .to.match(/aten::matmul/)
      .and.match(/aten::tanh/);
    const a2 = torch.randn(4, 5),
      b2 = torch.randn(5, 3);
    expectSame(traced.forward(a2, b2) as Tensor, f(a2, b2));
    expectSame((await traced.forwardAsync(a2, b2)) as Tensor, f(a2, b2));
    traced.dispose();
    traced.dispose(); // idempotent
    expect(() => traced.forward(a2, b2)).to.throw(/disposed/);
  });

  it('traces a module: its parameters are inputs of the graph, so gradients reach them', async () => {
    const m = new MLP();
    const x = torch.randn(8, 6);
    const traced = torch.jit.trace(m, [x]);
    expect(traced.graph).to.match(/aten::linear/);
    expect(traced.graph).not.to.match(/Float\(16, 6[^)]*\) = prim::Constant/); // not baked in
    const y = torch.randn(8, 6);
    const ref = m.forward(y);
    ref.square().sum().backward();
    const grads = [...m.parameters()].map((p) => p.grad!.clone());
    m.zeroGrad();
    const out = (await traced.forwardAsync(y)) as Tensor;
    expectSame(out, ref);
    out.square().sum().backward();
    [...m.parameters()].forEach((p, i) => expectSame(p.grad!, grads[i], `grad ${i}`));
  });

  it('sees in-place parameter updates (an optimizer step) at the next replay', async () => {
    const m = new MLP();
    const x = torch.randn(4, 6);
    const traced = torch.jit.trace(m, x);
    const opt = new torch.optim.SGD(m.parameters(), { lr: 0.5 });
    m.forward(x).sum().backward();
    opt.step();
    expectSame((await traced.forwardAsync(x)) as Tensor, m.forward(x));
  });

  it('converts to a ScriptModule (the torch.jit.save / load path) that computes the same', () => {
    class Shifted extends MLP {
      constructor() {
        super();
        this.registerBuffer('shift', torch.randn(3));
      }
      override forward(x: Tensor): Tensor {
        return super.forward(x).add((this as unknown as { shift: Tensor }).shift);
      }
    }
    const m = new Shifted();
    const x = torch.randn(5, 6);
    const sm = torch.jit.trace(m, [x]).toScriptModule();
    expect([...sm.namedParameters()].map(([k]) => k)).to.deep.equal([
      'fc1_weight',
      'fc1_bias',
      'fc2_weight',
      'fc2_bias',
    ]);
    const y = torch.randn(5, 6);
    expectSame(sm.forward(y) as Tensor, m.forward(y));
    const two = torch.jit.trace((a: Tensor, b: Tensor) => [a.add(b), a.mul(b)], [x, y]).toScriptModule();
    const [s, p] = two.forward(y, x) as Tensor[];
    expectSame(s, y.add(x));
    expectSame(p, y.mul(x));
  });

  it('keeps the structure of arguments and results (arrays, objects, null)', () => {
    const f = (xs: [Tensor, Tensor], o: { scale: Tensor }) => ({ sum: xs[0].add(xs[1]).mul(o.scale), none: null });
    const a = torch.randn(3),
      b = torch.randn(3),
      s = torch.tensor(2);
    const traced = torch.jit.trace(f, [[a, b], { scale: s }]);
    const r = traced.forward([b, a], { scale: s }) as { sum: Tensor; none: null };
    expectSame(r.sum, b.add(a).mul(s));
    expect(r.none).to.equal(null);
    expect(() => traced.forward(a, b)).to.throw(TypeError, /traced structure/);
  });

  it('makes tensors built from JavaScript data inside the function constants (not empty tensors)', () => {
    const f = (x: Tensor) => x.add(torch.tensor([1, 2, 3]));
    const traced = torch.jit.trace(f, [torch.zeros(3)]);
    for (let i = 0; i < 3; i++) expectSame(traced.forward(torch.ones(3)) as Tensor, torch.tensor([2, 3, 4]));
  });

  it('refuses a function that reads tensor values into JavaScript, naming the reason', () => {
    const f = (x: Tensor) => ((x.sum().item() as number) > 0 ? x.relu() : x.neg());
    const e = (() => {
      try {
        torch.jit.trace(f, [torch.randn(4)]);
      } catch (err) {
        return err as torch.jit.TraceError;
      }
      throw new Error('expected a TraceError');
    })();
    expect(e).to.be.instanceOf(torch.jit.TraceError);
    expect(e.message).to.match(/^torch\.jit\.trace: cannot trace: .*Tensor\.item\(\)/);
    expect(() => torch.jit.trace((x: Tensor) => torch.tensor(x.toArray() as number[]), [torch.randn(2)])).to.throw(
      torch.jit.TraceError,
      /reads tensor values/,
    );
  });

  it('refuses integer division by a tensor (its -1 guard reads values), not float division', () => {
    const a = torch.tensor([7, -8, 9], { dtype: 'int64' }),
      b = torch.tensor([2, 3, 4], { dtype: 'int64' });
    expect(() => torch.jit.trace((x: Tensor, y: Tensor) => x.div(y, 'floor'), [a, b])).to.throw(
      torch.jit.TraceError,
      /integer tensors/,
    );
    expect(() => torch.jit.trace((x: Tensor, y: Tensor) => x.remainder(y), [a, b])).to.throw(torch.jit.TraceError);
    const traced = torch.jit.trace((x: Tensor, y: Tensor) => x.div(y), [a, b]);
    expectSame(traced.forward(a, b) as Tensor, a.div(b));
  });

  it('refuses a captured tensor that requires grad, and non-tensor results', () => {
    const w = torch.randn(3).requiresGrad_();
    expect(() => torch.jit.trace((x: Tensor) => x.mul(w), [torch.randn(3)])).to.throw(
      torch.jit.TraceError,
      /requires grad/,
    );
    expect(() => torch.jit.trace((x: Tensor) => x.shape[0], [torch.randn(3)])).to.throw(
      torch.jit.TraceError,
      /may return only tensors/,
    );
    expect(() => torch.jit.trace((x: Tensor) => x, [new Map()])).to.throw(torch.jit.TraceError, /Map/);
  });

  it('passes the errors of the function through unchanged, and can trace again afterwards', () => {
    const bad = (x: Tensor) => x.matmul(torch.randn(7, 2));
    let sync: Error | undefined;
    try {
      bad(torch.randn(2, 3));
    } catch (e) {
      sync = e as Error;
    }
    expect(() => torch.jit.trace(bad, [torch.randn(2, 3)])).to.throw(sync!.constructor as ErrorConstructor);
    expect(torch.jit.isTracing()).to.equal(false);
    const ok = torch.jit.trace((x: Tensor) => x.exp(), [torch.randn(2)]);
    const x = torch.randn(2);
    expectSame(ok.forward(x) as Tensor, x.exp());
  });

  it('maps replay errors like the sync call, and keeps a replay in flight safe from dispose', async () => {
    const traced = torch.jit.trace((a: Tensor, b: Tensor) => a.matmul(b), [torch.randn(2, 3), torch.randn(3, 2)]);
    const e = await rejection(traced.forwardAsync(torch.randn(2, 4), torch.randn(3, 2)));
    expect(e).to.be.instanceOf(torch.TorchError);
    expect(e.message).to.match(/^TracedModule\.forwardAsync: /);
    const a = torch.randn(300, 300),
      b = torch.randn(300, 300);
    const p = traced.forwardAsync(a, b);
    expect(() => a.dispose()).to.throw(/in use|in flight|async/i);
    traced.dispose(); // the replay holds its own reference
    expectSame((await p) as Tensor, a.matmul(b));
    a.dispose();
  });
});
