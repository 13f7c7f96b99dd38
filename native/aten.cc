// Every ATen operator, through the dispatcher: the schema-driven boxed call behind lib/aten.ts.
//
// libtorch registers each operator with its schema (`aten::topk(Tensor self, int k, int dim=-1,
// ...) -> (Tensor values, Tensor indices)`); the schemas are the single source of truth for what an
// op takes and returns. lib/aten.ts reads them (`atenSchemas`), resolves a JS call to one overload
// as PyTorch's Python argument parser does, and converts what only JS can tell apart (a Tensor
// from a number: small-tensor handles are numbers; dtype names to ScalarType codes). Here each
// argument is converted by its schema type into an IValue, the op is called boxed, and the results
// are converted back. So the package exposes exactly the operators of the libtorch it runs on
// (1.13 and 2.x differ), and the ops that TorchScript extensions register.
//
// What stays ours (not libtorch's): tensor ownership and the async-in-flight checks (Args), the
// error mapping (Guard), the integer-division guard below (libtorch's CPU kernels trap on
// INT_MIN / -1, which would kill the process), and the crash guards of aten_guards.cc.
#include <ATen/core/dispatch/Dispatcher.h>

#include <dlfcn.h>

#include <unordered_map>

#include "args.h"
#include "aten_guards.h"
#include "generator.h"
#include "handle.h"

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "torch.ops.";

// What an argument's schema type asks of the JS value, digested once per overload.
enum class Kind : uint8_t {
  kTensor,
  kInt,
  kFloat,
  kBool,
  kScalar,
  kString,
  kDevice,
  kIntList,
  kFloatList,
  kBoolList,
  kTensorList,
  kOptTensorList,
  kScalarList,
  kStringList,
  kGenerator,
  kUnsupported,
};

struct ArgInfo {
  Kind kind;
  bool optional;  // `T?`: null is None
  bool write;     // `Tensor(a!)`: modified in place
  bool hasDefault;
  c10::IValue dflt;
  std::string name;
  std::string where;  // "argument 'name'", for messages
};

struct OpInfo {
  c10::OperatorHandle op;
  std::vector<ArgInfo> args;
  std::vector<bool> writeReturns;  // results that alias an argument written in place
  int guard;                       // kNoGuard or an IntDiv kind (see IntegerDivisionGuard)
  const GuardPlan* plan;           // the crash guards' checks for it (aten_guards.h)
  std::string display;             // "<aten::div.Tensor_mode>" (lib/aten.ts puts the JS name in its place)
};

enum DivGuard { kNoGuard = 0, kDivMode, kFloorDivide, kRemainder };

std::vector<OpInfo>& Ops() {
  static std::vector<OpInfo> ops;  // never shrinks: ids handed to JS stay valid
  return ops;
}

Kind KindOf(const c10::TypePtr& t) {
  switch (t->kind()) {
    case c10::TypeKind::TensorType: return Kind::kTensor;
    case c10::TypeKind::IntType:
      return Kind::kInt;  // also ScalarType, Layout, MemoryFormat (lib/aten.ts passes their codes)
    case c10::TypeKind::FloatType: return Kind::kFloat;
    case c10::TypeKind::BoolType: return Kind::kBool;
    case c10::TypeKind::NumberType: return Kind::kScalar;
    case c10::TypeKind::StringType: return Kind::kString;
    case c10::TypeKind::DeviceObjType: return Kind::kDevice;
    case c10::TypeKind::GeneratorType: return Kind::kGenerator;
    case c10::TypeKind::ListType: {
      const c10::TypePtr& e = t->expectRef<c10::ListType>().getElementType();
      switch (e->kind()) {
        case c10::TypeKind::IntType: return Kind::kIntList;
        case c10::TypeKind::FloatType: return Kind::kFloatList;
        case c10::TypeKind::BoolType: return Kind::kBoolList;
        case c10::TypeKind::TensorType: return Kind::kTensorList;
        case c10::TypeKind::NumberType: return Kind::kScalarList;
        case c10::TypeKind::StringType: return Kind::kStringList;
        case c10::TypeKind::OptionalType:
          if (e->expectRef<c10::OptionalType>().getElementType()->kind() == c10::TypeKind::TensorType)
            return Kind::kOptTensorList;
          return Kind::kUnsupported;
        default: return Kind::kUnsupported;
      }
    }
    default: return Kind::kUnsupported;
  }
}

int GuardOf(const c10::OperatorName& n) {
  const std::string& s = n.name;
  if ((s == "aten::div" || s == "aten::div_" || s == "aten::divide" || s == "aten::divide_") &&
      n.overload_name.find("mode") != std::string::npos)
    return kDivMode;
  if (s == "aten::floor_divide" || s == "aten::floor_divide_") return kFloorDivide;
  if (s == "aten::remainder" || s == "aten::remainder_" || s == "aten::fmod" || s == "aten::fmod_") return kRemainder;
  return kNoGuard;
}

int Intern(const c10::OperatorHandle& op) {
  const c10::FunctionSchema& s = op.schema();
  OpInfo info{op, {}, {}, GuardOf(s.operator_name()), GuardPlanOf(op), ""};
  info.display = "<" + s.name() + (s.overload_name().empty() ? "" : "." + s.overload_name()) + ">";
  for (const c10::Argument& a : s.arguments()) {
    ArgInfo ai;
    const c10::TypePtr& t = a.type();
    ai.optional = t->kind() == c10::TypeKind::OptionalType;
    ai.kind = KindOf(ai.optional ? t->expectRef<c10::OptionalType>().getElementType() : t);
    ai.write = a.alias_info() != nullptr && a.alias_info()->isWrite();
    ai.hasDefault = a.default_value().has_value();
    if (ai.hasDefault) ai.dflt = *a.default_value();
    ai.name = a.name();
    ai.where = "argument '" + ai.name + "'";
    info.args.push_back(std::move(ai));
  }
  for (const c10::Argument& r : s.returns())
    info.writeReturns.push_back(r.alias_info() != nullptr && r.alias_info()->isWrite());
  Ops().push_back(std::move(info));
  return static_cast<int>(Ops().size() - 1);
}

// name ("aten::topk") -> the ids of its overloads, interned on first lookup.
std::unordered_map<std::string, std::vector<int>>& ByName() {
  static std::unordered_map<std::string, std::vector<int>> m;
  return m;
}

// atenSchemas(qualifiedName) -> [[id, schemaString], ...] for every registered overload (an
// empty array for an unknown name). The strings are the dispatcher's own (real types: ScalarType,
// SymInt[], int[1]?, Tensor(a!)), parsed by lib/aten.ts.
Napi::Value AtenSchemas(const Napi::CallbackInfo& info) {
  return ::tnapi::Guard(info.Env(), "", "torch.ops", [&]() -> Napi::Value {
    Args a(info, "", "torch.ops");
    std::string name = a.String(0);
    auto& byName = ByName();
    auto it = byName.find(name);
    if (it == byName.end()) {
      std::vector<int> ids;
      for (const c10::OperatorName& on : c10::Dispatcher::singleton().getAllOpNames()) {
        if (on.name != name) continue;
        auto op = c10::Dispatcher::singleton().findSchema(on);
        if (op.has_value()) ids.push_back(Intern(*op));
      }
      it = byName.emplace(name, std::move(ids)).first;
    }
    Napi::Array out = Napi::Array::New(a.Env(), it->second.size());
    for (size_t k = 0; k < it->second.size(); k++) {
      int id = it->second[k];
      std::ostringstream ss;
      ss << Ops()[id].op.schema();
      Napi::Array pair = Napi::Array::New(a.Env(), 2);
      pair.Set(0u, Napi::Number::New(a.Env(), id));
      pair.Set(1u, Napi::String::New(a.Env(), ss.str()));
      out.Set(static_cast<uint32_t>(k), pair);
    }
    return out;
  });
}

// atenNames() -> every registered operator name with its overload ("aten::add.Tensor", ...).
Napi::Value AtenNames(const Napi::CallbackInfo& info) {
  return ::tnapi::Guard(info.Env(), "", "torch.ops", [&]() -> Napi::Value {
    auto names = c10::Dispatcher::singleton().getAllOpNames();
    Napi::Array out = Napi::Array::New(info.Env(), names.size());
    for (size_t k = 0; k < names.size(); k++) {
      const c10::OperatorName& on = names[k];
      out.Set(static_cast<uint32_t>(k),
              Napi::String::New(info.Env(), on.overload_name.empty() ? on.name : on.name + "." + on.overload_name));
    }
    return out;
  });
}

at::Tensor Wrapped(const at::Scalar& s) {
  at::Tensor t = at::scalar_to_tensor(s);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

c10::IValue Convert(const Args& a, const ArgInfo& ai, const Napi::Value& v, bool wrap, const Where& where) {
  switch (ai.kind) {
    case Kind::kTensor: {
      if (wrap) return Wrapped(a.ScalarAt(v, where));
      return ai.write ? a.MutableAt(v, where) : a.TensorAt(v, where);
    }
    case Kind::kInt: return a.IntAt(v, where);
    case Kind::kFloat: return a.NumberAt(v, where);
    case Kind::kBool: return a.BoolAt(v, where);
    case Kind::kScalar: return a.ScalarAt(v, where);
    case Kind::kString:
      if (!v.IsString()) a.TypeErrorAt(v, where, "a string");
      return v.As<Napi::String>().Utf8Value();
    case Kind::kDevice:
      if (!v.IsString()) a.TypeErrorAt(v, where, "a device string");
      return at::Device(v.As<Napi::String>().Utf8Value());
    case Kind::kGenerator: {
      // lib/aten.ts passes a torch.Generator's native handle
      at::Generator g;
      if (!GeneratorOf(v, &g)) a.TypeErrorAt(v, where, "a torch.Generator or null");
      return c10::IValue(std::move(g));
    }
    case Kind::kTensorList: {
      if (!ai.write) return c10::List<at::Tensor>(a.TensorListAt(v, where));
      // `Tensor(a!)[]` (_foreach_add_, out lists): each is modified, so each gets Mutable's checks
      if (!v.IsArray()) a.TypeErrorAt(v, where, "an array of Tensors");
      Napi::Array arr = v.As<Napi::Array>();
      c10::List<at::Tensor> out;
      out.reserve(arr.Length());
      for (uint32_t k = 0; k < arr.Length(); k++) out.push_back(a.MutableAt(arr[k], where.Element(k)));
      return out;
    }
    case Kind::kOptTensorList: {
      if (!v.IsArray()) a.TypeErrorAt(v, where, "an array of Tensors or nulls");
      Napi::Array arr = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> out;
      out.reserve(arr.Length());
      for (uint32_t k = 0; k < arr.Length(); k++) {
        Napi::Value e = arr[k];
        if (e.IsNull() || e.IsUndefined())
          out.push_back(c10::nullopt);
        else
          out.push_back(a.TensorAt(e, where.Element(k)));
      }
      return out;
    }
    default: break;
  }
  // the other lists
  if (!v.IsArray()) a.TypeErrorAt(v, where, "an array");
  Napi::Array arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  switch (ai.kind) {
    case Kind::kIntList: {
      std::vector<int64_t> out(n);
      for (uint32_t k = 0; k < n; k++) out[k] = a.IntAt(arr[k], where);
      return out;
    }
    case Kind::kFloatList: {
      std::vector<double> out(n);
      for (uint32_t k = 0; k < n; k++) out[k] = a.NumberAt(arr[k], where);
      return out;
    }
    case Kind::kBoolList: {
      c10::List<bool> out;
      for (uint32_t k = 0; k < n; k++) out.push_back(a.BoolAt(arr[k], where));
      return out;
    }
    case Kind::kScalarList: {
      c10::List<at::Scalar> out;
      for (uint32_t k = 0; k < n; k++) out.push_back(a.ScalarAt(arr[k], where));
      return out;
    }
    case Kind::kStringList: {
      c10::List<std::string> out;
      for (uint32_t k = 0; k < n; k++) {
        Napi::Value e = arr[k];
        if (!e.IsString()) a.TypeErrorAt(e, where, "an array of strings");
        out.push_back(e.As<Napi::String>().Utf8Value());
      }
      return out;
    }
    default: a.TypeErrorAt(v, where, "a value of a type this package cannot pass yet");
  }
}

napi_value ToJs(napi_env env, const c10::IValue& v) {
  Napi::Env e(env);
  if (v.isTensor()) return Wrap(env, v.toTensor());
  if (v.isNone()) return e.Null();
  if (v.isInt()) return Napi::Number::New(e, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(e, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(e, v.toBool());
  if (v.isString()) return Napi::String::New(e, v.toStringRef());
  if (v.isDevice()) return Napi::String::New(e, v.toDevice().str());
  if (v.isScalar()) {
    at::Scalar s = v.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(e, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(e, static_cast<double>(s.toLong()));
    return Napi::Number::New(e, s.toDouble());
  }
  if (v.isTensorList()) {
    auto l = v.toTensorVector();
    Napi::Array out = Napi::Array::New(e, l.size());
    for (size_t k = 0; k < l.size(); k++) out.Set(static_cast<uint32_t>(k), Napi::Value(e, Wrap(env, l[k])));
    return out;
  }
  if (v.isList() || v.isTuple() || v.isIntList() || v.isDoubleList() || v.isBoolList()) {
    std::vector<c10::IValue> items;
    if (v.isTuple())
      for (const auto& x : v.toTupleRef().elements()) items.push_back(x);
    else
      for (const auto& x : v.toListRef()) items.push_back(x);
    Napi::Array out = Napi::Array::New(e, items.size());
    for (size_t k = 0; k < items.size(); k++) out.Set(static_cast<uint32_t>(k), Napi::Value(e, ToJs(env, items[k])));
    return out;
  }
  throw Napi::TypeError::New(e, std::string("torch.ops: cannot return a value of type ") + v.tagKind());
}

// ---- the integer-division guard --------------------------------------------------------------
// libtorch's CPU kernels divide integers with the machine's divide instruction, which raises
// SIGFPE (killing the process) for INT_MIN / -1 in every integer width: floor/trunc division,
// floor_divide, remainder and fmod. The results are defined (x // -1 == -x, wrapping INT_MIN to
// itself; x % -1 == 0), so a divisor of -1 is answered here and everything else is libtorch's.
// Costs one check, and only when the result is an integer type.
struct DivisorFix {
  at::Tensor minusOne;  // where the divisor is -1 (broadcastable), undefined when none is
  at::Tensor self;      // the dividend as the result type
};

DivisorFix GuardDivisor(const OpInfo& info, std::vector<c10::IValue>& stack) {
  DivisorFix fix;
  if (stack.size() < 2) return fix;
  c10::IValue& self = stack[0];
  c10::IValue& other = stack[1];
  if (info.guard == kDivMode) {
    // div(self, other, *, rounding_mode): only 'floor' and 'trunc' divide integers
    bool mode = false;
    for (size_t k = 2; k < stack.size() && k < info.args.size(); k++)
      if (info.args[k].name == "rounding_mode") mode = stack[k].isString();
    if (!mode) return fix;
  }
  at::ScalarType rt;
  if (self.isTensor() && other.isTensor())
    rt = at::result_type(self.toTensor(), other.toTensor());
  else if (self.isTensor() && other.isScalar())
    rt = at::result_type(self.toTensor(), other.toScalar());
  else if (self.isScalar() && other.isTensor())
    rt = at::result_type(other.toTensor(), self.toScalar());
  else
    return fix;
  if (!at::isIntegralType(rt, /*includeBool=*/false) || rt == at::kByte) return fix;
  if (other.isScalar()) {
    at::Scalar s = other.toScalar();
    if (!(s.isIntegral(false) && s.toLong() == -1)) return fix;
    fix.minusOne = at::scalar_tensor(true, at::kBool);
    other = c10::IValue(at::Scalar(1));
  } else {
    at::Tensor o = other.toTensor();
    at::Tensor m = o.eq(-1);
    if (!m.any().item<bool>()) return fix;
    fix.minusOne = m;
    at::Tensor safe = at::where(m, at::ones_like(o), o);
    if (o.unsafeGetTensorImpl()->is_wrapped_number()) safe.unsafeGetTensorImpl()->set_wrapped_number(true);
    other = safe;
  }
  fix.self = self.isTensor() ? self.toTensor().to(rt) : at::scalar_tensor(self.toScalar(), rt);
  return fix;
}

void ApplyDivisorFix(const OpInfo& info, const DivisorFix& fix, std::vector<c10::IValue>& stack) {
  if (!fix.minusOne.defined() || stack.empty() || !stack[0].isTensor()) return;
  at::Tensor r = stack[0].toTensor();
  at::Tensor alt = info.guard == kRemainder ? at::zeros_like(r) : fix.self.neg().to(r.scalar_type());
  at::Tensor fixed = at::where(fix.minusOne, alt, r);
  if (info.writeReturns.size() > 0 && info.writeReturns[0])
    r.copy_(fixed);
  else
    stack[0] = fixed;
}

// The argument stack of a call, reused: allocating a vector per call shows in the per-op cost.
// A nested call (none is expected: no JS runs inside a kernel) takes a fresh one.
struct StackLease {
  static thread_local std::vector<c10::IValue> cached;
  static thread_local bool busy;
  std::vector<c10::IValue> own;
  std::vector<c10::IValue>* s;
  bool leased;
  StackLease() : leased(!busy) {
    s = leased ? &cached : &own;
    busy = true;
  }
  ~StackLease() {
    s->clear();  // drops the references to arguments and results now
    if (leased) busy = false;
  }
};
thread_local std::vector<c10::IValue> StackLease::cached;
thread_local bool StackLease::busy = false;

// atenCall(id, wrapMask, ...args) -> the result (one value, or an array for several).
// `args` are one value per schema argument, in schema order; `undefined` takes the schema's
// default (or None for an optional). Bit k of `wrapMask` marks a number given for Tensor argument
// k, which becomes a wrapped-number tensor as Python's `x + 1` makes it.
Napi::Value AtenCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int id = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
  auto& ops = Ops();
  if (id < 0 || static_cast<size_t>(id) >= ops.size())
    throw Napi::TypeError::New(env, "torch.ops: unknown operator id");
  const OpInfo& op = ops[id];
  return ::tnapi::Guard(env, "", op.display.c_str(), [&]() -> Napi::Value {
    Args a(info, "", op.display.c_str());
    uint32_t mask = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
    size_t given = info.Length() > 2 ? info.Length() - 2 : 0;
    StackLease lease;
    std::vector<c10::IValue>& stack = *lease.s;
    stack.reserve(op.args.size());
    for (size_t k = 0; k < op.args.size(); k++) {
      const ArgInfo& ai = op.args[k];
      Napi::Value v = k < given ? info[k + 2] : env.Undefined();
      if (v.IsUndefined()) {
        if (ai.hasDefault)
          stack.push_back(ai.dflt);
        else if (ai.optional)
          stack.emplace_back();
        else
          throw Napi::TypeError::New(env, op.display + ": missing required argument '" + ai.name + "'");
        continue;
      }
      if (v.IsNull()) {
        if (!ai.optional && ai.kind != Kind::kGenerator)
          throw Napi::TypeError::New(env, op.display + ": argument '" + ai.name + "' may not be null");
        stack.emplace_back();
        continue;
      }
      stack.push_back(Convert(a, ai, v, k < 32 && ((mask >> k) & 1u), ai.where));
    }
    DivisorFix fix;
    if (op.guard != kNoGuard) fix = GuardDivisor(op, stack);
    CallChecked(op.op, op.plan, &stack);  // the crash guards (aten_guards.h)
    if (op.guard != kNoGuard) ApplyDivisorFix(op, fix, stack);
    size_t nret = stack.size();
    if (nret == 1) return op.writeReturns[0] ? env.Undefined() : Napi::Value(env, ToJs(env, stack[0]));
    Napi::Array out = Napi::Array::New(env, nret);
    for (size_t k = 0; k < nret; k++)
      if (!(k < op.writeReturns.size() && op.writeReturns[k]))
        out.Set(static_cast<uint32_t>(k), Napi::Value(env, ToJs(env, stack[k])));
    return nret == 0 ? env.Undefined() : Napi::Value(out);
  });
}

// atenLoadLibrary(path): dlopen a library that registers operators (torch.ops.load_library). Its
// static initialisers register the ops with the dispatcher; the names looked up before stay cached.
Napi::Value AtenLoadLibrary(const Napi::CallbackInfo& info) {
  Args a(info, "", "torch.ops.loadLibrary");
  std::string path = a.String(0);
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* err = dlerror();
    throw Napi::Error::New(info.Env(), std::string("torch.ops.loadLibrary: ") + (err ? err : "cannot load " + path));
  }
  ByName().clear();  // a name looked up before may have overloads now
  return info.Env().Undefined();
}

const Export kExports[] = {
    {"atenLoadLibrary", AtenLoadLibrary, 1},
    {"atenSchemas", AtenSchemas, 1},
    {"atenNames", AtenNames, 0},
    {"atenCall", AtenCall, 2, kVariadic},
};

}  // namespace

void RegisterAten(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
