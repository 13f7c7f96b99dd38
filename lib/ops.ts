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

export const add = method('add');
export const sub = method('sub');
export const mul = method('mul');
export const div = method('div');
export const pow = method('pow');
export const matmul = method('matmul');
/** `input.matmulAsync(other)`: matmul on the libuv thread pool (see Tensor.matmulAsync). */
export const matmulAsync = method('matmulAsync');
export const softmax = method('softmax');
export const logSoftmax = method('logSoftmax');
export const clamp = method('clamp');
export const flatten = method('flatten');
export const reshape = method('reshape');
export const squeeze = method('squeeze');
export const unsqueeze = method('unsqueeze');
export const permute = method('permute');
export const transpose = method('transpose');
export const narrow = method('narrow');
export const select = method('select');
export const chunk = method('chunk');
export const split = method('split');
export const maskedFill = method('maskedFill');
export const allclose = method('allclose');
export const equal = method('equal');
// PyTorch's torch.* spellings of these Tensor methods

export const norm = method('norm');
export const round = method('round');
export const remainder = method('remainder');
export const clone = method('clone');
export const unbind = method('unbind');
