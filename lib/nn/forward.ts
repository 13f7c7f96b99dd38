// The forward engine of composed modules: one forward, written as a generator of steps, run
// either on the JS thread or with its heavy steps awaited on the libuv pool.
import { isGradEnabled, setGradEnabled } from '../autograd';
import { tidy } from '../memory';
import { scopes } from '../scope';
import { Tensor, tensorSerial } from '../tensor';
import { Module } from './modules/module';

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

/** `m.forward(...args)` as a step: async runs await `m.forwardAsync(...args)` when `m` has one of its own. */
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
