// Activations with settings or parameters: PyTorch's torch.nn.PReLU and Softplus.
import { full } from '../../creation';
import { checkInt, checkNumber, checkOptions } from '../../errors';
import type { Tensor } from '../../tensor';
import * as F from '../functional';
import { Parameter } from '../parameter';
import type { FactoryOptions } from './linear';
import { Module } from './module';

export interface PReLUOptions extends FactoryOptions {
  /** 1 (one slope shared by all channels) or the number of channels (dim 1 of the input). */
  numParameters?: number;
  /** The slopes' initial value. */
  init?: number;
}

/** `max(0, x) + a * min(0, x)` with learnt slopes `a` (PyTorch's `nn.PReLU`). */
export class PReLU extends Module {
  /** The number of slopes: 1, or the number of channels. */
  declare readonly numParameters: number;
  /** The slopes' initial value (default 0.25). */
  declare readonly init: number;
  /** The learnable slopes `(numParameters)`. */
  weight: Parameter;
  constructor(opts: PReLUOptions = {}) {
    super();
    const fn = 'PReLU';
    const o = checkOptions<PReLUOptions>(fn, opts, ['numParameters', 'init', 'dtype', 'device']);
    const n = o.numParameters === undefined ? 1 : checkInt(fn, 'numParameters', o.numParameters, 1);
    const v = o.init === undefined ? 0.25 : checkNumber(fn, 'init', o.init);
    Object.defineProperty(this, 'numParameters', { value: n, enumerable: false });
    Object.defineProperty(this, 'init', { value: v, enumerable: false });
    this.weight = new Parameter(full([n], v, { dtype: o.dtype, device: o.device }));
  }
  /** Refills every slope with the `init` value given to the constructor (0.25 by default). */
  resetParameters(): void {
    this.weight.detach().fill_(this.init);
  }
  forward(input: Tensor): Tensor {
    return F.prelu(input, this.weight);
  }
  override extraRepr(): string {
    return `num_parameters=${this.numParameters}`;
  }
}

/** `log(1 + exp(beta x)) / beta`, linear above `threshold` (PyTorch's `nn.Softplus`). */
export class Softplus extends Module {
  /** The `beta` of `log(1 + exp(beta x)) / beta` (default 1). */
  declare readonly beta: number;
  /** Above `beta x > threshold` the output is `x` (default 20). */
  declare readonly threshold: number;
  constructor(opts: { beta?: number; threshold?: number } = {}) {
    super();
    const fn = 'Softplus';
    const o = checkOptions<{ beta?: number; threshold?: number }>(fn, opts, ['beta', 'threshold']);
    Object.defineProperty(this, 'beta', {
      value: o.beta === undefined ? 1 : checkNumber(fn, 'beta', o.beta),
      enumerable: false,
    });
    Object.defineProperty(this, 'threshold', {
      value: o.threshold === undefined ? 20 : checkNumber(fn, 'threshold', o.threshold),
      enumerable: false,
    });
  }
  forward(input: Tensor): Tensor {
    return F.softplus(input, this.beta, this.threshold);
  }
  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}
