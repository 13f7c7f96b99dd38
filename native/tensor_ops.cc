// Tensor math, shape and conversion ops: one thin binding per ATen op. Argument meaning and
// validation live in lib/tensor.ts; here we only convert and call.
#include "args.h"
#include "handle.h"
#include "workers.h"

#include <cstring>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "Tensor.";

// An op whose operand may be a tensor or a scalar gets two bindings, `op` and `opScalar`:
// small-tensor handles are JS numbers, so the native side cannot tell a handle from a scalar
// by its type; the JS method picks the binding.
#define OPERAND_OP(fname, tensorExpr, scalarExpr)             \
  TNAPI_FN(fname, {                                           \
    const at::Tensor& self = a.Tensor(0);                     \
    return Napi::Value(a.Env(), Wrap(a.Env(), (tensorExpr))); \
  })                                                          \
  TNAPI_FN(fname##Scalar, {                                   \
    const at::Tensor& self = a.Tensor(0);                     \
    return Napi::Value(a.Env(), Wrap(a.Env(), (scalarExpr))); \
  })
#define OPERAND_OP_(fname, tensorExpr, scalarExpr) \
  TNAPI_FN(fname, {                                \
    at::Tensor self = a.Mutable(0);                \
    tensorExpr;                                    \
    return a.Env().Undefined();                    \
  })                                               \
  TNAPI_FN(fname##Scalar, {                        \
    at::Tensor self = a.Mutable(0);                \
    scalarExpr;                                    \
    return a.Env().Undefined();                    \
  })
#define BOTH(name, ...) \
  {#name, name, __VA_ARGS__}, { #name "Scalar", name##Scalar, __VA_ARGS__ }

// ---- arithmetic -----------------------------------------------------------------------------
// Python passes a number to add/sub/mul/div as a "wrapped number" 0-dim tensor (the tensor
// overload, with scalar type-promotion rules): doing the same gives PyTorch's grad_fn names
// (AddBackward0, not AddBackward1) and identical numerics.
at::Tensor Wrapped(const at::Scalar& s) {
  at::Tensor t = at::scalar_to_tensor(s);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}
OPERAND_OP(add, self.add(a.Tensor(1), a.Has(2) ? a.Scalar(2) : at::Scalar(1)),
           self.add(Wrapped(a.Scalar(1)), a.Has(2) ? a.Scalar(2) : at::Scalar(1)))
OPERAND_OP(sub, self.sub(a.Tensor(1), a.Has(2) ? a.Scalar(2) : at::Scalar(1)),
           self.sub(Wrapped(a.Scalar(1)), a.Has(2) ? a.Scalar(2) : at::Scalar(1)))
OPERAND_OP(mul, self.mul(a.Tensor(1)), self.mul(Wrapped(a.Scalar(1))))
static c10::optional<c10::string_view> RoundingMode(const Args& a, size_t i, std::string& storage) {
  if (!a.Has(i)) return c10::nullopt;
  storage = a.String(i);
  return c10::string_view(storage);
}
thread_local std::string modeStorage;
// Integer division that traps. libtorch's CPU kernels divide integers with the machine's divide
// instruction, which raises SIGFPE (killing the process) for INT_MIN / -1 in every integer width:
// `div(x, -1, 'floor' | 'trunc')` and `remainder(x, -1)`. The mathematical results are defined, and
// are what PyTorch gives for every other value: x // -1 == -x (two's complement wraps INT_MIN to
// itself, as NumPy and C++'s wrapping negation) and x % -1 == 0. Divisors equal to -1 are answered
// here; everything else (including division by zero, which libtorch refuses with an error) is
// libtorch's. The check costs one comparison for a scalar divisor, one eq+any for a tensor divisor,
// and only for integer results.
enum class IntDiv { kDiv, kRemainder };
at::Tensor DivideGuarded(const at::Tensor& self, const at::Tensor& other, c10::optional<c10::string_view> mode,
                         IntDiv op) {
  auto run = [&](const at::Tensor& d) { return op == IntDiv::kRemainder ? self.remainder(d) : self.div(d, mode); };
  at::ScalarType rt = at::result_type(self, other);
  bool integral = at::isIntegralType(rt, /*includeBool=*/false);
  if (!integral || (op == IntDiv::kDiv && !mode) || rt == at::kByte) return run(other);
  at::Tensor minusOne = other.eq(-1);
  if (!minusOne.any().item<bool>()) return run(other);
  at::Tensor safe = run(at::where(minusOne, at::ones_like(other), other));
  at::Tensor alt = op == IntDiv::kRemainder ? at::zeros_like(safe) : self.to(rt).neg();
  return at::where(minusOne, alt, safe);
}
at::Tensor DivideGuarded(const at::Tensor& self, const at::Scalar& other, c10::optional<c10::string_view> mode,
                         IntDiv op) {
  if (other.isIntegral(false) && other.toLong() == -1 && at::isIntegralType(self.scalar_type(), false) &&
      self.scalar_type() != at::kByte && (op == IntDiv::kRemainder || mode)) {
    return op == IntDiv::kRemainder ? at::zeros_like(self) : self.neg();
  }
  return op == IntDiv::kRemainder ? self.remainder(other) : self.div(Wrapped(other), mode);
}
// Without a rounding mode, the plain overload (DivBackward0, as Python's `x / y`).
OPERAND_OP(div,
           a.Has(2) ? DivideGuarded(self, a.Tensor(1), RoundingMode(a, 2, modeStorage), IntDiv::kDiv)
                    : self.div(a.Tensor(1)),
           a.Has(2) ? DivideGuarded(self, a.Scalar(1), RoundingMode(a, 2, modeStorage), IntDiv::kDiv)
                    : self.div(Wrapped(a.Scalar(1))))
OPERAND_OP(pow, self.pow(a.Tensor(1)), self.pow(a.Scalar(1)))
OPERAND_OP(remainder, DivideGuarded(self, a.Tensor(1), c10::nullopt, IntDiv::kRemainder),
           DivideGuarded(self, a.Scalar(1), c10::nullopt, IntDiv::kRemainder))
TNAPI_TENSOR_FN(matmul, a.Tensor(0).matmul(a.Tensor(1)))

TNAPI_FN(allclose, {
  return Napi::Boolean::New(a.Env(), a.Tensor(0).allclose(a.Tensor(1), a.Number(2), a.Number(3), a.BoolOr(4, false)));
})
TNAPI_FN(equal, { return Napi::Boolean::New(a.Env(), a.Tensor(0).equal(a.Tensor(1))); })
OPERAND_OP(maskedFill, self.masked_fill(a.Tensor(1), a.Tensor(2)), self.masked_fill(a.Tensor(1), a.Scalar(2)))
// where(cond, x, y, kinds): bit 0 of kinds = x is a tensor, bit 1 = y is a tensor
TNAPI_FN(where, {
  const at::Tensor& cond = a.Tensor(0);
  int64_t kinds = a.Int(3);
  bool t1 = kinds & 1, t2 = kinds & 2;
  at::Tensor r = t1 && t2 ? at::where(cond, a.Tensor(1), a.Tensor(2))
                 : t1     ? at::where(cond, a.Tensor(1), a.Scalar(2))
                 : t2     ? at::where(cond, a.Scalar(1), a.Tensor(2))
                          : at::where(cond, a.Scalar(1), a.Scalar(2));
  return Napi::Value(a.Env(), Wrap(a.Env(), std::move(r)));
})

// ---- unary ----------------------------------------------------------------------------------
#define UNARY(fname, method) TNAPI_TENSOR_FN(fname, a.Tensor(0).method())
UNARY(log1p, log1p)
UNARY(expm1, expm1)
UNARY(round, round)
TNAPI_FN(gelu, {
  std::string approx = a.Has(1) ? a.String(1) : std::string("none");
  return Napi::Value(a.Env(), Wrap(a.Env(), at::gelu(a.Tensor(0), approx)));
})
TNAPI_TENSOR_FN(softmax, a.Tensor(0).softmax(a.Int(1), a.OptDtype(2)))
TNAPI_TENSOR_FN(logSoftmax, a.Tensor(0).log_softmax(a.Int(1), a.OptDtype(2)))
// clamp(self, min, max, tensors): tensors = min/max are tensors (or undefined), else scalars
TNAPI_FN(clamp, {
  const at::Tensor& self = a.Tensor(0);
  at::Tensor r;
  if (a.Bool(3)) {
    r = self.clamp(a.OptTensor(1), a.OptTensor(2));
  } else {
    c10::optional<at::Scalar> lo, hi;
    if (a.Has(1)) lo = a.Scalar(1);
    if (a.Has(2)) hi = a.Scalar(2);
    r = self.clamp(lo, hi);
  }
  return Napi::Value(a.Env(), Wrap(a.Env(), std::move(r)));
})
TNAPI_TENSOR_FN(norm, a.Has(2) ? at::norm(a.Tensor(0), a.Scalar(1), a.IntList(2), a.BoolOr(3, false))
                               : at::norm(a.Tensor(0), a.Scalar(1)))

// matmulAsync(a, b) -> Promise<[a @ b]> (workers.h)
TNAPI_ASYNC_FN(matmulAsync, {
  at::Tensor x = a.Tensor(0), y = a.Tensor(1);
  return [x, y] { return std::vector<at::Tensor>{at::matmul(x, y)}; };
})

// ---- in place (return nothing: the JS method returns `this`) --------------------------------
OPERAND_OP_(add_, self.add_(a.Tensor(1), a.Has(2) ? a.Scalar(2) : at::Scalar(1)),
            self.add_(a.Scalar(1), a.Has(2) ? a.Scalar(2) : at::Scalar(1)))
OPERAND_OP_(sub_, self.sub_(a.Tensor(1), a.Has(2) ? a.Scalar(2) : at::Scalar(1)),
            self.sub_(a.Scalar(1), a.Has(2) ? a.Scalar(2) : at::Scalar(1)))
OPERAND_OP_(mul_, self.mul_(a.Tensor(1)), self.mul_(a.Scalar(1)))
OPERAND_OP_(div_, self.div_(a.Tensor(1)), self.div_(a.Scalar(1)))
OPERAND_OP_(fill_, self.fill_(a.Tensor(1)), self.fill_(a.Scalar(1)))
OPERAND_OP_(maskedFill_, self.masked_fill_(a.Tensor(1), a.Tensor(2)), self.masked_fill_(a.Tensor(1), a.Scalar(2)))
TNAPI_FN(zero_, {
  a.Mutable(0).zero_();
  return a.Env().Undefined();
})
TNAPI_FN(copy_, {
  a.Mutable(0).copy_(a.Tensor(1));
  return a.Env().Undefined();
})
TNAPI_FN(clamp_, {
  c10::optional<at::Scalar> lo, hi;
  if (a.Has(1)) lo = a.Scalar(1);
  if (a.Has(2)) hi = a.Scalar(2);
  a.Mutable(0).clamp_(lo, hi);
  return a.Env().Undefined();
})
TNAPI_FN(uniform_, {
  a.Mutable(0).uniform_(a.Number(1), a.Number(2));
  return a.Env().Undefined();
})
TNAPI_FN(normal_, {
  a.Mutable(0).normal_(a.Number(1), a.Number(2));
  return a.Env().Undefined();
})

// ---- shape ----------------------------------------------------------------------------------
TNAPI_TENSOR_FN(reshape, a.Tensor(0).reshape(a.IntList(1)))
TNAPI_TENSOR_FN(view, a.Tensor(0).view(a.IntList(1)))
TNAPI_TENSOR_FN(flatten, a.Tensor(0).flatten(a.IntOr(1, 0), a.IntOr(2, -1)))
TNAPI_TENSOR_FN(squeeze, a.Has(1) ? a.Tensor(0).squeeze(a.Int(1)) : a.Tensor(0).squeeze())
TNAPI_TENSOR_FN(unsqueeze, a.Tensor(0).unsqueeze(a.Int(1)))
TNAPI_TENSOR_FN(permute, a.Tensor(0).permute(a.IntList(1)))
TNAPI_TENSOR_FN(transpose, a.Tensor(0).transpose(a.Int(1), a.Int(2)))
TNAPI_TENSOR_FN(t, a.Tensor(0).t())
TNAPI_TENSOR_FN(expand, a.Tensor(0).expand(a.IntList(1)))
TNAPI_TENSOR_FN(contiguous, a.Tensor(0).contiguous())
TNAPI_TENSOR_FN(narrow, a.Tensor(0).narrow(a.Int(1), a.Int(2), a.Int(3)))
TNAPI_TENSOR_FN(select, a.Tensor(0).select(a.Int(1), a.Int(2)))
TNAPI_TENSOR_FN(slice, a.Tensor(0).slice(a.Int(1), a.OptInt(2), a.OptInt(3), a.IntOr(4, 1)))
TNAPI_TENSOR_FN(asStrided, a.Tensor(0).as_strided(a.IntList(1), a.IntList(2), a.IntOr(3, 0)))
TNAPI_FN(index, {  // advanced indexing with a list of (tensor | null)
  Napi::Value v = a[1];
  if (!v.IsArray()) a.TypeError(1, "an array of Tensors or nulls");
  Napi::Array arr = v.As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> idx;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value e = arr[k];
    if (e.IsNull() || e.IsUndefined()) {
      idx.push_back(c10::nullopt);
    } else {
      bool stale;
      TensorBox* box = Unwrap(a.Env(), e, &stale);
      if (box == nullptr || !box->t.defined())
        throw Napi::TypeError::New(a.Env(), "index: index " + std::to_string(k) + " is not a live Tensor");
      if (box->writers != 0 || StorageFlight(box->t) == 2)
        ThrowInUse(a.Env(), a.Name(), "using it");  // see TensorBox::writers
      idx.push_back(box->t);
    }
  }
  return Napi::Value(a.Env(), Wrap(a.Env(), a.Tensor(0).index(idx)));
})

Napi::Value TensorArray(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array out = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); k++) out.Set(static_cast<uint32_t>(k), Napi::Value(env, Wrap(env, ts[k])));
  return out;
}
TNAPI_FN(chunk, { return TensorArray(a.Env(), a.Tensor(0).chunk(a.Int(1), a.IntOr(2, 0))); })
TNAPI_FN(split, {
  const at::Tensor& self = a.Tensor(0);
  int64_t dim = a.IntOr(2, 0);
  if (a[1].IsArray()) return TensorArray(a.Env(), self.split_with_sizes(a.IntList(1), dim));
  return TensorArray(a.Env(), self.split(a.Int(1), dim));
})
TNAPI_FN(unbind, { return TensorArray(a.Env(), a.Tensor(0).unbind(a.IntOr(1, 0))); })
TNAPI_TENSOR_FN(cat, at::cat(a.TensorList(0), a.IntOr(1, 0)))
TNAPI_TENSOR_FN(stack, at::stack(a.TensorList(0), a.IntOr(1, 0)))

// ---- conversion -----------------------------------------------------------------------------
// to(self, dtype?, device?, copy?)
TNAPI_FN(to, {
  const at::Tensor& self = a.Tensor(0);
  at::TensorOptions o = at::TensorOptions().dtype(a.Has(1) ? a.Dtype(1) : self.scalar_type());
  o = o.device(a.Has(2) ? a.Device(2) : self.device());
  return Napi::Value(a.Env(), Wrap(a.Env(), self.to(o, /*non_blocking=*/false, /*copy=*/a.BoolOr(3, false))));
})
TNAPI_TENSOR_FN(clone, a.Tensor(0).clone())
TNAPI_TENSOR_FN(detach, a.Tensor(0).detach())

// ---- reading --------------------------------------------------------------------------------
// [dtypeCode, device, requiresGrad, ...shape] in one call: what a JS Tensor caches.
TNAPI_FN(shape, {
  const at::Tensor& t = a.Meta(0);
  Napi::Array shape = Napi::Array::New(a.Env(), t.dim());
  for (int64_t k = 0; k < t.dim(); k++) shape.Set(static_cast<uint32_t>(k), static_cast<double>(t.size(k)));
  return shape;
})
TNAPI_FN(dtype, { return Napi::Number::New(a.Env(), DtypeCode(a.Meta(0).scalar_type())); })
TNAPI_FN(device, { return Napi::String::New(a.Env(), a.Meta(0).device().str()); })
TNAPI_FN(isContiguous, { return Napi::Boolean::New(a.Env(), a.Meta(0).is_contiguous()); })
TNAPI_FN(stride, {
  const at::Tensor& t = a.Meta(0);
  Napi::Array out = Napi::Array::New(a.Env(), t.dim());
  for (int64_t k = 0; k < t.dim(); k++) out.Set(static_cast<uint32_t>(k), static_cast<double>(t.stride(k)));
  return out;
})

TNAPI_FN(item, {
  const at::Tensor& t = a.Tensor(0);
  if (t.numel() != 1)
    throw TorchError(a.Env(), "a Tensor with " + std::to_string(t.numel()) + " elements cannot be converted to Scalar");
  at::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(a.Env(), s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(a.Env(), static_cast<double>(s.toLong()));
  return Napi::Number::New(a.Env(), s.toDouble());
})

// A new TypedArray holding a copy of `nbytes` at `src`. napi_create_buffer_copy allocates without
// zero-filling (a 4 MB ArrayBuffer is zeroed first, which tripled the cost of data()); its memory
// is used when suitably aligned for the element type.
Napi::Value CopyToTypedArray(napi_env env, const void* src, size_t nbytes, napi_typedarray_type type, size_t count) {
  napi_value nodeBuf, ab;
  void* copied = nullptr;
  size_t offset = 0;
  size_t align = count ? nbytes / count : 1;
  bool viaBuffer = nbytes > 0 && napi_create_buffer_copy(env, nbytes, src, &copied, &nodeBuf) == napi_ok &&
                   napi_get_typedarray_info(env, nodeBuf, nullptr, nullptr, nullptr, &ab, &offset) == napi_ok &&
                   offset % align == 0;
  if (!viaBuffer) {
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, nbytes);
    if (nbytes) std::memcpy(buf.Data(), src, nbytes);
    ab = buf;
    offset = 0;
  }
  napi_value out;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, count, ab, offset, &out), Napi::Value());
  return Napi::Value(env, out);
}

// A copy of the values as a TypedArray of the matching element type (float16/bfloat16 become
// Float32Array, bool becomes Uint8Array; lib/tensor.ts maps them).
TNAPI_FN(data, {
  at::Tensor t = a.Tensor(0).detach();
  if (!t.device().is_cpu()) t = t.cpu();
  at::ScalarType st = t.scalar_type();
  if (st == at::kHalf || st == at::kBFloat16) t = t.to(at::kFloat);
  t = t.contiguous();
  size_t nbytes = t.numel() * t.element_size();
  napi_typedarray_type tt;
  switch (t.scalar_type()) {
    case at::kFloat: tt = napi_float32_array; break;
    case at::kDouble: tt = napi_float64_array; break;
    case at::kLong: tt = napi_bigint64_array; break;
    case at::kInt: tt = napi_int32_array; break;
    case at::kShort: tt = napi_int16_array; break;
    case at::kChar: tt = napi_int8_array; break;
    case at::kByte:
    case at::kBool: tt = napi_uint8_array; break;
    default: throw TorchError(a.Env(), std::string("data(): unsupported dtype ") + c10::toString(st));
  }
  return CopyToTypedArray(a.Env(), t.data_ptr(), nbytes, tt, t.numel());
})

// The raw bytes of the (contiguous, CPU) values, any dtype: for writing checkpoints.
TNAPI_FN(rawBytes, {
  at::Tensor t = a.Tensor(0).detach();
  if (!t.device().is_cpu()) t = t.cpu();
  t = t.contiguous();
  size_t nbytes = t.numel() * t.element_size();
  return CopyToTypedArray(a.Env(), t.data_ptr(), nbytes, napi_uint8_array, nbytes);
})

const Export kExports[] = {
    BOTH(add, 2, 3),
    BOTH(sub, 2, 3),
    BOTH(mul, 2),
    BOTH(div, 2, 3),
    BOTH(pow, 2),
    BOTH(remainder, 2),
    {"matmul", matmul, 2},
    {"allclose", allclose, 5},
    {"equal", equal, 2},
    BOTH(maskedFill, 3),
    {"where", where, 4},
    {"log1p", log1p, 1},
    {"expm1", expm1, 1},
    {"round", round, 1},
    {"gelu", gelu, 1, 2},
    {"softmax", softmax, 2, 3},
    {"logSoftmax", logSoftmax, 2, 3},
    {"clamp", clamp, 4},
    {"norm", norm, 2, 4},
    {"matmulAsync", matmulAsync, 2},
    BOTH(add_, 2, 3),
    BOTH(sub_, 2, 3),
    BOTH(mul_, 2),
    BOTH(div_, 2),
    BOTH(fill_, 2),
    BOTH(maskedFill_, 3),
    {"zero_", zero_, 1},
    {"copy_", copy_, 2},
    {"clamp_", clamp_, 3},
    {"uniform_", uniform_, 3},
    {"normal_", normal_, 3},
    {"reshape", reshape, 2},
    {"view", view, 2},
    {"flatten", flatten, 3},
    {"squeeze", squeeze, 1, 2},
    {"unsqueeze", unsqueeze, 2},
    {"permute", permute, 2},
    {"transpose", transpose, 3},
    {"t", t, 1},
    {"expand", expand, 2},
    {"contiguous", contiguous, 1},
    {"narrow", narrow, 4},
    {"select", select, 3},
    {"slice", slice, 5},
    {"asStrided", asStrided, 3, 4},
    {"rawBytes", rawBytes, 1},
    {"index", index, 2},
    {"chunk", chunk, 3},
    {"split", split, 3},
    {"unbind", unbind, 2},
    {"cat", cat, 2},
    {"stack", stack, 2},
    {"to", to, 4},
    {"clone", clone, 1},
    {"detach", detach, 1},
    {"shape", shape, 1},
    {"dtype", dtype, 1},
    {"device", device, 1},
    {"isContiguous", isContiguous, 1},
    {"stride", stride, 1},
    {"item", item, 1},
    {"data", data, 1},
};

}  // namespace

void RegisterTensorOps(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
