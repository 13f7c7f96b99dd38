// Tensor handles and the in-flight marks (see handle.h for the ownership rules).
#include "handle.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <unordered_map>

#include "args.h"

namespace tnapi {

namespace {
constexpr const char* kNamePrefix = "torch.";
constexpr int64_t kAdjustStep = 1 << 20;  // report to V8 in 1 MiB steps

void FinalizeBox(node_api_basic_env env, void* data, void* hint) {
  // Runs inside the GC: may not call into JS, and must not report external memory either:
  // napi_adjust_external_memory during a GC can finalize incremental marking re-entrantly and
  // trips V8's "marking_done_" check (found by the fuzzer). The release is only recorded here and
  // reported by the next AdjustMemory on the JS thread.
  auto* box = static_cast<TensorBox*>(data);
  if (box->t.defined()) {
    auto* d = static_cast<AddonData*>(hint);
    d->liveTensors--;
    d->liveBytes -= box->bytes;
    d->pendingAdjust -= box->bytes;
  }
  box->magic = 0;
  box->t = at::Tensor();
  if (box->inflight > 0)
    box->zombie = true;  // the worker holding it deletes it (workers.cc)
  else
    delete box;
}
}  // namespace

// The last environment looked up on this thread and its data: every handle read and made asks,
// and a thread runs one environment (the main thread's, or a worker's) nearly always.
thread_local napi_env lastEnv = nullptr;
thread_local AddonData* lastData = nullptr;

AddonData* Data(napi_env env) {
  if (env == lastEnv) return lastData;
  void* p = nullptr;
  napi_get_instance_data(env, &p);
  if (p != nullptr) lastEnv = env, lastData = static_cast<AddonData*>(p);
  return static_cast<AddonData*>(p);
}

void AdjustMemory(node_api_basic_env env, AddonData* d, int64_t delta) {
  d->pendingAdjust += delta;
  if (d->pendingAdjust >= kAdjustStep || d->pendingAdjust <= -kAdjustStep) {
    int64_t ignored;
    napi_adjust_external_memory(env, d->pendingAdjust, &ignored);
    d->pendingAdjust = 0;
  }
}

// What a handle reports to V8: its own bytes, but never more than its storage holds (an
// `expand`ed view of 4 bytes may span 2^60 logical bytes, which V8 rejects).
int64_t ReportedBytes(const at::Tensor& t) {
  if (t.is_sparse() || !t.has_storage()) return 0;
  uint64_t logical = static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.element_size());
  uint64_t stored = static_cast<uint64_t>(t.storage().nbytes());
  return static_cast<int64_t>(std::min(logical, stored));
}

napi_value Wrap(napi_env env, at::Tensor t) {
  napi_value result;
  if (!t.defined()) {
    napi_get_null(env, &result);
    return result;
  }
  AddonData* d = Data(env);
  auto* box = new TensorBox;
  box->bytes = ReportedBytes(t);
  box->t = std::move(t);
  // Number handles are freed by the GC only from the event loop; when many are alive (a
  // synchronous loop that never disposes), further small tensors get GC-time externals so that
  // memory stays bounded.
  if (box->bytes <= kSmallBytes && d->liveSmall < kMaxLiveSmall &&
      d->liveSmallBytes + box->bytes <= kMaxLiveSmallBytes) {
    d->liveSmall++;
    d->liveSmallBytes += box->bytes;
    uint32_t slot;
    if (!d->freeSlots.empty()) {
      slot = d->freeSlots.back();
      d->freeSlots.pop_back();
    } else {
      if (d->slots.size() >= static_cast<size_t>(kSlotSpace)) {
        d->liveSmall--;
        d->liveSmallBytes -= box->bytes;
        delete box;
        throw Napi::RangeError::New(env, "torch-napi: more than 2^26 small tensors alive; dispose some (torch.tidy)");
      }
      slot = static_cast<uint32_t>(d->slots.size());
      d->slots.emplace_back();
      // Generations start at a per-slot pseudo-random value, so a guessed number (0, 1, ...) is not
      // a live handle: it reads as "not a Tensor" instead of aliasing someone's tensor.
      d->slots.back().gen = static_cast<uint32_t>((slot * 2654435761u + d->genSalt) & ((1u << 27) - 1));
    }
    Slot& s = d->slots[slot];
    s.box = box;
    napi_create_double(env, static_cast<double>(s.gen) * kSlotSpace + slot, &result);
  } else {
    napi_status st = napi_create_external(env, box, FinalizeBox, d, &result);
    if (st != napi_ok) {
      delete box;
      throw Napi::Error::New(env, "torch-napi: could not create a tensor handle");
    }
  }
  d->liveTensors++;
  d->liveBytes += box->bytes;
  AdjustMemory(env, d, box->bytes);
  return result;
}

namespace {
// The slot of number handle h: -1 when h is not a handle at all, and also (`*stale`) when it is one
// whose slot moved on (disposed, or freed by the GC).
int64_t SlotOf(const AddonData* d, double h, bool* stale) {
  *stale = false;
  if (!(h >= 0) || h >= 9007199254740992.0) return -1;
  const auto u = static_cast<uint64_t>(h);
  if (static_cast<double>(u) != h) return -1;  // not an integer
  const uint64_t gen = u >> 26, slot = u & ((uint64_t{1} << 26) - 1);
  if (slot >= d->slots.size()) return -1;
  const Slot& s = d->slots[static_cast<size_t>(slot)];
  if (s.gen != gen || s.box == nullptr) {
    *stale = true;
    return -1;
  }
  return static_cast<int64_t>(slot);
}

// Releases a live box's tensor and takes its bytes off the totals (the box itself stays).
void ReleaseTensor(node_api_basic_env env, AddonData* d, TensorBox* box) {
  d->liveTensors--;
  d->liveBytes -= box->bytes;
  AdjustMemory(env, d, -box->bytes);
  box->t = at::Tensor();
}

// Frees a number handle's slot whose tensor was released: its generation moves on, so the handle
// goes stale.
void FreeSlot(AddonData* d, uint32_t slot) {
  Slot& s = d->slots[slot];
  d->liveSmallBytes -= s.box->bytes;
  if (s.box->inflight > 0)
    s.box->zombie = true;  // the worker holding it deletes it (workers.cc)
  else
    delete s.box;
  s.box = nullptr;
  d->liveSmall--;
  s.gen = (s.gen + 1) & ((1u << 27) - 1);
  d->freeSlots.push_back(slot);
}

// Releases a looked-up box's tensor now, and frees its slot when it has one (slot >= 0: a number
// handle, whose generation then moves on); nothing for no box or one already released. A number
// handle's box in flight (see TensorBox::inflight) becomes a zombie (FreeSlot) that the worker
// holding it deletes: the GC paths; `dispose` and `disposeHandles` refuse in-flight tensors first.
void ReleaseBox(napi_env env, AddonData* d, TensorBox* box, int64_t slot) {
  if (box == nullptr || !box->t.defined()) return;
  ReleaseTensor(env, d, box);
  if (slot >= 0) FreeSlot(d, static_cast<uint32_t>(slot));
}

// The box of number handle h and its slot (-1, no box: not a live handle).
TensorBox* NumberBox(AddonData* d, double h, bool* stale, int64_t* slot) {
  *slot = SlotOf(d, h, stale);
  return *slot < 0 ? nullptr : d->slots[static_cast<size_t>(*slot)].box;
}

// Releases the number handle h now, unless it is not a live handle (stale, or not one at all).
void ReleaseNumber(napi_env env, AddonData* d, double h) {
  bool stale;
  int64_t slot;
  TensorBox* box = NumberBox(d, h, &stale, &slot);  // sets slot: not in ReleaseBox's argument list
  ReleaseBox(env, d, box, slot);
}

// Unwrap, with the slot of a number handle (-1 for an external or no handle).
TensorBox* Lookup(napi_env env, napi_value v, bool* stale, int64_t* slot) {
  *stale = false;
  *slot = -1;
  double h;
  if (napi_get_value_double(env, v, &h) == napi_ok)  // a number handle (or not a handle at all)
    return NumberBox(Data(env), h, stale, slot);
  napi_valuetype type;
  if (napi_typeof(env, v, &type) == napi_ok && type == napi_external) {
    void* p = nullptr;
    napi_get_value_external(env, v, &p);
    auto* box = static_cast<TensorBox*>(p);
    return box != nullptr && box->magic == TensorBox::kMagic ? box : nullptr;
  }
  return nullptr;
}
}  // namespace

TensorBox* Unwrap(napi_env env, napi_value v, bool* stale) {
  int64_t slot;
  return Lookup(env, v, stale, &slot);
}

void Rereport(napi_env env, napi_value v, TensorBox* box) {
  AddonData* d = Data(env);
  const int64_t bytes = ReportedBytes(box->t);
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_number) d->liveSmallBytes += bytes - box->bytes;
  d->liveBytes += bytes - box->bytes;
  AdjustMemory(env, d, bytes - box->bytes);
  box->bytes = bytes;
}

void ThrowInUse(napi_env env, const std::string& op, const char* what) {
  throw Napi::Error::New(Napi::Env(env),
                         op + ": this tensor is in use by an async operation (await it before " + what + ")");
}

namespace {
std::mutex gFlightMu;
std::unordered_map<const c10::StorageImpl*, std::pair<int32_t, int32_t>> gFlight;  // readers, writers
std::atomic<int32_t> gFlightSize{0};

void Count(const c10::Storage& s, int32_t reads, int32_t writes) {
  auto& e = gFlight[s.unsafeGetStorageImpl()];
  e.first += reads;
  e.second += writes;
  if (e.first == 0 && e.second == 0) gFlight.erase(s.unsafeGetStorageImpl());
  gFlightSize.store(static_cast<int32_t>(gFlight.size()), std::memory_order_relaxed);
}
}  // namespace

// Marks t's storage as read or written (gFlightMu held).
void FlightMarks::Mark(const at::Tensor& t, bool write) {
  if (!t.defined() || !t.has_storage()) return;
  std::vector<c10::Storage>& list = write ? writes_ : reads_;
  list.push_back(t.storage());
  Count(list.back(), write ? 0 : 1, write ? 1 : 0);
}

void FlightMarks::Add(const std::vector<TensorBox*>& reads, const std::vector<TensorBox*>& writes) {
  std::lock_guard<std::mutex> lock(gFlightMu);
  for (TensorBox* b : reads) Mark(b->t, false);
  for (TensorBox* b : writes) Mark(b->t, true);
}

void FlightMarks::AddWritten(const std::vector<at::Tensor>& tensors) {
  std::lock_guard<std::mutex> lock(gFlightMu);
  for (const at::Tensor& t : tensors) Mark(t, true);
}

void FlightMarks::Clear() {
  if (reads_.empty() && writes_.empty()) return;
  std::lock_guard<std::mutex> lock(gFlightMu);
  for (const c10::Storage& s : reads_) Count(s, -1, 0);
  for (const c10::Storage& s : writes_) Count(s, 0, -1);
  reads_.clear();
  writes_.clear();
}

int StorageFlight(const at::Tensor& t) {
  if (gFlightSize.load(std::memory_order_relaxed) == 0 || !t.defined() || !t.has_storage()) return 0;
  std::lock_guard<std::mutex> lock(gFlightMu);
  auto it = gFlight.find(t.storage().unsafeGetStorageImpl());
  if (it == gFlight.end()) return 0;
  return it->second.second > 0 ? 2 : 1;
}

void BoxPins::Add(TensorBox* box) {
  box->inflight++;
  boxes_.push_back(box);
}

BoxPins::~BoxPins() {
  for (TensorBox* b : boxes_) LeaveFlight(b);
}

AddonData::~AddonData() {
  if (lastData == this) lastEnv = nullptr, lastData = nullptr;
  for (Slot& s : slots)
    if (s.box != nullptr && s.box->inflight == 0) delete s.box;
}

// ---------------------------------------------------------------------------------------------
// Bindings that deal with handles themselves.
namespace {

TNAPI_FN(dispose, {
  // One lookup serves the check, the in-flight refusal and the release.
  bool stale = false;
  int64_t slot = -1;
  TensorBox* box = a.Length() > 0 ? Lookup(a.Env(), a[0], &stale, &slot) : nullptr;
  if (box == nullptr && !stale) a.TypeError(0, "a Tensor");
  if (box != nullptr && box->inflight > 0 && box->t.defined()) ThrowInUse(a.Env(), "Tensor.dispose", "disposing it");
  ReleaseBox(a.Env(), Data(a.Env()), box, slot);
  return a.Env().Undefined();
})

// The Float64Array of handles of releaseHandles/disposeHandles, and the count (argument 1) of
// its entries to use.
Napi::Float64Array HandleList(const Args& a, size_t* count) {
  if (!a[0].IsTypedArray() || a[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    a.TypeError(0, "a Float64Array");
  Napi::Float64Array list = a[0].As<Napi::Float64Array>();
  const int64_t n = a.Int(1);
  if (n < 0 || static_cast<size_t>(n) > list.ElementLength())
    a.RangeError("count " + std::to_string(n) + " is outside the array's " + std::to_string(list.ElementLength()) +
                 " entries");
  *count = static_cast<size_t>(n);
  return list;
}

// FinalizationRegistry callback for a number handle: release it unless it already went stale.
TNAPI_FN(releaseHandle, {
  if (a[0].IsNumber()) ReleaseNumber(a.Env(), Data(a.Env()), a[0].As<Napi::Number>().DoubleValue());
  return a.Env().Undefined();
})

// releaseHandles(handles: Float64Array, count): releaseHandle for the first `count` entries, in one
// call (the FinalizationRegistry's callbacks queue the handles the GC collected, lib/tensor.ts).
TNAPI_FN(releaseHandles, {
  size_t n;
  Napi::Float64Array list = HandleList(a, &n);
  AddonData* d = Data(a.Env());
  for (size_t i = 0; i < n; i++) ReleaseNumber(a.Env(), d, list[i]);
  return a.Env().Undefined();
})

// disposeHandles(handles: Float64Array, count) -> refused: `dispose` for the first `count` number
// handles, in one call (a closing tidy scope, lib/memory.ts). A live tensor that an async call holds
// is not disposed: its entry becomes -1 and it is counted in the result. Stale handles and other
// numbers are ignored, as `dispose` does.
TNAPI_FN(disposeHandles, {
  size_t n;
  Napi::Float64Array list = HandleList(a, &n);
  AddonData* d = Data(a.Env());
  int64_t refused = 0;
  for (size_t i = 0; i < n; i++) {
    bool stale;
    int64_t slot;
    TensorBox* box = NumberBox(d, list[i], &stale, &slot);
    if (box != nullptr && box->inflight > 0 && box->t.defined()) {
      list[i] = -1;
      refused++;
      continue;
    }
    ReleaseBox(a.Env(), d, box, slot);
  }
  return Napi::Number::New(a.Env(), static_cast<double>(refused));
})

TNAPI_FN(isDisposed, {
  TensorBox* box = a.Box(0);
  return Napi::Boolean::New(a.Env(), box == nullptr || !box->t.defined());
})

// 0: free; 1: read by an async call in flight; 2: written by one, through this handle or another
// handle or view of its storage (see TensorBox, FlightMarks). Lets a JS caller that modifies many
// tensors (Module.to, Optimizer.step) check them all before changing any.
TNAPI_FN(inUse, {
  TensorBox* box = a.Box(0);
  if (box == nullptr || !box->t.defined()) return Napi::Number::New(a.Env(), 0);
  int v = box->writers > 0 ? 2 : box->inflight > 0 ? 1 : 0;
  return Napi::Number::New(a.Env(), std::max(v, StorageFlight(box->t)));
})

TNAPI_FN(memory, {
  AddonData* d = Data(a.Env());
  Napi::Object o = Napi::Object::New(a.Env());
  o.Set("tensors", Napi::Number::New(a.Env(), static_cast<double>(d->liveTensors)));
  o.Set("bytes", Napi::Number::New(a.Env(), static_cast<double>(d->liveBytes)));
  return o;
})

const Export kExports[] = {
    {"dispose", dispose, 1},
    {"releaseHandle", releaseHandle, 1},
    {"releaseHandles", releaseHandles, 2},
    {"disposeHandles", disposeHandles, 2},
    {"isDisposed", isDisposed, 1},
    {"inUse", inUse, 1},
    {"memory", memory, 0},
};

}  // namespace

void RegisterHandles(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
