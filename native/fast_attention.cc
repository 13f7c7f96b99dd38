// Fused inference attention (fast_attention.h). The algorithm is attention.cc's reference path
// (PyTorch's multi_head_attention_forward with 2.x mask canonicalisation), but computed on raw
// buffers: the in-projection is one GEMM per packed weight block, scores, masks, softmax and the
// weighted sum run per (batch, head) in tight loops (or small GEMMs at larger sizes), masks are
// read where they lie (never expanded to (N*H, L, S)), and the out-projection is one GEMM.
//
// GEMMs go to oneDNN's sgemm for float products of 2^16 multiply-adds and more when libtorch loaded
// oneDNN (not for F.linear, which stays bit for bit addmm), else to the BLAS libtorch itself loaded
// (sgemm_/dgemm_, blas.h), or to at::mm_out/addmm_ on views of the same buffers when libtorch
// carries its BLAS inside. Score matrices too small for a GEMM call take the loops of TileRows.
#include "fast_attention.h"

#include <ATen/EmptyTensor.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "blas.h"
#include "compat.h"
#include "fast_path.h"
#include "parallel.h"
#include "vector_clones.h"

namespace tnapi {
namespace {

template <class T>
using GemmFn = BlasGemmFn<T>;

template <class T>
GemmFn<T> BlasGemm();
template <>
GemmFn<float> BlasGemm<float>() {
  return LoadedBlas().s;
}
template <>
GemmFn<double> BlasGemm<double>() {
  return LoadedBlas().d;
}

template <class T>
constexpr at::ScalarType kType = at::kFloat;
template <>
constexpr at::ScalarType kType<double> = at::kDouble;

// From this many multiply-adds on, a float GEMM goes to oneDNN's sgemm when libtorch loaded it
// (blas.h). One thread of a Zen 5 EPYC, 2048^3: oneDNN 175 GFLOPS, OpenBLAS 0.3.21 134 with the
// kernels it picks there (Cooperlake) and 85 with its AVX2 ones (OPENBLAS_CORETYPE=Haswell, which
// that machine's environment sets); MultiheadAttention E=256 L=S=128 N=64 78 -> 46 ms per call.
constexpr int64_t kDnnlMinWork = int64_t{1} << 16;

template <class T>
bool RowMajorGemm(bool, int64_t, int64_t, int64_t, const T*, int64_t, const T*, int64_t, T, T*, int64_t) {
  return false;
}
template <>
bool RowMajorGemm<float>(bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float beta, float* C, int64_t ldc) {
  const auto f = LoadedBlas().dnnlSgemm;
  if (f == nullptr || M * N * K < kDnnlMinWork) return false;
  if (f('N', transB ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc) != 0) return false;
  FastPathHit(FastKernel::kOnednnGemm);
  return true;
}

// Row-major C (M x N, ldc) = A (M x K, lda) * op(B) + beta * C, where op(B) = B^T for B (N x K, ldb)
// when transB, else B (K x N, ldb). beta is 0 (C is not read) or 1. onednn: whether oneDNN may run
// it (the attention kernels); false keeps the BLAS that libtorch's own mm/addmm call, bit for bit.
template <class T>
void Gemm(bool transB, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
          int64_t ldc, bool onednn = true) {
  if (M == 0 || N == 0) return;
  if (onednn && K > 0 && RowMajorGemm<T>(transB, M, N, K, A, lda, B, ldb, beta, C, ldc)) return;
  if (GemmFn<T> f = BlasGemm<T>()) {
    // Column-major, C^T = op(B)^T * A^T: the row-major buffers are already the transposes.
    const char ta = transB ? 'T' : 'N', tb = 'N';
    const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K);
    const int la = static_cast<int>(ldb), lb = static_cast<int>(lda), lc = static_cast<int>(ldc);
    const T one = 1;
    if (K == 0) {
      if (beta == T(0))
        for (int64_t i = 0; i < M; i++) std::fill(C + i * ldc, C + i * ldc + N, T(0));
      return;
    }
    f(&ta, &tb, &m, &n, &k, &one, B, &la, A, &lb, &beta, C, &lc);
    return;
  }
  at::TensorOptions o = at::TensorOptions().dtype(kType<T>);
  at::Tensor a = at::from_blob(const_cast<T*>(A), {M, K}, {lda, 1}, o);
  at::Tensor b = transB ? at::from_blob(const_cast<T*>(B), {N, K}, {ldb, 1}, o).t()
                        : at::from_blob(const_cast<T*>(B), {K, N}, {ldb, 1}, o);
  at::Tensor c = at::from_blob(C, {M, N}, {ldc, 1}, o);
  if (beta == T(0))
    at::mm_out(c, a, b);
  else
    c.addmm_(a, b);
}

// Rows r of C (M x N, ldc) = bias (the GEMM then adds onto it, as addmm does).
template <class T>
void FillRows(T* C, int64_t M, int64_t N, int64_t ldc, const T* bias) {
  for (int64_t i = 0; i < M; i++) std::copy(bias, bias + N, C + i * ldc);
}

template <class T>
T* Scratch(std::vector<T>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// The loop GEMMs of the score matrices too small for a GEMM call (kLoopWork). Both run TileRows:
// C (M x N, ldc) = A (M x K, lda) . Bp, Bp being B copied to K rows of kTile columns (N <= kTile
// used), two rows of C at a time with each row's kTile sums in registers. A plain loop kept C's row
// in memory instead: every k then waited on the store of k - 1 (MultiheadAttention E=20, H=4,
// L=S=10, N=32 spent ~35 % of its time in the two loops, most of it in those chains). Each sum
// still adds k = 0, 1, ... in order.
constexpr int64_t kTile = 16;

template <class T>
TNAPI_INLINE void TileRowsT(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* bp, T* C, int64_t ldc) {
  int64_t i = 0;
  for (; i + 1 < M; i += 2) {
    T c0[kTile] = {}, c1[kTile] = {};
    const T *a0 = A + i * lda, *a1 = a0 + lda;
    for (int64_t k = 0; k < K; k++) {
      const T x0 = a0[k], x1 = a1[k];
      const T* b = bp + k * kTile;
      for (int64_t j = 0; j < kTile; j++) {
        c0[j] += x0 * b[j];
        c1[j] += x1 * b[j];
      }
    }
    std::copy(c0, c0 + N, C + i * ldc);
    std::copy(c1, c1 + N, C + (i + 1) * ldc);
  }
  if (i < M) {
    T c0[kTile] = {};
    const T* a0 = A + i * lda;
    for (int64_t k = 0; k < K; k++) {
      const T x0 = a0[k];
      const T* b = bp + k * kTile;
      for (int64_t j = 0; j < kTile; j++) c0[j] += x0 * b[j];
    }
    std::copy(c0, c0 + N, C + i * ldc);
  }
}
TNAPI_VECTOR_CLONES void TileRows(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* bp,
                                  float* C, int64_t ldc) {
  TileRowsT(M, N, K, A, lda, bp, C, ldc);
}
void TileRows(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* bp, double* C, int64_t ldc) {
  TileRowsT(M, N, K, A, lda, bp, C, ldc);
}

// C (M x N, ldc) = A (M x K, lda) times B (K x N, ldb), by loops.
template <class T>
void LoopGemmNN(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc) {
  if (N <= kTile) {
    thread_local std::vector<T> bufB;
    T* bp = Scratch(bufB, K * kTile);
    for (int64_t k = 0; k < K; k++) {
      std::copy(B + k * ldb, B + k * ldb + N, bp + k * kTile);
      std::fill(bp + k * kTile + N, bp + (k + 1) * kTile, T(0));
    }
    return TileRows(M, N, K, A, lda, bp, C, ldc);
  }
  for (int64_t i = 0; i < M; i++) {
    T* ci = C + i * ldc;
    std::fill(ci, ci + N, T(0));
    for (int64_t k = 0; k < K; k++) {
      const T a = A[i * lda + k];
      const T* bk = B + k * ldb;
      for (int64_t j = 0; j < N; j++) ci[j] += a * bk[j];
    }
  }
}

// C (M x N, ldc) = A (M x K, lda) times B (N x K, ldb) transposed, by loops: B is transposed first
// (K x N), so that the inner loop runs over C's row, N independent sums the compiler vectorises (a
// dot product per (i, j) would be one dependent chain of K multiply-adds).
template <class T>
void LoopGemmNT(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc) {
  thread_local std::vector<T> bufBt;
  if (N <= kTile) {
    T* bp = Scratch(bufBt, K * kTile);
    for (int64_t d = 0; d < K; d++) {
      for (int64_t j = 0; j < N; j++) bp[d * kTile + j] = B[j * ldb + d];
      std::fill(bp + d * kTile + N, bp + (d + 1) * kTile, T(0));
    }
    return TileRows(M, N, K, A, lda, bp, C, ldc);
  }
  T* bt = Scratch(bufBt, K * N);
  for (int64_t j = 0; j < N; j++)
    for (int64_t d = 0; d < K; d++) bt[d * N + j] = B[j * ldb + d];
  LoopGemmNN(M, N, K, A, lda, bt, N, C, ldc);
}

// A mask as read in the softmax loop: blocked-bool (nonzero = -inf) or additive float values.
template <class T>
struct MaskView {
  at::Tensor keep;  // owns the converted/contiguous data
  const uint8_t* b = nullptr;
  const T* f = nullptr;
  int64_t outer = 0, row = 0;  // strides: per (n*H+h) or per n; per query row (0 for a key padding mask)
  bool Defined() const { return b != nullptr || f != nullptr; }
  T At(int64_t off) const {
    if (b != nullptr) return b[off] != 0 ? -std::numeric_limits<T>::infinity() : T(0);
    return f[off];
  }
};

template <class T>
bool ViewMask(const at::Tensor& m, MaskView<T>* v) {
  if (!m.device().is_cpu() || m.layout() != at::kStrided) return false;
  if (m.scalar_type() == at::kBool || m.scalar_type() == at::kByte) {
    v->keep = m.contiguous();
    v->b = reinterpret_cast<const uint8_t*>(v->keep.data_ptr());
  } else if (c10::isFloatingType(m.scalar_type())) {
    v->keep = m.to(kType<T>).contiguous();
    v->f = v->keep.template data_ptr<T>();
  } else {
    return false;
  }
  return true;
}

// Adds the masks of one score row to its S0 scores as the reference adds its merged additive mask:
// m = attn + padding (a bool mask is -inf where set, else 0), then score = m + score. One loop per
// mask form, without a branch per element: the bool ones vectorise (the per-element MaskView::At
// took ~10 % of MultiheadAttention E=256 L=S=128 N=64).
template <class T>
void AddMasks(T* s, int64_t S0, const MaskView<T>& am, int64_t ao, const MaskView<T>& kp, int64_t ko) {
  const T ninf = -std::numeric_limits<T>::infinity(), zero = 0;
  if (am.Defined() && kp.Defined()) {
    if (am.b != nullptr && kp.b != nullptr) {
      const uint8_t *a = am.b + ao, *k = kp.b + ko;
      for (int64_t j = 0; j < S0; j++) s[j] = ((a[j] != 0 ? ninf : zero) + (k[j] != 0 ? ninf : zero)) + s[j];
    } else {
      for (int64_t j = 0; j < S0; j++) s[j] = (am.At(ao + j) + kp.At(ko + j)) + s[j];
    }
    return;
  }
  const MaskView<T>& m = am.Defined() ? am : kp;
  const int64_t o = am.Defined() ? ao : ko;
  if (m.b != nullptr) {
    const uint8_t* b = m.b + o;
    for (int64_t j = 0; j < S0; j++) s[j] = (b[j] != 0 ? ninf : zero) + s[j];
  } else {
    const T* f = m.f + o;
    for (int64_t j = 0; j < S0; j++) s[j] = f[j] + s[j];
  }
}

bool Usable(const c10::optional<at::Tensor>& t, at::ScalarType dtype) {
  return !t || (t->device().is_cpu() && t->layout() == at::kStrided && t->scalar_type() == dtype);
}

// Softmax of s[0..S) in place, as at::softmax computes it (max, exp(x - max), times 1/sum); a row
// that is all -inf gives NaN, as there.
template <class T>
void SoftmaxRow(T* s, int64_t S) {
  const T ninf = -std::numeric_limits<T>::infinity();
  T mx = ninf;
  for (int64_t j = 0; j < S; j++) mx = s[j] > mx || std::isnan(s[j]) ? s[j] : mx;
  T sum = 0;
  // A masked score (-inf) gives exp(-inf - mx) = 0 exactly when mx is finite: no call to exp for it
  // (a causal mask blocks about half the scores). A row all -inf keeps its NaN (mx is -inf too).
  const bool finite = mx != ninf;
  for (int64_t j = 0; j < S; j++) {
    s[j] = finite && s[j] == ninf ? T(0) : std::exp(s[j] - mx);
    sum += s[j];
  }
  const T inv = T(1) / sum;
  for (int64_t j = 0; j < S; j++) s[j] *= inv;
}

// Below this many multiply-adds per (n, h) score matrix, loops beat a GEMM call.
constexpr int64_t kLoopWork = 8192;
// From this many keys on, libtorch's vectorised softmax beats the scalar loop (its dispatch included).
constexpr int64_t kRowSoftmax = 64;

template <class T>
bool FastMhaT(const MhaCall& c, std::vector<at::Tensor>* result) {
  const bool batched = c.batched, bf = c.batchFirst && batched;
  const at::Tensor query = c.query.contiguous();
  const at::Tensor key = c.qkvSame ? query : c.key.contiguous();
  const at::Tensor value = c.kvSame ? key : c.value.contiguous();
  if (query.dim() != (batched ? 3 : 2) || key.dim() != query.dim() || value.dim() != query.dim()) return false;
  const int64_t H = c.H;
  const int64_t N = batched ? query.size(bf ? 0 : 1) : 1;
  const int64_t L = query.size(bf && batched ? 1 : 0), E = query.size(-1);
  const int64_t S0 = key.size(bf && batched ? 1 : 0), Ek = key.size(-1), Ev = value.size(-1);
  if (H <= 0 || E % H != 0 || L == 0 || N == 0 || S0 == 0 || E == 0) return false;
  if (value.size(bf && batched ? 1 : 0) != S0 ||
      (batched && (key.size(bf ? 0 : 1) != N || value.size(bf ? 0 : 1) != N)))
    return false;
  const int64_t hd = E / H;
  const bool extraKV = c.biasK && c.biasV;
  const int64_t S = S0 + (extraKV ? 1 : 0) + (c.addZeroAttn ? 1 : 0);
  const int64_t R = L * N, Rk = S0 * N;
  // Token (l, n) is row l*N + n (sequence first) or n*L + l (batch first) of every activation.
  const int64_t lsQ = bf ? 1 : N, nsQ = bf ? L : 1, lsK = bf ? 1 : N, nsK = bf ? S0 : 1;

  // Masks: attn (L, S0) or (N*H, L, S0); key padding (N, S0) or (S0) unbatched.
  MaskView<T> am, kp;
  if (c.attnMask) {
    const at::Tensor& m = *c.attnMask;
    if (!(m.dim() == 2 && m.size(0) == L && m.size(1) == S0) &&
        !(m.dim() == 3 && m.size(0) == N * H && m.size(1) == L && m.size(2) == S0))
      return false;
    if (!ViewMask(m, &am)) return false;
    am.outer = m.dim() == 3 ? L * S0 : 0, am.row = S0;
  }
  if (c.kpm) {
    const at::Tensor& m = *c.kpm;
    if (m.numel() != N * S0 || m.size(-1) != S0) return false;
    if (!ViewMask(m, &kp)) return false;
    kp.outer = S0, kp.row = 0;
  }

  // In-projection into thread_local buffers: Q (R x ldq), K (Rk x ldk), V (Rk x ldv).
  thread_local std::vector<T> bufQ, bufK, bufV, bufO;
  const T* inB = c.inB ? c.inB->template data_ptr<T>() : nullptr;
  T *q, *k, *v;
  int64_t ldq, ldk, ldv;
  auto project = [&](const at::Tensor& x, int64_t rows, int64_t in, const T* w, int64_t outF, const T* b, T* dst,
                     int64_t ld) {
    if (b != nullptr) FillRows(dst, rows, outF, ld, b);
    Gemm<T>(true, rows, outF, in, x.template data_ptr<T>(), in, w, in, b != nullptr ? T(1) : T(0), dst, ld);
  };
  if (c.inW) {
    const at::Tensor w = c.inW->contiguous();
    if (w.size(0) != 3 * E || w.size(1) != E || Ek != E || Ev != E) return false;
    const T* W = w.template data_ptr<T>();
    if (c.qkvSame) {
      T* qkv = Scratch(bufQ, R * 3 * E);
      project(query, R, E, W, 3 * E, inB, qkv, 3 * E);
      q = qkv, k = qkv + E, v = qkv + 2 * E, ldq = ldk = ldv = 3 * E;
    } else if (c.kvSame) {
      q = Scratch(bufQ, R * E), ldq = E;
      project(query, R, E, W, E, inB, q, E);
      T* kv = Scratch(bufK, Rk * 2 * E);
      project(key, Rk, E, W + E * E, 2 * E, inB ? inB + E : nullptr, kv, 2 * E);
      k = kv, v = kv + E, ldk = ldv = 2 * E;
    } else {
      q = Scratch(bufQ, R * E), k = Scratch(bufK, Rk * E), v = Scratch(bufV, Rk * E), ldq = ldk = ldv = E;
      project(query, R, E, W, E, inB, q, E);
      project(key, Rk, E, W + E * E, E, inB ? inB + E : nullptr, k, E);
      project(value, Rk, E, W + 2 * E * E, E, inB ? inB + 2 * E : nullptr, v, E);
    }
  } else {
    const at::Tensor wq = c.qW->contiguous(), wk = c.kW->contiguous(), wv = c.vW->contiguous();
    if (wq.size(0) != E || wq.size(1) != E || wk.size(0) != E || wk.size(1) != Ek || wv.size(0) != E ||
        wv.size(1) != Ev)
      return false;
    q = Scratch(bufQ, R * E), k = Scratch(bufK, Rk * E), v = Scratch(bufV, Rk * E), ldq = ldk = ldv = E;
    project(query, R, E, wq.template data_ptr<T>(), E, inB, q, E);
    project(key, Rk, Ek, wk.template data_ptr<T>(), E, inB ? inB + E : nullptr, k, E);
    project(value, Rk, Ev, wv.template data_ptr<T>(), E, inB ? inB + 2 * E : nullptr, v, E);
  }
  // q / sqrt(headDim), as the reference divides.
  const T root = static_cast<T>(std::sqrt(static_cast<double>(hd)));
  for (int64_t r = 0; r < R; r++) {
    T* row = q + r * ldq;
    for (int64_t e = 0; e < E; e++) row[e] = row[e] / root;
  }
  const T* bk = extraKV ? c.biasK->template data_ptr<T>() : nullptr;
  const T* bv = extraKV ? c.biasV->template data_ptr<T>() : nullptr;

  // Attention weights: written straight into the result (N, H, L, S) when asked for, else per
  // (n, h) scratch.
  at::Tensor weights;
  T* P = nullptr;
  if (c.needWeights) {
    weights = at::detail::empty_cpu({N, H, L, S}, query.options());
    P = weights.template data_ptr<T>();
  }
  T* O = Scratch(bufO, R * E);
  const bool loops = L * S0 * hd < kLoopWork;

  // Scores of every (n, h), then the softmax: per row in a loop for short rows, else over the
  // whole (N*H*L, S) block in ONE call of libtorch's vectorised kernel (the reference's own; a
  // row that is all -inf gives NaN there and here). Then the weighted sums.
  const int64_t NH = N * H;
  const bool rowSoftmax = S < kRowSoftmax;
  thread_local std::vector<T> bufS, bufW;
  if (P == nullptr) P = Scratch(bufW, NH * L * S);
  T* Sc = rowSoftmax ? P : Scratch(bufS, NH * L * S);
  const int64_t qs = lsQ * ldq, ks = lsK * ldk, vs = lsK * ldv, os = lsQ * E;
  auto scores = [&](int64_t begin, int64_t end) {
    for (int64_t nh = begin; nh < end; nh++) {
      const int64_t n = nh / H, h = nh % H;
      T* p = Sc + nh * L * S;
      const T* qn = q + n * nsQ * ldq + h * hd;
      const T* kn = k + n * nsK * ldk + h * hd;
      if (loops) {
        LoopGemmNT<T>(L, S0, hd, qn, qs, kn, ks, p, S);
      } else {
        Gemm<T>(true, L, S0, hd, qn, qs, kn, ks, T(0), p, S);
      }
      for (int64_t i = 0; i < L; i++) {
        T* pi = p + i * S;
        int64_t j = S0;
        if (extraKV) {
          const T* qi = qn + i * qs;
          const T* bkh = bk + h * hd;
          T acc = 0;
          for (int64_t d = 0; d < hd; d++) acc += qi[d] * bkh[d];
          pi[j++] = acc;
        }
        if (c.addZeroAttn) pi[j++] = 0;
        // Masks (the extra key slots are never masked): attn + padding, added to the score.
        if (am.Defined() || kp.Defined())
          AddMasks(pi, S0, am, (am.outer != 0 ? nh * am.outer : 0) + i * am.row, kp, n * kp.outer);
        if (rowSoftmax) SoftmaxRow(pi, S);
      }
    }
  };
  auto sums = [&](int64_t begin, int64_t end) {
    for (int64_t nh = begin; nh < end; nh++) {
      const int64_t n = nh / H, h = nh % H;
      const T* p = P + nh * L * S;
      const T* vn = v + n * nsK * ldv + h * hd;
      T* on = O + n * nsQ * E + h * hd;
      if (loops) {
        LoopGemmNN<T>(L, hd, S0, p, S, vn, vs, on, os);
      } else {
        Gemm<T>(false, L, hd, S0, p, S, vn, vs, T(0), on, os);
      }
      if (extraKV) {
        const T* bvh = bv + h * hd;
        for (int64_t i = 0; i < L; i++) {
          const T pij = p[i * S + S0];
          T* oi = on + i * os;
          for (int64_t d = 0; d < hd; d++) oi[d] += pij * bvh[d];
        }
      }
    }
  };
  // Over (batch, head) pairs, each writing its own slices of Sc / P / the output rows.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, L * S * hd));
  ParallelFor(0, NH, grain, scores);
  if (!rowSoftmax) {
    const at::TensorOptions o = at::TensorOptions().dtype(kType<T>);
    at::Tensor pt = at::from_blob(P, {NH * L, S}, o);
    at::_softmax_out(pt, at::from_blob(Sc, {NH * L, S}, o), 1, false);
  }
  ParallelFor(0, NH, grain, sums);

  // Out-projection: one GEMM into the result, rows in the query's layout.
  const at::Tensor ow = c.outW.contiguous();
  const int64_t Eo = ow.size(0);
  if (ow.size(1) != E) return false;
  std::vector<int64_t> outSize =
      batched ? (bf ? std::vector<int64_t>{N, L, Eo} : std::vector<int64_t>{L, N, Eo}) : std::vector<int64_t>{L, Eo};
  at::Tensor out = at::detail::empty_cpu(outSize, query.options());
  T* op = out.template data_ptr<T>();
  if (c.outB) FillRows(op, R, Eo, Eo, c.outB->template data_ptr<T>());
  Gemm<T>(true, R, Eo, E, O, E, ow.template data_ptr<T>(), E, c.outB ? T(1) : T(0), op, Eo);

  if (c.needWeights && c.average) {
    at::Tensor avg = at::detail::empty_cpu({N, L, S}, query.options());
    T* a = avg.template data_ptr<T>();
    const int64_t LS = L * S;
    for (int64_t n = 0; n < N; n++) {
      T* an = a + n * LS;
      const T* pn = P + n * H * LS;
      std::copy(pn, pn + LS, an);
      for (int64_t h = 1; h < H; h++)
        for (int64_t x = 0; x < LS; x++) an[x] += pn[h * LS + x];
      for (int64_t x = 0; x < LS; x++) an[x] = an[x] / static_cast<T>(H);
    }
    weights = avg;
  }
  if (weights.defined() && !batched) weights = weights.squeeze(0);
  *result = {out, weights};
  return true;
}

template <class T>
bool FastSdpaT(const at::Tensor& q0, const at::Tensor& k0, const at::Tensor& v0, const c10::optional<at::Tensor>& mask,
               bool isCausal, double sc, at::Tensor* result) {
  const int64_t nd = q0.dim();
  const int64_t L = q0.size(-2), D = q0.size(-1), S = k0.size(-2), Dv = v0.size(-1);
  std::vector<int64_t> full(q0.sizes().begin(), q0.sizes().end());
  full[nd - 1] = S;
  int64_t B = 1;
  for (int64_t d = 0; d < nd - 2; d++) B *= q0.size(d);
  // The mask, broadcast (stride 0) over (batch..., L, S), read where it lies.
  at::Tensor m;
  const uint8_t* mb = nullptr;
  const T* mf = nullptr;
  std::vector<int64_t> moff;
  int64_t msi = 0, msj = 0;
  if (mask) {
    if (mask->dim() > nd) return false;
    for (int64_t d = 1; d <= mask->dim(); d++)
      if (mask->size(-d) != 1 && mask->size(-d) != full[nd - d]) return false;
    if (mask->scalar_type() == at::kBool) {
      m = mask->expand(full);
      mb = reinterpret_cast<const uint8_t*>(m.data_ptr());
    } else if (c10::isFloatingType(mask->scalar_type())) {
      m = mask->to(kType<T>).expand(full);
      mf = m.template data_ptr<T>();
    } else {
      return false;
    }
    msi = m.stride(nd - 2), msj = m.stride(nd - 1);
    moff.resize(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; b++) {
      int64_t rest = b, off = 0;
      for (int64_t d = nd - 3; d >= 0; d--) {
        off += (rest % full[d]) * m.stride(d);
        rest /= full[d];
      }
      moff[b] = off;
    }
  }
  const at::Tensor q = q0.contiguous(), k = k0.contiguous(), v = v0.contiguous();
  std::vector<int64_t> outSize(full);
  outSize[nd - 1] = Dv;
  at::Tensor out = at::detail::empty_cpu(outSize, q.options());
  const T *qp = q.template data_ptr<T>(), *kp = k.template data_ptr<T>(), *vp = v.template data_ptr<T>();
  T* op = out.template data_ptr<T>();
  const T scale = static_cast<T>(sc), ninf = -std::numeric_limits<T>::infinity();
  const bool loops = L * S * std::max(D, Dv) < kLoopWork;
  auto attend = [&](int64_t begin, int64_t end) {
    thread_local std::vector<T> bufP;
    T* p = Scratch(bufP, L * S);
    for (int64_t b = begin; b < end; b++) {
      const T *qb = qp + b * L * D, *kb = kp + b * S * D, *vb = vp + b * S * Dv;
      T* ob = op + b * L * Dv;
      if (loops) {
        LoopGemmNT<T>(L, S, D, qb, D, kb, D, p, S);
      } else {
        Gemm<T>(true, L, S, D, qb, D, kb, D, T(0), p, S);
      }
      for (int64_t i = 0; i < L; i++) {
        T* pi = p + i * S;
        const int64_t mo = mask ? moff[b] + i * msi : 0;
        bool fully = true;
        for (int64_t j = 0; j < S; j++) {
          T x = pi[j] * scale;
          if (isCausal || mask) {
            T bias = isCausal && j > i ? ninf : T(0);
            if (mb != nullptr)
              bias = isCausal ? bias + (mb[mo + j * msj] != 0 ? T(0) : ninf) : (mb[mo + j * msj] != 0 ? T(0) : ninf);
            else if (mf != nullptr)
              bias = isCausal ? bias + mf[mo + j * msj] : mf[mo + j * msj];
            x = x + bias;
          }
          pi[j] = x;
          fully = fully && x == ninf;
        }
        // _safe_softmax: a row with no allowed key gives 0.
        if (fully)
          std::fill(pi, pi + S, T(0));
        else
          SoftmaxRow(pi, S);
      }
      if (loops) {
        LoopGemmNN<T>(L, Dv, S, p, S, vb, Dv, ob, Dv);
      } else {
        Gemm<T>(false, L, Dv, S, p, S, vb, Dv, T(0), ob, Dv);
      }
    }
  };
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, L * S * std::max(D, Dv)));
  ParallelFor(0, B, grain, attend);
  *result = out;
  return true;
}

}  // namespace

bool FastMha(const MhaCall& c, std::vector<at::Tensor>* out) {
  if (!FastDtype(c.query)) return false;
  const at::ScalarType dt = c.query.scalar_type();
  if (!Usable(c.key, dt) || !Usable(c.value, dt) || !Usable(c.outW, dt) || !Usable(c.inW, dt) || !Usable(c.inB, dt) ||
      !Usable(c.qW, dt) || !Usable(c.kW, dt) || !Usable(c.vW, dt) || !Usable(c.biasK, dt) || !Usable(c.biasV, dt) ||
      !Usable(c.outB, dt))
    return false;
  if (c.training && c.dropoutP > 0.0) return false;
  if (!c.inW && !(c.qW && c.kW && c.vW)) return false;
  const at::Tensor none;
  auto opt = [&](const c10::optional<at::Tensor>& t) { return t ? &*t : &none; };
  if (!NoGradNeeded({&c.query, &c.key, &c.value, &c.outW, opt(c.inW), opt(c.inB), opt(c.qW), opt(c.kW), opt(c.vW),
                     opt(c.biasK), opt(c.biasV), opt(c.outB), opt(c.attnMask), opt(c.kpm)}))
    return false;
  // Biases must be whole vectors of the expected length (else the reference path reports it).
  const int64_t E = c.query.size(-1);
  if ((c.inB && (c.inB->dim() != 1 || c.inB->size(0) != 3 * E)) ||
      (c.outB && (c.outB->dim() != 1 || c.outB->size(0) != c.outW.size(0))))
    return false;
  if (c.biasK && c.biasV && (c.biasK->numel() != E || c.biasV->numel() != E)) return false;
  bool ok;
  std::vector<at::Tensor> r;
  auto contiguous = [](const c10::optional<at::Tensor>& t) { return !t || t->is_contiguous(); };
  if (contiguous(c.inB) && contiguous(c.outB) && contiguous(c.biasK) && contiguous(c.biasV)) {
    ok = dt == at::kFloat ? FastMhaT<float>(c, &r) : FastMhaT<double>(c, &r);
  } else {
    // Bias pointers are read as given: contiguous copies of the 1-D parameters first.
    MhaCall cc = c;
    auto contig = [](c10::optional<at::Tensor>& t) {
      if (t) t = t->contiguous();
    };
    contig(cc.inB), contig(cc.outB), contig(cc.biasK), contig(cc.biasV);
    ok = dt == at::kFloat ? FastMhaT<float>(cc, &r) : FastMhaT<double>(cc, &r);
  }
  if (!ok) return false;
  FastPathHit(FastKernel::kMha);
  *out = std::move(r);
  return true;
}

bool FastSdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const c10::optional<at::Tensor>& mask,
              double dropoutP, bool isCausal, c10::optional<double> scale, at::Tensor* out) {
  if (!FastDtype(q) || dropoutP != 0.0) return false;
  const at::ScalarType dt = q.scalar_type();
  if (!Usable(k, dt) || !Usable(v, dt)) return false;
  if (mask && (!mask->device().is_cpu() || mask->layout() != at::kStrided)) return false;
  const at::Tensor none;
  if (!NoGradNeeded({&q, &k, &v, mask ? &*mask : &none})) return false;
  const int64_t nd = q.dim();
  if (nd < 2 || k.dim() != nd || v.dim() != nd) return false;
  for (int64_t d = 0; d < nd - 2; d++)
    if (k.size(d) != q.size(d) || v.size(d) != q.size(d)) return false;
  if (k.size(-1) != q.size(-1) || v.size(-2) != k.size(-2) || q.numel() == 0 || k.numel() == 0 || v.numel() == 0)
    return false;
  const double sc = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor r;
  const bool ok = dt == at::kFloat ? FastSdpaT<float>(q, k, v, mask, isCausal, sc, &r)
                                   : FastSdpaT<double>(q, k, v, mask, isCausal, sc, &r);
  if (!ok) return false;
  FastPathHit(FastKernel::kSdpa);
  *out = r;
  return true;
}

namespace {
// out (M x N, rows of the output) = x . w^T + b, as addmm computes it: the bias rows, then one BLAS
// GEMM onto them (beta 1).
template <class T>
void LinearT(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b, int64_t M, int64_t N,
             int64_t K, const at::Tensor& out) {
  T* C = out.template data_ptr<T>();
  if (b) FillRows(C, M, N, N, b->template data_ptr<T>());
  // The BLAS's GEMM, as addmm computes it: F.linear gives the reference's numbers to the bit.
  Gemm<T>(true, M, N, K, x.template data_ptr<T>(), K, w.template data_ptr<T>(), K, b ? T(1) : T(0), C, N,
          /*onednn=*/false);
}
}  // namespace

bool FastLinear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b, at::Tensor* out) {
  if (!FastDtype(x) || x.dim() < 1 || w.dim() != 2 || !x.is_contiguous() || !w.is_contiguous()) return false;
  const at::ScalarType dt = x.scalar_type();
  if (!Usable(w, dt) || !Usable(b, dt)) return false;
  const int64_t K = x.size(-1), N = w.size(0);
  if (w.size(1) != K || (b && (b->dim() != 1 || b->size(0) != N || !b->is_contiguous()))) return false;
  if (K == 0 || N == 0) return false;
  const int64_t M = x.numel() / K;
  // Large products gain nothing from skipping the dispatcher, and libtorch may run them threaded.
  if (M == 0 || M * N * K > kFastLinearMaxWork) return false;
  const at::Tensor none;
  if (!NoGradNeeded({&x, &w, b ? &*b : &none})) return false;
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
  sizes.back() = N;
  at::Tensor r = at::detail::empty_cpu(sizes, x.options());
  if (dt == at::kFloat)
    LinearT<float>(x, w, b, M, N, K, r);
  else
    LinearT<double>(x, w, b, M, N, K, r);
  FastPathHit(FastKernel::kLinear);
  *out = r;
  return true;
}

}  // namespace tnapi
