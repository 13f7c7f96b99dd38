// PyTorch's torch.nn.EmbeddingBag.
import { noGrad } from '../../autograd';
import { empty } from '../../creation';
import { checkBool, checkInt, checkNumber, checkOptions } from '../../errors';
import type { Tensor } from '../../tensor';
import * as F from '../functional';
import * as init from '../init';
import { Parameter } from '../parameter';
import type { FactoryOptions } from './linear';
import { fmtFloat, Module } from './module';

/** How `nn.EmbeddingBag` reduces the embeddings of a bag: their sum, mean or elementwise max. */
export type EmbeddingBagMode = 'sum' | 'mean' | 'max';
export interface EmbeddingBagOptions extends FactoryOptions {
  /** Renormalize each looked-up row whose norm exceeds this (in place), or null. */
  maxNorm?: number | null;
  /** The p of the p-norm used with `maxNorm` (default 2). */
  normType?: number;
  /** Scale the gradients by the inverse frequency of the words in the mini-batch (default false). */
  scaleGradByFreq?: boolean;
  /** How a bag's embeddings are reduced: `'mean'` (default), `'sum'` or `'max'`. */
  mode?: EmbeddingBagMode;
  /** Ask for a sparse gradient of `weight` (default false). */
  sparse?: boolean;
  /** `offsets` has one more element than the bags, the end of the last bag (default false). */
  includeLastOffset?: boolean;
  /** The row that stays zero and receives no gradient, or null. */
  paddingIdx?: number | null;
}
const KEYS = [
  'maxNorm',
  'normType',
  'scaleGradByFreq',
  'mode',
  'sparse',
  'includeLastOffset',
  'paddingIdx',
  'dtype',
  'device',
] as const;

/**
 * Sums, averages or maxes bags of embeddings without building the intermediate lookups
 * (PyTorch's `nn.EmbeddingBag`). `forward(input, offsets?, perSampleWeights?)`: 1-d `input` with
 * `offsets` (each bag's start) or 2-d `input` (one bag per row). Weight N(0, 1), the
 * `paddingIdx` row zero (and excluded from the bags).
 */
export class EmbeddingBag extends Module {
  /** The size of the vocabulary: the number of rows of `weight`. */
  declare readonly numEmbeddings: number;
  /** The size of each embedding vector. */
  declare readonly embeddingDim: number;
  /** Renormalize each looked-up row whose norm exceeds this (in place), or null. */
  declare readonly maxNorm: number | null;
  /** The p of the p-norm used with `maxNorm` (default 2). */
  declare readonly normType: number;
  /** Scale the gradients by the inverse frequency of the words in the mini-batch (default false). */
  declare readonly scaleGradByFreq: boolean;
  /** How a bag's embeddings are reduced: `'mean'` (default), `'sum'` or `'max'`. */
  declare readonly mode: EmbeddingBagMode;
  /** Ask for a sparse gradient of `weight` (default false). */
  declare readonly sparse: boolean;
  /** `offsets` has one more element than the bags, the end of the last bag (default false). */
  declare readonly includeLastOffset: boolean;
  /** The row that stays zero and receives no gradient, or null. */
  declare readonly paddingIdx: number | null;
  /** The embeddings `(numEmbeddings, embeddingDim)`. */
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingBagOptions = {}) {
    super();
    const fn = 'EmbeddingBag';
    const o = checkOptions<EmbeddingBagOptions>(fn, opts, KEYS);
    const set = (k: string, v: unknown) =>
      Object.defineProperty(this, k, { value: v, enumerable: false, writable: false, configurable: true });
    const n = checkInt(fn, 'numEmbeddings', numEmbeddings, 0);
    set('numEmbeddings', n);
    set('embeddingDim', checkInt(fn, 'embeddingDim', embeddingDim, 0));
    set('maxNorm', o.maxNorm === undefined || o.maxNorm === null ? null : checkNumber(fn, 'maxNorm', o.maxNorm));
    set('normType', o.normType === undefined ? 2 : checkNumber(fn, 'normType', o.normType));
    set(
      'scaleGradByFreq',
      o.scaleGradByFreq === undefined ? false : checkBool(fn, 'scaleGradByFreq', o.scaleGradByFreq),
    );
    const mode = o.mode ?? 'mean';
    if (mode !== 'sum' && mode !== 'mean' && mode !== 'max')
      throw new TypeError(`${fn}: mode has to be one of 'sum', 'mean' or 'max', got ${String(mode)}`);
    set('mode', mode);
    set('sparse', o.sparse === undefined ? false : checkBool(fn, 'sparse', o.sparse));
    set(
      'includeLastOffset',
      o.includeLastOffset === undefined ? false : checkBool(fn, 'includeLastOffset', o.includeLastOffset),
    );
    let pad: number | null = null;
    if (o.paddingIdx !== undefined && o.paddingIdx !== null) {
      pad = checkInt(fn, 'paddingIdx', o.paddingIdx);
      if (pad >= n || pad < -n)
        throw new RangeError(`${fn}: paddingIdx must be within numEmbeddings (${n}), got ${pad}`);
      if (pad < 0) pad += n;
    }
    set('paddingIdx', pad);
    this.weight = new Parameter(empty([n, embeddingDim], { dtype: o.dtype, device: o.device }));
    this.resetParameters();
  }

  /** Redraws the weight from N(0, 1) and zeroes the `paddingIdx` row, as at construction (PyTorch's init). */
  resetParameters(): void {
    init.normal_(this.weight);
    const p = this.paddingIdx;
    if (p !== null) noGrad(() => this.weight.select(0, p).fill_(0));
  }

  forward(input: Tensor, offsets?: Tensor | null, perSampleWeights?: Tensor | null): Tensor {
    return F.embeddingBag(input, this.weight, {
      offsets: offsets ?? null,
      maxNorm: this.maxNorm,
      normType: this.normType,
      scaleGradByFreq: this.scaleGradByFreq,
      mode: this.mode,
      sparse: this.sparse,
      perSampleWeights: perSampleWeights ?? null,
      includeLastOffset: this.includeLastOffset,
      paddingIdx: this.paddingIdx,
    });
  }

  override extraRepr(): string {
    let s = `${this.numEmbeddings}, ${this.embeddingDim}`;
    if (this.maxNorm !== null) s += `, max_norm=${fmtFloat(this.maxNorm)}`;
    if (this.normType !== 2) s += `, norm_type=${fmtFloat(this.normType)}`;
    if (this.scaleGradByFreq) s += ', scale_grad_by_freq=True';
    s += `, mode=${this.mode}`;
    if (this.paddingIdx !== null) s += `, padding_idx=${this.paddingIdx}`;
    return s;
  }
}
