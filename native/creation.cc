// Tensor factories. Shapes, dtypes and sizes were validated in lib/creation.ts; the options
// come as (dtypeCode | undefined, device | undefined) pairs.
#include <ATen/EmptyTensor.h>

#include "args.h"
#include "handle.h"

#include <cstring>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "torch.";

// fromBuffer(typedArray, shape, dtypeOfBytes, targetDtype?, device?): copies the bytes.
TNAPI_FN(fromBuffer, {
  if (!a[0].IsTypedArray()) a.TypeError(0, "a TypedArray");
  Napi::TypedArray ta = a[0].As<Napi::TypedArray>();
  std::vector<int64_t> shape = a.IntList(1);
  at::ScalarType src = a.Dtype(2);
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  size_t itemsize = c10::elementSize(src);
  if (static_cast<size_t>(numel) * itemsize != ta.ByteLength())
    a.RangeError("shape [" + c10::Join(", ", shape) + "] needs " + std::to_string(numel * itemsize) +
                 " bytes, the array has " + std::to_string(ta.ByteLength()));
  at::Tensor t = at::detail::empty_cpu(shape, at::TensorOptions().dtype(src));
  if (ta.ByteLength())
    std::memcpy(t.data_ptr(), static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ByteLength());
  if ((a.Has(3) && a.Dtype(3) != src) || a.Has(4)) {
    at::TensorOptions o = at::TensorOptions().dtype(a.Has(3) ? a.Dtype(3) : src);
    if (a.Has(4)) o = o.device(a.Device(4));
    t = t.to(o);
  }
  return Napi::Value(a.Env(), Wrap(a.Env(), std::move(t)));
})

// (shape, dtype?, device?)
TNAPI_TENSOR_FN(zeros, at::zeros(a.IntList(0), a.Options(1, 2, at::kFloat)))
TNAPI_TENSOR_FN(ones, at::ones(a.IntList(0), a.Options(1, 2, at::kFloat)))
TNAPI_TENSOR_FN(empty, at::empty(a.IntList(0), a.Options(1, 2, at::kFloat)))
TNAPI_TENSOR_FN(rand, at::rand(a.IntList(0), a.Options(1, 2, at::kFloat)))
TNAPI_TENSOR_FN(randn, at::randn(a.IntList(0), a.Options(1, 2, at::kFloat)))
// (shape, fill, dtype?, device?)
TNAPI_TENSOR_FN(full, at::full(a.IntList(0), a.Scalar(1), a.Options(2, 3, at::kFloat)))
// (low, high, shape, dtype?, device?)
TNAPI_TENSOR_FN(randint, at::randint(a.Int(0), a.Int(1), a.IntList(2), a.Options(3, 4, at::kLong)))
// (start, end, step, dtype, device?) — dtype decided in TS (int64 for integral arguments)
TNAPI_TENSOR_FN(arange, at::arange(a.Scalar(0), a.Scalar(1), a.Scalar(2), a.Options(3, 4, at::kFloat)))
TNAPI_TENSOR_FN(linspace, at::linspace(a.Scalar(0), a.Scalar(1), a.Int(2), a.Options(3, 4, at::kFloat)))
TNAPI_TENSOR_FN(eye, at::eye(a.Int(0), a.Int(1), a.Options(2, 3, at::kFloat)))
TNAPI_TENSOR_FN(randperm, at::randperm(a.Int(0), a.Options(1, 2, at::kLong)))
TNAPI_TENSOR_FN(scalarTensor, at::scalar_tensor(a.Scalar(0), a.Options(1, 2, at::kFloat)))

const Export kExports[] = {
    {"fromBuffer", fromBuffer, 3, 5},
    {"zeros", zeros, 1, 3},
    {"ones", ones, 1, 3},
    {"empty", empty, 1, 3},
    {"rand", rand, 1, 3},
    {"randn", randn, 1, 3},
    {"full", full, 2, 4},
    {"randint", randint, 3, 5},
    {"arange", arange, 3, 5},
    {"linspace", linspace, 3, 5},
    {"eye", eye, 2, 4},
    {"randperm", randperm, 1, 3},
    {"scalarTensor", scalarTensor, 1, 3},
};

}  // namespace

void RegisterCreation(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
