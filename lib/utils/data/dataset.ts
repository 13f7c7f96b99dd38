// torch.utils.data datasets: Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset,
// randomSplit (PyTorch's torch/utils/data/dataset.py, camelCased).
import { randperm } from '../../creation';
import { checkInt, checkOptions, describe, typeError } from '../../errors';
import { defaultGenerator, type Generator, generatorHandle } from '../../generator';
import { Tensor } from '../../tensor';

/**
 * A map-style dataset (PyTorch's `Dataset`): `getItem(i)` returns sample `i` for `i` in
 * `[0, length)` (PyTorch's `__getitem__` / `__len__`). Subclass it, or use `TensorDataset`.
 *
 * @example
 * class Squares extends torch.utils.data.Dataset<[number, number]> {
 *   get length() { return 10; }
 *   getItem(i: number): [number, number] { return [i, i * i]; }
 * }
 * const loader = new torch.utils.data.DataLoader(new Squares(), { batchSize: 4 });
 */
export abstract class Dataset<T = unknown> {
  /** Sample `index`, for `index` in `[0, length)`. */
  abstract getItem(index: number): T;
  /** The number of samples. */
  abstract get length(): number;
  /**
   * The samples at `indices` (PyTorch 2's `__getitems__`): by default one `getItem` each; a
   * dataset may override it to fetch a batch at once.
   */
  getItems(indices: readonly number[]): T[] {
    return indices.map((i) => this.getItem(i));
  }
  /** `ConcatDataset([this, other])` (PyTorch's `dataset + other`). */
  concat(other: Dataset<T>): ConcatDataset<T> {
    return new ConcatDataset<T>([this, other]);
  }
}

/**
 * An iterable-style dataset (PyTorch's `IterableDataset`): a stream of samples, iterated once per
 * epoch, with `[Symbol.iterator]` (synchronous) or `[Symbol.asyncIterator]` (e.g. lines read from
 * a file). A `DataLoader` over it batches the stream in order; it takes no sampler or shuffle.
 *
 * @example
 * class Counter extends torch.utils.data.IterableDataset<number> {
 *   *[Symbol.iterator]() { for (let i = 0; i < 5; i++) yield i; }
 * }
 * for (const batch of new torch.utils.data.DataLoader(new Counter(), { batchSize: 2 })) console.log(batch);
 */
export abstract class IterableDataset<T = unknown> {
  /** Whether this dataset can be iterated synchronously (it defines `[Symbol.iterator]`). */
  get isSync(): boolean {
    return typeof (this as Partial<Iterable<T>>)[Symbol.iterator] === 'function';
  }
}

/** A map-style dataset or a synchronous iterable dataset: whatever `isDataset` accepts. */
export function isMapDataset(v: unknown): v is Dataset<unknown> {
  if (v instanceof Dataset) return true;
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { getItem?: unknown; length?: unknown };
  return typeof o.getItem === 'function' && typeof o.length === 'number';
}

function datasetLength(fn: string, arg: string, d: unknown): number {
  if (!isMapDataset(d)) typeError(fn, arg, 'a map-style Dataset (getItem and length)', d);
  const n = d.length;
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`${fn}: expected ${arg}.length to be a non-negative integer, got ${describe(n)}`);
  return n;
}

function checkIndex(fn: string, index: unknown, n: number): number {
  const i = checkInt(fn, 'index', index);
  if (i < -n || i >= n) throw new RangeError(`${fn}: index ${i} is out of range for a dataset of length ${n}`);
  return i < 0 ? i + n : i;
}

/**
 * A dataset over tensors that share their first dimension (PyTorch's `TensorDataset`): sample `i`
 * is `[t0[i], t1[i], ...]`. A `DataLoader` over it fetches each batch with one `indexSelect` per
 * tensor (the same values as stacking the samples).
 *
 * @example
 * const ds = new torch.utils.data.TensorDataset(torch.randn(100, 8), torch.randint(0, 3, [100]));
 * const [x, y] = ds.getItem(0); // x: (8), y: ()
 * @throws TypeError if an argument is not a Tensor; RangeError if their first dimensions differ
 */
export class TensorDataset extends Dataset<Tensor[]> {
  /** The tensors, indexed together along their first dimension. */
  readonly tensors: readonly Tensor[];
  private readonly n: number;

  constructor(...tensors: Tensor[]) {
    super();
    const fn = 'TensorDataset';
    if (tensors.length === 0) throw new TypeError(`${fn}: expected at least one tensor, got none`);
    tensors.forEach((t, i) => {
      if (!(t instanceof Tensor)) typeError(fn, `tensors[${i}]`, 'a Tensor', t);
      if (t.dim() === 0)
        throw new RangeError(`${fn}: expected tensors[${i}] to have a first dimension, got a 0-dim tensor`);
    });
    const n = tensors[0].shape[0];
    tensors.forEach((t, i) => {
      if (t.shape[0] !== n)
        throw new RangeError(
          `${fn}: size mismatch between tensors: tensors[0] has ${n} rows, tensors[${i}] has ${t.shape[0]}`,
        );
    });
    this.tensors = tensors;
    this.n = n;
  }

  get length(): number {
    return this.n;
  }

  /** `[t0[index], t1[index], ...]` (views); a negative index counts from the end. */
  getItem(index: number): Tensor[] {
    const i = checkIndex('TensorDataset.getItem', index, this.n);
    return this.tensors.map((t) => t.select(0, i));
  }
}

/**
 * The samples of `dataset` at `indices`, in that order (PyTorch's `Subset`).
 * @example const firstTen = new torch.utils.data.Subset(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * @throws TypeError / RangeError for a bad dataset or an index out of its range
 */
export class Subset<T = unknown> extends Dataset<T> {
  /** The whole dataset. */
  readonly dataset: Dataset<T>;
  /** The indices of this subset's samples in `dataset`. */
  readonly indices: readonly number[];

  constructor(dataset: Dataset<T>, indices: readonly number[]) {
    super();
    const fn = 'Subset';
    const n = datasetLength(fn, 'dataset', dataset);
    if (!Array.isArray(indices)) typeError(fn, 'indices', 'an array of integers', indices);
    indices.forEach((v, k) => {
      const i = checkInt(fn, `indices[${k}]`, v);
      if (i < -n || i >= n)
        throw new RangeError(`${fn}: indices[${k}] = ${i} is out of range for a dataset of length ${n}`);
    });
    this.dataset = dataset;
    this.indices = indices.slice();
  }

  get length(): number {
    return this.indices.length;
  }

  getItem(index: number): T {
    const i = checkIndex('Subset.getItem', index, this.indices.length);
    const j = this.indices[i];
    return this.dataset.getItem(j < 0 ? j + this.dataset.length : j);
  }

  override getItems(indices: readonly number[]): T[] {
    return this.dataset.getItems(
      indices.map((k) => {
        const j = this.indices[checkIndex('Subset.getItems', k, this.indices.length)];
        return j < 0 ? j + this.dataset.length : j;
      }),
    );
  }
}

/**
 * Datasets one after the other (PyTorch's `ConcatDataset`).
 * @example const all = new torch.utils.data.ConcatDataset([trainA, trainB]);
 * @throws TypeError if `datasets` is empty or holds something that is not a map-style dataset
 */
export class ConcatDataset<T = unknown> extends Dataset<T> {
  /** The datasets, in order. */
  readonly datasets: readonly Dataset<T>[];
  /** The running totals of the lengths (PyTorch's `cumulative_sizes`). */
  readonly cumulativeSizes: readonly number[];

  constructor(datasets: readonly Dataset<T>[]) {
    super();
    const fn = 'ConcatDataset';
    if (!Array.isArray(datasets) || datasets.length === 0)
      throw new TypeError(`${fn}: expected datasets to be a non-empty array of datasets, got ${describe(datasets)}`);
    let total = 0;
    this.cumulativeSizes = datasets.map((d, i) => {
      total += datasetLength(fn, `datasets[${i}]`, d);
      return total;
    });
    this.datasets = datasets.slice();
  }

  get length(): number {
    return this.cumulativeSizes[this.cumulativeSizes.length - 1];
  }

  getItem(index: number): T {
    const i = checkIndex('ConcatDataset.getItem', index, this.length);
    let d = 0;
    while (this.cumulativeSizes[d] <= i) d++;
    return this.datasets[d].getItem(d === 0 ? i : i - this.cumulativeSizes[d - 1]);
  }
}

/** Options of `randomSplit`. */
export interface RandomSplitOptions {
  /** The generator of the permutation; default: the global generator (PyTorch's `default_generator`). */
  generator?: Generator | null;
}

/**
 * Splits a dataset into non-overlapping `Subset`s of the given lengths, or of the given
 * fractions of its length (PyTorch's `random_split`, exactly: fractions summing to 1 are floored
 * and the remainder spread round-robin; the indices are `randperm(n, generator)`), so the same
 * seed gives PyTorch's split.
 *
 * @param lengths lengths summing to `dataset.length`, or fractions summing to 1
 * @example
 * const [train, val] = torch.utils.data.randomSplit(ds, [0.8, 0.2], {
 *   generator: new torch.Generator().manualSeed(42),
 * });
 * @throws TypeError for a bad dataset / lengths; RangeError for a fraction outside [0, 1] or
 *   lengths that do not sum to the dataset's length
 */
export function randomSplit<T>(
  dataset: Dataset<T>,
  lengths: readonly number[],
  opts: RandomSplitOptions = {},
): Subset<T>[] {
  const fn = 'randomSplit';
  const n = datasetLength(fn, 'dataset', dataset);
  const o = checkOptions<RandomSplitOptions>(fn, opts, ['generator']);
  generatorHandle(fn, o.generator);
  const generator = o.generator ?? defaultGenerator();
  if (!Array.isArray(lengths) || lengths.length === 0)
    throw new TypeError(`${fn}: expected lengths to be a non-empty array of numbers, got ${describe(lengths)}`);
  lengths.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) typeError(fn, `lengths[${i}]`, 'a finite number', v);
  });
  const sum = lengths.reduce((a, b) => a + b, 0);
  let sizes: number[];
  // Python's math.isclose(sum, 1) (rel_tol 1e-9) and sum <= 1
  if (Math.abs(sum - 1) <= 1e-9 * Math.max(1, Math.abs(sum)) && sum <= 1) {
    sizes = lengths.map((frac, i) => {
      if (frac < 0 || frac > 1)
        throw new RangeError(`${fn}: fraction at index ${i} is not between 0 and 1, got ${frac}`);
      return Math.floor(n * frac);
    });
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) sizes[i % sizes.length] += 1;
  } else {
    sizes = lengths.map((v, i) => checkInt(fn, `lengths[${i}]`, v, 0));
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== n)
    throw new RangeError(
      `${fn}: the lengths sum to ${total}, but the dataset has ${n} samples (lengths [${lengths.join(', ')}])`,
    );
  const perm = randperm(total, { generator });
  const indices = perm.toArray<number[]>();
  perm.dispose();
  const out: Subset<T>[] = [];
  let offset = 0;
  for (const len of sizes) {
    out.push(new Subset(dataset, indices.slice(offset, offset + len)));
    offset += len;
  }
  return out;
}
