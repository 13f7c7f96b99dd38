// Byte sources and sinks for the checkpoint formats: positioned reads from a file (or a buffer),
// buffered writes, CRC-32, and the atomic write (temp file, fsync, rename) every save uses.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { constants as bufferConstants } from 'buffer';

/** Thrown by the readers for anything wrong with a file; converted to the public message once. */
export class FormatError extends Error {}

/** Fails with a FormatError (the public functions prefix it with their name and the file). */
export function bad(msg: string): never {
  throw new FormatError(msg);
}

/** Random access to the bytes of a file or buffer. Every read is bounds-checked here too. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (a fresh Buffer), or a FormatError. */
  read(offset: number, length: number): Buffer;
  close(): void;
}

const MAX_READ_CHUNK = 1 << 30;

function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size)
    bad(`a read of ${length} bytes at offset ${offset} falls outside the ${size}-byte file`);
  if (length > bufferConstants.MAX_LENGTH)
    bad(`a record of ${length} bytes is larger than the largest buffer Node can allocate (${bufferConstants.MAX_LENGTH} bytes)`);
}

export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number;

  constructor(file: string) {
    // Refuse FIFOs and devices before opening (opening a FIFO with no writer would block).
    if (!fs.statSync(file).isFile()) bad('not a regular file');
    this.fd = fs.openSync(file, 'r');
    try {
      const st = fs.fstatSync(this.fd);
      if (!st.isFile()) bad('not a regular file');
      this.size = st.size;
    } catch (e) {
      fs.closeSync(this.fd);
      throw e;
    }
  }

  read(offset: number, length: number): Buffer {
    checkRange(this.size, offset, length);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, Math.min(length - done, MAX_READ_CHUNK), offset + done);
      if (n === 0) bad(`unexpected end of file at byte ${offset + done} (was the file truncated while being read?)`);
      done += n;
    }
    return buf;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly data: Uint8Array) {
    this.size = data.byteLength;
  }
  read(offset: number, length: number): Buffer {
    checkRange(this.size, offset, length);
    return Buffer.from(this.data.buffer, this.data.byteOffset + offset, length);  // a view: nobody writes to it
  }
  close(): void { /* nothing to release */ }
}

/** Sequential writes, small ones coalesced; tracks the offset for the zip writer. */
export interface ByteSink {
  readonly offset: number;
  write(bytes: Uint8Array): void;
}

export class FileSink implements ByteSink {
  offset = 0;
  private pending: Buffer = Buffer.allocUnsafe(1 << 16);
  private used = 0;

  constructor(private readonly fd: number) {}

  write(bytes: Uint8Array): void {
    if (bytes.byteLength <= this.pending.length - this.used) {
      this.pending.set(bytes, this.used);
      this.used += bytes.byteLength;
    } else {
      this.flush();
      if (bytes.byteLength < this.pending.length) {
        this.pending.set(bytes, 0);
        this.used = bytes.byteLength;
      } else {
        writeAll(this.fd, bytes);
      }
    }
    this.offset += bytes.byteLength;
  }

  flush(): void {
    if (this.used) writeAll(this.fd, this.pending.subarray(0, this.used));
    this.used = 0;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += fs.writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, MAX_READ_CHUNK));
  }
}

/** In-memory sink (tests, and for building small records). */
export class MemorySink implements ByteSink {
  offset = 0;
  private chunks: Uint8Array[] = [];
  write(bytes: Uint8Array): void {
    this.chunks.push(Uint8Array.from(bytes));
    this.offset += bytes.byteLength;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

// ---- CRC-32 (zip's polynomial) -----------------------------------------------------------------
const nativeCrc = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
let table: Uint32Array | undefined;

/** CRC-32 of `data`, continuing from `crc` (zlib's when Node has it, a table otherwise). */
export function crc32(data: Uint8Array, crc = 0): number {
  if (nativeCrc) return nativeCrc(data, crc) >>> 0;
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- atomic save -----------------------------------------------------------------------------
/** The temp-file name pattern of `atomicWrite`: `<name>.tmp-<pid>-<12 hex digits>`. */
export const TEMP_RE = /\.tmp-\d+-[0-9a-f]{12}$/;

/**
 * Writes a file atomically: everything goes to `<target>.tmp-<pid>-<random>` in the target's
 * directory, which is fsynced, closed and renamed over the target (so a reader sees the old file
 * or the new one, never a part). On error the temp file is removed; a process killed mid-write
 * can leave its temp file behind (never the target). A symlink target is followed; an existing
 * target's permission bits are kept.
 */
export function atomicWrite(fn: string, target: string, write: (sink: ByteSink) => void): void {
  if (typeof target !== 'string' || target === '')
    throw new TypeError(`${fn}: expected path to be a non-empty string, got ${target === '' ? 'an empty string' : typeof target}`);
  let real = target;
  let mode: number | undefined;
  try {
    if (fs.lstatSync(target).isSymbolicLink()) real = fs.realpathSync(target);
    const st = fs.statSync(real);
    if (st.isDirectory()) throw new Error(`${fn}: cannot write '${target}': it is a directory`);
    mode = st.mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapIo(fn, target, e);
  }
  const tmp = path.join(path.dirname(real), `${path.basename(real)}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx', 0o666);
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    const sink = new FileSink(fd);
    write(sink);
    sink.flush();
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, real);
  } catch (e) {
    if (fd >= 0) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created, or already gone */ }
    throw wrapIo(fn, target, e);
  }
  // Make the rename itself durable (best effort: not every platform can fsync a directory).
  try {
    const dfd = fs.openSync(path.dirname(real), 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  } catch { /* ignore */ }
}

function wrapIo(fn: string, target: string, e: unknown): Error {
  if (!(e instanceof Error) || !(e as NodeJS.ErrnoException).code) return e as Error;
  const err = new Error(`${fn}: cannot write '${target}': ${e.message}`);
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

/** A source for a path or a buffer, with the file named in errors; `describe` for messages. */
export function openSource(fn: string, file: unknown): { src: ByteSource; name: string } {
  if (typeof file === 'string') {
    if (file === '') throw new TypeError(`${fn}: expected path to be a non-empty string or a Uint8Array, got an empty string`);
    try {
      return { src: new FileSource(file), name: `'${file}'` };
    } catch (e) {
      if (e instanceof FormatError) throw new Error(`${fn}: cannot read '${file}': ${e.message}`);
      const err = new Error(`${fn}: cannot read '${file}': ${(e as Error).message}`);
      (err as Error & { cause?: unknown }).cause = e;
      throw err;
    }
  }
  if (file instanceof Uint8Array) return { src: new BufferSource(file), name: `a buffer of ${file.byteLength} bytes` };
  const got = file === null ? 'null' : Array.isArray(file) ? 'an array' : typeof file;
  throw new TypeError(`${fn}: expected path to be a string or a Uint8Array, got ${got}`);
}
