// Reading a native call's arguments (Args, Fields), the one place that turns C++ exceptions into
// JS errors (MapException, Guard), dtype codes, and the export tables.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include "handle.h"

namespace tnapi {

// "Tensor." + "addScalar" -> "Tensor.add" (a binding's name as the user calls it).
std::string DisplayName(const char* prefix, const char* name);
// Names a value in error messages: "argument 2", "option 'query'", a prepared string, and their
// elements ("argument 2[3]", "option 'hx', element 1"). The string is made only when an error is
// thrown: a call reads a dozen values, and building each name eagerly cost more than reading it.
// A Where points at its string or parent; it lives for one call expression, as a temporary.
class Where {
 public:
  Where(const std::string& s) : str_(&s) {}  // NOLINT(google-explicit-constructor): a prepared name
  Where(const char* s) : lit_(s) {}          // NOLINT(google-explicit-constructor): a literal name
  static Where Arg(size_t i) {
    Where w(static_cast<const char*>(nullptr));
    w.index_ = static_cast<int64_t>(i);
    return w;
  }
  static Where Option(const char* key) {
    Where w(static_cast<const char*>(nullptr));
    w.key_ = key;
    return w;
  }
  // Element k of this list: "<this>[k]" (bracket) or "<this>, element k" / "element k" for a
  // positional list (the user's own list), as TensorListAt names them.
  Where Element(uint32_t k, bool bracket = true) const {
    Where w(static_cast<const char*>(nullptr));
    w.parent_ = this;
    w.elem_ = k;
    w.bracket_ = bracket;
    return w;
  }
  bool IsArgument() const { return parent_ == nullptr && index_ >= 0; }
  std::string Str() const;

 private:
  const std::string* str_ = nullptr;
  const char* lit_ = nullptr;
  const char* key_ = nullptr;
  int64_t index_ = -1;
  const Where* parent_ = nullptr;
  uint32_t elem_ = 0;
  bool bracket_ = true;
};

// ---------------------------------------------------------------------------------------------
// Arguments. `Args` reads the JS arguments of one native call; every getter re-checks the type
// cheaply (the TypeScript layer validated already, but native exports are reachable directly)
// and names the call and the position in its message.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* prefix, const char* name)
      : info_(info), env_(info.Env()), prefix_(prefix), name_(name) {}
  /** The JS-facing name for messages: prefix + binding name without its `Scalar` suffix. */
  std::string Name() const { return DisplayName(prefix_, name_); }
  Napi::Env Env() const { return env_; }
  size_t Length() const { return info_.Length(); }
  bool Has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  bool IsTensor(size_t i) const;

  TensorBox* Box(size_t i) const;
  // The box of an argument whose tensor is alive (a disposed one throws).
  TensorBox* LiveBox(size_t i) const;
  // The tensor of an argument (refused while an async call writes it, see TensorBox::writers).
  // Tensors are returned as owning references (one refcount): converting a later argument can run
  // JS that disposes this one, and a reference into its box would then dangle.
  at::Tensor Tensor(size_t i) const;
  // The tensor of an argument that the call modifies in place: refused while an async call holds
  // it, or (`writesData`) holds its storage through another handle or view. Calls that change only
  // the handle's own autograd state or tensor (requires_grad_, .grad, set_data) pass false.
  at::Tensor Mutable(size_t i, bool writesData = true) const;
  // The tensor of an argument whose metadata only is read (sizes, strides, dtype, device,
  // requires_grad): allowed while an async call writes its data, which never changes those.
  at::Tensor Meta(size_t i) const;
  c10::optional<at::Tensor> OptTensor(size_t i) const;
  std::vector<at::Tensor> TensorList(size_t i) const;
  // Async bindings: while tracking, every box read by Tensor/OptTensor/TensorList is pinned and
  // appended to `pins` (the worker marks them in flight).
  void Track(BoxPins* pins) { track_ = pins; }
  double Number(size_t i) const;
  int64_t Int(size_t i) const;
  int64_t IntOr(size_t i, int64_t dflt) const { return Has(i) ? Int(i) : dflt; }
  bool Bool(size_t i) const;
  bool BoolOr(size_t i, bool dflt) const { return Has(i) ? Bool(i) : dflt; }
  std::string String(size_t i) const;
  at::Scalar Scalar(size_t i) const;
  std::vector<int64_t> IntList(size_t i) const;
  c10::optional<int64_t> OptInt(size_t i) const { return Has(i) ? c10::optional<int64_t>(Int(i)) : c10::nullopt; }
  at::ScalarType Dtype(size_t i) const;
  c10::optional<at::ScalarType> OptDtype(size_t i) const {
    return Has(i) ? c10::optional<at::ScalarType>(Dtype(i)) : c10::nullopt;
  }
  at::Device Device(size_t i) const;
  at::TensorOptions Options(size_t dtypeIdx, size_t deviceIdx, at::ScalarType dflt) const;
  Napi::Value operator[](size_t i) const { return info_[i]; }

  [[noreturn]] void TypeError(size_t i, const char* expected) const;
  [[noreturn]] void RangeError(const std::string& msg) const;

  // The same checks for a value that is not a positional argument (a field of an options object,
  // see Fields): `where` names it in messages ("argument 2", "option 'query'").
  at::Tensor TensorAt(const Napi::Value& v, const Where& where) const;
  // Mutable(i) for a value that is not a positional argument.
  at::Tensor MutableAt(const Napi::Value& v, const Where& where) const;
  std::vector<at::Tensor> TensorListAt(const Napi::Value& v, const Where& where) const;
  double NumberAt(const Napi::Value& v, const Where& where) const;
  int64_t IntAt(const Napi::Value& v, const Where& where) const;
  bool BoolAt(const Napi::Value& v, const Where& where) const;
  // A JS number, boolean or bigint as a Scalar (integral numbers become integer scalars).
  at::Scalar ScalarAt(const Napi::Value& v, const Where& where) const;
  [[noreturn]] void TypeErrorAt(const Napi::Value& v, const Where& where, const char* expected) const;

 private:
  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* prefix_;
  const char* name_;
  BoxPins* track_ = nullptr;
  // The box of a tensor value: nullptr (and `*stale`) for a disposed number handle.
  TensorBox* BoxAt(const Napi::Value& v, const Where& where, bool* stale) const;
  TensorBox* LiveBoxAt(const Napi::Value& v, const Where& where) const;
};

// The fields of an options-object argument, read by name (the wide kernels: `mha({...})`,
// `rnn({...})`). Each getter has Args' checks, tracking included; messages name the key.
// The names of a binding's options in the order of its positional form (see Fields).
struct FieldKeys {
  const char* const* names;
  size_t count;
};

// A binding's options, read by name: from one options object (argument i), or, in the positional
// form, from arguments i, i+1, ... in the order of `keys` (a hot call passes its options as
// arguments: reading an argument is free, reading an object's property costs ~70 ns, and an mha
// call reads 24). Error messages name the option either way.
class Fields {
 public:
  Fields(const Args& a, size_t i);
  Fields(const Args& a, size_t i, FieldKeys keys) : a_(a), first_(i), keys_(keys.names), nkeys_(keys.count) {}
  bool Has(const char* key) const;
  at::Tensor Tensor(const char* key) const { return a_.TensorAt(Get(key), Where::Option(key)); }
  c10::optional<at::Tensor> OptTensor(const char* key) const {
    Napi::Value v = Get(key);  // one property read, not Has() and then Tensor()
    if (v.IsUndefined() || v.IsNull()) return c10::nullopt;
    return a_.TensorAt(v, Where::Option(key));
  }
  std::vector<at::Tensor> TensorList(const char* key) const { return a_.TensorListAt(Get(key), Where::Option(key)); }
  double Number(const char* key) const { return a_.NumberAt(Get(key), Where::Option(key)); }
  int64_t Int(const char* key) const { return a_.IntAt(Get(key), Where::Option(key)); }
  bool Bool(const char* key) const { return a_.BoolAt(Get(key), Where::Option(key)); }
  // A JS array of integers (each checked as Args::IntAt does).
  std::vector<int64_t> IntList(const char* key) const;

 private:
  Napi::Value Get(const char* key) const;
  const Args& a_;
  Napi::Object obj_;
  size_t first_ = 0;                   // positional form: the argument of keys_[0]
  const char* const* keys_ = nullptr;  // nullptr: the options object obj_
  size_t nkeys_ = 0;
  mutable size_t next_ = 0;  // where the next key is looked for first (parsers read in key order)
};

// ---------------------------------------------------------------------------------------------
// The one place that turns C++ exceptions into JS errors, for sync calls (Guard) and async ones
// (workers.h's PoolWorker, which maps on the pool thread and raises on the JS thread). libtorch's
// errors (c10::Error) become `TorchError`s carrying libtorch's message without the C++ backtrace;
// c10::IndexError ("Dimension out of range") is an argument error: a RangeError. Argument errors
// we raise ourselves are already JS errors and pass through Guard.
struct MappedError {
  bool range = false;  // RangeError; otherwise TorchError
  std::string message;
};
// Never throws; call it inside a catch block (or with a captured exception_ptr).
MappedError MapException(std::exception_ptr e);
// The JS error for `e`, its message prefixed by the call's name (`"F.mha: "`).
Napi::Error ToJsError(Napi::Env env, const std::string& name, const MappedError& e);
Napi::Error TorchError(Napi::Env env, const std::string& msg);

template <class F>
Napi::Value Guard(Napi::Env env, const char* prefix, const char* name, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw ToJsError(env, DisplayName(prefix, name), MapException(std::current_exception()));
  }
}

// dtype codes shared with lib/native.ts (DTYPES there is indexed by these numbers).
at::ScalarType DtypeFromCode(int64_t code);
int DtypeCode(at::ScalarType t);

// ---------------------------------------------------------------------------------------------
// Export tables. Each entry declares how many arguments its binding takes, min..max (kVariadic:
// no maximum); `__exports()` reports them and test/native/contract.test.ts checks them against
// lib/native.ts.
using Binding = Napi::Value (*)(const Napi::CallbackInfo&);
constexpr int kVariadic = -1;
struct Export {
  const char* name;
  Binding fn;
  int minArgs, maxArgs;
  constexpr Export(const char* n, Binding f, int arity) : name(n), fn(f), minArgs(arity), maxArgs(arity) {}
  constexpr Export(const char* n, Binding f, int min, int max) : name(n), fn(f), minArgs(min), maxArgs(max) {}
};

void Register(Napi::Env env, Napi::Object exports, const Export& e);
template <size_t N>
void RegisterTable(Napi::Env env, Napi::Object exports, const Export (&table)[N]) {
  for (const Export& e : table) Register(env, exports, e);
}

// Each bindings file registers its table; addon.cc calls them all.
void RegisterArgs(Napi::Env env, Napi::Object exports);
void RegisterTensorOps(Napi::Env env, Napi::Object exports);
void RegisterCreation(Napi::Env env, Napi::Object exports);
void RegisterAutograd(Napi::Env env, Napi::Object exports);
void RegisterRuntime(Napi::Env env, Napi::Object exports);
void RegisterNN(Napi::Env env, Napi::Object exports);
void RegisterAttention(Napi::Env env, Napi::Object exports);
void RegisterLoss(Napi::Env env, Napi::Object exports);
void RegisterOptim(Napi::Env env, Napi::Object exports);
void RegisterWorkers(Napi::Env env, Napi::Object exports);
void RegisterJit(Napi::Env env, Napi::Object exports);
void RegisterAten(Napi::Env env, Napi::Object exports);
void RegisterGenerator(Napi::Env env, Napi::Object exports);

}  // namespace tnapi

// TNAPI_FN(name, { body using `a` (Args) }) defines a guarded binding;
// TNAPI_TENSOR_FN(name, expr) one that returns the tensor `expr`.
// Each bindings file defines `kNamePrefix` ("Tensor.", "torch.", "F.") for its messages.
#define TNAPI_FN(fname, ...)                                                      \
  static Napi::Value fname(const Napi::CallbackInfo& info) {                      \
    return ::tnapi::Guard(info.Env(), kNamePrefix, #fname, [&]() -> Napi::Value { \
      ::tnapi::Args a(info, kNamePrefix, #fname);                                 \
      __VA_ARGS__                                                                 \
    });                                                                           \
  }
#define TNAPI_TENSOR_FN(fname, ...) \
  TNAPI_FN(fname, { return Napi::Value(a.Env(), ::tnapi::Wrap(a.Env(), (__VA_ARGS__))); })
