import { expect } from 'chai';

import * as torch from '../../lib';
import { expectClose, expectError, expectExact, input, output } from '../helpers';

describe('creation', () => {
  describe('torch.tensor from nested arrays', () => {
    it('numbers give float32', () => {
      const t = torch.tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expect(t.dtype).to.equal('float32');
      expect(t.shape).to.deep.equal([2, 3]);
      expect(t.toArray()).to.deep.equal([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expect(t.data()).to.be.instanceOf(Float32Array);
    });

    it('non-integral numbers are rounded to float32', () => {
      const t = torch.tensor([0.1, -1 / 3, 1e-40]);
      expect(Array.from(t.data() as Float32Array)).to.deep.equal([
        Math.fround(0.1),
        Math.fround(-1 / 3),
        Math.fround(1e-40),
      ]);
    });

    it('booleans give bool', () => {
      const t = torch.tensor([
        [true, false],
        [false, true],
      ]);
      expect(t.dtype).to.equal('bool');
      expect(t.toArray()).to.deep.equal([
        [true, false],
        [false, true],
      ]);
      expect(t.data()).to.be.instanceOf(Uint8Array);
      expect(Array.from(t.data() as Uint8Array)).to.deep.equal([1, 0, 0, 1]);
    });

    it('bigints give int64', () => {
      const t = torch.tensor([
        [1n, -2n],
        [3n, 9007199254740993n],
      ]);
      expect(t.dtype).to.equal('int64');
      const d = t.data();
      expect(d).to.be.instanceOf(BigInt64Array);
      expect(Array.from(d as BigInt64Array)).to.deep.equal([1n, -2n, 3n, 9007199254740993n]);
      expect(t.toArray()).to.deep.equal([
        [1, -2],
        [3, 9007199254740992],
      ]);
    });

    it('3-D nesting and empty arrays', () => {
      const t = torch.tensor([
        [[1], [2]],
        [[3], [4]],
      ]);
      expect(t.shape).to.deep.equal([2, 2, 1]);
      expect(t.toArray()).to.deep.equal([
        [[1], [2]],
        [[3], [4]],
      ]);
      const e = torch.tensor([]);
      expect(e.shape).to.deep.equal([0]);
      expect(e.dtype).to.equal('float32');
      expect(e.numel()).to.equal(0);
      expect(e.toArray()).to.deep.equal([]);
      const e2 = torch.tensor([[], []]);
      expect(e2.shape).to.deep.equal([2, 0]);
      expect(e2.toArray()).to.deep.equal([[], []]);
    });

    it('special float values', () => {
      const t = torch.tensor([NaN, Infinity, -Infinity, -0]);
      const d = t.data() as Float32Array;
      expect(Number.isNaN(d[0])).to.equal(true);
      expect(d[1]).to.equal(Infinity);
      expect(d[2]).to.equal(-Infinity);
      expect(Object.is(d[3], -0)).to.equal(true);
    });

    it('dtype option converts the values', () => {
      expectExact(torch.tensor([1, 2, 3], { dtype: 'int64' }), [1, 2, 3], 'int64');
      expectExact(torch.tensor([1.7, -1.7, 0.5], { dtype: 'int32' }), [1, -1, 0], 'int32'); // truncation, as PyTorch
      expectExact(torch.tensor([0, 2, 0], { dtype: 'bool' }), [false, true, false], 'bool');
      expectExact(torch.tensor([true, false], { dtype: 'float32' }), [1, 0], 'float32');
      expectExact(torch.tensor([5n, 6n], { dtype: 'float64' }), [5, 6], 'float64');
      expectExact(torch.tensor([-1], { dtype: 'uint8' }), [255], 'uint8'); // wraps, as PyTorch
      expect(torch.tensor([1, 2], { dtype: torch.float64 }).dtype).to.equal('float64');
      expect(torch.tensor([1, 2], { dtype: 'torch.float16' as torch.DType }).dtype).to.equal('float16');
    });

    it('requiresGrad option', () => {
      const t = torch.tensor([1, 2], { requiresGrad: true });
      expect(t.requiresGrad).to.equal(true);
      expect(t.isLeaf).to.equal(true);
      expect(t.gradFn).to.equal(null);
      expect(torch.tensor([1, 2]).requiresGrad).to.equal(false);
      expect(torch.tensor([1, 2], { requiresGrad: false }).requiresGrad).to.equal(false);
      const d = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
      expect(d.dtype).to.equal('float64');
      expect(d.requiresGrad).to.equal(true);
    });

    it('copies the data (later changes to the source do not show)', () => {
      const src = [1, 2, 3];
      const t = torch.tensor(src);
      src[0] = 100;
      expect(t.toArray()).to.deep.equal([1, 2, 3]);
      const f = new Float32Array([1, 2]);
      const u = torch.tensor(f);
      f[0] = 9;
      expect(u.toArray()).to.deep.equal([1, 2]);
    });

    // PyTorch raises "Overflow when unpacking long".
    it('bigints outside int64 are refused', () => {
      expectError(() => torch.tensor([2n ** 63n]), RangeError, 'torch.tensor');
      expectError(() => torch.tensor([-(2n ** 63n) - 1n]), RangeError, 'torch.tensor');
      expectError(
        () => torch.tensor([[1n], [2n ** 64n]], { dtype: 'float32' }),
        RangeError,
        'torch.tensor',
        'data[1][0]',
      );
      expectExact(torch.tensor([2n ** 63n - 1n, -(2n ** 63n)]).eq(torch.tensor([2n ** 63n - 1n, -(2n ** 63n)])), [
        true,
        true,
      ]);
      expect(torch.tensor([2n ** 63n - 1n]).data()[0]).to.equal(2n ** 63n - 1n);
    });

    // PyTorch 1.13 raises "value cannot be converted to type int8 without overflow".
    it('numbers that overflow the integer dtype are refused', () => {
      expectError(() => torch.tensor([128], { dtype: 'int8' }), Error, /int8|overflow/);
      expectError(() => torch.tensor([1e10], { dtype: 'int32' }), Error, /int32|overflow/);
      expectError(() => torch.tensor([NaN], { dtype: 'int32' }), Error, /int32|overflow/);
      expectError(() => torch.tensor([1e20], { dtype: 'int64' }), Error, /int64|overflow/);
    });

    it('integer dtypes take what PyTorch 1.13 takes from Python numbers', () => {
      const refused: [number[], torch.DType][] = [
        [[-129], 'int8'],
        [[127.9], 'int8'],
        [[-128.9], 'int8'],
        [[32768], 'int16'],
        [[Infinity], 'int32'],
        [[-Infinity], 'int64'],
        [[NaN], 'uint8'],
        [[256], 'uint8'],
        [[255.5], 'uint8'],
        [[-0.5], 'uint8'],
        [[-256], 'uint8'],
        [[2 ** 63], 'int64'],
        [[2 ** 31], 'int32'],
      ];
      for (const [data, dtype] of refused)
        expectError(
          () => torch.tensor(data, { dtype }),
          RangeError,
          'torch.tensor',
          `value ${data[0]} at data[0]`,
          dtype,
          'overflow',
        );
      expectError(
        () =>
          torch.tensor(
            [
              [1, 2],
              [3, 300],
            ],
            { dtype: 'int8' },
          ),
        RangeError,
        'value 300 at data[1][1]',
      );
      expectError(() => torch.tensor([300n], { dtype: 'int8' }), RangeError, 'torch.tensor', '300n', 'int8');
      expectError(() => torch.tensor([-256n], { dtype: 'uint8' }), RangeError, 'torch.tensor', 'uint8');
      // fractions truncate toward zero; uint8 wraps -255..-1 as PyTorch does
      expectExact(torch.tensor([127, -128, 2.9, -2.9], { dtype: 'int8' }), [127, -128, 2, -2], 'int8');
      expectExact(torch.tensor([-1, -128, -129, -255, 254.9], { dtype: 'uint8' }), [255, 128, 127, 1, 254], 'uint8');
      expectExact(torch.tensor([-1n, 255n], { dtype: 'uint8' }), [255, 255], 'uint8');
      expectExact(torch.tensor([-(2 ** 63), 2 ** 53], { dtype: 'int64' }).eq(torch.tensor([-(2n ** 63n), 2n ** 53n])), [
        true,
        true,
      ]);
      expectExact(torch.tensor([2147483647, -2147483648], { dtype: 'int32' }), [2147483647, -2147483648], 'int32');
      // float and bool dtypes take anything
      expectClose(torch.tensor([1e6], { dtype: 'float16' }), [Infinity]);
      expectExact(torch.tensor([5, NaN, 0], { dtype: 'bool' }), [true, true, false], 'bool');
      expectExact(torch.tensor(300, { dtype: 'int16' }), 300, 'int16');
      expectError(() => torch.tensor(300, { dtype: 'int8' }), RangeError, 'value 300 at data cannot');
    });
  });

  describe('torch.tensor from scalars (0-dim)', () => {
    it('a number', () => {
      const t = torch.tensor(3.5);
      expect(t.shape).to.deep.equal([]);
      expect(t.dim()).to.equal(0);
      expect(t.numel()).to.equal(1);
      expect(t.dtype).to.equal('float32');
      expect(t.item()).to.equal(3.5);
      expect(t.toArray()).to.equal(3.5);
    });

    it('a boolean, a bigint, and dtype', () => {
      const b = torch.tensor(true);
      expect(b.dtype).to.equal('bool');
      expect(b.shape).to.deep.equal([]);
      expect(b.itemBool()).to.equal(true);
      const i = torch.tensor(-7n);
      expect(i.dtype).to.equal('int64');
      expect(i.item()).to.equal(-7);
      expect(i.toArray()).to.equal(-7);
      const d = torch.tensor(2, { dtype: 'float64' });
      expect(d.dtype).to.equal('float64');
      expect(d.item()).to.equal(2);
      expect(torch.tensor(3, { dtype: 'int16' }).item()).to.equal(3);
    });
  });

  describe('torch.tensor from TypedArrays', () => {
    const cases: [string, () => torch.TypedArray, torch.DType, unknown][] = [
      ['Float32Array', () => new Float32Array([1.5, -2]), 'float32', Float32Array],
      ['Float64Array', () => new Float64Array([0.1, -2]), 'float64', Float64Array],
      ['Int32Array', () => new Int32Array([7, -2147483648]), 'int32', Int32Array],
      ['BigInt64Array', () => new BigInt64Array([7n, -(2n ** 63n)]), 'int64', BigInt64Array],
      ['Uint8Array', () => new Uint8Array([0, 255]), 'uint8', Uint8Array],
      ['Int16Array', () => new Int16Array([-300, 300]), 'int16', Int16Array],
      ['Int8Array', () => new Int8Array([-128, 127]), 'int8', Int8Array],
    ];
    for (const [name, make, dtype, ctor] of cases) {
      it(`${name} gives ${dtype}, 1-D, same values`, () => {
        const src = make();
        const t = torch.tensor(src);
        expect(t.dtype).to.equal(dtype);
        expect(t.shape).to.deep.equal([src.length]);
        const d = t.data();
        expect(d).to.be.instanceOf(ctor as new () => unknown);
        expect(Array.from(d as ArrayLike<unknown>)).to.deep.equal(Array.from(src as ArrayLike<unknown>));
      });
    }

    it('a view into a larger buffer (byteOffset) reads only the view', () => {
      const buf = new Float32Array([9, 1, 2, 3, 9]);
      const view = new Float32Array(buf.buffer, 4, 3);
      expect(torch.tensor(view).toArray()).to.deep.equal([1, 2, 3]);
    });

    it('with dtype and requiresGrad options', () => {
      const t = torch.tensor(new Int32Array([1, 2, 3]), { dtype: 'float32', requiresGrad: true });
      expect(t.dtype).to.equal('float32');
      expect(t.requiresGrad).to.equal(true);
      expect(t.toArray()).to.deep.equal([1, 2, 3]);
      const u = torch.tensor(new Float64Array([1.9, -1.9]), { dtype: 'int64' });
      expectExact(u, [1, -1], 'int64');
    });

    it('an empty TypedArray', () => {
      const t = torch.tensor(new Float64Array(0));
      expect(t.shape).to.deep.equal([0]);
      expect(t.dtype).to.equal('float64');
    });
  });

  describe('shape factories', () => {
    const factories: [string, (...a: never[]) => torch.Tensor][] = [
      ['zeros', torch.zeros as never],
      ['ones', torch.ones as never],
      ['empty', torch.empty as never],
      ['rand', torch.rand as never],
      ['randn', torch.randn as never],
    ];
    for (const [name, f] of factories) {
      const fn = f as unknown as (...a: unknown[]) => torch.Tensor;
      it(`${name}: (...dims), (shape[]), options`, () => {
        for (const t of [fn(2, 3), fn([2, 3]), fn(2, 3, {}), fn([2, 3], {})]) {
          expect(t.shape).to.deep.equal([2, 3]);
          expect(t.dtype).to.equal('float32');
          expect(t.device).to.equal('cpu');
          expect(t.requiresGrad).to.equal(false);
        }
        const d = fn([4], { dtype: 'float64', requiresGrad: true });
        expect(d.dtype).to.equal('float64');
        expect(d.requiresGrad).to.equal(true);
        expect(d.isLeaf).to.equal(true);
        const e = fn(1, 2, 3, { dtype: 'float16' });
        expect(e.shape).to.deep.equal([1, 2, 3]);
        expect(e.dtype).to.equal('float16');
        expect(fn([]).shape).to.deep.equal([]);
        expect(fn([0, 3]).shape).to.deep.equal([0, 3]);
        expect(fn(5, { device: 'cpu' }).shape).to.deep.equal([5]);
      });
    }

    it('zeros / ones values and dtypes', () => {
      expectExact(
        torch.zeros(2, 2),
        [
          [0, 0],
          [0, 0],
        ],
        'float32',
      );
      expectExact(torch.ones([3], { dtype: 'int64' }), [1, 1, 1], 'int64');
      expectExact(torch.ones([2], { dtype: 'bool' }), [true, true], 'bool');
      expectExact(torch.zeros([2], { dtype: 'uint8' }), [0, 0], 'uint8');
    });

    it('rand is in [0, 1), randn looks standard normal', () => {
      const r = torch.rand(2000).data() as Float32Array;
      expect(Math.min(...r)).to.be.at.least(0);
      expect(Math.max(...r)).to.be.below(1);
      const n = torch.randn([100, 100]);
      expect(n.mean().item()).to.be.closeTo(0, 0.05);
      expect(n.std().item()).to.be.closeTo(1, 0.05);
    });

    it('full: shape, value, dtype from the value', () => {
      expectExact(
        torch.full([2, 2], 7),
        [
          [7, 7],
          [7, 7],
        ],
        'float32',
      );
      expectClose(torch.full([3], 0.25), [0.25, 0.25, 0.25]);
      expectExact(torch.full([2], true), [true, true], 'bool');
      expectExact(torch.full([2], 3, { dtype: 'int32' }), [3, 3], 'int32');
      const g = torch.full([1, 2], -1.5, { dtype: 'float64', requiresGrad: true });
      expect(g.dtype).to.equal('float64');
      expect(g.requiresGrad).to.equal(true);
      expect(torch.full([], 4).shape).to.deep.equal([]);
    });

    it('randint: (high, shape) and (low, high, shape)', () => {
      const a = torch.randint(5, [1000]);
      expect(a.dtype).to.equal('int64');
      expect(a.shape).to.deep.equal([1000]);
      const va = a.toArray() as number[];
      expect(Math.min(...va)).to.be.at.least(0);
      expect(Math.max(...va)).to.equal(4);
      const b = torch.randint(-3, 3, [20, 50]);
      expect(b.shape).to.deep.equal([20, 50]);
      const vb = b.flatten().toArray() as number[];
      expect(Math.min(...vb)).to.equal(-3);
      expect(Math.max(...vb)).to.equal(2);
      const c = torch.randint(0, 10, [4], { dtype: 'int32' });
      expect(c.dtype).to.equal('int32');
      const f = torch.randint(10, [3], { dtype: 'float32' });
      expect(f.dtype).to.equal('float32');
    });

    it('arange: integer arguments give int64, otherwise float32', () => {
      expectExact(torch.arange(5), [0, 1, 2, 3, 4], 'int64');
      expectExact(torch.arange(2, 6), [2, 3, 4, 5], 'int64');
      expectExact(torch.arange(10, 0, -3), [10, 7, 4, 1], 'int64');
      expectClose(torch.arange(-3, 3), output('create.arange_m3_3'));
      expectClose(torch.arange(10, 0, -3), output('create.arange_10_0_m3'));
      expectClose(torch.arange(0, 1, 0.1), output('create.arange_0_1_0.1'));
      expectClose(torch.arange(1, 2.5, 0.5), output('create.arange_1_2.5_0.5'));
      expect(torch.arange(0.5).toArray()).to.deep.equal([0]);
      expect(torch.arange(0.5).dtype).to.equal('float32');
      const d = torch.arange(3, { dtype: 'float64' });
      expectExact(d, [0, 1, 2], 'float64');
      const e = torch.arange(1, 4, { dtype: 'float32', requiresGrad: true });
      expect(e.requiresGrad).to.equal(true);
      expectExact(e, [1, 2, 3], 'float32');
      expect(torch.arange(0).shape).to.deep.equal([0]);
    });

    it('linspace', () => {
      expectClose(torch.linspace(0, 1, 7), output('create.linspace_0_1_7'));
      expectClose(torch.linspace(-2, 3, 5), output('create.linspace_m2_3_5'));
      expectExact(torch.linspace(0, 10, 3, { dtype: 'float64' }), [0, 5, 10], 'float64');
      expect(torch.linspace(0, 1, 0).shape).to.deep.equal([0]);
      expectExact(torch.linspace(3, 9, 1), [3]);
    });

    it('eye: n, (n, m), options', () => {
      expectExact(
        torch.eye(3),
        [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
        'float32',
      );
      expectExact(torch.eye(2, 3), [
        [1, 0, 0],
        [0, 1, 0],
      ]);
      expectExact(
        torch.eye(2, { dtype: 'int64' }),
        [
          [1, 0],
          [0, 1],
        ],
        'int64',
      );
      expectExact(torch.eye(3, 1, { dtype: 'bool' }), [[true], [false], [false]], 'bool');
      expect(torch.eye(2, { requiresGrad: true }).requiresGrad).to.equal(true);
    });
  });

  describe('*Like factories', () => {
    const base = torch.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: 'float64' },
    );
    it('zerosLike / onesLike keep shape, dtype and device', () => {
      expectExact(
        torch.zerosLike(base),
        [
          [0, 0, 0],
          [0, 0, 0],
        ],
        'float64',
      );
      expectExact(
        torch.onesLike(base),
        [
          [1, 1, 1],
          [1, 1, 1],
        ],
        'float64',
      );
      expectExact(
        torch.onesLike(base, { dtype: 'int32' }),
        [
          [1, 1, 1],
          [1, 1, 1],
        ],
        'int32',
      );
      expect(torch.zerosLike(base).device).to.equal(base.device);
    });
    it('do not inherit requiresGrad unless asked', () => {
      const g = torch.ones([2], { requiresGrad: true });
      expect(torch.zerosLike(g).requiresGrad).to.equal(false);
      expect(torch.onesLike(g, { requiresGrad: true }).requiresGrad).to.equal(true);
    });
    it('fullLike', () => {
      expectClose(torch.fullLike(base, 2.5), [
        [2.5, 2.5, 2.5],
        [2.5, 2.5, 2.5],
      ]);
      expect(torch.fullLike(base, 2.5).dtype).to.equal('float64');
      expectExact(torch.fullLike(torch.zeros([2], { dtype: 'int64' }), 9), [9, 9], 'int64');
    });
    it('randnLike matches randn with the same seed', () => {
      torch.manualSeed(99);
      const r = torch.randnLike(torch.zeros(2, 2));
      expect(r.shape).to.deep.equal([2, 2]);
      expect(r.dtype).to.equal('float32');
      expectClose(r, output('seed99.randn_2x2'));
      const rd = torch.randnLike(base);
      expect(rd.dtype).to.equal('float64');
      expect(rd.shape).to.deep.equal([2, 3]);
    });
  });

  describe('triu / tril', () => {
    it('match PyTorch', () => {
      const a = input('a');
      expectClose(torch.triu(a), output('create.triu'));
      expectClose(a.triu(1), output('create.triu_1'));
      expectClose(torch.tril(a, -1), output('create.tril_m1'));
    });
    it('by hand', () => {
      const m = torch.tensor([
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ]);
      expectExact(m.triu(), [
        [1, 2, 3],
        [0, 5, 6],
        [0, 0, 9],
      ]);
      expectExact(m.tril(), [
        [1, 0, 0],
        [4, 5, 0],
        [7, 8, 9],
      ]);
      expectExact(m.tril(1), [
        [1, 2, 0],
        [4, 5, 6],
        [7, 8, 9],
      ]);
      expectExact(
        torch.ones([2, 2], { dtype: 'bool' }).triu(),
        [
          [true, true],
          [false, true],
        ],
        'bool',
      );
    });
  });

  describe('dtypes', () => {
    it('constants are the dtype strings', () => {
      expect(torch.float32).to.equal('float32');
      expect(torch.float).to.equal('float32');
      expect(torch.float64).to.equal('float64');
      expect(torch.double).to.equal('float64');
      expect(torch.float16).to.equal('float16');
      expect(torch.half).to.equal('float16');
      expect(torch.bfloat16).to.equal('bfloat16');
      expect(torch.int64).to.equal('int64');
      expect(torch.long).to.equal('int64');
      expect(torch.int32).to.equal('int32');
      expect(torch.int).to.equal('int32');
      expect(torch.int16).to.equal('int16');
      expect(torch.short).to.equal('int16');
      expect(torch.int8).to.equal('int8');
      expect(torch.uint8).to.equal('uint8');
      expect(torch.bool).to.equal('bool');
      expect(torch.zeros([1], { dtype: torch.long }).dtype).to.equal(torch.int64);
    });

    const all: [torch.DType, string][] = [
      ['float32', 'Float32Array'],
      ['float64', 'Float64Array'],
      ['float16', 'Float32Array'],
      ['bfloat16', 'Float32Array'],
      ['int64', 'BigInt64Array'],
      ['int32', 'Int32Array'],
      ['int16', 'Int16Array'],
      ['int8', 'Int8Array'],
      ['uint8', 'Uint8Array'],
      ['bool', 'Uint8Array'],
    ];
    for (const [dtype, arrayName] of all) {
      it(`${dtype} round trip through .to(), data() and toArray()`, () => {
        const src = torch.tensor([
          [0, 1, 2],
          [3, 4, 5],
        ]);
        const t = src.to(dtype);
        expect(t.dtype).to.equal(dtype);
        expect(t.shape).to.deep.equal([2, 3]);
        const d = t.data();
        expect(d.constructor.name).to.equal(arrayName);
        expect(d.length).to.equal(6);
        if (dtype === 'bool') {
          expect(Array.from(d as Uint8Array)).to.deep.equal([0, 1, 1, 1, 1, 1]);
          expect(t.toArray()).to.deep.equal([
            [false, true, true],
            [true, true, true],
          ]);
        } else if (dtype === 'int64') {
          expect(Array.from(d as BigInt64Array)).to.deep.equal([0n, 1n, 2n, 3n, 4n, 5n]);
          expect(t.toArray()).to.deep.equal([
            [0, 1, 2],
            [3, 4, 5],
          ]);
        } else {
          expect(Array.from(d as Float32Array)).to.deep.equal([0, 1, 2, 3, 4, 5]);
          expect(t.toArray()).to.deep.equal([
            [0, 1, 2],
            [3, 4, 5],
          ]);
        }
        // and back
        const back = t.to('float32');
        expect(back.dtype).to.equal('float32');
        expect(back.toArray()).to.deep.equal(
          dtype === 'bool'
            ? [
                [0, 1, 1],
                [1, 1, 1],
              ]
            : [
                [0, 1, 2],
                [3, 4, 5],
              ],
        );
        // item() of one element
        const one = t.index(1, 2);
        expect(dtype === 'bool' ? one.itemBool() : one.item()).to.equal(dtype === 'bool' ? true : 5);
      });
    }

    it('negative values survive signed dtypes; uint8 wraps as PyTorch', () => {
      const src = torch.tensor([-3, -1, 2]);
      for (const dt of ['float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8'] as torch.DType[])
        expect(src.to(dt).toArray(), dt).to.deep.equal([-3, -1, 2]);
      expect(src.to('uint8').toArray()).to.deep.equal([253, 255, 2]);
    });

    it('float16 / bfloat16 rounding matches PyTorch', () => {
      const r = input('rounding');
      expect(r.dtype).to.equal('float64');
      // the fixture has 9 significant digits: a tolerance far below one float16/bfloat16 step
      expectClose(r.to('float16'), output('create.to_float16'), { rtol: 1e-8, atol: 0 });
      expectClose(r.to('bfloat16'), output('create.to_bfloat16'), { rtol: 1e-8, atol: 0 });
      expectClose(r.to('float32'), output('create.to_float32'), { rtol: 1e-7, atol: 0 });
    });

    it('float to int truncates toward zero', () => {
      expectExact(torch.tensor([-2.7, -0.5, 0.5, 2.7]).to('int32'), [-2, 0, 0, 2], 'int32');
      expectExact(torch.tensor([-2.7, 2.7]).long(), [-2, 2], 'int64');
    });

    it('to() accepts "torch."-prefixed names, an options object, and a tensor', () => {
      const t = torch.tensor([1, 2]);
      expect(t.to('torch.float64' as torch.DType).dtype).to.equal('float64');
      expect(t.to({ dtype: 'int16' }).dtype).to.equal('int16');
      expect(t.to(torch.zeros([1], { dtype: 'int8' })).dtype).to.equal('int8');
      expect(t.to('cpu').device).to.equal('cpu');
      expect(t.to({ device: 'cpu', dtype: 'float16' }).dtype).to.equal('float16');
    });

    it('to() with the same dtype returns a tensor sharing storage; copy: true copies', () => {
      const t = torch.tensor([1, 2]);
      const same = t.to('float32');
      same.add_(1);
      expect(t.toArray()).to.deep.equal([2, 3]);
      const copy = t.to({ dtype: 'float32', copy: true });
      copy.add_(1);
      expect(t.toArray()).to.deep.equal([2, 3]);
    });

    it('shorthand conversions', () => {
      const t = torch.tensor([1.5, -2.5]);
      expect(t.double().dtype).to.equal('float64');
      expect(t.half().dtype).to.equal('float16');
      expect(t.long().dtype).to.equal('int64');
      expect(t.int().dtype).to.equal('int32');
      expect(t.bool().dtype).to.equal('bool');
      expect(t.int().float().dtype).to.equal('float32');
      expect(t.isFloatingPoint()).to.equal(true);
      expect(t.int().isFloatingPoint()).to.equal(false);
    });

    it('item() returns JS numbers; itemBool() booleans', () => {
      expect(torch.tensor([2.5]).item()).to.equal(2.5);
      expect(torch.tensor(7n).item()).to.equal(7);
      expect(torch.tensor([false]).itemBool()).to.equal(false);
      expect(torch.tensor([1, 2]).gt(1).any().itemBool()).to.equal(true);
      const loss: number = torch.tensor([0.25]).item(); // typed number: no cast
      expect(loss).to.equal(0.25);
      expect(torch.tensor([[3]], { dtype: 'float16' }).item()).to.equal(3);
      expect(torch.tensor([0.1], { dtype: 'float64' }).item()).to.equal(0.1);
      expect(torch.tensor([0.1]).item()).to.equal(Math.fround(0.1));
    });

    it('item() on a bool tensor and itemBool() on a numeric one are TypeErrors naming the other accessor', () => {
      expectError(
        () => torch.tensor([true]).item(),
        TypeError,
        'Tensor.item: this is a bool tensor: read it with itemBool()',
      );
      expectError(() => torch.tensor([1]).itemBool(), TypeError, 'Tensor.itemBool', 'float32', 'item()');
      expectError(() => torch.tensor([1, 2]).gt(0).itemBool(), torch.TorchError, '2 elements');
    });

    it('toArray() takes the shape as a type parameter; tolist() keeps int64 exact as bigints', () => {
      const m = torch.tensor([
        [1, 2],
        [3, 4],
      ]);
      const rows = m.toArray<number[][]>();
      expect(rows[1][0] + rows[0][1]).to.equal(5);
      expect(m.gt(2).toArray<boolean[][]>()).to.deep.equal([
        [false, false],
        [true, true],
      ]);
      const big = torch.tensor([2n ** 60n + 1n, -3n]);
      expect(big.toArray()).to.deep.equal([Number(2n ** 60n + 1n), -3]);
      expect(big.tolist<bigint[]>()).to.deep.equal([2n ** 60n + 1n, -3n]);
      expect(torch.tensor([0.5, 1]).tolist()).to.deep.equal([0.5, 1]);
      expect(torch.tensor([true, false]).tolist()).to.deep.equal([true, false]);
      expect(torch.tensor(7n).tolist()).to.equal(7n);
      expect(torch.zeros([2, 0]).tolist()).to.deep.equal([[], []]);
    });
  });

  describe('torch.manualSeed', () => {
    it('randn, rand, randint and randperm match PyTorch for the same seed', () => {
      torch.manualSeed(1234);
      expectClose(torch.randn(2, 3), output('seed.randn_2x3'));
      expectClose(torch.rand(4), output('seed.rand_4'));
      expectClose(torch.randint(0, 10, [5]), output('seed.randint_0_10_5'));
      expectClose(torch.randn([20]), output('seed.randn_20'));
      expectClose(torch.randperm(6), output('seed.randperm_6'));
      torch.manualSeed(7);
      expectClose(torch.randn([3], { dtype: 'float64' }), output('seed7.randn_3_f64'), { rtol: 1e-12, atol: 0 });
      expectClose(torch.rand([2, 2], { dtype: 'float64' }), output('seed7.rand_2x2_f64'), { rtol: 1e-12, atol: 0 });
    });

    it('the same seed gives the same numbers; a bigint seed works', () => {
      torch.manualSeed(5);
      const x = torch.randn(10).toArray();
      torch.manualSeed(5);
      expect(torch.randn(10).toArray()).to.deep.equal(x);
      torch.manualSeed(5n);
      expect(torch.randn(10).toArray()).to.deep.equal(x);
      expect(torch.randn(10).toArray()).to.not.deep.equal(x);
    });

    it('negative seeds wrap to uint64 as PyTorch (manual_seed(-1) == manual_seed(2**64 - 1))', () => {
      torch.manualSeed(-1);
      expectClose(torch.rand([2], { dtype: 'float32' }), [0.9937993884086609, 0.5713063478469849], {
        rtol: 0,
        atol: 0,
      });
      torch.manualSeed(2n ** 64n - 1n);
      expectClose(torch.rand(2), [0.9937993884086609, 0.5713063478469849], { rtol: 0, atol: 0 });
      torch.manualSeed(-1n);
      expectClose(torch.rand(2), [0.9937993884086609, 0.5713063478469849], { rtol: 0, atol: 0 });
      torch.manualSeed(-(2n ** 63n)); // values from PyTorch 1.13: torch.manual_seed(-2**63); torch.rand(2)
      expectClose(torch.rand(2), [0.49625658988952637, 0.7682217955589294], { rtol: 0, atol: 0 });
    });
  });
});
