import { noGrad } from '../../autograd';
import { empty } from '../../creation';
import { checkBool, checkInt, checkNumber, checkOptions } from '../../errors';
import type { Tensor } from '../../tensor';
import * as F from '../functional';
import * as init from '../init';
import { Parameter } from '../parameter';
import type { FactoryOptions } from './linear';
import { Module, pyBool } from './module';

export interface EmbeddingOptions extends FactoryOptions {
  /** The row that stays zero and receives no gradient, or null. */
  paddingIdx?: number | null;
  /** Renormalize each looked-up row whose norm exceeds this (in place), or null. */
  maxNorm?: number | null;
  /** The p of the p-norm used with `maxNorm` (default 2). */
  normType?: number;
  /** Scale the gradients by the inverse frequency of the words in the mini-batch (default false). */
  scaleGradByFreq?: boolean;
  /** Ask for a sparse gradient of `weight` (default false). */
  sparse?: boolean;
}
const EMBEDDING_KEYS = ['paddingIdx', 'maxNorm', 'normType', 'scaleGradByFreq', 'sparse', 'dtype', 'device'] as const;

/** A lookup table of `numEmbeddings` vectors of size `embeddingDim` (PyTorch's `nn.Embedding`), N(0, 1) init. */
export class Embedding extends Module {
  /** The size of the vocabulary: the number of rows of `weight`. */
  readonly numEmbeddings: number;
  /** The size of each embedding vector. */
  readonly embeddingDim: number;
  /** The row that stays zero and receives no gradient, or null. */
  readonly paddingIdx: number | null;
  /** Renormalize each looked-up row whose norm exceeds this (in place), or null. */
  readonly maxNorm: number | null;
  /** The p of the p-norm used with `maxNorm` (default 2). */
  readonly normType: number;
  /** Scale the gradients by the inverse frequency of the words in the mini-batch (default false). */
  readonly scaleGradByFreq: boolean;
  /** Ask for a sparse gradient of `weight` (default false). */
  readonly sparse: boolean;
  /** The embeddings `(numEmbeddings, embeddingDim)`. */
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    const fn = 'Embedding';
    const o = checkOptions<EmbeddingOptions>(fn, opts, EMBEDDING_KEYS);
    this.numEmbeddings = checkInt(fn, 'numEmbeddings', numEmbeddings, 0);
    this.embeddingDim = checkInt(fn, 'embeddingDim', embeddingDim, 0);
    let pad: number | null = null;
    if (o.paddingIdx !== undefined && o.paddingIdx !== null) {
      pad = checkInt(fn, 'paddingIdx', o.paddingIdx);
      if (pad >= numEmbeddings || pad < -numEmbeddings)
        throw new RangeError(`${fn}: paddingIdx must be within numEmbeddings (${numEmbeddings}), got ${pad}`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.maxNorm = o.maxNorm === undefined || o.maxNorm === null ? null : checkNumber(fn, 'maxNorm', o.maxNorm);
    this.normType = o.normType === undefined ? 2 : checkNumber(fn, 'normType', o.normType);
    this.scaleGradByFreq =
      o.scaleGradByFreq === undefined ? false : checkBool(fn, 'scaleGradByFreq', o.scaleGradByFreq);
    this.sparse = o.sparse === undefined ? false : checkBool(fn, 'sparse', o.sparse);
    for (const k of ['numEmbeddings', 'embeddingDim', 'paddingIdx', 'maxNorm', 'normType', 'scaleGradByFreq', 'sparse'])
      Object.defineProperty(this, k, { enumerable: false });
    this.weight = new Parameter(empty([numEmbeddings, embeddingDim], { dtype: o.dtype, device: o.device }));
    this.resetParameters();
  }

  /** Redraws the weight from N(0, 1) and zeroes the `paddingIdx` row, as at construction (PyTorch's init). */
  resetParameters(): void {
    init.normal_(this.weight);
    if (this.paddingIdx !== null) {
      const p = this.paddingIdx;
      noGrad(() => {
        const row = this.weight.select(0, p);
        row.fill_(0);
        row.dispose();
      });
    }
  }

  forward(input: Tensor): Tensor {
    return F.embedding(input, this.weight, {
      paddingIdx: this.paddingIdx,
      maxNorm: this.maxNorm,
      normType: this.normType,
      scaleGradByFreq: this.scaleGradByFreq,
      sparse: this.sparse,
    });
  }

  override extraRepr(): string {
    let s = `${this.numEmbeddings}, ${this.embeddingDim}`;
    if (this.paddingIdx !== null) s += `, padding_idx=${this.paddingIdx}`;
    if (this.maxNorm !== null) s += `, max_norm=${this.maxNorm}`;
    if (this.normType !== 2) s += `, norm_type=${this.normType}`;
    if (this.scaleGradByFreq) s += `, scale_grad_by_freq=${pyBool(true)}`;
    if (this.sparse) s += ', sparse=True';
    return s;
  }
}
