// Errors and argument checks shared by the whole library.
import * as os from 'node:os';
import { native } from './native';

const TORCH_ERROR = Symbol.for('torch-napi.TorchError');

/**
 * An error raised by libtorch itself (shape mismatch in a kernel, bad dtype for an op, ...).
 * The message is libtorch's, without the C++ backtrace.
 */
export class TorchError extends Error {
  constructor(message: string) {
    // String() of an object without a prototype throws: describe it instead.
    super(typeof message === 'string' ? message : describe(message));
    this.name = 'TorchError';
    Object.defineProperty(this, TORCH_ERROR, { value: true });
  }

  /**
   * `err instanceof TorchError` holds for a TorchError made by any loaded copy of this package
   * (two copies in one process share one native addon, which raises the class registered last).
   */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return v instanceof Error && (v as unknown as Record<symbol, unknown>)[TORCH_ERROR] === true;
  }
}
native.registerErrorClass(TorchError);

/** A short description of a value for error messages: `undefined`, `the number NaN`, `a string ("x")`. */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return `the boolean ${v}`;
    case 'bigint':
      return `the bigint ${v}n`;
    case 'string':
      return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)})`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      break;
  }
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** Throws a TypeError naming the function, the argument, what was expected and what was got. */
export function typeError(fn: string, arg: string, expected: string, got: unknown): never {
  throw new TypeError(`${fn}: expected ${arg} to be ${expected}, got ${describe(got)}`);
}

export function rangeError(fn: string, arg: string, expected: string, got: unknown): never {
  throw new RangeError(`${fn}: expected ${arg} to be ${expected}, got ${describe(got)}`);
}

/** An integer (safe, finite); `min` is inclusive. */
export function checkInt(fn: string, arg: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number') typeError(fn, arg, 'an integer', v);
  if (!Number.isSafeInteger(v)) rangeError(fn, arg, 'an integer', v);
  if (v < min)
    rangeError(
      fn,
      arg,
      min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`,
      v,
    );
  return v;
}

export function checkNumber(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number') typeError(fn, arg, 'a number', v);
  return v;
}

export function checkBool(fn: string, arg: string, v: unknown): boolean {
  if (typeof v !== 'boolean') typeError(fn, arg, 'a boolean', v);
  return v;
}

/** A list of integers (dims, permutations). */
export function checkIntList(fn: string, arg: string, v: unknown): number[] {
  if (!Array.isArray(v)) typeError(fn, arg, 'an array of integers', v);
  for (let i = 0; i < v.length; i++) checkInt(fn, `${arg}[${i}]`, v[i]);
  return v as number[];
}

/** A shape for a new tensor: non-negative integers. */
export function checkShape(fn: string, arg: string, v: unknown): number[] {
  if (!Array.isArray(v)) typeError(fn, arg, 'an array of non-negative integers', v);
  for (let i = 0; i < v.length; i++) checkInt(fn, `${arg}[${i}]`, v[i], 0);
  return v as number[];
}

/**
 * A shape for reshape/view/expand: integers >= -1 (at most one -1 where it means "infer").
 */
export function checkViewShape(fn: string, arg: string, v: unknown): number[] {
  if (!Array.isArray(v)) typeError(fn, arg, 'an array of integers', v);
  for (let i = 0; i < v.length; i++) checkInt(fn, `${arg}[${i}]`, v[i], -1);
  return v as number[];
}

/**
 * `(shape[])` or `(...dims)` as PyTorch takes both: `zeros([2, 3])` and `zeros(2, 3)`.
 */
export function shapeArgs(fn: string, args: unknown[], check = checkShape): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return check(fn, 'shape', args[0]);
  return check(fn, 'shape', args);
}

const totalMemory = os.totalmem();

/** A shape as messages print it: `[2, 3]`. */
export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Whether `bytes` is more than this machine's memory (the budget `checkMemoryBudget` enforces). */
export function exceedsMemory(bytes: number): boolean {
  return bytes > totalMemory;
}

/**
 * The one memory budget: refuses, before anything is allocated, work that `what` says would need
 * `bytes`, more than this machine's memory. `what` completes "`${fn}: ${what} would need ...`".
 */
export function checkMemoryBudget(fn: string, what: string, bytes: number): void {
  if (exceedsMemory(bytes))
    throw new RangeError(
      `${fn}: ${what} would need ${formatBytes(bytes)}, more than this machine's ${formatBytes(totalMemory)} of memory`,
    );
}

/**
 * Refuses, before anything is allocated, a tensor whose element count overflows or whose bytes
 * exceed this machine's memory.
 */
export function checkAllocation(fn: string, shape: readonly number[], itemSize: number, device?: string): void {
  let numel = 1;
  for (const d of shape) numel *= d;
  if (!Number.isSafeInteger(numel))
    throw new RangeError(`${fn}: shape ${shapeStr(shape)} has ${numel} elements, more than a tensor can hold`);
  if (device === undefined || device === 'cpu') checkMemoryBudget(fn, `shape ${shapeStr(shape)}`, numel * itemSize);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Edit distance with adjacent transpositions counted as one edit (`lenght` → `length` is 1). */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    d.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        d[0].push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2][j - 2] + 1);
      d[i].push(v);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known option an unknown key most likely meant, or undefined. First PyTorch's snake_case
 * spelling or another capitalisation (`batch_first`, `Bias`, `cellsize`), then a typo: one edit for
 * keys of 6 to 8 characters, two from 9 (`mommentum`, `patiense`). Shorter keys get no typo hint:
 * one edit there is as likely a different word as a slip (`delta` is not `beta`, `biass` may not
 * be `bias`), and a wrong suggestion costs more than none. A tie between two candidates gives none.
 */
export function suggestOption(key: string, known: readonly string[]): string | undefined {
  // PyTorch's snake_case spelling (padding_idx → paddingIdx), or another capitalisation
  const folded = key.replace(/_+([a-z0-9])/gi, (_m, c: string) => c.toUpperCase()).toLowerCase();
  const exact = known.find((q) => q.toLowerCase() === folded);
  if (exact !== undefined || folded.length < 6) return exact;
  const allowed = folded.length >= 9 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = allowed + 1;
  let tie = false;
  for (const q of known) {
    const dist = editDistance(folded, q.toLowerCase());
    if (dist < bestDistance) [best, bestDistance, tie] = [q, dist, false];
    else if (dist === bestDistance) tie = true;
  }
  return tie ? undefined : best;
}

/** The one message for an unknown option: `fn: unknown option 'k', did you mean 'q'? (known: a, b)`. */
export function unknownOptionError(fn: string, key: string, known: readonly string[]): TypeError {
  const guess = suggestOption(key, known);
  const hint = guess !== undefined ? `, did you mean '${guess}'?` : '';
  return new TypeError(`${fn}: unknown option '${key}'${hint} (known: ${known.length ? known.join(', ') : 'none'})`);
}

/**
 * An options object (or undefined). With `known`, a key outside it throws a TypeError naming it
 * and listing the known ones (PyTorch: "got an unexpected keyword argument"), so that a typo or
 * PyTorch's snake_case spelling (`padding_idx`) is not silently ignored; the message suggests the
 * known option it most likely meant (see `suggestOption`).
 */
export function checkOptions<T extends object>(fn: string, v: unknown, known: readonly string[]): Partial<T> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) typeError(fn, 'options', 'an options object', v);
  for (const k of Object.keys(v)) if (!known.includes(k)) throw unknownOptionError(fn, k, known);
  return v as Partial<T>;
}
