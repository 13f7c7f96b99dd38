// The fast-path switch and its counters (fast_path.h).
#include "fast_path.h"

#include <c10/core/GradMode.h>
#include <torch/csrc/jit/frontend/tracer.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "args.h"

namespace tnapi {
namespace {

bool DefaultEnabled() {
  const char* v = std::getenv("TORCH_NAPI_FAST_PATH");
  return v == nullptr || (std::strcmp(v, "0") != 0 && std::strcmp(v, "false") != 0 && std::strcmp(v, "off") != 0);
}

std::atomic<bool>& EnabledSlot() {
  static std::atomic<bool> enabled{DefaultEnabled()};
  return enabled;
}

std::array<std::atomic<int64_t>, static_cast<size_t>(FastKernel::kCount)>& Counters() {
  static std::array<std::atomic<int64_t>, static_cast<size_t>(FastKernel::kCount)> c{};
  return c;
}

}  // namespace

bool FastPathEnabled() { return EnabledSlot().load(std::memory_order_relaxed); }

void FastPathHit(FastKernel k) { Counters()[static_cast<size_t>(k)].fetch_add(1, std::memory_order_relaxed); }

// The JIT tracer records ATen ops; a fused kernel runs none, so a trace would keep its results as
// constants: while tracing, every call takes the reference path.
bool Traceable() { return !torch::jit::tracer::isTracing(); }

bool NoGradNeeded(std::initializer_list<const at::Tensor*> ts) {
  if (!FastPathEnabled() || !Traceable()) return false;
  if (!c10::GradMode::is_enabled()) return true;
  for (const at::Tensor* t : ts) {
    if (t != nullptr && t->defined() && t->requires_grad()) return false;
  }
  return true;
}

bool NoGradNeeded(const std::vector<at::Tensor>& ts) {
  if (!FastPathEnabled() || !Traceable()) return false;
  if (!c10::GradMode::is_enabled()) return true;
  for (const at::Tensor& t : ts) {
    if (t.defined() && t.requires_grad()) return false;
  }
  return true;
}

bool FastDtype(const at::Tensor& like) {
  return like.defined() && like.device().is_cpu() && like.layout() == at::kStrided &&
         (like.scalar_type() == at::kFloat || like.scalar_type() == at::kDouble);
}

namespace {

constexpr const char* kNamePrefix = "torch.backends.";

// fastPath(enable?) -> whether the fused kernels may run now; with an argument, sets it first.
TNAPI_FN(fastPath, {
  if (a.Has(0)) EnabledSlot().store(a.Bool(0), std::memory_order_relaxed);
  return Napi::Boolean::New(a.Env(), FastPathEnabled());
})

// fastPathStats() -> {rnn, mha, sdpa, layer, rnnTrain, linear, onednnGemm}: calls that took each fused kernel so
// far (process-wide), and the fused attention's GEMMs that oneDNN ran.
TNAPI_FN(fastPathStats, {
  Napi::Object o = Napi::Object::New(a.Env());
  const char* names[] = {"rnn", "mha", "sdpa", "layer", "rnnTrain", "linear", "onednnGemm"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(FastKernel::kCount), "a name per counter");
  for (size_t i = 0; i < static_cast<size_t>(FastKernel::kCount); i++) {
    o.Set(names[i], static_cast<double>(Counters()[i].load(std::memory_order_relaxed)));
  }
  return o;
})

const Export kExports[] = {
    {"fastPath", fastPath, 0, 1},
    {"fastPathStats", fastPathStats, 0},
};

}  // namespace

void RegisterFastPath(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
