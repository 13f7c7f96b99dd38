// nn kernels: one ATen call per module forward (linear, layer_norm, embedding, the fused
// recurrent kernels, packing). Modules, parameters and argument checks live in lib/nn/.
#include "args.h"
#include "fast_attention.h"
#include "fast_rnn.h"
#include "fast_rnn_train.h"
#include "handle.h"
#include "rnn_kernels.h"
#include "workers.h"

#include <ATen/EmptyTensor.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cstring>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "F.";

Napi::Value TensorArray(Napi::Env env, std::initializer_list<at::Tensor> ts) {
  Napi::Array out = Napi::Array::New(env, ts.size());
  uint32_t k = 0;
  for (const at::Tensor& t : ts) out.Set(k++, Napi::Value(env, Wrap(env, t)));
  return out;
}

// Inference on small CPU products takes FastLinear (fast_attention.h); else at::linear.
at::Tensor Linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b) {
  at::Tensor out;
  if (FastLinear(x, w, b, &out)) return out;
  return at::linear(x, w, b);
}
TNAPI_TENSOR_FN(linear, Linear(a.Tensor(0), a.Tensor(1), a.OptTensor(2)))
TNAPI_ASYNC_FN(linearAsync, {
  at::Tensor x = a.Tensor(0), w = a.Tensor(1);
  c10::optional<at::Tensor> b = a.OptTensor(2);
  return [x, w, b] { return std::vector<at::Tensor>{Linear(x, w, b)}; };
})
TNAPI_TENSOR_FN(bilinear, at::bilinear(a.Tensor(0), a.Tensor(1), a.Tensor(2), a.OptTensor(3)))
// embedding(weight, indices, paddingIdx, scaleGradByFreq, sparse)
TNAPI_TENSOR_FN(embedding, at::embedding(a.Tensor(0), a.Tensor(1), a.Int(2), a.Bool(3), a.Bool(4)))
// embeddingRenorm_(weight, indices, maxNorm, normType): in place, outside autograd (as F.embedding)
TNAPI_FN(embeddingRenorm_, {
  c10::AutoGradMode noGrad(false);
  at::Tensor w = a.Mutable(0);
  at::embedding_renorm_(w, a.Tensor(1), a.Number(2), a.Number(3));
  return a.Env().Undefined();
})
TNAPI_TENSOR_FN(dropout, at::dropout(a.Tensor(0), a.Number(1), a.Bool(2)))
// layerNorm(input, normalizedShape, weight?, bias?, eps)
TNAPI_TENSOR_FN(layerNorm, at::layer_norm(a.Tensor(0), a.IntList(1), a.OptTensor(2), a.OptTensor(3), a.Number(4)))

// rnn({mode, input, batchSizes | null, hx[], zeroStates?, params[], hasBiases, numLayers, dropout,
//      train, bidirectional, batchFirst}) -> [output, hN] or [output, hN, cN] for LSTM: one options object
// (lib/native.ts's RnnCall).
// mode: 0 LSTM, 1 GRU, 2 RNN_TANH, 3 RNN_RELU. With batchSizes, input is a packed sequence's data.
struct RnnCall {
  int64_t mode, layers;
  at::Tensor input;
  c10::optional<at::Tensor> batchSizes;
  std::vector<at::Tensor> hx, params;
  bool hasBiases, train, bidir, batchFirst;
  double p;
};

// Reads and checks the arguments (JS thread).
// Zeros of these sizes; on the CPU without a trip through the dispatcher (the zero states of every
// recurrent call without hx: two per LSTM call).
at::Tensor Zeros(at::IntArrayRef sizes, const at::TensorOptions& o) {
  if (!o.device().is_cpu() || o.layout() != at::kStrided) return at::zeros(sizes, o);
  at::Tensor t = at::detail::empty_cpu(sizes, o);
  if (t.nbytes() > 0) std::memset(t.data_ptr(), 0, t.nbytes());
  return t;
}

// rnnArgs(mode, input, ..., dropout): the same call with its options as arguments, in this order
// (lib/native.ts's RNN_KEYS; test/native/contract.test.ts compares them).
constexpr const char* kRnnKeys[] = {"mode",      "input", "batchSizes",    "hx",         "zeroStates", "params",
                                    "hasBiases", "train", "bidirectional", "batchFirst", "numLayers",  "dropout"};
constexpr FieldKeys kRnnFields{kRnnKeys, sizeof(kRnnKeys) / sizeof(kRnnKeys[0])};

RnnCall ParseRnn(const Args& a, bool positional = false) {
  Fields f = positional ? Fields(a, 0, kRnnFields) : Fields(a, 0);
  RnnCall c;
  c.mode = f.Int("mode");
  c.input = f.Tensor("input");
  c.batchSizes = f.OptTensor("batchSizes");
  c.hx = f.TensorList("hx");
  // zeroStates: [lead, N, hOut(, hiddenSize)]: no hx given, the kernel's zero states are made here
  // (one native allocation each instead of a JS tensor made, passed and disposed per call).
  if (c.hx.empty() && f.Has("zeroStates")) {
    const std::vector<int64_t> z = f.IntList("zeroStates");
    if (z.size() < 3 || z.size() > 4 || std::any_of(z.begin(), z.end(), [](int64_t v) { return v < 0; }))
      a.RangeError("zeroStates must be [lead, N, hOut] or [lead, N, hOut, hiddenSize] of sizes >= 0");
    for (size_t k = 2; k < z.size(); k++) c.hx.push_back(Zeros({z[0], z[1], z[k]}, c.input.options()));
  }
  c.params = f.TensorList("params");
  c.hasBiases = f.Bool("hasBiases"), c.train = f.Bool("train");
  c.bidir = f.Bool("bidirectional"), c.batchFirst = f.Bool("batchFirst");
  c.layers = f.Int("numLayers");
  c.p = f.Number("dropout");
  if (c.mode < 0 || c.mode > 3) a.RangeError("unknown recurrent mode " + std::to_string(c.mode));
  if (c.mode == 0 && c.hx.size() != 2) a.RangeError("LSTM takes [h0, c0]");
  if (c.mode != 0 && c.hx.size() != 1) a.RangeError("GRU/RNN take one hidden state");
  return c;
}

// While the composed kernel is selected (the default where libtorch has a oneDNN LSTM, see
// rnn_kernels.h), a CPU LSTM runs composed. A packed sequence whose batch sizes are all equal is one
// full batch (libtorch's newest versions route that to oneDNN too); other packed sequences and
// LSTMs with projections never reach oneDNN.
c10::optional<std::vector<at::Tensor>> ComposedIfNeeded(const RnnCall& c) {
  if (CurrentLstmKernel() != LstmKernel::kComposed || !c.input.device().is_cpu() || c.input.numel() == 0) {
    return c10::nullopt;
  }
  if (c.hx[0].dim() != 3 || c.hx[1].dim() != 3 || c.hx[0].size(2) != c.hx[1].size(2)) return c10::nullopt;
  if (!c.batchSizes) {
    return ComposedLstm(c.input, c.hx, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir, c.batchFirst);
  }
  const at::Tensor bs = c.batchSizes->to(at::kLong).contiguous();
  const int64_t T = bs.numel();
  if (T == 0 || c.input.dim() != 2) return c10::nullopt;
  const int64_t* b = bs.data_ptr<int64_t>();
  if (!std::all_of(b, b + T, [&](int64_t v) { return v == b[0]; }) || b[0] * T != c.input.size(0)) return c10::nullopt;
  std::vector<at::Tensor> r = ComposedLstm(c.input.reshape({T, b[0], c.input.size(1)}), c.hx, c.params, c.hasBiases,
                                           c.layers, c.p, c.train, c.bidir, false);
  r[0] = r[0].reshape({T * b[0], r[0].size(2)});
  return r;
}

// The kernel (any thread): [output, hN] or [output, hN, cN].
std::vector<at::Tensor> RunRnn(const RnnCall& c) {
  const at::Tensor& input = c.input;
  bool packed = c.batchSizes.has_value();
  if (auto fast = FastRnn(c.mode, input, c.batchSizes, c.hx, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir,
                          c.batchFirst)) {
    return *fast;
  }
  if (c.mode == 0) {
    if (auto trained = FastLstmTrain(input, c.batchSizes, c.hx, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir,
                                     c.batchFirst)) {
      return *trained;
    }
    if (auto composed = ComposedIfNeeded(c)) return *composed;
    auto r = packed ? at::lstm(input, *c.batchSizes, c.hx, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir)
                    : at::lstm(input, c.hx, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir, c.batchFirst);
    return {std::get<0>(r), std::get<1>(r), std::get<2>(r)};
  }
  std::tuple<at::Tensor, at::Tensor> r;
  const at::Tensor& h = c.hx[0];
  switch (c.mode) {
    case 1:
      r = packed ? at::gru(input, *c.batchSizes, h, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir)
                 : at::gru(input, h, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir, c.batchFirst);
      break;
    case 2:
      r = packed ? at::rnn_tanh(input, *c.batchSizes, h, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir)
                 : at::rnn_tanh(input, h, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir, c.batchFirst);
      break;
    default:
      r = packed ? at::rnn_relu(input, *c.batchSizes, h, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir)
                 : at::rnn_relu(input, h, c.params, c.hasBiases, c.layers, c.p, c.train, c.bidir, c.batchFirst);
      break;
  }
  return {std::get<0>(r), std::get<1>(r)};
}

Napi::Value TensorVector(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array out = Napi::Array::New(env, ts.size());
  for (uint32_t k = 0; k < ts.size(); k++) out.Set(k, Napi::Value(env, Wrap(env, ts[k])));
  return out;
}

TNAPI_FN(rnn, { return TensorVector(a.Env(), RunRnn(ParseRnn(a))); })
TNAPI_FN(rnnArgs, { return TensorVector(a.Env(), RunRnn(ParseRnn(a, true))); })
TNAPI_ASYNC_FN(rnnAsync, {
  RnnCall c = ParseRnn(a);
  return [c] { return RunRnn(c); };
})

// cell(mode, input, hx[], wIh, wHh, bIh?, bHh?) -> [h] or [h, c] for LSTM
TNAPI_FN(rnnCell, {
  int64_t mode = a.Int(0);
  const at::Tensor& input = a.Tensor(1);
  std::vector<at::Tensor> hx = a.TensorList(2);
  const at::Tensor &wih = a.Tensor(3), &whh = a.Tensor(4);
  c10::optional<at::Tensor> bih = a.OptTensor(5), bhh = a.OptTensor(6);
  if (mode == 0) {
    if (hx.size() != 2) a.RangeError("LSTMCell takes [h0, c0]");
    auto r = at::lstm_cell(input, hx, wih, whh, bih, bhh);
    return TensorArray(a.Env(), {std::get<0>(r), std::get<1>(r)});
  }
  if (hx.size() != 1) a.RangeError("GRUCell/RNNCell take one hidden state");
  switch (mode) {
    case 1: return TensorArray(a.Env(), {at::gru_cell(input, hx[0], wih, whh, bih, bhh)});
    case 2: return TensorArray(a.Env(), {at::rnn_tanh_cell(input, hx[0], wih, whh, bih, bhh)});
    case 3: return TensorArray(a.Env(), {at::rnn_relu_cell(input, hx[0], wih, whh, bih, bhh)});
    default: break;
  }
  a.RangeError("unknown cell mode " + std::to_string(mode));
})

// packPadded(input, lengths (int64, cpu), batchFirst) -> [data, batchSizes]
TNAPI_FN(packPadded, {
  auto r = at::_pack_padded_sequence(a.Tensor(0), a.Tensor(1), a.Bool(2));
  return TensorArray(a.Env(), {std::get<0>(r), std::get<1>(r)});
})
// padPacked(data, batchSizes, batchFirst, paddingValue, totalLength) -> [padded, lengths]
TNAPI_FN(padPacked, {
  auto r = at::_pad_packed_sequence(a.Tensor(0), a.Tensor(1), a.Bool(2), a.Scalar(3), a.Int(4));
  return TensorArray(a.Env(), {std::get<0>(r), std::get<1>(r)});
})
TNAPI_TENSOR_FN(padSequence, at::pad_sequence(a.TensorList(0), a.Bool(1), a.Number(2)))

// setData(param, src): replaces the data behind a tensor, keeping its identity and autograd
// leaf status (PyTorch's `param.data = ...`, used by Module.to()).
TNAPI_FN(setData, {
  at::Tensor self = a.Mutable(0, false);
  self.set_data(a.Tensor(1));
  Rereport(a.Env(), a[0], a.Box(0));
  return a.Env().Undefined();
})

// qr(a) -> [Q, R] (reduced), for nn.init.orthogonal_
TNAPI_FN(qr, {
  auto r = at::linalg_qr(a.Tensor(0), "reduced");
  return TensorArray(a.Env(), {std::get<0>(r), std::get<1>(r)});
})

const Export kExports[] = {
    {"linear", linear, 2, 3},
    {"bilinear", bilinear, 3, 4},
    {"embedding", embedding, 5},
    {"embeddingRenorm_", embeddingRenorm_, 4},
    {"dropout", dropout, 3},
    {"layerNorm", layerNorm, 5},
    {"rnn", rnn, 1},
    {"rnnArgs", rnnArgs, static_cast<int>(kRnnFields.count)},
    {"rnnAsync", rnnAsync, 1},
    {"linearAsync", linearAsync, 2, 3},
    {"rnnCell", rnnCell, 5, 7},
    {"packPadded", packPadded, 3},
    {"padPacked", padPacked, 5},
    {"padSequence", padSequence, 3},
    {"setData", setData, 2},
    {"qr", qr, 1},
};

}  // namespace

void RegisterNN(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
