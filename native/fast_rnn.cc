// The fused CPU inference kernel for the recurrent layers (fast_rnn.h).
//
// It follows libtorch's native CPU algorithm (ATen/native/RNN.cpp: FullLayer, PackedLayer,
// ReversedPackedLayer and the LSTM / GRU / simple cells) operation for operation, in the same order
// of additions, so that results agree to float rounding. Layout: every tensor is row-major; a
// "row" is one (time step, batch element) pair of the input / output, in the input's storage order
// (time-major, batch-major with batchFirst, or a packed sequence's data).
#include "fast_rnn.h"

#include <ATen/EmptyTensor.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <type_traits>

#include "blas.h"
#include "fast_path.h"
#include "fast_rnn_ops.h"
#include "parallel.h"

namespace tnapi {
namespace {

// ---------------------------------------------------------------------------------------------
// GEMM. C (m x n, row stride ldc) = A (m x k, row stride lda) . W^T, W being a row-major (n x k)
// weight. Three ways: a plain loop over a transposed copy of W (tiny m: no call overhead), the
// Fortran BLAS that libtorch itself loaded (sgemm_ / dgemm_, blas.h), else at::mm_out.

// GEMMs of at most this many rows use the plain loop whatever the weight's size; with a weight of at
// most kMaxLoopElements elements (its transpose stays in L1/L2) the register-tiled loop runs at any
// row count (measured with the LSTM 10->20 x2 benchmark, against BLAS from 17 rows on: the whole
// call 5-10% faster at 32-256 rows, no call overhead, no packing).
constexpr int64_t kLoopRows = 16;
constexpr int64_t kMaxLoopElements = 1 << 14;
bool UseLoop(int64_t m, int64_t n, int64_t k) { return m <= kLoopRows || n * k <= kMaxLoopElements; }

// Output columns per register tile; the transposes the loop reads have their rows padded with zeros
// to a multiple of it.
constexpr int64_t kTileCols = 16;
int64_t PaddedCols(int64_t n) { return (n + kTileCols - 1) / kTileCols * kTileCols; }

template <typename S>
struct Weight {
  const S* w;   // (n x k), row-major
  const S* wt;  // its transpose (k x ldw, zero-padded columns) when the plain loop runs, else null
  int64_t n, k, ldw;
};

// C = A . Wt (Wt is k x ldw): tiles of R rows by W * kTileCols columns held in registers, each
// output summed in the order q = 0, 1, ..., k-1 (no reassociation). `cols` of the tile's columns
// are stored.
template <typename S, int R, int W>
TNAPI_INLINE void LoopTile(int64_t k, int64_t cols, const S* __restrict A, int64_t lda, const S* __restrict wt,
                           int64_t ldw, S* __restrict C, int64_t ldc) {
  // 64-byte vectors (one AVX-512 register, two AVX ones, four SSE ones in the baseline clone).
  typedef S V __attribute__((vector_size(64)));
  typedef S VU __attribute__((vector_size(64), aligned(sizeof(S)), may_alias));  // unaligned access
  constexpr int kLanes = static_cast<int>(64 / sizeof(S)), kVecs = W * static_cast<int>(kTileCols) / kLanes;
  V acc[R][kVecs];
  for (int r = 0; r < R; r++) {
    for (int v = 0; v < kVecs; v++) acc[r][v] = V{};
  }
  for (int64_t q = 0; q < k; q++) {
    V w[kVecs];
    for (int v = 0; v < kVecs; v++) w[v] = *reinterpret_cast<const VU*>(wt + q * ldw + v * kLanes);
    for (int r = 0; r < R; r++) {
      const S a = A[r * lda + q];
      for (int v = 0; v < kVecs; v++) acc[r][v] += a * w[v];
    }
  }
  if (cols == kVecs * kLanes) {
    for (int r = 0; r < R; r++) {
      for (int v = 0; v < kVecs; v++) *reinterpret_cast<VU*>(C + r * ldc + v * kLanes) = acc[r][v];
    }
  } else {
    for (int r = 0; r < R; r++) {
      for (int64_t jj = 0; jj < cols; jj++) C[r * ldc + jj] = acc[r][jj / kLanes][jj % kLanes];
    }
  }
}
template <typename S>
TNAPI_INLINE void LoopGemmImpl(int64_t m, int64_t n, int64_t k, const S* A, int64_t lda, const S* wt, int64_t ldw, S* C,
                               int64_t ldc) {
  // Blocks of 4 rows by kTileCols columns (8 rows measured no faster on an AVX-512 Xeon); the last
  // rows one at a time, 4 * kTileCols columns wide (independent accumulators, so that the FMA
  // latency does not serialise a single row).
  constexpr int R = 4, W = 4;
  int64_t i = 0;
  for (; i + R <= m; i += R) {
    for (int64_t j = 0; j < n; j += kTileCols) {
      LoopTile<S, R, 1>(k, std::min(kTileCols, n - j), A + i * lda, lda, wt + j, ldw, C + i * ldc + j, ldc);
    }
  }
  for (; i < m; i++) {
    int64_t j = 0;
    for (; j + W * kTileCols <= n; j += W * kTileCols) {
      LoopTile<S, 1, W>(k, W * kTileCols, A + i * lda, lda, wt + j, ldw, C + i * ldc + j, ldc);
    }
    for (; j < n; j += kTileCols) {
      LoopTile<S, 1, 1>(k, std::min(kTileCols, n - j), A + i * lda, lda, wt + j, ldw, C + i * ldc + j, ldc);
    }
  }
}
TNAPI_VECTOR_CLONES void LoopGemmF(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* wt,
                                   int64_t ldw, float* C, int64_t ldc) {
  LoopGemmImpl(m, n, k, A, lda, wt, ldw, C, ldc);
}
TNAPI_VECTOR_CLONES void LoopGemmD(int64_t m, int64_t n, int64_t k, const double* A, int64_t lda, const double* wt,
                                   int64_t ldw, double* C, int64_t ldc) {
  LoopGemmImpl(m, n, k, A, lda, wt, ldw, C, ldc);
}
void LoopGemm(int64_t m, const float* A, int64_t lda, const Weight<float>& W, float* C, int64_t ldc) {
  LoopGemmF(m, W.n, W.k, A, lda, W.wt, W.ldw, C, ldc);
}
void LoopGemm(int64_t m, const double* A, int64_t lda, const Weight<double>& W, double* C, int64_t ldc) {
  LoopGemmD(m, W.n, W.k, A, lda, W.wt, W.ldw, C, ldc);
}

template <typename S>
void BlasCall(const Blas& b, const int* m, const int* n, const int* k, const S* w, const int* ldw, const S* a,
              const int* lda, S* c, const int* ldc);
template <>
void BlasCall<float>(const Blas& b, const int* m, const int* n, const int* k, const float* w, const int* ldw,
                     const float* a, const int* lda, float* c, const int* ldc) {
  const float one = 1, zero = 0;
  b.s("T", "N", m, n, k, &one, w, ldw, a, lda, &zero, c, ldc);
}
template <>
void BlasCall<double>(const Blas& b, const int* m, const int* n, const int* k, const double* w, const int* ldw,
                      const double* a, const int* lda, double* c, const int* ldc) {
  const double one = 1, zero = 0;
  b.d("T", "N", m, n, k, &one, w, ldw, a, lda, &zero, c, ldc);
}

template <typename S>
void Gemm(int64_t m, const S* A, int64_t lda, const Weight<S>& W, S* C, int64_t ldc) {
  if (m <= 0) return;
  if (W.wt != nullptr) return LoopGemm(m, A, lda, W, C, ldc);
  const Blas& b = LoadedBlas();
  if (b.s != nullptr) {
    // Column-major view: C^T (n x m) = W (as the transpose of a k x n column-major matrix) . A^T.
    // In blocks of rows small enough that OpenBLAS runs each on this thread: its own threads (it
    // starts them from m*n*k = 2^18 on) cost more than they save at these sizes, and the callers
    // already split rows across libtorch's threads.
    const int64_t block = std::max<int64_t>(64, (int64_t{1} << 17) / std::max<int64_t>(1, W.n * W.k));
    const int mi = static_cast<int>(W.n), ki = static_cast<int>(W.k);
    const int ldw = static_cast<int>(W.k), la = static_cast<int>(lda), lc = static_cast<int>(ldc);
    for (int64_t r = 0; r < m; r += block) {
      const int ni = static_cast<int>(std::min(block, m - r));
      BlasCall<S>(b, &mi, &ni, &ki, W.w, &ldw, A + r * lda, &la, C + r * ldc, &lc);
    }
    return;
  }
  const at::TensorOptions opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<S>::value);
  at::Tensor a = at::from_blob(const_cast<S*>(A), {m, W.k}, {lda, 1}, opts);
  at::Tensor w = at::from_blob(const_cast<S*>(W.w), {W.n, W.k}, {W.k, 1}, opts);
  at::Tensor c = at::from_blob(C, {m, W.n}, {ldc, 1}, opts);
  at::mm_out(c, a, w.t());
}

// ---------------------------------------------------------------------------------------------
// Scratch memory, kept per thread (calls run on the JS thread and on the pool threads) and per dtype.
template <typename S>
struct Scratch {
  std::vector<S> proj, layer[2], gates, pre, tc, wtIh, wtHh, wtHr;
};
template <typename S>
Scratch<S>& ThreadScratch() {
  thread_local Scratch<S> s;
  return s;
}
template <typename S>
S* Grow(std::vector<S>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

// The transposes the plain loop reads, cached per thread by content: a weight whose values equal a
// cached copy's (a byte comparison, cheaper than transposing again) reuses its transpose; anything
// else replaces the oldest entry. Content, not identity: a weight changed in place or a new weight
// at a freed one's address can never be served a stale transpose. A transpose stays valid until
// kCachedWeights later misses on this thread; one layer and direction needs at most three.
constexpr size_t kCachedWeights = 32;
constexpr int64_t kMaxCachedElements = 1 << 14;  // an LSTM with hidden size 64: (256 x 64)

template <typename S>
struct CachedWeight {
  std::vector<S> w, wt;
  int64_t n = 0, k = 0;
};
template <typename S>
struct WeightCache {
  CachedWeight<S> entries[kCachedWeights];
  size_t next = 0;
};

// t (k x ldw) = w^T, the columns from n on zero.
template <typename S>
void Transpose(const S* w, int64_t n, int64_t k, int64_t ldw, S* t) {
  std::fill(t, t + k * ldw, S(0));
  for (int64_t j = 0; j < n; j++) {
    for (int64_t q = 0; q < k; q++) t[q * ldw + j] = w[j * k + q];
  }
}

template <typename S>
Weight<S> MakeWeight(const S* w, int64_t n, int64_t k, bool loop, std::vector<S>& buf) {
  Weight<S> W{w, nullptr, n, k, PaddedCols(n)};
  if (!loop) return W;
  const int64_t len = n * k, tlen = k * W.ldw;
  if (len > kMaxCachedElements) {
    S* t = Grow(buf, tlen);
    Transpose(w, n, k, W.ldw, t);
    W.wt = t;
    return W;
  }
  thread_local WeightCache<S> cache;
  for (CachedWeight<S>& e : cache.entries) {
    if (e.n == n && e.k == k && std::memcmp(e.w.data(), w, static_cast<size_t>(len) * sizeof(S)) == 0) {
      W.wt = e.wt.data();
      return W;
    }
  }
  CachedWeight<S>& e = cache.entries[cache.next++ % kCachedWeights];
  e.n = n, e.k = k;
  e.w.assign(w, w + len);
  e.wt.resize(static_cast<size_t>(tlen));
  Transpose(w, n, k, W.ldw, e.wt.data());
  W.wt = e.wt.data();
  return W;
}

// Nonlinearities over arrays, in place. float: exp as Cephes' expf (range reduction and a degree-6
// polynomial, about 1 ulp), written without calls or branches so that the loops vectorise; libtorch
// computes these with SLEEF's vectorised functions (1 ulp) too. double: the C library's.
// lo and hi are -88.376... and 88.376..., passed in opaque (see Bounds) so that GCC does not thread
// the clamped paths into branches, which would stop the loops from vectorising.
TNAPI_INLINE float ExpF(float x, float lo, float hi) {
  x = std::min(std::max(x, lo), hi);  // NaN passes through

  const float fx = x * 1.44269504088896341f + 0.5f;
  const float tr = static_cast<float>(static_cast<int32_t>(fx));
  const float fl = tr - static_cast<float>(tr > fx);  // floor
  const int32_t e = static_cast<int32_t>(fl);
  x = x - fl * 0.693359375f + fl * 2.12194440e-4f;
  const float z = x * x;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * z + x + 1.0f;
  const int32_t bits = (e + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return y * scale;
}

TNAPI_INLINE float TanhF(float x, float lo, float hi) {
  const float e = ExpF(-2.0f * std::fabs(x), lo, hi);
  return std::copysign((1.0f - e) / (1.0f + e), x);
}

// The file is compiled with -fno-trapping-math, without which GCC does not vectorise the selects
// above.

inline void Bounds(float* lo, float* hi) {
  *lo = -88.3762626647949f, *hi = 88.3762626647949f;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(*lo), "+x"(*hi));
#endif
}
TNAPI_VECTOR_CLONES void SigmoidArray(float* __restrict x, int64_t n) {
  float lo, hi;
  Bounds(&lo, &hi);
  for (int64_t j = 0; j < n; j++) x[j] = 1.0f / (1.0f + ExpF(-x[j], lo, hi));
}
TNAPI_VECTOR_CLONES void TanhArray(float* __restrict x, int64_t n) {
  float lo, hi;
  Bounds(&lo, &hi);
  for (int64_t j = 0; j < n; j++) x[j] = TanhF(x[j], lo, hi);
}
void SigmoidArray(double* __restrict x, int64_t n) {
  for (int64_t j = 0; j < n; j++) x[j] = 1.0 / (1.0 + std::exp(-x[j]));
}
void TanhArray(double* __restrict x, int64_t n) {
  for (int64_t j = 0; j < n; j++) x[j] = std::tanh(x[j]);
}

// The LSTM gates of one step for rows [n0, n1), float: per row one pass over its 4H gates (the
// recurrent GEMM's result plus b_hh plus the input projection, then sigmoid for i, f, o and tanh
// for g, one vectorised exp per element: per column, sigmoid is 1 / (1 + exp(-x)) and tanh is
// sign(x) (1 - exp(-2|x|)) / (1 + exp(-2|x|)), the same expressions as SigmoidArray / TanhArray);
// then the cell update, tanh(c) over the block's cells in one flat pass, and h = o * tanh(c).
struct LstmColumns {
  std::vector<int32_t> absMask, signMask;  // per gate column: clears / keeps the sign bit (tanh)
  std::vector<float> scale, one;           // -1 or -2; 0 (sigmoid) or 1 (tanh)
};
const LstmColumns& LstmColumnsFor(int64_t H) {
  thread_local LstmColumns cols;
  thread_local int64_t forH = -1;
  if (forH != H) {
    const size_t G = static_cast<size_t>(4 * H);
    cols.absMask.assign(G, -1), cols.signMask.assign(G, 0), cols.scale.assign(G, -1.0f), cols.one.assign(G, 0.0f);
    for (int64_t j = 2 * H; j < 3 * H; j++) {
      cols.absMask[j] = 0x7fffffff, cols.signMask[j] = INT32_MIN, cols.scale[j] = -2.0f, cols.one[j] = 1.0f;
    }
    forH = H;
  }
  return cols;
}

TNAPI_INLINE void LstmGateRow(int64_t G, float* __restrict g, const float* __restrict bhh, const float* __restrict xg,
                              const int32_t* __restrict absMask, const int32_t* __restrict signMask,
                              const float* __restrict scale, const float* __restrict one, float lo, float hi) {
  for (int64_t j = 0; j < G; j++) {
    const float v = bhh != nullptr ? (g[j] + bhh[j]) + xg[j] : g[j] + xg[j];
    int32_t vb, tb;
    std::memcpy(&vb, &v, sizeof(vb));
    tb = vb & absMask[j];
    float t;
    std::memcpy(&t, &tb, sizeof(t));
    const float e = ExpF(scale[j] * t, lo, hi);
    const float y = (1.0f - one[j] * e) / (1.0f + e);
    int32_t yb;
    std::memcpy(&yb, &y, sizeof(yb));
    yb |= vb & signMask[j];
    std::memcpy(&g[j], &yb, sizeof(yb));
  }
}

TNAPI_VECTOR_CLONES void LstmRowsF(int64_t n0, int64_t n1, int64_t H, float* __restrict gates,
                                   const float* __restrict bhh, const float* __restrict xg0, int64_t xgStride,
                                   float* __restrict c, float* __restrict tc, float* __restrict hv, int64_t ldh,
                                   float* __restrict out, int64_t ldo) {
  const int64_t G = 4 * H;
  const LstmColumns& cols = LstmColumnsFor(H);
  float lo, hi;
  Bounds(&lo, &hi);
  for (int64_t n = n0; n < n1; n++) {
    float* __restrict g = gates + n * G;
    if (bhh != nullptr) {
      LstmGateRow(G, g, bhh, xg0 + n * xgStride, cols.absMask.data(), cols.signMask.data(), cols.scale.data(),
                  cols.one.data(), lo, hi);
    } else {
      LstmGateRow(G, g, nullptr, xg0 + n * xgStride, cols.absMask.data(), cols.signMask.data(), cols.scale.data(),
                  cols.one.data(), lo, hi);
    }
    float* __restrict cn = c + n * H;
    for (int64_t j = 0; j < H; j++) cn[j] = g[H + j] * cn[j] + g[j] * g[2 * H + j];
  }
  const int64_t len = (n1 - n0) * H;
  const float* __restrict cs = c + n0 * H;
  float* __restrict ts = tc + n0 * H;
  for (int64_t j = 0; j < len; j++) ts[j] = TanhF(cs[j], lo, hi);
  for (int64_t n = n0; n < n1; n++) {
    const float* __restrict o = gates + n * G + 3 * H;
    const float* __restrict t = tc + n * H;
    float* __restrict h = hv + n * ldh;
    if (out != nullptr) {
      float* __restrict y = out + n * ldo;
      for (int64_t j = 0; j < H; j++) {
        const float v = o[j] * t[j];
        h[j] = v;
        y[j] = v;
      }
    } else {
      for (int64_t j = 0; j < H; j++) h[j] = o[j] * t[j];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The call, checked.
struct Plan {
  int64_t mode, L, D, N, T, I, H, P, G, rows;
  bool batchFirst, proj, bias;
  size_t stride;                  // parameters per layer and direction
  std::vector<int64_t> b, first;  // rows of each step, and the storage row of its element 0
  int64_t rowStep;                // storage rows between elements n and n+1 of a step
};

bool SameDtype(const at::Tensor& t, at::ScalarType st) { return FastDtype(t) && t.scalar_type() == st; }

using rnnops::Sizes;

c10::optional<Plan> MakePlan(int64_t mode, const at::Tensor& input, const c10::optional<at::Tensor>& batchSizes,
                             const std::vector<at::Tensor>& hx, const std::vector<at::Tensor>& params, bool hasBiases,
                             int64_t layers, bool bidirectional, bool batchFirst) {
  Plan p;
  p.mode = mode, p.L = layers, p.D = bidirectional ? 2 : 1, p.bias = hasBiases;
  if (mode < 0 || mode > 3 || layers < 1 || hx.size() != (mode == 0 ? 2u : 1u)) return c10::nullopt;
  const bool packed = batchSizes.has_value();
  if (input.dim() != (packed ? 2 : 3)) return c10::nullopt;
  p.I = input.size(input.dim() - 1);
  if (packed) {
    const at::Tensor& bs = *batchSizes;
    if (!bs.defined() || !bs.device().is_cpu() || bs.scalar_type() != at::kLong || bs.dim() != 1 ||
        !bs.is_contiguous() || bs.numel() == 0) {
      return c10::nullopt;
    }
    p.T = bs.numel();
    const int64_t* b = bs.data_ptr<int64_t>();
    p.b.assign(b, b + p.T);
    p.first.resize(static_cast<size_t>(p.T));
    int64_t sum = 0;
    for (int64_t t = 0; t < p.T; t++) {
      if (b[t] < 1 || (t > 0 && b[t] > b[t - 1])) return c10::nullopt;
      p.first[static_cast<size_t>(t)] = sum;
      sum += b[t];
    }
    if (sum != input.size(0)) return c10::nullopt;
    p.N = b[0], p.rows = sum, p.rowStep = 1, p.batchFirst = false;
  } else {
    p.batchFirst = batchFirst;
    p.T = input.size(batchFirst ? 1 : 0), p.N = input.size(batchFirst ? 0 : 1);
    p.rows = p.T * p.N;
    p.b.assign(static_cast<size_t>(p.T), p.N);
    p.first.resize(static_cast<size_t>(p.T));
    for (int64_t t = 0; t < p.T; t++) p.first[static_cast<size_t>(t)] = batchFirst ? t : t * p.N;
    p.rowStep = batchFirst ? p.T : 1;
  }
  if (p.T < 1 || p.N < 1 || p.I < 1 || hx[0].dim() != 3) return c10::nullopt;
  p.P = hx[0].size(2);
  p.H = mode == 0 ? (hx[1].dim() == 3 ? hx[1].size(2) : -1) : p.P;
  if (p.P < 1 || p.H < 1) return c10::nullopt;
  p.proj = mode == 0 && p.P != p.H;
  p.G = (mode == 0 ? 4 : mode == 1 ? 3 : 1) * p.H;
  const int64_t LD = p.L * p.D;
  if (!Sizes(hx[0], {LD, p.N, p.P}) || (mode == 0 && !Sizes(hx[1], {LD, p.N, p.H}))) return c10::nullopt;
  p.stride = (hasBiases ? 4u : 2u) + (p.proj ? 1u : 0u);
  if (params.size() != p.stride * static_cast<size_t>(LD)) return c10::nullopt;
  for (int64_t l = 0; l < p.L; l++) {
    for (int64_t d = 0; d < p.D; d++) {
      const size_t k = static_cast<size_t>(l * p.D + d) * p.stride;
      if (!Sizes(params[k], {p.G, l == 0 ? p.I : p.D * p.P}) || !Sizes(params[k + 1], {p.G, p.P})) return c10::nullopt;
      if (hasBiases && (!Sizes(params[k + 2], {p.G}) || !Sizes(params[k + 3], {p.G}))) return c10::nullopt;
      if (p.proj && !Sizes(params[k + p.stride - 1], {p.P, p.H})) return c10::nullopt;
    }
  }
  // BLAS takes int sizes.
  const int64_t big = std::max({p.rows, p.G, p.I, p.D * p.P, p.H});
  if (big > INT_MAX / 8) return c10::nullopt;
  return p;
}

// Multiply-adds per parallel chunk (see Grain): the input projection, and each thread's rows
// through all time steps of one layer and direction. Measured on 2 cores with the LSTM 10->20 x2
// benchmark: splitting the steps from 2^18 on gains at most 1.2x at N = 16-32 on an idle machine
// and loses up to 1.5x when another process holds a core; from 2^20 on (N >= 48 there) it gains
// 1.5-1.7x either way. Splitting the projection from 2^18 on made N = 32 slower at 2 threads than
// at 1 (a fork and join for about 10 us of work).
constexpr int64_t kProjChunk = int64_t{1} << 20;
constexpr int64_t kStepsChunk = int64_t{1} << 20;

// Rows per parallel chunk for `work` multiply-adds per row: at least `chunk` multiply-adds per
// chunk, so that a fork and join (a few microseconds) pays off.
int64_t Grain(int64_t work, int64_t chunk) { return std::max<int64_t>(1, chunk / std::max<int64_t>(1, work)); }

template <typename S>
const S* Data(const at::Tensor& t) {
  return t.data_ptr<S>();
}

template <typename S>
void CopyState(at::Tensor& dst, const at::Tensor& src) {
  if (src.is_contiguous()) {
    std::memcpy(dst.data_ptr<S>(), src.data_ptr<S>(), static_cast<size_t>(src.numel()) * sizeof(S));
  } else {
    dst.copy_(src);
  }
}

void LstmStep(int64_t n0, int64_t n1, int64_t H, float* gates, const float* bhh, const float* xg0, int64_t xgStride,
              float* c, float* tc, float* hv, int64_t ldh, float* out, int64_t ldo) {
  LstmRowsF(n0, n1, H, gates, bhh, xg0, xgStride, c, tc, hv, ldh, out, ldo);
}
void LstmStep(int64_t, int64_t, int64_t, double*, const double*, const double*, int64_t, double*, double*, double*,
              int64_t, double*, int64_t) {}  // not reached: double runs the generic loop

// One layer and direction: `in` (rows x inSize) -> columns [d*P, (d+1)*P) of `out` (rows x D*P); h
// (N x P) and c (N x H) hold the initial states and end holding the final ones.
template <typename S>
void RunDirection(const Plan& p, int64_t d, const S* in, int64_t inSize, const S* const* w, S* out, S* h, S* c) {
  Scratch<S>& sc = ThreadScratch<S>();
  const int64_t G = p.G, H = p.H, P = p.P, DP = p.D * p.P;
  const S* bIh = p.bias ? w[2] : nullptr;
  const S* bHh = p.bias ? w[3] : nullptr;

  // The input projection of every step: proj = in . W_ih^T + b_ih.
  S* proj = Grow(sc.proj, p.rows * G);
  const Weight<S> wIh = MakeWeight(w[0], G, inSize, UseLoop(p.rows, G, inSize), sc.wtIh);
  ParallelFor(0, p.rows, Grain(G * inSize, kProjChunk), [&](int64_t r0, int64_t r1) {
    Gemm(r1 - r0, in + r0 * inSize, inSize, wIh, proj + r0 * G, G);
    if (bIh != nullptr) {
      for (int64_t r = r0; r < r1; r++) {
        S* __restrict x = proj + r * G;
        for (int64_t j = 0; j < G; j++) x[j] += bIh[j];
      }
    }
  });

  const Weight<S> wHh = MakeWeight(w[1], G, P, UseLoop(p.N, G, P), sc.wtHh);
  const Weight<S> wHr = p.proj ? MakeWeight(w[p.stride - 1], P, H, UseLoop(p.N, P, H), sc.wtHr) : Weight<S>{};
  S* gates = Grow(sc.gates, p.N * G);
  S* pre = p.proj ? Grow(sc.pre, p.N * H) : nullptr;  // o * tanh(c) before the projection
  // LSTM: tanh(c) (N x H); GRU: r and z (N x 2H), then n (N x H)
  S* tc = p.mode <= 1 ? Grow(sc.tc, p.N * (p.mode == 0 ? H : 3 * H)) : nullptr;
  const int64_t rowWork = G * P + (p.proj ? H * P : 0) + 8 * G;

  // Rows are independent of each other through time: each thread takes a block of rows for every
  // step (one fork and join per layer and direction). A packed step has rows [0, b[t]).
  const auto steps = [&](int64_t r0, int64_t r1) {
    for (int64_t s = 0; s < p.T; s++) {
      const int64_t t = d == 0 ? s : p.T - 1 - s;
      const int64_t n0 = r0, n1 = std::min(r1, p.b[static_cast<size_t>(t)]);
      if (n1 <= n0) continue;
      const int64_t first = p.first[static_cast<size_t>(t)], step = p.rowStep;
      Gemm(n1 - n0, h + n0 * P, P, wHh, gates + n0 * G, G);
      if (std::is_same<S, float>::value && p.mode == 0) {
        // out + row * DP + d * P for row = first + n * step, n from 0
        S* o0 = out + first * DP + d * P;
        LstmStep(n0, n1, H, gates, bHh, proj + first * G, step * G, c, tc, p.proj ? pre : h, p.proj ? H : P,
                 p.proj ? nullptr : o0, step * DP);
      } else if (p.mode == 1) {
        // GRU: r and z of the block's rows into one array, n into another, so that the sigmoid
        // and the tanh each run over one flat array.
        S* __restrict rz = tc + n0 * 2 * H;
        S* __restrict nn = tc + p.N * 2 * H + n0 * H;
        for (int64_t n = n0; n < n1; n++) {
          const S* __restrict xg = proj + (first + n * step) * G;
          const S* __restrict g = gates + n * G;
          S* __restrict y = rz + (n - n0) * 2 * H;
          if (bHh != nullptr) {
            for (int64_t j = 0; j < 2 * H; j++) y[j] = (g[j] + bHh[j]) + xg[j];
          } else {
            for (int64_t j = 0; j < 2 * H; j++) y[j] = g[j] + xg[j];
          }
        }
        SigmoidArray(rz, (n1 - n0) * 2 * H);
        for (int64_t n = n0; n < n1; n++) {
          const S* __restrict xg = proj + (first + n * step) * G + 2 * H;
          const S* __restrict g = gates + n * G + 2 * H;
          const S* __restrict r = rz + (n - n0) * 2 * H;
          S* __restrict y = nn + (n - n0) * H;
          if (bHh != nullptr) {
            for (int64_t j = 0; j < H; j++) y[j] = xg[j] + (g[j] + bHh[2 * H + j]) * r[j];
          } else {
            for (int64_t j = 0; j < H; j++) y[j] = xg[j] + g[j] * r[j];
          }
        }
        TanhArray(nn, (n1 - n0) * H);
        for (int64_t n = n0; n < n1; n++) {
          const S* __restrict z = rz + (n - n0) * 2 * H + H;
          const S* __restrict y = nn + (n - n0) * H;
          S* __restrict hn = h + n * P;
          for (int64_t j = 0; j < H; j++) hn[j] = (hn[j] - y[j]) * z[j] + y[j];
          std::memcpy(out + (first + n * step) * DP + d * P, hn, static_cast<size_t>(P) * sizeof(S));
        }
      } else if (p.mode == 2) {
        // RNN_TANH: the sums row by row, then tanh over the block's rows as one flat array (G = H).
        for (int64_t n = n0; n < n1; n++) {
          const S* __restrict xg = proj + (first + n * step) * G;
          S* __restrict g = gates + n * G;
          if (bHh != nullptr) {
            for (int64_t j = 0; j < G; j++) g[j] = (g[j] + bHh[j]) + xg[j];
          } else {
            for (int64_t j = 0; j < G; j++) g[j] += xg[j];
          }
        }
        TanhArray(gates + n0 * G, (n1 - n0) * G);
        for (int64_t n = n0; n < n1; n++) {
          std::memcpy(h + n * P, gates + n * G, static_cast<size_t>(P) * sizeof(S));
          std::memcpy(out + (first + n * step) * DP + d * P, gates + n * G, static_cast<size_t>(P) * sizeof(S));
        }
      } else {  // LSTM in double (the C library's exp and tanh, no vectors to gain), RNN_RELU
        for (int64_t n = n0; n < n1; n++) {
          const int64_t row = first + n * step;
          const S* __restrict xg = proj + row * G;
          S* __restrict g = gates + n * G;
          S* __restrict o = out + row * DP + d * P;
          if (bHh != nullptr) {
            for (int64_t j = 0; j < G; j++) g[j] += bHh[j];
          }
          S* __restrict hn = h + n * P;
          switch (p.mode) {
            case 0: {  // LSTM: gates i, f, g, o
              S* __restrict cn = c + n * H;
              S* __restrict hv = p.proj ? pre + n * H : hn;
              for (int64_t j = 0; j < G; j++) g[j] += xg[j];
              SigmoidArray(g, 2 * H);
              TanhArray(g + 2 * H, H);
              SigmoidArray(g + 3 * H, H);
              for (int64_t j = 0; j < H; j++) {
                const S cy = g[H + j] * cn[j] + g[j] * g[2 * H + j];
                cn[j] = cy;
                g[2 * H + j] = cy;
              }
              TanhArray(g + 2 * H, H);
              for (int64_t j = 0; j < H; j++) hv[j] = g[3 * H + j] * g[2 * H + j];
              break;
            }
            default:
              for (int64_t j = 0; j < H; j++) {
                const S v = g[j] + xg[j];
                hn[j] = v < S(0) ? S(0) : v;
              }
              break;
          }
          if (!p.proj) std::memcpy(o, hn, static_cast<size_t>(P) * sizeof(S));
        }
      }
      if (p.proj) {
        Gemm(n1 - n0, pre + n0 * H, H, wHr, h + n0 * P, P);
        for (int64_t n = n0; n < n1; n++) {
          std::memcpy(out + (first + n * step) * DP + d * P, h + n * P, static_cast<size_t>(P) * sizeof(S));
        }
      }
    }
  };
  ParallelFor(0, p.N, Grain(rowWork * p.T, kStepsChunk), steps);
}

template <typename S>
std::vector<at::Tensor> Run(const Plan& p, const at::Tensor& input, const std::vector<at::Tensor>& hx,
                            const std::vector<at::Tensor>& params) {
  const at::TensorOptions opts = input.options();
  const int64_t LD = p.L * p.D, DP = p.D * p.P;
  // CPU results without a trip through the dispatcher (FastDtype admitted CPU tensors only).
  at::Tensor output = input.dim() == 2 ? at::detail::empty_cpu({p.rows, DP}, opts)
                                       : at::detail::empty_cpu({input.size(0), input.size(1), DP}, opts);
  at::Tensor hN = at::detail::empty_cpu({LD, p.N, p.P}, opts);
  at::Tensor cN = p.mode == 0 ? at::Tensor(at::detail::empty_cpu({LD, p.N, p.H}, opts)) : at::Tensor();
  CopyState<S>(hN, hx[0]);
  if (p.mode == 0) CopyState<S>(cN, hx[1]);

  const at::Tensor x = input.is_contiguous() ? input : input.contiguous();
  std::vector<at::Tensor> held;  // contiguous copies of any non-contiguous parameter
  std::vector<const S*> w(params.size());
  for (size_t i = 0; i < params.size(); i++) {
    if (params[i].is_contiguous()) {
      w[i] = Data<S>(params[i]);
    } else {
      held.push_back(params[i].contiguous());
      w[i] = Data<S>(held.back());
    }
  }

  Scratch<S>& sc = ThreadScratch<S>();
  S* hData = hN.data_ptr<S>();
  S* cData = p.mode == 0 ? cN.data_ptr<S>() : nullptr;
  const S* in = Data<S>(x);
  int64_t inSize = p.I;
  for (int64_t l = 0; l < p.L; l++) {
    S* out = l == p.L - 1 ? output.data_ptr<S>() : Grow(sc.layer[l % 2], p.rows * DP);
    for (int64_t d = 0; d < p.D; d++) {
      const int64_t k = l * p.D + d;
      RunDirection<S>(p, d, in, inSize, w.data() + static_cast<size_t>(k) * p.stride, out, hData + k * p.N * p.P,
                      cData == nullptr ? nullptr : cData + k * p.N * p.H);
    }
    in = out;
    inSize = DP;
  }
  if (p.mode == 0) return {output, hN, cN};
  return {output, hN};
}

}  // namespace

c10::optional<std::vector<at::Tensor>> FastRnn(int64_t mode, const at::Tensor& input,
                                               const c10::optional<at::Tensor>& batchSizes,
                                               const std::vector<at::Tensor>& hx, const std::vector<at::Tensor>& params,
                                               bool hasBiases, int64_t layers, double dropout, bool train,
                                               bool bidirectional, bool batchFirst) {
  if (!FastDtype(input) || input.numel() == 0 || (train && dropout > 0 && layers > 1)) return c10::nullopt;
  if (!NoGradNeeded({&input}) || !NoGradNeeded(hx) || !NoGradNeeded(params)) return c10::nullopt;
  const at::ScalarType st = input.scalar_type();
  for (const at::Tensor& t : hx) {
    if (!SameDtype(t, st)) return c10::nullopt;
  }
  for (const at::Tensor& t : params) {
    if (!SameDtype(t, st)) return c10::nullopt;
  }
  c10::optional<Plan> plan =
      MakePlan(mode, input, batchSizes, hx, params, hasBiases, layers, bidirectional, batchFirst);
  if (!plan) return c10::nullopt;
  FastPathHit(FastKernel::kRnn);
  if (st == at::kFloat) return Run<float>(*plan, input, hx, params);
  return Run<double>(*plan, input, hx, params);
}

namespace rnnops {

int64_t PaddedCols(int64_t n) { return tnapi::PaddedCols(n); }
void LoopGemm(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc) {
  LoopGemmF(m, n, k, A, lda, B, ldb, C, ldc);
}
void LstmStep(int64_t n0, int64_t n1, int64_t H, float* gates, const float* bhh, const float* xg0, int64_t xgStride,
              float* c, float* tc, float* hv, int64_t ldh, float* out, int64_t ldo) {
  LstmRowsF(n0, n1, H, gates, bhh, xg0, xgStride, c, tc, hv, ldh, out, ldo);
}

}  // namespace rnnops

}  // namespace tnapi
