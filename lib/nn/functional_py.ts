// The torch.nn.functional functions PyTorch writes in Python (torch/nn/functional.py) rather than
// binding straight to one ATen operator: activations with `inplace`, pools with `return_indices`,
// norms, interpolate, the losses built from several ops, dropout variants. Each mirrors PyTorch's
// Python code on top of the ATen operators, with PyTorch's argument order: positional arguments,
// then one trailing options object whose keys are PyTorch's keyword names in camelCase.
import { callBound, callOp, opSet, resolveCall } from '../aten';
import type { DType } from '../dtype';
import { checkOptions, typeError } from '../errors';
import { Tensor } from '../tensor';
import { checkReduction, type Reduction } from './functional_loss';

// ---- argument parsing ----------------------------------------------------------------------------

type Prefixes<P extends unknown[]> = P extends [...infer H, unknown] ? Prefixes<H> | P : [];
/**
 * The rest arguments of a Python-style function: any prefix of the positional parameters `P`,
 * optionally followed by one options object `O` naming the others.
 */
export type PyArgs<P extends unknown[], O> = Prefixes<P> | [...Prefixes<P>, O];

type IntOrList = number | number[];
type Size = number | (number | null)[];

function isOptions(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Tensor) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** The parsed arguments of one call: positional ones and the options object, by (camelCase) name. */
class Args {
  constructor(
    readonly fn: string,
    private readonly v: Record<string, unknown>,
  ) {}

  given(k: string): boolean {
    return this.v[k] !== undefined && this.v[k] !== null;
  }
  raw(k: string): unknown {
    return this.v[k];
  }
  need(k: string): unknown {
    const x = this.v[k];
    if (x === undefined) throw new TypeError(`${this.fn}: missing required argument '${k}'`);
    return x;
  }
  num(k: string, d: number): number {
    const x = this.v[k];
    if (x === undefined) return d;
    if (typeof x !== 'number') typeError(this.fn, k, 'a number', x);
    return x;
  }
  numOrNull(k: string): number | null {
    const x = this.v[k];
    if (x === undefined || x === null) return null;
    if (typeof x !== 'number') typeError(this.fn, k, 'a number or null', x);
    return x;
  }
  int(k: string, d?: number): number {
    const x = d === undefined ? this.need(k) : (this.v[k] ?? d);
    if (typeof x !== 'number' || !Number.isInteger(x)) typeError(this.fn, k, 'an integer', x);
    return x;
  }
  intOrNull(k: string): number | null {
    const x = this.v[k];
    if (x === undefined || x === null) return null;
    if (typeof x !== 'number' || !Number.isInteger(x)) typeError(this.fn, k, 'an integer or null', x);
    return x;
  }
  bool(k: string, d: boolean): boolean {
    const x = this.v[k];
    if (x === undefined) return d;
    if (typeof x !== 'boolean') typeError(this.fn, k, 'a boolean', x);
    return x;
  }
  boolOrNull(k: string): boolean | null {
    const x = this.v[k];
    if (x === undefined || x === null) return null;
    if (typeof x !== 'boolean') typeError(this.fn, k, 'a boolean or null', x);
    return x;
  }
  str<S extends string>(k: string, d: S, allowed: readonly S[]): S {
    const x = this.v[k] ?? d;
    if (typeof x !== 'string' || !allowed.includes(x as S))
      typeError(this.fn, k, allowed.map((a) => `'${a}'`).join(', '), x);
    return x as S;
  }
  tensor(k: string): Tensor {
    const x = this.need(k);
    if (!(x instanceof Tensor)) typeError(this.fn, k, 'a Tensor', x);
    return x;
  }
  tensorOrNull(k: string): Tensor | null {
    const x = this.v[k];
    if (x === undefined || x === null) return null;
    if (!(x instanceof Tensor)) typeError(this.fn, k, 'a Tensor or null', x);
    return x;
  }
  /** An int or a list of `n` ints (PyTorch's `_single`/`_pair`/`_triple`). */
  ints(k: string, n: number, d?: IntOrList): number[] {
    const x = d === undefined ? this.need(k) : (this.v[k] ?? d);
    return expand(this.fn, k, x, n);
  }
  intsOrNull(k: string, n: number): number[] | null {
    const x = this.v[k];
    return x === undefined || x === null ? null : expand(this.fn, k, x, n);
  }
  dtype(k: string): DType | null {
    const x = this.v[k];
    if (x === undefined || x === null) return null;
    if (typeof x !== 'string') typeError(this.fn, k, 'a dtype name', x);
    return x as DType;
  }
  /** `reduction`, or the legacy `sizeAverage` / `reduce` pair when either is given (as PyTorch). */
  reduction(): Reduction {
    if (this.given('sizeAverage') || this.given('reduce')) {
      const sizeAverage = this.boolOrNull('sizeAverage') ?? true;
      const reduce = this.boolOrNull('reduce') ?? true;
      return sizeAverage && reduce ? 'mean' : reduce ? 'sum' : 'none';
    }
    return checkReduction(this.fn, this.v.reduction ?? 'mean');
  }
}

function expand(fn: string, k: string, x: unknown, n: number): number[] {
  if (typeof x === 'number') {
    if (!Number.isInteger(x)) typeError(fn, k, 'an integer or a list of integers', x);
    return new Array<number>(n).fill(x);
  }
  if (!Array.isArray(x) || !x.every((e) => typeof e === 'number' && Number.isInteger(e)))
    typeError(fn, k, `an integer or a list of ${n} integers`, x);
  if (x.length === 1 && n > 1) return new Array<number>(n).fill(x[0] as number);
  if (x.length !== n) typeError(fn, k, `an integer or a list of ${n} integers`, x);
  return x as number[];
}

/**
 * Binds a Python-style call: `input` checked as a Tensor, then the positional parameters `names`
 * (in PyTorch's order), then one optional options object naming any of `names` and `kwOnly`.
 */
function parse(
  fn: string,
  input: unknown,
  rest: readonly unknown[],
  names: readonly string[],
  kwOnly: readonly string[] = [],
  inputName = 'input',
): [Tensor, Args] {
  if (!(input instanceof Tensor)) typeError(fn, inputName, 'a Tensor', input);
  const pos = rest.slice();
  let opts: Record<string, unknown> = {};
  if (pos.length > 0 && isOptions(pos[pos.length - 1]))
    opts = checkOptions<Record<string, unknown>>(fn, pos.pop(), [...names, ...kwOnly]) as Record<string, unknown>;
  while (pos.length > 0 && pos[pos.length - 1] === undefined) pos.pop();
  if (pos.length > names.length)
    throw new TypeError(
      `${fn}: takes at most ${names.length + 1} positional arguments but ${pos.length + 1} were given` +
        (kwOnly.length ? ` (${kwOnly.join(', ')} go in the options object)` : ''),
    );
  const v: Record<string, unknown> = { ...opts };
  pos.forEach((x, i) => {
    if (x === undefined) return;
    if (opts[names[i]] !== undefined)
      throw new TypeError(`${fn}: got multiple values for argument '${names[i]}' (positional and in the options)`);
    v[names[i]] = x;
  });
  return [input, new Args(fn, v)];
}

const op = (fn: string, name: string, ...args: unknown[]): Tensor =>
  callOp(fn, `aten::${name}`, undefined, args) as Tensor;
const opN = (fn: string, name: string, ...args: unknown[]): Tensor[] =>
  callOp(fn, `aten::${name}`, undefined, args) as Tensor[];

/** Calls one named overload (`aten::upsample_nearest1d.vec`), bypassing overload resolution. */
function opAt(fn: string, name: string, overload: string, ...args: unknown[]): Tensor {
  const set = opSet(`aten::${name}`);
  const s = set?.all.find((x) => x.overload === overload);
  if (set === undefined || s === undefined)
    throw new TypeError(`${fn}: this libtorch has no aten::${name}.${overload}`);
  return callBound(fn, resolveCall(fn, set, undefined, args, s)) as Tensor;
}

const REDUCTION_ENUM: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reduce(fn: string, x: Tensor, r: Reduction): Tensor {
  return r === 'mean' ? op(fn, 'mean', x) : r === 'sum' ? op(fn, 'sum', x) : x;
}

function checkP(fn: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${fn}: dropout probability has to be between 0 and 1, but got ${p}`);
}

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

// ---- activations ---------------------------------------------------------------------------------

type InplaceOpts = { inplace?: boolean };

/** `max(0, x)`; `inplace` writes into `input`. */
export function relu(input: Tensor, ...rest: PyArgs<[inplace: boolean], InplaceOpts>): Tensor {
  const [x, a] = parse('F.relu', input, rest, ['inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'relu_' : 'relu', x);
}

/** `x` where `x > threshold`, else `value`. */
export function threshold(
  input: Tensor,
  ...rest: PyArgs<
    [threshold: number, value: number, inplace: boolean],
    { threshold?: number; value?: number; inplace?: boolean }
  >
): Tensor {
  const [x, a] = parse('F.threshold', input, rest, ['threshold', 'value', 'inplace']);
  const t = a.need('threshold'),
    v = a.need('value');
  return op(a.fn, a.bool('inplace', false) ? 'threshold_' : 'threshold', x, t, v);
}

/** Gated linear unit: `a * sigmoid(b)` for the halves of `input` along `dim`. */
export function glu(input: Tensor, ...rest: PyArgs<[dim: number], { dim?: number }>): Tensor {
  const [x, a] = parse('F.glu', input, rest, ['dim']);
  if (x.dim() === 0) throw new RangeError(`${a.fn}: glu does not support scalars because halving size must be even`);
  return op(a.fn, 'glu', x, a.int('dim', -1));
}

/** Clamps to `[minVal, maxVal]`. */
export function hardtanh(
  input: Tensor,
  ...rest: PyArgs<
    [minVal: number, maxVal: number, inplace: boolean],
    { minVal?: number; maxVal?: number; inplace?: boolean }
  >
): Tensor {
  const [x, a] = parse('F.hardtanh', input, rest, ['minVal', 'maxVal', 'inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'hardtanh_' : 'hardtanh', x, a.num('minVal', -1), a.num('maxVal', 1));
}

/** `min(max(0, x), 6)`. */
export function relu6(input: Tensor, ...rest: PyArgs<[inplace: boolean], InplaceOpts>): Tensor {
  const [x, a] = parse('F.relu6', input, rest, ['inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'relu6_' : 'relu6', x);
}

type AlphaOpts = { alpha?: number; inplace?: boolean };

/** Exponential linear unit. */
export function elu(input: Tensor, ...rest: PyArgs<[alpha: number, inplace: boolean], AlphaOpts>): Tensor {
  const [x, a] = parse('F.elu', input, rest, ['alpha', 'inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'elu_' : 'elu', x, a.num('alpha', 1));
}

/** Scaled exponential linear unit. */
export function selu(input: Tensor, ...rest: PyArgs<[inplace: boolean], InplaceOpts>): Tensor {
  const [x, a] = parse('F.selu', input, rest, ['inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'selu_' : 'selu', x);
}

/** Continuously differentiable exponential linear unit. */
export function celu(input: Tensor, ...rest: PyArgs<[alpha: number, inplace: boolean], AlphaOpts>): Tensor {
  const [x, a] = parse('F.celu', input, rest, ['alpha', 'inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'celu_' : 'celu', x, a.num('alpha', 1));
}

/** `max(0, x) + negativeSlope * min(0, x)`. */
export function leakyRelu(
  input: Tensor,
  ...rest: PyArgs<[negativeSlope: number, inplace: boolean], { negativeSlope?: number; inplace?: boolean }>
): Tensor {
  const [x, a] = parse('F.leakyRelu', input, rest, ['negativeSlope', 'inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'leaky_relu_' : 'leaky_relu', x, a.num('negativeSlope', 0.01));
}

/** Randomized leaky ReLU: a slope drawn from `U(lower, upper)` when `training`, their mean otherwise. */
export function rrelu(
  input: Tensor,
  ...rest: PyArgs<
    [lower: number, upper: number, training: boolean, inplace: boolean],
    { lower?: number; upper?: number; training?: boolean; inplace?: boolean }
  >
): Tensor {
  const [x, a] = parse('F.rrelu', input, rest, ['lower', 'upper', 'training', 'inplace']);
  return op(
    a.fn,
    a.bool('inplace', false) ? 'rrelu_' : 'rrelu',
    x,
    a.num('lower', 1 / 8),
    a.num('upper', 1 / 3),
    a.bool('training', false),
  );
}

/** `log(sigmoid(x))`. */
export function logsigmoid(input: Tensor): Tensor {
  const [x, a] = parse('F.logsigmoid', input, [], []);
  return op(a.fn, 'log_sigmoid', x);
}

/** Piecewise-linear sigmoid: `relu6(x + 3) / 6`. */
export function hardsigmoid(input: Tensor, ...rest: PyArgs<[inplace: boolean], InplaceOpts>): Tensor {
  const [x, a] = parse('F.hardsigmoid', input, rest, ['inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'hardsigmoid_' : 'hardsigmoid', x);
}

/** `x * relu6(x + 3) / 6`. */
export function hardswish(input: Tensor, ...rest: PyArgs<[inplace: boolean], InplaceOpts>): Tensor {
  const [x, a] = parse('F.hardswish', input, rest, ['inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'hardswish_' : 'hardswish', x);
}

/** `x * sigmoid(x)`. */
export function silu(input: Tensor, ...rest: PyArgs<[inplace: boolean], InplaceOpts>): Tensor {
  const [x, a] = parse('F.silu', input, rest, ['inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'silu_' : 'silu', x);
}

/** `x * tanh(softplus(x))`. */
export function mish(input: Tensor, ...rest: PyArgs<[inplace: boolean], InplaceOpts>): Tensor {
  const [x, a] = parse('F.mish', input, rest, ['inplace']);
  return op(a.fn, a.bool('inplace', false) ? 'mish_' : 'mish', x);
}

/** `x / (1 + |x|)`. */
export function softsign(input: Tensor): Tensor {
  const [x, a] = parse('F.softsign', input, [], []);
  return op(a.fn, 'div', x, op(a.fn, 'add', op(a.fn, 'abs', x), 1));
}

/** `x - tanh(x)`. */
export function tanhshrink(input: Tensor): Tensor {
  const [x, a] = parse('F.tanhshrink', input, [], []);
  return op(a.fn, 'sub', x, op(a.fn, 'tanh', x));
}

type SoftmaxOpts = { dim?: number | null; _stacklevel?: number; dtype?: DType | null };
type SoftmaxArgs = PyArgs<[dim: number | null, _stacklevel: number, dtype: DType | null], SoftmaxOpts>;

/** PyTorch's deprecated implicit dim: 0 for 0-, 1- and 3-d input, 1 otherwise. */
function softmaxDim(a: Args, x: Tensor): number {
  const d = a.intOrNull('dim');
  if (d !== null) return d;
  const n = x.dim();
  return n === 0 || n === 1 || n === 3 ? 0 : 1;
}

function softmaxLike(fn: string, name: string, negate: boolean, input: Tensor, rest: readonly unknown[]): Tensor {
  const [x, a] = parse(fn, input, rest, ['dim', '_stacklevel', 'dtype']);
  const dim = softmaxDim(a, x);
  const dtype = a.dtype('dtype');
  const src = negate ? op(fn, 'neg', x) : x;
  return dtype === null ? op(fn, name, src, dim) : op(fn, name, src, dim, { dtype });
}

/** Softmax along `dim` (PyTorch's implicit dim when null); `dtype` casts the input first. */
export function softmax(input: Tensor, ...rest: SoftmaxArgs): Tensor {
  return softmaxLike('F.softmax', 'softmax', false, input, rest);
}
/** `softmax(-x)`. */
export function softmin(input: Tensor, ...rest: SoftmaxArgs): Tensor {
  return softmaxLike('F.softmin', 'softmax', true, input, rest);
}
/** `log(softmax(x))`, computed stably. */
export function logSoftmax(input: Tensor, ...rest: SoftmaxArgs): Tensor {
  return softmaxLike('F.logSoftmax', 'log_softmax', false, input, rest);
}

/**
 * Samples from the Gumbel-softmax distribution: `softmax((logits + g) / tau)` with Gumbel noise
 * `g`; `hard` returns the one-hot argmax with the soft sample's gradient (straight through).
 */
export function gumbelSoftmax(
  logits: Tensor,
  ...rest: PyArgs<
    [tau: number, hard: boolean, eps: number, dim: number],
    { tau?: number; hard?: boolean; eps?: number; dim?: number }
  >
): Tensor {
  const [x, a] = parse('F.gumbelSoftmax', logits, rest, ['tau', 'hard', 'eps', 'dim'], [], 'logits');
  const fn = a.fn;
  const tau = a.num('tau', 1),
    dim = a.int('dim', -1);
  a.num('eps', 1e-10); // deprecated, no effect (as PyTorch)
  const gumbels = op(fn, 'neg', op(fn, 'log', op(fn, 'exponential_', op(fn, 'empty_like', x))));
  const ySoft = op(fn, 'softmax', op(fn, 'div', op(fn, 'add', x, gumbels), tau), dim);
  if (!a.bool('hard', false)) return ySoft;
  const index = opN(fn, 'max', ySoft, dim, true)[1];
  const yHard = op(fn, 'scatter_', op(fn, 'zeros_like', x), dim, index, 1.0);
  return op(fn, 'add', op(fn, 'sub', yHard, op(fn, 'detach', ySoft)), ySoft);
}

// ---- dropout -------------------------------------------------------------------------------------

type DropoutOpts = { p?: number; training?: boolean; inplace?: boolean };
type DropoutArgs = PyArgs<[p: number, training: boolean, inplace: boolean], DropoutOpts>;

function dropoutLike(fn: string, name: string, training: boolean, input: Tensor, rest: readonly unknown[]): Tensor {
  const [x, a] = parse(fn, input, rest, ['p', 'training', 'inplace']);
  const p = a.num('p', 0.5);
  checkP(fn, p);
  return op(fn, a.bool('inplace', false) ? `${name}_` : name, x, p, a.bool('training', training));
}

/** Zeroes elements with probability `p` and scales the rest by `1/(1-p)` when `training` (default true). */
export function dropout(input: Tensor, ...rest: DropoutArgs): Tensor {
  return dropoutLike('F.dropout', 'dropout', true, input, rest);
}
/** Dropout that keeps SELU's self-normalising mean and variance (`training` defaults to false). */
export function alphaDropout(input: Tensor, ...rest: DropoutArgs): Tensor {
  return dropoutLike('F.alphaDropout', 'alpha_dropout', false, input, rest);
}
/** Alpha dropout of whole channels (`training` defaults to false). */
export function featureAlphaDropout(input: Tensor, ...rest: DropoutArgs): Tensor {
  return dropoutLike('F.featureAlphaDropout', 'feature_alpha_dropout', false, input, rest);
}

function channelDropout(fn: string, ranks: [number, number], input: Tensor, rest: readonly unknown[]): Tensor {
  const [x, a] = parse(fn, input, rest, ['p', 'training', 'inplace']);
  const p = a.num('p', 0.5);
  checkP(fn, p);
  const training = a.bool('training', true),
    inplace = a.bool('inplace', false);
  const n = x.dim();
  if (ranks[0] === 2 && n !== 2 && n !== 3)
    throw new RangeError(
      `${fn}: Expected 2D or 3D input, but received a ${n}D input. Note that dropout1d exists to provide ` +
        'channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional batch ' +
        'dimension (i.e. 2D or 3D inputs).',
    );
  // dropout2d treats 3-d input as batched (N, C, L), as PyTorch 1.13 does
  const batched = ranks[0] === 3 && ranks[1] === 4 ? true : n === ranks[1];
  let t = x;
  if (!batched) t = inplace ? op(fn, 'unsqueeze_', x, 0) : op(fn, 'unsqueeze', x, 0);
  let r = op(fn, inplace ? 'feature_dropout_' : 'feature_dropout', t, p, training);
  if (!batched) r = inplace ? op(fn, 'squeeze_', r, 0) : op(fn, 'squeeze', r, 0);
  return r;
}
/** Zeroes whole channels of `(N, C, L)` or `(C, L)` input. */
export function dropout1d(input: Tensor, ...rest: DropoutArgs): Tensor {
  return channelDropout('F.dropout1d', [2, 3], input, rest);
}
/** Zeroes whole channels of `(N, C, H, W)` input (3-d input is taken as `(N, C, L)`, as PyTorch 1.13). */
export function dropout2d(input: Tensor, ...rest: DropoutArgs): Tensor {
  return channelDropout('F.dropout2d', [3, 4], input, rest);
}
/** Zeroes whole channels of `(N, C, D, H, W)` or `(C, D, H, W)` input. */
export function dropout3d(input: Tensor, ...rest: DropoutArgs): Tensor {
  return channelDropout('F.dropout3d', [4, 5], input, rest);
}

// ---- normalisation -------------------------------------------------------------------------------

function verifyBatchSize(fn: string, size: readonly number[]): void {
  let prod = size[0];
  for (let i = 2; i < size.length; i++) prod *= size[i];
  if (prod === 1)
    throw new RangeError(
      `${fn}: Expected more than 1 value per channel when training, got input size ${shapeStr(size)}`,
    );
}

/** Options of `F.batchNorm`: running statistics, affine parameters, `training`, `momentum`, `eps`. */
export interface BatchNormOptions {
  /** The running mean `(C)`, updated in training mode, or null. */
  runningMean?: Tensor | null;
  /** The running variance `(C)`, updated in training mode, or null. */
  runningVar?: Tensor | null;
  /** The per-channel scale `(C)`, or null. */
  weight?: Tensor | null;
  /** The per-channel shift `(C)`, or null. */
  bias?: Tensor | null;
  /** Normalize with the batch statistics and update the running ones (default false). */
  training?: boolean;
  /** The weight of each new batch in the running statistics (default 0.1). */
  momentum?: number;
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
}
/**
 * Batch normalisation over dim 1. With `training` it normalises by the batch statistics and
 * updates `runningMean` / `runningVar` in place (`momentum`); otherwise it uses them.
 */
export function batchNorm(
  input: Tensor,
  ...rest: PyArgs<
    [
      runningMean: Tensor | null,
      runningVar: Tensor | null,
      weight: Tensor | null,
      bias: Tensor | null,
      training: boolean,
      momentum: number,
      eps: number,
    ],
    BatchNormOptions
  >
): Tensor {
  const [x, a] = parse('F.batchNorm', input, rest, [
    'runningMean',
    'runningVar',
    'weight',
    'bias',
    'training',
    'momentum',
    'eps',
  ]);
  a.need('runningMean');
  a.need('runningVar');
  const training = a.bool('training', false);
  if (training) verifyBatchSize(a.fn, x.shape);
  return op(
    a.fn,
    'batch_norm',
    x,
    a.tensorOrNull('weight'),
    a.tensorOrNull('bias'),
    a.tensorOrNull('runningMean'),
    a.tensorOrNull('runningVar'),
    training,
    a.num('momentum', 0.1),
    a.num('eps', 1e-5),
    true,
  );
}

/** Options of `F.instanceNorm`: running statistics, affine parameters, `useInputStats`, `momentum`, `eps`. */
export interface InstanceNormOptions {
  /** The running mean `(C)`, updated in training mode, or null. */
  runningMean?: Tensor | null;
  /** The running variance `(C)`, updated in training mode, or null. */
  runningVar?: Tensor | null;
  /** The per-channel scale `(C)`, or null. */
  weight?: Tensor | null;
  /** The per-channel shift `(C)`, or null. */
  bias?: Tensor | null;
  /** Normalize with the statistics of each instance (default true). */
  useInputStats?: boolean;
  /** The weight of each new batch in the running statistics (default 0.1). */
  momentum?: number;
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
}
/** Normalises each channel of each sample over its spatial dims. */
export function instanceNorm(
  input: Tensor,
  ...rest: PyArgs<
    [
      runningMean: Tensor | null,
      runningVar: Tensor | null,
      weight: Tensor | null,
      bias: Tensor | null,
      useInputStats: boolean,
      momentum: number,
      eps: number,
    ],
    InstanceNormOptions
  >
): Tensor {
  const [x, a] = parse('F.instanceNorm', input, rest, [
    'runningMean',
    'runningVar',
    'weight',
    'bias',
    'useInputStats',
    'momentum',
    'eps',
  ]);
  const use = a.bool('useInputStats', true);
  if (use) {
    let prod = 1;
    for (let i = 2; i < x.dim(); i++) prod *= x.shape[i];
    if (prod === 1)
      throw new RangeError(
        `${a.fn}: Expected more than 1 spatial element when training, got input size ${shapeStr(x.shape)}`,
      );
  }
  return op(
    a.fn,
    'instance_norm',
    x,
    a.tensorOrNull('weight'),
    a.tensorOrNull('bias'),
    a.tensorOrNull('runningMean'),
    a.tensorOrNull('runningVar'),
    use,
    a.num('momentum', 0.1),
    a.num('eps', 1e-5),
    true,
  );
}

/** Normalises over groups of `numGroups` channels (dim 1). */
export function groupNorm(
  input: Tensor,
  ...rest: PyArgs<
    [numGroups: number, weight: Tensor | null, bias: Tensor | null, eps: number],
    { numGroups?: number; weight?: Tensor | null; bias?: Tensor | null; eps?: number }
  >
): Tensor {
  const [x, a] = parse('F.groupNorm', input, rest, ['numGroups', 'weight', 'bias', 'eps']);
  const g = a.int('numGroups');
  if (x.dim() < 2)
    throw new RangeError(`${a.fn}: Expected at least 2 dimensions for input tensor but received ${x.dim()}`);
  verifyBatchSize(a.fn, [Math.floor((x.shape[0] * x.shape[1]) / g), g, ...x.shape.slice(2)]);
  return op(a.fn, 'group_norm', x, g, a.tensorOrNull('weight'), a.tensorOrNull('bias'), a.num('eps', 1e-5), true);
}

/** Local response normalisation across channels (dim 1) over a window of `size` neighbours. */
export function localResponseNorm(
  input: Tensor,
  ...rest: PyArgs<
    [size: number, alpha: number, beta: number, k: number],
    { size?: number; alpha?: number; beta?: number; k?: number }
  >
): Tensor {
  const [x, a] = parse('F.localResponseNorm', input, rest, ['size', 'alpha', 'beta', 'k']);
  const fn = a.fn;
  const size = a.int('size');
  const alpha = a.num('alpha', 1e-4),
    beta = a.num('beta', 0.75),
    k = a.num('k', 1);
  const dim = x.dim();
  if (dim < 3) throw new RangeError(`${fn}: Expected 3D or higher dimensionality input (got ${dim} dimensions)`);
  if (x.numel() === 0) return x;
  let div = op(fn, 'unsqueeze', op(fn, 'mul', x, x), 1);
  const lo = Math.floor(size / 2),
    hi = Math.floor((size - 1) / 2);
  if (dim === 3) {
    div = op(fn, 'constant_pad_nd', div, [0, 0, lo, hi], 0);
    div = op(fn, 'squeeze', op(fn, 'avg_pool2d', div, [size, 1], 1), 1);
  } else {
    const s = x.shape;
    div = op(fn, 'view', div, [s[0], 1, s[1], s[2], -1]);
    div = op(fn, 'constant_pad_nd', div, [0, 0, 0, 0, lo, hi], 0);
    div = op(fn, 'squeeze', op(fn, 'avg_pool3d', div, [size, 1, 1], 1), 1);
    div = op(fn, 'view', div, s);
  }
  div = op(fn, 'pow', op(fn, 'add', op(fn, 'mul', div, alpha), k), beta);
  return op(fn, 'div', x, div);
}

/** `input / max(‖input‖_p along dim, eps)`; `out` receives the result. */
export function normalize(
  input: Tensor,
  ...rest: PyArgs<
    [p: number, dim: number, eps: number, out: Tensor | null],
    { p?: number; dim?: number; eps?: number; out?: Tensor | null }
  >
): Tensor {
  const [x, a] = parse('F.normalize', input, rest, ['p', 'dim', 'eps', 'out']);
  const fn = a.fn;
  const norm = op(fn, 'norm', x, a.num('p', 2), [a.int('dim', 1)], true);
  const out = a.tensorOrNull('out');
  const eps = a.num('eps', 1e-12);
  if (out === null) return op(fn, 'div', x, op(fn, 'expand_as', op(fn, 'clamp_min', norm, eps), x));
  return op(fn, 'div', x, op(fn, 'expand_as', op(fn, 'clamp_min_', norm, eps), x), { out });
}

// ---- pooling -------------------------------------------------------------------------------------

type MaxPoolOpts = {
  kernelSize?: IntOrList;
  stride?: IntOrList | null;
  padding?: IntOrList;
  dilation?: IntOrList;
  ceilMode?: boolean;
  returnIndices?: boolean;
};
type MaxPoolArgs = PyArgs<
  [
    kernelSize: IntOrList,
    stride: IntOrList | null,
    padding: IntOrList,
    dilation: IntOrList,
    ceilMode: boolean,
    returnIndices: boolean,
  ],
  MaxPoolOpts
>;

function maxPool(fn: string, n: 1 | 2 | 3, input: Tensor, rest: readonly unknown[]): Tensor | [Tensor, Tensor] {
  const [x, a] = parse(fn, input, rest, ['kernelSize', 'stride', 'padding', 'dilation', 'ceilMode', 'returnIndices']);
  const k = a.ints('kernelSize', n);
  const stride = a.intsOrNull('stride', n) ?? [];
  const args = [x, k, stride, a.ints('padding', n, 0), a.ints('dilation', n, 1), a.bool('ceilMode', false)];
  if (a.bool('returnIndices', false)) {
    const r = opN(fn, `max_pool${n}d_with_indices`, ...args);
    return [r[0], r[1]];
  }
  return op(fn, `max_pool${n}d`, ...args);
}

/** 1-d max pooling; `returnIndices` also returns the argmax indices (for `maxUnpool1d`). */
export function maxPool1d(input: Tensor, ...rest: MaxPoolArgs): Tensor | [Tensor, Tensor] {
  return maxPool('F.maxPool1d', 1, input, rest);
}
/** 2-d max pooling; `returnIndices` also returns the argmax indices (for `maxUnpool2d`). */
export function maxPool2d(input: Tensor, ...rest: MaxPoolArgs): Tensor | [Tensor, Tensor] {
  return maxPool('F.maxPool2d', 2, input, rest);
}
/** 3-d max pooling; `returnIndices` also returns the argmax indices (for `maxUnpool3d`). */
export function maxPool3d(input: Tensor, ...rest: MaxPoolArgs): Tensor | [Tensor, Tensor] {
  return maxPool('F.maxPool3d', 3, input, rest);
}

type UnpoolArgs = PyArgs<
  [kernelSize: IntOrList, stride: IntOrList | null, padding: IntOrList, outputSize: number[] | null],
  { kernelSize?: IntOrList; stride?: IntOrList | null; padding?: IntOrList; outputSize?: number[] | null }
>;

function unpoolOutputSize(
  fn: string,
  x: Tensor,
  k: number[],
  stride: number[],
  padding: number[],
  outputSize: unknown,
): number[] {
  const n = k.length;
  const s = x.shape;
  const def = k.map((kd, d) => (s[s.length - n + d] - 1) * stride[d] + kd - 2 * padding[d]);
  if (outputSize === undefined || outputSize === null) return def;
  if (!Array.isArray(outputSize) || !outputSize.every((v) => typeof v === 'number'))
    typeError(fn, 'outputSize', 'a list of integers or null', outputSize);
  let o = outputSize as number[];
  if (o.length === n + 2) o = o.slice(2);
  if (o.length !== n)
    throw new RangeError(
      `${fn}: outputSize should be a sequence containing ${n} or ${n + 2} elements, but it has a length of '${outputSize.length}'`,
    );
  for (let d = 0; d < n; d++) {
    const lo = def[d] - stride[d],
      hi = def[d] + stride[d];
    if (!(lo < o[d] && o[d] < hi))
      throw new RangeError(`${fn}: invalid outputSize [${o.join(', ')}] (dim ${d} must be between ${lo} and ${hi})`);
  }
  return o;
}

function maxUnpool(fn: string, n: 1 | 2 | 3, input: Tensor, indices: Tensor, rest: readonly unknown[]): Tensor {
  const [x, a] = parse(fn, input, rest, ['kernelSize', 'stride', 'padding', 'outputSize']);
  if (!(indices instanceof Tensor)) typeError(fn, 'indices', 'a Tensor', indices);
  const k = a.ints('kernelSize', n);
  const stride = a.intsOrNull('stride', n) ?? k;
  const padding = a.ints('padding', n, 0);
  const out = unpoolOutputSize(fn, x, k, stride, padding, a.raw('outputSize'));
  if (n === 1)
    return op(
      fn,
      'squeeze',
      op(fn, 'max_unpool2d', op(fn, 'unsqueeze', x, -1), op(fn, 'unsqueeze', indices, -1), [...out, 1]),
      -1,
    );
  if (n === 2) return op(fn, 'max_unpool2d', x, indices, out);
  return op(fn, 'max_unpool3d', x, indices, out, stride, padding);
}
/** Partial inverse of `maxPool1d`: scatters `input` to `indices`, zeros elsewhere. */
export function maxUnpool1d(input: Tensor, indices: Tensor, ...rest: UnpoolArgs): Tensor {
  return maxUnpool('F.maxUnpool1d', 1, input, indices, rest);
}
/** Partial inverse of `maxPool2d`. */
export function maxUnpool2d(input: Tensor, indices: Tensor, ...rest: UnpoolArgs): Tensor {
  return maxUnpool('F.maxUnpool2d', 2, input, indices, rest);
}
/** Partial inverse of `maxPool3d`. */
export function maxUnpool3d(input: Tensor, indices: Tensor, ...rest: UnpoolArgs): Tensor {
  return maxUnpool('F.maxUnpool3d', 3, input, indices, rest);
}

type LpPoolArgs = PyArgs<
  [normType: number, kernelSize: IntOrList, stride: IntOrList | null, ceilMode: boolean],
  { normType?: number; kernelSize?: IntOrList; stride?: IntOrList | null; ceilMode?: boolean }
>;
function lpPool(fn: string, n: 1 | 2, input: Tensor, rest: readonly unknown[]): Tensor {
  const [x, a] = parse(fn, input, rest, ['normType', 'kernelSize', 'stride', 'ceilMode']);
  const p = a.num('normType', Number.NaN);
  if (Number.isNaN(p)) a.need('normType');
  const k = a.ints('kernelSize', n);
  const stride = a.intsOrNull('stride', n) ?? [];
  const pooled = op(fn, `avg_pool${n}d`, op(fn, 'pow', x, p), k, stride, 0, a.bool('ceilMode', false));
  const kprod = k.reduce((u, v) => u * v, 1);
  const signed = op(fn, 'mul', op(fn, 'sign', pooled), op(fn, 'relu', op(fn, 'abs', pooled)));
  return op(fn, 'pow', op(fn, 'mul', signed, kprod), 1 / p);
}
/** Power-average pooling: `(Σ x^p)^(1/p)` over each window. */
export function lpPool1d(input: Tensor, ...rest: LpPoolArgs): Tensor {
  return lpPool('F.lpPool1d', 1, input, rest);
}
/** 2-d power-average pooling. */
export function lpPool2d(input: Tensor, ...rest: LpPoolArgs): Tensor {
  return lpPool('F.lpPool2d', 2, input, rest);
}

/** PyTorch's `_list_with_default`: null entries of an output size take the input's size. */
function withDefault(fn: string, size: unknown, n: number, shape: readonly number[]): number | number[] {
  if (typeof size === 'number') return size;
  if (!Array.isArray(size)) typeError(fn, 'outputSize', 'an integer or a list of integers (or null)', size);
  if (shape.length <= size.length) throw new RangeError(`${fn}: Input dimension should be at least ${size.length + 1}`);
  const tail = shape.slice(shape.length - size.length);
  void n;
  return size.map((v, i) => (v === null || v === undefined ? tail[i] : (v as number)));
}

type AdaptiveArgs = PyArgs<[outputSize: Size], { outputSize?: Size }>;
function adaptiveAvg(fn: string, n: 2 | 3, input: Tensor, rest: readonly unknown[]): Tensor {
  const [x, a] = parse(fn, input, rest, ['outputSize']);
  return op(fn, `adaptive_avg_pool${n}d`, x, withDefault(fn, a.need('outputSize'), n, x.shape));
}
/** 2-d adaptive average pooling to `outputSize` (a null entry keeps that input size). */
export function adaptiveAvgPool2d(input: Tensor, ...rest: AdaptiveArgs): Tensor {
  return adaptiveAvg('F.adaptiveAvgPool2d', 2, input, rest);
}
/** 3-d adaptive average pooling to `outputSize` (a null entry keeps that input size). */
export function adaptiveAvgPool3d(input: Tensor, ...rest: AdaptiveArgs): Tensor {
  return adaptiveAvg('F.adaptiveAvgPool3d', 3, input, rest);
}

type AdaptiveMaxArgs = PyArgs<
  [outputSize: Size, returnIndices: boolean],
  { outputSize?: Size; returnIndices?: boolean }
>;
function adaptiveMax(fn: string, n: 1 | 2 | 3, input: Tensor, rest: readonly unknown[]): Tensor | [Tensor, Tensor] {
  const [x, a] = parse(fn, input, rest, ['outputSize', 'returnIndices']);
  const size = n === 1 ? a.ints('outputSize', 1) : withDefault(fn, a.need('outputSize'), n, x.shape);
  const r = opN(fn, `adaptive_max_pool${n}d`, x, size);
  return a.bool('returnIndices', false) ? [r[0], r[1]] : r[0];
}
/** 1-d adaptive max pooling; `returnIndices` also returns the argmax indices. */
export function adaptiveMaxPool1d(input: Tensor, ...rest: AdaptiveMaxArgs): Tensor | [Tensor, Tensor] {
  return adaptiveMax('F.adaptiveMaxPool1d', 1, input, rest);
}
/** 2-d adaptive max pooling; `returnIndices` also returns the argmax indices. */
export function adaptiveMaxPool2d(input: Tensor, ...rest: AdaptiveMaxArgs): Tensor | [Tensor, Tensor] {
  return adaptiveMax('F.adaptiveMaxPool2d', 2, input, rest);
}
/** 3-d adaptive max pooling; `returnIndices` also returns the argmax indices. */
export function adaptiveMaxPool3d(input: Tensor, ...rest: AdaptiveMaxArgs): Tensor | [Tensor, Tensor] {
  return adaptiveMax('F.adaptiveMaxPool3d', 3, input, rest);
}

type FractionalArgs = PyArgs<
  [kernelSize: IntOrList, outputSize: IntOrList | null, outputRatio: number | number[] | null, returnIndices: boolean],
  {
    kernelSize?: IntOrList;
    outputSize?: IntOrList | null;
    outputRatio?: number | number[] | null;
    returnIndices?: boolean;
    _randomSamples?: Tensor | null;
  }
>;
function fractional(fn: string, n: 2 | 3, input: Tensor, rest: readonly unknown[]): Tensor | [Tensor, Tensor] {
  const [x, a] = parse(fn, input, rest, ['kernelSize', 'outputSize', 'outputRatio', 'returnIndices', '_randomSamples']);
  const k = a.ints('kernelSize', n);
  let size = a.intsOrNull('outputSize', n);
  if (size === null) {
    const ratio = a.raw('outputRatio');
    if (ratio === undefined || ratio === null)
      throw new TypeError(`${fn}: fractional_max_pool${n}d requires specifying either an outputSize or an outputRatio`);
    const r = typeof ratio === 'number' ? new Array<number>(n).fill(ratio) : (ratio as number[]);
    if (!Array.isArray(r) || r.length !== n || !r.every((v) => typeof v === 'number'))
      typeError(fn, 'outputRatio', `a number or a list of ${n} numbers`, ratio);
    const s = x.shape;
    size = r.map((v, i) => Math.trunc(s[s.length - n + i] * v));
  }
  let samples = a.tensorOrNull('_randomSamples');
  if (samples === null) {
    const batch = x.dim() === n + 1 ? 1 : x.shape[0];
    samples = op(fn, 'rand', [batch, x.shape[x.dim() - n - 1], n], { dtype: x.dtype, device: x.device });
  }
  const r = opN(fn, `fractional_max_pool${n}d`, x, k, size, samples);
  return a.bool('returnIndices', false) ? [r[0], r[1]] : r[0];
}
/** 2-d fractional max pooling (random pseudo-regions), to `outputSize` or `outputRatio` of the input. */
export function fractionalMaxPool2d(input: Tensor, ...rest: FractionalArgs): Tensor | [Tensor, Tensor] {
  return fractional('F.fractionalMaxPool2d', 2, input, rest);
}
/** 3-d fractional max pooling. */
export function fractionalMaxPool3d(input: Tensor, ...rest: FractionalArgs): Tensor | [Tensor, Tensor] {
  return fractional('F.fractionalMaxPool3d', 3, input, rest);
}

// ---- resampling ----------------------------------------------------------------------------------

/** The algorithms of `F.interpolate` (PyTorch's `mode` argument). */
export type InterpolateMode = 'nearest' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear' | 'area' | 'nearest-exact';
const MODES: readonly InterpolateMode[] = [
  'nearest',
  'linear',
  'bilinear',
  'bicubic',
  'trilinear',
  'area',
  'nearest-exact',
];
/** Options of `F.interpolate`: the output `size` or a `scaleFactor`, the `mode`, `alignCorners` and PyTorch's other keywords. */
export interface InterpolateOptions {
  /** The output size (instead of `scaleFactor`). */
  size?: number | number[] | null;
  /** The multiplier of the input size (instead of `size`). */
  scaleFactor?: number | number[] | null;
  /** The interpolation algorithm (default `'nearest'`). */
  mode?: InterpolateMode;
  /** For the linear modes: align the corner pixels of input and output (default false). */
  alignCorners?: boolean | null;
  /** Recompute the scale factor from the computed output size (default false). */
  recomputeScaleFactor?: boolean | null;
  /** Anti-alias when downsampling (bilinear and bicubic modes; default false). */
  antialias?: boolean;
}
type InterpolateArgs = PyArgs<
  [
    size: number | number[] | null,
    scaleFactor: number | number[] | null,
    mode: InterpolateMode,
    alignCorners: boolean | null,
    recomputeScaleFactor: boolean | null,
    antialias: boolean,
  ],
  InterpolateOptions
>;

/**
 * Resamples the spatial dims (all after the first two) to `size` or by `scaleFactor`, with
 * `mode` nearest, linear (3-d), bilinear / bicubic (4-d), trilinear (5-d), area or nearest-exact.
 */
export function interpolate(input: Tensor, ...rest: InterpolateArgs): Tensor {
  const [x, a] = parse('F.interpolate', input, rest, [
    'size',
    'scaleFactor',
    'mode',
    'alignCorners',
    'recomputeScaleFactor',
    'antialias',
  ]);
  return interp(a, x);
}

function interp(a: Args, x: Tensor): Tensor {
  const fn = a.fn;
  const mode = a.str('mode', 'nearest', MODES);
  let alignCorners = a.boolOrNull('alignCorners');
  if (mode === 'nearest' || mode === 'area' || mode === 'nearest-exact') {
    if (alignCorners !== null)
      throw new TypeError(
        `${fn}: align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear`,
      );
  } else if (alignCorners === null) alignCorners = false;
  const dim = x.dim() - 2;
  const size = a.raw('size') ?? null,
    scale = a.raw('scaleFactor') ?? null;
  let outputSize: number[] | null = null;
  let scales: number[] | null = null;
  if (size !== null && scale !== null) throw new TypeError(`${fn}: only one of size or scaleFactor should be defined`);
  if (size !== null) {
    if (Array.isArray(size)) {
      if (size.length !== dim)
        throw new RangeError(
          `${fn}: Input and output must have the same number of spatial dimensions, but got input with spatial ` +
            `dimensions of ${shapeStr(x.shape.slice(2))} and output size of ${shapeStr(size as number[])}. Please ` +
            'provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.',
        );
      outputSize = size as number[];
    } else if (typeof size === 'number') outputSize = new Array<number>(dim).fill(size);
    else typeError(fn, 'size', 'an integer, a list of integers or null', size);
  } else if (scale !== null) {
    if (Array.isArray(scale)) {
      if (scale.length !== dim)
        throw new RangeError(
          `${fn}: Input and scaleFactor must have the same number of spatial dimensions, but got input with ` +
            `spatial dimensions of ${shapeStr(x.shape.slice(2))} and scaleFactor of shape ${shapeStr(scale as number[])}.`,
        );
      scales = scale as number[];
    } else if (typeof scale === 'number') scales = new Array<number>(dim).fill(scale);
    else typeError(fn, 'scaleFactor', 'a number, a list of numbers or null', scale);
  } else throw new TypeError(`${fn}: either size or scaleFactor should be defined`);
  let recompute = a.boolOrNull('recomputeScaleFactor');
  if (recompute === true && size !== null)
    throw new TypeError(`${fn}: recomputeScaleFactor is not meaningful with an explicit size.`);
  if (mode === 'area' && outputSize === null) recompute = true;
  if (recompute === true && scales !== null) {
    const sc = scales;
    outputSize = sc.map((s, i) => Math.floor(x.shape[i + 2] * s));
    scales = null;
  }
  const antialias = a.bool('antialias', false);
  if (antialias && !((mode === 'bilinear' || mode === 'bicubic') && x.dim() === 4))
    throw new TypeError(`${fn}: Anti-alias option is only supported for bilinear and bicubic modes`);
  const n = x.dim();
  if (mode === 'nearest' || mode === 'nearest-exact') {
    if (n >= 3 && n <= 5) {
      const name = `${mode === 'nearest' ? 'upsample_nearest' : '_upsample_nearest_exact'}${n - 2}d`;
      return opAt(fn, name, 'vec', x, outputSize, scales);
    }
  } else if (mode === 'area') {
    if (n >= 3 && n <= 5) return op(fn, `adaptive_avg_pool${n - 2}d`, x, outputSize);
  } else {
    const want: Record<string, number> = { linear: 3, bilinear: 4, bicubic: 4, trilinear: 5 };
    if (n === want[mode]) {
      let name = {
        linear: 'upsample_linear1d',
        bilinear: 'upsample_bilinear2d',
        bicubic: 'upsample_bicubic2d',
        trilinear: 'upsample_trilinear3d',
      }[mode];
      if (antialias) name = `_${name}_aa`;
      return opAt(fn, name, 'vec', x, outputSize, alignCorners, scales);
    }
    if (n >= 3 && n <= 5) throw new TypeError(`${fn}: Got ${n}D input, but ${mode} mode needs ${want[mode]}D input`);
  }
  throw new TypeError(
    `${fn}: Input Error: Only 3D, 4D and 5D input Tensors supported (got ${n}D) for the modes: nearest | linear | ` +
      `bilinear | bicubic | trilinear | area | nearest-exact (got ${mode})`,
  );
}

type UpsampleOpts = {
  size?: number | number[] | null;
  scaleFactor?: number | number[] | null;
  mode?: InterpolateMode;
  alignCorners?: boolean | null;
};
/** Deprecated spelling of `interpolate` (without `recomputeScaleFactor` / `antialias`). */
export function upsample(
  input: Tensor,
  ...rest: PyArgs<
    [
      size: number | number[] | null,
      scaleFactor: number | number[] | null,
      mode: InterpolateMode,
      alignCorners: boolean | null,
    ],
    UpsampleOpts
  >
): Tensor {
  const [x, a] = parse('F.upsample', input, rest, ['size', 'scaleFactor', 'mode', 'alignCorners']);
  return interp(a, x);
}
type UpsampleFixedArgs = PyArgs<
  [size: number | number[] | null, scaleFactor: number | number[] | null],
  { size?: number | number[] | null; scaleFactor?: number | number[] | null }
>;
/** `interpolate(input, size, scaleFactor, {mode: 'nearest'})` (deprecated in PyTorch). */
export function upsampleNearest(input: Tensor, ...rest: UpsampleFixedArgs): Tensor {
  const [x, a] = parse('F.upsampleNearest', input, rest, ['size', 'scaleFactor']);
  return interp(new Args(a.fn, { size: a.raw('size'), scaleFactor: a.raw('scaleFactor'), mode: 'nearest' }), x);
}
/** `interpolate(input, size, scaleFactor, {mode: 'bilinear', alignCorners: true})` (deprecated in PyTorch). */
export function upsampleBilinear(input: Tensor, ...rest: UpsampleFixedArgs): Tensor {
  const [x, a] = parse('F.upsampleBilinear', input, rest, ['size', 'scaleFactor']);
  return interp(
    new Args(a.fn, { size: a.raw('size'), scaleFactor: a.raw('scaleFactor'), mode: 'bilinear', alignCorners: true }),
    x,
  );
}

/**
 * Samples `input` (N, C, H, W) or (N, C, D, H, W) at the normalised locations of `grid`
 * (N, H', W', 2) or (N, D', H', W', 3).
 */
export function gridSample(
  input: Tensor,
  grid: Tensor,
  ...rest: PyArgs<
    [
      mode: 'bilinear' | 'nearest' | 'bicubic',
      paddingMode: 'zeros' | 'border' | 'reflection',
      alignCorners: boolean | null,
    ],
    {
      mode?: 'bilinear' | 'nearest' | 'bicubic';
      paddingMode?: 'zeros' | 'border' | 'reflection';
      alignCorners?: boolean | null;
    }
  >
): Tensor {
  const [x, a] = parse('F.gridSample', input, rest, ['mode', 'paddingMode', 'alignCorners']);
  if (!(grid instanceof Tensor)) typeError(a.fn, 'grid', 'a Tensor', grid);
  const mode = a.str('mode', 'bilinear', ['bilinear', 'nearest', 'bicubic'] as const);
  const pm = a.str('paddingMode', 'zeros', ['zeros', 'border', 'reflection'] as const);
  return op(
    a.fn,
    'grid_sampler',
    x,
    grid,
    { bilinear: 0, nearest: 1, bicubic: 2 }[mode],
    { zeros: 0, border: 1, reflection: 2 }[pm],
    a.boolOrNull('alignCorners') ?? false,
  );
}

/** The sampling grid of a batch of affine matrices `theta` (N, 2, 3) or (N, 3, 4) for output `size`. */
export function affineGrid(
  theta: Tensor,
  ...rest: PyArgs<[size: number[], alignCorners: boolean | null], { size?: number[]; alignCorners?: boolean | null }>
): Tensor {
  const [t, a] = parse('F.affineGrid', theta, rest, ['size', 'alignCorners'], [], 'theta');
  const fn = a.fn;
  const size = a.need('size');
  if (!Array.isArray(size) || !size.every((v) => typeof v === 'number' && Number.isInteger(v)))
    typeError(fn, 'size', 'a list of integers', size);
  const ac = a.boolOrNull('alignCorners') ?? false;
  if (!t.isFloatingPoint())
    throw new TypeError(`${fn}: Expected theta to have floating point type, but got ${t.dtype}`);
  let spatial: number[];
  if (size.length === 4) {
    if (t.dim() !== 3 || t.shape[1] !== 2 || t.shape[2] !== 3)
      throw new RangeError(
        `${fn}: Expected a batch of 2D affine matrices of shape Nx2x3 for size ${shapeStr(size)}. Got ${shapeStr(t.shape)}.`,
      );
    spatial = size.slice(-2);
  } else if (size.length === 5) {
    if (t.dim() !== 3 || t.shape[1] !== 3 || t.shape[2] !== 4)
      throw new RangeError(
        `${fn}: Expected a batch of 3D affine matrices of shape Nx3x4 for size ${shapeStr(size)}. Got ${shapeStr(t.shape)}.`,
      );
    spatial = size.slice(-3);
  } else
    throw new RangeError(
      `${fn}: affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, respectively. Got size ${shapeStr(size)}.`,
    );
  if (!(ac && Math.min(...spatial) === 1) && Math.min(...size) <= 0)
    throw new RangeError(`${fn}: Expected non-zero, positive output size. Got ${shapeStr(size)}`);
  return op(fn, 'affine_grid_generator', t, size, ac);
}

type FoldOpts = { kernelSize?: IntOrList; dilation?: IntOrList; padding?: IntOrList; stride?: IntOrList };
/** Extracts sliding local blocks of a batched (N, C, H, W) or unbatched image into columns (im2col). */
export function unfold(
  input: Tensor,
  ...rest: PyArgs<[kernelSize: IntOrList, dilation: IntOrList, padding: IntOrList, stride: IntOrList], FoldOpts>
): Tensor {
  const [x, a] = parse('F.unfold', input, rest, ['kernelSize', 'dilation', 'padding', 'stride']);
  return op(
    a.fn,
    'im2col',
    x,
    a.ints('kernelSize', 2),
    a.ints('dilation', 2, 1),
    a.ints('padding', 2, 0),
    a.ints('stride', 2, 1),
  );
}
/** Sums columns of sliding local blocks back into an image of `outputSize` (col2im). */
export function fold(
  input: Tensor,
  ...rest: PyArgs<
    [outputSize: IntOrList, kernelSize: IntOrList, dilation: IntOrList, padding: IntOrList, stride: IntOrList],
    FoldOpts & { outputSize?: IntOrList }
  >
): Tensor {
  const [x, a] = parse('F.fold', input, rest, ['outputSize', 'kernelSize', 'dilation', 'padding', 'stride']);
  return op(
    a.fn,
    'col2im',
    x,
    a.ints('outputSize', 2),
    a.ints('kernelSize', 2),
    a.ints('dilation', 2, 1),
    a.ints('padding', 2, 0),
    a.ints('stride', 2, 1),
  );
}

// ---- embedding bag -------------------------------------------------------------------------------

/** Options of `F.embeddingBag`: `offsets` of the bags, the reduction `mode`, weights and padding. */
export interface EmbeddingBagOptions {
  /** The start of each bag in a 1-D `input` (with a 2-D input, each row is a bag). */
  offsets?: Tensor | null;
  /** Renormalize each looked-up row whose norm exceeds this (in place), or null. */
  maxNorm?: number | null;
  /** The p of the p-norm used with `maxNorm` (default 2). */
  normType?: number;
  /** Scale the gradients by the inverse frequency of the words in the mini-batch (default false). */
  scaleGradByFreq?: boolean;
  /** How a bag's embeddings are reduced: `'mean'` (default), `'sum'` or `'max'`. */
  mode?: 'sum' | 'mean' | 'max';
  /** Ask for a sparse gradient of the weight (default false). */
  sparse?: boolean;
  /** Weights of each looked-up row (`'sum'` mode only), or null. */
  perSampleWeights?: Tensor | null;
  /** `offsets` has one more element than the bags, the end of the last bag (default false). */
  includeLastOffset?: boolean;
  /** The row that is excluded from the bags (and gets no gradient), or null. */
  paddingIdx?: number | null;
}
/**
 * Sums, averages or maxes bags of embeddings: `input` 1-d indices with `offsets` (bag starts), or
 * 2-d (one bag per row). `perSampleWeights` (mode 'sum') weights each looked-up row.
 */
export function embeddingBag(
  input: Tensor,
  weight: Tensor,
  ...rest: PyArgs<
    [
      offsets: Tensor | null,
      maxNorm: number | null,
      normType: number,
      scaleGradByFreq: boolean,
      mode: 'sum' | 'mean' | 'max',
      sparse: boolean,
      perSampleWeights: Tensor | null,
      includeLastOffset: boolean,
      paddingIdx: number | null,
    ],
    EmbeddingBagOptions
  >
): Tensor {
  let [x, a] = parse('F.embeddingBag', input, rest, [
    'offsets',
    'maxNorm',
    'normType',
    'scaleGradByFreq',
    'mode',
    'sparse',
    'perSampleWeights',
    'includeLastOffset',
    'paddingIdx',
  ]);
  const fn = a.fn;
  let w = weight;
  if (!(w instanceof Tensor)) typeError(fn, 'weight', 'a Tensor', w);
  // PyTorch still accepts the old argument order embedding_bag(weight, input, ...)
  if (w.dtype === 'int64' && x.isFloatingPoint()) [x, w] = [w, x];
  let offsets = a.tensorOrNull('offsets');
  let psw = a.tensorOrNull('perSampleWeights');
  if (psw !== null && shapeStr(psw.shape) !== shapeStr(x.shape))
    throw new RangeError(
      `${fn}: If perSampleWeights (${shapeStr(psw.shape)}) is not null, then it must have the same shape as the input (${shapeStr(x.shape)})`,
    );
  if (x.dim() === 2) {
    if (offsets !== null)
      throw new TypeError(
        `${fn}: if input is 2D, then offsets has to be null, as input is treated as a mini-batch of fixed length sequences`,
      );
    offsets = op(fn, 'arange', 0, x.numel(), x.shape[1], { dtype: x.dtype, device: x.device });
    x = op(fn, 'reshape', x, [-1]);
    if (psw !== null) psw = op(fn, 'reshape', psw, [-1]);
  } else if (x.dim() === 1) {
    if (offsets === null) throw new TypeError(`${fn}: offsets has to be a 1D Tensor but got null`);
    if (offsets.dim() !== 1) throw new RangeError(`${fn}: offsets has to be a 1D Tensor`);
  } else throw new RangeError(`${fn}: input has to be 1D or 2D Tensor, but got Tensor of dimension ${x.dim()}`);
  const mode = a.str('mode', 'mean', ['sum', 'mean', 'max'] as const);
  const scale = a.bool('scaleGradByFreq', false),
    sparse = a.bool('sparse', false);
  if (mode === 'max' && scale)
    throw new TypeError(`${fn}: max mode does not support scaling the gradient by the frequency`);
  if (mode === 'max' && sparse) throw new TypeError(`${fn}: max mode does not support sparse weights`);
  const maxNorm = a.numOrNull('maxNorm');
  if (maxNorm !== null) op(fn, 'embedding_renorm_', op(fn, 'detach', w), x, maxNorm, a.num('normType', 2));
  if (psw !== null && mode !== 'sum')
    throw new TypeError(
      `${fn}: perSampleWeights was not null. perSampleWeights is only supported for mode='sum' (got mode='${mode}')`,
    );
  let pad = a.intOrNull('paddingIdx');
  if (pad !== null) {
    const n = w.shape[0];
    if (pad >= n || pad < -n) throw new RangeError(`${fn}: paddingIdx must be within the number of embeddings`);
    if (pad < 0) pad += n;
  }
  const r = opN(
    fn,
    'embedding_bag',
    w,
    x,
    offsets,
    scale,
    { sum: 0, mean: 1, max: 2 }[mode],
    sparse,
    psw,
    a.bool('includeLastOffset', false),
    pad,
  );
  return r[0];
}

// ---- losses --------------------------------------------------------------------------------------

type Legacy = { sizeAverage?: boolean | null; reduce?: boolean | null; reduction?: Reduction };
const LEGACY = ['sizeAverage', 'reduce', 'reduction'] as const;

function second(fn: string, name: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) typeError(fn, name, 'a Tensor', t);
  return t;
}

/** Connectionist Temporal Classification loss. */
export function ctcLoss(
  logProbs: Tensor,
  targets: Tensor,
  inputLengths: Tensor | number[],
  targetLengths: Tensor | number[],
  ...rest: PyArgs<
    [blank: number, reduction: Reduction, zeroInfinity: boolean],
    { blank?: number; reduction?: Reduction; zeroInfinity?: boolean }
  >
): Tensor {
  const [lp, a] = parse('F.ctcLoss', logProbs, rest, ['blank', 'reduction', 'zeroInfinity'], [], 'logProbs');
  second(a.fn, 'targets', targets);
  return op(
    a.fn,
    'ctc_loss',
    lp,
    targets,
    inputLengths,
    targetLengths,
    a.int('blank', 0),
    REDUCTION_ENUM[a.reduction()],
    a.bool('zeroInfinity', false),
  );
}

/** Poisson negative log likelihood. */
export function poissonNllLoss(
  input: Tensor,
  target: Tensor,
  ...rest: PyArgs<
    [
      logInput: boolean,
      full: boolean,
      sizeAverage: boolean | null,
      eps: number,
      reduce: boolean | null,
      reduction: Reduction,
    ],
    Legacy & { logInput?: boolean; full?: boolean; eps?: number }
  >
): Tensor {
  const [x, a] = parse('F.poissonNllLoss', input, rest, [
    'logInput',
    'full',
    'sizeAverage',
    'eps',
    'reduce',
    'reduction',
  ]);
  second(a.fn, 'target', target);
  return op(
    a.fn,
    'poisson_nll_loss',
    x,
    target,
    a.bool('logInput', true),
    a.bool('full', false),
    a.num('eps', 1e-8),
    REDUCTION_ENUM[a.reduction()],
  );
}

/** Gaussian negative log likelihood of `target` under N(`input`, `var`). */
export function gaussianNllLoss(
  input: Tensor,
  target: Tensor,
  variance: Tensor,
  ...rest: PyArgs<
    [full: boolean, eps: number, reduction: Reduction],
    { full?: boolean; eps?: number; reduction?: Reduction }
  >
): Tensor {
  const [x, a] = parse('F.gaussianNllLoss', input, rest, ['full', 'eps', 'reduction']);
  const fn = a.fn;
  second(fn, 'target', target);
  let v = second(fn, 'var', variance);
  const si = x.shape,
    sv = v.shape;
  if (shapeStr(si) !== shapeStr(sv)) {
    if (shapeStr(si.slice(0, -1)) === shapeStr(sv)) v = op(fn, 'unsqueeze', v, -1);
    else if (!(shapeStr(si.slice(0, -1)) === shapeStr(sv.slice(0, -1)) && sv[sv.length - 1] === 1))
      throw new RangeError(`${fn}: var is of incorrect size`);
  }
  const reduction = checkReduction(fn, a.raw('reduction') ?? 'mean');
  if (op(fn, 'any', op(fn, 'lt', v, 0)).itemBool()) throw new RangeError(`${fn}: var has negative entry/entries`);
  v = op(fn, 'clone', v);
  const eps = a.num('eps', 1e-6);
  callOp(fn, 'aten::clamp_', undefined, [op(fn, 'detach', v), eps]);
  let loss = op(
    fn,
    'mul',
    op(fn, 'add', op(fn, 'log', v), op(fn, 'div', op(fn, 'pow', op(fn, 'sub', x, target), 2), v)),
    0.5,
  );
  if (a.bool('full', false)) loss = op(fn, 'add', loss, 0.5 * Math.log(2 * Math.PI));
  return reduce(fn, loss, reduction);
}

type MarginLegacy = Legacy & { margin?: number };
type MarginArgs = PyArgs<
  [margin: number, sizeAverage: boolean | null, reduce: boolean | null, reduction: Reduction],
  MarginLegacy
>;

/** `max(0, -target * (input1 - input2) + margin)`. */
export function marginRankingLoss(input1: Tensor, input2: Tensor, target: Tensor, ...rest: MarginArgs): Tensor {
  const [x, a] = parse('F.marginRankingLoss', input1, rest, ['margin', ...LEGACY], [], 'input1');
  const fn = a.fn;
  second(fn, 'input2', input2);
  second(fn, 'target', target);
  if (x.dim() !== input2.dim() || x.dim() !== target.dim())
    throw new RangeError(
      `${fn}: All input tensors should have same dimension but got sizes: input1: ${shapeStr(x.shape)}, ` +
        `input2: ${shapeStr(input2.shape)}, target: ${shapeStr(target.shape)}`,
    );
  return op(fn, 'margin_ranking_loss', x, input2, target, a.num('margin', 0), REDUCTION_ENUM[a.reduction()]);
}

/** `x` for `target = 1`, `max(0, margin - x)` for `target = -1`. */
export function hingeEmbeddingLoss(input: Tensor, target: Tensor, ...rest: MarginArgs): Tensor {
  const [x, a] = parse('F.hingeEmbeddingLoss', input, rest, ['margin', ...LEGACY]);
  second(a.fn, 'target', target);
  return op(a.fn, 'hinge_embedding_loss', x, target, a.num('margin', 1), REDUCTION_ENUM[a.reduction()]);
}

/** Cosine embedding loss: `1 - cos(x1, x2)` for `target = 1`, `max(0, cos - margin)` for -1. */
export function cosineEmbeddingLoss(input1: Tensor, input2: Tensor, target: Tensor, ...rest: MarginArgs): Tensor {
  const [x, a] = parse('F.cosineEmbeddingLoss', input1, rest, ['margin', ...LEGACY], [], 'input1');
  second(a.fn, 'input2', input2);
  second(a.fn, 'target', target);
  return op(a.fn, 'cosine_embedding_loss', x, input2, target, a.num('margin', 0), REDUCTION_ENUM[a.reduction()]);
}

type LegacyArgs = PyArgs<[sizeAverage: boolean | null, reduce: boolean | null, reduction: Reduction], Legacy>;

/** Multi-class multi-label hinge loss (`target` holds class indices, padded with -1). */
export function multilabelMarginLoss(input: Tensor, target: Tensor, ...rest: LegacyArgs): Tensor {
  const [x, a] = parse('F.multilabelMarginLoss', input, rest, [...LEGACY]);
  second(a.fn, 'target', target);
  return op(a.fn, 'multilabel_margin_loss', x, target, REDUCTION_ENUM[a.reduction()]);
}

/** Two-class logistic loss `log(1 + exp(-target * input))`. */
export function softMarginLoss(input: Tensor, target: Tensor, ...rest: LegacyArgs): Tensor {
  const [x, a] = parse('F.softMarginLoss', input, rest, [...LEGACY]);
  second(a.fn, 'target', target);
  return op(a.fn, 'soft_margin_loss', x, target, REDUCTION_ENUM[a.reduction()]);
}

/** Multi-label one-versus-all loss from logistic terms, averaged over classes. */
export function multilabelSoftMarginLoss(
  input: Tensor,
  target: Tensor,
  ...rest: PyArgs<
    [weight: Tensor | null, sizeAverage: boolean | null, reduce: boolean | null, reduction: Reduction],
    Legacy & { weight?: Tensor | null }
  >
): Tensor {
  const [x, a] = parse('F.multilabelSoftMarginLoss', input, rest, ['weight', ...LEGACY]);
  const fn = a.fn;
  second(fn, 'target', target);
  const reduction = a.reduction();
  const ls = (t: Tensor) => op(fn, 'log_sigmoid', t);
  let loss = op(
    fn,
    'neg',
    op(fn, 'add', op(fn, 'mul', target, ls(x)), op(fn, 'mul', op(fn, 'rsub', target, 1), ls(op(fn, 'neg', x)))),
  );
  const w = a.tensorOrNull('weight');
  if (w !== null) loss = op(fn, 'mul', loss, w);
  const classDim = x.dim() - 1;
  const c = x.shape[classDim];
  loss = op(fn, 'div', op(fn, 'sum', loss, [classDim]), c);
  return reduce(fn, loss, reduction);
}

/** Multi-class margin (hinge) loss with `p` 1 or 2. */
export function multiMarginLoss(
  input: Tensor,
  target: Tensor,
  ...rest: PyArgs<
    [
      p: number,
      margin: number,
      weight: Tensor | null,
      sizeAverage: boolean | null,
      reduce: boolean | null,
      reduction: Reduction,
    ],
    Legacy & { p?: number; margin?: number; weight?: Tensor | null }
  >
): Tensor {
  const [x, a] = parse('F.multiMarginLoss', input, rest, ['p', 'margin', 'weight', ...LEGACY]);
  const fn = a.fn;
  second(fn, 'target', target);
  const reduction = a.reduction();
  const p = a.int('p', 1);
  if (p !== 1 && p !== 2) throw new RangeError(`${fn}: only p == 1 and p == 2 supported`);
  const w = a.tensorOrNull('weight');
  if (w !== null && w.dim() !== 1) throw new RangeError(`${fn}: weight must be one-dimensional`);
  return op(fn, 'multi_margin_loss', x, target, p, a.num('margin', 1), w, REDUCTION_ENUM[reduction]);
}

/** `max(d(a, p) - d(a, n) + margin, 0)` with the p-norm distance. */
export function tripletMarginLoss(
  anchor: Tensor,
  positive: Tensor,
  negative: Tensor,
  ...rest: PyArgs<
    [
      margin: number,
      p: number,
      eps: number,
      swap: boolean,
      sizeAverage: boolean | null,
      reduce: boolean | null,
      reduction: Reduction,
    ],
    Legacy & { margin?: number; p?: number; eps?: number; swap?: boolean }
  >
): Tensor {
  const [x, a] = parse('F.tripletMarginLoss', anchor, rest, ['margin', 'p', 'eps', 'swap', ...LEGACY], [], 'anchor');
  const fn = a.fn;
  second(fn, 'positive', positive);
  second(fn, 'negative', negative);
  return op(
    fn,
    'triplet_margin_loss',
    x,
    positive,
    negative,
    a.num('margin', 1),
    a.num('p', 2),
    a.num('eps', 1e-6),
    a.bool('swap', false),
    REDUCTION_ENUM[a.reduction()],
  );
}

/** Options of `F.tripletMarginWithDistanceLoss`: the distance function, `margin`, `swap`, `reduction`. */
export interface TripletDistanceOptions {
  /** The distance between two batches of embeddings (default: `F.pairwiseDistance`). */
  distanceFunction?: ((a: Tensor, b: Tensor) => Tensor) | null;
  /** The margin between the positive and the negative distances (default 1). */
  margin?: number;
  /** Use the distance between positive and negative when it is smaller (distance swap; default false). */
  swap?: boolean;
  /** How the loss reduces over the batch: `'mean'` (default), `'sum'` or `'none'`. */
  reduction?: Reduction;
}
/** Triplet loss with any distance function (default: `pairwiseDistance`); the options are keyword-only. */
export function tripletMarginWithDistanceLoss(
  anchor: Tensor,
  positive: Tensor,
  negative: Tensor,
  opts?: TripletDistanceOptions,
): Tensor {
  const [x, a] = parse(
    'F.tripletMarginWithDistanceLoss',
    anchor,
    opts === undefined ? [] : [opts],
    [],
    ['distanceFunction', 'margin', 'swap', 'reduction'],
    'anchor',
  );
  const fn = a.fn;
  second(fn, 'positive', positive);
  second(fn, 'negative', negative);
  const df = a.raw('distanceFunction') ?? ((u: Tensor, v: Tensor) => op(fn, 'pairwise_distance', u, v));
  if (typeof df !== 'function') typeError(fn, 'distanceFunction', 'a function or null', df);
  const dist = df as (u: Tensor, v: Tensor) => Tensor;
  const pos = dist(x, positive);
  let neg = dist(x, negative);
  if (a.bool('swap', false)) neg = op(fn, 'minimum', neg, dist(positive, negative));
  const out = op(fn, 'clamp', op(fn, 'add', op(fn, 'sub', pos, neg), a.num('margin', 1)), 0);
  return reduce(fn, out, checkReduction(fn, a.raw('reduction') ?? 'mean'));
}
