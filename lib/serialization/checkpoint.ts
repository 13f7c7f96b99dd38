// PyTorch's checkpoint format (torch.save since 1.6): a stored zip holding `<name>/data.pkl`, a
// pickle whose tensors are persistent ids ('storage', torch.<T>Storage, key, location, numel) that
// point at `<name>/data/<key>`, the raw little-endian bytes of each storage.
import { checkDevice } from '../device';
import { type DType, dtypeCode, ITEM_SIZE, isFloatingPoint } from '../dtype';
import { exceedsMemory, formatBytes, shapeStr } from '../errors';
import { type Handle, native as N } from '../native';
import { Parameter } from '../nn/parameter';
import { Tensor } from '../tensor';
import { type ByteSink, type ByteSource, bad } from './io';
import { Pickler, PyGlobal, toJS, unpickle } from './pickle';
import { type ZipEntry, ZipReader, ZipWriter } from './zip';

export const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
const STORAGE_OF: Record<string, string> = {};
for (const [k, v] of Object.entries(STORAGE_DTYPES)) STORAGE_OF[v] = k;

const MAX_DIMS = 64;

/** Where loaded tensors go: one device for all, or saved location → device ('cpu' when unmapped). */
export type MapLocation = string | Record<string, string>;

class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly h: Handle,
  ) {}
}

function isSeq(v: unknown): v is readonly unknown[] {
  return Array.isArray(v);
}

function intArg(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    bad(`data.pkl: ${what} must be a non-negative integer, got ${String(v)}`);
  return v;
}

function intList(v: unknown, what: string): number[] {
  if (!isSeq(v)) bad(`data.pkl: ${what} must be a tuple of integers`);
  if (v.length > MAX_DIMS) bad(`data.pkl: ${what} has ${v.length} dimensions (at most ${MAX_DIMS} supported)`);
  return v.map((x, i) => intArg(x, `${what}[${i}]`));
}

/** Bool storages must hold 0 or 1 in every byte (anything else is undefined behaviour in libtorch). */
export function checkBoolBytes(data: Uint8Array, what: string): void {
  for (let i = 0; i < data.length; i++)
    if (data[i] > 1) bad(`${what} holds the byte ${data[i]} at element ${i}; bool values must be 0 or 1`);
}

/** The legacy formats have recognisable starts; name them instead of saying "not a zip". */
function sniff(src: ByteSource): void {
  if (src.size >= 4 && src.read(0, 4).readUInt32LE(0) === 0x04034b50) return;
  const head = src.read(0, Math.min(src.size, 512));
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5)
    bad(
      'this is the legacy (non-zip) format of torch.save before PyTorch 1.6, which is not supported; ' +
        'load it in Python and save it again with a current PyTorch',
    );
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar')
    bad('this is the tar format of very old PyTorch versions, which is not supported');
  if (head.length >= 9) {
    const n = head.readBigUInt64LE(0);
    if (n > 0n && n < BigInt(src.size) && head[8] === 0x7b)
      bad('this looks like a safetensors file; load it with torch.loadSafetensors');
  }
}

/** What an allowed global builds when the pickle calls it (REDUCE); `null`: it may only be named. */
type GlobalCall = ((reader: CheckpointReader, args: readonly unknown[]) => unknown) | null;

/**
 * The unpickling allow-list: the only Python globals a checkpoint may name, and what each builds.
 * Everything else (any other class or function, `os.system`, ...) is refused by the unpickler.
 */
const ALLOWED_GLOBALS: Readonly<Record<string, GlobalCall>> = {
  'collections.OrderedDict': (_r, args) => orderedDict(args),
  'torch._utils._rebuild_tensor_v2': (r, args) => r.rebuildTensor(args, true),
  'torch._utils._rebuild_tensor': (r, args) => r.rebuildTensor(args, false),
  'torch._utils._rebuild_parameter': (r, args) => r.rebuildParameter(args, false),
  'torch._utils._rebuild_parameter_with_state': (r, args) => r.rebuildParameter(args, true),
  // the storage types are only named, in persistent ids
  ...Object.fromEntries(Object.keys(STORAGE_DTYPES).map((s) => [`torch.${s}`, null])),
  'torch.Size': (_r, args) => torchSize(args),
  // Python 3 pickles bytes as _codecs.encode(latin-1 text, 'latin1') in protocol 2, b'' as bytes().
  '_codecs.encode': (_r, args) => codecsEncode(args),
  '__builtin__.bytes': (_r, args) => emptyBytes(args),
  'builtins.bytes': (_r, args) => emptyBytes(args),
};

function orderedDict(args: readonly unknown[]): Map<unknown, unknown> {
  if (args.length === 0) return new Map();
  if (args.length === 1 && isSeq(args[0])) {
    const m = new Map();
    for (const kv of args[0]) {
      if (!isSeq(kv) || kv.length !== 2) bad('data.pkl: OrderedDict() takes (key, value) pairs');
      if (kv[0] !== null && typeof kv[0] === 'object' && !Object.isFrozen(kv[0])) bad('data.pkl: unhashable dict key');
      m.set(kv[0], kv[1]);
    }
    return m;
  }
  return bad('data.pkl: unsupported OrderedDict() arguments');
}

function torchSize(args: readonly unknown[]): readonly number[] {
  if (args.length === 0) return Object.freeze([]);
  if (args.length !== 1) bad('data.pkl: torch.Size() takes one tuple');
  return Object.freeze(intList(args[0], 'torch.Size'));
}

function codecsEncode(args: readonly unknown[]): Uint8Array {
  const [text, enc] = args;
  if (args.length !== 2 || typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1'))
    bad('data.pkl: _codecs.encode is only supported for bytes (latin1 text)');
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) bad('data.pkl: _codecs.encode text is not latin1');
    out[i] = c;
  }
  return out;
}

function emptyBytes(args: readonly unknown[]): Uint8Array {
  if (args.length !== 0) bad('data.pkl: bytes() is only supported without arguments');
  return new Uint8Array(0);
}

/** Opens the archive and finds its data.pkl, refusing what is not a torch.save checkpoint. */
function openArchive(src: ByteSource): { zip: ZipReader; prefix: string; pkl: ZipEntry } {
  sniff(src);
  const zip = new ZipReader(src);
  const first = zip.entries[0];
  if (first === undefined) bad('the zip archive is empty');
  const slash = first.name.indexOf('/');
  if (slash <= 0) bad(`not a PyTorch checkpoint (its first entry '${first.name}' is not inside an archive folder)`);
  const prefix = first.name.slice(0, slash);
  const pkl = zip.get(`${prefix}/data.pkl`);
  if (pkl === undefined) {
    if (zip.get(`${prefix}/constants.pkl`))
      bad('this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint');
    bad(`not a PyTorch checkpoint (no '${prefix}/data.pkl' record)`);
  }
  if (zip.get(`${prefix}/constants.pkl`))
    bad('this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint');
  const order = zip.get(`${prefix}/byteorder`);
  if (order !== undefined) {
    const s = zip.read(order).toString('latin1').trim();
    if (s !== 'little')
      bad(`the checkpoint's byte order is '${s.slice(0, 20)}'; only little-endian checkpoints are supported`);
  }
  return { zip, prefix, pkl };
}

/**
 * Reads one checkpoint: unpickles data.pkl with the allow-list, builds each storage once (one
 * native tensor per key, moved to its device) and each tensor as a view of it, and owns every
 * tensor it makes until the result is known (those not in the result are disposed; on an error,
 * all of them).
 */
class CheckpointReader {
  /** Every tensor made so far, storages and intermediates included. */
  private readonly created: Tensor[] = [];
  private readonly storages = new Map<string, StorageRef>();
  private readonly globals = new Map<string, PyGlobal>();

  constructor(
    private readonly zip: ZipReader,
    private readonly prefix: string,
    private readonly mapLocation: MapLocation | undefined,
  ) {
    for (const [name, call] of Object.entries(ALLOWED_GLOBALS))
      this.globals.set(name, new PyGlobal(name, call === null ? undefined : (args) => call(this, args)));
  }

  /** Unpickles `pkl` and converts it to JS values. */
  read(pkl: ZipEntry): unknown {
    const inResult = new Set<Tensor>();
    try {
      const root = unpickle(this.zip.read(pkl), {
        resolveGlobal: (q) => this.globals.get(q),
        persistentLoad: (pid) => this.persistentLoad(pid),
      });
      const value = toJS(root, (v) => {
        if (v instanceof Tensor) {
          inResult.add(v);
          return true;
        }
        if (v instanceof StorageRef) bad(`data.pkl: the checkpoint holds a bare storage ('${v.key}') outside a tensor`);
        return false;
      });
      // Storages and intermediate tensors share memory with the results: free their handles.
      for (const t of this.created) if (!inResult.has(t)) t.dispose();
      return value;
    } catch (e) {
      for (const t of this.created) t.dispose();
      throw e;
    }
  }

  /** The device for a storage saved at `location`. */
  private device(location: string): string {
    const m = this.mapLocation;
    if (m === undefined) return 'cpu';
    if (typeof m === 'string') return m;
    return Object.hasOwn(m, location) ? m[location] : 'cpu';
  }

  /** BINPERSID: `('storage', torch.<T>Storage, key, location, numel)`, read once per key. */
  private persistentLoad(pid: unknown): StorageRef {
    if (!isSeq(pid) || pid.length !== 5 || pid[0] !== 'storage')
      bad("data.pkl: unsupported persistent id (expected ('storage', type, key, location, numel))");
    const [, type, key, location, numelV] = pid;
    const typeName =
      type instanceof PyGlobal && type.qualname.startsWith('torch.') ? type.qualname.slice(6) : undefined;
    const dtype = typeName === undefined ? undefined : STORAGE_DTYPES[typeName];
    if (dtype === undefined) bad('data.pkl: a persistent id names an unsupported storage type');
    if (typeof key !== 'string' || key.length === 0 || key.length > 256)
      bad('data.pkl: a storage key must be a short string');
    if (typeof location !== 'string' || location.length > 64)
      bad(`data.pkl: storage '${key}' has a malformed location`);
    const numel = intArg(numelV, `the element count of storage '${key}'`);
    const cached = this.storages.get(key);
    if (cached) {
      if (cached.dtype !== dtype || cached.numel !== numel)
        bad(
          `data.pkl: storage '${key}' is referenced as ${cached.numel} ${cached.dtype} ` +
            `and as ${numel} ${dtype} elements`,
        );
      return cached;
    }
    const rec = this.zip.get(`${this.prefix}/data/${key}`);
    if (rec === undefined) bad(`storage '${key}' has no record '${this.prefix}/data/${key}'`);
    const nbytes = numel * ITEM_SIZE[dtype];
    if (rec.size !== nbytes)
      bad(
        `storage '${key}' declares ${numel} ${dtype} elements (${nbytes} bytes), ` +
          `but its record holds ${rec.size} bytes`,
      );
    const bytes = this.zip.read(rec);
    if (dtype === 'bool') checkBoolBytes(bytes, `storage '${key}'`);
    let h = N.fromBuffer(bytes, [numel], dtypeCode('torch.load', dtype));
    this.created.push(new Tensor(h));
    const dev = this.device(location);
    if (dev !== 'cpu') {
      h = N.to(h, undefined, dev, false);
      this.created.push(new Tensor(h));
    }
    const ref = new StorageRef(key, dtype, numel, h);
    this.storages.set(key, ref);
    return ref;
  }

  /** `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])` (v1: the first 4). */
  rebuildTensor(args: readonly unknown[], withGrad: boolean): Tensor {
    const want = withGrad ? '6 or 7' : '4';
    if (withGrad ? args.length !== 6 && args.length !== 7 : args.length !== 4)
      bad(`data.pkl: a tensor is rebuilt with ${args.length} arguments (expected ${want})`);
    const [storage, offsetV, sizeV, strideV, requiresGrad, hooks] = args;
    if (!(storage instanceof StorageRef)) bad('data.pkl: a tensor is rebuilt from something that is not a storage');
    const offset = intArg(offsetV, "a tensor's storage offset");
    const size = intList(sizeV, "a tensor's size");
    const stride = intList(strideV, "a tensor's stride");
    if (stride.length !== size.length) bad(`data.pkl: a tensor has ${size.length} sizes but ${stride.length} strides`);
    if (withGrad) {
      if (typeof requiresGrad !== 'boolean') bad("data.pkl: a tensor's requires_grad must be a boolean");
      if (hooks !== null && !(hooks instanceof Map)) bad("data.pkl: a tensor's backward hooks must be an OrderedDict");
    }
    let numel = 1;
    for (const s of size) {
      numel *= s;
      if (!Number.isSafeInteger(numel)) bad(`data.pkl: a tensor of shape ${shapeStr(size)} has too many elements`);
    }
    const bytes = numel * ITEM_SIZE[storage.dtype];
    if (exceedsMemory(bytes))
      bad(
        `data.pkl: a tensor of shape ${shapeStr(size)} would need ${formatBytes(bytes)}, ` +
          "more than this machine's memory",
      );
    // Every element the view can reach must lie inside the storage.
    if (numel > 0) {
      let last = BigInt(offset);
      for (let i = 0; i < size.length; i++) last += BigInt(size[i] - 1) * BigInt(stride[i]);
      if (last >= BigInt(storage.numel))
        bad(
          `data.pkl: a tensor (offset ${offset}, shape ${shapeStr(size)}, stride ${shapeStr(stride)}) reaches ` +
            `element ${last} of storage '${storage.key}', which has ${storage.numel}`,
        );
    } else if (offset > storage.numel) {
      bad(
        `data.pkl: a tensor's offset ${offset} is past the end of storage '${storage.key}' (${storage.numel} elements)`,
      );
    }
    const t = new Tensor(N.asStrided(storage.h, size, stride, offset));
    this.created.push(t);
    if (requiresGrad === true) {
      if (!isFloatingPoint(storage.dtype)) bad(`data.pkl: a ${storage.dtype} tensor cannot require gradients`);
      N.setRequiresGrad(t._h, true);
    }
    return t;
  }

  /** `_rebuild_parameter(data, requires_grad, hooks)` (`_with_state`: and a state). */
  rebuildParameter(args: readonly unknown[], withState: boolean): Parameter {
    if (args.length !== (withState ? 4 : 3)) bad(`data.pkl: a parameter is rebuilt with ${args.length} arguments`);
    const [data, requiresGrad, hooks] = args;
    if (!(data instanceof Tensor)) bad('data.pkl: a parameter is rebuilt from something that is not a tensor');
    if (typeof requiresGrad !== 'boolean') bad("data.pkl: a parameter's requires_grad must be a boolean");
    if (hooks !== null && !(hooks instanceof Map)) bad("data.pkl: a parameter's backward hooks must be an OrderedDict");
    if (requiresGrad && !isFloatingPoint(data.dtype))
      bad(`data.pkl: a ${data.dtype} parameter cannot require gradients`);
    const p = new Parameter(data, requiresGrad);
    this.created.push(p);
    return p;
  }
}

/**
 * Reads a checkpoint: validates the archive, unpickles data.pkl with the allow-list above,
 * builds the tensors (one native storage per key, views with asStrided) and converts to JS.
 */
export function loadCheckpoint(src: ByteSource, mapLocation: MapLocation | undefined): unknown {
  const { zip, prefix, pkl } = openArchive(src);
  return new CheckpointReader(zip, prefix, mapLocation).read(pkl);
}

/** Validates `mapLocation` before anything is read. */
export function checkMapLocation(fn: string, v: unknown): MapLocation | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return checkDevice(fn, v);
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new TypeError(
      `${fn}: expected mapLocation to be a device string or an object mapping saved locations to devices, ` +
        `got ${v === null ? 'null' : typeof v}`,
    );
  const out: Record<string, string> = {};
  for (const [k, d] of Object.entries(v)) out[k] = checkDevice(fn, d);
  return out;
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= Math.max(shape[i], 1);
  }
  return s;
}

/**
 * Pickles `obj` (tensors as persistent storages, state dicts as OrderedDict) and returns the
 * pickle and the storages to write; nothing is written, so every error comes before any I/O.
 */
export function pickleCheckpoint(fn: string, obj: unknown): { pkl: Buffer; storages: Tensor[] } {
  const storages: Tensor[] = [];
  const pickler = new Pickler(fn, {
    ordered: (o) => {
      const vals = Object.values(o);
      return vals.length > 0 && vals.every((x) => x instanceof Tensor);
    },
    special: (p, v, path) => {
      if (!(v instanceof Tensor)) return false;
      if (v.isDisposed) throw new TypeError(`${fn}: the tensor at ${path} has been disposed`);
      const isParam = v instanceof Parameter;
      const dtype = v.dtype;
      const storage = STORAGE_OF[dtype];
      if (storage === undefined) throw new TypeError(`${fn}: cannot save a ${dtype} tensor at ${path}`);
      const shape = v.shape;
      const key = String(storages.length);
      storages.push(v);
      let location = v.device;
      if (location === 'cuda') location = 'cuda:0';
      if (isParam) {
        p.global('torch._utils', '_rebuild_parameter');
        p.mark();
      }
      p.global('torch._utils', '_rebuild_tensor_v2');
      p.mark();
      p.mark();
      p.str('storage');
      p.global('torch', storage);
      p.str(key);
      p.str(location);
      p.int(v.numel());
      p.tuple();
      p.binpersid();
      p.int(0);
      p.mark();
      for (const s of shape) p.int(s);
      p.tuple();
      p.mark();
      for (const s of contiguousStrides(shape)) p.int(s);
      p.tuple();
      p.bool(isParam ? false : v.requiresGrad);
      p.global('collections', 'OrderedDict');
      p.emptyTuple();
      p.reduce();
      p.tuple();
      p.reduce();
      if (isParam) {
        p.bool(v.requiresGrad);
        p.global('collections', 'OrderedDict');
        p.emptyTuple();
        p.reduce();
        p.tuple();
        p.reduce();
      }
      p.memoize(v);
      return true;
    },
  });
  return { pkl: pickler.dump(obj), storages };
}

/**
 * Writes the zip: data.pkl, byteorder, data/<key> per storage, version (as PyTorch 1.13+), one
 * step per storage, so that an async writer can write each record to the file before the next.
 * `storage(i)` gives the bytes of storage i (called once, at its step).
 */
export function* writeCheckpoint(
  sink: ByteSink,
  pkl: Buffer,
  count: number,
  storage: (i: number) => Uint8Array,
  forceZip64 = false,
): Generator<void, void, void> {
  const zip = new ZipWriter(sink, { forceZip64 });
  zip.add('archive/data.pkl', pkl);
  zip.add('archive/byteorder', Buffer.from('little'));
  for (let i = 0; i < count; i++) {
    zip.add(`archive/data/${i}`, storage(i));
    yield;
  }
  zip.add('archive/version', Buffer.from('3\n'));
  zip.finish();
}

/** The bytes of a checkpoint's storages (each tensor's data, contiguous, copied out of libtorch). */
export const storageBytes = (t: Tensor): Uint8Array => N.rawBytes(t._h);
