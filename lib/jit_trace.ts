// torch.jit.trace and the default Module.forwardAsync, over native/trace.cc.
//
// A JavaScript forward is run once under libtorch's JIT tracer, which records every ATen op it
// calls into a graph; the graph is then replayed without JavaScript: synchronously, or on libuv's
// thread pool (forwardAsync). The graph's inputs are the forward's tensor arguments followed by the
// module's parameters and buffers (the module's own tensors, so gradients reach them and optimizer
// updates are seen). What JavaScript computes between the ops (numbers, branches, loops) is frozen
// into the graph as it ran for the example inputs: that is what makes a trace valid only for the
// signature it was recorded with, and why reading tensor values into JavaScript refuses a trace.
import { isGradEnabled } from './autograd';
import { DTYPES } from './dtype';
import { describe } from './errors';
import * as jit from './jit';
import { type Handle, native as N, type TraceHandle } from './native';
import { Tensor } from './tensor';

/**
 * Why a function cannot be traced (`reason`): it reads tensor values into JavaScript, takes an
 * argument or returns a value that is not a tensor (or an array / plain object of them), or the
 * tracer refused one of its ops. Thrown by `torch.jit.trace`; the default `Module.forwardAsync`
 * reports the same reason in a warning and runs `forward` synchronously instead.
 */
export class TraceError extends Error {
  /** The reason alone, without the function's name. */
  readonly reason: string;
  constructor(fn: string, reason: string) {
    // (describe: a caller may hand anything, a Symbol included, which a template string refuses)
    const text = (v: unknown): string => (typeof v === 'string' ? v : describe(v));
    super(`${text(fn)}: cannot trace: ${text(reason)}`);
    this.name = 'TraceError';
    this.reason = reason;
  }
}

// ---- values <-> flat tensor lists ------------------------------------------------------------

/** The structure of a value whose tensors were taken out (`t`: the index of a tensor). */
type Spec =
  | { t: number }
  | { a: Spec[] }
  | { o: [string, Spec][] }
  | { v: null | undefined | boolean | number | string | bigint };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/**
 * Takes the tensors out of `v` (into `out`). `values`: numbers, booleans, strings and bigints
 * may appear (arguments: they are part of the signature); otherwise only tensors, null and
 * undefined (results).
 */
function flatten(v: unknown, out: Tensor[], where: string, values: boolean): Spec {
  if (v instanceof Tensor) {
    if (v._disposed) throw new Error(`${where} is a disposed tensor`);
    out.push(v);
    return { t: out.length - 1 };
  }
  if (v === null || v === undefined) return { v };
  if (Array.isArray(v)) return { a: v.map((x, i) => flatten(x, out, `${where}[${i}]`, values)) };
  if (isPlainObject(v))
    return { o: Object.keys(v).map((k): [string, Spec] => [k, flatten(v[k], out, `${where}.${k}`, values)]) };
  const t = typeof v;
  if (values && (t === 'number' || t === 'boolean' || t === 'string' || t === 'bigint'))
    return { v: v as number | boolean | string | bigint };
  throw new TraceError(
    '',
    values
      ? `${where} is ${describe(v)}: only tensors, numbers, booleans, strings, null, and arrays or plain objects of them can be traced`
      : `${where} is ${describe(v)}: a traced function may return only tensors, null, and arrays or plain objects of them`,
  );
}

function unflatten(s: Spec, ts: readonly Tensor[]): unknown {
  if ('t' in s) return ts[s.t];
  if ('a' in s) return s.a.map((x) => unflatten(x, ts));
  if ('o' in s) return Object.fromEntries(s.o.map(([k, x]) => [k, unflatten(x, ts)]));
  return s.v;
}

/** The spec without tensor details: what must match for a trace to be reused at all. */
function structureKey(s: Spec): string {
  return JSON.stringify(s, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x === undefined ? '\u0000u' : x));
}

/** A tensor's part of a signature: shape, dtype, device and whether it requires grad. */
function tensorKey(t: Tensor): string {
  return `${t.shape.join('x')}:${t.dtype}:${t.device}:${t.requiresGrad ? 'g' : ''}`;
}

// ---- recording -------------------------------------------------------------------------------

// The native calls that read tensor values into JavaScript. While a trace records they still
// work (the run is a real run and its results are returned), but the trace is refused: a value
// read into JavaScript becomes a constant of the graph without any trace of where it came from.
const READS: [keyof typeof N, string][] = [
  ['item', 'it reads a tensor value into JavaScript (Tensor.item())'],
  ['data', 'it reads tensor values into JavaScript (Tensor.data(), toArray(), tolist() or printing a tensor)'],
  ['rawBytes', "it reads a tensor's bytes into JavaScript"],
  ['allclose', 'it compares tensor values in JavaScript (torch.allclose)'],
  ['equal', 'it compares tensor values in JavaScript (torch.equal)'],
];

interface Recording {
  reasons: string[];
}

/**
 * Makes the value-reading bindings note their use in `rec`, and tensors made from JavaScript data
 * (torch.tensor([...])) graph constants: the tracer sees only the empty tensor the data is copied
 * into. Returns the undo.
 */
function instrument(rec: Recording): () => void {
  const n = N as unknown as Record<string, (...args: unknown[]) => unknown>;
  const saved: [string, (...args: unknown[]) => unknown][] = [];
  for (const [name, reason] of READS) {
    const orig = n[name];
    saved.push([name, orig]);
    n[name] = (...args: unknown[]) => {
      if (!rec.reasons.includes(reason)) rec.reasons.push(reason);
      return orig(...args);
    };
  }
  // Integer division and remainder by a tensor look for -1 divisors natively (tensor_ops.cc's
  // DivideGuarded), a value read the tracer cannot see: the branch taken would be frozen.
  const integral = (h: unknown) => !/^(float|bfloat|complex|bool$|uint8$)/.test(DTYPES[N.dtype(h as Handle)]);
  for (const [name, guarded] of [
    ['div', (a: unknown[]) => a[2] !== undefined && a[2] !== null],
    ['remainder', () => true],
  ] as [string, (a: unknown[]) => boolean][]) {
    const orig = n[name];
    saved.push([name, orig]);
    n[name] = (...args: unknown[]) => {
      if (guarded(args) && integral(args[0]) && integral(args[1])) {
        const reason = `it divides integer tensors by a tensor (Tensor.${name}), whose -1 divisor check reads values`;
        if (!rec.reasons.includes(reason)) rec.reasons.push(reason);
      }
      return orig(...args);
    };
  }
  const fromBuffer = n.fromBuffer;
  saved.push(['fromBuffer', fromBuffer]);
  n.fromBuffer = (...args: unknown[]) => {
    const h = fromBuffer(...args);
    N.jitTraceForget(h as Handle);
    return h;
  };
  return () => {
    for (const [name, f] of saved) n[name] = f;
  };
}

// libtorch's tracer refuses a tensor that requires grad and is neither an input nor made by a
// traced op (it would become a constant and lose its gradient).
const TRACER_REFUSAL = /Cannot insert a Tensor that requires grad as a constant/;

interface Recorded {
  /** The trace, or null when refused (`reason`). */
  trace: TraceHandle | null;
  reason: string;
  /** Whether `result` holds the recorded run's result (false: the run threw a refusal). */
  ran: boolean;
  result: unknown;
  out: Spec | null;
}

/**
 * Runs `fn` once under the tracer, with `inputs` as the graph's inputs. Errors of `fn` itself
 * propagate unchanged (the same errors as an untraced call); the tracer's refusals come back as
 * `reason`.
 */
function record(fn: () => unknown, inputs: readonly Tensor[]): Recorded {
  const rec: Recording = { reasons: [] };
  let ran = false;
  let result: unknown;
  let out: Spec | null = null;
  let shapeError: TraceError | null = null;
  const undo = instrument(rec);
  let trace: TraceHandle | null = null;
  try {
    trace = N.jitTrace(
      inputs.map((t) => t._h),
      () => {
        result = fn();
        ran = true;
        const ts: Tensor[] = [];
        try {
          out = flatten(result, ts, 'the result', false);
        } catch (e) {
          if (!(e instanceof TraceError)) throw e;
          shapeError = e; // recorded as a refusal below; the run itself succeeded
          return [];
        }
        return ts.map((t) => t._h);
      },
    );
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (ran) rec.reasons.push(`the tracer refused it: ${msg}`);
    else if (TRACER_REFUSAL.test(msg))
      rec.reasons.push(
        'it uses a tensor that requires grad but is neither an argument nor a parameter or buffer of the module (register it with registerParameter, or detach it)',
      );
    else throw e;
  } finally {
    undo();
  }
  if (shapeError !== null) rec.reasons.unshift((shapeError as TraceError).reason);
  if (rec.reasons.length > 0) {
    if (trace !== null) N.jitTraceDispose(trace);
    return { trace: null, reason: rec.reasons.join('; '), ran, result, out: null };
  }
  return { trace, reason: '', ran, result, out };
}

function wrapAll(hs: Handle[]): Tensor[] {
  return hs.map((h) => new Tensor(h));
}

// ---- torch.jit.trace -------------------------------------------------------------------------

interface ModuleLike {
  forward(...args: never[]): unknown;
  parameters(): Iterable<Tensor>;
  buffers(): Iterable<Tensor>;
}

function isModuleLike(v: unknown): v is ModuleLike {
  const m = v as ModuleLike;
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof m.forward === 'function' &&
    typeof m.parameters === 'function' &&
    typeof m.buffers === 'function'
  );
}

/** A module's parameters then buffers, each tensor once. */
function stateOf(m: ModuleLike): Tensor[] {
  return [...new Set<Tensor>([...m.parameters(), ...m.buffers()])];
}

interface NamedState {
  tensors: Tensor[];
  /** Their names as TorchScript attributes (`fc1.weight` -> `fc1_weight`). */
  names: string[];
  buffers: boolean[];
}

function namedStateOf(m: ModuleLike): NamedState {
  const out: NamedState = { tensors: [], names: [], buffers: [] };
  const named = m as unknown as {
    namedParameters?(): Iterable<[string, Tensor]>;
    namedBuffers?(): Iterable<[string, Tensor]>;
  };
  const entries: [string, Tensor, boolean][] = [];
  for (const [k, t] of named.namedParameters?.() ?? []) entries.push([k, t, false]);
  for (const [k, t] of named.namedBuffers?.() ?? []) entries.push([k, t, true]);
  const seen = new Set<Tensor>();
  const used = new Set<string>();
  for (const [k, t, buffer] of entries) {
    if (seen.has(t)) continue;
    seen.add(t);
    let name = k.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
    while (used.has(name)) name += '_';
    used.add(name);
    out.tensors.push(t);
    out.names.push(name);
    out.buffers.push(buffer);
  }
  // a module-like object without names: its tensors, named by position
  if (entries.length === 0)
    for (const t of stateOf(m)) {
      out.names.push(`state_${out.tensors.length}`);
      out.tensors.push(t);
      out.buffers.push(false);
    }
  return out;
}

/** Only `trace` makes a TracedModule: the constructor's first argument must be this. */
const MADE_BY_TRACE = Symbol('torch.jit.trace');

/**
 * A function or module recorded by `torch.jit.trace`: the ATen ops it ran for the example inputs,
 * replayed by libtorch's interpreter without JavaScript.
 */
export class TracedModule {
  private _h: TraceHandle | null;
  private readonly _in: string;
  private readonly _out: Spec;
  private readonly _state: Tensor[];
  private readonly _names: string[];
  private readonly _buffers: boolean[];
  private readonly _nIn: number;

  /** @internal Made by `torch.jit.trace`. */
  constructor(
    token: typeof MADE_BY_TRACE,
    h: TraceHandle,
    inputStructure: string,
    nIn: number,
    out: Spec,
    state: NamedState,
  ) {
    if (token !== MADE_BY_TRACE)
      throw new TypeError('torch.jit.TracedModule: made by torch.jit.trace(fnOrModule, exampleInputs), not by new');
    this._h = h;
    this._in = inputStructure;
    this._nIn = nIn;
    this._out = out;
    this._state = state.tensors;
    this._names = state.names;
    this._buffers = state.buffers;
  }

  private handle(fn: string): TraceHandle {
    if (this._h === null) throw new Error(`${fn}: this TracedModule is disposed`);
    return this._h;
  }

  private inputs(fn: string, args: unknown[]): Handle[] {
    const ts: Tensor[] = [];
    const spec = flatten(args, ts, 'the inputs', true);
    const key = structureKey(spec);
    if (key !== this._in)
      throw new TypeError(
        `${fn}: expected inputs of the traced structure ${this._in} (tensors as {"t":index}), got ${key}`,
      );
    return [...ts, ...this._state].map((t) => {
      if (t._disposed) throw new Error(`${fn}: an input or a parameter of the traced module is disposed`);
      return t._h;
    });
  }

  /** Replays the trace on the JS thread, under the caller's grad mode. */
  forward(...inputs: unknown[]): unknown {
    const fn = 'TracedModule.forward';
    return unflatten(this._out, wrapAll(N.jitTraceRun(this.handle(fn), this.inputs(fn, inputs))));
  }

  /**
   * Replays the trace on libuv's thread pool: the event loop stays free meanwhile. The inputs
   * (and the traced module's parameters and buffers) cannot be disposed or modified in place
   * until the promise settles. Grad mode is the caller's at the time of the call.
   */
  async forwardAsync(...inputs: unknown[]): Promise<unknown> {
    const fn = 'TracedModule.forwardAsync';
    const hs = await N.jitTraceRunAsync(this.handle(fn), this.inputs(fn, inputs));
    return unflatten(this._out, wrapAll(hs));
  }

  /** The recorded graph, in TorchScript's IR (`traced.graph` in PyTorch). */
  get graph(): string {
    return N.jitTraceGraph(this.handle('TracedModule.graph'));
  }

  /**
   * The trace as a TorchScript module (`torch.jit.save` writes it; Python's `torch.jit.load`
   * reads it): `forward` takes the traced tensor arguments in order (flattened: an array or
   * object argument becomes its tensors) and returns the result tensor, or a tuple (array) of the
   * result tensors when there are several. The module's parameters and buffers are copied in
   * under their names with `.` replaced by `_` (`fc1_weight`).
   */
  toScriptModule(): jit.ScriptModule {
    const fn = 'TracedModule.toScriptModule';
    const bytes = N.jitTraceSave(
      this.handle(fn),
      this._nIn,
      this._names,
      this._state.map((t) => t._h),
      this._buffers,
    );
    return jit.load(bytes);
  }

  /** Frees the trace now (a replay in flight finishes first). Idempotent. */
  dispose(): void {
    if (this._h !== null) N.jitTraceDispose(this._h);
    this._h = null;
  }
  /** The same as `dispose()`, so that a `using` declaration frees it at the end of its block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Records the ATen ops that a function or a module's `forward` runs for `exampleInputs`
 * (PyTorch's `torch.jit.trace`), so that they can be replayed without JavaScript, on the JS
 * thread (`forward`) or on libuv's thread pool (`forwardAsync`).
 *
 * The rules are PyTorch's:
 * - Only tensor operations are recorded. JavaScript control flow and arithmetic run once, for the
 *   example inputs, and are frozen: a branch on a shape, a loop count, a number computed from
 *   `x.shape` stay as they were. Inputs of other shapes replay the same ops, which may fail or
 *   (with a shape frozen into a `view`) compute something else: trace per shape when it matters.
 * - Reading tensor values into JavaScript (`item()`, `data()`, `toArray()`, printing a tensor,
 *   `torch.equal`) refuses the trace: such a value would be frozen without a trace.
 * - Arguments are tensors, numbers, booleans, strings, null, and arrays or plain objects of them;
 *   non-tensor values are frozen and replays must pass the same ones. Results are tensors, null,
 *   and arrays or plain objects of them.
 * - A module's parameters and buffers are inputs of the trace (the module's own tensors):
 *   gradients reach them and in-place updates (optimizer steps) are seen by later replays.
 *   Another tensor the function reads is frozen as a constant (sharing its memory); one that
 *   requires grad is refused.
 * - Random ops (dropout, `torch.randn`) draw new numbers at each replay; the training flag and
 *   grad mode are those of the traced run for the branches JavaScript took on them.
 *
 * @param fn A function of tensors, or a module (its `forward` is traced).
 * @param exampleInputs The arguments: an array of them, or a single tensor.
 * @throws {TraceError} when the function cannot be traced (the error says why).
 * @example
 * const traced = torch.jit.trace(model, [torch.randn(8, 4)]);
 * const y = await traced.forwardAsync(torch.randn(8, 4));
 */
export function trace(fn: ModuleLike | ((...args: never[]) => unknown), exampleInputs: unknown): TracedModule {
  const name = 'torch.jit.trace';
  const args = exampleInputs instanceof Tensor ? [exampleInputs] : exampleInputs;
  if (!Array.isArray(args))
    throw new TypeError(
      `${name}: expected exampleInputs to be a Tensor or an array of arguments, got ${describe(args)}`,
    );
  let run: () => unknown;
  let state: NamedState = { tensors: [], names: [], buffers: [] };
  if (isModuleLike(fn)) {
    state = namedStateOf(fn);
    run = () => (fn.forward as (...a: unknown[]) => unknown)(...args);
  } else if (typeof fn === 'function') {
    run = () => (fn as (...a: unknown[]) => unknown)(...args);
  } else {
    throw new TypeError(`${name}: expected a function or an nn.Module, got ${describe(fn)}`);
  }
  const ts: Tensor[] = [];
  let spec: Spec;
  try {
    spec = flatten(args, ts, 'the inputs', true);
  } catch (e) {
    if (e instanceof TraceError) throw new TraceError(name, e.reason);
    throw e;
  }
  const r = record(run, [...ts, ...state.tensors]);
  if (r.trace === null || r.out === null) throw new TraceError(name, r.reason);
  return new TracedModule(MADE_BY_TRACE, r.trace, structureKey(spec), ts.length, r.out, state);
}

// ---- the default Module.forwardAsync ---------------------------------------------------------

/** Signatures (input shapes, dtypes, ...) traced per module before it runs `forward` instead. */
export const MAX_TRACES = 16;

interface Entry {
  trace: TraceHandle | null;
  reason: string;
  out: Spec | null;
}
interface ModuleCache {
  /** The identity and metadata of the module's parameters and buffers the entries were made with. */
  stateKey: string;
  state: Tensor[];
  entries: Map<string, Entry>;
}

interface TraceableModule extends ModuleLike {
  training: boolean;
  modules(): Iterable<{ training: boolean }>;
  constructor: { name: string };
}

const caches = new WeakMap<object, ModuleCache>();
const warned = new WeakMap<object, Set<string>>();
const ids = new WeakMap<Tensor, number>();
let nextId = 1;

function idOf(t: Tensor): number {
  let id = ids.get(t);
  if (id === undefined) {
    id = nextId++;
    ids.set(t, id);
  }
  return id;
}

function warnOnce(m: object, fn: string, reason: string): void {
  let seen = warned.get(m);
  if (seen === undefined) {
    seen = new Set();
    warned.set(m, seen);
  }
  if (seen.has(reason)) return;
  seen.add(reason);
  process.emitWarning(
    `${fn}: cannot trace forward, so it runs synchronously on the JS thread: ${reason}`,
    'TraceWarning',
  );
}

function dropCache(c: ModuleCache): void {
  for (const e of c.entries.values()) if (e.trace !== null) N.jitTraceDispose(e.trace);
  c.entries.clear();
}

/**
 * The default `Module.forwardAsync` (see its documentation in nn/modules/module.ts): `forward`
 * traced once per signature, then replayed on the pool.
 */
export function tracedForwardAsync(m: TraceableModule, args: unknown[]): Promise<unknown> {
  const fn = `${m.constructor.name}.forwardAsync`;
  try {
    const runSync = () => (m.forward as (...a: unknown[]) => unknown)(...args);
    const state = stateOf(m);
    for (const t of state) if (t._disposed) throw new Error(`${fn}: a parameter or buffer of the module is disposed`);
    const stateKey = state.map((t) => `${idOf(t)}:${tensorKey(t)}`).join(',');
    let cache = caches.get(m);
    if (cache === undefined || cache.stateKey !== stateKey) {
      if (cache !== undefined) dropCache(cache);
      cache = { stateKey, state, entries: new Map() };
      caches.set(m, cache);
    }
    const ts: Tensor[] = [];
    let spec: Spec;
    try {
      spec = flatten(args, ts, 'argument', true);
    } catch (e) {
      if (!(e instanceof TraceError)) throw e;
      warnOnce(m, fn, e.reason);
      return Promise.resolve(runSync());
    }
    const modes = [...m.modules()].map((c) => (c.training ? 1 : 0)).join('');
    const key = `${structureKey(spec)}|${ts.map(tensorKey).join(',')}|grad:${isGradEnabled()}|train:${modes}`;
    const entry = cache.entries.get(key);
    if (entry === undefined) {
      if (cache.entries.size >= MAX_TRACES) {
        warnOnce(m, fn, `more than ${MAX_TRACES} input signatures (shapes, dtypes, non-tensor arguments)`);
        return Promise.resolve(runSync());
      }
      const r = record(runSync, [...ts, ...state]);
      cache.entries.set(key, { trace: r.trace, reason: r.reason, out: r.out });
      if (r.trace === null) warnOnce(m, fn, r.reason);
      // The recorded run is a real run: its result is this call's.
      return Promise.resolve(r.ran ? r.result : runSync());
    }
    if (entry.trace === null || entry.out === null) {
      warnOnce(m, fn, entry.reason);
      return Promise.resolve(runSync());
    }
    const out = entry.out;
    return N.jitTraceRunAsync(
      entry.trace,
      [...ts, ...state].map((t) => t._h),
    ).then((hs) => unflatten(out, wrapAll(hs)));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Whether a trace is recording now (for code that must not run under one). */
export function isTracing(): boolean {
  return N.jitTraceIsTracing();
}
