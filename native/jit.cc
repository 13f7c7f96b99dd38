// TorchScript (torch.jit): loading, running and saving `torch::jit::Module`s.
//
// A loaded module lives in a `ModuleBox` behind a Node-API external (like a large tensor's
// handle, handle.h): `jitDispose` drops the module now, otherwise the GC finalizer does. An
// async call copies the `Method` it runs (a strong reference to the module object), so disposing
// or collecting the handle meanwhile cannot free what the pool thread runs.
//
// Values cross by the method's schema: each JS argument is converted to the IValue of its
// declared type (a JS number is an `int` or a `float` as the schema says, an empty array a typed
// list), and results are converted back by their runtime value. Tensors cross as instances of
// lib/tensor.ts's `Tensor` class, which every call passes in (`ctor`): numbers stay numbers, and a
// tensor's handle is read from its `_h` (and refused when `_disposed`).
#include "args.h"
#include "handle.h"
#include "workers.h"

#include <c10/core/GradMode.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>

namespace tnapi {
namespace {

// JIT_FN(name, "torch.jit.load", { body using `a` }): a guarded binding whose messages use the
// name the user calls (not the export's name).
#define JIT_FN(fname, display, ...)                                       \
  static Napi::Value fname(const Napi::CallbackInfo& info) {              \
    return ::tnapi::Guard(info.Env(), "", display, [&]() -> Napi::Value { \
      ::tnapi::Args a(info, "", display);                                 \
      __VA_ARGS__                                                         \
    });                                                                   \
  }
constexpr double kMaxSafe = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

struct ModuleBox {
  static constexpr uint64_t kMagic = 0x746f7263684a4954ull;  // "torchJIT"
  uint64_t magic = kMagic;
  std::unique_ptr<torch::jit::Module> m;
  int64_t bytes = 0;  // parameter and buffer bytes reported to V8
};

int64_t ModuleBytes(const torch::jit::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.named_parameters(true)) n += ReportedBytes(p.value);
  for (const auto& b : m.named_buffers(true)) n += ReportedBytes(b.value);
  return n;
}

void FinalizeModule(node_api_basic_env env, void* data, void* hint) {
  // Runs inside the GC (see FinalizeBox in handle.cc): the release is only recorded here.
  auto* box = static_cast<ModuleBox*>(data);
  if (box->m) static_cast<AddonData*>(hint)->pendingAdjust -= box->bytes;
  box->magic = 0;
  delete box;
}

// The module behind argument `i`, or a TypeError / an Error for a disposed module.
torch::jit::Module& Mod(const Args& a, size_t i, const std::string& fn) {
  ModuleBox* box = nullptr;
  if (i < a.Length() && a[i].IsExternal()) {
    auto* p = static_cast<ModuleBox*>(a[i].As<Napi::External<void>>().Data());
    if (p != nullptr && p->magic == ModuleBox::kMagic) box = p;
  }
  if (box == nullptr) throw Napi::TypeError::New(a.Env(), fn + ": expected a ScriptModule handle");
  if (!box->m) throw Napi::Error::New(a.Env(), fn + ": this ScriptModule is disposed");
  return *box->m;
}

// ---- JS -> IValue, by declared type ----------------------------------------------------------

std::string Describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "the number " + v.ToString().Utf8Value();
    case napi_string: return "a string";
    case napi_bigint: return "a bigint";
    case napi_function: return "a function";
    case napi_object: {
      if (v.IsArray()) return "an array of length " + std::to_string(v.As<Napi::Array>().Length());
      Napi::Value c = v.As<Napi::Object>().Get("constructor");
      std::string name = c.IsFunction() ? c.As<Napi::Function>().Get("name").ToString().Utf8Value() : "";
      return name.empty() || name == "Object" ? "an object" : "a " + name;
    }
    default: return "a value of another type";
  }
}

class ToIValue {
 public:
  ToIValue(Napi::Env env, std::string fn, Napi::Function tensorCtor, BoxPins* track)
      : env_(env), fn_(std::move(fn)), ctor_(tensorCtor), track_(track) {}

  // Messages name `where` inside the current input: "input 1 (opts["bias"])".
  void SetInput(size_t index) { input_ = "input " + std::to_string(index); }

  c10::IValue Convert(const Napi::Value& v, const c10::TypePtr& type, const std::string& where) {
    using K = c10::TypeKind;
    switch (type->kind()) {
      case K::TensorType:
        if (IsTensor(v)) return TensorOf(v, where);
        Fail(where, type, "a Tensor", v);
      case K::FloatType:
        if (v.IsNumber()) return v.As<Napi::Number>().DoubleValue();
        Fail(where, type, "a number", v);
      case K::IntType: return Int(v, type, where);
      case K::NumberType:  // a Scalar: integral numbers are ints, as Args::Scalar
        if (v.IsBigInt()) return Int(v, type, where);
        if (v.IsNumber()) {
          double x = v.As<Napi::Number>().DoubleValue();
          if (std::floor(x) == x && std::fabs(x) <= kMaxSafe) return static_cast<int64_t>(x);
          return x;
        }
        if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
        Fail(where, type, "a number", v);
      case K::BoolType:
        if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
        Fail(where, type, "a boolean", v);
      case K::StringType:
        if (v.IsString()) return v.As<Napi::String>().Utf8Value();
        Fail(where, type, "a string", v);
      case K::NoneType:
        if (v.IsNull() || v.IsUndefined()) return c10::IValue();
        Fail(where, type, "null", v);
      case K::DeviceObjType:
        if (v.IsString()) {
          std::string d = v.As<Napi::String>().Utf8Value();
          try {
            return c10::Device(d);
          } catch (const c10::Error&) {
            throw Napi::RangeError::New(env_, fn_ + ": expected " + At(where) +
                                                  " (Device) to be a device such as 'cpu' or 'cuda:0', got '" + d +
                                                  "'");
          }
        }
        Fail(where, type, "a device string", v);
      case K::OptionalType:
        if (v.IsNull() || v.IsUndefined()) return c10::IValue();
        return Convert(v, type->castRaw<c10::OptionalType>()->getElementType(), where);
      case K::ListType: {
        if (!v.IsArray()) Fail(where, type, "an array", v);
        const c10::TypePtr& elem = type->castRaw<c10::ListType>()->getElementType();
        Napi::Array arr = v.As<Napi::Array>();
        c10::impl::GenericList list(elem);
        list.reserve(arr.Length());
        for (uint32_t k = 0; k < arr.Length(); k++)
          list.push_back(Convert(arr.Get(k), elem, where + "[" + std::to_string(k) + "]"));
        return list;
      }
      case K::TupleType: {
        const auto& elems = type->castRaw<c10::TupleType>()->elements();
        if (!v.IsArray()) Fail(where, type, "an array of length " + std::to_string(elems.size()), v);
        Napi::Array arr = v.As<Napi::Array>();
        if (arr.Length() != elems.size()) Fail(where, type, "an array of length " + std::to_string(elems.size()), v);
        std::vector<c10::IValue> items;
        items.reserve(elems.size());
        for (uint32_t k = 0; k < arr.Length(); k++)
          items.push_back(Convert(arr.Get(k), elems[k], where + "[" + std::to_string(k) + "]"));
        return c10::ivalue::Tuple::create(std::move(items));
      }
      case K::DictType: {
        const auto* dt = type->castRaw<c10::DictType>();
        if (dt->getKeyType()->kind() != K::StringType)
          Fail(where, type, "a dict with string keys (other key types are not supported)", v);
        if (!IsPlainObject(v)) Fail(where, type, "a plain object", v);
        Napi::Object obj = v.As<Napi::Object>();
        Napi::Array keys = obj.GetPropertyNames();
        c10::impl::GenericDict dict(dt->getKeyType(), dt->getValueType());
        dict.reserve(keys.Length());
        for (uint32_t k = 0; k < keys.Length(); k++) {
          std::string key = keys.Get(k).ToString().Utf8Value();
          dict.insert(key, Convert(obj.Get(key), dt->getValueType(), where + "[\"" + key + "\"]"));
        }
        return dict;
      }
      case K::AnyType: return Infer(v, where);
      case K::UnionType: return Union(v, type, where);
      default:
        throw Napi::TypeError::New(env_, fn_ + ": " + At(where) + " has type " + type->annotation_str() +
                                             ", which torch-napi cannot pass from JavaScript");
    }
  }

 private:
  bool IsTensor(const Napi::Value& v) const { return v.IsObject() && v.As<Napi::Object>().InstanceOf(ctor_); }

  // An object literal (or Object.create(null)): a Map, an array or a class instance would
  // otherwise read as an empty dict.
  bool IsPlainObject(const Napi::Value& v) const {
    if (!v.IsObject() || v.IsArray() || v.IsFunction()) return false;
    napi_value proto;
    if (napi_get_prototype(env_, v, &proto) != napi_ok) return false;
    Napi::Value p(env_, proto);
    if (p.IsNull()) return true;
    return p.StrictEquals(env_.Global().Get("Object").As<Napi::Object>().Get("prototype"));
  }

  c10::IValue TensorOf(const Napi::Value& v, const std::string& where) {
    Napi::Object o = v.As<Napi::Object>();
    bool stale = false;
    TensorBox* box = o.Get("_disposed").ToBoolean().Value() ? nullptr : Unwrap(env_, o.Get("_h"), &stale);
    if (box == nullptr || !box->t.defined())
      throw Napi::Error::New(
          env_, fn_ + ": " + At(where) + " is a disposed tensor (it was freed by dispose() or torch.tidy)");
    if (box->writers != 0 || StorageFlight(box->t) == 2)
      ThrowInUse(env_, fn_, "using it");  // an async optimizer step is writing it
    if (track_) track_->Add(box);         // pinned: converting a later input may run JS that disposes it
    return box->t;
  }

  c10::IValue Int(const Napi::Value& v, const c10::TypePtr& type, const std::string& where) {
    if (v.IsBigInt()) {
      bool lossless = false;
      int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) throw Napi::RangeError::New(env_, fn_ + ": " + At(where) + " does not fit in int64");
      return x;
    }
    if (!v.IsNumber()) Fail(where, type, "an integer", v);
    double x = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(x) || std::floor(x) != x || std::fabs(x) > kMaxSafe)
      throw Napi::RangeError::New(env_,
                                  fn_ + ": expected " + At(where) + " (int) to be an integer, got " + Describe(v));
    return static_cast<int64_t>(x);
  }

  // `Union[...]`: the first member the value converts to, trying `int` before `float` for an
  // integral number and after it otherwise (as Python's literal 2 is an int and 2.5 a float).
  c10::IValue Union(const Napi::Value& v, const c10::TypePtr& type, const std::string& where) {
    std::vector<c10::TypePtr> members(type->containedTypes().begin(), type->containedTypes().end());
    bool integral = v.IsBigInt();
    if (v.IsNumber()) {
      double x = v.As<Napi::Number>().DoubleValue();
      integral = std::floor(x) == x && std::fabs(x) <= kMaxSafe;
    }
    std::stable_sort(members.begin(), members.end(), [&](const c10::TypePtr& l, const c10::TypePtr& r) {
      auto rank = [&](const c10::TypePtr& t) {
        if (t->kind() == c10::TypeKind::IntType) return integral ? 0 : 2;
        if (t->kind() == c10::TypeKind::FloatType) return 1;
        return 3;
      };
      return rank(l) < rank(r);
    });
    for (const c10::TypePtr& m : members) {
      try {
        return Convert(v, m, where);
      } catch (const Napi::Error&) {
        // not this member: try the next
      }
    }
    Fail(where, type, "one of its member types", v);
  }

  // `Any`: the value's own kind (numbers: int when integral, as Python literals would be).
  c10::IValue Infer(const Napi::Value& v, const std::string& where) {
    if (v.IsNull() || v.IsUndefined()) return c10::IValue();
    if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
    if (v.IsString()) return v.As<Napi::String>().Utf8Value();
    if (v.IsNumber() || v.IsBigInt()) return Convert(v, c10::NumberType::get(), where);
    if (IsTensor(v)) return TensorOf(v, where);
    throw Napi::TypeError::New(env_, fn_ + ": " + At(where) +
                                         " has type Any; only tensors, numbers, booleans, strings "
                                         "and null can be passed as Any, got " +
                                         Describe(v));
  }

  [[noreturn]] void Fail(const std::string& where, const c10::TypePtr& type, const std::string& expected,
                         const Napi::Value& v) {
    throw Napi::TypeError::New(env_, fn_ + ": expected " + At(where) + " (" + type->annotation_str() + ") to be " +
                                         expected + ", got " + Describe(v));
  }

  std::string At(const std::string& where) const { return input_ + " (" + where + ")"; }

  Napi::Env env_;
  std::string fn_;
  std::string input_;
  Napi::Function ctor_;
  BoxPins* track_;
};

// ---- IValue -> JS -----------------------------------------------------------------------------

// `detach`: the call ran with grad mode off. libtorch 1.13's profiling executor can still return
// outputs attached to a graph then (after a grad-mode call specialized the plan; Python shows
// the same), so they are detached here: under torch.noGrad no result requires grad.
Napi::Value FromIValue(Napi::Env env, const std::string& fn, Napi::Function ctor, const c10::IValue& v, bool detach) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return ctor.New({Napi::Value(env, Wrap(env, detach && t.requires_grad() ? t.detach() : t))});
  }
  if (v.isNone()) return env.Null();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isInt()) {
    int64_t x = v.toInt();
    if (std::fabs(static_cast<double>(x)) <= kMaxSafe) return Napi::Number::New(env, static_cast<double>(x));
    return Napi::BigInt::New(env, x);  // not exactly representable as a number
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isDevice()) return Napi::String::New(env, v.toDevice().str());
  if (v.isTuple() || v.isList()) {
    std::vector<c10::IValue> items;
    if (v.isTuple()) {
      const auto& el = v.toTupleRef().elements();
      items.assign(el.begin(), el.end());
    } else {
      const auto& el = v.toListRef();
      items.assign(el.begin(), el.end());
    }
    Napi::Array arr = Napi::Array::New(env, items.size());
    for (uint32_t k = 0; k < items.size(); k++) arr.Set(k, FromIValue(env, fn, ctor, items[k], detach));
    return arr;
  }
  if (v.isGenericDict()) {
    c10::impl::GenericDict d = v.toGenericDict();
    if (d.keyType()->kind() == c10::TypeKind::StringType) {
      Napi::Object o = Napi::Object::New(env);
      for (const auto& e : d) o.Set(e.key().toStringRef(), FromIValue(env, fn, ctor, e.value(), detach));
      return o;
    }
    // Other keys (int, float, bool, Tensor): a Map keeps them as they are.
    Napi::Function mapCtor = env.Global().Get("Map").As<Napi::Function>();
    Napi::Object map = mapCtor.New({});
    Napi::Function set = map.Get("set").As<Napi::Function>();
    for (const auto& e : d)
      set.Call(map, {FromIValue(env, fn, ctor, e.key(), detach), FromIValue(env, fn, ctor, e.value(), detach)});
    return map;
  }
  throw Napi::TypeError::New(env, fn + ": the result holds a value of type " + v.type()->annotation_str() +
                                      ", which torch-napi cannot return to JavaScript");
}

// ---- calls ------------------------------------------------------------------------------------

// The method `name` of `m` with its inputs converted, after checking their count against the
// schema (libtorch's own message for this is long and names `self`).
struct PreparedCall {
  torch::jit::Method method;
  std::vector<c10::IValue> stack;
};

PreparedCall Prepare(Napi::Env env, const std::string& fn, torch::jit::Module& m, const std::string& name,
                     const Napi::Value& argsV, Napi::Function ctor, BoxPins* track) {
  c10::optional<torch::jit::Method> method = m.find_method(name);
  if (!method) {
    std::string names;
    for (const auto& mm : m.get_methods()) names += (names.empty() ? "" : ", ") + mm.name();
    throw Napi::Error::New(
        env, fn + ": the module has no method '" + name + "' (its methods: " + (names.empty() ? "none" : names) + ")");
  }
  if (!argsV.IsArray()) throw Napi::TypeError::New(env, fn + ": expected the inputs as an array");
  Napi::Array args = argsV.As<Napi::Array>();
  const c10::FunctionSchema& schema = method->function().getSchema();
  const auto& formals = schema.arguments();
  if (formals.empty() || schema.is_vararg())
    throw Napi::Error::New(env, fn + ": methods without a fixed signature are not supported");
  // formals[0] is `self`; trailing parameters with defaults may be omitted.
  size_t max = formals.size() - 1, min = max;
  while (min > 0 && formals[min].default_value()) min--;
  size_t n = args.Length();
  while (n > min && args.Get(static_cast<uint32_t>(n - 1)).IsUndefined()) n--;  // f(x, undefined) omits the rest
  if (n < min || n > max) {
    std::string list;
    for (size_t k = 1; k < formals.size(); k++) list += (k > 1 ? ", " : "") + formals[k].name();
    std::string count = min == max ? std::to_string(max) : std::to_string(min) + " to " + std::to_string(max);
    throw Napi::TypeError::New(env, fn + ": expected " + count + (max == 1 ? " input" : " inputs") + " (" + list +
                                        "), got " + std::to_string(n));
  }
  ToIValue conv(env, fn, ctor, track);
  std::vector<c10::IValue> stack;
  stack.reserve(n);
  for (size_t k = 0; k < n; k++) {
    const c10::Argument& f = formals[k + 1];
    conv.SetInput(k);
    stack.push_back(conv.Convert(args.Get(static_cast<uint32_t>(k)), f.type(), f.name()));
  }
  return PreparedCall{std::move(*method), std::move(stack)};
}

std::string Display(const std::string& name) {
  return "ScriptModule." + (name == "forward" ? name : "runMethod('" + name + "')");
}

Napi::Function Ctor(const Args& a, size_t i, const std::string& fn) {
  if (i >= a.Length() || !a[i].IsFunction()) throw Napi::TypeError::New(a.Env(), fn + ": expected the Tensor class");
  return a[i].As<Napi::Function>();
}

// jitRun(module, method, inputs[], Tensor) -> the result (under the caller's grad mode)
static Napi::Value jitRun(const Napi::CallbackInfo& info) {
  Args a(info, "ScriptModule.", "run");
  std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  std::string fn = Display(name);
  return Guard(info.Env(), "", fn.c_str(), [&]() -> Napi::Value {
    if (!info[1].IsString())
      throw Napi::TypeError::New(a.Env(), "ScriptModule.runMethod: expected the method name to be a string");
    Napi::Function ctor = Ctor(a, 3, fn);
    PreparedCall call = Prepare(a.Env(), fn, Mod(a, 0, fn), name, info[2], ctor, nullptr);
    c10::IValue out = call.method(std::move(call.stack));
    return FromIValue(a.Env(), fn, ctor, out, !c10::GradMode::is_enabled());
  });
}

// The async twin: a PoolWorker (workers.h: inputs in flight while queued, no JS in Work, grad
// mode captured at queue time, errors mapped as Guard's); the result converts to JS in Result.
class MethodWorker : public PoolWorker {
 public:
  MethodWorker(Napi::Env env, std::string fn, PreparedCall call, std::vector<TensorBox*> inputs, Napi::Function ctor)
      : PoolWorker(env, "torch-napi:jit", std::move(fn), std::move(inputs)),
        method_(std::move(call.method)),
        stack_(std::move(call.stack)),
        ctor_(Napi::Persistent(ctor)) {}

 protected:
  void Work() override { result_ = method_(std::move(stack_)); }
  void DropInputs() override { stack_.clear(); }  // the inputs' references go here, on the pool thread
  Napi::Value Result(Napi::Env env) override {
    c10::IValue result = std::move(result_);
    return FromIValue(env, OpName(), ctor_.Value(), result, !GradMode());
  }

 private:
  torch::jit::Method method_;  // holds the module object: disposing the handle meanwhile is safe
  std::vector<c10::IValue> stack_;
  Napi::FunctionReference ctor_;
  c10::IValue result_;
};

// jitRunAsync(module, method, inputs[], Tensor) -> Promise of the result
static Napi::Value jitRunAsync(const Napi::CallbackInfo& info) {
  Args a(info, "ScriptModule.", "runAsync");
  std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  std::string fn = name == "forward" ? "ScriptModule.forwardAsync" : "ScriptModule.runMethodAsync('" + name + "')";
  return Guard(info.Env(), "", fn.c_str(), [&]() -> Napi::Value {
    if (!info[1].IsString())
      throw Napi::TypeError::New(a.Env(), "ScriptModule.runMethodAsync: expected the method name to be a string");
    Napi::Function ctor = Ctor(a, 3, fn);
    BoxPins pins;
    PreparedCall call = Prepare(a.Env(), fn, Mod(a, 0, fn), name, info[2], ctor, &pins);
    return PoolWorker::Start(new MethodWorker(a.Env(), fn, std::move(call), pins.boxes(), ctor));
  });
}

// ---- load / save ------------------------------------------------------------------------------

// The file's bytes, owned (libtorch may read them after `load` returns, for lazily read records).
class BytesReader : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesReader(std::string data) : data_(std::move(data)) {}
  size_t size() const override { return data_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char*) const override {
    if (pos >= data_.size()) return 0;
    size_t k = std::min<size_t>(n, data_.size() - pos);
    std::memcpy(buf, data_.data() + pos, k);
    return k;
  }

 private:
  std::string data_;
};

Napi::Value NewModule(Napi::Env env, torch::jit::Module m) {
  AddonData* d = Data(env);
  auto* box = new ModuleBox;
  box->bytes = ModuleBytes(m);
  box->m = std::make_unique<torch::jit::Module>(std::move(m));
  napi_value result;
  if (napi_create_external(env, box, FinalizeModule, d, &result) != napi_ok) {
    delete box;
    throw Napi::Error::New(env, "torch.jit.load: could not create a module handle");
  }
  AdjustMemory(env, d, box->bytes);
  return Napi::Value(env, result);
}

// Whether a tensor's view lies inside its storage. libtorch builds a loaded module's tensors from
// the archive's data records as they are: a hostile archive can declare a (200, 2) view over a
// 4-float storage (reads leak heap memory, fill_ corrupts it), a negative or 2^31 offset, or a
// negative stride. Empty tensors and tensors without storage pass.
bool InsideStorage(const at::Tensor& t, std::string* why) {
  if (!t.defined() || !t.has_storage()) return true;
  const int64_t offset = t.storage_offset(), item = static_cast<int64_t>(t.element_size());
  const int64_t capacity = static_cast<int64_t>(t.storage().nbytes());
  if (offset < 0) return *why = "a negative storage offset (" + std::to_string(offset) + ")", false;
  for (int64_t d = 0; d < t.dim(); d++) {
    if (t.stride(d) < 0) return *why = "a negative stride in dim " + std::to_string(d), false;
  }
  if (t.numel() == 0) return true;
  int64_t last = offset, bytes = 0;  // the last element's index, then the bytes up to its end
  for (int64_t d = 0; d < t.dim(); d++) {
    int64_t step = 0;
    if (__builtin_mul_overflow(t.size(d) - 1, t.stride(d), &step) || __builtin_add_overflow(last, step, &last)) {
      return *why = "a view whose extent overflows", false;
    }
  }
  if (__builtin_add_overflow(last, int64_t{1}, &last) || __builtin_mul_overflow(last, item, &bytes) ||
      bytes > capacity) {
    *why = "a view of " + std::to_string(bytes) + " bytes over a storage of " + std::to_string(capacity) + " bytes";
    return false;
  }
  return true;
}

std::string ShapeText(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); d++) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Refuses a loaded module any of whose parameters, buffers or tensor attributes lies outside its
// storage, before any JS can read or write it.
void CheckTensorsInsideStorage(Napi::Env env, const torch::jit::Module& m, const std::string& label) {
  std::string why;
  auto check = [&](const std::string& kind, const std::string& name, const at::Tensor& t) {
    if (!InsideStorage(t, &why)) {
      throw TorchError(env, "torch.jit.load: " + label + ": the archive is corrupt or hostile: " + kind + " '" + name +
                                "' declares " + why + " (shape " + ShapeText(t) + ")");
    }
  };
  for (const auto& p : m.named_parameters(true)) check("parameter", p.name, p.value);
  for (const auto& b : m.named_buffers(true)) check("buffer", b.name, b.value);
  for (const auto& attr : m.named_attributes(true)) {
    if (attr.value.isTensor()) check("attribute", attr.name, attr.value.toTensor());
  }
}

// jitLoad(bytes, label, device?) -> module handle. `label` (the path) names the file in errors.
JIT_FN(jitLoad, "torch.jit.load", {
  if (!a[0].IsTypedArray()) a.TypeError(0, "a Uint8Array");
  std::string label = a.String(1);
  c10::optional<c10::Device> device;
  if (a.Has(2)) device = a.Device(2);
  Napi::Uint8Array bytes = a[0].As<Napi::Uint8Array>();
  auto reader =
      std::make_shared<BytesReader>(std::string(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength()));
  torch::jit::Module m;
  try {
    m = torch::jit::load(std::shared_ptr<caffe2::serialize::ReadAdapterInterface>(reader), device);
  } catch (...) {  // libtorch's errors, or e.g. the TorchScript compiler's ErrorReport for broken code
    throw TorchError(a.Env(), "torch.jit.load: " + label + ": could not load the TorchScript module: " +
                                  MapException(std::current_exception()).message);
  }
  CheckTensorsInsideStorage(a.Env(), m, label);
  return NewModule(a.Env(), std::move(m));
})

// jitSave(module) -> the TorchScript archive's bytes
JIT_FN(jitSave, "torch.jit.save", {
  torch::jit::Module& m = Mod(a, 0, "torch.jit.save");
  std::ostringstream out;
  m.save(out);
  std::string s = out.str();
  return Napi::Buffer<uint8_t>::Copy(a.Env(), reinterpret_cast<const uint8_t*>(s.data()), s.size());
})

// ---- module state -----------------------------------------------------------------------------

JIT_FN(jitDispose, "ScriptModule.dispose", {
  if (!a[0].IsExternal()) a.TypeError(0, "a ScriptModule handle");
  auto* box = static_cast<ModuleBox*>(a[0].As<Napi::External<void>>().Data());
  if (box == nullptr || box->magic != ModuleBox::kMagic) a.TypeError(0, "a ScriptModule handle");
  if (box->m) {
    AdjustMemory(a.Env(), Data(a.Env()), -box->bytes);
    box->m.reset();
  }
  return a.Env().Undefined();
})

JIT_FN(jitSetTraining, "ScriptModule.train", {
  bool on = a.Bool(1);
  Mod(a, 0, on ? "ScriptModule.train" : "ScriptModule.eval").train(on);
  return a.Env().Undefined();
})

JIT_FN(jitIsTraining, "ScriptModule.isTraining",
       { return Napi::Boolean::New(a.Env(), Mod(a, 0, "ScriptModule.isTraining").is_training()); })

JIT_FN(jitMethods, "ScriptModule.methods", {
  torch::jit::Module& m = Mod(a, 0, "ScriptModule.methods");
  Napi::Array out = Napi::Array::New(a.Env());
  uint32_t k = 0;
  for (const auto& method : m.get_methods()) out.Set(k++, method.name());
  return out;
})

// jitSchema(module, method) -> the method's signature as TorchScript prints it, or null
JIT_FN(jitSchema, "ScriptModule.schema", {
  torch::jit::Module& m = Mod(a, 0, "ScriptModule.schema");
  c10::optional<torch::jit::Method> method = m.find_method(a.String(1));
  if (!method) return a.Env().Null();
  std::ostringstream s;
  s << method->function().getSchema();
  return Napi::String::New(a.Env(), s.str());
})

Napi::Array Pairs(Napi::Env env, const std::vector<std::pair<std::string, at::Tensor>>& items) {
  Napi::Array out = Napi::Array::New(env, items.size());
  for (uint32_t k = 0; k < items.size(); k++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, items[k].first);
    pair.Set(1u, Napi::Value(env, Wrap(env, items[k].second)));
    out.Set(k, pair);
  }
  return out;
}

// jitNamedParameters(module) -> [name, handle][]: the module's own tensors (shared storage and
// autograd identity), so an optimizer stepping them trains the module.
JIT_FN(jitNamedParameters, "ScriptModule.namedParameters", {
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto& p : Mod(a, 0, "ScriptModule.namedParameters").named_parameters(true))
    items.emplace_back(p.name, p.value);
  return Pairs(a.Env(), items);
})

JIT_FN(jitNamedBuffers, "ScriptModule.namedBuffers", {
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto& b : Mod(a, 0, "ScriptModule.namedBuffers").named_buffers(true)) items.emplace_back(b.name, b.value);
  return Pairs(a.Env(), items);
})

// PyTorch's state_dict order: each module's parameters, then its buffers, then its children.
void CollectState(const torch::jit::Module& m, const std::string& prefix,
                  std::vector<std::pair<std::string, at::Tensor>>* out) {
  for (const auto& p : m.named_parameters(false)) out->emplace_back(prefix + p.name, p.value);
  for (const auto& b : m.named_buffers(false)) out->emplace_back(prefix + b.name, b.value);
  for (const auto& c : m.named_children()) CollectState(c.value, prefix + c.name + ".", out);
}

// jitStateDict(module) -> [name, handle][] (detached: sharing storage, as Python's state_dict)
JIT_FN(jitStateDict, "ScriptModule.stateDict", {
  std::vector<std::pair<std::string, at::Tensor>> items;
  CollectState(Mod(a, 0, "ScriptModule.stateDict"), "", &items);
  for (auto& it : items) it.second = it.second.detach();
  return Pairs(a.Env(), items);
})

const Export kExports[] = {
    {"jitLoad", jitLoad, 2, 3},
    {"jitSave", jitSave, 1},
    {"jitRun", jitRun, 4},
    {"jitRunAsync", jitRunAsync, 4},
    {"jitDispose", jitDispose, 1},
    {"jitSetTraining", jitSetTraining, 2},
    {"jitIsTraining", jitIsTraining, 1},
    {"jitMethods", jitMethods, 1},
    {"jitSchema", jitSchema, 2},
    {"jitNamedParameters", jitNamedParameters, 1},
    {"jitNamedBuffers", jitNamedBuffers, 1},
    {"jitStateDict", jitStateDict, 1},
};

}  // namespace

void RegisterJit(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
