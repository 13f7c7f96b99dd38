// Argument reading, the error mapping, dtype codes and the export tables (see args.h).
#include "args.h"

#include <cstring>
#include <stdexcept>

#include <cmath>
#include <new>

namespace tnapi {

namespace {
constexpr const char* kNamePrefix = "torch.";

const char* kDtypeNames[] = {"float32", "float64", "float16", "bfloat16", "int64",
                             "int32",   "int16",   "int8",    "uint8",    "bool"};
const at::ScalarType kDtypes[] = {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kLong,
                                  at::kInt,   at::kShort,  at::kChar, at::kByte,     at::kBool};
constexpr int kNumDtypes = sizeof(kDtypes) / sizeof(kDtypes[0]);
}  // namespace

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
// Where

std::string Where::Str() const {
  if (parent_ != nullptr) {
    if (bracket_) return parent_->Str() + "[" + std::to_string(elem_) + "]";
    return (parent_->IsArgument() ? std::string() : parent_->Str() + ", ") + "element " + std::to_string(elem_);
  }
  if (str_ != nullptr) return *str_;
  if (lit_ != nullptr) return lit_;
  if (key_ != nullptr) return std::string("option '") + key_ + "'";
  return "argument " + std::to_string(index_);
}

// ---------------------------------------------------------------------------------------------
// Args

void Args::TypeError(size_t i, const char* expected) const {
  TypeErrorAt(i < info_.Length() ? info_[i] : Napi::Value(), Where::Arg(i), expected);
}

void Args::TypeErrorAt(const Napi::Value& v, const Where& where, const char* expected) const {
  std::string got;
  if (v.IsEmpty()) {
    got = "nothing";
  } else {
    switch (v.Type()) {
      case napi_undefined: got = "undefined"; break;
      case napi_null: got = "null"; break;
      case napi_boolean: got = "a boolean"; break;
      case napi_number: got = "the number " + v.ToString().Utf8Value(); break;
      case napi_string: got = "a string"; break;
      case napi_object: got = v.IsArray() ? "an array" : "an object"; break;
      case napi_function: got = "a function"; break;
      case napi_external: got = "a foreign handle"; break;
      case napi_bigint: got = "a bigint"; break;
      default: got = "a value of another type"; break;
    }
  }
  throw Napi::TypeError::New(env_, Name() + ": expected " + where.Str() + " to be " + expected + ", got " + got);
}

void Args::RangeError(const std::string& msg) const { throw Napi::RangeError::New(env_, Name() + ": " + msg); }

bool Args::IsTensor(size_t i) const {
  if (i >= info_.Length()) return false;
  bool stale;
  return Unwrap(env_, info_[i], &stale) != nullptr || stale;
}

TensorBox* Args::BoxAt(const Napi::Value& v, const Where& where, bool* stale) const {
  *stale = false;
  TensorBox* box = v.IsEmpty() ? nullptr : Unwrap(env_, v, stale);
  if (box == nullptr && !*stale) TypeErrorAt(v, where, "a Tensor");
  return box;
}

TensorBox* Args::LiveBoxAt(const Napi::Value& v, const Where& where) const {
  bool stale;
  TensorBox* box = BoxAt(v, where, &stale);
  if (box == nullptr || !box->t.defined())
    throw Napi::Error::New(
        env_, Name() + ": " + where.Str() + " is a disposed tensor (it was freed by dispose() or torch.tidy)");
  return box;
}

TensorBox* Args::Box(size_t i) const {
  bool stale;
  return BoxAt(i < info_.Length() ? info_[i] : Napi::Value(), Where::Arg(i), &stale);
}

TensorBox* Args::LiveBox(size_t i) const {
  return LiveBoxAt(i < info_.Length() ? info_[i] : Napi::Value(), Where::Arg(i));
}

at::Tensor Args::TensorAt(const Napi::Value& v, const Where& where) const {
  TensorBox* box = LiveBoxAt(v, where);
  if (box->writers != 0 || StorageFlight(box->t) == 2) ThrowInUse(env_, Name(), "using it");
  if (track_) track_->Add(box);
  return box->t;
}

at::Tensor Args::Tensor(size_t i) const {
  return TensorAt(i < info_.Length() ? info_[i] : Napi::Value(), Where::Arg(i));
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

at::Tensor Args::MutableAt(const Napi::Value& v, const Where& where) const {
  bool stale;
  TensorBox* box = BoxAt(v, where, &stale);
  if (box != nullptr && box->inflight > 0 && box->t.defined()) ThrowInUse(env_, Name(), "modifying it");
  at::Tensor t = TensorAt(v, where);
  if (StorageFlight(t) != 0) ThrowInUse(env_, Name(), "modifying it (a view or another handle of it is in flight)");
  return t;
}

c10::optional<at::Tensor> Args::OptTensor(size_t i) const {
  if (!Has(i)) return c10::nullopt;
  return Tensor(i);
}

std::vector<at::Tensor> Args::TensorListAt(const Napi::Value& v, const Where& where) const {
  if (v.IsEmpty() || !v.IsArray()) TypeErrorAt(v, where, "an array of Tensors");
  Napi::Array arr = v.As<Napi::Array>();
  const uint32_t n = arr.Length();
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; k++) {
    Napi::Value e = arr[k];
    bool stale;
    TensorBox* box = Unwrap(env_, e, &stale);
    if (box == nullptr || !box->t.defined()) {
      // A positional list's elements are "element k" (as the user's own list); an option's name it.
      const std::string elem = where.Element(k, false).Str();
      if (box == nullptr && !stale) throw Napi::TypeError::New(env_, Name() + ": " + elem + " is not a Tensor");
      throw Napi::Error::New(env_, Name() + ": " + elem + " is a disposed tensor");
    }
    if (box->writers != 0 || StorageFlight(box->t) == 2) ThrowInUse(env_, Name(), "using it");
    if (track_) track_->Add(box);
    out.push_back(box->t);
  }
  return out;
}

std::vector<at::Tensor> Args::TensorList(size_t i) const {
  return TensorListAt(i < info_.Length() ? info_[i] : Napi::Value(), Where::Arg(i));
}

double Args::NumberAt(const Napi::Value& v, const Where& where) const {
  if (v.IsEmpty() || !v.IsNumber()) TypeErrorAt(v, where, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

double Args::Number(size_t i) const { return NumberAt(i < info_.Length() ? info_[i] : Napi::Value(), Where::Arg(i)); }

int64_t Args::IntAt(const Napi::Value& v, const Where& where) const {
  if (v.IsEmpty()) TypeErrorAt(v, where, "an integer");
  if (v.IsBigInt()) {
    bool lossless = false;
    int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) RangeError(where.Str() + " does not fit in int64");
    return x;
  }
  if (!v.IsNumber()) TypeErrorAt(v, where, "an integer");
  double x = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x) || std::floor(x) != x || std::fabs(x) > 9007199254740992.0)
    RangeError("expected " + where.Str() + " to be an integer, got " + v.ToString().Utf8Value());
  return static_cast<int64_t>(x);
}

int64_t Args::Int(size_t i) const { return IntAt(i < info_.Length() ? info_[i] : Napi::Value(), Where::Arg(i)); }

bool Args::BoolAt(const Napi::Value& v, const Where& where) const {
  if (v.IsEmpty() || !v.IsBoolean()) TypeErrorAt(v, where, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

bool Args::Bool(size_t i) const { return BoolAt(i < info_.Length() ? info_[i] : Napi::Value(), Where::Arg(i)); }

Fields::Fields(const Args& a, size_t i) : a_(a) {
  if (!a.Has(i) || !a[i].IsObject() || a[i].IsArray() || a[i].IsFunction()) a.TypeError(i, "an options object");
  obj_ = a[i].As<Napi::Object>();
}

Napi::Value Fields::Get(const char* key) const {
  if (keys_ != nullptr) {
    for (size_t n = 0; n < nkeys_; n++) {
      const size_t k = (next_ + n) % nkeys_;
      if (keys_[k] == key || std::strcmp(keys_[k], key) == 0) {
        next_ = k + 1;
        const size_t i = first_ + k;
        return i < a_.Length() ? a_[i] : a_.Env().Undefined();
      }
    }
    throw std::logic_error(std::string("option '") + key + "' is not in this binding's positional form");
  }
  auto& keys = a_.Env().GetInstanceData<AddonData>()->fieldKeys;
  auto it = keys.find(key);
  if (it == keys.end()) it = keys.emplace(key, Napi::Persistent(Napi::String::New(a_.Env(), key))).first;
  return obj_.Get(it->second.Value());
}

bool Fields::Has(const char* key) const {
  Napi::Value v = Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

std::vector<int64_t> Fields::IntList(const char* key) const {
  Napi::Value v = Get(key);
  if (!v.IsArray()) a_.TypeErrorAt(v, Where::Option(key), "an array of integers");
  Napi::Array arr = v.As<Napi::Array>();
  const uint32_t n = arr.Length();
  std::vector<int64_t> out(n);
  for (uint32_t k = 0; k < n; k++) out[k] = a_.IntAt(arr.Get(k), Where::Option(key).Element(k));
  return out;
}

std::string Args::String(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsString()) TypeError(i, "a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

at::Scalar Args::ScalarAt(const Napi::Value& v, const Where& where) const {
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
  if (v.IsBigInt()) return at::Scalar(IntAt(v, where));
  TypeErrorAt(v, where, "a number, boolean or bigint");
}

at::Scalar Args::Scalar(size_t i) const {
  if (i >= info_.Length()) TypeError(i, "a number, boolean or bigint");
  return ScalarAt(info_[i], Where::Arg(i));
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
// The error mapping

MappedError MapException(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const c10::IndexError& x) {  // e.g. "Dimension out of range": an argument error
    return {true, x.what_without_backtrace()};
  } catch (const c10::Error& x) {
    return {false, x.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {false, "out of memory: libtorch could not allocate the tensor"};
  } catch (const std::exception& x) {
    return {false, x.what()};
  } catch (...) {
    return {false, "unknown C++ exception"};
  }
}

Napi::Error ToJsError(Napi::Env env, const std::string& name, const MappedError& e) {
  std::string msg = name + ": " + e.message;
  return e.range ? Napi::RangeError::New(env, msg) : TorchError(env, msg);
}

void Register(Napi::Env env, Napi::Object exports, const Export& e) {
  exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  Data(env)->exported.push_back({e.name, e.minArgs, e.maxArgs});
}

namespace {

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

// __exports() -> [{name, min, max}]: every binding with its declared argument count (max -1: no
// maximum), for the contract test against lib/native.ts.
TNAPI_FN(__exports, {
  const std::vector<ExportInfo>& list = Data(a.Env())->exported;
  Napi::Array out = Napi::Array::New(a.Env(), list.size());
  for (uint32_t k = 0; k < list.size(); k++) {
    Napi::Object o = Napi::Object::New(a.Env());
    o.Set("name", list[k].name);
    o.Set("min", list[k].minArgs);
    o.Set("max", list[k].maxArgs);
    out.Set(k, o);
  }
  return out;
})

const Export kExports[] = {
    {"registerErrorClass", registerErrorClass, 1},
    {"dtypeNames", dtypeNames, 0},
    {"__exports", __exports, 0},
};

}  // namespace

void RegisterArgs(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
