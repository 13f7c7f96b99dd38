// dtypes are strings (`torch.float32 === 'float32'`); the native layer takes small integer codes.
import { typeError } from './errors';
import { native } from './native';

/** The dtypes torch-napi supports, as PyTorch names them without the `torch.` prefix. */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/** 32-bit floating point, the default dtype (`torch.float32`). */
export const float32 = 'float32';
/** An alias of `float32` (`torch.float`). */
export const float = 'float32';
/** 64-bit floating point (`torch.float64`). */
export const float64 = 'float64';
/** An alias of `float64` (`torch.double`). */
export const double = 'float64';
/** 16-bit IEEE half precision floating point (`torch.float16`). */
export const float16 = 'float16';
/** An alias of `float16` (`torch.half`). */
export const half = 'float16';
/** 16-bit brain floating point: float32's exponent range with 8 bits of mantissa (`torch.bfloat16`). */
export const bfloat16 = 'bfloat16';
/** 64-bit signed integer, the dtype of indices (`torch.int64`). */
export const int64 = 'int64';
/** An alias of `int64` (`torch.long`). */
export const long = 'int64';
/** 32-bit signed integer (`torch.int32`). */
export const int32 = 'int32';
/** An alias of `int32` (`torch.int`). */
export const int = 'int32';
/** 16-bit signed integer (`torch.int16`). */
export const int16 = 'int16';
/** An alias of `int16` (`torch.short`). */
export const short = 'int16';
/** 8-bit signed integer (`torch.int8`). */
export const int8 = 'int8';
/** 8-bit unsigned integer (`torch.uint8`). */
export const uint8 = 'uint8';
/** Boolean, the dtype of masks and comparisons (`torch.bool`). */
export const bool = 'bool';

/** Index = native dtype code (the order is fixed by native/args.cc). */
export const DTYPES: readonly DType[] = native.dtypeNames() as DType[];
const CODES: Record<string, number> = Object.create(null);
DTYPES.forEach((d, i) => {
  CODES[d] = i;
});

export const ITEM_SIZE: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function isFloatingPoint(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** The native code of a dtype, or a TypeError naming the function. */
export function dtypeCode(fn: string, d: unknown): number {
  const code = typeof d === 'string' ? CODES[d.startsWith('torch.') ? d.slice(6) : d] : undefined;
  if (code === undefined) typeError(fn, 'dtype', `one of ${DTYPES.join(', ')}`, d);
  return code;
}

export function optDtypeCode(fn: string, d: unknown): number | undefined {
  return d === undefined ? undefined : dtypeCode(fn, d);
}
