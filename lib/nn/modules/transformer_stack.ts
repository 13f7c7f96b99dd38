// The Transformer stacks (PyTorch's nn.TransformerEncoder and nn.TransformerDecoder): numLayers
// deep copies of a layer (`Module.clone()`, PyTorch's copy.deepcopy), run in turn, then a norm.
import { ITEM_SIZE } from '../../dtype';
import { checkBool, checkInt, checkMemoryBudget, checkOptions, describe } from '../../errors';
import { tidy } from '../../memory';
import { Tensor } from '../../tensor';
import { callForward, type Forward, runForward, runForwardAsync } from '../forward';
import { TransformerDecoderCache } from './attention_cache';
import { ModuleList } from './container';
import { Module } from './module';
import {
  checkKpmDtype,
  checkRenamedOption,
  DECODER_OPTIONS,
  hide,
  optFlag,
  optTensor,
  type TransformerDecoderForwardOptions,
  type TransformerEncoderLayerForwardOptions,
  through,
} from './transformer_layer';

/** Options of `TransformerEncoder.forward` (PyTorch calls the source mask `mask` here). */
export interface TransformerEncoderForwardOptions {
  /** `(S, S)` or `(N*nhead, S, S)`, given to every layer as its `srcMask`. */
  mask?: Tensor | null;
  /** `(N, S)` (`(S)` unbatched): `true` = padded key. */
  srcKeyPaddingMask?: Tensor | null;
  /** PyTorch 2's hint that `mask` is causal; needs `mask`. */
  isCausal?: boolean;
}

/** What `TransformerEncoder` needs of a layer (a `TransformerEncoderLayer` or a module with its forward). */
export type EncoderLayerLike = Module & {
  /** The layer's forward: `src` and its masks in, the same shape out. */
  forward(src: Tensor, opts?: TransformerEncoderLayerForwardOptions): Tensor;
};
/** What `TransformerDecoder` needs of a layer. */
export type DecoderLayerLike = Module & {
  /** The layer's forward: `tgt`, the encoder's `memory` and their masks in, `tgt`'s shape out. */
  forward(tgt: Tensor, memory: Tensor, opts?: TransformerDecoderForwardOptions): Tensor;
};

/** `numLayers` deep copies of a layer in a ModuleList (PyTorch's `_get_clones`; each a `Module.clone()`). */
function getClones(fn: string, layer: unknown, numLayers: unknown, what: string): ModuleList {
  if (!(layer instanceof Module))
    throw new TypeError(`${fn}: expected ${what} to be an nn.Module, got ${describe(layer)}`);
  const n = checkInt(fn, 'numLayers', numLayers, 1);
  let bytes = 0;
  for (const t of [...layer.parameters(), ...layer.buffers()]) bytes += t.numel() * ITEM_SIZE[t.dtype];
  checkMemoryBudget(fn, `numLayers = ${n} copies of ${what}'s parameters and buffers`, bytes * n);
  const layers: Module[] = [];
  for (let i = 0; i < n; i++) layers.push(layer.clone());
  return new ModuleList(layers);
}

/** A stack's options, or its `norm` given in their place (PyTorch's positional `norm`), with `norm` checked. */
function stackOptions<T extends { norm?: Module | null }>(
  fn: string,
  opts: unknown,
  known: readonly string[],
): Partial<T> {
  const o = opts instanceof Module || opts === null ? ({ norm: opts } as Partial<T>) : checkOptions<T>(fn, opts, known);
  if (o.norm !== undefined && o.norm !== null && !(o.norm instanceof Module))
    throw new TypeError(`${fn}: expected norm to be an nn.Module or null, got ${describe(o.norm)}`);
  return o;
}

/** Options of `nn.TransformerEncoder`. */
export interface TransformerEncoderOptions {
  /** Applied to the last layer's output (PyTorch's `norm`; nn.Transformer gives a LayerNorm). */
  norm?: Module | null;
  /** Accepted for PyTorch compatibility; no effect (we always compute the slow path). */
  enableNestedTensor?: boolean;
  /** Accepted for PyTorch compatibility; no effect. */
  maskCheck?: boolean;
}

/**
 * A stack of `numLayers` encoder layers (PyTorch's `nn.TransformerEncoder`). `layers` holds deep
 * copies of `encoderLayer`, which therefore all start from its weights (as PyTorch's
 * `copy.deepcopy`; copying draws no random numbers). The layer itself is not used afterwards.
 *
 * @param norm a module applied at the end (or pass `{ norm }`).
 * @example
 * const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(512, 8), 6, { norm: new nn.LayerNorm(512) });
 * const memory = enc.forward(src, { mask, srcKeyPaddingMask });
 */
export class TransformerEncoder extends Module {
  /** The layers, deep copies of the one given, run in order. */
  layers: ModuleList;
  /** The number of layers. */
  readonly numLayers: number;
  /** The LayerNorm applied to the output of the last layer, or null. */
  norm: Module | null;

  constructor(encoderLayer: EncoderLayerLike, numLayers: number, opts: TransformerEncoderOptions | Module | null = {}) {
    super();
    const fn = 'TransformerEncoder';
    const o = stackOptions<TransformerEncoderOptions>(fn, opts, ['norm', 'enableNestedTensor', 'maskCheck']);
    if (o.enableNestedTensor !== undefined) checkBool(fn, 'enableNestedTensor', o.enableNestedTensor);
    if (o.maskCheck !== undefined) checkBool(fn, 'maskCheck', o.maskCheck);
    this.layers = getClones(fn, encoderLayer, numLayers, 'encoderLayer');
    this.numLayers = numLayers;
    hide(this, ['numLayers']);
    this.norm = o.norm ?? null;
  }

  /** Runs the layers in turn (each with the same masks), then `norm`. Output shaped like `src`. */
  forward(src: Tensor, opts: TransformerEncoderForwardOptions = {}): Tensor {
    const g = this.steps('TransformerEncoder.forward', src, opts);
    return tidy(() => runForward(g));
  }

  /**
   * `forward` with each layer's `forwardAsync` awaited in turn (a custom layer without one runs
   * its `forward`), then `norm` (see `TransformerEncoderLayer.forwardAsync`). Same results.
   */
  override async forwardAsync(src: Tensor, opts: TransformerEncoderForwardOptions = {}): Promise<Tensor> {
    return runForwardAsync(this.steps('TransformerEncoder.forwardAsync', src, opts));
  }

  private steps(fn: string, src: Tensor, opts: TransformerEncoderForwardOptions): Forward<Tensor> {
    checkRenamedOption(
      fn,
      opts,
      'srcMask',
      "the source mask is called mask here, as in PyTorch's TransformerEncoder.forward",
    );
    const o = checkOptions<TransformerEncoderForwardOptions>(fn, opts, ['mask', 'srcKeyPaddingMask', 'isCausal']);
    if (!(src instanceof Tensor)) throw new TypeError(`${fn}: expected src to be a Tensor, got ${describe(src)}`);
    const mask = optTensor(fn, 'mask', o.mask);
    const kpm = optTensor(fn, 'srcKeyPaddingMask', o.srcKeyPaddingMask);
    const isCausal = optFlag(fn, 'isCausal', o.isCausal);
    checkKpmDtype(fn, 'srcKeyPaddingMask', kpm);
    const layerOpts: TransformerEncoderLayerForwardOptions = {};
    if (mask) layerOpts.srcMask = mask;
    if (kpm) layerOpts.srcKeyPaddingMask = kpm;
    if (isCausal !== undefined) layerOpts.isCausal = isCausal;
    return stack(this.layers, this.norm, src, [layerOpts]);
  }
}

/** Each layer on the previous one's output (with the same extra arguments), then `norm`. */
function* stack(layers: ModuleList, norm: Module | null, input: Tensor, extra: unknown[]): Forward<Tensor> {
  let out = input;
  for (const layer of layers) out = (yield* callForward(layer, out, ...extra)) as Tensor;
  if (norm) out = yield* through(norm, out);
  return out;
}

/** Options of `nn.TransformerDecoder`. */
export interface TransformerDecoderOptions {
  /** Applied to the last layer's output. */
  norm?: Module | null;
}

/**
 * A stack of `numLayers` decoder layers (PyTorch's `nn.TransformerDecoder`), deep copies of
 * `decoderLayer` (see TransformerEncoder).
 *
 * @example
 * const dec = new nn.TransformerDecoder(new nn.TransformerDecoderLayer(512, 8), 6);
 * const out = dec.forward(tgt, memory, { tgtMask, memoryKeyPaddingMask });
 */
export class TransformerDecoder extends Module {
  /** The layers, deep copies of the one given, run in order. */
  layers: ModuleList;
  /** The number of layers. */
  readonly numLayers: number;
  /** The LayerNorm applied to the output of the last layer, or null. */
  norm: Module | null;

  constructor(decoderLayer: DecoderLayerLike, numLayers: number, opts: TransformerDecoderOptions | Module | null = {}) {
    super();
    const fn = 'TransformerDecoder';
    const o = stackOptions<TransformerDecoderOptions>(fn, opts, ['norm']);
    this.layers = getClones(fn, decoderLayer, numLayers, 'decoderLayer');
    this.numLayers = numLayers;
    hide(this, ['numLayers']);
    this.norm = o.norm ?? null;
  }

  /** With a cache: each layer gets its own (a view of the stack's cache as a one-layer cache). */
  private *cachedSteps(
    tgt: Tensor,
    memory: Tensor,
    layerOpts: TransformerDecoderForwardOptions,
    cache: TransformerDecoderCache,
  ): Forward<Tensor> {
    let x = tgt;
    let i = 0;
    for (const layer of this.layers) {
      const own = new TransformerDecoderCache();
      own.layers.push(cache.layer(i++));
      x = (yield* callForward(layer as Module, x, memory, { ...layerOpts, cache: own })) as Tensor;
    }
    return this.norm ? ((yield* callForward(this.norm, x)) as Tensor) : x;
  }

  /**
   * Runs the layers in turn (each with the same masks), then `norm`. Output shaped like `tgt`.
   * With `cache` (an `nn.TransformerDecoderCache`), `tgt` holds only the new steps (incremental decoding).
   */
  forward(tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions = {}): Tensor {
    const g = this.steps('TransformerDecoder.forward', tgt, memory, opts);
    return tidy(() => runForward(g));
  }

  /** `forward` with each layer's `forwardAsync` awaited in turn (see `TransformerEncoder.forwardAsync`). */
  override async forwardAsync(
    tgt: Tensor,
    memory: Tensor,
    opts: TransformerDecoderForwardOptions = {},
  ): Promise<Tensor> {
    return runForwardAsync(this.steps('TransformerDecoder.forwardAsync', tgt, memory, opts));
  }

  private steps(fn: string, tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions): Forward<Tensor> {
    const o = checkOptions<TransformerDecoderForwardOptions>(fn, opts, DECODER_OPTIONS);
    if (!(tgt instanceof Tensor)) throw new TypeError(`${fn}: expected tgt to be a Tensor, got ${describe(tgt)}`);
    if (!(memory instanceof Tensor))
      throw new TypeError(`${fn}: expected memory to be a Tensor, got ${describe(memory)}`);
    const layerOpts: TransformerDecoderForwardOptions = {};
    for (const k of DECODER_OPTIONS) {
      const v = o[k];
      if (v === undefined || v === null || k === 'cache') continue;
      if (k.endsWith('IsCausal')) (layerOpts as Record<string, unknown>)[k] = checkBool(fn, k, v);
      else (layerOpts as Record<string, unknown>)[k] = optTensor(fn, k, v);
    }
    checkKpmDtype(fn, 'tgtKeyPaddingMask', layerOpts.tgtKeyPaddingMask ?? null);
    checkKpmDtype(fn, 'memoryKeyPaddingMask', layerOpts.memoryKeyPaddingMask ?? null);
    if (o.cache !== undefined && o.cache !== null) {
      if (!(o.cache instanceof TransformerDecoderCache))
        throw new TypeError(`${fn}: expected cache to be an nn.TransformerDecoderCache, got ${describe(o.cache)}`);
      return this.cachedSteps(tgt, memory, layerOpts, o.cache);
    }
    return stack(this.layers, this.norm, tgt, [memory, layerOpts]);
  }
}
