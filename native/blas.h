// The Fortran BLAS that libtorch loaded, found at run time: its GEMM entry points (the fused
// kernels call them on raw buffers) and, when it is OpenBLAS, its own thread pool.
//
// libtorch hands float GEMMs to this BLAS but never sizes its threads: at::set_num_threads (and
// PyTorch's torch.set_num_threads) leaves OpenBLAS with one thread per core, so "1 thread" still ran
// large products on every core, with the waiting threads spinning in sched_yield. setNumThreads
// sizes both (runtime.cc).
#pragma once

#include <cstdint>

namespace tnapi {

template <class T>
using BlasGemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const T*, const T*,
                            const int*, const T*, const int*, const T*, T*, const int*);

struct Blas {
  BlasGemmFn<float> s = nullptr;      // sgemm_, or null when libtorch carries its BLAS inside
  BlasGemmFn<double> d = nullptr;     // dgemm_
  void (*setThreads)(int) = nullptr;  // openblas_set_num_threads, when the BLAS is OpenBLAS
  int (*getThreads)() = nullptr;      // openblas_get_num_threads
  // oneDNN's row-major SGEMM (dnnl_sgemm), when libtorch loaded oneDNN as a shared library: JIT
  // kernels for the CPU's instruction sets (ONEDNN_MAX_CPU_ISA caps them). Its threads are OpenMP's,
  // which at::set_num_threads sizes, and it runs on the calling thread inside a parallel region.
  // Returns 0 on success.
  int (*dnnlSgemm)(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc) = nullptr;
};

// Resolved once, with dlopen(RTLD_NOLOAD): never loads a library that libtorch did not.
const Blas& LoadedBlas();

}  // namespace tnapi
