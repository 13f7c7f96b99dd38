#include "blas.h"

#include <initializer_list>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define TNAPI_BLAS_DLFCN 1
#endif

namespace tnapi {

const Blas& LoadedBlas() {
  static const Blas blas = [] {
    Blas b;
#ifdef TNAPI_BLAS_DLFCN
    // LP64 builds only (the 64-bit-integer ones name their symbols sgemm_64_). Debian's libblas.so.3
    // from OpenBLAS exports the GEMMs but not the thread calls, which live in libopenblas.so.0.
    // Handles stay open: the libraries stay loaded as long as we may call them.
    for (const char* name :
         {"libblas.so.3", "libopenblas.so.0", "libopenblasp.so.0", "libopenblas.so", "libblis.so.4", "libblis.so.3"}) {
      void* h = dlopen(name, RTLD_NOLOAD | RTLD_LAZY);
      if (h == nullptr) continue;
      bool used = false;
      void* s = dlsym(h, "sgemm_");
      void* d = dlsym(h, "dgemm_");
      if (b.s == nullptr && s != nullptr && d != nullptr) {
        b.s = reinterpret_cast<BlasGemmFn<float>>(s);
        b.d = reinterpret_cast<BlasGemmFn<double>>(d);
        used = true;
      }
      void* set = dlsym(h, "openblas_set_num_threads");
      void* get = dlsym(h, "openblas_get_num_threads");
      if (b.setThreads == nullptr && set != nullptr && get != nullptr) {
        b.setThreads = reinterpret_cast<void (*)(int)>(set);
        b.getThreads = reinterpret_cast<int (*)()>(get);
        used = true;
      }
      if (!used) dlclose(h);  // only drops the reference dlopen just took
      if (b.s != nullptr && b.setThreads != nullptr) break;
    }
    for (const char* name : {"libdnnl.so.3", "libdnnl.so.2"}) {
      void* h = dlopen(name, RTLD_NOLOAD | RTLD_LAZY);
      if (h == nullptr) continue;
      if (void* f = dlsym(h, "dnnl_sgemm")) {
        b.dnnlSgemm = reinterpret_cast<decltype(b.dnnlSgemm)>(f);
        break;
      }
      dlclose(h);
    }
#endif
    return b;
  }();
  return blas;
}

}  // namespace tnapi
