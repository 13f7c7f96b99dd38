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
// Storages. The same marks are kept per storage (FlightMarks, common.h), so that another handle
// or a view of an in-flight tensor is refused the same way: an in-place write through it while
// its storage is read, any data use while it is written. Metadata reads (Args::Meta) and calls
// that change only a handle's own autograd state (Args::Mutable(i, false)) stay allowed.
#pragma once

#include "common.h"

#include <functional>

namespace tnapi {

using TensorWork = std::function<std::vector<at::Tensor>()>;

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

// Queues `work` on the pool and returns a Promise of an array of handles (an undefined result
// tensor becomes null). `inputs` are the boxes `work`'s tensors came from (see Args::Track).
// Errors reject with the same conversion as Guard, prefixed by `opName`. `writes` are the boxes
// whose tensors `work` modifies (see Writes above); `writtenElsewhere` are tensors it modifies that
// no argument names (their storages are marked written, so every handle to them is refused).
Napi::Value QueueTensorWork(Napi::Env env, std::string opName, std::vector<TensorBox*> inputs, TensorWork work,
                            std::vector<TensorBox*> writes = {}, const std::vector<at::Tensor>& writtenElsewhere = {});

}  // namespace tnapi

// TNAPI_ASYNC_FN(name, { body using `a` (Args), tracking input boxes; returns a TensorWork })
// defines a guarded binding that queues the returned work. Argument errors throw synchronously.
#define TNAPI_ASYNC_FN(fname, ...)                                                          \
  static Napi::Value fname(const Napi::CallbackInfo& info) {                                \
    return ::tnapi::Guard(info.Env(), kNamePrefix, #fname, [&]() -> Napi::Value {           \
      ::tnapi::Args a(info, kNamePrefix, #fname);                                           \
      ::tnapi::BoxPins pins;                                                                \
      a.Track(&pins);                                                                       \
      ::tnapi::TensorWork work = [&]() -> ::tnapi::TensorWork { __VA_ARGS__ }();            \
      a.Track(nullptr);                                                                     \
      return ::tnapi::QueueTensorWork(info.Env(), a.Name(), pins.boxes(), std::move(work)); \
    });                                                                                     \
  }
