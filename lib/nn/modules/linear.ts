import { empty } from '../../creation';
import type { DType } from '../../dtype';
import { checkBool, checkInt, checkOptions } from '../../errors';
import { native as N } from '../../native';
import { handle, Tensor } from '../../tensor';
import * as F from '../functional';
import * as init from '../init';
import { Parameter } from '../parameter';
import { Module, pyBool } from './module';

/** Options every layer with parameters takes. */
export interface FactoryOptions {
  /** The dtype of the parameters (default `'float32'`). */
  dtype?: DType;
  /** The device of the parameters (default `'cpu'`). */
  device?: string;
}
const LINEAR_KEYS = ['bias', 'dtype', 'device'] as const;

/** Returns its input (PyTorch's `nn.Identity`). */
export class Identity extends Module {
  forward(input: Tensor): Tensor {
    handle(input, 'Identity.forward', 'input');
    return input;
  }
}

/**
 * `y = x Wᵀ + b` (PyTorch's `nn.Linear`). Input `(*, inFeatures)`, output `(*, outFeatures)`.
 * Weight `(out, in)` from kaiming-uniform(a=√5), bias U(-1/√in, 1/√in), as PyTorch.
 */
export class Linear extends Module {
  /** The size of each input sample (the last dimension). */
  readonly inFeatures: number;
  /** The size of each output sample. */
  readonly outFeatures: number;
  /** The weight `(outFeatures, inFeatures)`. */
  weight: Parameter;
  /** The bias `(outFeatures)`, or null when made with `bias: false`. */
  bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean } & FactoryOptions = {}) {
    super();
    const fn = 'Linear';
    const o = checkOptions<{ bias?: boolean } & FactoryOptions>(fn, opts, LINEAR_KEYS);
    this.inFeatures = checkInt(fn, 'inFeatures', inFeatures, 0);
    this.outFeatures = checkInt(fn, 'outFeatures', outFeatures, 0);
    Object.defineProperty(this, 'inFeatures', { enumerable: false });
    Object.defineProperty(this, 'outFeatures', { enumerable: false });
    const f = { dtype: o.dtype, device: o.device };
    this.weight = new Parameter(empty([outFeatures, inFeatures], f));
    this.bias = o.bias === undefined || checkBool(fn, 'bias', o.bias) ? new Parameter(empty([outFeatures], f)) : null;
    this.resetParameters();
  }

  /**
   * Redraws the weight (Kaiming-uniform, `a = sqrt(5)`) and the bias (uniform in ±1/sqrt(inFeatures)), as at
   * construction (PyTorch's init).
   */
  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = init.calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform_(this.bias, -bound, bound);
    }
  }

  forward(input: Tensor): Tensor {
    this.checkInput('Linear.forward', input);
    return F.linear(input, this.weight, this.bias);
  }

  /**
   * `forward` on the libuv thread pool: the event loop keeps running while it computes. Same
   * checks as `forward`; every error rejects the Promise. Until the Promise settles the input and the
   * parameters are in use: disposing them or changing them in place (optimizer steps) throws.
   * The result is not owned by any `torch.tidy` scope. libtorch's intra-op threads and the pool
   * (`UV_THREADPOOL_SIZE`) share the cores.
   */
  override async forwardAsync(input: Tensor): Promise<Tensor> {
    const fn = 'Linear.forwardAsync';
    this.checkInput(fn, input);
    const [h] = await N.linearAsync(
      handle(input, fn, 'input'),
      handle(this.weight, fn, 'weight'),
      this.bias ? handle(this.bias, fn, 'bias') : undefined,
    );
    return new Tensor(h);
  }

  private checkInput(fn: string, input: Tensor): void {
    if (!(input instanceof Tensor)) handle(input, fn, 'input');
    const last = input.shape[input.shape.length - 1];
    if (input.dim() === 0 || last !== this.inFeatures)
      throw new RangeError(
        `${fn}: expected input with last dimension inFeatures=${this.inFeatures}, ` +
          `got shape [${input.shape.join(', ')}]`,
      );
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }
}

/** `y = x1ᵀ A x2 + b` (PyTorch's `nn.Bilinear`). */
export class Bilinear extends Module {
  /** The size of each sample of the first input. */
  readonly in1Features: number;
  /** The size of each sample of the second input. */
  readonly in2Features: number;
  /** The size of each output sample. */
  readonly outFeatures: number;
  /** The weight `(outFeatures, in1Features, in2Features)`. */
  weight: Parameter;
  /** The bias `(outFeatures)`, or null when made with `bias: false`. */
  bias: Parameter | null;

  constructor(
    in1Features: number,
    in2Features: number,
    outFeatures: number,
    opts: { bias?: boolean } & FactoryOptions = {},
  ) {
    super();
    const fn = 'Bilinear';
    const o = checkOptions<{ bias?: boolean } & FactoryOptions>(fn, opts, LINEAR_KEYS);
    this.in1Features = checkInt(fn, 'in1Features', in1Features, 0);
    this.in2Features = checkInt(fn, 'in2Features', in2Features, 0);
    this.outFeatures = checkInt(fn, 'outFeatures', outFeatures, 0);
    for (const k of ['in1Features', 'in2Features', 'outFeatures'])
      Object.defineProperty(this, k, { enumerable: false });
    const f = { dtype: o.dtype, device: o.device };
    this.weight = new Parameter(empty([outFeatures, in1Features, in2Features], f));
    this.bias = o.bias === undefined || checkBool(fn, 'bias', o.bias) ? new Parameter(empty([outFeatures], f)) : null;
    this.resetParameters();
  }

  /** Redraws the weight and the bias uniformly in ±1/sqrt(in1Features), as at construction (PyTorch's init). */
  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.weight.shape[1]);
    init.uniform_(this.weight, -bound, bound);
    if (this.bias) init.uniform_(this.bias, -bound, bound);
  }

  forward(input1: Tensor, input2: Tensor): Tensor {
    return F.bilinear(input1, input2, this.weight, this.bias);
  }

  override extraRepr(): string {
    return (
      `in1_features=${this.in1Features}, in2_features=${this.in2Features}, ` +
      `out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`
    );
  }
}
