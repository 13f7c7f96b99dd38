// Integer division's trap: INT_MIN / -1 raises SIGFPE in libtorch's CPU kernels (floor and trunc
// division, remainder), which killed the process. Every width, scalar and tensor divisors, against
// Python's integer semantics computed here with BigInt (wrapped to the width, as two's complement).
import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError } from '../helpers';

const WIDTHS = { int64: 64, int32: 32, int16: 16, int8: 8 } as const;
type IntDtype = keyof typeof WIDTHS;

function values(dtype: IntDtype): bigint[] {
  const bits = BigInt(WIDTHS[dtype]);
  const min = -(2n ** (bits - 1n)),
    max = 2n ** (bits - 1n) - 1n;
  return [min, min + 1n, -7n, -1n, 0n, 1n, 7n, max];
}

const wrap = (dtype: IntDtype, v: bigint): bigint => BigInt.asIntN(WIDTHS[dtype], v);
const truncDiv = (a: bigint, b: bigint): bigint => a / b;
const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n !== b < 0n ? a / b - 1n : a / b);
const pyMod = (a: bigint, b: bigint): bigint => {
  const r = a % b;
  return r !== 0n && r < 0n !== b < 0n ? r + b : r;
};

function make(dtype: IntDtype, vs: bigint[]): torch.Tensor {
  return dtype === 'int64' ? torch.tensor(vs, { dtype }) : torch.tensor(vs.map(Number), { dtype });
}
function read(t: torch.Tensor): bigint[] {
  return Array.from(t.data() as ArrayLike<number | bigint>, (v) => BigInt(v));
}

describe('integer division never traps (INT_MIN / -1)', () => {
  for (const dtype of Object.keys(WIDTHS) as IntDtype[]) {
    const xs = values(dtype);
    for (const d of [-1n, 1n, 2n, -3n, 7n]) {
      it(`${dtype}: div floor/trunc and remainder by ${d}, scalar and tensor divisors`, () => {
        const x = make(dtype, xs);
        const cases: [
          string,
          (t: torch.Tensor, div: torch.Tensor | number) => torch.Tensor,
          (a: bigint, b: bigint) => bigint,
        ][] = [
          ['floor', (t, v) => t.div(v, 'floor'), floorDiv],
          ['trunc', (t, v) => t.div(v, 'trunc'), truncDiv],
          ['remainder', (t, v) => t.remainder(v), pyMod],
        ];
        for (const [name, op, ref] of cases) {
          const want = xs.map((a) => wrap(dtype, ref(a, d)));
          const scalar = op(x, Number(d));
          expect(scalar.dtype, `${name} scalar dtype`).to.equal(dtype);
          expect(read(scalar), `${name} by the scalar ${d}`).to.deep.equal(want);
          const tensor = op(
            x,
            make(
              dtype,
              xs.map(() => d),
            ),
          );
          expect(read(tensor), `${name} by a tensor of ${d}`).to.deep.equal(want);
        }
      });
    }

    it(`${dtype}: a tensor divisor mixing -1 with others, broadcast, and another integer width`, () => {
      const x = make(dtype, xs).reshape([2, 4]);
      const dv = torch.tensor([-1, 2, -1, -3], { dtype: 'int8' });
      const flat = read(x.div(dv, 'floor'));
      const rem = read(x.remainder(dv));
      const divs = [-1n, 2n, -1n, -3n];
      xs.forEach((a, i) => {
        expect(flat[i], `floor ${a} / ${divs[i % 4]}`).to.equal(wrap(dtype, floorDiv(a, divs[i % 4])));
        expect(rem[i], `${a} % ${divs[i % 4]}`).to.equal(wrap(dtype, pyMod(a, divs[i % 4])));
      });
    });

    it(`${dtype}: division by zero is libtorch's error, not a crash`, () => {
      const x = make(dtype, xs);
      expectError(() => x.div(0, 'floor'), torch.TorchError, /ZeroDivisionError/);
      expectError(
        () =>
          x.remainder(
            make(
              dtype,
              xs.map(() => 0n),
            ),
          ),
        torch.TorchError,
        /ZeroDivisionError/,
      );
    });
  }

  it('true division and float divisors are untouched (float results)', () => {
    const x = torch.tensor([-(2n ** 63n), 3n], { dtype: 'int64' });
    expect(x.div(-1).dtype).to.equal('float32');
    expect(Array.from(x.div(-1).data() as Float32Array)).to.deep.equal([2 ** 63, -3]);
    expect(x.remainder(-1.5).dtype).to.equal('float32');
    const u = torch.tensor([255, 7], { dtype: 'uint8' });
    expect(Array.from(u.div(2, 'floor').data() as Uint8Array)).to.deep.equal([127, 3]);
  });
});

describe("div / div_ take the rounding mode as PyTorch's keyword too", () => {
  it('x.div(y, {roundingMode}) equals x.div(y, mode); torch.div forwards it; null means true division', () => {
    const x = torch.tensor([7.5, -7.5, 3]),
      y = torch.tensor([2, 2, -2]);
    for (const mode of ['floor', 'trunc'] as const) {
      expect(x.div(y, { roundingMode: mode }).toArray()).to.deep.equal(x.div(y, mode).toArray());
      expect(torch.div(x, y, { roundingMode: mode }).toArray()).to.deep.equal(x.div(y, mode).toArray());
    }
    expect(x.div(y, { roundingMode: 'floor' }).toArray()).to.deep.equal([3, -4, -2]);
    expect(x.div(y, { roundingMode: null }).toArray()).to.deep.equal([3.75, -3.75, -1.5]);
    expectError(() => x.div(y, { rounding_mode: 'floor' } as never), TypeError, 'Tensor.div', "'roundingMode'");
    expectError(() => x.div(y, { roundingMode: 'round' } as never), TypeError, 'Tensor.div', 'roundingMode');
  });

  it('x.div_(y, {roundingMode}) rounds in place (it used to ignore the mode), and never traps', () => {
    const x = torch.tensor([7.5, -7.5, 3]);
    const r = x.div_(2, { roundingMode: 'floor' });
    expect(r).to.equal(x);
    expect(x.toArray()).to.deep.equal([3, -4, 1]);
    const i = make('int64', [-(2n ** 63n), 7n, -7n]);
    i.div_(-1, { roundingMode: 'trunc' });
    expect(read(i)).to.deep.equal([-(2n ** 63n), -7n, 7n]);
    const j = make('int32', [-(2n ** 31n), 9n]);
    j.div_(make('int32', [-1n, -2n]), 'floor');
    expect(read(j)).to.deep.equal([-(2n ** 31n), -5n]);
    expectError(() => x.div_(2, { roundingMode: 'up' } as never), TypeError, 'Tensor.div_', 'roundingMode');
  });
});
