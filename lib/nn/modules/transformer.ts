// Transformer layers (PyTorch's torch/nn/modules/transformer.py), composed from our modules in
// PyTorch's order and under its names, so that state_dict keys, reprs and seeded initial weights
// are PyTorch's. Only the slow path is ported: PyTorch 1.13's fused encoder "fast path" and
// nested-tensor path give different answers in some cases (padded positions come out 0, a float
// key-padding mask is booleanised); our outputs are always the slow path's.
//
// Every forward is written once, as a generator of steps (see container.ts): `forward` runs it on
// the JS thread; `forwardAsync` awaits the heavy steps (attention and the feed-forward Linears,
// each child layer of a stack) on the libuv pool and runs the cheap elementwise parts (norms,
// residual adds, dropout, activation) on the JS thread between them.
import { full } from '../../creation';
import * as os from 'node:os';
import { type DType, ITEM_SIZE, isFloatingPoint } from '../../dtype';
import { checkDevice } from '../../device';
import { TorchError, checkBool, checkInt, checkNumber, checkOptions, describe, formatBytes } from '../../errors';
import { keep, tidy } from '../../memory';
import { Tensor } from '../../tensor';
import * as F from '../functional';
import * as init from '../init';
import { Parameter } from '../parameter';
import { MultiheadAttention, type MultiheadAttentionForwardOptions } from './attention';
import { type Forward, ModuleList, callForward, forwardStep, runForward, runForwardAsync } from './container';
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

/** Options of `TransformerEncoderLayer.forward`. Masks follow MultiheadAttention: bool `true` = blocked, float added. */
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
}

/** Options of `TransformerEncoder.forward` (PyTorch calls the source mask `mask` here). */
export interface TransformerEncoderForwardOptions {
  /** `(S, S)` or `(N*nhead, S, S)`, given to every layer as its `srcMask`. */
  mask?: Tensor | null;
  /** `(N, S)` (`(S)` unbatched): `true` = padded key. */
  srcKeyPaddingMask?: Tensor | null;
  /** PyTorch 2's hint that `mask` is causal; needs `mask`. */
  isCausal?: boolean;
}

/** Options of `Transformer.forward`. */
export interface TransformerForwardOptions {
  srcMask?: Tensor | null;
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  srcIsCausal?: boolean;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

/** What `TransformerEncoder` needs of a layer (a `TransformerEncoderLayer` or a module with its forward). */
export type EncoderLayerLike = Module & { forward(src: Tensor, opts?: TransformerEncoderLayerForwardOptions): Tensor };
/** What `TransformerDecoder` needs of a layer. */
export type DecoderLayerLike = Module & {
  forward(tgt: Tensor, memory: Tensor, opts?: TransformerDecoderForwardOptions): Tensor;
};

// ---- helpers -----------------------------------------------------------------------------------

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

function hide(obj: object, keys: string[]): void {
  for (const k of keys) Object.defineProperty(obj, k, { enumerable: false });
}

/**
 * An options object whose keys must all be known: a misspelt mask name would otherwise be
 * silently ignored (the classic way to train without the mask one meant to pass).
 */
function strictOptions<T extends object>(
  fn: string,
  v: unknown,
  allowed: readonly string[],
  hints: Record<string, string> = {},
): Partial<T> {
  const o = checkOptions<T>(fn, v);
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const camel = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const hint = hints[k] ?? (camel !== k && allowed.includes(camel) ? ` (did you mean '${camel}'?)` : '');
    throw new TypeError(`${fn}: unknown option '${k}'${hint}; expected one of ${allowed.join(', ')}`);
  }
  return o;
}

function optTensor(fn: string, arg: string, v: unknown): Tensor | null {
  if (v === undefined || v === null) return null;
  if (!(v instanceof Tensor)) throw new TypeError(`${fn}: expected ${arg} to be a Tensor or null, got ${describe(v)}`);
  return v;
}

function optFlag(fn: string, arg: string, v: unknown): boolean | undefined {
  return v === undefined ? undefined : checkBool(fn, arg, v);
}

/** PyTorch's check on key-padding masks (before the layers run). */
function checkKpmDtype(fn: string, arg: string, kpm: Tensor | null): void {
  if (kpm && kpm.dtype !== 'bool' && !isFloatingPoint(kpm.dtype))
    throw new TypeError(
      `${fn}: only bool and floating types of ${arg} are supported (bool true = padded, float added), got dtype ${kpm.dtype}`,
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
function* through(m: Module, x: Tensor): Forward<Tensor> {
  return (yield* callForward(m, x)) as Tensor;
}

type ActivationFn = (x: Tensor) => Tensor;

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
  dModel: number;
  nhead: number;
  dimFeedforward: number;
  dropout: number;
  activation: ActivationFn | Module;
  layerNormEps: number;
  batchFirst: boolean;
  normFirst: boolean;
  factory: FactoryOptions;
}

const LAYER_OPTIONS = [
  'dimFeedforward',
  'dropout',
  'activation',
  'layerNormEps',
  'batchFirst',
  'normFirst',
  'dtype',
  'device',
] as const;

function layerConfig(fn: string, dModel: unknown, nhead: unknown, opts: unknown): LayerConfig {
  const o = strictOptions<TransformerLayerOptions>(fn, opts, LAYER_OPTIONS);
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

function applyActivation(fn: string, act: ActivationFn | Module, x: Tensor): Tensor {
  const y = act instanceof Module ? (act.forward as (t: Tensor) => unknown)(x) : act(x);
  if (!(y instanceof Tensor)) throw new TypeError(`${fn}: the activation must return a Tensor, got ${describe(y)}`);
  return y;
}

// ---- deep copy (PyTorch's copy.deepcopy of a module) -------------------------------------------

/**
 * A deep copy of a module, as `copy.deepcopy` makes it in `_get_clones`: same class, same
 * settings and training mode, parameters and buffers with copied values (so the copies start
 * from the same weights), tied tensors and shared submodules staying tied within the copy. It
 * draws no random numbers, so a seeded construction goes on exactly as PyTorch's. Functions and
 * class instances other than modules and tensors are shared, as deepcopy shares functions.
 */
function deepCopy<M extends Module>(m: M, memo: Map<unknown, unknown> = new Map()): M {
  return copyValue(m, memo) as M;
}

function copyValue(v: unknown, memo: Map<unknown, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (memo.has(v)) return memo.get(v);
  if (v instanceof Parameter) {
    const data = v.detach();
    const c = data.clone();
    const p = new Parameter(c, v.requiresGrad);
    data.dispose();
    c.dispose();
    const g = v.grad;
    if (g) {
      const gc = g.clone();
      p.grad = gc;
      gc.dispose();
      g.dispose();
    }
    memo.set(v, p);
    return p;
  }
  if (v instanceof Tensor) {
    const data = v.detach();
    const c = keep(data.clone());
    data.dispose();
    if (v.requiresGrad) c.requiresGrad_(true);
    memo.set(v, c);
    return c;
  }
  if (v instanceof Module) {
    const copy = Object.create(Object.getPrototypeOf(v)) as Module;
    memo.set(v, copy);
    // Which own entries are buffers, and whether persistent (kept in state_dict).
    const buffers = [...v.namedBuffers({ recurse: false })].map(([n]) => n);
    let persistent = new Set<string>();
    if (buffers.length) {
      const sd = v.stateDict();
      persistent = new Set(Object.keys(sd).filter((k) => !k.includes('.')));
      for (const t of Object.values(sd)) t.dispose();
    }
    for (const key of Reflect.ownKeys(v)) {
      const desc = Object.getOwnPropertyDescriptor(v, key)!;
      if ('value' in desc) desc.value = copyValue(desc.value, memo);
      Object.defineProperty(copy, key, desc);
    }
    const rec = copy as unknown as Record<string, Tensor>;
    for (const name of buffers) copy.registerBuffer(name, rec[name], { persistent: persistent.has(name) });
    return copy;
  }
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    memo.set(v, out);
    for (const x of v) out.push(copyValue(x, memo));
    return out;
  }
  if (v instanceof Map) {
    const out = new Map();
    memo.set(v, out);
    for (const [k, x] of v) out.set(copyValue(k, memo), copyValue(x, memo));
    return out;
  }
  if (v instanceof Set) {
    const out = new Set();
    memo.set(v, out);
    for (const x of v) out.add(copyValue(x, memo));
    return out;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const out = Object.create(proto) as Record<PropertyKey, unknown>;
    memo.set(v, out);
    for (const key of Reflect.ownKeys(v)) {
      const desc = Object.getOwnPropertyDescriptor(v, key)!;
      if ('value' in desc) desc.value = copyValue(desc.value, memo);
      Object.defineProperty(out, key, desc);
    }
    return out;
  }
  return v;
}

/** `numLayers` deep copies of a layer in a ModuleList (PyTorch's `_get_clones`). */
function getClones(fn: string, layer: unknown, numLayers: unknown, what: string): ModuleList {
  if (!(layer instanceof Module))
    throw new TypeError(`${fn}: expected ${what} to be an nn.Module, got ${describe(layer)}`);
  const n = checkInt(fn, 'numLayers', numLayers, 1);
  let bytes = 0;
  for (const t of [...layer.parameters(), ...layer.buffers()]) bytes += t.numel() * ITEM_SIZE[t.dtype];
  if (bytes * n > os.totalmem())
    throw new RangeError(
      `${fn}: numLayers = ${n} copies of ${what} would need ${formatBytes(bytes * n)} of parameters, ` +
        `more than this machine's ${formatBytes(os.totalmem())} of memory`,
    );
  const layers: Module[] = [];
  for (let i = 0; i < n; i++) layers.push(deepCopy(layer));
  return new ModuleList(layers);
}

/** Frees the tensors of a layer that only served as the template of its copies (not its activation module, the caller's). */
function disposeTemplate(layer: Module): void {
  for (const [name, child] of layer.namedChildren()) {
    if (name === 'activation') continue;
    for (const p of child.parameters()) p.dispose();
    for (const b of child.buffers()) b.dispose();
  }
}

// ---- layers ------------------------------------------------------------------------------------

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
  readonly dModel: number;
  readonly nhead: number;
  readonly dimFeedforward: number;
  readonly batchFirst: boolean;
  /** PyTorch's `norm_first`. */
  readonly normFirst: boolean;

  self_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  /** `F.relu`, `F.gelu`, a function, or a registered submodule. */
  activation: ActivationFn | Module;

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    const fn = 'TransformerEncoderLayer';
    const c = layerConfig(fn, dModel, nhead, opts);
    this.dModel = c.dModel;
    this.nhead = c.nhead;
    this.dimFeedforward = c.dimFeedforward;
    this.batchFirst = c.batchFirst;
    this.normFirst = c.normFirst;
    hide(this, ['dModel', 'nhead', 'dimFeedforward', 'batchFirst', 'normFirst']);
    // PyTorch's construction order: it is also the order of the random initialisations.
    this.self_attn = new MultiheadAttention(c.dModel, c.nhead, {
      dropout: c.dropout,
      batchFirst: c.batchFirst,
      ...c.factory,
    });
    this.linear1 = new Linear(c.dModel, c.dimFeedforward, c.factory);
    this.dropout = new Dropout(c.dropout);
    this.linear2 = new Linear(c.dimFeedforward, c.dModel, c.factory);
    this.norm1 = new LayerNorm(c.dModel, { eps: c.layerNormEps, ...c.factory });
    this.norm2 = new LayerNorm(c.dModel, { eps: c.layerNormEps, ...c.factory });
    this.dropout1 = new Dropout(c.dropout);
    this.dropout2 = new Dropout(c.dropout);
    this.activation = c.activation;
  }

  /**
   * @returns the output, shaped like `src`.
   * @throws TypeError/RangeError for a bad src or option; MultiheadAttention's mask and shape
   * errors come back prefixed with this function and the argument they concern.
   */
  forward(src: Tensor, opts: TransformerEncoderLayerForwardOptions = {}): Tensor {
    const g = this.steps('TransformerEncoderLayer.forward', src, opts);
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
    return runForwardAsync(this.steps('TransformerEncoderLayer.forwardAsync', src, opts));
  }

  /** The checks (at the call), then the forward as steps. */
  private steps(fn: string, src: Tensor, opts: TransformerEncoderLayerForwardOptions): Forward<Tensor> {
    const o = strictOptions<TransformerEncoderLayerForwardOptions>(
      fn,
      opts,
      ['srcMask', 'srcKeyPaddingMask', 'isCausal'],
      { mask: " (the source mask is called srcMask here, as in PyTorch's TransformerEncoderLayer.forward)" },
    );
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
 * const out = layer.forward(tgt, memory, { tgtMask: nn.Transformer.generateSquareSubsequentMask(T) });
 */
export class TransformerDecoderLayer extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly dimFeedforward: number;
  readonly batchFirst: boolean;
  readonly normFirst: boolean;

  self_attn: MultiheadAttention;
  multihead_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;
  activation: ActivationFn | Module;

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    const fn = 'TransformerDecoderLayer';
    const c = layerConfig(fn, dModel, nhead, opts);
    this.dModel = c.dModel;
    this.nhead = c.nhead;
    this.dimFeedforward = c.dimFeedforward;
    this.batchFirst = c.batchFirst;
    this.normFirst = c.normFirst;
    hide(this, ['dModel', 'nhead', 'dimFeedforward', 'batchFirst', 'normFirst']);
    const mha = { dropout: c.dropout, batchFirst: c.batchFirst, ...c.factory };
    this.self_attn = new MultiheadAttention(c.dModel, c.nhead, mha);
    this.multihead_attn = new MultiheadAttention(c.dModel, c.nhead, mha);
    this.linear1 = new Linear(c.dModel, c.dimFeedforward, c.factory);
    this.dropout = new Dropout(c.dropout);
    this.linear2 = new Linear(c.dimFeedforward, c.dModel, c.factory);
    this.norm1 = new LayerNorm(c.dModel, { eps: c.layerNormEps, ...c.factory });
    this.norm2 = new LayerNorm(c.dModel, { eps: c.layerNormEps, ...c.factory });
    this.norm3 = new LayerNorm(c.dModel, { eps: c.layerNormEps, ...c.factory });
    this.dropout1 = new Dropout(c.dropout);
    this.dropout2 = new Dropout(c.dropout);
    this.dropout3 = new Dropout(c.dropout);
    this.activation = c.activation;
  }

  /** @returns the output, shaped like `tgt`. */
  forward(tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions = {}): Tensor {
    const g = this.steps('TransformerDecoderLayer.forward', tgt, memory, opts);
    return tidy(() => runForward(g));
  }

  /**
   * `forward` with its attentions and feed-forward Linears on the libuv thread pool (see
   * `TransformerEncoderLayer.forwardAsync`). Same options, checks and results as `forward`.
   */
  override async forwardAsync(tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions = {}): Promise<Tensor> {
    return runForwardAsync(this.steps('TransformerDecoderLayer.forwardAsync', tgt, memory, opts));
  }

  /** The checks (at the call), then the forward as steps. */
  private steps(fn: string, tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions): Forward<Tensor> {
    const o = strictOptions<TransformerDecoderForwardOptions>(fn, opts, DECODER_OPTIONS);
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
    };
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
      { attnMask: m.tgtMask, keyPaddingMask: m.tgtKpm, needWeights: false, isCausal: m.tgtIsCausal },
    );
    return this.dropout1.forward(out);
  }

  private *mhaBlock(fn: string, x: Tensor, mem: Tensor, m: DecoderMasks): Forward<Tensor> {
    const [out] = yield* attend(
      fn,
      'multihead_attn (tgt is its query, memory its key and value, memoryMask its attnMask, memoryKeyPaddingMask its keyPaddingMask)',
      this.multihead_attn,
      x,
      mem,
      mem,
      { attnMask: m.memoryMask, keyPaddingMask: m.memKpm, needWeights: false, isCausal: m.memoryIsCausal },
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
}

const DECODER_OPTIONS = [
  'tgtMask',
  'memoryMask',
  'tgtKeyPaddingMask',
  'memoryKeyPaddingMask',
  'tgtIsCausal',
  'memoryIsCausal',
] as const;

// ---- stacks ------------------------------------------------------------------------------------

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
  layers: ModuleList;
  readonly numLayers: number;
  norm: Module | null;

  constructor(encoderLayer: EncoderLayerLike, numLayers: number, opts: TransformerEncoderOptions | Module | null = {}) {
    super();
    const fn = 'TransformerEncoder';
    const o =
      opts instanceof Module || opts === null
        ? { norm: opts }
        : strictOptions<TransformerEncoderOptions>(fn, opts, ['norm', 'enableNestedTensor', 'maskCheck']);
    if (o.norm !== undefined && o.norm !== null && !(o.norm instanceof Module))
      throw new TypeError(`${fn}: expected norm to be an nn.Module or null, got ${describe(o.norm)}`);
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
    const o = strictOptions<TransformerEncoderForwardOptions>(fn, opts, ['mask', 'srcKeyPaddingMask', 'isCausal'], {
      srcMask: " (the source mask is called mask here, as in PyTorch's TransformerEncoder.forward)",
    });
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
  layers: ModuleList;
  readonly numLayers: number;
  norm: Module | null;

  constructor(decoderLayer: DecoderLayerLike, numLayers: number, opts: TransformerDecoderOptions | Module | null = {}) {
    super();
    const fn = 'TransformerDecoder';
    const o =
      opts instanceof Module || opts === null
        ? { norm: opts }
        : strictOptions<TransformerDecoderOptions>(fn, opts, ['norm']);
    if (o.norm !== undefined && o.norm !== null && !(o.norm instanceof Module))
      throw new TypeError(`${fn}: expected norm to be an nn.Module or null, got ${describe(o.norm)}`);
    this.layers = getClones(fn, decoderLayer, numLayers, 'decoderLayer');
    this.numLayers = numLayers;
    hide(this, ['numLayers']);
    this.norm = o.norm ?? null;
  }

  /** Runs the layers in turn (each with the same masks), then `norm`. Output shaped like `tgt`. */
  forward(tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions = {}): Tensor {
    const g = this.steps('TransformerDecoder.forward', tgt, memory, opts);
    return tidy(() => runForward(g));
  }

  /** `forward` with each layer's `forwardAsync` awaited in turn (see `TransformerEncoder.forwardAsync`). */
  override async forwardAsync(tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions = {}): Promise<Tensor> {
    return runForwardAsync(this.steps('TransformerDecoder.forwardAsync', tgt, memory, opts));
  }

  private steps(fn: string, tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions): Forward<Tensor> {
    const o = strictOptions<TransformerDecoderForwardOptions>(fn, opts, DECODER_OPTIONS);
    if (!(tgt instanceof Tensor)) throw new TypeError(`${fn}: expected tgt to be a Tensor, got ${describe(tgt)}`);
    if (!(memory instanceof Tensor))
      throw new TypeError(`${fn}: expected memory to be a Tensor, got ${describe(memory)}`);
    const layerOpts: TransformerDecoderForwardOptions = {};
    for (const k of DECODER_OPTIONS) {
      const v = o[k];
      if (v === undefined || v === null) continue;
      if (k.endsWith('IsCausal')) (layerOpts as Record<string, unknown>)[k] = checkBool(fn, k, v);
      else (layerOpts as Record<string, unknown>)[k] = optTensor(fn, k, v);
    }
    checkKpmDtype(fn, 'tgtKeyPaddingMask', layerOpts.tgtKeyPaddingMask ?? null);
    checkKpmDtype(fn, 'memoryKeyPaddingMask', layerOpts.memoryKeyPaddingMask ?? null);
    return stack(this.layers, this.norm, tgt, [memory, layerOpts]);
  }
}

// ---- nn.Transformer ----------------------------------------------------------------------------

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
 * const out = model.forward(src, tgt, { tgtMask: nn.Transformer.generateSquareSubsequentMask(T) });
 */
export class Transformer extends Module {
  encoder: TransformerEncoder;
  decoder: TransformerDecoder;
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;

  constructor(opts: TransformerOptions = {}) {
    super();
    const fn = 'Transformer';
    const o = strictOptions<TransformerOptions>(fn, opts, TRANSFORMER_OPTIONS);
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
    const o = strictOptions<TransformerForwardOptions>(fn, opts, TRANSFORMER_FORWARD);
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
      const v = o[k];
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
   * (PyTorch's `generate_square_subsequent_mask`). Equivalent to the bool `nn.masks.causal(sz)`.
   */
  static generateSquareSubsequentMask(sz: number, opts: { device?: string; dtype?: DType } = {}): Tensor {
    const fn = 'Transformer.generateSquareSubsequentMask';
    const n = checkInt(fn, 'sz', sz, 0);
    const o = strictOptions<{ device?: string; dtype?: DType }>(fn, opts, ['device', 'dtype']);
    const device = o.device === undefined ? undefined : checkDevice(fn, o.device);
    if (o.dtype !== undefined && !isFloatingPoint(o.dtype))
      throw new TypeError(
        `${fn}: expected dtype to be a floating point dtype (the mask holds -inf), got ${String(o.dtype)}`,
      );
    return tidy(() => full([n, n], -Infinity, { dtype: o.dtype ?? 'float32', device }).triu(1));
  }
}
