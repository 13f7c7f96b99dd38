import { ones, zeros } from '../../creation';
import { checkBool, checkInt, checkNumber, checkOptions, typeError } from '../../errors';
import { Tensor } from '../../tensor';
import * as F from '../functional';
import { Parameter } from '../parameter';
import type { FactoryOptions } from './linear';
import { fmtFloat, Module, pyBool } from './module';

export { fmtFloat };

export interface LayerNormOptions extends FactoryOptions {
  /** Added to the variance for numerical stability (default 1e-5). */
  eps?: number;
  /** Whether the layer has a learnable elementwise scale and shift (default true). */
  elementwiseAffine?: boolean;
}
const LAYER_NORM_KEYS = ['eps', 'elementwiseAffine', 'dtype', 'device'] as const;

/** Layer normalisation over the trailing `normalizedShape` dims (PyTorch's `nn.LayerNorm`). */
export class LayerNorm extends Module {
  /** The trailing shape normalized over. */
  readonly normalizedShape: number[];
  /** Added to the variance for numerical stability (default 1e-5). */
  readonly eps: number;
  /** Whether the layer has a learnable elementwise scale and shift (default true). */
  readonly elementwiseAffine: boolean;
  /** The learnable scale (`normalizedShape`), or null without `elementwiseAffine`. */
  weight: Parameter | null;
  /** The learnable shift (`normalizedShape`), or null without `elementwiseAffine`. */
  bias: Parameter | null;

  constructor(normalizedShape: number | number[], opts: LayerNormOptions = {}) {
    super();
    const fn = 'LayerNorm';
    const o = checkOptions<LayerNormOptions>(fn, opts, LAYER_NORM_KEYS);
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape))
      throw new TypeError(`${fn}: expected normalizedShape to be an integer or an array of integers`);
    shape.forEach((s, i) => checkInt(fn, `normalizedShape[${i}]`, s, 0));
    this.normalizedShape = [...shape];
    this.eps = o.eps === undefined ? 1e-5 : checkNumber(fn, 'eps', o.eps);
    this.elementwiseAffine =
      o.elementwiseAffine === undefined ? true : checkBool(fn, 'elementwiseAffine', o.elementwiseAffine);
    for (const k of ['normalizedShape', 'eps', 'elementwiseAffine'])
      Object.defineProperty(this, k, { enumerable: false });
    const f = { dtype: o.dtype, device: o.device };
    this.weight = this.elementwiseAffine ? new Parameter(ones(this.normalizedShape, f)) : null;
    this.bias = this.elementwiseAffine ? new Parameter(zeros(this.normalizedShape, f)) : null;
  }

  forward(input: Tensor): Tensor {
    if (!(input instanceof Tensor)) typeError('LayerNorm.forward', 'input', 'a Tensor', input);
    const s = input.shape;
    const n = this.normalizedShape.length;
    const tail = s.slice(s.length - n);
    if (s.length < n || tail.some((d, i) => d !== this.normalizedShape[i]))
      throw new RangeError(
        `LayerNorm.forward: expected input with trailing shape [${this.normalizedShape.join(', ')}], ` +
          `got [${s.join(', ')}]`,
      );
    return F.layerNorm(input, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  override extraRepr(): string {
    const shape = `(${this.normalizedShape.join(', ')}${this.normalizedShape.length === 1 ? ',' : ''})`;
    return `${shape}, eps=${fmtFloat(this.eps)}, elementwise_affine=${pyBool(this.elementwiseAffine)}`;
  }
}
