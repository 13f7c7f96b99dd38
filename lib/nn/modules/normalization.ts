import { checkBool, checkInt, checkNumber, checkOptions } from '../../errors';
import { ones, zeros } from '../../creation';
import { Tensor } from '../../tensor';
import * as F from '../functional';
import { Parameter } from '../parameter';
import { FactoryOptions } from './linear';
import { Module, pyBool } from './module';

export interface LayerNormOptions extends FactoryOptions { eps?: number; elementwiseAffine?: boolean }

/** Layer normalisation over the trailing `normalizedShape` dims (PyTorch's `nn.LayerNorm`). */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(normalizedShape: number | number[], opts: LayerNormOptions = {}) {
    super();
    const fn = 'LayerNorm';
    const o = checkOptions<LayerNormOptions>(fn, opts);
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape)) throw new TypeError(`${fn}: expected normalizedShape to be an integer or an array of integers`);
    shape.forEach((s, i) => checkInt(fn, `normalizedShape[${i}]`, s, 0));
    this.normalizedShape = [...shape];
    this.eps = o.eps === undefined ? 1e-5 : checkNumber(fn, 'eps', o.eps);
    this.elementwiseAffine = o.elementwiseAffine === undefined ? true : checkBool(fn, 'elementwiseAffine', o.elementwiseAffine);
    for (const k of ['normalizedShape', 'eps', 'elementwiseAffine']) Object.defineProperty(this, k, { enumerable: false });
    const f = { dtype: o.dtype, device: o.device };
    this.weight = this.elementwiseAffine ? new Parameter(ones(this.normalizedShape, f)) : null;
    this.bias = this.elementwiseAffine ? new Parameter(zeros(this.normalizedShape, f)) : null;
  }

  forward(input: Tensor): Tensor {
    const s = input instanceof Tensor ? input.shape : [];
    const n = this.normalizedShape.length;
    const tail = s.slice(s.length - n);
    if (s.length < n || tail.some((d, i) => d !== this.normalizedShape[i]))
      throw new RangeError(`LayerNorm.forward: expected input with trailing shape [${this.normalizedShape.join(', ')}], ` +
        `got [${s.join(', ')}]`);
    return F.layerNorm(input, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  override extraRepr(): string {
    return `(${this.normalizedShape.join(', ')}${this.normalizedShape.length === 1 ? ',' : ''}), eps=${fmtFloat(this.eps)}, elementwise_affine=${pyBool(this.elementwiseAffine)}`;
  }
}

/** Python's repr of a float (1e-05, 0.1, 1.0, 1e+16). */
export function fmtFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const ax = Math.abs(x);
  if (ax !== 0 && (ax < 1e-4 || ax >= 1e16)) {
    // shortest round-trip digits, Python's exponent style (at least two digits)
    return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}
