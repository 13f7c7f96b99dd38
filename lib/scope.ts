// The stack of open `torch.tidy` scopes. Every Tensor created while a scope is open is recorded
// in the innermost one by its constructor (see memory.ts for what happens when it closes).
export interface Disposable {
  dispose(): void;
}

export const scopes: Disposable[][] = [];
