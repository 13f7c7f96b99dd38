// nn.Transformer (PyTorch's torch/nn/modules/transformer.py): an encoder stack and a decoder stack
// of the layers in transformer_layer.ts (stacks in transformer_stack.ts), re-initialised as PyTorch does.
import { full } from '../../creation';
import { checkDevice } from '../../device';
import { type DType, isFloatingPoint } from '../../dtype';
import { checkInt, checkOptions, describe, shapeStr } from '../../errors';
import { tidy } from '../../memory';
import { Tensor } from '../../tensor';
import { callForward, type Forward, runForward, runForwardAsync } from '../forward';
import * as init from '../init';
import { Module } from './module';
import { LayerNorm } from './normalization';
import {
  DECODER_OPTIONS,
  hide,
  LAYER_OPTIONS,
  layerConfig,
  type TransformerDecoderForwardOptions,
  TransformerDecoderLayer,
  TransformerEncoderLayer,
  type TransformerLayerOptions,
} from './transformer_layer';
import { TransformerDecoder, TransformerEncoder, type TransformerEncoderForwardOptions } from './transformer_stack';

/** Options of `Transformer.forward`. */
export interface TransformerForwardOptions {
  /** The encoder self-attention mask `(S, S)` or `(N·nhead, S, S)`: bool `true` = blocked, or float, added. */
  srcMask?: Tensor | null;
  /** The decoder self-attention mask `(T, T)` or `(N·nhead, T, T)`, e.g. `nn.masks.causal(T)`: bool `true` = blocked, or float, added. */
  tgtMask?: Tensor | null;
  /** The decoder's cross-attention mask `(T, S)`: bool `true` = blocked, or float, added. */
  memoryMask?: Tensor | null;
  /** `(N, S)`: bool `true` = a padded source position, ignored by every query. */
  srcKeyPaddingMask?: Tensor | null;
  /** `(N, T)`: bool `true` = a padded target position, ignored by every query. */
  tgtKeyPaddingMask?: Tensor | null;
  /** `(N, S)`: bool `true` = a padded memory position (usually the source's padding mask). */
  memoryKeyPaddingMask?: Tensor | null;
  /** A hint that `srcMask` is causal (it must still be given). */
  srcIsCausal?: boolean;
  /** A hint that `tgtMask` is causal (it must still be given). */
  tgtIsCausal?: boolean;
  /** A hint that `memoryMask` is causal (it must still be given). */
  memoryIsCausal?: boolean;
}

/**
 * Frees the tensors of a layer that only served as the template of its copies (not its activation
 * module, the caller's).
 */
function disposeTemplate(layer: Module): void {
  for (const [name, child] of layer.namedChildren()) {
    if (name === 'activation') continue;
    for (const p of child.parameters()) p.dispose();
    for (const b of child.buffers()) b.dispose();
  }
}

/** Options of `nn.Transformer` (PyTorch's keyword arguments, camelCase). */
export interface TransformerOptions extends TransformerLayerOptions {
  /** Default 512. */
  dModel?: number;
  /** Default 8. */
  nhead?: number;
  /** Default 6. */
  numEncoderLayers?: number;
  /** Default 6. */
  numDecoderLayers?: number;
  /** Used instead of the built encoder (called as `forward(src, {mask, srcKeyPaddingMask})`). */
  customEncoder?: Module | null;
  /** Used instead of the built decoder (called as `forward(tgt, memory, {...})`). */
  customDecoder?: Module | null;
}

const TRANSFORMER_OPTIONS = [
  'dModel',
  'nhead',
  'numEncoderLayers',
  'numDecoderLayers',
  'customEncoder',
  'customDecoder',
  ...LAYER_OPTIONS,
];
const TRANSFORMER_FORWARD = [
  'srcMask',
  'tgtMask',
  'memoryMask',
  'srcKeyPaddingMask',
  'tgtKeyPaddingMask',
  'memoryKeyPaddingMask',
  'srcIsCausal',
  'tgtIsCausal',
  'memoryIsCausal',
] as const;

/**
 * The encoder-decoder transformer of "Attention Is All You Need" (PyTorch's `nn.Transformer`):
 * a `TransformerEncoder` and a `TransformerDecoder`, each ending in a LayerNorm, with every
 * parameter of more than one dimension re-initialised by `xavierUniform_` (PyTorch's
 * `_reset_parameters`), so that a seeded construction gives PyTorch's weights.
 *
 * Shapes: src `(S, N, E)`, tgt `(T, N, E)` (batch first: `(N, S, E)`, `(N, T, E)`; unbatched
 * `(S, E)`, `(T, E)`); output `(T, N, E)` like tgt.
 *
 * @example
 * const model = new nn.Transformer({ dModel: 512, nhead: 8, batchFirst: true });
 * const tgtMask = nn.masks.causal(T); // bool, true = blocked, as the key-padding masks
 * const out = model.forward(src, tgt, { tgtMask, tgtKeyPaddingMask: nn.masks.keyPadding(lengths, T) });
 */
export class Transformer extends Module {
  /** The encoder stack (or the custom encoder given). */
  encoder: TransformerEncoder;
  /** The decoder stack (or the custom decoder given). */
  decoder: TransformerDecoder;
  /** The number of expected features of the inputs (default 512). */
  readonly dModel: number;
  /** The number of attention heads (default 8). */
  readonly nhead: number;
  /** Inputs and outputs are `(N, L, E)` instead of `(L, N, E)`. */
  readonly batchFirst: boolean;

  constructor(opts: TransformerOptions = {}) {
    super();
    const fn = 'Transformer';
    const o = checkOptions<TransformerOptions>(fn, opts, TRANSFORMER_OPTIONS);
    const dModel = o.dModel === undefined ? 512 : checkInt(fn, 'dModel', o.dModel, 1);
    const nhead = o.nhead === undefined ? 8 : checkInt(fn, 'nhead', o.nhead, 1);
    const nEnc = o.numEncoderLayers === undefined ? 6 : checkInt(fn, 'numEncoderLayers', o.numEncoderLayers, 1);
    const nDec = o.numDecoderLayers === undefined ? 6 : checkInt(fn, 'numDecoderLayers', o.numDecoderLayers, 1);
    for (const k of ['customEncoder', 'customDecoder'] as const) {
      const v = o[k];
      if (v !== undefined && v !== null && !(v instanceof Module))
        throw new TypeError(`${fn}: expected ${k} to be an nn.Module or null, got ${describe(v)}`);
    }
    const layerOpts: TransformerLayerOptions = {};
    for (const k of LAYER_OPTIONS) if (o[k] !== undefined) (layerOpts as Record<string, unknown>)[k] = o[k];
    // Validates dModel/nhead divisibility and the layer options with this class's name.
    const c = layerConfig(fn, dModel, nhead, layerOpts);
    const factory = c.factory;

    if (o.customEncoder) {
      this.encoder = o.customEncoder as TransformerEncoder;
    } else {
      const layer = new TransformerEncoderLayer(dModel, nhead, layerOpts);
      const norm = new LayerNorm(dModel, { eps: c.layerNormEps, ...factory });
      this.encoder = new TransformerEncoder(layer, nEnc, { norm });
      disposeTemplate(layer); // only its copies are kept, as in PyTorch
    }
    if (o.customDecoder) {
      this.decoder = o.customDecoder as TransformerDecoder;
    } else {
      const layer = new TransformerDecoderLayer(dModel, nhead, layerOpts);
      const norm = new LayerNorm(dModel, { eps: c.layerNormEps, ...factory });
      this.decoder = new TransformerDecoder(layer, nDec, { norm });
      disposeTemplate(layer);
    }
    this.resetParameters();
    this.dModel = dModel;
    this.nhead = nhead;
    this.batchFirst = c.batchFirst;
    hide(this, ['dModel', 'nhead', 'batchFirst']);
  }

  /** PyTorch's `_reset_parameters`: `xavierUniform_` on every parameter with more than one dimension, in order. */
  resetParameters(): void {
    for (const p of this.parameters()) if (p.dim() > 1) init.xavierUniform_(p);
  }

  /**
   * Encodes `src`, then decodes `tgt` against it.
   * @returns `(T, N, E)` (`(N, T, E)` with batchFirst), like tgt.
   * @throws RangeError when src and tgt differ in batch size or feature size ≠ dModel.
   */
  forward(src: Tensor, tgt: Tensor, opts: TransformerForwardOptions = {}): Tensor {
    const g = this.steps('Transformer.forward', src, tgt, opts);
    return tidy(() => runForward(g));
  }

  /**
   * `forward` with the encoder's and then the decoder's `forwardAsync` awaited (custom ones
   * without it run their `forward`); see `TransformerEncoderLayer.forwardAsync`. Same results.
   * @example const out = await model.forwardAsync(src, tgt, { tgtMask });
   */
  override async forwardAsync(src: Tensor, tgt: Tensor, opts: TransformerForwardOptions = {}): Promise<Tensor> {
    return runForwardAsync(this.steps('Transformer.forwardAsync', src, tgt, opts));
  }

  private steps(fn: string, src: Tensor, tgt: Tensor, opts: TransformerForwardOptions): Forward<Tensor> {
    const o = checkOptions<TransformerForwardOptions>(fn, opts, TRANSFORMER_FORWARD);
    if (!(src instanceof Tensor)) throw new TypeError(`${fn}: expected src to be a Tensor, got ${describe(src)}`);
    if (!(tgt instanceof Tensor)) throw new TypeError(`${fn}: expected tgt to be a Tensor, got ${describe(tgt)}`);
    const sd = src.dim(),
      td = tgt.dim();
    if ((sd !== 2 && sd !== 3) || td !== sd)
      throw new RangeError(
        `${fn}: expected src and tgt both batched (3-D) or both unbatched (2-D), got src ` +
          `${shapeStr(src.shape)} and tgt ${shapeStr(tgt.shape)}`,
      );
    if (sd === 3) {
      const b = this.batchFirst ? 0 : 1;
      if (src.shape[b] !== tgt.shape[b])
        throw new RangeError(
          `${fn}: the batch number of src and tgt must be equal, got src ${shapeStr(src.shape)} and tgt ` +
            `${shapeStr(tgt.shape)} (N is dim ${b}${this.batchFirst ? ', batchFirst' : '; batchFirst is false'})`,
        );
    }
    if (src.shape[sd - 1] !== this.dModel || tgt.shape[td - 1] !== this.dModel)
      throw new RangeError(
        `${fn}: the feature number of src and tgt must be equal to dModel = ${this.dModel}, got src ` +
          `${shapeStr(src.shape)} and tgt ${shapeStr(tgt.shape)}`,
      );
    const encOpts: TransformerEncoderForwardOptions = {};
    if (o.srcMask !== undefined && o.srcMask !== null) encOpts.mask = o.srcMask;
    if (o.srcKeyPaddingMask !== undefined && o.srcKeyPaddingMask !== null)
      encOpts.srcKeyPaddingMask = o.srcKeyPaddingMask;
    if (o.srcIsCausal !== undefined) encOpts.isCausal = o.srcIsCausal;
    const decOpts: TransformerDecoderForwardOptions = {};
    for (const k of DECODER_OPTIONS) {
      const v = (o as Record<string, unknown>)[k];
      if (v !== undefined && v !== null) (decOpts as Record<string, unknown>)[k] = v;
    }
    return this.encodeDecode(src, tgt, encOpts, decOpts);
  }

  private *encodeDecode(
    src: Tensor,
    tgt: Tensor,
    encOpts: TransformerEncoderForwardOptions,
    decOpts: TransformerDecoderForwardOptions,
  ): Forward<Tensor> {
    const memory = yield* callForward(this.encoder, src, encOpts);
    return (yield* callForward(this.decoder, tgt, memory, decOpts)) as Tensor;
  }

  /**
   * A float `(sz, sz)` mask for causal self-attention: 0 on and below the diagonal, -inf above
   * (PyTorch's `generate_square_subsequent_mask`). Equivalent to the bool `nn.masks.causal(sz)`,
   * which is the one to use with a bool key-padding mask: a float mask with a bool one is
   * deprecated (MultiheadAttention warns). `mask.eq(-Infinity)` turns this mask into that one.
   */
  static generateSquareSubsequentMask(sz: number, opts: { device?: string; dtype?: DType } = {}): Tensor {
    const fn = 'Transformer.generateSquareSubsequentMask';
    const n = checkInt(fn, 'sz', sz, 0);
    const o = checkOptions<{ device?: string; dtype?: DType }>(fn, opts, ['device', 'dtype']);
    const device = o.device === undefined ? undefined : checkDevice(fn, o.device);
    if (o.dtype !== undefined && !isFloatingPoint(o.dtype))
      throw new TypeError(
        `${fn}: expected dtype to be a floating point dtype (the mask holds -inf), got ${String(o.dtype)}`,
      );
    return tidy(() => full([n, n], -Infinity, { dtype: o.dtype ?? 'float32', device }).triu(1));
  }
}
