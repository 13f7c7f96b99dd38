// nn.MultiheadAttention over our own native kernel (native/attention.cc), PyTorch semantics.
import { empty } from '../../creation';
import { checkBool, checkInt, checkNumber, checkOptions, describe, shapeStr } from '../../errors';
import { tidy } from '../../memory';
import { mhaArgs, native as N } from '../../native';
import { Tensor } from '../../tensor';
import * as init from '../init';
import { Parameter } from '../parameter';
import { type AttentionCache, cachedAttention } from './attention_cache';
import { type FactoryOptions, Linear } from './linear';
import { Module } from './module';

/** The out-projection of MultiheadAttention (PyTorch's class name, so reprs and checkpoints match). */
export class NonDynamicallyQuantizableLinear extends Linear {}

export interface MultiheadAttentionOptions extends FactoryOptions {
  /** The dropout probability on the attention weights, in training mode (default 0). */
  dropout?: number;
  /** Whether the input and output projections have biases (default true). */
  bias?: boolean;
  /** Learn a bias appended to the keys and values (`bias_k`, `bias_v`; default false). */
  addBiasKv?: boolean;
  /** Append a batch of zeros to the keys and values (default false). */
  addZeroAttn?: boolean;
  /** The number of features of the keys (default `embedDim`). */
  kdim?: number;
  /** The number of features of the values (default `embedDim`). */
  vdim?: number;
  /** Inputs and outputs are `(N, L, E)` instead of `(L, N, E)` (default false). */
  batchFirst?: boolean;
}

/**
 * Options of `MultiheadAttention.forward`: the masks, `needWeights`, `averageAttnWeights`, `isCausal` and an
 * attention `cache`.
 */
export interface MultiheadAttentionForwardOptions {
  /** `(N, S)` (or `(S)` unbatched): bool `true` = padded key, ignored by every query; or float, added. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights (default true). */
  needWeights?: boolean;
  /**
   * `(L, S)` or `(N*numHeads, L, S)` (row `n*numHeads + h`): bool `true` = this query may NOT attend
   * to this key (PyTorch's MHA rule; `nn.masks.causal`), or float, added to the scores.
   */
  attnMask?: Tensor | null;
  /** Average the weights over heads (default true): `(N, L, S)`; else `(N, numHeads, L, S)`. */
  averageAttnWeights?: boolean;
  /** PyTorch 2's hint that `attnMask` is causal. It needs `attnMask` and never replaces it. */
  isCausal?: boolean;
  /**
   * Incremental decoding: this call's keys and values are projected and appended to the cache
   * (or, for a `static` cache, projected once), and the query attends over every cached step.
   * Masks then cover all cached steps. See `nn.AttentionCache`.
   */
  cache?: AttentionCache | null;
}

const MHA_KEYS = [
  'dropout',
  'bias',
  'addBiasKv',
  'addZeroAttn',
  'kdim',
  'vdim',
  'batchFirst',
  'dtype',
  'device',
] as const;
const MHA_FORWARD_KEYS = [
  'keyPaddingMask',
  'needWeights',
  'attnMask',
  'averageAttnWeights',
  'isCausal',
  'cache',
] as const;

const warned = new Set<string>();
function warnOnce(key: string, msg: string, code = key): void {
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(msg, { type: 'DeprecationWarning', code });
}

/**
 * The warning for a float mask with a bool one, naming the fix. The usual way in is PyTorch's
 * tutorial setup: `Transformer.generateSquareSubsequentMask(T)` (float) as the attention mask
 * with a bool key-padding mask. Exported for the tests (the warning itself is once per process).
 */
export function mixedMasksAdvice(floatAttnMask: boolean, L: number, S: number): string {
  const causal = L === S ? `nn.masks.causal(${L})` : `nn.masks.causal(${L}, ${S})`;
  const head =
    'MultiheadAttention: mismatched attnMask and keyPaddingMask dtypes ' +
    `(attnMask ${floatAttnMask ? 'float' : 'bool'}, keyPaddingMask ${floatAttnMask ? 'bool' : 'float'}); ` +
    'both are converted to additive float masks and added (PyTorch 2 semantics), and PyTorch deprecates ' +
    'the mix. Give both masks one dtype. ';
  if (floatAttnMask)
    return (
      head +
      `For a causal attnMask use the bool ${causal} (true = blocked) instead of ` +
      'nn.Transformer.generateSquareSubsequentMask(T); an existing float mask of 0 and -inf converts with ' +
      'mask.eq(-Infinity). A float mask with other values (a bias) stays float: convert keyPaddingMask ' +
      'with nn.masks.toAdditive(keyPaddingMask) instead.'
    );
  return (
    head +
    'Use a bool keyPaddingMask (true = padded): nn.masks.keyPadding(lengths, S), or ' +
    'keyPaddingMask.eq(-Infinity) from a float one of 0 and -inf; or convert attnMask with ' +
    'nn.masks.toAdditive(attnMask).'
  );
}

/**
 * Multi-head attention (PyTorch's `nn.MultiheadAttention`), computed by our own native kernel
 * that follows PyTorch's Python algorithm: outputs, weights and gradients equal PyTorch's.
 *
 * Shapes (E = embedDim, L = target length, S = source length, N = batch):
 * query `(L, N, E)` (`(N, L, E)` with `batchFirst`, `(L, E)` unbatched), key `(S, N, kdim)`,
 * value `(S, N, vdim)`; output like query; weights `(N, L, S)` or `(N, numHeads, L, S)`.
 *
 * Masks follow PyTorch exactly: bool `true` = blocked (see the README's mask table); float masks
 * are added to the scores. A query row whose every key is masked gives NaN, as in PyTorch (use
 * `nn.masks.findFullyMasked` to find such rows first).
 *
 * @example
 * const mha = new nn.MultiheadAttention(20, 4, { batchFirst: true });
 * const [out, w] = mha.forward(q, k, v, { attnMask: nn.masks.causal(L, S), keyPaddingMask: pad });
 */
export class MultiheadAttention extends Module {
  /** The model dimension: the features of the queries and of the output. */
  readonly embedDim: number;
  /** The number of features of the keys. */
  readonly kdim: number;
  /** The number of features of the values. */
  readonly vdim: number;
  /** The number of attention heads. */
  readonly numHeads: number;
  /** The dropout probability on the attention weights, in training mode. */
  readonly dropout: number;
  /** Inputs and outputs are `(N, L, E)` instead of `(L, N, E)`. */
  readonly batchFirst: boolean;
  /** The features per head: `embedDim / numHeads`. */
  readonly headDim: number;
  /** Whether a batch of zeros is appended to the keys and values. */
  readonly addZeroAttn: boolean;
  private readonly qkvSameEmbedDim: boolean;

  /** The packed query, key and value projection `(3 · embedDim, embedDim)` when `kdim` and `vdim` equal `embedDim`, else null. */
  in_proj_weight: Parameter | null = null;
  /** The query projection `(embedDim, embedDim)` when the keys or values have other sizes, else null. */
  q_proj_weight: Parameter | null = null;
  /** The key projection `(embedDim, kdim)` when the keys or values have other sizes, else null. */
  k_proj_weight: Parameter | null = null;
  /** The value projection `(embedDim, vdim)` when the keys or values have other sizes, else null. */
  v_proj_weight: Parameter | null = null;
  /** The packed bias of the three input projections `(3 · embedDim)`, or null without biases. */
  in_proj_bias: Parameter | null = null;
  /** The output projection. */
  out_proj: NonDynamicallyQuantizableLinear;
  /** The bias appended to the keys `(1, 1, embedDim)` with `addBiasKv`, else null. */
  bias_k: Parameter | null = null;
  /** The bias appended to the values `(1, 1, embedDim)` with `addBiasKv`, else null. */
  bias_v: Parameter | null = null;

  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    const fn = 'MultiheadAttention';
    const o = checkOptions<MultiheadAttentionOptions>(fn, opts, MHA_KEYS);
    const E = checkInt(fn, 'embedDim', embedDim, 1);
    const H = checkInt(fn, 'numHeads', numHeads, 1);
    if (E % H !== 0)
      throw new RangeError(`${fn}: embedDim must be divisible by numHeads, got embedDim=${E}, numHeads=${H}`);
    const kdim = o.kdim === undefined || o.kdim === null ? E : checkInt(fn, 'kdim', o.kdim, 1);
    const vdim = o.vdim === undefined || o.vdim === null ? E : checkInt(fn, 'vdim', o.vdim, 1);
    const dropout = o.dropout === undefined ? 0 : checkNumber(fn, 'dropout', o.dropout);
    if (!(dropout >= 0 && dropout <= 1)) throw new RangeError(`${fn}: expected dropout in [0, 1], got ${dropout}`);
    const bias = o.bias === undefined ? true : checkBool(fn, 'bias', o.bias);
    const addBiasKv = o.addBiasKv === undefined ? false : checkBool(fn, 'addBiasKv', o.addBiasKv);
    this.embedDim = E;
    this.kdim = kdim;
    this.vdim = vdim;
    this.numHeads = H;
    this.dropout = dropout;
    this.batchFirst = o.batchFirst === undefined ? false : checkBool(fn, 'batchFirst', o.batchFirst);
    this.addZeroAttn = o.addZeroAttn === undefined ? false : checkBool(fn, 'addZeroAttn', o.addZeroAttn);
    this.headDim = E / H;
    this.qkvSameEmbedDim = kdim === E && vdim === E;
    for (const k of [
      'embedDim',
      'kdim',
      'vdim',
      'numHeads',
      'dropout',
      'batchFirst',
      'headDim',
      'addZeroAttn',
      'qkvSameEmbedDim',
    ])
      Object.defineProperty(this, k, { enumerable: false });

    // Registration order = PyTorch's, so state_dict keys come out in its order.
    const f = { dtype: o.dtype, device: o.device };
    if (this.qkvSameEmbedDim) {
      this.in_proj_weight = new Parameter(empty([3 * E, E], f));
    } else {
      this.q_proj_weight = new Parameter(empty([E, E], f));
      this.k_proj_weight = new Parameter(empty([E, kdim], f));
      this.v_proj_weight = new Parameter(empty([E, vdim], f));
    }
    if (bias) this.in_proj_bias = new Parameter(empty([3 * E], f));
    this.out_proj = new NonDynamicallyQuantizableLinear(E, E, { bias, ...f });
    if (addBiasKv) {
      this.bias_k = new Parameter(empty([1, 1, E], f));
      this.bias_v = new Parameter(empty([1, 1, E], f));
    }
    this.resetParameters();
  }

  /** PyTorch's `_reset_parameters` (after out_proj drew its own Linear init, as in PyTorch). */
  resetParameters(): void {
    if (this.in_proj_weight) init.xavierUniform_(this.in_proj_weight);
    else {
      init.xavierUniform_(this.q_proj_weight!);
      init.xavierUniform_(this.k_proj_weight!);
      init.xavierUniform_(this.v_proj_weight!);
    }
    if (this.in_proj_bias) {
      init.constant_(this.in_proj_bias, 0);
      if (this.out_proj.bias) init.constant_(this.out_proj.bias, 0);
    }
    if (this.bias_k) init.xavierNormal_(this.bias_k);
    if (this.bias_v) init.xavierNormal_(this.bias_v);
  }

  /**
   * @returns `[output, weights | null]`.
   * @throws RangeError/TypeError naming the argument with expected and actual shapes, before
   * anything is computed.
   */
  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions = {},
  ): [Tensor, Tensor | null] {
    if (opts?.cache) return this.forwardCached('MultiheadAttention.forward', query, key, value, opts);
    const [out, weights] = N.mhaArgs(
      ...mhaArgs(this.prepare('MultiheadAttention.forward', query, key, value, opts)[0]),
    );
    return [new Tensor(out), weights === null ? null : new Tensor(weights)];
  }

  /**
   * `forward` on the libuv thread pool: the event loop keeps running while the kernel computes.
   * Same checks and results as `forward`; every error rejects the Promise. Until it settles,
   * query, key, value, the masks and the parameters are in use: disposing them or changing them
   * in place throws. The results are not owned by any `torch.tidy` scope: dispose them
   * yourself. libtorch's intra-op threads and the pool (`UV_THREADPOOL_SIZE`) share the cores.
   * @example const [out, weights] = await mha.forwardAsync(q, k, v, { keyPaddingMask });
   */
  override async forwardAsync(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions = {},
  ): Promise<[Tensor, Tensor | null]> {
    // a cached step is small: it runs on the JS thread
    if (opts?.cache) return this.forwardCached('MultiheadAttention.forwardAsync', query, key, value, opts);
    const [out, weights] = await N.mhaAsync(
      ...this.prepare('MultiheadAttention.forwardAsync', query, key, value, opts),
    );
    return [new Tensor(out), weights === null ? null : new Tensor(weights)];
  }

  private forwardCached(
    fn: string,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions,
  ): [Tensor, Tensor | null] {
    const o = checkOptions<MultiheadAttentionForwardOptions>(fn, opts, MHA_FORWARD_KEYS);
    if (!(query instanceof Tensor)) throw new TypeError(`${fn}: expected query to be a Tensor, got ${describe(query)}`);
    const mask = (name: string, m: unknown): Tensor | null => {
      if (m === undefined || m === null) return null;
      if (!(m instanceof Tensor))
        throw new TypeError(`${fn}: expected ${name} to be a Tensor or null, got ${describe(m)}`);
      return m;
    };
    // its intermediates are freed here (the cache keeps its own tensors), as a native forward's are
    return tidy(() =>
      cachedAttention(this, fn, query, key, value, o.cache as AttentionCache, {
        attnMask: mask('attnMask', o.attnMask),
        keyPaddingMask: mask('keyPaddingMask', o.keyPaddingMask),
        needWeights: o.needWeights === undefined ? true : checkBool(fn, 'needWeights', o.needWeights),
        average: o.averageAttnWeights === undefined ? true : checkBool(fn, 'averageAttnWeights', o.averageAttnWeights),
      }),
    );
  }

  /**
   * The checks of `forward`, then the native kernel's arguments (also read by the fused
   * Transformer layers, transformer_layer.ts).
   * @internal
   */
  prepare(
    fn: string,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions,
  ): Parameters<typeof N.mha> {
    const o = checkOptions<MultiheadAttentionForwardOptions>(fn, opts, MHA_FORWARD_KEYS);
    for (const [name, t] of [
      ['query', query],
      ['key', key],
      ['value', value],
    ] as const)
      if (!(t instanceof Tensor)) throw new TypeError(`${fn}: expected ${name} to be a Tensor, got ${describe(t)}`);
    const needWeights = o.needWeights === undefined ? true : checkBool(fn, 'needWeights', o.needWeights);
    const average =
      o.averageAttnWeights === undefined ? true : checkBool(fn, 'averageAttnWeights', o.averageAttnWeights);
    const isCausal = o.isCausal === undefined ? false : checkBool(fn, 'isCausal', o.isCausal);
    const attnMask = o.attnMask ?? null,
      kpm = o.keyPaddingMask ?? null;
    if (attnMask !== null && !(attnMask instanceof Tensor))
      throw new TypeError(`${fn}: expected attnMask to be a Tensor or null, got ${describe(attnMask)}`);
    if (kpm !== null && !(kpm instanceof Tensor))
      throw new TypeError(`${fn}: expected keyPaddingMask to be a Tensor or null, got ${describe(kpm)}`);
    if (isCausal && attnMask === null)
      throw new TypeError(
        `${fn}: isCausal is a hint that attnMask is causal and needs attnMask; pass attnMask: nn.masks.causal(L, S)`,
      );

    const E = this.embedDim,
      H = this.numHeads;
    const qd = query.dim();
    if (qd !== 2 && qd !== 3)
      throw new RangeError(
        `${fn}: query should be unbatched 2-D (L, E) or batched 3-D, got shape ${shapeStr(query.shape)}`,
      );
    const batched = qd === 3;
    if (key.dim() !== qd || value.dim() !== qd)
      throw new RangeError(
        `${fn}: for ${batched ? 'batched (3-D)' : 'unbatched (2-D)'} query, expected key and value to be ` +
          `${qd}-D, got key ${shapeStr(key.shape)} and value ${shapeStr(value.shape)}`,
      );
    const bf = batched && this.batchFirst;
    const layout = batched ? (bf ? '(N, L, E)' : '(L, N, E)') : '(L, E)';
    const Lq = bf ? query.shape[1] : query.shape[0];
    const Nq = batched ? (bf ? query.shape[0] : query.shape[1]) : 1;
    const S = bf ? key.shape[1] : key.shape[0];
    const Nk = batched ? (bf ? key.shape[0] : key.shape[1]) : 1;
    const Nv = batched ? (bf ? value.shape[0] : value.shape[1]) : 1;
    const Sv = bf ? value.shape[1] : value.shape[0];
    if (query.shape[qd - 1] !== E)
      throw new RangeError(
        `${fn}: expected query of shape ${layout} with E = embedDim = ${E}, got ${shapeStr(query.shape)}`,
      );
    if (key.shape[qd - 1] !== this.kdim)
      throw new RangeError(
        `${fn}: expected key's last dimension to be kdim = ${this.kdim}, got ${shapeStr(key.shape)}`,
      );
    if (value.shape[qd - 1] !== this.vdim)
      throw new RangeError(
        `${fn}: expected value's last dimension to be vdim = ${this.vdim}, got ${shapeStr(value.shape)}`,
      );
    if (Nk !== Nq || Nv !== Nq)
      throw new RangeError(
        `${fn}: batch sizes differ: query has N = ${Nq} (${shapeStr(query.shape)}), key has N = ${Nk} ` +
          `(${shapeStr(key.shape)}), value has N = ${Nv} (${shapeStr(value.shape)})` +
          (bf ? ' (batchFirst: N is dim 0)' : ' (N is dim 1; batchFirst is false)'),
      );
    if (Sv !== S)
      throw new RangeError(
        `${fn}: key and value must have the same source length S, got key ${shapeStr(key.shape)} ` +
          `and value ${shapeStr(value.shape)}`,
      );
    const dt = query.dtype;
    for (const [name, t] of [
      ['key', key],
      ['value', value],
    ] as const)
      if (t.dtype !== dt) throw new TypeError(`${fn}: ${name} has dtype ${t.dtype} but query has ${dt}`);
    const w = (this.in_proj_weight ?? this.q_proj_weight)!;
    if (w.dtype !== dt)
      throw new TypeError(
        `${fn}: query has dtype ${dt} but the module's parameters are ${w.dtype}; ` +
          `use module.to('${dt}') or convert the input`,
      );
    // Devices: one message that names the fix, instead of libtorch's from deep inside the kernel.
    const dev = query.device;
    for (const [name, t] of [
      ['key', key],
      ['value', value],
    ] as const)
      if (t.device !== dev) throw new TypeError(`${fn}: ${name} is on ${t.device} but query is on ${dev}`);
    if (w.device !== dev)
      throw new TypeError(
        `${fn}: query is on ${dev} but the module's parameters are on ${w.device}; ` +
          `use module.to('${dev}') or move the input`,
      );
    for (const [name, m, make] of [
      ['attnMask', attnMask, 'nn.masks.causal(L, S, { device })'],
      ['keyPaddingMask', kpm, 'nn.masks.keyPadding(lengths, S, { device })'],
    ] as const)
      if (m !== null && m.device !== dev)
        throw new TypeError(
          `${fn}: ${name} is on ${m.device} but query is on ${dev}; create it there (${make}) or use .to('${dev}')`,
        );

    if (attnMask !== null) {
      const md = attnMask.dtype;
      if (md === 'uint8')
        warnOnce(
          'TORCH_NAPI_UINT8_MASK',
          'MultiheadAttention: a uint8 (byte) attnMask is deprecated; use a bool tensor instead (nonzero = blocked).',
        );
      else if (md !== 'bool' && md !== 'float32' && md !== 'float64' && md !== 'float16' && md !== 'bfloat16')
        throw new TypeError(
          `${fn}: attnMask must be bool (true = blocked) or floating point (added to the scores), got dtype ${md}`,
        );
      const ms = attnMask.shape;
      const ok2 = ms.length === 2 && ms[0] === Lq && ms[1] === S;
      const nb = batched ? Nq * H : H;
      const ok3 = ms.length === 3 && ms[0] === nb && ms[1] === Lq && ms[2] === S;
      if (!ok2 && !ok3)
        throw new RangeError(
          `${fn}: attnMask must have shape [L, S] = [${Lq}, ${S}] or ` +
            (batched
              ? `[N*numHeads, L, S] = [${nb}, ${Lq}, ${S}] (row n*numHeads + h)`
              : `[numHeads, L, S] = [${nb}, ${Lq}, ${S}]`) +
            `; got ${shapeStr(ms)}`,
        );
    }
    if (kpm !== null) {
      const kd = kpm.dtype;
      if (kd !== 'bool' && kd !== 'float32' && kd !== 'float64' && kd !== 'float16' && kd !== 'bfloat16')
        throw new TypeError(
          `${fn}: keyPaddingMask must be bool (true = padded key) or floating point (added), got dtype ${kd}`,
        );
      const ks = kpm.shape;
      const ok = batched ? ks.length === 2 && ks[0] === Nq && ks[1] === S : ks.length === 1 && ks[0] === S;
      if (!ok)
        throw new RangeError(
          `${fn}: keyPaddingMask must have shape ` +
            (batched ? `[N, S] = [${Nq}, ${S}]` : `[S] = [${S}]`) +
            ` (true = padded key); got ${shapeStr(ks)}`,
        );
    }
    // uint8 attnMask is a (deprecated) bool mask, converted to bool first as in PyTorch 1.13: not a mismatch
    const boolLike = (t: Tensor) => t.dtype === 'bool' || t.dtype === 'uint8';
    if (attnMask !== null && kpm !== null && boolLike(attnMask) !== boolLike(kpm)) {
      const floatAttn = boolLike(kpm);
      warnOnce(
        floatAttn ? 'mixed masks: float attnMask' : 'mixed masks: float keyPaddingMask',
        mixedMasksAdvice(floatAttn, Lq, S),
        'TORCH_NAPI_MIXED_MASKS',
      );
    }

    const ph = (p: Tensor | null) => (p ? p._h : undefined);
    return [
      {
        query: query._h,
        key: key._h,
        value: value._h,
        numHeads: H,
        batched,
        batchFirst: this.batchFirst,
        qkvSame: query === key && key === value,
        kvSame: key === value,
        inProjWeight: ph(this.in_proj_weight),
        inProjBias: ph(this.in_proj_bias),
        qProjWeight: ph(this.q_proj_weight),
        kProjWeight: ph(this.k_proj_weight),
        vProjWeight: ph(this.v_proj_weight),
        biasK: ph(this.bias_k),
        biasV: ph(this.bias_v),
        addZeroAttn: this.addZeroAttn,
        dropoutP: this.dropout,
        training: this.training,
        outProjWeight: this.out_proj.weight._h,
        outProjBias: ph(this.out_proj.bias),
        attnMask: ph(attnMask),
        keyPaddingMask: ph(kpm),
        needWeights,
        averageAttnWeights: average,
      },
    ];
  }
}
