// The async worker (see workers.h for the threading and lifetime rules) and `runAsync`, the
// generic async entry for a small whitelist of ops.
#include "workers.h"

#include <c10/core/GradMode.h>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "torch.";

// A TensorWork on the pool; resolves with its result tensors as handles.
class TensorWorker : public PoolWorker {
 public:
  TensorWorker(Napi::Env env, std::string opName, std::vector<TensorBox*> reads, TensorWork work,
               std::vector<TensorBox*> writes, const std::vector<at::Tensor>& writtenElsewhere)
      : PoolWorker(env, "torch-napi:async", std::move(opName), std::move(reads), std::move(writes), writtenElsewhere),
        work_(std::move(work)) {}

 protected:
  void Work() override { results_ = work_(); }
  void DropInputs() override { work_ = nullptr; }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (uint32_t k = 0; k < results_.size(); k++) out.Set(k, Napi::Value(env, Wrap(env, std::move(results_[k]))));
    return out;
  }

 private:
  TensorWork work_;
  std::vector<at::Tensor> results_;
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
    {"runAsync", runAsync, 1, kVariadic},
};

}  // namespace

PoolWorker::PoolWorker(Napi::Env env, const char* resource, std::string opName, std::vector<TensorBox*> reads,
                       std::vector<TensorBox*> writes, const std::vector<at::Tensor>& writtenElsewhere)
    : Napi::AsyncWorker(env, resource),
      deferred_(Napi::Promise::Deferred::New(env)),
      opName_(std::move(opName)),
      reads_(std::move(reads)),
      writes_(std::move(writes)),
      gradMode_(c10::GradMode::is_enabled()) {
  for (TensorBox* b : reads_) b->inflight++;
  for (TensorBox* b : writes_) {
    b->inflight++;
    b->writers++;
  }
  marks_.Add(reads_, writes_);
  marks_.AddWritten(writtenElsewhere);
}

Napi::Value PoolWorker::Start(PoolWorker* w) {
  Napi::Promise p = w->deferred_.Promise();
  w->Queue();
  return p;
}

// Pool thread: no JS, no boxes.
void PoolWorker::Execute() {
  try {
    c10::AutoGradMode mode(gradMode_);
    Work();
  } catch (...) {
    error_ = MapException(std::current_exception());
    SetError(error_.message);
  }
  DropInputs();
}

void PoolWorker::OnOK() {
  SettleOrDrop(
      [&] {
        Napi::Env env = Env();
        Napi::HandleScope scope(env);
        Unmark();
        Napi::Value out;
        try {
          out = Result(env);
        } catch (const Napi::Error& e) {
          deferred_.Reject(e.Value());
          return;
        }
        deferred_.Resolve(out);
      },
      [&] { Unmark(); });
}

void PoolWorker::OnError(const Napi::Error&) {
  SettleOrDrop(
      [&] {
        Napi::Env env = Env();
        Napi::HandleScope scope(env);
        Unmark();
        deferred_.Reject(ToJsError(env, opName_, error_).Value());
      },
      [&] { Unmark(); });
}

void PoolWorker::Unmark() {
  marks_.Clear();
  for (TensorBox* b : writes_) b->writers--;  // before any delete: a box may be in both lists
  for (TensorBox* b : reads_) LeaveFlight(b);
  for (TensorBox* b : writes_) LeaveFlight(b);
  reads_.clear();
  writes_.clear();
}

Napi::Value QueueTensorWork(Napi::Env env, std::string opName, std::vector<TensorBox*> reads, TensorWork work,
                            std::vector<TensorBox*> writes, const std::vector<at::Tensor>& writtenElsewhere) {
  return PoolWorker::Start(
      new TensorWorker(env, std::move(opName), std::move(reads), std::move(work), std::move(writes), writtenElsewhere));
}

void RegisterWorkers(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
