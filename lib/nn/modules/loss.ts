// Loss modules (PyTorch's torch.nn losses); the functional forms are in nn/functional_loss.ts.
import { checkNumber, checkOptions } from '../../errors';
import { Tensor } from '../../tensor';
import type { Reduction } from '../functional_loss';
import * as L from '../functional_loss';
import { Module } from './module';

abstract class Loss extends Module {
  /** How the loss reduces over the batch: `'mean'`, `'sum'` or `'none'`. */
  readonly reduction: Reduction;
  /** `known`: the option keys of the subclass (an unknown key throws, naming it). */
  constructor(opts: { reduction?: Reduction } = {}, known: readonly string[] = ['reduction']) {
    super();
    // a subclass's list; a user's stray argument (not a list of strings) is ignored
    if (!Array.isArray(known) || !known.every((k) => typeof k === 'string')) known = ['reduction'];
    const o = checkOptions<{ reduction?: Reduction }>(this.constructor.name, opts, known);
    this.reduction = L.checkReduction(this.constructor.name, o.reduction ?? 'mean');
    Object.defineProperty(this, 'reduction', { enumerable: false });
  }
  /** A registered buffer (PyTorch's `_WeightedLoss` registers `weight`, possibly None). */
  protected buffer(name: string): Tensor | null {
    const v = (this as unknown as Record<string, unknown>)[name];
    return v instanceof Tensor ? v : null;
  }
}

/** Mean squared error. */
export class MSELoss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return L.mseLoss(input, target, { reduction: this.reduction });
  }
}
/** Mean absolute error. */
export class L1Loss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return L.l1Loss(input, target, { reduction: this.reduction });
  }
}
/** Smooth L1 (Huber-like with `beta`). */
export class SmoothL1Loss extends Loss {
  /** The threshold below which the loss is squared (default 1). */
  readonly beta: number;
  constructor(opts: { reduction?: Reduction; beta?: number } = {}) {
    super(opts, ['reduction', 'beta']);
    this.beta = opts.beta === undefined ? 1 : checkNumber('SmoothL1Loss', 'beta', opts.beta);
    Object.defineProperty(this, 'beta', { enumerable: false });
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
}
/** Huber loss with `delta`. */
export class HuberLoss extends Loss {
  /** The threshold below which the loss is squared (default 1). */
  readonly delta: number;
  constructor(opts: { reduction?: Reduction; delta?: number } = {}) {
    super(opts, ['reduction', 'delta']);
    this.delta = opts.delta === undefined ? 1 : checkNumber('HuberLoss', 'delta', opts.delta);
    Object.defineProperty(this, 'delta', { enumerable: false });
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}
/**
 * Cross entropy over logits `(N, C)` or `(N, C, d1, ...)` with class-index targets (int64) or
 * class probabilities (float, same shape as input); `ignoreIndex`, `labelSmoothing`, `weight`.
 */
export class CrossEntropyLoss extends Loss {
  /** The options of the functional form this module calls (`F.crossEntropy` / `F.nllLoss`). */
  readonly opts: L.CrossEntropyOptions;
  constructor(opts: L.CrossEntropyOptions = {}) {
    super(opts, ['weight', 'ignoreIndex', 'reduction', 'labelSmoothing']);
    this.opts = { ...opts, reduction: this.reduction };
    Object.defineProperty(this, 'opts', { enumerable: false });
    this.registerBuffer('weight', opts.weight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.crossEntropy(input, target, { ...this.opts, weight: this.buffer('weight') });
  }
}
/** Negative log likelihood over log-probabilities `(N, C)` or `(N, C, d1, ...)`. */
export class NLLLoss extends Loss {
  /** The options of the functional form this module calls (`F.crossEntropy` / `F.nllLoss`). */
  readonly opts: L.NLLOptions;
  constructor(opts: L.NLLOptions = {}) {
    super(opts, ['weight', 'ignoreIndex', 'reduction']);
    this.opts = { ...opts, reduction: this.reduction };
    Object.defineProperty(this, 'opts', { enumerable: false });
    this.registerBuffer('weight', opts.weight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.nllLoss(input, target, { ...this.opts, weight: this.buffer('weight') });
  }
}
/** Binary cross entropy over probabilities. */
export class BCELoss extends Loss {
  constructor(opts: { reduction?: Reduction; weight?: Tensor | null } = {}) {
    super(opts, ['reduction', 'weight']);
    this.registerBuffer('weight', opts.weight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.binaryCrossEntropy(input, target, { reduction: this.reduction, weight: this.buffer('weight') });
  }
}
/** Binary cross entropy over logits, with `posWeight`. */
export class BCEWithLogitsLoss extends Loss {
  constructor(opts: { reduction?: Reduction; weight?: Tensor | null; posWeight?: Tensor | null } = {}) {
    super(opts, ['reduction', 'weight', 'posWeight']);
    this.registerBuffer('weight', opts.weight ?? null);
    this.registerBuffer('pos_weight', opts.posWeight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.binaryCrossEntropyWithLogits(input, target, {
      reduction: this.reduction,
      weight: this.buffer('weight'),
      posWeight: this.buffer('pos_weight'),
    });
  }
}
/** KL divergence; input is log-probabilities; `logTarget` for log-probability targets. */
export class KLDivLoss extends Module {
  /** How the loss reduces over the batch: `'mean'`, `'sum'` or `'none'`. */
  readonly reduction: Reduction | 'batchmean';
  /** Whether the target is given as log-probabilities (default false). */
  readonly logTarget: boolean;
  constructor(opts: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}) {
    super();
    const o = checkOptions<{ reduction?: Reduction | 'batchmean'; logTarget?: boolean }>('KLDivLoss', opts, [
      'reduction',
      'logTarget',
    ]);
    this.reduction = o.reduction ?? 'mean'; // checked when it runs, as PyTorch's
    this.logTarget = o.logTarget ?? false;
    Object.defineProperty(this, 'reduction', { enumerable: false });
    Object.defineProperty(this, 'logTarget', { enumerable: false });
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget });
  }
}
