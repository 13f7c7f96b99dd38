// nn.utils.shiftRight: the teacher-forcing decoder input, in both layouts, with Hugging Face's
// ignore-index replacement, and its error paths.

import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError, expectExact } from '../helpers';

const { shiftRight } = torch.nn.utils;
const ids = (v: number[][] | number[]): torch.Tensor => torch.tensor(v, { dtype: 'int64' });

describe('nn.utils.shiftRight', () => {
  it('(B, T): drops the last step and puts startToken first', () => {
    const out = shiftRight(
      ids([
        [5, 6, 7, 2],
        [8, 2, 0, 0],
      ]),
      { startToken: 1 },
    );
    expectExact(
      out,
      [
        [1, 5, 6, 7],
        [1, 8, 2, 0],
      ],
      'int64',
    );
  });

  it('(T, B) with batchFirst false; 1-D; other integer dtypes; T = 1 and T = 0', () => {
    expectExact(
      shiftRight(
        ids([
          [5, 8],
          [6, 2],
          [2, 0],
        ]),
        { startToken: 1, batchFirst: false },
      ),
      [
        [1, 1],
        [5, 8],
        [6, 2],
      ],
    );
    expectExact(shiftRight(ids([4, 5, 6]), { startToken: 9 }), [9, 4, 5]);
    const i32 = shiftRight(torch.tensor([[3, 4]], { dtype: 'int32' }), { startToken: 0 });
    expect(i32.dtype).to.equal('int32');
    expectExact(i32, [[0, 3]]);
    expectExact(shiftRight(ids([[7]]), { startToken: 1 }), [[1]]);
    expect(shiftRight(torch.zeros([2, 0], { dtype: 'int64' }), { startToken: 1 }).shape).to.deep.equal([2, 0]);
  });

  it('padToken replaces ignoreIndex (-100 by default) in the result, as shift_tokens_right', () => {
    expectExact(shiftRight(ids([[5, 6, -100, -100]]), { startToken: 1, padToken: 0 }), [[1, 5, 6, 0]]);
    expectExact(shiftRight(ids([[5, -1, 7]]), { startToken: 1, padToken: 0, ignoreIndex: -1 }), [[1, 5, 0]]);
    expectExact(shiftRight(ids([[5, -100, 7]]), { startToken: 1 }), [[1, 5, -100]]);
  });

  it('creates no tensor beyond its result', () => {
    const t = ids([[1, 2, 3]]);
    const before = torch.memory().tensors;
    const out = shiftRight(t, { startToken: 0, padToken: 0 });
    expect(torch.memory().tensors).to.equal(before + 1);
    out.dispose();
  });

  it('error paths', () => {
    const t = ids([[1, 2]]);
    expectError(() => shiftRight([1, 2] as never, { startToken: 0 }), TypeError, 'nn.utils.shiftRight', 'tgt');
    expectError(() => shiftRight(t, undefined as never), TypeError, 'nn.utils.shiftRight', 'startToken');
    expectError(() => shiftRight(t, {} as never), TypeError, 'nn.utils.shiftRight', 'startToken');
    expectError(() => shiftRight(t, { startToken: 1.5 }), RangeError, 'nn.utils.shiftRight', 'startToken');
    expectError(() => shiftRight(t, { startToken: 0, padToken: 'x' } as never), TypeError, 'padToken');
    expectError(() => shiftRight(t, { startToken: 0, batchFirst: 1 } as never), TypeError, 'batchFirst');
    expectError(() => shiftRight(t, { startToken: 0, start: 1 } as never), TypeError, 'nn.utils.shiftRight', 'start');
    expectError(() => shiftRight(torch.tensor(3), { startToken: 0 }), RangeError, 'nn.utils.shiftRight', 'shape []');
    expectError(
      () => shiftRight(torch.zeros([1, 2, 3], { dtype: 'int64' }), { startToken: 0 }),
      RangeError,
      'shape [1, 2, 3]',
    );
    expectError(() => shiftRight(torch.zeros(2, 3), { startToken: 0 }), RangeError, 'integer dtype', 'float32');
  });
});
