// PyTorch's torch.nn.GroupNorm.
import { ones, zeros } from '../../creation';
import { checkBool, checkInt, checkNumber, checkOptions, typeError } from '../../errors';
import { Tensor } from '../../tensor';
import * as F from '../functional';
import { Parameter } from '../parameter';
import type { FactoryOptions } from './linear';
import { fmtFloat, Module, pyBool } from './module';

export interface GroupNormOptions extends FactoryOptions {
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
  /** Whether the layer has a learnable per-channel scale and shift (default true). */
  affine?: boolean;
}

/**
 * Normalises `(N, C, *)` input over groups of `numChannels / numGroups` channels (PyTorch's
 * `nn.GroupNorm`); `affine` adds a per-channel weight (ones) and bias (zeros).
 */
export class GroupNorm extends Module {
  /** The number of groups the channels are divided into. */
  declare readonly numGroups: number;
  /** The number of channels `C` of the input. */
  declare readonly numChannels: number;
  /** Added to the variance for numerical stability (default 1e-5). */
  declare readonly eps: number;
  /** Whether the layer has a learnable per-channel scale and shift (default true). */
  declare readonly affine: boolean;
  /** The learnable scale `(C)`, or null without `affine`. */
  weight: Parameter | null;
  /** The learnable shift `(C)`, or null without `affine`. */
  bias: Parameter | null;

  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super();
    const fn = 'GroupNorm';
    const o = checkOptions<GroupNormOptions>(fn, opts, ['eps', 'affine', 'dtype', 'device']);
    const set = (k: string, v: unknown) =>
      Object.defineProperty(this, k, { value: v, enumerable: false, writable: false, configurable: true });
    const g = checkInt(fn, 'numGroups', numGroups, 1);
    const c = checkInt(fn, 'numChannels', numChannels, 0);
    if (c % g !== 0) throw new RangeError(`${fn}: numChannels must be divisible by numGroups`);
    set('numGroups', g);
    set('numChannels', c);
    set('eps', o.eps === undefined ? 1e-5 : checkNumber(fn, 'eps', o.eps));
    const affine = o.affine === undefined ? true : checkBool(fn, 'affine', o.affine);
    set('affine', affine);
    const f = { dtype: o.dtype, device: o.device };
    this.weight = affine ? new Parameter(ones([c], f)) : null;
    this.bias = affine ? new Parameter(zeros([c], f)) : null;
  }

  forward(input: Tensor): Tensor {
    const fn = 'GroupNorm.forward';
    if (!(input instanceof Tensor)) typeError(fn, 'input', 'a Tensor', input);
    if (input.dim() < 2 || input.shape[1] !== this.numChannels)
      throw new RangeError(
        `${fn}: expected input of shape (N, ${this.numChannels}, *), got [${input.shape.join(', ')}]`,
      );
    return F.groupNorm(input, this.numGroups, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${fmtFloat(this.eps)}, affine=${pyBool(this.affine)}`;
  }
}
