// Collate functions: defaultCollate (PyTorch's default_collate) and padSequenceCollate (token
// sequences of different lengths, padded, with their lengths and key-padding mask).
import { tensor } from '../../creation';
import { checkBool, checkInt, checkNumber, checkOptions, describe } from '../../errors';
import { keyPadding } from '../../nn/masks';
import { padSequence } from '../../nn/utils/rnn';
import { stack } from '../../ops';
import { Tensor } from '../../tensor';

/** What `defaultCollate` returns: tensors, string lists, and arrays / objects of them. */
export type Collated = Tensor | string[] | Collated[] | { [key: string]: Collated };

/**
 * The type `defaultCollate` gives a batch of samples of type `T`: tensors, numbers, bigints and
 * booleans become a Tensor, strings a `string[]`, tuples / arrays and objects keep their shape.
 */
export type DefaultCollated<T> = T extends Tensor | number | bigint | boolean
  ? Tensor
  : T extends string
    ? string[]
    : T extends readonly unknown[]
      ? { -readonly [K in keyof T]: DefaultCollated<T[K]> }
      : T extends object
        ? { [K in keyof T]: DefaultCollated<T[K]> }
        : Collated;

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Tensor) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function collate(fn: string, batch: readonly unknown[], path: string): Collated {
  const elem = batch[0];
  const at = (k: number) => `batch[${k}]${path}`;
  const same = (test: (v: unknown) => boolean, what: string): void => {
    batch.forEach((v, k) => {
      if (!test(v)) throw new TypeError(`${fn}: ${at(0)} is ${what} but ${at(k)} is ${describe(v)}`);
    });
  };
  if (elem instanceof Tensor) {
    same((v) => v instanceof Tensor, 'a Tensor');
    const ts = batch as Tensor[];
    const s0 = ts[0].shape;
    ts.forEach((t, k) => {
      const s = t.shape;
      if (s.length !== s0.length || s.some((d, i) => d !== s0[i]))
        throw new RangeError(
          `${fn}: stack expects each tensor to be equal size, but ${at(0)} has shape ${shapeStr(s0)} and ${at(k)} has shape ${shapeStr(s)}`,
        );
    });
    return stack(ts, 0);
  }
  if (typeof elem === 'number') {
    same((v) => typeof v === 'number', 'a number');
    const nums = batch as number[];
    // PyTorch decides by Python type (int -> int64, float -> float64); JS numbers have one type,
    // so integers (all of them) give int64 and anything else float64.
    return tensor(nums, { dtype: nums.every((v) => Number.isInteger(v)) ? 'int64' : 'float64' });
  }
  if (typeof elem === 'bigint') {
    same((v) => typeof v === 'bigint', 'a bigint');
    return tensor(batch as bigint[], { dtype: 'int64' });
  }
  if (typeof elem === 'boolean') {
    same((v) => typeof v === 'boolean', 'a boolean');
    return tensor(batch as boolean[], { dtype: 'bool' });
  }
  if (typeof elem === 'string') {
    same((v) => typeof v === 'string', 'a string');
    return (batch as string[]).slice();
  }
  if (Array.isArray(elem)) {
    same((v) => Array.isArray(v), 'an array');
    const rows = batch as unknown[][];
    const n = elem.length;
    rows.forEach((r, k) => {
      if (r.length !== n)
        throw new RangeError(
          `${fn}: each element in list of batch should be of equal size, but ${at(0)} has ${n} elements and ${at(k)} has ${r.length}`,
        );
    });
    return Array.from({ length: n }, (_, j) =>
      collate(
        fn,
        rows.map((r) => r[j]),
        `${path}[${j}]`,
      ),
    );
  }
  if (isPlainObject(elem)) {
    same(isPlainObject, 'an object');
    const out: { [key: string]: Collated } = {};
    for (const key of Object.keys(elem)) {
      const p = `${path}.${key}`;
      batch.forEach((v, k) => {
        if (!(key in (v as object))) throw new TypeError(`${fn}: ${at(k)} has no key '${key}' (${at(0)} has)`);
      });
      out[key] = collate(
        fn,
        batch.map((v) => (v as Record<string, unknown>)[key]),
        p,
      );
    }
    return out;
  }
  throw new TypeError(
    `${fn}: batch must contain tensors, numbers, bigints, booleans, strings, arrays or plain objects; found ${describe(elem)} at ${at(0)}`,
  );
}

/**
 * PyTorch's `default_collate`: puts a batch of samples together, adding a batch dimension.
 * Tensors are stacked (same shapes), numbers become an int64 tensor (all integers) or a float64
 * one, bigints int64, booleans bool, strings stay a `string[]`; arrays (tuples) are collated
 * position by position into an array, plain objects key by key into an object.
 *
 * @example
 * torch.utils.data.defaultCollate([[torch.ones(2), 0], [torch.zeros(2), 1]]);
 * // [tensor (2, 2), tensor([0, 1]) int64]
 * @throws TypeError for an empty batch or unsupported / mixed element types; RangeError for
 *   tensors of different shapes or arrays of different lengths
 */
export function defaultCollate<T>(batch: readonly T[]): DefaultCollated<T> {
  const fn = 'defaultCollate';
  if (!Array.isArray(batch) || batch.length === 0)
    throw new TypeError(`${fn}: expected batch to be a non-empty array of samples, got ${describe(batch)}`);
  return collate(fn, batch, '') as DefaultCollated<T>;
}

/** Options of `padSequenceCollate`. */
export interface PadSequenceCollateOptions {
  /** The value of the padded positions (e.g. the vocabulary's pad id). Default 0. */
  padValue?: number;
  /** `padded` is `(B, T)` (default true) or `(T, B)` (false, as RNNs without batchFirst). */
  batchFirst?: boolean;
}

/** One padded field of a batch. */
export interface PaddedBatch {
  /** The sequences, right-padded with padValue: `(B, T, *)`, or `(T, B, *)` without batchFirst. */
  padded: Tensor;
  /** Each sequence's length, int64 `(B)` (what `packPaddedSequence` takes). */
  lengths: Tensor;
  /** bool `(B, T)`, `true` = padded (the `keyPaddingMask` of `nn.MultiheadAttention`, as `nn.masks.keyPadding`). */
  paddingMask: Tensor;
}

/** What `padSequenceCollate` returns for a batch: padded fields, in the samples' structure. */
export type PaddedCollated = PaddedBatch | Collated | PaddedCollated[] | { [key: string]: PaddedCollated };

/**
 * The type `padSequenceCollate` gives a batch of samples of type `T`: a sequence (a Tensor or a
 * `number[]`) becomes a `PaddedBatch`, tuples and objects keep their shape, other fields are
 * collated as `defaultCollate` does (a Tensor field is taken as a sequence: 0-dim ones throw).
 */
export type PaddedOf<T> = T extends Tensor | readonly number[]
  ? PaddedBatch
  : T extends number | bigint | boolean | string
    ? DefaultCollated<T>
    : T extends readonly unknown[]
      ? { -readonly [K in keyof T]: PaddedOf<T[K]> }
      : T extends object
        ? { [K in keyof T]: PaddedOf<T[K]> }
        : PaddedCollated;

function isSequence(v: unknown): boolean {
  return (v instanceof Tensor && v.dim() >= 1) || (Array.isArray(v) && v.every((x) => typeof x === 'number'));
}

/**
 * A collate function for variable-length sequences (token ids): each sequence field of the
 * samples is right-padded to the batch's longest (`nn.utils.rnn.padSequence`) and returned with
 * its lengths and key-padding mask. A sample is a sequence (a 1-D tensor, e.g. int64 token ids,
 * or an array of ids), an array of them (`[src, tgt]` pairs give one `PaddedBatch` each), or an
 * object of them; other fields are collated by `defaultCollate`.
 *
 * @example
 * const loader = new torch.utils.data.DataLoader(pairs, {
 *   batchSize: 32,
 *   collate: torch.utils.data.padSequenceCollate({ padValue: vocab.padId }),
 * });
 * for (const [src, tgt] of loader) {
 *   // src.padded: (B, S) int64, src.lengths: (B), src.paddingMask: (B, S) bool, true = pad
 * }
 * @throws TypeError / RangeError for bad options; the returned function throws for a batch
 *   whose samples do not share a structure, or sequences that are not at least 1-D
 */
export function padSequenceCollate<T = unknown>(
  opts: PadSequenceCollateOptions = {},
): (batch: readonly T[]) => PaddedOf<T> {
  const fn = 'padSequenceCollate';
  const o = checkOptions<PadSequenceCollateOptions>(fn, opts, ['padValue', 'batchFirst']);
  const padValue = o.padValue === undefined ? 0 : checkNumber(fn, 'padValue', o.padValue);
  const batchFirst = o.batchFirst === undefined ? true : checkBool(fn, 'batchFirst', o.batchFirst);

  const padField = (seqs: readonly unknown[], path: string): PaddedBatch => {
    const made: Tensor[] = [];
    const ts = seqs.map((s, k) => {
      if (s instanceof Tensor) {
        if (s.dim() < 1)
          throw new RangeError(
            `${fn}: expected batch[${k}]${path} to be a sequence (at least 1-D), got a 0-dim tensor`,
          );
        return s;
      }
      if (!Array.isArray(s))
        throw new TypeError(`${fn}: expected batch[${k}]${path} to be a sequence, got ${describe(s)}`);
      s.forEach((v, j) => checkInt(fn, `batch[${k}]${path}[${j}]`, v));
      const t = tensor(s as number[], { dtype: 'int64' });
      made.push(t);
      return t;
    });
    const lens = ts.map((t) => t.shape[0]);
    const T = Math.max(0, ...lens);
    let padded: Tensor;
    if (T === 0) {
      // padSequence needs one step: every sequence is empty
      padded = tensor([], { dtype: ts[0].dtype }).reshape(batchFirst ? [ts.length, 0] : [0, ts.length]);
    } else {
      padded = padSequence(ts, { batchFirst, paddingValue: padValue });
    }
    for (const t of made) t.dispose();
    return { padded, lengths: tensor(lens, { dtype: 'int64' }), paddingMask: keyPadding(lens, T) };
  };

  const walk = (batch: readonly unknown[], path: string): PaddedCollated => {
    const elem = batch[0];
    if (isSequence(elem)) return padField(batch, path);
    if (Array.isArray(elem)) {
      const rows = batch as unknown[][];
      rows.forEach((r, k) => {
        if (!Array.isArray(r) || r.length !== elem.length)
          throw new TypeError(
            `${fn}: batch[0]${path} has ${elem.length} fields but batch[${k}]${path} is ${describe(r)}`,
          );
      });
      return elem.map((_, j) =>
        walk(
          rows.map((r) => r[j]),
          `${path}[${j}]`,
        ),
      );
    }
    if (isPlainObject(elem)) {
      const out: { [key: string]: PaddedCollated } = {};
      for (const key of Object.keys(elem))
        out[key] = walk(
          batch.map((v) => (isPlainObject(v) ? v[key] : undefined)),
          `${path}.${key}`,
        );
      return out;
    }
    return collate(fn, batch, path);
  };

  return (batch: readonly T[]): PaddedOf<T> => {
    if (!Array.isArray(batch) || batch.length === 0)
      throw new TypeError(`${fn}: expected batch to be a non-empty array of samples, got ${describe(batch)}`);
    return walk(batch, '') as PaddedOf<T>;
  };
}
