// Versions, threads, seeds, CUDA and build facts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkInt } from './errors';
import { seedBits } from './generator';
import { native, packageRoot } from './native';

/** This package's version. */
export const version: string = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;
/** The libtorch version the addon was compiled against (`TORCH_VERSION`, e.g. `1.13.0`). */
export const libtorchVersion: string = native.libtorchVersion();

/** What `torch.config()` returns: versions, BLAS, threads, CPU capability, CUDA and libtorch's build configuration. */
export interface Config {
  /** torch-napi's version. */
  version: string;
  /** The version of the libtorch loaded. */
  libtorchVersion: string;
  /** BLAS/LAPACK libtorch was built with, as libtorch reports it. */
  blas: string;
  /** libtorch's intra-op threads (`torch.getNumThreads()`). */
  numThreads: number;
  /**
   * The threads of OpenBLAS's own pool (it runs libtorch's float GEMMs), which `setNumThreads` sets
   * together with libtorch's; `null` when the BLAS is not OpenBLAS (or is linked into libtorch).
   */
  blasNumThreads: number | null;
  /**
   * Whether the fused attention kernels send their larger float32 GEMMs to oneDNN's `dnnl_sgemm`
   * (libtorch loaded oneDNN as a shared library), which JITs its kernels for the CPU's instruction
   * sets (`ONEDNN_MAX_CPU_ISA` caps them) and outruns OpenBLAS there. Counted in
   * `backends.fastPathStats().onednnGemm`.
   */
  onednnGemm: boolean;
  /** libtorch's inter-op threads. */
  numInteropThreads: number;
  /** Whether libtorch was built with OpenMP. */
  openmp: boolean;
  /** Whether libtorch was built with MKL. */
  mkl: boolean;
  /** Whether libtorch was built with oneDNN (MKL-DNN). */
  mkldnn: boolean;
  /** Whether libtorch was built with LAPACK. */
  lapack: boolean;
  /** Whether libtorch was built with CUDA, whether a device can be used, and how many there are. */
  cuda: {
    /** libtorch was built with CUDA. */
    built: boolean;
    /** A CUDA device can be used. */
    available: boolean;
    /** The number of CUDA devices. */
    deviceCount: number;
  };
  /** libtorch's full `show_config()` text. */
  buildConfig: string;
}

/** What this libtorch is and how it runs: BLAS, threads, CUDA built/available. */
export function config(): Config {
  const c = native.config();
  const blas = /BLAS_INFO=([^,\s]+)/.exec(c.showConfig)?.[1] ?? (c.mkl ? 'mkl' : 'unknown');
  return {
    version,
    libtorchVersion,
    blas,
    numThreads: c.numThreads,
    blasNumThreads: c.blasNumThreads,
    onednnGemm: c.onednnGemm,
    numInteropThreads: c.numInteropThreads,
    openmp: c.openmp,
    mkl: c.mkl,
    mkldnn: c.mkldnn,
    lapack: c.lapack,
    cuda: { built: c.cudaBuilt, available: c.cudaAvailable, deviceCount: native.cudaDeviceCount() },
    buildConfig: c.showConfig,
  };
}

/** libtorch's intra-op thread count. */
export function getNumThreads(): number {
  return native.getNumThreads();
}

/**
 * The largest intra-op thread count `setNumThreads` accepts: 4 threads per CPU this process may
 * run on (`os.availableParallelism()`), at most 1024. libtorch starts every thread at once (4096
 * take tens of seconds, 1e6 never finish), and beyond the CPU count more threads only contend.
 */
export function maxNumThreads(): number {
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.min(1024, 4 * Math.max(1, cpus));
}

/**
 * Sets libtorch's intra-op thread count (PyTorch's `torch.set_num_threads`), an integer in
 * [1, `maxNumThreads()`], and the thread count of OpenBLAS when it runs libtorch's GEMMs
 * (`config().blasNumThreads`). PyTorch's `set_num_threads` leaves OpenBLAS at one thread per core,
 * so that after `torch.set_num_threads(1)` a large matrix product still runs on every core; here
 * `setNumThreads(1)` means one thread for those too.
 */
export function setNumThreads(n: number): void {
  const fn = 'torch.setNumThreads';
  const k = checkInt(fn, 'n', n, 1);
  const max = maxNumThreads();
  if (k > max)
    throw new RangeError(
      `${fn}: expected n to be at most ${max} (4 threads per available CPU, at most 1024), got ${k}`,
    );
  native.setNumThreads(k);
}

/**
 * Seeds libtorch's default generator: the same seed gives the same numbers as PyTorch's
 * `torch.manual_seed`. The seed is a safe integer or a bigint in [-2^63, 2^64 - 1]; negative
 * seeds wrap to uint64 as in PyTorch (`manualSeed(-1)` equals `manualSeed(2n ** 64n - 1n)`).
 */
export function manualSeed(seed: number | bigint): void {
  // The seed as uint64 (PyTorch's wrap), passed as the int64 with the same bits (the native
  // side casts int64 to uint64).
  native.manualSeed(seedBits('torch.manualSeed', seed));
}

/** `torch.cuda`: whether CUDA can be used, how many devices there are, and `synchronize()`. */
export const cuda = {
  /** Whether a CUDA device can be used (needs a CUDA-enabled libtorch and a GPU). */
  isAvailable(): boolean {
    return native.cudaIsAvailable();
  },
  /** The number of CUDA devices libtorch sees (0 without CUDA). */
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
  /**
   * Waits until every kernel queued on a CUDA device (default: the current one) has finished, as
   * `torch.cuda.synchronize()`: GPU work is asynchronous, so time it only after this.
   */
  synchronize(device?: number | string): void {
    const fn = 'torch.cuda.synchronize';
    let index: number | undefined;
    if (typeof device === 'string') {
      const m = /^cuda(?::(\d+))?$/.exec(device);
      if (!m) throw new TypeError(`${fn}: expected a CUDA device ('cuda' or 'cuda:N') or an index, got '${device}'`);
      index = m[1] === undefined ? undefined : Number(m[1]);
    } else if (device !== undefined) {
      index = checkInt(fn, 'device', device, 0);
    }
    native.cudaSynchronize(index);
  },
};
