// Parallel loops for the fused kernels (fast_rnn.cc, fast_attention.cc).
//
// at::parallel_for's OpenMP version is a template whose `#pragma omp parallel` is compiled in the
// caller, and this project is not built with -fopenmp: there it runs everything on the calling
// thread. So ParallelFor uses the OpenMP runtime libtorch itself loaded (libgomp's entry point for
// `#pragma omp parallel`, the one at::parallel_for compiles to, on the same thread pool and thread
// count: at::set_num_threads sets OpenMP's), and otherwise falls back to at::parallel_for. As
// at::parallel_for: `f(begin, end)` on disjoint chunks of at least `grain` items, serial when one
// thread is set, the range is one grain, or the caller is already inside a parallel region (nested
// at:: ops there run serially too: at::in_parallel_region is libgomp's omp_in_parallel). The first
// exception a chunk throws is rethrown on the calling thread. Scratch that a chunk uses must be its
// own (thread_local, or a slice of a buffer indexed by the item).
#pragma once

#include <ATen/Parallel.h>
#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define TNAPI_HAVE_DLFCN 1
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>

namespace tnapi {

#if !defined(_OPENMP) && defined(TNAPI_HAVE_DLFCN) && defined(__GNUC__)
struct Omp {
  void (*parallel)(void (*)(void*), void*, unsigned, unsigned) = nullptr;  // GOMP_parallel
  int (*threadNum)() = nullptr;
  int (*numThreads)() = nullptr;
};
inline const Omp& LoadedOmp() {
  static const Omp omp = [] {
    Omp o;
    // The global scope, else the runtimes libtorch may have loaded (RTLD_NOLOAD: never loads one).
    void* handles[] = {RTLD_DEFAULT, dlopen("libgomp.so.1", RTLD_NOLOAD | RTLD_LAZY),
                       dlopen("libiomp5.so", RTLD_NOLOAD | RTLD_LAZY)};
    for (void* h : handles) {
      if (h == nullptr) continue;
      void* par = dlsym(h, "GOMP_parallel");
      void* num = dlsym(h, "omp_get_thread_num");
      void* cnt = dlsym(h, "omp_get_num_threads");
      if (par != nullptr && num != nullptr && cnt != nullptr) {
        o.parallel = reinterpret_cast<void (*)(void (*)(void*), void*, unsigned, unsigned)>(par);
        o.threadNum = reinterpret_cast<int (*)()>(num);
        o.numThreads = reinterpret_cast<int (*)()>(cnt);
        break;  // the handles stay open, as the BLAS one
      }
    }
    return o;
  }();
  return omp;
}

template <typename F>
struct ParallelJob {
  const F* f;
  const Omp* omp;
  int64_t begin, end, grain;
  std::atomic_flag failed = ATOMIC_FLAG_INIT;
  std::exception_ptr error;
};

// Run by every thread of the team, as at::internal::invoke_parallel's region body.
template <typename F>
void ParallelBody(void* data) {
  ParallelJob<F>& job = *static_cast<ParallelJob<F>*>(data);
  const int64_t n = job.end - job.begin;
  const int64_t threads = std::min<int64_t>(job.omp->numThreads(), (n + job.grain - 1) / job.grain);
  const int64_t tid = job.omp->threadNum();
  const int64_t chunk = (n + threads - 1) / threads;
  const int64_t b = job.begin + tid * chunk;
  if (tid >= threads || b >= job.end) return;
  try {
    (*job.f)(b, std::min(job.end, b + chunk));
  } catch (...) {
    if (!job.failed.test_and_set()) job.error = std::current_exception();
  }
}

template <typename F>
void ParallelFor(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const Omp& omp = LoadedOmp();
  if (omp.parallel == nullptr) return at::parallel_for(begin, end, grain, f);
  if (begin >= end) return;
  if (end - begin <= grain || at::get_num_threads() <= 1 || at::in_parallel_region()) return f(begin, end);
  ParallelJob<F> job;
  job.f = &f, job.omp = &omp, job.begin = begin, job.end = end, job.grain = std::max<int64_t>(1, grain);
  // No num_threads clause, as libtorch (GOMP's thread pool, pytorch#32008): the team has the
  // OpenMP thread count, and ParallelBody leaves the surplus threads idle.
  omp.parallel(&ParallelBody<F>, &job, 0, 0);
  if (job.error) std::rethrow_exception(job.error);
}
#else
template <typename F>
void ParallelFor(int64_t begin, int64_t end, int64_t grain, const F& f) {
  at::parallel_for(begin, end, grain, f);
}
#endif

}  // namespace tnapi
