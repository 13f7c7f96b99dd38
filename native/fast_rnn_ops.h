// Pieces of the fused recurrent inference kernel (fast_rnn.cc) that the fused LSTM training kernel
// (fast_rnn_train.cc) shares: the register-tiled GEMM loop and the fused LSTM step.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <initializer_list>

#include "vector_clones.h"

namespace tnapi {
namespace rnnops {

// Whether t has exactly these sizes.
inline bool Sizes(const at::Tensor& t, std::initializer_list<int64_t> s) {
  if (t.dim() != static_cast<int64_t>(s.size())) return false;
  int64_t i = 0;
  for (int64_t v : s) {
    if (t.size(i++) != v) return false;
  }
  return true;
}

// The row length, a multiple of the loop's tile width, that LoopGemm's right-hand side is padded to.
int64_t PaddedCols(int64_t n);

// C (m x n, row stride ldc) = A (m x k, row stride lda) . B, B being k x ldb row-major with
// ldb = PaddedCols(n) and zeros in its columns from n on (they are read, never stored). Each output
// is summed in the order q = 0, 1, ..., k-1.
void LoopGemm(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc);

// The inference kernel's fused LSTM gate loop for rows [n0, n1) of one step: gates (rows of 4H) holds
// h_{t-1} . W_hh^T and ends holding the activated gates i, f, g, o of (gates + b_hh) + xg (row n's
// input projection at xg0 + n * xgStride; bhh may be null); c (rows of H) holds c_{t-1} and ends
// holding c_t; tc gets tanh(c_t); h_t = o * tanh(c_t) goes to hv (row stride ldh) and, when out is
// not null, to out (row stride ldo).
void LstmStep(int64_t n0, int64_t n1, int64_t H, float* gates, const float* bhh, const float* xg0, int64_t xgStride,
              float* c, float* tc, float* hv, int64_t ldh, float* out, int64_t ldo);

}  // namespace rnnops
}  // namespace tnapi
