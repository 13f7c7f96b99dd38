// Byte sources and sinks for the checkpoint formats: positioned reads from a file (or a buffer),
// buffered writes, CRC-32, and the atomic write (temp file, fsync, rename) every save uses, in a
// blocking form (torch.save) and a non-blocking one (torch.saveAsync) that share one protocol.

import { constants as bufferConstants } from 'node:buffer';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

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
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  )
    bad(`a read of ${length} bytes at offset ${offset} falls outside the ${size}-byte file`);
  if (length > bufferConstants.MAX_LENGTH)
    bad(
      `a record of ${length} bytes is larger than the largest buffer Node can allocate ` +
        `(${bufferConstants.MAX_LENGTH} bytes)`,
    );
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
    return Buffer.from(this.data.buffer, this.data.byteOffset + offset, length); // a view: nobody writes to it
  }
  close(): void {
    /* nothing to release */
  }
}

/** Sequential writes, small ones coalesced; tracks the offset for the zip writer. */
export interface ByteSink {
  readonly offset: number;
  write(bytes: Uint8Array): void;
}

/**
 * Sequential writes, small ones coalesced into 64 KiB chunks, handed to `out` in order. A chunk
 * handed out is never written again by the sink (a fresh buffer follows each flush), so `out` may
 * keep it until an async write is done with it.
 */
export class BufferedSink implements ByteSink {
  offset = 0;
  private pending: Buffer = Buffer.allocUnsafe(1 << 16);
  private used = 0;

  constructor(private readonly out: (bytes: Uint8Array) => void) {}

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
        this.out(bytes);
      }
    }
    this.offset += bytes.byteLength;
  }

  flush(): void {
    if (this.used) {
      this.out(this.pending.subarray(0, this.used));
      this.pending = Buffer.allocUnsafe(this.pending.length);
    }
    this.used = 0;
  }
}

/** A BufferedSink writing to a file descriptor, blocking. */
export class FileSink extends BufferedSink {
  constructor(fd: number) {
    super((bytes) => writeAll(fd, bytes));
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
 * One file-system call of the atomic-write protocol, runnable blocking (`sync`, for torch.save)
 * or on the libuv pool (`async`, for torch.saveAsync), so that both run the same protocol.
 */
interface IoStep {
  sync(): unknown;
  async(): Promise<unknown>;
}
type Io<T> = Generator<IoStep, T, unknown>;

function* io<T>(sync: () => T, async: () => Promise<T>): Io<T> {
  return (yield { sync, async }) as T;
}

/** Runs the protocol with blocking calls; an error of a call is thrown into it at that call. */
function runBlocking<T>(g: Io<T>): T {
  let r = g.next();
  while (!r.done) {
    let v: unknown;
    try {
      v = r.value.sync();
    } catch (e) {
      r = g.throw(e);
      continue;
    }
    r = g.next(v);
  }
  return r.value;
}

/** Runs the protocol with fs.promises calls: the event loop never waits on the disk. */
async function runNonBlocking<T>(g: Io<T>): Promise<T> {
  let r = g.next();
  while (!r.done) {
    let v: unknown;
    try {
      v = await r.value.async();
    } catch (e) {
      r = g.throw(e);
      continue;
    }
    r = g.next(v);
  }
  return r.value;
}

/** An open file of the protocol: a descriptor (blocking) or a FileHandle (non-blocking). */
type OpenFile = number | fsp.FileHandle;
const fdOf = (f: OpenFile): number => f as number;
const handleOf = (f: OpenFile): fsp.FileHandle => f as fsp.FileHandle;

async function writeAllAsync(fh: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.byteLength - done, MAX_READ_CHUNK));
    done += bytesWritten;
  }
}

/**
 * What `atomicWrite` writes: a function that writes everything to the sink, either at once
 * (returns nothing) or record by record (returns an iterable that writes one record per step;
 * the non-blocking save writes the queued bytes to the file between steps, so at most about one
 * record is held in memory).
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a writer is a plain function (void) or a generator
export type WriteFn = (sink: ByteSink) => Iterable<unknown> | void;

/**
 * The atomic-write protocol: everything goes to `<target>.tmp-<pid>-<random>` in the target's
 * directory, which is fsynced, closed and renamed over the target (so a reader sees the old file
 * or the new one, never a part). On error the temp file is removed; a process killed mid-write
 * can leave its temp file behind (never the target). Only a missing target or a regular file is
 * replaced: a symlink to a regular file is written through (the link is kept, its target replaced);
 * a dangling symlink, a directory, FIFO, socket or device is refused, and so is a file that is not
 * writable (see `checkWritable`). An existing target's permission bits are kept. After a successful
 * write, temp files of this target left by writers that were killed (their pid no longer exists)
 * are removed.
 */
function* atomicWriteSteps(fn: string, target: string, write: WriteFn): Io<void> {
  if (typeof target !== 'string' || target === '')
    throw new TypeError(
      `${fn}: expected path to be a non-empty string, got ${target === '' ? 'an empty string' : typeof target}`,
    );
  let real = target;
  let mode: number | undefined;
  let lst: fs.Stats | undefined;
  try {
    lst = yield* io(
      () => fs.lstatSync(target),
      () => fsp.lstat(target),
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapIo(fn, target, e);
  }
  if (lst !== undefined) {
    try {
      if (lst.isSymbolicLink())
        real = yield* io(
          () => fs.realpathSync(target),
          () => fsp.realpath(target),
        );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error(`${fn}: cannot write '${target}': it is a dangling symbolic link (its target does not exist)`);
      throw wrapIo(fn, target, e);
    }
    let st: fs.Stats;
    try {
      st = yield* io(
        () => fs.statSync(real),
        () => fsp.stat(real),
      );
    } catch (e) {
      throw wrapIo(fn, target, e);
    }
    checkRegular(fn, target, real, st);
    try {
      yield* io(
        () => fs.accessSync(real, fs.constants.W_OK),
        () => fsp.access(real, fs.constants.W_OK),
      );
    } catch (e) {
      throw wrapIo(fn, target, e);
    }
    checkWritable(fn, target, st);
    mode = st.mode & 0o7777;
  }
  const tmp = path.join(
    path.dirname(real),
    `${path.basename(real)}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`,
  );
  let file: OpenFile | null = null;
  try {
    const f: OpenFile = yield* io<OpenFile>(
      () => fs.openSync(tmp, 'wx', 0o666),
      () => fsp.open(tmp, 'wx', 0o666),
    );
    file = f;
    if (mode !== undefined) {
      const m = mode;
      yield* io(
        () => fs.fchmodSync(fdOf(f), m),
        () => handleOf(f).chmod(m),
      );
    }
    const queue: Uint8Array[] = [];
    const sink = new BufferedSink((bytes) => queue.push(bytes));
    function* drain(): Io<void> {
      for (let chunk = queue.shift(); chunk !== undefined; chunk = queue.shift()) {
        const c = chunk;
        yield* io(
          () => writeAll(fdOf(f), c),
          () => writeAllAsync(handleOf(f), c),
        );
      }
    }
    const records = write(sink);
    if (records) for (const _ of records) yield* drain();
    sink.flush();
    yield* drain();
    yield* io(
      () => fs.fsyncSync(fdOf(f)),
      () => handleOf(f).sync(),
    );
    file = null;
    yield* io(
      () => fs.closeSync(fdOf(f)),
      () => handleOf(f).close(),
    );
    // Checked again just before the rename: the target may have been replaced during the write.
    let now: fs.Stats | undefined;
    try {
      now = yield* io(
        () => fs.lstatSync(real),
        () => fsp.lstat(real),
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (now !== undefined) checkRegular(fn, target, real, now);
    yield* io(
      () => fs.renameSync(tmp, real),
      () => fsp.rename(tmp, real),
    );
  } catch (e) {
    const f = file;
    if (f !== null)
      try {
        yield* io(
          () => fs.closeSync(fdOf(f)),
          () => handleOf(f).close(),
        );
      } catch {
        /* already failing */
      }
    try {
      yield* io(
        () => fs.unlinkSync(tmp),
        () => fsp.unlink(tmp),
      );
    } catch {
      /* never created, or already gone */
    }
    throw wrapIo(fn, target, e);
  }
  // Make the rename itself durable (best effort: not every platform can fsync a directory).
  const dir = path.dirname(real);
  try {
    const d: OpenFile = yield* io<OpenFile>(
      () => fs.openSync(dir, 'r'),
      () => fsp.open(dir, 'r'),
    );
    try {
      yield* io(
        () => fs.fsyncSync(fdOf(d)),
        () => handleOf(d).sync(),
      );
    } finally {
      yield* io(
        () => fs.closeSync(fdOf(d)),
        () => handleOf(d).close(),
      );
    }
  } catch {
    /* ignore */
  }
  // Temp files of earlier writes of this target whose writer was killed: removed once their
  // process is gone (a live pid, ours or another's, is left alone; best effort).
  try {
    const base = path.basename(real);
    const names = yield* io(
      () => fs.readdirSync(dir),
      () => fsp.readdir(dir),
    );
    for (const name of names) {
      if (!name.startsWith(`${base}.tmp-`)) continue;
      const m = /^(\d+)-[0-9a-f]{12}$/.exec(name.slice(base.length + 5));
      if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
      const stale = path.join(dir, name);
      try {
        yield* io(
          () => fs.unlinkSync(stale),
          () => fsp.unlink(stale),
        );
      } catch {
        /* gone already */
      }
    }
  } catch {
    /* ignore */
  }
}

/** What a file-system entry is, for messages. */
function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** Refuses to replace anything but a regular file (renaming over /dev/null would replace the device). */
function checkRegular(fn: string, target: string, real: string, st: fs.Stats): void {
  if (st.isFile()) return;
  const via = real !== target ? ` (through a symbolic link to '${real}')` : '';
  throw new Error(
    `${fn}: cannot write '${target}': it is ${kindOf(st)}${via}; only a regular file or a new path can be saved to`,
  );
}

/**
 * Refuses a target that is not writable, as Python's torch.save does (PermissionError), instead
 * of silently renaming over a read-only checkpoint. `access(W_OK)` (run before this) covers an
 * ordinary user; root passes `access` whatever the mode, so for root a file with no write bit for
 * anyone is refused too: a read-only checkpoint is protected the same way for every user.
 */
export function checkWritable(
  fn: string,
  target: string,
  st: { mode: number },
  uid: number | undefined = process.getuid?.(),
): void {
  if (uid === 0 && (st.mode & 0o222) === 0) {
    const err = new Error(
      `${fn}: cannot write '${target}': the file is read-only ` +
        `(mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); make it writable first`,
    );
    (err as NodeJS.ErrnoException).code = 'EACCES';
    throw err;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes a file atomically (see atomicWriteSteps), blocking. */
export function atomicWrite(fn: string, target: string, write: WriteFn): void {
  runBlocking(atomicWriteSteps(fn, target, write));
}

/** Writes a file atomically (see atomicWriteSteps); every file-system call goes through fs.promises. */
export function atomicWriteAsync(fn: string, target: string, write: WriteFn): Promise<void> {
  return runNonBlocking(atomicWriteSteps(fn, target, write));
}

function wrapIo(fn: string, target: string, e: unknown): Error {
  if (!(e instanceof Error) || !(e as NodeJS.ErrnoException).code) return e as Error;
  const err = new Error(`${fn}: cannot write '${target}': ${e.message}`);
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

/** The error for a file that cannot be opened (the same for openSource and openSourceAsync). */
function cannotRead(fn: string, file: string, e: unknown): Error {
  if (e instanceof FormatError) return new Error(`${fn}: cannot read '${file}': ${e.message}`);
  const err = new Error(`${fn}: cannot read '${file}': ${(e as Error).message}`);
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

/** The arguments a source can come from: a non-empty path or the bytes themselves. */
function checkSourceArg(fn: string, file: unknown): string | Uint8Array {
  if (typeof file === 'string') {
    if (file === '')
      throw new TypeError(`${fn}: expected path to be a non-empty string or a Uint8Array, got an empty string`);
    return file;
  }
  if (file instanceof Uint8Array) return file;
  const got = file === null ? 'null' : Array.isArray(file) ? 'an array' : typeof file;
  throw new TypeError(`${fn}: expected path to be a string or a Uint8Array, got ${got}`);
}

const bufferSource = (b: Uint8Array) => ({
  src: new BufferSource(b) as ByteSource,
  name: `a buffer of ${b.byteLength} bytes`,
});

/** A source for a path or a buffer, with the file named in errors; `describe` for messages. */
export function openSource(fn: string, file: unknown): { src: ByteSource; name: string } {
  const f = checkSourceArg(fn, file);
  if (typeof f !== 'string') return bufferSource(f);
  try {
    return { src: new FileSource(f), name: `'${f}'` };
  } catch (e) {
    throw cannotRead(fn, f, e);
  }
}

/**
 * `openSource` without blocking the event loop: a path is read whole into memory by fs.promises
 * calls (the same checks as FileSource: a regular file, opened then checked again), and parsed
 * from there. Files up to Node's largest Buffer are supported (`torch.load` reads larger ones).
 */
export async function openSourceAsync(fn: string, file: unknown): Promise<{ src: ByteSource; name: string }> {
  const f = checkSourceArg(fn, file);
  if (typeof f !== 'string') return bufferSource(f);
  let data: Buffer;
  try {
    // Refuse FIFOs and devices before opening (opening a FIFO with no writer would block a pool thread).
    if (!(await fsp.stat(f)).isFile()) bad('not a regular file');
    const fh = await fsp.open(f, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) bad('not a regular file');
      if (st.size > bufferConstants.MAX_LENGTH)
        bad(`the file (${st.size} bytes) is larger than the largest buffer Node can allocate; use the blocking load`);
      data = Buffer.allocUnsafe(st.size);
      for (let done = 0; done < st.size; ) {
        const { bytesRead } = await fh.read(data, done, Math.min(st.size - done, MAX_READ_CHUNK), done);
        if (bytesRead === 0) bad(`unexpected end of file at byte ${done} (was the file truncated while being read?)`);
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw cannotRead(fn, f, e);
  }
  return { src: new BufferSource(data), name: `'${f}'` };
}
