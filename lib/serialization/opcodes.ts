// The pickle opcodes and how each one's argument is encoded in the stream: the one table that
// both the unpickler (pickle.ts) and the bounds scan of TorchScript records (pickle_scan.ts) read,
// so that the two can never disagree about where an opcode's argument ends.

/**
 * How an opcode's argument is encoded:
 * - `none`: no argument;
 * - `u1`, `u2`, `u4`, `i4`, `u8`: a little-endian integer of 1, 2, 4 (unsigned or signed) or 8 bytes;
 * - `f8`: a big-endian float64 (BINFLOAT);
 * - `line`, `line2`: one or two newline-terminated text lines (the protocol-0 opcodes, GLOBAL).
 *
 * With `prefixed`, the integer is a length and that many bytes of data follow it.
 */
export type ArgFormat = 'none' | 'u1' | 'u2' | 'u4' | 'i4' | 'u8' | 'f8' | 'line' | 'line2';

export interface Opcode {
  readonly name: string;
  readonly arg: ArgFormat;
  readonly prefixed?: true;
}

/** Bytes taken by a fixed-width argument (0 for the others). */
export const ARG_WIDTH: Readonly<Record<ArgFormat, number>> = {
  none: 0,
  u1: 1,
  u2: 2,
  u4: 4,
  i4: 4,
  u8: 8,
  f8: 8,
  line: 0,
  line2: 0,
};

const op = (name: string, arg: ArgFormat = 'none', prefixed?: 'prefixed'): Opcode =>
  prefixed ? { name, arg, prefixed: true } : { name, arg };

/** Every opcode of pickle protocols 0 to 5, by byte. */
export const OPCODES: Readonly<Record<number, Opcode>> = {
  0x28: op('MARK'),
  0x2e: op('STOP'),
  0x30: op('POP'),
  0x31: op('POP_MARK'),
  0x32: op('DUP'),
  0x46: op('FLOAT', 'line'),
  0x49: op('INT', 'line'),
  0x4a: op('BININT', 'i4'),
  0x4b: op('BININT1', 'u1'),
  0x4c: op('LONG', 'line'),
  0x4d: op('BININT2', 'u2'),
  0x4e: op('NONE'),
  0x50: op('PERSID', 'line'),
  0x51: op('BINPERSID'),
  0x52: op('REDUCE'),
  0x53: op('STRING', 'line'),
  0x54: op('BINSTRING', 'i4', 'prefixed'),
  0x55: op('SHORT_BINSTRING', 'u1', 'prefixed'),
  0x56: op('UNICODE', 'line'),
  0x58: op('BINUNICODE', 'u4', 'prefixed'),
  0x61: op('APPEND'),
  0x62: op('BUILD'),
  0x63: op('GLOBAL', 'line2'),
  0x64: op('DICT'),
  0x7d: op('EMPTY_DICT'),
  0x65: op('APPENDS'),
  0x67: op('GET', 'line'),
  0x68: op('BINGET', 'u1'),
  0x69: op('INST', 'line2'),
  0x6a: op('LONG_BINGET', 'u4'),
  0x6c: op('LIST'),
  0x5d: op('EMPTY_LIST'),
  0x6f: op('OBJ'),
  0x70: op('PUT', 'line'),
  0x71: op('BINPUT', 'u1'),
  0x72: op('LONG_BINPUT', 'u4'),
  0x73: op('SETITEM'),
  0x74: op('TUPLE'),
  0x29: op('EMPTY_TUPLE'),
  0x75: op('SETITEMS'),
  0x47: op('BINFLOAT', 'f8'),
  0x80: op('PROTO', 'u1'),
  0x81: op('NEWOBJ'),
  0x82: op('EXT1', 'u1'),
  0x83: op('EXT2', 'u2'),
  0x84: op('EXT4', 'i4'),
  0x85: op('TUPLE1'),
  0x86: op('TUPLE2'),
  0x87: op('TUPLE3'),
  0x88: op('NEWTRUE'),
  0x89: op('NEWFALSE'),
  0x8a: op('LONG1', 'u1', 'prefixed'),
  0x8b: op('LONG4', 'i4', 'prefixed'),
  0x42: op('BINBYTES', 'u4', 'prefixed'),
  0x43: op('SHORT_BINBYTES', 'u1', 'prefixed'),
  0x8c: op('SHORT_BINUNICODE', 'u1', 'prefixed'),
  0x8d: op('BINUNICODE8', 'u8', 'prefixed'),
  0x8e: op('BINBYTES8', 'u8', 'prefixed'),
  0x8f: op('EMPTY_SET'),
  0x90: op('ADDITEMS'),
  0x91: op('FROZENSET'),
  0x92: op('NEWOBJ_EX'),
  0x93: op('STACK_GLOBAL'),
  0x94: op('MEMOIZE'),
  0x95: op('FRAME', 'u8'),
  0x96: op('BYTEARRAY8', 'u8', 'prefixed'),
  0x97: op('NEXT_BUFFER'),
  0x98: op('READONLY_BUFFER'),
};
