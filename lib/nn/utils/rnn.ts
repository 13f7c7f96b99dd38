// nn.utils.rnn: packing and padding of variable-length sequences (PyTorch's torch.nn.utils.rnn).
// Lengths are checked here, before the native call: PyTorch 1.13 does not check that a length
// fits the time dimension and then reads past the end of the input.

import { dtypeCode } from '../../dtype';
import { checkBool, checkInt, checkNumber, checkOptions, shapeStr, typeError } from '../../errors';
import { native as N } from '../../native';
import { Tensor } from '../../tensor';

const isIntDtype = (d: string): boolean =>
  d === 'int64' || d === 'int32' || d === 'int16' || d === 'int8' || d === 'uint8';

/** A 1-D int64 tensor of `values` (on `device`, default CPU). */
function int64(values: number[], device?: string): Tensor {
  return new Tensor(
    N.fromBuffer(
      BigInt64Array.from(values, (v) => BigInt(v)),
      [values.length],
      dtypeCode('', 'int64'),
      undefined,
      device,
    ),
  );
}

/** The values of a 1-D integer tensor as numbers. */
function intValues(t: Tensor): number[] {
  return Array.from(t.data() as ArrayLike<number | bigint>, (v) => Number(v));
}

/** The inverse of a permutation (PyTorch's `invert_permutation`). */
function invert(perm: number[]): number[] {
  const out = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    out[p] = i;
  });
  return out;
}

function checkIndices(fn: string, arg: string, t: unknown, n: number): Tensor | null {
  if (t === null || t === undefined) return null;
  if (!(t instanceof Tensor)) typeError(fn, arg, 'an int64 Tensor or null', t);
  if (t.dtype !== 'int64' || t.dim() !== 1 || t.shape[0] !== n)
    throw new TypeError(
      `${fn}: expected ${arg} to be a 1-D int64 tensor of length ${n} (the batch size), ` +
        `got a ${t.dtype} tensor of shape ${shapeStr(t.shape)}`,
    );
  return t;
}

/** The values of an index tensor of length n, checked to be a permutation of 0..n-1. */
function checkPermutation(fn: string, arg: string, t: Tensor): number[] {
  const v = intValues(t);
  const seen = new Uint8Array(v.length);
  v.forEach((p, i) => {
    if (!(p >= 0 && p < v.length) || seen[p])
      throw new RangeError(
        `${fn}: expected ${arg} to be a permutation of 0..${v.length - 1}, got ${arg}[${i}] = ${p}` +
          (p >= 0 && p < v.length ? ' (repeated)' : ''),
      );
    seen[p] = 1;
  });
  return v;
}

/**
 * A batch of variable-length sequences packed time step by time step (PyTorch's
 * `PackedSequence`), as `packPaddedSequence` and `packSequence` return it and the recurrent
 * layers take and give it.
 *
 * Like PyTorch's (a named tuple) it is also a 4-element array, so
 * `const [data, batchSizes, sortedIndices, unsortedIndices] = packed` works, and `torch.tidy`
 * keeps its tensors when it is returned. It owns its four tensors: `dispose()` frees them.
 *
 * - `data` `(sum(lengths), *)`: the steps of all sequences, step by step.
 * - `batchSizes` (int64, CPU) `(maxLength)`: how many sequences are still running at each step.
 * - `sortedIndices` / `unsortedIndices` (int64): the permutation that sorted the batch by
 *   decreasing length and its inverse, or `null` when the batch was given sorted.
 */
export class PackedSequence extends Array<Tensor | null> {
  /** Array methods that build a new array (`map`, `slice`, ...) build a plain Array, not a PackedSequence. */
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /**
   * Instances are meant to be made by `packPaddedSequence` / `packSequence` (as in PyTorch).
   * `unsortedIndices` defaults to the inverse of `sortedIndices`.
   */
  constructor(
    data: Tensor,
    batchSizes: Tensor,
    sortedIndices: Tensor | null = null,
    unsortedIndices: Tensor | null = null,
  ) {
    super();
    const fn = 'PackedSequence';
    if (!(data instanceof Tensor)) typeError(fn, 'data', 'a Tensor', data);
    if (!(batchSizes instanceof Tensor)) typeError(fn, 'batchSizes', 'a Tensor', batchSizes);
    if (batchSizes.dtype !== 'int64' || batchSizes.dim() !== 1 || batchSizes.device !== 'cpu')
      throw new TypeError(
        `${fn}: expected batchSizes to be a 1-D int64 CPU tensor, got a ${batchSizes.dtype} tensor ` +
          `of shape ${shapeStr(batchSizes.shape)} on ${batchSizes.device}`,
      );
    if (data.dim() < 1) throw new RangeError(`${fn}: expected data to have at least 1 dimension, got a 0-D tensor`);
    // The native unpacking trusts batchSizes (as PyTorch's does): a negative, increasing or
    // too large entry would read and write out of bounds, so the invariants are checked here.
    const bs = intValues(batchSizes);
    if (bs.length === 0)
      throw new RangeError(
        `${fn}: expected batchSizes to have at least one entry (one per time step), got an empty tensor`,
      );
    let total = 0;
    bs.forEach((b, i) => {
      if (b < 1) throw new RangeError(`${fn}: expected every batch size to be at least 1, got batchSizes[${i}] = ${b}`);
      if (i > 0 && b > bs[i - 1])
        throw new RangeError(
          `${fn}: expected batchSizes to be non-increasing (sequences sorted by decreasing length), ` +
            `got batchSizes[${i}] = ${b} after batchSizes[${i - 1}] = ${bs[i - 1]}`,
        );
      total += b;
    });
    if (total !== data.shape[0])
      throw new RangeError(
        `${fn}: expected data to have sum(batchSizes) = ${total} rows, got data of shape ${shapeStr(data.shape)}`,
      );
    const n = bs[0];
    const sorted = checkIndices(fn, 'sortedIndices', sortedIndices, n);
    let unsorted = checkIndices(fn, 'unsortedIndices', unsortedIndices, n);
    const sortedV = sorted ? checkPermutation(fn, 'sortedIndices', sorted) : null;
    const unsortedV = unsorted ? checkPermutation(fn, 'unsortedIndices', unsorted) : null;
    if (sortedV && unsortedV && sortedV.some((p, i) => unsortedV[p] !== i))
      throw new RangeError(
        `${fn}: expected unsortedIndices to be the inverse permutation of sortedIndices, ` +
          `got [${sortedV.join(', ')}] and [${unsortedV.join(', ')}]`,
      );
    if (sorted && !unsorted) unsorted = int64(invert(sortedV!), sorted.device);
    this.push(data, batchSizes, sorted, unsorted);
    Object.freeze(this);
  }

  /** The packed steps, `(sum(lengths), *)`. */
  get data(): Tensor {
    return this[0] as Tensor;
  }
  /** Sequences still running at each step (int64, CPU). */
  get batchSizes(): Tensor {
    return this[1] as Tensor;
  }
  /** The sorting permutation (by decreasing length), or null. */
  get sortedIndices(): Tensor | null {
    return this[2];
  }
  /** The inverse of `sortedIndices`, or null. */
  get unsortedIndices(): Tensor | null {
    return this[3];
  }

  /** Frees the four tensors. Idempotent. */
  dispose(): void {
    for (const t of this) t?.dispose();
  }
  /** The same as `dispose()`, so that a `using` declaration frees it at the end of its block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A copy on another device or dtype (`data` only; `batchSizes` stays on the CPU, as PyTorch). */
  to(target: Parameters<Tensor['to']>[0]): PackedSequence {
    const data = this.data.to(target);
    const dev = data.device;
    return new PackedSequence(
      data,
      this.batchSizes.detach(),
      this.sortedIndices ? this.sortedIndices.to(dev) : null,
      this.unsortedIndices ? this.unsortedIndices.to(dev) : null,
    );
  }

  /** `PackedSequence(data=tensor(...), batch_sizes=tensor(...), sorted_indices=..., unsorted_indices=...)` */
  override toString(): string {
    const s = (t: Tensor | null) => (t ? t.toString() : 'None');
    return (
      `PackedSequence(data=${s(this.data)}, batch_sizes=${s(this.batchSizes)}, ` +
      `sorted_indices=${s(this.sortedIndices)}, unsorted_indices=${s(this.unsortedIndices)})`
    );
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.some((t) => t?.isDisposed) ? 'PackedSequence(<disposed>)' : this.toString();
  }
}

/** Lengths as numbers, from an array or a 1-D integer tensor. */
function lengthList(fn: string, lengths: unknown): number[] {
  if (lengths instanceof Tensor) {
    if (lengths.dim() !== 1 || !isIntDtype(lengths.dtype))
      throw new TypeError(
        `${fn}: expected lengths to be a 1-D integer tensor or an array of integers, ` +
          `got a ${lengths.dtype} tensor of shape ${shapeStr(lengths.shape)}`,
      );
    return intValues(lengths);
  }
  if (!Array.isArray(lengths)) typeError(fn, 'lengths', 'an array of integers or a 1-D integer Tensor', lengths);
  return lengths.map((v, i) => {
    if (typeof v === 'bigint') return Number(v);
    if (typeof v !== 'number') typeError(fn, `lengths[${i}]`, 'an integer', v);
    if (!Number.isInteger(v)) throw new RangeError(`${fn}: expected lengths[${i}] to be an integer, got ${v}`);
    return v;
  });
}

/** Options of `nn.utils.rnn.packPaddedSequence`. */
export interface PackPaddedOptions {
  /** Input is `(N, T, *)` instead of `(T, N, *)`. Default false. */
  batchFirst?: boolean;
  /** Lengths must be given in decreasing order (default true); false sorts them. */
  enforceSorted?: boolean;
}

/**
 * Packs a padded batch of variable-length sequences (PyTorch's `pack_padded_sequence`).
 *
 * @param input `(T, N, *)`, or `(N, T, *)` with `batchFirst`: right-padded sequences.
 * @param lengths the length of each sequence (an array or a 1-D integer tensor), each in `[1, T]`.
 * @throws RangeError when a length is not an integer in `[1, T]` (PyTorch 1.13 reads past the
 *   end of the input for a length > T; we refuse it), when the count differs from the batch
 *   size, or when `enforceSorted` is on and the lengths are not in decreasing order.
 * @example
 * const packed = nn.utils.rnn.packPaddedSequence(x, [5, 2, 3], { enforceSorted: false });
 * const [out, [h, c]] = lstm.forward(packed);
 */
export function packPaddedSequence(
  input: Tensor,
  lengths: number[] | Tensor,
  opts: PackPaddedOptions = {},
): PackedSequence {
  const fn = 'packPaddedSequence';
  const o = checkOptions<PackPaddedOptions>(fn, opts, ['batchFirst', 'enforceSorted']);
  const batchFirst = o.batchFirst === undefined ? false : checkBool(fn, 'batchFirst', o.batchFirst);
  const enforceSorted = o.enforceSorted === undefined ? true : checkBool(fn, 'enforceSorted', o.enforceSorted);
  if (!(input instanceof Tensor)) typeError(fn, 'input', 'a Tensor', input);
  if (input.dim() < 2)
    throw new RangeError(
      `${fn}: expected input to have at least 2 dimensions ((T, N, *) or (N, T, *) with batchFirst), ` +
        `got shape ${shapeStr(input.shape)}`,
    );
  const lens = lengthList(fn, lengths);
  const batchDim = batchFirst ? 0 : 1;
  const B = input.shape[batchDim],
    T = input.shape[1 - batchDim];
  if (lens.length !== B)
    throw new RangeError(
      `${fn}: expected one length per sequence: input of shape ${shapeStr(input.shape)} ` +
        `(batchFirst=${batchFirst}) has batch size ${B}, got ${lens.length} lengths`,
    );
  lens.forEach((l, i) => {
    if (l < 1 || l > T)
      throw new RangeError(
        `${fn}: expected every length to be in [1, ${T}] (the time dimension of input of shape ` +
          `${shapeStr(input.shape)}, batchFirst=${batchFirst}), got lengths[${i}] = ${l}`,
      );
  });
  let sorted: number[] | null = null;
  let lensSorted = lens;
  if (enforceSorted) {
    for (let i = 1; i < lens.length; i++) {
      if (lens[i] > lens[i - 1])
        throw new RangeError(
          `${fn}: \`lengths\` array must be sorted in decreasing order when \`enforceSorted\` is true ` +
            `(got [${lens.join(', ')}]). You can pass \`enforceSorted: false\` to packPaddedSequence ` +
            'and/or packSequence to sidestep this requirement if you do not need ONNX exportability.',
        );
    }
  } else {
    sorted = lens.map((_, i) => i).sort((a, b) => lens[b] - lens[a] || a - b);
    lensSorted = sorted.map((i) => lens[i]);
  }
  const lengthsT = int64(lensSorted);
  let sortedT: Tensor | null = null;
  let x = input;
  try {
    if (sorted) {
      sortedT = int64(sorted, input.device);
      x = input.indexSelect(batchDim, sortedT);
    }
    const [data, batchSizes] = N.packPadded(x._h, lengthsT._h, batchFirst);
    return new PackedSequence(new Tensor(data), new Tensor(batchSizes), sortedT);
  } catch (e) {
    sortedT?.dispose();
    throw e;
  } finally {
    lengthsT.dispose();
    if (x !== input) x.dispose();
  }
}

/** Options of `nn.utils.rnn.padPackedSequence`. */
export interface PadPackedOptions {
  /** Output `(N, T, *)` instead of `(T, N, *)`. Default false. */
  batchFirst?: boolean;
  /** The value of the padded positions. Default 0. */
  paddingValue?: number;
  /** Pad to this many steps (at least the longest length) instead of the longest length. */
  totalLength?: number;
}

/**
 * Unpacks a `PackedSequence` into a padded tensor (PyTorch's `pad_packed_sequence`), in the
 * batch's original order.
 *
 * @returns `[padded, lengths]`: padded `(T, N, *)` (or `(N, T, *)` with `batchFirst`), where T is
 *   the longest length unless `totalLength` is given, and the lengths (int64).
 * @throws RangeError when `totalLength` is shorter than the longest sequence.
 */
export function padPackedSequence(sequence: PackedSequence, opts: PadPackedOptions = {}): [Tensor, Tensor] {
  const fn = 'padPackedSequence';
  if (!(sequence instanceof PackedSequence)) typeError(fn, 'sequence', 'a PackedSequence', sequence);
  const o = checkOptions<PadPackedOptions>(fn, opts, ['batchFirst', 'paddingValue', 'totalLength']);
  const batchFirst = o.batchFirst === undefined ? false : checkBool(fn, 'batchFirst', o.batchFirst);
  const paddingValue = o.paddingValue === undefined ? 0 : checkNumber(fn, 'paddingValue', o.paddingValue);
  let maxLength = sequence.batchSizes.shape[0];
  if (o.totalLength !== undefined && o.totalLength !== null) {
    const total = checkInt(fn, 'totalLength', o.totalLength);
    if (total < maxLength)
      throw new RangeError(
        `${fn}: expected totalLength to be at least the length of the longest sequence in input, ` +
          `but got totalLength=${total} and max sequence length being ${maxLength}`,
      );
    maxLength = total;
  }
  const [ph, lh] = N.padPacked(sequence.data._h, sequence.batchSizes._h, batchFirst, paddingValue, maxLength);
  const padded = new Tensor(ph),
    lens = new Tensor(lh);
  const unsorted = sequence.unsortedIndices;
  if (!unsorted) return [padded, lens];
  try {
    const cpuIdx = unsorted.device === 'cpu' ? unsorted : unsorted.cpu();
    const out: [Tensor, Tensor] = [padded.indexSelect(batchFirst ? 0 : 1, unsorted), lens.indexSelect(0, cpuIdx)];
    if (cpuIdx !== unsorted) cpuIdx.dispose();
    return out;
  } finally {
    padded.dispose();
    lens.dispose();
  }
}

function sequenceList(fn: string, sequences: unknown): Tensor[] {
  if (!Array.isArray(sequences)) typeError(fn, 'sequences', 'an array of Tensors', sequences);
  if (sequences.length === 0) throw new RangeError(`${fn}: expected a non-empty array of sequences`);
  const first = sequences[0];
  sequences.forEach((s, i) => {
    if (!(s instanceof Tensor)) typeError(fn, `sequences[${i}]`, 'a Tensor', s);
    if (s.dim() < 1)
      throw new RangeError(`${fn}: expected sequences[${i}] to be (L, *) with at least 1 dimension, got a 0-D tensor`);
  });
  const trailing = (first as Tensor).shape.slice(1);
  sequences.forEach((s: Tensor, i) => {
    const t = s.shape.slice(1);
    if (t.length !== trailing.length || t.some((d, k) => d !== trailing[k]))
      throw new RangeError(
        `${fn}: expected every sequence to have the trailing shape of sequences[0] ` +
          `(shape ${shapeStr((first as Tensor).shape)}), got sequences[${i}] of shape ${shapeStr(s.shape)}`,
      );
    if (s.dtype !== (first as Tensor).dtype)
      throw new TypeError(
        `${fn}: expected every sequence to have the dtype of sequences[0] (${(first as Tensor).dtype}), ` +
          `got sequences[${i}] of dtype ${s.dtype}`,
      );
  });
  return sequences as Tensor[];
}

/** Options of `nn.utils.rnn.padSequence`. */
export interface PadSequenceOptions {
  /** Output `(N, T, *)` instead of `(T, N, *)`. Default false. */
  batchFirst?: boolean;
  /** The value of the padded positions. Default 0. */
  paddingValue?: number;
}

/**
 * Stacks sequences `(L_i, *)` of different lengths into one right-padded tensor `(T, N, *)`
 * (or `(N, T, *)` with `batchFirst`), T the longest length (PyTorch's `pad_sequence`).
 */
export function padSequence(sequences: Tensor[], opts: PadSequenceOptions = {}): Tensor {
  const fn = 'padSequence';
  const seqs = sequenceList(fn, sequences);
  const o = checkOptions<PadSequenceOptions>(fn, opts, ['batchFirst', 'paddingValue']);
  const batchFirst = o.batchFirst === undefined ? false : checkBool(fn, 'batchFirst', o.batchFirst);
  const paddingValue = o.paddingValue === undefined ? 0 : checkNumber(fn, 'paddingValue', o.paddingValue);
  return new Tensor(
    N.padSequence(
      seqs.map((s) => s._h),
      batchFirst,
      paddingValue,
    ),
  );
}

/**
 * Packs sequences `(L_i, *)` (PyTorch's `pack_sequence`: `padSequence` then
 * `packPaddedSequence`). With `enforceSorted` (default) they must come longest first.
 * @throws RangeError for an empty sequence, or unsorted lengths with `enforceSorted`.
 */
export function packSequence(sequences: Tensor[], opts: { enforceSorted?: boolean } = {}): PackedSequence {
  const fn = 'packSequence';
  const seqs = sequenceList(fn, sequences);
  const o = checkOptions<{ enforceSorted?: boolean }>(fn, opts, ['enforceSorted']);
  const enforceSorted = o.enforceSorted === undefined ? true : checkBool(fn, 'enforceSorted', o.enforceSorted);
  const lengths = seqs.map((s) => s.shape[0]);
  lengths.forEach((l, i) => {
    if (l < 1)
      throw new RangeError(
        `${fn}: expected every sequence to have at least one step, ` +
          `got sequences[${i}] of shape ${shapeStr(seqs[i].shape)}`,
      );
  });
  const padded = padSequence(seqs);
  try {
    return packPaddedSequence(padded, lengths, { enforceSorted });
  } finally {
    padded.dispose();
  }
}
