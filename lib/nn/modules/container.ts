// The containers (PyTorch's torch/nn/modules/container.py): Sequential, ModuleList, ModuleDict.
import { checkInt, describe } from '../../errors';
import type { Tensor } from '../../tensor';
import { callForward, type Forward, runForward, runForwardAsync } from '../forward';
import { Module, moduleSlots } from './module';

/**
 * The entries of a container in order, a module repeated under several keys once per key (as
 * PyTorch's `_modules.values()`).
 */
function listEntries(m: Module): Module[] {
  const out: Module[] = [];
  for (const [, c] of moduleSlots(m)) if (c !== null) out.push(c);
  return out;
}

/** The i-th entry of a container (negative counts from the end), as `at` returns it. */
function entryAt(fn: string, m: Module, i: number): Module {
  const list = listEntries(m);
  checkInt(fn, 'index', i);
  const k = i < 0 ? i + list.length : i;
  if (k < 0 || k >= list.length) throw new RangeError(`${fn}: index ${i} is out of range (length ${list.length})`);
  return list[k];
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
    return entryAt('Sequential.at', this, i);
  }
  /** Appends a module; returns `this`. */
  append(m: Module): this {
    this.registerModule(String(this.length), checkModule('Sequential.append', m, 'module'));
    return this;
  }
  /**
   * The children in order, each fed the previous one's output. Typed as a `Tensor` by default (the
   * usual case); give `T` for other outputs.
   */
  forward<T = Tensor>(input: unknown): T {
    return runForward(this.steps(input)) as T;
  }
  /**
   * `forward` with each child's `forwardAsync` awaited where it has one (Linear, LSTM, GRU, RNN,
   * MultiheadAttention, the Transformer layers, nested Sequentials), and its `forward` called
   * on the JS thread otherwise (cheap elementwise modules: activations, dropout, norms). The
   * intermediate outputs are disposed when it settles (as in a `torch.tidy`); the result is the
   * caller's. Grad mode is the caller's at the call.
   * @example
   * const y = await new nn.Sequential(new nn.Linear(8, 32), new nn.ReLU(), new nn.Linear(32, 1)).forwardAsync(x);
   */
  override forwardAsync<T = Tensor>(input: unknown): Promise<T> {
    return runForwardAsync(this.steps(input)) as Promise<T>;
  }
  private *steps(input: unknown): Forward<unknown> {
    let x = input;
    for (const m of listEntries(this)) x = yield* callForward(m, x);
    return x;
  }
  /** The modules in order, so that `for (const m of seq)` and `[...seq]` work. */
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
  /** The i-th module (negative counts from the end); a RangeError outside the list. */
  at(i: number): Module {
    return entryAt('ModuleList.at', this, i);
  }
  /** Appends a module; returns `this`. */
  append(m: Module): this {
    this.registerModule(String(this.length), checkModule('ModuleList.append', m, 'module'));
    return this;
  }
  /** Appends every module of an iterable, in order; returns `this`. */
  extend(ms: Iterable<Module>): this {
    for (const m of ms) this.append(m);
    return this;
  }
  /** A ModuleList has no forward: it throws, as PyTorch's does; call its modules. */
  forward(): never {
    throw new Error('ModuleList has no forward(); call its modules');
  }
  /** The modules in order, so that `for (const m of list)` and `[...list]` work. */
  [Symbol.iterator](): IterableIterator<Module> {
    return listEntries(this)[Symbol.iterator]();
  }
}

/**
 * Modules by name (PyTorch's `nn.ModuleDict`), in insertion order (integer-like keys such as
 * `'10'` included; from a plain object, JavaScript already lists those first: use a Map). A key
 * that is a method or property of the class (`keys`, `get`, `size`, ...) throws, as PyTorch's
 * "attribute ... already exists".
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
  /** The module stored under `key`, or `undefined`. */
  get(key: string): Module | undefined {
    const v = (this as unknown as Record<string, unknown>)[key];
    return v instanceof Module ? v : undefined;
  }
  /** Stores `m` under `key` (replacing what was there); returns `this`. */
  set(key: string, m: Module): this {
    this.registerModule(key, checkModule('ModuleDict.set', m, 'module'));
    return this;
  }
  /** Whether a module is stored under `key`. */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }
  /** The keys, in insertion order. */
  keys(): string[] {
    return this.entries().map(([k]) => k);
  }
  /** `[key, module]` in insertion order; a module stored under two keys is listed under both. */
  entries(): [string, Module][] {
    return moduleSlots(this).filter((e): e is [string, Module] => e[1] !== null);
  }
  /** The number of entries. */
  get size(): number {
    return this.keys().length;
  }
  /** A ModuleDict has no forward: it throws, as PyTorch's does; call its modules. */
  forward(): never {
    throw new Error('ModuleDict has no forward(); call its modules');
  }
}
