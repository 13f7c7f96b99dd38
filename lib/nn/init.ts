// nn.init: PyTorch's initialisers, drawing from libtorch's generator in PyTorch's order, so that
// `torch.manualSeed(s)` gives the same weights as in PyTorch.
import { noGrad } from '../autograd';
import { checkNumber, checkOptions, typeError } from '../errors';
import { native as N } from '../native';
import { Tensor } from '../tensor';

/** The nonlinearities `nn.init.calculateGain` knows (PyTorch's names). */
export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'conv_transpose1d'
  | 'conv_transpose2d'
  | 'conv_transpose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leaky_relu'
  | 'selu';

function check(fn: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) typeError(`nn.init.${fn}`, 'tensor', 'a Tensor', t);
  return t;
}

let warnedZeroElement = false;
/**
 * PyTorch's kaiming initialisers return a zero-element tensor unchanged, drawing nothing, with
 * the warning "Initializing zero-element tensors is a no-op" (emitted once per process here).
 */
function zeroElement(t: Tensor): boolean {
  if (t.numel() !== 0) return false;
  if (!warnedZeroElement) {
    warnedZeroElement = true;
    process.emitWarning('Initializing zero-element tensors is a no-op', {
      type: 'UserWarning',
      code: 'TORCH_NAPI_INIT_ZERO_ELEMENT',
    });
  }
  return true;
}

/** The recommended gain for a nonlinearity (PyTorch's `calculate_gain`). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  const linear = ['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d'];
  if (linear.includes(nonlinearity) || nonlinearity === 'sigmoid') return 1;
  if (nonlinearity === 'tanh') return 5.0 / 3;
  if (nonlinearity === 'relu') return Math.sqrt(2.0);
  if (nonlinearity === 'leaky_relu') {
    const slope = param === undefined ? 0.01 : checkNumber('nn.init.calculateGain', 'param', param);
    return Math.sqrt(2.0 / (1 + slope * slope));
  }
  if (nonlinearity === 'selu') return 3.0 / 4;
  throw new TypeError(`nn.init.calculateGain: unsupported nonlinearity ${String(nonlinearity)}`);
}

/** `[fanIn, fanOut]` of a weight (PyTorch's `_calculate_fan_in_and_fan_out`). */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  const shape = check('calculateFanInAndFanOut', t).shape;
  if (shape.length < 2)
    throw new RangeError('nn.init: fan in and fan out can not be computed for tensor with fewer than 2 dimensions');
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  return [shape[1] * receptive, shape[0] * receptive];
}

function fan(t: Tensor, mode: 'fan_in' | 'fan_out'): number {
  if (mode !== 'fan_in' && mode !== 'fan_out') typeError('nn.init', 'mode', "'fan_in' or 'fan_out'", mode);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return mode === 'fan_in' ? fanIn : fanOut;
}

/** Fills with U(a, b). Returns the tensor. */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  check('uniform_', t);
  return noGrad(() => t.uniform_(a, b));
}
/** Fills with N(mean, std²). */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  check('normal_', t);
  return noGrad(() => t.normal_(mean, std));
}
/** Fills `t` with `val`, in place and without recording a gradient; returns `t`. */
export function constant_(t: Tensor, val: number): Tensor {
  check('constant_', t);
  checkNumber('nn.init.constant_', 'val', val);
  return noGrad(() => t.fill_(val));
}
/** Fills `t` with zeros, in place and without recording a gradient; returns `t`. */
export function zeros_(t: Tensor): Tensor {
  check('zeros_', t);
  return noGrad(() => t.zero_());
}
/** Fills `t` with ones, in place and without recording a gradient; returns `t`. */
export function ones_(t: Tensor): Tensor {
  check('ones_', t);
  return noGrad(() => t.fill_(1));
}
/** Fills with U(-a, a), a = gain·√(6 / (fanIn + fanOut)) (Glorot). A zero-element tensor is left as it is. */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  checkNumber('nn.init.xavierUniform_', 'gain', gain);
  const [fanIn, fanOut] = calculateFanInAndFanOut(check('xavierUniform_', t));
  if (t.numel() === 0) return t;
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  const a = Math.sqrt(3.0) * std;
  return noGrad(() => t.uniform_(-a, a));
}
/** Fills with N(0, std²), std = gain·√(2 / (fanIn + fanOut)) (Glorot). A zero-element tensor is left as it is. */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  checkNumber('nn.init.xavierNormal_', 'gain', gain);
  const [fanIn, fanOut] = calculateFanInAndFanOut(check('xavierNormal_', t));
  if (t.numel() === 0) return t;
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  return noGrad(() => t.normal_(0, std));
}
/**
 * Options of `nn.init.kaimingUniform_` / `kaimingNormal_`: the negative slope `a`, `mode` (`'fan_in'` or `'fan_out'`)
 * and the `nonlinearity`.
 */
export interface KaimingOptions {
  /** The negative slope of the rectifier after this layer (leaky_relu only; default 0). */
  a?: number;
  /** `'fan_in'` (default) keeps the variance of the forward pass, `'fan_out'` that of the backward pass. */
  mode?: 'fan_in' | 'fan_out';
  /** The nonlinearity after this layer, for its gain (default `'leaky_relu'`). */
  nonlinearity?: Nonlinearity;
}
const KAIMING_KEYS = ['a', 'mode', 'nonlinearity'] as const;
/**
 * Fills with U(-bound, bound), bound = gain·√(3 / fan) (He). A zero-element tensor is returned
 * unchanged, drawing nothing, with a warning (as PyTorch).
 */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  check('kaimingUniform_', t);
  checkOptions<KaimingOptions>('nn.init.kaimingUniform_', opts, KAIMING_KEYS);
  if (zeroElement(t)) return t;
  const f = fan(t, opts.mode ?? 'fan_in');
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  const bound = Math.sqrt(3.0) * (gain / Math.sqrt(f));
  return noGrad(() => t.uniform_(-bound, bound));
}
/**
 * Fills with N(0, std²), std = gain / √fan (He). A zero-element tensor is returned unchanged,
 * drawing nothing, with a warning (as PyTorch).
 */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  check('kaimingNormal_', t);
  checkOptions<KaimingOptions>('nn.init.kaimingNormal_', opts, KAIMING_KEYS);
  if (zeroElement(t)) return t;
  const f = fan(t, opts.mode ?? 'fan_in');
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  return noGrad(() => t.normal_(0, gain / Math.sqrt(f)));
}
/** A (semi-)orthogonal matrix, as PyTorch's `orthogonal_` (QR of a normal matrix). */
export function orthogonal_(t: Tensor, gain = 1): Tensor {
  check('orthogonal_', t);
  if (t.dim() < 2) throw new RangeError('nn.init.orthogonal_: only tensors with 2 or more dimensions are supported');
  if (t.numel() === 0) return t;
  const rows = t.shape[0];
  const cols = t.numel() / rows;
  noGrad(() => {
    const flat = new Tensor(N.empty([rows, cols], N.dtype(t._h))).normal_(0, 1);
    const m = rows < cols ? flat.t() : flat;
    const [qh, rh] = N.qr(m._h);
    const q0 = new Tensor(qh),
      r = new Tensor(rh);
    const ph = r.diagonal().sign();
    let q = q0.mul(ph);
    if (rows < cols) q = q.t();
    t.view(q.shape as number[]).copy_(q);
    t.mul_(gain);
    for (const x of [flat, m, q0, r, ph, q]) x.dispose();
  });
  return t;
}
