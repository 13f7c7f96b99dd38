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

export const float32 = 'float32',
  float = 'float32';
export const float64 = 'float64',
  double = 'float64';
export const float16 = 'float16',
  half = 'float16';
export const bfloat16 = 'bfloat16';
export const int64 = 'int64',
  long = 'int64';
export const int32 = 'int32',
  int = 'int32';
export const int16 = 'int16',
  short = 'int16';
export const int8 = 'int8';
export const uint8 = 'uint8';
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
