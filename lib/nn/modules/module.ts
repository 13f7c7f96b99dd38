// nn.Module: the tree of submodules, parameters and buffers, with PyTorch's names and order.
import { noGrad } from '../../autograd';
import { checkDevice } from '../../device';
import { type DType, dtypeCode, isFloatingPoint } from '../../dtype';
import { checkBool, checkOptions, describe } from '../../errors';
import { tracedForwardAsync } from '../../jit_trace';
import { keep } from '../../memory';
import { native as N } from '../../native';
import { Tensor } from '../../tensor';
import { Parameter } from '../parameter';

/** A module's parameters and buffers by their PyTorch key (`'encoder.weight_ih_l0'`). */
export type StateDict = Record<string, Tensor>;

/** What `Module.loadStateDict` returns: the keys the module has that the state dict lacked, and the other way round. */
export interface LoadResult {
  /** The module's keys the state dict did not have. */
  missingKeys: string[];
  /** The state dict's keys the module does not have. */
  unexpectedKeys: string[];
}

type Kind = 'parameter' | 'buffer' | 'module';

interface Internals {
  /** Registered buffers (by `registerBuffer`), persistent or not. */
  buffers: Map<string, { persistent: boolean }>;
  /** The kind of each name registered by `registerParameter/registerBuffer/registerModule`. */
  kinds: Map<string, Kind>;
  /**
   * Registered names in registration order (PyTorch's dict order). Explicit registrations are
   * appended when made; names registered by plain assignment are appended, in `Object.keys`
   * order, at the next registration or traversal (see `sync`).
   */
  order: string[];
  ordered: Set<string>;
}
const internals = new WeakMap<Module, Internals>();
function inner(m: Module): Internals {
  let i = internals.get(m);
  if (!i) {
    i = { buffers: new Map(), kinds: new Map(), order: [], ordered: new Set() };
    internals.set(m, i);
  }
  return i;
}

const hasOwn = (o: object, k: string): boolean => Object.hasOwn(o, k);

/**
 * Brings the recorded order up to date: forgets names deleted from the object (PyTorch's
 * `__delattr__` unregisters them), then appends names that now hold a Parameter or a Module
 * (registration by assignment) in `Object.keys` order.
 */
function sync(m: Module, i: Internals): void {
  if (i.order.some((k) => !hasOwn(m, k))) {
    i.order = i.order.filter((k) => {
      if (hasOwn(m, k)) return true;
      i.ordered.delete(k);
      i.kinds.delete(k);
      i.buffers.delete(k);
      return false;
    });
  }
  const rec = m as unknown as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    if (i.ordered.has(k)) continue;
    const v = rec[k];
    if (v instanceof Parameter || v instanceof Module) {
      i.order.push(k);
      i.ordered.add(k);
    }
  }
}

interface OwnEntries {
  params: [string, Parameter][];
  buffers: [string, Tensor, boolean][];
  children: [string, Module][];
  /** The submodule slots, with those registered as `null` (printed as `None`). */
  slots: [string, Module | null][];
}

/** A module's own (non-recursive) entries in registration order, not deduplicated. */
function own(m: Module): OwnEntries {
  const out: OwnEntries = { params: [], buffers: [], children: [], slots: [] };
  const i = inner(m);
  sync(m, i);
  const rec = m as unknown as Record<string, unknown>;
  for (const key of i.order) {
    // a registered name later hidden (made non-enumerable) is no longer an entry
    if (!Object.prototype.propertyIsEnumerable.call(m, key)) continue;
    const v = rec[key];
    const b = i.buffers.get(key);
    if (b) {
      if (v instanceof Tensor) out.buffers.push([key, v, b.persistent]);
    } else if (v instanceof Parameter) out.params.push([key, v]);
    else if (v instanceof Module) {
      out.children.push([key, v]);
      out.slots.push([key, v]);
    } else if (v === null && i.kinds.get(key) === 'module') out.slots.push([key, null]);
  }
  return out;
}

/**
 * The generator of `namedParameters` / `namedBuffers`: the tensors that `pick` takes from each
 * module's own entries (this module only with `recurse: false`), each once, by dotted name.
 */
function* namedTensors<T extends Tensor>(
  m: Module,
  opts: { prefix?: string; recurse?: boolean },
  pick: (o: OwnEntries) => Iterable<[string, T, ...unknown[]]>,
): IterableIterator<[string, T]> {
  const seen = new Set<T>();
  const prefix = opts.prefix ?? '';
  const mods: Iterable<[string, Module]> = opts.recurse === false ? [[prefix, m]] : m.namedModules(prefix);
  for (const [mp, sub] of mods) {
    for (const [name, t] of pick(own(sub))) {
      if (seen.has(t)) continue;
      seen.add(t);
      yield [mp ? `${mp}.${name}` : name, t];
    }
  }
}

/**
 * The submodule slots of a module in registration order, repeats included and `null` slots
 * included (PyTorch's `_modules.items()`); for the containers, whose length and iteration count
 * every entry.
 */
export function moduleSlots(m: Module): [string, Module | null][] {
  return own(m).slots;
}

/** Python's repr of a float (1e-05, 0.1, 1.0, 1e+16), for `extraRepr`s. */
export function fmtFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const ax = Math.abs(x);
  if (ax !== 0 && (ax < 1e-4 || ax >= 1e16)) {
    // shortest round-trip digits, Python's exponent style (at least two digits)
    return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

// ---- deep copy (PyTorch's copy.deepcopy of a module) -------------------------------------------

/**
 * A copy of `v` for `Module.clone`: modules, tensors, arrays, Maps, Sets and plain objects are
 * copied, each once (through `memo`, what the original shares, cycles included, is shared in the
 * copy); anything else (functions, instances of other classes) is the same value, as
 * `copy.deepcopy` shares functions.
 */
function copyValue(v: unknown, memo: Map<unknown, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (memo.has(v)) return memo.get(v);
  if (v instanceof Tensor) {
    // detach, then clone: new storage with the same values, no autograd history
    const data = v.detach();
    const c = data.clone();
    data.dispose();
    let out: Tensor;
    if (v instanceof Parameter) {
      out = new Parameter(c, v.requiresGrad); // kept, and sharing c's storage
      c.dispose();
      const g = v.grad;
      if (g) {
        const gc = g.clone();
        out.grad = gc;
        gc.dispose();
        g.dispose();
      }
    } else {
      out = keep(c);
      if (v.requiresGrad) out.requiresGrad_(true);
    }
    memo.set(v, out);
    return out;
  }
  if (v instanceof Module) return copyModule(v, memo);
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
    const out = Object.create(proto) as object;
    memo.set(v, out);
    copyOwn(v, out, memo);
    return out;
  }
  return v;
}

/** Defines on `to` a copy of every own property of `from` (hidden ones and accessors included). */
function copyOwn(from: object, to: object, memo: Map<unknown, unknown>): void {
  for (const key of Reflect.ownKeys(from)) {
    const desc = Object.getOwnPropertyDescriptor(from, key)!;
    if ('value' in desc) desc.value = copyValue(desc.value, memo);
    Object.defineProperty(to, key, desc);
  }
}

/** The copy of a module: same class, its own properties copied, its registrations (order, kinds, buffers) too. */
function copyModule(m: Module, memo: Map<unknown, unknown>): Module {
  const copy = Object.create(Object.getPrototypeOf(m)) as Module;
  memo.set(m, copy);
  const i = inner(m);
  sync(m, i);
  copyOwn(m, copy, memo);
  internals.set(copy, {
    buffers: new Map([...i.buffers].map(([k, b]) => [k, { ...b }])),
    kinds: new Map(i.kinds),
    order: [...i.order],
    ordered: new Set(i.ordered),
  });
  return copy;
}

/** Modules whose `train()` is running, so that a module that contains itself does not recurse forever. */
const inTrain = new Set<Module>();

/** Adds `n` spaces to every line but the first (PyTorch's `_addindent`). */
function addIndent(s: string, n: number): string {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  return [lines[0], ...lines.slice(1).map((l) => ' '.repeat(n) + l)].join('\n');
}

// A module-level helper rather than a method, so that it is not reachable as `module.checkName`
// (the fuzzer found that a private method is still callable from JS with any arguments).
function checkName(fn: string, name: unknown): void {
  if (typeof name !== 'string' || name === '' || name.includes('.'))
    throw new TypeError(`Module.${fn}: expected name to be a non-empty string without '.', got ${describe(name)}`);
}

/**
 * Base class for all neural network modules (PyTorch's `nn.Module`).
 *
 * Submodules and `nn.Parameter`s are registered by plain assignment — `this.fc = new nn.Linear(4, 2)`
 * in the constructor, or a class field — in assignment order, as PyTorch's `__setattr__` does;
 * buffers with `registerBuffer`; any of them with `registerParameter` / `registerModule` /
 * `registerBuffer`, which is also how to declare a `null` slot. Names, `stateDict()` keys and
 * their order are PyTorch's, so checkpoints move both ways.
 *
 * Registering a name that is already an attribute of another kind — a parameter registered as a
 * buffer, a method or accessor of the class (`train`, `forward`, a ModuleDict's `keys`), a
 * setting such as `inFeatures` — throws, like PyTorch's `KeyError: "attribute 'x' already
 * exists"`. Registering again under the same kind replaces the value and keeps the position. A
 * name holding `null` or `undefined` that was never registered (a class field declaration) can be
 * registered as anything, and so can a plain tensor attribute as a buffer.
 *
 * Limitations of registration by plain assignment (there is no `__setattr__` to hook without a
 * Proxy):
 * - Order: names registered by assignment come in the order in which their properties were
 *   created on the object (explicit registrations are recorded when made). A class field declared
 *   without an initializer (`fc2!: nn.Linear;`) is created, as `undefined`, when the fields are
 *   initialised (target ES2022), so it takes its declaration position, not the position of its
 *   assignment in the constructor. Use
 *   `declare fc2: nn.Linear;` (which emits no field), or declare fields in assignment order.
 *   Also, JavaScript lists integer-like property names (`'2'`, `'10'`) before the others in
 *   ascending order: give such names with `registerModule` / `registerParameter` /
 *   `registerBuffer` (the containers do), which record the registration order.
 * - Assigning a plain (non-Parameter) tensor to a parameter's name (`lin.weight = t`) replaces the
 *   parameter silently: it is no longer listed by `parameters()` or `stateDict()` (PyTorch raises
 *   a TypeError). Assign an `nn.Parameter`, or copy into the parameter (`lin.weight.copy_(t)`
 *   under `torch.noGrad`).
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

  /**
   * `forward` on libuv's thread pool, for any module: the event loop stays free while it runs.
   * Modules that have their own (Linear, the RNNs, MultiheadAttention, the Transformer layers,
   * Sequential) override it. This default traces `forward` (see `torch.jit.trace` for the rules)
   * the first time it sees an input signature, and replays the trace on the pool afterwards; the
   * first call's result is that of the traced run itself, computed on the JS thread.
   *
   * The signature is: each tensor argument's shape, dtype, device and requiresGrad; the
   * non-tensor arguments' values and the arguments' structure; grad mode; the `training` flag of
   * every submodule. A new signature traces again (up to 16 per module); replacing a parameter
   * or buffer (or changing its dtype, device or shape) drops the module's traces. As with
   * `torch.jit.trace`, JavaScript control flow and numbers computed in `forward` are frozen per
   * signature, and random ops draw anew at each call. Gradients reach the parameters as with
   * `forward`. The inputs, parameters and buffers cannot be disposed or modified in place until
   * the promise settles (such calls throw).
   *
   * When `forward` cannot be traced (it reads tensor values into JavaScript with `item()`,
   * `data()`, `toArray()` or by printing a tensor; it takes an argument or returns a value that
   * is not a tensor, a number, a boolean, a string, null, or an array or plain object of them; it
   * uses a tensor that requires grad and is not a parameter; or more than 16 signatures), it runs
   * `forward` synchronously and returns its result in a resolved promise, with a one-time
   * `TraceWarning` (process.emitWarning) per module and reason that names the reason. Errors
   * `forward` throws reject the promise unchanged (same error types as `forward`).
   *
   * @example
   * class Net extends nn.Module {
   *   fc1 = new nn.Linear(4, 8);
   *   fc2 = new nn.Linear(8, 1);
   *   forward(x: Tensor) { return this.fc2.forward(this.fc1.forward(x).relu()); }
   * }
   * const y = await new Net().forwardAsync(torch.randn(32, 4));
   */
  // biome-ignore lint/suspicious/noExplicitAny: subclasses narrow both the arguments and the result
  forwardAsync(...args: any[]): Promise<any> {
    return tracedForwardAsync(this, args);
  }

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
    checkName('registerBuffer', name);
    if (tensor !== null && !(tensor instanceof Tensor))
      throw new TypeError(`Module.registerBuffer: expected tensor to be a Tensor or null, got ${describe(tensor)}`);
    const persistent =
      opts.persistent === undefined ? true : checkBool('Module.registerBuffer', 'persistent', opts.persistent);
    this.claim('registerBuffer', name, 'buffer');
    if (tensor) keep(tensor);
    inner(this).buffers.set(name, { persistent });
    (this as Record<string, unknown>)[name] = tensor;
  }

  /** Registers a parameter under `name` (as assigning it, but a `null` slot stays a parameter slot). */
  registerParameter(name: string, param: Parameter | null): void {
    checkName('registerParameter', name);
    if (param !== null && !(param instanceof Parameter))
      throw new TypeError(
        `Module.registerParameter: expected param to be an nn.Parameter or null, got ${describe(param)}`,
      );
    this.claim('registerParameter', name, 'parameter');
    (this as Record<string, unknown>)[name] = param;
  }

  /** Registers a submodule under `name` (as assigning it; `null` declares a slot, printed as `None`). */
  registerModule(name: string, module: Module | null): void {
    checkName('registerModule', name);
    if (module !== null && !(module instanceof Module))
      throw new TypeError(`Module.registerModule: expected module to be an nn.Module or null, got ${describe(module)}`);
    this.claim('registerModule', name, 'module');
    (this as Record<string, unknown>)[name] = module;
  }

  /**
   * Checks that `name` is free for an entry of this kind (PyTorch's `hasattr(self, name) and
   * name not in self._<kind>s`), then records it in the registration order.
   */
  private claim(fn: string, name: string, kind: Kind): void {
    const exists = (): never => {
      throw new Error(`Module.${fn}: attribute '${name}' already exists`);
    };
    const i = inner(this);
    if (!hasOwn(this, name)) {
      if (name in this) exists(); // a method or accessor of the class (or of Object)
    } else {
      const desc = Object.getOwnPropertyDescriptor(this, name)!;
      if (!('value' in desc) || !desc.enumerable) exists(); // a setting or accessor of the instance
      const v = desc.value as unknown;
      let current: Kind | undefined;
      if (i.buffers.has(name)) current = 'buffer';
      else if (v instanceof Parameter) current = 'parameter';
      else if (v instanceof Module) current = 'module';
      else if (v === null || v === undefined)
        current = i.kinds.get(name); // a null slot, or a declared field
      else if (kind === 'buffer' && v instanceof Tensor)
        current = 'buffer'; // a plain tensor attribute
      else exists();
      if (current !== undefined && current !== kind) exists();
    }
    sync(this, i); // names registered by assignment since the last registration come first
    if (!i.ordered.has(name)) {
      i.order.push(name);
      i.ordered.add(name);
    }
    i.kinds.set(name, kind);
  }

  // ---- traversal -----------------------------------------------------------------------------
  // Every traversal is a generator, as PyTorch's are: it yields lazily (stop early with `break`)
  // and is consumed once; spread it (`[...m.parameters()]`) for an array. A parameter, buffer or
  // module reachable under several names is yielded once, under the first name.

  /** Immediate children as `[name, module]` (PyTorch's `named_children`), each module once. */
  *namedChildren(): IterableIterator<[string, Module]> {
    const seen = new Set<Module>();
    for (const [name, m] of own(this).children) {
      if (seen.has(m)) continue;
      seen.add(m);
      yield [name, m];
    }
  }
  /** Immediate children (PyTorch's `children`), each module once. */
  *children(): IterableIterator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /**
   * This module and all below it, pre-order, as `[dottedName, module]` (PyTorch's `named_modules`;
   * the root is `prefix`, `''` by default). `memo` holds the modules already yielded (each once).
   */
  *namedModules(prefix = '', memo = new Set<Module>()): IterableIterator<[string, Module]> {
    if (memo.has(this)) return;
    memo.add(this);
    yield [prefix, this];
    for (const [name, m] of own(this).children) {
      yield* m.namedModules(prefix ? `${prefix}.${name}` : name, memo);
    }
  }
  /** This module and all below it, pre-order, each once (PyTorch's `modules`). */
  *modules(): IterableIterator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /**
   * Parameters as `[dottedName, Parameter]`, each once, in PyTorch's order (`named_parameters`):
   * this module's and, unless `recurse: false`, its submodules'; names start with `prefix`.
   */
  *namedParameters(opts: { prefix?: string; recurse?: boolean } = {}): IterableIterator<[string, Parameter]> {
    yield* namedTensors(this, opts, (o) => o.params);
  }
  /** The parameters of `namedParameters`, without names: what an optimizer takes. */
  *parameters(opts: { recurse?: boolean } = {}): IterableIterator<Parameter> {
    for (const [, p] of this.namedParameters(opts)) yield p;
  }

  /**
   * Buffers as `[dottedName, Tensor]`, each once, in PyTorch's order (`named_buffers`), persistent
   * or not: this module's and, unless `recurse: false`, its submodules'; names start with `prefix`.
   */
  *namedBuffers(opts: { prefix?: string; recurse?: boolean } = {}): IterableIterator<[string, Tensor]> {
    yield* namedTensors(this, opts, (o) => o.buffers);
  }
  /** The buffers of `namedBuffers`, without names. */
  *buffers(opts: { recurse?: boolean } = {}): IterableIterator<Tensor> {
    for (const [, b] of this.namedBuffers(opts)) yield b;
  }

  // ---- copying -------------------------------------------------------------------------------
  /**
   * A deep copy of this module (PyTorch's `copy.deepcopy(module)`): the same classes, settings
   * and training modes, with new parameters and buffers holding copies of the values (and of the
   * gradients), so that training the copy leaves this module as it was. `requiresGrad`, buffer
   * persistence and registration order (and so `stateDict()` keys) are kept. A parameter, buffer
   * or submodule reachable under two names (tied weights) is one object in the copy too.
   *
   * Like deepcopy, copying draws no random numbers (a seeded construction goes on as in PyTorch),
   * and functions are shared, not copied: a function attribute (an activation given as a function,
   * a callback kept as a hook) is the same function in the copy, as deepcopy keeps PyTorch's hook
   * functions. Arrays, Maps, Sets and plain objects are copied; instances of other classes are
   * shared. A subclass that keeps state in `#private` fields must copy them itself.
   *
   * The new tensors are kept, as a module's own are: a `torch.tidy` around `clone()` leaves them alive.
   * @example
   * const layers = new nn.ModuleList(Array.from({ length: 6 }, () => layer.clone())); // PyTorch's _get_clones
   */
  clone(): this {
    return copyModule(this, new Map()) as this;
  }

  // ---- modes and gradients --------------------------------------------------------------------
  /**
   * Sets training mode on this module, and calls each child's `train(mode)` (so a subclass that
   * overrides `train` is honoured, as in PyTorch); returns `this`.
   */
  train(mode = true): this {
    checkBool('Module.train', 'mode', mode);
    if (inTrain.has(this)) return this;
    inTrain.add(this);
    try {
      this.training = mode;
      for (const m of this.children()) m.train(mode);
    } finally {
      inTrain.delete(this);
    }
    return this;
  }
  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }
  /** Resets the gradients of all parameters: to null (default, as PyTorch 2) or to zero. */
  zeroGrad(opts: { setToNone?: boolean } = {}): void {
    const o = checkOptions<{ setToNone?: boolean }>('Module.zeroGrad', opts, ['setToNone']);
    const setToNone = o.setToNone === undefined ? true : checkBool('Module.zeroGrad', 'setToNone', o.setToNone);
    for (const p of this.parameters()) {
      if (setToNone) {
        p.grad = null;
        continue;
      }
      const g = p.grad;
      if (g) {
        g.zero_();
        g.dispose();
      }
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
    if (typeof fn !== 'function')
      throw new TypeError(`Module.apply: expected fn to be a function, got ${describe(fn)}`);
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
      else {
        dtypeCode(fn, target);
        dtype = target as DType;
      }
    } else if (target !== null && typeof target === 'object') {
      if (target.dtype !== undefined) {
        dtypeCode(fn, target.dtype);
        dtype = target.dtype;
      }
      if (target.device !== undefined) device = checkDevice(fn, target.device);
    } else {
      throw new TypeError(`${fn}: expected a dtype, a device or {dtype, device}, got ${describe(target)}`);
    }
    if (dtype !== undefined && !isFloatingPoint(dtype))
      throw new TypeError(`${fn}: nn.Module.to only accepts floating point dtypes, got ${dtype}`);
    // The dtype a tensor changes to, if any (a floating-point dtype applies to floating tensors only).
    const newDtype = (t: Tensor) =>
      dtype !== undefined && isFloatingPoint(t.dtype) && dtype !== t.dtype ? dtype : undefined;
    const moves = (t: Tensor) => newDtype(t) !== undefined || (device !== undefined && device !== t.device);
    const convert = (t: Tensor): void => {
      const d = newDtype(t);
      if (!moves(t)) return;
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
    // All or nothing: check every tensor that changes before changing any (a tensor held by an
    // async call would otherwise be refused halfway, leaving the module half converted).
    for (const [name, t] of [...this.namedParameters(), ...this.namedBuffers()])
      if (moves(t) && N.inUse(t._h) !== 0)
        throw new Error(
          `${fn}: '${name}' is in use by an async operation (await it before moving the module); nothing was converted`,
        );
    noGrad(() => {
      for (const p of this.parameters()) convert(p);
      for (const b of this.buffers()) convert(b);
    });
    return this;
  }

  // ---- state ---------------------------------------------------------------------------------
  /**
   * Expected state entries in PyTorch's order, not deduplicated (as PyTorch's state_dict): a
   * module or tensor reachable under two names is listed under both. Only a module that contains
   * one of its ancestors (a cycle) is not entered again.
   */
  private stateEntries(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const ancestors = new Set<Module>();
    const visit = (m: Module, prefix: string) => {
      if (ancestors.has(m)) return;
      ancestors.add(m);
      const o = own(m);
      for (const [name, p] of o.params) out.push([prefix + name, p]);
      for (const [name, b, persistent] of o.buffers) if (persistent) out.push([prefix + name, b]);
      for (const [name, c] of o.children) visit(c, `${prefix}${name}.`);
      ancestors.delete(m);
    };
    visit(this, '');
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
    const o = checkOptions<{ strict?: boolean }>(fn, opts, ['strict']);
    const strict = o.strict === undefined ? true : checkBool(fn, 'strict', o.strict);
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
      if (!(src instanceof Tensor)) {
        problems.push(`value for ${k} is not a Tensor (got ${describe(src)})`);
        continue;
      }
      if (src.isDisposed) {
        problems.push(`value for ${k} is a disposed tensor`);
        continue;
      }
      const a = target.shape,
        b = src.shape;
      if (a.length !== b.length || a.some((s, i) => s !== b[i]))
        problems.push(
          `size mismatch for ${k}: copying a param with shape [${b.join(', ')}], ` +
            `the shape in the current model is [${a.join(', ')}]`,
        );
      else copies.push([target, src]);
    }
    if (strict) {
      if (missingKeys.length)
        problems.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
      if (unexpectedKeys.length)
        problems.splice(
          missingKeys.length ? 1 : 0,
          0,
          `Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`,
        );
    }
    if (problems.length)
      throw new Error(`${fn}: Error(s) in loading state_dict for ${this.getName()}:\n\t${problems.join('\n\t')}`);
    // All or nothing, as Module.to: a tensor held by an async call (a target read or written by
    // it, a source written by it) would otherwise be refused halfway, leaving the model half loaded.
    const keyOf = new Map(expected.map(([k, t]) => [t, k] as [Tensor, string]));
    for (const [t, s] of copies) {
      if (N.inUse(t._h) !== 0)
        throw new Error(
          `${fn}: '${keyOf.get(t)}' is in use by an async operation (await it before loading); nothing was loaded`,
        );
      if (N.inUse(s._h) === 2)
        throw new Error(
          `${fn}: the value for '${keyOf.get(t)}' is being written by an async operation ` +
            '(await it before loading); nothing was loaded',
        );
    }
    noGrad(() => {
      for (const [t, s] of copies) t.copy_(s);
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- printing ------------------------------------------------------------------------------
  /** Prints like PyTorch's `repr(module)`. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split('\n') : [];
    const childLines = own(this).slots.map(([k, m]) => `(${k}): ${m === null ? 'None' : addIndent(m.toString(), 2)}`);
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

/** How Python prints an int or a tuple of ints (`3`, `(3,)`, `(3, 3)`), for `extraRepr`s. */
export function pyTuple(v: number | readonly number[]): string {
  if (typeof v === 'number') return String(v);
  return v.length === 1 ? `(${v[0]},)` : `(${v.join(', ')})`;
}

/** PyTorch's Python bool spelling, for `extraRepr`s. */
export function pyBool(b: boolean): string {
  return b ? 'True' : 'False';
}
