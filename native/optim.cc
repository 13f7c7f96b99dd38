// Training kernels: fused per-parameter optimizer updates that replay PyTorch's
// `_single_tensor_*` implementations op for op (so 20 steps equal PyTorch's), and gradient
// clipping (the losses are in loss.cc). Optimizer state tensors are owned by lib/optim (PyTorch's state_dict
// structure lives there); these functions update them in place.
#include "args.h"
#include "fast_path.h"
#include "fast_rnn_ops.h"
#include "handle.h"
#include "workers.h"

#include <c10/core/GradMode.h>

#include <functional>
#include <vector>

#include <cmath>
#include <limits>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "F.";

// ---- optimizer steps (inside no_grad, as PyTorch's `@torch.no_grad() step`) -----------------
//
// Each update is split in two: a *plan* reads and checks the arguments (on the JS thread) and
// returns the update as a closure; running the closure does the math. The sync bindings
// (`adamStep`, ...) run their plan at once; `optimStepAsync` collects the plans of every parameter
// and runs them all in one worker. Same closure either way, so stepAsync equals step bit for bit.
// A plan reads its arguments through `A`: `Args` for a binding, `TupleArgs` for one element of
// optimStepAsync's array; both have the getters used here.

// The update; returns the momentum buffer SGD creates on its first step (else undefined).
using StepFn = std::function<at::Tensor()>;

// sgdStep(param, grad, momentumBuffer | null, lr, momentum, dampening, weightDecay, nesterov,
//         maximize) -> the momentum buffer created on the first step with momentum, else null
template <class A>
StepFn SgdPlan(const A& a) {
  at::Tensor param = a.Mutable(0);
  at::Tensor dp = a.Tensor(1);
  c10::optional<at::Tensor> buf;
  if (a.Has(2)) buf = a.Mutable(2);
  double lr = a.Number(3), momentum = a.Number(4), dampening = a.Number(5), wd = a.Number(6);
  bool nesterov = a.Bool(7), maximize = a.Bool(8);
  return [=]() mutable {
    c10::AutoGradMode noGrad(false);
    if (maximize) dp = -dp;
    if (wd != 0) dp = dp.add(param, wd);
    at::Tensor created;
    if (momentum != 0) {
      at::Tensor b;
      if (!buf) {
        b = at::clone(dp).detach();
        created = b;
      } else {
        b = *buf;
        b.mul_(momentum).add_(dp, 1 - dampening);
      }
      dp = nesterov ? dp.add(b, momentum) : b;
    }
    param.add_(dp, -lr);
    return created;
  };
}

// Adam's element update in one pass (torch.backends.fastPath on): float32 CPU contiguous tensors of
// one size, none sharing memory with another. About eight ATen ops per parameter become one loop
// doing per element what their CPU kernels do, rounding for rounding: libtorch's AVX2/AVX-512
// kernels compute add_ with alpha as a fused multiply-add and contract addcmul_'s multiply-add, and
// so does the loop. Whether that holds for the kernels this libtorch dispatches to on this CPU is
// checked once (FusedAdamExact); where it does not, the ATen ops run.
TNAPI_VECTOR_CLONES void FusedAdam(int64_t n, float* __restrict p, const float* __restrict g, float* __restrict m,
                                   float* __restrict v, float* __restrict mx, float b1, float b1c, float b2, float b2c,
                                   float decay, float wd, float bc2Sqrt, float eps, float negStep, bool maximize,
                                   bool decoupled) {
  for (int64_t i = 0; i < n; i++) {
    float gi = maximize ? -g[i] : g[i];
    float pi = p[i];
    if (decoupled) {
      pi = pi * decay;
    } else if (wd != 0.0f) {
      gi = std::fma(pi, wd, gi);  // add with alpha (fmadd)
    }
    const float mi = std::fma(gi, b1c, m[i] * b1);  // mul_, then add_ with alpha (fmadd)
    float vi = std::fma(b2c * gi, gi, v[i] * b2);   // mul_, then addcmul_ (contracted)
    m[i] = mi;
    v[i] = vi;
    if (mx != nullptr) {
      vi = std::isnan(mx[i]) || mx[i] > vi ? mx[i] : vi;  // at::maximum: NaN wins
      mx[i] = vi;
    }
    const float d = std::sqrt(vi) / bc2Sqrt + eps;
    p[i] = pi + negStep * mi / d;  // addcdiv_: self + value * t1 / t2
  }
}

struct AdamHyper {
  double lr, beta1, beta2, eps, wd;
  bool amsgrad, maximize, decoupled;
};

// One Adam update at step `step` (already counted) with ATen's ops: PyTorch's _single_tensor_adam(w).
void AtenAdam(at::Tensor param, at::Tensor grad, at::Tensor expAvg, at::Tensor expAvgSq,
              const c10::optional<at::Tensor>& maxSq, double step, const AdamHyper& h) {
  if (h.maximize) grad = -grad;
  if (h.decoupled) {
    param.mul_(1 - h.lr * h.wd);
  } else if (h.wd != 0) {
    grad = grad.add(param, h.wd);
  }
  expAvg.mul_(h.beta1).add_(grad, 1 - h.beta1);
  expAvgSq.mul_(h.beta2).addcmul_(grad, grad, 1 - h.beta2);
  double bc1 = 1 - std::pow(h.beta1, step), bc2 = 1 - std::pow(h.beta2, step);
  double stepSize = h.lr / bc1;
  double bc2Sqrt = std::sqrt(bc2);
  at::Tensor denom;
  if (h.amsgrad) {
    at::Tensor mx = *maxSq;
    at::maximum_out(mx, mx, expAvgSq);
    denom = (mx.sqrt() / bc2Sqrt).add_(h.eps);
  } else {
    denom = (expAvgSq.sqrt() / bc2Sqrt).add_(h.eps);
  }
  param.addcdiv_(expAvg, denom, -stepSize);
}

// The same update with the fused loop (float32 contiguous tensors, FusedAdamOk).
void LoopAdam(const at::Tensor& param, const at::Tensor& grad, const at::Tensor& expAvg, const at::Tensor& expAvgSq,
              const c10::optional<at::Tensor>& maxSq, double step, const AdamHyper& h) {
  const double bc1 = 1 - std::pow(h.beta1, step), bc2 = 1 - std::pow(h.beta2, step);
  FusedAdam(param.numel(), param.data_ptr<float>(), grad.data_ptr<float>(), expAvg.data_ptr<float>(),
            expAvgSq.data_ptr<float>(), h.amsgrad ? maxSq->data_ptr<float>() : nullptr, static_cast<float>(h.beta1),
            static_cast<float>(1 - h.beta1), static_cast<float>(h.beta2), static_cast<float>(1 - h.beta2),
            static_cast<float>(1 - h.lr * h.wd), static_cast<float>(h.wd), static_cast<float>(std::sqrt(bc2)),
            static_cast<float>(h.eps), static_cast<float>(-(h.lr / bc1)), h.maximize, h.decoupled);
}

// Whether the loop equals the ATen ops bit for bit here: three steps of Adam (weight decay,
// amsgrad) and of AdamW on 259 elements (vector bodies and scalar tails), gradients from 1 to 1e-6.
bool FusedAdamExact() {
  static const bool exact = [] {
    c10::AutoGradMode noGrad(false);
    const at::Tensor base = at::arange(259, at::TensorOptions().dtype(at::kFloat));
    const at::Tensor p0 = at::sin(base.mul(0.7)).mul(3);
    for (const bool decoupled : {false, true}) {
      const AdamHyper h{0.01, 0.9, 0.999, 1e-8, 0.1, !decoupled, false, decoupled};
      std::vector<at::Tensor> s[2];
      for (auto& st : s) {
        st = {p0.clone(), at::zeros_like(p0), at::zeros_like(p0), at::zeros_like(p0)};
      }
      for (int step = 1; step <= 3; step++) {
        const at::Tensor g = at::cos(base.mul(1.3 + step)).mul(std::pow(10.0, -3 * (step - 1)));
        LoopAdam(s[0][0], g, s[0][1], s[0][2], s[0][3], step, h);
        AtenAdam(s[1][0], g, s[1][1], s[1][2], s[1][3], step, h);
      }
      for (size_t k = 0; k < 4; k++) {
        if (!s[0][k].equal(s[1][k])) return false;
      }
    }
    return true;
  }();
  return exact;
}

bool FusedAdamOk(const at::Tensor& param, const at::Tensor& grad, const at::Tensor& m, const at::Tensor& v,
                 const c10::optional<at::Tensor>& mx) {
  if (!FastPathEnabled()) return false;
  const at::Tensor* ts[] = {&param, &grad, &m, &v, mx ? &*mx : nullptr};
  for (const at::Tensor* t : ts) {
    if (t == nullptr) continue;
    if (!t->defined() || !t->device().is_cpu() || t->layout() != at::kStrided || t->scalar_type() != at::kFloat ||
        !t->is_contiguous() || t->numel() != param.numel()) {
      return false;
    }
  }
  for (size_t i = 0; i < 5; i++) {
    for (size_t j = i + 1; j < 5; j++) {
      if (ts[i] != nullptr && ts[j] != nullptr && ts[i]->is_alias_of(*ts[j])) return false;
    }
  }
  return FusedAdamExact();
}

// adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq | null, stepTensor, lr, beta1, beta2,
//          eps, weightDecay, amsgrad, maximize, decoupled): Adam, or AdamW when decoupled.
template <class A>
StepFn AdamPlan(const A& a) {
  at::Tensor param = a.Mutable(0), grad = a.Tensor(1), expAvg = a.Mutable(2), expAvgSq = a.Mutable(3);
  c10::optional<at::Tensor> maxSq;
  if (a.Has(4)) maxSq = a.Mutable(4);
  at::Tensor stepT = a.Mutable(5);
  AdamHyper h{a.Number(6), a.Number(7), a.Number(8), a.Number(9), a.Number(10), a.Bool(11), a.Bool(12), a.Bool(13)};
  if (h.amsgrad && !maxSq) a.RangeError("amsgrad needs maxExpAvgSq");
  return [=]() mutable {
    c10::AutoGradMode noGrad(false);
    stepT.add_(1);
    const double step = stepT.item<double>();
    if (FusedAdamOk(param, grad, expAvg, expAvgSq, maxSq)) {
      LoopAdam(param, grad, expAvg, expAvgSq, maxSq, step, h);
    } else {
      AtenAdam(param, grad, expAvg, expAvgSq, maxSq, step, h);
    }
    return at::Tensor();
  };
}

// rmspropStep(param, grad, squareAvg, gradAvg | null, momentumBuffer | null, lr, alpha, eps,
//             weightDecay, momentum, centered, maximize)
template <class A>
StepFn RmspropPlan(const A& a) {
  at::Tensor param = a.Mutable(0), grad = a.Tensor(1), squareAvg = a.Mutable(2);
  c10::optional<at::Tensor> gradAvg, buf;
  if (a.Has(3)) gradAvg = a.Mutable(3);
  if (a.Has(4)) buf = a.Mutable(4);
  double lr = a.Number(5), alpha = a.Number(6), eps = a.Number(7), wd = a.Number(8), momentum = a.Number(9);
  bool centered = a.Bool(10), maximize = a.Bool(11);
  if (centered && !gradAvg) a.RangeError("centered needs gradAvg");
  if (momentum > 0 && !buf) a.RangeError("momentum needs momentumBuffer");
  return [=]() mutable {
    c10::AutoGradMode noGrad(false);
    if (maximize) grad = -grad;
    if (wd != 0) grad = grad.add(param, wd);
    squareAvg.mul_(alpha).addcmul_(grad, grad, 1 - alpha);
    at::Tensor avg;
    if (centered) {
      gradAvg->mul_(alpha).add_(grad, 1 - alpha);
      avg = squareAvg.addcmul(*gradAvg, *gradAvg, -1).sqrt_();
    } else {
      avg = squareAvg.sqrt();
    }
    avg = avg.add_(eps);
    if (momentum > 0) {
      buf->mul_(momentum).addcdiv_(grad, avg);
      param.add_(*buf, -lr);
    } else {
      param.addcdiv_(grad, avg, -lr);
    }
    return at::Tensor();
  };
}

// adagradStep(param, grad, stateSum, stepTensor, lr, lrDecay, weightDecay, eps, maximize)
template <class A>
StepFn AdagradPlan(const A& a) {
  at::Tensor param = a.Mutable(0), grad = a.Tensor(1), stateSum = a.Mutable(2), stepT = a.Mutable(3);
  double lr = a.Number(4), lrDecay = a.Number(5), wd = a.Number(6), eps = a.Number(7);
  bool maximize = a.Bool(8);
  return [=]() mutable {
    c10::AutoGradMode noGrad(false);
    stepT.add_(1);
    double step = stepT.item<double>();
    if (maximize) grad = -grad;
    if (wd != 0) grad = grad.add(param, wd);
    double clr = lr / (1 + (step - 1) * lrDecay);
    stateSum.addcmul_(grad, grad, 1);
    at::Tensor stdv = stateSum.sqrt().add_(eps);
    param.addcdiv_(grad, stdv, -clr);
    return at::Tensor();
  };
}

TNAPI_FN(sgdStep, { return Napi::Value(a.Env(), Wrap(a.Env(), SgdPlan(a)())); })
TNAPI_FN(adamStep, {
  AdamPlan(a)();
  return a.Env().Undefined();
})
TNAPI_FN(rmspropStep, {
  RmspropPlan(a)();
  return a.Env().Undefined();
})
TNAPI_FN(adagradStep, {
  AdagradPlan(a)();
  return a.Env().Undefined();
})

// The arguments of one parameter's update in optimStepAsync's array, read with Args' getters.
// Each tensor's box is recorded as read (`Tensor`) or written (`Mutable`) for the worker's marks,
// and refused at once if an in-flight call writes it (read) or holds it at all (written).
class TupleArgs {
 public:
  TupleArgs(const Args& outer, const std::string& name, Napi::Array tuple, uint32_t index,
            std::vector<TensorBox*>* reads, std::vector<TensorBox*>* writes, BoxPins* pins)
      : outer_(outer),
        name_(name),
        tuple_(tuple),
        where_("parameter " + std::to_string(index)),
        reads_(reads),
        writes_(writes),
        pins_(pins) {}
  bool Has(size_t i) const {
    Napi::Value v = At(i);
    return !v.IsUndefined() && !v.IsNull();
  }
  at::Tensor Tensor(size_t i) const { return Get(i, false); }
  at::Tensor Mutable(size_t i) const { return Get(i, true); }
  double Number(size_t i) const {
    Napi::Value v = At(i);
    if (!v.IsNumber()) Fail<Napi::TypeError>("argument " + std::to_string(i) + " is not a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  bool Bool(size_t i) const {
    Napi::Value v = At(i);
    if (!v.IsBoolean()) Fail<Napi::TypeError>("argument " + std::to_string(i) + " is not a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  [[noreturn]] void RangeError(const std::string& msg) const { Fail<Napi::RangeError>(msg); }

 private:
  Napi::Value At(size_t i) const {
    return i < tuple_.Length() ? tuple_.Get(static_cast<uint32_t>(i)) : outer_.Env().Undefined();
  }
  template <class E>
  [[noreturn]] void Fail(const std::string& msg) const {
    throw E::New(outer_.Env(), name_ + ": " + where_ + ": " + msg);
  }
  // Pinned as soon as read (BoxPins): reading a later argument may run JS that disposes this one.
  at::Tensor Get(size_t i, bool write) const {
    bool stale = false;
    TensorBox* box = Unwrap(outer_.Env(), At(i), &stale);
    if (box == nullptr && !stale) Fail<Napi::TypeError>("argument " + std::to_string(i) + " is not a Tensor");
    if (box == nullptr || !box->t.defined())
      Fail<Napi::Error>("argument " + std::to_string(i) + " is a disposed tensor");
    bool held = box->inflight - pins_->Count(box) > 0;
    if (write ? held || StorageFlight(box->t) != 0 : box->writers > 0 || StorageFlight(box->t) == 2)
      ThrowInUse(outer_.Env(), name_ + " (" + where_ + ")", write ? "modifying it" : "using it");
    (write ? writes_ : reads_)->push_back(box);
    pins_->Add(box);
    return box->t;
  }

  const Args& outer_;
  const std::string& name_;
  Napi::Array tuple_;
  std::string where_;
  std::vector<TensorBox*>* reads_;
  std::vector<TensorBox*>* writes_;
  BoxPins* pins_;
};

// optimStepAsync(name, kind, updates) -> Promise<(Tensor | null)[]>: one optimizer step on the
// pool; `name` (e.g. "Adam.stepAsync") prefixes its errors. `kind` is 'sgd' | 'adam' | 'rmsprop' | 'adagrad'; each element of `updates` holds one
// parameter's arguments of the sync binding (`sgdStep`, ...). Every argument is read and checked
// before anything runs; the worker then runs the updates in order and resolves with SGD's
// created momentum buffers (null elsewhere). Parameters and state are written (TensorBox::writers),
// grads read.
static Napi::Value optimStepAsync(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), kNamePrefix, "optimStepAsync", [&]() -> Napi::Value {
    Args a(info, kNamePrefix, "optimStepAsync");
    std::string name = a.String(0), kind = a.String(1);
    StepFn (*plan)(const TupleArgs&) = kind == "sgd"       ? SgdPlan<TupleArgs>
                                       : kind == "adam"    ? AdamPlan<TupleArgs>
                                       : kind == "rmsprop" ? RmspropPlan<TupleArgs>
                                       : kind == "adagrad" ? AdagradPlan<TupleArgs>
                                                           : nullptr;
    if (plan == nullptr) a.RangeError("unknown optimizer '" + kind + "' (sgd, adam, rmsprop, adagrad)");
    if (!a.Has(2) || !a[2].IsArray()) a.TypeError(2, "an array of argument arrays");
    Napi::Array updates = a[2].As<Napi::Array>();
    std::vector<StepFn> steps;
    std::vector<TensorBox*> reads, writes;
    BoxPins pins;  // released after the worker has taken its own marks
    steps.reserve(updates.Length());
    for (uint32_t k = 0; k < updates.Length(); k++) {
      Napi::Value u = updates[k];
      if (!u.IsArray()) a.TypeError(2, "an array of argument arrays");
      steps.push_back(plan(TupleArgs(a, name, u.As<Napi::Array>(), k, &reads, &writes, &pins)));
    }
    TensorWork work = [steps = std::move(steps)]() {
      std::vector<at::Tensor> created;
      created.reserve(steps.size());
      for (const StepFn& s : steps) created.push_back(s());
      return created;
    };
    return QueueTensorWork(a.Env(), name, std::move(reads), std::move(work), std::move(writes));
  });
}

// clipGradNorm(grads[], maxNorm, normType, errorIfNonfinite) -> total norm (PyTorch 1.13's
// clip_grad_norm_: norm of the per-tensor norms; grads scaled by min(1, max/(total+1e-6))).
TNAPI_FN(clipGradNorm, {
  c10::AutoGradMode noGrad(false);
  std::vector<at::Tensor> grads = a.TensorList(0);
  double maxNorm = a.Number(1), normType = a.Number(2);
  bool errorIfNonfinite = a.Bool(3);
  if (grads.empty()) return Napi::Value(a.Env(), Wrap(a.Env(), at::zeros({})));
  at::Tensor total;
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  if (std::isinf(normType)) {
    for (const at::Tensor& g : grads) norms.push_back(g.detach().abs().max());
    total = norms.size() == 1 ? norms[0] : at::stack(norms).max();
  } else {
    for (const at::Tensor& g : grads) norms.push_back(at::norm(g.detach(), normType));
    total = at::norm(at::stack(norms), normType);
  }
  if (errorIfNonfinite && (total.isnan().item<bool>() || total.isinf().item<bool>()))
    throw TorchError(a.Env(), "The total norm of order " + std::to_string(normType) +
                                  " for gradients from `parameters` is non-finite, so it cannot be clipped. "
                                  "To disable this error and scale the gradients by the non-finite norm anyway, "
                                  "set `errorIfNonfinite: false`");
  at::Tensor coef = maxNorm / (total + 1e-6);
  at::Tensor clamped = at::clamp(coef, c10::nullopt, 1.0);
  for (const at::Tensor& g : grads) g.detach().mul_(clamped.to(g.device()));
  return Napi::Value(a.Env(), Wrap(a.Env(), total));
})

TNAPI_FN(clipGradValue, {
  c10::AutoGradMode noGrad(false);
  double v = a.Number(1);
  for (const at::Tensor& g : a.TensorList(0)) g.detach().clamp_(-v, v);
  return a.Env().Undefined();
})

const Export kExports[] = {
    {"sgdStep", sgdStep, 9},
    {"adamStep", adamStep, 14},
    {"rmspropStep", rmspropStep, 12},
    {"adagradStep", adagradStep, 9},
    {"optimStepAsync", optimStepAsync, 3},
    {"clipGradNorm", clipGradNorm, 4},
    {"clipGradValue", clipGradValue, 2},
};

}  // namespace

void RegisterOptim(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
