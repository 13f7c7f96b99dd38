// nn.parallel.DistributedDataParallel (lib/nn/parallel/distributed.ts) on libtorch's own DDP
// machinery: c10d::Reducer (bucketed gradient allreduce, started from autograd hooks on each
// parameter's grad accumulator, overlapped with the rest of the backward pass and finished by a
// callback the Reducer queues on the autograd engine), c10d::compute_bucket_assignment_by_size,
// c10d::verify_params_across_processes and c10d::broadcast_coalesced. These are the objects
// Python's torch.nn.parallel.DistributedDataParallel drives through its bindings; the TypeScript
// class calls them at the points Python's calls them, so a Node rank and a Python rank issue the
// same collectives in the same order and can train in one group.
//
// Our autograd is libtorch's (native/autograd.cc runs at::Tensor::backward on the default
// engine), so the Reducer's hooks fire inside `backward()` (the JS thread) and `backwardAsync()`
// (a pool thread) alike. The Reducer lives in a ReducerBox behind a Node-API external:
// `ddpReducerDispose` drops it now (removing its hooks), otherwise the GC finalizer does.
#include "args.h"
#include "compat.h"
#include "handle.h"

#if defined(TORCH_NAPI_HAVE_GLOO) || defined(TORCH_NAPI_HAVE_NCCL)
#define TNAPI_HAVE_DDP 1
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include "distributed.h"
#endif

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "";
// Every binding's errors name the class the user called (`DistributedDataParallel: ...`).
#define DDP_FN(fname, ...)                                                                           \
  static Napi::Value fname(const Napi::CallbackInfo& info) {                                         \
    return ::tnapi::Guard(info.Env(), kNamePrefix, "DistributedDataParallel", [&]() -> Napi::Value { \
      ::tnapi::Args a(info, kNamePrefix, "DistributedDataParallel");                                 \
      __VA_ARGS__                                                                                    \
    });                                                                                              \
  }

#ifdef TNAPI_HAVE_DDP
struct ReducerBox {
  static constexpr uint64_t kMagic = 0x746f726368444450ull;  // "torchDDP"
  uint64_t magic = kMagic;
  std::shared_ptr<c10d::Reducer> reducer;
  // The bucket assignment the Reducer was built with (parameter indices, in bucket order).
  std::vector<std::vector<size_t>> buckets;
};

void FinalizeReducer(node_api_basic_env env, void* data, void* hint) {
  // Runs inside the GC: the Reducer's destructor removes its autograd hooks and calls no JS.
  auto* box = static_cast<ReducerBox*>(data);
  box->magic = 0;
  try {
    box->reducer.reset();
  } catch (...) {
    // ~Reducer is noexcept(false); nothing can be reported from a finalizer.
  }
  delete box;
}

// The Reducer behind argument `i`; a disposed one throws.
c10d::Reducer& ReducerAt(const Args& a, size_t i) {
  ReducerBox* box = nullptr;
  if (i < a.Length() && a[i].IsExternal()) {
    auto* p = static_cast<ReducerBox*>(a[i].As<Napi::External<void>>().Data());
    if (p != nullptr && p->magic == ReducerBox::kMagic) box = p;
  }
  if (box == nullptr) a.TypeError(i, "a DDP reducer handle");
  if (!box->reducer) throw Napi::Error::New(a.Env(), a.Name() + ": the DistributedDataParallel was disposed");
  return *box->reducer;
}

ReducerBox* BoxAt(const Args& a, size_t i) {
  if (i < a.Length() && a[i].IsExternal()) {
    auto* p = static_cast<ReducerBox*>(a[i].As<Napi::External<void>>().Data());
    if (p != nullptr && p->magic == ReducerBox::kMagic) return p;
  }
  a.TypeError(i, "a DDP reducer handle");
}

size_t SizeArg(const Args& a, size_t i, const char* what) {
  int64_t v = a.Int(i);
  if (v < 0) a.RangeError(std::string(what) + " must be >= 0, got " + std::to_string(v));
  return static_cast<size_t>(v);
}

// (pg, params) -> checks that every rank has the same number of parameters with the same shapes
// and strides (an allgather and a broadcast); a mismatch throws on every rank.
DDP_FN(ddpVerifyParams, {
  auto pg = ProcessGroupOf(a[0]);
  std::vector<at::Tensor> params = a.TensorList(1);
  if (params.empty()) a.RangeError("expected at least one parameter");
  c10d::verify_params_across_processes(pg, params, {});
  return a.Env().Undefined();
})

// (pg, tensors, bufferBytes, src) -> rank `src`'s values into `tensors` on every rank, coalesced
// in buffers of at most bufferBytes (Python's dist._broadcast_coalesced).
DDP_FN(ddpBroadcastCoalesced, {
  auto pg = ProcessGroupOf(a[0]);
  std::vector<at::Tensor> tensors = a.TensorList(1);
  size_t buffer = SizeArg(a, 2, "bufferBytes");
  int64_t src = a.Int(3);
  if (src < 0 || src >= pg->getSize())
    a.RangeError("src must be a rank of the group (0.." + std::to_string(pg->getSize() - 1) + "), got " +
                 std::to_string(src));
  if (tensors.empty()) return a.Env().Undefined();
  c10::AutoGradMode noGrad(false);
  std::vector<at::Tensor> detached;
  detached.reserve(tensors.size());
  for (auto& t : tensors) detached.push_back(t.detach());
  c10d::broadcast_coalesced(pg, detached, buffer, static_cast<int>(src));
  return a.Env().Undefined();
})

// (pg, params, bucketBytesCap, findUnusedParameters, gradientAsBucketView, capIsDefault) -> a
// reducer handle, built as Python's DDP builds it (_ddp_init_helper) for the same libtorch, so that
// the ranks of a mixed Node/Python group agree on every bucket:
//   - without findUnusedParameters, the first iteration has one bucket (bucketing waits for the
//     buckets' rebuild, which orders them as the first backward produced the gradients);
//   - with it, compute_bucket_assignment_by_size with [first bucket, bucketBytesCap], reversed
//     (gradients come roughly in the reverse order of the parameters);
//   - the first bucket is 1 MiB (dist._DEFAULT_FIRST_BUCKET_BYTES); on libtorch 2.x, a bucketCapMB
//     the user set applies to the first bucket too.
DDP_FN(ddpReducerNew, {
  auto pg = ProcessGroupOf(a[0]);
  std::vector<at::Tensor> params = a.TensorList(1);
  size_t cap = SizeArg(a, 2, "bucketBytesCap");
  bool findUnused = a.Bool(3);
  bool asView = a.Bool(4);
  bool capIsDefault = a.Bool(5);
  if (params.empty()) a.RangeError("expected at least one parameter");
  for (size_t i = 0; i < params.size(); i++)
    if (!params[i].requires_grad())
      a.RangeError("parameter " + std::to_string(i) + " does not require grad (pass only trainable parameters)");
  const size_t kFirst = static_cast<size_t>(c10d::kDefaultFirstBucketBytes);
#if TNAPI_TORCH_AT_LEAST(2, 0)
  const size_t first = capIsDefault ? kFirst : cap;
  std::vector<size_t> limits0 = capIsDefault ? std::vector<size_t>{kFirst, cap} : std::vector<size_t>{cap};
#else
  (void)capIsDefault;  // 1.x: the first bucket is always 1 MiB
  const size_t first = kFirst;
  std::vector<size_t> limits0{kFirst, cap};
#endif
  if (!findUnused) limits0 = {static_cast<size_t>(INT64_MAX)};  // Python's [sys.maxsize]
  std::vector<bool> sparse(params.size(), false);
  auto assigned = c10d::compute_bucket_assignment_by_size(params, limits0, sparse, {}, {});
  std::vector<std::vector<size_t>> buckets = std::get<0>(assigned);
  std::vector<size_t> limits = std::get<1>(assigned);
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(limits.begin(), limits.end());
  auto box = std::make_unique<ReducerBox>();
  box->buckets = buckets;
  box->reducer =
      std::make_shared<c10d::Reducer>(params, buckets, limits, pg, sparse, static_cast<int64_t>(cap), findUnused,
                                      asView, std::unordered_map<size_t, std::string>{}, static_cast<int64_t>(first));
  napi_value result;
  if (napi_create_external(a.Env(), box.get(), FinalizeReducer, nullptr, &result) != napi_ok)
    throw Napi::Error::New(a.Env(), a.Name() + ": could not create a reducer handle");
  box.release();
  return Napi::Value(a.Env(), result);
})

// (r) -> the bucket assignment the reducer was built with (parameter indices per bucket; the
// Reducer rebuilds its buckets once, at the second forward, and keeps that assignment to itself).
DDP_FN(ddpBucketIndices, {
  ReducerBox* box = BoxAt(a, 0);
  Napi::Array out = Napi::Array::New(a.Env(), box->buckets.size());
  for (size_t b = 0; b < box->buckets.size(); b++) {
    Napi::Array idx = Napi::Array::New(a.Env(), box->buckets[b].size());
    for (size_t k = 0; k < box->buckets[b].size(); k++)
      idx.Set(static_cast<uint32_t>(k), Napi::Number::New(a.Env(), static_cast<double>(box->buckets[b][k])));
    out.Set(static_cast<uint32_t>(b), idx);
  }
  return out;
})

DDP_FN(ddpPrepareForForward, {
  ReducerAt(a, 0).prepare_for_forward();
  return a.Env().Undefined();
})

// (r) -> whether the buckets were rebuilt (once, in the second iteration, from the order in which
// the first backward produced gradients; rank 0's order is broadcast so all ranks agree).
DDP_FN(ddpRebuildBuckets, { return Napi::Boolean::New(a.Env(), ReducerAt(a, 0).rebuild_buckets()); })

// (r, outputs) -> the reducer expects the autograd hooks of the coming backward; with
// findUnusedParameters it walks the graph from `outputs` to find the parameters it will not reach.
DDP_FN(ddpPrepareForBackward, {
  c10d::Reducer& r = ReducerAt(a, 0);
  std::vector<at::Tensor> outputs = a.TensorList(1);
  r.prepare_for_backward(outputs);
  return a.Env().Undefined();
})

DDP_FN(ddpReducerDispose, {
  ReducerBox* box = BoxAt(a, 0);
  std::shared_ptr<c10d::Reducer> r = std::move(box->reducer);
  r.reset();
  return a.Env().Undefined();
})
#else
// Built without torch.distributed (no Gloo headers): every binding says so.
Napi::Value Unavailable(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(),
                         "DistributedDataParallel: this build of torch-napi has no torch.distributed "
                         "(libtorch's c10d Gloo headers were not found when it was built)");
}
#define ddpVerifyParams Unavailable
#define ddpBroadcastCoalesced Unavailable
#define ddpReducerNew Unavailable
#define ddpBucketIndices Unavailable
#define ddpPrepareForForward Unavailable
#define ddpRebuildBuckets Unavailable
#define ddpPrepareForBackward Unavailable
#define ddpReducerDispose Unavailable
#endif

const Export kExports[] = {
    {"ddpVerifyParams", ddpVerifyParams, 2},
    {"ddpBroadcastCoalesced", ddpBroadcastCoalesced, 4},
    {"ddpReducerNew", ddpReducerNew, 6},
    {"ddpBucketIndices", ddpBucketIndices, 1},
    {"ddpPrepareForForward", ddpPrepareForForward, 1},
    {"ddpRebuildBuckets", ddpRebuildBuckets, 1},
    {"ddpPrepareForBackward", ddpPrepareForBackward, 2},
    {"ddpReducerDispose", ddpReducerDispose, 1},
};

}  // namespace

void RegisterDdp(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
