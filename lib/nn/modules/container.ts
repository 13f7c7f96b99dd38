import { checkInt, describe } from '../../errors';
import { Module } from './module';

function checkModule(fn: string, m: unknown, what: string): Module {
  if (!(m instanceof Module)) throw new TypeError(`${fn}: expected ${what} to be an nn.Module, got ${describe(m)}`);
  return m;
}

/**
 * Modules called in order, each on the previous one's output (PyTorch's `nn.Sequential`).
 * Children are named `0`, `1`, ... (or by the keys of a Map / object given instead).
 */
export class Sequential extends Module {
  constructor(...modules: Module[] | [Map<string, Module>] | [Record<string, Module>]) {
    super();
    const first = modules[0] as unknown;
    if (modules.length === 1 && (first instanceof Map || (first !== null && typeof first === 'object' && !(first instanceof Module)))) {
      const entries = first instanceof Map ? [...first.entries()] : Object.entries(first as Record<string, Module>);
      for (const [k, m] of entries) this.registerModule(k, checkModule('Sequential', m, `module '${k}'`));
    } else {
      (modules as Module[]).forEach((m, i) => this.registerModule(String(i), checkModule('Sequential', m, `argument ${i}`)));
    }
  }
  get length(): number {
    return [...this.children()].length;
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const list = [...this.children()];
    checkInt('Sequential.at', 'index', i);
    const k = i < 0 ? i + list.length : i;
    if (k < 0 || k >= list.length) throw new RangeError(`Sequential.at: index ${i} is out of range (length ${list.length})`);
    return list[k];
  }
  /** Appends a module; returns `this`. */
  append(m: Module): this {
    this.registerModule(String(this.length), checkModule('Sequential.append', m, 'module'));
    return this;
  }
  forward(input: unknown): unknown {
    let x = input;
    for (const m of this.children()) x = (m.forward as (a: unknown) => unknown)(x);
    return x;
  }
  [Symbol.iterator](): IterableIterator<Module> {
    return this.children();
  }
}

/** A list of modules, registered as `0`, `1`, ... (PyTorch's `nn.ModuleList`). */
export class ModuleList extends Module {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  get length(): number {
    return [...this.children()].length;
  }
  at(i: number): Module {
    const list = [...this.children()];
    checkInt('ModuleList.at', 'index', i);
    const k = i < 0 ? i + list.length : i;
    if (k < 0 || k >= list.length) throw new RangeError(`ModuleList.at: index ${i} is out of range (length ${list.length})`);
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
    return this.children();
  }
}

/** Modules by name (PyTorch's `nn.ModuleDict`), in insertion order. */
export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> | Map<string, Module> = {}) {
    super();
    const entries = modules instanceof Map ? [...modules.entries()] : Object.entries(modules);
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
    return [...this.namedChildren()].map(([k]) => k);
  }
  entries(): [string, Module][] {
    return [...this.namedChildren()];
  }
  get size(): number {
    return this.keys().length;
  }
  forward(): never {
    throw new Error('ModuleDict has no forward(); call its modules');
  }
}
