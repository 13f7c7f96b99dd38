// nn.utils.rnn: PackedSequence, packPaddedSequence, padPackedSequence, padSequence, packSequence.
// Expected values are PyTorch 1.13's (its docstring examples and spec §4.5); the length checks
// go beyond PyTorch, which reads past the end of the input for a length > T.
import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError, expectExact } from '../helpers';

const { nn } = torch;
const { PackedSequence, packPaddedSequence, padPackedSequence, padSequence, packSequence } = nn.utils.rnn;

const int64 = (rows: number[][]) => torch.tensor(rows.map((r) => r.map((v) => BigInt(v))));

describe('nn.utils.rnn: packing and padding', () => {
  it("packPaddedSequence / padPackedSequence round trip with unsorted lengths (PyTorch's docstring example)", () =>
    torch.tidy(() => {
      const seq = int64([
        [1, 2, 0],
        [3, 0, 0],
        [4, 5, 6],
      ]);
      const packed = packPaddedSequence(seq, [2, 1, 3], { batchFirst: true, enforceSorted: false });
      expect(packed).to.be.instanceOf(PackedSequence);
      expectExact(packed.data, [4, 1, 3, 5, 2, 6], 'int64');
      expectExact(packed.batchSizes, [3, 2, 1], 'int64');
      expectExact(packed.sortedIndices!, [2, 0, 1], 'int64');
      expectExact(packed.unsortedIndices!, [1, 2, 0], 'int64');
      expect(String(packed)).to.equal(
        'PackedSequence(data=tensor([4, 1, 3, 5, 2, 6]), batch_sizes=tensor([3, 2, 1]), ' +
          'sorted_indices=tensor([2, 0, 1]), unsorted_indices=tensor([1, 2, 0]))',
      );
      const [padded, lengths] = padPackedSequence(packed, { batchFirst: true });
      expectExact(
        padded,
        [
          [1, 2, 0],
          [3, 0, 0],
          [4, 5, 6],
        ],
        'int64',
      );
      expectExact(lengths, [2, 1, 3], 'int64');
    }));

  it("is a 4-tuple like PyTorch's named tuple: destructuring and torch.tidy keep its tensors", () => {
    const x = torch.randn(4, 2, 3);
    const packed = torch.tidy(() => packPaddedSequence(x, [4, 2]));
    const [data, batchSizes, sortedIndices, unsortedIndices] = packed;
    expect(data).to.equal(packed.data);
    expect(batchSizes).to.equal(packed.batchSizes);
    expect([sortedIndices, unsortedIndices]).to.deep.equal([null, null]);
    expect(packed.data.isDisposed).to.equal(false);
    expect(packed.data.shape).to.deep.equal([6, 3]);
    expect(Object.isFrozen(packed)).to.equal(true);
    packed.dispose();
    packed.dispose();
    expect(packed.data.isDisposed).to.equal(true);
    x.dispose();
  });

  it('sorts by decreasing length with enforceSorted false (spec L04: lengths [5, 7, 3])', () =>
    torch.tidy(() => {
      const x = torch.randn(7, 3, 2);
      const packed = packPaddedSequence(x, torch.tensor([5n, 7n, 3n]), { enforceSorted: false });
      expectExact(packed.sortedIndices!, [1, 0, 2], 'int64');
      expectExact(packed.batchSizes, [3, 3, 3, 2, 2, 1, 1], 'int64');
      // the first step holds sequence 1, then 0, then 2
      expect(packed.data.narrow(0, 0, 3).equal(x.select(0, 0).indexSelect(0, torch.tensor([1n, 0n, 2n])))).to.equal(
        true,
      );
      const [padded, lengths] = padPackedSequence(packed);
      expect(padded.shape).to.deep.equal([7, 3, 2]);
      expectExact(lengths, [5, 7, 3], 'int64');
      // valid steps come back unchanged, the rest is paddingValue
      expect(
        padded
          .narrow(0, 0, 5)
          .select(1, 0)
          .equal(x.narrow(0, 0, 5).select(1, 0)),
      ).to.equal(true);
      expect(padded.narrow(0, 3, 4).select(1, 2).abs().sum().item()).to.equal(0);
      const [p2] = padPackedSequence(packed, { paddingValue: -1, totalLength: 9 });
      expect(p2.shape).to.deep.equal([9, 3, 2]);
      expectExact(
        p2.narrow(0, 3, 6).select(1, 2),
        Array.from({ length: 6 }, () => [-1, -1]),
      );
    }));

  it('ties keep their original order (a stable sort)', () =>
    torch.tidy(() => {
      const packed = packPaddedSequence(torch.randn(3, 5, 1), [2, 3, 2, 3, 1], { enforceSorted: false });
      expectExact(packed.sortedIndices!, [1, 3, 0, 2, 4], 'int64');
    }));

  it('batchFirst, and padPackedSequence totalLength restores T', () =>
    torch.tidy(() => {
      const x = torch.randn(3, 6, 2);
      const packed = packPaddedSequence(x, [4, 6, 2], { batchFirst: true, enforceSorted: false });
      const [short] = padPackedSequence(packed, { batchFirst: true });
      expect(short.shape).to.deep.equal([3, 6, 2]);
      const p2 = packPaddedSequence(x, [4, 3, 2], { batchFirst: true });
      const [s2] = padPackedSequence(p2, { batchFirst: true });
      expect(s2.shape).to.deep.equal([3, 4, 2]);
      const [full] = padPackedSequence(p2, { batchFirst: true, totalLength: 6 });
      expect(full.shape).to.deep.equal([3, 6, 2]);
      expect(
        full
          .narrow(1, 0, 4)
          .select(0, 0)
          .equal(x.narrow(1, 0, 4).select(0, 0)),
      ).to.equal(true);
    }));

  it("packSequence and padSequence (PyTorch's docstring examples)", () =>
    torch.tidy(() => {
      const a = torch.tensor([1, 2, 3]),
        b = torch.tensor([4, 5]),
        c = torch.tensor([6]);
      const packed = packSequence([a, b, c]);
      expectExact(packed.data, [1, 4, 6, 2, 5, 3]);
      expectExact(packed.batchSizes, [3, 2, 1], 'int64');
      expect(packed.sortedIndices).to.equal(null);
      expect(String(packed)).to.equal(
        'PackedSequence(data=tensor([1., 4., 6., 2., 5., 3.]), batch_sizes=tensor([3, 2, 1]), ' +
          'sorted_indices=None, unsorted_indices=None)',
      );
      const unsorted = packSequence([b, a, c], { enforceSorted: false });
      expectExact(unsorted.sortedIndices!, [1, 0, 2], 'int64');
      expectExact(padSequence([a, b, c]), [
        [1, 4, 6],
        [2, 5, 0],
        [3, 0, 0],
      ]);
      expectExact(padSequence([a, b, c], { batchFirst: true, paddingValue: -1 }), [
        [1, 2, 3],
        [4, 5, -1],
        [6, -1, -1],
      ]);
      expect(padSequence([torch.ones(25, 300), torch.ones(22, 300), torch.ones(15, 300)]).shape).to.deep.equal([
        25, 3, 300,
      ]);
    }));

  it("a recurrent layer's packed output is zero past each length, and padding does not leak into hN", () =>
    torch.tidy(() => {
      const lstm = new nn.LSTM(2, 3, { bidirectional: true });
      const x = torch.randn(6, 3, 2);
      const lengths = [4, 6, 2];
      const [out, [h]] = lstm.forward(packPaddedSequence(x, lengths, { enforceSorted: false }));
      const [padded] = padPackedSequence(out, { totalLength: 6 });
      expect(padded.narrow(0, 4, 2).select(1, 0).abs().sum().item()).to.equal(0);
      expect(padded.narrow(0, 2, 4).select(1, 2).abs().sum().item()).to.equal(0);
      // overwriting the padding changes nothing
      const noisy = x.clone();
      noisy.narrow(0, 4, 2).select(1, 0).fill_(100);
      const [out2, [h2]] = lstm.forward(packPaddedSequence(noisy, lengths, { enforceSorted: false }));
      expect(padPackedSequence(out2, { totalLength: 6 })[0].allclose(padded)).to.equal(true);
      expect(h2.allclose(h)).to.equal(true);
    }));

  describe('checks (PyTorch 1.13 does not check a length > T: it reads past the end of the input)', () => {
    const x = torch.randn(7, 3, 2);
    it('a length longer than the time dimension', () => {
      expectError(
        () => packPaddedSequence(x, [9, 7, 3], { enforceSorted: false }),
        RangeError,
        /packPaddedSequence/,
        /every length to be in \[1, 7\]/,
        /lengths\[0\] = 9/,
        /\[7, 3, 2\]/,
      );
      expectError(
        () => packPaddedSequence(x.transpose(0, 1), [7, 8, 3], { batchFirst: true }),
        RangeError,
        /lengths\[1\] = 8/,
        /batchFirst=true/,
      );
    });
    it('a length of 0, a negative or fractional length', () => {
      expectError(
        () => packPaddedSequence(x, [7, 0, 3], { enforceSorted: false }),
        RangeError,
        /\[1, 7\]/,
        /lengths\[1\] = 0/,
      );
      expectError(() => packPaddedSequence(x, [7, -1, 3], { enforceSorted: false }), RangeError, /lengths\[1\] = -1/);
      expectError(() => packPaddedSequence(x, [7, 2.5, 2]), RangeError, /lengths\[1\] to be an integer, got 2\.5/);
      expectError(() => packPaddedSequence(x, [7, '2', 2] as never), TypeError, /lengths\[1\] to be an integer/);
    });
    it("unsorted lengths with enforceSorted (PyTorch's message)", () => {
      expectError(
        () => packPaddedSequence(x, [5, 7, 3]),
        RangeError,
        /`lengths` array must be sorted in decreasing order when `enforceSorted` is true/,
        /enforceSorted: false/,
      );
      expectError(() => packSequence([torch.ones(1), torch.ones(2)]), RangeError, /sorted in decreasing order/);
    });
    it('lengths count, type and input rank', () => {
      expectError(() => packPaddedSequence(x, [7, 3]), RangeError, /batch size 3, got 2 lengths/);
      expectError(() => packPaddedSequence(x, torch.tensor([7, 5, 3])), TypeError, /1-D integer tensor/, /float32/);
      expectError(
        () => packPaddedSequence(x, torch.tensor([[7n, 5n, 3n]])),
        TypeError,
        /1-D integer tensor/,
        /\[1, 3\]/,
      );
      expectError(() => packPaddedSequence(x, 7 as never), TypeError, /lengths/);
      expectError(() => packPaddedSequence(torch.randn(7), [7]), RangeError, /at least 2 dimensions/);
      expectError(() => packPaddedSequence([1, 2] as never, [1]), TypeError, /input to be a Tensor/);
      expectError(() => packPaddedSequence(x, [7, 5, 3], { batchFirst: 1 as never }), TypeError, /batchFirst/);
    });
    it("totalLength shorter than the longest sequence (PyTorch's message)", () =>
      torch.tidy(() => {
        const packed = packPaddedSequence(x, [7, 5, 3]);
        expectError(
          () => padPackedSequence(packed, { totalLength: 5 }),
          RangeError,
          /expected totalLength to be at least the length of the longest sequence in input, but got totalLength=5 and max sequence length being 7/,
        );
        expectError(() => padPackedSequence(x as never), TypeError, /sequence to be a PackedSequence/);
        expect(padPackedSequence(packed)[0].shape).to.deep.equal([7, 3, 2]);
      }));
    it('new PackedSequence checks batchSizes: non-empty, each >= 1, non-increasing, summing to data.size(0)', () =>
      torch.tidy(() => {
        // Before these checks, padPackedSequence trusted such batch sizes and wrote out of bounds.
        const d = torch.randn(6, 2);
        const bs = (v: number[]) => torch.tensor(v.map((b) => BigInt(b)));
        expectError(
          () => new PackedSequence(d, bs([3, -1, 4])),
          RangeError,
          /PackedSequence: expected every batch size to be at least 1/,
          /batchSizes\[1\] = -1/,
        );
        expectError(() => new PackedSequence(d, bs([3, 0, 3])), RangeError, /batchSizes\[1\] = 0/);
        expectError(
          () => new PackedSequence(d, bs([1, 2, 3])),
          RangeError,
          /non-increasing/,
          /batchSizes\[1\] = 2 after batchSizes\[0\] = 1/,
        );
        expectError(
          () => new PackedSequence(d, bs([3, 2])),
          RangeError,
          /sum\(batchSizes\) = 5 rows, got data of shape \[6, 2\]/,
        );
        expectError(() => new PackedSequence(d, bs([4, 2, 1])), RangeError, /sum\(batchSizes\) = 7/);
        expectError(() => new PackedSequence(d, torch.zeros(0, { dtype: 'int64' })), RangeError, /at least one entry/);
        expectError(() => new PackedSequence(d, torch.tensor([3, 2, 1])), TypeError, /1-D int64 CPU tensor/, /float32/);
        expectError(() => new PackedSequence(d, torch.tensor([[3n, 2n, 1n]])), TypeError, /1-D int64 CPU tensor/);
        const ok = new PackedSequence(d, bs([3, 2, 1]));
        expect(padPackedSequence(ok)[0].shape).to.deep.equal([3, 3, 2]);
      }));
    it('new PackedSequence checks that sortedIndices / unsortedIndices are inverse permutations of the batch', () =>
      torch.tidy(() => {
        const d = torch.randn(6, 2);
        const bs = torch.tensor([3n, 2n, 1n]);
        const idx = (v: number[]) => torch.tensor(v.map((b) => BigInt(b)));
        expectError(
          () => new PackedSequence(d, bs, idx([0, 1])),
          TypeError,
          /sortedIndices to be a 1-D int64 tensor of length 3/,
        );
        expectError(
          () => new PackedSequence(d, bs, idx([0, 5, 1])),
          RangeError,
          /sortedIndices to be a permutation of 0\.\.2, got sortedIndices\[1\] = 5/,
        );
        expectError(() => new PackedSequence(d, bs, idx([0, -1, 1])), RangeError, /sortedIndices\[1\] = -1/);
        expectError(() => new PackedSequence(d, bs, idx([0, 1, 1])), RangeError, /sortedIndices\[2\] = 1 \(repeated\)/);
        expectError(
          () => new PackedSequence(d, bs, null, idx([2, 2, 0])),
          RangeError,
          /unsortedIndices to be a permutation/,
        );
        expectError(
          () => new PackedSequence(d, bs, idx([2, 0, 1]), idx([2, 0, 1])),
          RangeError,
          /inverse permutation of sortedIndices/,
        );
        const ok = new PackedSequence(d, bs, idx([2, 0, 1]));
        expectExact(ok.unsortedIndices!, [1, 2, 0], 'int64');
        expect(new PackedSequence(d, bs, idx([2, 0, 1]), idx([1, 2, 0])).unsortedIndices).to.not.equal(null);
      }));
    it('padSequence / packSequence inputs', () => {
      expectError(() => padSequence([]), RangeError, /non-empty/);
      expectError(() => padSequence([torch.ones(2, 3), torch.ones(2, 4)]), RangeError, /trailing shape/, /\[2, 4\]/);
      expectError(
        () => padSequence([torch.ones(2), torch.ones(2, { dtype: 'float64' })]),
        TypeError,
        /dtype/,
        /float64/,
      );
      expectError(() => padSequence([torch.ones(2), 3] as never), TypeError, /sequences\[1\] to be a Tensor/);
      expectError(
        () => packSequence([torch.ones(2, 1), torch.ones(0, 1)]),
        RangeError,
        /at least one step/,
        /sequences\[1\]/,
      );
    });
  });

  it('leaves no native tensors behind', () => {
    const x = torch.randn(5, 3, 2);
    const before = torch.memory().tensors;
    for (let k = 0; k < 3; k++) {
      const packed = packPaddedSequence(x, [2, 5, 3], { enforceSorted: false });
      torch.dispose(padPackedSequence(packed, { totalLength: 5 }));
      packed.dispose();
      torch.tidy(() => {
        packSequence([torch.ones(3, 2), torch.ones(1, 2)]);
      });
    }
    expect(torch.memory().tensors).to.equal(before);
    x.dispose();
  });
});
