// Fused CPU inference kernels for attention (fast_attention.cc): MultiheadAttention and
// scaled_dot_product_attention in one pass over raw buffers, for calls where no gradient can flow
// (fast_path.h). They return false when a call is outside what they cover, and the caller runs
// its reference at:: path instead. Thread-safe: scratch buffers are thread_local, so async calls
// on the libuv pool and the parallel_for workers never share one.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace tnapi {

// One MultiheadAttention call (attention.cc parses it; RunMha is the reference path).
struct MhaCall {
  at::Tensor query, key, value, outW;
  int64_t H;
  bool batched, batchFirst, qkvSame, kvSame, addZeroAttn, training, needWeights, average;
  c10::optional<at::Tensor> inW, inB, qW, kW, vW, biasK, biasV, outB, attnMask, kpm;
  double dropoutP;
};

// The fused MultiheadAttention forward: fills `out` with [output, weights | undefined] and returns
// true, or returns false (out untouched) when the call needs the reference path (grad, dtype,
// device, active dropout, empty sizes).
bool FastMha(const MhaCall& c, std::vector<at::Tensor>* out);

// The fused scaled_dot_product_attention (PyTorch 2 semantics: bool mask true = allowed, float
// mask added, a query row with no allowed key gives 0): true and `out` set, or false.
bool FastSdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const c10::optional<at::Tensor>& mask,
              double dropoutP, bool isCausal, c10::optional<double> scale, at::Tensor* out);

// nn.Linear / F.linear for inference (no gradient, CPU float32/float64, contiguous, a small product):
// out = x . w^T + b as libtorch's addmm computes it (bias rows, then one BLAS GEMM with beta 1),
// without the dispatcher's view/transpose/addmm ops. False when it does not apply.
constexpr int64_t kFastLinearMaxWork = int64_t{1} << 22;  // M*N*K multiply-adds
bool FastLinear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b, at::Tensor* out);

}  // namespace tnapi
