// Tensor factories: torch.tensor, zeros, ones, ... (PyTorch semantics, JS-friendly arguments).
import { DType, ITEM_SIZE, dtypeCode, optDtypeCode, isFloatingPoint } from './dtype';
import { optDevice } from './device';
import {
  checkAllocation, checkBool, checkInt, checkNumber, checkOptions, describe, shapeArgs, typeError,
} from './errors';
import { native as N } from './native';
import { Tensor, TypedArray, handle } from './tensor';

/** Options every factory takes (camelCase of PyTorch's keyword arguments). */
export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

/** Nested arrays of numbers or booleans (or bigints for int64). */
export type NestedData = number | boolean | bigint | readonly NestedData[];

const TYPED: [new (...a: never[]) => TypedArray, DType][] = [
  [Float32Array, 'float32'], [Float64Array, 'float64'], [BigInt64Array, 'int64'], [Int32Array, 'int32'],
  [Int16Array, 'int16'], [Int8Array, 'int8'], [Uint8Array, 'uint8'],
];

function typedDtype(v: ArrayBufferView): DType | undefined {
  for (const [ctor, d] of TYPED) if (v instanceof ctor) return d;
  return undefined;
}

function finish(fn: string, h: ReturnType<typeof N.zeros>, o: TensorOptions): Tensor {
  const t = new Tensor(h);
  if (o.requiresGrad) {
    if (!isFloatingPoint(t.dtype)) {
      t.dispose();
      throw new TypeError(`${fn}: only floating point tensors can require gradients, got dtype ${t.dtype}`);
    }
    N.setRequiresGrad(t._h, true);
  }
  return t;
}

function options(fn: string, v: unknown): TensorOptions {
  const o = checkOptions<TensorOptions>(fn, v);
  if (o.requiresGrad !== undefined) checkBool(fn, 'requiresGrad', o.requiresGrad);
  return o;
}

/** Splits `(...dims, opts?)` / `(shape[], opts?)` arguments. */
function shapeAndOptions(fn: string, args: unknown[]): [number[], TensorOptions] {
  let opts: unknown;
  const last = args[args.length - 1];
  if (args.length > 0 && last !== null && typeof last === 'object' && !Array.isArray(last)) {
    opts = last;
    args = args.slice(0, -1);
  }
  return [shapeArgs(fn, args), options(fn, opts)];
}

function alloc(fn: string, shape: number[], o: TensorOptions, dflt: DType = 'float32'): [number, string | undefined] {
  const code = dtypeCode(fn, o.dtype ?? dflt);
  const device = optDevice(fn, o.device);
  checkAllocation(fn, shape, ITEM_SIZE[(o.dtype ?? dflt) as DType] ?? 8, device);
  return [code, device];
}

/** Walks nested arrays: returns the shape and checks that the nesting is rectangular. */
function inferShape(fn: string, data: NestedData): number[] {
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
 *
 * @example torch.tensor([[1, 2], [3, 4]], { requiresGrad: true })
 * @throws TypeError for ragged nesting or values that are not numbers/booleans.
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
  if (data instanceof Tensor) throw new TypeError(`${fn}: data is already a Tensor; use t.clone() or t.detach().clone()`);
  const shape = inferShape(fn, data as NestedData);
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
      throw new TypeError(`${fn}: expected a sequence of length ${shape[d]} at data${path} (dim ${d}), got ${describe(v)}`);
    if (v.length !== shape[d])
      throw new TypeError(`${fn}: expected a sequence of length ${shape[d]} at data${path} (dim ${d}), got length ${v.length}`);
    for (let i = 0; i < v.length; i++) walk(v[i], d + 1, `${path}[${i}]`);
  };
  walk(data as NestedData, 0, '');
  let buf: TypedArray, src: DType, dflt: DType;
  if (kind === 'boolean') {
    buf = Uint8Array.from(flat as boolean[], (b) => (b ? 1 : 0)); src = 'bool'; dflt = 'bool';
  } else if (kind === 'bigint') {
    buf = BigInt64Array.from(flat as bigint[]); src = 'int64'; dflt = 'int64';
  } else {
    buf = Float64Array.from(flat as number[]); src = 'float64'; dflt = 'float32';
  }
  return finish(fn, N.fromBuffer(buf, shape, dtypeCode(fn, src), target ?? dtypeCode(fn, dflt), device), o);
}

type ShapeArgs = [...dims: number[]] | [...dims: number[], opts: TensorOptions] | [shape: number[], opts?: TensorOptions];

function factory(name: string, make: (shape: number[], dtype: number, device: string | undefined) => ReturnType<typeof N.zeros>) {
  const fn = `torch.${name}`;
  return (...args: ShapeArgs): Tensor => {
    const [shape, o] = shapeAndOptions(fn, args);
    const [code, device] = alloc(fn, shape, o);
    return finish(fn, make(shape, code, device), o);
  };
}

/** Zeros of the given shape: `zeros(2, 3)` or `zeros([2, 3], {dtype})`. */
export const zeros = factory('zeros', (s, d, dev) => N.zeros(s, d, dev));
/** Ones of the given shape. */
export const ones = factory('ones', (s, d, dev) => N.ones(s, d, dev));
/** Uninitialised memory of the given shape. */
export const empty = factory('empty', (s, d, dev) => N.empty(s, d, dev));
/** Uniform on [0, 1). */
export const rand = factory('rand', (s, d, dev) => N.rand(s, d, dev));
/** Standard normal. */
export const randn = factory('randn', (s, d, dev) => N.randn(s, d, dev));

/** `full(shape, value, opts)`: numbers give float32, booleans bool (unless `dtype`). */
export function full(shape: number[], fillValue: number | boolean, opts?: TensorOptions): Tensor {
  const fn = 'torch.full';
  const s = shapeArgs(fn, [shape]);
  if (typeof fillValue !== 'number' && typeof fillValue !== 'boolean') typeError(fn, 'fillValue', 'a number or boolean', fillValue);
  const o = options(fn, opts);
  const [code, device] = alloc(fn, s, o, typeof fillValue === 'boolean' ? 'bool' : 'float32');
  return finish(fn, N.full(s, fillValue, code, device), o);
}

/**
 * Random integers in `[low, high)`: `randint(high, shape)` or `randint(low, high, shape)`; int64.
 */
export function randint(low: number, high: number | number[], shape?: number[] | TensorOptions, opts?: TensorOptions): Tensor {
  const fn = 'torch.randint';
  if (Array.isArray(high)) { opts = shape as TensorOptions | undefined; shape = high; high = low; low = 0; }
  checkInt(fn, 'low', low);
  checkInt(fn, 'high', high);
  if (high <= low) throw new RangeError(`${fn}: expected low < high, got low=${low}, high=${high}`);
  const s = shapeArgs(fn, [shape]);
  const o = options(fn, opts);
  const [code, device] = alloc(fn, s, o, 'int64');
  return finish(fn, N.randint(low, high, s, code, device), o);
}

/**
 * `arange(end)`, `arange(start, end, step?)`: int64 when every argument is an integer (as
 * PyTorch with Python ints), float32 otherwise.
 */
export function arange(start: number, end?: number | TensorOptions, step?: number | TensorOptions, opts?: TensorOptions): Tensor {
  const fn = 'torch.arange';
  if (typeof end !== 'number') { opts = end; end = start; start = 0; step = 1; }
  else if (typeof step !== 'number') { opts = step; step = 1; }
  checkNumber(fn, 'start', start); checkNumber(fn, 'end', end); checkNumber(fn, 'step', step);
  if (!Number.isFinite(start) || !Number.isFinite(end) || !Number.isFinite(step))
    throw new RangeError(`${fn}: start, end and step must be finite, got ${start}, ${end}, ${step}`);
  if (step === 0) throw new RangeError(`${fn}: step must be nonzero`);
  if ((end - start) / step < 0)
    throw new RangeError(`${fn}: upper bound and larger bound inconsistent with step sign (start=${start}, end=${end}, step=${step})`);
  const o = options(fn, opts);
  const integral = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const dflt: DType = integral ? 'int64' : 'float32';
  const [code, device] = alloc(fn, [Math.ceil((end - start) / step)], o, dflt);
  return finish(fn, N.arange(start, end, step, code, device), o);
}

/** `steps` values evenly spaced from `start` to `end` inclusive. */
export function linspace(start: number, end: number, steps: number, opts?: TensorOptions): Tensor {
  const fn = 'torch.linspace';
  checkNumber(fn, 'start', start); checkNumber(fn, 'end', end); checkInt(fn, 'steps', steps, 0);
  const o = options(fn, opts);
  const [code, device] = alloc(fn, [steps], o);
  return finish(fn, N.linspace(start, end, steps, code, device), o);
}

/** The `n × m` identity (m defaults to n). */
export function eye(n: number, m?: number | TensorOptions, opts?: TensorOptions): Tensor {
  const fn = 'torch.eye';
  if (typeof m !== 'number') { opts = m; m = n; }
  checkInt(fn, 'n', n, 0); checkInt(fn, 'm', m, 0);
  const o = options(fn, opts);
  const [code, device] = alloc(fn, [n, m], o);
  return finish(fn, N.eye(n, m, code, device), o);
}

/** A random permutation of `0..n-1` (int64). */
export function randperm(n: number, opts?: TensorOptions): Tensor {
  const fn = 'torch.randperm';
  checkInt(fn, 'n', n, 0);
  const o = options(fn, opts);
  const [code, device] = alloc(fn, [n], o, 'int64');
  return finish(fn, N.randperm(n, code, device), o);
}

function likeOptions(fn: string, t: Tensor, opts?: TensorOptions): TensorOptions {
  handle(t, fn, 'input');
  const o = options(fn, opts);
  return { dtype: o.dtype ?? t.dtype, device: o.device ?? t.device, requiresGrad: o.requiresGrad };
}
export function zerosLike(t: Tensor, opts?: TensorOptions): Tensor {
  return zeros(t.shape as number[], likeOptions('torch.zerosLike', t, opts));
}
export function onesLike(t: Tensor, opts?: TensorOptions): Tensor {
  return ones(t.shape as number[], likeOptions('torch.onesLike', t, opts));
}
export function randnLike(t: Tensor, opts?: TensorOptions): Tensor {
  return randn(t.shape as number[], likeOptions('torch.randnLike', t, opts));
}
export function randLike(t: Tensor, opts?: TensorOptions): Tensor {
  return rand(t.shape as number[], likeOptions('torch.randLike', t, opts));
}
export function emptyLike(t: Tensor, opts?: TensorOptions): Tensor {
  return empty(t.shape as number[], likeOptions('torch.emptyLike', t, opts));
}
export function fullLike(t: Tensor, fillValue: number | boolean, opts?: TensorOptions): Tensor {
  return full(t.shape as number[], fillValue, likeOptions('torch.fullLike', t, opts));
}
