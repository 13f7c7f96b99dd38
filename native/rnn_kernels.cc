// The LSTM kernel choice (see rnn_kernels.h), the composed LSTM, a numeric self-check of libtorch's
// own LSTM against a float64 reference, and an op recorder (libtorch's RecordFunction) that tells
// which kernels a call actually ran.
#include "rnn_kernels.h"

#include <ATen/record_function.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <string>

#include "args.h"
#include "handle.h"

namespace tnapi {

namespace {

constexpr const char* kNamePrefix = "torch.backends.";

bool LibtorchHasOneDnnRnn() {
#if TNAPI_TORCH_AT_LEAST(2, 0)
  return at::hasMKLDNN();  // libtorch 2.0 added the oneDNN LSTM (lstm_mkldnn_stub)
#else
  return false;  // 1.13's at::lstm on CPU is always the native kernel
#endif
}

// The default: composed wherever libtorch has a oneDNN LSTM, whose results are not trusted (see the
// header); libtorch's own kernel elsewhere (the same native algorithm, one call).
int DefaultKernel() { return static_cast<int>(LibtorchHasOneDnnRnn() ? LstmKernel::kComposed : LstmKernel::kLibtorch); }

std::atomic<int>& KernelSlot() {
  static std::atomic<int> k{DefaultKernel()};
  return k;
}

// Whether libtorch itself would consider oneDNN for an LSTM on `input` (libtorch >= 2.0 built with
// oneDNN, oneDNN enabled, a CPU float/bf16/half input with elements): the self-check reports it.
bool LibtorchMayUseOneDnnLstm(const at::Tensor& input) {
  if (!LibtorchHasOneDnnRnn() || !at::globalContext().userEnabledMkldnn()) return false;
  if (!input.device().is_cpu() || input.numel() == 0) return false;
  at::ScalarType st = input.scalar_type();
  return st == at::kFloat || st == at::kBFloat16 || st == at::kHalf;
}

}  // namespace

LstmKernel CurrentLstmKernel() { return static_cast<LstmKernel>(KernelSlot().load(std::memory_order_relaxed)); }

// libtorch's native CPU LSTM (ATen/native/RNN.cpp: FullLayer / FullBidirectionalLayer / LSTMCell
// with the input projection precomputed for every step), op for op.
std::vector<at::Tensor> ComposedLstm(const at::Tensor& input, const std::vector<at::Tensor>& hx,
                                     const std::vector<at::Tensor>& params, bool hasBiases, int64_t layers,
                                     double dropout, bool train, bool bidirectional, bool batchFirst) {
  TORCH_CHECK(input.dim() == 3, "LSTM: expected a 3-D input, got ", input.dim(), "-D");
  TORCH_CHECK(hx.size() == 2, "LSTM: expected [h0, c0]");
  const int64_t D = bidirectional ? 2 : 1;
  const bool proj = hx[0].size(2) != hx[1].size(2);
  const size_t stride = (hasBiases ? 4 : 2) + (proj ? 1 : 0);
  TORCH_CHECK(params.size() == stride * static_cast<size_t>(layers * D), "LSTM: expected ", stride * layers * D,
              " parameters, got ", params.size());
  TORCH_CHECK(hx[0].size(0) == layers * D && hx[1].size(0) == layers * D, "LSTM: expected ", layers * D,
              " initial states per tensor");
  at::Tensor x = batchFirst ? input.transpose(0, 1) : input;  // (T, N, I)
  TORCH_CHECK(x.size(0) > 0, "Expected sequence length to be larger than 0 in RNN");
  const int64_t T = x.size(0);
  std::vector<at::Tensor> hN, cN;
  hN.reserve(layers * D), cN.reserve(layers * D);
  for (int64_t l = 0; l < layers; l++) {
    std::vector<at::Tensor> dirOut;
    for (int64_t d = 0; d < D; d++) {
      const size_t k = static_cast<size_t>(l * D + d) * stride;
      const at::Tensor& wIh = params[k];
      const at::Tensor& wHh = params[k + 1];
      c10::optional<at::Tensor> bIh, bHh;
      if (hasBiases) bIh = params[k + 2], bHh = params[k + 3];
      at::Tensor h = hx[0][l * D + d], c = hx[1][l * D + d];
      std::vector<at::Tensor> steps = at::linear(x, wIh, bIh).unbind(0);  // (N, 4H) each
      std::vector<at::Tensor> ys(static_cast<size_t>(T));
      for (int64_t s = 0; s < T; s++) {
        const size_t t = static_cast<size_t>(d == 0 ? s : T - 1 - s);
        at::Tensor gates = at::linear(h, wHh, bHh).add_(steps[t]);
        std::vector<at::Tensor> g = gates.unsafe_chunk(4, 1);
        at::Tensor in = g[0].sigmoid_(), forget = g[1].sigmoid_(), cell = g[2].tanh_(), out = g[3].sigmoid_();
        c = (forget * c).add_(in * cell);
        h = out * c.tanh();
        if (proj) h = at::matmul(h, params[k + stride - 1].t());
        ys[t] = h;
      }
      hN.push_back(h), cN.push_back(c);
      dirOut.push_back(at::stack(ys, 0));
    }
    x = D == 2 ? at::cat(dirOut, 2) : dirOut[0];
    if (dropout != 0 && train && l < layers - 1) x = at::dropout(x, dropout, /*train=*/true);
  }
  return {batchFirst ? x.transpose(0, 1) : x, at::stack(hN, 0), at::stack(cN, 0)};
}

namespace {

// ---------------------------------------------------------------------------------------------
// Op recording: the names of the ATen ops dispatched on this thread while a JS function runs
// (libtorch's RecordFunction, what its profiler records). Nested ops are included.
thread_local std::vector<std::string>* tlRecordedOps = nullptr;

std::unique_ptr<at::ObserverContext> OnOpStart(const at::RecordFunction& fn) {
  if (tlRecordedOps != nullptr) tlRecordedOps->emplace_back(fn.name());
  return nullptr;
}

class OpRecorder {
 public:
  OpRecorder() : prev_(tlRecordedOps) {
    tlRecordedOps = &names_;
    handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(OnOpStart).scopes({at::RecordScope::FUNCTION}));
  }
  ~OpRecorder() {
    at::removeCallback(handle_);
    tlRecordedOps = prev_;
  }
  OpRecorder(const OpRecorder&) = delete;
  OpRecorder& operator=(const OpRecorder&) = delete;
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<std::string> names_;
  std::vector<std::string>* prev_;
  at::CallbackHandle handle_;
};

Napi::Array StringArray(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (uint32_t i = 0; i < v.size(); i++) a.Set(i, v[i]);
  return a;
}

// recordOps(fn) -> [result of fn(), op names]
TNAPI_FN(recordOps, {
  if (!a[0].IsFunction()) a.TypeError(0, "a function");
  Napi::Function fn = a[0].As<Napi::Function>();
  OpRecorder rec;
  Napi::Value result = fn.Call({});
  Napi::Array out = Napi::Array::New(a.Env(), 2);
  out.Set(0u, result);
  out.Set(1u, StringArray(a.Env(), rec.names()));
  return out;
})

// lstmKernel(k?) -> the kernel now (0 libtorch, 1 composed); with k, sets it first (-1: the default).
TNAPI_FN(lstmKernel, {
  if (a.Has(0)) {
    int64_t k = a.Int(0);
    if (k < -1 || k > 1) a.RangeError("unknown LSTM kernel " + std::to_string(k));
    KernelSlot().store(k == -1 ? DefaultKernel() : static_cast<int>(k), std::memory_order_relaxed);
  }
  return Napi::Number::New(a.Env(), static_cast<int>(CurrentLstmKernel()));
})

// ---------------------------------------------------------------------------------------------
// The self-check: small LSTMs (the shapes include one that oneDNN's AVX-512 kernel got wrong) run
// through at::lstm, libtorch's own choice of kernel, and through the composed LSTM, each compared
// with a float64 LSTM written out below. Weights are drawn from a local generator (the user's
// torch.manualSeed stream is untouched), rounded to float so that only the arithmetic differs.
struct CheckCase {
  int64_t T, N, I, H, layers;
  bool bidir;
};
// On an AVX-512 AMD EPYC with libtorch 2.6 (oneDNN 3.7.2), 840 of 1,200 shapes tried were wrong,
// by hidden size: 1-16, 33 and 48 wrong, 17, 20, 24, 31, 32 and 64 right, whatever the batch and
// input sizes. The cases cover both groups.
constexpr CheckCase kCases[] = {
    {5, 3, 6, 6, 1, false},     // the checkpoint test's Linear(4,6) -> LSTM(6,6) shape
    {10, 1, 10, 20, 2, false},  // the seed model's encoder
    {10, 32, 20, 20, 2, false}, {7, 4, 5, 8, 1, true},  {3, 16, 32, 64, 1, false}, {4, 2, 3, 1, 1, false},
    {4, 3, 16, 16, 2, false},   {3, 2, 8, 33, 1, true}, {3, 5, 4, 48, 1, false},
};
struct LayerParams {
  std::vector<double> wIh, wHh, bIh, bHh;  // (4H, in), (4H, H), (4H), (4H)
};

double Sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// Output (T, N, D*H) of a zero-state LSTM, in float64.
std::vector<double> ReferenceLstm(const CheckCase& k, const std::vector<double>& x, const std::vector<LayerParams>& p) {
  const int64_t D = k.bidir ? 2 : 1, H = k.H, N = k.N, T = k.T;
  std::vector<double> in = x;
  int64_t inSize = k.I;
  for (int64_t l = 0; l < k.layers; l++) {
    std::vector<double> out(static_cast<size_t>(T * N * D * H));
    for (int64_t d = 0; d < D; d++) {
      const LayerParams& w = p[static_cast<size_t>(l * D + d)];
      std::vector<double> h(static_cast<size_t>(N * H), 0.0), c(h), gates(static_cast<size_t>(4 * H));
      for (int64_t s = 0; s < T; s++) {
        const int64_t t = d == 0 ? s : T - 1 - s;
        std::vector<double> hNew(h.size());
        for (int64_t n = 0; n < N; n++) {
          const double* xi = &in[static_cast<size_t>((t * N + n) * inSize)];
          const double* hi = &h[static_cast<size_t>(n * H)];
          for (int64_t j = 0; j < 4 * H; j++) {
            double g = w.bIh[j] + w.bHh[j];
            for (int64_t q = 0; q < inSize; q++) g += w.wIh[j * inSize + q] * xi[q];
            for (int64_t q = 0; q < H; q++) g += w.wHh[j * H + q] * hi[q];
            gates[j] = g;
          }
          for (int64_t j = 0; j < H; j++) {
            double ig = Sigmoid(gates[j]), fg = Sigmoid(gates[H + j]), gg = std::tanh(gates[2 * H + j]),
                   og = Sigmoid(gates[3 * H + j]);
            double& cj = c[static_cast<size_t>(n * H + j)];
            cj = fg * cj + ig * gg;
            hNew[static_cast<size_t>(n * H + j)] = og * std::tanh(cj);
            out[static_cast<size_t>((t * N + n) * D * H + d * H + j)] = hNew[static_cast<size_t>(n * H + j)];
          }
        }
        h = hNew;
      }
    }
    in = out;
    inSize = D * H;
  }
  return in;
}

std::vector<double> Draw(std::mt19937& gen, int64_t n, double scale) {
  std::uniform_real_distribution<double> u(-scale, scale);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v) e = static_cast<double>(static_cast<float>(u(gen)));
  return v;
}

at::Tensor FloatTensor(const std::vector<double>& v, at::IntArrayRef shape) {
  at::Tensor t = at::empty(shape, at::kFloat);
  float* p = t.data_ptr<float>();
  for (size_t i = 0; i < v.size(); i++) p[i] = static_cast<float>(v[i]);
  return t;
}

void Worst(double* m, double d) {
  if (!(d <= *m)) *m = d;  // NaN wins
}

double MaxAbsDiff(const at::Tensor& got, const std::vector<double>& want) {
  at::Tensor g = got.contiguous().to(at::kDouble);
  const double* p = g.data_ptr<double>();
  double m = 0;
  for (size_t i = 0; i < want.size(); i++) Worst(&m, std::abs(p[i] - want[i]));
  return m;
}

bool Contains(const std::vector<std::string>& v, const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// rnnSelfCheck() -> {libtorchMaxAbsDiff, composedMaxAbsDiff, oneDnnRan, oneDnnPossible, cases}
TNAPI_FN(rnnSelfCheck, {
  std::mt19937 gen(20261202);
  double libDiff = 0, compDiff = 0;
  bool oneDnnRan = false;
  for (const CheckCase& k : kCases) {
    const int64_t D = k.bidir ? 2 : 1;
    std::vector<double> x = Draw(gen, k.T * k.N * k.I, 1.0);
    std::vector<LayerParams> p;
    std::vector<at::Tensor> params;
    const double scale = 1.0 / std::sqrt(static_cast<double>(k.H));
    for (int64_t l = 0; l < k.layers; l++) {
      const int64_t in = l == 0 ? k.I : D * k.H;
      for (int64_t d = 0; d < D; d++) {
        LayerParams w{Draw(gen, 4 * k.H * in, scale), Draw(gen, 4 * k.H * k.H, scale), Draw(gen, 4 * k.H, scale),
                      Draw(gen, 4 * k.H, scale)};
        params.push_back(FloatTensor(w.wIh, {4 * k.H, in}));
        params.push_back(FloatTensor(w.wHh, {4 * k.H, k.H}));
        params.push_back(FloatTensor(w.bIh, {4 * k.H}));
        params.push_back(FloatTensor(w.bHh, {4 * k.H}));
        p.push_back(std::move(w));
      }
    }
    std::vector<double> want = ReferenceLstm(k, x, p);
    at::Tensor input = FloatTensor(x, {k.T, k.N, k.I});
    std::vector<at::Tensor> hx = {at::zeros({k.layers * D, k.N, k.H}), at::zeros({k.layers * D, k.N, k.H})};
    // Both grad modes: libtorch picks its kernel without looking at them, but the check must not
    // depend on that.
    for (bool grad : {false, true}) {
      c10::AutoGradMode mode(grad);
      at::Tensor out;
      {
        OpRecorder rec;
        out = std::get<0>(at::lstm(input, hx, params, true, k.layers, 0.0, false, k.bidir, false));
        oneDnnRan = oneDnnRan || Contains(rec.names(), "aten::mkldnn_rnn_layer");
      }
      Worst(&libDiff, MaxAbsDiff(out, want));
      at::Tensor comp = ComposedLstm(input, hx, params, true, k.layers, 0.0, false, k.bidir, false)[0];
      Worst(&compDiff, MaxAbsDiff(comp, want));
    }
  }
  Napi::Object o = Napi::Object::New(a.Env());
  o.Set("libtorchMaxAbsDiff", libDiff);
  o.Set("composedMaxAbsDiff", compDiff);
  o.Set("oneDnnRan", oneDnnRan);
  o.Set("oneDnnPossible", LibtorchMayUseOneDnnLstm(at::empty({1}, at::kFloat)));
  o.Set("cases", static_cast<double>(sizeof(kCases) / sizeof(kCases[0])));
  return o;
})

const Export kExports[] = {
    {"recordOps", recordOps, 1},
    {"lstmKernel", lstmKernel, 0, 1},
    {"rnnSelfCheck", rnnSelfCheck, 0},
};

}  // namespace

void RegisterRnnKernels(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
