// Loss functions (camelCase of PyTorch's `torch.nn.functional` names), one ATen kernel each.
import { checkBool, checkInt, checkNumber, checkOptions, typeError } from '../errors';
import { native as N } from '../native';
import { handle, Tensor } from '../tensor';

/** How a loss reduces over the batch: `'mean'` (the default), `'sum'`, or `'none'` (one value per element). */
export type Reduction = 'none' | 'mean' | 'sum';
const CODES: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

export function checkReduction(fn: string, r: unknown): Reduction {
  if (r !== 'none' && r !== 'mean' && r !== 'sum') typeError(fn, 'reduction', "'none', 'mean' or 'sum'", r);
  return r as Reduction;
}

const shape = (t: Tensor) => `[${t.shape.join(', ')}]`;

function sameShape(fn: string, input: Tensor, target: Tensor): void {
  const a = input.shape,
    b = target.shape;
  if (a.length !== b.length || a.some((s, i) => s !== b[i]))
    throw new RangeError(`${fn}: expected target with the same shape as input ${shape(input)}, got ${shape(target)}`);
}

function pair(fn: string, input: unknown, target: unknown): [Tensor, Tensor] {
  handle(input, fn, 'input');
  handle(target, fn, 'target');
  return [input as Tensor, target as Tensor];
}

/** Mean squared error. */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const fn = 'F.mseLoss';
  checkOptions(fn, opts, ['reduction']);
  pair(fn, input, target);
  sameShape(fn, input, target);
  return new Tensor(N.mseLoss(input._h, target._h, CODES[checkReduction(fn, opts.reduction ?? 'mean')]));
}
/** The mean (or sum) absolute difference between `input` and `target`. */
export function l1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const fn = 'F.l1Loss';
  checkOptions(fn, opts, ['reduction']);
  pair(fn, input, target);
  sameShape(fn, input, target);
  return new Tensor(N.l1Loss(input._h, target._h, CODES[checkReduction(fn, opts.reduction ?? 'mean')]));
}
/** The smooth L1 loss: squared below `beta`, absolute above it (PyTorch's `F.smooth_l1_loss`). */
export function smoothL1Loss(
  input: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction; beta?: number } = {},
): Tensor {
  const fn = 'F.smoothL1Loss';
  checkOptions(fn, opts, ['reduction', 'beta']);
  pair(fn, input, target);
  sameShape(fn, input, target);
  const beta = opts.beta === undefined ? 1 : checkNumber(fn, 'beta', opts.beta);
  if (beta < 0) throw new RangeError(`${fn}: beta must be non-negative, got ${beta}`);
  return new Tensor(N.smoothL1Loss(input._h, target._h, CODES[checkReduction(fn, opts.reduction ?? 'mean')], beta));
}
/** The Huber loss: squared below `delta`, linear above it (PyTorch's `F.huber_loss`). */
export function huberLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction; delta?: number } = {}): Tensor {
  const fn = 'F.huberLoss';
  checkOptions(fn, opts, ['reduction', 'delta']);
  pair(fn, input, target);
  sameShape(fn, input, target);
  const delta = opts.delta === undefined ? 1 : checkNumber(fn, 'delta', opts.delta);
  if (delta <= 0) throw new RangeError(`${fn}: delta must be positive, got ${delta}`);
  return new Tensor(N.huberLoss(input._h, target._h, CODES[checkReduction(fn, opts.reduction ?? 'mean')], delta));
}

/** Options of `F.nllLoss`: class `weight`, `ignoreIndex` (default -100) and `reduction`. */
export interface NLLOptions {
  /** A rescaling weight for each class `(C)`, or null. */
  weight?: Tensor | null;
  /** Targets equal to this are ignored and do not count in the mean (default -100). */
  ignoreIndex?: number;
  /** How the loss reduces over the batch: `'mean'` (default), `'sum'` or `'none'`. */
  reduction?: Reduction;
}
/** Options of `F.crossEntropy`: those of `F.nllLoss` plus `labelSmoothing`. */
export interface CrossEntropyOptions extends NLLOptions {
  /** The amount of smoothing of the targets, in [0, 1] (default 0). */
  labelSmoothing?: number;
}

function classChecks(
  fn: string,
  input: Tensor,
  target: Tensor,
  weight: Tensor | null | undefined,
  probsAllowed: boolean,
): void {
  const d = input.dim();
  if (d < 1) throw new RangeError(`${fn}: expected input of shape (C), (N, C) or (N, C, d1, ...), got ${shape(input)}`);
  const C = d === 1 ? input.shape[0] : input.shape[1];
  if (target.isFloatingPoint()) {
    if (!probsAllowed)
      throw new TypeError(`${fn}: expected target to hold class indices (int64), got dtype ${target.dtype}`);
    sameShape(fn, input, target);
  } else {
    if (target.dtype !== 'int64')
      throw new TypeError(
        `${fn}: expected target to be int64 class indices${probsAllowed ? ' or float class probabilities' : ''}, ` +
          `got dtype ${target.dtype}`,
      );
    const want = d === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
    const got = target.shape;
    if (got.length !== want.length || got.some((s, i) => s !== want[i]))
      throw new RangeError(
        `${fn}: expected target of shape [${want.join(', ')}] for input ${shape(input)}, got ${shape(target)}`,
      );
  }
  if (weight !== undefined && weight !== null) {
    handle(weight, fn, 'weight');
    if (weight.dim() !== 1 || weight.shape[0] !== C)
      throw new RangeError(`${fn}: expected weight of shape [C] = [${C}], got ${shape(weight)}`);
  }
}

/** Cross entropy over logits (class indices or class probabilities as targets). */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const fn = 'F.crossEntropy';
  pair(fn, input, target);
  const o = checkOptions<CrossEntropyOptions>(fn, opts, ['weight', 'ignoreIndex', 'reduction', 'labelSmoothing']);
  classChecks(fn, input, target, o.weight, true);
  const ls = o.labelSmoothing === undefined ? 0 : checkNumber(fn, 'labelSmoothing', o.labelSmoothing);
  if (!(ls >= 0 && ls <= 1)) throw new RangeError(`${fn}: labelSmoothing must be in [0, 1], got ${ls}`);
  return new Tensor(
    N.crossEntropy(
      input._h,
      target._h,
      o.weight ? o.weight._h : undefined,
      CODES[checkReduction(fn, o.reduction ?? 'mean')],
      o.ignoreIndex === undefined ? -100 : checkInt(fn, 'ignoreIndex', o.ignoreIndex),
      ls,
    ),
  );
}

/** Negative log likelihood over log-probabilities. */
export function nllLoss(input: Tensor, target: Tensor, opts: NLLOptions = {}): Tensor {
  const fn = 'F.nllLoss';
  pair(fn, input, target);
  const o = checkOptions<NLLOptions>(fn, opts, ['weight', 'ignoreIndex', 'reduction']);
  classChecks(fn, input, target, o.weight, false);
  return new Tensor(
    N.nllLoss(
      input._h,
      target._h,
      o.weight ? o.weight._h : undefined,
      CODES[checkReduction(fn, o.reduction ?? 'mean')],
      o.ignoreIndex === undefined ? -100 : checkInt(fn, 'ignoreIndex', o.ignoreIndex),
    ),
  );
}

/** Binary cross entropy over probabilities in [0, 1]. */
export function binaryCrossEntropy(
  input: Tensor,
  target: Tensor,
  opts: { weight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  const fn = 'F.binaryCrossEntropy';
  checkOptions(fn, opts, ['weight', 'reduction']);
  pair(fn, input, target);
  sameShape(fn, input, target);
  return new Tensor(
    N.binaryCrossEntropy(
      input._h,
      target._h,
      opts.weight ? handle(opts.weight, fn, 'weight') : undefined,
      CODES[checkReduction(fn, opts.reduction ?? 'mean')],
    ),
  );
}

/** Binary cross entropy over logits, with `posWeight` (weights of positive examples per class). */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  opts: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  const fn = 'F.binaryCrossEntropyWithLogits';
  checkOptions(fn, opts, ['weight', 'posWeight', 'reduction']);
  pair(fn, input, target);
  sameShape(fn, input, target);
  return new Tensor(
    N.binaryCrossEntropyWithLogits(
      input._h,
      target._h,
      opts.weight ? handle(opts.weight, fn, 'weight') : undefined,
      opts.posWeight ? handle(opts.posWeight, fn, 'posWeight') : undefined,
      CODES[checkReduction(fn, opts.reduction ?? 'mean')],
    ),
  );
}

/**
 * KL divergence with `input` as log-probabilities. `reduction: 'batchmean'` divides the sum by
 * the batch size (the mathematically correct KL); `'mean'` averages over elements, as PyTorch.
 */
export function klDiv(
  input: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {},
): Tensor {
  const fn = 'F.klDiv';
  checkOptions(fn, opts, ['reduction', 'logTarget']);
  pair(fn, input, target);
  const r = opts.reduction ?? 'mean';
  const logTarget = opts.logTarget === undefined ? false : checkBool(fn, 'logTarget', opts.logTarget);
  if (r === 'batchmean') {
    const s = new Tensor(N.klDiv(input._h, target._h, CODES.sum, logTarget));
    if (input.dim() === 0) return s;
    const out = s.div(input.shape[0]);
    s.dispose();
    return out;
  }
  if (r !== 'none' && r !== 'mean' && r !== 'sum')
    typeError(fn, 'reduction', "'none', 'mean', 'sum' or 'batchmean'", r);
  return new Tensor(N.klDiv(input._h, target._h, CODES[r], logTarget));
}
