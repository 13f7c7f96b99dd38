// utils.data's types: the batches a DataLoader yields are typed from its dataset and collate
// (checked by tsc when the tests compile; the runtime assertions confirm the shapes).

import { expect } from 'chai';

import * as torch from '../../lib';

const { DataLoader, Dataset, TensorDataset, padSequenceCollate } = torch.utils.data;
type Tensor = torch.Tensor;

class Pairs extends Dataset<[Tensor, Tensor, number]> {
  get length(): number {
    return 4;
  }
  getItem(i: number): [Tensor, Tensor, number] {
    return [torch.ones([1 + i], { dtype: 'int64' }), torch.ones([4 - i], { dtype: 'int64' }), i];
  }
}

class Records extends Dataset<{ x: Tensor; label: number; name: string }> {
  get length(): number {
    return 3;
  }
  getItem(i: number): { x: Tensor; label: number; name: string } {
    return { x: torch.full([2], i), label: i, name: `r${i}` };
  }
}

describe('utils.data types', () => {
  it('TensorDataset batches are Tensor[]; tuples and objects keep their shape', () => {
    for (const [xb, yb] of new DataLoader(new TensorDataset(torch.zeros(4, 2), torch.zeros(4)), { batchSize: 2 })) {
      const shapes: number[][] = [xb.shape.slice(), yb.shape.slice()];
      expect(shapes).to.deep.equal([[2, 2], [2]]);
    }
    for (const { x, label, name } of new DataLoader(new Records(), { batchSize: 3 })) {
      const t: Tensor = x;
      const l: Tensor = label;
      const n: string[] = name;
      expect([t.shape, l.dtype, n]).to.deep.equal([[3, 2], 'int64', ['r0', 'r1', 'r2']]);
    }
  });

  it('padSequenceCollate infers the sample type from the loader: [src, tgt, id] → PaddedBatch, PaddedBatch, Tensor', () => {
    const loader = new DataLoader(new Pairs(), { batchSize: 4, collate: padSequenceCollate({ padValue: 0 }) });
    for (const [src, tgt, id] of loader) {
      const a: Tensor = src.padded;
      const m: Tensor = tgt.paddingMask;
      const i: Tensor = id;
      expect([a.shape, m.shape, i.toArray()]).to.deep.equal([
        [4, 4],
        [4, 4],
        [0, 1, 2, 3],
      ]);
    }
  });
});
