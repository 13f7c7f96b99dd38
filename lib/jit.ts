// TorchScript: torch.jit.load / torch.jit.save and ScriptModule, over native/jit.cc.
//
// A file is checked here before libtorch sees it: it must be an intact zip (every record's CRC-32
// verified by the same reader as torch.load's) holding TorchScript's records. libtorch's own
// reader is not hardened against truncated or corrupt archives, so a damaged file is refused with
// a clear error instead of reaching it. Its pickles and code are bounds-checked too (nesting,
// declared lengths, memo indices, bracket depth: serialization/pickle_scan.ts), and after loading
// native/jit.cc checks that every tensor lies inside its storage.
import * as zlib from 'node:zlib';

import { checkDevice } from './device';
import { checkBool, checkOptions, TorchError, typeError } from './errors';
import { type Handle, type JitHandle, native as N } from './native';
import { atomicWrite, type ByteSource, crc32, FormatError, openSource } from './serialization/io';
import { scanCode, scanPickle } from './serialization/pickle_scan';
import { type ZipEntry, ZipReader } from './serialization/zip';
import { Tensor } from './tensor';

export { isTracing, TracedModule, TraceError, trace } from './jit_trace';

/**
 * A value passed to or returned by a TorchScript method, converted by the method's signature:
 *
 * | TorchScript                 | JavaScript                                                   |
 * |-----------------------------|--------------------------------------------------------------|
 * | `Tensor`                    | `Tensor` (shares memory; results are new tensors)            |
 * | `float` / `int`             | `number` (`int` results beyond 2^53 come back as `bigint`; a bigint is accepted for `int`) |
 * | `bool` / `str`              | `boolean` / `string`                                         |
 * | `None`, `Optional[T]`       | `null` (or `undefined` in); results give `null`              |
 * | `List[T]`, `Tuple[...]`     | arrays (tuples come back as arrays)                          |
 * | `Dict[str, T]`              | plain objects; dicts with other keys come back as `Map`s     |
 * | `Device`                    | a device string such as `'cpu'`                              |
 */
export type JitValue =
  | Tensor
  | number
  | bigint
  | boolean
  | string
  | null
  | undefined
  | JitValue[]
  | { [key: string]: JitValue }
  | Map<JitValue, JitValue>;

/** Wraps native `[name, handle]` pairs, all at once, and iterates over them. */
function named(pairs: [string, Handle][]): IterableIterator<[string, Tensor]> {
  return pairs.map(([k, h]): [string, Tensor] => [k, new Tensor(h)]).values();
}

/** Options of `torch.jit.load`. */
export interface LoadOptions {
  /** Where the module's parameters and buffers go (`map_location`). Default: where they were saved. */
  device?: string;
}

/**
 * A TorchScript module loaded by `torch.jit.load`: a model exported from Python with
 * `torch.jit.trace` or `torch.jit.script`, run by libtorch's interpreter without Python.
 *
 * Methods run under the caller's grad mode (`torch.noGrad(() => m.forward(x))` builds no graph).
 * The module holds native memory until `dispose()` (or until it is garbage-collected).
 */
export class ScriptModule {
  private _h: JitHandle | null;

  /** @internal Modules are made by `torch.jit.load`. */
  constructor(h: JitHandle) {
    this._h = h;
  }

  private handle(fn: string): JitHandle {
    if (this._h === null) throw new Error(`${fn}: this ScriptModule is disposed`);
    return this._h;
  }

  /** Runs `forward` with the given inputs (checked against its signature). */
  forward(...inputs: JitValue[]): JitValue {
    return N.jitRun(this.handle('ScriptModule.forward'), 'forward', inputs, Tensor) as JitValue;
  }

  /**
   * `forward` on libuv's thread pool: the event loop stays free while the model runs. The input
   * tensors may not be disposed or modified in place until the promise settles (such calls throw).
   * Grad mode is the caller's at the time of the call.
   */
  forwardAsync(...inputs: JitValue[]): Promise<JitValue> {
    return N.jitRunAsync(this.handle('ScriptModule.forwardAsync'), 'forward', inputs, Tensor) as Promise<JitValue>;
  }

  /** Runs another method of the module (one exported with `@torch.jit.export`, for example). */
  runMethod(name: string, ...args: JitValue[]): JitValue {
    if (typeof name !== 'string') typeError('ScriptModule.runMethod', 'name', 'a method name (a string)', name);
    return N.jitRun(this.handle('ScriptModule.runMethod'), name, args, Tensor) as JitValue;
  }

  /** `runMethod` on libuv's thread pool (see `forwardAsync`). */
  runMethodAsync(name: string, ...args: JitValue[]): Promise<JitValue> {
    if (typeof name !== 'string') typeError('ScriptModule.runMethodAsync', 'name', 'a method name (a string)', name);
    return N.jitRunAsync(this.handle('ScriptModule.runMethodAsync'), name, args, Tensor) as Promise<JitValue>;
  }

  /** The names of the module's methods (`forward` and the exported ones). */
  methods(): string[] {
    return N.jitMethods(this.handle('ScriptModule.methods'));
  }

  /** A method's signature as TorchScript prints it, e.g. `forward(__torch__.MLP self, Tensor x) -> Tensor`. */
  schema(name = 'forward'): string {
    if (typeof name !== 'string') typeError('ScriptModule.schema', 'name', 'a method name (a string)', name);
    const s = N.jitSchema(this.handle('ScriptModule.schema'), name);
    if (s === null)
      throw new Error(
        `ScriptModule.schema: the module has no method '${name}' (its methods: ${this.methods().join(', ') || 'none'})`,
      );
    return s;
  }

  /** Sets training mode on the module and all its submodules (dropout, batch norm). */
  train(mode = true): this {
    N.jitSetTraining(this.handle('ScriptModule.train'), checkBool('ScriptModule.train', 'mode', mode));
    return this;
  }

  /** Sets evaluation mode (`train(false)`). */
  eval(): this {
    N.jitSetTraining(this.handle('ScriptModule.eval'), false);
    return this;
  }

  /** Whether the module is in training mode. */
  get isTraining(): boolean {
    return N.jitIsTraining(this.handle('ScriptModule.isTraining'));
  }

  /**
   * The parameters by dotted name, as an iterator (like `nn.Module.namedParameters()` and
   * PyTorch's `named_parameters()`). The tensors are the module's own (same storage, same autograd
   * leaves): an optimizer stepping them trains the module. Dispose them when done (the module
   * keeps its own reference).
   *
   * Every tensor is made when this is called, not as the iterator advances: a native handle is
   * never left without its Tensor (and so without an owner) by an iterator that is not run out.
   *
   * @example for (const [name, p] of m.namedParameters()) console.log(name, p.shape);
   */
  namedParameters(): IterableIterator<[string, Tensor]> {
    return named(N.jitNamedParameters(this.handle('ScriptModule.namedParameters')));
  }

  /** The parameters, in `namedParameters()` order (e.g. for an optimizer), as an iterator. */
  parameters(): IterableIterator<Tensor> {
    return [...this.namedParameters()].map(([, t]) => t).values();
  }

  /** The buffers (running statistics, registered constants) by dotted name, as an iterator. */
  namedBuffers(): IterableIterator<[string, Tensor]> {
    return named(N.jitNamedBuffers(this.handle('ScriptModule.namedBuffers')));
  }

  /** The buffers, in `namedBuffers()` order, as an iterator. */
  buffers(): IterableIterator<Tensor> {
    return [...this.namedBuffers()].map(([, t]) => t).values();
  }

  /**
   * Parameters and buffers by dotted name, in PyTorch's `state_dict()` order; detached tensors
   * sharing storage with the module (so `torch.save(m.stateDict(), path)` writes what Python's
   * `torch.save(m.state_dict(), path)` would).
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, h] of N.jitStateDict(this.handle('ScriptModule.stateDict'))) out[k] = new Tensor(h);
    return out;
  }

  /** Frees the module now (tensors obtained from it stay valid). Idempotent. */
  dispose(): void {
    if (this._h === null) return;
    N.jitDispose(this._h);
    this._h = null;
  }
  /** The same as `dispose()`, so that a `using` declaration frees it at the end of its block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** Whether `dispose()` has freed the module. */
  get isDisposed(): boolean {
    return this._h === null;
  }
}

/**
 * Checks that `src` holds an intact TorchScript archive (what `torch.jit.save` writes) and
 * returns its bytes; throws a FormatError saying what is wrong otherwise.
 */
function readArchive(src: ByteSource): Buffer {
  if (src.size === 0) throw new FormatError('the file is empty');
  let zip: ZipReader;
  try {
    zip = new ZipReader(src);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    // A zip's local-header signature first: a damaged archive rather than some other file.
    const zipped = src.size >= 4 && src.read(0, 4).readUInt32LE(0) === 0x04034b50;
    throw new FormatError(
      `not a TorchScript file: ${zipped ? 'a damaged zip archive (truncated or corrupt?): ' : ''}${e.message}`,
    );
  }
  const names = zip.entries.map((e) => e.name);
  const root = names.length ? names[0].split('/')[0] : '';
  const has = (rec: string): boolean => zip.get(`${root}/${rec}`) !== undefined;
  if (!has('data.pkl'))
    throw new FormatError('not a TorchScript file: a zip archive without the records of a PyTorch file');
  if (!has('constants.pkl') || !names.some((n) => n.startsWith(`${root}/code/`)))
    throw new FormatError(
      'not a TorchScript file: it is a torch.save checkpoint (no TorchScript code in it); ' +
        'load it with torch.load, or export the model from Python with torch.jit.script / torch.jit.trace',
    );
  // Every record's CRC: a truncated or corrupt file fails here, before libtorch reads it. The
  // pickles libtorch unpickles and the code it parses are also checked for bounds its reader and
  // parser lack (pickle_scan.ts): nesting, declared lengths, memo indices, bracket depth.
  for (const e of zip.entries) {
    let data: Buffer;
    if (e.method === 0) data = zip.read(e);
    else if (e.method === 8) data = checkDeflated(src, e);
    else
      throw new FormatError(
        `entry '${e.name}' uses compression method ${e.method} (TorchScript files use none or deflate)`,
      );
    const rel = e.name.slice(root.length + 1);
    if (rel === 'data.pkl' || rel === 'constants.pkl') scanPickle(data, rel);
    else if (rel.startsWith('code/') && rel.endsWith('.py')) scanCode(data.toString('utf8'), rel);
  }
  return src.read(0, src.size);
}

/** Checks a deflated record (TorchScript compresses its code files): it inflates to its size and CRC-32. */
function checkDeflated(src: ByteSource, e: ZipEntry): Buffer {
  const h = src.read(e.localOffset, 30);
  if (h.readUInt32LE(0) !== 0x04034b50)
    throw new FormatError(`entry '${e.name}' has no local header at offset ${e.localOffset}`);
  const start = e.localOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
  if (start + e.compressedSize > e.limit)
    throw new FormatError(`entry '${e.name}' runs into the next entry or the central directory`);
  let data: Buffer;
  try {
    data = zlib.inflateRawSync(src.read(start, e.compressedSize), { maxOutputLength: Math.max(1, e.size) });
  } catch (err) {
    throw new FormatError(`entry '${e.name}' does not inflate (the file is corrupt): ${(err as Error).message}`);
  }
  if (data.length !== e.size || crc32(data) !== e.crc)
    throw new FormatError(`entry '${e.name}' fails its CRC-32 check (the file is corrupt)`);
  return data;
}

/**
 * Loads a TorchScript module saved by Python's `torch.jit.save` (or `module.save`) or by
 * `torch.jit.save` here.
 *
 * @param file a path, or the bytes of the file
 * @example
 * const model = torch.jit.load('model.pt');
 * const y = torch.noGrad(() => model.eval().forward(x)) as torch.Tensor;
 * @throws TorchError `torch.jit.load: '<path>': <problem>` when the file is not an intact TorchScript
 *   archive or libtorch cannot load it; Error when the file cannot be read; TypeError for bad arguments.
 */
export function load(file: string | Uint8Array, opts?: LoadOptions): ScriptModule {
  const fn = 'torch.jit.load';
  const o = checkOptions<LoadOptions>(fn, opts, ['device']);
  const device = o.device === undefined ? undefined : checkDevice(fn, o.device);
  const { src, name } = openSource(fn, file);
  let bytes: Buffer;
  try {
    bytes = readArchive(src);
  } catch (e) {
    if (e instanceof FormatError) throw new TorchError(`${fn}: ${name}: ${e.message}`);
    throw new Error(`${fn}: cannot read ${name}: ${(e as Error).message}`);
  } finally {
    src.close();
  }
  return new ScriptModule(N.jitLoad(bytes, name, device));
}

/**
 * Saves a ScriptModule as a TorchScript archive that Python's `torch.jit.load` (and
 * `torch.jit.load` here) reads, with its current parameters and training flag. The write is
 * atomic, like `torch.save`.
 */
export function save(module: ScriptModule, path: string): void {
  const fn = 'torch.jit.save';
  if (!(module instanceof ScriptModule)) typeError(fn, 'module', 'a ScriptModule (from torch.jit.load)', module);
  if (module.isDisposed) throw new Error(`${fn}: the module is disposed`);
  const bytes = N.jitSave((module as unknown as { _h: JitHandle })._h);
  atomicWrite(fn, path, (sink) => sink.write(bytes));
}
