// A restricted unpickler and a protocol-2 pickler for the data PyTorch checkpoints hold.
//
// The unpickler is a data parser, not Python: it knows the opcodes torch.save emits (and the few
// that protocols 3-5 add for the same values), keeps its own memo and stacks, and resolves GLOBAL
// only through an allow-list that the caller supplies. A global outside the list is refused when
// its opcode is read, before anything could call it; nothing is ever imported or executed. Every
// length is checked against the remaining bytes before it is used, the memo is a Map (a hostile
// index allocates nothing), and the conversion to JS values is depth-limited.
//
// Values while unpickling: None → null, bool, int → number (bigint beyond 2^53), float → number,
// str → string, bytes → Uint8Array, list → array, tuple → frozen array, dict → Map, globals →
// PyGlobal, plus whatever the callbacks return (tensors, storages). `toJS` then turns Maps with
// only string keys into plain objects and tuples into ordinary arrays, keeping shared references
// and cycles.
import { describe } from '../errors';
import { bad } from './io';
import { OPCODES } from './opcodes';

/** A resolved GLOBAL: the allow-listed callable (`call`), or a marker such as a storage type. */
export class PyGlobal {
  constructor(
    readonly qualname: string,
    readonly call?: (args: readonly unknown[]) => unknown,
  ) {}
}

export interface UnpickleOptions {
  /** The allow-list: a PyGlobal for `module.name`, or undefined to refuse it. */
  resolveGlobal(qualname: string): PyGlobal | undefined;
  /** BINPERSID: the object a persistent id stands for (PyTorch: a storage). */
  persistentLoad(pid: unknown): unknown;
}

/** Nesting allowed in loaded and saved values (Python's own pickler stops near 1000 too). */
export const MAX_DEPTH = 1000;
/** The largest integer a LONG opcode may carry, in bytes (Python ints of ~10k bits). */
const MAX_LONG_BYTES = 1024;

export const REFUSED_HINT = 'only tensors, numbers, strings, lists, tuples and dicts are supported';

const utf8 = new TextDecoder('utf-8'); // lenient: Python writes lone surrogates with 'surrogatepass'
const latin1 = new TextDecoder('latin1');
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

function isTuple(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

function isList(v: unknown): v is unknown[] {
  return Array.isArray(v) && !Object.isFrozen(v);
}

function kindOf(v: unknown): string {
  if (v === null) return 'None';
  if (isTuple(v)) return 'a tuple';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Map) return 'a dict';
  if (v instanceof PyGlobal) return `the global '${v.qualname}'`;
  if (v instanceof Uint8Array) return 'bytes';
  return describe(v);
}

/** Two's-complement little-endian bytes → an integer (number when safe, else bigint). */
export function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** The minimal two's-complement little-endian bytes of an integer (Python's encode_long). */
export function encodeLong(x: bigint): Uint8Array {
  if (x === 0n) return new Uint8Array(0);
  const out: number[] = [];
  let v = x;
  for (;;) {
    const byte = Number(v & 0xffn);
    out.push(byte);
    v >>= 8n;
    if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break;
  }
  return Uint8Array.from(out);
}

// Tuples already found hashable. The memo lets a pickle share one tuple many times (t1 = (t0, t0),
// t2 = (t1, t1), ...): walking such a key without remembering what was checked visits 2^depth
// nodes (an 849-byte file hung torch.load). Tuples never change once built, so the answer is kept.
const HASHABLE_TUPLES = new WeakSet<object>();

function hashableKey(k: unknown, depth = 0): boolean {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean')
    return true;
  if (depth > MAX_DEPTH) bad(`data.pkl: a dict key nests deeper than ${MAX_DEPTH} levels`);
  if (!isTuple(k)) return false;
  if (HASHABLE_TUPLES.has(k)) return true;
  const ok = k.every((x) => hashableKey(x, depth + 1));
  if (ok) HASHABLE_TUPLES.add(k);
  return ok;
}

/**
 * Parses a pickle, resolving globals and persistent ids through `opts`. Throws a FormatError
 * naming the problem and the byte offset.
 */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): unknown {
  const n = data.length;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  let opPos = 0;
  let op = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string): never => bad(`data.pkl: ${msg} (${OPCODES[op]?.name ?? 'opcode'} at byte ${opPos})`);
  const need = (k: number): void => {
    if (k > n - pos) fail(`truncated: needs ${k} more bytes, ${n - pos} left`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) fail(`declares ${v} bytes, more than the ${n}-byte pickle holds`);
    return Number(v);
  };
  /** The current opcode's integer argument (a value or a length), in the format opcodes.ts gives it. */
  const int = (): number => {
    const f = OPCODES[op].arg;
    return f === 'u1' ? u8() : f === 'u2' ? u16() : f === 'u4' ? u32() : f === 'i4' ? i32() : u64();
  };
  const bytes = (len: number): Uint8Array => {
    need(len);
    const b = data.subarray(pos, pos + len);
    pos += len;
    return b;
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 256) fail('malformed line (no newline within 256 bytes)');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const push = (v: unknown): void => {
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail('no MARK to pop to');
    stack = prev as unknown[];
    return items;
  };
  const setItem = (d: unknown, k: unknown, v: unknown): void => {
    if (!(d instanceof Map)) fail(`cannot set an item on ${kindOf(d)}`);
    if (!hashableKey(k)) fail(`unhashable dict key (${kindOf(k)})`);
    (d as Map<unknown, unknown>).set(k, v);
  };
  const global = (module: string, name: string): PyGlobal => {
    if (!IDENT_RE.test(module) || !IDENT_RE.test(name)) fail('malformed global name');
    const qualname = `${module}.${name}`;
    const g = opts.resolveGlobal(qualname);
    if (g === undefined) bad(`refusing to load global '${qualname}' (${REFUSED_HINT})`);
    return g;
  };

  for (;;) {
    if (pos >= n) {
      opPos = pos;
      op = -1;
      fail('ends without a STOP opcode');
    }
    opPos = pos;
    op = data[pos++];
    switch (op) {
      case 0x80: {
        // PROTO
        const p = int();
        if (p > 5) fail(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95:
        int();
        break; // FRAME (a framing hint; the lengths are checked per opcode)
      case 0x28:
        metastack.push(stack);
        stack = [];
        break; // MARK
      case 0x2e: {
        // STOP
        const v = pop();
        if (stack.length !== 0 || metastack.length !== 0) fail('values left on the stack at STOP');
        if (pos !== n) fail(`${n - pos} bytes after STOP`);
        return v;
      }
      case 0x30:
        if (stack.length) stack.pop();
        else popMark();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        push(top());
        break; // DUP
      case 0x4e:
        push(null);
        break;
      case 0x88:
        push(true);
        break;
      case 0x89:
        push(false);
        break;
      case 0x4a: // BININT
      case 0x4b: // BININT1
      case 0x4d: // BININT2
        push(int());
        break;
      case 0x8a:
        push(decodeLong(bytes(int())));
        break; // LONG1
      case 0x8b: {
        // LONG4
        const len = int();
        if (len < 0 || len > MAX_LONG_BYTES) fail(`integer of ${len} bytes is out of range`);
        push(decodeLong(bytes(len)));
        break;
      }
      case 0x47:
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break; // BINFLOAT
      case 0x58: // BINUNICODE
      case 0x8c: // SHORT_BINUNICODE
      case 0x8d: // BINUNICODE8
        push(utf8.decode(bytes(int())));
        break;
      case 0x55:
        push(latin1.decode(bytes(int())));
        break; // SHORT_BINSTRING (Python 2 str)
      case 0x54: {
        // BINSTRING
        const len = int();
        if (len < 0) fail('negative length');
        push(latin1.decode(bytes(len)));
        break;
      }
      case 0x43: // SHORT_BINBYTES
      case 0x42: // BINBYTES
      case 0x8e: // BINBYTES8
        push(Uint8Array.from(bytes(int())));
        break;
      case 0x7d:
        push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        push([]);
        break; // EMPTY_LIST
      case 0x29:
        push(Object.freeze([]));
        break; // EMPTY_TUPLE
      case 0x74:
        push(Object.freeze(popMark()));
        break; // TUPLE
      case 0x85:
        push(Object.freeze([pop()]));
        break; // TUPLE1
      case 0x86: {
        const b = pop(),
          a = pop();
        push(Object.freeze([a, b]));
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop(),
          b = pop(),
          a = pop();
        push(Object.freeze([a, b, c]));
        break;
      } // TUPLE3
      case 0x6c:
        push(popMark());
        break; // LIST
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2) fail('odd number of items');
        const d = new Map();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        push(d);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!isList(list)) fail(`cannot append to ${kindOf(list)}`);
        (list as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!isList(list)) fail(`cannot append to ${kindOf(list)}`);
        for (const v of items) (list as unknown[]).push(v);
        break;
      }
      case 0x73: {
        const v = pop(),
          k = pop();
        setItem(top(), k, v);
        break;
      } // SETITEM
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('odd number of items');
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x71: // BINPUT
      case 0x72: // LONG_BINPUT
        memo.set(int(), top());
        break;
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a: {
        // BINGET, LONG_BINGET
        const i = int();
        if (!memo.has(i)) fail(`memo entry ${i} is not defined`);
        push(memo.get(i));
        break;
      }
      case 0x63: {
        const module = line();
        const name = line();
        push(global(module, name));
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop(),
          module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('expects two strings');
        push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop(),
          fn = pop();
        if (!(fn instanceof PyGlobal) || fn.call === undefined) fail(`cannot call ${kindOf(fn)}`);
        if (!isTuple(args)) fail(`arguments must be a tuple, got ${kindOf(args)}`);
        push((fn as PyGlobal).call!(args as readonly unknown[]));
        break;
      }
      case 0x62: {
        // BUILD: only the attributes PyTorch sets on an OrderedDict (_metadata), ignored
        const state = pop();
        const target = top();
        if (!(target instanceof Map)) fail(`cannot set the state of ${kindOf(target)}`);
        if (state !== null && !(state instanceof Map) && !isTuple(state)) fail(`unexpected state (${kindOf(state)})`);
        break;
      }
      case 0x51:
        push(opts.persistentLoad(pop()));
        break; // BINPERSID
      default:
        fail(
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}` +
            (op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : ''),
        );
    }
  }
}

function setOwn(obj: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  else obj[k] = v;
}

/**
 * Unpickled values → JS values: dicts with only string keys become plain objects, others Maps;
 * tuples and lists become arrays. Shared references stay shared; cycles are kept. `leaf` says
 * which objects pass through unchanged (tensors); anything else unknown is an error.
 */
export function toJS(root: unknown, leaf: (v: object) => boolean): unknown {
  const done = new Map<object, unknown>();
  const conv = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof Uint8Array || leaf(v)) return v;
    if (done.has(v)) return done.get(v);
    if (depth > MAX_DEPTH) bad(`data.pkl: values nest deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(v)) {
      const out: unknown[] = new Array(v.length);
      done.set(v, out);
      for (let i = 0; i < v.length; i++) out[i] = conv(v[i], depth + 1);
      return out;
    }
    if (v instanceof Map) {
      let allStrings = true;
      for (const k of v.keys())
        if (typeof k !== 'string') {
          allStrings = false;
          break;
        }
      if (allStrings) {
        const obj: Record<string, unknown> = {};
        done.set(v, obj);
        for (const [k, x] of v) setOwn(obj, k as string, conv(x, depth + 1));
        return obj;
      }
      const m = new Map<unknown, unknown>();
      done.set(v, m);
      for (const [k, x] of v) m.set(conv(k, depth + 1), conv(x, depth + 1));
      return m;
    }
    if (v instanceof PyGlobal)
      bad(`data.pkl: the checkpoint holds the bare global '${v.qualname}' as a value (${REFUSED_HINT})`);
    return bad(`data.pkl: the checkpoint holds ${kindOf(v)} outside a tensor (${REFUSED_HINT})`);
  };
  return conv(root, 0);
}

// ---- pickler ---------------------------------------------------------------------------------
class ByteBuilder {
  private buf = Buffer.allocUnsafe(1024);
  length = 0;
  private reserve(k: number): void {
    if (this.length + k <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + k) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }
  u16(v: number): void {
    this.reserve(2);
    this.buf.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  f64be(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleBE(v, this.length);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

export interface PickleHooks {
  /** Writes `v` and returns true if it is a value the format handles itself (tensors). */
  special(p: Pickler, v: object, path: string): boolean;
  /** Whether a plain object is written as a `collections.OrderedDict` (a state dict). */
  ordered(obj: object): boolean;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isWellFormed(s: string): boolean {
  const f = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  if (f) return f.call(s);
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Writes values as a protocol-2 pickle that Python's `pickle`/`torch.load` read: null → None,
 * booleans, safe integers and bigints → int, other numbers → float, strings → str, Uint8Array →
 * bytes, arrays → list, Maps and plain objects → dict (OrderedDict where `hooks.ordered` says).
 * Shared references and cycles are kept (memoized like Python's pickler).
 */
export class Pickler {
  private readonly out = new ByteBuilder();
  private readonly memo = new Map<object, number>();
  private readonly globals = new Map<string, number>();
  private nextMemo = 0;

  constructor(
    private readonly fn: string,
    private readonly hooks: PickleHooks,
  ) {
    this.out.byte(0x80);
    this.out.byte(2);
  }

  /** Pickles the root value and returns the bytes (ending in STOP). */
  dump(v: unknown): Buffer {
    this.value(v, 'obj', 0);
    this.out.byte(0x2e);
    return this.out.result();
  }

  // ---- opcodes the hooks use ----
  mark(): void {
    this.out.byte(0x28);
  }
  tuple(): void {
    this.out.byte(0x74);
  }
  emptyTuple(): void {
    this.out.byte(0x29);
  }
  reduce(): void {
    this.out.byte(0x52);
  }
  binpersid(): void {
    this.out.byte(0x51);
  }
  none(): void {
    this.out.byte(0x4e);
  }
  bool(b: boolean): void {
    this.out.byte(b ? 0x88 : 0x89);
  }

  /** GLOBAL `module name`, memoized so each global is written once. */
  global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const i = this.globals.get(key);
    if (i !== undefined) {
      this.get(i);
      return;
    }
    this.out.byte(0x63);
    this.out.bytes(Buffer.from(`${module}\n${name}\n`, 'latin1'));
    this.globals.set(key, this.put());
  }

  int(v: number | bigint): void {
    if (typeof v === 'number' && Number.isSafeInteger(v)) {
      if (v >= 0 && v < 0x100) {
        this.out.byte(0x4b);
        this.out.byte(v);
        return;
      }
      if (v >= 0 && v < 0x10000) {
        this.out.byte(0x4d);
        this.out.u16(v);
        return;
      }
      if (v >= -0x80000000 && v < 0x80000000) {
        this.out.byte(0x4a);
        this.out.i32(v);
        return;
      }
    }
    const b = encodeLong(BigInt(v));
    if (b.length < 0x100) {
      this.out.byte(0x8a);
      this.out.byte(b.length);
    } else {
      this.out.byte(0x8b);
      this.out.i32(b.length);
    }
    this.out.bytes(b);
  }

  float(v: number): void {
    this.out.byte(0x47);
    this.out.f64be(v);
  }

  str(s: string, path = 'obj'): void {
    if (!isWellFormed(s))
      throw new TypeError(`${this.fn}: the string at ${path} has a lone surrogate and cannot be encoded as UTF-8`);
    const b = Buffer.from(s, 'utf8');
    this.out.byte(0x58);
    this.out.u32(b.length);
    this.out.bytes(b);
  }

  /** Memoizes the value on top of the stack under `obj` (so later references reuse it). */
  memoize(obj: object): void {
    this.memo.set(obj, this.put());
  }

  private put(): number {
    const i = this.nextMemo++;
    if (i < 0x100) {
      this.out.byte(0x71);
      this.out.byte(i);
    } else {
      this.out.byte(0x72);
      this.out.u32(i);
    }
    return i;
  }

  private get(i: number): void {
    if (i < 0x100) {
      this.out.byte(0x68);
      this.out.byte(i);
    } else {
      this.out.byte(0x6a);
      this.out.u32(i);
    }
  }

  /** Any supported value. */
  value(v: unknown, path: string, depth: number): void {
    switch (typeof v) {
      case 'boolean':
        this.bool(v);
        return;
      case 'bigint':
        this.int(v);
        return;
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.int(v);
        else this.float(v);
        return;
      case 'string':
        this.str(v, path);
        return;
      case 'undefined':
        throw new TypeError(`${this.fn}: cannot save undefined at ${path} (use null for None)`);
      case 'object':
        break;
      default:
        throw new TypeError(`${this.fn}: cannot save ${describe(v)} at ${path}`);
    }
    if (v === null) {
      this.none();
      return;
    }
    const seen = this.memo.get(v);
    if (seen !== undefined) {
      this.get(seen);
      return;
    }
    if (depth > MAX_DEPTH) throw new RangeError(`${this.fn}: values nest deeper than ${MAX_DEPTH} levels at ${path}`);
    if (this.hooks.special(this, v, path)) return;
    if (v instanceof Uint8Array && (v.constructor === Uint8Array || Buffer.isBuffer(v))) {
      // Protocol 2 has no bytes opcode: write what Python's pickler writes at protocol 2,
      // `_codecs.encode(<latin-1 str>, 'latin1')` (PyTorch 2's weights-only loader allows exactly
      // that, and rejects the protocol-3 BINBYTES opcodes).
      const b = v as Uint8Array;
      this.global('_codecs', 'encode');
      this.str(Buffer.from(b).toString('latin1'), path);
      this.str('latin1', path);
      this.out.byte(0x86); // TUPLE2
      this.reduce();
      this.memoize(v);
      return;
    }
    if (ArrayBuffer.isView(v))
      throw new TypeError(
        `${this.fn}: cannot save ${describe(v)} at ${path} ` +
          '(make it a tensor with torch.tensor(...), or a Uint8Array for bytes)',
      );
    if (Array.isArray(v)) {
      this.out.byte(0x5d);
      this.memoize(v);
      for (let i = 0; i < v.length; i += 1000) {
        this.mark();
        for (let j = i; j < Math.min(v.length, i + 1000); j++) this.value(v[j], `${path}[${j}]`, depth + 1);
        this.out.byte(0x65);
      }
      return;
    }
    if (v instanceof Map) {
      this.out.byte(0x7d);
      this.memoize(v);
      this.items([...v.entries()], path, depth, true);
      return;
    }
    if (isPlainObject(v)) {
      if (this.hooks.ordered(v)) {
        this.global('collections', 'OrderedDict');
        this.emptyTuple();
        this.reduce();
      } else {
        this.out.byte(0x7d);
      }
      this.memoize(v);
      this.items(Object.entries(v), path, depth, false);
      return;
    }
    const hasState = typeof (v as { stateDict?: unknown }).stateDict === 'function';
    const hint = hasState ? '; for a module or an optimizer, save its stateDict()' : '';
    throw new TypeError(
      `${this.fn}: cannot save ${describe(v)} at ${path} (supported: tensors, numbers, bigints, ` +
        `booleans, null, strings, Uint8Array, arrays, Maps and plain objects${hint})`,
    );
  }

  private items(entries: [unknown, unknown][], path: string, depth: number, fromMap: boolean): void {
    for (let i = 0; i < entries.length; i += 1000) {
      this.mark();
      for (let j = i; j < Math.min(entries.length, i + 1000); j++) {
        const [k, x] = entries[j];
        let sub: string;
        if (typeof k === 'string') {
          this.str(k, `a key of ${path}`);
          sub = fromMap ? `${path}.get(${JSON.stringify(k)})` : childPath(path, k);
        } else if (k === null || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') {
          this.value(k, path, depth + 1);
          sub = `${path}.get(${String(k)})`;
        } else {
          throw new TypeError(
            `${this.fn}: cannot save a Map key that is ${describe(k)} at ${path} ` +
              '(keys must be strings, numbers, bigints, booleans or null)',
          );
        }
        this.value(x, sub, depth + 1);
      }
      this.out.byte(0x75);
    }
  }
}
