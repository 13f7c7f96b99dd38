import { expect } from 'chai';

import * as torch from '../../lib';
import { expectClose, expectError, expectExact, input, output, outputs } from '../helpers';

describe('math', () => {
  // Inputs are fixture tensors (multiples of 1/64, bit-identical to PyTorch's).
  const a = input('a'),
    b = input('b'),
    c = input('c'),
    col = input('col'),
    row = input('row');
  const pos = input('pos'),
    m1 = input('m1'),
    m2 = input('m2'),
    v3 = input('v3');
  const b1 = input('b1'),
    b2 = input('b2'),
    x3 = input('x3'),
    d = input('d');
  const ia = input('ia'),
    ib = input('ib'),
    mask = input('mask'),
    mask2 = input('mask2'),
    maskrow = input('maskrow');

  describe('arithmetic by hand', () => {
    it('add, sub, mul, div of small tensors', () => {
      const x = torch.tensor([1, 2]),
        y = torch.tensor([3, 4]);
      expectExact(x.add(y), [4, 6], 'float32');
      expectExact(x.sub(y), [-2, -2]);
      expectExact(x.mul(y), [3, 8]);
      expectClose(x.div(y), [1 / 3, 0.5]);
      expectExact(torch.add(x, y), [4, 6]);
      expectExact(torch.sub(x, 1), [0, 1]);
      expectExact(torch.mul(y, 2), [6, 8]);
    });

    it('scalar operands: numbers, booleans, bigints', () => {
      const x = torch.tensor([1, 2]);
      expectExact(x.add(1), [2, 3], 'float32');
      expectClose(x.add(0.5), [1.5, 2.5]);
      expectExact(x.mul(true), [1, 2], 'float32');
      expectExact(x.add(3n), [4, 5], 'float32');
      expectExact(x.sub(-1), [2, 3]);
      expectClose(x.div(4), [0.25, 0.5]);
      expectExact(x.pow(2), [1, 4]);
    });

    it('alpha', () => {
      const x = torch.tensor([1, 2]),
        y = torch.tensor([10, 20]);
      expectExact(x.add(y, 2), [21, 42]);
      expectExact(x.sub(y, 0.5), [-4, -8]);
      expectExact(x.add(3, 2), [7, 8]);
      expectExact(torch.add(x, y, -1), [-9, -18]);
      expectClose(a.add(b, 2), output('math.add_alpha'));
      expectClose(a.sub(b, 0.5), output('math.sub_alpha'));
    });

    it('integer scalars keep integer tensors integral (as Python ints)', () => {
      const i = torch.tensor([1, 2, 3], { dtype: 'int64' });
      expectExact(i.mul(2), [2, 4, 6], 'int64');
      expectExact(i.add(1), [2, 3, 4], 'int64');
      expectExact(i.sub(5), [-4, -3, -2], 'int64');
      expectExact(torch.tensor([1, 2], { dtype: 'int32' }).mul(3), [3, 6], 'int32');
      expectExact(torch.tensor([1, 2], { dtype: 'uint8' }).add(1), [2, 3], 'uint8');
      // a non-integral scalar promotes to the default float dtype
      expectClose(i.mul(0.5), [0.5, 1, 1.5]);
      expect(i.mul(0.5).dtype).to.equal('float32');
      // true division of ints gives float32
      expect(i.div(2).dtype).to.equal('float32');
      expectClose(i.div(2), [0.5, 1, 1.5]);
    });

    it('broadcasting', () => {
      const m = torch.tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expectExact(m.add(torch.tensor([10, 20, 30])), [
        [11, 22, 33],
        [14, 25, 36],
      ]);
      expectExact(m.mul(torch.tensor([[2], [3]])), [
        [2, 4, 6],
        [12, 15, 18],
      ]);
      expectExact(torch.tensor([[1], [2]]).add(torch.tensor([[10, 20]])), [
        [11, 21],
        [12, 22],
      ]);
      expectExact(m.add(torch.tensor(100)), [
        [101, 102, 103],
        [104, 105, 106],
      ]);
    });

    it('type promotion by hand', () => {
      const i = torch.tensor([1, 2], { dtype: 'int64' });
      const f = torch.tensor([0.5, 0.5]);
      expect(i.add(f).dtype).to.equal('float32');
      expect(f.add(i).dtype).to.equal('float32');
      expect(f.double().add(f).dtype).to.equal('float64');
      expect(i.int().add(i).dtype).to.equal('int64');
      expect(torch.tensor([true]).add(torch.tensor([1], { dtype: 'int8' })).dtype).to.equal('int8');
      expect(f.half().add(f).dtype).to.equal('float32');
      // a 0-dim tensor does not promote a dimensioned one of the same category
      expect(f.add(torch.tensor(1, { dtype: 'float64' })).dtype).to.equal('float32');
    });

    it('div rounding modes', () => {
      const x = torch.tensor([7, -7, 7, -7]),
        y = torch.tensor([2, 2, -2, -2]);
      expectExact(x.div(y, 'trunc'), [3, -3, -3, 3]);
      expectExact(x.div(y, 'floor'), [3, -4, -4, 3]);
      expectExact(x.div(2, 'floor'), [3, -4, 3, -4]);
      expectClose(ia.div(ib, 'floor'), output('math.div_floor'));
      expectClose(ia.div(ib, 'trunc'), output('math.div_trunc'));
      expectClose(a.div(pos, 'floor'), output('math.div_float_floor'));
    });

    it('division by zero gives inf/nan for floats', () => {
      const r = torch.tensor([1, -1, 0]).div(0).data() as Float32Array;
      expect(r[0]).to.equal(Infinity);
      expect(r[1]).to.equal(-Infinity);
      expect(Number.isNaN(r[2])).to.equal(true);
    });

    // A JS -0 scalar stays a double, so x.div(-0) is -inf as PyTorch's x / -0.0.
    it('a -0 scalar keeps its sign', () => {
      expect((torch.tensor([1]).div(-0).data() as Float32Array)[0]).to.equal(-Infinity);
      expect(Object.is((torch.tensor([1]).mul(-0).data() as Float32Array)[0], -0)).to.equal(true);
    });
  });

  describe('matches PyTorch (fixture)', () => {
    const cases: [string, () => torch.Tensor][] = [
      ['math.add', () => a.add(b)],
      ['math.add_scalar_int', () => a.add(2)],
      ['math.add_scalar_float', () => a.add(0.5)],
      ['math.add_bcast_row', () => a.add(c)],
      ['math.add_bcast_outer', () => col.add(row)],
      ['math.sub', () => a.sub(b)],
      ['math.sub_scalar', () => a.sub(1.25)],
      ['math.mul', () => a.mul(b)],
      ['math.mul_scalar', () => a.mul(3)],
      ['math.div', () => a.div(pos)],
      ['math.div_scalar', () => a.div(4)],
      ['math.div_int_int', () => ia.div(ib)],
      ['math.pow', () => pos.pow(b)],
      ['math.pow_2', () => a.pow(2)],
      ['math.pow_half', () => pos.pow(0.5)],
      ['math.pow_int', () => ia.pow(2)],
      ['math.neg', () => a.neg()],
      ['math.abs', () => a.abs()],
      ['math.exp', () => a.exp()],
      ['math.log', () => pos.log()],
      ['math.log_neg', () => a.log()],
      ['math.sqrt', () => pos.sqrt()],
      ['math.tanh', () => a.tanh()],
      ['math.sigmoid', () => a.sigmoid()],
      ['math.relu', () => a.relu()],
      ['math.gelu', () => a.gelu()],
      ['math.gelu_tanh', () => a.gelu({ approximate: 'tanh' })],
      ['math.softmax_0', () => a.softmax(0)],
      ['math.softmax_1', () => a.softmax(1)],
      ['math.softmax_x3_m1', () => x3.softmax(-1)],
      ['math.log_softmax_1', () => a.logSoftmax(1)],
      ['math.log_softmax_0_f64', () => a.logSoftmax(0, { dtype: 'float64' })],
      ['math.matmul', () => m1.matmul(m2)],
      ['math.matmul_mv', () => m1.matmul(v3)],
      ['math.matmul_vm', () => v3.matmul(m2)],
      ['math.matmul_batched', () => b1.matmul(b2)],
      ['math.matmul_bcast', () => b1.matmul(m2)],
      ['math.bmm', () => b1.bmm(b2)],
      ['math.clamp', () => a.clamp(-1, 1)],
      ['math.clamp_min', () => a.clamp(0)],
      ['math.clamp_max', () => a.clamp(null, 0.5)],
      ['math.clamp_tensor', () => a.clamp(b)],
      ['math.clamp_tensors', () => a.clamp(col, row)],
      ['math.maximum', () => a.maximum(b)],
      ['math.minimum', () => a.minimum(b)],
      ['math.eq', () => a.eq(b)],
      ['math.ne', () => a.ne(b)],
      ['math.lt', () => a.lt(b)],
      ['math.le', () => a.le(b)],
      ['math.gt', () => a.gt(b)],
      ['math.ge', () => a.ge(b)],
      ['math.lt_scalar', () => a.lt(0.5)],
      ['math.ge_scalar', () => a.ge(-1)],
      ['math.eq_int_scalar', () => ia.eq(2)],
      ['math.gt_bcast', () => a.gt(c)],
      ['math.logical_and', () => mask.logicalAnd(mask2)],
      ['math.logical_or', () => mask.logicalOr(mask2)],
      ['math.logical_not', () => mask.logicalNot()],
      ['math.masked_fill', () => a.maskedFill(mask, -1.5)],
      ['math.masked_fill_row', () => a.maskedFill(maskrow, 0)],
      ['math.masked_fill_tensor', () => a.maskedFill(mask, torch.tensor(9))],
      ['math.where', () => torch.where(mask, a, b)],
      ['math.where_scalar_other', () => torch.where(mask, a, 0)],
      ['math.where_scalar_input', () => torch.where(mask, 1.5, b)],
      ['math.where_method', () => a.where(mask, b)],
      ['math.promote_int_float', () => ia.add(a)],
      ['math.promote_int_scalar_float', () => ia.add(0.5)],
      ['math.promote_int_scalar_int', () => ia.mul(2)],
      ['math.promote_int32_int64', () => ia.to('int32').add(ia)],
      ['math.promote_f64_f32', () => a.double().add(a)],
      ['math.promote_bool_int', () => mask.add(1)],
      ['math.promote_int_div_scalar', () => ia.div(2)],
      ['math.sum', () => a.sum()],
      ['math.sum_0', () => a.sum(0)],
      ['math.sum_1_keepdim', () => a.sum(1, true)],
      ['math.sum_x3_02', () => x3.sum([0, 2])],
      ['math.sum_int', () => ia.sum()],
      ['math.sum_f64', () => a.sum(null, { dtype: 'float64' })],
      ['math.mean', () => a.mean()],
      ['math.mean_m1', () => a.mean(-1)],
      ['math.mean_0_keepdim', () => a.mean(0, { keepdim: true })],
      ['math.mean_x3_01', () => x3.mean([0, 1])],
      ['math.max', () => d.max()],
      ['math.min', () => d.min()],
      ['math.argmax', () => d.argmax()],
      ['math.argmax_1', () => d.argmax(1)],
      ['math.argmin_0_keepdim', () => d.argmin(0, true)],
      ['math.var', () => a.var()],
      ['math.var_1', () => a.var(1)],
      ['math.var_biased', () => a.var(null, { unbiased: false })],
      ['math.var_x3_02', () => x3.var([0, 2])],
      ['math.std', () => a.std()],
      ['math.std_0_keepdim', () => a.std(0, { keepdim: true })],
      ['math.std_1_biased', () => a.std(1, { correction: 0 })],
      ['math.inplace_chain', () => a.clone().add_(b).mul_(2).sub_(c, 2).div_(pos).clamp_(-1, 1)],
    ];
    for (const [name, f] of cases) {
      it(name.slice(5), () => expectClose(f(), output(name), {}, name));
    }

    it('max(dim) / min(dim, keepdim) return [values, indices]', () => {
      const [mv, mi] = outputs('math.max_1');
      const r = d.max(1);
      expect(r).to.be.an('array').with.length(2);
      expectClose(r[0], mv);
      expectClose(r[1], mi);
      expect(r[1].dtype).to.equal('int64');
      const [nv, ni] = outputs('math.min_0_keepdim');
      const [v, i] = d.min(0, true);
      expectClose(v, nv);
      expectClose(i, ni);
    });

    it('torch.* functions equal the methods', () => {
      expectClose(torch.matmul(m1, m2), output('math.matmul'));
      expectClose(torch.bmm(b1, b2), output('math.bmm'));
      expectClose(torch.softmax(a, 1), output('math.softmax_1'));
      expectClose(torch.logSoftmax(a, 1), output('math.log_softmax_1'));
      expectClose(torch.clamp(a, -1, 1), output('math.clamp'));
      expectClose(torch.maximum(a, b), output('math.maximum'));
      expectClose(torch.minimum(a, b), output('math.minimum'));
      expectClose(torch.exp(a), output('math.exp'));
      expectClose(torch.sum(a, 0), output('math.sum_0'));
      expectClose(torch.mean(a), output('math.mean'));
      expectClose(torch.argmax(d, 1), output('math.argmax_1'));
      expectClose(torch.maskedFill(a, mask, -1.5), output('math.masked_fill'));
      expectClose(torch.logicalNot(mask), output('math.logical_not'));
      expectClose(torch.lt(a, b), output('math.lt'));
      expectClose(torch.pow(pos, b), output('math.pow'));
      expectClose(torch.div(a, pos), output('math.div'));
    });

    it('max(other) / min(other) are the elementwise maximum / minimum', () => {
      expectClose(a.max(b), output('math.maximum'));
      expectClose(a.min(b), output('math.minimum'));
    });
  });

  describe('unary ops by hand', () => {
    it('neg abs exp log sqrt', () => {
      const x = torch.tensor([-2, 0, 4]);
      expectExact(x.neg(), [2, 0, -4]);
      expectExact(x.abs(), [2, 0, 4]);
      expectClose(torch.tensor([0, 1]).exp(), [1, Math.E]);
      expectClose(torch.tensor([1, Math.E]).log(), [0, 1]);
      expectClose(torch.tensor([4, 9]).sqrt(), [2, 3]);
      expectClose(torch.tensor([-1, 0]).log(), [NaN, -Infinity]);
      expectExact(torch.tensor([-3, 3], { dtype: 'int64' }).abs(), [3, 3], 'int64');
    });
    it('tanh sigmoid relu gelu', () => {
      expectClose(torch.tensor([0, 100]).tanh(), [0, 1]);
      expectClose(torch.tensor([0]).sigmoid(), [0.5]);
      expectExact(torch.tensor([-1, 0, 2]).relu(), [0, 0, 2]);
      expectClose(torch.tensor([0, 1]).gelu(), [0, 0.8413447460685429]);
    });
    it('softmax rows sum to 1', () => {
      const s = torch
        .tensor([
          [1, 2, 3],
          [0, 0, 0],
        ])
        .softmax(-1);
      expectClose(s.sum(1), [1, 1]);
      expectClose(s.index(1), [1 / 3, 1 / 3, 1 / 3]);
      expectClose(
        torch
          .tensor([[1, 2, 3]])
          .logSoftmax(1)
          .exp(),
        torch
          .tensor([[1, 2, 3]])
          .softmax(1)
          .toArray() as number[][],
      );
    });
  });

  describe('matmul by hand', () => {
    it('2-D, 1-D, batched', () => {
      const x = torch.tensor([
        [1, 2],
        [3, 4],
      ]);
      expectExact(x.matmul(torch.tensor([[5], [6]])), [[17], [39]]);
      expectExact(x.matmul(torch.tensor([1, 1])), [3, 7]);
      expectExact(torch.tensor([1, 1]).matmul(x), [4, 6]);
      expectExact(torch.tensor([1, 2]).matmul(torch.tensor([3, 4])), 11);
      const bb = torch.stack([x, x.mul(2)]);
      expectExact(bb.bmm(torch.eye(2).expand(2, 2, 2)), [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [2, 4],
          [6, 8],
        ],
      ]);
      expectExact(x.mm(torch.eye(2)), [
        [1, 2],
        [3, 4],
      ]);
    });
  });

  describe('clamp / maximum / minimum by hand', () => {
    it('clamp with both, either, and tensors', () => {
      const x = torch.tensor([-2, -0.5, 0.5, 2]);
      expectClose(x.clamp(-1, 1), [-1, -0.5, 0.5, 1]);
      expectClose(x.clamp(0), [0, 0, 0.5, 2]);
      expectClose(x.clamp(undefined, 0), [-2, -0.5, 0, 0]);
      expectClose(x.clamp(torch.tensor([0, 0, 1, 1])), [0, 0, 1, 2]);
      expectClose(x.clamp(null, torch.tensor(0)), [-2, -0.5, 0, 0]);
      expectExact(torch.tensor([-5, 5], { dtype: 'int64' }).clamp(-1, 1), [-1, 1], 'int64');
    });
    it('clamp_ and torch.where take bigint scalars, like clamp and Tensor.where', () => {
      const x = torch.tensor([-5n, 0n, 2n ** 50n]);
      x.clamp_(-(2n ** 40n), 2n ** 45n);
      expect(Array.from(x.data() as BigInt64Array)).to.deep.equal([-5n, 0n, 2n ** 45n]);
      expect(Array.from(x.clamp(null, 1n).data() as BigInt64Array)).to.deep.equal([-5n, 0n, 1n]);
      expectClose(torch.tensor([1.5, -2]).clamp_(0n, 1n), [1, 0]);
      const c = torch.tensor([true, false, true]);
      const w = torch.where(c, 2n ** 60n, torch.tensor([1n, 2n, 3n]));
      expect(Array.from(w.data() as BigInt64Array)).to.deep.equal([2n ** 60n, 2n, 2n ** 60n]);
      const s = torch.where(c, 2n ** 60n, 0n);
      expect(s.dtype).to.equal('int64');
      expect(Array.from(s.data() as BigInt64Array)).to.deep.equal([2n ** 60n, 0n, 2n ** 60n]);
      expect(Array.from(torch.tensor([1n, 2n, 3n]).where(c, 7n).data() as BigInt64Array)).to.deep.equal([1n, 7n, 3n]);
    });
    it('maximum / minimum broadcast', () => {
      const x = torch.tensor([
        [1, 5],
        [3, 2],
      ]);
      expectExact(x.maximum(torch.tensor([2, 4])), [
        [2, 5],
        [3, 4],
      ]);
      expectExact(x.minimum(torch.tensor([2, 4])), [
        [1, 4],
        [2, 2],
      ]);
      expectClose(torch.tensor([NaN, 1]).maximum(torch.tensor([1, 2])), [NaN, 2]);
    });
  });

  describe('comparisons and logic by hand', () => {
    const x = torch.tensor([1, 2, 3]),
      y = torch.tensor([3, 2, 1]);
    it('tensor and scalar operands give bool tensors', () => {
      expectExact(x.eq(y), [false, true, false], 'bool');
      expectExact(x.ne(y), [true, false, true], 'bool');
      expectExact(x.lt(y), [true, false, false], 'bool');
      expectExact(x.le(y), [true, true, false], 'bool');
      expectExact(x.gt(y), [false, false, true], 'bool');
      expectExact(x.ge(y), [false, true, true], 'bool');
      expectExact(x.eq(2), [false, true, false], 'bool');
      expectExact(x.gt(1.5), [false, true, true], 'bool');
      expectExact(torch.ge(x, 2), [false, true, true], 'bool');
      expectExact(
        x.eq(torch.tensor([[1], [3]])),
        [
          [true, false, false],
          [false, false, true],
        ],
        'bool',
      );
      expectExact(torch.tensor([NaN]).eq(torch.tensor([NaN])), [false], 'bool');
    });
    it('logicalNot / And / Or', () => {
      const p = torch.tensor([true, true, false, false]),
        q = torch.tensor([true, false, true, false]);
      expectExact(p.logicalAnd(q), [true, false, false, false], 'bool');
      expectExact(p.logicalOr(q), [true, true, true, false], 'bool');
      expectExact(p.logicalNot(), [false, false, true, true], 'bool');
      expectExact(torch.logicalAnd(p, q), [true, false, false, false], 'bool');
      expectExact(torch.logicalOr(p, q), [true, true, true, false], 'bool');
      expectExact(torch.tensor([0, 2]).logicalNot(), [true, false], 'bool');
    });
    it('maskedFill and where', () => {
      const m = torch.tensor([true, false, true]);
      expectExact(x.maskedFill(m, 0), [0, 2, 0]);
      expectExact(x.maskedFill(m, torch.tensor(-1)), [-1, 2, -1]);
      expectExact(
        torch
          .tensor([
            [1, 2, 3],
            [4, 5, 6],
          ])
          .maskedFill(m, 9),
        [
          [9, 2, 9],
          [9, 5, 9],
        ],
      );
      expectExact(torch.where(m, x, y), [1, 2, 3]);
      expectExact(torch.where(m.logicalNot(), x, y), [3, 2, 1]);
      expectExact(torch.where(m, x, 0), [1, 0, 3]);
      expectExact(torch.where(m, 7, y), [7, 2, 7]);
      expectExact(x.where(m, -1), [1, -1, 3]);
      // the original is unchanged by the out-of-place ops
      expectExact(x, [1, 2, 3]);
    });
    it('allclose / equal', () => {
      expect(x.equal(torch.tensor([1, 2, 3]))).to.equal(true);
      expect(x.equal(y)).to.equal(false);
      expect(x.allclose(x.add(1e-7))).to.equal(true);
      expect(x.allclose(x.add(1e-2))).to.equal(false);
      expect(x.allclose(x.add(1e-2), { atol: 0.1 })).to.equal(true);
      expect(torch.equal(x, x.clone())).to.equal(true);
      expect(torch.allclose(x, y)).to.equal(false);
    });
  });

  describe('reductions by hand', () => {
    const m = torch.tensor([
      [1, 5, 3],
      [4, 2, 6],
    ]);
    it('sum / mean with dim and keepdim', () => {
      expectExact(m.sum(), 21);
      expect(m.sum().shape).to.deep.equal([]);
      expectExact(m.sum(0), [5, 7, 9]);
      expectExact(m.sum(1), [9, 12]);
      expectExact(m.sum(-1, true), [[9], [12]]);
      expectExact(m.sum([0, 1]), 21);
      expectExact(m.sum(1, { keepdim: true }), [[9], [12]]);
      expectExact(m.mean(), 3.5);
      expectExact(m.mean(0), [2.5, 3.5, 4.5]);
      expectExact(m.mean(1, true), [[3], [4]]);
      expectExact(m.long().sum(0), [5, 7, 9], 'int64');
      expectExact(torch.tensor([true, true, false]).sum(), 2, 'int64');
    });
    // PyTorch 1.13 x.sum(dim=None, keepdim=True) and x.mean(dim=None, keepdim=True) have shape [1, 1].
    it('sum / mean over all dims with keepdim keep every dim', () => {
      expectExact(m.sum(null, true), [[21]]);
      expectExact(m.mean(undefined, { keepdim: true }), [[3.5]]);
      expectExact(m.sum(undefined, { keepdim: true, dtype: 'float64' }), [[21]], 'float64');
      expectExact(m.sum(null, false), 21);
      expectExact(m.var(null, { keepdim: true }), [[3.5]]);
      expect(torch.tensor(2).sum(null, true).shape).to.deep.equal([]);
      expect(torch.ones(2, 3, 4).mean(null, true).shape).to.deep.equal([1, 1, 1]);
    });
    it('max / min / argmax / argmin', () => {
      expectExact(m.max(), 6);
      expectExact(m.min(), 1);
      const [v, i] = m.max(1);
      expectExact(v, [5, 6]);
      expectExact(i, [1, 2], 'int64');
      const [v2, i2] = m.min(0, true);
      expectExact(v2, [[1, 2, 3]]);
      expectExact(i2, [[0, 1, 0]], 'int64');
      expectExact(m.argmax(), 5, 'int64');
      expectExact(m.argmin(), 0, 'int64');
      expectExact(m.argmax(0), [1, 0, 1], 'int64');
      expectExact(m.argmin(1, true), [[0], [1]], 'int64');
    });
    it('var / std (unbiased by default)', () => {
      const v = torch.tensor([1, 2, 3, 4]);
      expectClose(v.var(), 5 / 3);
      expectClose(v.var(null, { unbiased: false }), 1.25);
      expectClose(v.var(0, { correction: 0 }), 1.25);
      expectClose(v.std(), Math.sqrt(5 / 3));
      expectClose(v.std(0, { unbiased: false, keepdim: true }), [Math.sqrt(1.25)]);
      expectClose(m.var(1), [4, 4]);
      expectClose(m.std(0, { keepdim: true }), [[Math.SQRT2 * 1.5, Math.SQRT2 * 1.5, Math.SQRT2 * 1.5]]);
    });
  });

  describe('in place', () => {
    it('add_ sub_ mul_ div_ return the same tensor and chain', () => {
      const x = torch.tensor([1, 2, 3]);
      const r = x
        .add_(1)
        .mul_(2)
        .sub_(torch.tensor([1, 1, 1]))
        .div_(torch.tensor([1, 5, 7]));
      expect(r).to.equal(x);
      expectExact(x, [3, 1, 1]);
      expect(x.add_(torch.tensor([1, 1, 1]), 10)).to.equal(x);
      expectExact(x, [13, 11, 11]);
      expect(x.sub_(1, 3)).to.equal(x);
      expectExact(x, [10, 8, 8]);
      expect(x.div_(2)).to.equal(x);
      expectExact(x, [5, 4, 4]);
    });
    it('zero_ fill_ copy_ clamp_ requiresGrad_', () => {
      const x = torch.tensor([
        [1, -2],
        [3, -4],
      ]);
      expect(x.clamp_(-1, 1)).to.equal(x);
      expectExact(x, [
        [1, -1],
        [1, -1],
      ]);
      expect(x.clamp_(0)).to.equal(x);
      expectExact(x, [
        [1, 0],
        [1, 0],
      ]);
      expect(x.clamp_(null, 0.5)).to.equal(x);
      expectExact(x, [
        [0.5, 0],
        [0.5, 0],
      ]);
      expect(x.fill_(7)).to.equal(x);
      expectExact(x, [
        [7, 7],
        [7, 7],
      ]);
      expect(x.fill_(torch.tensor(2))).to.equal(x);
      expectExact(x, [
        [2, 2],
        [2, 2],
      ]);
      expect(x.zero_()).to.equal(x);
      expectExact(x, [
        [0, 0],
        [0, 0],
      ]);
      expect(x.copy_(torch.tensor([5, 6]))).to.equal(x); // broadcasts
      expectExact(x, [
        [5, 6],
        [5, 6],
      ]);
      expect(
        x.copy_(
          torch.tensor(
            [
              [1, 2],
              [3, 4],
            ],
            { dtype: 'int64' },
          ),
        ),
      ).to.equal(x); // converts
      expectExact(
        x,
        [
          [1, 2],
          [3, 4],
        ],
        'float32',
      );
      expect(x.requiresGrad_()).to.equal(x);
      expect(x.requiresGrad).to.equal(true);
      expect(x.requiresGrad_(false)).to.equal(x);
      expect(x.requiresGrad).to.equal(false);
      expect(x.maskedFill_(torch.tensor([true, false]), 0)).to.equal(x);
      expectExact(x, [
        [0, 2],
        [0, 4],
      ]);
    });
    it('in-place ops write through views', () => {
      const x = torch.zeros(2, 3);
      x.index(1).fill_(1);
      x.select(1, 0).add_(5);
      expectExact(x, [
        [5, 0, 0],
        [6, 1, 1],
      ]);
    });
    it('int tensors stay int in place; float into int refuses as PyTorch', () => {
      const i = torch.tensor([1, 2], { dtype: 'int32' });
      i.mul_(3).add_(1);
      expectExact(i, [4, 7], 'int32');
      expect(() => i.div_(2)).to.throw(torch.TorchError);
    });
  });
});

describe("round({decimals}) (PyTorch's round(decimals=...))", () => {
  it('rounds to decimal places as ATen does: nearbyint(x * 10^d) / 10^d, half to even', () => {
    const x = torch.tensor([1.2345, -2.5, 0.125, 1234.5, -8.914], { dtype: 'float64' });
    expect(Array.from(x.round({ decimals: 2 }).data() as Float64Array)).to.deep.equal([
      1.23, -2.5, 0.12, 1234.5, -8.91,
    ]);
    expect(Array.from(x.round({ decimals: -2 }).data() as Float64Array)).to.deep.equal([0, -0, 0, 1200, -0]);
    expect(Array.from(x.round().data() as Float64Array)).to.deep.equal([1, -2, 0, 1234, -9]);
    expect(Array.from(x.round({ decimals: 0 }).data() as Float64Array)).to.deep.equal([1, -2, 0, 1234, -9]);
  });

  it('checks its options', () => {
    const x = torch.ones(2);
    expect(() => x.round({ decimals: 1.5 })).to.throw(RangeError, /Tensor\.round.*decimals/);
    expect(() => x.round({ decimal: 2 } as never)).to.throw(TypeError, /Tensor\.round: unknown option 'decimal'/);
  });

  it('leaves no intermediate tensors behind', () => {
    const x = torch.randn(4);
    const before = torch.memory().tensors;
    const r = x.round({ decimals: 3 });
    expect(torch.memory().tensors).to.equal(before + 1);
    r.dispose();
  });
});

// Expected values below came from PyTorch 1.13.
describe('clamp_ with tensor bounds (PyTorch: clamp_(min=Tensor, max=Tensor))', () => {
  it('clamps in place to broadcast tensor bounds, with clamp_ gradients', () => {
    const x = torch.tensor(
      [
        [-2, -0.5, 0.5],
        [2, 1.5, -1],
      ],
      { requiresGrad: true },
    );
    const y = x.clone();
    expect(y.clamp_(torch.tensor([[-1], [0]]), torch.tensor([0.25, 1, 0.75]))).to.equal(y);
    expectClose(y, [
      [-1, -0.5, 0.5],
      [0.25, 1, 0],
    ]);
    y.mul(
      torch.tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    )
      .sum()
      .backward();
    expectClose(x.grad!, [
      [0, 2, 3],
      [0, 0, 0],
    ]);
  });
  it('takes one tensor bound and leaves the other out; clamp gives the same numbers', () => {
    const z = torch.tensor([
      [-2, -0.5, 0.5],
      [2, 1.5, -1],
    ]);
    expectClose(z.clamp(torch.tensor(0)), [
      [0, 0, 0.5],
      [2, 1.5, 0],
    ]);
    z.clamp_(torch.tensor(0));
    expectClose(z, [
      [0, 0, 0.5],
      [2, 1.5, 0],
    ]);
    const i = torch.tensor([1, 5], { dtype: 'int64' });
    i.clamp_(null, torch.tensor([3, 3], { dtype: 'int64' }));
    expectExact(i, [1, 3], 'int64');
  });
  it('refuses a float result into an integer tensor, and bounds that are neither', () => {
    const i = torch.tensor([1, 5], { dtype: 'int64' });
    expectError(() => i.clamp_(torch.tensor([0.5, 0.5])), torch.TorchError, "result type float32 can't be cast");
    expectExact(i, [1, 5], 'int64');
    expectError(() => i.clamp_(torch.tensor(0), 'x' as unknown as number), TypeError, 'Tensor.clamp_', 'max');
    expectError(() => torch.ones(3).clamp_(torch.ones(2, 3)), torch.TorchError);
  });
});

// Expected values below came from PyTorch 1.13.
describe("norm(p = 'fro' | 'nuc', dim, keepdim)", () => {
  const m = torch.tensor([
    [1, -2, 3],
    [0.5, 4, -1],
  ]);
  it("'fro' over every element, over a dim, over two dims with keepdim", () => {
    expectClose(m.norm('fro'), 5.590169906616211);
    expectClose(m.norm('fro', 1), [3.7416574954986572, 4.153311729431152]);
    expectClose(m.norm('fro', [0, 1], true), [[5.590169906616211]]);
    expectClose(m.norm('fro', null, true), [[5.590169906616211]]);
    expectClose(m.norm(1, null, true), [[11.5]]);
  });
  it("'fro' over more than 2 dims throws; 'nuc' is the nuclear norm; other strings are refused", () => {
    expectError(() => torch.ones(2, 2, 2).norm('fro', [0, 1, 2]), torch.TorchError, 'at most 2 dims');
    // PyTorch 1.13's value (the sum of the singular values)
    expectClose(m.norm('nuc'), 7.359543800354004);
    expectClose(m.norm({ p: 'nuc', keepdim: true }), [[7.359543800354004]]);
    expectError(() => m.norm('inf' as unknown as number), TypeError, 'Tensor.norm', 'p');
    expectError(() => m.norm('fro', 0, 'yes' as unknown as boolean), TypeError, 'Tensor.norm', 'keepdim');
  });
});

// Expected values below came from PyTorch 1.13.
describe('std / var with only an options object', () => {
  const v = torch.tensor([
    [1, 2, 4],
    [3, 5, 9],
  ]);
  it('reduce every element, or the dim the object names', () => {
    expectClose(v.std({ unbiased: false }), 2.58198881149292);
    expectClose(v.var({ correction: 0 }), 6.666666507720947);
    expectClose(v.std({ keepdim: true }), [[2.8284270763397217]]);
    expectClose(v.var({ dim: 1, keepdim: true }), [[2.3333332538604736], [9.333333015441895]]);
    expectClose(v.std({ dim: 0, correction: 0 }), [1, 1.5, 2.5]);
  });
  it('refuse an options object followed by another, and bad values in it', () => {
    expectError(
      () => (v.std as (...a: unknown[]) => unknown)({ unbiased: false }, { keepdim: true }),
      TypeError,
      'Tensor.std',
      'dim',
    );
    expectError(() => v.var({ keepdim: 1 as unknown as boolean }), TypeError, 'Tensor.var', 'keepdim');
    expectError(() => v.var({ dim: 'a' as unknown as number }), TypeError, 'Tensor.var', 'dim');
  });
});

describe('reduction options are checked by name', () => {
  it('an unknown or snake_case key in sum/mean/var/std options is a TypeError with a hint', () => {
    const x = torch.ones(2, 3);
    expect(() => x.sum(1, { keep_dim: true } as never)).to.throw(TypeError, /Tensor\.sum: unknown option 'keep_dim'/);
    expect(() => x.mean(1, { keepDims: true } as never)).to.throw(TypeError, /Tensor\.mean: unknown option/);
    expect(() => x.var({ unbiassed: false } as never)).to.throw(TypeError, /Tensor\.var: unknown option 'unbiassed'/);
    expect(() => x.std(0, { correction: 0, ddof: 1 } as never)).to.throw(
      TypeError,
      /Tensor\.std: unknown option 'ddof'/,
    );
    expect(x.var({ dim: 1, correction: 0 }).toArray()).to.deep.equal([0, 0]);
  });
});
