import { isGradEnabled, setGradEnabled } from '../../autograd';
import { checkInt, describe } from '../../errors';
import { tidy } from '../../memory';
import { scopes } from '../../scope';
import { Tensor, tensorSerial } from '../../tensor';
import { Module, moduleSlots } from './module';

// ---- forwards that run either way ------------------------------------------------------------
//
// A composed module's forward is written once, as a generator that yields its heavy steps (a
// child's forward) and computes the cheap parts itself. `runForward` runs it on the JS thread
// (each step's `sync`); `runForwardAsync` awaits each step's `async` (a child's forwardAsync on the
// libuv pool) and runs the code between the steps on the JS thread. Same code, same results.

/** One step of a forward: `sync` computes it now; `async`, if any, on the pool. */
export interface ForwardStep {
  sync(): unknown;
  async?(): Promise<unknown>;
  /** Rewrites an error of the step (e.g. to name the calling layer). */
  wrapError?(e: unknown): unknown;
}
/** A forward written as a generator of steps, returning T. */
export type Forward<T> = Generator<ForwardStep, T, unknown>;

/** Yields one step; its result comes back as the value of `yield*`. */
export function* forwardStep<T>(
  sync: () => T,
  async?: () => Promise<T>,
  wrapError?: (e: unknown) => unknown,
): Forward<T> {
  return (yield { sync, async, wrapError }) as T;
}

type ForwardFns = { forward(...args: unknown[]): unknown; forwardAsync?(...args: unknown[]): Promise<unknown> };

/** `m.forward(...args)` as a step: async runs await `m.forwardAsync(...args)` when `m` has one. */
export function callForward(m: Module, ...args: unknown[]): Forward<unknown> {
  const f = m as unknown as ForwardFns;
  return forwardStep(
    () => f.forward(...args),
    // The default (traced) Module.forwardAsync is not a step's async: composed modules run the
    // code between their heavy steps on the JS thread, as before.
    typeof f.forwardAsync === 'function' && f.forwardAsync !== Module.prototype.forwardAsync
      ? () => f.forwardAsync!(...args)
      : undefined,
  );
}

/** Runs a forward on the JS thread (no scope of its own: callers tidy as they did). */
export function runForward<T>(g: Forward<T>): T {
  let r = g.next();
  while (!r.done) {
    const s = r.value;
    let v: unknown;
    try {
      v = s.sync();
    } catch (e) {
      throw s.wrapError ? s.wrapError(e) : e;
    }
    r = g.next(v);
  }
  return r.value;
}

/**
 * The tensors in `v` made at or after `since` (a `tensorSerial()`): a step's new results. A tensor
 * made before the step (the caller's input passed through, a parameter) is not the engine's.
 */
function tensorsIn(v: unknown, out: Tensor[], since: number, seen = new Set<unknown>()): void {
  if (v instanceof Tensor) {
    if (v._serial >= since) out.push(v);
    return;
  }
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (Array.isArray(v) || v instanceof Set) for (const x of v) tensorsIn(x, out, since, seen);
  else if (v instanceof Map)
    for (const [k, x] of v) {
      tensorsIn(k, out, since, seen);
      tensorsIn(x, out, since, seen);
    }
  else if (Object.getPrototypeOf(v) === Object.prototype)
    for (const x of Object.values(v)) tensorsIn(x, out, since, seen);
}

/**
 * Runs a forward, awaiting the steps that have an `async`. As if the whole call ran inside one
 * `torch.tidy`: every tensor made by the code between steps or returned by a step is disposed when
 * it settles, except the result (and `torch.keep`-ed ones). Grad mode is the caller's, captured
 * at the call and set around every piece that runs later (and so inside every worker it queues).
 */
export async function runForwardAsync<T>(g: Forward<T>): Promise<T> {
  const made: Tensor[] = [];
  const grad = isGradEnabled();
  const segment = <R>(f: () => R): R => {
    const prev = isGradEnabled();
    setGradEnabled(grad);
    scopes.push(made);
    try {
      return f();
    } finally {
      scopes.pop();
      setGradEnabled(prev);
    }
  };
  // tidy's rules, applied to what this call made (`made` goes into tidy's own scope)
  const settle = <R>(f: () => R): R =>
    tidy(() => {
      scopes[scopes.length - 1].push(...made);
      return f();
    });
  try {
    let r = segment(() => g.next());
    while (!r.done) {
      const s = r.value;
      let v: unknown;
      const since = tensorSerial();
      try {
        v = s.async ? await segment(s.async) : segment(s.sync);
      } catch (e) {
        throw s.wrapError ? s.wrapError(e) : e;
      }
      // Only what the step made is an intermediate: a child that passes its input through
      // (an empty Sequential, Identity) returns the caller's tensor, which is never disposed.
      if (s.async) tensorsIn(v, made, since);
      r = segment(() => g.next(v));
    }
    const result = r.value;
    return settle(() => result);
  } catch (e) {
    return settle(() => {
      throw e;
    });
  }
}

/** The entries of a container in order, a module repeated under several keys once per key (as PyTorch's `_modules.values()`). */
function listEntries(m: Module): Module[] {
  const out: Module[] = [];
  for (const [, c] of moduleSlots(m)) if (c !== null) out.push(c);
  return out;
}

function checkModule(fn: string, m: unknown, what: string): Module {
  if (!(m instanceof Module)) throw new TypeError(`${fn}: expected ${what} to be an nn.Module, got ${describe(m)}`);
  return m;
}

/**
 * Modules called in order, each on the previous one's output (PyTorch's `nn.Sequential`).
 * Children are named `0`, `1`, ... (or by the keys of a Map / object given instead; a plain
 * object lists integer-like keys such as `'10'` first, as JavaScript does, so give those in a Map).
 * A module given twice is an entry twice (it runs twice), as in PyTorch.
 */
export class Sequential extends Module {
  constructor(...modules: Module[] | [Map<string, Module>] | [Record<string, Module>]) {
    super();
    const first = modules[0] as unknown;
    if (
      modules.length === 1 &&
      (first instanceof Map || (first !== null && typeof first === 'object' && !(first instanceof Module)))
    ) {
      const entries = first instanceof Map ? [...first.entries()] : Object.entries(first as Record<string, Module>);
      for (const [k, m] of entries) this.registerModule(k, checkModule('Sequential', m, `module '${k}'`));
    } else {
      (modules as Module[]).forEach((m, i) =>
        this.registerModule(String(i), checkModule('Sequential', m, `argument ${i}`)),
      );
    }
  }
  /** The number of entries (a repeated module counts once per entry). */
  get length(): number {
    return moduleSlots(this).length;
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const list = listEntries(this);
    checkInt('Sequential.at', 'index', i);
    const k = i < 0 ? i + list.length : i;
    if (k < 0 || k >= list.length)
      throw new RangeError(`Sequential.at: index ${i} is out of range (length ${list.length})`);
    return list[k];
  }
  /** Appends a module; returns `this`. */
  append(m: Module): this {
    this.registerModule(String(this.length), checkModule('Sequential.append', m, 'module'));
    return this;
  }
  /** The children in order, each fed the previous one's output. Typed as a `Tensor` by default (the usual case); give `T` for other outputs. */
  forward<T = Tensor>(input: unknown): T {
    return runForward(this.steps(input)) as T;
  }
  /**
   * `forward` with each child's `forwardAsync` awaited where it has one (Linear, LSTM, GRU, RNN,
   * MultiheadAttention, the Transformer layers, nested Sequentials), and its `forward` called
   * on the JS thread otherwise (cheap elementwise modules: activations, dropout, norms). The
   * intermediate outputs are disposed when it settles (as in a `torch.tidy`); the result is the
   * caller's. Grad mode is the caller's at the call.
   * @example const y = await new nn.Sequential(new nn.Linear(8, 32), new nn.ReLU(), new nn.Linear(32, 1)).forwardAsync(x);
   */
  override forwardAsync<T = Tensor>(input: unknown): Promise<T> {
    return runForwardAsync(this.steps(input)) as Promise<T>;
  }
  private *steps(input: unknown): Forward<unknown> {
    let x = input;
    for (const m of listEntries(this)) x = yield* callForward(m, x);
    return x;
  }
  [Symbol.iterator](): IterableIterator<Module> {
    return listEntries(this)[Symbol.iterator]();
  }
}

/**
 * A list of modules, registered as `0`, `1`, ... (PyTorch's `nn.ModuleList`). A module given twice
 * is an entry twice, as in PyTorch (parameters() still lists its parameters once).
 */
export class ModuleList extends Module {
  constructor(modules: Iterable<Module> = []) {
    super();
    if (
      modules === null ||
      typeof modules !== 'object' ||
      typeof (modules as Iterable<Module>)[Symbol.iterator] !== 'function'
    )
      throw new TypeError(`ModuleList: expected modules to be an iterable of nn.Modules, got ${describe(modules)}`);
    for (const m of modules) this.append(m);
  }
  /** The number of entries (a repeated module counts once per entry). */
  get length(): number {
    return moduleSlots(this).length;
  }
  at(i: number): Module {
    const list = listEntries(this);
    checkInt('ModuleList.at', 'index', i);
    const k = i < 0 ? i + list.length : i;
    if (k < 0 || k >= list.length)
      throw new RangeError(`ModuleList.at: index ${i} is out of range (length ${list.length})`);
    return list[k];
  }
  append(m: Module): this {
    this.registerModule(String(this.length), checkModule('ModuleList.append', m, 'module'));
    return this;
  }
  extend(ms: Iterable<Module>): this {
    for (const m of ms) this.append(m);
    return this;
  }
  forward(): never {
    throw new Error('ModuleList has no forward(); call its modules');
  }
  [Symbol.iterator](): IterableIterator<Module> {
    return listEntries(this)[Symbol.iterator]();
  }
}

/**
 * Modules by name (PyTorch's `nn.ModuleDict`), in insertion order (integer-like keys such as
 * `'10'` included; from a plain object, JavaScript already lists those first: use a Map). A key that is a method or property of the class (`keys`, `get`, `size`, ...)
 * throws, as PyTorch's "attribute ... already exists".
 */
export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> | Map<string, Module> | null = {}) {
    super();
    if (modules !== null && modules !== undefined && typeof modules !== 'object')
      throw new TypeError(`ModuleDict: expected a Map or an object of modules, got ${describe(modules)}`);
    // null (PyTorch's ModuleDict(None)) is an empty dict
    const entries = modules instanceof Map ? [...modules.entries()] : Object.entries(modules ?? {});
    for (const [k, m] of entries) this.set(k, m);
  }
  get(key: string): Module | undefined {
    const v = (this as unknown as Record<string, unknown>)[key];
    return v instanceof Module ? v : undefined;
  }
  set(key: string, m: Module): this {
    this.registerModule(key, checkModule('ModuleDict.set', m, 'module'));
    return this;
  }
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }
  keys(): string[] {
    return this.entries().map(([k]) => k);
  }
  /** `[key, module]` in insertion order; a module stored under two keys is listed under both. */
  entries(): [string, Module][] {
    return moduleSlots(this).filter((e): e is [string, Module] => e[1] !== null);
  }
  get size(): number {
    return this.keys().length;
  }
  forward(): never {
    throw new Error('ModuleDict has no forward(); call its modules');
  }
}
