// The JS Tensor: a plain class around a native handle (see native/handle.h for why it is not an
// ObjectWrap). Methods validate their arguments, then make exactly one native call.
import { inspect } from 'node:util';
import { callOp } from './aten';
import { checkDevice } from './device';
import { DTYPES, type DType, dtypeCode, isFloatingPoint, optDtypeCode } from './dtype';
import {
  checkBool,
  checkInt,
  checkIntList,
  checkNumber,
  checkOptions,
  checkViewShape,
  shapeArgs,
  TorchError,
  typeError,
} from './errors';
import { formatTensor } from './format';
import type { Generator } from './generator';
import { type GeneratorHandle, type Handle, native as N } from './native';
import { scopes } from './scope';

/** A value accepted where PyTorch takes a tensor or a Python number. */
export type Scalar = number | boolean | bigint;
/** A tensor, or a number, bigint or boolean that PyTorch would take as a Python scalar. */
export type TensorOrScalar = Tensor | Scalar;
/** PyTorch's memory formats (`memoryFormat` options). */
export type MemoryFormat = 'contiguous_format' | 'preserve_format' | 'channels_last' | 'channels_last_3d';
/** PyTorch's `rounding_mode` of `div`. */
export type RoundingMode = 'trunc' | 'floor';
/** The keyword arguments of `div` / `div_`. */
export interface DivOptions {
  roundingMode?: RoundingMode | null;
  /** a tensor to write the result into (PyTorch's `out=`) */
  out?: Tensor;
}

/** `div`'s rounding mode, given as PyTorch's keyword (`{roundingMode}`) or positionally. */
function roundingModeOf(fn: string, v: unknown): RoundingMode | undefined {
  const mode =
    typeof v === 'object' && v !== null ? checkOptions<DivOptions>(fn, v, ['roundingMode', 'out']).roundingMode : v;
  if (mode === undefined || mode === null) return undefined;
  if (mode !== 'trunc' && mode !== 'floor') typeError(fn, 'roundingMode', "'trunc', 'floor' or undefined", mode);
  return mode;
}
/** The typed arrays a tensor is made from (`torch.tensor`) or read into (`data()`). */
export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
/** Nested arrays of `T`, as `toArray()` and `tolist()` return them (a bare `T` for a 0-dim tensor). */
export type NestedArray<T = number | boolean> = T | NestedArray<T>[];
/**
 * One item of `index(...)`: an integer, a slice string (`':'`, `'1:'`, `'::2'`), `'...'`, `null`
 * (new axis), a Tensor, or a plain array (of integers, or of booleans: a mask), as PyTorch takes a
 * list (`x[[0, 2]]` is `x.index([0, 2])`).
 */
export type IndexItem = number | string | null | Tensor | number[] | boolean[] | number[][] | boolean[][];

/**
 * @internal Throws the Error for a disposed tensor, naming the function and the argument (or
 * "this tensor" when `arg` is omitted).
 */
export function disposedError(fn: string, arg?: string): never {
  throw new Error(
    `${fn}: ${arg === undefined ? 'this tensor is disposed' : `${arg} is a disposed tensor`} ` +
      '(it was freed by dispose() or torch.tidy)',
  );
}

/**
 * Unwraps a tensor argument, or throws a TypeError naming the function and argument (an Error
 * when the tensor was disposed).
 */
export function handle(t: unknown, fn: string, arg: string): Handle {
  if (t instanceof Tensor) return t._disposed ? disposedError(fn, arg) : t._h;
  return typeError(fn, arg, 'a Tensor', t);
}

/** An index list as a tensor: int64, or bool when every leaf is a boolean (torch.tensor's rules otherwise). */
function tensorFromList(list: number[] | boolean[] | number[][] | boolean[][]): Tensor {
  const flat = (list as unknown[]).flat(Number.POSITIVE_INFINITY);
  const allBool = flat.length > 0 && flat.every((v) => typeof v === 'boolean');
  if (!allBool && !flat.every((v) => typeof v === 'number' && Number.isInteger(v)))
    throw new TypeError('not an index list');
  // creation.ts imports this module: reach it at call time
  const { tensor } = require('./creation') as typeof import('./creation');
  return tensor(list as number[], { dtype: allBool ? 'bool' : 'int64' });
}

/** The generator of a random method's `{ generator }` option (generator.ts imports this module: reached at call time). */
function randomGenerator(fn: string, opts: unknown): GeneratorHandle | undefined {
  if (opts === undefined) return undefined;
  const o = checkOptions<{ generator?: unknown }>(fn, opts, ['generator']);
  if (o.generator === undefined || o.generator === null) return undefined;
  const { generatorHandle } = require('./generator') as typeof import('./generator');
  return generatorHandle(fn, o.generator);
}

/** The handle of an operand already known to be a Tensor (one property check: the hot path). */
function live(t: Tensor, fn: string, arg: string): Handle {
  return t._disposed ? disposedError(fn, arg) : t._h;
}

/** Throws if `t` (the receiver of a method) was disposed; for methods that read it before their native call. */
function checkSelf(t: Tensor, fn: string): void {
  if (t._disposed) disposedError(fn);
}

/** A scalar operand (the Tensor case was handled by the caller). */
function scalar(v: unknown, fn: string, arg: string): Scalar {
  const t = typeof v;
  if (t === 'number' || t === 'boolean' || t === 'bigint') return v as Scalar;
  return typeError(fn, arg, 'a Tensor or a number', v);
}

function optAlpha(fn: string, alpha: unknown): number | undefined {
  return alpha === undefined ? undefined : checkNumber(fn, 'alpha', alpha);
}

/** @internal An operand that may be a Tensor or a scalar, as the native call takes it: a handle or a checked scalar. */
export function operand(v: unknown, fn: string, arg: string): Handle | Scalar {
  return v instanceof Tensor ? live(v, fn, arg) : scalar(v, fn, arg);
}

/**
 * The native kernels of an op whose operand may be a Tensor or a scalar. PyTorch has one function;
 * the native layer has two (`add` and `addScalar`), because a small tensor's handle is a number
 * and only JS can tell it from a scalar. `extra` is what the kernels take after the operand.
 */
type OperandKernels<R, X> = readonly [
  (self: Handle, other: Handle, extra: X) => R,
  (self: Handle, other: Scalar, extra: X) => R,
];

/** The one tensor-or-scalar dispatch: the Tensor kernel for a Tensor `other`, else the scalar kernel. */
function dispatch<R, X>(k: OperandKernels<R, X>, fn: string, arg: string, self: Handle, other: unknown, extra: X): R {
  return other instanceof Tensor ? k[0](self, live(other, fn, arg), extra) : k[1](self, scalar(other, fn, arg), extra);
}

/** The kernel pairs, by method (module-level, so that a call allocates no closure). */
const KERNELS = {
  add: [N.add, N.addScalar],
  sub: [N.sub, N.subScalar],
  mul: [N.mul, N.mulScalar],
  // div and remainder are looked up at each call: torch.jit.trace instruments them (their integer
  // -1 guard reads values), which a reference taken here would bypass.
  div: [(s, o, m?: string) => N.div(s, o, m), (s, o, m?: string) => N.divScalar(s, o, m)],
  pow: [N.pow, N.powScalar],
  remainder: [(s, o) => N.remainder(s, o), (s, o) => N.remainderScalar(s, o)],
  // maskedFill(self, mask, value): the operand is the value; `extra` is the mask
  maskedFill: [(s, v, m: Handle) => N.maskedFill(s, m, v), (s, v, m: Handle) => N.maskedFillScalar(s, m, v)],
  // where(condition, self, other): dispatched on `other` with the condition first; `extra` is self
  where: [(c, o, self: Handle) => N.where(c, self, o, 3), (c, o, self: Handle) => N.where(c, self, o, 1)],
  add_: [N.add_, N.add_Scalar],
  sub_: [N.sub_, N.sub_Scalar],
  mul_: [N.mul_, N.mul_Scalar],
  div_: [N.div_, N.div_Scalar],
  fill_: [N.fill_, N.fill_Scalar],
  maskedFill_: [(s, v, m: Handle) => N.maskedFill_(s, m, v), (s, v, m: Handle) => N.maskedFill_Scalar(s, m, v)],
} satisfies Record<string, OperandKernels<unknown, never>>;

// GC fallback for number handles (small tensors): see native/handle.h. The registry's callbacks
// queue the collected handles; they are released in one native call per batch (when the queue is
// full, else in a microtask right after the GC's cleanup task), not one call each.
const pendingReleases = new Float64Array(1024);
let nPending = 0;
let flushQueued = false;
function flushReleases(): void {
  flushQueued = false;
  const n = nPending;
  nPending = 0;
  if (n !== 0) N.releaseHandles(pendingReleases, n);
}
const registry = new FinalizationRegistry<number>((h) => {
  pendingReleases[nPending++] = h;
  if (nPending === pendingReleases.length) flushReleases();
  else if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flushReleases);
  }
});

// Small tensors made outside a tidy scope are registered with the registry in batches, after
// they had the chance to be disposed: registering costs ~0.1 us per tensor, and a registered
// object survives the young-generation GCs (they keep a FinalizationRegistry's targets), so
// `a.add(b).dispose()` paid about a third of its binding cost for a registration it never needed.
// A tensor waits here for at most 1024 creations or until the microtask checkpoint; one disposed
// by then is never registered.
const young: Tensor[] = [];
const youngHandles: number[] = [];
let youngQueued = false;
function registerYoung(): void {
  youngQueued = false;
  for (let i = 0; i < young.length; i++) if (!young[i]._disposed) registry.register(young[i], youngHandles[i]);
  young.length = 0;
  youngHandles.length = 0;
}

/** @internal Arms the GC fallback for a tensor made inside a tidy scope that outlives it. */
export function armGC(t: Tensor): void {
  if (typeof t._h === 'number') registry.register(t, t._h);
}

/** An optional scalar bound (number, boolean or bigint; undefined/null for none). */
function optScalar(v: unknown, fn: string, arg: string): Scalar | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v;
  if (t === 'number' || t === 'boolean' || t === 'bigint') return v as Scalar;
  return typeError(fn, arg, 'a number, a boolean or a bigint', v);
}

/** Whether an optional leading argument is an options object given in its place (`std({unbiased})`). */
function isOptionsArg(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tensor);
}

/** The integer held by a 0-dim integer tensor given where PyTorch takes an int or a Tensor. */
function tensorIndex(fn: string, arg: string, t: Tensor): number {
  checkSelf(t, fn);
  if (t.ndim !== 0 || isFloatingPoint(t.dtype) || t.dtype === 'bool')
    typeError(fn, arg, 'an integer or a 0-dim integer tensor', t);
  return Number(N.item(t._h));
}

/**
 * @internal Checks dims against a tensor of `ndim` dims (a 0-dim tensor takes 0 and -1, as
 * PyTorch), so that an error names the function and argument; `extra` widens the range for
 * ops that insert a dim (unsqueeze, stack).
 */
export function checkDimRange(fn: string, arg: string, dims: readonly number[], ndim: number, extra = 0): void {
  const n = Math.max(ndim + extra, 1);
  for (const d of dims) {
    if (d < -n || d >= n)
      throw new RangeError(
        `${fn}: Dimension out of range: expected ${arg} to be in range of [${-n}, ${n - 1}] ` +
          `for a ${ndim}-D tensor, but got ${d}`,
      );
  }
}

/** Dims for reductions: one integer or a list, checked against `t`'s dims. */
function dimList(v: unknown, fn: string, t: Tensor): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  const dims = typeof v === 'number' ? [checkInt(fn, 'dim', v)] : checkIntList(fn, 'dim', v);
  checkDimRange(fn, 'dim', dims, t.ndim);
  return dims;
}

/** The keyword arguments of `norm` (PyTorch's `p`, `dim`, `keepdim`, `dtype`). */
export interface NormOptions {
  p?: number | 'fro' | 'nuc' | null;
  dim?: number | number[] | null;
  keepdim?: boolean;
  dtype?: DType;
}

let nextSerial = 0;
/** @internal The serial the next Tensor object made will get (every later one's is at least this). */
export function tensorSerial(): number {
  return nextSerial;
}

const wrap = (h: Handle): Tensor => new Tensor(h);

/** The values of `t` as nested arrays (row-major); int64 stays bigint when `exact`, else becomes a number. */
function nest(t: Tensor, exact: boolean): NestedArray<Scalar> {
  const flat = t.data();
  const shape = t.shape;
  const isBool = t.dtype === 'bool';
  const at = (i: number): Scalar => {
    const v = flat[i];
    return isBool ? v !== 0 : typeof v === 'bigint' && !exact ? Number(v) : v;
  };
  if (shape.length === 0) return at(0);
  let pos = 0;
  const build = (d: number): NestedArray<Scalar>[] => {
    const out: NestedArray<Scalar>[] = new Array(shape[d]);
    for (let i = 0; i < shape[d]; i++) out[i] = d === shape.length - 1 ? at(pos++) : build(d + 1);
    return out;
  };
  return build(0);
}
const wrapAll = (hs: Handle[]): Tensor[] => hs.map(wrap);

const DEVICE_RE = /^(cpu|cuda)(:\d+)?$/;
const SLICE_RE = /^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*(?::\s*(-?\d+)?\s*)?$/;

/**
 * A tensor: libtorch's `at::Tensor`, owned by this object.
 *
 * Memory: call `dispose()` (or use `using`, or run the code inside `torch.tidy`) to free the
 * native memory now; otherwise it is freed when the garbage collector collects this object.
 * Using a disposed tensor throws.
 */
export class Tensor {
  /** @internal */
  readonly _h: Handle;
  /**
   * @internal Set by `dispose()`: lets JS name the function and argument when a disposed tensor
   * is used, with a property check instead of a native call. (The native layer still refuses
   * disposed handles on its own; a tensor freed by the GC is unreachable, so needs no flag.)
   */
  _disposed = false;
  private _shape: readonly number[] | undefined;
  private _dtype: DType | undefined;
  private _device: string | undefined;
  /**
   * @internal The order this object was made in (see `tensorSerial`): lets the async forward
   * engine tell the tensors a step made from ones it was given (which it must never dispose).
   */
  readonly _serial: number = nextSerial++;

  /** @internal Forget cached shape/dtype after the native data was replaced (Module.to). */
  _resetMeta(): void {
    this._shape = undefined;
    this._dtype = undefined;
    this._device = undefined;
  }

  /** @internal Tensors are created by torch functions and ops, not with `new`. */
  constructor(h: Handle) {
    // Only handles made by the native layer: a number slot or a Node-API external (an object
    // with a null prototype). Anything else would poison a tidy scope or alias a live tensor.
    if (
      typeof h === 'number'
        ? !(h >= 0 && Number.isSafeInteger(h))
        : h === null || typeof h !== 'object' || Object.getPrototypeOf(h) !== null
    )
      throw new TypeError(
        'Tensor: tensors are made by torch functions (torch.tensor, torch.zeros, ops), not with new Tensor(...)',
      );
    this._h = h;
    // Inside a tidy scope the scope owns the tensor; the GC fallback is armed only for tensors
    // that outlive it (memory.ts calls armGC). Saves ~0.2 us per small tensor in tidy loops.
    const n = scopes.length;
    if (n !== 0) scopes[n - 1].push(this);
    else if (typeof h === 'number') {
      youngHandles.push(h);
      if (young.push(this) === 1024) registerYoung();
      else if (!youngQueued) {
        youngQueued = true;
        queueMicrotask(registerYoung);
      }
    }
  }

  // ---- lifetime ------------------------------------------------------------------------------
  /** Frees the native tensor now. Idempotent. Views made from it stay valid (they share storage). */
  dispose(): void {
    N.dispose(this._h); // throws (and the tensor stays usable) while an async call holds it
    this._disposed = true;
  }
  /** Disposes the tensor at the end of a `using` block (the same as `dispose()`). */
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** Whether `dispose()` (directly, through `using` or `torch.tidy`) has freed this tensor. */
  get isDisposed(): boolean {
    return this._disposed || N.isDisposed(this._h);
  }

  // ---- reading -------------------------------------------------------------------------------
  /** The sizes, like PyTorch's `tensor.shape` (a frozen array). */
  get shape(): readonly number[] {
    if (this._disposed) disposedError('Tensor.shape');
    if (this._shape === undefined) this._shape = Object.freeze(N.shape(this._h));
    return this._shape;
  }
  /** The element type, as a name: `'float32'`, `'int64'`, `'bool'`, ... (PyTorch's `tensor.dtype`). */
  get dtype(): DType {
    if (this._disposed) disposedError('Tensor.dtype');
    if (this._dtype === undefined) this._dtype = DTYPES[N.dtype(this._h)];
    return this._dtype;
  }
  /** Where the data lives: `'cpu'` or `'cuda:N'` (PyTorch's `tensor.device`). */
  get device(): string {
    // cached as shape and dtype are (a tensor's device changes only through Module.to, which resets it)
    if (this._device === undefined) this._device = N.device(this._h);
    return this._device;
  }
  /** The number of dimensions (PyTorch's `tensor.dim()`). */
  dim(): number {
    return this.shape.length;
  }
  /** The number of dimensions, as a property (PyTorch's `tensor.ndim`). */
  get ndim(): number {
    return this.shape.length;
  }
  /** The number of elements: the product of the sizes. */
  numel(): number {
    let n = 1;
    for (const s of this.shape) n *= s;
    return n;
  }
  /** `size()` is the shape; `size(dim)` one size (negative dims count from the end). */
  size(): readonly number[];
  size(dim: number): number;
  size(dim?: number): number | readonly number[] {
    const shape = this.shape;
    if (dim === undefined) return shape;
    checkInt('Tensor.size', 'dim', dim);
    const d = dim < 0 ? dim + shape.length : dim;
    if (d < 0 || d >= shape.length)
      throw new RangeError(
        `Tensor.size: dim ${dim} is out of range for a ${shape.length}-D tensor ` +
          `(expected [${-shape.length}, ${shape.length - 1}])`,
      );
    return shape[d];
  }
  /** The stride of each dimension, in elements (PyTorch's `tensor.stride()`). */
  stride(): number[] {
    return N.stride(this._h);
  }
  /** Whether the elements lie in memory in row-major order without gaps. */
  isContiguous(): boolean {
    return N.isContiguous(this._h);
  }
  /** Whether the dtype is a floating point type (float16, bfloat16, float32, float64). */
  isFloatingPoint(): boolean {
    return isFloatingPoint(this.dtype);
  }
  /**
   * The value of a one-element tensor as a JS number (int64 values beyond 2^53 are rounded), as
   * PyTorch's `item()`; `itemBool()` reads a bool tensor.
   *
   * A bool tensor throws a TypeError naming `itemBool()` rather than returning 0 or 1: typed as a
   * number, a boolean read here would make `mask.any().item() === true` silently false, while
   * a thrown error says at once which accessor to use. (Python's bool is an int; JS's is not.)
   *
   * @throws TypeError for a bool tensor; TorchError when the tensor has more than one element.
   * @example const loss = criterion.forward(out, target); console.log(loss.item().toFixed(4));
   */
  item(): number {
    if (this.dtype === 'bool')
      throw new TypeError('Tensor.item: this is a bool tensor: read it with itemBool() (item() returns numbers)');
    return N.item(this._h) as number;
  }
  /**
   * The value of a one-element bool tensor as a JS boolean (`mask.any().itemBool()`).
   *
   * @throws TypeError for a tensor of another dtype (compare it first: `t.ne(0).itemBool()`, or use `item()`).
   */
  itemBool(): boolean {
    if (this.dtype !== 'bool')
      throw new TypeError(
        `Tensor.itemBool: expected a bool tensor, got a ${this.dtype} tensor: read it with item(), or compare it first`,
      );
    return N.item(this._h) as boolean;
  }
  /**
   * A copy of the values (row-major, contiguous) as a TypedArray: Float32Array for float32 (and
   * for float16/bfloat16, converted), Float64Array, BigInt64Array for int64, Int32Array,
   * Int16Array, Int8Array, Uint8Array for uint8 and bool.
   */
  data(): TypedArray {
    return N.data(this._h);
  }
  /**
   * The values as nested JS arrays of numbers (a bare number for a 0-dim tensor); int64 values
   * become numbers (rounded beyond 2^53; `tolist()` keeps them exact), bool values booleans.
   * The type parameter states the shape you know, so that no cast is needed:
   *
   * @example
   * const rows = logits.softmax(-1).toArray<number[][]>();   // a [N, C] tensor
   * const keep = mask.toArray<boolean[]>();                  // a 1-D bool tensor
   */
  toArray<T extends NestedArray<number | boolean> = NestedArray<number>>(): T {
    return nest(this, false) as T;
  }
  /**
   * PyTorch's `tolist()`: nested JS arrays with the exact values: numbers for floating-point and
   * 8- to 32-bit integer dtypes, bigints for int64 (as Python's ints, never rounded), booleans for
   * bool. A 0-dim tensor gives the bare value.
   *
   * @example const ids = argmax.tolist<bigint[]>();
   */
  tolist<T extends NestedArray<Scalar> = NestedArray<Scalar>>(): T {
    return nest(this, true) as T;
  }
  /** Prints like PyTorch: `tensor([[1., 2.]], requires_grad=True)`. */
  toString(): string {
    checkSelf(this, 'Tensor.toString');
    const gradFn = N.gradFn(this._h);
    return formatTensor({
      shape: this.shape,
      dtype: this.dtype,
      values: this.data(),
      device: this.device,
      requiresGrad: N.requiresGrad(this._h),
      gradFn,
    });
  }
  /** What `console.log` and `util.inspect` print: the same text as `toString()`. */
  [inspect.custom](): string {
    return this.isDisposed ? 'tensor(<disposed>)' : this.toString();
  }

  // ---- arithmetic ----------------------------------------------------------------------------
  /** `self + alpha * other` (broadcasting, type promotion as PyTorch). */
  // The hottest ops keep a hand-written fast path (see README, "Every PyTorch operator"); a call
  // it does not cover (an `out` tensor, ...) takes the generated path, with the same semantics.
  /** `self + alpha * other`; `{alpha, out}` as PyTorch's keywords (a positional alpha is also taken). */
  add(other: TensorOrScalar, alpha?: number | { alpha?: number; out?: Tensor }): Tensor {
    if (isOptionsArg(alpha)) {
      if (alpha.out !== undefined) return callOp('Tensor.add', 'aten::add', this, [other, alpha]) as Tensor;
      alpha = checkOptions<{ alpha?: number }>('Tensor.add', alpha, ['alpha', 'out']).alpha;
    }
    const al = optAlpha('Tensor.add', alpha);
    return wrap(dispatch(KERNELS.add, 'Tensor.add', 'other', this._h, other, al));
  }
  /** `self - alpha * other`; `{alpha, out}` as PyTorch's keywords (a positional alpha is also taken). */
  sub(other: TensorOrScalar, alpha?: number | { alpha?: number; out?: Tensor }): Tensor {
    if (isOptionsArg(alpha)) {
      if (alpha.out !== undefined) return callOp('Tensor.sub', 'aten::sub', this, [other, alpha]) as Tensor;
      alpha = checkOptions<{ alpha?: number }>('Tensor.sub', alpha, ['alpha', 'out']).alpha;
    }
    const al = optAlpha('Tensor.sub', alpha);
    return wrap(dispatch(KERNELS.sub, 'Tensor.sub', 'other', this._h, other, al));
  }
  /** Multiplies by a tensor (broadcast) or a scalar, elementwise. */
  mul(other: TensorOrScalar, opts?: { out?: Tensor }): Tensor {
    if (opts !== undefined) return callOp('Tensor.mul', 'aten::mul', this, [other, opts]) as Tensor;
    return wrap(dispatch(KERNELS.mul, 'Tensor.mul', 'other', this._h, other, undefined));
  }
  /**
   * True division, or with `roundingMode` `'trunc'` / `'floor'` as PyTorch's `rounding_mode`:
   * `x.div(y, {roundingMode: 'floor'})` (PyTorch's keyword), or `x.div(y, 'floor')`.
   */
  div(other: TensorOrScalar, roundingMode?: RoundingMode | DivOptions): Tensor {
    if (isOptionsArg(roundingMode) && (roundingMode as DivOptions).out !== undefined)
      return callOp('Tensor.div', 'aten::div', this, [other, roundingMode]) as Tensor;
    const mode = roundingModeOf('Tensor.div', roundingMode);
    return wrap(dispatch(KERNELS.div, 'Tensor.div', 'other', this._h, other, mode));
  }
  /** Raises each element to the power `exponent` (a tensor, broadcast, or a scalar). */
  pow(exponent: TensorOrScalar, opts?: { out?: Tensor }): Tensor {
    if (opts !== undefined) return callOp('Tensor.pow', 'aten::pow', this, [exponent, opts]) as Tensor;
    return wrap(dispatch(KERNELS.pow, 'Tensor.pow', 'exponent', this._h, exponent, undefined));
  }
  /** The elementwise remainder of the division by `other`, with the divisor's sign (Python's `%`). */
  remainder(other: TensorOrScalar, opts?: { out?: Tensor }): Tensor {
    if (opts !== undefined) return callOp('Tensor.remainder', 'aten::remainder', this, [other, opts]) as Tensor;
    return wrap(dispatch(KERNELS.remainder, 'Tensor.remainder', 'other', this._h, other, undefined));
  }
  /** The matrix product, with PyTorch's broadcasting rules for 1-D and batched operands. */
  matmul(other: Tensor, opts?: { out?: Tensor }): Tensor {
    if (opts !== undefined) return callOp('Tensor.matmul', 'aten::matmul', this, [other, opts]) as Tensor;
    return wrap(N.matmul(this._h, handle(other, 'Tensor.matmul', 'other')));
  }
  /**
   * `matmul` on the libuv thread pool: the event loop keeps running while it computes.
   *
   * Until the Promise settles, this tensor and `other` are in use: `dispose()` and in-place
   * methods on them throw (their data stays alive even if they are garbage-collected). The
   * result is not owned by any `torch.tidy` scope: dispose it yourself. libtorch's intra-op
   * threads (`torch.setNumThreads`) and the pool (`UV_THREADPOOL_SIZE`, default 4) share the
   * same cores: with many concurrent calls, fewer intra-op threads often serve better.
   *
   * @throws (rejects) TorchError with libtorch's message, e.g. on a shape mismatch.
   * @example const y = await x.matmulAsync(w);
   */
  async matmulAsync(other: Tensor): Promise<Tensor> {
    const [h] = await N.matmulAsync(
      handle(this, 'Tensor.matmulAsync', 'self'),
      handle(other, 'Tensor.matmulAsync', 'other'),
    );
    return wrap(h);
  }

  // ---- comparison and logic ------------------------------------------------------------------
  /** `|self - other| <= atol + rtol * |other|` everywhere (PyTorch defaults rtol=1e-5, atol=1e-8). */
  allclose(other: Tensor, opts: { rtol?: number; atol?: number; equalNan?: boolean } = {}): boolean {
    const o = checkOptions<typeof opts>('Tensor.allclose', opts, ['rtol', 'atol', 'equalNan']);
    return N.allclose(
      this._h,
      handle(other, 'Tensor.allclose', 'other'),
      o.rtol === undefined ? 1e-5 : checkNumber('Tensor.allclose', 'rtol', o.rtol),
      o.atol === undefined ? 1e-8 : checkNumber('Tensor.allclose', 'atol', o.atol),
      o.equalNan === undefined ? false : checkBool('Tensor.allclose', 'equalNan', o.equalNan),
    );
  }
  /** Same shape and the same values. */
  equal(other: Tensor): boolean {
    return N.equal(this._h, handle(other, 'Tensor.equal', 'other'));
  }
  /** Where `mask` is true, `value`; elsewhere self (`mask` broadcasts; bool dtype). */
  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    const m = handle(mask, 'Tensor.maskedFill', 'mask');
    return wrap(dispatch(KERNELS.maskedFill, 'Tensor.maskedFill', 'value', this._h, value, m));
  }
  /** `where(condition, self, other)`, as PyTorch's `tensor.where(condition, y)`. */
  where(condition: Tensor, other: TensorOrScalar): Tensor {
    const c = handle(condition, 'Tensor.where', 'condition');
    return wrap(dispatch(KERNELS.where, 'Tensor.where', 'other', c, other, this._h));
  }

  // ---- elementwise ---------------------------------------------------------------------------
  /** The natural logarithm of `1 + x`, accurate for small `x`. */
  log1p(): Tensor {
    return wrap(N.log1p(this._h));
  }
  /** `exp(x) - 1`, accurate for small `x`. */
  expm1(): Tensor {
    return wrap(N.expm1(this._h));
  }
  /** Rounds half to even; with `{decimals}` to that many decimal places (negative: to tens, hundreds...). */
  round(opts?: { decimals?: number }): Tensor {
    const o = checkOptions<{ decimals?: number }>('Tensor.round', opts, ['decimals']);
    const decimals = o.decimals === undefined ? 0 : checkInt('Tensor.round', 'decimals', o.decimals);
    if (decimals === 0) return wrap(N.round(this._h));
    // ATen's round.decimals: nearbyint(x * 10^d) / 10^d, or nearbyint(x / 10^-d) * 10^-d for d < 0
    const scale = 10 ** Math.abs(decimals);
    const scaled = decimals > 0 ? this.mul(scale) : this.div(scale);
    try {
      const r = scaled.round();
      try {
        return decimals > 0 ? r.div(scale) : r.mul(scale);
      } finally {
        r.dispose();
      }
    } finally {
      scaled.dispose();
    }
  }
  /** GELU; `approximate: 'tanh'` for the tanh approximation. */
  gelu(opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
    const o = checkOptions<typeof opts>('Tensor.gelu', opts, ['approximate']);
    if (o.approximate !== undefined && o.approximate !== 'none' && o.approximate !== 'tanh')
      typeError('Tensor.gelu', 'approximate', "'none' or 'tanh'", o.approximate);
    return wrap(N.gelu(this._h, o.approximate));
  }
  /** Softmax along `dim`; `{ dtype }` casts the input first. */
  softmax(dim: number, opts: { dtype?: DType } = {}): Tensor {
    checkInt('Tensor.softmax', 'dim', dim);
    return wrap(
      N.softmax(
        this._h,
        dim,
        optDtypeCode('Tensor.softmax', checkOptions<typeof opts>('Tensor.softmax', opts, ['dtype']).dtype),
      ),
    );
  }
  /** The logarithm of the softmax along `dim`, computed stably; `{ dtype }` casts the input first. */
  logSoftmax(dim: number, opts: { dtype?: DType } = {}): Tensor {
    checkInt('Tensor.logSoftmax', 'dim', dim);
    return wrap(
      N.logSoftmax(
        this._h,
        dim,
        optDtypeCode('Tensor.logSoftmax', checkOptions<typeof opts>('Tensor.logSoftmax', opts, ['dtype']).dtype),
      ),
    );
  }
  /** Clamps to `[min, max]` (either may be omitted with `undefined`/`null`; tensors broadcast). */
  clamp(min?: TensorOrScalar | null, max?: TensorOrScalar | null): Tensor {
    const none = (v: unknown) => v === undefined || v === null;
    if (none(min) && none(max)) throw new TypeError('Tensor.clamp: at least one of min and max must be given');
    if (min instanceof Tensor || max instanceof Tensor) {
      const lo = none(min) ? undefined : handle(min, 'Tensor.clamp', 'min');
      const hi = none(max) ? undefined : handle(max, 'Tensor.clamp', 'max');
      return wrap(N.clamp(this._h, lo, hi, true));
    }
    return wrap(
      N.clamp(
        this._h,
        none(min) ? undefined : scalar(min, 'Tensor.clamp', 'min'),
        none(max) ? undefined : scalar(max, 'Tensor.clamp', 'max'),
        false,
      ),
    );
  }

  // ---- reductions ----------------------------------------------------------------------------
  /**
   * p-norm of all elements or over `dim` (as PyTorch's `norm(p, dim, keepdim)`); `p = 'fro'` is the
   * Frobenius norm (over at most 2 dims). `p = 'nuc'` (the nuclear norm) needs singular values, which
   * this package has no binding for: it throws.
   */
  norm(
    p?: number | 'fro' | 'nuc' | NormOptions | null,
    dim?: number | number[] | null | NormOptions,
    keepdim?: boolean | NormOptions,
    opts?: NormOptions,
  ): Tensor {
    const fn = 'Tensor.norm';
    // PyTorch's keywords may come in one trailing options object: norm({p, dim, keepdim, dtype})
    const given = [p, dim, keepdim, opts];
    let last = given.length;
    while (last > 0 && given[last - 1] === undefined) last--;
    const o = last > 0 && isOptionsArg(given[last - 1]) ? (given[last - 1] as NormOptions) : undefined;
    if (o !== undefined) {
      checkOptions<NormOptions>(fn, o, ['p', 'dim', 'keepdim', 'dtype']);
      given[last - 1] = undefined;
      p = (given[0] ?? o.p) as typeof p;
      dim = (given[1] ?? o.dim) as typeof dim;
      keepdim = (given[2] ?? o.keepdim) as typeof keepdim;
    }
    const order = (p ?? 'fro') as number | 'fro' | 'nuc';
    const k = keepdim === undefined ? false : checkBool(fn, 'keepdim', keepdim);
    const dims = dimList(dim, fn, this);
    const dtype = o?.dtype;
    if (order === 'nuc') {
      // the nuclear norm: the sum of singular values (PyTorch's torch.norm calls nuclear_norm)
      const args: unknown[] = dims ? [this, dims, k] : [this, k];
      return callOp(fn, 'aten::nuclear_norm', undefined, args) as Tensor;
    }
    if (order !== 'fro') checkNumber(fn, 'p', order);
    if (order === 'fro' && dims && dims.length > 2)
      throw new TorchError(`${fn}: the Frobenius norm takes at most 2 dims, got ${dims.length}`);
    const q = order === 'fro' ? 2 : order;
    if (dtype !== undefined) {
      const all = dims ?? [...this.shape.keys()];
      return callOp(fn, 'aten::norm', undefined, [this, q, all, k, { dtype }]) as Tensor;
    }
    if (dims) return wrap(N.norm(this._h, q, dims, k));
    // No dim: every element; keepdim keeps each dim as size 1.
    return wrap(k ? N.norm(this._h, q, [...this.shape.keys()], true) : N.norm(this._h, q));
  }

  // ---- in place: return `this` so calls chain, as PyTorch --------------------------------------
  /** In-place `add`: `this += alpha * other`; returns this tensor. */
  add_(other: TensorOrScalar, alpha?: number | { alpha?: number }): this {
    if (isOptionsArg(alpha)) alpha = checkOptions<{ alpha?: number }>('Tensor.add_', alpha, ['alpha']).alpha;
    const al = optAlpha('Tensor.add_', alpha);
    dispatch(KERNELS.add_, 'Tensor.add_', 'other', this._h, other, al);
    return this;
  }
  /** In-place `sub`: `this -= alpha * other`; returns this tensor. */
  sub_(other: TensorOrScalar, alpha?: number | { alpha?: number }): this {
    if (isOptionsArg(alpha)) alpha = checkOptions<{ alpha?: number }>('Tensor.sub_', alpha, ['alpha']).alpha;
    const al = optAlpha('Tensor.sub_', alpha);
    dispatch(KERNELS.sub_, 'Tensor.sub_', 'other', this._h, other, al);
    return this;
  }
  /** In-place `mul`: `this *= other`; returns this tensor. */
  mul_(other: TensorOrScalar): this {
    dispatch(KERNELS.mul_, 'Tensor.mul_', 'other', this._h, other, undefined);
    return this;
  }
  /** In-place `div`, with the same `roundingMode`. */
  div_(other: TensorOrScalar, roundingMode?: RoundingMode | DivOptions): this {
    const mode = roundingModeOf('Tensor.div_', roundingMode);
    if (mode === undefined) dispatch(KERNELS.div_, 'Tensor.div_', 'other', this._h, other, undefined);
    else {
      // through the guarded out-of-place kernel (integer floor/trunc division traps on INT_MIN / -1)
      const q = this.div(other, mode);
      try {
        N.copy_(this._h, q._h);
      } finally {
        q.dispose();
      }
    }
    return this;
  }
  /** Fills the tensor with `value` (a number or a 0-d tensor), in place; returns this tensor. */
  fill_(value: TensorOrScalar): this {
    dispatch(KERNELS.fill_, 'Tensor.fill_', 'value', this._h, value, undefined);
    return this;
  }
  /** In-place `maskedFill`: writes `value` where the bool `mask` (broadcast) is true; returns this tensor. */
  maskedFill_(mask: Tensor, value: TensorOrScalar): this {
    const m = handle(mask, 'Tensor.maskedFill_', 'mask');
    dispatch(KERNELS.maskedFill_, 'Tensor.maskedFill_', 'value', this._h, value, m);
    return this;
  }
  /** Fills the tensor with zeros, in place; returns this tensor. */
  zero_(): this {
    N.zero_(this._h);
    return this;
  }
  /** Copies `src`'s elements into this tensor (broadcast, converting dtype and device); returns this tensor. */
  copy_(src: Tensor): this {
    N.copy_(this._h, handle(src, 'Tensor.copy_', 'src'));
    return this;
  }
  /**
   * Clamps in place to `[min, max]`: scalars (numbers, booleans or bigints) or tensors that broadcast
   * to this one's shape (PyTorch's `clamp_(min=Tensor, max=Tensor)`); either may be omitted.
   */
  clamp_(min?: TensorOrScalar | null, max?: TensorOrScalar | null): this {
    if (min instanceof Tensor || max instanceof Tensor) {
      const fn = 'Tensor.clamp_';
      const none = (v: unknown) => v === undefined || v === null;
      const lo = none(min) ? undefined : handle(min, fn, 'min');
      const hi = none(max) ? undefined : handle(max, fn, 'max');
      checkSelf(this, fn);
      // Clamp a copy (its backward must not see this tensor after the write), then write it back.
      const src = wrap(N.clone(this._h));
      let r: Tensor;
      try {
        r = wrap(N.clamp(src._h, lo, hi, true));
      } finally {
        src.dispose();
      }
      try {
        // PyTorch's in-place rule: no float result into an integer tensor, nothing but bool into bool.
        const rf = isFloatingPoint(r.dtype);
        if ((rf && !isFloatingPoint(this.dtype)) || (this.dtype === 'bool' && r.dtype !== 'bool'))
          throw new TorchError(`${fn}: result type ${r.dtype} can't be cast to the desired output type ${this.dtype}`);
        N.copy_(this._h, r._h); // libtorch rejects bounds that broadcast past this tensor's shape
      } finally {
        r.dispose();
      }
      return this;
    }
    const lo = optScalar(min, 'Tensor.clamp_', 'min'),
      hi = optScalar(max, 'Tensor.clamp_', 'max');
    if (lo === undefined && hi === undefined)
      throw new TypeError('Tensor.clamp_: at least one of min and max must be given');
    // The native side takes any Scalar (number, boolean or bigint) for the bounds.
    N.clamp_(this._h, lo as number | undefined, hi as number | undefined);
    return this;
  }
  /**
   * Fills with numbers uniform on `[from, to)`; `{ generator }` draws from a `torch.Generator`.
   * @example torch.empty(3).uniform_(-1, 1, { generator: new torch.Generator().manualSeed(0) });
   */
  uniform_(from = 0, to = 1, opts?: { generator?: Generator | null }): this {
    const fn = 'Tensor.uniform_';
    const g = randomGenerator(fn, opts);
    if (g === undefined) N.uniform_(this._h, checkNumber(fn, 'from', from), checkNumber(fn, 'to', to));
    else N.uniformGen_(this._h, checkNumber(fn, 'from', from), checkNumber(fn, 'to', to), g);
    return this;
  }
  /**
   * Fills with normal numbers of mean `mean` and standard deviation `std`; `{ generator }` draws
   * from a `torch.Generator`.
   * @example torch.empty(3).normal_(0, 1, { generator: new torch.Generator().manualSeed(0) });
   */
  normal_(mean = 0, std = 1, opts?: { generator?: Generator | null }): this {
    const fn = 'Tensor.normal_';
    const g = randomGenerator(fn, opts);
    if (g === undefined) N.normal_(this._h, checkNumber(fn, 'mean', mean), checkNumber(fn, 'std', std));
    else N.normalGen_(this._h, checkNumber(fn, 'mean', mean), checkNumber(fn, 'std', std), g);
    return this;
  }

  // ---- shape ---------------------------------------------------------------------------------
  /** `reshape(2, 3)` or `reshape([2, 3])`; one dim may be -1. */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return wrap(N.reshape(this._h, shapeArgs('Tensor.reshape', shape, checkViewShape)));
  }
  /** A view with another shape and the same elements (`-1` infers one size); the strides must allow it. */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return wrap(N.view(this._h, shapeArgs('Tensor.view', shape, checkViewShape)));
  }
  /** Flattens the dimensions `startDim..endDim` into one (a view when possible). */
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(
      N.flatten(
        this._h,
        checkInt('Tensor.flatten', 'startDim', startDim),
        checkInt('Tensor.flatten', 'endDim', endDim),
      ),
    );
  }
  /** Removes dimensions of size 1 (all of them, or only `dim`); a view. */
  squeeze(dim?: number): Tensor {
    if (dim === undefined) return wrap(N.squeeze(this._h));
    checkDimRange('Tensor.squeeze', 'dim', [checkInt('Tensor.squeeze', 'dim', dim)], this.ndim);
    return wrap(N.squeeze(this._h, dim));
  }
  /** Inserts a dimension of size 1 at `dim`; a view. */
  unsqueeze(dim: number): Tensor {
    checkDimRange('Tensor.unsqueeze', 'dim', [checkInt('Tensor.unsqueeze', 'dim', dim)], this.ndim, 1);
    return wrap(N.unsqueeze(this._h, dim));
  }
  /** A view with the dimensions reordered: `x.permute(2, 0, 1)`. */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return wrap(N.permute(this._h, shapeArgs('Tensor.permute', dims, checkIntList)));
  }
  /** Swaps dimensions `dim0` and `dim1`; a view. */
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(
      N.transpose(this._h, checkInt('Tensor.transpose', 'dim0', dim0), checkInt('Tensor.transpose', 'dim1', dim1)),
    );
  }
  /** Transposes a 2-D tensor (a 0-D or 1-D one is returned as is); a view. */
  t(): Tensor {
    return wrap(N.t(this._h));
  }
  /** The transpose of a 2-D tensor (PyTorch's `.T` for 2-D). */
  get T(): Tensor {
    return wrap(
      N.permute(
        this._h,
        this.shape.map((_, i, s) => s.length - 1 - i),
      ),
    );
  }
  /** A view with size-1 dimensions repeated to `shape` without copying (`-1` keeps a size). */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return wrap(N.expand(this._h, shapeArgs('Tensor.expand', shape, checkViewShape)));
  }
  /** `this.expand(other.shape)`. */
  expandAs(other: Tensor): Tensor {
    checkSelf(this, 'Tensor.expandAs');
    handle(other, 'Tensor.expandAs', 'other');
    return wrap(N.expand(this._h, other.shape as number[]));
  }
  /** This tensor if it is contiguous, else a contiguous copy. */
  contiguous(): Tensor {
    return wrap(N.contiguous(this._h));
  }
  /** `length` elements along `dim` from `start` (an integer, or a 0-dim integer tensor as PyTorch allows). */
  narrow(dim: number, start: number | Tensor, length: number): Tensor {
    return wrap(
      N.narrow(
        this._h,
        checkInt('Tensor.narrow', 'dim', dim),
        start instanceof Tensor
          ? tensorIndex('Tensor.narrow', 'start', start)
          : checkInt('Tensor.narrow', 'start', start),
        checkInt('Tensor.narrow', 'length', length, 0),
      ),
    );
  }
  /** The slice at `index` along `dim`, with that dimension removed (a view): `x[:, i]` is `x.select(1, i)`. */
  select(dim: number, index: number): Tensor {
    return wrap(N.select(this._h, checkInt('Tensor.select', 'dim', dim), checkInt('Tensor.select', 'index', index)));
  }
  /** `x[start:end:step]` along `dim` (PyTorch's `slice`; `start`/`end` may be omitted with null). */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return wrap(
      N.slice(
        this._h,
        checkInt('Tensor.slice', 'dim', dim),
        start === undefined || start === null ? undefined : checkInt('Tensor.slice', 'start', start),
        end === undefined || end === null ? undefined : checkInt('Tensor.slice', 'end', end),
        checkInt('Tensor.slice', 'step', step, 1),
      ),
    );
  }
  /** Splits into `chunks` pieces along `dim` (the last may be smaller); views. */
  chunk(chunks: number, dim = 0): Tensor[] {
    return wrapAll(
      N.chunk(this._h, checkInt('Tensor.chunk', 'chunks', chunks, 1), checkInt('Tensor.chunk', 'dim', dim)),
    );
  }
  /** Splits into pieces of `splitSize` (the last may be smaller) or of the given sizes. */
  split(splitSize: number | number[], dim = 0): Tensor[] {
    const sizes =
      typeof splitSize === 'number'
        ? checkInt('Tensor.split', 'splitSize', splitSize, 1)
        : Array.isArray(splitSize)
          ? checkIntList('Tensor.split', 'splitSize', splitSize)
          : typeError('Tensor.split', 'splitSize', 'an integer or an array of integers', splitSize);
    return wrapAll(N.split(this._h, sizes, checkInt('Tensor.split', 'dim', dim)));
  }
  /** Splits along `dim` into its slices, with that dimension removed (views). */
  unbind(dim = 0): Tensor[] {
    return wrapAll(N.unbind(this._h, checkInt('Tensor.unbind', 'dim', dim)));
  }

  /**
   * PyTorch's `x[...]` indexing: `x.index(0)` is `x[0]`, `x.index(':', -1)` is `x[:, -1]`,
   * `x.index('...', null)` is `x[..., None]`, `x.index('1:3')` is `x[1:3]`, and a bool or
   * int64 Tensor does advanced (mask/gather) indexing as `x[mask]`. A 0-dim bool tensor acts
   * as PyTorch's `x[torch.tensor(True)]`: a new axis of size 1 (`true`) or 0 (`false`).
   * If an item fails, every intermediate tensor made so far is disposed before the error
   * propagates.
   */
  index(...given: IndexItem[]): Tensor {
    const fn = 'Tensor.index';
    checkSelf(this, fn);
    // plain arrays are index tensors (int64, or bool for a list of booleans), made here and freed below
    const made: Tensor[] = [];
    const items = given.map((it, i) => {
      if (!Array.isArray(it)) return it;
      try {
        const t = tensorFromList(it);
        made.push(t);
        return t;
      } catch {
        return typeError(fn, `items[${i}]`, 'an array of integers or of booleans', it);
      }
    });
    try {
      return this._index(fn, items);
    } finally {
      for (const t of made) t.dispose();
    }
  }

  private _index(fn: string, items: (number | string | null | Tensor)[]): Tensor {
    const ellipsis = items.filter((it) => it === '...').length;
    if (ellipsis > 1) throw new RangeError(`${fn}: an index can only have a single ellipsis ('...')`);
    // how many existing dims the items consume (a bool mask consumes its own dims)
    let consumed = 0;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it instanceof Tensor) {
        handle(it, fn, `items[${i}]`);
        consumed += it.dtype === 'bool' || it.dtype === 'uint8' ? it.dim() : 1;
      } else if (it !== null && it !== '...') consumed++;
    }
    const shape = this.shape;
    const ndim = shape.length;
    if (consumed > ndim) throw new RangeError(`${fn}: too many indices for a ${ndim}-D tensor: ${consumed} given`);
    let result: Tensor = this;
    const own: Tensor[] = []; // intermediates (and index tensors made here) to free
    const step = (h: Handle): void => {
      if (result !== this) own.push(result);
      result = wrap(h);
    };
    const advanced: (Handle | null)[] = [];
    let hasAdvanced = false;
    let d = 0; // the dim of `result` the next item applies to
    let src = 0; // the dim of `this` the next item consumes
    let ok = false;
    try {
      for (const it of items) {
        if (it === null) {
          step(N.unsqueeze(result._h, d));
          advanced.push(null);
          d++;
        } else if (it === '...') {
          const skip = ndim - consumed;
          for (let k = 0; k < skip; k++) advanced.push(null);
          d += skip;
          src += skip;
        } else if (typeof it === 'number') {
          checkInt(fn, 'index', it);
          const size = shape[src];
          if (it < -size || it >= size)
            throw new RangeError(`${fn}: index ${it} is out of range for dim ${src} with size ${size}`);
          step(N.select(result._h, d, it));
          src++;
        } else if (typeof it === 'string') {
          const m = SLICE_RE.exec(it);
          if (!m) typeError(fn, 'index', "an integer, a slice like ':', '1:3', '::2', '...', null or a Tensor", it);
          const [start, end, stp] = [m[1], m[2], m[3]].map((s) => (s === undefined ? undefined : Number(s)));
          if (stp !== undefined && stp <= 0) throw new RangeError(`${fn}: slice step must be positive, got ${stp}`);
          if (start !== undefined || end !== undefined || (stp !== undefined && stp !== 1))
            step(N.slice(result._h, d, start, end, stp ?? 1));
          advanced.push(null);
          d++;
          src++;
        } else if (it instanceof Tensor) {
          const mask = it.dtype === 'bool' || it.dtype === 'uint8';
          if (mask && it.dim() === 0) {
            // PyTorch: unsqueeze here, then index the new axis with [0] (true) or [] (false).
            step(N.unsqueeze(result._h, d));
            const idx = wrap(
              N.item(it._h) ? N.zeros([1], dtypeCode(fn, 'int64')) : N.empty([0], dtypeCode(fn, 'int64')),
            );
            own.push(idx);
            advanced.push(idx._h);
            d++;
          } else {
            advanced.push(it._h);
            const n = mask ? it.dim() : 1;
            d += n;
            src += n;
          }
          hasAdvanced = true;
        } else {
          typeError(fn, 'index', "an integer, a slice string, '...', null or a Tensor", it);
        }
      }
      if (hasAdvanced) step(N.index(result._h, advanced));
      if (result === this) step(N.slice(this._h, 0, undefined, undefined, 1)); // a view, like x[...]
      ok = true;
    } finally {
      for (const t of own) t.dispose();
      if (!ok && result !== this) result.dispose();
    }
    return result;
  }

  // ---- conversion ----------------------------------------------------------------------------
  /**
   * `to('float64')`, `to('cuda')`, `to({dtype, device, copy})`, or `to(other)` (its dtype and
   * device). A string is a dtype (`'float64'`, `'torch.float64'`) or a device (`'cpu'`,
   * `'cuda'`, `'cuda:N'`); anything else is a TypeError.
   */
  to(target: DType | string | Tensor | { dtype?: DType; device?: string; copy?: boolean }): Tensor {
    const fn = 'Tensor.to';
    if (target instanceof Tensor) {
      handle(target, fn, 'other');
      return wrap(N.to(this._h, dtypeCode(fn, target.dtype), target.device, false));
    }
    if (typeof target === 'string') {
      if (DEVICE_RE.test(target)) return wrap(N.to(this._h, undefined, checkDevice(fn, target), false));
      if (!DTYPES.includes((target.startsWith('torch.') ? target.slice(6) : target) as DType))
        typeError(fn, 'target', `a dtype (${DTYPES.join(', ')}) or a device ('cpu', 'cuda' or 'cuda:N')`, target);
      return wrap(N.to(this._h, dtypeCode(fn, target), undefined, false));
    }
    const o = checkOptions<{ dtype?: DType; device?: string; copy?: boolean }>(fn, target, ['dtype', 'device', 'copy']);
    return wrap(
      N.to(
        this._h,
        optDtypeCode(fn, o.dtype),
        o.device === undefined ? undefined : checkDevice(fn, o.device),
        o.copy === undefined ? false : checkBool(fn, 'copy', o.copy),
      ),
    );
  }
  /** `this.to('cpu')`: this tensor when it is already on the CPU. */
  cpu(): Tensor {
    return wrap(N.to(this._h, undefined, 'cpu', false));
  }
  /** A copy on a CUDA device (`this.to('cuda:N')`); an error when CUDA is not available. */
  cuda(device: number | string = 0): Tensor {
    const dev = typeof device === 'number' ? `cuda:${checkInt('Tensor.cuda', 'device', device, 0)}` : device;
    return wrap(N.to(this._h, undefined, checkDevice('Tensor.cuda', dev), false));
  }
  /** `this.to('float32')`. */
  float(): Tensor {
    return wrap(N.to(this._h, dtypeCode('', 'float32'), undefined, false));
  }
  /** `this.to('float64')`. */
  double(): Tensor {
    return wrap(N.to(this._h, dtypeCode('', 'float64'), undefined, false));
  }
  /** `this.to('float16')`. */
  half(): Tensor {
    return wrap(N.to(this._h, dtypeCode('', 'float16'), undefined, false));
  }
  /** `this.to('int64')`. */
  long(): Tensor {
    return wrap(N.to(this._h, dtypeCode('', 'int64'), undefined, false));
  }
  /** `this.to('int32')`. */
  int(): Tensor {
    return wrap(N.to(this._h, dtypeCode('', 'int32'), undefined, false));
  }
  /** `this.to('bool')`. */
  bool(): Tensor {
    return wrap(N.to(this._h, dtypeCode('', 'bool'), undefined, false));
  }
  /** A copy with its own storage (differentiable, as in PyTorch). */
  clone(): Tensor {
    return wrap(N.clone(this._h));
  }
  /** A tensor sharing storage, cut from the autograd graph. */
  detach(): Tensor {
    return wrap(N.detach(this._h));
  }

  // ---- autograd ------------------------------------------------------------------------------
  /** Whether autograd records operations on this tensor; setting it is `requiresGrad_(flag)` on a leaf. */
  get requiresGrad(): boolean {
    return N.requiresGrad(this._h);
  }
  set requiresGrad(flag: boolean) {
    N.setRequiresGrad(this._h, checkBool('Tensor.requiresGrad', 'value', flag));
  }
  /** Sets `requiresGrad` in place and returns `this` (PyTorch's `requires_grad_`). */
  requiresGrad_(flag = true): this {
    N.setRequiresGrad(this._h, checkBool('Tensor.requiresGrad_', 'requiresGrad', flag));
    return this;
  }
  /** The accumulated gradient, or null. Each read returns a new handle on the same storage. */
  get grad(): Tensor | null {
    const g = N.grad(this._h);
    return g === null ? null : wrap(g);
  }
  /**
   * Sets the gradient (null clears it). As in PyTorch, the value must have this tensor's dtype,
   * device and shape: backward accumulates into it in place.
   */
  set grad(g: Tensor | null) {
    if (g === null || g === undefined) {
      N.setGrad(this._h, null);
      return;
    }
    const fn = 'Tensor.grad';
    const h = handle(g, fn, 'value');
    if (g === this) throw new TypeError(`${fn}: can't assign Variable as its own grad`);
    const dev = this.device,
      gdev = g.device;
    if (g.dtype !== this.dtype || gdev.split(':')[0] !== dev.split(':')[0])
      throw new TypeError(
        `${fn}: assigned grad has data of a different type (a ${g.dtype} tensor on ${gdev} ` +
          `for a ${this.dtype} tensor on ${dev})`,
      );
    if (gdev !== dev)
      throw new TypeError(
        `${fn}: assigned grad has data located on a different device (${gdev} for a tensor on ${dev})`,
      );
    const shape = this.shape,
      gshape = g.shape;
    if (gshape.length !== shape.length || gshape.some((d, i) => d !== shape[i]))
      throw new RangeError(
        `${fn}: assigned grad has data of a different size (shape [${gshape.join(', ')}] ` +
          `for a tensor of shape [${shape.join(', ')}])`,
      );
    N.setGrad(this._h, h);
  }
  /**
   * Whether autograd treats the tensor as a leaf: created by the user, not by an op that records a gradient function.
   */
  get isLeaf(): boolean {
    return N.isLeaf(this._h);
  }
  /** The name of the function that created this tensor (`'AddBackward0'`), or null for leaves. */
  get gradFn(): string | null {
    return N.gradFn(this._h);
  }
  /** Keep `.grad` for this non-leaf tensor after backward. */
  retainGrad(): void {
    N.retainGrad(this._h);
  }
  /**
   * Computes gradients of this tensor w.r.t. the graph leaves (libtorch's autograd). A
   * non-scalar tensor needs `gradient` (same shape), as in PyTorch.
   */
  backward(gradient?: Tensor | null, opts: BackwardOptions = {}): void {
    try {
      N.backward(...backwardArgs('Tensor.backward', this, gradient, opts));
    } catch (e) {
      throw inOurWords(e);
    }
  }
  /**
   * `backward` on the libuv thread pool (see `matmulAsync` for what "in use" means). The
   * gradients are accumulated into the leaves' `.grad` on a pool thread: do not read, zero or
   * step them (optimizer) until the Promise resolves.
   */
  async backwardAsync(gradient?: Tensor | null, opts: BackwardOptions = {}): Promise<void> {
    try {
      await N.backwardAsync(...backwardArgs('Tensor.backwardAsync', this, gradient, opts));
    } catch (e) {
      throw inOurWords(e);
    }
  }
}

/** Options of `backward` and `backwardAsync` (PyTorch's `retain_graph`, `create_graph`). */
export interface BackwardOptions {
  /** Keep the graph's saved values, so that it can be backpropagated through again. Default: `createGraph`. */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. Default false. */
  createGraph?: boolean;
}

/** The checked native arguments of `backward` / `backwardAsync`. */
function backwardArgs(
  fn: string,
  self: Tensor,
  gradient: unknown,
  opts: unknown,
): [Handle, Handle | undefined, boolean | undefined, boolean] {
  const o = checkOptions<BackwardOptions>(fn, opts, ['retainGraph', 'createGraph']);
  return [
    handle(self, fn, 'self'),
    gradient === undefined || gradient === null ? undefined : handle(gradient, fn, 'gradient'),
    o.retainGraph === undefined ? undefined : checkBool(fn, 'retainGraph', o.retainGraph),
    o.createGraph === undefined ? false : checkBool(fn, 'createGraph', o.createGraph),
  ];
}

/**
 * libtorch's error for a second backward through a freed graph names Python's API
 * ("Specify retain_graph=True", "autograd.grad()"): say it in ours. Other errors pass unchanged.
 */
function inOurWords(e: unknown): unknown {
  if (!(e instanceof Error) || !e.message.includes('Specify retain_graph=True')) return e;
  e.message = e.message
    .replace('when you call .backward() or autograd.grad()', 'when you call backward() or backwardAsync()')
    .replace('Specify retain_graph=True', 'Pass {retainGraph: true} (the first backward must too)');
  return e;
}

/** Whether `v` is a Tensor. */
export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}
