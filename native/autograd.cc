// libtorch's own autograd, reached from tensors: backward, .grad, requires_grad, grad mode.
#include "common.h"
#include "workers.h"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/function.h>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "Tensor.";

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
// are written on the pool thread: reading or stepping them before the Promise settles races.
TNAPI_ASYNC_FN(backwardAsync, {
  at::Tensor self = a.Tensor(0);
  at::Tensor grad = a.Has(1) ? a.Tensor(1) : at::Tensor();
  c10::optional<bool> retain;
  if (a.Has(2)) retain = a.Bool(2);
  bool create = a.BoolOr(3, false);
  return [self, grad, retain, create] {
    self.backward(grad, retain, create);
    return std::vector<at::Tensor>{};
  };
})

TNAPI_FN(grad, { return Napi::Value(a.Env(), Wrap(a.Env(), a.Tensor(0).grad())); })

// setGrad(self, tensor | null)
TNAPI_FN(setGrad, {
  const at::Tensor& self = a.Mutable(0, false);
  self.mutable_grad() = a.Has(1) ? a.Tensor(1) : at::Tensor();
  return a.Env().Undefined();
})

TNAPI_FN(requiresGrad, { return Napi::Boolean::New(a.Env(), a.Meta(0).requires_grad()); })
TNAPI_FN(setRequiresGrad, { a.Mutable(0, false).requires_grad_(a.Bool(1)); return a.Env().Undefined(); })
TNAPI_FN(isLeaf, { return Napi::Boolean::New(a.Env(), a.Meta(0).is_leaf()); })
TNAPI_FN(retainGrad, { a.Tensor(0).retain_grad(); return a.Env().Undefined(); })

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
    {"backward", backward}, {"backwardAsync", backwardAsync}, {"grad", grad}, {"setGrad", setGrad}, {"requiresGrad", requiresGrad},
    {"setRequiresGrad", setRequiresGrad}, {"isLeaf", isLeaf}, {"retainGrad", retainGrad},
    {"gradFn", gradFn}, {"setGradEnabled", setGradEnabled}, {"isGradEnabled", isGradEnabled},
};

}  // namespace

void RegisterAutograd(Napi::Env env, Napi::Object exports) {
  RegisterTable(env, exports, kExports);
}

}  // namespace tnapi
