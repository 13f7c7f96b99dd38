// Functions of the torch namespace that are not factories: torch.cat, torch.stack, torch.where, ...
// Most forward to the Tensor method of the same name, as PyTorch's do.
import { checkInt, rangeError, typeError } from './errors';
import { type Handle, native as N } from './native';
import { checkDimRange, disposedError, handle, operand, Tensor, type TensorOrScalar } from './tensor';

function tensorList(fn: string, ts: unknown): Handle[] {
  if (!Array.isArray(ts)) typeError(fn, 'tensors', 'an array of Tensors', ts);
  if (ts.length === 0) throw new RangeError(`${fn}: expected a non-empty array of Tensors`);
  return ts.map((t, i) =>
    t instanceof Tensor && t._disposed ? disposedError(fn, `element ${i} of tensors`) : handle(t, fn, `tensors[${i}]`),
  );
}

/** Concatenates along an existing dim (empty 1-D tensors are skipped, as PyTorch's legacy rule). */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  const fn = 'torch.cat';
  const hs = tensorList(fn, tensors);
  checkInt(fn, 'dim', dim);
  // PyTorch checks dim against the first tensor that is not 1-D and empty (0-dim ones fail below).
  const ref = tensors.find((t) => t.ndim !== 1 || t.shape[0] !== 0);
  if (ref !== undefined && ref.ndim > 0) checkDimRange(fn, 'dim', [dim], ref.ndim);
  return new Tensor(N.cat(hs, dim));
}
/** Stacks along a new dim. */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  const fn = 'torch.stack';
  const hs = tensorList(fn, tensors);
  checkDimRange(fn, 'dim', [checkInt(fn, 'dim', dim)], tensors[0].ndim, 1);
  return new Tensor(N.stack(hs, dim));
}
/** `condition ? input : other`, elementwise, broadcasting (either may be a number, boolean or bigint). */
export function where(condition: Tensor, input: TensorOrScalar, other: TensorOrScalar): Tensor {
  const fn = 'torch.where';
  const kinds = (input instanceof Tensor ? 1 : 0) | (other instanceof Tensor ? 2 : 0);
  const c = handle(condition, fn, 'condition');
  return new Tensor(N.where(c, operand(input, fn, 'input'), operand(other, fn, 'other'), kinds));
}

/** The ops `runAsync` runs, with their tensor arguments (`?`: optional, may be null). */
const ASYNC_OPS = {
  matmul: ['input', 'other'],
  mm: ['input', 'mat2'],
  bmm: ['input', 'mat2'],
  linear: ['input', 'weight', 'bias?'],
} as const;
/** An op `torch.runAsync` can run. */
export type AsyncOp = keyof typeof ASYNC_OPS;

/**
 * Runs one op on the libuv thread pool and resolves to its result, leaving the event loop free
 * meanwhile: `'matmul'`, `'mm'`, `'bmm'` `(input, other)` and `'linear'` `(input, weight, bias?)`,
 * with PyTorch's semantics (`torch.matmul`, `F.linear`, ...).
 *
 * Until the Promise settles its arguments are in use: `dispose()` and in-place methods on them
 * throw. The result is not owned by any `torch.tidy` scope: dispose it yourself.
 *
 * @throws (rejects) TypeError for an argument that is not a Tensor, RangeError for an unknown op
 *   or a wrong argument count, TorchError with libtorch's message (a shape mismatch).
 * @example const y = await torch.runAsync('linear', x, weight, bias);   // (N, in) -> (N, out)
 */
export function runAsync(op: 'matmul' | 'mm' | 'bmm', input: Tensor, other: Tensor): Promise<Tensor>;
export function runAsync(op: 'linear', input: Tensor, weight: Tensor, bias?: Tensor | null): Promise<Tensor>;
export async function runAsync(op: AsyncOp, ...args: (Tensor | null | undefined)[]): Promise<Tensor> {
  const fn = 'torch.runAsync';
  const ops = `one of ${Object.keys(ASYNC_OPS)
    .map((k) => `'${k}'`)
    .join(', ')}`;
  if (typeof op !== 'string') typeError(fn, 'op', ops, op);
  if (!Object.hasOwn(ASYNC_OPS, op)) rangeError(fn, 'op', ops, op);
  const names: readonly string[] = ASYNC_OPS[op];
  const required = names.filter((n) => !n.endsWith('?')).length;
  if (args.length < required || args.length > names.length)
    throw new RangeError(
      `${fn}: '${op}' takes ${required === names.length ? required : `${required} or ${names.length}`} ` +
        `tensors (${names.join(', ')}), got ${args.length}`,
    );
  const hs = args.map((t, i) => {
    const name = names[i].replace('?', '');
    return (t === null || t === undefined) && names[i].endsWith('?') ? undefined : handle(t, fn, name);
  });
  const [h] = await N.runAsync(op, ...hs);
  return new Tensor(h);
}

const method = <K extends keyof Tensor>(name: K) =>
  ((t: Tensor, ...args: unknown[]) => {
    if (!(t instanceof Tensor)) typeError(`torch.${String(name)}`, 'input', 'a Tensor', t);
    return (t[name] as unknown as (...a: unknown[]) => unknown)(...args);
  }) as unknown as Tensor[K] extends (...a: infer A) => infer R ? (t: Tensor, ...a: A) => R : never;

/** `torch.add(input, ...)`: adds a tensor or scalar (times `alpha`) to `input` (`input.add(...)`). */
export const add = method('add');
/** `torch.sub(input, ...)`: subtracts a tensor or scalar (times `alpha`) from `input` (`input.sub(...)`). */
export const sub = method('sub');
/** `torch.mul(input, ...)`: multiplies `input` by a tensor or scalar, elementwise (`input.mul(...)`). */
export const mul = method('mul');
/**
 * `torch.div(input, ...)`: divides `input` by a tensor or scalar, with an optional `roundingMode` (`'trunc'`,
 * `'floor'`) (`input.div(...)`).
 */
export const div = method('div');
/** `torch.pow(input, ...)`: raises `input` to the power `exponent`, elementwise (`input.pow(...)`). */
export const pow = method('pow');
/**
 * `torch.matmul(input, ...)`: the matrix product of `input` and `other`, with PyTorch's broadcasting
 * (`input.matmul(...)`).
 */
export const matmul = method('matmul');
/** `input.matmulAsync(other)`: matmul on the libuv thread pool (see Tensor.matmulAsync). */
export const matmulAsync = method('matmulAsync');
/** `torch.softmax(input, ...)`: softmax along `dim` (`input.softmax(...)`). */
export const softmax = method('softmax');
/** `torch.logSoftmax(input, ...)`: the logarithm of the softmax along `dim` (`input.logSoftmax(...)`). */
export const logSoftmax = method('logSoftmax');
/** `torch.clamp(input, ...)`: clamps every element into `[min, max]` (`input.clamp(...)`). */
export const clamp = method('clamp');
/** `torch.flatten(input, ...)`: flattens dimensions `startDim..endDim` into one (`input.flatten(...)`). */
export const flatten = method('flatten');
/** `torch.reshape(input, ...)`: the same elements in another shape (a view when possible) (`input.reshape(...)`). */
export const reshape = method('reshape');
/** `torch.squeeze(input, ...)`: removes dimensions of size 1 (`input.squeeze(...)`). */
export const squeeze = method('squeeze');
/** `torch.unsqueeze(input, ...)`: inserts a dimension of size 1 at `dim` (`input.unsqueeze(...)`). */
export const unsqueeze = method('unsqueeze');
/** `torch.permute(input, ...)`: reorders the dimensions (a view) (`input.permute(...)`). */
export const permute = method('permute');
/** `torch.transpose(input, ...)`: swaps two dimensions (a view) (`input.transpose(...)`). */
export const transpose = method('transpose');
/** `torch.narrow(input, ...)`: the slice `start..start+length` along `dim` (a view) (`input.narrow(...)`). */
export const narrow = method('narrow');
/**
 * `torch.select(input, ...)`: the slice at `index` along `dim`, that dimension removed (a view)
 * (`input.select(...)`).
 */
export const select = method('select');
/** `torch.chunk(input, ...)`: splits into `chunks` pieces along `dim` (`input.chunk(...)`). */
export const chunk = method('chunk');
export const split = method('split');
/**
 * `torch.maskedFill(input, ...)`: a copy of `input` with `value` where the bool `mask` is true
 * (`input.maskedFill(...)`).
 */
export const maskedFill = method('maskedFill');
/**
 * `torch.allclose(input, ...)`: whether every element of `input` and `other` agree within `rtol` and `atol`
 * (`input.allclose(...)`).
 */
export const allclose = method('allclose');
/** `torch.equal(input, ...)`: whether `input` and `other` have the same shape and elements (`input.equal(...)`). */
export const equal = method('equal');
// PyTorch's torch.* spellings of these Tensor methods

export const norm = method('norm');
/**
 * `torch.round(input, ...)`: rounds to the nearest integer (halves to even), or to `decimals` decimals
 * (`input.round(...)`).
 */
export const round = method('round');
/**
 * `torch.remainder(input, ...)`: the remainder of the division, with the divisor's sign (Python's `%`)
 * (`input.remainder(...)`).
 */
export const remainder = method('remainder');
/** `torch.clone(input, ...)`: a copy with its own storage (`input.clone(...)`). */
export const clone = method('clone');
/** `torch.unbind(input, ...)`: the slices along `dim`, that dimension removed (`input.unbind(...)`). */
export const unbind = method('unbind');
