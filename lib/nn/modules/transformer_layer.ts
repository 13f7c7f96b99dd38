// Transformer layers (PyTorch's torch/nn/modules/transformer.py): TransformerEncoderLayer and
// TransformerDecoderLayer, composed from our modules in PyTorch's order and under its names, so
// that state_dict keys, reprs and seeded initial weights are PyTorch's. Only the slow path is
// ported: PyTorch 1.13's fused encoder "fast path" and nested-tensor path give different answers
// in some cases (padded positions come out 0, a float key-padding mask is booleanised); our
// outputs are always the slow path's. The stacks are in transformer_stack.ts, nn.Transformer in
// transformer.ts; the helpers exported here are shared with them, not public.
//
// Every forward is written once, as a generator of steps (see ../forward.ts): `forward` runs it on
// the JS thread; `forwardAsync` awaits the heavy steps (attention and the feed-forward Linears,
// each child layer of a stack) on the libuv pool and runs the cheap elementwise parts (norms,
// residual adds, dropout, activation) on the JS thread between them.
import { isGradEnabled } from '../../autograd';
import { isFloatingPoint } from '../../dtype';
import { checkBool, checkInt, checkNumber, checkOptions, describe, shapeStr, TorchError } from '../../errors';
import { tidy } from '../../memory';
import { type MhaCall, native as N, type TransformerLayerCall } from '../../native';
import { Tensor } from '../../tensor';
import { callForward, type Forward, forwardStep, runForward, runForwardAsync } from '../forward';
import * as F from '../functional';
import { MultiheadAttention, type MultiheadAttentionForwardOptions } from './attention';
import { type AttentionCache, TransformerDecoderCache } from './attention_cache';
import { Dropout } from './dropout';
import { type FactoryOptions, Linear } from './linear';
import { Module } from './module';
import { LayerNorm } from './normalization';

/**
 * The activation of the feed-forward block: `'relu'` or `'gelu'` (stored as `F.relu` / `F.gelu`,
 * functions, as PyTorch 1.13 does: not a submodule), a unary function, or an `nn.Module` (then
 * registered as the submodule `activation`, as PyTorch does with `activation=nn.GELU()`).
 */
export type TransformerActivation = 'relu' | 'gelu' | ((x: Tensor) => Tensor) | Module;

/** Options of `nn.TransformerEncoderLayer` and `nn.TransformerDecoderLayer`. */
export interface TransformerLayerOptions extends FactoryOptions {
  /** Width of the feed-forward block. Default 2048. */
  dimFeedforward?: number;
  /** Dropout probability (attention weights, sub-block outputs, feed-forward). Default 0.1. */
  dropout?: number;
  /** Default `'relu'`. */
  activation?: TransformerActivation;
  /** eps of the LayerNorms. Default 1e-5. */
  layerNormEps?: number;
  /** Inputs and outputs are `(N, L, E)` instead of `(L, N, E)`. Default false. */
  batchFirst?: boolean;
  /** LayerNorm before each sub-block (pre-norm) instead of after it. Default false. */
  normFirst?: boolean;
}

/**
 * Options of `TransformerEncoderLayer.forward`. Masks follow MultiheadAttention: bool `true` =
 * blocked, float added.
 */
export interface TransformerEncoderLayerForwardOptions {
  /** `(S, S)` or `(N*nhead, S, S)`. */
  srcMask?: Tensor | null;
  /** `(N, S)` (`(S)` unbatched): `true` = padded key. */
  srcKeyPaddingMask?: Tensor | null;
  /** PyTorch 2's hint that `srcMask` is causal; it needs `srcMask` and never replaces it. */
  isCausal?: boolean;
}

/** Options of `TransformerDecoderLayer.forward` and `TransformerDecoder.forward`. */
export interface TransformerDecoderForwardOptions {
  /** `(T, T)` or `(N*nhead, T, T)` for the self-attention. */
  tgtMask?: Tensor | null;
  /** `(T, S)` or `(N*nhead, T, S)` for the attention over `memory`. */
  memoryMask?: Tensor | null;
  /** `(N, T)` (`(T)` unbatched): `true` = padded target position. */
  tgtKeyPaddingMask?: Tensor | null;
  /** `(N, S)` (`(S)` unbatched): `true` = padded memory position. */
  memoryKeyPaddingMask?: Tensor | null;
  /** Hint that `tgtMask` is causal (PyTorch 2); needs `tgtMask`. */
  tgtIsCausal?: boolean;
  /** Hint that `memoryMask` is causal (PyTorch 2); needs `memoryMask`. */
  memoryIsCausal?: boolean;
  /**
   * Incremental decoding: `tgt` holds only the new steps; their keys and values join the cache's
   * self-attention, which attends over every cached step, and the memory's keys and values are
   * projected once. `tgtMask`/`tgtKeyPaddingMask` then cover all cached steps (one step at a time
   * needs neither). See `nn.TransformerDecoderCache`.
   */
  cache?: TransformerDecoderCache | null;
}

// ---- helpers (shared with the stacks and nn.Transformer) ----------------------------------------

export function hide(obj: object, keys: string[]): void {
  for (const k of keys) Object.defineProperty(obj, k, { enumerable: false });
}

/**
 * Throws for an option that PyTorch spells differently in the layers and in the stacks (the source
 * mask is `srcMask` in TransformerEncoderLayer.forward, `mask` in TransformerEncoder.forward), a
 * hint that `checkOptions`'s list of known keys alone does not give.
 */
export function checkRenamedOption(fn: string, opts: unknown, key: string, hint: string): void {
  if (opts !== null && typeof opts === 'object' && Object.hasOwn(opts, key))
    throw new TypeError(`${fn}: unknown option '${key}' (${hint})`);
}

export function optTensor(fn: string, arg: string, v: unknown): Tensor | null {
  if (v === undefined || v === null) return null;
  if (!(v instanceof Tensor)) throw new TypeError(`${fn}: expected ${arg} to be a Tensor or null, got ${describe(v)}`);
  return v;
}

export function optFlag(fn: string, arg: string, v: unknown): boolean | undefined {
  return v === undefined ? undefined : checkBool(fn, arg, v);
}

/** PyTorch's check on key-padding masks (before the layers run). */
export function checkKpmDtype(fn: string, arg: string, kpm: Tensor | null): void {
  if (kpm && kpm.dtype !== 'bool' && !isFloatingPoint(kpm.dtype))
    throw new TypeError(
      `${fn}: only bool and floating types of ${arg} are supported (bool true = padded, float added), ` +
        `got dtype ${kpm.dtype}`,
    );
}

/** The sequence input of a layer: a Tensor, 2-D `(L, E)` or 3-D, with E = dModel. */
function checkSeq(fn: string, arg: string, t: unknown, dModel: number, batchFirst: boolean): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${fn}: expected ${arg} to be a Tensor, got ${describe(t)}`);
  const s = t.shape;
  const layout = batchFirst ? '(N, L, E)' : '(L, N, E)';
  if ((s.length !== 2 && s.length !== 3) || s[s.length - 1] !== dModel)
    throw new RangeError(
      `${fn}: expected ${arg} of shape ${layout} (or (L, E) unbatched) with E = dModel = ${dModel}, got ${shapeStr(s)}`,
    );
  return t;
}

/**
 * An attention call as a forward step; its TypeError/RangeError/TorchError comes back with the
 * layer's function name and which of the layer's arguments that attention received, in front of
 * MultiheadAttention's own message.
 */
function attend(
  fn: string,
  where: string,
  mha: MultiheadAttention,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: MultiheadAttentionForwardOptions,
): Forward<[Tensor, Tensor | null]> {
  return forwardStep(
    () => mha.forward(q, k, v, opts),
    () => mha.forwardAsync(q, k, v, opts),
    (e) => {
      if (e instanceof TypeError || e instanceof RangeError || e instanceof TorchError) {
        const Ctor = e.constructor as new (message: string, opts?: { cause?: unknown }) => Error;
        return new Ctor(`${fn}: in ${where}: ${e.message}`, { cause: e });
      }
      return e;
    },
  );
}

/** A Linear (or any module) of a layer as a forward step: awaited as forwardAsync in async runs. */
export function* through(m: Module, x: Tensor): Forward<Tensor> {
  return (yield* callForward(m, x)) as Tensor;
}

export type ActivationFn = (x: Tensor) => Tensor;

function resolveActivation(fn: string, a: unknown): ActivationFn | Module {
  if (a === undefined || a === 'relu') return F.relu;
  if (a === 'gelu') return F.gelu;
  if (typeof a === 'function') return a as ActivationFn;
  if (a instanceof Module) return a;
  if (typeof a === 'string')
    throw new TypeError(`${fn}: activation should be 'relu' or 'gelu' (or a function or an nn.Module), not '${a}'`);
  throw new TypeError(
    `${fn}: expected activation to be 'relu', 'gelu', a function (x) => Tensor or an nn.Module, got ${describe(a)}`,
  );
}

interface LayerConfig {
  /** The number of expected features of the input (the model dimension). */
  dModel: number;
  /** The number of attention heads. */
  nhead: number;
  /** The width of the feed-forward network (default 2048). */
  dimFeedforward: number;
  /** The dropout probability (default 0.1). */
  dropout: number;
  /** The feed-forward activation. */
  activation: ActivationFn | Module;
  /** The `eps` of the LayerNorms (default 1e-5). */
  layerNormEps: number;
  /** Inputs and outputs are `(N, L, E)` instead of `(L, N, E)` (default false). */
  batchFirst: boolean;
  /** Apply the LayerNorms before attention and feed-forward (pre-norm) instead of after (default false). */
  normFirst: boolean;
  factory: FactoryOptions;
}

export const LAYER_OPTIONS = [
  'dimFeedforward',
  'dropout',
  'activation',
  'layerNormEps',
  'batchFirst',
  'normFirst',
  'dtype',
  'device',
] as const;

export function layerConfig(fn: string, dModel: unknown, nhead: unknown, opts: unknown): LayerConfig {
  const o = checkOptions<TransformerLayerOptions>(fn, opts, LAYER_OPTIONS);
  const d = checkInt(fn, 'dModel', dModel, 1);
  const h = checkInt(fn, 'nhead', nhead, 1);
  if (d % h !== 0) throw new RangeError(`${fn}: dModel must be divisible by nhead, got dModel=${d}, nhead=${h}`);
  const ff = o.dimFeedforward === undefined ? 2048 : checkInt(fn, 'dimFeedforward', o.dimFeedforward, 1);
  const p = o.dropout === undefined ? 0.1 : checkNumber(fn, 'dropout', o.dropout);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${fn}: expected dropout to be a probability in [0, 1], got ${p}`);
  const eps = o.layerNormEps === undefined ? 1e-5 : checkNumber(fn, 'layerNormEps', o.layerNormEps);
  if (!(eps >= 0 && Number.isFinite(eps)))
    throw new RangeError(`${fn}: expected layerNormEps to be a finite number >= 0, got ${eps}`);
  return {
    dModel: d,
    nhead: h,
    dimFeedforward: ff,
    dropout: p,
    layerNormEps: eps,
    activation: resolveActivation(fn, o.activation),
    batchFirst: o.batchFirst === undefined ? false : checkBool(fn, 'batchFirst', o.batchFirst),
    normFirst: o.normFirst === undefined ? false : checkBool(fn, 'normFirst', o.normFirst),
    factory: { dtype: o.dtype, device: o.device },
  };
}

/**
 * Sets up a layer as PyTorch's constructors do, in their order (which is also the order of the
 * random initialisations, and of the state_dict keys): the settings (hidden, not attributes PyTorch
 * prints), the attentions named in `attentions`, the feed-forward block (`linear1`, `dropout`,
 * `linear2`), one LayerNorm and one Dropout per sub-block (`norm1`.., `dropout1`..), the activation.
 */
function buildLayer(layer: Module, c: LayerConfig, attentions: readonly string[], subBlocks: number): void {
  const rec = layer as unknown as Record<string, unknown>;
  const settings = ['dModel', 'nhead', 'dimFeedforward', 'batchFirst', 'normFirst'] as const;
  for (const k of settings) rec[k] = c[k];
  hide(layer, [...settings]);
  const f = c.factory;
  for (const name of attentions)
    rec[name] = new MultiheadAttention(c.dModel, c.nhead, { dropout: c.dropout, batchFirst: c.batchFirst, ...f });
  rec.linear1 = new Linear(c.dModel, c.dimFeedforward, f);
  rec.dropout = new Dropout(c.dropout);
  rec.linear2 = new Linear(c.dimFeedforward, c.dModel, f);
  for (let i = 1; i <= subBlocks; i++) rec[`norm${i}`] = new LayerNorm(c.dModel, { eps: c.layerNormEps, ...f });
  for (let i = 1; i <= subBlocks; i++) rec[`dropout${i}`] = new Dropout(c.dropout);
  rec.activation = c.activation;
}

function applyActivation(fn: string, act: ActivationFn | Module, x: Tensor): Tensor {
  const y = act instanceof Module ? (act.forward as (t: Tensor) => unknown)(x) : act(x);
  if (!(y instanceof Tensor)) throw new TypeError(`${fn}: the activation must return a Tensor, got ${describe(y)}`);
  return y;
}

// ---- layers ------------------------------------------------------------------------------------

/** A layer's parts that the fused forward reads (both layer classes have them). */
interface FusableLayer {
  training: boolean;
  /** Apply the LayerNorms before attention and feed-forward (pre-norm) instead of after (default false). */
  normFirst: boolean;
  /** The number of expected features of the input (the model dimension). */
  dModel: number;
  /** The feed-forward activation. */
  activation: ActivationFn | Module;
  /** The first feed-forward Linear (`dModel` → `dimFeedforward`). */
  linear1: Linear;
  /** The second feed-forward Linear (`dimFeedforward` → `dModel`). */
  linear2: Linear;
  /** The dropout after the feed-forward activation. */
  dropout: Dropout;
  /** The self-attention block. */
  self_attn: MultiheadAttention;
}

/**
 * The whole layer in one native call (native/attention.cc `transformerLayer`, the fused attention
 * inside) when it is an inference call the fused kernels cover: fastPath on, dropout inactive,
 * relu/gelu, LayerNorms over dModel; the native side also rules out gradients and other dtypes.
 * Null: compose it step by step. The arguments were checked by the caller's `steps`; an attention
 * argument error is left to the step-by-step path, which reports it with the layer's context.
 */
function fusedLayer(
  layer: FusableLayer,
  fn: string,
  x: Tensor,
  norms: LayerNorm[],
  dropouts: Dropout[],
  self: MultiheadAttentionForwardOptions,
  cross?: { attn: MultiheadAttention; memory: Tensor; opts: MultiheadAttentionForwardOptions },
): Tensor | null {
  const args = fusedArgs(layer, fn, x, norms, dropouts, self, cross);
  if (args === null) return null;
  const h = N.transformerLayer(...args);
  return h === null ? null : new Tensor(h);
}

/**
 * `forwardAsync` of a layer: the fused layer on the libuv thread pool when fusedArgs allows it,
 * else (decided at the call, like the grad mode the steps run under) the step-by-step `g`.
 */
function layerAsync(a: Parameters<typeof fusedArgs>, g: Forward<Tensor>): Promise<Tensor> {
  const args = fusedArgs(...a);
  if (args === null) return runForwardAsync(g);
  return N.transformerLayerAsync(...args).then(([h]) => (h === null ? runForwardAsync(g) : new Tensor(h)));
}

/** The native arguments of a fused layer call, or null when the call is not one the kernels cover. */
function fusedArgs(
  layer: FusableLayer,
  fn: string,
  x: Tensor,
  norms: LayerNorm[],
  dropouts: Dropout[],
  self: MultiheadAttentionForwardOptions,
  cross?: { attn: MultiheadAttention; memory: Tensor; opts: MultiheadAttentionForwardOptions },
): [MhaCall, TransformerLayerCall, MhaCall?] | null {
  if (!N.fastPath()) return null;
  if (x.device !== 'cpu' || (x.dtype !== 'float32' && x.dtype !== 'float64')) return null;
  // decided here, at the call, so that an async call never composes later under another grad mode
  if (
    isGradEnabled() &&
    (x.requiresGrad ||
      cross?.memory.requiresGrad ||
      [...(layer as unknown as Module).parameters()].some((p) => p.requiresGrad))
  )
    return null;
  const act = layer.activation === F.relu ? 0 : layer.activation === F.gelu ? 1 : -1;
  if (act < 0) return null;
  if (layer.training && [layer.dropout, ...dropouts].some((d) => !(d instanceof Dropout) || d.p > 0)) return null;
  if (!(layer.linear1 instanceof Linear) || !(layer.linear2 instanceof Linear)) return null;
  for (const n of norms)
    if (!(n instanceof LayerNorm) || n.normalizedShape.length !== 1 || n.normalizedShape[0] !== layer.dModel)
      return null;
  if (!(layer.self_attn instanceof MultiheadAttention)) return null;
  if (cross && !(cross.attn instanceof MultiheadAttention)) return null;
  let sa: MhaCall;
  let ca: MhaCall | undefined;
  try {
    sa = layer.self_attn.prepare(fn, x, x, x, { ...self, needWeights: false })[0];
    if (cross) ca = cross.attn.prepare(fn, x, cross.memory, cross.memory, { ...cross.opts, needWeights: false })[0];
  } catch {
    return null;
  }
  const ph = (p: Tensor | null) => (p ? p._h : undefined);
  const call: TransformerLayerCall = {
    x: x._h,
    memory: cross ? cross.memory._h : undefined,
    normFirst: layer.normFirst,
    activation: act,
    linear1Weight: layer.linear1.weight._h,
    linear1Bias: ph(layer.linear1.bias),
    linear2Weight: layer.linear2.weight._h,
    linear2Bias: ph(layer.linear2.bias),
    eps1: norms[0].eps,
    eps2: norms[1].eps,
  };
  const rec = call as unknown as Record<string, unknown>;
  norms.forEach((n, i) => {
    rec[`norm${i + 1}Weight`] = ph(n.weight);
    rec[`norm${i + 1}Bias`] = ph(n.bias);
    rec[`eps${i + 1}`] = n.eps;
  });
  return ca ? [sa, call, ca] : [sa, call];
}

/**
 * One encoder layer: self-attention and a feed-forward block, each with dropout, a residual
 * connection and a LayerNorm (after it, or before it with `normFirst`) — PyTorch's
 * `nn.TransformerEncoderLayer`, slow path.
 *
 * Shapes: src `(S, N, E)` (`(N, S, E)` with `batchFirst`, `(S, E)` unbatched); output like src.
 * Submodules, state_dict keys and repr are PyTorch's: `self_attn`, `linear1`, `dropout`,
 * `linear2`, `norm1`, `norm2`, `dropout1`, `dropout2`.
 *
 * @param dModel E, the number of features.
 * @param nhead attention heads; must divide dModel.
 * @throws TypeError / RangeError naming the argument, for bad arguments or unknown options.
 * @example
 * const layer = new nn.TransformerEncoderLayer(512, 8, { batchFirst: true });
 * const out = layer.forward(src, { srcMask: nn.masks.causal(S), srcKeyPaddingMask: pad });
 */
export class TransformerEncoderLayer extends Module {
  /** The number of expected features of the input (the model dimension). */
  declare readonly dModel: number;
  /** The number of attention heads. */
  declare readonly nhead: number;
  /** The width of the feed-forward network (default 2048). */
  declare readonly dimFeedforward: number;
  /** Inputs and outputs are `(N, L, E)` instead of `(L, N, E)` (default false). */
  declare readonly batchFirst: boolean;
  /** PyTorch's `norm_first`. */
  declare readonly normFirst: boolean;

  /** The self-attention block. */
  declare self_attn: MultiheadAttention;
  /** The first feed-forward Linear (`dModel` → `dimFeedforward`). */
  declare linear1: Linear;
  /** The dropout after the feed-forward activation. */
  declare dropout: Dropout;
  /** The second feed-forward Linear (`dimFeedforward` → `dModel`). */
  declare linear2: Linear;
  /** The LayerNorm of the self-attention block. */
  declare norm1: LayerNorm;
  /** The LayerNorm of the second block (feed-forward in an encoder layer, cross-attention in a decoder layer). */
  declare norm2: LayerNorm;
  /** The dropout after the self-attention. */
  declare dropout1: Dropout;
  /** The dropout after the second block (feed-forward in an encoder layer, cross-attention in a decoder layer). */
  declare dropout2: Dropout;
  /** `F.relu`, `F.gelu`, a function, or a registered submodule. */
  declare activation: ActivationFn | Module;

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    buildLayer(this, layerConfig('TransformerEncoderLayer', dModel, nhead, opts), ['self_attn'], 2);
  }

  /**
   * @returns the output, shaped like `src`.
   * @throws TypeError/RangeError for a bad src or option; MultiheadAttention's mask and shape
   * errors come back prefixed with this function and the argument they concern.
   */
  forward(src: Tensor, opts: TransformerEncoderLayerForwardOptions = {}): Tensor {
    const fn = 'TransformerEncoderLayer.forward';
    const g = this.steps(fn, src, opts);
    const fused = fusedLayer(...this.fusedCall(fn, src, opts));
    if (fused !== null) return fused;
    return tidy(() => runForward(g));
  }

  /**
   * `forward` with its attention and feed-forward Linears on the libuv thread pool (awaited in
   * turn; norms, dropout, activation and residual adds run on the JS thread between them). Same
   * options, checks and results as `forward`; errors reject. Intermediate tensors are disposed
   * when it settles; the result is the caller's. Until it settles, src, the masks and the
   * parameters are in use (see `MultiheadAttention.forwardAsync`).
   * @example const out = await layer.forwardAsync(src, { srcKeyPaddingMask: pad });
   */
  override async forwardAsync(src: Tensor, opts: TransformerEncoderLayerForwardOptions = {}): Promise<Tensor> {
    const fn = 'TransformerEncoderLayer.forwardAsync';
    const g = this.steps(fn, src, opts);
    return layerAsync(this.fusedCall(fn, src, opts), g);
  }

  /** fusedLayer's arguments for this layer. */
  private fusedCall(
    fn: string,
    src: Tensor,
    opts: TransformerEncoderLayerForwardOptions,
  ): Parameters<typeof fusedArgs> {
    return [
      this,
      fn,
      src,
      [this.norm1, this.norm2],
      [this.dropout1, this.dropout2],
      { attnMask: opts.srcMask ?? null, keyPaddingMask: opts.srcKeyPaddingMask ?? null, isCausal: opts.isCausal },
    ];
  }

  /** The checks (at the call), then the forward as steps. */
  private steps(fn: string, src: Tensor, opts: TransformerEncoderLayerForwardOptions): Forward<Tensor> {
    checkRenamedOption(
      fn,
      opts,
      'mask',
      "the source mask is called srcMask here, as in PyTorch's TransformerEncoderLayer.forward",
    );
    const o = checkOptions<TransformerEncoderLayerForwardOptions>(fn, opts, [
      'srcMask',
      'srcKeyPaddingMask',
      'isCausal',
    ]);
    checkSeq(fn, 'src', src, this.dModel, this.batchFirst);
    const srcMask = optTensor(fn, 'srcMask', o.srcMask);
    const kpm = optTensor(fn, 'srcKeyPaddingMask', o.srcKeyPaddingMask);
    const isCausal = optFlag(fn, 'isCausal', o.isCausal);
    checkKpmDtype(fn, 'srcKeyPaddingMask', kpm);
    return this.layer(fn, src, srcMask, kpm, isCausal);
  }

  private *layer(
    fn: string,
    src: Tensor,
    srcMask: Tensor | null,
    kpm: Tensor | null,
    isCausal: boolean | undefined,
  ): Forward<Tensor> {
    let x = src;
    if (this.normFirst) {
      x = x.add(yield* this.saBlock(fn, this.norm1.forward(x), srcMask, kpm, isCausal));
      x = x.add(yield* this.ffBlock(fn, this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(x.add(yield* this.saBlock(fn, x, srcMask, kpm, isCausal)));
      x = this.norm2.forward(x.add(yield* this.ffBlock(fn, x)));
    }
    return x;
  }

  private *saBlock(
    fn: string,
    x: Tensor,
    attnMask: Tensor | null,
    keyPaddingMask: Tensor | null,
    isCausal: boolean | undefined,
  ): Forward<Tensor> {
    const [out] = yield* attend(
      fn,
      'self_attn (srcMask is its attnMask, srcKeyPaddingMask its keyPaddingMask)',
      this.self_attn,
      x,
      x,
      x,
      { attnMask, keyPaddingMask, needWeights: false, isCausal },
    );
    return this.dropout1.forward(out);
  }

  private *ffBlock(fn: string, x: Tensor): Forward<Tensor> {
    const h = applyActivation(fn, this.activation, yield* through(this.linear1, x));
    return this.dropout2.forward(yield* through(this.linear2, this.dropout.forward(h)));
  }
}

/**
 * One decoder layer: self-attention, attention over the encoder's output (`memory`) and a
 * feed-forward block, each with dropout, a residual connection and a LayerNorm (after, or before
 * with `normFirst`) — PyTorch's `nn.TransformerDecoderLayer`.
 *
 * Shapes: tgt `(T, N, E)`, memory `(S, N, E)` (`(N, T, E)`, `(N, S, E)` with `batchFirst`;
 * `(T, E)`, `(S, E)` unbatched); output like tgt. Submodules: `self_attn`, `multihead_attn`,
 * `linear1`, `dropout`, `linear2`, `norm1`..`norm3`, `dropout1`..`dropout3`.
 *
 * @example
 * const layer = new nn.TransformerDecoderLayer(512, 8);
 * const out = layer.forward(tgt, memory, { tgtMask: nn.masks.causal(T), memoryKeyPaddingMask: pad });
 */
export class TransformerDecoderLayer extends Module {
  /** The number of expected features of the input (the model dimension). */
  declare readonly dModel: number;
  /** The number of attention heads. */
  declare readonly nhead: number;
  /** The width of the feed-forward network (default 2048). */
  declare readonly dimFeedforward: number;
  /** Inputs and outputs are `(N, L, E)` instead of `(L, N, E)` (default false). */
  declare readonly batchFirst: boolean;
  /** Apply the LayerNorms before attention and feed-forward (pre-norm) instead of after (default false). */
  declare readonly normFirst: boolean;

  /** The self-attention block. */
  declare self_attn: MultiheadAttention;
  /** The cross-attention block over the encoder's memory. */
  declare multihead_attn: MultiheadAttention;
  /** The first feed-forward Linear (`dModel` → `dimFeedforward`). */
  declare linear1: Linear;
  /** The dropout after the feed-forward activation. */
  declare dropout: Dropout;
  /** The second feed-forward Linear (`dimFeedforward` → `dModel`). */
  declare linear2: Linear;
  /** The LayerNorm of the self-attention block. */
  declare norm1: LayerNorm;
  /** The LayerNorm of the second block (feed-forward in an encoder layer, cross-attention in a decoder layer). */
  declare norm2: LayerNorm;
  /** The LayerNorm of the feed-forward block. */
  declare norm3: LayerNorm;
  /** The dropout after the self-attention. */
  declare dropout1: Dropout;
  /** The dropout after the second block (feed-forward in an encoder layer, cross-attention in a decoder layer). */
  declare dropout2: Dropout;
  /** The dropout after the feed-forward block. */
  declare dropout3: Dropout;
  /** The feed-forward activation. */
  declare activation: ActivationFn | Module;

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    buildLayer(this, layerConfig('TransformerDecoderLayer', dModel, nhead, opts), ['self_attn', 'multihead_attn'], 3);
  }

  /** @returns the output, shaped like `tgt`. */
  forward(tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions = {}): Tensor {
    const fn = 'TransformerDecoderLayer.forward';
    const g = this.steps(fn, tgt, memory, opts);
    if (opts.cache) return tidy(() => runForward(g)); // cached steps: the composition, with the caches
    const fused = fusedLayer(...this.fusedCall(fn, tgt, memory, opts));
    if (fused !== null) return fused;
    return tidy(() => runForward(g));
  }

  /** fusedLayer's arguments for this layer. */
  private fusedCall(
    fn: string,
    tgt: Tensor,
    memory: Tensor,
    opts: TransformerDecoderForwardOptions,
  ): Parameters<typeof fusedArgs> {
    return [
      this,
      fn,
      tgt,
      [this.norm1, this.norm2, this.norm3],
      [this.dropout1, this.dropout2, this.dropout3],
      { attnMask: opts.tgtMask ?? null, keyPaddingMask: opts.tgtKeyPaddingMask ?? null, isCausal: opts.tgtIsCausal },
      {
        attn: this.multihead_attn,
        memory,
        opts: {
          attnMask: opts.memoryMask ?? null,
          keyPaddingMask: opts.memoryKeyPaddingMask ?? null,
          isCausal: opts.memoryIsCausal,
        },
      },
    ];
  }

  /**
   * `forward` with its attentions and feed-forward Linears on the libuv thread pool (see
   * `TransformerEncoderLayer.forwardAsync`). Same options, checks and results as `forward`.
   */
  override async forwardAsync(
    tgt: Tensor,
    memory: Tensor,
    opts: TransformerDecoderForwardOptions = {},
  ): Promise<Tensor> {
    const fn = 'TransformerDecoderLayer.forwardAsync';
    const g = this.steps(fn, tgt, memory, opts);
    if (opts.cache) return runForwardAsync(g);
    return layerAsync(this.fusedCall(fn, tgt, memory, opts), g);
  }

  /** The checks (at the call), then the forward as steps. */
  private steps(fn: string, tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions): Forward<Tensor> {
    const o = checkOptions<TransformerDecoderForwardOptions>(fn, opts, DECODER_OPTIONS);
    checkSeq(fn, 'tgt', tgt, this.dModel, this.batchFirst);
    checkSeq(fn, 'memory', memory, this.dModel, this.batchFirst);
    if (tgt.dim() !== memory.dim())
      throw new RangeError(
        `${fn}: tgt and memory must both be batched (3-D) or both unbatched (2-D), got tgt ` +
          `${shapeStr(tgt.shape)} and memory ${shapeStr(memory.shape)}`,
      );
    const m: DecoderMasks = {
      tgtMask: optTensor(fn, 'tgtMask', o.tgtMask),
      memoryMask: optTensor(fn, 'memoryMask', o.memoryMask),
      tgtKpm: optTensor(fn, 'tgtKeyPaddingMask', o.tgtKeyPaddingMask),
      memKpm: optTensor(fn, 'memoryKeyPaddingMask', o.memoryKeyPaddingMask),
      tgtIsCausal: optFlag(fn, 'tgtIsCausal', o.tgtIsCausal),
      memoryIsCausal: optFlag(fn, 'memoryIsCausal', o.memoryIsCausal),
      cache: null,
    };
    if (o.cache !== undefined && o.cache !== null) {
      if (!(o.cache instanceof TransformerDecoderCache))
        throw new TypeError(`${fn}: expected cache to be an nn.TransformerDecoderCache, got ${describe(o.cache)}`);
      m.cache = o.cache.layer(0);
    }
    checkKpmDtype(fn, 'tgtKeyPaddingMask', m.tgtKpm);
    checkKpmDtype(fn, 'memoryKeyPaddingMask', m.memKpm);
    return this.layer(fn, tgt, memory, m);
  }

  private *layer(fn: string, tgt: Tensor, memory: Tensor, m: DecoderMasks): Forward<Tensor> {
    let x = tgt;
    if (this.normFirst) {
      x = x.add(yield* this.saBlock(fn, this.norm1.forward(x), m));
      x = x.add(yield* this.mhaBlock(fn, this.norm2.forward(x), memory, m));
      x = x.add(yield* this.ffBlock(fn, this.norm3.forward(x)));
    } else {
      x = this.norm1.forward(x.add(yield* this.saBlock(fn, x, m)));
      x = this.norm2.forward(x.add(yield* this.mhaBlock(fn, x, memory, m)));
      x = this.norm3.forward(x.add(yield* this.ffBlock(fn, x)));
    }
    return x;
  }

  private *saBlock(fn: string, x: Tensor, m: DecoderMasks): Forward<Tensor> {
    const [out] = yield* attend(
      fn,
      'self_attn (tgtMask is its attnMask, tgtKeyPaddingMask its keyPaddingMask)',
      this.self_attn,
      x,
      x,
      x,
      m.cache
        ? { attnMask: m.tgtMask, keyPaddingMask: m.tgtKpm, needWeights: false, cache: m.cache.self }
        : { attnMask: m.tgtMask, keyPaddingMask: m.tgtKpm, needWeights: false, isCausal: m.tgtIsCausal },
    );
    return this.dropout1.forward(out);
  }

  private *mhaBlock(fn: string, x: Tensor, mem: Tensor, m: DecoderMasks): Forward<Tensor> {
    const [out] = yield* attend(
      fn,
      'multihead_attn (tgt is its query, memory its key and value, memoryMask its attnMask, ' +
        'memoryKeyPaddingMask its keyPaddingMask)',
      this.multihead_attn,
      x,
      mem,
      mem,
      m.cache
        ? { attnMask: m.memoryMask, keyPaddingMask: m.memKpm, needWeights: false, cache: m.cache.cross }
        : { attnMask: m.memoryMask, keyPaddingMask: m.memKpm, needWeights: false, isCausal: m.memoryIsCausal },
    );
    return this.dropout2.forward(out);
  }

  private *ffBlock(fn: string, x: Tensor): Forward<Tensor> {
    const h = applyActivation(fn, this.activation, yield* through(this.linear1, x));
    return this.dropout3.forward(yield* through(this.linear2, this.dropout.forward(h)));
  }
}

/** A decoder layer's masks and hints, checked. */
interface DecoderMasks {
  tgtMask: Tensor | null;
  memoryMask: Tensor | null;
  tgtKpm: Tensor | null;
  memKpm: Tensor | null;
  tgtIsCausal: boolean | undefined;
  memoryIsCausal: boolean | undefined;
  /** This layer's caches (incremental decoding), or null. */
  cache: { self: AttentionCache; cross: AttentionCache } | null;
}

export const DECODER_OPTIONS = [
  'tgtMask',
  'memoryMask',
  'tgtKeyPaddingMask',
  'memoryKeyPaddingMask',
  'tgtIsCausal',
  'memoryIsCausal',
  'cache',
] as const;
