/**
 * Tensor pretty-printing that reproduces PyTorch 1.13's `repr(tensor)` /
 * `str(tensor)` character for character.
 *
 * This is a faithful port of `torch/_tensor_str.py` (default print options:
 * precision 4, threshold 1000, edgeitems 3, linewidth 80, sci_mode auto) for
 * dense, strided, real-valued tensors. It is pure TypeScript and needs no
 * native addon: the caller supplies the shape, dtype and the contiguous
 * row-major values.
 *
 * Python's float formatting (`'{:.4f}'`, `'{:.4e}'`, `'{:.0f}'`) rounds the
 * exact binary value half-to-even; JavaScript's `toFixed`/`toExponential`
 * break exact ties upwards and print one-digit exponents, so numbers are
 * formatted here from their exact decimal expansion with BigInt arithmetic.
 *
 * @packageDocumentation
 */

/** Input accepted by {@link formatTensor}. */
export interface FormatInput {
  /** Sizes of the tensor, outermost first; `[]` for a 0-dim tensor. */
  shape: readonly number[];
  /**
   * Element type: `'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' |
   * 'int32' | 'int16' | 'int8' | 'uint8' | 'bool'`.
   */
  dtype: string;
  /** The contiguous values in row-major order (int64 may arrive as bigint). */
  values: ArrayLike<number | bigint | boolean>;
  /** `'cpu'` (the default, not printed), `'cuda:0'`, ... */
  device?: string;
  /** Printed as `requires_grad=True`, only when there is no `gradFn`. */
  requiresGrad?: boolean;
  /** Name of the autograd node, e.g. `'AddBackward0'`, printed as `grad_fn=<AddBackward0>`. */
  gradFn?: string | null;
}

/** Options of {@link formatTensor}. */
export interface FormatOptions {
  /** Text before the contents; defaults to `'tensor('`. Its length sets the indentation. */
  prefix?: string;
}

type Scalar = number | bigint | boolean;

// PyTorch's default PRINT_OPTS.
const PRECISION = 4;
const THRESHOLD = 1000;
const EDGEITEMS = 3;
const LINEWIDTH = 80;

type DtypeKind = 'float' | 'int' | 'bool';

const DTYPE_KINDS: Readonly<Record<string, DtypeKind>> = {
  float32: 'float',
  float64: 'float',
  float16: 'float',
  bfloat16: 'float',
  int64: 'int',
  int32: 'int',
  int16: 'int',
  int8: 'int',
  uint8: 'int',
  bool: 'bool',
};

/** torch.get_default_dtype(); the dtype an empty tensor may omit. */
const DEFAULT_DTYPE = 'float32';
/** Dtypes whose `dtype=` suffix is hidden for non-empty tensors (`has_default_dtype`). */
const HIDDEN_DTYPES: ReadonlySet<string> = new Set([DEFAULT_DTYPE, 'int64', 'bool']);

// ---------------------------------------------------------------------------
// Exact Python-compatible float formatting
// ---------------------------------------------------------------------------

const f64View = new DataView(new ArrayBuffer(8));
const pow10Cache: bigint[] = [];

function pow10(n: number): bigint {
  let p = pow10Cache[n];
  if (p === undefined) {
    p = 10n ** BigInt(n);
    if (n < 512) pow10Cache[n] = p;
  }
  return p;
}

/** Splits a finite, positive double into `mant * 2 ** exp` with an odd `mant`. */
function decompose(ax: number): { mant: bigint; exp: number } {
  f64View.setFloat64(0, ax);
  const hi = f64View.getUint32(0);
  const lo = f64View.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) {
    exp = -1074; // subnormal
  } else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  while ((mant & 1n) === 0n) {
    mant >>= 1n;
    exp += 1;
  }
  return { mant, exp };
}

/** `mant * 2 ** exp * 10 ** scale` as an exact fraction `num / den`. */
function scaledFraction(mant: bigint, exp: number, scale: number): { num: bigint; den: bigint } {
  let num = mant;
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  if (scale >= 0) num *= pow10(scale);
  else den *= pow10(-scale);
  return { num, den };
}

/** floor(|x| * 10 ** scale) for the exact value of |x|. */
function truncScaled(mant: bigint, exp: number, scale: number): bigint {
  const { num, den } = scaledFraction(mant, exp, scale);
  return num / den;
}

/** |x| * 10 ** scale rounded to an integer, exact ties to even (like Python). */
function roundScaled(mant: bigint, exp: number, scale: number): bigint {
  const { num, den } = scaledFraction(mant, exp, scale);
  let q = num / den;
  const twice = (num - q * den) * 2n;
  if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  return q;
}

function nonFiniteStr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  return x > 0 ? 'inf' : '-inf';
}

function isNegative(x: number): boolean {
  return x < 0 || Object.is(x, -0);
}

/** Python's `'{:.<digits>f}'.format(x)`. */
function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return nonFiniteStr(x);
  const sign = isNegative(x) ? '-' : '';
  let s: string;
  if (x === 0) {
    s = '0'.repeat(digits + 1);
  } else {
    const { mant, exp } = decompose(Math.abs(x));
    s = roundScaled(mant, exp, digits)
      .toString()
      .padStart(digits + 1, '0');
  }
  if (digits > 0) s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  return sign + s;
}

/** Python's `'{:.<digits>e}'.format(x)` (at least two exponent digits). */
function formatExp(x: number, digits: number): string {
  if (!Number.isFinite(x)) return nonFiniteStr(x);
  const sign = isNegative(x) ? '-' : '';
  let mantissaDigits: string;
  let e = 0;
  if (x === 0) {
    mantissaDigits = '0'.repeat(digits + 1);
  } else {
    const ax = Math.abs(x);
    const { mant, exp } = decompose(ax);
    // Find e with 10 ** e <= |x| < 10 ** (e + 1), exactly.
    e = Math.floor(Math.log10(ax));
    const lower = pow10(digits);
    const upper = pow10(digits + 1);
    for (;;) {
      const t = truncScaled(mant, exp, digits - e);
      if (t < lower) e -= 1;
      else if (t >= upper) e += 1;
      else break;
    }
    let q = roundScaled(mant, exp, digits - e);
    if (q === upper) {
      q = lower;
      e += 1;
    }
    mantissaDigits = q.toString();
  }
  const mantissa = digits > 0 ? `${mantissaDigits[0]}.${mantissaDigits.slice(1)}` : mantissaDigits;
  const expStr = String(Math.abs(e)).padStart(2, '0');
  return `${sign}${mantissa}e${e < 0 ? '-' : '+'}${expStr}`;
}

// ---------------------------------------------------------------------------
// Element conversion
// ---------------------------------------------------------------------------

function toFloat(v: Scalar): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return v ? 1 : 0;
}

/** Python's `'{}'.format(int)`. */
function intStr(v: Scalar): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (!Number.isInteger(v)) {
    throw new TypeError(`formatTensor: non-integer value ${String(v)} in an integer tensor`);
  }
  // Avoid JS exponent notation ('1e+21') and print -0 as '0'.
  return Math.abs(v) < 1e21 ? String(v === 0 ? 0 : v) : BigInt(v).toString();
}

/** Python's `'{}'.format(bool)`. */
function boolStr(v: Scalar): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'bigint') return v !== 0n ? 'True' : 'False';
  return v !== 0 ? 'True' : 'False';
}

// ---------------------------------------------------------------------------
// _Formatter
// ---------------------------------------------------------------------------

interface ElementFormatter {
  /** Width every formatted element is left-padded to. */
  readonly maxWidth: number;
  /** Formats one element, padded to `maxWidth`. */
  format(v: Scalar): string;
}

function padLeft(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

/** Port of `_Formatter` for integer and bool tensors. */
function makeIntegralFormatter(shown: readonly Scalar[], str: (v: Scalar) => string): ElementFormatter {
  let maxWidth = 1;
  for (const v of shown) maxWidth = Math.max(maxWidth, str(v).length);
  return { maxWidth, format: (v) => padLeft(str(v), maxWidth) };
}

/** Port of `_Formatter` for floating tensors (float16/bfloat16 values are already widened). */
function makeFloatFormatter(shown: readonly Scalar[]): ElementFormatter {
  let intMode = true;
  let sciMode = false;
  let maxWidth = 1;

  const nonzeroFinite: number[] = [];
  for (const s of shown) {
    const v = toFloat(s);
    if (Number.isFinite(v) && v !== 0) nonzeroFinite.push(v);
  }

  if (nonzeroFinite.length > 0) {
    let min = Infinity;
    let max = 0;
    for (const v of nonzeroFinite) {
      const a = Math.abs(v);
      if (a < min) min = a;
      if (a > max) max = a;
      if (intMode && v !== Math.ceil(v)) intMode = false;
    }
    if (intMode) {
      // All numbers are integers: printed as '1.', so add 1 for the point.
      if (max / min > 1000.0 || max > 1.0e8) {
        sciMode = true;
        for (const v of nonzeroFinite) maxWidth = Math.max(maxWidth, formatExp(v, PRECISION).length);
      } else {
        for (const v of nonzeroFinite) maxWidth = Math.max(maxWidth, formatFixed(v, 0).length + 1);
      }
    } else if (max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4) {
      sciMode = true;
      for (const v of nonzeroFinite) maxWidth = Math.max(maxWidth, formatExp(v, PRECISION).length);
    } else {
      for (const v of nonzeroFinite) maxWidth = Math.max(maxWidth, formatFixed(v, PRECISION).length);
    }
  }

  const format = (s: Scalar): string => {
    const v = toFloat(s);
    let ret: string;
    if (sciMode) {
      ret = formatExp(v, PRECISION);
    } else if (intMode) {
      ret = formatFixed(v, 0);
      if (Number.isFinite(v)) ret += '.';
    } else {
      ret = formatFixed(v, PRECISION);
    }
    return padLeft(ret, maxWidth);
  };
  return { maxWidth, format };
}

// ---------------------------------------------------------------------------
// Layout: get_summarized_data, _vector_str, _tensor_str_with_formatter
// ---------------------------------------------------------------------------

interface Layout {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly values: ArrayLike<Scalar>;
  readonly summarize: boolean;
}

/** Indices printed along a dimension of `size` elements (null stands for the ellipsis). */
function shownIndices(size: number, summarize: boolean): (number | null)[] {
  const out: (number | null)[] = [];
  if (summarize && size > 2 * EDGEITEMS) {
    for (let i = 0; i < EDGEITEMS; i++) out.push(i);
    out.push(null);
    for (let i = size - EDGEITEMS; i < size; i++) out.push(i);
  } else {
    for (let i = 0; i < size; i++) out.push(i);
  }
  return out;
}

/** The elements `get_summarized_data` keeps (all of them when not summarizing). */
function collectShown(layout: Layout, dim: number, offset: number, out: Scalar[]): void {
  if (dim === layout.shape.length) {
    out.push(layout.values[offset] as Scalar);
    return;
  }
  const stride = layout.strides[dim] as number;
  for (const i of shownIndices(layout.shape[dim] as number, layout.summarize)) {
    if (i !== null) collectShown(layout, dim + 1, offset + i * stride, out);
  }
}

function vectorStr(layout: Layout, dim: number, offset: number, indent: number, fmt: ElementFormatter): string {
  // length includes spaces and comma between elements
  const elementLength = fmt.maxWidth + 2;
  const elementsPerLine = Math.max(1, Math.floor((LINEWIDTH - indent) / elementLength));
  const stride = layout.strides[dim] as number;
  const data = shownIndices(layout.shape[dim] as number, layout.summarize).map((i) =>
    i === null ? ' ...' : fmt.format(layout.values[offset + i * stride] as Scalar),
  );
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += elementsPerLine) {
    lines.push(data.slice(i, i + elementsPerLine).join(', '));
  }
  return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
}

function tensorStrWithFormatter(
  layout: Layout,
  dim: number,
  offset: number,
  indent: number,
  fmt: ElementFormatter,
): string {
  const ndim = layout.shape.length - dim;
  if (ndim === 0) return fmt.format(layout.values[offset] as Scalar);
  if (ndim === 1) return vectorStr(layout, dim, offset, indent, fmt);
  const stride = layout.strides[dim] as number;
  const slices = shownIndices(layout.shape[dim] as number, layout.summarize).map((i) =>
    i === null ? '...' : tensorStrWithFormatter(layout, dim + 1, offset + i * stride, indent + 1, fmt),
  );
  return `[${slices.join(`,${'\n'.repeat(ndim - 1)}${' '.repeat(indent + 1)}`)}]`;
}

/** Port of `_tensor_str` for a non-empty tensor. */
function tensorStr(
  shape: readonly number[],
  kind: DtypeKind,
  values: ArrayLike<Scalar>,
  numel: number,
  indent: number,
): string {
  const strides: number[] = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= shape[d] as number;
  }
  const layout: Layout = { shape, strides, values, summarize: numel > THRESHOLD };
  const shown: Scalar[] = [];
  collectShown(layout, 0, 0, shown);
  let fmt: ElementFormatter;
  if (kind === 'float') fmt = makeFloatFormatter(shown);
  else if (kind === 'int') fmt = makeIntegralFormatter(shown, intStr);
  else fmt = makeIntegralFormatter(shown, boolStr);
  return tensorStrWithFormatter(layout, 0, 0, indent, fmt);
}

/** Port of `_add_suffixes` (force_newline is only used for sparse tensors). */
function addSuffixes(tensorString: string, suffixes: readonly string[], indent: number): string {
  const parts = [tensorString];
  let lastLineLen = tensorString.length - tensorString.lastIndexOf('\n') + 1;
  for (const suffix of suffixes) {
    if (lastLineLen + suffix.length + 2 > LINEWIDTH) {
      parts.push(`,\n${' '.repeat(indent)}${suffix}`);
      lastLineLen = indent + suffix.length;
    } else {
      parts.push(`, ${suffix}`);
      lastLineLen += suffix.length + 2;
    }
  }
  parts.push(')');
  return parts.join('');
}

/** Python's `str(tuple(shape))`. */
function tupleStr(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * Formats a dense tensor exactly like PyTorch 1.13's `repr(tensor)` with the
 * default print options (precision 4, threshold 1000, edgeitems 3,
 * linewidth 80, automatic scientific notation).
 *
 * Tensors with more than 1000 elements are summarized with `...` (three items
 * kept at each edge of every dimension); float formatting switches between
 * integer style (`1.`), fixed (`1.2346`) and scientific (`1.2346e+10`) modes
 * as PyTorch's `_Formatter` does. Suffixes are appended in PyTorch's order:
 * `device='...'` (when not CPU), `size=(...)` (empty, non-1-D tensors),
 * `dtype=torch.X` (for dtypes other than float32, int64 and bool; for empty
 * tensors whenever it is not float32), then `grad_fn=<Name>` or
 * `requires_grad=True`.
 *
 * @example
 * ```ts
 * formatTensor({ shape: [2], dtype: 'float64', values: [1, 2.5] });
 * // "tensor([1.0000, 2.5000], dtype=torch.float64)"
 * ```
 *
 * @param t - Shape, dtype, row-major values and autograd/device metadata.
 * @param opts - `prefix` replaces `'tensor('` (the closing `)` is always added).
 * @returns The multi-line representation, without a trailing newline.
 * @throws RangeError if the shape is not a list of non-negative integers or
 *   the number of values does not match it.
 * @throws TypeError on an unsupported dtype or a non-integer value in an
 *   integer tensor.
 */
export function formatTensor(t: FormatInput, opts?: FormatOptions): string {
  if (t === null || typeof t !== 'object') {
    throw new TypeError('formatTensor: expected an object with shape, dtype and values');
  }
  const prefix = opts?.prefix ?? 'tensor(';
  if (typeof prefix !== 'string') throw new TypeError('formatTensor: prefix must be a string');
  const { shape, dtype, values } = t;
  const kind = typeof dtype === 'string' && Object.hasOwn(DTYPE_KINDS, dtype) ? DTYPE_KINDS[dtype] : undefined;
  if (kind === undefined) throw new TypeError(`formatTensor: unsupported dtype ${String(dtype)}`);
  if (shape === null || typeof shape !== 'object' || typeof shape.length !== 'number') {
    throw new RangeError('formatTensor: shape must be an array of sizes');
  }
  const dims: number[] = Array.from(shape);
  let numel = 1;
  for (const size of dims as unknown[]) {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`formatTensor: invalid size ${String(size)} in shape [${dims.join(', ')}]`);
    }
    numel *= size;
  }
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new TypeError('formatTensor: values must be an array-like');
  }
  if (values.length !== numel) {
    throw new RangeError(`formatTensor: shape [${dims.join(', ')}] needs ${numel} values, got ${values.length}`);
  }

  const indent = prefix.length;
  const suffixes: string[] = [];
  const device = t.device;
  if (device && device.split(':')[0] !== 'cpu') suffixes.push(`device='${device}'`);

  let body: string;
  if (numel === 0) {
    // Explicitly print the shape if it is not (0,), to match NumPy behavior.
    if (dims.length !== 1) suffixes.push(`size=${tupleStr(dims)}`);
    // An empty tensor has no elements to infer int64 from, so only float32 is implied.
    if (dtype !== DEFAULT_DTYPE) suffixes.push(`dtype=torch.${dtype}`);
    body = '[]';
  } else {
    if (!HIDDEN_DTYPES.has(dtype)) suffixes.push(`dtype=torch.${dtype}`);
    body = tensorStr(dims, kind, values, numel, indent);
  }

  if (t.gradFn) suffixes.push(`grad_fn=<${t.gradFn}>`);
  else if (t.requiresGrad) suffixes.push('requires_grad=True');

  return addSuffixes(prefix + body, suffixes, indent);
}
