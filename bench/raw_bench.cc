// Raw libtorch side of `npm run bench`: the floor that torch-napi's per-call overhead is
// measured against. bench/run.js compiles it against the libtorch that
// install/find-libtorch.js finds (the one the addon links) and caches the binary in bench/out/.
//
// Usage: raw_bench [--threads N] SNIPPET:ITERS:REPS:WARMUP ...
// Prints one JSON object: {"version", "threads", "results": {snippet: [ns per op, ...]}, "errors",
// "checks": {snippet: [numbers]}}.
//
// A snippet is `setup() -> run(iters)`, as in bench/torch_bench.py; new ones are added to
// snippets() under the name bench/cases.js gives them. A snippet may also return a check (the
// Bench struct): output checksums on its fixed input and weights, computed once before the
// warm-up and reported under "checks", which bench/run.js compares with PyTorch and torch-napi.
//
// The models use libtorch's C++ API: torch::nn::LSTM, torch::nn::Linear, torch::optim::Adam.
// Attention is PyTorch 1.13's Python algorithm (F.multi_head_attention_forward) composed from
// at:: ops, not torch::nn::MultiheadAttention, whose bool-mask handling is broken in 1.13
// (a bool mask is added as +1.0; pytorch#80494). Weights and inputs come from the same closed
// formulas as in bench/torch_bench.py (fixed, fillParams).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr int64_t kBig = 1000000;  // elements of the creation/data copy benchmarks

// Keeps the compiler from dropping work whose result is unused.
template <typename T>
inline void keep(T const* p) {
  asm volatile("" : : "r"(p) : "memory");
}

using Run = std::function<void(int64_t)>;
using Check = std::function<std::vector<double>()>;
struct Bench {
  Bench(Run r) : run(std::move(r)) {}  // NOLINT: a plain Run converts
  Bench(Run r, Check c) : run(std::move(r)), check(std::move(c)) {}
  Run run;
  Check check;  // may be empty
};
using Setup = std::function<Bench()>;

Setup add(int64_t n) {
  return [n]() -> Run {
    at::Tensor a = at::ones({n});
    at::Tensor b = at::randn({n});
    return [a, b](int64_t iters) {
      for (int64_t i = 0; i < iters; i++) {
        at::Tensor c = a.add(b);  // freed at the end of the iteration, like dispose()
        keep(c.unsafeGetTensorImpl());
      }
    };
  };
}

// A new tensor holding a copy of a caller's buffer (what torch.tensor(Float32Array) does).
Run createMemcpy() {
  auto src = std::make_shared<std::vector<float>>(kBig);
  for (int64_t i = 0; i < kBig; i++) (*src)[i] = static_cast<float>(i % 1000) * 0.001f;
  return [src](int64_t iters) {
    for (int64_t i = 0; i < iters; i++) {
      at::Tensor t = at::empty({kBig}, at::kFloat);
      std::memcpy(t.data_ptr<float>(), src->data(), kBig * sizeof(float));
      keep(t.data_ptr<float>());
    }
  };
}

// A new buffer holding a copy of a tensor's data (what t.data() does).
Run dataMemcpy() {
  at::Tensor t = at::randn({kBig});
  return [t](int64_t iters) {
    for (int64_t i = 0; i < iters; i++) {
      std::unique_ptr<float[]> out(new float[kBig]);
      std::memcpy(out.get(), t.data_ptr<float>(), kBig * sizeof(float));
      keep(out.get());
    }
  };
}

// ---- models: fixed weights and inputs (the same formulas in bench/torch_bench.py) -----------

// sin(0.1 * i + k) over the flattened index i, float32.
at::Tensor fixedTensor(at::IntArrayRef shape, double k) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return at::arange(n, at::kFloat).mul(0.1).add(k).sin().view(shape);
}

// Parameter j in sorted-name order := sin(0.37 * i + 1.3 * j) * scale (1/sqrt(last dim) for
// matrices, 0.1 for vectors).
void fillParams(torch::nn::Module& m) {
  auto named = m.named_parameters();
  std::vector<std::string> names;
  for (const auto& kv : named) names.push_back(kv.key());
  std::sort(names.begin(), names.end());
  torch::NoGradGuard noGrad;
  for (size_t j = 0; j < names.size(); j++) {
    at::Tensor p = named[names[j]];
    double scale = p.dim() >= 2 ? 1.0 / std::sqrt(static_cast<double>(p.size(-1))) : 0.1;
    p.copy_(
        at::arange(p.numel(), at::kFloat).mul(0.37).add(1.3 * static_cast<double>(j)).sin().mul(scale).view(p.sizes()));
  }
}

// (N, S) bool, true = padded: sequence b has length S - b % 3.
at::Tensor lengthsOf(int64_t n, int64_t s) { return at::arange(n, at::kLong).remainder(3).neg().add(s); }
at::Tensor paddingMask(int64_t n, int64_t s) {
  return at::arange(s, at::kLong).unsqueeze(0).ge(lengthsOf(n, s).unsqueeze(1));
}

// [sum, sum(x_i * (i % 13 - 6))] of each tensor, in double.
std::vector<double> checksum(std::initializer_list<at::Tensor> ts) {
  std::vector<double> out;
  for (const at::Tensor& t : ts) {
    at::Tensor d = t.detach().to(at::kDouble).contiguous();
    const double* p = d.data_ptr<double>();
    double s = 0, w = 0;
    for (int64_t i = 0, n = d.numel(); i < n; i++) {
      s += p[i];
      w += p[i] * static_cast<double>(i % 13 - 6);
    }
    out.push_back(s);
    out.push_back(w);
  }
  return out;
}

// nn.MultiheadAttention's parameters (same names and shapes as PyTorch's).
struct MHAImpl : torch::nn::Module {
  MHAImpl(int64_t e, int64_t h) : E(e), H(h) {
    in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * e, e}));
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * e}));
    out_proj = register_module("out_proj", torch::nn::Linear(e, e));
  }

  // PyTorch 1.13's F.multi_head_attention_forward for (L, N, E) inputs with packed in-projection
  // weights, no bias_k/v, no zero-attention, no dropout (eval or p = 0); attnMask (L, S) and
  // keyPaddingMask (N, S) bool (true = blocked), either may be undefined. Returns the output and,
  // with needWeights, the weights (averaged over heads with `average`).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                            const at::Tensor& attnMask, const at::Tensor& kpm, bool needWeights,
                                            bool average) {
    const int64_t L = query.size(0), N = query.size(1), S = key.size(0), hd = E / H;
    at::Tensor q, k, v;
    if (key.is_same(value)) {
      if (query.is_same(key)) {
        auto qkv = at::linear(query, in_proj_weight, in_proj_bias).chunk(3, -1);
        q = qkv[0], k = qkv[1], v = qkv[2];
      } else {
        auto w = in_proj_weight.split_with_sizes({E, 2 * E});
        auto b = in_proj_bias.split_with_sizes({E, 2 * E});
        q = at::linear(query, w[0], b[0]);
        auto kv = at::linear(key, w[1], b[1]).chunk(2, -1);
        k = kv[0], v = kv[1];
      }
    } else {
      auto w = in_proj_weight.chunk(3);
      auto b = in_proj_bias.chunk(3);
      q = at::linear(query, w[0], b[0]), k = at::linear(key, w[1], b[1]), v = at::linear(value, w[2], b[2]);
    }
    at::Tensor mask;
    if (attnMask.defined()) mask = attnMask.unsqueeze(0);
    q = q.contiguous().view({L, N * H, hd}).transpose(0, 1);
    k = k.contiguous().view({S, N * H, hd}).transpose(0, 1);
    v = v.contiguous().view({S, N * H, hd}).transpose(0, 1);
    if (kpm.defined()) {
      at::Tensor expanded = kpm.view({N, 1, 1, S}).expand({-1, H, -1, -1}).reshape({N * H, 1, S});
      mask = mask.defined() ? mask.logical_or(expanded) : expanded;
    }
    if (mask.defined()) {
      mask = at::zeros_like(mask, q.options()).masked_fill_(mask, -std::numeric_limits<double>::infinity());
    }
    at::Tensor qScaled = q / std::sqrt(static_cast<double>(hd));
    at::Tensor w =
        mask.defined() ? at::baddbmm(mask, qScaled, k.transpose(-2, -1)) : at::bmm(qScaled, k.transpose(-2, -1));
    w = at::softmax(w, -1);
    at::Tensor out = at::bmm(w, v);
    out = out.transpose(0, 1).contiguous().view({L * N, E});
    out = at::linear(out, out_proj->weight, out_proj->bias);
    out = out.view({L, N, out.size(1)});
    if (!needWeights) return {out, at::Tensor()};
    w = w.view({N, H, L, S});
    if (average) w = w.sum(1) / H;
    return {out, w};
  }

  int64_t E, H;
  at::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
};
TORCH_MODULE(MHA);

// The corrected seed model (examples/seed_model.ts).
struct SeedModelImpl : torch::nn::Module {
  SeedModelImpl()
      : encoder(register_module("encoder", torch::nn::LSTM(torch::nn::LSTMOptions(10, 20).num_layers(2)))),
        decoder(register_module("decoder", torch::nn::LSTM(torch::nn::LSTMOptions(20, 20).num_layers(2)))),
        cross(register_module("cross", MHA(20, 4))),
        head(register_module("head", torch::nn::Linear(20, 10))) {}

  at::Tensor forward(const at::Tensor& x, const at::Tensor& srcPadding) {
    at::Tensor memory = std::get<0>(encoder->forward(x));
    at::Tensor dec = std::get<0>(decoder->forward(memory));
    const int64_t L = dec.size(0), S = memory.size(0);
    at::Tensor mask = torch::triu(torch::ones({L, S}), 1).to(at::kBool);
    at::Tensor ctx = cross->forward(dec, memory, memory, mask, srcPadding, false, false).first;
    return head->forward(ctx);
  }

  torch::nn::LSTM encoder, decoder;
  MHA cross;
  torch::nn::Linear head;
};
TORCH_MODULE(SeedModel);

Setup lstmForward(int64_t L, int64_t N) {
  return [L, N]() -> Bench {
    torch::nn::LSTM lstm(torch::nn::LSTMOptions(10, 20).num_layers(2));
    fillParams(*lstm);
    lstm->eval();
    at::Tensor x = fixedTensor({L, N, 10}, 0.5);
    Run run = [lstm, x](int64_t iters) mutable {
      torch::NoGradGuard noGrad;
      for (int64_t i = 0; i < iters; i++) {
        auto r = lstm->forward(x);
        keep(std::get<0>(r).unsafeGetTensorImpl());
      }
    };
    Check check = [lstm, x]() mutable {
      torch::NoGradGuard noGrad;
      return checksum({std::get<0>(lstm->forward(x))});
    };
    return {run, check};
  };
}

// Cross-attention (query != key, key is value) with a causal attn mask and a key padding mask.
Setup mhaForward(int64_t L, int64_t N, int64_t E, int64_t H, bool needWeights) {
  return [=]() -> Bench {
    MHA mha(E, H);
    fillParams(*mha);
    mha->eval();
    at::Tensor q = fixedTensor({L, N, E}, 0.5), kv = fixedTensor({L, N, E}, 1.5);
    at::Tensor mask = torch::triu(torch::ones({L, L}), 1).to(at::kBool);
    at::Tensor pad = paddingMask(N, L);
    Run run = [=](int64_t iters) mutable {
      torch::NoGradGuard noGrad;
      for (int64_t i = 0; i < iters; i++) {
        auto r = mha->forward(q, kv, kv, mask, pad, needWeights, true);
        keep(r.first.unsafeGetTensorImpl());
      }
    };
    Check check = [=]() mutable {
      torch::NoGradGuard noGrad;
      auto r = mha->forward(q, kv, kv, mask, pad, needWeights, true);
      return needWeights ? checksum({r.first, r.second}) : checksum({r.first});
    };
    return {run, check};
  };
}

Setup seedForward(int64_t L, int64_t N) {
  return [L, N]() -> Bench {
    SeedModel model;
    fillParams(*model);
    model->eval();
    at::Tensor x = fixedTensor({L, N, 10}, 0.5), pad = paddingMask(N, L);
    Run run = [=](int64_t iters) mutable {
      torch::NoGradGuard noGrad;
      for (int64_t i = 0; i < iters; i++) {
        at::Tensor out = model->forward(x, pad);
        keep(out.unsafeGetTensorImpl());
      }
    };
    Check check = [=]() mutable {
      torch::NoGradGuard noGrad;
      return checksum({model->forward(x, pad)});
    };
    return {run, check};
  };
}

// zero_grad (grads set to undefined, as PyTorch 2 and torch-napi), forward, masked MSE over the
// valid steps, backward, Adam.
Setup seedTrain(int64_t L, int64_t N) {
  return [L, N]() -> Bench {
    SeedModel model;
    fillParams(*model);
    model->train();
    auto opt = std::make_shared<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
    at::Tensor x = fixedTensor({L, N, 10}, 0.5), pad = paddingMask(N, L);
    at::Tensor valid = at::arange(L, at::kLong).unsqueeze(1).lt(lengthsOf(N, L).sub(1).unsqueeze(0));  // (L, N)
    at::Tensor w = valid.unsqueeze(2).to(at::kFloat);
    at::Tensor y = fixedTensor({L, N, 10}, 2.5).mul(w);
    auto step = [=]() mutable {
      for (auto& p : model->parameters()) p.mutable_grad().reset();
      at::Tensor pred = model->forward(x, pad);
      at::Tensor loss = pred.sub(y).square().mul(w).sum().div(w.sum().mul(10));
      loss.backward();
      opt->step();
      return loss;
    };
    Run run = [step](int64_t iters) mutable {
      for (int64_t i = 0; i < iters; i++) {
        at::Tensor loss = step();
        keep(loss.unsafeGetTensorImpl());
      }
    };
    Check check = [step, model]() mutable {
      std::vector<double> out;
      for (int i = 0; i < 3; i++) out.push_back(step().item<double>());
      // Parameters in sorted-name order, as the checksum of PyTorch's and torch-napi's.
      auto named = model->named_parameters();
      std::vector<std::string> names;
      for (const auto& kv : named) names.push_back(kv.key());
      std::sort(names.begin(), names.end());
      std::vector<at::Tensor> flat;
      for (const auto& n : names) flat.push_back(named[n].detach().reshape({-1}));
      auto sums = checksum({at::cat(flat)});
      out.insert(out.end(), sums.begin(), sums.end());
      return out;
    };
    return {run, check};
  };
}

const std::map<std::string, Setup>& snippets() {
  static const std::map<std::string, Setup> m = {
      {"add_1", add(1)},
      {"add_1000", add(1000)},
      {"create_1m_memcpy", createMemcpy},
      {"data_1m_memcpy", dataMemcpy},
      {"lstm_L10_N1", lstmForward(10, 1)},
      {"lstm_L10_N32", lstmForward(10, 32)},
      {"lstm_L10_N256", lstmForward(10, 256)},
      {"lstm_L128_N64", lstmForward(128, 64)},
      {"mha_E256_L128_N64_w", mhaForward(128, 64, 256, 8, true)},
      {"mha_E256_L128_N64_now", mhaForward(128, 64, 256, 8, false)},
      {"mha_E20_L10_N32_w", mhaForward(10, 32, 20, 4, true)},
      {"mha_E20_L10_N32_now", mhaForward(10, 32, 20, 4, false)},
      {"seed_L10_N1", seedForward(10, 1)},
      {"seed_L10_N32", seedForward(10, 32)},
      {"seed_L10_N256", seedForward(10, 256)},
      {"seed_L128_N64", seedForward(128, 64)},
      {"seed_train_L10_N32", seedTrain(10, 32)},
  };
  return m;
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20)
      out += ' ';
    else
      out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
      continue;
    }
    specs.push_back(arg);
  }
  at::set_num_threads(threads);

  std::string results, errors, checks;
  for (const std::string& spec : specs) {
    char name[128];
    long long iters = 0, reps = 0, warmup = 0;
    if (std::sscanf(spec.c_str(), "%127[^:]:%lld:%lld:%lld", name, &iters, &reps, &warmup) != 4) {
      errors += (errors.empty() ? "" : ",") + jsonString(spec) + ":\"bad spec\"";
      continue;
    }
    auto it = snippets().find(name);
    if (it == snippets().end()) {
      errors += (errors.empty() ? "" : ",") + jsonString(name) + ":\"unknown snippet\"";
      continue;
    }
    try {
      Bench bench = it->second();
      Run& run = bench.run;
      if (bench.check) {
        std::string nums;
        for (double x : bench.check()) {
          char buf[64];
          if (std::isfinite(x))
            std::snprintf(buf, sizeof buf, "%s%.17g", nums.empty() ? "" : ",", x);
          else
            std::snprintf(buf, sizeof buf, "%snull", nums.empty() ? "" : ",");
          nums += buf;
        }
        checks += (checks.empty() ? "" : ",") + jsonString(name) + ":[" + nums + "]";
      }
      for (long long w = 0; w < warmup; w++) run(iters);
      std::string samples;
      for (long long r = 0; r < reps; r++) {
        auto t0 = std::chrono::steady_clock::now();
        run(iters);
        auto t1 = std::chrono::steady_clock::now();
        double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(iters);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%.3f", samples.empty() ? "" : ",", ns);
        samples += buf;
      }
      results += (results.empty() ? "" : ",") + jsonString(name) + ":[" + samples + "]";
    } catch (const std::exception& e) {
      errors += (errors.empty() ? "" : ",") + jsonString(name) + ":" + jsonString(e.what());
    }
  }
  std::printf("{\"version\":\"%s\",\"threads\":%d,\"results\":{%s},\"errors\":{%s},\"checks\":{%s}}\n", TORCH_VERSION,
              at::get_num_threads(), results.c_str(), errors.c_str(), checks.c_str());
  return 0;
}
