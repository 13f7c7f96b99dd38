// The shuffles of torch.utils.data equal PyTorch's: DataLoader (shuffle, dropLast, an explicit
// generator, a RandomSampler with numSamples / replacement, two loaders sharing the global stream),
// the samplers on their own, and randomSplit (lengths and fractions), over several epochs.
// Golden values: test/fixtures/data.json (test/fixtures/gen/gen_data_fixtures.py, PyTorch 1.13.1);
// the datasets there hold their own index, so every batch is the list of sampled indices.

import { expect } from 'chai';

import * as torch from '../../lib';
import { dataFixture } from './fixture';

const { DataLoader, Dataset, RandomSampler, SequentialSampler, BatchSampler, randomSplit } = torch.utils.data;

interface EpochCase {
  name: string;
  seed: number;
  epochs: number[][][] | number[][];
}
interface SplitCase {
  name: string;
  n: number;
  lengths: number[];
  seed: number | null;
  generatorSeed: number | null;
  splits: number[][];
}

class Range extends Dataset<number> {
  constructor(private readonly n: number) {
    super();
  }
  get length(): number {
    return this.n;
  }
  getItem(i: number): number {
    return i;
  }
}

const batches = (loader: Iterable<unknown>): number[][] =>
  [...loader].map((b) => (b as torch.Tensor).toArray<number[]>());
const epochs = (loader: Iterable<unknown>, k = 3): number[][][] => Array.from({ length: k }, () => batches(loader));

/** The loaders of the fixture, built as the generator script builds them (by case name). */
const LOADERS: Record<string, () => unknown> = {
  'shuffle n=10 bs=3': () => epochs(new DataLoader(new Range(10), { batchSize: 3, shuffle: true })),
  'shuffle n=10 bs=3 dropLast': () =>
    epochs(new DataLoader(new Range(10), { batchSize: 3, shuffle: true, dropLast: true })),
  'shuffle n=7 bs=1': () => epochs(new DataLoader(new Range(7), { shuffle: true })),
  'no shuffle n=5 bs=2': () => epochs(new DataLoader(new Range(5), { batchSize: 2 })),
  'shuffle generator(2024) n=9 bs=4': () =>
    epochs(
      new DataLoader(new Range(9), {
        batchSize: 4,
        shuffle: true,
        generator: new torch.Generator().manualSeed(2024),
      }),
    ),
  'two loaders interleaved': () => {
    const a = new DataLoader(new Range(6), { batchSize: 2, shuffle: true });
    const b = new DataLoader(new Range(6), { batchSize: 3, shuffle: true });
    return [batches(a), batches(b), batches(a)];
  },
  'sampler replacement numSamples=40': () =>
    epochs(
      new DataLoader(new Range(10), {
        batchSize: 8,
        sampler: new RandomSampler(new Range(10), { replacement: true, numSamples: 40 }),
      }),
    ),
  'sampler numSamples=25 no replacement': () =>
    epochs(
      new DataLoader(new Range(10), { batchSize: 5, sampler: new RandomSampler(new Range(10), { numSamples: 25 }) }),
    ),
  'sampler generator(77) replacement': () =>
    epochs(
      new DataLoader(new Range(10), {
        batchSize: 4,
        sampler: new RandomSampler(new Range(10), {
          replacement: true,
          generator: new torch.Generator().manualSeed(77),
        }),
      }),
    ),
};

const SAMPLERS: Record<string, () => unknown> = {
  'RandomSampler n=10': () => {
    const s = new RandomSampler(new Range(10));
    return [[...s], [...s], [...s]];
  },
  'RandomSampler n=10 replacement numSamples=70': () => {
    const s = new RandomSampler(new Range(10), { replacement: true, numSamples: 70 });
    return [[...s], [...s], [...s]];
  },
  'RandomSampler generator(5) n=6 numSamples=13': () => {
    const s = new RandomSampler(new Range(6), { numSamples: 13, generator: new torch.Generator().manualSeed(5) });
    return [[...s], [...s], [...s]];
  },
  'SequentialSampler n=4': () => {
    const s = new SequentialSampler(new Range(4));
    return [[...s], [...s], [...s]];
  },
  'BatchSampler(RandomSampler n=11) bs=4': () => {
    const s = new BatchSampler(new RandomSampler(new Range(11)), 4, false);
    return [[...s], [...s], [...s]];
  },
  'BatchSampler(RandomSampler n=11) bs=4 dropLast': () => {
    const s = new BatchSampler(new RandomSampler(new Range(11)), 4, true);
    return [[...s], [...s], [...s]];
  },
};

describe('utils.data shuffles equal PyTorch 1.13.1', () => {
  describe('DataLoader, over 3 epochs (after torch.manualSeed, or with a generator)', () => {
    for (const c of dataFixture<EpochCase[]>('loaders')) {
      it(c.name, () => {
        const make = LOADERS[c.name];
        expect(make, `a loader for the fixture case '${c.name}'`).to.be.a('function');
        torch.manualSeed(c.seed);
        expect(make()).to.deep.equal(c.epochs);
      });
    }
    it('leaves the global stream where PyTorch leaves it (the per-epoch base seed is drawn)', () => {
      // after 'shuffle n=10 bs=3' (seed 0) the next epoch is the fixture's 2nd one
      const c = dataFixture<EpochCase[]>('loaders')[0];
      torch.manualSeed(c.seed);
      const loader = new DataLoader(new Range(10), { batchSize: 3, shuffle: true });
      batches(loader);
      expect(batches(loader)).to.deep.equal(c.epochs[1]);
    });
  });

  describe('samplers, over 3 passes', () => {
    for (const c of dataFixture<EpochCase[]>('samplers')) {
      it(c.name, () => {
        const make = SAMPLERS[c.name];
        expect(make, `a sampler for the fixture case '${c.name}'`).to.be.a('function');
        torch.manualSeed(c.seed);
        expect(make()).to.deep.equal(c.epochs);
      });
    }
  });

  describe('randomSplit', () => {
    for (const c of dataFixture<SplitCase[]>('splits')) {
      it(c.name, () => {
        if (c.seed !== null) torch.manualSeed(c.seed);
        const opts = c.generatorSeed === null ? {} : { generator: new torch.Generator().manualSeed(c.generatorSeed) };
        const parts = randomSplit(new Range(c.n), c.lengths, opts);
        expect(parts.map((p) => p.indices)).to.deep.equal(c.splits);
        expect(parts.map((p) => p.length)).to.deep.equal(c.splits.map((s) => s.length));
        parts.forEach((p, k) => {
          expect(Array.from({ length: p.length }, (_, i) => p.getItem(i))).to.deep.equal(c.splits[k]);
        });
      });
    }
  });
});
