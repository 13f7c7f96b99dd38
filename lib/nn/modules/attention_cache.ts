// Incremental decoding: a key/value cache for nn.MultiheadAttention (`forward(q, k, v, { cache })`).
//
// A decoder fed its own outputs computes one step at a time. Without a cache, step t recomputes
// the keys and values of steps 0..t (O(t²) over a sequence). With one, each step projects only its
// new keys and values, appends them, and attends over all of them: O(t) per step. Cross-attention
// keys and values (the encoder's memory) are projected once, at the first step (`static: true`).
//
// The cache owns its tensors (they survive `torch.tidy` scopes: `torch.keep`); `dispose()` frees
// them, and `reorder(indices)` selects and reorders batch rows, as beam search needs.

import { describe, shapeStr } from '../../errors';
import { keep, tidy } from '../../memory';
import { cat } from '../../ops';
import { Tensor } from '../../tensor';
import * as F from '../functional';
import type { MultiheadAttention } from './attention';

/** Options of `new nn.AttentionCache()`. */
export interface AttentionCacheOptions {
  /**
   * Keys and values do not change from step to step (cross-attention over an encoder's memory):
   * they are projected at the first call and reused; later calls' `key`/`value` are ignored.
   * Default false (self-attention: each call appends its keys and values).
   */
  static?: boolean;
}

/**
 * The keys and values one `nn.MultiheadAttention` has seen so far, already projected, stored as
 * `(N·numHeads, S, headDim)`.
 *
 * @example
 * const cache = new nn.AttentionCache();
 * for (let t = 0; t < T; t++) {
 *   const x = step(t); // (1, N, E): this step only
 *   const [y] = selfAttn.forward(x, x, x, { cache }); // attends over steps 0..t
 * }
 * cache.dispose();
 */
export class AttentionCache {
  /** Projected keys `(N·numHeads, S, headDim)`, or null before the first call. */
  key: Tensor | null = null;
  /** Projected values, as `key`. */
  value: Tensor | null = null;
  /** A static cache (an encoder's memory) is projected once and never grows. */
  readonly static: boolean;

  constructor(opts: AttentionCacheOptions = {}) {
    if (opts === null || typeof opts !== 'object')
      throw new TypeError(`nn.AttentionCache: expected an options object, got ${describe(opts)}`);
    for (const k of Object.keys(opts))
      if (k !== 'static') throw new TypeError(`nn.AttentionCache: unknown option '${k}' (expected: static)`);
    if (opts.static !== undefined && typeof opts.static !== 'boolean')
      throw new TypeError(`nn.AttentionCache: expected static to be a boolean, got ${describe(opts.static)}`);
    this.static = opts.static ?? false;
  }

  /** Steps cached (S). */
  get length(): number {
    return this.key ? this.key.shape[1] : 0;
  }

  /** @internal Replaces the cached tensors (frees the old ones, keeps the new ones past tidy scopes). */
  _set(key: Tensor, value: Tensor): void {
    const old = [this.key, this.value];
    this.key = keep(key);
    this.value = keep(value);
    for (const t of old) if (t && t !== key && t !== value && !t.isDisposed) t.dispose();
  }

  /**
   * Keeps batch rows `indices` (int64 `(N')`), in that order: row i of the result is row
   * `indices[i]` before (beam search reorders and duplicates rows this way).
   */
  reorder(indices: Tensor): void {
    if (!(indices instanceof Tensor))
      throw new TypeError(`AttentionCache.reorder: expected indices to be an int64 Tensor, got ${describe(indices)}`);
    if (!this.key || !this.value) return;
    const H = this.heads;
    const N = this.key.shape[0] / H;
    const pick = (t: Tensor) => {
      const [, S, d] = t.shape;
      return t.reshape([N, H, S, d]).indexSelect(0, indices).reshape([-1, S, d]);
    };
    const [k, v] = [this.key, this.value];
    this._set(...tidy(() => [pick(k), pick(v)] as [Tensor, Tensor]));
  }

  /** @internal numHeads of the module that filled the cache. */
  heads = 1;

  /** Frees the cached tensors; the cache is empty again. */
  dispose(): void {
    for (const t of [this.key, this.value]) if (t && !t.isDisposed) t.dispose();
    this.key = null;
    this.value = null;
  }

  /** The same as `dispose()`, so that a `using` declaration frees it at the end of its block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * The caches of a stack of Transformer decoder layers (`nn.TransformerDecoder.forward(tgt, memory,
 * { cache })`, or one `nn.TransformerDecoderLayer`): per layer, a self-attention cache that grows by
 * the new target steps of each call, and a static cache of the memory's keys and values.
 *
 * @example
 * const cache = new nn.TransformerDecoderCache();
 * for (let t = 0; t < T; t++) {
 *   const y = decoder.forward(tgtStep, memory, { cache, memoryKeyPaddingMask }); // tgtStep: (1, N, E)
 * }
 * cache.dispose();
 */
export class TransformerDecoderCache {
  /** Per layer: `self` (grows), `cross` (static). Filled as the layers run. */
  readonly layers: {
    /** The layer's self-attention cache. */
    self: AttentionCache;
    /** The layer's cross-attention cache (static: the encoder's memory). */
    cross: AttentionCache;
  }[] = [];

  /** The caches of layer `i` (made on first use). */
  layer(i: number): {
    /** The layer's self-attention cache. */
    self: AttentionCache;
    /** The layer's cross-attention cache (static: the encoder's memory). */
    cross: AttentionCache;
  } {
    while (this.layers.length <= i)
      this.layers.push({ self: new AttentionCache(), cross: new AttentionCache({ static: true }) });
    return this.layers[i];
  }

  /** Target steps cached so far. */
  get length(): number {
    return this.layers.length ? this.layers[0].self.length : 0;
  }

  /** Keeps batch rows `indices` in every layer's caches (beam search). */
  reorder(indices: Tensor): void {
    for (const l of this.layers) {
      l.self.reorder(indices);
      l.cross.reorder(indices);
    }
  }

  /** Frees every cached tensor. */
  dispose(): void {
    for (const l of this.layers) {
      l.self.dispose();
      l.cross.dispose();
    }
    this.layers.length = 0;
  }

  /** The same as `dispose()`, so that a `using` declaration frees it at the end of its block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A bool mask (true = blocked) or a float mask as an additive float mask of `dtype`. */
function additive(m: Tensor, dtype: Tensor['dtype']): Tensor {
  if (m.dtype === 'bool' || m.dtype === 'uint8') {
    const b = m.dtype === 'bool' ? m : m.to('bool');
    return b.to(dtype).maskedFill(b, Number.NEGATIVE_INFINITY);
  }
  return m.dtype === dtype ? m : m.to(dtype);
}

/** @internal MultiheadAttention's forward with a cache (attention.ts calls it). */
export function cachedAttention(
  mha: MultiheadAttention,
  fn: string,
  query: Tensor,
  key: Tensor,
  value: Tensor,
  cache: AttentionCache,
  o: { attnMask: Tensor | null; keyPaddingMask: Tensor | null; needWeights: boolean; average: boolean },
): [Tensor, Tensor | null] {
  if (!(cache instanceof AttentionCache))
    throw new TypeError(`${fn}: expected cache to be an nn.AttentionCache, got ${describe(cache)}`);
  if (mha.bias_k || mha.addZeroAttn)
    throw new RangeError(`${fn}: a cache cannot be used with addBiasKv or addZeroAttn`);
  const E = mha.embedDim;
  const H = mha.numHeads;
  const d = mha.headDim;
  const batched = query.dim() === 3;
  if (query.dim() !== 2 && query.dim() !== 3)
    throw new RangeError(`${fn}: query should be (L, E) or batched 3-D, got shape ${shapeStr(query.shape)}`);
  // to (L, N, E)
  const toLNE = (t: Tensor) => (!batched ? t.unsqueeze(1) : mha.batchFirst ? t.transpose(0, 1) : t);
  const q3 = toLNE(query);
  const [L, N] = q3.shape;
  if (q3.shape[2] !== E)
    throw new RangeError(`${fn}: expected query's last dimension to be embedDim = ${E}, got ${shapeStr(query.shape)}`);
  if (cache.key && cache.key.shape[0] !== N * H)
    throw new RangeError(
      `${fn}: the cache holds ${cache.key.shape[0] / cache.heads} batch rows but query has ${N}; reorder it (cache.reorder) or start a new one`,
    );
  const w = mha.in_proj_weight;
  const b = mha.in_proj_bias;
  const slice = (t: Tensor | null, i: number) => (t ? t.narrow(0, i * E, E) : null);
  const wq = w ? slice(w, 0) : mha.q_proj_weight;
  const wk = w ? slice(w, 1) : mha.k_proj_weight;
  const wv = w ? slice(w, 2) : mha.v_proj_weight;
  // (L, N, E) → (N·H, L, d), row n·H + h (the native kernel's layout)
  const heads = (t: Tensor) => t.reshape([t.shape[0], N * H, d]).transpose(0, 1);
  const q = heads(F.linear(q3, wq as Tensor, slice(b, 0)));
  if (!(cache.static && cache.key)) {
    if (!(key instanceof Tensor) || !(value instanceof Tensor))
      throw new TypeError(`${fn}: expected key and value to be Tensors, got ${describe(key)} and ${describe(value)}`);
    const k3 = toLNE(key);
    const v3 = toLNE(value);
    if (k3.shape[1] !== N || v3.shape[1] !== N)
      throw new RangeError(
        `${fn}: batch sizes differ: query ${shapeStr(query.shape)}, key ${shapeStr(key.shape)}, value ${shapeStr(value.shape)}`,
      );
    if (k3.shape[2] !== mha.kdim || v3.shape[2] !== mha.vdim)
      throw new RangeError(`${fn}: expected key/value last dimensions kdim = ${mha.kdim}, vdim = ${mha.vdim}`);
    const kNew = heads(F.linear(k3, wk as Tensor, slice(b, 1)));
    const vNew = heads(F.linear(v3, wv as Tensor, slice(b, 2)));
    cache.heads = H;
    if (cache.key && cache.value && !cache.static) cache._set(cat([cache.key, kNew], 1), cat([cache.value, vNew], 1));
    else cache._set(kNew.contiguous(), vNew.contiguous());
  }
  const k = cache.key as Tensor;
  const v = cache.value as Tensor;
  const S = k.shape[1];
  let scores = q.div(Math.sqrt(d)).bmm(k.transpose(1, 2)); // (N·H, L, S)
  const dtype = scores.dtype;
  if (o.attnMask) {
    const ms = o.attnMask.shape;
    const ok =
      (ms.length === 2 && ms[0] === L && ms[1] === S) ||
      (ms.length === 3 && ms[0] === N * H && ms[1] === L && ms[2] === S);
    if (!ok)
      throw new RangeError(
        `${fn}: with a cache, attnMask covers every cached step: expected [L, S] = [${L}, ${S}] or [N*numHeads, L, S], got ${shapeStr(ms)}`,
      );
    scores = scores.add(additive(o.attnMask, dtype));
  }
  if (o.keyPaddingMask) {
    const ks = o.keyPaddingMask.shape;
    const ok = batched ? ks.length === 2 && ks[0] === N && ks[1] === S : ks.length === 1 && ks[0] === S;
    if (!ok)
      throw new RangeError(
        `${fn}: with a cache, keyPaddingMask covers every cached step: expected ${batched ? `[N, S] = [${N}, ${S}]` : `[S] = [${S}]`}, got ${shapeStr(ks)}`,
      );
    const kpm = additive(o.keyPaddingMask, dtype)
      .reshape([N, 1, 1, S])
      .expand([N, H, 1, S])
      .reshape([N * H, 1, S]);
    scores = scores.add(kpm);
  }
  let attn = scores.softmax(-1);
  if (mha.training && mha.dropout > 0) attn = F.dropout(attn, { p: mha.dropout, training: true });
  const ctx = attn.bmm(v).transpose(0, 1).reshape([L, N, E]); // (L, N, E)
  let out = F.linear(ctx, mha.out_proj.weight, mha.out_proj.bias);
  out = !batched ? out.squeeze(1) : mha.batchFirst ? out.transpose(0, 1) : out;
  if (!o.needWeights) return [out, null];
  let weights = attn.reshape([N, H, L, S]);
  if (o.average) weights = weights.mean(1);
  if (!batched) weights = weights.squeeze(0);
  return [out, weights];
}
