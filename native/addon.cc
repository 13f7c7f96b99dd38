// Registers every binding family. Nothing else lives here.
#include "args.h"
#include "distributed.h"
#include "fast_path.h"
#include "handle.h"
#include "rnn_kernels.h"

namespace tnapi {
void RegisterTrace(Napi::Env env, Napi::Object exports);         // trace.cc
void RegisterCpuAllocator(Napi::Env env, Napi::Object exports);  // cpu_allocator.cc
void RegisterDdp(Napi::Env env, Napi::Object exports);           // ddp.cc
}  // namespace tnapi

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Per-environment state: each worker thread that loads the addon gets its own.
  env.SetInstanceData(new tnapi::AddonData());
  tnapi::RegisterCpuAllocator(env, exports);
  tnapi::RegisterHandles(env, exports);
  tnapi::RegisterArgs(env, exports);
  tnapi::RegisterCreation(env, exports);
  tnapi::RegisterTensorOps(env, exports);
  tnapi::RegisterAutograd(env, exports);
  tnapi::RegisterRuntime(env, exports);
  tnapi::RegisterNN(env, exports);
  tnapi::RegisterAttention(env, exports);
  tnapi::RegisterLoss(env, exports);
  tnapi::RegisterOptim(env, exports);
  tnapi::RegisterWorkers(env, exports);
  tnapi::RegisterJit(env, exports);
  tnapi::RegisterAten(env, exports);
  tnapi::RegisterGenerator(env, exports);
  tnapi::RegisterRnnKernels(env, exports);
  tnapi::RegisterFastPath(env, exports);
  tnapi::RegisterTrace(env, exports);
  tnapi::RegisterDistributed(env, exports);
  tnapi::RegisterDdp(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(torch_napi, Init)
