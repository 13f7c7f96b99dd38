// Async calls: a kernel run on the libuv thread pool, its result delivered through a Promise.
//
// Threading and lifetime. The worker owns COPIES of its input `at::Tensor`s (refcounted), so
// nothing JS does (dispose, GC) can free data the kernel reads. On the JS thread, each input's
// TensorBox is marked in flight (`inflight++`) when the worker is queued and unmarked when it
// completes (OnOK/OnError, also on the JS thread); while marked, `dispose` and in-place bindings
// refuse the tensor, and a GC of its handle leaves the box as a zombie that the completing
// worker deletes. `Execute` (pool thread) touches no box and no JS value. Grad mode is
// thread-local: the JS thread's mode is captured at queue time and set inside `Execute`. No-grad
// calls use grad mode off, not InferenceMode: inference tensors can never enter autograd later
// (nor be modified in place outside InferenceMode), which would break `forward` parity.
//
// Writes. A call that modifies tensors in place on the pool thread (an optimizer's stepAsync)
// names their boxes as `writes`: besides being in flight, they are marked as written
// (`TensorBox::writers`), which makes every binding refuse them, reads included, until the call
// completes. (A read-only input may be shared by any number of calls; a written one by none.)
//
// Storages. The same marks are kept per storage (FlightMarks, handle.h), so that another handle
// or a view of an in-flight tensor is refused the same way: an in-place write through it while
// its storage is read, any data use while it is written. Metadata reads (Args::Meta) and calls
// that change only a handle's own autograd state (Args::Mutable(i, false)) stay allowed.
#pragma once

#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "args.h"
#include "handle.h"

namespace tnapi {

// Settles an async call on the JS thread (a worker's OnOK/OnError body). While the environment is
// stopping (a worker_thread terminated, process.exit inside it), JS can no longer run: building the
// result or settling the Promise fails, node-addon-api turns that into a Napi::Error, and one that
// escapes OnOK/OnError terminates the whole process. The call's outcome is then dropped quietly:
// nobody is left to observe it. `release` (unmarking the inputs, dropping results; idempotent) runs
// in every case.
template <class Settle, class Release>
void SettleOrDrop(Settle&& settle, Release&& release) noexcept {
  try {
    settle();
  } catch (...) {  // NOLINT: the environment is going away; there is no one to tell
  }
  try {
    release();
  } catch (...) {  // NOLINT: as above
  }
}

// The base of every async call: the in-flight bookkeeping and the Promise. On construction (JS
// thread) it marks the boxes it reads and writes in flight, and their storages (FlightMarks); on
// completion (JS thread) it unmarks them, deleting zombies (LeaveFlight), then settles the
// Promise. A subclass supplies only the work and the result:
//   - Work() runs on the pool thread, under the grad mode captured at queue time; it may throw
//     (mapped by MapException, args.h, exactly as Guard maps a sync call's exceptions).
//   - DropInputs() (pool thread, after Work, also when it threw) lets go of the input tensors, so
//     that their last references go on the pool thread, not later on the JS thread.
//   - Result(env) (JS thread) is the value the Promise resolves with; a Napi::Error it throws rejects.
class PoolWorker : public Napi::AsyncWorker {
 public:
  // Queues `w` (made with new; the AsyncWorker deletes itself when done) and returns its Promise.
  static Napi::Value Start(PoolWorker* w);

 protected:
  // `opName` prefixes the error messages. `reads`: the boxes the work reads (their pins are the
  // caller's BoxPins); `writes`: the boxes whose tensors it modifies (see Writes above);
  // `writtenElsewhere`: tensors it modifies that no argument names (their storages are marked
  // written, so every handle to them is refused).
  PoolWorker(Napi::Env env, const char* resource, std::string opName, std::vector<TensorBox*> reads,
             std::vector<TensorBox*> writes = {}, const std::vector<at::Tensor>& writtenElsewhere = {});

  virtual void Work() = 0;
  virtual void DropInputs() {}
  virtual Napi::Value Result(Napi::Env env) = 0;

  const std::string& OpName() const { return opName_; }
  bool GradMode() const { return gradMode_; }

 private:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error&) final;
  // JS thread: the inputs leave flight; zombies (handles collected meanwhile) are deleted.
  void Unmark();

  Napi::Promise::Deferred deferred_;
  std::string opName_;
  std::vector<TensorBox*> reads_;
  std::vector<TensorBox*> writes_;
  FlightMarks marks_;
  bool gradMode_;
  MappedError error_;
};

using TensorWork = std::function<std::vector<at::Tensor>()>;

// What an async binding's body returns: the work, and the tensors it writes that no argument names
// (a backward's existing .grad tensors; see PoolWorker).
struct AsyncWork {
  template <class F, class = std::enable_if_t<!std::is_same<std::decay_t<F>, AsyncWork>::value>>
  AsyncWork(F&& f, std::vector<at::Tensor> written = {})  // NOLINT: implicit from a lambda
      : work(std::forward<F>(f)), writtenElsewhere(std::move(written)) {}
  TensorWork work;
  std::vector<at::Tensor> writtenElsewhere;
};

// Queues `work` on the pool and returns a Promise of an array of handles (an undefined result
// tensor becomes null). `reads` are the boxes `work`'s tensors came from (see Args::Track);
// `writes` and `writtenElsewhere` as PoolWorker's.
Napi::Value QueueTensorWork(Napi::Env env, std::string opName, std::vector<TensorBox*> reads, TensorWork work,
                            std::vector<TensorBox*> writes = {}, const std::vector<at::Tensor>& writtenElsewhere = {});

}  // namespace tnapi

// TNAPI_ASYNC_FN(name, { body using `a` (Args), tracking input boxes; returns an AsyncWork (a
// TensorWork lambda, and optionally the tensors written elsewhere) }) defines a guarded binding
// that queues the returned work. Argument errors throw synchronously.
#define TNAPI_ASYNC_FN(fname, ...)                                                                                    \
  static Napi::Value fname(const Napi::CallbackInfo& info) {                                                          \
    return ::tnapi::Guard(info.Env(), kNamePrefix, #fname, [&]() -> Napi::Value {                                     \
      ::tnapi::Args a(info, kNamePrefix, #fname);                                                                     \
      ::tnapi::BoxPins pins;                                                                                          \
      a.Track(&pins);                                                                                                 \
      ::tnapi::AsyncWork w = [&]() -> ::tnapi::AsyncWork { __VA_ARGS__ }();                                           \
      a.Track(nullptr);                                                                                               \
      return ::tnapi::QueueTensorWork(info.Env(), a.Name(), pins.boxes(), std::move(w.work), {}, w.writtenElsewhere); \
    });                                                                                                               \
  }
