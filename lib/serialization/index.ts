// torch.save / torch.load (PyTorch's zip checkpoint format) and safetensors, in TypeScript.
import { checkDevice } from '../device';
import { checkOptions } from '../errors';
import type { Scalar, Tensor } from '../tensor';
import {
  checkMapLocation,
  loadCheckpoint,
  type MapLocation,
  pickleCheckpoint,
  storageBytes,
  writeCheckpoint,
} from './checkpoint';
import { atomicWrite, atomicWriteAsync, type ByteSource, FormatError, openSource, openSourceAsync } from './io';
import { loadSafetensorsFrom, prepareSafetensors, writeSafetensors } from './safetensors';

/**
 * A value as `torch.load` returns it: what Python's unpickler would build, as JS values.
 *
 * | Python (in the checkpoint)                     | JavaScript                                        |
 * |-----------------------------------------------|---------------------------------------------------|
 * | `torch.Tensor`, `nn.Parameter`                 | `Tensor` (a `Parameter` for parameters)           |
 * | `float`; `int` (beyond 2^53: `bigint`)         | `number`; `number` or `bigint`                    |
 * | `bool`, `str`, `bytes`, `None`                 | `boolean`, `string`, `Uint8Array`, `null`         |
 * | `list`, `tuple`, `torch.Size`                  | arrays (tuples and sizes frozen)                  |
 * | `dict` / `OrderedDict` with only `str` keys    | a plain object, in the dict's order               |
 * | `dict` with other keys (ints, tuples, ...)     | a `Map`                                           |
 *
 * So a model's `state_dict()` comes back as `{ 'fc.weight': Tensor, ... }` (ready for
 * `module.loadStateDict`), and an optimizer's as `{ state: Map<number, { step: Tensor, exp_avg:
 * Tensor, ... }>, param_groups: [{ lr: number, betas: [number, number], ..., params: number[] }] }`
 * (its `state` has int keys, so it is a Map; `optimizer.loadStateDict` takes it as it is).
 * A training checkpoint nests both: `{ epoch: 3, model: {...}, optimizer: {...} }`.
 */
export type CheckpointValue =
  | Tensor
  | Scalar
  | string
  | null
  | Uint8Array
  | CheckpointValue[]
  | { [key: string]: CheckpointValue }
  | Map<CheckpointValue, CheckpointValue>;

/** Options of `torch.load` and `torch.loadAsync`. */
export interface LoadOptions {
  /**
   * Where the tensors go: a device for all of them (`'cpu'`, `'cuda'`, `'cuda:1'`), or an object
   * mapping the locations saved in the file (`'cuda:0'`) to devices (unmapped ones go to the
   * CPU). Default: the CPU, whatever the file says.
   */
  mapLocation?: string | Record<string, string>;
}

export interface SaveOptions {
  /** @internal Write zip64 records even for small files (tests). */
  _forceZip64?: boolean;
}

export interface LoadSafetensorsOptions {
  /** The device of the loaded tensors. Default `'cpu'`. */
  device?: string;
  /** Return `{tensors, metadata}` instead of just the tensors. */
  withMetadata?: boolean;
}

/** Every error while reading names the function and the file (libtorch's and Node's included). */
function failure(fn: string, name: string, e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  if (e.message.startsWith(`${fn}: `)) return e;
  const err = new Error(`${fn}: ${e.message} (file: ${name})`);
  if (!(e instanceof FormatError)) (err as Error & { cause?: unknown }).cause = e;
  return err;
}

/**
 * Saves `obj` as a PyTorch checkpoint that Python's `torch.load` reads (the zip format of
 * `torch.save` since PyTorch 1.6: a protocol-2 pickle plus one record per tensor storage).
 *
 * Supported values: tensors (and `nn.Parameter`s), numbers (safe integers are written as Python
 * ints, all other numbers as floats), bigints (ints), booleans, null (None), strings, Uint8Array
 * (bytes), arrays (lists), Maps (dicts with their keys: strings, numbers, bigints, booleans, null)
 * and plain objects (dicts; an object whose values are all tensors, such as `module.stateDict()`,
 * is written as a `collections.OrderedDict`, as PyTorch writes state dicts). Shared references and
 * cycles are kept. Each tensor is written as its own contiguous storage (views that share memory
 * are saved separately).
 *
 * The write is atomic: the data goes to `<path>.tmp-<pid>-<random>` in the same directory, which
 * is fsynced and renamed over `path`. A reader never sees a partial file; a process killed
 * mid-save leaves the old file intact (and possibly its temp file, which nothing reads).
 *
 * @example torch.save(model.stateDict(), 'model.pt')   // Python: model.load_state_dict(torch.load('model.pt'))
 * @throws TypeError for values that cannot be saved (naming where they are), before anything is written;
 *   Error when the file cannot be written.
 */
export function save(obj: unknown, path: string, opts?: SaveOptions): void {
  const fn = 'torch.save';
  const o = checkOptions<SaveOptions>(fn, opts, ['_forceZip64']);
  const { pkl, storages } = pickleCheckpoint(fn, obj);
  atomicWrite(fn, path, (sink) =>
    writeCheckpoint(sink, pkl, storages.length, (i) => storageBytes(storages[i]), o._forceZip64 === true),
  );
}

/**
 * `torch.save` whose file I/O does not block the event loop: the same file, written with the
 * same atomic protocol (temp file, fsync, rename) through fs.promises.
 *
 * What runs on the JS thread: at the call, pickling `obj` and copying every tensor's bytes (a
 * snapshot: the file holds the values at the call, whatever happens to the tensors afterwards;
 * it costs memory for a copy of them until each is written); then building the zip records
 * (headers, CRC-32), one record at a time, each written before the next is made. Opening,
 * writing, fsync and rename run on the libuv pool.
 *
 * @example await torch.saveAsync(model.stateDict(), 'model.pt')
 * @throws (rejects) as torch.save, with `torch.saveAsync` in the messages.
 */
export async function saveAsync(obj: unknown, path: string, opts?: SaveOptions): Promise<void> {
  const fn = 'torch.saveAsync';
  const o = checkOptions<SaveOptions>(fn, opts, ['_forceZip64']);
  const { pkl, storages } = pickleCheckpoint(fn, obj);
  // A snapshot: the tensors may change (a training step) while the file is written. Each copy is
  // dropped once its record is written.
  const bytes: (Uint8Array | null)[] = storages.map(storageBytes);
  const take = (i: number): Uint8Array => {
    const b = bytes[i]!;
    bytes[i] = null;
    return b;
  };
  await atomicWriteAsync(fn, path, (sink) => writeCheckpoint(sink, pkl, bytes.length, take, o._forceZip64 === true));
}

/**
 * Loads a checkpoint written by PyTorch's `torch.save` (1.6+ zip format) or by `torch.save` here.
 *
 * Only data is loaded: tensors, parameters, numbers, strings, bytes, lists and tuples (as
 * arrays), dicts (plain objects when every key is a string, else Maps — e.g. an optimizer's
 * `state`), None (null). The pickle is parsed by a restricted reader that never imports or runs
 * anything: a reference to any other Python global (a class, `os.system`, ...) is refused with
 * an error. Every size and offset in the file is checked before use, so a corrupt or hostile file
 * gives an Error, not a crash or a huge allocation. Python ints beyond 2^53 become bigints.
 *
 * The result is a `CheckpointValue` (see there for what each Python value becomes). When you
 * know the checkpoint's structure, say it with the type parameter: it is not checked at run time,
 * as Python's `torch.load` checks nothing either.
 *
 * @typeParam T the structure you expect, e.g. `Record<string, Tensor>` for a state_dict.
 * @param file a path, or the bytes of a checkpoint
 * @example model.loadStateDict(torch.load<Record<string, torch.Tensor>>('model.pt'))
 * @example
 * const ckpt = torch.load<{ epoch: number; model: Record<string, torch.Tensor>; optimizer: object }>('ckpt.pt');
 * @throws Error `torch.load: <problem> (file: ...)` for unreadable, corrupt or unsupported files.
 */
export function load<T = CheckpointValue>(file: string | Uint8Array, opts?: LoadOptions): T {
  const fn = 'torch.load';
  const mapLocation = checkMapLocation(fn, checkOptions<LoadOptions>(fn, opts, ['mapLocation']).mapLocation);
  return parseCheckpoint<T>(fn, openSource(fn, file), mapLocation);
}

/**
 * `torch.load` whose file reading does not block the event loop: the file is read whole into
 * memory through fs.promises (so it needs memory for the file and its tensors at once, and files
 * larger than Node's largest Buffer are refused: use `torch.load` for those). Parsing the pickle
 * and building the tensors then run on the JS thread, as in `torch.load`, with the same checks
 * and the same errors (named `torch.loadAsync`).
 *
 * The result and its type parameter are as `torch.load`'s (see `CheckpointValue`).
 *
 * @example model.loadStateDict(await torch.loadAsync<Record<string, torch.Tensor>>('model.pt'))
 * @throws (rejects) Error `torch.loadAsync: <problem> (file: ...)` for unreadable, corrupt or unsupported files.
 */
export async function loadAsync<T = CheckpointValue>(file: string | Uint8Array, opts?: LoadOptions): Promise<T> {
  const fn = 'torch.loadAsync';
  const mapLocation = checkMapLocation(fn, checkOptions<LoadOptions>(fn, opts, ['mapLocation']).mapLocation);
  return parseCheckpoint<T>(fn, await openSourceAsync(fn, file), mapLocation);
}

function parseCheckpoint<T>(
  fn: string,
  { src, name }: { src: ByteSource; name: string },
  mapLocation: MapLocation | undefined,
): T {
  try {
    return loadCheckpoint(src, mapLocation) as T;
  } catch (e) {
    throw failure(fn, name, e);
  } finally {
    src.close();
  }
}

/**
 * Saves tensors in the safetensors format (readable by the `safetensors` library, Hugging Face
 * tooling and `torch.loadSafetensors`). Tensors are stored contiguous; `metadata` goes in the
 * header's `__metadata__`. The write is atomic, like `torch.save`.
 *
 * @example torch.saveSafetensors(model.stateDict(), 'model.safetensors', { format: 'pt' })
 * @throws TypeError for non-tensor values or non-string metadata, before anything is written.
 */
export function saveSafetensors(
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  path: string,
  metadata?: Record<string, string>,
): void {
  const fn = 'torch.saveSafetensors';
  const { header, order } = prepareSafetensors(fn, tensors, metadata);
  atomicWrite(fn, path, (sink) => writeSafetensors(sink, header, order));
}

/**
 * Loads a safetensors file: a record of name → Tensor (or `{tensors, metadata}` with
 * `withMetadata`). The header is validated in full (size limit, dtypes, shapes, offsets that tile
 * the data exactly) before any tensor is read; each tensor is read on its own, not the whole file.
 *
 * @example model.loadStateDict(torch.loadSafetensors('model.safetensors'))
 * @throws Error `torch.loadSafetensors: <problem> (file: ...)` for unreadable or malformed files.
 */
export function loadSafetensors(
  file: string | Uint8Array,
  opts?: LoadSafetensorsOptions & { withMetadata?: false },
): Record<string, Tensor>;
export function loadSafetensors(
  file: string | Uint8Array,
  opts: LoadSafetensorsOptions & { withMetadata: true },
): {
  /** The tensors by name. */
  tensors: Record<string, Tensor>;
  /** The header's `__metadata__`, or null. */
  metadata: Record<string, string> | null;
};
export function loadSafetensors(
  file: string | Uint8Array,
  opts?: LoadSafetensorsOptions,
): Record<string, Tensor> | { tensors: Record<string, Tensor>; metadata: Record<string, string> | null } {
  const fn = 'torch.loadSafetensors';
  const o = checkOptions<LoadSafetensorsOptions>(fn, opts, ['device', 'withMetadata']);
  const device = o.device === undefined ? undefined : checkDevice(fn, o.device);
  const { src, name } = openSource(fn, file);
  try {
    const r = loadSafetensorsFrom(src, device);
    return o.withMetadata ? r : r.tensors;
  } catch (e) {
    throw failure(fn, name, e);
  } finally {
    src.close();
  }
}
