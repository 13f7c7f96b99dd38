// PyTorch's torch.nn.CTCLoss.
import { checkBool, checkInt, checkOptions } from '../../errors';
import type { Tensor } from '../../tensor';
import * as F from '../functional';
import { checkReduction, type Reduction } from '../functional_loss';
import { Module } from './module';

/** Options of `nn.CTCLoss` and `F.ctcLoss`: the `blank` label, the `reduction`, and `zeroInfinity`. */
export interface CTCLossOptions {
  /** The label of the blank (default 0). */
  blank?: number;
  /** How the loss reduces over the batch: `'mean'` (default; each loss divided by its target length), `'sum'` or `'none'`. */
  reduction?: Reduction;
  /** Zero infinite losses (inputs too short for their targets) and their gradients. */
  zeroInfinity?: boolean;
}

/**
 * Connectionist Temporal Classification loss (PyTorch's `nn.CTCLoss`): `forward(logProbs
 * (T, N, C) or (T, C), targets, inputLengths, targetLengths)`.
 */
export class CTCLoss extends Module {
  /** The label of the blank (default 0). */
  declare readonly blank: number;
  /** How the loss reduces over the batch: `'mean'` (default; each loss divided by its target length), `'sum'` or `'none'`. */
  declare readonly reduction: Reduction;
  /** Zero infinite losses (inputs too short for their targets) and their gradients (default false). */
  declare readonly zeroInfinity: boolean;
  constructor(opts: CTCLossOptions = {}) {
    super();
    const fn = 'CTCLoss';
    const o = checkOptions<CTCLossOptions>(fn, opts, ['blank', 'reduction', 'zeroInfinity']);
    const set = (k: string, v: unknown) => Object.defineProperty(this, k, { value: v, enumerable: false });
    set('blank', o.blank === undefined ? 0 : checkInt(fn, 'blank', o.blank, 0));
    set('reduction', checkReduction(fn, o.reduction ?? 'mean'));
    set('zeroInfinity', o.zeroInfinity === undefined ? false : checkBool(fn, 'zeroInfinity', o.zeroInfinity));
  }
  forward(
    logProbs: Tensor,
    targets: Tensor,
    inputLengths: Tensor | number[],
    targetLengths: Tensor | number[],
  ): Tensor {
    return F.ctcLoss(logProbs, targets, inputLengths, targetLengths, {
      blank: this.blank,
      reduction: this.reduction,
      zeroInfinity: this.zeroInfinity,
    });
  }
}
