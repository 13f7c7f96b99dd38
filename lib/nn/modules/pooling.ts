// Pooling and resampling layers (PyTorch's torch.nn.MaxPool1d/2d, AvgPool1d/2d,
// AdaptiveAvgPool1d/2d, Upsample).
import { checkBool, checkInt, checkNumber, checkOptions, typeError } from '../../errors';
import { Tensor } from '../../tensor';
import * as F from '../functional';
import type { InterpolateMode } from '../functional_py';
import { fmtFloat, Module, pyBool, pyTuple } from './module';

type IntOrList = number | number[];

function intOrList(fn: string, name: string, v: unknown, n: number, min: number): IntOrList {
  if (typeof v === 'number') return checkInt(fn, name, v, min);
  if (!Array.isArray(v) || v.length !== n) typeError(fn, name, `an integer or a list of ${n} integers`, v);
  return v.map((x, i) => checkInt(fn, `${name}[${i}]`, x, min));
}
function set(m: object, k: string, v: unknown): void {
  Object.defineProperty(m, k, { value: v, enumerable: false, writable: false, configurable: true });
}
function checkRank(fn: string, input: unknown, ranks: readonly number[]): Tensor {
  if (!(input instanceof Tensor)) typeError(fn, 'input', 'a Tensor', input);
  if (!ranks.includes(input.dim()))
    throw new RangeError(
      `${fn}: expected ${ranks.map((r) => `${r}D`).join(' or ')} input, got shape [${input.shape.join(', ')}]`,
    );
  return input;
}

/**
 * Options of `nn.MaxPool1d` / `MaxPool2d`: `stride` (default: the kernel size), `padding`, `dilation`,
 * `returnIndices`, `ceilMode`.
 */
export interface MaxPoolOptions {
  /** The step of the window, per spatial dimension (default: the kernel size). */
  stride?: IntOrList | null;
  /** The implicit padding on both sides, per spatial dimension (default 0). */
  padding?: IntOrList;
  /** The spacing between window elements (default 1). */
  dilation?: IntOrList;
  /** Also return the indices of the maxima (for `maxUnpool`; default false). */
  returnIndices?: boolean;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
}
const MAX_KEYS = ['stride', 'padding', 'dilation', 'returnIndices', 'ceilMode'] as const;

abstract class MaxPoolNd extends Module {
  /** The size of the pooling window, per spatial dimension. */
  declare readonly kernelSize: IntOrList;
  /** The step of the window, per spatial dimension (default: the kernel size). */
  declare readonly stride: IntOrList;
  /** The implicit padding on both sides, per spatial dimension (default 0). */
  declare readonly padding: IntOrList;
  /** The spacing between window elements (default 1). */
  declare readonly dilation: IntOrList;
  /** Also return the indices of the maxima (for `maxUnpool`; default false). */
  declare readonly returnIndices: boolean;
  /** Round the output size up instead of down (default false). */
  declare readonly ceilMode: boolean;
  protected constructor(fn: string, n: number, kernelSize: IntOrList, opts: MaxPoolOptions) {
    super();
    const o = checkOptions<MaxPoolOptions>(fn, opts, MAX_KEYS);
    const k = intOrList(fn, 'kernelSize', kernelSize, n, 1);
    set(this, 'kernelSize', k);
    set(this, 'stride', o.stride === undefined || o.stride === null ? k : intOrList(fn, 'stride', o.stride, n, 1));
    set(this, 'padding', intOrList(fn, 'padding', o.padding ?? 0, n, 0));
    set(this, 'dilation', intOrList(fn, 'dilation', o.dilation ?? 1, n, 1));
    set(this, 'returnIndices', o.returnIndices === undefined ? false : checkBool(fn, 'returnIndices', o.returnIndices));
    set(this, 'ceilMode', o.ceilMode === undefined ? false : checkBool(fn, 'ceilMode', o.ceilMode));
  }
  override extraRepr(): string {
    return (
      `kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}, padding=${pyTuple(this.padding)}, ` +
      `dilation=${pyTuple(this.dilation)}, ceil_mode=${pyBool(this.ceilMode)}`
    );
  }
  /** @internal The pooling options passed to the functional form. */
  protected opts() {
    return {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      ceilMode: this.ceilMode,
      returnIndices: this.returnIndices,
    };
  }
}

/** 1-d max pooling over `(N, C, L)` or `(C, L)` (PyTorch's `nn.MaxPool1d`); `returnIndices` also returns the argmax. */
export class MaxPool1d extends MaxPoolNd {
  constructor(kernelSize: IntOrList, opts: MaxPoolOptions = {}) {
    super('MaxPool1d', 1, kernelSize, opts);
  }
  forward(input: Tensor): Tensor | [Tensor, Tensor] {
    return F.maxPool1d(checkRank('MaxPool1d.forward', input, [2, 3]), this.kernelSize, this.opts());
  }
}
/** 2-d max pooling over `(N, C, H, W)` or `(C, H, W)` (PyTorch's `nn.MaxPool2d`). */
export class MaxPool2d extends MaxPoolNd {
  constructor(kernelSize: IntOrList, opts: MaxPoolOptions = {}) {
    super('MaxPool2d', 2, kernelSize, opts);
  }
  forward(input: Tensor): Tensor | [Tensor, Tensor] {
    return F.maxPool2d(checkRank('MaxPool2d.forward', input, [3, 4]), this.kernelSize, this.opts());
  }
}

/** Options of `nn.AvgPool1d`: `stride` (default: the kernel size), `padding`, `ceilMode`, `countIncludePad`. */
export interface AvgPoolOptions {
  /** The step of the window, per spatial dimension (default: the kernel size). */
  stride?: IntOrList | null;
  /** The implicit padding on both sides, per spatial dimension (default 0). */
  padding?: IntOrList;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
  /** Count the zero padding in the average (default true). */
  countIncludePad?: boolean;
}
/** Options of `nn.AvgPool2d`: those of `AvgPool1d` plus `divisorOverride`. */
export interface AvgPool2dOptions extends AvgPoolOptions {
  /** Divide by this instead of the window size (default: null, the window size). */
  divisorOverride?: number | null;
}

/** 1-d average pooling over `(N, C, L)` or `(C, L)` (PyTorch's `nn.AvgPool1d`). */
export class AvgPool1d extends Module {
  /** The size of the pooling window, per spatial dimension. */
  declare readonly kernelSize: number[];
  /** The step of the window, per spatial dimension (default: the kernel size). */
  declare readonly stride: number[];
  /** The implicit padding on both sides, per spatial dimension (default 0). */
  declare readonly padding: number[];
  /** Round the output size up instead of down (default false). */
  declare readonly ceilMode: boolean;
  /** Count the zero padding in the average (default true). */
  declare readonly countIncludePad: boolean;
  constructor(kernelSize: IntOrList, opts: AvgPoolOptions = {}) {
    super();
    const fn = 'AvgPool1d';
    const o = checkOptions<AvgPoolOptions>(fn, opts, ['stride', 'padding', 'ceilMode', 'countIncludePad']);
    const single = (name: string, v: unknown, min: number) => {
      const r = intOrList(fn, name, v, 1, min);
      return typeof r === 'number' ? [r] : r;
    };
    const k = single('kernelSize', kernelSize, 1);
    set(this, 'kernelSize', k);
    set(this, 'stride', o.stride === undefined || o.stride === null ? k : single('stride', o.stride, 1));
    set(this, 'padding', single('padding', o.padding ?? 0, 0));
    set(this, 'ceilMode', o.ceilMode === undefined ? false : checkBool(fn, 'ceilMode', o.ceilMode));
    set(
      this,
      'countIncludePad',
      o.countIncludePad === undefined ? true : checkBool(fn, 'countIncludePad', o.countIncludePad),
    );
  }
  forward(input: Tensor): Tensor {
    const x = checkRank('AvgPool1d.forward', input, [2, 3]);
    return F.avgPool1d(x, this.kernelSize, this.stride, this.padding, this.ceilMode, this.countIncludePad);
  }
  override extraRepr(): string {
    return `kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}, padding=${pyTuple(this.padding)}`;
  }
}

/** 2-d average pooling over `(N, C, H, W)` or `(C, H, W)` (PyTorch's `nn.AvgPool2d`). */
export class AvgPool2d extends Module {
  /** The size of the pooling window, per spatial dimension. */
  declare readonly kernelSize: IntOrList;
  /** The step of the window, per spatial dimension (default: the kernel size). */
  declare readonly stride: IntOrList;
  /** The implicit padding on both sides, per spatial dimension (default 0). */
  declare readonly padding: IntOrList;
  /** Round the output size up instead of down (default false). */
  declare readonly ceilMode: boolean;
  /** Count the zero padding in the average (default true). */
  declare readonly countIncludePad: boolean;
  /** Divide by this instead of the window size (default: null, the window size). */
  declare readonly divisorOverride: number | null;
  constructor(kernelSize: IntOrList, opts: AvgPool2dOptions = {}) {
    super();
    const fn = 'AvgPool2d';
    const o = checkOptions<AvgPool2dOptions>(fn, opts, [
      'stride',
      'padding',
      'ceilMode',
      'countIncludePad',
      'divisorOverride',
    ]);
    const k = intOrList(fn, 'kernelSize', kernelSize, 2, 1);
    set(this, 'kernelSize', k);
    set(this, 'stride', o.stride === undefined || o.stride === null ? k : intOrList(fn, 'stride', o.stride, 2, 1));
    set(this, 'padding', intOrList(fn, 'padding', o.padding ?? 0, 2, 0));
    set(this, 'ceilMode', o.ceilMode === undefined ? false : checkBool(fn, 'ceilMode', o.ceilMode));
    set(
      this,
      'countIncludePad',
      o.countIncludePad === undefined ? true : checkBool(fn, 'countIncludePad', o.countIncludePad),
    );
    set(
      this,
      'divisorOverride',
      o.divisorOverride === undefined || o.divisorOverride === null
        ? null
        : checkInt(fn, 'divisorOverride', o.divisorOverride, 1),
    );
  }
  forward(input: Tensor): Tensor {
    const x = checkRank('AvgPool2d.forward', input, [3, 4]);
    return F.avgPool2d(
      x,
      this.kernelSize,
      this.stride,
      this.padding,
      this.ceilMode,
      this.countIncludePad,
      this.divisorOverride,
    );
  }
  override extraRepr(): string {
    return `kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}, padding=${pyTuple(this.padding)}`;
  }
}

/** 1-d adaptive average pooling to `outputSize` (PyTorch's `nn.AdaptiveAvgPool1d`). */
export class AdaptiveAvgPool1d extends Module {
  /** The size of the output, per spatial dimension. */
  declare readonly outputSize: IntOrList;
  constructor(outputSize: IntOrList) {
    super();
    set(this, 'outputSize', intOrList('AdaptiveAvgPool1d', 'outputSize', outputSize, 1, 0));
  }
  forward(input: Tensor): Tensor {
    return F.adaptiveAvgPool1d(checkRank('AdaptiveAvgPool1d.forward', input, [2, 3]), this.outputSize);
  }
  override extraRepr(): string {
    return `output_size=${pyTuple(this.outputSize)}`;
  }
}

/** 2-d adaptive average pooling to `outputSize` (a null entry keeps that input size) (PyTorch's `nn.AdaptiveAvgPool2d`). */
export class AdaptiveAvgPool2d extends Module {
  /** The size of the output, per spatial dimension. */
  declare readonly outputSize: number | (number | null)[];
  constructor(outputSize: number | (number | null)[]) {
    super();
    const fn = 'AdaptiveAvgPool2d';
    if (typeof outputSize === 'number') set(this, 'outputSize', checkInt(fn, 'outputSize', outputSize, 0));
    else if (Array.isArray(outputSize) && outputSize.length === 2)
      set(
        this,
        'outputSize',
        outputSize.map((v, i) => (v === null ? null : checkInt(fn, `outputSize[${i}]`, v, 0))),
      );
    else typeError(fn, 'outputSize', 'an integer or a list of 2 integers (or nulls)', outputSize);
  }
  forward(input: Tensor): Tensor {
    return F.adaptiveAvgPool2d(checkRank('AdaptiveAvgPool2d.forward', input, [3, 4]), this.outputSize);
  }
  override extraRepr(): string {
    const s = this.outputSize;
    return `output_size=${typeof s === 'number' ? s : `(${s.map((v) => (v === null ? 'None' : v)).join(', ')})`}`;
  }
}

/** Options of `nn.Upsample`: the output `size` or a `scaleFactor`, the `mode` and `alignCorners`. */
export interface UpsampleOptions {
  /** The output size (instead of `scaleFactor`). */
  size?: number | number[] | null;
  /** The multiplier of the input size (instead of `size`). */
  scaleFactor?: number | number[] | null;
  /** The interpolation algorithm: `'nearest'` (default), `'linear'`, `'bilinear'`, `'bicubic'`, `'trilinear'`. */
  mode?: InterpolateMode;
  /** For the linear modes: align the corner pixels of input and output (default false). */
  alignCorners?: boolean | null;
  /** Recompute the scale factor from the computed output size (default false). */
  recomputeScaleFactor?: boolean | null;
}
/** Resamples to `size` or by `scaleFactor` with `F.interpolate` (PyTorch's `nn.Upsample`). */
export class Upsample extends Module {
  /** The output size (instead of `scaleFactor`). */
  declare readonly size: number | number[] | null;
  /** The multiplier of the input size (instead of `size`). */
  declare readonly scaleFactor: number | number[] | null;
  /** The interpolation algorithm: `'nearest'` (default), `'linear'`, `'bilinear'`, `'bicubic'`, `'trilinear'`. */
  declare readonly mode: InterpolateMode;
  /** For the linear modes: align the corner pixels of input and output (default false). */
  declare readonly alignCorners: boolean | null;
  /** Recompute the scale factor from the computed output size (default false). */
  declare readonly recomputeScaleFactor: boolean | null;
  constructor(opts: UpsampleOptions = {}) {
    super();
    const fn = 'Upsample';
    const o = checkOptions<UpsampleOptions>(fn, opts, [
      'size',
      'scaleFactor',
      'mode',
      'alignCorners',
      'recomputeScaleFactor',
    ]);
    set(this, 'size', o.size ?? null);
    const sf = o.scaleFactor ?? null;
    set(
      this,
      'scaleFactor',
      sf === null
        ? null
        : Array.isArray(sf)
          ? sf.map((v, i) => checkNumber(fn, `scaleFactor[${i}]`, v))
          : checkNumber(fn, 'scaleFactor', sf),
    );
    set(this, 'mode', o.mode ?? 'nearest');
    set(this, 'alignCorners', o.alignCorners ?? null);
    set(this, 'recomputeScaleFactor', o.recomputeScaleFactor ?? null);
  }
  forward(input: Tensor): Tensor {
    return F.interpolate(input, {
      size: this.size,
      scaleFactor: this.scaleFactor,
      mode: this.mode,
      alignCorners: this.alignCorners,
      recomputeScaleFactor: this.recomputeScaleFactor,
    });
  }
  override extraRepr(): string {
    const sf = this.scaleFactor;
    const info =
      sf !== null
        ? `scale_factor=${Array.isArray(sf) ? `(${sf.map(fmtFloat).join(', ')})` : fmtFloat(sf)}`
        : `size=${this.size === null ? 'None' : pyTuple(this.size)}`;
    return `${info}, mode=${this.mode}`;
  }
}
