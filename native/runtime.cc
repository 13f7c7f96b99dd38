// Process-wide settings and facts: versions, threads, seeds, CUDA, build configuration.
#include "args.h"
#include "blas.h"
#include "handle.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "torch.";

TNAPI_FN(libtorchVersion, { return Napi::String::New(a.Env(), TORCH_VERSION); })
TNAPI_FN(getNumThreads, { return Napi::Number::New(a.Env(), at::get_num_threads()); })
TNAPI_FN(setNumThreads, {
  int64_t n = a.Int(0);
  if (n < 1) a.RangeError("expected a positive number of threads, got " + std::to_string(n));
  at::set_num_threads(static_cast<int>(n));
  // OpenBLAS keeps its own pool (blas.h): size it too, so that n threads means n for GEMMs as well.
  if (auto set = LoadedBlas().setThreads) set(static_cast<int>(n));
  return a.Env().Undefined();
})
TNAPI_FN(manualSeed, {
  at::manual_seed(static_cast<uint64_t>(a.Int(0)));
  return a.Env().Undefined();
})
TNAPI_FN(cudaIsAvailable, { return Napi::Boolean::New(a.Env(), at::hasCUDA()); })
TNAPI_FN(cudaDeviceCount, {
  return Napi::Number::New(a.Env(), at::hasCUDA() ? static_cast<double>(at::detail::getCUDAHooks().getNumGPUs()) : 0.0);
})
// Waits for every kernel queued on a CUDA device (timing, or before reading results by other means).
TNAPI_FN(cudaSynchronize, {
  TORCH_CHECK(at::hasCUDA(), "CUDA is not available (libtorch built without CUDA, or no usable GPU)");
  int64_t n = at::detail::getCUDAHooks().getNumGPUs();
  int64_t d = a.Has(0) ? a.Int(0) : at::detail::getCUDAHooks().current_device();
  if (d < 0 || d >= n)
    a.RangeError("device " + std::to_string(d) + " does not exist (" + std::to_string(n) + " CUDA device(s))");
  at::detail::getCUDAHooks().deviceSynchronize(d);
  return a.Env().Undefined();
})
TNAPI_FN(config, {
  Napi::Object o = Napi::Object::New(a.Env());
  o.Set("showConfig", at::show_config());
  o.Set("parallelInfo", at::get_parallel_info());
  o.Set("numThreads", at::get_num_threads());
  o.Set("numInteropThreads", at::get_num_interop_threads());
  if (auto get = LoadedBlas().getThreads)
    o.Set("blasNumThreads", get());
  else
    o.Set("blasNumThreads", a.Env().Null());
  o.Set("onednnGemm", LoadedBlas().dnnlSgemm != nullptr);
#ifdef TORCH_NAPI_CUDA
  o.Set("cudaBuilt", true);
#else
  o.Set("cudaBuilt", false);
#endif
  o.Set("cudaAvailable", at::hasCUDA());
  o.Set("mkldnn", at::hasMKLDNN());
  o.Set("mkl", at::hasMKL());
  o.Set("openmp", at::hasOpenMP());
  o.Set("lapack", at::hasLAPACK());
  return o;
})

// torch.backends.mkldnn.enabled: whether libtorch may pick oneDNN kernels (convolutions, ...).
TNAPI_FN(mkldnnEnabled, { return Napi::Boolean::New(a.Env(), at::globalContext().userEnabledMkldnn()); })
TNAPI_FN(setMkldnnEnabled, {
  at::globalContext().setUserEnabledMkldnn(a.Bool(0));
  return a.Env().Undefined();
})

const Export kExports[] = {
    {"mkldnnEnabled", mkldnnEnabled, 0},        {"setMkldnnEnabled", setMkldnnEnabled, 1},
    {"libtorchVersion", libtorchVersion, 0},    {"getNumThreads", getNumThreads, 0},
    {"setNumThreads", setNumThreads, 1},        {"manualSeed", manualSeed, 1},
    {"cudaIsAvailable", cudaIsAvailable, 0},    {"cudaDeviceCount", cudaDeviceCount, 0},
    {"cudaSynchronize", cudaSynchronize, 0, 1}, {"config", config, 0},
};

}  // namespace

void RegisterRuntime(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
