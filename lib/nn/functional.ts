// nn.functional: the kernels behind the layers, callable directly (camelCase of PyTorch's names).
import { checkBool, checkInt, checkIntList, checkNumber, checkOptions, typeError } from '../errors';
import { native as N } from '../native';
import { handle, Tensor } from '../tensor';

const wrap = (h: ReturnType<typeof N.linear>) => new Tensor(h);

/** `x @ weightᵀ + bias`. Shapes: input `(*, in)`, weight `(out, in)`, bias `(out)`. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const fn = 'F.linear';
  return wrap(
    N.linear(handle(input, fn, 'input'), handle(weight, fn, 'weight'), bias ? handle(bias, fn, 'bias') : undefined),
  );
}

/** `x1ᵀ A x2 + b`. */
export function bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const fn = 'F.bilinear';
  return wrap(
    N.bilinear(
      handle(input1, fn, 'input1'),
      handle(input2, fn, 'input2'),
      handle(weight, fn, 'weight'),
      bias ? handle(bias, fn, 'bias') : undefined,
    ),
  );
}

/** Options of `F.layerNorm`: the elementwise affine `weight` and `bias`, and `eps`. */
export interface LayerNormOptions {
  /** The elementwise scale (the normalized shape), or null. */
  weight?: Tensor | null;
  /** The elementwise shift (the normalized shape), or null. */
  bias?: Tensor | null;
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
}
/**
 * Layer normalisation over the trailing `normalizedShape` dims. PyTorch's positional form
 * `layerNorm(input, normalizedShape, weight?, bias?, eps?)` and the options form
 * `layerNorm(input, normalizedShape, {weight, bias, eps})` both work; a trailing options object may
 * follow positional tensors (`layerNorm(x, shape, w, b, {eps})`).
 */
export function layerNorm(input: Tensor, normalizedShape: number[], opts?: LayerNormOptions): Tensor;
export function layerNorm(
  input: Tensor,
  normalizedShape: number[],
  weight: Tensor | null | undefined,
  bias?: Tensor | null | LayerNormOptions,
  eps?: number | LayerNormOptions,
): Tensor;
export function layerNorm(input: Tensor, normalizedShape: number[], ...rest: unknown[]): Tensor {
  const fn = 'F.layerNorm';
  const names = ['weight', 'bias', 'eps'] as const;
  const given: LayerNormOptions = {};
  for (let i = 0; i < rest.length; i++) {
    const v = rest[i];
    if (typeof v === 'object' && v !== null && !(v instanceof Tensor)) {
      // An options object: the last argument, naming only what no positional argument gave.
      if (i !== rest.length - 1) typeError(fn, names[i], i < 2 ? 'a Tensor or null' : 'a number', v);
      const o = checkOptions<LayerNormOptions>(fn, v, names.slice(i));
      Object.assign(given, o);
      break;
    }
    if (i >= names.length) throw new TypeError(`${fn}: takes at most 5 arguments, got ${rest.length + 2}`);
    if (names[i] === 'eps') given.eps = v as number;
    else given[names[i] as 'weight' | 'bias'] = v as Tensor | null | undefined;
  }
  return wrap(
    N.layerNorm(
      handle(input, fn, 'input'),
      checkIntList(fn, 'normalizedShape', normalizedShape),
      given.weight == null ? undefined : handle(given.weight, fn, 'weight'),
      given.bias == null ? undefined : handle(given.bias, fn, 'bias'),
      given.eps === undefined ? 1e-5 : checkNumber(fn, 'eps', given.eps),
    ),
  );
}

/** Options of `F.embedding` (PyTorch's keyword arguments, camelCase). */
export interface EmbeddingOptions {
  /** The row that stays zero and receives no gradient, or null. */
  paddingIdx?: number | null;
  /** Renormalize each looked-up row whose norm exceeds this (in place), or null. */
  maxNorm?: number | null;
  /** The p of the p-norm used with `maxNorm` (default 2). */
  normType?: number;
  /** Scale the gradients by the inverse frequency of the words in the mini-batch (default false). */
  scaleGradByFreq?: boolean;
  /** Ask for a sparse gradient of the weight (default false). */
  sparse?: boolean;
}
/** Looks up rows of `weight` (num, dim) for integer `input` of any shape. */
export function embedding(input: Tensor, weight: Tensor, opts: EmbeddingOptions = {}): Tensor {
  const fn = 'F.embedding';
  const ih = handle(input, fn, 'input'),
    wh = handle(weight, fn, 'weight');
  const o = checkOptions<EmbeddingOptions>(fn, opts, [
    'paddingIdx',
    'maxNorm',
    'normType',
    'scaleGradByFreq',
    'sparse',
  ]);
  if (input.dtype !== 'int64' && input.dtype !== 'int32')
    throw new TypeError(`${fn}: expected input to be an int64 or int32 tensor of indices, got ${input.dtype}`);
  let pad = -1;
  if (o.paddingIdx !== undefined && o.paddingIdx !== null) {
    const n = weight.shape[0];
    pad = checkInt(fn, 'paddingIdx', o.paddingIdx);
    if (pad >= n || pad < -n) throw new RangeError(`${fn}: paddingIdx must be within [-${n}, ${n - 1}], got ${pad}`);
    if (pad < 0) pad += n;
  }
  if (o.maxNorm !== undefined && o.maxNorm !== null)
    N.embeddingRenorm_(
      wh,
      ih,
      checkNumber(fn, 'maxNorm', o.maxNorm),
      o.normType === undefined ? 2 : checkNumber(fn, 'normType', o.normType),
    );
  return wrap(
    N.embedding(
      wh,
      ih,
      pad,
      o.scaleGradByFreq === undefined ? false : checkBool(fn, 'scaleGradByFreq', o.scaleGradByFreq),
      o.sparse === undefined ? false : checkBool(fn, 'sparse', o.sparse),
    ),
  );
}

/** The Gaussian error linear unit, elementwise; `{ approximate: 'tanh' }` uses the tanh approximation. */
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return check('F.gelu', x).gelu(checkOptions<{ approximate?: 'none' | 'tanh' }>('F.gelu', opts, ['approximate']));
}
/** The hyperbolic tangent, elementwise. */
export function tanh(x: Tensor): Tensor {
  return check('F.tanh', x).tanh();
}
/** The logistic sigmoid `1 / (1 + exp(-x))`, elementwise. */
export function sigmoid(x: Tensor): Tensor {
  return check('F.sigmoid', x).sigmoid();
}

function check(fn: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) typeError(fn, 'input', 'a Tensor', x);
  return x;
}

/** Options of `F.scaledDotProductAttention` (PyTorch 2 semantics: a bool mask is true where attention is allowed). */
export interface SdpaOptions {
  /**
   * bool: `true` = ALLOWED (PyTorch 2 SDPA convention, the opposite of MultiheadAttention); float:
   * added. Broadcasts to `(..., L, S)`.
   */
  attnMask?: Tensor | null;
  /** The dropout probability on the attention weights (default 0). */
  dropoutP?: number;
  /** A causal (top-left aligned) mask; cannot be combined with `attnMask`. */
  isCausal?: boolean;
  /** Defaults to 1/√E. */
  scale?: number;
}

/**
 * `softmax(q kᵀ · scale + mask) v` with PyTorch 2 semantics: q `(..., L, E)`, k `(..., S, E)`,
 * v `(..., S, Ev)` → `(..., L, Ev)`. Uses libtorch's `scaled_dot_product_attention` when it has
 * one (2.1+), the same algorithm composed from ATen ops otherwise. A query with no allowed key
 * gives 0 (as PyTorch ≥ 2.5).
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions = {}): Tensor {
  const fn = 'F.scaledDotProductAttention';
  const qh = handle(query, fn, 'query'),
    kh = handle(key, fn, 'key'),
    vh = handle(value, fn, 'value');
  const o = checkOptions<SdpaOptions>(fn, opts, ['attnMask', 'dropoutP', 'isCausal', 'scale']);
  const mask = o.attnMask ?? null;
  if (mask !== null && !(mask instanceof Tensor)) typeError(fn, 'attnMask', 'a Tensor or null', mask);
  const isCausal = o.isCausal === undefined ? false : checkBool(fn, 'isCausal', o.isCausal);
  if (isCausal && mask) throw new TypeError(`${fn}: pass either attnMask or isCausal, not both (as PyTorch)`);
  const p = o.dropoutP === undefined ? 0 : checkNumber(fn, 'dropoutP', o.dropoutP);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${fn}: dropoutP must be in [0, 1], got ${p}`);
  const qd = query.dim();
  if (qd < 2 || key.dim() !== qd || value.dim() !== qd)
    throw new RangeError(
      `${fn}: expected query, key and value with the same number (>= 2) of dims, got ` +
        `[${query.shape.join(', ')}], [${key.shape.join(', ')}], [${value.shape.join(', ')}]`,
    );
  if (query.shape[qd - 1] !== key.shape[qd - 1])
    throw new RangeError(
      `${fn}: query and key must have the same last dim E, got ${query.shape[qd - 1]} and ${key.shape[qd - 1]}`,
    );
  if (key.shape[qd - 2] !== value.shape[qd - 2])
    throw new RangeError(
      `${fn}: key and value must have the same length S, got ${key.shape[qd - 2]} and ${value.shape[qd - 2]}`,
    );
  if (mask && mask.dtype !== 'bool' && !mask.isFloatingPoint())
    throw new TypeError(`${fn}: attnMask must be bool (true = allowed) or floating point, got dtype ${mask.dtype}`);
  return new Tensor(
    N.sdpa(
      qh,
      kh,
      vh,
      mask ? mask._h : undefined,
      p,
      isCausal,
      o.scale === undefined ? undefined : checkNumber(fn, 'scale', o.scale),
    ),
  );
}

export * from '../generated/functional';
export type { CrossEntropyOptions, NLLOptions, Reduction } from './functional_loss';
export {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  huberLoss,
  klDiv,
  l1Loss,
  mseLoss,
  nllLoss,
  smoothL1Loss,
} from './functional_loss';
export * from './functional_py';
