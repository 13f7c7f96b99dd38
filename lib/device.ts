import { typeError } from './errors';
import { native } from './native';

/** `'cpu'`, `'cuda'` or `'cuda:N'`. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

const DEVICE_RE = /^(cpu|cuda)(:(\d+))?$/;

/**
 * Validates a device string; CUDA devices also need a CUDA-enabled libtorch and a visible GPU.
 */
export function checkDevice(fn: string, v: unknown): string {
  if (typeof v !== 'string') typeError(fn, 'device', "'cpu', 'cuda' or 'cuda:N'", v);
  const m = DEVICE_RE.exec(v);
  if (!m) typeError(fn, 'device', "'cpu', 'cuda' or 'cuda:N'", v);
  if (m[1] === 'cuda') {
    if (!native.cudaIsAvailable())
      throw new Error(
        `${fn}: device '${v}' requested but CUDA is not available ` +
          `(libtorch built ${native.config().cudaBuilt ? 'with' : 'without'} CUDA; no usable GPU found)`,
      );
    const index = m[3] === undefined ? 0 : Number(m[3]);
    const count = native.cudaDeviceCount();
    if (index >= count) throw new RangeError(`${fn}: device '${v}' does not exist (${count} CUDA device(s))`);
  }
  return v;
}

export function optDevice(fn: string, v: unknown): string | undefined {
  return v === undefined ? undefined : checkDevice(fn, v);
}
