// nn.Module: the tree of submodules, parameters and buffers, with PyTorch's names and order.
import { noGrad } from '../../autograd';
import { DType, dtypeCode, isFloatingPoint } from '../../dtype';
import { checkDevice } from '../../device';
import { checkBool, describe } from '../../errors';
import { keep } from '../../memory';
import { native as N } from '../../native';
import { Tensor } from '../../tensor';
import { Parameter } from '../parameter';

export type StateDict = Record<string, Tensor>;

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

interface Internals {
  buffers: Map<string, { persistent: boolean }>;
}
const internals = new WeakMap<Module, Internals>();
function inner(m: Module): Internals {
  let i = internals.get(m);
  if (!i) { i = { buffers: new Map() }; internals.set(m, i); }
  return i;
}

/** Adds `n` spaces to every line but the first (PyTorch's `_addindent`). */
function addIndent(s: string, n: number): string {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  return [lines[0], ...lines.slice(1).map((l) => ' '.repeat(n) + l)].join('\n');
}

/**
 * Base class for all neural network modules (PyTorch's `nn.Module`).
 *
 * Submodules and `nn.Parameter`s are registered by plain assignment — `this.fc = new nn.Linear(4, 2)`
 * in the constructor, or a class field — in assignment order, as PyTorch's `__setattr__` does;
 * buffers with `registerBuffer`. Names, `stateDict()` keys and their order are PyTorch's, so
 * checkpoints move both ways.
 *
 * @example
 * class Net extends nn.Module {
 *   fc1 = new nn.Linear(4, 8);
 *   fc2 = new nn.Linear(8, 1);
 *   forward(x: Tensor) { return this.fc2.forward(this.fc1.forward(x).relu()); }
 * }
 */
export abstract class Module {
  /** Training mode (dropout active); switch with `train()` / `eval()`. */
  declare training: boolean;

  constructor() {
    // Non-enumerable, so that only registered things show up as the module's own attributes.
    Object.defineProperty(this, 'training', { value: true, writable: true, enumerable: false, configurable: true });
  }

  /** The computation. Subclasses define it with their own signature. */
  abstract forward(...args: never[]): unknown;

  /** The class name PyTorch prints (`_get_name`). */
  protected getName(): string {
    return this.constructor.name;
  }

  /** The module-specific part of `toString()` (PyTorch's `extra_repr`). */
  extraRepr(): string {
    return '';
  }

  // ---- registration ----------------------------------------------------------------------------
  /**
   * Registers a buffer: a tensor that is part of the module's state but not a parameter (e.g.
   * running statistics). `persistent: false` keeps it out of `stateDict()`. Pass `null` to
   * declare it without a value.
   */
  registerBuffer(name: string, tensor: Tensor | null, opts: { persistent?: boolean } = {}): void {
    this.checkName('registerBuffer', name);
    if (tensor !== null && !(tensor instanceof Tensor))
      throw new TypeError(`Module.registerBuffer: expected tensor to be a Tensor or null, got ${describe(tensor)}`);
    const persistent = opts.persistent === undefined ? true : checkBool('Module.registerBuffer', 'persistent', opts.persistent);
    if (tensor) keep(tensor);
    inner(this).buffers.set(name, { persistent });
    (this as Record<string, unknown>)[name] = tensor;
  }

  /** Registers a parameter under `name` (same as assigning it). */
  registerParameter(name: string, param: Parameter | null): void {
    this.checkName('registerParameter', name);
    if (param !== null && !(param instanceof Parameter))
      throw new TypeError(`Module.registerParameter: expected param to be an nn.Parameter or null, got ${describe(param)}`);
    (this as Record<string, unknown>)[name] = param;
  }

  /** Registers a submodule under `name` (same as assigning it). */
  registerModule(name: string, module: Module | null): void {
    this.checkName('registerModule', name);
    if (module !== null && !(module instanceof Module))
      throw new TypeError(`Module.registerModule: expected module to be an nn.Module or null, got ${describe(module)}`);
    (this as Record<string, unknown>)[name] = module;
  }

  private checkName(fn: string, name: unknown): void {
    if (typeof name !== 'string' || name === '' || name.includes('.'))
      throw new TypeError(`Module.${fn}: expected name to be a non-empty string without '.', got ${describe(name)}`);
  }

  // ---- traversal -----------------------------------------------------------------------------
  /** Own (non-recursive) entries in registration order. */
  private own(): { params: [string, Parameter][]; buffers: [string, Tensor, boolean][]; children: [string, Module][] } {
    const params: [string, Parameter][] = [];
    const buffers: [string, Tensor, boolean][] = [];
    const children: [string, Module][] = [];
    const bufferInfo = inner(this).buffers;
    for (const key of Object.keys(this)) {
      const v = (this as Record<string, unknown>)[key];
      const b = bufferInfo.get(key);
      if (b) { if (v instanceof Tensor) buffers.push([key, v, b.persistent]); }
      else if (v instanceof Parameter) params.push([key, v]);
      else if (v instanceof Module) children.push([key, v]);
    }
    return { params, buffers, children };
  }

  /** Immediate children as `[name, module]`. */
  *namedChildren(): IterableIterator<[string, Module]> {
    const seen = new Set<Module>();
    for (const [name, m] of this.own().children) {
      if (seen.has(m)) continue;
      seen.add(m);
      yield [name, m];
    }
  }
  *children(): IterableIterator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module and all below it, pre-order, as `[dottedName, module]` (the root is `''`). */
  *namedModules(prefix = '', memo = new Set<Module>()): IterableIterator<[string, Module]> {
    if (memo.has(this)) return;
    memo.add(this);
    yield [prefix, this];
    for (const [name, m] of this.own().children) {
      yield* m.namedModules(prefix ? `${prefix}.${name}` : name, memo);
    }
  }
  *modules(): IterableIterator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /** Parameters as `[dottedName, Parameter]`, each once, in PyTorch's order. */
  *namedParameters(opts: { prefix?: string; recurse?: boolean } = {}): IterableIterator<[string, Parameter]> {
    const seen = new Set<Parameter>();
    const mods: Iterable<[string, Module]> = opts.recurse === false ? [[opts.prefix ?? '', this]] : this.namedModules(opts.prefix ?? '');
    for (const [mp, m] of mods) {
      for (const [name, p] of m.own().params) {
        if (seen.has(p)) continue;
        seen.add(p);
        yield [mp ? `${mp}.${name}` : name, p];
      }
    }
  }
  *parameters(opts: { recurse?: boolean } = {}): IterableIterator<Parameter> {
    for (const [, p] of this.namedParameters(opts)) yield p;
  }

  *namedBuffers(opts: { prefix?: string; recurse?: boolean } = {}): IterableIterator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods: Iterable<[string, Module]> = opts.recurse === false ? [[opts.prefix ?? '', this]] : this.namedModules(opts.prefix ?? '');
    for (const [mp, m] of mods) {
      for (const [name, b] of m.own().buffers) {
        if (seen.has(b)) continue;
        seen.add(b);
        yield [mp ? `${mp}.${name}` : name, b];
      }
    }
  }
  *buffers(opts: { recurse?: boolean } = {}): IterableIterator<Tensor> {
    for (const [, b] of this.namedBuffers(opts)) yield b;
  }

  // ---- modes and gradients --------------------------------------------------------------------
  /** Sets training mode on this module and all below (dropout on); returns `this`. */
  train(mode = true): this {
    checkBool('Module.train', 'mode', mode);
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }
  /** Resets the gradients of all parameters: to null (default, as PyTorch 2) or to zero. */
  zeroGrad(opts: { setToNone?: boolean } = {}): void {
    const setToNone = opts.setToNone ?? true;
    for (const p of this.parameters()) {
      if (setToNone) { p.grad = null; continue; }
      const g = p.grad;
      if (g) { g.zero_(); g.dispose(); }
    }
  }
  /** Sets `requiresGrad` on every parameter (freezing with `false`); returns `this`. */
  requiresGrad_(requiresGrad = true): this {
    checkBool('Module.requiresGrad_', 'requiresGrad', requiresGrad);
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }
  /** Calls `fn` on every submodule (children first) and then on this module; returns `this`. */
  apply(fn: (m: Module) => void): this {
    if (typeof fn !== 'function') throw new TypeError(`Module.apply: expected fn to be a function, got ${describe(fn)}`);
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Moves and/or casts parameters and buffers in place (their identity is kept, as in PyTorch):
   * `to('cuda')`, `to('float64')`, `to({dtype, device})`. A dtype applies to floating-point
   * tensors only.
   */
  to(target: DType | string | { dtype?: DType; device?: string }): this {
    const fn = 'Module.to';
    let dtype: DType | undefined, device: string | undefined;
    if (typeof target === 'string') {
      if (/^(cpu|cuda)(:\d+)?$/.test(target)) device = checkDevice(fn, target);
      else { dtypeCode(fn, target); dtype = target as DType; }
    } else if (target !== null && typeof target === 'object') {
      if (target.dtype !== undefined) { dtypeCode(fn, target.dtype); dtype = target.dtype; }
      if (target.device !== undefined) device = checkDevice(fn, target.device);
    } else {
      throw new TypeError(`${fn}: expected a dtype, a device or {dtype, device}, got ${describe(target)}`);
    }
    if (dtype !== undefined && !isFloatingPoint(dtype))
      throw new TypeError(`${fn}: nn.Module.to only accepts floating point dtypes, got ${dtype}`);
    const convert = (t: Tensor): void => {
      const d = dtype !== undefined && isFloatingPoint(t.dtype) ? dtype : undefined;
      if (d === undefined && (device === undefined || device === t.device)) return;
      const moved = t.detach().to({ dtype: d ?? t.dtype, device: device ?? t.device });
      N.setData(t._h, moved._h);
      moved.dispose();
      t._resetMeta();
      const g = t.grad;
      if (g) {
        const gm = g.to({ dtype: d ?? g.dtype, device: device ?? g.device });
        t.grad = gm;
        g.dispose();
        gm.dispose();
      }
    };
    noGrad(() => {
      for (const p of this.parameters()) convert(p);
      for (const b of this.buffers()) convert(b);
    });
    return this;
  }

  // ---- state ---------------------------------------------------------------------------------
  /** Expected state entries in PyTorch's order (not deduplicated, as PyTorch's state_dict). */
  private stateEntries(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const visit = (m: Module, prefix: string, memo: Set<Module>) => {
      if (memo.has(m)) return;
      memo.add(m);
      const own = m.own();
      for (const [name, p] of own.params) out.push([prefix + name, p]);
      for (const [name, b, persistent] of own.buffers) if (persistent) out.push([prefix + name, b]);
      for (const [name, c] of own.children) visit(c, `${prefix}${name}.`, memo);
    };
    visit(this, '', new Set());
    return out;
  }

  /**
   * The parameters and persistent buffers by PyTorch's dotted names, in PyTorch's order. Values
   * are detached tensors sharing storage with the module's (dispose them when done; `torch.save`
   * writes this dict in PyTorch's format).
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [k, t] of this.stateEntries()) out[k] = t.detach();
    return out;
  }

  /**
   * Copies values from a state dict (a Record or a Map) into the parameters and buffers.
   * Checks everything first: with `strict` (default), any missing or unexpected key throws; a
   * shape mismatch always throws. The error lists every problem, and nothing is loaded when it
   * throws. Returns the missing and unexpected keys.
   */
  loadStateDict(stateDict: Record<string, Tensor> | Map<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const fn = 'Module.loadStateDict';
    const strict = opts.strict === undefined ? true : checkBool(fn, 'strict', opts.strict);
    let entries: [string, unknown][];
    if (stateDict instanceof Map) entries = [...stateDict.entries()];
    else if (stateDict !== null && typeof stateDict === 'object') entries = Object.entries(stateDict);
    else throw new TypeError(`${fn}: expected stateDict to be an object or a Map, got ${describe(stateDict)}`);
    const given = new Map(entries);
    const expected = this.stateEntries();
    const expectedKeys = new Set(expected.map(([k]) => k));
    const missingKeys = expected.map(([k]) => k).filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !expectedKeys.has(k));
    const problems: string[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const [k, target] of expected) {
      if (!given.has(k)) continue;
      const src = given.get(k);
      if (!(src instanceof Tensor)) { problems.push(`value for ${k} is not a Tensor (got ${describe(src)})`); continue; }
      if (src.isDisposed) { problems.push(`value for ${k} is a disposed tensor`); continue; }
      const a = target.shape, b = src.shape;
      if (a.length !== b.length || a.some((s, i) => s !== b[i]))
        problems.push(`size mismatch for ${k}: copying a param with shape [${b.join(', ')}], the shape in the current model is [${a.join(', ')}]`);
      else copies.push([target, src]);
    }
    if (strict) {
      if (missingKeys.length) problems.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
      if (unexpectedKeys.length) problems.splice(missingKeys.length ? 1 : 0, 0, `Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    }
    if (problems.length)
      throw new Error(`Error(s) in loading state_dict for ${this.getName()}:\n\t${problems.join('\n\t')}`);
    noGrad(() => { for (const [t, s] of copies) t.copy_(s); });
    return { missingKeys, unexpectedKeys };
  }

  // ---- printing ------------------------------------------------------------------------------
  /** Prints like PyTorch's `repr(module)`. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split('\n') : [];
    const childLines = this.own().children.map(([k, m]) => `(${k}): ${addIndent(m.toString(), 2)}`);
    const lines = [...extraLines, ...childLines];
    let main = `${this.getName()}(`;
    if (lines.length) {
      if (extraLines.length === 1 && childLines.length === 0) main += extraLines[0];
      else main += '\n  ' + lines.join('\n  ') + '\n';
    }
    return main + ')';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** PyTorch's Python bool spelling, for `extraRepr`s. */
export function pyBool(b: boolean): string {
  return b ? 'True' : 'False';
}

