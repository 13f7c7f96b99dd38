// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}`, then the data,
// every tensor's bytes at [8 + N + begin, 8 + N + end), the offsets covering the data contiguously.
import { type DType, dtypeCode, ITEM_SIZE } from '../dtype';
import { describe, typeError } from '../errors';
import { native as N } from '../native';
import { Tensor } from '../tensor';
import { checkBoolBytes } from './checkpoint';
import { type ByteSink, type ByteSource, bad } from './io';

/** The header may not exceed 100 MB (as the safetensors library enforces). */
export const MAX_HEADER = 100_000_000;
/**
 * At most this many tensors in one file. Each costs a native tensor and a JS object (~1 KB)
 * whatever its size, so a 17 MB header of 300k zero-size entries cost 400+ MB and 6 s. Large
 * public checkpoints hold a few thousand tensors per file.
 */
export const MAX_TENSORS = 50_000;

const ST_DTYPES: Readonly<Record<string, DType>> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const ST_NAME: Record<string, string> = {};
for (const [k, v] of Object.entries(ST_DTYPES)) ST_NAME[v] = k;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

interface Info {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export function loadSafetensorsFrom(
  src: ByteSource,
  device: string | undefined,
): { tensors: Record<string, Tensor>; metadata: Record<string, string> | null } {
  const size = src.size;
  if (size < 8) bad(`the file has only ${size} bytes, too few for a safetensors header length`);
  const n64 = src.read(0, 8).readBigUInt64LE(0);
  if (n64 > BigInt(MAX_HEADER)) bad(`the header length ${n64} exceeds the ${MAX_HEADER}-byte limit`);
  const n = Number(n64);
  if (8 + n > size) bad(`the header length ${n} is larger than the rest of the ${size}-byte file`);
  if (n < 2) bad(`the header length ${n} is too small for a JSON object`);
  let text: string;
  try {
    text = utf8.decode(src.read(8, n));
  } catch {
    bad('the header is not valid UTF-8');
  }
  if (text[0] !== '{') bad('the header is not a JSON object (it must start with "{")');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    bad(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) bad('the header is not a JSON object');
  const count = Object.keys(header).length - ('__metadata__' in header ? 1 : 0);
  if (count > MAX_TENSORS) bad(`the header lists ${count} tensors, more than the ${MAX_TENSORS} a file may hold`);

  let metadata: Record<string, string> | null = null;
  const infos: Info[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(v)) bad('__metadata__ must be an object of strings');
      metadata = {};
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') bad(`__metadata__.${k} must be a string, got ${describe(s)}`);
        Object.defineProperty(metadata, k, { value: s, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const what = `tensor ${JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name)}`;
    if (!isPlainObject(v)) bad(`${what}: its entry is not an object`);
    const dtype = typeof v.dtype === 'string' ? ST_DTYPES[v.dtype] : undefined;
    if (dtype === undefined)
      bad(`${what}: unsupported dtype ${JSON.stringify(v.dtype)} (supported: ${Object.keys(ST_DTYPES).join(', ')})`);
    const shape = v.shape;
    if (!Array.isArray(shape) || shape.length > 64 || !shape.every((s) => Number.isSafeInteger(s) && s >= 0))
      bad(`${what}: shape must be an array of at most 64 non-negative integers`);
    const off = v.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((s) => Number.isSafeInteger(s) && s >= 0) ||
      off[0] > off[1]
    )
      bad(`${what}: data_offsets must be [begin, end] with 0 <= begin <= end`);
    let numel = 1n;
    for (const s of shape as number[]) numel *= BigInt(s);
    const want = numel * BigInt(ITEM_SIZE[dtype]);
    if (want !== BigInt(off[1] - off[0]))
      bad(
        `${what}: ${dtype} of shape [${shape.join(', ')}] needs ${want} bytes, ` +
          `but data_offsets span ${off[1] - off[0]}`,
      );
    infos.push({ name, dtype, shape: shape as number[], begin: off[0], end: off[1] });
  }
  // The offsets must tile the data section exactly: sorted, no gaps, no overlaps, nothing after.
  const dataStart = 8 + n,
    dataSize = size - dataStart;
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of sorted) {
    if (t.end > dataSize)
      bad(
        `tensor ${JSON.stringify(t.name)}: data_offsets [${t.begin}, ${t.end}] ` +
          `run past the ${dataSize}-byte data section`,
      );
    if (t.begin < pos)
      bad(`tensor ${JSON.stringify(t.name)}: data_offsets [${t.begin}, ${t.end}] overlap another tensor`);
    if (t.begin > pos) bad(`the data section has a gap at [${pos}, ${t.begin}) that no tensor covers`);
    pos = t.end;
  }
  if (pos !== dataSize) bad(`the data section has ${dataSize - pos} bytes after the last tensor that no tensor covers`);

  const tensors: Record<string, Tensor> = {};
  const made: Tensor[] = [];
  try {
    for (const t of infos) {
      const bytes = src.read(dataStart + t.begin, t.end - t.begin);
      if (t.dtype === 'bool') checkBoolBytes(bytes, `tensor ${JSON.stringify(t.name)}`);
      const code = dtypeCode('torch.loadSafetensors', t.dtype);
      const x = new Tensor(N.fromBuffer(bytes, t.shape, code, device === undefined ? undefined : code, device));
      made.push(x);
      Object.defineProperty(tensors, t.name, { value: x, enumerable: true, writable: true, configurable: true });
    }
  } catch (e) {
    for (const x of made) x.dispose();
    throw e;
  }
  return { tensors, metadata };
}

/** Checks the arguments and builds the header; returns what `writeSafetensors` writes. */
export function prepareSafetensors(
  fn: string,
  dict: unknown,
  metadata: unknown,
): { header: Buffer; order: [string, Tensor][] } {
  let entries: [unknown, unknown][];
  if (dict instanceof Map) entries = [...dict.entries()];
  else if (isPlainObject(dict) && !(dict instanceof Tensor)) entries = Object.entries(dict);
  else typeError(fn, 'tensors', 'an object or a Map of name → Tensor', dict);
  const items: [string, Tensor][] = [];
  for (const [k, t] of entries) {
    if (typeof k !== 'string') throw new TypeError(`${fn}: tensor names must be strings, got ${describe(k)}`);
    if (k === '__metadata__') throw new TypeError(`${fn}: '__metadata__' is reserved and cannot name a tensor`);
    if (!(t instanceof Tensor))
      throw new TypeError(`${fn}: expected tensors[${JSON.stringify(k)}] to be a Tensor, got ${describe(t)}`);
    if (t.isDisposed) throw new TypeError(`${fn}: tensors[${JSON.stringify(k)}] has been disposed`);
    items.push([k, t]);
  }
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata))
      throw new TypeError(`${fn}: expected metadata to be an object of strings, got ${describe(metadata)}`);
    const m: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new TypeError(`${fn}: expected metadata[${JSON.stringify(k)}] to be a string, got ${describe(v)}`);
      m.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${m.join(',')}}`);
  }
  // Largest items first, so that each tensor starts at a multiple of its item size.
  const order = items
    .map((x, i) => ({ x, i }))
    .sort((a, b) => ITEM_SIZE[b.x[1].dtype] - ITEM_SIZE[a.x[1].dtype] || a.i - b.i)
    .map((e) => e.x);
  let offset = 0;
  for (const [k, t] of order) {
    const bytes = t.numel() * ITEM_SIZE[t.dtype];
    parts.push(
      `${JSON.stringify(k)}:{"dtype":"${ST_NAME[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + bytes}]}`,
    );
    offset += bytes;
  }
  let json = `{${parts.join(',')}}`;
  const len = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (len % 8)) % 8); // pad with spaces so that the data starts 8-aligned
  const body = Buffer.from(json, 'utf8');
  if (body.length > MAX_HEADER)
    throw new RangeError(`${fn}: the header would be ${body.length} bytes, more than the ${MAX_HEADER}-byte limit`);
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { header, order };
}

export function writeSafetensors(sink: ByteSink, header: Buffer, order: [string, Tensor][]): void {
  sink.write(header);
  for (const [, t] of order) sink.write(N.rawBytes(t._h));
}
