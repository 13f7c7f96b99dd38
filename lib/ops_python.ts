// The torch functions PyTorch writes in Python (torch/functional.py, torch/_tensor.py): their
// calling conventions differ from the ATen schemas the generated bindings follow (varargs of
// tensors, a string mode that becomes an int, results that are a tensor or a tuple depending on
// flags), so each is written here the way PyTorch's Python source writes it, over the ATen
// operators. lib/index.ts exports these by name, so they take the place of the generated ones.
import { callBound, callOp, GENERATED, opSet, resolveCall } from './aten';
import { describe, suggestOption } from './errors';
import { isTensor, Tensor } from './tensor';

// ---- binding Python signatures -------------------------------------------------------------------

type Options = Record<string, unknown>;

function isOptions(v: unknown): v is Options {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Tensor) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/**
 * Binds positional arguments and one trailing options object to a Python signature's parameter
 * names (camelCase), as Python binds `f(a, b, c=1)`: by position, then by keyword.
 */
function bindArgs(fn: string, args: readonly unknown[], names: readonly string[]): Options {
  let pos = args;
  let opts: Options = {};
  if (pos.length > 0 && isOptions(pos[pos.length - 1])) {
    opts = pos[pos.length - 1] as Options;
    pos = pos.slice(0, -1);
  }
  if (pos.length > names.length)
    throw new TypeError(`${fn}: takes at most ${names.length} positional argument(s), got ${pos.length}`);
  const out: Options = {};
  pos.forEach((v, i) => {
    if (v !== undefined) out[names[i]] = v;
  });
  for (const [k, v] of Object.entries(opts)) {
    if (!names.includes(k)) {
      const guess = suggestOption(k, names);
      throw new TypeError(`${fn}: unknown option '${k}'${guess ? `, did you mean '${guess}'?` : ''}`);
    }
    if (k in out) throw new TypeError(`${fn}: argument '${k}' given twice (by position and as an option)`);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function flag(fn: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${fn}: ${name} must be a boolean, got ${describe(v)}`);
  return v;
}

function tensorArg(fn: string, name: string, v: unknown): Tensor {
  if (!(v instanceof Tensor)) throw new TypeError(`${fn}: ${name} must be a Tensor, got ${describe(v)}`);
  return v;
}

/** `f(a, b, c)` or `f([a, b, c])`: the tensors of a Python `*tensors` parameter. */
function varTensors(tensors: readonly unknown[]): unknown[] {
  return tensors.length === 1 && Array.isArray(tensors[0]) ? (tensors[0] as unknown[]) : [...tensors];
}

/** Splits a trailing options object off varargs. */
function splitOptions(args: readonly unknown[]): [unknown[], Options] {
  if (args.length > 0 && isOptions(args[args.length - 1])) return [args.slice(0, -1), args[args.length - 1] as Options];
  return [[...args], {}];
}

// ---- torch/functional.py -------------------------------------------------------------------------

/**
 * Broadcasts the given tensors to one shape (PyTorch's `torch.broadcast_tensors(*tensors)`); an
 * array of tensors works too.
 * @example const [a, b] = torch.broadcastTensors(torch.ones(3, 1), torch.ones(1, 4));   // both (3, 4)
 */
export function broadcastTensors(...tensors: Tensor[] | [Tensor[]]): Tensor[] {
  return callOp('torch.broadcastTensors', 'aten::broadcast_tensors', undefined, [varTensors(tensors)]) as Tensor[];
}

/**
 * The shape the given shapes broadcast to (PyTorch's `torch.broadcast_shapes(*shapes)`): each an
 * integer or an array of integers.
 * @example torch.broadcastShapes([2, 1], [3, 1, 4])   // [3, 2, 4]
 */
export function broadcastShapes(...shapes: (number | number[])[]): number[] {
  const fn = 'torch.broadcastShapes';
  let maxLen = 0;
  for (const s of shapes) {
    if (typeof s === 'number') maxLen = Math.max(maxLen, 1);
    else if (Array.isArray(s)) maxLen = Math.max(maxLen, s.length);
    else
      throw new TypeError(
        `${fn}: input shapes should be integers or arrays of integers, got ${describe(s as unknown)}`,
      );
  }
  const result: number[] = new Array(maxLen).fill(1);
  for (const s0 of shapes) {
    const s = typeof s0 === 'number' ? [s0] : s0;
    for (let i = -1; i >= -s.length; i--) {
      const d = s[s.length + i];
      if (!Number.isInteger(d)) throw new TypeError(`${fn}: shape sizes must be integers, got ${describe(d)}`);
      if (d < 0) throw new RangeError(`${fn}: trying to create tensor with negative dimension (${d})`);
      const r = maxLen + i;
      if (d === 1 || d === result[r]) continue;
      if (result[r] !== 1) throw new RangeError(`${fn}: shape mismatch: objects cannot be broadcast to a single shape`);
      result[r] = d;
    }
  }
  return result;
}

/**
 * Splits a tensor into chunks of `splitSizeOrSections` (an integer: equal chunks, the last may be
 * smaller) or of the given sizes, along `dim` (PyTorch's `torch.split`).
 * @example torch.split(torch.arange(5), [2, 3])   // [tensor([0, 1]), tensor([2, 3, 4])]
 */
export function split(tensor: Tensor, splitSizeOrSections: number | number[], options: { dim?: number }): Tensor[];
export function split(
  tensor: Tensor,
  splitSizeOrSections: number | number[],
  dim?: number,
  options?: { dim?: number },
): Tensor[];
export function split(tensor: Tensor, ...args: unknown[]): Tensor[] {
  const fn = 'torch.split';
  const a = bindArgs(fn, args, ['splitSizeOrSections', 'dim']);
  const t = tensorArg(fn, 'tensor', tensor);
  const s = a.splitSizeOrSections;
  const op = Array.isArray(s) ? 'aten::split_with_sizes' : 'aten::split';
  return callOp(fn, op, t, [s, a.dim ?? 0]) as Tensor[];
}

/** The equation letter of a sublist subscript (`0..51`, or `'...'`). */
function subscript(fn: string, n: unknown): string {
  if (n === '...') return '...';
  if (typeof n === 'number' && Number.isInteger(n)) {
    if (n >= 0 && n < 26) return String.fromCharCode(65 + n);
    if (n >= 26 && n < 52) return String.fromCharCode(97 + n - 26);
  }
  throw new RangeError(`${fn}: subscript in subscript list is not within the valid range [0, 52): ${describe(n)}`);
}

/**
 * Einstein summation (PyTorch's `torch.einsum`): `einsum(equation, ...operands)`,
 * `einsum(equation, [operands])`, or the sublist form `einsum(a, [0, 1], b, [1, 2], [0, 2])`
 * (`'...'` in a sublist stands for an ellipsis).
 * @example torch.einsum('ij,jk->ik', a, b)   // a.matmul(b)
 */
export function einsum(equation: string, ...operands: Tensor[] | [Tensor[]]): Tensor;
export function einsum(...sublistForm: (Tensor | (number | '...')[])[]): Tensor;
export function einsum(...args: unknown[]): Tensor {
  const fn = 'torch.einsum';
  if (args.length < 2)
    throw new TypeError(
      `${fn}: must specify the equation string and at least one operand, or at least one operand and its subscripts list`,
    );
  let equation: string;
  let operands: unknown[];
  if (args[0] instanceof Tensor) {
    const sub = (l: unknown): string => {
      if (!Array.isArray(l)) throw new TypeError(`${fn}: expected a subscript list, got ${describe(l)}`);
      return l.map((s) => subscript(fn, s)).join('');
    };
    const lists: string[] = [];
    for (let i = 1; i < args.length; i += 2) lists.push(sub(args[i]));
    equation = lists.join(',');
    if (args.length % 2 === 1) {
      equation += `->${sub(args[args.length - 1])}`;
      operands = args.slice(0, -1).filter((_v, i) => i % 2 === 0);
    } else operands = args.filter((_v, i) => i % 2 === 0);
  } else {
    if (typeof args[0] !== 'string')
      throw new TypeError(
        `${fn}: the first argument must be the equation string or a Tensor, got ${describe(args[0])}`,
      );
    equation = args[0];
    operands = varTensors(args.slice(1));
  }
  return callOp(fn, 'aten::einsum', undefined, [equation, operands]) as Tensor;
}

/**
 * Coordinate grids from 1-D tensors (PyTorch's `torch.meshgrid(*tensors, indexing=None)`):
 * `meshgrid(a, b, {indexing: 'xy'})` or `meshgrid([a, b], {indexing: 'ij'})`.
 * @example const [gx, gy] = torch.meshgrid(torch.arange(3), torch.arange(2), { indexing: 'ij' });
 */
export function meshgrid(...args: (Tensor | Tensor[] | { indexing?: 'ij' | 'xy' })[]): Tensor[] {
  const fn = 'torch.meshgrid';
  const [rest, opts] = splitOptions(args);
  const a = bindArgs(fn, [opts], ['indexing']);
  const kw = a.indexing === undefined || a.indexing === null ? [] : [{ indexing: a.indexing }];
  return callOp(fn, 'aten::meshgrid', undefined, [varTensors(rest), ...kw]) as Tensor[];
}

/**
 * Short-time Fourier transform, as PyTorch's Python `torch.stft`: with `center` (the default)
 * the signal is padded by `nFft / 2` on both sides with `padMode` first. The result is real,
 * with a last dim of 2 (real, imaginary) unless `returnComplex` is true; this package cannot
 * hand complex tensors to JavaScript, so `returnComplex: true` results are only good for
 * `torch.viewAsReal`-style ops on the libtorch side.
 */
export function stft(input: Tensor, nFft: number, options?: StftOptions): Tensor;
export function stft(
  input: Tensor,
  nFft: number,
  hopLength?: number | null,
  winLength?: number | null,
  window?: Tensor | null,
  center?: boolean,
  padMode?: string,
  normalized?: boolean,
  onesided?: boolean | null,
  returnComplex?: boolean | null,
  options?: {
    nFft?: number;
    hopLength?: number | null;
    winLength?: number | null;
    window?: Tensor | null;
    center?: boolean;
    padMode?: string;
    normalized?: boolean;
    onesided?: boolean | null;
    returnComplex?: boolean | null;
  },
): Tensor;
export function stft(input: Tensor, ...args: unknown[]): Tensor {
  return stftImpl('torch.stft', input, args);
}

/**
 * Options of `torch.stft`: `hopLength`, `winLength`, `window`, `center`, `padMode`, `normalized`, `onesided`,
 * `returnComplex`.
 */
export interface StftOptions {
  /** The distance between neighbouring frames (default `floor(nFft / 4)`). */
  hopLength?: number | null;
  /** The size of the window frame (default `nFft`). */
  winLength?: number | null;
  /** The window applied to each frame (default: all ones). */
  window?: Tensor | null;
  /** Pad the input on both sides so that frame t is centered at `t · hopLength` (default true). */
  center?: boolean;
  /** The padding used when `center` is true (default `'reflect'`). */
  padMode?: string;
  /** Return the normalized STFT (default false). */
  normalized?: boolean;
  /** Return only the non-redundant half for real input (default true for real input). */
  onesided?: boolean | null;
  /** Return a complex tensor instead of a last dimension of 2 (real, imaginary); complex results cannot be read in JavaScript. */
  returnComplex?: boolean | null;
}

const STFT_ARGS = [
  'nFft',
  'hopLength',
  'winLength',
  'window',
  'center',
  'padMode',
  'normalized',
  'onesided',
  'returnComplex',
] as const;

function stftImpl(fn: string, input: Tensor, args: unknown[]): Tensor {
  const a = bindArgs(fn, args, STFT_ARGS);
  let x = tensorArg(fn, 'input', input);
  if (flag(fn, 'center', a.center, true)) {
    const nFft = a.nFft;
    if (typeof nFft !== 'number' || !Number.isInteger(nFft))
      throw new TypeError(`${fn}: nFft must be an integer, got ${describe(nFft)}`);
    const signalDim = x.ndim;
    const extended = [...new Array(Math.max(3 - signalDim, 0)).fill(1), ...x.shape];
    const pad = Math.floor(nFft / 2);
    const padded = callOp(fn, 'aten::pad', x.view(extended), [[pad, pad], a.padMode ?? 'reflect']) as Tensor;
    x = padded.view(padded.shape.slice(padded.ndim - signalDim));
  }
  const set = opSet('aten::stft');
  const plain = set?.plain.find((s) => s.overload === '');
  if (set === undefined || plain === undefined) throw new TypeError(`${fn}: this libtorch has no aten::stft`);
  const rest = STFT_ARGS.filter((k) => k !== 'center' && k !== 'padMode').map((k) => a[k]);
  while (rest.length > 0 && rest[rest.length - 1] === undefined) rest.pop();
  return callBound(fn, resolveCall(fn, set, x, rest, plain)) as Tensor;
}

type UniqueResult = Tensor | [Tensor, Tensor] | [Tensor, Tensor, Tensor];

/** PyTorch's boolean_dispatch of unique: the outputs the flags ask for. */
function pickUnique(out: Tensor[], inverse: boolean, counts: boolean): UniqueResult {
  const [output, inv, cnt] = out;
  if (inverse && counts) return [output, inv, cnt];
  if (inverse) return [output, inv];
  if (counts) return [output, cnt];
  return output;
}

/** Options of `torch.unique`: `sorted`, `returnInverse`, `returnCounts` and `dim`. */
export interface UniqueOptions {
  /** Sort the unique elements in ascending order (default true). */
  sorted?: boolean;
  /** Also return, for each element of the input, the index of its unique value. */
  returnInverse?: boolean;
  /** Also return how many times each unique value occurs. */
  returnCounts?: boolean;
  /** The dimension to work along (default: the flattened tensor). */
  dim?: number | null;
}

/**
 * The unique elements (or slices along `dim`) of a tensor (PyTorch's `torch.unique`): a Tensor,
 * or `[output, inverse]`, `[output, counts]`, `[output, inverse, counts]` as `returnInverse` and
 * `returnCounts` ask.
 * @example torch.unique(torch.tensor([3, 1, 3]))   // tensor([1, 3])
 */
export function unique(
  input: Tensor,
  options?: UniqueOptions & { returnInverse?: false; returnCounts?: false },
): Tensor;
export function unique(
  input: Tensor,
  options: UniqueOptions & { returnInverse: true; returnCounts: true },
): [Tensor, Tensor, Tensor];
export function unique(input: Tensor, options: UniqueOptions): [Tensor, Tensor];
export function unique(
  input: Tensor,
  sorted?: boolean,
  returnInverse?: boolean,
  returnCounts?: boolean,
  dim?: number | null,
  options?: UniqueOptions,
): UniqueResult;
export function unique(input: Tensor, ...args: unknown[]): UniqueResult {
  return uniqueImpl('torch.unique', input, args);
}

function uniqueImpl(fn: string, input: Tensor, args: unknown[]): UniqueResult {
  const a = bindArgs(fn, args, ['sorted', 'returnInverse', 'returnCounts', 'dim']);
  const x = tensorArg(fn, 'input', input);
  const sorted = flag(fn, 'sorted', a.sorted, true);
  const inverse = flag(fn, 'returnInverse', a.returnInverse, false);
  const counts = flag(fn, 'returnCounts', a.returnCounts, false);
  const out =
    a.dim === undefined || a.dim === null
      ? (callOp(fn, 'aten::_unique2', x, [sorted, inverse, counts]) as Tensor[])
      : (callOp(fn, 'aten::unique_dim', x, [a.dim, sorted, inverse, counts]) as Tensor[]);
  return pickUnique(out, inverse, counts);
}

/** Options of `torch.uniqueConsecutive`: `returnInverse`, `returnCounts` and `dim`. */
export interface UniqueConsecutiveOptions {
  /** Also return, for each element of the input, the index of its unique value. */
  returnInverse?: boolean;
  /** Also return how many times each unique value occurs. */
  returnCounts?: boolean;
  /** The dimension to work along (default: the flattened tensor). */
  dim?: number | null;
}

/**
 * Collapses runs of equal consecutive elements (PyTorch's `torch.unique_consecutive`): a Tensor,
 * or `[output, inverse]`, `[output, counts]`, `[output, inverse, counts]` as the flags ask.
 * @example torch.uniqueConsecutive(torch.tensor([1, 1, 2, 1]))   // tensor([1, 2, 1])
 */
export function uniqueConsecutive(
  input: Tensor,
  options?: UniqueConsecutiveOptions & { returnInverse?: false; returnCounts?: false },
): Tensor;
export function uniqueConsecutive(
  input: Tensor,
  options: UniqueConsecutiveOptions & { returnInverse: true; returnCounts: true },
): [Tensor, Tensor, Tensor];
export function uniqueConsecutive(input: Tensor, options: UniqueConsecutiveOptions): [Tensor, Tensor];
export function uniqueConsecutive(
  input: Tensor,
  returnInverse?: boolean,
  returnCounts?: boolean,
  dim?: number | null,
  options?: UniqueConsecutiveOptions,
): UniqueResult;
export function uniqueConsecutive(input: Tensor, ...args: unknown[]): UniqueResult {
  return uniqueConsecutiveImpl('torch.uniqueConsecutive', input, args);
}

function uniqueConsecutiveImpl(fn: string, input: Tensor, args: unknown[]): UniqueResult {
  const a = bindArgs(fn, args, ['returnInverse', 'returnCounts', 'dim']);
  const x = tensorArg(fn, 'input', input);
  const inverse = flag(fn, 'returnInverse', a.returnInverse, false);
  const counts = flag(fn, 'returnCounts', a.returnCounts, false);
  const out = callOp(fn, 'aten::unique_consecutive', x, [inverse, counts, a.dim ?? null]) as Tensor[];
  return pickUnique(out, inverse, counts);
}

/**
 * Contracts `a` and `b` over dims (PyTorch's `torch.tensordot`): `dims` an integer n (the last n
 * of `a` with the first n of `b`), a pair of dim lists `[dimsA, dimsB]`, or a Tensor of either.
 * @example torch.tensordot(a, b, { dims: [[1, 0], [0, 1]] })
 */
export function tensordot(a: Tensor, b: Tensor, options: { dims?: number | [number[], number[]] | Tensor }): Tensor;
export function tensordot(
  a: Tensor,
  b: Tensor,
  dims?: number | [number[], number[]] | Tensor,
  options?: { dims?: number | [number[], number[]] | Tensor },
): Tensor;
export function tensordot(a: Tensor, b: Tensor, ...args: unknown[]): Tensor {
  const fn = 'torch.tensordot';
  const o = bindArgs(fn, args, ['dims']);
  let dims = o.dims ?? 2;
  let dimsA: unknown;
  let dimsB: unknown;
  if (dims instanceof Tensor) {
    if (dims.numel() > 1) {
      if (dims.shape[0] !== 2) throw new RangeError(`${fn}: a dims Tensor must have 2 rows, got shape [${dims.shape}]`);
      const rows = dims.tolist() as number[][];
      dims = [rows[0], rows[1]];
    } else dims = Number(dims.item());
  }
  if (typeof dims === 'number') {
    if (!Number.isInteger(dims) || dims < 0) throw new RangeError(`${fn}: expects dims >= 0, but got dims=${dims}`);
    dimsA = Array.from({ length: dims }, (_v, i) => i - (dims as number));
    dimsB = Array.from({ length: dims }, (_v, i) => i);
  } else if (Array.isArray(dims) && dims.length === 2) [dimsA, dimsB] = dims;
  else
    throw new TypeError(
      `${fn}: expects dims to be an integer, a pair of dim lists [dimsA, dimsB] or a Tensor, got ${describe(dims)}`,
    );
  return callOp(fn, 'aten::tensordot', undefined, [a, b, dimsA, dimsB]) as Tensor;
}

/**
 * The cartesian product of 1-D tensors (PyTorch's `torch.cartesian_prod(*tensors)`).
 * @example torch.cartesianProd(torch.tensor([1, 2]), torch.tensor([3, 4]))   // 4 x 2
 */
export function cartesianProd(...tensors: Tensor[] | [Tensor[]]): Tensor {
  return callOp('torch.cartesianProd', 'aten::cartesian_prod', undefined, [varTensors(tensors)]) as Tensor;
}

/**
 * The block-diagonal matrix of the given tensors (PyTorch's `torch.block_diag(*tensors)`).
 * @example torch.blockDiag(torch.ones(2, 2), torch.ones(1, 3))   // 3 x 5
 */
export function blockDiag(...tensors: Tensor[] | [Tensor[]]): Tensor {
  return callOp('torch.blockDiag', 'aten::block_diag', undefined, [varTensors(tensors)]) as Tensor;
}

const CDIST_MODE: Record<string, number | null> = {
  use_mm_for_euclid_dist_if_necessary: null,
  use_mm_for_euclid_dist: 1,
  donot_use_mm_for_euclid_dist: 2,
};

/** How `torch.cdist` computes Euclidean distances. */
export type CdistComputeMode =
  | 'use_mm_for_euclid_dist_if_necessary'
  | 'use_mm_for_euclid_dist'
  | 'donot_use_mm_for_euclid_dist';

/**
 * The p-norm distance between each pair of rows of `x1` and `x2` (PyTorch's `torch.cdist`).
 * @example torch.cdist(a, b, 2, 'donot_use_mm_for_euclid_dist')
 */
export function cdist(x1: Tensor, x2: Tensor, options: { p?: number; computeMode?: CdistComputeMode }): Tensor;
export function cdist(
  x1: Tensor,
  x2: Tensor,
  p?: number,
  computeMode?: CdistComputeMode,
  options?: { p?: number; computeMode?: CdistComputeMode },
): Tensor;
export function cdist(x1: Tensor, x2: Tensor, ...args: unknown[]): Tensor {
  const fn = 'torch.cdist';
  const a = bindArgs(fn, args, ['p', 'computeMode']);
  const mode = a.computeMode ?? 'use_mm_for_euclid_dist_if_necessary';
  if (typeof mode !== 'string' || !Object.hasOwn(CDIST_MODE, mode))
    throw new RangeError(
      `${fn}: ${describe(mode)} is not a valid value for computeMode (${Object.keys(CDIST_MODE)
        .map((k) => `'${k}'`)
        .join(', ')})`,
    );
  return callOp(fn, 'aten::cdist', undefined, [x1, x2, a.p ?? 2, CDIST_MODE[mode]]) as Tensor;
}

function atleast(nd: 1 | 2 | 3, tensors: unknown[]): Tensor | Tensor[] {
  const one = tensors.length === 1 ? tensors[0] : tensors;
  return callOp(`torch.atleast${nd}d`, `aten::atleast_${nd}d`, undefined, [one]) as Tensor | Tensor[];
}

/**
 * Views of the inputs with at least 1 dim (PyTorch's `torch.atleast_1d(*tensors)`): one tensor
 * gives a Tensor, several (or an array) give an array.
 */
export function atleast1d(tensor: Tensor): Tensor;
export function atleast1d(...tensors: Tensor[] | [Tensor[]]): Tensor[];
export function atleast1d(...tensors: unknown[]): Tensor | Tensor[] {
  return atleast(1, tensors);
}
/** Views of the inputs with at least 2 dims (PyTorch's `torch.atleast_2d(*tensors)`). */
export function atleast2d(tensor: Tensor): Tensor;
export function atleast2d(...tensors: Tensor[] | [Tensor[]]): Tensor[];
export function atleast2d(...tensors: unknown[]): Tensor | Tensor[] {
  return atleast(2, tensors);
}
/** Views of the inputs with at least 3 dims (PyTorch's `torch.atleast_3d(*tensors)`). */
export function atleast3d(tensor: Tensor): Tensor;
export function atleast3d(...tensors: Tensor[] | [Tensor[]]): Tensor[];
export function atleast3d(...tensors: unknown[]): Tensor | Tensor[] {
  return atleast(3, tensors);
}

/** Options of `torch.norm`: the order `p` (a number, `'fro'` or `'nuc'`), `dim`, `keepdim` and `dtype`. */
export interface NormOptions {
  /** The order of the norm: a number, `'fro'` (Frobenius) or `'nuc'` (nuclear); default `'fro'`. */
  p?: number | 'fro' | 'nuc' | null;
  /** The dimension(s) to reduce (default: all). */
  dim?: number | number[] | null;
  /** Keep the reduced dimensions with size 1 (default false). */
  keepdim?: boolean;
  /** Compute and return in this dtype. */
  dtype?: string | null;
}

/**
 * The matrix or vector norm (PyTorch's deprecated `torch.norm`): `p` a number, `'fro'` (the
 * default) or `'nuc'` (the nuclear norm, over 2 dims), over `dim` (every element when null).
 * @example torch.norm(a, 'nuc')
 */
export function norm(
  input: Tensor,
  p?: number | 'fro' | 'nuc' | null,
  dim?: number | number[] | null,
  keepdim?: boolean,
  options?: NormOptions,
): Tensor;
export function norm(input: Tensor, options?: NormOptions): Tensor;
export function norm(input: Tensor, p: number | 'fro' | 'nuc' | null, options: NormOptions): Tensor;
export function norm(
  input: Tensor,
  p: number | 'fro' | 'nuc' | null,
  dim: number | number[] | null,
  options: NormOptions,
): Tensor;
export function norm(input: Tensor, ...args: unknown[]): Tensor {
  const fn = 'torch.norm';
  const a = bindArgs(fn, args, ['p', 'dim', 'keepdim', 'dtype']);
  const x = tensorArg(fn, 'input', input);
  const p = a.p === undefined ? 'fro' : a.p;
  const keepdim = flag(fn, 'keepdim', a.keepdim, false);
  const dtype = a.dtype ?? null;
  const dim = a.dim ?? null;
  const ndim = x.ndim;
  const all = Array.from({ length: ndim }, (_v, i) => i);
  if (dim === null && dtype === null && p !== null) {
    if (p === 'fro') return callOp(fn, 'aten::frobenius_norm', x, [[], keepdim]) as Tensor;
    if (typeof p !== 'string') return callOp(fn, 'aten::norm', x, [p, all, keepdim]) as Tensor;
  }
  const dims = dim === null ? null : typeof dim === 'number' ? [dim] : dim;
  if (typeof p === 'string') {
    if (p === 'fro') {
      if (dtype !== null) throw new TypeError(`${fn}: the dtype option is not supported in the Frobenius norm`);
      return callOp(fn, 'aten::frobenius_norm', x, [dims ?? all, keepdim]) as Tensor;
    }
    if (p === 'nuc') {
      if (dtype !== null) throw new TypeError(`${fn}: the dtype option is not supported in the nuclear norm`);
      return (
        dims === null
          ? callOp(fn, 'aten::nuclear_norm', x, [keepdim])
          : callOp(fn, 'aten::nuclear_norm', x, [dims, keepdim])
      ) as Tensor;
    }
    throw new RangeError(`${fn}: only valid string values are 'fro' and 'nuc', found '${p}'`);
  }
  const rest: unknown[] = [p, dims ?? all, keepdim];
  if (dtype !== null) rest.push({ dtype });
  return callOp(fn, 'aten::norm', x, rest) as Tensor;
}

/**
 * The product of the given matrices, in the cheapest order (PyTorch's deprecated
 * `torch.chain_matmul(*matrices)`; `torch.linalg.multiDot` is its replacement).
 */
export function chainMatmul(...matrices: Tensor[] | [Tensor[]]): Tensor {
  return callOp('torch.chainMatmul', 'aten::chain_matmul', undefined, [varTensors(matrices)]) as Tensor;
}

/**
 * The LU factorization of a matrix or batch (PyTorch's deprecated `torch.lu`): `[LU, pivots]`, or
 * `[LU, pivots, infos]` with `getInfos` (errors are then reported in `infos`, not thrown).
 */
export function lu(
  A: Tensor,
  options?: { pivot?: boolean; getInfos?: false },
): [Tensor, Tensor] & {
  /** Element 0: L and U packed in one matrix (L's unit diagonal left out). */
  LU: Tensor;
  /** Element 1: the row interchanges, 1-based as LAPACK's. */
  pivots: Tensor;
};
export function lu(
  A: Tensor,
  options: { pivot?: boolean; getInfos: true },
): [Tensor, Tensor, Tensor] & {
  /** Element 0: L and U packed in one matrix (L's unit diagonal left out). */
  LU: Tensor;
  /** Element 1: the row interchanges, 1-based as LAPACK's. */
  pivots: Tensor;
};
export function lu(A: Tensor, pivot?: boolean, getInfos?: boolean): Tensor[];
export function lu(A: Tensor, ...args: unknown[]): Tensor[] {
  return luImpl('torch.lu', A, args);
}

function luImpl(fn: string, A: Tensor, args: unknown[]): Tensor[] {
  const a = bindArgs(fn, args, ['pivot', 'getInfos']);
  const getInfos = flag(fn, 'getInfos', a.getInfos, false);
  const pivot = flag(fn, 'pivot', a.pivot, true);
  const r = callOp(fn, 'aten::_lu_with_info', tensorArg(fn, 'A', A), [pivot, !getInfos]) as Tensor[];
  const out = getInfos ? [r[0], r[1], r[2]] : [r[0], r[1]];
  Object.assign(out, { LU: r[0], pivots: r[1] });
  return out;
}

/**
 * The indices of the nonzero elements (PyTorch's `torch.nonzero`): an (n, ndim) int64 Tensor, or
 * with `asTuple` one 1-D index tensor per dim (`x.index(...)` takes them).
 */
export function nonzero(input: Tensor, options?: { asTuple?: false }): Tensor;
export function nonzero(input: Tensor, options: { asTuple: true }): Tensor[];
export function nonzero(input: Tensor, options?: { asTuple?: boolean }): Tensor | Tensor[];
export function nonzero(input: Tensor, ...args: unknown[]): Tensor | Tensor[] {
  return nonzeroImpl('torch.nonzero', input, args);
}

function nonzeroImpl(fn: string, input: Tensor, args: unknown[]): Tensor | Tensor[] {
  const a = bindArgs(fn, args, ['asTuple']);
  const x = tensorArg(fn, 'input', input);
  if (flag(fn, 'asTuple', a.asTuple, false)) return callOp(fn, 'aten::nonzero_numpy', x, []) as Tensor[];
  return callOp(fn, 'aten::nonzero', x, []) as Tensor;
}

// ---- Tensor methods PyTorch writes in Python (torch/_tensor.py) ------------------------------------

declare module './tensor' {
  interface Tensor {
    /** The unique elements (see `torch.unique`). */
    unique(options?: UniqueOptions & { returnInverse?: false; returnCounts?: false }): Tensor;
    unique(options: UniqueOptions & { returnInverse: true; returnCounts: true }): [Tensor, Tensor, Tensor];
    unique(options: UniqueOptions): [Tensor, Tensor];
    unique(
      sorted?: boolean,
      returnInverse?: boolean,
      returnCounts?: boolean,
      dim?: number | null,
      options?: UniqueOptions,
    ): UniqueResult;
    /** The LU factorization (see `torch.lu`). */
    lu(options?: { pivot?: boolean; getInfos?: false }): [Tensor, Tensor] & {
      /** Element 0: L and U packed in one matrix (L's unit diagonal left out). */
      LU: Tensor;
      /** Element 1: the row interchanges, 1-based as LAPACK's. */
      pivots: Tensor;
    };
    lu(options: { pivot?: boolean; getInfos: true }): [Tensor, Tensor, Tensor] & {
      /** Element 0: L and U packed in one matrix (L's unit diagonal left out). */
      LU: Tensor;
      /** Element 1: the row interchanges, 1-based as LAPACK's. */
      pivots: Tensor;
    };
    lu(pivot?: boolean, getInfos?: boolean): Tensor[];
    /** Collapses runs of equal consecutive elements (see `torch.uniqueConsecutive`). */
    uniqueConsecutive(options?: UniqueConsecutiveOptions & { returnInverse?: false; returnCounts?: false }): Tensor;
    uniqueConsecutive(
      options: UniqueConsecutiveOptions & { returnInverse: true; returnCounts: true },
    ): [Tensor, Tensor, Tensor];
    uniqueConsecutive(options: UniqueConsecutiveOptions): [Tensor, Tensor];
    /** The indices of the nonzero elements (see `torch.nonzero`). */
    nonzero(options: { asTuple: true }): Tensor[];
    nonzero(options?: { asTuple?: boolean }): Tensor;
    /** `x.to('uint8')` */
    byte(): Tensor;
    /** `x.to('int8')` */
    char(): Tensor;
    /** `x.to('int16')` */
    short(): Tensor;
    /** `x.to('bfloat16')` */
    bfloat16(): Tensor;
  }
}

/** Methods written here; a generated one of the same name is replaced, a hand-written one kept. */
const PY_METHODS: Record<string, (this: Tensor, ...args: unknown[]) => unknown> = {
  unique(...args) {
    return uniqueImpl('Tensor.unique', this, args);
  },
  uniqueConsecutive(...args) {
    return uniqueConsecutiveImpl('Tensor.uniqueConsecutive', this, args);
  },
  lu(...args) {
    return luImpl('Tensor.lu', this, args);
  },
  stft(...args) {
    return stftImpl('Tensor.stft', this, args);
  },
  nonzero(...args) {
    return nonzeroImpl('Tensor.nonzero', this, args);
  },
  byte() {
    return this.to('uint8');
  },
  char() {
    return this.to('int8');
  },
  short() {
    return this.to('int16');
  },
  bfloat16() {
    return this.to('bfloat16');
  },
};

for (const [name, f] of Object.entries(PY_METHODS)) {
  const d = Object.getOwnPropertyDescriptor(Tensor.prototype, name);
  const generated = typeof d?.value === 'function' && Object.hasOwn(d.value as object, GENERATED);
  if (d !== undefined && !generated) continue; // hand-written in lib/tensor.ts: that one stays
  const display = `Tensor.${name}`;
  const method = function (this: Tensor, ...args: unknown[]): unknown {
    if (!isTensor(this)) throw new TypeError(`${display}: called on ${describe(this)}, not a Tensor`);
    if (this._disposed)
      throw new Error(`${display}: this tensor is disposed (it was freed by dispose() or torch.tidy)`);
    return f.apply(this, args);
  };
  Object.defineProperty(method, 'name', { value: name });
  Object.defineProperty(Tensor.prototype, name, {
    value: method,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
