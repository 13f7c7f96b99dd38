// A minimal ZIP reader and writer for PyTorch's checkpoint format: uncompressed ("stored")
// entries, zip64 when sizes or offsets need it, and 64-byte-aligned payloads (PyTorch pads each
// local header with an 'FB' extra field so that readers can mmap the tensors).
//
// The reader trusts nothing: every offset, size and count is checked against the file before it
// is used, entries may not overlap each other or the central directory, and every payload read
// is checked against its CRC-32. A hostile file gives a FormatError, never a crash, a hang or an
// allocation larger than the file.
import { type ByteSink, type ByteSource, bad, crc32 } from './io';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_DESCRIPTOR = 0x08074b50;
const LOCAL_SIZE = 30;
const CENTRAL_SIZE = 46;
const EOCD_SIZE = 22;
const EOCD64_SIZE = 56;
const LOCATOR64_SIZE = 20;
const U16 = 0xffff;
const U32 = 0xffffffff;
/** PyTorch's alignment of payloads (caffe2/serialize/inline_container.cc, kFieldAlignment). */
export const ALIGNMENT = 64;

export interface ZipEntry {
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly method: number;
  readonly flags: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
  /** Where the next entry (or the central directory) starts: this entry must end before. */
  limit: number;
}

function u64(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what} is ${v}, beyond any real file`);
  return Number(v);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class ZipReader {
  readonly entries: ZipEntry[] = [];
  private readonly byName = new Map<string, ZipEntry>();

  constructor(private readonly src: ByteSource) {
    const size = src.size;
    if (size < EOCD_SIZE) bad(`not a zip archive (the file has only ${size} bytes)`);
    // The end-of-central-directory record: the last 22 bytes, unless a comment (<= 64 KiB) follows.
    const tailLen = Math.min(size, EOCD_SIZE + U16);
    const tail = src.read(size - tailLen, tailLen);
    let at = -1;
    for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && tail.readUInt16LE(i + 20) === tailLen - i - EOCD_SIZE) {
        at = i;
        break;
      }
    }
    if (at < 0) bad('not a zip archive (no end-of-central-directory record at the end of the file)');
    const eocdPos = size - tailLen + at;
    const disk = tail.readUInt16LE(at + 4),
      cdDisk = tail.readUInt16LE(at + 6);
    let entriesHere = tail.readUInt16LE(at + 8),
      total = tail.readUInt16LE(at + 10);
    let cdSize = tail.readUInt32LE(at + 12),
      cdOffset = tail.readUInt32LE(at + 16);
    let cdEnd = eocdPos; // the central directory must end where the (zip64) end records begin

    // zip64: a locator right before the EOCD points to the zip64 end-of-central-directory record.
    const hasLocator =
      eocdPos >= LOCATOR64_SIZE && src.read(eocdPos - LOCATOR64_SIZE, 4).readUInt32LE(0) === SIG_LOCATOR64;
    const saturated = entriesHere === U16 || total === U16 || cdSize === U32 || cdOffset === U32;
    if (hasLocator) {
      const loc = src.read(eocdPos - LOCATOR64_SIZE, LOCATOR64_SIZE);
      if (loc.readUInt32LE(4) !== 0 || loc.readUInt32LE(16) > 1) bad('multi-disk zip archives are not supported');
      const recPos = u64(loc, 8, 'the zip64 end-of-central-directory offset');
      if (recPos + EOCD64_SIZE > eocdPos - LOCATOR64_SIZE)
        bad(`the zip64 end-of-central-directory record (offset ${recPos}) lies outside the file's end records`);
      const rec = src.read(recPos, EOCD64_SIZE);
      if (rec.readUInt32LE(0) !== SIG_EOCD64)
        bad('the zip64 locator does not point to a zip64 end-of-central-directory record');
      const recSize = u64(rec, 4, 'the zip64 record size');
      if (recSize < EOCD64_SIZE - 12 || recSize + 12 > eocdPos - LOCATOR64_SIZE - recPos)
        bad('the zip64 end-of-central-directory record overruns its locator');
      if (rec.readUInt32LE(16) !== 0 || rec.readUInt32LE(20) !== 0) bad('multi-disk zip archives are not supported');
      entriesHere = u64(rec, 24, 'the zip64 entry count');
      total = u64(rec, 32, 'the zip64 entry count');
      cdSize = u64(rec, 40, 'the zip64 central directory size');
      cdOffset = u64(rec, 48, 'the zip64 central directory offset');
      cdEnd = recPos;
    } else {
      if (saturated) bad('the end-of-central-directory record needs a zip64 record, which is missing');
      if (disk !== 0 || cdDisk !== 0) bad('multi-disk zip archives are not supported');
    }
    if (entriesHere !== total) bad('multi-disk zip archives are not supported');
    if (cdOffset + cdSize > cdEnd)
      bad(`the central directory (offset ${cdOffset}, ${cdSize} bytes) runs past the end records at offset ${cdEnd}`);
    if (total * CENTRAL_SIZE > cdSize)
      bad(
        `the archive declares ${total} entries, but its ${cdSize}-byte central directory ` +
          `can hold at most ${Math.floor(cdSize / CENTRAL_SIZE)}`,
      );

    const cd = src.read(cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < total; i++) {
      if (p + CENTRAL_SIZE > cdSize) bad(`central directory entry ${i} runs past the central directory`);
      if (cd.readUInt32LE(p) !== SIG_CENTRAL) bad(`central directory entry ${i} has a bad signature`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let usize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28),
        extraLen = cd.readUInt16LE(p + 30),
        commentLen = cd.readUInt16LE(p + 32);
      const diskStart = cd.readUInt16LE(p + 34);
      let localOffset = cd.readUInt32LE(p + 42);
      const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
      if (end > cdSize) bad(`central directory entry ${i} runs past the central directory`);
      const nameBytes = cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen);
      let name: string;
      try {
        name = utf8.decode(nameBytes);
      } catch {
        bad(`central directory entry ${i} has a name that is not valid UTF-8`);
      }
      if (name === '' || name.includes('\0')) bad(`central directory entry ${i} has an empty or NUL-containing name`);
      // zip64 extended information: the saturated fields, in this order.
      let diskStart64 = diskStart;
      const extra = cd.subarray(p + CENTRAL_SIZE + nameLen, p + CENTRAL_SIZE + nameLen + extraLen);
      for (let q = 0; q + 4 <= extra.length; ) {
        const id = extra.readUInt16LE(q),
          len = extra.readUInt16LE(q + 2);
        if (q + 4 + len > extra.length) bad(`entry '${name}' has a malformed extra field`);
        if (id === 0x0001) {
          let r = q + 4;
          const take = (what: string): number => {
            if (r + 8 > q + 4 + len) bad(`entry '${name}' has a truncated zip64 extra field`);
            const v = u64(extra, r, `entry '${name}' ${what}`);
            r += 8;
            return v;
          };
          if (usize === U32) usize = take('size');
          if (compressedSize === U32) compressedSize = take('compressed size');
          if (localOffset === U32) localOffset = take('offset');
          if (diskStart === U16) {
            if (r + 4 > q + 4 + len) bad(`entry '${name}' has a truncated zip64 extra field`);
            diskStart64 = extra.readUInt32LE(r);
          }
        }
        q += 4 + len;
      }
      if (usize === U32 || compressedSize === U32 || localOffset === U32)
        bad(`entry '${name}' needs a zip64 extra field, which is missing`);
      if (diskStart64 !== 0) bad('multi-disk zip archives are not supported');
      if (flags & 0x41) bad(`entry '${name}' is encrypted`);
      if (method === 0 && compressedSize !== usize)
        bad(`stored entry '${name}' declares ${usize} bytes but occupies ${compressedSize}`);
      if (this.byName.has(name)) bad(`the archive has two entries named '${name}'`);
      const entry: ZipEntry = {
        name,
        nameBytes: Buffer.from(nameBytes),
        method,
        flags,
        crc,
        compressedSize,
        size: usize,
        localOffset,
        limit: 0,
      };
      this.entries.push(entry);
      this.byName.set(name, entry);
      p = end;
    }
    if (p !== cdSize) bad(`the central directory has ${cdSize - p} unexplained bytes after its ${total} entries`);

    // Entries lie before the central directory, in disjoint extents (a reader that allowed
    // overlaps could be made to read the same bytes many times over).
    const sorted = [...this.entries].sort((a, b) => a.localOffset - b.localOffset);
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i];
      e.limit = i + 1 < sorted.length ? sorted[i + 1].localOffset : cdOffset;
      const minEnd = e.localOffset + LOCAL_SIZE + e.nameBytes.length + e.compressedSize;
      if (minEnd > e.limit)
        bad(
          i + 1 < sorted.length
            ? `entries '${e.name}' and '${sorted[i + 1].name}' overlap`
            : `entry '${e.name}' (${e.compressedSize} bytes at offset ${e.localOffset}) ` +
                'runs into the central directory',
        );
    }
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** The payload of an entry, after checking its local header and CRC-32. */
  read(e: ZipEntry): Buffer {
    if (e.method !== 0)
      bad(
        `entry '${e.name}' is compressed (method ${e.method}${e.method === 8 ? ', deflate' : ''}); ` +
          'PyTorch checkpoints store entries uncompressed (was the file re-zipped?)',
      );
    const h = this.src.read(e.localOffset, LOCAL_SIZE);
    if (h.readUInt32LE(0) !== SIG_LOCAL) bad(`entry '${e.name}' has no local header at offset ${e.localOffset}`);
    const flags = h.readUInt16LE(6),
      method = h.readUInt16LE(8);
    const nameLen = h.readUInt16LE(26),
      extraLen = h.readUInt16LE(28);
    const dataStart = e.localOffset + LOCAL_SIZE + nameLen + extraLen;
    const dataEnd = dataStart + e.size;
    if (dataEnd > e.limit) bad(`entry '${e.name}' runs into the next entry or the central directory`);
    if (
      method !== e.method ||
      nameLen !== e.nameBytes.length ||
      !this.src.read(e.localOffset + LOCAL_SIZE, nameLen).equals(e.nameBytes)
    )
      bad(`the local header of entry '${e.name}' disagrees with the central directory`);
    if (!(flags & 0x08)) {
      const crc = h.readUInt32LE(14),
        cs = h.readUInt32LE(18),
        us = h.readUInt32LE(22);
      if (crc !== e.crc || (cs !== U32 && cs !== e.compressedSize) || (us !== U32 && us !== e.size))
        bad(`the local header of entry '${e.name}' disagrees with the central directory`);
    } else {
      // A data descriptor follows the payload: [signature] crc, sizes (4 or 8 bytes each).
      const room = Math.min(24, e.limit - dataEnd);
      const d = this.src.read(dataEnd, room);
      let q = room >= 4 && d.readUInt32LE(0) === SIG_DESCRIPTOR ? 4 : 0;
      if (q + 12 > room || d.readUInt32LE(q) !== e.crc)
        bad(`the data descriptor of entry '${e.name}' is missing or disagrees with the central directory`);
      q += 4;
      const ok32 = d.readUInt32LE(q) === e.compressedSize && d.readUInt32LE(q + 4) === e.size;
      const ok64 =
        q + 16 <= room &&
        Number(d.readBigUInt64LE(q)) === e.compressedSize &&
        Number(d.readBigUInt64LE(q + 8)) === e.size;
      if (!ok32 && !ok64) bad(`the data descriptor of entry '${e.name}' disagrees with the central directory`);
    }
    const data = this.src.read(dataStart, e.size);
    if (crc32(data) !== e.crc) bad(`entry '${e.name}' fails its CRC-32 check (the file is corrupt)`);
    return data;
  }
}

interface Written {
  nameBytes: Buffer;
  crc: number;
  size: number;
  offset: number;
  zip64: boolean;
}

export interface ZipWriterOptions {
  /** Write zip64 records even when not needed (tests; readers must handle both). */
  forceZip64?: boolean;
}

/** Writes stored entries with 64-byte-aligned payloads, then the central directory. */
export class ZipWriter {
  private readonly written: Written[] = [];
  private readonly force: boolean;

  constructor(
    private readonly sink: ByteSink,
    opts: ZipWriterOptions = {},
  ) {
    this.force = opts.forceZip64 === true;
  }

  add(name: string, data: Uint8Array): void {
    const nameBytes = Buffer.from(name, 'utf8');
    if (nameBytes.length > U16) throw new RangeError(`zip: entry name too long (${nameBytes.length} bytes)`);
    const size = data.byteLength;
    const offset = this.sink.offset;
    const zip64 = this.force || size >= U32 || offset >= U32;
    const crc = crc32(data);
    const z64Len = zip64 ? 20 : 0;
    // Pad with an 'FB' extra field (as PyTorch does) so that the payload starts at a multiple of 64.
    const start = offset + LOCAL_SIZE + nameBytes.length + z64Len + 4;
    const pad = (ALIGNMENT - (start % ALIGNMENT)) % ALIGNMENT;
    const h = Buffer.alloc(LOCAL_SIZE + nameBytes.length + z64Len + 4 + pad, 0x5a); // 'Z' padding
    h.writeUInt32LE(SIG_LOCAL, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(0x0800, 6); // UTF-8 names
    h.writeUInt16LE(0, 8);
    h.writeUInt16LE(0, 10); // time
    h.writeUInt16LE(0x21, 12); // date: 1980-01-01
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(zip64 ? U32 : size, 18);
    h.writeUInt32LE(zip64 ? U32 : size, 22);
    h.writeUInt16LE(nameBytes.length, 26);
    h.writeUInt16LE(z64Len + 4 + pad, 28);
    nameBytes.copy(h, LOCAL_SIZE);
    let q = LOCAL_SIZE + nameBytes.length;
    if (zip64) {
      h.writeUInt16LE(0x0001, q);
      h.writeUInt16LE(16, q + 2);
      h.writeBigUInt64LE(BigInt(size), q + 4);
      h.writeBigUInt64LE(BigInt(size), q + 12);
      q += 20;
    }
    h.writeUInt16LE(0x4246, q); // 'FB'
    h.writeUInt16LE(pad, q + 2);
    this.sink.write(h);
    this.sink.write(data);
    this.written.push({ nameBytes, crc, size, offset, zip64 });
  }

  finish(): void {
    const cdOffset = this.sink.offset;
    let cdSize = 0;
    for (const w of this.written) {
      const big = this.force || w.size >= U32;
      const bigOff = this.force || w.offset >= U32;
      const z64Len = big || bigOff ? 4 + (big ? 16 : 0) + (bigOff ? 8 : 0) : 0;
      const c = Buffer.alloc(CENTRAL_SIZE + w.nameBytes.length + z64Len);
      c.writeUInt32LE(SIG_CENTRAL, 0);
      c.writeUInt16LE(w.zip64 || z64Len ? 45 : 20, 4); // made by: MS-DOS, version 4.5 / 2.0
      c.writeUInt16LE(w.zip64 || z64Len ? 45 : 20, 6);
      c.writeUInt16LE(0x0800, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt16LE(0, 12);
      c.writeUInt16LE(0x21, 14);
      c.writeUInt32LE(w.crc, 16);
      c.writeUInt32LE(big ? U32 : w.size, 20);
      c.writeUInt32LE(big ? U32 : w.size, 24);
      c.writeUInt16LE(w.nameBytes.length, 28);
      c.writeUInt16LE(z64Len, 30);
      c.writeUInt32LE(bigOff ? U32 : w.offset, 42);
      w.nameBytes.copy(c, CENTRAL_SIZE);
      if (z64Len) {
        let q = CENTRAL_SIZE + w.nameBytes.length;
        c.writeUInt16LE(0x0001, q);
        c.writeUInt16LE(z64Len - 4, q + 2);
        q += 4;
        if (big) {
          c.writeBigUInt64LE(BigInt(w.size), q);
          c.writeBigUInt64LE(BigInt(w.size), q + 8);
          q += 16;
        }
        if (bigOff) c.writeBigUInt64LE(BigInt(w.offset), q);
      }
      this.sink.write(c);
      cdSize += c.length;
    }
    const n = this.written.length;
    const zip64 = this.force || n >= U16 || cdSize >= U32 || cdOffset >= U32;
    if (zip64) {
      const recPos = this.sink.offset;
      const r = Buffer.alloc(EOCD64_SIZE + LOCATOR64_SIZE);
      r.writeUInt32LE(SIG_EOCD64, 0);
      r.writeBigUInt64LE(BigInt(EOCD64_SIZE - 12), 4);
      r.writeUInt16LE(45, 12);
      r.writeUInt16LE(45, 14);
      r.writeBigUInt64LE(BigInt(n), 24);
      r.writeBigUInt64LE(BigInt(n), 32);
      r.writeBigUInt64LE(BigInt(cdSize), 40);
      r.writeBigUInt64LE(BigInt(cdOffset), 48);
      r.writeUInt32LE(SIG_LOCATOR64, EOCD64_SIZE);
      r.writeBigUInt64LE(BigInt(recPos), EOCD64_SIZE + 8);
      r.writeUInt32LE(1, EOCD64_SIZE + 16);
      this.sink.write(r);
    }
    const e = Buffer.alloc(EOCD_SIZE);
    e.writeUInt32LE(SIG_EOCD, 0);
    e.writeUInt16LE(zip64 ? U16 : n, 8);
    e.writeUInt16LE(zip64 ? U16 : n, 10);
    e.writeUInt32LE(zip64 ? U32 : cdSize, 12);
    e.writeUInt32LE(zip64 ? U32 : cdOffset, 16);
    this.sink.write(e);
  }
}
