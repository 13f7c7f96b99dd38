// libtorch's own autograd, reached from tensors: backward, .grad, requires_grad, grad mode.
#include "args.h"
#include "handle.h"
#include "workers.h"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/accumulate_grad.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "Tensor.";

// ---- leaves whose .grad a backwardAsync is writing ------------------------------------------
// libtorch accumulates into each leaf's .grad on the pool thread; reading or replacing it
// meanwhile from JS (p.grad, zeroGrad, an optimizer step, Module.to) would race. (Another
// backward into the same leaves is safe: libtorch's AccumulateGrad locks each leaf.) The leaves
// of the graph are found when the call is queued (its AccumulateGrad nodes) and released when
// the backward has returned, on the pool thread: the grads are complete then.
std::mutex gGradMu;
std::unordered_map<const c10::TensorImpl*, int32_t> gGradsInFlight;
std::atomic<int32_t> gGradsSize{0};

// The leaves a backward from `root` accumulates into; their .grad tensors that exist already go to
// `grads` (libtorch adds into them, or reads them to replace them, on the pool thread).
std::vector<const c10::TensorImpl*> GraphLeaves(const at::Tensor& root, std::vector<at::Tensor>* grads) {
  std::vector<const c10::TensorImpl*> leaves;
  auto leaf = [&](const at::Tensor& v) {
    leaves.push_back(v.unsafeGetTensorImpl());
    if (v.grad().defined()) grads->push_back(v.grad());
  };
  if (root.is_leaf()) {
    if (root.requires_grad()) leaf(root);
    return leaves;
  }
  std::unordered_set<const torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack{root.grad_fn().get()};
  while (!stack.empty()) {
    torch::autograd::Node* n = stack.back();
    stack.pop_back();
    if (n == nullptr || !seen.insert(n).second) continue;
    if (auto* acc = dynamic_cast<torch::autograd::AccumulateGrad*>(n)) leaf(acc->variable);
    for (const torch::autograd::Edge& e : n->next_edges()) stack.push_back(e.function.get());
  }
  return leaves;
}

class GradMarks {
 public:
  explicit GradMarks(std::vector<const c10::TensorImpl*> leaves) : leaves_(std::move(leaves)) { Change(1); }
  ~GradMarks() { Change(-1); }

 private:
  void Change(int32_t d) {
    std::lock_guard<std::mutex> lock(gGradMu);
    for (const c10::TensorImpl* l : leaves_)
      if ((gGradsInFlight[l] += d) == 0) gGradsInFlight.erase(l);
    gGradsSize.store(static_cast<int32_t>(gGradsInFlight.size()), std::memory_order_relaxed);
  }
  std::vector<const c10::TensorImpl*> leaves_;
};

void CheckGradFree(const Args& a, const at::Tensor& t, const char* what) {
  if (gGradsSize.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(gGradMu);
  if (gGradsInFlight.count(t.unsafeGetTensorImpl()) != 0)
    throw Napi::Error::New(
        a.Env(), a.Name() + ": this tensor's .grad is being written by a backwardAsync in flight (await it before " +
                     what + ")");
}

// backward(self, gradient?, retainGraph?, createGraph?)
TNAPI_FN(backward, {
  const at::Tensor& self = a.Tensor(0);
  at::Tensor grad = a.Has(1) ? a.Tensor(1) : at::Tensor();
  c10::optional<bool> retain;
  if (a.Has(2)) retain = a.Bool(2);
  self.backward(grad, retain, a.BoolOr(3, false));
  return a.Env().Undefined();
})

// backwardAsync(self, gradient?, retainGraph?, createGraph?) -> Promise<[]>. The leaves' .grad
// are written on the pool thread: until the backward returns, .grad of those leaves is refused,
// read or replaced (GradMarks), and the storages of the .grad tensors that exist already are
// marked written, so that a handle to one taken before (`const g = p.grad`) is refused too (an
// in-place write through it raced with the accumulation: lost updates).
TNAPI_ASYNC_FN(backwardAsync, {
  at::Tensor self = a.Tensor(0);
  at::Tensor grad = a.Has(1) ? a.Tensor(1) : at::Tensor();
  c10::optional<bool> retain;
  if (a.Has(2)) retain = a.Bool(2);
  bool create = a.BoolOr(3, false);
  std::vector<at::Tensor> grads;
  // Released with the work, on the pool thread right after the backward (see GradMarks).
  auto marks = std::make_shared<GradMarks>(GraphLeaves(self, &grads));
  return ::tnapi::AsyncWork(
      [self, grad, retain, create, marks] {
        self.backward(grad, retain, create);
        return std::vector<at::Tensor>{};
      },
      std::move(grads));
})

TNAPI_FN(grad, {
  const at::Tensor& self = a.Tensor(0);
  CheckGradFree(a, self, "reading it");
  return Napi::Value(a.Env(), Wrap(a.Env(), self.grad()));
})

// setGrad(self, tensor | null)
TNAPI_FN(setGrad, {
  const at::Tensor& self = a.Mutable(0, false);
  CheckGradFree(a, self, "replacing it");
  self.mutable_grad() = a.Has(1) ? a.Tensor(1) : at::Tensor();
  return a.Env().Undefined();
})

TNAPI_FN(requiresGrad, { return Napi::Boolean::New(a.Env(), a.Meta(0).requires_grad()); })
TNAPI_FN(setRequiresGrad, {
  a.Mutable(0, false).requires_grad_(a.Bool(1));
  return a.Env().Undefined();
})
TNAPI_FN(isLeaf, { return Napi::Boolean::New(a.Env(), a.Meta(0).is_leaf()); })
TNAPI_FN(retainGrad, {
  a.Tensor(0).retain_grad();
  return a.Env().Undefined();
})

// The name PyTorch prints for grad_fn (`AddBackward0`), or null for leaves.
TNAPI_FN(gradFn, {
  const auto& fn = a.Tensor(0).grad_fn();
  if (!fn) return a.Env().Null();
  std::string name = fn->name();
  size_t colon = name.rfind("::");
  if (colon != std::string::npos) name = name.substr(colon + 2);
  return Napi::String::New(a.Env(), name);
})

TNAPI_FN(setGradEnabled, {
  c10::GradMode::set_enabled(a.Bool(0));
  return a.Env().Undefined();
})
TNAPI_FN(isGradEnabled, { return Napi::Boolean::New(a.Env(), c10::GradMode::is_enabled()); })

const Export kExports[] = {
    {"backward", backward, 4},
    {"backwardAsync", backwardAsync, 4},
    {"grad", grad, 1},
    {"setGrad", setGrad, 2},
    {"requiresGrad", requiresGrad, 1},
    {"setRequiresGrad", setRequiresGrad, 2},
    {"isLeaf", isLeaf, 1},
    {"retainGrad", retainGrad, 1},
    {"gradFn", gradFn, 1},
    {"setGradEnabled", setGradEnabled, 1},
    {"isGradEnabled", isGradEnabled, 0},
};

}  // namespace

void RegisterAutograd(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
