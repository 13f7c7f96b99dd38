// torch.utils.data.DataLoader: batches of a dataset by a sampler, collated (PyTorch's
// torch/utils/data/dataloader.py, single process), iterable with for...of and for await...of.
import { tensor } from '../../creation';
import { checkBool, checkInt, checkOptions, describe, typeError } from '../../errors';
import { type Generator, generatorHandle } from '../../generator';
import { Tensor } from '../../tensor';
import { type DefaultCollated, defaultCollate } from './collate';
import { type Dataset, IterableDataset, isMapDataset, TensorDataset } from './dataset';
import { BatchSampler, drawSeed, RandomSampler, SequentialSampler } from './sampler';

/** Options of `DataLoader` (PyTorch's keyword arguments, camelCased; `collate` is `collate_fn`). */
export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1); `null` turns batching off (each sample goes through `collate` alone, if given). */
  batchSize?: number | null;
  /** Reshuffle the indices at every epoch (a `RandomSampler`). Default false. */
  shuffle?: boolean;
  /** Where the indices come from (excludes shuffle). */
  sampler?: Iterable<number>;
  /** Where the batches of indices come from (excludes batchSize, shuffle, sampler, dropLast). */
  batchSampler?: Iterable<number[]>;
  /** Drop the last, short, batch. Default false. */
  dropLast?: boolean;
  /** Puts a list of samples together (PyTorch's `collate_fn`); default `defaultCollate`. */
  collate?: (batch: T[]) => B;
  /** The generator of the shuffle and of the per-epoch base seed; default the global one. */
  generator?: Generator | null;
  /**
   * `for await...of` prepares this many batches ahead (default 0), each in its own event-loop
   * task (setImmediate), so that their collation runs while the consumer awaits (an async
   * forward, I/O). Synchronous iteration ignores it.
   */
  prefetch?: number;
}

/** A source of samples: a map-style dataset, an iterable dataset, or anything with getItem/length. */
export type DataSource<T> =
  | Dataset<T>
  | IterableDataset<T>
  | {
      /** The sample at index `i` (0 ≤ i < length). */
      getItem(i: number): T;
      /** The number of samples. */
      readonly length: number;
    };

function disposeTensors(v: unknown, seen: Set<unknown> = new Set()): void {
  if (v instanceof Tensor) {
    if (!v._disposed) v.dispose();
    return;
  }
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  for (const x of Object.values(v)) disposeTensors(x, seen);
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Iterates over a dataset in batches (PyTorch's `DataLoader`, in-process: `num_workers=0`).
 * Each `for...of` (or `for await...of`) is one epoch; with `shuffle`, each epoch draws a new
 * permutation exactly as PyTorch does, so after `torch.manualSeed(s)` (or with the same
 * `generator`) the batches hold the same indices as PyTorch's after `torch.manual_seed(s)`.
 *
 * @example
 * const ds = new torch.utils.data.TensorDataset(x, y);
 * const loader = new torch.utils.data.DataLoader(ds, { batchSize: 32, shuffle: true });
 * for (let epoch = 0; epoch < 3; epoch++)
 *   for (const [xb, yb] of loader) torch.tidy(() => step(xb, yb));
 * // off the event loop's critical path, two batches prepared ahead:
 * for await (const [xb, yb] of new torch.utils.data.DataLoader(ds, { batchSize: 32, prefetch: 2 })) {
 *   await model.forwardAsync(xb);
 * }
 * @throws TypeError / RangeError for a bad dataset or options, or options PyTorch refuses together
 *   (batchSampler with batchSize/shuffle/sampler/dropLast, sampler with shuffle, an iterable
 *   dataset with shuffle/sampler/batchSampler)
 */
export class DataLoader<T = unknown, B = DefaultCollated<T>> implements Iterable<B>, AsyncIterable<B> {
  /** The dataset the samples come from. */
  readonly dataset: DataSource<T>;
  /** Samples per batch, or null when batching is off. */
  readonly batchSize: number | null;
  /** Whether the last, short, batch is dropped. */
  readonly dropLast: boolean;
  /** The generator of the shuffle and of the per-epoch base seed; undefined: the global one. */
  readonly generator: Generator | undefined;
  /** How many batches are made ahead in `for await` loops. */
  readonly prefetch: number;
  /** The sampler of indices (undefined for an iterable dataset). */
  readonly sampler: Iterable<number> | undefined;
  /** The sampler of batches (undefined for an iterable dataset or with batchSize null). */
  readonly batchSampler: Iterable<number[]> | undefined;
  /** The function that makes a batch of samples (the `collate` option; `undefined`: `defaultCollate`). */
  readonly collate: ((batch: T[]) => B) | undefined;
  private readonly iterable: boolean;

  constructor(dataset: DataSource<T>, opts: DataLoaderOptions<T, B> = {}) {
    const fn = 'DataLoader';
    const o = checkOptions<DataLoaderOptions<T, B>>(fn, opts, [
      'batchSize',
      'shuffle',
      'sampler',
      'batchSampler',
      'dropLast',
      'collate',
      'generator',
      'prefetch',
    ]);
    this.iterable = dataset instanceof IterableDataset;
    if (!this.iterable && !isMapDataset(dataset))
      typeError(fn, 'dataset', 'a Dataset (getItem and length) or an IterableDataset', dataset);
    this.dataset = dataset;
    const shuffle = o.shuffle === undefined ? false : checkBool(fn, 'shuffle', o.shuffle);
    this.dropLast = o.dropLast === undefined ? false : checkBool(fn, 'dropLast', o.dropLast);
    this.batchSize =
      o.batchSize === null ? null : o.batchSize === undefined ? 1 : checkInt(fn, 'batchSize', o.batchSize, 1);
    this.prefetch = o.prefetch === undefined ? 0 : checkInt(fn, 'prefetch', o.prefetch, 0);
    generatorHandle(fn, o.generator);
    this.generator = o.generator ?? undefined;
    if (o.collate !== undefined && typeof o.collate !== 'function') typeError(fn, 'collate', 'a function', o.collate);
    this.collate = o.collate;
    const iterableOf = (v: unknown): boolean =>
      typeof v === 'object' && v !== null && typeof (v as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function';
    if (o.sampler !== undefined && !iterableOf(o.sampler))
      typeError(fn, 'sampler', 'a Sampler (an iterable of indices)', o.sampler);
    if (o.batchSampler !== undefined && !iterableOf(o.batchSampler))
      typeError(fn, 'batchSampler', 'a batch sampler (an iterable of index arrays)', o.batchSampler);

    if (this.iterable) {
      for (const [k, set] of [
        ['shuffle', shuffle],
        ['sampler', o.sampler !== undefined],
        ['batchSampler', o.batchSampler !== undefined],
      ] as const)
        if (set)
          throw new TypeError(
            `${fn}: option ${k} is not supported with an IterableDataset (it decides its own order), got ${k}`,
          );
      return;
    }
    if (o.batchSampler !== undefined) {
      if ((o.batchSize !== undefined && o.batchSize !== 1) || shuffle || o.sampler !== undefined || this.dropLast)
        throw new TypeError(
          `${fn}: batchSampler option is mutually exclusive with batchSize, shuffle, sampler and dropLast`,
        );
      this.batchSize = null;
      this.batchSampler = o.batchSampler;
      return;
    }
    if (o.sampler !== undefined && shuffle)
      throw new TypeError(`${fn}: sampler option is mutually exclusive with shuffle`);
    if (this.batchSize === null && this.dropLast)
      throw new TypeError(`${fn}: batchSize null option is mutually exclusive with dropLast`);
    const sized = dataset as { length: number };
    this.sampler =
      o.sampler ?? (shuffle ? new RandomSampler(sized, { generator: this.generator }) : new SequentialSampler(sized));
    if (this.batchSize !== null) this.batchSampler = new BatchSampler(this.sampler, this.batchSize, this.dropLast);
  }

  /**
   * The number of batches of an epoch (PyTorch's `len(loader)`).
   * @throws TypeError when it is unknown (an iterable dataset without a length, a sampler without one)
   */
  get length(): number {
    const fn = 'DataLoader.length';
    if (this.iterable) {
      const n = (this.dataset as { length?: unknown }).length;
      if (typeof n !== 'number') throw new TypeError(`${fn}: this IterableDataset has no length`);
      if (this.batchSize === null) return n;
      return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
    }
    const s = (this.batchSampler ?? this.sampler) as { length?: unknown };
    if (typeof s.length !== 'number') throw new TypeError(`${fn}: the sampler has no length`);
    return s.length;
  }

  /** One batch of a map-style dataset. */
  private fetch(indices: number[]): B {
    const ds = this.dataset as Dataset<T>;
    if (this.collate === undefined && ds instanceof TensorDataset) {
      // the same values as stacking the rows, in one kernel per tensor
      const idx = tensor(indices, { dtype: 'int64' });
      try {
        return ds.tensors.map((t) => t.indexSelect(0, idx)) as unknown as B;
      } finally {
        idx.dispose();
      }
    }
    const samples = typeof ds.getItems === 'function' ? ds.getItems(indices) : indices.map((i) => ds.getItem(i));
    return this.collateBatch(samples);
  }

  private collateBatch(samples: T[]): B {
    return this.collate ? this.collate(samples) : (defaultCollate(samples) as unknown as B);
  }

  private single(sample: T): B {
    return this.collate ? this.collate([sample]) : (sample as unknown as B);
  }

  /** The work of one epoch: batch makers, pulled in order (sampler draws happen as they are pulled). */
  private *makers(): IterableIterator<() => B> {
    if (this.iterable) {
      const ds = this.dataset as unknown as Partial<Iterable<T>>;
      if (typeof ds[Symbol.iterator] !== 'function')
        throw new TypeError(
          'DataLoader: this IterableDataset is asynchronous only ([Symbol.asyncIterator]): iterate the loader with for await...of',
        );
      let batch: T[] = [];
      for (const s of ds as Iterable<T>) {
        if (this.batchSize === null) {
          const v = s;
          yield () => this.single(v);
          continue;
        }
        batch.push(s);
        if (batch.length === this.batchSize) {
          const b = batch;
          yield () => this.collateBatch(b);
          batch = [];
        }
      }
      if (batch.length > 0 && !this.dropLast && this.batchSize !== null) {
        const b = batch;
        yield () => this.collateBatch(b);
      }
      return;
    }
    if (this.batchSampler !== undefined) {
      for (const indices of this.batchSampler) {
        const idx = Array.from(indices);
        yield () => this.fetch(idx);
      }
      return;
    }
    const ds = this.dataset as Dataset<T>;
    for (const i of this.sampler as Iterable<number>) yield () => this.single(ds.getItem(i));
  }

  /** One epoch, synchronously. */
  [Symbol.iterator](): Iterator<B> {
    // PyTorch's iterator draws a base seed (for its workers) from the loader's generator when it
    // is created: drawn here too, so that the generator streams stay PyTorch's.
    drawSeed(this.generator);
    const makers = this.makers();
    return (function* () {
      for (const make of makers) yield make();
    })();
  }

  /**
   * One epoch, asynchronously: batches are made in event-loop tasks, `prefetch` of them ahead,
   * so the loop is never blocked for more than one batch and their collation overlaps the
   * consumer's awaits. A batch prepared ahead and not consumed (the loop broke) is disposed.
   */
  [Symbol.asyncIterator](): AsyncIterator<B> {
    drawSeed(this.generator);
    if (this.iterable && typeof (this.dataset as Partial<AsyncIterable<T>>)[Symbol.asyncIterator] === 'function')
      return this.asyncStream();
    const makers = this.makers();
    const ahead = this.prefetch;
    return (async function* () {
      const queue: Promise<B>[] = [];
      let exhausted = false;
      const fill = (want: number): void => {
        while (!exhausted && queue.length < want) {
          const r = makers.next();
          if (r.done) {
            exhausted = true;
            break;
          }
          const make = r.value;
          queue.push(
            new Promise<B>((resolve, reject) =>
              setImmediate(() => {
                try {
                  resolve(make());
                } catch (e) {
                  reject(e);
                }
              }),
            ),
          );
          // a rejection is observed when the consumer reaches it; until then it must not surface as unhandled
          queue[queue.length - 1].catch(() => undefined);
        }
      };
      try {
        for (;;) {
          fill(1 + ahead);
          const next = queue.shift();
          if (next === undefined) return;
          const batch = await next;
          fill(ahead); // `ahead` batches in the making while the consumer holds this one
          yield batch;
        }
      } finally {
        for (const p of queue.splice(0)) {
          try {
            disposeTensors(await p);
          } catch {
            // an error of a batch the consumer never reached
          }
        }
      }
    })();
  }

  private asyncStream(): AsyncIterator<B> {
    const ds = this.dataset as unknown as AsyncIterable<T>;
    const size = this.batchSize;
    const dropLast = this.dropLast;
    const self = this;
    const batches = (async function* () {
      let batch: T[] = [];
      for await (const s of ds) {
        if (size === null) {
          yield self.single(s);
          continue;
        }
        batch.push(s);
        if (batch.length === size) {
          await immediate();
          yield self.collateBatch(batch);
          batch = [];
        }
      }
      if (batch.length > 0 && !dropLast && size !== null) yield self.collateBatch(batch);
    })();
    const ahead = this.prefetch;
    if (ahead === 0) return batches;
    // an async generator queues the calls of next(): `ahead` of them in flight read the stream
    // and collate while the consumer holds a batch
    return (async function* () {
      const queue: Promise<IteratorResult<B, void>>[] = [];
      let finished = false;
      try {
        for (;;) {
          while (queue.length < 1 + ahead) {
            const p = batches.next();
            p.catch(() => undefined);
            queue.push(p);
          }
          const r = await (queue.shift() as Promise<IteratorResult<B, void>>);
          if (r.done) {
            finished = true;
            return;
          }
          yield r.value;
        }
      } finally {
        for (const p of queue.splice(0)) {
          try {
            const r = await p;
            if (!r.done) disposeTensors(r.value);
          } catch {
            // an error of a batch the consumer never reached
          }
        }
        if (!finished) await batches.return(undefined);
      }
    })();
  }

  toString(): string {
    return `DataLoader(dataset=${describe(this.dataset)}, batchSize=${this.batchSize}, dropLast=${this.dropLast})`;
  }
}
