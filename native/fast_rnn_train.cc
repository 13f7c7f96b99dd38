// The fused CPU LSTM training kernel (fast_rnn_train.h).
//
// Layout: every buffer is row-major and time-major; row r = t * N + n is batch element n at step t.
// One layer's node keeps, for its backward: the activated gates i, f, g, o of every step (T x N x 4H),
// the cell states c_0 ... c_T and tanh(c_1) ... tanh(c_T), and the hidden states h_0 ... h_T.
#include "fast_rnn_train.h"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/jit/frontend/tracer.h>

#include <algorithm>
#include <cstring>

#include "fast_path.h"
#include "fast_rnn_ops.h"

namespace tnapi {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

template <typename S>
S* Grow(std::vector<S>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

// Scratch memory, kept per thread (forward and backward may run on the JS thread, a pool thread or
// the autograd engine's); nothing in it outlives one call.
struct Scratch {
  std::vector<float> proj, rhs[2], dh, dc, dg, at, dwt;
};
Scratch& ThreadScratch() {
  thread_local Scratch s;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Products C = A . B. Small ones (the per-step recurrent products, and any whose right-hand side
// stays in L1/L2) run the inference kernel's register-tiled loop over a zero-padded copy of B; the
// others at::mm (libtorch's BLAS).
constexpr int64_t kLoopRows = 16;
constexpr int64_t kMaxLoopElements = 1 << 14;
bool UseLoop(int64_t m, int64_t n, int64_t k) { return m <= kLoopRows || n * k <= kMaxLoopElements; }

const at::TensorOptions& FloatOpts() {
  static const at::TensorOptions o = at::TensorOptions().dtype(at::kFloat);
  return o;
}

// The right-hand side B (k x n) of C = A . B.
struct Rhs {
  int64_t k = 0, n = 0, ldb = 0;
  const float* padded = nullptr;  // k x ldb, zero-padded, when the loop runs
  at::Tensor view;                // k x n over the caller's memory, otherwise
};

// b holds B (k x n, row stride ld), or with `transposed` B^T (n x k, row stride ld); it must outlive
// the Rhs.
Rhs MakeRhs(const float* b, int64_t k, int64_t n, int64_t ld, bool transposed, bool loop, std::vector<float>& buf) {
  Rhs r;
  r.k = k, r.n = n;
  if (!loop) {
    float* p = const_cast<float*>(b);
    r.view = transposed ? at::from_blob(p, {n, k}, {ld, 1}, FloatOpts()).t()
                        : at::from_blob(p, {k, n}, {ld, 1}, FloatOpts());
    return r;
  }
  r.ldb = rnnops::PaddedCols(n);
  float* p = Grow(buf, k * r.ldb);
  if (transposed) {
    std::fill(p, p + k * r.ldb, 0.0f);
    for (int64_t j = 0; j < n; j++) {
      const float* src = b + j * ld;
      for (int64_t q = 0; q < k; q++) p[q * r.ldb + j] = src[q];
    }
  } else {
    for (int64_t q = 0; q < k; q++) {
      std::memcpy(p + q * r.ldb, b + q * ld, static_cast<size_t>(n) * sizeof(float));
      std::fill(p + q * r.ldb + n, p + (q + 1) * r.ldb, 0.0f);
    }
  }
  r.padded = p;
  return r;
}

// C (m x n, row stride ldc) = A (m x k, row stride lda) . B.
void Mul(int64_t m, const float* A, int64_t lda, const Rhs& B, float* C, int64_t ldc) {
  if (m <= 0) return;
  if (B.padded != nullptr) return rnnops::LoopGemm(m, B.n, B.k, A, lda, B.padded, B.ldb, C, ldc);
  at::Tensor a = at::from_blob(const_cast<float*>(A), {m, B.k}, {lda, 1}, FloatOpts());
  at::Tensor c = at::from_blob(C, {m, B.n}, {ldc, 1}, FloatOpts());
  at::mm_out(c, a, B.view);
}

// dst (rows x cols) = src^T, src being cols x rows with row stride lds.
void TransposeInto(const float* src, int64_t cols, int64_t rows, int64_t lds, float* dst) {
  for (int64_t i = 0; i < cols; i++) {
    const float* s = src + i * lds;
    for (int64_t j = 0; j < rows; j++) dst[j * cols + i] = s[j];
  }
}

// ---------------------------------------------------------------------------------------------
// The fused loops of one step, rows n of [0, N).

// The gradients of one step: dh (N x H) holds dL/dh_t from step t+1 (dy, when given, is added
// here), dc (N x H) dL/dc_t from step t+1; writes dL/d(gate pre-activations) into dg (N rows of
// row stride ldg) and leaves dL/dc_{t-1} in dc.
TNAPI_VECTOR_CLONES void StepBackward(int64_t N, int64_t H, const float* __restrict gates, const float* __restrict tc,
                                      const float* __restrict cPrev, const float* __restrict dy, float* __restrict dh,
                                      float* __restrict dc, float* __restrict dg, int64_t ldg) {
  const int64_t G = 4 * H;
  for (int64_t n = 0; n < N; n++) {
    const float* __restrict gi = gates + n * G;
    const float* __restrict gf = gi + H;
    const float* __restrict gg = gi + 2 * H;
    const float* __restrict go = gi + 3 * H;
    const float* __restrict t = tc + n * H;
    const float* __restrict cp = cPrev + n * H;
    float* __restrict dhn = dh + n * H;
    float* __restrict dcn = dc + n * H;
    float* __restrict d = dg + n * ldg;
    if (dy != nullptr) {
      const float* __restrict dyn = dy + n * H;
      for (int64_t j = 0; j < H; j++) dhn[j] += dyn[j];
    }
    for (int64_t j = 0; j < H; j++) {
      const float i = gi[j], f = gf[j], g = gg[j], o = go[j], tj = t[j], dhj = dhn[j];
      const float dcj = dcn[j] + dhj * o * (1.0f - tj * tj);
      d[j] = dcj * g * (i * (1.0f - i));
      d[H + j] = dcj * cp[j] * (f * (1.0f - f));
      d[2 * H + j] = dcj * i * (1.0f - g * g);
      d[3 * H + j] = dhj * tj * (o * (1.0f - o));
      dcn[j] = dcj * f;
    }
  }
}

// Column sums of dg (rows x G, row stride ldg) into out (G).
TNAPI_VECTOR_CLONES void ColumnSums(int64_t rows, int64_t G, const float* __restrict dg, int64_t ldg,
                                    float* __restrict out) {
  std::fill(out, out + G, 0.0f);
  for (int64_t r = 0; r < rows; r++) {
    const float* __restrict d = dg + r * ldg;
    for (int64_t j = 0; j < G; j++) out[j] += d[j];
  }
}

// ---------------------------------------------------------------------------------------------

// Copies src (any strides, float32, `count` elements) into dst, row-major.
void CopyInto(float* dst, const at::Tensor& src) {
  if (src.is_contiguous()) {
    std::memcpy(dst, src.data_ptr<float>(), static_cast<size_t>(src.numel()) * sizeof(float));
  } else {
    at::from_blob(dst, src.sizes(), FloatOpts()).copy_(src);
  }
}

// dW (G x K) = dG^T (G x R) . B (R x K): dG holds R rows of row stride ldg.
void WeightGrad(int64_t R, int64_t G, int64_t K, const float* dG, int64_t ldg, const float* B, float* dW) {
  Scratch& sc = ThreadScratch();
  if (static_cast<int64_t>(G) * K * R > (int64_t{1} << 22)) {
    at::Tensor g = at::from_blob(const_cast<float*>(dG), {R, G}, {ldg, 1}, FloatOpts());
    at::Tensor b = at::from_blob(const_cast<float*>(B), {R, K}, FloatOpts());
    at::Tensor w = at::from_blob(dW, {G, K}, FloatOpts());
    at::mm_out(w, g.t(), b);
    return;
  }
  // dW^T (K x G) = B^T (K x R) . dG, dG's rows (padded to ldg = PaddedCols(G) with zeros) read in place.
  float* bt = Grow(sc.at, K * R);
  TransposeInto(B, R, K, K, bt);
  float* dwt = Grow(sc.dwt, K * G);
  rnnops::LoopGemm(K, G, R, bt, R, dG, ldg, dwt, G);
  TransposeInto(dwt, K, G, G, dW);
}

// One layer: x (T x N x I), h0 and c0 (N x H), the layer's four parameters -> y (T x N x H), hN,
// cN (N x H).
struct FusedLstmLayer : public torch::autograd::Function<FusedLstmLayer> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                               const at::Tensor& wih, const at::Tensor& whh, const at::Tensor& bih,
                               const at::Tensor& bhh) {
    const int64_t T = x.size(0), N = x.size(1), I = x.size(2), H = whh.size(1), G = 4 * H, R = T * N;
    const at::TensorOptions opts = x.options();
    const at::Tensor xc = x.contiguous(), wihc = wih.contiguous(), whhc = whh.contiguous();
    const at::Tensor bihc = bih.contiguous(), bhhc = bhh.contiguous();
    at::Tensor y = at::empty({T, N, H}, opts), hN = at::empty({N, H}, opts), cN = at::empty({N, H}, opts);
    at::Tensor gates = at::empty({T, N, G}, opts), cs = at::empty({T + 1, N, H}, opts);
    at::Tensor tcs = at::empty({T, N, H}, opts), hs = at::empty({T + 1, N, H}, opts);
    float *gp = gates.data_ptr<float>(), *cp = cs.data_ptr<float>(), *tp = tcs.data_ptr<float>();
    float *hp = hs.data_ptr<float>(), *yp = y.data_ptr<float>();
    CopyInto(hp, h0);
    CopyInto(cp, c0);

    Scratch& sc = ThreadScratch();
    // The input projection of every step: proj = x . W_ih^T + b_ih.
    float* proj = Grow(sc.proj, R * G);
    {
      const Rhs w = MakeRhs(wihc.data_ptr<float>(), I, G, I, true, UseLoop(R, G, I), sc.rhs[0]);
      Mul(R, xc.data_ptr<float>(), I, w, proj, G);
      const float* b = bihc.data_ptr<float>();
      for (int64_t r = 0; r < R; r++) {
        float* __restrict p = proj + r * G;
        for (int64_t j = 0; j < G; j++) p[j] += b[j];
      }
    }
    const Rhs w = MakeRhs(whhc.data_ptr<float>(), H, G, H, true, UseLoop(N, G, H), sc.rhs[1]);
    const float* b = bhhc.data_ptr<float>();
    const int64_t NH = N * H, NG = N * G;
    for (int64_t t = 0; t < T; t++) {
      float* g = gp + t * NG;
      Mul(N, hp + t * NH, H, w, g, G);
      // The inference kernel's step (the same results as a no-grad forward), c_t updated in place
      // from a copy of c_{t-1}.
      float* c = cp + (t + 1) * NH;
      std::memcpy(c, cp + t * NH, static_cast<size_t>(NH) * sizeof(float));
      rnnops::LstmStep(0, N, H, g, b, proj + t * NG, G, c, tp + t * NH, hp + (t + 1) * NH, H, yp + t * NH, H);
    }
    std::memcpy(hN.data_ptr<float>(), hp + T * NH, static_cast<size_t>(NH) * sizeof(float));
    std::memcpy(cN.data_ptr<float>(), cp + T * NH, static_cast<size_t>(NH) * sizeof(float));

    ctx->save_for_backward({x, wih, whh});
    // x's contiguous copy when it is one (a batch-first input), so that the backward need not copy again.
    if (!xc.is_same(x)) ctx->saved_data["xc"] = xc;
    ctx->saved_data["gates"] = gates;
    ctx->saved_data["cs"] = cs;
    ctx->saved_data["tcs"] = tcs;
    ctx->saved_data["hs"] = hs;
    ctx->set_materialize_grads(false);
    return {y, hN, cN};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    TORCH_CHECK(!c10::GradMode::is_enabled(),
                "LSTM: the fused training kernel's backward is not differentiable, so a backward with createGraph "
                "(higher-order gradients) cannot run through it; call torch.backends.fastPath(false) before the "
                "forward to record libtorch's differentiable LSTM instead");
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor wih = saved[1].contiguous(), whh = saved[2].contiguous();
    const auto xcIt = ctx->saved_data.find("xc");
    const at::Tensor xc = xcIt != ctx->saved_data.end() ? xcIt->second.toTensor() : x.contiguous();
    const at::Tensor gates = ctx->saved_data["gates"].toTensor(), cs = ctx->saved_data["cs"].toTensor();
    const at::Tensor tcs = ctx->saved_data["tcs"].toTensor(), hs = ctx->saved_data["hs"].toTensor();
    const int64_t T = x.size(0), N = x.size(1), I = x.size(2), H = whh.size(1), G = 4 * H, R = T * N;
    const int64_t NH = N * H, NG = N * G;
    const at::TensorOptions opts = x.options();
    const bool needX = ctx->needs_input_grad(0), needH0 = ctx->needs_input_grad(1), needC0 = ctx->needs_input_grad(2);
    const bool needWih = ctx->needs_input_grad(3), needWhh = ctx->needs_input_grad(4);
    const bool needB = ctx->needs_input_grad(5) || ctx->needs_input_grad(6);

    at::Tensor dy = grads[0].defined() ? grads[0].contiguous() : at::Tensor();
    Scratch& sc = ThreadScratch();
    float* dh = Grow(sc.dh, NH);
    float* dc = Grow(sc.dc, NH);
    if (grads[1].defined()) {
      CopyInto(dh, grads[1]);
    } else {
      std::fill(dh, dh + NH, 0.0f);
    }
    if (grads[2].defined()) {
      CopyInto(dc, grads[2]);
    } else {
      std::fill(dc, dc + NH, 0.0f);
    }
    // dL/d(gate pre-activations) of every step, rows padded with zeros to ldg (the weight gradients'
    // loop reads them as its right-hand side).
    const int64_t ldg = rnnops::PaddedCols(G);
    float* dG = Grow(sc.dg, R * ldg);
    if (ldg != G) {
      for (int64_t r = 0; r < R; r++) std::fill(dG + r * ldg + G, dG + (r + 1) * ldg, 0.0f);
    }
    const float *gp = gates.data_ptr<float>(), *cp = cs.data_ptr<float>(), *tp = tcs.data_ptr<float>();
    const float* dyp = dy.defined() ? dy.data_ptr<float>() : nullptr;
    const Rhs w = MakeRhs(whh.data_ptr<float>(), G, H, H, false, UseLoop(N, H, G), sc.rhs[1]);
    for (int64_t t = T - 1; t >= 0; t--) {
      float* d = dG + t * N * ldg;
      StepBackward(N, H, gp + t * NG, tp + t * NH, cp + t * NH, dyp == nullptr ? nullptr : dyp + t * NH, dh, dc, d,
                   ldg);
      if (t > 0 || needH0) Mul(N, d, ldg, w, dh, H);
    }

    at::Tensor dx, dh0, dc0, dwih, dwhh, dbih, dbhh;
    if (needH0) {
      dh0 = at::empty({N, H}, opts);
      std::memcpy(dh0.data_ptr<float>(), dh, static_cast<size_t>(NH) * sizeof(float));
    }
    if (needC0) {
      dc0 = at::empty({N, H}, opts);
      std::memcpy(dc0.data_ptr<float>(), dc, static_cast<size_t>(NH) * sizeof(float));
    }
    if (needB) {
      dbih = at::empty({G}, opts);
      ColumnSums(R, G, dG, ldg, dbih.data_ptr<float>());
      dbhh = dbih.clone();  // never one tensor for two gradients: they may be modified in place
    }
    if (needWih) {
      dwih = at::empty({G, I}, opts);
      WeightGrad(R, G, I, dG, ldg, xc.data_ptr<float>(), dwih.data_ptr<float>());
    }
    if (needWhh) {
      dwhh = at::empty({G, H}, opts);
      WeightGrad(R, G, H, dG, ldg, hs.data_ptr<float>(), dwhh.data_ptr<float>());
    }
    if (needX) {
      dx = at::empty({T, N, I}, opts);
      const Rhs wi = MakeRhs(wih.data_ptr<float>(), G, I, I, false, UseLoop(R, I, G), sc.rhs[0]);
      Mul(R, dG, ldg, wi, dx.data_ptr<float>(), I);
    }
    return {dx, dh0, dc0, dwih, dwhh, dbih, dbhh};
  }
};

bool Float32(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.layout() == at::kStrided && t.scalar_type() == at::kFloat;
}

using rnnops::Sizes;

}  // namespace

c10::optional<std::vector<at::Tensor>> FastLstmTrain(const at::Tensor& input,
                                                     const c10::optional<at::Tensor>& batchSizes,
                                                     const std::vector<at::Tensor>& hx,
                                                     const std::vector<at::Tensor>& params, bool hasBiases,
                                                     int64_t layers, double dropout, bool train, bool bidirectional,
                                                     bool batchFirst) {
  if (!FastPathEnabled() || torch::jit::tracer::isTracing() || !c10::GradMode::is_enabled()) return c10::nullopt;
  if (batchSizes.has_value() || bidirectional || !hasBiases || layers < 1 || (train && dropout > 0 && layers > 1)) {
    return c10::nullopt;
  }
  if (!Float32(input) || input.dim() != 3 || input.numel() == 0 || hx.size() != 2) return c10::nullopt;
  if (params.size() != static_cast<size_t>(4 * layers)) return c10::nullopt;
  bool grad = input.requires_grad();
  for (const at::Tensor& t : hx) {
    if (!Float32(t)) return c10::nullopt;
    grad = grad || t.requires_grad();
  }
  for (const at::Tensor& t : params) {
    if (!Float32(t)) return c10::nullopt;
    grad = grad || t.requires_grad();
  }
  if (!grad) return c10::nullopt;
  const int64_t T = input.size(batchFirst ? 1 : 0), N = input.size(batchFirst ? 0 : 1), I = input.size(2);
  if (hx[1].dim() != 3) return c10::nullopt;
  const int64_t H = hx[1].size(2), G = 4 * H;
  // hx[0] of hidden size H: no projections (those run the reference).
  if (H < 1 || !Sizes(hx[0], {layers, N, H}) || !Sizes(hx[1], {layers, N, H})) return c10::nullopt;
  for (int64_t l = 0; l < layers; l++) {
    const size_t k = static_cast<size_t>(4 * l);
    if (!Sizes(params[k], {G, l == 0 ? I : H}) || !Sizes(params[k + 1], {G, H}) || !Sizes(params[k + 2], {G}) ||
        !Sizes(params[k + 3], {G})) {
      return c10::nullopt;
    }
  }
  (void)T;
  FastPathHit(FastKernel::kRnnTrain);
  at::Tensor x = batchFirst ? input.transpose(0, 1) : input;
  std::vector<at::Tensor> hN, cN;
  hN.reserve(static_cast<size_t>(layers)), cN.reserve(static_cast<size_t>(layers));
  for (int64_t l = 0; l < layers; l++) {
    const size_t k = static_cast<size_t>(4 * l);
    variable_list r = FusedLstmLayer::apply(x, hx[0].select(0, l), hx[1].select(0, l), params[k], params[k + 1],
                                            params[k + 2], params[k + 3]);
    x = r[0];
    hN.push_back(r[1]);
    cN.push_back(r[2]);
  }
  at::Tensor output = batchFirst ? x.transpose(0, 1) : x;
  if (layers == 1) return std::vector<at::Tensor>{output, hN[0].unsqueeze(0), cN[0].unsqueeze(0)};
  return std::vector<at::Tensor>{output, at::stack(hN), at::stack(cN)};
}

}  // namespace tnapi
