// Multi-head attention, our own kernel: PyTorch's Python `F.multi_head_attention_forward`
// (1.13 slow path) step by step from at:: ops, in ONE native call. We never bind libtorch's C++
// `torch::nn::MultiheadAttention`: in 1.13 and later it adds a bool mask as +1.0, ignores float
// key-padding masks, and has no batch_first, 3-D masks or kdim != vdim (pytorch#80494).
//
// Masks are canonicalised the PyTorch 2.x way (`_canonical_mask`): bool (and uint8) masks become
// float 0/-inf of the query's dtype and the two masks are ADDED, which fixes 1.13's silent merge
// of a float attn_mask with a float key_padding_mask. Shapes and dtypes were validated in
// lib/nn/modules/attention.ts.
#include "args.h"
#include "fast_attention.h"
#include "fast_path.h"
#include "handle.h"
#include "workers.h"

#include <cmath>
#include <limits>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "F.";

// bool/uint8 -> float 0/-inf (true = blocked); float -> the query's dtype.
at::Tensor CanonicalMask(const at::Tensor& mask, at::ScalarType dtype) {
  if (mask.scalar_type() == at::kBool || mask.scalar_type() == at::kByte) {
    at::Tensor m = mask.scalar_type() == at::kBool ? mask : mask.to(at::kBool);
    return at::zeros_like(m, m.options().dtype(dtype)).masked_fill_(m, -std::numeric_limits<double>::infinity());
  }
  return mask.scalar_type() == dtype ? mask : mask.to(dtype);
}

// mha({query, key, value, numHeads, batched, batchFirst, qkvSame, kvSame, inProjWeight?,
//      inProjBias?, qProjWeight?, kProjWeight?, vProjWeight?, biasK?, biasV?, addZeroAttn, dropoutP,
//      training, outProjWeight, outProjBias?, attnMask?, keyPaddingMask?, needWeights,
//      averageAttnWeights}) -> [output, weights | null]: one options object (lib/native.ts's MhaCall).
// (MhaCall is in fast_attention.h.)

// mhaArgs(query, key, ..., averageAttnWeights): the same call with its options as arguments, in
// this order (lib/native.ts's MHA_KEYS; test/native/contract.test.ts compares them).
constexpr const char* kMhaKeys[] = {
    "query",         "key",         "value",        "numHeads",       "batched",     "batchFirst",
    "qkvSame",       "kvSame",      "inProjWeight", "inProjBias",     "qProjWeight", "kProjWeight",
    "vProjWeight",   "biasK",       "biasV",        "addZeroAttn",    "dropoutP",    "training",
    "outProjWeight", "outProjBias", "attnMask",     "keyPaddingMask", "needWeights", "averageAttnWeights"};
constexpr FieldKeys kMhaFields{kMhaKeys, sizeof(kMhaKeys) / sizeof(kMhaKeys[0])};

// Reads the arguments (JS thread): the options object at argument i, or (positional) mhaArgs's.
MhaCall ParseMha(const Args& a, size_t i = 0, bool positional = false) {
  Fields f = positional ? Fields(a, 0, kMhaFields) : Fields(a, i);
  MhaCall c;
  c.query = f.Tensor("query"), c.key = f.Tensor("key"), c.value = f.Tensor("value");
  c.H = f.Int("numHeads");
  c.batched = f.Bool("batched"), c.batchFirst = f.Bool("batchFirst");
  c.qkvSame = f.Bool("qkvSame"), c.kvSame = f.Bool("kvSame");
  c.inW = f.OptTensor("inProjWeight"), c.inB = f.OptTensor("inProjBias");
  c.qW = f.OptTensor("qProjWeight"), c.kW = f.OptTensor("kProjWeight"), c.vW = f.OptTensor("vProjWeight");
  c.biasK = f.OptTensor("biasK"), c.biasV = f.OptTensor("biasV");
  c.addZeroAttn = f.Bool("addZeroAttn");
  c.dropoutP = f.Number("dropoutP");
  c.training = f.Bool("training");
  c.outW = f.Tensor("outProjWeight");
  c.outB = f.OptTensor("outProjBias");
  c.attnMask = f.OptTensor("attnMask"), c.kpm = f.OptTensor("keyPaddingMask");
  c.needWeights = f.Bool("needWeights"), c.average = f.Bool("averageAttnWeights");
  if (c.H <= 0) a.RangeError("numHeads must be positive");
  if (!c.inW && !(c.qW && c.kW && c.vW))
    a.RangeError("expected inProjWeight or all of qProjWeight, kProjWeight, vProjWeight");
  return c;
}

// The kernel (any thread): [output, weights] (weights undefined unless needWeights).
std::vector<at::Tensor> RunMha(const MhaCall& c) {
  {
    std::vector<at::Tensor> fast;
    if (FastMha(c, &fast)) return fast;
  }
  at::Tensor query = c.query, key = c.key, value = c.value;
  const int64_t H = c.H;
  const bool batched = c.batched, batchFirst = c.batchFirst, qkvSame = c.qkvSame, kvSame = c.kvSame;
  const c10::optional<at::Tensor>&inW = c.inW, &inB = c.inB, &qW = c.qW, &kW = c.kW, &vW = c.vW;
  const c10::optional<at::Tensor>&biasK = c.biasK, &biasV = c.biasV, &outB = c.outB;
  const bool addZeroAttn = c.addZeroAttn, training = c.training, needWeights = c.needWeights, average = c.average;
  double dropoutP = c.dropoutP;
  const at::Tensor& outW = c.outW;
  c10::optional<at::Tensor> attnMask = c.attnMask, kpm = c.kpm;

  // To the (L, N, E) layout of the Python algorithm.
  if (!batched) {
    query = query.unsqueeze(1);
    key = qkvSame ? query : key.unsqueeze(1);
    value = kvSame ? key : value.unsqueeze(1);
    if (kpm) kpm = kpm->unsqueeze(0);
  } else if (batchFirst) {
    query = query.transpose(0, 1);
    key = qkvSame ? query : key.transpose(0, 1);
    value = kvSame ? key : value.transpose(0, 1);
  }
  const int64_t L = query.size(0), N = query.size(1), E = query.size(2);
  const int64_t headDim = E / H;

  // In-projection (packed weights: q, k, v rows in that order).
  at::Tensor q, k, v;
  if (inW) {
    if (qkvSame) {
      auto qkv = at::linear(query, *inW, inB).chunk(3, -1);
      q = qkv[0], k = qkv[1], v = qkv[2];
    } else if (kvSame) {
      auto w = inW->split_with_sizes({E, 2 * E});
      c10::optional<at::Tensor> bq, bkv;
      if (inB) {
        auto b = inB->split_with_sizes({E, 2 * E});
        bq = b[0], bkv = b[1];
      }
      q = at::linear(query, w[0], bq);
      auto kv = at::linear(key, w[1], bkv).chunk(2, -1);
      k = kv[0], v = kv[1];
    } else {
      auto w = inW->chunk(3);
      c10::optional<at::Tensor> bq, bk, bv;
      if (inB) {
        auto b = inB->chunk(3);
        bq = b[0], bk = b[1], bv = b[2];
      }
      q = at::linear(query, w[0], bq), k = at::linear(key, w[1], bk), v = at::linear(value, w[2], bv);
    }
  } else {
    c10::optional<at::Tensor> bq, bk, bv;
    if (inB) {
      auto b = inB->chunk(3);
      bq = b[0], bk = b[1], bv = b[2];
    }
    q = at::linear(query, *qW, bq), k = at::linear(key, *kW, bk), v = at::linear(value, *vW, bv);
  }

  at::ScalarType dtype = q.scalar_type();
  if (attnMask) {
    attnMask = CanonicalMask(*attnMask, dtype);
    if (attnMask->dim() == 2) attnMask = attnMask->unsqueeze(0);
  }
  if (kpm) kpm = CanonicalMask(*kpm, dtype);

  // bias_k / bias_v: one more key slot, never masked.
  if (biasK && biasV) {
    k = at::cat({k, biasK->repeat({1, N, 1})});
    v = at::cat({v, biasV->repeat({1, N, 1})});
    if (attnMask) attnMask = at::constant_pad_nd(*attnMask, {0, 1});
    if (kpm) kpm = at::constant_pad_nd(*kpm, {0, 1});
  }

  // (N*H, L|S, headDim), batch-major: row n*H + h.
  q = q.contiguous().view({L, N * H, headDim}).transpose(0, 1);
  k = k.contiguous().view({k.size(0), N * H, headDim}).transpose(0, 1);
  v = v.contiguous().view({v.size(0), N * H, headDim}).transpose(0, 1);

  if (addZeroAttn) {
    k = at::cat({k, at::zeros({N * H, 1, headDim}, k.options())}, 1);
    v = at::cat({v, at::zeros({N * H, 1, headDim}, v.options())}, 1);
    if (attnMask) attnMask = at::constant_pad_nd(*attnMask, {0, 1});
    if (kpm) kpm = at::constant_pad_nd(*kpm, {0, 1});
  }
  const int64_t S = k.size(1);

  // Merge: masks are additive, so add (2.x), rather than 1.13's masked_fill on a float mask.
  c10::optional<at::Tensor> mask = attnMask;
  if (kpm) {
    at::Tensor expanded = kpm->view({N, 1, 1, S}).expand({-1, H, -1, -1}).reshape({N * H, 1, S});
    mask = mask ? at::add(*mask, expanded) : expanded;
  }

  if (!training) dropoutP = 0.0;
  at::Tensor qScaled = q / std::sqrt(static_cast<double>(headDim));
  at::Tensor weights = mask ? at::baddbmm(*mask, qScaled, k.transpose(-2, -1)) : at::bmm(qScaled, k.transpose(-2, -1));
  weights = at::softmax(weights, -1);
  if (dropoutP > 0.0) weights = at::dropout(weights, dropoutP, true);

  at::Tensor out = at::bmm(weights, v);
  out = out.transpose(0, 1).contiguous().view({L * N, E});
  out = at::linear(out, outW, outB);
  out = out.view({L, N, out.size(1)});
  if (!batched)
    out = out.squeeze(1);
  else if (batchFirst)
    out = out.transpose(0, 1);

  if (!needWeights) return {out, at::Tensor()};
  weights = weights.view({N, H, L, S});
  if (average) weights = weights.sum(1) / H;
  if (!batched) weights = weights.squeeze(0);
  return {out, weights};
}

// [output, weights | null] for JS.
Napi::Value MhaResult(Napi::Env env, const std::vector<at::Tensor>& r) {
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Value(env, Wrap(env, r[0])));
  result.Set(1u, Napi::Value(env, Wrap(env, r[1])));  // undefined -> null
  return result;
}

TNAPI_FN(mha, { return MhaResult(a.Env(), RunMha(ParseMha(a))); })
TNAPI_FN(mhaArgs, { return MhaResult(a.Env(), RunMha(ParseMha(a, 0, true))); })
TNAPI_ASYNC_FN(mhaAsync, {
  MhaCall c = ParseMha(a);
  return [c] { return RunMha(c); };
})

// transformerLayer(selfAttn, layer, crossAttn?) -> output | null: a whole TransformerEncoderLayer
// (no crossAttn) or TransformerDecoderLayer forward in one call, for inference. selfAttn and
// crossAttn are `mha`'s checked arguments (their query/key/value are replaced here by the layer's
// intermediate tensors of the same shapes); layer = {x, memory?, normFirst, activation (0 relu,
// 1 gelu), linear1Weight, linear1Bias?, linear2Weight, linear2Bias?, norm{1,2,3}Weight?,
// norm{1,2,3}Bias?, eps{1,2,3}}. Null when a gradient could flow or the dtype is not fused: the
// caller (lib/nn/modules/transformer_layer.ts) then composes the layer step by step. Dropout is
// the caller's to rule out (eval mode or p = 0).
struct LayerCall {
  MhaCall sa;
  c10::optional<MhaCall> ca;
  at::Tensor x, w1, w2;
  c10::optional<at::Tensor> mem, b1, b2, nw[3], nb[3];
  double eps[3] = {0, 0, 0};
  bool normFirst = false;
  int64_t act = 0;
};

// Reads the arguments (JS thread).
LayerCall ParseLayer(const Args& a) {
  LayerCall c;
  c.sa = ParseMha(a, 0);
  Fields f(a, 1);
  c.x = f.Tensor("x");
  c.mem = f.OptTensor("memory");
  if (a.Has(2)) c.ca = ParseMha(a, 2);
  c.normFirst = f.Bool("normFirst");
  c.act = f.Int("activation");
  c.w1 = f.Tensor("linear1Weight"), c.w2 = f.Tensor("linear2Weight");
  c.b1 = f.OptTensor("linear1Bias"), c.b2 = f.OptTensor("linear2Bias");
  const char* wKeys[] = {"norm1Weight", "norm2Weight", "norm3Weight"};
  const char* bKeys[] = {"norm1Bias", "norm2Bias", "norm3Bias"};
  const char* eKeys[] = {"eps1", "eps2", "eps3"};
  for (int i = 0; i < (c.ca ? 3 : 2); i++)
    c.nw[i] = f.OptTensor(wKeys[i]), c.nb[i] = f.OptTensor(bKeys[i]), c.eps[i] = f.Number(eKeys[i]);
  if (c.ca && !c.mem) a.RangeError("a decoder layer (crossAttn given) needs layer.memory");
  if (c.act != 0 && c.act != 1)
    a.RangeError("layer.activation must be 0 (relu) or 1 (gelu), got " + std::to_string(c.act));
  return c;
}

// The layer (any thread): its output, or an undefined tensor when the call is not fused.
at::Tensor RunLayer(const LayerCall& c) {
  const int nNorms = c.ca ? 3 : 2;
  std::vector<at::Tensor> all = {c.x, c.w1, c.w2};
  auto add = [&](const c10::optional<at::Tensor>& t) {
    if (t) all.push_back(*t);
  };
  add(c.mem), add(c.b1), add(c.b2);
  for (int i = 0; i < nNorms; i++) add(c.nw[i]), add(c.nb[i]);
  for (const MhaCall* m : {&c.sa, c.ca ? &*c.ca : nullptr}) {
    if (m == nullptr) continue;
    all.push_back(m->outW);
    for (const auto* t : {&m->inW, &m->inB, &m->qW, &m->kW, &m->vW, &m->biasK, &m->biasV, &m->outB}) add(*t);
  }
  bool fast = FastDtype(c.x) && NoGradNeeded(all);
  for (const at::Tensor& t : all)
    fast = fast && t.device().is_cpu() && t.layout() == at::kStrided && t.scalar_type() == c.x.scalar_type();
  if (!fast) return at::Tensor();

  at::Tensor x = c.x;
  const int64_t E = x.size(-1);
  auto ln = [&](const at::Tensor& t, int i) { return at::layer_norm(t, {E}, c.nw[i], c.nb[i], c.eps[i]); };
  auto attend = [&](MhaCall m, const at::Tensor& q, const at::Tensor* kv) {
    m.query = q, m.key = kv != nullptr ? *kv : q, m.value = m.key;
    m.qkvSame = kv == nullptr, m.kvSame = true, m.needWeights = false;
    return RunMha(m)[0];
  };
  auto ff = [&](const at::Tensor& t) {
    at::Tensor h = at::linear(t, c.w1, c.b1);
    h = c.act == 0 ? at::relu(h) : at::gelu(h);
    return at::linear(h, c.w2, c.b2);
  };
  const int last = c.ca ? 2 : 1;
  if (c.normFirst) {
    x = at::add(x, attend(c.sa, ln(x, 0), nullptr));
    if (c.ca) x = at::add(x, attend(*c.ca, ln(x, 1), &*c.mem));
    x = at::add(x, ff(ln(x, last)));
  } else {
    x = ln(at::add(x, attend(c.sa, x, nullptr)), 0);
    if (c.ca) x = ln(at::add(x, attend(*c.ca, x, &*c.mem)), 1);
    x = ln(at::add(x, ff(x)), last);
  }
  FastPathHit(FastKernel::kLayer);
  return x;
}

TNAPI_FN(transformerLayer, {
  at::Tensor out = RunLayer(ParseLayer(a));
  return Napi::Value(a.Env(), Wrap(a.Env(), out));  // undefined -> null
})
// transformerLayerAsync(...) -> Promise<[output | null]>: the same on the pool.
TNAPI_ASYNC_FN(transformerLayerAsync, {
  LayerCall c = ParseLayer(a);
  return [c] { return std::vector<at::Tensor>{RunLayer(c)}; };
})

// sdpa(q, k, v, attnMask?, dropoutP, isCausal, scale?) with PyTorch 2 semantics: a bool mask's
// true = ALLOWED (the opposite of MultiheadAttention), float masks are added, and a query row
// with no allowed key gives 0 (PyTorch >= 2.5's _safe_softmax, which the composed path copies).
TNAPI_FN(sdpa, {
  const at::Tensor &q = a.Tensor(0), &k = a.Tensor(1), &v = a.Tensor(2);
  c10::optional<at::Tensor> mask = a.OptTensor(3);
  double p = a.Number(4);
  bool isCausal = a.Bool(5);
  c10::optional<double> scale;
  if (a.Has(6)) scale = a.Number(6);
#if TNAPI_TORCH_AT_LEAST(2, 1)
  // libtorch's own kernel (2.1+ takes `scale`).
  return Napi::Value(a.Env(), Wrap(a.Env(), at::scaled_dot_product_attention(q, k, v, mask, p, isCausal, scale)));
#else
  // The fused kernel for inference calls, else the composed path for libtorch 1.13 / 2.0:
  // PyTorch's reference algorithm.
  {
    at::Tensor fast;
    if (FastSdpa(q, k, v, mask, p, isCausal, scale, &fast)) return Napi::Value(a.Env(), Wrap(a.Env(), fast));
  }
  const int64_t L = q.size(-2), S = k.size(-2);
  double sc = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor bias;
  const double inf = std::numeric_limits<double>::infinity();
  if (isCausal) {
    at::Tensor allowed = at::ones({L, S}, q.options().dtype(at::kBool)).tril();
    bias = at::zeros({L, S}, q.options()).masked_fill_(allowed.logical_not(), -inf);
  }
  if (mask) {
    at::Tensor m = mask->scalar_type() == at::kBool
                       ? at::zeros(mask->sizes(), q.options()).masked_fill_(mask->logical_not(), -inf)
                       : mask->to(q.scalar_type());
    bias = bias.defined() ? bias + m : m;
  }
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * sc;
  if (bias.defined()) scores = scores + bias;
  // _safe_softmax: rows where every score is -inf give 0, not NaN — and no NaN gradient, so the
  // softmax never sees such a row (its scores are replaced by 0 first, its output by 0 after).
  at::Tensor fully = scores.eq(-inf).all(-1, /*keepdim=*/true);
  at::Tensor zero = at::zeros({}, scores.options());
  at::Tensor w = at::softmax(at::where(fully, zero, scores), -1);
  w = at::where(fully, zero, w);
  if (p > 0.0) w = at::dropout(w, p, true);
  return Napi::Value(a.Env(), Wrap(a.Env(), at::matmul(w, v)));
#endif
})

const Export kExports[] = {
    {"mha", mha, 1},
    {"mhaArgs", mhaArgs, static_cast<int>(kMhaFields.count)},
    {"mhaAsync", mhaAsync, 1},
    {"sdpa", sdpa, 6, 7},
    {"transformerLayer", transformerLayer, 2, 3},
    {"transformerLayerAsync", transformerLayerAsync, 2, 3},
};

}  // namespace

void RegisterAttention(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
