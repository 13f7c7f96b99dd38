// utils.data.DataLoader and the collate functions: batching, default collate of every sample
// kind, padSequenceCollate (lengths, key-padding masks, pairs), BucketBatchSampler, iterable
// datasets, for await...of with prefetch (what overlaps with the consumer), and error paths.

import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError, expectExact } from '../helpers';

const { DataLoader, Dataset, IterableDataset, TensorDataset, defaultCollate, padSequenceCollate, BucketBatchSampler } =
  torch.utils.data;
type Tensor = torch.Tensor;

class Items<T> extends Dataset<T> {
  readonly calls: number[] = [];
  constructor(private readonly items: T[]) {
    super();
  }
  get length(): number {
    return this.items.length;
  }
  getItem(i: number): T {
    this.calls.push(i);
    return this.items[i];
  }
}

class Stream extends IterableDataset<number> {
  constructor(private readonly n: number) {
    super();
  }
  *[Symbol.iterator](): Iterator<number> {
    for (let i = 0; i < this.n; i++) yield i;
  }
}

class AsyncStream extends IterableDataset<number> {
  constructor(private readonly n: number) {
    super();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<number> {
    for (let i = 0; i < this.n; i++) {
      await new Promise((r) => setImmediate(r));
      yield i;
    }
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('utils.data.defaultCollate', () => {
  it('stacks tensors, numbers, bigints, booleans; keeps strings; recurses into arrays and objects', () => {
    const t = defaultCollate([torch.ones(2), torch.zeros(2)]) as Tensor;
    expectExact(t, [
      [1, 1],
      [0, 0],
    ]);
    expectExact(defaultCollate([1, 2, 3]) as Tensor, [1, 2, 3], 'int64');
    expectExact(defaultCollate([1.5, 2]) as Tensor, [1.5, 2], 'float64');
    expectExact(defaultCollate([1n, 2n]) as Tensor, [1, 2], 'int64');
    expectExact(defaultCollate([true, false]) as Tensor, [true, false], 'bool');
    expect(defaultCollate(['a', 'b'])).to.deep.equal(['a', 'b']);
    const pairs = defaultCollate([
      [torch.tensor([1, 2]), 0],
      [torch.tensor([3, 4]), 1],
    ]) as [Tensor, Tensor];
    expectExact(pairs[0], [
      [1, 2],
      [3, 4],
    ]);
    expectExact(pairs[1], [0, 1], 'int64');
    const objs = defaultCollate([
      { x: torch.tensor([1.0]), label: 'a', meta: { id: 1 } },
      { x: torch.tensor([2.0]), label: 'b', meta: { id: 2 } },
    ]) as { x: Tensor; label: string[]; meta: { id: Tensor } };
    expectExact(objs.x, [[1], [2]]);
    expect(objs.label).to.deep.equal(['a', 'b']);
    expectExact(objs.meta.id, [1, 2], 'int64');
  });

  it('error paths name the offending sample', () => {
    expectError(() => defaultCollate([]), TypeError, 'defaultCollate', 'non-empty');
    expectError(() => defaultCollate('ab' as never), TypeError, 'defaultCollate');
    expectError(() => defaultCollate([torch.zeros(2), torch.zeros(3)]), RangeError, 'equal size', 'batch[1]', '[3]');
    expectError(() => defaultCollate([1, 'a']), TypeError, 'defaultCollate', 'batch[1]');
    expectError(() => defaultCollate([[1, 2], [1]]), RangeError, 'equal size', 'batch[1]');
    expectError(() => defaultCollate([null]), TypeError, 'defaultCollate', 'batch[0]');
    expectError(() => defaultCollate([new Map()]), TypeError, 'defaultCollate');
    expectError(() => defaultCollate([{ a: 1 }, { b: 1 }]), TypeError, "no key 'a'");
  });
});

describe('utils.data.padSequenceCollate', () => {
  it('pads token sequences into (B, T) with lengths and the key-padding mask (true = padded)', () => {
    const collate = padSequenceCollate({ padValue: 0 });
    const ids = (v: number[]): Tensor => torch.tensor(v, { dtype: 'int64' });
    const out = collate([ids([5, 6, 7]), ids([8]), ids([9, 10])]) as torch.utils.data.PaddedBatch;
    expectExact(
      out.padded,
      [
        [5, 6, 7],
        [8, 0, 0],
        [9, 10, 0],
      ],
      'int64',
    );
    expectExact(out.lengths, [3, 1, 2], 'int64');
    expectExact(out.paddingMask, [
      [false, false, false],
      [false, true, true],
      [false, false, true],
    ]);
    const mask = torch.nn.masks.keyPadding([3, 1, 2]);
    expect(out.paddingMask.equal(mask)).to.equal(true);
  });

  it('(T, B) without batchFirst; source/target pairs; objects; arrays of ids; other fields collated', () => {
    const tb = padSequenceCollate({ padValue: -1, batchFirst: false })([
      torch.tensor([1, 2]),
      torch.tensor([3]),
    ]) as torch.utils.data.PaddedBatch;
    expectExact(tb.padded, [
      [1, 3],
      [2, -1],
    ]);
    expect(tb.paddingMask.shape).to.deep.equal([2, 2]); // always (B, T)
    const [src, tgt, label] = padSequenceCollate({ padValue: 1 })([
      [torch.tensor([4, 5, 6]), [7, 8], 0],
      [torch.tensor([9]), [10, 11, 12, 13], 1],
    ]) as [torch.utils.data.PaddedBatch, torch.utils.data.PaddedBatch, Tensor];
    expectExact(src.padded, [
      [4, 5, 6],
      [9, 1, 1],
    ]);
    expectExact(tgt.padded, [
      [7, 8, 1, 1],
      [10, 11, 12, 13],
    ]);
    expectExact(tgt.lengths, [2, 4]);
    expectExact(label, [0, 1], 'int64');
    const obj = padSequenceCollate()([{ ids: [1, 2] }, { ids: [3] }]) as { ids: torch.utils.data.PaddedBatch };
    expectExact(obj.ids.padded, [
      [1, 2],
      [3, 0],
    ]);
    const empty = padSequenceCollate()([
      torch.tensor([], { dtype: 'int64' }),
      torch.tensor([], { dtype: 'int64' }),
    ]) as torch.utils.data.PaddedBatch;
    expect(empty.padded.shape).to.deep.equal([2, 0]);
    expect(empty.paddingMask.shape).to.deep.equal([2, 0]);
  });

  it('error paths', () => {
    expectError(() => padSequenceCollate({ padValue: 'x' } as never), TypeError, 'padSequenceCollate', 'padValue');
    expectError(() => padSequenceCollate({ batchFirst: 1 } as never), TypeError, 'padSequenceCollate', 'batchFirst');
    expectError(() => padSequenceCollate({ pad: 0 } as never), TypeError, 'padSequenceCollate');
    const c = padSequenceCollate();
    expectError(() => c([]), TypeError, 'padSequenceCollate', 'non-empty');
    expectError(() => c([torch.tensor([1]), 5]), TypeError, 'padSequenceCollate', 'batch[1]');
    expectError(() => c([[1, 2.5]]), RangeError, 'padSequenceCollate', 'batch[0][1]');
    expectError(() => c([[torch.tensor([1])], [torch.tensor([1]), torch.tensor([2])]]), TypeError, 'batch[1]');
  });
});

describe('utils.data.DataLoader', () => {
  it('batches a map-style dataset, with length and a short last batch (or dropLast)', () => {
    const ds = new Items([1, 2, 3, 4, 5]);
    const loader = new DataLoader(ds, { batchSize: 2 });
    expect(loader.length).to.equal(3);
    expect([...loader].map((b) => (b as Tensor).toArray())).to.deep.equal([[1, 2], [3, 4], [5]]);
    const dl = new DataLoader(ds, { batchSize: 2, dropLast: true });
    expect(dl.length).to.equal(2);
    expect([...dl]).to.have.length(2);
    expect(new DataLoader(ds).length).to.equal(5);
  });

  it('TensorDataset batches equal stacked rows (fetched with indexSelect)', () => {
    const x = torch.randn(7, 3);
    const y = torch.arange(7);
    const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 3, shuffle: true });
    for (const batch of loader) {
      const [xb, yb] = batch as Tensor[];
      const idx = yb.toArray<number[]>();
      expect(xb.equal(torch.stack(idx.map((i) => x.select(0, i))))).to.equal(true);
    }
  });

  it('a custom collate, batchSize null (no batching), a batchSampler, a sampler', () => {
    const ds = new Items(['a', 'b', 'c']);
    const joined = new DataLoader(ds, { batchSize: 2, collate: (b: string[]) => b.join('') });
    expect([...joined]).to.deep.equal(['ab', 'c']);
    expect([...new DataLoader(ds, { batchSize: null })]).to.deep.equal(['a', 'b', 'c']);
    expect([...new DataLoader(ds, { batchSize: null, collate: (b: string[]) => b.length })]).to.deep.equal([1, 1, 1]);
    const bs = new DataLoader(ds, { batchSampler: [[2, 0], [1]], collate: (b: string[]) => b.join('') });
    expect([...bs]).to.deep.equal(['ca', 'b']);
    expect(bs.length).to.equal(2);
    const s = new DataLoader(ds, { sampler: [2, 1, 0], batchSize: 3, collate: (b: string[]) => b.join('') });
    expect([...s]).to.deep.equal(['cba']);
  });

  it('each iteration is an epoch with a fresh shuffle; every index once per epoch', () => {
    const ds = new Items(Array.from({ length: 20 }, (_, i) => i));
    const loader = new DataLoader(ds, { batchSize: 6, shuffle: true, generator: new torch.Generator().manualSeed(9) });
    const e1 = [...loader].flatMap((b) => (b as Tensor).toArray<number[]>());
    const e2 = [...loader].flatMap((b) => (b as Tensor).toArray<number[]>());
    expect([...e1].sort((a, b) => a - b)).to.deep.equal([...e2].sort((a, b) => a - b));
    expect(e1).to.not.deep.equal(e2);
  });

  it('iterable datasets: batches in stream order, sync and async', async () => {
    expect([...new DataLoader(new Stream(5), { batchSize: 2 })].map((b) => (b as Tensor).toArray())).to.deep.equal([
      [0, 1],
      [2, 3],
      [4],
    ]);
    expect([...new DataLoader(new Stream(5), { batchSize: 2, dropLast: true })]).to.have.length(2);
    expect([...new DataLoader(new Stream(3), { batchSize: null })]).to.deep.equal([0, 1, 2]);
    const got: number[][] = [];
    for await (const b of new DataLoader(new AsyncStream(5), { batchSize: 2 }))
      got.push((b as Tensor).toArray<number[]>());
    expect(got).to.deep.equal([[0, 1], [2, 3], [4]]);
    const sync: number[][] = [];
    for await (const b of new DataLoader(new Stream(3), { batchSize: 2 })) sync.push((b as Tensor).toArray<number[]>());
    expect(sync).to.deep.equal([[0, 1], [2]]);
    expectError(() => [...new DataLoader(new AsyncStream(2))], TypeError, 'asynchronous only', 'for await');
    expectError(() => new DataLoader(new Stream(2)).length, TypeError, 'DataLoader.length', 'no length');
  });

  it('an asynchronous stream with prefetch: same batches, read ahead while the consumer awaits', async () => {
    const log: string[] = [];
    class Logged extends IterableDataset<number> {
      async *[Symbol.asyncIterator](): AsyncIterator<number> {
        for (let i = 0; i < 8; i++) {
          await tick();
          log.push(`read ${i}`);
          yield i;
        }
      }
    }
    const got: number[][] = [];
    for await (const b of new DataLoader(new Logged(), { batchSize: 2, prefetch: 2 })) {
      log.push(`use ${(b as Tensor).toArray<number[]>()[0]}`);
      got.push((b as Tensor).toArray<number[]>());
      // The consumer is busy for 10 event-loop turns (not a wall-clock sleep, which a loaded machine
      // can outlast): the stream, one read per turn, has time to read the 2 prefetched batches.
      for (let k = 0; k < 10; k++) await tick();
    }
    expect(got).to.deep.equal([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ]);
    expect(log.indexOf('read 5')).to.be.lessThan(log.indexOf('use 2'));
    expect(new Logged().isSync).to.equal(false);
    expect(new Stream(1).isSync).to.equal(true);
    // a break disposes the batches read ahead and closes the stream
    const made: Tensor[] = [];
    const collate = (b: number[]): Tensor => {
      const t = torch.tensor(b);
      made.push(t);
      return t;
    };
    for await (const _ of new DataLoader(new AsyncStream(20), { batchSize: 2, prefetch: 2, collate })) break;
    expect(made.slice(1).every((t) => t._disposed)).to.equal(true);
    expect(made[0]._disposed).to.equal(false);
  });

  it('for await...of gives the same batches as for...of', async () => {
    const ds = new Items(Array.from({ length: 11 }, (_, i) => i));
    const opts = { batchSize: 3, shuffle: true };
    torch.manualSeed(5);
    const syncBatches = [...new DataLoader(ds, opts)].map((b) => (b as Tensor).toArray());
    for (const prefetch of [0, 1, 4]) {
      torch.manualSeed(5);
      const got: unknown[] = [];
      for await (const b of new DataLoader(ds, { ...opts, prefetch })) got.push((b as Tensor).toArray());
      expect(got, `prefetch ${prefetch}`).to.deep.equal(syncBatches);
    }
  });

  it('prefetch: k batches are made ahead, in event-loop tasks, while the consumer awaits', async () => {
    const ds = new Items(Array.from({ length: 10 }, (_, i) => i));
    const log: string[] = [];
    const collate = (b: number[]): number[] => {
      log.push(`make ${b[0] / 2}`);
      return b;
    };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      for await (const b of new DataLoader(ds, { batchSize: 2, collate, prefetch: 2 })) {
        log.push(`use ${b[0] / 2}`);
        await new Promise((r) => setTimeout(r, 2)); // the consumer's async work (a forwardAsync)
      }
    } finally {
      clearInterval(timer);
    }
    // batch k+1 and k+2 were made while the consumer awaited after using batch k
    expect(log.indexOf('make 1')).to.be.lessThan(log.indexOf('use 1'));
    expect(log.indexOf('make 2')).to.be.lessThan(log.indexOf('use 1'));
    expect(log.indexOf('make 3')).to.be.lessThan(log.indexOf('use 2'));
    expect(log.filter((l) => l.startsWith('make'))).to.have.length(5);
    expect(ticks).to.be.greaterThan(0);
  });

  it('without prefetch the event loop still runs between batches', async () => {
    const ds = new Items(Array.from({ length: 8 }, (_, i) => i));
    let ticks = 0;
    let stop = false;
    const spin = async (): Promise<void> => {
      while (!stop) {
        ticks++;
        await tick();
      }
    };
    const spinning = spin();
    let batches = 0;
    for await (const _ of new DataLoader(ds, { batchSize: 1, collate: (b: number[]) => b })) batches++;
    stop = true;
    await spinning;
    expect(batches).to.equal(8);
    expect(ticks).to.be.greaterThan(4);
  });

  it('breaking out of for await...of disposes the batches made ahead', async () => {
    const made: Tensor[] = [];
    const collate = (b: number[]): Tensor => {
      const t = torch.tensor(b);
      made.push(t);
      return t;
    };
    const loader = new DataLoader(new Items(Array.from({ length: 20 }, (_, i) => i)), {
      batchSize: 2,
      collate,
      prefetch: 3,
    });
    for await (const b of loader) {
      expect(b).to.equal(made[0]);
      break;
    }
    expect(made).to.have.length(4); // the consumed batch and the three made ahead
    expect(made.map((t) => t._disposed)).to.deep.equal([false, true, true, true]);
    // the next async pass is unaffected
    let n = 0;
    for await (const _ of loader) n++;
    expect(n).to.equal(10);
  });

  it('an error in a batch surfaces at that batch', async () => {
    const ds = new Items([1, 2, 3, 4]);
    const collate = (b: number[]): number => {
      if (b[0] === 3) throw new Error('bad batch');
      return b[0];
    };
    const got: number[] = [];
    let caught: unknown;
    try {
      for await (const b of new DataLoader(ds, { batchSize: 2, collate, prefetch: 2 })) got.push(b);
    } catch (e) {
      caught = e;
    }
    expect(got).to.deep.equal([1]);
    expect((caught as Error).message).to.equal('bad batch');
    expectError(() => [...new DataLoader(ds, { batchSize: 2, collate })], Error, 'bad batch');
  });

  it('error paths: options PyTorch refuses, and wrong types', () => {
    const ds = new Items([1, 2, 3]);
    expectError(() => new DataLoader(5 as never), TypeError, 'DataLoader', 'dataset');
    expectError(() => new DataLoader(ds, { batchSize: 0 }), RangeError, 'DataLoader', 'batchSize');
    expectError(() => new DataLoader(ds, { shuffle: 'yes' } as never), TypeError, 'DataLoader', 'shuffle');
    expectError(() => new DataLoader(ds, { prefetch: -1 }), RangeError, 'DataLoader', 'prefetch');
    expectError(() => new DataLoader(ds, { collate: 5 } as never), TypeError, 'DataLoader', 'collate');
    expectError(() => new DataLoader(ds, { generator: {} } as never), TypeError, 'DataLoader', 'generator');
    expectError(() => new DataLoader(ds, { numWorkers: 2 } as never), TypeError, 'DataLoader', 'numWorkers');
    expectError(() => new DataLoader(ds, { sampler: 5 } as never), TypeError, 'DataLoader', 'sampler');
    expectError(() => new DataLoader(ds, { batchSampler: 5 } as never), TypeError, 'DataLoader', 'batchSampler');
    expectError(
      () => new DataLoader(ds, { sampler: [0], shuffle: true }),
      TypeError,
      'mutually exclusive with shuffle',
    );
    expectError(
      () => new DataLoader(ds, { batchSampler: [[0]], batchSize: 2 }),
      TypeError,
      'batchSampler',
      'mutually exclusive',
    );
    expectError(
      () => new DataLoader(ds, { batchSampler: [[0]], dropLast: true }),
      TypeError,
      'batchSampler',
      'mutually exclusive',
    );
    expectError(() => new DataLoader(ds, { batchSize: null, dropLast: true }), TypeError, 'dropLast');
    expectError(() => new DataLoader(new Stream(3), { shuffle: true }), TypeError, 'IterableDataset', 'shuffle');
    expectError(() => new DataLoader(new Stream(3), { sampler: [0] }), TypeError, 'IterableDataset', 'sampler');
    expectError(
      () => new DataLoader(new Stream(3), { batchSampler: [[0]] }),
      TypeError,
      'IterableDataset',
      'batchSampler',
    );
    const plain = { length: 3, getItem: (i: number) => i * 2 };
    expect([...new DataLoader(plain, { batchSize: 3 })].map((b) => (b as Tensor).toArray())).to.deep.equal([[0, 2, 4]]);
    expect(String(new DataLoader(plain, { batchSize: 3 }))).to.match(
      /^DataLoader\(dataset=.*, batchSize=3, dropLast=false\)$/,
    );
    function* gen() {
      yield 0;
    }
    expectError(() => new DataLoader(ds, { sampler: gen() }).length, TypeError, 'DataLoader.length', 'no length');
  });
});

describe('utils.data.BucketBatchSampler', () => {
  const lengths = Array.from({ length: 200 }, (_, i) => 1 + ((i * 37) % 50));
  const padding = (batches: number[][]): number =>
    batches.reduce((sum, b) => {
      const ls = b.map((i) => lengths[i]);
      return sum + Math.max(...ls) * ls.length - ls.reduce((a, c) => a + c, 0);
    }, 0);

  it('every index exactly once per epoch; fresh order each epoch; less padding than random batches', () => {
    const g = new torch.Generator().manualSeed(0);
    const s = new BucketBatchSampler(lengths, { batchSize: 8, bucketSize: 64, generator: g });
    const e1 = [...s],
      e2 = [...s];
    for (const e of [e1, e2]) expect(e.flat().sort((a, b) => a - b)).to.deep.equal(lengths.map((_, i) => i));
    expect(e1).to.not.deep.equal(e2);
    expect(s.length).to.equal(e1.length);
    const random = [
      ...new torch.utils.data.BatchSampler(new torch.utils.data.RandomSampler(lengths, { generator: g }), 8, false),
    ];
    expect(padding(e1)).to.be.lessThan(padding(random) / 3);
    // within a batch the lengths are close
    for (const b of e1) expect(b.length).to.be.at.most(8);
  });

  it('dropLast, no shuffle, global seed reproducibility, with a DataLoader', () => {
    const d = new BucketBatchSampler(lengths.slice(0, 20), { batchSize: 8, bucketSize: 10, dropLast: true });
    expect(d.bucketSize).to.equal(16); // rounded up to a multiple of batchSize
    const batches = [...d];
    expect(batches.every((b) => b.length === 8)).to.equal(true);
    expect(d.length).to.equal(batches.length);
    expect(batches.length).to.equal(2);
    const fixed = new BucketBatchSampler([3, 1, 2, 1], { batchSize: 2, shuffle: false });
    expect([...fixed]).to.deep.equal([
      [1, 3],
      [2, 0],
    ]);
    torch.manualSeed(4);
    const a = [...new BucketBatchSampler(lengths, { batchSize: 8 })];
    torch.manualSeed(4);
    expect([...new BucketBatchSampler(lengths, { batchSize: 8 })]).to.deep.equal(a);
    const seqs = lengths.slice(0, 30).map((l) => torch.ones([l], { dtype: 'int64' }));
    const loader = new DataLoader(new Items(seqs), {
      batchSampler: new BucketBatchSampler(lengths.slice(0, 30), { batchSize: 4 }),
      collate: padSequenceCollate(),
    });
    let rows = 0;
    for (const b of loader) rows += (b as torch.utils.data.PaddedBatch).padded.shape[0];
    expect(rows).to.equal(30);
  });

  it('error paths', () => {
    expectError(() => new BucketBatchSampler(5 as never, { batchSize: 2 }), TypeError, 'BucketBatchSampler', 'lengths');
    expectError(
      () => new BucketBatchSampler([1, -1], { batchSize: 2 }),
      RangeError,
      'BucketBatchSampler',
      'lengths[1]',
    );
    expectError(() => new BucketBatchSampler([1], undefined as never), TypeError, 'BucketBatchSampler', 'batchSize');
    expectError(() => new BucketBatchSampler([1], {} as never), TypeError, 'BucketBatchSampler', 'batchSize');
    expectError(() => new BucketBatchSampler([1], { batchSize: 0 }), RangeError, 'BucketBatchSampler', 'batchSize');
    expectError(() => new BucketBatchSampler([1], { batchSize: 1, bucketSize: 0 }), RangeError, 'bucketSize');
    expectError(() => new BucketBatchSampler([1], { batchSize: 1, shuffle: 1 } as never), TypeError, 'shuffle');
    expectError(() => new BucketBatchSampler([1], { batchSize: 1, generator: 1 } as never), TypeError, 'generator');
  });
});

describe('utils.data: lifetime', () => {
  // dropped handles of earlier tests are freed by finalizers that run from the event loop: let them
  const live = async (): Promise<number> => {
    for (let k = 0; k < 3; k++) {
      global.gc?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    return torch.memory().tensors;
  };

  it('an epoch leaves no tensor behind but the batches it yields (samplers, seeds, indices, padding)', async () => {
    const x = torch.randn(50, 4);
    const y = torch.arange(50);
    const seqs = Array.from({ length: 30 }, (_, i) => torch.ones([1 + (i % 7)], { dtype: 'int64' }));
    const loaders: (Iterable<unknown> & AsyncIterable<unknown>)[] = [
      new DataLoader(new TensorDataset(x, y), { batchSize: 8, shuffle: true }),
      new DataLoader(new TensorDataset(x, y), {
        sampler: new torch.utils.data.RandomSampler(new TensorDataset(y), { replacement: true, numSamples: 70 }),
        batchSize: 16,
      }),
      new DataLoader(new Items(seqs), {
        batchSampler: new BucketBatchSampler(
          seqs.map((s) => s.shape[0]),
          { batchSize: 4 },
        ),
        collate: padSequenceCollate(),
      }),
      new DataLoader(new Items(seqs.map((s) => s.toArray<number[]>())), {
        batchSize: 5,
        collate: padSequenceCollate(),
      }),
    ];
    const drop = (v: unknown): void => {
      if (v instanceof torch.Tensor) v.dispose();
      else if (typeof v === 'object' && v !== null) for (const w of Object.values(v)) drop(w);
    };
    for (const loader of loaders) {
      // synchronous: no finalizer can run in between, so the count is exact
      const count = torch.memory().tensors;
      for (const b of loader) drop(b);
      expect(torch.memory().tensors, 'for...of').to.equal(count);
      const before = await live();
      for await (const b of loader) drop(b);
      expect(await live(), 'for await...of').to.equal(before);
    }
    const v = torch.text.Vocab.build([['a', 'b']]);
    const count = torch.memory().tensors;
    const parts = torch.utils.data.randomSplit(new TensorDataset(x), [0.5, 0.5]);
    expect(parts).to.have.length(2);
    v.encode(['a'], { as: 'array' });
    expect(torch.memory().tensors).to.equal(count);
  });
});
