// torch.utils.data samplers: Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,
// BatchSampler (PyTorch's torch/utils/data/sampler.py, same draws), and BucketBatchSampler
// (batches of similar lengths, ours).
import { empty, randint, randperm } from '../../creation';
import { checkBool, checkInt, checkOptions, describe, typeError } from '../../errors';
import { defaultGenerator, Generator, generatorHandle } from '../../generator';
import { native as N } from '../../native';
import type { Tensor } from '../../tensor';

/**
 * Yields dataset indices (or batches of them), one pass per iteration (PyTorch's `Sampler`).
 * A sampler that knows its length exposes `length`.
 * @example
 * class EvenSampler extends torch.utils.data.Sampler<number> {
 *   constructor(private n: number) { super(); }
 *   get length() { return Math.ceil(this.n / 2); }
 *   *[Symbol.iterator]() { for (let i = 0; i < this.n; i += 2) yield i; }
 * }
 */
export abstract class Sampler<T = number> implements Iterable<T> {
  /** The indices (or batches of indices) of one epoch, in the order they are to be used. */
  abstract [Symbol.iterator](): Iterator<T>;
  /** The number of items a pass yields (undefined when unknown). */
  get length(): number | undefined {
    return undefined;
  }
}

/** Something with a non-negative integer `length` (a dataset). */
export interface Sized {
  /** The number of samples. */
  readonly length: number;
}

function sizedLength(fn: string, arg: string, v: unknown): number {
  const n = typeof v === 'object' && v !== null ? (v as { length?: unknown }).length : undefined;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    typeError(fn, arg, 'a dataset with a non-negative integer length', v);
  return n;
}

/**
 * A seed drawn as PyTorch's samplers draw one when they have no generator:
 * `int(torch.empty((), dtype=torch.int64).random_(generator=g).item())` (global generator by default).
 * @internal
 */
export function drawSeed(generator?: Generator): bigint {
  const t = empty([], { dtype: 'int64' });
  try {
    N.randomGen_(t._h, (generator ?? defaultGenerator())._g);
    return t.tolist<bigint>();
  } finally {
    t.dispose();
  }
}

/** A generator for one pass: the given one, or a new one seeded from the global stream (PyTorch's rule). */
function passGenerator(generator: Generator | undefined): Generator {
  return generator ?? new Generator().manualSeed(drawSeed());
}

function takeInts(t: Tensor): number[] {
  const v = t.toArray<number[]>();
  t.dispose();
  return v;
}

/**
 * `0, 1, ..., n-1` in order (PyTorch's `SequentialSampler`).
 * @example [...new torch.utils.data.SequentialSampler(ds)]; // [0, 1, ..., ds.length - 1]
 */
export class SequentialSampler extends Sampler<number> {
  /** The dataset (anything with a `length`) whose indices are drawn. */
  readonly dataSource: Sized;

  constructor(dataSource: Sized) {
    super();
    sizedLength('SequentialSampler', 'dataSource', dataSource);
    this.dataSource = dataSource;
  }

  override get length(): number {
    return this.dataSource.length;
  }

  /** The indices `0 .. length - 1`, in order. */
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    for (let i = 0; i < n; i++) yield i;
  }
}

/** Options of `RandomSampler`. */
export interface RandomSamplerOptions {
  /** Draw with replacement (default false). */
  replacement?: boolean;
  /** How many indices a pass yields (default: the dataset's length). */
  numSamples?: number;
  /** The generator to draw from; default: a new one per pass, seeded from the global generator. */
  generator?: Generator | null;
}

/**
 * Random indices (PyTorch's `RandomSampler`, with the same draws): without replacement,
 * `randperm(n)` per `n` samples; with replacement, `randint(0, n)` in blocks of 32. Without a
 * generator, each pass seeds a new generator with an int64 drawn from the global generator, so
 * after `torch.manualSeed(s)` the passes are PyTorch's after `torch.manual_seed(s)`.
 *
 * @example
 * const s = new torch.utils.data.RandomSampler(ds, { generator: new torch.Generator().manualSeed(0) });
 * const epoch1 = [...s], epoch2 = [...s]; // two different permutations
 * @throws TypeError / RangeError for bad options (numSamples must be a positive integer)
 */
export class RandomSampler extends Sampler<number> {
  /** The dataset (anything with a `length`) whose indices are drawn. */
  readonly dataSource: Sized;
  /** Whether indices are drawn with replacement. */
  readonly replacement: boolean;
  /** The generator the draws come from; undefined: a new one per pass, seeded from the global generator. */
  readonly generator: Generator | undefined;
  private readonly fixedNumSamples: number | undefined;

  constructor(dataSource: Sized, opts: RandomSamplerOptions = {}) {
    super();
    const fn = 'RandomSampler';
    sizedLength(fn, 'dataSource', dataSource);
    const o = checkOptions<RandomSamplerOptions>(fn, opts, ['replacement', 'numSamples', 'generator']);
    this.replacement = o.replacement === undefined ? false : checkBool(fn, 'replacement', o.replacement);
    if (o.numSamples !== undefined && o.numSamples !== null)
      this.fixedNumSamples = checkInt(fn, 'numSamples', o.numSamples, 1);
    generatorHandle(fn, o.generator);
    this.generator = o.generator ?? undefined;
    this.dataSource = dataSource;
  }

  /** The number of indices a pass yields (PyTorch's `num_samples`). */
  get numSamples(): number {
    return this.fixedNumSamples ?? this.dataSource.length;
  }

  override get length(): number {
    return this.numSamples;
  }

  /** The indices of one epoch: a fresh shuffle (or draw, with replacement) at every iteration. */
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    const generator = passGenerator(this.generator);
    const m = this.numSamples;
    if (n === 0) {
      if (m > 0) throw new RangeError(`RandomSampler: cannot draw ${m} samples from an empty dataset`);
      return;
    }
    if (this.replacement) {
      for (let k = 0; k < Math.floor(m / 32); k++) yield* takeInts(randint(0, n, [32], { generator }));
      yield* takeInts(randint(0, n, [m % 32], { generator }));
    } else {
      for (let k = 0; k < Math.floor(m / n); k++) yield* takeInts(randperm(n, { generator }));
      yield* takeInts(randperm(n, { generator })).slice(0, m % n);
    }
  }
}

/**
 * The given indices in a random order (PyTorch's `SubsetRandomSampler`: `randperm` of their count).
 * @example new torch.utils.data.SubsetRandomSampler([0, 2, 4, 6], { generator: g });
 */
export class SubsetRandomSampler extends Sampler<number> {
  /** The indices that are shuffled. */
  readonly indices: readonly number[];
  /** The generator the draws come from; undefined: a new one per pass, seeded from the global generator. */
  readonly generator: Generator | undefined;

  constructor(indices: readonly number[], opts: { generator?: Generator | null } = {}) {
    super();
    const fn = 'SubsetRandomSampler';
    if (!Array.isArray(indices)) typeError(fn, 'indices', 'an array of integers', indices);
    indices.forEach((v, i) => checkInt(fn, `indices[${i}]`, v));
    const o = checkOptions<{ generator?: Generator | null }>(fn, opts, ['generator']);
    generatorHandle(fn, o.generator);
    this.generator = o.generator ?? undefined;
    this.indices = indices.slice();
  }

  override get length(): number {
    return this.indices.length;
  }

  /** The given indices, in a fresh random order at every iteration. */
  *[Symbol.iterator](): Iterator<number> {
    const perm = takeInts(randperm(this.indices.length, this.generator ? { generator: this.generator } : {}));
    for (const i of perm) yield this.indices[i];
  }
}

function checkSampler(fn: string, v: unknown): Iterable<number> {
  if (typeof v !== 'object' || v === null || typeof (v as Partial<Iterable<number>>)[Symbol.iterator] !== 'function')
    typeError(fn, 'sampler', 'a Sampler (an iterable of indices)', v);
  return v as Iterable<number>;
}

/**
 * Groups another sampler's indices into batches (PyTorch's `BatchSampler`); the last batch is
 * shorter unless `dropLast`.
 * @example
 * const bs = new torch.utils.data.BatchSampler(new torch.utils.data.SequentialSampler(ds), 4, false);
 * [...bs]; // [[0, 1, 2, 3], [4, 5, 6, 7], ...]
 * @throws TypeError for a sampler that is not iterable; RangeError for a batchSize below 1
 */
export class BatchSampler extends Sampler<number[]> {
  /** The sampler whose indices are grouped. */
  readonly sampler: Iterable<number>;
  /** The number of indices per batch. */
  readonly batchSize: number;
  /** Whether the last, short, batch is dropped. */
  readonly dropLast: boolean;

  constructor(sampler: Iterable<number>, batchSize: number, dropLast: boolean) {
    super();
    const fn = 'BatchSampler';
    this.sampler = checkSampler(fn, sampler);
    this.batchSize = checkInt(fn, 'batchSize', batchSize, 1);
    this.dropLast = checkBool(fn, 'dropLast', dropLast);
  }

  override get length(): number | undefined {
    const n = (this.sampler as { length?: unknown }).length;
    if (typeof n !== 'number') return undefined;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The batches of one epoch: the inner sampler's indices grouped by `batchSize`. */
  *[Symbol.iterator](): Iterator<number[]> {
    let batch: number[] = [];
    for (const i of this.sampler) {
      batch.push(i);
      if (batch.length === this.batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield batch;
  }
}

/** Options of `BucketBatchSampler`. */
export interface BucketBatchSamplerOptions {
  /** Samples per batch (required). */
  batchSize: number;
  /**
   * How many samples are sorted by length together (a bucket); rounded up to a multiple of
   * batchSize. Default `100 * batchSize`. Larger buckets pad less and shuffle less.
   */
  bucketSize?: number;
  /** Shuffle the samples before bucketing, and the batches after (default true). */
  shuffle?: boolean;
  /** Drop the short batch of each bucket (default false). */
  dropLast?: boolean;
  /** The generator to draw from; default: a new one per pass, seeded from the global generator. */
  generator?: Generator | null;
}

/**
 * Batches of samples of similar length, to pad less (what torchtext's `BucketIterator` and
 * fairseq's length buckets do): each pass shuffles the indices (`randperm`), cuts them into
 * buckets of `bucketSize`, sorts each bucket by length (stable), cuts it into batches, and
 * shuffles the order of all batches. Every index appears exactly once per pass (unless
 * `dropLast`). Give it to a `DataLoader` as `batchSampler`.
 *
 * @param lengths the length of each sample (e.g. its number of tokens)
 * @example
 * const lengths = pairs.map(([src]) => src.shape[0]);
 * const loader = new torch.utils.data.DataLoader(ds, {
 *   batchSampler: new torch.utils.data.BucketBatchSampler(lengths, { batchSize: 32 }),
 *   collate: torch.utils.data.padSequenceCollate({ padValue: vocab.padId }),
 * });
 * @throws TypeError / RangeError for lengths that are not non-negative integers or bad options
 */
export class BucketBatchSampler extends Sampler<number[]> {
  /** The length of each sample, by index. */
  readonly lengths: readonly number[];
  /** The number of indices per batch. */
  readonly batchSize: number;
  /** How many samples are sorted by length together (a multiple of `batchSize`). */
  readonly bucketSize: number;
  /** Whether the order is shuffled. */
  readonly shuffle: boolean;
  /** Whether the last, short, batch is dropped. */
  readonly dropLast: boolean;
  /** The generator the draws come from; undefined: a new one per pass, seeded from the global generator. */
  readonly generator: Generator | undefined;

  constructor(lengths: readonly number[], opts: BucketBatchSamplerOptions) {
    super();
    const fn = 'BucketBatchSampler';
    if (!Array.isArray(lengths)) typeError(fn, 'lengths', 'an array of sample lengths', lengths);
    lengths.forEach((v, i) => checkInt(fn, `lengths[${i}]`, v, 0));
    if (opts === undefined || opts === null || typeof opts !== 'object')
      throw new TypeError(`${fn}: expected an options object with batchSize, got ${describe(opts)}`);
    const o = checkOptions<BucketBatchSamplerOptions>(fn, opts, [
      'batchSize',
      'bucketSize',
      'shuffle',
      'dropLast',
      'generator',
    ]);
    if (o.batchSize === undefined) throw new TypeError(`${fn}: expected the option batchSize, got none`);
    this.batchSize = checkInt(fn, 'batchSize', o.batchSize, 1);
    const bucket = o.bucketSize === undefined ? 100 * this.batchSize : checkInt(fn, 'bucketSize', o.bucketSize, 1);
    this.bucketSize = Math.ceil(bucket / this.batchSize) * this.batchSize;
    this.shuffle = o.shuffle === undefined ? true : checkBool(fn, 'shuffle', o.shuffle);
    this.dropLast = o.dropLast === undefined ? false : checkBool(fn, 'dropLast', o.dropLast);
    generatorHandle(fn, o.generator);
    this.generator = o.generator ?? undefined;
    this.lengths = lengths.slice();
  }

  override get length(): number {
    const n = this.lengths.length;
    let count = 0;
    for (let start = 0; start < n; start += this.bucketSize) {
      const size = Math.min(this.bucketSize, n - start);
      count += this.dropLast ? Math.floor(size / this.batchSize) : Math.ceil(size / this.batchSize);
    }
    return count;
  }

  /** The batches of one epoch: indices of similar lengths together, the batches in a fresh random order when shuffling. */
  *[Symbol.iterator](): Iterator<number[]> {
    const n = this.lengths.length;
    const generator = this.shuffle ? passGenerator(this.generator) : undefined;
    const order = generator ? takeInts(randperm(n, { generator })) : Array.from({ length: n }, (_, i) => i);
    const batches: number[][] = [];
    for (let start = 0; start < n; start += this.bucketSize) {
      const bucket = order.slice(start, start + this.bucketSize);
      bucket.sort((a, b) => this.lengths[a] - this.lengths[b]); // Array.prototype.sort is stable
      for (let k = 0; k < bucket.length; k += this.batchSize) {
        const batch = bucket.slice(k, k + this.batchSize);
        if (batch.length === this.batchSize || !this.dropLast) batches.push(batch);
      }
    }
    if (generator === undefined) {
      yield* batches;
      return;
    }
    for (const k of takeInts(randperm(batches.length, { generator }))) yield batches[k];
  }
}

/** Options of `DistributedSampler` (PyTorch's keyword arguments, camelCase). */
export interface DistributedSamplerOptions {
  /** Processes taking part (PyTorch: the process group's world size). Default: `WORLD_SIZE` from the environment, else 1. */
  numReplicas?: number;
  /** This process's rank in [0, numReplicas). Default: `RANK` from the environment, else 0. */
  rank?: number;
  /** Shuffle each epoch with seed + epoch. Default true. */
  shuffle?: boolean;
  /** Shared by every rank. Default 0. */
  seed?: number;
  /** Drop the tail so every rank gets the same count, instead of padding with repeated indices. Default false. */
  dropLast?: boolean;
}

function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`DistributedSampler: environment ${name}='${v}' is not a rank count`);
  return n;
}

/**
 * The indices of one rank in data-parallel training (PyTorch's `DistributedSampler`): every rank
 * draws the same permutation (`randperm` with a generator seeded `seed + epoch`), pads it with its
 * own first indices to a multiple of `numReplicas` (or drops the tail with `dropLast`), and takes
 * every `numReplicas`-th index from `rank` on. Same indices as PyTorch's for the same arguments.
 * Call `setEpoch(e)` before each epoch, or every epoch reuses one permutation.
 * @example
 * const sampler = new torch.utils.data.DistributedSampler(dataset, { numReplicas: 2, rank });
 * const loader = new torch.utils.data.DataLoader(dataset, { batchSize: 32, sampler });
 * for (let epoch = 0; epoch < 10; epoch++) { sampler.setEpoch(epoch); for (const b of loader) {} }
 */
export class DistributedSampler extends Sampler<number> {
  /** The dataset (anything with a `length`) whose indices are shared out. */
  readonly dataset: Sized;
  /** The number of processes taking part. */
  readonly numReplicas: number;
  /** The rank of this process, in `[0, numReplicas)`. */
  readonly rank: number;
  /** Whether the order is shuffled. */
  readonly shuffle: boolean;
  /** The seed of the shuffle, the same in every process. */
  readonly seed: number;
  /** Whether the last, short, batch is dropped. */
  readonly dropLast: boolean;
  /** The epoch, mixed into the seed: call `setEpoch(e)` before each epoch for a new shuffle. */
  epoch = 0;

  constructor(dataset: Sized, opts: DistributedSamplerOptions = {}) {
    super();
    const fn = 'DistributedSampler';
    sizedLength(fn, 'dataset', dataset);
    const o = checkOptions<DistributedSamplerOptions>(fn, opts, ['numReplicas', 'rank', 'shuffle', 'seed', 'dropLast']);
    this.numReplicas =
      o.numReplicas === undefined
        ? Math.max(1, envInt('WORLD_SIZE', 1))
        : checkInt(fn, 'numReplicas', o.numReplicas, 1);
    this.rank = o.rank === undefined ? envInt('RANK', 0) : checkInt(fn, 'rank', o.rank, 0);
    if (this.rank >= this.numReplicas)
      throw new RangeError(
        `${fn}: invalid rank ${this.rank}, rank should be in the interval [0, ${this.numReplicas - 1}]`,
      );
    this.shuffle = o.shuffle === undefined ? true : checkBool(fn, 'shuffle', o.shuffle);
    this.seed = o.seed === undefined ? 0 : checkInt(fn, 'seed', o.seed, 0);
    this.dropLast = o.dropLast === undefined ? false : checkBool(fn, 'dropLast', o.dropLast);
    this.dataset = dataset;
  }

  /** Indices this rank yields per epoch (PyTorch's `num_samples`). */
  get numSamples(): number {
    const n = this.dataset.length;
    const r = this.numReplicas;
    return this.dropLast && n % r !== 0 ? Math.ceil((n - r) / r) : Math.ceil(n / r);
  }

  override get length(): number {
    return this.numSamples;
  }

  /** The epoch whose permutation the next pass draws (every rank must set the same). */
  setEpoch(epoch: number): void {
    this.epoch = checkInt('DistributedSampler.setEpoch', 'epoch', epoch, 0);
  }

  /** This replica's share of the indices of one epoch (shuffled by the seed and the epoch when shuffling). */
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataset.length;
    let indices: number[];
    if (this.shuffle) {
      const g = new Generator().manualSeed(this.seed + this.epoch);
      indices = takeInts(randperm(n, { generator: g }));
    } else indices = Array.from({ length: n }, (_, i) => i);
    const total = this.numSamples * this.numReplicas;
    if (!this.dropLast) {
      const padding = total - indices.length;
      if (padding > 0 && indices.length === 0) throw new RangeError('DistributedSampler: the dataset is empty');
      const base = indices.slice();
      while (indices.length < total) indices.push(...base.slice(0, total - indices.length));
    } else indices = indices.slice(0, total);
    for (let i = this.rank; i < total; i += this.numReplicas) yield indices[i];
  }
}
