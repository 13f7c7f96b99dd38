// Tensor factories: torch.tensor, zeros, ones, ... (PyTorch semantics, JS-friendly arguments).

import { optDevice } from './device';
import { DTYPES, type DType, dtypeCode, ITEM_SIZE, isFloatingPoint, optDtypeCode } from './dtype';
import {
  checkAllocation,
  checkBool,
  checkInt,
  checkNumber,
  checkOptions,
  describe,
  shapeArgs,
  typeError,
} from './errors';
import { type Generator, generatorHandle } from './generator';
import { type GeneratorHandle, native as N } from './native';
import { handle, Tensor, type TypedArray } from './tensor';

/** Options every factory takes (camelCase of PyTorch's keyword arguments). */
export interface TensorOptions {
  /** The element type (default `'float32'`, or what the data implies). */
  dtype?: DType;
  /** Where the tensor is made: `'cpu'` (default), `'cuda'`, `'cuda:N'`. */
  device?: string;
  /** Make a leaf that autograd tracks (default false). */
  requiresGrad?: boolean;
}

/** Options of the random factories: a tensor's options and the generator to draw from. */
export interface RandomOptions extends TensorOptions {
  /** Draw from this generator instead of the global one (PyTorch's `generator=`). */
  generator?: Generator | null;
}

/** Nested arrays of numbers or booleans (or bigints for int64). */
export type NestedData = number | boolean | bigint | readonly NestedData[];

const TYPED: [new (...a: never[]) => TypedArray, DType][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [BigInt64Array, 'int64'],
  [Int32Array, 'int32'],
  [Int16Array, 'int16'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
];

function typedDtype(v: ArrayBufferView): DType | undefined {
  for (const [ctor, d] of TYPED) if (v instanceof ctor) return d;
  return undefined;
}

function finish(fn: string, h: ReturnType<typeof N.zeros>, o: TensorOptions): Tensor {
  const t = new Tensor(h);
  if (o.requiresGrad) {
    const dtype = t.dtype;
    if (!isFloatingPoint(dtype)) {
      t.dispose();
      throw new TypeError(`${fn}: only floating point tensors can require gradients, got dtype ${dtype}`);
    }
    N.setRequiresGrad(t._h, true);
  }
  return t;
}

function options(fn: string, v: unknown): TensorOptions {
  const o = checkOptions<TensorOptions>(fn, v, ['dtype', 'device', 'requiresGrad']);
  if (o.requiresGrad !== undefined) checkBool(fn, 'requiresGrad', o.requiresGrad);
  return o;
}

function randomOptions(fn: string, v: unknown): [RandomOptions, GeneratorHandle | undefined] {
  const o = checkOptions<RandomOptions>(fn, v, ['dtype', 'device', 'requiresGrad', 'generator']);
  if (o.requiresGrad !== undefined) checkBool(fn, 'requiresGrad', o.requiresGrad);
  return [o, generatorHandle(fn, o.generator)];
}

/**
 * Splits `(...dims, opts?)` / `(shape[], opts?)` arguments. A size is required, as in PyTorch
 * (`zeros([])` is a 0-dim tensor; `zeros()` is a TypeError).
 */
function shapeAndOptions(fn: string, args: unknown[]): [number[], TensorOptions] {
  let opts: unknown;
  const last = args[args.length - 1];
  if (args.length > 0 && last !== null && typeof last === 'object' && !Array.isArray(last)) {
    opts = last;
    args = args.slice(0, -1);
  }
  if (args.length === 0)
    throw new TypeError(
      `${fn}: expected a size, as ${fn}(2, 3) or ${fn}([2, 3]) (${fn}([]) for a 0-dim tensor), got none`,
    );
  return [shapeArgs(fn, args), options(fn, opts)];
}

function alloc(fn: string, shape: number[], o: TensorOptions, dflt: DType = 'float32'): [number, string | undefined] {
  const code = dtypeCode(fn, o.dtype ?? dflt);
  const device = optDevice(fn, o.device);
  checkAllocation(fn, shape, ITEM_SIZE[(o.dtype ?? dflt) as DType] ?? 8, device);
  return [code, device];
}

/**
 * The integer values each integer dtype takes from a JS number, as PyTorch 1.13 takes Python
 * numbers: integral numbers (Python ints) must lie in [lo, hi] (uint8 also takes -255..-1, which
 * wrap modulo 256), other numbers (Python floats) in [lo, hi] before truncation toward zero;
 * NaN and ±Infinity never fit.
 */
const INT_RANGES: Partial<Record<DType, [lo: number, hi: number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  // 2^63 - 1 rounds to 2^63 as a double: checked as `< 2 ** 63` below.
  int64: [-(2 ** 63), 2 ** 63],
};
const INT64_MIN = -(2n ** 63n),
  INT64_MAX = 2n ** 63n - 1n;

/** `data[0][2]` for flat index `i` of `shape`, for error messages. */
function pathOf(shape: readonly number[], i: number): string {
  let path = '';
  for (let d = shape.length - 1; d >= 0; d--) {
    path = `[${i % shape[d]}]${path}`;
    i = Math.floor(i / shape[d]);
  }
  return `data${path}`;
}

function overflow(fn: string, v: number | bigint, shape: readonly number[], i: number, dtype: DType): never {
  throw new RangeError(
    `${fn}: value ${typeof v === 'bigint' ? `${v}n` : v} at ${pathOf(shape, i)} cannot be ` +
      `converted to ${dtype} without overflow`,
  );
}

/** Checks numbers against an integer dtype (see INT_RANGES); wraps uint8's negative integers in place. */
function checkIntNumbers(fn: string, buf: Float64Array, shape: readonly number[], dtype: DType): void {
  const range = INT_RANGES[dtype];
  if (range === undefined) return;
  const [lo, hi] = range;
  const int64 = dtype === 'int64',
    uint8 = dtype === 'uint8';
  for (let i = 0; i < buf.length; i++) {
    const v = buf[i];
    if (int64) {
      if (!(v >= lo && v < hi)) overflow(fn, v, shape, i, dtype);
      continue;
    }
    if (v >= lo && v <= hi) continue;
    if (uint8 && Number.isInteger(v) && v >= -255 && v < 0) {
      buf[i] = v + 256;
      continue;
    }
    overflow(fn, v, shape, i, dtype);
  }
}

/** Checks bigints against int64, and against the target integer dtype when there is one. */
function checkBigints(fn: string, flat: bigint[], shape: readonly number[], dtype: DType | undefined): void {
  const range = dtype === undefined || dtype === 'int64' ? undefined : INT_RANGES[dtype];
  const lo = range === undefined ? INT64_MIN : BigInt(dtype === 'uint8' ? -255 : range[0]);
  const hi = range === undefined ? INT64_MAX : BigInt(range[1]);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (v < INT64_MIN || v > INT64_MAX) overflow(fn, v, shape, i, 'int64');
    if (v < lo || v > hi) overflow(fn, v, shape, i, dtype!);
  }
}

/** Walks nested arrays: returns the shape and checks that the nesting is rectangular. */
function inferShape(data: NestedData): number[] {
  const shape: number[] = [];
  let cur: NestedData = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

/**
 * Creates a tensor from nested arrays, a TypedArray, or a scalar, copying the data.
 *
 * - Numbers give float32 (PyTorch's default dtype; JS has no int/float distinction, so pass
 *   `{dtype: 'int64'}` for integer data), booleans give bool, bigints give int64.
 * - A TypedArray gives its own dtype (Float32Array → float32, Float64Array → float64,
 *   Int32Array → int32, BigInt64Array → int64, Uint8Array → uint8, ...), as a 1-D tensor.
 * - With an integer `dtype`, numbers must fit it as PyTorch checks Python numbers: fractions
 *   truncate toward zero, but 128 for int8, 1e10 for int32, NaN or Infinity are refused
 *   (uint8 takes -255..-1 as PyTorch does, wrapping them modulo 256).
 *
 * @example torch.tensor([[1, 2], [3, 4]], { requiresGrad: true })
 * @throws TypeError for ragged nesting or values that are not numbers/booleans/bigints.
 * @throws RangeError for bigints outside int64, or values that overflow the requested integer dtype.
 */
export function tensor(data: NestedData | TypedArray, opts?: TensorOptions): Tensor {
  const fn = 'torch.tensor';
  const o = options(fn, opts);
  const device = optDevice(fn, o.device);
  const target = optDtypeCode(fn, o.dtype);
  if (ArrayBuffer.isView(data)) {
    const src = typedDtype(data);
    if (src === undefined) typeError(fn, 'data', 'a nested array, a number, a boolean or a supported TypedArray', data);
    return finish(fn, N.fromBuffer(data, [data.length], dtypeCode(fn, src), target, device), o);
  }
  if (data instanceof Tensor)
    throw new TypeError(`${fn}: data is already a Tensor; use t.clone() or t.detach().clone()`);
  const shape = inferShape(data as NestedData);
  let numel = 1;
  for (const s of shape) numel *= s;
  checkAllocation(fn, shape, 8);
  // Flatten, checking the leaves' type and the rectangular nesting.
  type Kind = 'number' | 'boolean' | 'bigint';
  let kind = undefined as Kind | undefined;
  const flat: (number | boolean | bigint)[] = new Array(numel);
  let pos = 0;
  const walk = (v: NestedData, d: number, path: string): void => {
    if (d === shape.length) {
      const t = typeof v;
      if (t !== 'number' && t !== 'boolean' && t !== 'bigint')
        throw new TypeError(`${fn}: expected a number, boolean or bigint at data${path}, got ${describe(v)}`);
      if (kind === undefined) kind = t as Kind;
      else if (kind !== t)
        throw new TypeError(`${fn}: mixed element types: data${path} is a ${t} but earlier elements are ${kind}s`);
      flat[pos++] = v as number | boolean | bigint;
      return;
    }
    if (!Array.isArray(v))
      throw new TypeError(
        `${fn}: expected a sequence of length ${shape[d]} at data${path} (dim ${d}), got ${describe(v)}`,
      );
    if (v.length !== shape[d])
      throw new TypeError(
        `${fn}: expected a sequence of length ${shape[d]} at data${path} (dim ${d}), got length ${v.length}`,
      );
    for (let i = 0; i < v.length; i++) walk(v[i], d + 1, `${path}[${i}]`);
  };
  walk(data as NestedData, 0, '');
  let buf: TypedArray, src: DType, dflt: DType;
  if (kind === 'boolean') {
    buf = Uint8Array.from(flat as boolean[], (b) => (b ? 1 : 0));
    src = 'bool';
    dflt = 'bool';
  } else if (kind === 'bigint') {
    checkBigints(fn, flat as bigint[], shape, target === undefined ? undefined : DTYPES[target]);
    buf = BigInt64Array.from(flat as bigint[]);
    src = 'int64';
    dflt = 'int64';
  } else {
    buf = Float64Array.from(flat as number[]);
    src = 'float64';
    dflt = 'float32';
    if (target !== undefined) checkIntNumbers(fn, buf, shape, DTYPES[target]);
  }
  return finish(fn, N.fromBuffer(buf, shape, dtypeCode(fn, src), target ?? dtypeCode(fn, dflt), device), o);
}

type ShapeArgs =
  | [...dims: number[]]
  | [...dims: number[], opts: TensorOptions]
  | [shape: number[], opts?: TensorOptions];
type Make = (shape: number[], dtype: number, device: string | undefined) => ReturnType<typeof N.zeros>;

/** Validates the options under `fn` and makes the tensor. */
function create(fn: string, make: Make, shape: number[], o: TensorOptions, dflt: DType = 'float32'): Tensor {
  const [code, device] = alloc(fn, shape, o, dflt);
  return finish(fn, make(shape, code, device), o);
}

function factory(name: string, make: Make) {
  const fn = `torch.${name}`;
  return (...args: ShapeArgs): Tensor => {
    const [shape, o] = shapeAndOptions(fn, args);
    return create(fn, make, shape, o);
  };
}

const makeZeros: Make = (s, d, dev) => N.zeros(s, d, dev);
const makeOnes: Make = (s, d, dev) => N.ones(s, d, dev);
const makeEmpty: Make = (s, d, dev) => N.empty(s, d, dev);
const makeRand: Make = (s, d, dev) => N.rand(s, d, dev);
const makeRandn: Make = (s, d, dev) => N.randn(s, d, dev);

function randomFactory(name: 'rand' | 'randn') {
  const fn = `torch.${name}`;
  return (
    ...args: [...dims: number[]] | [...dims: number[], opts: RandomOptions] | [shape: number[], opts?: RandomOptions]
  ): Tensor => {
    let opts: unknown;
    const last = args[args.length - 1];
    if (args.length > 0 && last !== null && typeof last === 'object' && !Array.isArray(last)) {
      opts = last;
      args = args.slice(0, -1) as number[];
    }
    if (args.length === 0)
      throw new TypeError(
        `${fn}: expected a size, as ${fn}(2, 3) or ${fn}([2, 3]) (${fn}([]) for a 0-dim tensor), got none`,
      );
    const shape = shapeArgs(fn, args);
    const [o, g] = randomOptions(fn, opts);
    const [code, device] = alloc(fn, shape, o);
    if (g === undefined)
      return finish(fn, name === 'rand' ? N.rand(shape, code, device) : N.randn(shape, code, device), o);
    return finish(fn, name === 'rand' ? N.randGen(shape, g, code, device) : N.randnGen(shape, g, code, device), o);
  };
}

/** Zeros of the given shape: `zeros(2, 3)` or `zeros([2, 3], {dtype})` (`zeros([])` is 0-dim). */
export const zeros = factory('zeros', makeZeros);
/** Ones of the given shape. */
export const ones = factory('ones', makeOnes);
/** Uninitialised memory of the given shape. */
export const empty = factory('empty', makeEmpty);
/** Uniform on [0, 1); `{ generator }` draws from a `torch.Generator`. */
export const rand = randomFactory('rand');
/** Standard normal; `{ generator }` draws from a `torch.Generator`. */
export const randn = randomFactory('randn');

function fullImpl(fn: string, s: number[], fillValue: unknown, o: TensorOptions): Tensor {
  if (typeof fillValue !== 'number' && typeof fillValue !== 'boolean')
    typeError(fn, 'fillValue', 'a number or boolean', fillValue);
  return create(
    fn,
    (sh, d, dev) => N.full(sh, fillValue, d, dev),
    s,
    o,
    typeof fillValue === 'boolean' ? 'bool' : 'float32',
  );
}

/** `full(shape, value, opts)`: numbers give float32, booleans bool (unless `dtype`). */
export function full(shape: number[], fillValue: number | boolean, opts?: TensorOptions): Tensor {
  const fn = 'torch.full';
  return fullImpl(fn, shapeArgs(fn, [shape]), fillValue, options(fn, opts));
}

/**
 * Random integers in `[low, high)`: `randint(high, shape)` or `randint(low, high, shape)`; int64.
 * `{ generator }` draws from a `torch.Generator` (PyTorch's stream for the same seed).
 * @example torch.randint(0, 100, [6], { generator: new torch.Generator().manualSeed(42) });
 */
export function randint(
  low: number,
  high: number | number[],
  shape?: number[] | RandomOptions,
  opts?: RandomOptions,
): Tensor {
  const fn = 'torch.randint';
  if (Array.isArray(high)) {
    opts = shape as TensorOptions | undefined;
    shape = high;
    high = low;
    low = 0;
  }
  checkInt(fn, 'low', low);
  checkInt(fn, 'high', high);
  if (high <= low) throw new RangeError(`${fn}: expected low < high, got low=${low}, high=${high}`);
  const s = shapeArgs(fn, [shape]);
  const [o, g] = randomOptions(fn, opts);
  const [code, device] = alloc(fn, s, o, 'int64');
  if (g !== undefined) return finish(fn, N.randintGen(low, high, s, g, code, device), o);
  return finish(fn, N.randint(low, high, s, code, device), o);
}

/**
 * `arange(end)`, `arange(start, end, step?)`: int64 when every argument is an integer (as
 * PyTorch with Python ints), float32 otherwise.
 */
export function arange(
  start: number,
  end?: number | TensorOptions,
  step?: number | TensorOptions,
  opts?: TensorOptions,
): Tensor {
  const fn = 'torch.arange';
  if (typeof end !== 'number') {
    opts = end;
    end = start;
    start = 0;
    step = 1;
  } else if (typeof step !== 'number') {
    opts = step;
    step = 1;
  }
  checkNumber(fn, 'start', start);
  checkNumber(fn, 'end', end);
  checkNumber(fn, 'step', step);
  if (!Number.isFinite(start) || !Number.isFinite(end) || !Number.isFinite(step))
    throw new RangeError(`${fn}: start, end and step must be finite, got ${start}, ${end}, ${step}`);
  if (step === 0) throw new RangeError(`${fn}: step must be nonzero`);
  if ((end - start) / step < 0)
    throw new RangeError(
      `${fn}: upper bound and larger bound inconsistent with step sign (start=${start}, end=${end}, step=${step})`,
    );
  const o = options(fn, opts);
  const integral = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const dflt: DType = integral ? 'int64' : 'float32';
  const [code, device] = alloc(fn, [Math.ceil((end - start) / step)], o, dflt);
  return finish(fn, N.arange(start, end, step, code, device), o);
}

/** `steps` values evenly spaced from `start` to `end` inclusive. */
export function linspace(start: number, end: number, steps: number, opts?: TensorOptions): Tensor {
  const fn = 'torch.linspace';
  checkNumber(fn, 'start', start);
  checkNumber(fn, 'end', end);
  checkInt(fn, 'steps', steps, 0);
  const o = options(fn, opts);
  const [code, device] = alloc(fn, [steps], o);
  return finish(fn, N.linspace(start, end, steps, code, device), o);
}

/** The `n × m` identity (m defaults to n). */
export function eye(n: number, m?: number | TensorOptions, opts?: TensorOptions): Tensor {
  const fn = 'torch.eye';
  if (typeof m !== 'number') {
    opts = m;
    m = n;
  }
  checkInt(fn, 'n', n, 0);
  checkInt(fn, 'm', m, 0);
  const o = options(fn, opts);
  const [code, device] = alloc(fn, [n, m], o);
  return finish(fn, N.eye(n, m, code, device), o);
}

/**
 * A random permutation of `0..n-1` (int64). `{ generator }` draws from a `torch.Generator`
 * (PyTorch's permutation for the same seed).
 * @example torch.randperm(10, { generator: new torch.Generator().manualSeed(42) }); // [2, 6, 1, 8, 4, 5, 0, 9, 3, 7]
 */
export function randperm(n: number, opts?: RandomOptions): Tensor {
  const fn = 'torch.randperm';
  checkInt(fn, 'n', n, 0);
  const [o, g] = randomOptions(fn, opts);
  const [code, device] = alloc(fn, [n], o, 'int64');
  if (g !== undefined) return finish(fn, N.randpermGen(n, g, code, device), o);
  return finish(fn, N.randperm(n, code, device), o);
}

/**
 * The shape and options of a `*Like` factory: `input` is checked first (a TypeError, or an
 * Error for a disposed tensor, naming `fn` and `input`); dtype and device default to input's.
 */
function like(fn: string, input: unknown, opts: unknown): [number[], TensorOptions] {
  handle(input, fn, 'input');
  const t = input as Tensor;
  const o = options(fn, opts);
  return [t.shape.slice(), { dtype: o.dtype ?? t.dtype, device: o.device ?? t.device, requiresGrad: o.requiresGrad }];
}
/** Zeros with `input`'s shape, dtype and device (the options override dtype and device). */
export function zerosLike(input: Tensor, opts?: TensorOptions): Tensor {
  return create('torch.zerosLike', makeZeros, ...like('torch.zerosLike', input, opts));
}
/** Ones with `input`'s shape, dtype and device. */
export function onesLike(input: Tensor, opts?: TensorOptions): Tensor {
  return create('torch.onesLike', makeOnes, ...like('torch.onesLike', input, opts));
}
/** Standard normal values with `input`'s shape, dtype and device. */
export function randnLike(input: Tensor, opts?: TensorOptions): Tensor {
  return create('torch.randnLike', makeRandn, ...like('torch.randnLike', input, opts));
}
/** Uniform [0, 1) values with `input`'s shape, dtype and device. */
export function randLike(input: Tensor, opts?: TensorOptions): Tensor {
  return create('torch.randLike', makeRand, ...like('torch.randLike', input, opts));
}
/** Uninitialised memory with `input`'s shape, dtype and device. */
export function emptyLike(input: Tensor, opts?: TensorOptions): Tensor {
  return create('torch.emptyLike', makeEmpty, ...like('torch.emptyLike', input, opts));
}
/** `fillValue` with `input`'s shape, dtype and device. */
export function fullLike(input: Tensor, fillValue: number | boolean, opts?: TensorOptions): Tensor {
  const [s, o] = like('torch.fullLike', input, opts);
  return fullImpl('torch.fullLike', s, fillValue, o);
}
