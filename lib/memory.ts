// Memory scopes: torch.tidy, torch.keep, torch.memory.
import { native } from './native';
import { scopes } from './scope';
import { Tensor, armGC } from './tensor';

const kept = new WeakSet<Tensor>();

function collect(v: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (v instanceof Tensor) { out.add(v); return; }
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (Array.isArray(v)) { for (const x of v) collect(x, out, seen); return; }
  if (v instanceof Map) { for (const [k, x] of v) { collect(k, out, seen); collect(x, out, seen); } return; }
  if (v instanceof Set) { for (const x of v) collect(x, out, seen); return; }
  if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, seen);
}

function isThenable(v: unknown): boolean {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Runs `fn` and then disposes every tensor created while it ran, except the tensors it returns
 * (directly, or inside arrays, Maps, Sets and plain objects) and those passed to `torch.keep`.
 * Returned tensors move to the enclosing `tidy`, if any. Scopes nest. If `fn` throws, all of
 * its tensors are disposed and the error propagates.
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
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) { if (kept.has(t)) armGC(t); else disposeOrDefer(t); }
    throw e;
  }
  scopes.pop();
  if (isThenable(result)) {
    // The async body still runs and may use what it created: leave those tensors to the GC.
    for (const t of scope) armGC(t);
    throw new TypeError('torch.tidy: fn returned a Promise; tidy only scopes synchronous code. ' +
      'In async code, dispose tensors explicitly or with `using`.');
  }
  const keep = new Set<Tensor>();
  collect(result, keep, new Set());
  const parent = scopes.length ? scopes[scopes.length - 1] : undefined;
  for (const t of scope) {
    if (kept.has(t)) armGC(t);  // kept tensors leave every scope
    else if (keep.has(t)) { if (parent) parent.push(t); else armGC(t); }
    else disposeOrDefer(t);

  }
  return result;
}

// dispose is idempotent on any real handle; it throws only for a tensor held by an in-flight
// async call, which then falls back to the GC (the async call keeps its data alive meanwhile).
function disposeOrDefer(t: Tensor): void {
  try { t.dispose(); } catch { armGC(t); }
}

/** Exempts a tensor from disposal by any enclosing `tidy`; returns it. */
export function keep<T extends Tensor>(t: T): T {
  if (!(t instanceof Tensor)) throw new TypeError(`torch.keep: expected a Tensor, got ${typeof t}`);
  kept.add(t);
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
export function memory(): { tensors: number; bytes: number } {
  return native.memory();
}
