import { checkInt, checkOptions } from '../../errors';
import type { Tensor } from '../../tensor';
import * as F from '../functional';
import { Module } from './module';

/** max(0, x) */
export class ReLU extends Module {
  forward(input: Tensor): Tensor {
    return F.relu(input);
  }
}
/** Gaussian error linear unit; `approximate: 'tanh'` for the tanh form. */
export class GELU extends Module {
  /** `'none'` (the exact GELU) or `'tanh'` (its tanh approximation). */
  readonly approximate: 'none' | 'tanh';
  constructor(opts: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    const o = checkOptions<{ approximate?: 'none' | 'tanh' }>('GELU', opts, ['approximate']);
    this.approximate = o.approximate ?? 'none';
    if (this.approximate !== 'none' && this.approximate !== 'tanh')
      throw new TypeError(`GELU: expected approximate to be 'none' or 'tanh', got ${String(this.approximate)}`);
    Object.defineProperty(this, 'approximate', { enumerable: false });
  }
  forward(input: Tensor): Tensor {
    return F.gelu(input, { approximate: this.approximate });
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}
export class Tanh extends Module {
  forward(input: Tensor): Tensor {
    return F.tanh(input);
  }
}
export class Sigmoid extends Module {
  forward(input: Tensor): Tensor {
    return F.sigmoid(input);
  }
}
/** x * sigmoid(x) */
export class SiLU extends Module {
  forward(input: Tensor): Tensor {
    return F.silu(input);
  }
}
/** Softmax and LogSoftmax: a `dim` (a setting, printed as PyTorch's `dim=...`). */
abstract class DimModule extends Module {
  /** The dimension along which the softmax is computed. */
  readonly dim: number;
  constructor(fn: string, dim: number) {
    super();
    this.dim = checkInt(fn, 'dim', dim);
    Object.defineProperty(this, 'dim', { enumerable: false });
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
/** Softmax along `dim`. */
export class Softmax extends DimModule {
  constructor(dim: number) {
    super('Softmax', dim);
  }
  forward(input: Tensor): Tensor {
    return F.softmax(input, this.dim);
  }
}
/** Log-softmax along `dim`. */
export class LogSoftmax extends DimModule {
  constructor(dim: number) {
    super('LogSoftmax', dim);
  }
  forward(input: Tensor): Tensor {
    return F.logSoftmax(input, this.dim);
  }
}
