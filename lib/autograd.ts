// Grad mode (thread-local in libtorch; the main thread's here).
import { native } from './native';

function withGradMode<T>(name: string, enabled: boolean, fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`torch.${name}: expected fn to be a function, got ${typeof fn}`);
  const prev = native.isGradEnabled();
  native.setGradEnabled(enabled);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/**
 * Runs `fn` with gradient recording off (PyTorch's `with torch.no_grad():`) and returns what it
 * returns. Synchronous: in an async `fn` only the part before the first `await` is affected.
 */
export function noGrad<T>(fn: () => T): T {
  return withGradMode('noGrad', false, fn);
}

/** Runs `fn` with gradient recording on (inside a `noGrad`, for example). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode('enableGrad', true, fn);
}

/** Whether operations are recorded for autograd right now. */
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/** Turns gradient recording on or off until changed again. */
export function setGradEnabled(enabled: boolean): void {
  if (typeof enabled !== 'boolean')
    throw new TypeError(`torch.setGradEnabled: expected enabled to be a boolean, got ${typeof enabled}`);
  native.setGradEnabled(enabled);
}
