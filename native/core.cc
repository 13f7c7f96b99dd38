// Tensor handles, argument conversion and error conversion (see common.h for the ownership rules).
#include "common.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_map>

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

const char* kDtypeNames[] = {"float32", "float64", "float16", "bfloat16", "int64",
                             "int32",   "int16",   "int8",    "uint8",    "bool"};
const at::ScalarType kDtypes[] = {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kLong,
                                  at::kInt,   at::kShort,  at::kChar, at::kByte,     at::kBool};
constexpr int kNumDtypes = sizeof(kDtypes) / sizeof(kDtypes[0]);
}  // namespace

AddonData* Data(napi_env env) {
  void* p = nullptr;
  napi_get_instance_data(env, &p);
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
  if (box->bytes < kSmallBytes && d->liveSmall < kMaxLiveSmall) {
    d->liveSmall++;
    uint32_t slot;
    if (!d->freeSlots.empty()) {
      slot = d->freeSlots.back();
      d->freeSlots.pop_back();
    } else {
      if (d->slots.size() >= static_cast<size_t>(kSlotSpace)) {
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

TensorBox* Unwrap(napi_env env, napi_value v, bool* stale) {
  *stale = false;
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok) return nullptr;
  if (type == napi_number) {
    double h;
    napi_get_value_double(env, v, &h);
    if (!(h >= 0) || h >= 9007199254740992.0) return nullptr;
    double gen = std::floor(h / kSlotSpace);
    double slot = h - gen * kSlotSpace;
    AddonData* d = Data(env);
    if (slot >= d->slots.size()) return nullptr;
    const Slot& s = d->slots[static_cast<size_t>(slot)];
    if (s.gen != gen || s.box == nullptr) {
      *stale = true;
      return nullptr;
    }
    return s.box;
  }
  if (type == napi_external) {
    void* p = nullptr;
    napi_get_value_external(env, v, &p);
    auto* box = static_cast<TensorBox*>(p);
    return box != nullptr && box->magic == TensorBox::kMagic ? box : nullptr;
  }
  return nullptr;
}

void Release(napi_env env, napi_value v) {
  bool stale;
  TensorBox* box = Unwrap(env, v, &stale);
  if (box == nullptr || !box->t.defined()) return;
  AddonData* d = Data(env);
  d->liveTensors--;
  d->liveBytes -= box->bytes;
  AdjustMemory(env, d, -box->bytes);
  box->t = at::Tensor();
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_number) {  // free the slot now: its generation moves on, so the handle goes stale
    double h;
    napi_get_value_double(env, v, &h);
    auto slot = static_cast<uint32_t>(h - std::floor(h / kSlotSpace) * kSlotSpace);
    Slot& s = d->slots[slot];
    if (s.box->inflight > 0)
      s.box->zombie = true;  // the worker holding it deletes it (workers.cc)
    else
      delete s.box;
    s.box = nullptr;
    d->liveSmall--;
    s.gen = (s.gen + 1) & ((1u << 27) - 1);
    d->freeSlots.push_back(slot);
  }
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

std::string DisplayName(const char* prefix, const char* name) {
  std::string n(name);
  static const std::string kScalar = "Scalar";
  if (n.size() > kScalar.size() && n.compare(n.size() - kScalar.size(), kScalar.size(), kScalar) == 0)
    n.resize(n.size() - kScalar.size());
  if (n == "std_") n = "std";  // the C++ name avoids `std`
  return std::string(prefix) + n;
}

Napi::Error TorchError(Napi::Env env, const std::string& msg) {
  AddonData* d = Data(env);
  if (d && !d->torchError.IsEmpty()) {
    Napi::Object err = d->torchError.New({Napi::String::New(env, msg)});
    return Napi::Error(env, err);
  }
  Napi::Error e = Napi::Error::New(env, msg);
  e.Value().Set("name", Napi::String::New(env, "TorchError"));
  return e;
}

at::ScalarType DtypeFromCode(int64_t code) {
  if (code < 0 || code >= kNumDtypes) throw std::invalid_argument("unknown dtype code " + std::to_string(code));
  return kDtypes[code];
}

int DtypeCode(at::ScalarType t) {
  for (int i = 0; i < kNumDtypes; i++)
    if (kDtypes[i] == t) return i;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Args

void Args::TypeError(size_t i, const char* expected) const {
  std::string got;
  if (i >= info_.Length()) {
    got = "nothing";
  } else {
    switch (info_[i].Type()) {
      case napi_undefined: got = "undefined"; break;
      case napi_null: got = "null"; break;
      case napi_boolean: got = "a boolean"; break;
      case napi_number: got = "the number " + info_[i].ToString().Utf8Value(); break;
      case napi_string: got = "a string"; break;
      case napi_object: got = info_[i].IsArray() ? "an array" : "an object"; break;
      case napi_function: got = "a function"; break;
      case napi_external: got = "a foreign handle"; break;
      case napi_bigint: got = "a bigint"; break;
      default: got = "a value of another type"; break;
    }
  }
  throw Napi::TypeError::New(
      env_, Name() + ": expected argument " + std::to_string(i) + " to be " + expected + ", got " + got);
}

void Args::RangeError(const std::string& msg) const { throw Napi::RangeError::New(env_, Name() + ": " + msg); }

bool Args::IsTensor(size_t i) const {
  if (i >= info_.Length()) return false;
  bool stale;
  return Unwrap(env_, info_[i], &stale) != nullptr || stale;
}

TensorBox* Args::Box(size_t i) const {
  bool stale = false;
  TensorBox* box = i < info_.Length() ? Unwrap(env_, info_[i], &stale) : nullptr;
  if (box == nullptr && !stale) TypeError(i, "a Tensor");
  return box;
}

void BoxPins::Add(TensorBox* box) {
  box->inflight++;
  boxes_.push_back(box);
}

BoxPins::~BoxPins() {
  for (TensorBox* b : boxes_) LeaveFlight(b);
}

TensorBox* Args::LiveBox(size_t i) const {
  TensorBox* box = Box(i);
  if (box == nullptr || !box->t.defined())
    throw Napi::Error::New(env_, Name() + ": argument " + std::to_string(i) +
                                     " is a disposed tensor (it was freed by dispose() or torch.tidy)");
  return box;
}

at::Tensor Args::Tensor(size_t i) const {
  TensorBox* box = LiveBox(i);
  if (box->writers != 0 || StorageFlight(box->t) == 2) ThrowInUse(env_, Name(), "using it");
  if (track_) track_->Add(box);
  return box->t;
}

at::Tensor Args::Meta(size_t i) const { return LiveBox(i)->t; }

at::Tensor Args::Mutable(size_t i, bool writesData) const {
  TensorBox* box = Box(i);
  if (box != nullptr && box->inflight > 0 && box->t.defined()) ThrowInUse(env_, Name(), "modifying it");
  at::Tensor t = Tensor(i);
  if (writesData && StorageFlight(t) != 0)
    ThrowInUse(env_, Name(), "modifying it (a view or another handle of it is in flight)");
  return t;
}

c10::optional<at::Tensor> Args::OptTensor(size_t i) const {
  if (!Has(i)) return c10::nullopt;
  return Tensor(i);
}

std::vector<at::Tensor> Args::TensorList(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) TypeError(i, "an array of Tensors");
  Napi::Array arr = info_[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr[k];
    bool stale;
    TensorBox* box = Unwrap(env_, v, &stale);
    if (box == nullptr && !stale)
      throw Napi::TypeError::New(env_, Name() + ": element " + std::to_string(k) + " is not a Tensor");
    if (box == nullptr || !box->t.defined())
      throw Napi::Error::New(env_, Name() + ": element " + std::to_string(k) + " is a disposed tensor");
    if (box->writers != 0 || StorageFlight(box->t) == 2) ThrowInUse(env_, Name(), "using it");
    if (track_) track_->Add(box);
    out.push_back(box->t);
  }
  return out;
}

double Args::Number(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) TypeError(i, "a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

int64_t Args::Int(size_t i) const {
  if (i >= info_.Length()) TypeError(i, "an integer");
  if (info_[i].IsBigInt()) {
    bool lossless = false;
    int64_t v = info_[i].As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) RangeError("argument " + std::to_string(i) + " does not fit in int64");
    return v;
  }
  if (!info_[i].IsNumber()) TypeError(i, "an integer");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > 9007199254740992.0)
    RangeError("expected argument " + std::to_string(i) + " to be an integer, got " + info_[i].ToString().Utf8Value());
  return static_cast<int64_t>(v);
}

bool Args::Bool(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsBoolean()) TypeError(i, "a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

std::string Args::String(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsString()) TypeError(i, "a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

at::Scalar Args::Scalar(size_t i) const {
  if (i < info_.Length()) {
    Napi::Value v = info_[i];
    if (v.IsNumber()) {
      double x = v.As<Napi::Number>().DoubleValue();
      // JS has one number type: integral values become integer scalars so that int tensors
      // stay int (`x.add(1)`), and float tensors are unaffected (`y.mul(2)` stays float32).
      // (-0 stays a double: x / -0 is -inf, as in Python)
      if (std::floor(x) == x && std::fabs(x) <= 9007199254740992.0 && !(x == 0 && std::signbit(x)))
        return at::Scalar(static_cast<int64_t>(x));
      return at::Scalar(x);
    }
    if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
    if (v.IsBigInt()) return at::Scalar(Int(i));
  }
  TypeError(i, "a number, boolean or bigint");
}

std::vector<int64_t> Args::IntList(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) TypeError(i, "an array of integers");
  Napi::Array arr = info_[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr[k];
    if (!v.IsNumber()) TypeError(i, "an array of integers");
    double x = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(x) || std::floor(x) != x || std::fabs(x) > 9007199254740992.0)
      RangeError("element " + std::to_string(k) + " of argument " + std::to_string(i) +
                 " is not an integer: " + v.ToString().Utf8Value());
    out[k] = static_cast<int64_t>(x);
  }
  return out;
}

at::ScalarType Args::Dtype(size_t i) const {
  int64_t code = Int(i);
  if (code < 0 || code >= kNumDtypes) RangeError("unknown dtype code " + std::to_string(code));
  return kDtypes[code];
}

at::Device Args::Device(size_t i) const {
  std::string s = String(i);
  return at::Device(s);  // c10 parses and throws a c10::Error on a bad string
}

at::TensorOptions Args::Options(size_t dtypeIdx, size_t deviceIdx, at::ScalarType dflt) const {
  at::TensorOptions o = at::TensorOptions().dtype(Has(dtypeIdx) ? Dtype(dtypeIdx) : dflt);
  if (Has(deviceIdx)) o = o.device(Device(deviceIdx));
  return o;
}

// ---------------------------------------------------------------------------------------------
// Bindings that deal with handles themselves.

TNAPI_FN(dispose, {
  if (!a.IsTensor(0)) a.TypeError(0, "a Tensor");
  bool stale;
  TensorBox* box = Unwrap(a.Env(), a[0], &stale);
  if (box != nullptr && box->inflight > 0 && box->t.defined()) ThrowInUse(a.Env(), "Tensor.dispose", "disposing it");
  Release(a.Env(), a[0]);
  return a.Env().Undefined();
})

// FinalizationRegistry callback for a number handle: release it unless it already went stale.
TNAPI_FN(releaseHandle, {
  bool stale;
  if (Unwrap(a.Env(), a[0], &stale) != nullptr) Release(a.Env(), a[0]);
  return a.Env().Undefined();
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

TNAPI_FN(registerErrorClass, {
  if (!a[0].IsFunction()) a.TypeError(0, "a function");
  Data(a.Env())->torchError = Napi::Persistent(a[0].As<Napi::Function>());
  return a.Env().Undefined();
})

TNAPI_FN(dtypeNames, {
  Napi::Array arr = Napi::Array::New(a.Env(), kNumDtypes);
  for (int k = 0; k < kNumDtypes; k++) arr.Set(static_cast<uint32_t>(k), kDtypeNames[k]);
  return arr;
})

AddonData::~AddonData() {
  for (Slot& s : slots)
    if (s.box != nullptr && s.box->inflight == 0) delete s.box;
}

void RegisterCore(Napi::Env env, Napi::Object exports) {
  exports.Set("dispose", Napi::Function::New(env, dispose, "dispose"));
  exports.Set("releaseHandle", Napi::Function::New(env, releaseHandle, "releaseHandle"));
  exports.Set("isDisposed", Napi::Function::New(env, isDisposed, "isDisposed"));
  exports.Set("inUse", Napi::Function::New(env, inUse, "inUse"));
  exports.Set("memory", Napi::Function::New(env, memory, "memory"));
  exports.Set("registerErrorClass", Napi::Function::New(env, registerErrorClass, "registerErrorClass"));
  exports.Set("dtypeNames", Napi::Function::New(env, dtypeNames, "dtypeNames"));
}
}  // namespace tnapi
