import { checkNumber } from '../../errors';
import type { Tensor } from '../../tensor';
import * as F from '../functional';
import { fmtFloat, Module } from './module';

/** Zeroes elements with probability `p` in training mode, scaling the rest by 1/(1-p); identity in eval. */
export class Dropout extends Module {
  /** The probability of zeroing an element in training mode. */
  readonly p: number;

  constructor(p = 0.5) {
    super();
    checkNumber('Dropout', 'p', p);
    if (!(p >= 0 && p <= 1))
      throw new RangeError(`Dropout: dropout probability has to be between 0 and 1, but got ${p}`);
    this.p = p;
    Object.defineProperty(this, 'p', { enumerable: false });
  }

  forward(input: Tensor): Tensor {
    return F.dropout(input, this.p, this.training);
  }

  override extraRepr(): string {
    return `p=${fmtFloat(this.p)}, inplace=False`;
  }
}
