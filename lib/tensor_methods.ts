// The Tensor methods generated from libtorch's schemas (lib/generated/methods.ts), installed on
// the prototype next to the hand-written ones (which keep their own semantics: memory, indexing,
// autograd entry points). Importing this module once (lib/index.ts does) installs them.
import { opMethod } from './aten';
import { type GeneratedTensorMethods, METHODS } from './generated/methods';
import { Tensor } from './tensor';

declare module './tensor' {
  interface Tensor extends GeneratedTensorMethods {}
}

for (const [js, aten] of METHODS) {
  if (Object.hasOwn(Tensor.prototype, js)) continue; // hand-written: ours wins
  Object.defineProperty(Tensor.prototype, js, {
    value: opMethod(aten, `Tensor.${js}`),
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
