// Convolution layers (PyTorch's torch.nn.Conv1d, Conv2d, ConvTranspose1d).
import { empty } from '../../creation';
import { checkBool, checkInt, checkOptions, typeError } from '../../errors';
import { Tensor } from '../../tensor';
import * as F from '../functional';
import * as init from '../init';
import { Parameter } from '../parameter';
import type { FactoryOptions } from './linear';
import { Module, pyTuple } from './module';

/**
 * How a convolution pads its input (PyTorch's `padding_mode`): with zeros, or by reflecting, replicating or wrapping
 * around the edges.
 */
export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';
const PADDING_MODES: readonly PaddingMode[] = ['zeros', 'reflect', 'replicate', 'circular'];

export interface ConvOptions extends FactoryOptions {
  /** The step of the kernel, per spatial dimension (default 1). */
  stride?: number | number[];
  /** An int, one int per spatial dim, or 'same' / 'valid'. */
  padding?: number | number[] | 'same' | 'valid';
  /** The spacing between kernel elements, per spatial dimension (default 1). */
  dilation?: number | number[];
  /** The number of blocked connections from input to output channels (default 1). */
  groups?: number;
  /** Whether the layer has a learnable bias (default true). */
  bias?: boolean;
  /** How the input is padded: `'zeros'` (default), `'reflect'`, `'replicate'` or `'circular'`. */
  paddingMode?: PaddingMode;
}
export interface ConvTransposeOptions extends FactoryOptions {
  /** The step of the kernel, per spatial dimension (default 1). */
  stride?: number | number[];
  /** The implicit zero padding on both sides of the input, per spatial dimension (default 0). */
  padding?: number | number[];
  /** Transposed convolutions: the size added to one side of the output, per spatial dimension (default 0). */
  outputPadding?: number | number[];
  /** The number of blocked connections from input to output channels (default 1). */
  groups?: number;
  /** Whether the layer has a learnable bias (default true). */
  bias?: boolean;
  /** The spacing between kernel elements, per spatial dimension (default 1). */
  dilation?: number | number[];
  /** How the input is padded: `'zeros'` (default), `'reflect'`, `'replicate'` or `'circular'`. */
  paddingMode?: 'zeros';
}
const CONV_KEYS = ['stride', 'padding', 'dilation', 'groups', 'bias', 'paddingMode', 'dtype', 'device'] as const;
const CONV_T_KEYS = [
  'stride',
  'padding',
  'outputPadding',
  'groups',
  'bias',
  'dilation',
  'paddingMode',
  'dtype',
  'device',
] as const;

function tuple(fn: string, name: string, v: unknown, n: number, min: number): number[] {
  if (typeof v === 'number') return new Array<number>(n).fill(checkInt(fn, name, v, min));
  if (!Array.isArray(v) || v.length !== n) typeError(fn, name, `an integer or a list of ${n} integers`, v);
  return v.map((x, i) => checkInt(fn, `${name}[${i}]`, x, min));
}

/** What Conv1d / Conv2d / ConvTranspose1d share (PyTorch's `_ConvNd`). */
abstract class ConvNd extends Module {
  /** The number of channels of the input. */
  declare readonly inChannels: number;
  /** The number of channels of the output. */
  declare readonly outChannels: number;
  /** The size of the convolution kernel, per spatial dimension. */
  declare readonly kernelSize: number[];
  /** The step of the kernel, per spatial dimension (default 1). */
  declare readonly stride: number[];
  /** The implicit padding on both sides, per spatial dimension, or `'same'` / `'valid'`. */
  declare readonly padding: number[] | 'same' | 'valid';
  /** The spacing between kernel elements, per spatial dimension (default 1). */
  declare readonly dilation: number[];
  /** Whether this is a transposed convolution. */
  declare readonly transposed: boolean;
  /** Transposed convolutions: the size added to one side of the output, per spatial dimension (default 0). */
  declare readonly outputPadding: number[];
  /** The number of blocked connections from input to output channels (default 1). */
  declare readonly groups: number;
  /** How the input is padded: `'zeros'` (default), `'reflect'`, `'replicate'` or `'circular'`. */
  declare readonly paddingMode: PaddingMode;
  /** F.pad's argument for the non-'zeros' padding modes (last dim first). */
  declare readonly reversedPaddingRepeatedTwice: number[];
  /** The kernel `(outChannels, inChannels / groups, ...kernelSize)` (transposed: `(inChannels, outChannels / groups, ...kernelSize)`). */
  weight: Parameter;
  /** The learnable bias `(outChannels)`, or null when made with `bias: false`. */
  bias: Parameter | null;

  protected constructor(
    fn: string,
    n: number,
    transposed: boolean,
    inChannels: number,
    outChannels: number,
    kernelSize: number | number[],
    o: Partial<ConvOptions> & { outputPadding?: number | number[] },
  ) {
    super();
    const set = (k: string, v: unknown) =>
      Object.defineProperty(this, k, { value: v, enumerable: false, writable: false, configurable: true });
    const inC = checkInt(fn, 'inChannels', inChannels, 0);
    const outC = checkInt(fn, 'outChannels', outChannels, 0);
    const groups = o.groups === undefined ? 1 : checkInt(fn, 'groups', o.groups);
    if (groups <= 0) throw new RangeError(`${fn}: groups must be a positive integer, got ${groups}`);
    if (inC % groups !== 0) throw new RangeError(`${fn}: inChannels must be divisible by groups`);
    if (outC % groups !== 0) throw new RangeError(`${fn}: outChannels must be divisible by groups`);
    const k = tuple(fn, 'kernelSize', kernelSize, n, 1);
    const stride = tuple(fn, 'stride', o.stride ?? 1, n, 1);
    const dilation = tuple(fn, 'dilation', o.dilation ?? 1, n, 1);
    const mode = o.paddingMode ?? 'zeros';
    if (!PADDING_MODES.includes(mode))
      throw new TypeError(
        `${fn}: paddingMode must be one of ${PADDING_MODES.map((m) => `'${m}'`).join(', ')}, but got paddingMode='${String(mode)}'`,
      );
    let padding: number[] | 'same' | 'valid';
    const p = o.padding ?? 0;
    if (typeof p === 'string') {
      if (p !== 'same' && p !== 'valid')
        throw new TypeError(`${fn}: Invalid padding string '${p}', should be one of 'valid', 'same'`);
      if (p === 'same' && stride.some((s) => s !== 1))
        throw new RangeError(`${fn}: padding='same' is not supported for strided convolutions`);
      padding = p;
    } else padding = tuple(fn, 'padding', p, n, 0);
    let rev: number[];
    if (padding === 'same') {
      rev = [];
      for (let d = n - 1; d >= 0; d--) {
        const total = dilation[d] * (k[d] - 1);
        const left = Math.floor(total / 2);
        rev.push(left, total - left);
      }
    } else if (padding === 'valid') rev = new Array<number>(2 * n).fill(0);
    else {
      const pd = padding;
      rev = [];
      for (let d = n - 1; d >= 0; d--) rev.push(pd[d], pd[d]);
    }
    set('inChannels', inC);
    set('outChannels', outC);
    set('kernelSize', k);
    set('stride', stride);
    set('padding', padding);
    set('dilation', dilation);
    set('transposed', transposed);
    set('outputPadding', tuple(fn, 'outputPadding', o.outputPadding ?? 0, n, 0));
    set('groups', groups);
    set('paddingMode', mode);
    set('reversedPaddingRepeatedTwice', rev);
    const f = { dtype: o.dtype, device: o.device };
    const shape = transposed ? [inC, outC / groups, ...k] : [outC, inC / groups, ...k];
    this.weight = new Parameter(empty(shape, f));
    this.bias = o.bias === undefined || checkBool(fn, 'bias', o.bias) ? new Parameter(empty([outC], f)) : null;
    this.resetParameters();
  }

  /** kaiming-uniform(a=√5) weight, U(-1/√fanIn, 1/√fanIn) bias, as PyTorch. */
  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = init.calculateFanInAndFanOut(this.weight);
      if (fanIn !== 0) {
        const bound = 1 / Math.sqrt(fanIn);
        init.uniform_(this.bias, -bound, bound);
      }
    }
  }

  /** @internal Checks the input of a convolution: a float tensor of the module's dtype and device, batched or not. */
  protected checkInput(fn: string, input: unknown, n: number): Tensor {
    if (!(input instanceof Tensor)) typeError(fn, 'input', 'a Tensor', input);
    const d = input.dim();
    if (d !== n + 1 && d !== n + 2)
      throw new RangeError(
        `${fn}: Expected ${n + 1}D (unbatched) or ${n + 2}D (batched) input, but got input of size: [${input.shape.join(', ')}]`,
      );
    const c = input.shape[d - n - 1];
    const want = this.inChannels;
    if (c !== want)
      throw new RangeError(
        `${fn}: expected input with ${want} channels (dim ${d - n - 1}), got shape [${input.shape.join(', ')}]`,
      );
    return input;
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}`;
    const p = this.padding;
    if (typeof p === 'string') s += `, padding=${p}`;
    else if (p.some((v) => v !== 0)) s += `, padding=${pyTuple(p)}`;
    if (this.dilation.some((v) => v !== 1)) s += `, dilation=${pyTuple(this.dilation)}`;
    if (this.outputPadding.some((v) => v !== 0)) s += `, output_padding=${pyTuple(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ', bias=False';
    if (this.paddingMode !== 'zeros') s += `, padding_mode=${this.paddingMode}`;
    return s;
  }
}

abstract class Conv extends ConvNd {
  /** @internal The forward of `Conv1d` / `Conv2d`: checks `input`, pads it by `paddingMode` and convolves. */
  protected conv(fn: string, n: 1 | 2, input: unknown): Tensor {
    const x = this.checkInput(fn, input, n);
    const f = n === 1 ? F.conv1d : F.conv2d;
    if (this.paddingMode !== 'zeros') {
      const padded = F.pad(x, this.reversedPaddingRepeatedTwice, this.paddingMode);
      return f(padded, this.weight, this.bias, this.stride, 0, this.dilation, this.groups);
    }
    const p = this.padding;
    if (typeof p === 'string') return f(x, this.weight, this.bias, this.stride, p, this.dilation, this.groups);
    return f(x, this.weight, this.bias, this.stride, p, this.dilation, this.groups);
  }
}

/**
 * 1-d convolution over `(N, Cin, L)` or `(Cin, L)` input (PyTorch's `nn.Conv1d`). Weight
 * `(outChannels, inChannels / groups, k)`; padding an int, a list, 'same' or 'valid';
 * `paddingMode` 'zeros', 'reflect', 'replicate' or 'circular'.
 */
export class Conv1d extends Conv {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], opts: ConvOptions = {}) {
    const o = checkOptions<ConvOptions>('Conv1d', opts, CONV_KEYS);
    super('Conv1d', 1, false, inChannels, outChannels, kernelSize, o);
  }
  forward(input: Tensor): Tensor {
    return this.conv('Conv1d.forward', 1, input);
  }
}

/** 2-d convolution over `(N, Cin, H, W)` or `(Cin, H, W)` input (PyTorch's `nn.Conv2d`). */
export class Conv2d extends Conv {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], opts: ConvOptions = {}) {
    const o = checkOptions<ConvOptions>('Conv2d', opts, CONV_KEYS);
    super('Conv2d', 2, false, inChannels, outChannels, kernelSize, o);
  }
  forward(input: Tensor): Tensor {
    return this.conv('Conv2d.forward', 2, input);
  }
}

/**
 * 1-d transposed convolution (PyTorch's `nn.ConvTranspose1d`). Weight `(inChannels,
 * outChannels / groups, k)`; `forward(input, outputSize?)` picks the output padding that gives
 * `outputSize`.
 */
export class ConvTranspose1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], opts: ConvTransposeOptions = {}) {
    const fn = 'ConvTranspose1d';
    const o = checkOptions<ConvTransposeOptions>(fn, opts, CONV_T_KEYS);
    if (o.paddingMode !== undefined && o.paddingMode !== 'zeros')
      throw new TypeError(`${fn}: Only "zeros" padding mode is supported for ConvTranspose1d`);
    if (typeof o.padding === 'string') typeError(fn, 'padding', 'an integer or a list of 1 integer', o.padding);
    super(fn, 1, true, inChannels, outChannels, kernelSize, o);
  }

  forward(input: Tensor, outputSize?: number[] | null): Tensor {
    const fn = 'ConvTranspose1d.forward';
    const x = this.checkInput(fn, input, 1);
    const outPad = this.outputPaddingFor(fn, x, outputSize ?? null);
    return F.convTranspose1d(
      x,
      this.weight,
      this.bias,
      this.stride,
      this.padding as number[],
      outPad,
      this.groups,
      this.dilation,
    );
  }

  /** PyTorch's `_output_padding`. */
  private outputPaddingFor(fn: string, x: Tensor, outputSize: number[] | null): number[] {
    if (outputSize === null) return this.outputPadding;
    if (!Array.isArray(outputSize)) typeError(fn, 'outputSize', 'a list of integers or null', outputSize);
    const n = 1;
    const nonSpatial = x.dim() === n + 2 ? 2 : 1;
    let size = outputSize;
    if (size.length === nonSpatial + n) size = size.slice(nonSpatial);
    if (size.length !== n)
      throw new RangeError(
        `${fn}: ConvTranspose1d: for ${x.dim()}D input, outputSize must have ${n} or ${nonSpatial + n} elements (got ${outputSize.length})`,
      );
    const pad = this.padding as number[];
    const res: number[] = [];
    for (let d = 0; d < n; d++) {
      const min =
        (x.shape[d + nonSpatial] - 1) * this.stride[d] - 2 * pad[d] + this.dilation[d] * (this.kernelSize[d] - 1) + 1;
      const max = min + this.stride[d] - 1;
      if (!(min <= size[d] && size[d] <= max))
        throw new RangeError(
          `${fn}: requested an output size of [${size.join(', ')}], but valid sizes range from [${min}] to [${max}] (for an input of [${x.shape.slice(nonSpatial).join(', ')}])`,
        );
      res.push(size[d] - min);
    }
    return res;
  }
}
