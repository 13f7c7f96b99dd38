// Memory scopes: torch.tidy, torch.keep, torch.memory.
import { native } from './native';
import { scopes } from './scope';
import { armGC, Tensor } from './tensor';

const kept = new WeakSet<Tensor>();
/** torch.keep calls so far: a scope during which there were none needs no `kept` lookups. */
let keepCalls = 0;

/**
 * Adds every tensor in `v` (inside arrays, Maps, Sets and plain objects) to `out`, in the order a
 * depth-first walk meets them (`dispose` frees them in that order). Iterative, so a deeply nested
 * result cannot overflow the stack; a getter or Proxy that throws propagates.
 */
function collect(root: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  const stack: unknown[] = [root];
  // children are pushed last first, so that they are popped in their own order
  const pushAll = (xs: unknown[]) => {
    for (let i = xs.length - 1; i >= 0; i--) stack.push(xs[i]);
  };
  while (stack.length) {
    const v = stack.pop();
    if (v instanceof Tensor) {
      out.add(v);
      continue;
    }
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) pushAll(v);
    else if (v instanceof Map) pushAll([...v].flat());
    else if (v instanceof Set) pushAll([...v]);
    else if (Object.getPrototypeOf(v) === Object.prototype) pushAll(Object.values(v));
  }
}

function isThenable(v: unknown): boolean {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/**
 * Runs `fn` and then disposes every tensor created while it ran, except the tensors it returns
 * (directly, or inside arrays, Maps, Sets and plain objects) and those passed to `torch.keep`.
 * Returned tensors move to the enclosing `tidy`, if any. Scopes nest. If `fn` throws, or reading
 * its result throws (a getter, a Proxy), all of its tensors are disposed and the error propagates.
 *
 * `fn` must be synchronous: an async function's tensors are created after `tidy` returns, so a
 * Promise result throws a TypeError (use explicit `dispose()` or `using` in async code).
 *
 * @example const loss = torch.tidy(() => model.forward(x).sub(y).pow(2).mean());
 */
export function tidy<T>(fn: () => T): T;
export function tidy<T>(name: string, fn: () => T): T;
export function tidy<T>(nameOrFn: string | (() => T), maybeFn?: () => T): T {
  const fn = typeof nameOrFn === 'function' ? nameOrFn : maybeFn;
  if (typeof fn !== 'function') throw new TypeError(`torch.tidy: expected fn to be a function, got ${typeof fn}`);
  const scope: Tensor[] = [];
  scopes.push(scope);
  let result: T;
  let thenable: boolean;
  const keep = new Set<Tensor>();
  const keepsBefore = keepCalls;
  try {
    result = fn();
    thenable = isThenable(result);
    // Scanning the result can throw too (a getter, a Proxy): the scope is closed either way.
    if (!thenable && result !== undefined && result !== null) collect(result, keep, new Set());
  } catch (e) {
    scopes.pop();
    for (const t of scope) {
      if (kept.has(t)) armGC(t);
      else disposeOrDefer(t);
    }
    throw e;
  }
  scopes.pop();
  if (thenable) {
    // The async body still runs and may use what it created: leave those tensors to the GC.
    for (const t of scope) armGC(t);
    throw new TypeError(
      'torch.tidy: fn returned a Promise; tidy only scopes synchronous code. ' +
        'In async code, dispose tensors explicitly or with `using`.',
    );
  }
  if (keep.size === 0 && keepCalls === keepsBefore) {
    // Nothing returned, nothing kept (the common `tidy(() => { ... })` of a loop body): every
    // tensor of the scope goes, without a lookup per tensor.
    disposeAll(scope);
    return result;
  }
  const parent = scopes.length ? scopes[scopes.length - 1] : undefined;
  for (const t of scope) {
    if (kept.has(t))
      armGC(t); // kept tensors leave every scope
    else if (keep.has(t)) {
      if (parent) parent.push(t);
      else armGC(t);
    } else disposeOrDefer(t);
  }
  return result;
}

// disposeAll's batch: the number handles of up to 1024 tensors, and where each is in the scope.
const batch = new Float64Array(1024);
const batchAt = new Int32Array(1024);

/**
 * disposeOrDefer for every tensor of `ts`, the small ones (number handles) in one native call per
 * 1024 instead of one each: a tidy around a loop of small ops closes with thousands of them.
 */
function disposeAll(ts: Tensor[]): void {
  let n = 0;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    const h = t._h;
    if (typeof h !== 'number') disposeOrDefer(t);
    else if (!t._disposed) {
      batch[n] = h;
      batchAt[n++] = i;
      t._disposed = true;
      if (n === batch.length) {
        flushBatch(ts, n);
        n = 0;
      }
    }
  }
  if (n !== 0) flushBatch(ts, n);
}

/** Disposes the first `n` handles of the batch; those an async call holds are left to the GC. */
function flushBatch(ts: Tensor[], n: number): void {
  if (native.disposeHandles(batch, n) === 0) return;
  for (let k = 0; k < n; k++) {
    if (batch[k] !== -1) continue;
    const t = ts[batchAt[k]];
    t._disposed = false;
    armGC(t);
  }
}

// dispose is idempotent on any real handle; it throws only for a tensor held by an in-flight
// async call, which then falls back to the GC (the async call keeps its data alive meanwhile).
function disposeOrDefer(t: Tensor): void {
  try {
    t.dispose();
  } catch {
    armGC(t);
  }
}

/** Exempts a tensor from disposal by any enclosing `tidy`; returns it. */
export function keep<T extends Tensor>(t: T): T {
  if (!(t instanceof Tensor)) throw new TypeError(`torch.keep: expected a Tensor, got ${typeof t}`);
  kept.add(t);
  keepCalls++;
  return t;
}

/** Disposes every tensor found in `v` (a tensor, arrays, objects, Maps of tensors). */
export function dispose(v: unknown): void {
  const all = new Set<Tensor>();
  collect(v, all, new Set());
  for (const t of all) t.dispose();
}

/**
 * Live native tensors and their bytes. Each tensor counts its own size, but never more than its
 * storage holds: a view counts again the bytes it shares with its base (so `bytes` can exceed
 * what is allocated), and an `expand`ed view counts at most its storage.
 */
export function memory(): {
  /** The number of live native tensors. */
  tensors: number;
  /** The bytes of their storages. */
  bytes: number;
} {
  return native.memory();
}
