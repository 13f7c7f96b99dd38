import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import { type FormatInput, formatTensor } from '../../lib/format';

/** One case of test/fixtures/format.json (written by test/fixtures/gen/gen_format_fixtures.py). */
interface FixtureCase {
  name: string;
  shape: number[];
  dtype: string;
  /** Floats as numbers or 'nan'/'inf'/'-inf'; ints as numbers, or decimal strings beyond 2^53; bools. */
  values: (number | string | boolean)[];
  requiresGrad: boolean;
  gradFn: string | null;
  device?: string;
  prefix?: string;
  expected: string;
}

const FIXTURE = path.join(process.cwd(), 'test/fixtures/format.json');

function fixtureValue(v: number | string | boolean): number | bigint | boolean {
  if (typeof v !== 'string') return v;
  switch (v) {
    case 'nan':
      return NaN;
    case 'inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    default:
      return BigInt(v); // int64 outside the safe-integer range
  }
}

function toInput(c: FixtureCase): FormatInput {
  const input: FormatInput = {
    shape: c.shape,
    dtype: c.dtype,
    values: c.values.map(fixtureValue),
    requiresGrad: c.requiresGrad,
    gradFn: c.gradFn,
  };
  if (c.device !== undefined) input.device = c.device;
  return input;
}

describe('formatTensor', () => {
  describe('matches PyTorch 1.13 repr (test/fixtures/format.json)', () => {
    const cases = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as FixtureCase[];

    it('has all 122 fixture cases', () => {
      expect(cases).to.have.length(122);
    });

    for (const c of cases) {
      it(c.name, () => {
        const opts = c.prefix === undefined ? undefined : { prefix: c.prefix };
        expect(formatTensor(toInput(c), opts)).to.equal(c.expected);
      });
    }
  });

  describe('inputs', () => {
    it('accepts typed arrays', () => {
      expect(formatTensor({ shape: [3], dtype: 'float32', values: new Float32Array([1, 2.5, -3]) })).to.equal(
        'tensor([ 1.0000,  2.5000, -3.0000])',
      );
      expect(formatTensor({ shape: [2, 2], dtype: 'int32', values: new Int32Array([1, -2, 30, 4]) })).to.equal(
        'tensor([[ 1, -2],\n        [30,  4]], dtype=torch.int32)',
      );
      expect(
        formatTensor({ shape: [2], dtype: 'int64', values: new BigInt64Array([9007199254740993n, -1n]) }),
      ).to.equal('tensor([9007199254740993,               -1])');
      expect(formatTensor({ shape: [3], dtype: 'bool', values: new Uint8Array([1, 0, 1]) })).to.equal(
        'tensor([ True, False,  True])',
      );
    });

    it('treats cpu devices as the default and prints other devices', () => {
      const base = { shape: [1], dtype: 'float32', values: [1] };
      expect(formatTensor({ ...base, device: 'cpu' })).to.equal('tensor([1.])');
      expect(formatTensor({ ...base, device: 'cuda:0' })).to.equal("tensor([1.], device='cuda:0')");
    });

    it('prefers grad_fn over requires_grad', () => {
      expect(
        formatTensor({ shape: [], dtype: 'float32', values: [2], requiresGrad: true, gradFn: 'MulBackward0' }),
      ).to.equal('tensor(2., grad_fn=<MulBackward0>)');
      expect(formatTensor({ shape: [], dtype: 'float32', values: [2], requiresGrad: true, gradFn: null })).to.equal(
        'tensor(2., requires_grad=True)',
      );
    });

    it('uses the prefix length for indentation', () => {
      expect(formatTensor({ shape: [2, 1], dtype: 'int64', values: [1, 2] }, { prefix: 'x(' })).to.equal(
        'x([[1],\n   [2]])',
      );
    });
  });

  describe('errors', () => {
    it('throws RangeError when values do not match the shape', () => {
      expect(() => formatTensor({ shape: [2, 3], dtype: 'float32', values: [1, 2, 3] })).to.throw(
        RangeError,
        /formatTensor/,
      );
      expect(() => formatTensor({ shape: [], dtype: 'float32', values: [] })).to.throw(RangeError, /formatTensor/);
    });

    it('throws RangeError on invalid sizes', () => {
      expect(() => formatTensor({ shape: [-1], dtype: 'float32', values: [] })).to.throw(RangeError, /formatTensor/);
      expect(() => formatTensor({ shape: [1.5], dtype: 'float32', values: [1] })).to.throw(RangeError, /formatTensor/);
    });

    it('throws TypeError on an unknown dtype', () => {
      expect(() => formatTensor({ shape: [1], dtype: 'complex64', values: [1] })).to.throw(
        TypeError,
        /formatTensor.*complex64/,
      );
    });

    it('throws TypeError on a fractional value in an integer tensor', () => {
      expect(() => formatTensor({ shape: [1], dtype: 'int32', values: [1.5] })).to.throw(TypeError, /formatTensor/);
    });
  });
});
