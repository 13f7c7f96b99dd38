// Versions, threads, seeds, CUDA and build facts.
import * as fs from 'fs';
import * as path from 'path';
import { checkInt } from './errors';
import { native, packageRoot } from './native';

/** This package's version. */
export const version: string = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;
/** The libtorch version the addon was compiled against (`TORCH_VERSION`, e.g. `1.13.0`). */
export const libtorchVersion: string = native.libtorchVersion();

export interface Config {
  version: string;
  libtorchVersion: string;
  /** BLAS/LAPACK libtorch was built with, as libtorch reports it. */
  blas: string;
  numThreads: number;
  numInteropThreads: number;
  openmp: boolean;
  mkl: boolean;
  mkldnn: boolean;
  lapack: boolean;
  cuda: { built: boolean; available: boolean; deviceCount: number };
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

/** Sets libtorch's intra-op thread count (PyTorch's `torch.set_num_threads`). */
export function setNumThreads(n: number): void {
  native.setNumThreads(checkInt('torch.setNumThreads', 'n', n, 1));
}

/** Seeds libtorch's default generator: the same seed gives the same numbers as PyTorch's `torch.manual_seed`. */
export function manualSeed(seed: number | bigint): void {
  if (typeof seed === 'bigint') native.manualSeed(seed);
  else native.manualSeed(checkInt('torch.manualSeed', 'seed', seed, 0));
}

export const cuda = {
  /** Whether a CUDA device can be used (needs a CUDA-enabled libtorch and a GPU). */
  isAvailable(): boolean {
    return native.cudaIsAvailable();
  },
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
};
