import { expect } from 'chai';
import * as torch from '../../lib';
import { native } from '../../lib/native';
import { settleGarbage } from '../helpers';

const gc = (globalThis as { gc?: () => void }).gc;
const tick = () => new Promise((r) => setImmediate(r));

/** Two live number handles among a stale one and numbers that are no handles (for the batch releases). */
function handleList(): { live: torch.Tensor[]; list: Float64Array } {
  const live = [torch.ones(2), torch.ones(3)];
  const gone = torch.ones(1);
  const stale = gone._h as number;
  gone.dispose();
  const h = (t: torch.Tensor) => t._h as number;
  return { live, list: new Float64Array([h(live[0]), stale, -1, Number.NaN, 2 ** 60, 12345, h(live[1])]) };
}

describe('memory: dispose, using, tidy, GC fallback', () => {
  it('dispose() frees now, is idempotent, and use afterwards throws a clear error', () => {
    const before = torch.memory();
    const t = torch.ones(1000); // large handle (external)
    const s = torch.ones(2); // small handle (number slot)
    expect(torch.memory().tensors).to.equal(before.tensors + 2);
    expect(torch.memory().bytes).to.equal(before.bytes + 4008);
    t.dispose();
    s.dispose();
    t.dispose();
    s.dispose();
    expect(t.isDisposed).to.equal(true);
    expect(s.isDisposed).to.equal(true);
    expect(torch.memory()).to.deep.equal(before);
    for (const d of [t, s]) {
      expect(() => d.add(1)).to.throw(Error, /disposed/);
      expect(() => torch.ones(2).add(d)).to.throw(Error, /disposed/);
      expect(() => torch.cat([torch.ones(2), d])).to.throw(Error, /disposed/);
      expect(() => d.shape).to.throw(Error, /disposed/);
    }
  });

  it('a disposed small handle stays disposed when its slot is reused', () => {
    const a = torch.ones(1);
    a.dispose();
    const b = torch.full([1], 7); // likely takes a's slot
    expect(() => a.item()).to.throw(Error, /disposed/);
    expect(b.item()).to.equal(7);
    b.dispose();
  });

  it('views stay valid after their base is disposed', () => {
    const base = torch.arange(6, { dtype: 'float32' });
    const v = base.view(2, 3);
    base.dispose();
    expect(v.toArray()).to.deep.equal([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    v.dispose();
  });

  it('`using` disposes at the end of the block', () => {
    const before = torch.memory().tensors;
    let inner: torch.Tensor;
    {
      using t = torch.randn(10, 10);
      inner = t;
      expect(torch.memory().tensors).to.equal(before + 1);
    }
    expect(inner.isDisposed).to.equal(true);
    expect(torch.memory().tensors).to.equal(before);
  });

  it('tidy disposes intermediates and keeps what fn returns (arrays, objects, Maps)', () => {
    const before = torch.memory().tensors;
    const r = torch.tidy(() => {
      const a = torch.ones(3);
      const b = a.add(1).mul(2);
      return { b, list: [a.sum(), 5], map: new Map([['m', b.neg()]]) };
    });
    expect(torch.memory().tensors).to.equal(before + 3);
    expect(r.b.toArray()).to.deep.equal([4, 4, 4]);
    expect(r.list[0] instanceof torch.Tensor).to.equal(true);
    torch.dispose(r);
    expect(torch.memory().tensors).to.equal(before);
  });

  it('tidy returns the live tensor count exactly to its start over many iterations', () => {
    const a = torch.ones(1000),
      b = torch.ones(1000);
    // Garbage left by earlier tests would otherwise be collected (and counted) during the loop.
    (globalThis as { gc?: () => void }).gc?.();
    const before = torch.memory().tensors;
    for (let k = 0; k < 20; k++)
      torch.tidy(() => {
        for (let i = 0; i < 500; i++) a.add(b);
      });
    expect(torch.memory().tensors).to.equal(before);
    a.dispose();
    b.dispose();
  });

  it('tidy scopes nest: the inner result moves to the outer scope', () => {
    const before = torch.memory().tensors;
    let inner!: torch.Tensor;
    const outer = torch.tidy(() => {
      inner = torch.tidy(() => torch.ones(2).add(1));
      torch.ones(3);
      return inner.mul(2);
    });
    expect(inner.isDisposed).to.equal(true); // not returned by the outer scope
    expect(outer.toArray()).to.deep.equal([4, 4]);
    outer.dispose();
    expect(torch.memory().tensors).to.equal(before);
  });

  it('tidy disposes everything when fn throws, and rethrows', () => {
    const before = torch.memory().tensors;
    expect(() =>
      torch.tidy(() => {
        torch.ones(4);
        throw new Error('boom');
      }),
    ).to.throw('boom');
    expect(torch.memory().tensors).to.equal(before);
  });

  it('tidy closes its scope when reading the result throws: everything is disposed, the error propagates', () => {
    const before = torch.memory().tensors;
    let made!: torch.Tensor;
    const bad = () =>
      torch.tidy(() => {
        made = torch.ones(4);
        return {
          t: made,
          get boom(): never {
            throw new Error('getter failed');
          },
        };
      });
    expect(bad).to.throw('getter failed');
    expect(made.isDisposed).to.equal(true);
    expect(torch.memory().tensors).to.equal(before);
    // a throwing `then` getter, and a Proxy whose ownKeys trap throws
    expect(() =>
      torch.tidy(() => {
        torch.ones(2);
        return {
          // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is what this test returns
          get then(): never {
            throw new Error('then');
          },
        };
      }),
    ).to.throw('then');
    const proxy = () =>
      torch.tidy(() => {
        torch.ones(2);
        return new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('trap');
            },
          },
        );
      });
    expect(proxy).to.throw('trap');
    expect(torch.memory().tensors).to.equal(before);
    // the next tidy is not nested in a scope left open
    const t = torch.tidy(() => torch.ones(3));
    expect(t.isDisposed).to.equal(false);
    t.dispose();
    expect(torch.memory().tensors).to.equal(before);
  });

  it('tidy keeps tensors inside a very deeply nested result (no stack overflow)', () => {
    const before = torch.memory().tensors;
    const r = torch.tidy(() => {
      torch.ones(1);
      let v: unknown = torch.ones(2);
      for (let i = 0; i < 200000; i++) v = [v];
      return v;
    });
    let inner: unknown = r;
    while (Array.isArray(inner)) inner = inner[0];
    expect((inner as torch.Tensor).isDisposed).to.equal(false);
    expect(torch.memory().tensors).to.equal(before + 1);
    (inner as torch.Tensor).dispose();
  });

  it('torch.dispose frees in the order of its argument (arrays, objects, Maps, nested)', () => {
    const order: number[] = [];
    const ts = Array.from({ length: 6 }, () => torch.ones(1));
    const orig = torch.Tensor.prototype.dispose;
    torch.Tensor.prototype.dispose = function (this: torch.Tensor) {
      order.push(ts.indexOf(this));
      orig.call(this);
    };
    try {
      torch.dispose([ts[0], { a: ts[1], b: [ts[2], new Map([[ts[3], ts[4]]])] }, new Set([ts[5]])]);
    } finally {
      torch.Tensor.prototype.dispose = orig;
    }
    expect(order).to.deep.equal([0, 1, 2, 3, 4, 5]);
  });

  it('tidy rejects async functions with a TypeError', () => {
    expect(() => torch.tidy(async () => 1)).to.throw(TypeError, /Promise/);
    expect(() => torch.tidy(42 as unknown as () => void)).to.throw(TypeError, /function/);
  });

  it('keep() exempts a tensor from tidy', () => {
    let kept!: torch.Tensor;
    torch.tidy(() => {
      kept = torch.keep(torch.ones(2));
      torch.ones(2);
    });
    expect(kept.isDisposed).to.equal(false);
    kept.dispose();
    expect(() => torch.keep(3 as unknown as torch.Tensor)).to.throw(TypeError);
  });

  it('tidy does not free gradients held by leaves', () => {
    const w = torch.ones([3], { requiresGrad: true });
    torch.tidy(() => {
      w.mul(2).sum().backward();
    });
    expect(w.grad!.toArray()).to.deep.equal([2, 2, 2]);
    w.dispose();
  });

  it('GC fallback frees tensors that were never disposed (both handle kinds)', async function () {
    if (!gc) this.skip();
    gc!();
    await tick();
    gc!();
    const before = torch.memory().tensors;
    (() => {
      for (let i = 0; i < 1000; i++) {
        torch.ones(1);
        torch.ones(1000);
      }
    })();
    expect(torch.memory().tensors).to.be.at.least(before + 1000);
    for (let i = 0; i < 3; i++) {
      gc!();
      await tick();
    }
    expect(torch.memory().tensors).to.be.at.most(before + 10);
  });

  it('small tensors that outlive a tidy scope (returned or kept) still get the GC fallback', async function () {
    if (!gc) this.skip();
    gc!();
    await tick();
    const before = torch.memory().tensors;
    (() => {
      for (let i = 0; i < 200; i++) {
        torch.tidy(() => torch.ones(1).add(1));
        torch.tidy(() => {
          torch.keep(torch.ones(1));
        });
        try {
          torch.tidy(() => {
            torch.keep(torch.ones(1));
            throw new Error('x');
          });
        } catch {
          /* expected */
        }
      }
    })();
    expect(torch.memory().tensors).to.equal(before + 600);
    for (let i = 0; i < 3; i++) {
      gc!();
      await tick();
    }
    expect(torch.memory().tensors).to.be.at.most(before + 10);
  });

  it('small tensors made outside tidy: disposed ones are never registered with the GC, the rest are freed by it', async function () {
    if (!gc) this.skip();
    gc!();
    await tick();
    const before = torch.memory().tensors;
    const kept: torch.Tensor[] = [];
    const keptValues: number[] = [];
    (() => {
      // more than one batch of 1024 (the registration waits for a full batch or the microtask
      // checkpoint); every third is disposed, every seventh kept, the rest dropped
      for (let i = 0; i < 2500; i++) {
        const t = torch.full([2], i);
        if (i % 3 === 0) t.dispose();
        else if (i % 7 === 0) {
          kept.push(t);
          keptValues.push(i);
        }
      }
    })();
    for (let i = 0; i < 3; i++) {
      gc!();
      await tick();
    }
    expect(torch.memory().tensors).to.be.at.most(before + kept.length + 10);
    expect(kept.map((t) => (t.toArray() as number[])[1])).to.deep.equal(keptValues); // what was kept is intact
    torch.dispose(kept);
    expect(torch.memory().tensors).to.be.at.most(before + 10);
  });

  it('tensors of up to 16 KiB get number handles, bigger ones externals', () => {
    const at = torch.ones(4096); // 16384 bytes
    const over = torch.ones(4097);
    const tiny = torch.ones(1);
    try {
      expect(typeof at._h, '16 KiB').to.equal('number');
      expect(typeof tiny._h, '4 bytes').to.equal('number');
      expect(typeof over._h, '16 KiB + 4 bytes').to.equal('object');
      // a 16 KiB number handle behaves as any other: its data, dispose, stale use
      expect(at.sum().item()).to.equal(4096);
    } finally {
      torch.dispose([at, over, tiny]);
    }
    expect(() => at.add(1)).to.throw(Error, /disposed/);
  });

  it('number handles stop at 32 MiB held together: past it, tensors get externals (GC-time release)', () => {
    // A module moved to float64 replaces its parameters' data behind their handles (set_data): the
    // cap must count the new size, or it drifts by the difference once they are disposed.
    for (let i = 0; i < 4; i++) {
      const lin = new torch.nn.Linear(64, 64); // a 16 KiB weight: a number handle
      expect(typeof lin.weight._h).to.equal('number');
      lin.to('float64'); // now 32 KiB behind the same handle
      for (const p of lin.parameters()) p.dispose();
    }
    const made: torch.Tensor[] = [];
    try {
      // 2100 × 16 KiB = 32.8 MiB: at most 2048 fit under the byte cap (fewer if others are alive)
      for (let i = 0; i < 2100; i++) made.push(torch.ones(4096));
      const numbers = made.filter((t) => typeof t._h === 'number').length;
      expect(numbers, 'number handles').to.be.at.most(2048);
      expect(made.length - numbers, 'externals past the cap').to.be.at.least(52);
      // the first ones were made before the cap was reached, the last ones after it
      expect(typeof made[made.length - 1]._h).to.equal('object');
    } finally {
      torch.dispose(made);
    }
    // the released bytes are free again for number handles
    const again = torch.ones(4096);
    expect(typeof again._h).to.equal('number');
    again.dispose();
  });

  it('tidy that returns nothing and keeps nothing disposes every tensor; keep() inside it still keeps', () => {
    const before = torch.memory().tensors;
    let kept!: torch.Tensor;
    let made!: torch.Tensor;
    torch.tidy(() => {
      made = torch.ones(3).add(1);
      torch.tidy(() => {
        kept = torch.keep(made.mul(2)); // kept inside a nested scope, after the outer scope began
      });
    });
    expect(made.isDisposed).to.equal(true);
    expect(kept.isDisposed).to.equal(false);
    expect(kept.toArray()).to.deep.equal([4, 4, 4]);
    kept.dispose();
    // a scope whose fn returns null or undefined
    torch.tidy(() => {
      torch.ones(2);
      return null;
    });
    expect(torch.memory().tensors).to.equal(before);
  });

  it("releaseHandles (the GC fallback's batch release) frees live number handles and ignores anything else", () => {
    const before = torch.memory().tensors;
    const { live, list } = handleList();
    const big = torch.ones(5000); // an external: not a number, never released through this path
    native.releaseHandles(list, list.length);
    expect(live.map((t) => t.isDisposed)).to.deep.equal([true, true]);
    expect(big.isDisposed).to.equal(false);
    // twice is harmless (the handles are stale now)
    native.releaseHandles(list, list.length);
    big.dispose();
    expect(torch.memory().tensors).to.equal(before);
    expect(() => native.releaseHandles([1, 2] as unknown as Float64Array, 2)).to.throw(TypeError, /Float64Array/);
    expect(() => native.releaseHandles(new Float64Array(2), 3)).to.throw(RangeError, /count 3/);
    expect(() => native.releaseHandles(new Float64Array(2), -1)).to.throw(RangeError, /count -1/);
  });

  it('disposeHandles (a closing tidy scope) disposes live number handles, ignores the rest and counts what it refused', async () => {
    await settleGarbage(); // earlier tests' garbage is not freed in the middle of this count
    const before = torch.memory().tensors;
    const { live, list } = handleList();
    expect(native.disposeHandles(list, list.length)).to.equal(0);
    expect(live.map((t) => t.isDisposed)).to.deep.equal([true, true]);
    expect(native.disposeHandles(list, list.length)).to.equal(0); // stale now: nothing to do
    expect(torch.memory().tensors).to.equal(before);
    // only the first `count` entries
    const a = torch.ones(2),
      b = torch.ones(2);
    expect(native.disposeHandles(new Float64Array([a._h as number, b._h as number]), 1)).to.equal(0);
    expect([a.isDisposed, b.isDisposed]).to.deep.equal([true, false]);
    b.dispose();
    expect(() => native.disposeHandles([1] as unknown as Float64Array, 1)).to.throw(TypeError, /Float64Array/);
    expect(() => native.disposeHandles(new Float64Array(2), 3)).to.throw(RangeError, /count 3/);
    expect(() => native.disposeHandles(new Float64Array(2), -1)).to.throw(RangeError, /count -1/);
  });

  it('a tidy scope of thousands of small tensors, external ones among them, frees them all', async () => {
    await settleGarbage();
    const before = torch.memory().tensors;
    let disposedByHand: torch.Tensor | undefined;
    const made: torch.Tensor[] = [];
    torch.tidy(() => {
      for (let i = 0; i < 2500; i++) {
        made.push(torch.full([2], i));
        if (i % 500 === 0) made.push(torch.ones(5000)); // externals, interleaved
      }
      disposedByHand = torch.ones(3);
      disposedByHand.dispose();
    });
    expect(made.every((t) => t.isDisposed)).to.equal(true);
    expect(disposedByHand!.isDisposed).to.equal(true);
    expect(torch.memory().tensors).to.equal(before);
    expect(() => made[0].add(1)).to.throw(/disposed/);
  });

  it('a synchronous loop that never disposes stays bounded (external memory drives the GC)', () => {
    // 20,000 × 64 KiB = 1.25 GiB if nothing were freed during the loop.
    const a = torch.ones(16384);
    let peak = 0;
    for (let i = 0; i < 20000; i++) {
      a.add(1);
      if (i % 1000 === 0) peak = Math.max(peak, torch.memory().bytes);
    }
    expect(peak).to.be.below(512 * 1024 * 1024);
    a.dispose();
  });
});
