// The stack of open `torch.tidy` scopes. Every Tensor created while a scope is open is recorded
// in the innermost one (see memory.ts for what happens when it closes).
export interface Disposable {
  dispose(): void;
}

export const scopes: Disposable[][] = [];

/** Records a new tensor in the innermost open scope (a no-op when none is open). */
export function track(t: Disposable): void {
  const n = scopes.length;
  if (n !== 0) scopes[n - 1].push(t);
}
