// A bounds check of a pickle that builds nothing: it walks the opcodes of a record that libtorch's
// own unpickler will read (TorchScript's data.pkl and constants.pkl) and refuses, before libtorch
// sees the file, what would make that unpickler recurse without bound, allocate without bound, or
// read past the record:
//   - nesting deeper than MAX_PICKLE_NESTING (200k nested tuples overflowed libtorch's stack);
//   - a length-prefixed string, bytes or long longer than what is left of the record (a 4 GiB
//     string declared in a 3 KB file made libtorch allocate 4.3 GB);
//   - a memo index larger than the record (libtorch reserves memo space by index);
//   - unknown opcodes, and a record that ends before STOP.
// Depth is tracked per stack item (a container is one deeper than its deepest element), with the
// memo remembering the depth of what it holds, so shared sub-objects cost nothing extra.
import { FormatError } from './io';
import { ARG_WIDTH, OPCODES } from './opcodes';

/** Nesting allowed in a TorchScript pickle (real modules nest tens of levels). */
export const MAX_PICKLE_NESTING = 1000;
/** Bracket nesting allowed in TorchScript code (Python's own parser stops at 200). */
export const MAX_CODE_NESTING = 500;

/** Throws a FormatError naming `what` (e.g. "data.pkl") when the pickle is outside the bounds above. */
export function scanPickle(data: Uint8Array, what: string): void {
  const n = data.length;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  let stack: number[] = []; // the depth of each stack item
  const marks: number[][] = [];
  const memo = new Map<number, number>();
  let memoCount = 0;
  const bad = (msg: string, at: number): never => {
    throw new FormatError(`${what}: ${msg} (at byte ${at})`);
  };
  const push = (d: number, at: number): void => {
    if (d > MAX_PICKLE_NESTING) bad(`nests deeper than ${MAX_PICKLE_NESTING} levels`, at);
    stack.push(d);
  };
  const pop = (at: number): number => (stack.length ? stack.pop()! : bad('stack underflow', at));
  const popMark = (at: number): number[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) bad('no MARK to pop to', at);
    stack = prev!;
    return items;
  };
  const deepest = (items: number[]): number => items.reduce((m, d) => Math.max(m, d), 0);
  const raise = (d: number, at: number): void => {
    // the container on top gets an element of depth d
    if (!stack.length) bad('stack underflow', at);
    const top = stack.length - 1;
    if (d + 1 > stack[top]) {
      if (d + 1 > MAX_PICKLE_NESTING) bad(`nests deeper than ${MAX_PICKLE_NESTING} levels`, at);
      stack[top] = d + 1;
    }
  };
  const memoId = (id: number, at: number): number => {
    if (id > n) bad(`memo index ${id} is larger than the ${n}-byte record`, at);
    return id;
  };
  const skipLine = (at: number): void => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) bad('a text argument has no newline', at);
    pos = end + 1;
  };
  for (;;) {
    if (pos >= n) bad('the record ends before STOP', pos);
    const at = pos;
    const op = data[pos++];
    const need = (k: number): void => {
      if (k > n - pos) bad(`opcode 0x${op.toString(16)} needs ${k} bytes, ${n - pos} are left`, at);
    };
    // ---- arguments (their formats: opcodes.ts) ----
    const spec = OPCODES[op];
    if (spec === undefined) bad(`unknown opcode 0x${op.toString(16)}`, at);
    const k = ARG_WIDTH[spec.arg];
    let arg = 0;
    if (spec.prefixed) {
      // a length (read unsigned: a negative signed one is a huge length, refused alike), then the data
      need(k);
      const len = k === 1 ? data[pos] : k === 4 ? view.getUint32(pos, true) : Number(view.getBigUint64(pos, true));
      pos += k;
      if (!(len <= n - pos)) bad(`declares a ${len}-byte value with ${n - pos} bytes left in the record`, at);
      pos += len;
    } else if (k > 0) {
      need(k);
      arg = k === 1 ? data[pos] : k === 2 ? view.getUint16(pos, true) : k === 4 ? view.getUint32(pos, true) : 0;
      if (op === 0x95) {
        // FRAME: its length must fit
        const len = view.getBigUint64(pos, true);
        if (len > BigInt(n - pos - 8)) bad(`a frame of ${len} bytes in a record with ${n - pos - 8} left`, at);
      }
      pos += k;
    } else if (spec.arg === 'line') {
      const start = pos;
      skipLine(at);
      if (op === 0x67 || op === 0x70) arg = Number(new TextDecoder('latin1').decode(data.subarray(start, pos - 1)));
    } else if (spec.arg === 'line2') {
      skipLine(at);
      skipLine(at);
    }
    // ---- effect on depths ----
    switch (op) {
      case 0x2e: // STOP
        return;
      case 0x28:
        marks.push(stack);
        stack = [];
        break; // MARK
      case 0x30:
        if (stack.length) stack.pop();
        else popMark(at);
        break; // POP
      case 0x31:
        popMark(at);
        break; // POP_MARK
      case 0x32:
        push(stack.length ? stack[stack.length - 1] : bad('stack underflow', at), at);
        break; // DUP
      case 0x29:
      case 0x5d:
      case 0x7d:
      case 0x8f:
        push(1, at);
        break; // EMPTY_TUPLE/LIST/DICT/SET
      case 0x85:
      case 0x86:
      case 0x87: {
        // TUPLE1/2/3
        const k = op - 0x84;
        let d = 0;
        for (let i = 0; i < k; i++) d = Math.max(d, pop(at));
        push(d + 1, at);
        break;
      }
      case 0x74:
      case 0x6c:
      case 0x64:
      case 0x91:
      case 0x6f:
      case 0x69: // TUPLE, LIST, DICT, FROZENSET, OBJ, INST
        push(deepest(popMark(at)) + 1, at);
        break;
      case 0x61:
        raise(pop(at), at);
        break; // APPEND
      case 0x73: {
        const v = pop(at);
        const k = pop(at);
        raise(Math.max(k, v), at);
        break;
      } // SETITEM
      case 0x65:
      case 0x75:
      case 0x90: {
        const items = popMark(at);
        raise(deepest(items), at);
        break;
      } // APPENDS/SETITEMS/ADDITEMS
      case 0x62:
        raise(pop(at), at);
        break; // BUILD
      case 0x52:
      case 0x81: {
        const args = pop(at);
        pop(at);
        push(args + 1, at);
        break;
      } // REDUCE, NEWOBJ
      case 0x92: {
        const kw = pop(at);
        const args = pop(at);
        pop(at);
        push(Math.max(kw, args) + 1, at);
        break;
      } // NEWOBJ_EX
      case 0x93:
        pop(at);
        pop(at);
        push(0, at);
        break; // STACK_GLOBAL
      case 0x63:
        push(0, at);
        break; // GLOBAL
      case 0x51:
        push(pop(at), at);
        break; // BINPERSID
      case 0x50:
        push(0, at);
        break; // PERSID
      case 0x68:
      case 0x6a:
      case 0x67: {
        // BINGET, LONG_BINGET, GET
        const d = memo.get(memoId(arg, at));
        if (d === undefined) bad(`memo index ${arg} was never set`, at);
        push(d!, at);
        break;
      }
      case 0x71:
      case 0x72:
      case 0x70: // BINPUT, LONG_BINPUT, PUT
        memo.set(memoId(arg, at), stack.length ? stack[stack.length - 1] : bad('stack underflow', at));
        break;
      case 0x94:
        memo.set(memoId(memoCount++, at), stack.length ? stack[stack.length - 1] : bad('stack underflow', at));
        break; // MEMOIZE
      case 0x80:
      case 0x95:
        break; // PROTO, FRAME
      case 0x82:
      case 0x83:
      case 0x84:
        push(0, at);
        break; // EXT1/2/4
      case 0x97:
        push(0, at);
        break; // NEXT_BUFFER (out-of-band; libtorch has none)
      case 0x98:
        break; // READONLY_BUFFER
      default:
        push(0, at); // scalars, strings, bytes, longs, None, booleans
    }
  }
}

/**
 * Refuses TorchScript code whose bracket nesting exceeds MAX_CODE_NESTING (200k parentheses
 * overflowed libtorch's recursive-descent parser). String literals are skipped.
 */
export function scanCode(text: string, what: string): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      // a string literal: to its closing quote (triple quotes close at the next triple)
      const triple = text.startsWith(c.repeat(3), i);
      const close = triple ? c.repeat(3) : c;
      i += close.length;
      while (i < text.length && !text.startsWith(close, i)) i += text[i] === '\\' ? 2 : 1;
      i += close.length - 1;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '(' || c === '[' || c === '{') {
      if (++depth > MAX_CODE_NESTING) {
        throw new FormatError(
          `${what}: brackets nest deeper than ${MAX_CODE_NESTING} levels (line ${text.slice(0, i).split('\n').length})`,
        );
      }
    } else if (c === ')' || c === ']' || c === '}') {
      depth = Math.max(0, depth - 1);
    }
  }
}
