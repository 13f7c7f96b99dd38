// utils.data datasets and samplers: behaviour and error paths (the PyTorch-equal shuffles are in
// shuffle_fixture.test.ts).

import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError } from '../helpers';

const {
  Dataset,
  TensorDataset,
  Subset,
  ConcatDataset,
  randomSplit,
  SequentialSampler,
  RandomSampler,
  SubsetRandomSampler,
  BatchSampler,
} = torch.utils.data;

class Letters extends Dataset<string> {
  constructor(private readonly s: string) {
    super();
  }
  get length(): number {
    return this.s.length;
  }
  getItem(i: number): string {
    return this.s[i];
  }
}

describe('utils.data datasets', () => {
  it('TensorDataset: rows of every tensor, negative indices, length', () => {
    const x = torch.arange(12).reshape(4, 3);
    const y = torch.tensor([10, 11, 12, 13]);
    const ds = new TensorDataset(x, y);
    expect(ds.length).to.equal(4);
    const [a, b] = ds.getItem(1);
    expect(a.toArray()).to.deep.equal([3, 4, 5]);
    expect(b.item()).to.equal(11);
    expect(ds.getItem(-1)[1].item()).to.equal(13);
    expect(ds.getItems([0, 2]).map(([, t]) => t.item())).to.deep.equal([10, 12]);
    expect(ds.tensors).to.have.length(2);
  });

  it('TensorDataset: error paths', () => {
    expectError(() => new TensorDataset(), TypeError, 'TensorDataset', 'at least one tensor');
    expectError(() => new TensorDataset([1, 2] as unknown as torch.Tensor), TypeError, 'TensorDataset', 'tensors[0]');
    expectError(() => new TensorDataset(torch.tensor(1)), RangeError, 'TensorDataset', '0-dim');
    expectError(() => new TensorDataset(torch.zeros(3), torch.zeros(4)), RangeError, 'size mismatch', 'tensors[1]');
    const ds = new TensorDataset(torch.zeros(3));
    expectError(() => ds.getItem(3), RangeError, 'TensorDataset.getItem', 'out of range');
    expectError(() => ds.getItem(-4), RangeError, 'TensorDataset.getItem');
    expectError(() => ds.getItem(1.5), RangeError, 'TensorDataset.getItem', 'index');
  });

  it('Subset and ConcatDataset', () => {
    const ds = new Letters('abcdef');
    const sub = new Subset(ds, [5, 0, -1]);
    expect(sub.length).to.equal(3);
    expect([0, 1, 2].map((i) => sub.getItem(i))).to.deep.equal(['f', 'a', 'f']);
    expect(sub.getItems([1, 0])).to.deep.equal(['a', 'f']);
    const cat = new ConcatDataset([ds, new Letters('xy'), new Letters('')]);
    expect(cat.length).to.equal(8);
    expect(cat.cumulativeSizes).to.deep.equal([6, 8, 8]);
    expect(Array.from({ length: 8 }, (_, i) => cat.getItem(i)).join('')).to.equal('abcdefxy');
    expect(cat.getItem(-1)).to.equal('y');
    expect(ds.concat(new Letters('z')).getItem(6)).to.equal('z');
    // a plain object with getItem and length is a dataset too
    const plain = { length: 2, getItem: (i: number) => i * 10 } as unknown as torch.utils.data.Dataset<number>;
    expect(new Subset(plain, [1]).getItem(0)).to.equal(10);
  });

  it('Subset and ConcatDataset: error paths', () => {
    const ds = new Letters('abc');
    expectError(() => new Subset({} as never, [0]), TypeError, 'Subset', 'dataset');
    expectError(() => new Subset(ds, 0 as never), TypeError, 'Subset', 'indices');
    expectError(() => new Subset(ds, [3]), RangeError, 'Subset', 'indices[0]', 'out of range');
    expectError(() => new Subset(ds, [0.5]), RangeError, 'Subset', 'indices[0]');
    expectError(() => new Subset(ds, [0]).getItem(1), RangeError, 'Subset.getItem');
    expectError(() => new ConcatDataset([]), TypeError, 'ConcatDataset', 'non-empty');
    expectError(() => new ConcatDataset([ds, 5 as never]), TypeError, 'ConcatDataset', 'datasets[1]');
    expectError(() => new ConcatDataset([ds]).getItem(3), RangeError, 'ConcatDataset.getItem');
  });

  it('randomSplit: disjoint subsets covering the dataset; error paths', () => {
    const ds = new Letters('abcdefghij');
    const parts = randomSplit(ds, [0.5, 0.3, 0.2], { generator: new torch.Generator().manualSeed(1) });
    expect(parts.map((p) => p.length)).to.deep.equal([5, 3, 2]);
    const all = parts.flatMap((p) => [...p.indices]).sort((a, b) => a - b);
    expect(all).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectError(() => randomSplit(ds, [3, 3]), RangeError, 'randomSplit', 'sum to 6', '10 samples');
    expectError(() => randomSplit(ds, [1.5, -0.5]), RangeError, 'randomSplit', 'fraction at index 0');
    expectError(() => randomSplit(ds, [0.5, 4.5]), RangeError, 'randomSplit', 'lengths[0]');
    expectError(() => randomSplit(ds, []), TypeError, 'randomSplit', 'lengths');
    expectError(() => randomSplit(ds, ['5', 5] as never), TypeError, 'randomSplit', 'lengths[0]');
    expectError(() => randomSplit(ds, [5, 5], { generator: 1 } as never), TypeError, 'randomSplit', 'generator');
    expectError(() => randomSplit(ds, [5, 5], { gen: 1 } as never), TypeError, 'randomSplit');
    expectError(() => randomSplit(null as never, [5, 5]), TypeError, 'randomSplit', 'dataset');
  });
});

describe('utils.data samplers', () => {
  const ds = new Letters('abcdefg');

  it('SequentialSampler and RandomSampler: lengths, permutations, fresh shuffles per pass', () => {
    expect([...new SequentialSampler(ds)]).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(new SequentialSampler(ds).length).to.equal(7);
    const r = new RandomSampler(ds, { generator: new torch.Generator().manualSeed(0) });
    const a = [...r],
      b = [...r];
    expect([...a].sort()).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(a).to.not.deep.equal(b);
    expect(r.length).to.equal(7);
    const w = new RandomSampler(ds, { replacement: true, numSamples: 100 });
    const drawn = [...w];
    expect(drawn).to.have.length(100);
    expect(drawn.every((i) => i >= 0 && i < 7)).to.equal(true);
    expect(w.numSamples).to.equal(100);
    expect([...new RandomSampler(new Letters(''))]).to.deep.equal([]);
  });

  it('SubsetRandomSampler and BatchSampler', () => {
    const s = new SubsetRandomSampler([10, 20, 30], { generator: new torch.Generator().manualSeed(3) });
    expect([...s].sort()).to.deep.equal([10, 20, 30]);
    expect(s.length).to.equal(3);
    const b = new BatchSampler(new SequentialSampler(ds), 3, false);
    expect([...b]).to.deep.equal([[0, 1, 2], [3, 4, 5], [6]]);
    expect(b.length).to.equal(3);
    const d = new BatchSampler(new SequentialSampler(ds), 3, true);
    expect([...d]).to.deep.equal([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(d.length).to.equal(2);
    expect(new BatchSampler([0, 1, 2], 2, false).length).to.equal(2); // an array has a length too
    function* gen() {
      yield 1;
    }
    expect(new BatchSampler(gen(), 2, false).length).to.equal(undefined);
  });

  it('error paths', () => {
    expectError(() => new SequentialSampler({} as never), TypeError, 'SequentialSampler', 'dataSource');
    expectError(() => new RandomSampler(5 as never), TypeError, 'RandomSampler', 'dataSource');
    expectError(() => new RandomSampler(ds, { numSamples: 0 }), RangeError, 'RandomSampler', 'numSamples');
    expectError(() => new RandomSampler(ds, { replacement: 1 } as never), TypeError, 'RandomSampler', 'replacement');
    expectError(() => new RandomSampler(ds, { generator: 'g' } as never), TypeError, 'RandomSampler', 'generator');
    expectError(() => new RandomSampler(ds, { shuffle: true } as never), TypeError, 'RandomSampler', 'shuffle');
    expectError(() => [...new RandomSampler(new Letters(''), { numSamples: 2 })], RangeError, 'empty dataset');
    expectError(() => new SubsetRandomSampler('abc' as never), TypeError, 'SubsetRandomSampler', 'indices');
    expectError(() => new SubsetRandomSampler([0.5]), RangeError, 'SubsetRandomSampler', 'indices[0]');
    expectError(() => new BatchSampler(5 as never, 2, false), TypeError, 'BatchSampler', 'sampler');
    expectError(() => new BatchSampler([0], 0, false), RangeError, 'BatchSampler', 'batchSize');
    expectError(() => new BatchSampler([0], 2, 'no' as never), TypeError, 'BatchSampler', 'dropLast');
  });
});
