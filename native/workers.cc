// The async worker (see workers.h for the threading and lifetime rules) and `runAsync`, the
// generic async entry for a small whitelist of ops.
#include "workers.h"

#include <c10/core/GradMode.h>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "torch.";

class TensorWorker : public Napi::AsyncWorker {
 public:
  TensorWorker(Napi::Env env, std::string opName, std::vector<TensorBox*> inputs, TensorWork work,
               std::vector<TensorBox*> writes, const std::vector<at::Tensor>& writtenElsewhere)
      : Napi::AsyncWorker(env, "torch-napi:async"),
        deferred_(Napi::Promise::Deferred::New(env)),
        opName_(std::move(opName)),
        inputs_(std::move(inputs)),
        writes_(std::move(writes)),
        work_(std::move(work)),
        gradMode_(c10::GradMode::is_enabled()) {
    for (TensorBox* b : inputs_) b->inflight++;
    for (TensorBox* b : writes_) {
      b->inflight++;
      b->writers++;
    }
    marks_.Add(inputs_, writes_);
    marks_.AddWritten(writtenElsewhere);
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // Pool thread: no JS, no boxes.
  void Execute() override {
    try {
      c10::AutoGradMode mode(gradMode_);
      results_ = work_();
    } catch (const c10::IndexError& e) {
      Fail(true, e.what_without_backtrace());
    } catch (const c10::Error& e) {
      Fail(false, e.what_without_backtrace());
    } catch (const std::bad_alloc&) {
      Fail(false, "out of memory: libtorch could not allocate the tensor");
    } catch (const std::exception& e) {
      Fail(false, e.what());
    }
    // The inputs' references go here, on the pool thread, not later on the JS thread.
    work_ = nullptr;
  }

  void OnOK() override {
    SettleOrDrop(
        [&] {
          Napi::Env env = Env();
          Napi::HandleScope scope(env);
          Unmark();
          Napi::Array out = Napi::Array::New(env, results_.size());
          try {
            for (uint32_t k = 0; k < results_.size(); k++)
              out.Set(k, Napi::Value(env, Wrap(env, std::move(results_[k]))));
          } catch (const Napi::Error& e) {
            results_.clear();
            deferred_.Reject(e.Value());
            return;
          }
          results_.clear();
          deferred_.Resolve(out);
        },
        [&] {
          Unmark();
          results_.clear();
        });
  }

  void OnError(const Napi::Error&) override {
    SettleOrDrop(
        [&] {
          Napi::Env env = Env();
          Napi::HandleScope scope(env);
          Unmark();
          std::string msg = opName_ + ": " + message_;
          Napi::Error e = rangeError_ ? Napi::RangeError::New(env, msg) : TorchError(env, msg);
          deferred_.Reject(e.Value());
        },
        [&] { Unmark(); });
  }

 private:
  void Fail(bool range, const char* what) {
    rangeError_ = range;
    message_ = what;
    SetError(message_);
  }
  // JS thread: the inputs leave flight; zombies (handles collected meanwhile) are deleted.
  void Unmark() {
    marks_.Clear();
    for (TensorBox* b : writes_) b->writers--;  // before any delete: a box may be in both lists
    for (TensorBox* b : inputs_) LeaveFlight(b);
    for (TensorBox* b : writes_) LeaveFlight(b);
    inputs_.clear();
    writes_.clear();
  }

  Napi::Promise::Deferred deferred_;
  std::string opName_;
  std::vector<TensorBox*> inputs_;
  std::vector<TensorBox*> writes_;
  TensorWork work_;
  FlightMarks marks_;
  bool gradMode_;
  std::vector<at::Tensor> results_;
  bool rangeError_ = false;
  std::string message_;
};

// runAsync(op, ...args): a whitelist of tensor ops with tensor arguments only.
TNAPI_ASYNC_FN(runAsync, {
  std::string op = a.String(0);
  if (op == "matmul" || op == "mm" || op == "bmm") {
    at::Tensor x = a.Tensor(1), y = a.Tensor(2);
    if (op == "matmul") return [x, y] { return std::vector<at::Tensor>{at::matmul(x, y)}; };
    if (op == "mm") return [x, y] { return std::vector<at::Tensor>{at::mm(x, y)}; };
    return [x, y] { return std::vector<at::Tensor>{at::bmm(x, y)}; };
  }
  if (op == "linear") {
    at::Tensor x = a.Tensor(1), w = a.Tensor(2);
    c10::optional<at::Tensor> b = a.OptTensor(3);
    return [x, w, b] { return std::vector<at::Tensor>{at::linear(x, w, b)}; };
  }
  a.RangeError("unknown op '" + op + "' (async ops: matmul, mm, bmm, linear)");
})

const Export kExports[] = {
    {"runAsync", runAsync},
};

}  // namespace

Napi::Value QueueTensorWork(Napi::Env env, std::string opName, std::vector<TensorBox*> inputs, TensorWork work,
                            std::vector<TensorBox*> writes, const std::vector<at::Tensor>& writtenElsewhere) {
  auto* w =
      new TensorWorker(env, std::move(opName), std::move(inputs), std::move(work), std::move(writes), writtenElsewhere);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

void RegisterWorkers(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
