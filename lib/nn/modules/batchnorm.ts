// Batch and instance normalisation (PyTorch's torch.nn.BatchNorm1d, BatchNorm2d, InstanceNorm1d).
import { noGrad } from '../../autograd';
import { ones, zeros } from '../../creation';
import { checkBool, checkInt, checkNumber, checkOptions, typeError } from '../../errors';
import { Tensor } from '../../tensor';
import * as F from '../functional';
import { Parameter } from '../parameter';
import type { FactoryOptions } from './linear';
import { fmtFloat, Module, pyBool } from './module';

export interface BatchNormOptions extends FactoryOptions {
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
  /** The running statistics' update factor; null: a cumulative moving average. */
  momentum?: number | null;
  /** Whether the layer has a learnable scale (`weight`) and shift (`bias`). */
  affine?: boolean;
  /** Whether the layer keeps running statistics (`running_mean`, `running_var`) and uses them in eval mode. */
  trackRunningStats?: boolean;
}
const KEYS = ['eps', 'momentum', 'affine', 'trackRunningStats', 'dtype', 'device'] as const;

/** PyTorch's `_NormBase`: the parameters, the running-statistics buffers and their reset. */
abstract class NormBase extends Module {
  /** The number of features or channels `C` of the input. */
  declare readonly numFeatures: number;
  /** Added to the variance for numerical stability (default 1e-5). */
  declare readonly eps: number;
  /** The weight of each new batch in the running statistics (default 0.1; null: a cumulative average). */
  declare readonly momentum: number | null;
  /** Whether the layer has a learnable scale (`weight`) and shift (`bias`). */
  declare readonly affine: boolean;
  /** Whether the layer keeps running statistics (`running_mean`, `running_var`) and uses them in eval mode. */
  declare readonly trackRunningStats: boolean;
  /** The learnable scale `(C)`, or null without `affine`. */
  weight: Parameter | null;
  /** The learnable shift `(C)`, or null without `affine`. */
  bias: Parameter | null;

  protected constructor(fn: string, numFeatures: number, opts: BatchNormOptions, defaults: [boolean, boolean]) {
    super();
    const o = checkOptions<BatchNormOptions>(fn, opts, KEYS);
    const set = (k: string, v: unknown) =>
      Object.defineProperty(this, k, { value: v, enumerable: false, writable: false, configurable: true });
    const n = checkInt(fn, 'numFeatures', numFeatures, 0);
    set('numFeatures', n);
    set('eps', o.eps === undefined ? 1e-5 : checkNumber(fn, 'eps', o.eps));
    set(
      'momentum',
      o.momentum === undefined ? 0.1 : o.momentum === null ? null : checkNumber(fn, 'momentum', o.momentum),
    );
    const affine = o.affine === undefined ? defaults[0] : checkBool(fn, 'affine', o.affine);
    const track =
      o.trackRunningStats === undefined ? defaults[1] : checkBool(fn, 'trackRunningStats', o.trackRunningStats);
    set('affine', affine);
    set('trackRunningStats', track);
    const f = { dtype: o.dtype, device: o.device };
    this.weight = affine ? new Parameter(ones([n], f)) : null;
    this.bias = affine ? new Parameter(zeros([n], f)) : null;
    if (track) {
      this.registerBuffer('running_mean', zeros([n], f));
      this.registerBuffer('running_var', ones([n], f));
      this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int64', device: o.device }));
    } else {
      this.registerBuffer('running_mean', null);
      this.registerBuffer('running_var', null);
      this.registerBuffer('num_batches_tracked', null);
    }
  }

  /** A registered buffer, or null. */
  protected buf(name: 'running_mean' | 'running_var' | 'num_batches_tracked'): Tensor | null {
    const v = (this as unknown as Record<string, unknown>)[name];
    return v instanceof Tensor ? v : null;
  }
  /** The running mean (PyTorch's `running_mean` buffer), or null without `trackRunningStats`. */
  get runningMean(): Tensor | null {
    return this.buf('running_mean');
  }
  /** The running variance (PyTorch's `running_var` buffer), or null without `trackRunningStats`. */
  get runningVar(): Tensor | null {
    return this.buf('running_var');
  }
  /** The number of training batches seen (PyTorch's `num_batches_tracked` buffer, int64). */
  get numBatchesTracked(): Tensor | null {
    return this.buf('num_batches_tracked');
  }

  /** Zeroes the running mean and the batch count, sets the running variance to ones. */
  resetRunningStats(): void {
    noGrad(() => {
      this.runningMean?.zero_();
      this.runningVar?.fill_(1);
      this.numBatchesTracked?.zero_();
    });
  }
  /** `resetRunningStats()`, and weight 1, bias 0. */
  resetParameters(): void {
    this.resetRunningStats();
    noGrad(() => {
      this.weight?.fill_(1);
      this.bias?.zero_();
    });
  }

  override extraRepr(): string {
    const m = this.momentum === null ? 'None' : String(this.momentum);
    return (
      `${this.numFeatures}, eps=${fmtFloat(this.eps)}, momentum=${m}, affine=${pyBool(this.affine)}, ` +
      `track_running_stats=${pyBool(this.trackRunningStats)}`
    );
  }
}

/** PyTorch's `_BatchNorm.forward`. */
abstract class BatchNorm extends NormBase {
  protected abstract checkDim(fn: string, input: Tensor): void;

  forward(input: Tensor): Tensor {
    const fn = `${this.constructor.name}.forward`;
    if (!(input instanceof Tensor)) typeError(fn, 'input', 'a Tensor', input);
    this.checkDim(fn, input);
    let factor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats) {
      const nbt = this.numBatchesTracked;
      if (nbt !== null) {
        noGrad(() => nbt.add_(1));
        if (this.momentum === null) factor = 1 / Number(nbt.item());
      }
    }
    const bnTraining = this.training ? true : this.runningMean === null && this.runningVar === null;
    const useStats = !this.training || this.trackRunningStats;
    return F.batchNorm(input, useStats ? this.runningMean : null, useStats ? this.runningVar : null, {
      weight: this.weight,
      bias: this.bias,
      training: bnTraining,
      momentum: factor,
      eps: this.eps,
    });
  }
}

/**
 * Batch normalisation over `(N, C)` or `(N, C, L)` input (PyTorch's `nn.BatchNorm1d`): batch
 * statistics in training (updating the running ones with `momentum`), running statistics in eval.
 */
export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm1d', numFeatures, opts, [true, true]);
  }
  /** @internal Throws a RangeError when `input` has a dimensionality this norm does not take. */
  protected checkDim(fn: string, input: Tensor): void {
    if (input.dim() !== 2 && input.dim() !== 3)
      throw new RangeError(`${fn}: expected 2D or 3D input (got ${input.dim()}D input)`);
  }
}

/** Batch normalisation over `(N, C, H, W)` input (PyTorch's `nn.BatchNorm2d`). */
export class BatchNorm2d extends BatchNorm {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm2d', numFeatures, opts, [true, true]);
  }
  /** @internal Throws a RangeError when `input` has a dimensionality this norm does not take. */
  protected checkDim(fn: string, input: Tensor): void {
    if (input.dim() !== 4) throw new RangeError(`${fn}: expected 4D input (got ${input.dim()}D input)`);
  }
}

/**
 * Instance normalisation over `(N, C, L)` or `(C, L)` input (PyTorch's `nn.InstanceNorm1d`):
 * each channel of each sample by its own statistics. `affine` and `trackRunningStats` default
 * to false.
 */
export class InstanceNorm1d extends NormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('InstanceNorm1d', numFeatures, opts, [false, false]);
  }

  forward(input: Tensor): Tensor {
    const fn = 'InstanceNorm1d.forward';
    if (!(input instanceof Tensor)) typeError(fn, 'input', 'a Tensor', input);
    const d = input.dim();
    if (d !== 2 && d !== 3) throw new RangeError(`${fn}: expected 2D or 3D input (got ${d}D input)`);
    const featureDim = d - 2;
    if (this.affine && input.shape[featureDim] !== this.numFeatures)
      throw new RangeError(
        `${fn}: expected input's size at dim=${featureDim} to match numFeatures (${this.numFeatures}), but got: ${input.shape[featureDim]}.`,
      );
    if (d === 2) return this.apply1(input.unsqueeze(0)).squeeze(0);
    return this.apply1(input);
  }

  private apply1(x: Tensor): Tensor {
    return F.instanceNorm(x, {
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      weight: this.weight,
      bias: this.bias,
      useInputStats: this.training || !this.trackRunningStats,
      momentum: this.momentum ?? 0.1,
      eps: this.eps,
    });
  }
}
