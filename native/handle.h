// Tensor handles: the box behind a JS `Tensor`, the slot table, wrap/unwrap/release, and the
// marks of async calls in flight (the box pins and the storage marks).
//
// Tensor handles. A JS `Tensor` (lib/tensor.ts, a plain class) holds a handle to a heap
// `TensorBox` that owns one `at::Tensor`. We do not use ObjectWrap for tensors: constructing an
// ObjectWrap instance from C++ costs more than the kernel of a small op (measured: 2.2 us vs
// 0.8 us per `a.add(b)`). A handle is one of two kinds, chosen by the tensor's size:
//
//   - small tensors (<= kSmallBytes, capped, see below): a JS number, `generation * 2^26 + slot`, indexing the
//     per-environment slot table. Cheapest to make (no GC object); the GC fallback is a JS
//     FinalizationRegistry, whose callbacks Node runs from the event loop.
//   - other tensors: a `napi_external` whose finalizer is a *basic* finalizer
//     (node_api_basic_env), which Node runs inside the GC pass itself, so a synchronous loop that
//     never disposes still gets its memory back at each GC. Costs ~0.4 us more per handle
//     (a weak reference), which is noise next to the kernel of such a tensor.
//
// Lifetime. `dispose()` (explicit, `using`, `torch.tidy`) releases the at::Tensor now; a stale
// handle then reads as "disposed" (an external keeps its empty box until collected; a slot's
// generation moves on). Otherwise the GC fallback above frees it. Bytes held are reported to V8
// (napi_adjust_external_memory) so the GC feels native memory.
#pragma once

// NAPI_EXPERIMENTAL + NAPI_VERSION=NAPI_VERSION_EXPERIMENTAL (set by both build files) register
// the addon with the experimental
// Node-API version, under which Node runs basic finalizers during GC (see above).
#include <napi.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "compat.h"

namespace tnapi {

// ---------------------------------------------------------------------------------------------
// Per-addon state (one per Node environment: main thread and each worker thread).
struct TensorBox;
struct Slot {
  TensorBox* box = nullptr;
  uint32_t gen = 0;
};

// One export of the addon, as `__exports()` reports it: its name and how many arguments it takes
// (min..max; test/native/contract.test.ts compares them with lib/native.ts's `Native`).
struct ExportInfo {
  const char* name;
  int minArgs, maxArgs;
};

struct AddonData {
  std::vector<Slot> slots;  // small-tensor handles
  std::vector<uint32_t> freeSlots;
  int64_t liveSmall = 0;       // slots in use
  int64_t liveSmallBytes = 0;  // bytes their tensors report
  uint32_t genSalt = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(this) >> 4) * 2246822519u;
  int64_t liveTensors = 0;             // boxes whose tensor is not yet released
  int64_t liveBytes = 0;               // sum of their reported bytes
  int64_t pendingAdjust = 0;           // bytes not yet reported to V8 (batched: reporting costs ~50 ns)
  Napi::FunctionReference torchError;  // lib/errors.ts's TorchError, set at load time
  std::vector<ExportInfo> exported;    // every binding registered (RegisterTable), for __exports()
  // The property names Fields reads (string literals, keyed by address), made once: a lookup by
  // a C string internalizes it on every call (~0.1 us each; an mha call reads 24 of them).
  std::unordered_map<const char*, Napi::Reference<Napi::String>> fieldKeys;
  // The environment is going away (a worker thread exits, or the process): the small-tensor
  // boxes still alive have no finalizer of their own (their handles are numbers), so free them
  // here. A box an async call still holds is left to that call.
  ~AddonData();
};

struct TensorBox {
  static constexpr uint64_t kMagic = 0x746f7263684e4150ull;  // "torchNAP"
  uint64_t magic = kMagic;
  at::Tensor t;
  int64_t bytes = 0;  // what we reported for this tensor
  // Async calls (workers.h) that hold this box's tensor: >0 forbids dispose and in-place ops.
  // Touched only on the JS thread (incremented when a worker is queued, decremented when it
  // completes). A box released by the GC while in flight becomes a `zombie`: its tensor reference
  // is dropped at once, but the box itself is deleted by the last worker that completes.
  int32_t inflight = 0;
  // Async calls that WRITE this box's tensor (an optimizer's stepAsync): >0 forbids any use at all
  // (reading it while the pool thread writes it would be a data race). A written box is also
  // counted in `inflight`, so dispose, in-place ops and the zombie rule apply to it unchanged.
  // Checked by every tensor getter of Args: one int compare on the fast path.
  int32_t writers = 0;
  bool zombie = false;
};

// An async call (or its argument pins) lets go of a box: the last one out deletes a zombie.
inline void LeaveFlight(TensorBox* box) {
  if (--box->inflight == 0 && box->zombie) delete box;
}

// Boxes an async call is collecting while it converts its arguments. Converting a later argument
// can run JS (a getter, valueOf, a Proxy trap) that disposes an earlier one, which would free a
// box already collected; so each box is pinned (counted in flight: dispose is refused, a GC makes
// it a zombie) from the moment it is collected until the destructor, after the worker has taken
// its own marks.
class BoxPins {
 public:
  BoxPins() = default;
  BoxPins(const BoxPins&) = delete;
  BoxPins& operator=(const BoxPins&) = delete;
  ~BoxPins();
  void Add(TensorBox* box);
  const std::vector<TensorBox*>& boxes() const { return boxes_; }
  // How many of `box`'s in-flight counts are these pins (so a call's own pins do not refuse it).
  int32_t Count(const TensorBox* box) const {
    return static_cast<int32_t>(std::count(boxes_.begin(), boxes_.end(), box));
  }

 private:
  std::vector<TensorBox*> boxes_;
};

// The error for a tensor that an in-flight async call holds: `op` names the refused call.
[[noreturn]] void ThrowInUse(napi_env env, const std::string& op, const char* what);

// Storage-level marks of the async calls in flight. Another handle or a view of an in-flight
// tensor (`x.detach()`, `x.view(...)`, a stateDict() value) shares its storage without sharing
// its box, so the box marks alone would let a write through it race with the pool thread. A
// worker adds its tensors' storages when it is queued and clears them when it completes (both
// on a JS thread; the table is process-wide, so it is locked for worker_threads).
class FlightMarks {
 public:
  FlightMarks() = default;
  FlightMarks(const FlightMarks&) = delete;
  FlightMarks& operator=(const FlightMarks&) = delete;
  ~FlightMarks() { Clear(); }
  void Add(const std::vector<TensorBox*>& reads, const std::vector<TensorBox*>& writes);
  // Storages the call writes that no argument names (a backward's existing .grad tensors).
  void AddWritten(const std::vector<at::Tensor>& tensors);
  void Clear();

 private:
  void Mark(const at::Tensor& t, bool write);
  std::vector<c10::Storage> reads_, writes_;  // held: a freed storage's address may be reused
};
// 0: no async call in flight holds t's storage; 1: one reads it; 2: one writes it. One relaxed
// atomic load when nothing is in flight.
int StorageFlight(const at::Tensor& t);

// A tensor of at most kSmallBytes gets a number handle while fewer than kMaxLiveSmall of them are
// alive and they hold at most kMaxLiveSmallBytes together; past either cap (a synchronous loop that
// never disposes: the FinalizationRegistry frees number handles only from the event loop) it gets
// an external, which the GC frees during its pass. 16 KiB: an external's weak reference and GC
// work cost more than a 4 KB result's kernel (a.add(b) of 1000 floats left to the GC: 2.9 us with
// an external, 1.8 us with a number handle).
constexpr int64_t kSmallBytes = 16384;
constexpr int64_t kMaxLiveSmall = 16384;
constexpr int64_t kMaxLiveSmallBytes = int64_t{32} << 20;
constexpr double kSlotSpace = 67108864.0;  // 2^26 slots; generation in the bits above

AddonData* Data(napi_env env);

// Report `delta` bytes to V8, batched in steps of 1 MiB so that small ops pay nothing.
void AdjustMemory(node_api_basic_env env, AddonData* d, int64_t delta);

// The bytes a handle reports to V8 (bounded by its storage).
int64_t ReportedBytes(const at::Tensor& t);
// Wrap a tensor in a new handle. An undefined tensor becomes `null`.
napi_value Wrap(napi_env env, at::Tensor t);
// The box behind a handle value: nullptr if it is not a handle; for a number handle whose slot
// has moved on (disposed), `*stale` is set and nullptr returned.
TensorBox* Unwrap(napi_env env, napi_value v, bool* stale);
// The handle `v` (whose box is `box`) now holds a tensor of another size (set_data): re-reports its
// bytes to V8 and to the totals, the number handles' byte cap included.
void Rereport(napi_env env, napi_value v, TensorBox* box);

// dispose, releaseHandle, isDisposed, inUse, memory.
void RegisterHandles(Napi::Env env, Napi::Object exports);

}  // namespace tnapi
