// The torch functions PyTorch writes in Python (lib/ops_python.ts): the calling forms the OpInfo
// replay does not reach (array vs varargs, sublist einsum, flags that change the result's shape).
import { expect } from 'chai';

import * as torch from '../../lib';

const vals = (t: torch.Tensor): number[] => Array.from(t.data(), Number);

describe('torch functions written in Python by PyTorch (lib/ops_python.ts)', () => {
  it('einsum: varargs, one array, and the sublist form agree', () => {
    torch.tidy(() => {
      const a = torch.arange(6, { dtype: 'float32' }).reshape([2, 3]);
      const b = torch.arange(12, { dtype: 'float32' }).reshape([3, 4]);
      const ref = a.matmul(b);
      expect(vals(torch.einsum('ij,jk->ik', a, b))).to.deep.equal(vals(ref));
      expect(vals(torch.einsum('ij,jk->ik', [a, b]))).to.deep.equal(vals(ref));
      expect(vals(torch.einsum(a, [0, 1], b, [1, 2], [0, 2]))).to.deep.equal(vals(ref));
      expect(vals(torch.einsum(a, ['...', 1], b, [1, 2]))).to.deep.equal(vals(ref));
      expect(() => torch.einsum('ij')).to.throw(TypeError, /equation string and at least one operand/);
    });
  });

  it('meshgrid: varargs or an array, indexing ij and xy', () => {
    torch.tidy(() => {
      const x = torch.tensor([1, 2, 3]);
      const y = torch.tensor([4, 5]);
      const [gx, gy] = torch.meshgrid(x, y, { indexing: 'ij' });
      expect(gx.shape).to.deep.equal([3, 2]);
      expect(vals(gy)).to.deep.equal([4, 5, 4, 5, 4, 5]);
      const [hx] = torch.meshgrid([x, y], { indexing: 'xy' });
      expect(hx.shape).to.deep.equal([2, 3]);
      expect(vals(hx)).to.deep.equal([1, 2, 3, 1, 2, 3]);
      expect(() => torch.meshgrid(x, y, { indexng: 'ij' } as never)).to.throw(TypeError, /did you mean 'indexing'/);
    });
  });

  it('broadcastTensors / blockDiag / cartesianProd / chainMatmul take varargs or one array', () => {
    torch.tidy(() => {
      const a = torch.ones([3, 1]);
      const b = torch.ones([1, 4]);
      expect(torch.broadcastTensors(a, b).map((t) => t.shape)).to.deep.equal([
        [3, 4],
        [3, 4],
      ]);
      expect(torch.broadcastTensors([a, b]).length).to.equal(2);
      expect(torch.blockDiag(torch.ones([2, 2]), torch.ones([1, 3])).shape).to.deep.equal([3, 5]);
      expect(vals(torch.cartesianProd(torch.tensor([1, 2]), torch.tensor([3, 4])))).to.deep.equal([
        1, 3, 1, 4, 2, 3, 2, 4,
      ]);
      const m = torch.eye(2).mul(2);
      expect(vals(torch.chainMatmul(m, m, m))).to.deep.equal([8, 0, 0, 8]);
      expect(vals(torch.chainMatmul([m, m]))).to.deep.equal([4, 0, 0, 4]);
    });
  });

  it('broadcastShapes as PyTorch: ints or arrays, mismatches and negative sizes throw', () => {
    expect(torch.broadcastShapes([2, 1], [3, 1, 4])).to.deep.equal([3, 2, 4]);
    expect(torch.broadcastShapes(5, [1])).to.deep.equal([5]);
    expect(torch.broadcastShapes()).to.deep.equal([]);
    expect(() => torch.broadcastShapes([2], [3])).to.throw(RangeError, /cannot be broadcast/);
    expect(() => torch.broadcastShapes([-1])).to.throw(RangeError, /negative dimension/);
  });

  it('atleast1d/2d/3d: one tensor gives a Tensor, several (or an array) an array', () => {
    torch.tidy(() => {
      const s = torch.tensor(3);
      expect(torch.atleast2d(s).shape).to.deep.equal([1, 1]);
      const r = torch.atleast3d(s, torch.ones([2]));
      expect(r.map((t) => t.shape)).to.deep.equal([
        [1, 1, 1],
        [1, 2, 1],
      ]);
      expect(torch.atleast1d([s, s]).length).to.equal(2);
    });
  });

  it('cdist: every computeMode gives the same distances; an unknown mode throws', () => {
    torch.tidy(() => {
      const a = torch.tensor([
        [0, 0],
        [3, 4],
      ]);
      const b = torch.tensor([[0, 0]]);
      for (const mode of [
        'use_mm_for_euclid_dist_if_necessary',
        'use_mm_for_euclid_dist',
        'donot_use_mm_for_euclid_dist',
      ] as const) {
        const d = vals(torch.cdist(a, b, 2, mode));
        expect(d[0]).to.be.closeTo(0, 1e-6);
        expect(d[1]).to.be.closeTo(5, 1e-5);
      }
      expect(vals(torch.cdist(a, b, { p: 1 }))).to.deep.equal([0, 7]);
      expect(() => torch.cdist(a, b, 2, 'fast' as never)).to.throw(RangeError, /not a valid value for computeMode/);
    });
  });

  it('unique / uniqueConsecutive return a Tensor or a tuple as the flags ask', () => {
    torch.tidy(() => {
      const x = torch.tensor([3, 1, 3, 3, 2]);
      expect(vals(torch.unique(x))).to.deep.equal([1, 2, 3]);
      const [u, inv] = torch.unique(x, { returnInverse: true });
      expect(vals(u)).to.deep.equal([1, 2, 3]);
      expect(vals(inv)).to.deep.equal([2, 0, 2, 2, 1]);
      const [, counts] = torch.unique(x, { returnCounts: true });
      expect(vals(counts)).to.deep.equal([1, 1, 3]);
      expect((torch.unique(x, true, true, true) as torch.Tensor[]).length).to.equal(3);
      const rows = torch.tensor([
        [1, 2],
        [1, 2],
        [0, 1],
      ]);
      expect(torch.unique(rows, { dim: 0 }).shape).to.deep.equal([2, 2]);
      expect(vals(x.unique())).to.deep.equal([1, 2, 3]);
      expect(vals(torch.uniqueConsecutive(x))).to.deep.equal([3, 1, 3, 2]);
      const [, c2] = x.uniqueConsecutive({ returnCounts: true });
      expect(vals(c2)).to.deep.equal([1, 1, 2, 1]);
    });
  });

  it('tensordot: an integer, a pair of dim lists, or a Tensor', () => {
    torch.tidy(() => {
      const a = torch.arange(24, { dtype: 'float64' }).reshape([2, 3, 4]);
      const b = torch.arange(12, { dtype: 'float64' }).reshape([3, 4]);
      const ref = vals(torch.tensordot(a, b, 2));
      expect(ref.length).to.equal(2);
      expect(
        vals(
          torch.tensordot(a, b, {
            dims: [
              [1, 2],
              [0, 1],
            ],
          }),
        ),
      ).to.deep.equal(ref);
      expect(vals(torch.tensordot(a, b, torch.tensor(2)))).to.deep.equal(ref);
      expect(
        vals(
          torch.tensordot(
            a,
            b,
            torch.tensor([
              [1, 2],
              [0, 1],
            ]),
          ),
        ),
      ).to.deep.equal(ref);
      expect(() => torch.tensordot(a, b, -1)).to.throw(RangeError, /dims >= 0/);
    });
  });

  it('nonzero with asTuple gives one index tensor per dim', () => {
    torch.tidy(() => {
      const x = torch.tensor([
        [0, 1],
        [2, 0],
      ]);
      expect(torch.nonzero(x).shape).to.deep.equal([2, 2]);
      const [r, c] = torch.nonzero(x, { asTuple: true });
      expect(vals(r)).to.deep.equal([0, 1]);
      expect(vals(c)).to.deep.equal([1, 0]);
      expect(x.nonzero({ asTuple: true }).length).to.equal(2);
    });
  });

  it("torch.norm: 'fro', 'nuc', numbers, dims and options", () => {
    torch.tidy(() => {
      const m = torch.tensor([
        [3, 0],
        [0, 4],
      ]);
      expect(vals(torch.norm(m))[0]).to.be.closeTo(5, 1e-6);
      expect(vals(torch.norm(m, 'nuc'))[0]).to.be.closeTo(7, 1e-5);
      expect(vals(torch.norm(m, 1))[0]).to.be.closeTo(7, 1e-6);
      expect(torch.norm(m, { p: 2, dim: 1, keepdim: true }).shape).to.deep.equal([2, 1]);
      expect(torch.norm(m, 2, 1, true).shape).to.deep.equal([2, 1]);
      expect(torch.norm(m, 3, { dtype: 'float64' }).dtype).to.equal('float64');
      expect(() => torch.norm(m, { dim: 0, dtype: 'float64' })).to.throw(TypeError, /not supported in the Frobenius/);
    });
  });

  it('split: an integer or sizes, dim by position or option', () => {
    torch.tidy(() => {
      const x = torch.arange(10).reshape([5, 2]);
      expect(torch.split(x, 2).map((t) => t.shape[0])).to.deep.equal([2, 2, 1]);
      expect(torch.split(x, [1, 4]).map((t) => t.shape[0])).to.deep.equal([1, 4]);
      expect(torch.split(x, 1, { dim: 1 }).length).to.equal(2);
    });
  });

  it('lu: [LU, pivots] or with getInfos [LU, pivots, infos]', () => {
    torch.tidy(() => {
      const a = torch.tensor([
        [1, 2],
        [3, 4],
      ]);
      const r = torch.lu(a);
      expect(r.length).to.equal(2);
      expect(r.pivots.dtype).to.equal('int32');
      expect(a.lu({ getInfos: true }).length).to.equal(3);
    });
  });

  it('stft pads a centred signal (1 + len / hop frames; 1 + (len - nFft) / hop without center)', () => {
    torch.tidy(() => {
      const x = torch.arange(16, { dtype: 'float32' });
      expect(torch.stft(x, 4, { hopLength: 4, returnComplex: false }).shape).to.deep.equal([3, 5, 2]);
      expect(x.stft(4, null, null, null, false, 'reflect', false, null, false).shape).to.deep.equal([3, 13, 2]);
    });
  });

  it('Tensor.byte / char / short / bfloat16 convert the dtype', () => {
    torch.tidy(() => {
      const x = torch.tensor([1.5, 2.5]);
      expect([x.byte().dtype, x.char().dtype, x.short().dtype, x.bfloat16().dtype]).to.deep.equal([
        'uint8',
        'int8',
        'int16',
        'bfloat16',
      ]);
    });
  });
});
