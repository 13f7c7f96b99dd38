// Real async: Promise-returning kernels on the libuv pool (native/workers.h). Results equal the
// synchronous ones exactly; tensors held by an in-flight call refuse dispose and in-place ops;
// the GC may collect their JS handles meanwhile; errors reject; memory returns to its start.
import { expect } from 'chai';

import * as torch from '../../lib';
import { native } from '../../lib/native';
import { expectSame, gc, rejection, settleGarbage } from '../helpers';

const { nn, optim } = torch;
type Tensor = torch.Tensor;

const IN_USE = /in use by an async operation/;

describe('async kernels', () => {
  before(() => torch.manualSeed(0));
  // Collect what these tests left to the GC now, so that it is not collected in the middle of a
  // later test that counts live tensors.
  after(async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
  });

  it('matmulAsync equals matmul (method and torch.matmulAsync)', async () => {
    const a = torch.randn(7, 5),
      b = torch.randn(5, 3);
    const sync = a.matmul(b);
    const [x, y] = await Promise.all([a.matmulAsync(b), torch.matmulAsync(a, b)]);
    expectSame(x, sync);
    expectSame(y, sync);
    torch.dispose([a, b, sync, x, y]);
  });

  it('Linear.forwardAsync equals forward, with and without bias', async () => {
    for (const bias of [true, false]) {
      const lin = new nn.Linear(6, 4, { bias });
      const x = torch.randn(3, 2, 6);
      const sync = lin.forward(x);
      const out = await lin.forwardAsync(x);
      expectSame(out, sync);
      torch.dispose([x, sync, out]);
    }
  });

  it('LSTM.forwardAsync equals forward with hx, batchFirst and packed input', async () => {
    const lstm = new nn.LSTM(4, 5, { numLayers: 2, batchFirst: true });
    const x = torch.randn(3, 6, 4);
    const h0 = torch.randn(2, 3, 5),
      c0 = torch.randn(2, 3, 5);
    const [o1, [h1, c1]] = lstm.forward(x, [h0, c0]);
    const [o2, [h2, c2]] = await lstm.forwardAsync(x, [h0, c0]);
    expectSame(o2, o1);
    expectSame(h2, h1);
    expectSame(c2, c1);

    const packed = nn.utils.rnn.packPaddedSequence(x, [6, 2, 4], { batchFirst: true, enforceSorted: false });
    const [p1, [ph1, pc1]] = lstm.forward(packed, [h0, c0]);
    const [p2, [ph2, pc2]] = await lstm.forwardAsync(packed, [h0, c0]);
    expect(p2).to.be.instanceOf(nn.utils.rnn.PackedSequence);
    expectSame(p2.data, p1.data);
    expectSame(p2.batchSizes, p1.batchSizes);
    expectSame(ph2, ph1);
    expectSame(pc2, pc1);

    // unbatched, no hx
    const u = torch.randn(6, 4);
    const [uo1, [uh1]] = lstm.forward(u);
    const [uo2, [uh2]] = await lstm.forwardAsync(u);
    expectSame(uo2, uo1);
    expectSame(uh2, uh1);
  });

  it('GRU and RNN forwardAsync equal forward', async () => {
    for (const m of [new nn.GRU(3, 4), new nn.RNN(3, 4, { nonlinearity: 'relu', bidirectional: true })]) {
      const x = torch.randn(5, 2, 3);
      const [o1, h1] = m.forward(x);
      const [o2, h2] = await m.forwardAsync(x);
      expectSame(o2, o1);
      expectSame(h2, h1);
    }
  });

  it('MultiheadAttention.forwardAsync equals forward with masks', async () => {
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    const q = torch.randn(2, 4, 8),
      kv = torch.randn(2, 5, 8);
    const attnMask = nn.masks.causal(4, 5);
    const kpm = torch.tensor([
      [false, false, false, true, true],
      [false, false, false, false, false],
    ]);
    const opts = { attnMask, keyPaddingMask: kpm };
    const [o1, w1] = mha.forward(q, kv, kv, opts);
    const [o2, w2] = await mha.forwardAsync(q, kv, kv, opts);
    expectSame(o2, o1);
    expectSame(w2!, w1!);
    const [o3, w3] = await mha.forwardAsync(q, q, q, { needWeights: false });
    const [o4] = mha.forward(q, q, q, { needWeights: false });
    expectSame(o3, o4);
    expect(w3).to.equal(null);
  });

  it('MultiheadAttention.forwardAsync runs the same checks as forward', async () => {
    const mha = new nn.MultiheadAttention(8, 2);
    const err = await rejection(mha.forwardAsync(torch.randn(4, 2, 8), torch.randn(5, 3, 8), torch.randn(5, 3, 8)));
    expect(err).to.be.instanceOf(RangeError);
    expect(err.message).to.match(/^MultiheadAttention\.forwardAsync: batch sizes differ/);
  });

  it('backwardAsync accumulates the same gradients as backward', async () => {
    const lstm = new nn.LSTM(3, 4);
    const x = torch.randn(5, 2, 3);
    const grads = async (useAsync: boolean) => {
      lstm.zeroGrad();
      const [out] = lstm.forward(x);
      const loss = out.pow(2).sum();
      if (useAsync) await loss.backwardAsync();
      else loss.backward();
      return [...lstm.parameters()].map((p) => p.grad!.clone());
    };
    const g1 = await grads(false);
    const g2 = await grads(true);
    g1.forEach((g, i) => expectSame(g2[i], g));
    // non-scalar with an explicit gradient
    const w = torch.randn(3, 3).requiresGrad_();
    const y = w.mul(2);
    await y.backwardAsync(torch.onesLike(y));
    expectSame(w.grad!, torch.full([3, 3], 2));
  });

  it('runs under the grad mode of the caller', async () => {
    const lin = new nn.Linear(3, 2);
    const x = torch.randn(4, 3);
    const withGrad = await lin.forwardAsync(x);
    expect(withGrad.requiresGrad).to.equal(true);
    torch.setGradEnabled(false);
    let p: Promise<Tensor>;
    try {
      p = lin.forwardAsync(x);
    } finally {
      torch.setGradEnabled(true);
    }
    const noGrad = await p;
    expect(noGrad.requiresGrad).to.equal(false);
    expectSame(noGrad, withGrad.detach());
  });

  it('16 concurrent forwardAsync on one LSTM give the sync results', async () => {
    const lstm = new nn.LSTM(8, 16, { numLayers: 2 });
    const xs = Array.from({ length: 16 }, () => torch.randn(10, 3, 8));
    const expected = xs.map((x) => lstm.forward(x));
    const got = await Promise.all(xs.map((x) => lstm.forwardAsync(x)));
    got.forEach(([o, [h, c]], i) => {
      expectSame(o, expected[i][0]);
      expectSame(h, expected[i][1][0]);
      expectSame(c, expected[i][1][1]);
    });
  });

  it('refuses dispose and in-place ops on in-flight tensors; the result is still right', async () => {
    const a = torch.randn(300, 300),
      b = torch.randn(300, 300);
    const expected = a.matmul(b);
    const p = a.matmulAsync(b);
    expect(() => a.dispose()).to.throw(Error, IN_USE);
    expect(a.isDisposed).to.equal(false);
    expect(() => b.add_(1)).to.throw(Error, IN_USE);
    expect(() => b.zero_()).to.throw(Error, IN_USE);
    expect(() => torch.dispose(b)).to.throw(Error, IN_USE);
    expect(a.sum().item()).to.be.a('number'); // reading is fine
    expectSame(await p, expected);
    a.add_(0); // free again
    a.dispose();
    b.dispose();
    expect(a.isDisposed).to.equal(true);
  });

  it('an optimizer step on parameters in use throws until the forward settles', async () => {
    const lin = new nn.Linear(4, 2);
    const x = torch.randn(3, 4);
    lin.forward(x).sum().backward();
    const opt = new optim.SGD(lin.parameters(), { lr: 0.1 });
    const expected = lin.forward(x);
    const p = lin.forwardAsync(x);
    expect(() => opt.step()).to.throw(Error, IN_USE);
    expectSame(await p, expected);
    opt.step();
  });

  it('tidy leaves an in-flight tensor to the GC instead of throwing', async () => {
    const b = torch.randn(50, 50);
    let p: Promise<Tensor> | undefined;
    let expected: Tensor | undefined;
    torch.tidy(() => {
      const a = torch.randn(50, 50);
      expected = torch.keep(a.matmul(b));
      p = a.matmulAsync(b);
    });
    expectSame(await p!, expected!);
  });

  it('a closing tidy scope batches its small tensors and leaves the in-flight ones to the GC', async () => {
    const b = torch.randn(20, 20);
    await settleGarbage(); // what earlier tests left to the GC is freed now, not during this test
    const before = torch.memory().tensors;
    let a: Tensor | undefined;
    let p: Promise<Tensor> | undefined;
    const others: Tensor[] = [];
    torch.tidy(() => {
      for (let i = 0; i < 1500; i++) others.push(torch.ones(2)); // more than one batch of 1024
      a = torch.randn(20, 20); // a number handle (1.6 KB)
      expect(typeof a._h).to.equal('number');
      p = a.matmulAsync(b);
      for (let i = 0; i < 10; i++) others.push(torch.ones(2));
    });
    expect(others.every((t) => t.isDisposed)).to.equal(true);
    expect(a!.isDisposed).to.equal(false); // refused: the async call holds it
    const r = await p!;
    const want = a!.matmul(b);
    expectSame(r, want);
    for (const t of [a!, r, want]) t.dispose();
    expect(torch.memory().tensors).to.be.at.most(before);
  });

  it('survives the GC collecting the JS tensors of an in-flight call', async () => {
    gc();
    const start = torch.memory().tensors;
    // Occupy the pool so that the calls below stay queued while the GC runs. The raw native call
    // keeps no JS reference to its inputs at all (the public methods' frames keep theirs).
    const blockA = torch.randn(600, 600);
    const blockers = Array.from({ length: 8 }, () => blockA.matmulAsync(blockA));
    const make = () => {
      const a = torch.randn(400, 400),
        b = torch.randn(400, 400);
      const small1 = torch.tensor([1, 2]),
        small2 = torch.tensor([[3], [4]]); // number handles
      const expected = a.matmul(b).sum().item();
      return {
        p: native.matmulAsync(a._h, b._h),
        q: native.matmulAsync(small1._h, small2._h),
        r: a.matmulAsync(b),
        expected,
      };
    };
    const { p, q, r, expected } = make();
    gc(); // synchronously after queueing: nothing can have completed yet
    await new Promise((res) => setImmediate(res));
    gc();
    const [hp] = await p;
    const out = new torch.Tensor(hp);
    const close = Math.abs(expected) * 1e-5 + 1e-3;
    expect(out.sum().item()).to.be.closeTo(expected, close);
    const [hq] = await q;
    expect(new torch.Tensor(hq).item()).to.equal(11);
    expect((await r).sum().item()).to.be.closeTo(expected, close);
    torch.dispose(await Promise.all(blockers));
    blockA.dispose();
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((res) => setImmediate(res));
    }
    expect(torch.memory().tensors).to.be.at.most(start + 1);
  });

  it('native runAsync runs its whitelist and refuses other ops', async () => {
    const a = torch.randn(2, 3, 4),
      b = torch.randn(2, 4, 5),
      w = torch.randn(6, 4),
      bias = torch.randn(6);
    const [hb] = await native.runAsync('bmm', a._h, b._h);
    expectSame(new torch.Tensor(hb), a.bmm(b));
    const [hl] = await native.runAsync('linear', a._h, w._h, bias._h);
    expectSame(new torch.Tensor(hl), torch.nn.functional.linear(a, w, bias));
    expect(() => native.runAsync('conv2d', a._h, b._h)).to.throw(RangeError, /unknown op 'conv2d'/);
    const err = await rejection(native.runAsync('mm', a._h, b._h));
    expect(err).to.be.instanceOf(torch.TorchError);
    expect(err.message).to.match(/^torch\.runAsync: /);
  });

  it('torch.runAsync runs matmul, mm, bmm and linear off the event loop and returns Tensors', async () => {
    const a = torch.randn(2, 3, 4),
      b = torch.randn(2, 4, 5),
      w = torch.randn(6, 4),
      bias = torch.randn(6);
    const F = torch.nn.functional;
    expectSame(await torch.runAsync('bmm', a, b), a.bmm(b));
    expectSame(await torch.runAsync('matmul', a, b), a.matmul(b));
    expectSame(await torch.runAsync('mm', w, w.t()), w.mm(w.t()));
    expectSame(await torch.runAsync('linear', a, w, bias), F.linear(a, w, bias));
    expectSame(await torch.runAsync('linear', a, w), F.linear(a, w));
    expectSame(await torch.runAsync('linear', a, w, null), F.linear(a, w));
    let err = await rejection(torch.runAsync('conv2d' as 'mm', a, b));
    expect(err).to.be.instanceOf(RangeError);
    expect(err.message).to.equal(
      "torch.runAsync: expected op to be one of 'matmul', 'mm', 'bmm', 'linear', got a string (\"conv2d\")",
    );
    err = await rejection(torch.runAsync('matmul', a, 5 as never));
    expect(err).to.be.instanceOf(TypeError);
    expect(err.message).to.equal('torch.runAsync: expected other to be a Tensor, got the number 5');
    err = await rejection((torch.runAsync as (...a: unknown[]) => Promise<unknown>)('bmm', a));
    expect(err).to.be.instanceOf(RangeError);
    expect(err.message).to.include("'bmm' takes 2 tensors (input, mat2), got 1");
    err = await rejection(torch.runAsync('mm', a, b));
    expect(err).to.be.instanceOf(torch.TorchError);
    expect(err.message).to.match(/^torch\.runAsync: /);
  });

  it('libtorch errors reject with a TorchError naming the call', async () => {
    const a = torch.randn(2, 3),
      b = torch.randn(4, 5);
    const err = await rejection(a.matmulAsync(b));
    expect(err).to.be.instanceOf(torch.TorchError);
    expect(err.message).to.match(/^Tensor\.matmulAsync: .*shapes cannot be multiplied/);
    expect(err.message).not.to.match(/Exception raised from/);
    a.dispose();
    b.dispose(); // no longer in flight after the rejection
    const err2 = await rejection(torch.randn(2).backwardAsync()); // no grad
    expect(err2).to.be.instanceOf(torch.TorchError);
    const err3 = await rejection(a.matmulAsync(b));
    expect(err3.message).to.match(/disposed/);
  });

  it('torch.memory().tensors returns to its start after many async calls and dispose', async () => {
    const lstm = new nn.LSTM(4, 4);
    const x = torch.randn(3, 2, 4),
      v = torch.ones(4);
    gc();
    await new Promise((r) => setImmediate(r));
    const start = torch.memory().tensors;
    for (let round = 0; round < 5; round++) {
      const rs = await Promise.all(Array.from({ length: 20 }, () => lstm.forwardAsync(x)));
      for (const [o, [h, c]] of rs) torch.dispose([o, h, c]);
      const ms = await Promise.all(Array.from({ length: 20 }, () => x.matmulAsync(v)));
      torch.dispose(ms);
    }
    gc();
    await new Promise((r) => setImmediate(r));
    expect(torch.memory().tensors).to.equal(start);
  });

  it('keeps the event loop responsive during a long matmul', async () => {
    const a = torch.randn(2000, 2000),
      b = torch.randn(2000, 2000);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 1);
    let r: Tensor;
    try {
      r = await a.matmulAsync(b).then(async (x) => {
        return x;
      });
      // at least a few ticks before it resolved (if it was that fast, repeat with more work)
      for (let k = 0; ticks < 3 && k < 20; k++) {
        r.dispose();
        r = await a.matmulAsync(b);
      }
    } finally {
      clearInterval(timer);
    }
    expect(ticks).to.be.at.least(3);
    torch.dispose([a, b, r]);
  });
});
