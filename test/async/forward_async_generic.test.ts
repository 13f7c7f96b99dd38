// The default Module.forwardAsync: a custom module's forward traced per input signature and
// replayed on the pool. Same results bit for bit as the sync forward on libtorch's reference
// kernels (and within 1e-5 of the fused LSTM training kernel), same gradients, the event loop free
// meanwhile, a retrace on a new signature, a documented fallback (with a warning) when forward
// reads values.

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { native } from '../../lib/native';
import { expectSame, gc, rejection, withFastPath } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

class MLP extends nn.Module {
  fc1 = new nn.Linear(10, 64);
  fc2 = new nn.Linear(64, 4);
  forward(x: Tensor): Tensor {
    return this.fc2.forward(nn.functional.relu(this.fc1.forward(x)));
  }
}

class Tagger extends nn.Module {
  lstm = new nn.LSTM(6, 12, { numLayers: 2, batchFirst: true });
  head = new nn.Linear(12, 5);
  drop = new nn.Dropout(0.3);
  forward(x: Tensor, hx?: [Tensor, Tensor]): [Tensor, [Tensor, Tensor]] {
    const [out, state] = this.lstm.forward(x, hx);
    return [this.head.forward(this.drop.forward(out)).logSoftmax(-1), state];
  }
}

/** Counts the traces recorded while `fn` runs. */
async function countTraces(fn: () => Promise<void>): Promise<number> {
  const n = native as unknown as { jitTrace: (...a: unknown[]) => unknown };
  const orig = n.jitTrace;
  let count = 0;
  n.jitTrace = (...a: unknown[]) => {
    count++;
    return orig(...a);
  };
  try {
    await fn();
  } finally {
    n.jitTrace = orig;
  }
  return count;
}

/** The warnings emitted while `fn` runs. */
async function warnings(fn: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const on = (w: Error) => seen.push(w);
  process.on('warning', on);
  try {
    await fn();
    await new Promise((r) => setImmediate(r)); // 'warning' is emitted on the next tick
  } finally {
    process.off('warning', on);
  }
  return seen;
}

const grads = (m: torch.nn.Module) => [...m.parameters()].map((p) => p.grad!.clone());

/**
 * `fn` on libtorch's reference kernels (the fast path off), which a replay runs: a sync forward that
 * records a graph takes the fused LSTM training kernel (native/fast_rnn_train.cc), equal to the
 * reference to float rounding only.
 */
function reference<T>(fn: () => T): T {
  return withFastPath(false, fn);
}

/** max |a - b| <= tol * max(1, |b|) elementwise. */
function expectNear(a: Tensor, b: Tensor, tol: number, what: string): void {
  expect(a.shape, what).to.deep.equal(b.shape);
  const d = a.detach().sub(b.detach()).abs().sub(b.detach().abs().clampMin(1).mul(tol)).max().item() as number;
  expect(d, what).to.be.at.most(0);
}

describe('Module.forwardAsync (traced default)', () => {
  before(() => torch.manualSeed(3));

  it('a custom MLP: the first (traced) and later (replayed) calls equal forward bit for bit', async () => {
    const m = new MLP();
    for (let i = 0; i < 3; i++) {
      const x = torch.randn(32, 10);
      expectSame((await m.forwardAsync(x)) as Tensor, m.forward(x), `call ${i}`);
    }
  });

  it('concurrent replays of one module (nothing written in place) give the sync results', async () => {
    const m = new MLP();
    await m.forwardAsync(torch.randn(8, 10));
    const xs = Array.from({ length: 8 }, () => torch.randn(8, 10));
    const got = await Promise.all(xs.map((x) => m.forwardAsync(x) as Promise<Tensor>));
    got.forEach((g, i) => expectSame(g, m.forward(xs[i]), `call ${i}`));
  });

  it('gradients after backward on the async result equal the sync ones', async () => {
    const m = new MLP();
    const x = torch.randn(16, 10);
    await m.forwardAsync(x); // the trace
    m.forward(x).square().mean().backward();
    const expected = grads(m);
    m.zeroGrad();
    const y = (await m.forwardAsync(x)) as Tensor;
    expect(y.requiresGrad).to.equal(true);
    y.square().mean().backward();
    grads(m).forEach((g, i) => expectSame(g, expected[i], `grad ${i}`));
  });

  it('a custom LSTM + Linear module: outputs, states and gradients equal the sync ones', async () => {
    const m = new Tagger().eval();
    const x = torch.randn(3, 7, 6).requiresGrad_();
    const h0: [Tensor, Tensor] = [torch.randn(2, 3, 12), torch.randn(2, 3, 12)];
    const [ref, [hN, cN]] = reference(() => m.forward(x, h0));
    ref.sum().backward();
    const expected = grads(m);
    const gx = x.grad!.clone();
    // the default sync path (the fused training kernel) within 1e-5
    m.zeroGrad();
    x.grad = null;
    const [fast, [fh, fc]] = m.forward(x, h0);
    fast.sum().backward();
    expectNear(fast, ref, 1e-5, 'fused output');
    expectNear(fh, hN, 1e-5, 'fused hN');
    expectNear(fc, cN, 1e-5, 'fused cN');
    grads(m).forEach((g, k) => expectNear(g, expected[k], 1e-5, `fused grad ${k}`));
    expectNear(x.grad!, gx, 1e-5, 'fused input grad');
    for (let i = 0; i < 2; i++) {
      m.zeroGrad();
      x.grad = null;
      const [out, [h, c]] = (await m.forwardAsync(x, h0)) as [Tensor, [Tensor, Tensor]];
      expectSame(out, ref, `output ${i}`);
      expectSame(h, hN, `hN ${i}`);
      expectSame(c, cN, `cN ${i}`);
      out.sum().backward();
      grads(m).forEach((g, k) => expectSame(g, expected[k], `call ${i} grad ${k}`));
      expectSame(x.grad!, gx, `call ${i} input grad`);
    }
    // no hidden state: another signature (undefined instead of an array)
    const y = torch.randn(3, 7, 6);
    const [o2] = (await m.forwardAsync(y)) as [Tensor, unknown];
    expectSame(
      o2,
      reference(() => m.forward(y)[0]),
    );
  });

  it('train mode: dropout draws from the same generator (equal under the same seed), noGrad LSTM equal', async () => {
    const m = new Tagger().train();
    const x = torch.randn(2, 5, 6);
    await m.forwardAsync(x); // the trace
    for (let i = 0; i < 2; i++) {
      torch.manualSeed(100 + i);
      const ref = reference(() => m.forward(x)[0]);
      torch.manualSeed(100 + i);
      expectSame(((await m.forwardAsync(x)) as [Tensor])[0], ref, `call ${i}`);
      torch.manualSeed(100 + i);
      expectNear(m.forward(x)[0], ref, 1e-5, `fused call ${i}`);
    }
    m.eval();
    // The replay runs the traced reference ops: compare with the reference path (a sync noGrad
    // forward takes the fused recurrent kernel, equal to float rounding only).
    const fast = torch.backends.fastPath();
    torch.backends.fastPath(false);
    const ref = torch.noGrad(() => m.forward(x)[0]);
    torch.backends.fastPath(fast);
    for (let i = 0; i < 2; i++) {
      const [out] = (await torch.noGrad(() => m.forwardAsync(x))) as [Tensor];
      expect(out.requiresGrad).to.equal(false);
      expectSame(out, ref, `noGrad call ${i}`);
    }
  });

  it('keeps the JS thread free while the replay runs on the pool', async () => {
    const m = new MLP();
    const big = new (class extends nn.Module {
      w = new nn.Linear(1024, 1024);
      forward(x: Tensor): Tensor {
        let y = x;
        for (let i = 0; i < 8; i++) y = this.w.forward(y).tanh();
        return y;
      }
    })();
    const x = torch.randn(512, 1024);
    await torch.noGrad(() => big.forwardAsync(x)); // the trace
    let ticked = false;
    setImmediate(() => {
      ticked = true;
    });
    const p = torch.noGrad(() => big.forwardAsync(x)) as Promise<Tensor>;
    let tickedFirst = false;
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        tickedFirst = ticked;
        resolve();
      }),
    );
    const y = await p;
    expect(tickedFirst).to.equal(true);
    expectSame(
      y,
      torch.noGrad(() => big.forward(x)),
    );
    expect(m).to.be.instanceOf(nn.Module);
  });

  it('retraces on a new shape, after eval(), under noGrad, and reuses a trace otherwise', async () => {
    const m = new Tagger();
    const x = torch.randn(2, 4, 6);
    const n = await countTraces(async () => {
      await m.forwardAsync(x); // trace 1
      await m.forwardAsync(torch.randn(2, 4, 6)); // replay
      await m.forwardAsync(torch.randn(2, 5, 6)); // trace 2: a new shape
      m.eval();
      await m.forwardAsync(x); // trace 3: training flags changed
      await torch.noGrad(() => m.forwardAsync(x)); // trace 4: grad mode
      await m.forwardAsync(x); // replay
    });
    expect(n).to.equal(4);
    // dropout in eval mode is the identity: replay equals forward exactly
    expectSame(
      ((await m.forwardAsync(x)) as [Tensor])[0],
      reference(() => m.forward(x)[0]),
    );
  });

  it('drops its traces when a parameter is replaced', async () => {
    const m = new MLP();
    const x = torch.randn(4, 10);
    await m.forwardAsync(x);
    m.fc2 = new nn.Linear(64, 4);
    const n = await countTraces(async () => {
      expectSame((await m.forwardAsync(x)) as Tensor, m.forward(x));
    });
    expect(n).to.equal(1);
  });

  it('a forward that calls item() runs synchronously, with one warning naming the reason', async () => {
    class Gated extends nn.Module {
      fc = new nn.Linear(3, 3);
      forward(x: Tensor): Tensor {
        const y = this.fc.forward(x);
        return (y.mean().item() as number) > 0 ? y.relu() : y.neg();
      }
    }
    const m = new Gated();
    const x = torch.randn(5, 3);
    const seen = await warnings(async () => {
      for (let i = 0; i < 3; i++) expectSame((await m.forwardAsync(x)) as Tensor, m.forward(x));
    });
    expect(seen).to.have.length(1);
    expect(seen[0].name).to.equal('TraceWarning');
    expect(seen[0].message).to.match(/^Gated\.forwardAsync: cannot trace forward.*Tensor\.item\(\)/);
  });

  it('a tensor that requires grad but is not registered: falls back (it would lose its gradient)', async () => {
    const w = torch.randn(3, 3).requiresGrad_();
    class Loose extends nn.Module {
      forward(x: Tensor): Tensor {
        return x.matmul(w);
      }
    }
    const m = new Loose();
    const x = torch.randn(2, 3);
    const seen = await warnings(async () => {
      const y = (await m.forwardAsync(x)) as Tensor;
      expectSame(y, m.forward(x));
      y.sum().backward();
      expect(w.grad).to.not.equal(null);
    });
    expect(seen).to.have.length(1);
    expect(seen[0].message).to.match(/requires grad but is neither an argument nor a parameter/);
  });

  it('non-tensor arguments are part of the signature; other values fall back with a warning', async () => {
    class Scaled extends nn.Module {
      fc = new nn.Linear(2, 2);
      forward(x: Tensor, k: number, f?: (t: Tensor) => Tensor): Tensor {
        const y = this.fc.forward(x).mul(k);
        return f ? f(y) : y;
      }
    }
    const m = new Scaled();
    const x = torch.randn(3, 2);
    const n = await countTraces(async () => {
      expectSame((await m.forwardAsync(x, 2)) as Tensor, m.forward(x, 2));
      expectSame((await m.forwardAsync(x, 3)) as Tensor, m.forward(x, 3));
      expectSame((await m.forwardAsync(x, 2)) as Tensor, m.forward(x, 2));
    });
    expect(n).to.equal(2);
    const seen = await warnings(async () => {
      expectSame(
        (await m.forwardAsync(x, 2, (t: Tensor) => t.exp())) as Tensor,
        m.forward(x, 2, (t) => t.exp()),
      );
    });
    expect(seen.map((w) => w.message).join()).to.match(/argument\[2\] is a function/);
  });

  it('errors reject with the same error types and messages as forward', async () => {
    const m = new MLP();
    const bad = torch.randn(4, 7);
    let sync: Error | undefined;
    try {
      m.forward(bad);
    } catch (e) {
      sync = e as Error;
    }
    const e = await rejection(m.forwardAsync(bad));
    expect(e.constructor).to.equal(sync!.constructor);
    expect(e.message).to.equal(sync!.message);
    // and the module still traces and replays afterwards
    const x = torch.randn(4, 10);
    expectSame((await m.forwardAsync(x)) as Tensor, m.forward(x));
    expectSame((await m.forwardAsync(x)) as Tensor, m.forward(x));
  });

  it('parameters in flight cannot be disposed; dropping the module meanwhile is safe', async () => {
    let m: MLP | null = new MLP();
    const x = torch.randn(256, 10);
    await m.forwardAsync(x);
    const p = m.forwardAsync(x) as Promise<Tensor>;
    const w = m.fc1.weight;
    expect(() => w.dispose()).to.throw(/in use|in flight|async/i);
    const expected = torch.noGrad(() => m!.forward(x));
    m = null;
    gc();
    const y = await p;
    expect(torch.noGrad(() => y.sub(expected).abs().max().item())).to.equal(0);
    w.dispose(); // settled: allowed now
  });

  it('a buffer the forward updates in place is written by each replay, and marked written meanwhile', async () => {
    class Counting extends nn.Module {
      fc = new nn.Linear(4, 4);
      constructor() {
        super();
        this.registerBuffer('calls', torch.zeros(1));
      }
      forward(x: Tensor): Tensor {
        const calls = (this as unknown as { calls: Tensor }).calls;
        torch.noGrad(() => calls.add_(1));
        return this.fc.forward(x).mul(calls);
      }
    }
    const m = new Counting();
    const calls = (m as unknown as { calls: Tensor }).calls;
    const x = torch.randn(2, 4);
    await m.forwardAsync(x); // traced run: calls = 1
    const y = (await m.forwardAsync(x)) as Tensor; // replay: calls = 2
    expect(calls.item()).to.equal(2);
    expectSame(
      y,
      torch.noGrad(() => m.fc.forward(x).mul(2)),
    );
    const p = m.forwardAsync(x);
    expect(() => calls.item()).to.throw(/in use|in flight|async|written/i); // the pool writes it
    const e = await rejection(m.forwardAsync(x)); // a second replay would race on it
    expect(e.message).to.match(/in use|in flight|async|written/i);
    await p;
    expect(calls.item()).to.equal(3);
  });

  it('composed modules keep their own forwardAsync; plain modules get the traced default', () => {
    expect(nn.Linear.prototype.forwardAsync).not.to.equal(nn.Module.prototype.forwardAsync);
    expect(nn.Sequential.prototype.forwardAsync).not.to.equal(nn.Module.prototype.forwardAsync);
    expect(new nn.ReLU().forwardAsync).to.equal(nn.Module.prototype.forwardAsync);
  });
});

describe('traced forwardAsync in flight while its worker_thread stops', function () {
  this.timeout(120_000);
  const LIB = JSON.stringify(path.join(process.cwd(), 'dist-test', 'lib'));
  for (const how of ['terminate', 'exit'] as const) {
    it(`worker ${how === 'terminate' ? 'terminated' : 'calls process.exit'} with replays in flight: no abort`, () => {
      const workerSrc = `const { parentPort } = require('worker_threads'); const torch = require(${LIB});
        class Net extends torch.nn.Module {
          fc = new torch.nn.Linear(256, 256);
          forward(x) { return this.fc.forward(x).tanh(); }
        }
        const m = new Net(); const x = torch.randn(512, 256);
        m.forwardAsync(x).then(() => {
          for (let i = 0; i < 8; i++) m.forwardAsync(x).catch(() => {});
          const t = torch.jit.trace((a) => a.matmul(a), [torch.randn(256, 256)]);
          for (let i = 0; i < 4; i++) t.forwardAsync(torch.randn(256, 256)).catch(() => {});
          ${how === 'exit' ? 'setImmediate(() => process.exit(0));' : "parentPort.postMessage('started');"}
        });`;
      const main = `const { Worker } = require('worker_threads');
        const once = () => new Promise((resolve) => {
          const w = new Worker(${JSON.stringify(workerSrc)}, { eval: true });
          w.on('message', () => w.terminate());
          w.on('error', (e) => { console.log('worker error: ' + e.message); });
          w.on('exit', () => resolve());
        });
        (async () => { let n = 0; for (let i = 0; i < 6; i++) { await once(); n++; } console.log('rounds ' + n); })();`;
      const r = spawnSync(process.execPath, ['-e', main], { encoding: 'utf8', timeout: 120_000 });
      expect(r.signal, `killed by ${r.signal}; stderr:\n${r.stderr}`).to.equal(null);
      expect(r.stderr, 'no abort').to.not.match(/terminate called|Napi::Error|Aborted/);
      expect(r.stdout).to.match(/rounds 6/);
      expect(r.stdout).to.not.match(/worker error/);
    });
  }
});
