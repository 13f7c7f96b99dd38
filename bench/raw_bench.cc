// Raw libtorch side of `npm run bench`: the floor that torch-napi's per-call overhead is
// measured against. bench/run.js compiles it against the libtorch that
// scripts/find-libtorch.js finds (the one the addon links) and caches the binary in bench/out/.
//
// Usage: raw_bench [--threads N] SNIPPET:ITERS:REPS:WARMUP ...
// Prints one JSON object: {"version", "threads", "results": {snippet: [ns per op, ...]}, "errors"}.
//
// A snippet is `setup() -> run(iters)`, as in bench/torch_bench.py; new ones (LSTM, attention,
// a training step) are added to kSnippets under the name bench/cases.js gives them.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
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
using Setup = std::function<Run()>;

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

const std::map<std::string, Setup>& snippets() {
  static const std::map<std::string, Setup> m = {
      {"add_1", add(1)},
      {"add_1000", add(1000)},
      {"create_1m_memcpy", createMemcpy},
      {"data_1m_memcpy", dataMemcpy},
  };
  return m;
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += c; }
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) { threads = std::atoi(argv[++i]); continue; }
    specs.push_back(arg);
  }
  at::set_num_threads(threads);

  std::string results, errors;
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
      Run run = it->second();
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
  std::printf("{\"version\":\"%s\",\"threads\":%d,\"results\":{%s},\"errors\":{%s}}\n", TORCH_VERSION,
              at::get_num_threads(), results.c_str(), errors.c_str());
  return 0;
}
