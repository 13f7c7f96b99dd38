// Autoregressive decoding: `torch.generate(model, options)` feeds a decoder its own outputs one
// step at a time: greedy search, beam search and sampling (temperature, top-k, top-p), with the
// controls of Hugging Face's `generate` (maxLength, minLength, eos/pad, noRepeatNgramSize,
// lengthPenalty, earlyStopping, numReturnSequences). The model is any object with
// `decodeStep(tokens, state)`; an encoder-decoder adds `encode(src, srcPadding)`. State is the
// model's own (LSTM (h, c), attention caches, encoder memory): beam search reorders it with the
// model's `reorderState(state, indices)`, or with `reorder(indices)` of the objects in it.

import { isGradEnabled, setGradEnabled } from './autograd';
import { tensor, zeros } from './creation';
import { describe as describeValue } from './errors';
import { argmax } from './generated/torch';
import { Generator as TorchGenerator } from './generator';
import { dispose as disposeAll, tidy } from './memory';
import { cat, stack } from './ops';
import { Tensor } from './tensor';

/** What one decoding step returns: the next-token logits `(B, V)`, the new state, optionally attention. */
export interface DecodeStepOutput<S> {
  /** Unnormalised next-token scores, `(B, V)`. */
  logits: Tensor;
  /** The state to pass to the next step. */
  state: S;
  /** This step's cross-attention weights over the source, `(B, S)` (returned when `outputAttentions`). */
  attention?: Tensor | null;
}

/**
 * A model `generate` can decode from. Each `decodeStep` runs inside `torch.tidy`: its intermediate
 * tensors are freed, and what it returns is kept (tensors in arrays and plain objects). A state
 * held in class instances (an attention cache) owns its tensors (`torch.keep`) and frees them itself.
 */
export interface GenerationModel<S = unknown> {
  /**
   * Encoder–decoder models: encodes the source `(B, S_src)` or `(S_src, B, ...)` (the model's own
   * layout) with its key padding mask, and returns the initial decoding state.
   */
  encode?(src: Tensor, srcPadding: Tensor | null): S;
  /** One step: `tokens` `(B)` int64 (the previous token of each row) and the state; see DecodeStepOutput. */
  decodeStep(tokens: Tensor, state: S): DecodeStepOutput<S> | [Tensor, S] | [Tensor, S, Tensor | null];
  /** `decodeStep` on the thread pool (used by `generateAsync` when present). */
  decodeStepAsync?(tokens: Tensor, state: S): Promise<DecodeStepOutput<S> | [Tensor, S] | [Tensor, S, Tensor | null]>;
  /** The state of rows `indices` (int64, `(B')`), in that order (beam search; default: see `reorderTensors`). */
  reorderState?(state: S, indices: Tensor): S;
  /** The decoder-only initial state (none: `null`). */
  initialState?(batchSize: number): S;
}

/** Options of `torch.generate` (camelCase of Hugging Face's `generate` arguments). */
export interface GenerateOptions {
  /** Encoder–decoder: the source batch, passed to `model.encode`. */
  src?: Tensor;
  /** Encoder–decoder: the source key padding mask (`true` = padded), passed to `model.encode`. */
  srcPadding?: Tensor | null;
  /** Decoder-only: the prompt tokens `(B, P)` int64, fed one step at a time before generating. */
  prompt?: Tensor;
  /** Rows to decode when neither `src` nor `prompt` gives them. Default 1. */
  batchSize?: number;
  /** The token the decoder starts from (encoder–decoder; decoder-only without a prompt). */
  bosToken?: number;
  /** End of sequence: a row that emits it is finished. */
  eosToken?: number;
  /** Fills finished rows and the tail of shorter sequences. Default `eosToken`, else 0. */
  padToken?: number;
  /** The most tokens to generate (not counting `bosToken` or the prompt). Default 20. */
  maxLength?: number;
  /** `eosToken` is forbidden before this many tokens are generated. Default 0. */
  minLength?: number;
  /** Beams per row; 1 (default) is greedy search or sampling. */
  numBeams?: number;
  /** Beam score = sum of log-probabilities / length ** lengthPenalty. Default 1. */
  lengthPenalty?: number;
  /** Beam search stops a row as soon as `numBeams` hypotheses are finished. Default false. */
  earlyStopping?: boolean;
  /** Sequences returned per row (≤ numBeams for beam search; any for sampling). Default 1. */
  numReturnSequences?: number;
  /** Sample instead of taking the most likely token. Default false. */
  doSample?: boolean;
  /** Divides the logits before sampling. Default 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens (0: all). Default 0. */
  topK?: number;
  /** Sample only among the smallest set of tokens whose probability reaches p. Default 1. */
  topP?: number;
  /** The random stream of sampling (default: the global generator, `torch.manualSeed`). */
  generator?: TorchGenerator | null;
  /** No n-gram of this size occurs twice in a sequence (0: off). Default 0. */
  noRepeatNgramSize?: number;
  /** Also return each step's attention (from `decodeStep`). Default false. */
  outputAttentions?: boolean;
  /** Called after each step with the step number (for progress bars). */
  onStep?: (step: number) => void;
}

/** What `torch.generate` returns. */
export interface GenerateOutput {
  /** `(B·numReturnSequences, T)` int64: generated tokens (prompt/bos not included), padded with `padToken`. */
  sequences: Tensor;
  /**
   * `(B·numReturnSequences)`: beam search: the length-penalised score of each sequence; greedy and
   * sampling: the sum of the log-probabilities of its tokens (up to and including eos).
   */
  scores: Tensor;
  /** Generated tokens of each sequence, eos included, padding excluded. */
  lengths: number[];
  /** With `outputAttentions`: `(B·numReturnSequences, T, S)`, zero after a sequence ends. */
  attentions?: Tensor;
}

const KEYS = [
  'src',
  'srcPadding',
  'prompt',
  'batchSize',
  'bosToken',
  'eosToken',
  'padToken',
  'maxLength',
  'minLength',
  'numBeams',
  'lengthPenalty',
  'earlyStopping',
  'numReturnSequences',
  'doSample',
  'temperature',
  'topK',
  'topP',
  'noRepeatNgramSize',
  'generator',
  'outputAttentions',
  'onStep',
] as const;

interface Settings {
  maxLength: number;
  minLength: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean;
  numReturn: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  noRepeat: number;
  eos: number | undefined;
  pad: number;
  bos: number | undefined;
  outputAttentions: boolean;
  generator: TorchGenerator | null;
  onStep?: (step: number) => void;
}

function int(fn: string, name: string, v: unknown, min: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new TypeError(`${fn}: expected ${name} to be an integer, got ${describeValue(v)}`);
  if (v < min) throw new RangeError(`${fn}: expected ${name} >= ${min}, got ${v}`);
  return v;
}

function num(fn: string, name: string, v: unknown, ok: (x: number) => boolean, want: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || Number.isNaN(v))
    throw new TypeError(`${fn}: expected ${name} to be a number, got ${describeValue(v)}`);
  if (!ok(v)) throw new RangeError(`${fn}: expected ${name} ${want}, got ${v}`);
  return v;
}

function bool(fn: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${fn}: expected ${name} to be a boolean, got ${describeValue(v)}`);
  return v;
}

function generatorOption(fn: string, g: unknown): TorchGenerator | null {
  if (g === undefined || g === null) return null;
  if (!(g instanceof TorchGenerator))
    throw new TypeError(`${fn}: expected generator to be a torch.Generator, got ${describeValue(g)}`);
  return g;
}

function settings(fn: string, o: GenerateOptions): Settings {
  if (o === null || typeof o !== 'object')
    throw new TypeError(`${fn}: expected an options object, got ${describeValue(o)}`);
  for (const k of Object.keys(o)) {
    if (!(KEYS as readonly string[]).includes(k))
      throw new TypeError(`${fn}: unknown option '${k}' (expected one of: ${KEYS.join(', ')})`);
  }
  const numBeams = int(fn, 'numBeams', o.numBeams, 1, 1);
  const doSample = bool(fn, 'doSample', o.doSample, false);
  if (doSample && numBeams > 1)
    throw new RangeError(`${fn}: beam search with sampling is not supported (numBeams ${numBeams} with doSample)`);
  const numReturn = int(fn, 'numReturnSequences', o.numReturnSequences, 1, 1);
  if (numBeams > 1 && numReturn > numBeams)
    throw new RangeError(`${fn}: numReturnSequences (${numReturn}) must be <= numBeams (${numBeams})`);
  if (numBeams === 1 && !doSample && numReturn > 1)
    throw new RangeError(
      `${fn}: greedy search returns one sequence per row; numReturnSequences ${numReturn} needs doSample or numBeams`,
    );
  const eos = o.eosToken === undefined ? undefined : int(fn, 'eosToken', o.eosToken, 0, 0);
  const maxLength = int(fn, 'maxLength', o.maxLength, 1, 20);
  const minLength = int(fn, 'minLength', o.minLength, 0, 0);
  if (minLength > maxLength) throw new RangeError(`${fn}: minLength (${minLength}) > maxLength (${maxLength})`);
  if (o.onStep !== undefined && typeof o.onStep !== 'function')
    throw new TypeError(`${fn}: expected onStep to be a function, got ${describeValue(o.onStep)}`);
  return {
    maxLength,
    minLength,
    numBeams,
    lengthPenalty: num(fn, 'lengthPenalty', o.lengthPenalty, Number.isFinite, 'to be finite', 1),
    earlyStopping: bool(fn, 'earlyStopping', o.earlyStopping, false),
    numReturn,
    doSample,
    temperature: num(fn, 'temperature', o.temperature, (x) => x > 0 && Number.isFinite(x), '> 0', 1),
    topK: int(fn, 'topK', o.topK, 0, 0),
    topP: num(fn, 'topP', o.topP, (x) => x > 0 && x <= 1, 'in (0, 1]', 1),
    noRepeat: int(fn, 'noRepeatNgramSize', o.noRepeatNgramSize, 0, 0),
    eos,
    pad: o.padToken === undefined ? (eos ?? 0) : int(fn, 'padToken', o.padToken, 0, 0),
    bos: o.bosToken === undefined ? undefined : int(fn, 'bosToken', o.bosToken, 0, 0),
    outputAttentions: bool(fn, 'outputAttentions', o.outputAttentions, false),
    generator: generatorOption(fn, o.generator),
    onStep: o.onStep,
  };
}

/**
 * Every tensor in a state (arrays, plain objects, Maps), and the other objects there that can
 * dispose themselves (an `nn.AttentionCache`, which owns its tensors).
 */
function partsOf(
  v: unknown,
  out = new Set<Tensor | Disposable>(),
  seen = new Set<unknown>(),
): Set<Tensor | Disposable> {
  if (v instanceof Tensor) {
    out.add(v);
    return out;
  }
  if (v === null || typeof v !== 'object' || seen.has(v)) return out;
  seen.add(v);
  if (Array.isArray(v)) for (const x of v) partsOf(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) partsOf(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) partsOf(x, out, seen);
  else if (typeof (v as { dispose?: unknown }).dispose === 'function') out.add(v as Disposable);
  return out;
}

interface Disposable {
  dispose(): void;
}

/**
 * Frees what `old` holds and `next` no longer does (tensors, and caches that dispose themselves),
 * except what the caller gave (`protect`).
 */
function retire(old: unknown, next: unknown, protect: Set<Tensor>): void {
  const keepSet = partsOf(next);
  for (const p of partsOf(old)) {
    if (keepSet.has(p)) continue;
    if (p instanceof Tensor) {
      if (!protect.has(p) && !p.isDisposed) p.dispose();
    } else p.dispose();
  }
}

/**
 * The default state reordering: every tensor in the state (arrays, plain objects, Maps) is
 * indexed along its batch dimension: dim 0, or dim 1 for 3-d tensors whose dim 1 has the batch
 * size and dim 0 does not (LSTM/GRU `(layers, B, H)` states). Objects with `reorder(indices)`
 * (attention caches) reorder themselves.
 */
export function reorderTensors<S>(state: S, indices: Tensor, batchSize: number): S {
  const walk = (v: unknown): unknown => {
    if (v instanceof Tensor) {
      const dim = v.dim() >= 2 && v.shape[0] !== batchSize && v.shape[1] === batchSize ? 1 : 0;
      return v.indexSelect(dim, indices);
    }
    if (v === null || typeof v !== 'object') return v;
    if (typeof (v as { reorder?: unknown }).reorder === 'function') {
      (v as { reorder(i: Tensor): void }).reorder(indices);
      return v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, walk(x)]));
    if (Object.getPrototypeOf(v) === Object.prototype)
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(state) as S;
}

function normalise<S>(
  fn: string,
  r: DecodeStepOutput<S> | [Tensor, S] | [Tensor, S, Tensor | null],
): DecodeStepOutput<S> {
  const out: DecodeStepOutput<S> = Array.isArray(r) ? { logits: r[0], state: r[1], attention: r[2] ?? null } : r;
  if (!(out?.logits instanceof Tensor) || out.logits.dim() !== 2)
    throw new TypeError(`${fn}: decodeStep must return logits of shape (B, V), got ${describeValue(out?.logits)}`);
  return out;
}

/** Bans, per row, the tokens that would repeat an n-gram of the row's history (HF's NoRepeatNGram). */
function bannedTokens(history: number[], n: number): number[] {
  if (n <= 0 || history.length + 1 < n) return [];
  const prefix = history.slice(history.length - n + 1).join(',');
  const banned: number[] = [];
  for (let i = 0; i + n <= history.length; i++) {
    if (history.slice(i, i + n - 1).join(',') === prefix) banned.push(history[i + n - 1]);
  }
  return banned;
}

/** Log-probabilities `(R, V)` with minLength and noRepeatNgram applied (as float32/64 of the logits). */
function processedLogProbs(logits: Tensor, histories: number[][], step: number, s: Settings): Tensor {
  let lp = logits.logSoftmax(-1);
  const V = logits.shape[1];
  const bans: number[] = [];
  if (s.eos !== undefined && step < s.minLength) for (let r = 0; r < histories.length; r++) bans.push(r * V + s.eos);
  if (s.noRepeat > 0) {
    histories.forEach((h, r) => {
      for (const t of bannedTokens(h, s.noRepeat)) bans.push(r * V + t);
    });
  }
  if (bans.length) {
    const flat = lp.reshape([-1]).clone();
    flat.indexFill_(0, tensor(bans, { dtype: 'int64' }), Number.NEGATIVE_INFINITY);
    lp = flat.reshape([...logits.shape]);
  }
  return lp;
}

/** Samples one token per row from `lp` (log-probabilities) with temperature, top-k and top-p. */
function sample(lp: Tensor, s: Settings): Tensor {
  let logits = s.temperature === 1 ? lp : lp.div(s.temperature);
  const V = logits.shape[1];
  if (s.topK > 0 && s.topK < V) {
    const kth = logits
      .topk(s.topK, -1)
      .values.select(1, s.topK - 1)
      .unsqueeze(1);
    logits = logits.maskedFill(logits.lt(kth), Number.NEGATIVE_INFINITY);
  }
  if (s.topP < 1) {
    const { values, indices } = logits.sort(-1, { descending: true });
    const probs = values.softmax(-1);
    // drop a token when the tokens before it already reach topP (the first token always stays)
    const before = probs.cumsum(-1).sub(probs);
    const dropSorted = before.ge(s.topP);
    const drop = dropSorted.scatter(1, indices, dropSorted);
    logits = logits.maskedFill(drop, Number.NEGATIVE_INFINITY);
  }
  return logits.softmax(-1).multinomial(1, { generator: s.generator }).squeeze(1);
}

/** A finished (or final) beam hypothesis. */
interface Hyp {
  tokens: number[];
  score: number; // length-penalised
  sum: number;
  attn: Tensor[];
}

class BeamHyps {
  readonly hyps: Hyp[] = [];
  worst = Number.POSITIVE_INFINITY;
  done = false;
  constructor(
    readonly k: number,
    readonly lengthPenalty: number,
    readonly early: boolean,
  ) {}
  /** `len`: the hypothesis' length for the penalty (fed tokens + generated, eos excluded, as HF). */
  add(tokens: number[], sum: number, attn: Tensor[], len: number): void {
    const score = sum / Math.max(len, 1) ** this.lengthPenalty;
    if (this.hyps.length < this.k || score > this.worst) {
      this.hyps.push({ tokens, score, sum, attn });
      this.hyps.sort((a, b) => b.score - a.score);
      if (this.hyps.length > this.k) this.hyps.pop();
      this.worst = this.hyps[this.hyps.length - 1].score;
    }
  }
  /** Whether no running beam can beat the worst kept hypothesis any more (HF's BeamHypotheses.is_done). */
  isDone(bestSum: number, len: number): boolean {
    if (this.hyps.length < this.k) return false;
    if (this.early) return true;
    return this.worst >= bestSum / Math.max(len, 1) ** this.lengthPenalty;
  }
}

interface Start<S> {
  state: S;
  B: number;
  first: number[][]; // per row: tokens to feed before generating (prompt, or [bos])
  given: Set<Tensor>;
}

function start<S>(fn: string, model: GenerationModel<S>, o: GenerateOptions, s: Settings): Start<S> {
  if (model === null || typeof model !== 'object' || typeof model.decodeStep !== 'function')
    throw new TypeError(`${fn}: expected a model with decodeStep(tokens, state), got ${describeValue(model)}`);
  const given = new Set<Tensor>();
  let state: S;
  let B: number;
  let first: number[][];
  if (o.src !== undefined) {
    if (!(o.src instanceof Tensor))
      throw new TypeError(`${fn}: expected src to be a Tensor, got ${describeValue(o.src)}`);
    if (typeof model.encode !== 'function')
      throw new TypeError(`${fn}: src was given but the model has no encode(src, srcPadding)`);
    if (o.prompt !== undefined)
      throw new TypeError(`${fn}: give src (encoder–decoder) or prompt (decoder-only), not both`);
    if (s.bos === undefined)
      throw new TypeError(`${fn}: an encoder–decoder model needs bosToken (the decoder's first input)`);
    const pad = o.srcPadding ?? null;
    if (pad !== null && !(pad instanceof Tensor))
      throw new TypeError(`${fn}: expected srcPadding to be a Tensor or null, got ${describeValue(pad)}`);
    given.add(o.src);
    if (pad) given.add(pad);
    const src = o.src;
    const encode = model.encode.bind(model);
    state = tidy(() => encode(src, pad)); // the encoder's intermediates are freed, its state kept
    B = pad ? pad.shape[0] : o.src.shape[0];
    if (o.batchSize !== undefined && o.batchSize !== B)
      throw new RangeError(`${fn}: batchSize ${o.batchSize} disagrees with the source's ${B} rows`);
    first = Array.from({ length: B }, () => [s.bos as number]);
  } else {
    if (o.prompt !== undefined) {
      if (!(o.prompt instanceof Tensor) || o.prompt.dim() !== 2)
        throw new TypeError(`${fn}: expected prompt to be a (B, P) int64 Tensor, got ${describeValue(o.prompt)}`);
      B = o.prompt.shape[0];
      first = numbers(o.prompt) as number[][];
      if (s.bos !== undefined) first = first.map((r) => [s.bos as number, ...r]);
      if (first[0]?.length === 0)
        throw new RangeError(`${fn}: the prompt is empty; give bosToken or a prompt of at least one token`);
    } else {
      if (s.bos === undefined) throw new TypeError(`${fn}: give src, prompt or bosToken (the first token to feed)`);
      B = int(fn, 'batchSize', o.batchSize, 1, 1);
      first = Array.from({ length: B }, () => [s.bos as number]);
    }
    state = (typeof model.initialState === 'function' ? model.initialState(B) : null) as S;
  }
  return { state, B, first, given };
}

/** An integer tensor's values as JS numbers (int64 lists are bigints). */
function numbers(t: Tensor): unknown[] {
  return t.to('float64').tolist() as unknown[];
}

function stepTokens(rows: number[]): Tensor {
  return tensor(rows, { dtype: 'int64' });
}

/** Pads token lists into a (R, T) int64 tensor. */
function padRows(rows: number[][], pad: number): Tensor {
  const T = Math.max(1, ...rows.map((r) => r.length));
  return tensor(
    rows.map((r) => [...r, ...new Array<number>(T - r.length).fill(pad)]),
    { dtype: 'int64' },
  );
}

function padAttn(rows: Tensor[][], S: number): Tensor {
  const T = Math.max(1, ...rows.map((r) => r.length));
  return tidy(() => stack(rows.map((r) => (r.length ? cat([stack(r), zeros([T - r.length, S])]) : zeros([T, S])))));
}

function defaultReorder<S>(model: GenerationModel<S>, state: S, idx: Tensor, B: number): S {
  return typeof model.reorderState === 'function' ? model.reorderState(state, idx) : reorderTensors(state, idx, B);
}

type StepFn<S> = (tokens: Tensor, state: S) => DecodeStepOutput<S> | Promise<DecodeStepOutput<S>>;

/**
 * Decodes from `model` (see GenerationModel): greedy search by default, beam search with
 * `numBeams`, sampling with `doSample`. Runs without gradients. Every tensor the loop makes is
 * freed, except the outputs; states are disposed as they are replaced.
 *
 * @example
 * const { sequences } = torch.generate(model, { src, srcPadding, bosToken: 1, eosToken: 2, numBeams: 4 });
 */
export function generate<S>(model: GenerationModel<S>, options: GenerateOptions): GenerateOutput {
  const fn = 'torch.generate';
  // the model's intermediates are freed; what it returns (logits, state, attention) is kept
  const step: StepFn<S> = (t, st) => tidy(() => normalise(fn, model.decodeStep(t, st)));
  return runSync(fn, model, options, step);
}

/**
 * `generate` with each decoding step awaited: the model's `decodeStepAsync` (thread pool) when it
 * has one, else `decodeStep` between turns of the event loop, so other work runs meanwhile.
 * Until it settles, grad mode is off on the JS thread (as inside `torch.noGrad`), also for other
 * code that runs during its awaits: do not interleave a training step with it.
 */
export async function generateAsync<S>(model: GenerationModel<S>, options: GenerateOptions): Promise<GenerateOutput> {
  const fn = 'torch.generateAsync';
  const step: StepFn<S> =
    typeof model.decodeStepAsync === 'function'
      ? async (t, st) =>
          normalise(fn, await (model.decodeStepAsync as NonNullable<typeof model.decodeStepAsync>)(t, st))
      : async (t, st) => {
          await new Promise((r) => setImmediate(r));
          return tidy(() => normalise(fn, model.decodeStep(t, st)));
        };
  const s = settings(fn, options);
  const prev = isGradEnabled();
  setGradEnabled(false);
  try {
    const it = decode(fn, model, options, s);
    let r = it.next();
    while (!r.done) {
      const [tokens, state] = r.value;
      const out = await step(tokens, state);
      r = it.next(out);
    }
    return r.value;
  } finally {
    setGradEnabled(prev);
  }
}

function runSync<S>(fn: string, model: GenerationModel<S>, options: GenerateOptions, step: StepFn<S>): GenerateOutput {
  const s = settings(fn, options);
  const prev = isGradEnabled();
  setGradEnabled(false);
  try {
    const it = decode(fn, model, options, s);
    let r = it.next();
    while (!r.done) {
      const [tokens, state] = r.value;
      r = it.next(step(tokens, state) as DecodeStepOutput<S>);
    }
    return r.value;
  } finally {
    setGradEnabled(prev);
  }
}

/**
 * The decoding loop as a generator: it yields each model call `[tokens, state]` and receives its
 * output, so that the sync and async forms share it. Everything but the model call is here.
 */
function* decode<S>(
  fn: string,
  model: GenerationModel<S>,
  o: GenerateOptions,
  s: Settings,
): Generator<[Tensor, S], GenerateOutput, DecodeStepOutput<S>> {
  const st = start(fn, model, o, s);
  const { B, given } = st;
  let state = st.state;
  const K = s.numBeams > 1 ? s.numBeams : s.doSample ? s.numReturn : 1;
  const R = B * K; // decoding rows
  const rowsKept = new Set<Tensor>(); // attention rows held for the outputs, freed at the end
  // the step's outputs live past the tidy scopes that made them until the next step replaces them
  const call = function* (tokens: number[], st0: S): Generator<[Tensor, S], DecodeStepOutput<S>, DecodeStepOutput<S>> {
    const t = stepTokens(tokens);
    const out = yield [t, st0];
    t.dispose();
    return out;
  };
  try {
    if (K > 1) {
      const idx = tensor(
        Array.from({ length: R }, (_, r) => Math.floor(r / K)),
        { dtype: 'int64' },
      );
      const expanded = defaultReorder(model, state, idx, B);
      idx.dispose();
      retire(state, expanded, given);
      state = expanded;
    }
    const firsts = Array.from({ length: R }, (_, r) => st.first[Math.floor(r / K)]);
    // feed all but the last token of the prompt (or nothing for [bos])
    const P = firsts[0].length;
    if (firsts.some((f) => f.length !== P)) throw new RangeError(`${fn}: prompt rows must have the same length`);
    for (let p = 0; p < P - 1; p++) {
      const out = yield* call(
        firsts.map((f) => f[p]),
        state,
      );
      retire(state, out.state, given);
      disposeAll([out.logits, out.attention]);
      state = out.state;
    }
    let last = firsts.map((f) => f[P - 1]);
    const histories: number[][] = firsts.map((f) => f.slice(s.bos !== undefined ? 1 : 0).slice(0)); // for no-repeat n-grams
    const gen: number[][] = Array.from({ length: R }, () => []);
    const attn: Tensor[][] = Array.from({ length: R }, () => []);
    let S_src = 0;

    if (s.numBeams === 1) {
      // ---- greedy search / sampling ----
      const sums = new Array<number>(R).fill(0);
      const finished = new Array<boolean>(R).fill(false);
      for (let t = 0; t < s.maxLength; t++) {
        const out = yield* call(last, state);
        retire(state, out.state, given);
        state = out.state;
        const [next, lps] = tidy(() => {
          const lp = processedLogProbs(out.logits, histories, t, s);
          const tok = s.doSample ? sample(lp, s) : argmax(lp, -1);
          return [numbers(tok) as number[], lp.gather(1, tok.unsqueeze(1)).squeeze(1).tolist() as number[]];
        });
        if (s.outputAttentions && out.attention) {
          S_src = out.attention.shape[1];
          const rows = out.attention.unbind(0); // views: they keep the step's weights alive
          for (let r = 0; r < R; r++) {
            rowsKept.add(rows[r]);
            if (!finished[r]) attn[r].push(rows[r]);
          }
        }
        disposeAll([out.logits, out.attention]);
        for (let r = 0; r < R; r++) {
          if (finished[r]) {
            next[r] = s.pad;
            continue;
          }
          gen[r].push(next[r]);
          histories[r].push(next[r]);
          sums[r] += lps[r];
          if (next[r] === s.eos) finished[r] = true;
        }
        last = next;
        s.onStep?.(t);
        if (finished.every(Boolean)) break;
      }
      const result: GenerateOutput = {
        sequences: padRows(gen, s.pad),
        scores: tensor(sums, { dtype: 'float32' }),
        lengths: gen.map((g) => g.length),
      };
      if (s.outputAttentions) result.attentions = padAttn(attn, S_src);
      return result;
    }

    // ---- beam search ----
    let beamSums = Array.from({ length: R }, (_, r) => (r % K === 0 ? 0 : Number.NEGATIVE_INFINITY));
    const hyps = Array.from({ length: B }, () => new BeamHyps(K, s.lengthPenalty, s.earlyStopping));
    let V = 0;
    for (let t = 0; t < s.maxLength; t++) {
      const out = yield* call(last, state);
      retire(state, out.state, given);
      state = out.state;
      V = out.logits.shape[1];
      // the 2K best continuations of each row's beams
      const [candScores, candIdx] = tidy(() => {
        const lp = processedLogProbs(out.logits, histories, t, s);
        const total = lp.add(tensor(beamSums, { dtype: lp.dtype }).unsqueeze(1)).reshape([B, K * V]);
        const { values, indices } = total.topk(Math.min(2 * K, K * V), 1);
        return [values.tolist() as number[][], numbers(indices) as number[][]];
      });
      let attnRows: Tensor[] | null = null;
      if (s.outputAttentions && out.attention) {
        S_src = out.attention.shape[1];
        const rows = out.attention.unbind(0);
        for (const x of rows) rowsKept.add(x);
        attnRows = rows;
      }
      disposeAll([out.logits, out.attention]);
      const src: number[] = [];
      const nextTok: number[] = [];
      const nextSums: number[] = [];
      for (let b = 0; b < B; b++) {
        if (hyps[b].done) {
          for (let k = 0; k < K; k++) {
            src.push(b * K);
            nextTok.push(s.pad);
            nextSums.push(Number.NEGATIVE_INFINITY);
          }
          continue;
        }
        let taken = 0;
        for (let c = 0; c < candIdx[b].length && taken < K; c++) {
          const score = candScores[b][c];
          if (score === Number.NEGATIVE_INFINITY) break;
          const beam = b * K + Math.floor(candIdx[b][c] / V);
          const tok = candIdx[b][c] % V;
          if (tok === s.eos) {
            // a finished hypothesis (only from the top K candidates, as HF)
            if (c < K) {
              const a = attnRows ? [...attn[beam], attnRows[beam]] : [];
              hyps[b].add([...gen[beam], tok], score, a, P + gen[beam].length);
            }
            continue;
          }
          src.push(beam);
          nextTok.push(tok);
          nextSums.push(score);
          taken++;
        }
        while (taken < K) {
          src.push(b * K);
          nextTok.push(s.pad);
          nextSums.push(Number.NEGATIVE_INFINITY);
          taken++;
        }
        const best = Math.max(...nextSums.slice(nextSums.length - K));
        hyps[b].done = hyps[b].isDone(best, P + t + 1);
      }
      // reorder the beams: histories, generated tokens, attention, the model's state
      const newGen = src.map((r, i) => [...gen[r], nextTok[i]]);
      const newHist = src.map((r, i) => [...histories[r], nextTok[i]]);
      const rows = attnRows;
      const newAttn = rows ? src.map((r) => [...attn[r], rows[r]]) : attn;
      gen.splice(0, R, ...newGen);
      histories.splice(0, R, ...newHist);
      attn.splice(0, R, ...newAttn);
      beamSums = nextSums;
      last = nextTok;
      const idx = tensor(src, { dtype: 'int64' });
      const reordered = defaultReorder(model, state, idx, R);
      idx.dispose();
      retire(state, reordered, given);
      state = reordered;
      s.onStep?.(t);
      if (hyps.every((h) => h.done)) break;
    }
    // rows still running: their beams are candidates too
    for (let b = 0; b < B; b++) {
      if (hyps[b].done) continue;
      for (let k = 0; k < K; k++) {
        const r = b * K + k;
        if (beamSums[r] === Number.NEGATIVE_INFINITY) continue;
        hyps[b].add(gen[r].slice(), beamSums[r], attn[r], P + gen[r].length);
      }
    }
    const seqs: number[][] = [];
    const scores: number[] = [];
    const outAttn: Tensor[][] = [];
    for (const h of hyps) {
      for (let i = 0; i < s.numReturn; i++) {
        const hyp = h.hyps[i];
        seqs.push(hyp ? hyp.tokens : []);
        scores.push(hyp ? hyp.score : Number.NEGATIVE_INFINITY);
        outAttn.push(hyp ? hyp.attn : []);
      }
    }
    const result: GenerateOutput = {
      sequences: padRows(seqs, s.pad),
      scores: tensor(scores, { dtype: 'float32' }),
      lengths: seqs.map((x) => x.length),
    };
    if (s.outputAttentions) result.attentions = padAttn(outAttn, S_src);
    return result;
  } finally {
    // the final state, and every attention row kept on the way
    retire(state, null, given);
    disposeAll(rowsKept);
  }
}
