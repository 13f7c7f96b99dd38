// torch.Generator (CPU): a handle to an at::Generator (CPUGeneratorImpl, the mt19937 engine of
// PyTorch's CPU generator, so the same seed gives PyTorch's streams), and the random ops that take
// one. The handle is a napi_external owning a GeneratorBox; the default generator's handle shares
// libtorch's global CPU generator. Every use locks the generator's mutex, as PyTorch does.
#include "generator.h"

#include "args.h"
#include "handle.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "torch.";
// PyTorch's default seed for a new torch.Generator() (c10::default_rng_seed_val).
constexpr uint64_t kDefaultSeed = 67280421310721ull;

struct GeneratorBox {
  static constexpr uint64_t kMagic = 0x746f726368524e47ull;  // "torchRNG"
  uint64_t magic = kMagic;
  at::Generator gen;
};

void FinalizeGenerator(node_api_basic_env env, void* data, void* hint) {
  // Runs inside the GC: dropping the generator reference calls no JS.
  auto* box = static_cast<GeneratorBox*>(data);
  box->magic = 0;
  delete box;
}

Napi::Value NewHandle(Napi::Env env, at::Generator gen) {
  auto* box = new GeneratorBox;
  box->gen = std::move(gen);
  napi_value result;
  if (napi_create_external(env, box, FinalizeGenerator, nullptr, &result) != napi_ok) {
    delete box;
    throw Napi::Error::New(env, "torch.Generator: could not create a generator handle");
  }
  return Napi::Value(env, result);
}

GeneratorBox* BoxOf(const Napi::Value& v) {
  if (v.IsEmpty() || !v.IsExternal()) return nullptr;
  auto* p = static_cast<GeneratorBox*>(v.As<Napi::External<void>>().Data());
  return p != nullptr && p->magic == GeneratorBox::kMagic ? p : nullptr;
}

// The generator behind argument `i` (a TypeError if it is not a generator handle).
at::Generator& Gen(const Args& a, size_t i) {
  GeneratorBox* box = i < a.Length() ? BoxOf(a[i]) : nullptr;
  if (box == nullptr) a.TypeError(i, "a Generator handle");
  return box->gen;
}

// (seed?) -> a new CPU generator; without a seed, PyTorch's default seed.
TNAPI_FN(generatorNew, {
  uint64_t seed = a.Has(0) ? static_cast<uint64_t>(a.Int(0)) : kDefaultSeed;
  return NewHandle(a.Env(), at::make_generator<at::CPUGeneratorImpl>(seed));
})
// () -> a handle on libtorch's default CPU generator (torch.default_generator).
TNAPI_FN(generatorDefault, { return NewHandle(a.Env(), at::detail::getDefaultCPUGenerator()); })
// (gen, seed as the int64 with the uint64's bits)
TNAPI_FN(generatorManualSeed, {
  at::Generator& g = Gen(a, 0);
  uint64_t seed = static_cast<uint64_t>(a.Int(1));
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
  return a.Env().Undefined();
})
// (gen) -> the new nondeterministic seed (bigint), as Generator.seed()
TNAPI_FN(generatorSeed, {
  at::Generator& g = Gen(a, 0);
  std::lock_guard<std::mutex> lock(g.mutex());
  return Napi::BigInt::New(a.Env(), g.seed());
})
TNAPI_FN(generatorInitialSeed, {
  at::Generator& g = Gen(a, 0);
  std::lock_guard<std::mutex> lock(g.mutex());
  return Napi::BigInt::New(a.Env(), g.current_seed());
})
// (gen) -> a uint8 tensor (PyTorch's get_state layout, so states move between the two)
TNAPI_FN(generatorGetState, {
  at::Generator& g = Gen(a, 0);
  std::lock_guard<std::mutex> lock(g.mutex());
  return Napi::Value(a.Env(), Wrap(a.Env(), g.get_state()));
})
TNAPI_FN(generatorSetState, {
  at::Generator& g = Gen(a, 0);
  at::Tensor state = a.Tensor(1);
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
  return a.Env().Undefined();
})
TNAPI_FN(generatorSame, {
  at::Generator& g = Gen(a, 0);
  at::Generator& h = Gen(a, 1);
  return Napi::Boolean::New(a.Env(), g == h);
})

// The random ops with a generator: the generator comes after PyTorch's positional arguments.
// (n, gen, dtype?, device?)
TNAPI_TENSOR_FN(randpermGen, at::randperm(a.Int(0), Gen(a, 1), a.Options(2, 3, at::kLong)))
// (low, high, shape, gen, dtype?, device?)
TNAPI_TENSOR_FN(randintGen, at::randint(a.Int(0), a.Int(1), a.IntList(2), Gen(a, 3), a.Options(4, 5, at::kLong)))
// (shape, gen, dtype?, device?)
TNAPI_TENSOR_FN(randGen, at::rand(a.IntList(0), Gen(a, 1), a.Options(2, 3, at::kFloat)))
TNAPI_TENSOR_FN(randnGen, at::randn(a.IntList(0), Gen(a, 1), a.Options(2, 3, at::kFloat)))
// (t, gen, from?, to?): random_() / random_(to) / random_(from, to)
TNAPI_FN(randomGen_, {
  at::Tensor t = a.Mutable(0);
  at::Generator& g = Gen(a, 1);
  if (a.Has(2) && a.Has(3))
    t.random_(a.Int(2), a.Int(3), g);
  else if (a.Has(2))
    t.random_(a.Int(2), g);
  else
    t.random_(g);
  return a.Env().Undefined();
})
// (t, from, to, gen)
TNAPI_FN(uniformGen_, {
  a.Mutable(0).uniform_(a.Number(1), a.Number(2), Gen(a, 3));
  return a.Env().Undefined();
})
// (t, mean, std, gen)
TNAPI_FN(normalGen_, {
  a.Mutable(0).normal_(a.Number(1), a.Number(2), Gen(a, 3));
  return a.Env().Undefined();
})

const Export kExports[] = {
    {"generatorNew", generatorNew, 0, 1},
    {"generatorDefault", generatorDefault, 0},
    {"generatorManualSeed", generatorManualSeed, 2},
    {"generatorSeed", generatorSeed, 1},
    {"generatorInitialSeed", generatorInitialSeed, 1},
    {"generatorGetState", generatorGetState, 1},
    {"generatorSetState", generatorSetState, 2},
    {"generatorSame", generatorSame, 2},
    {"randpermGen", randpermGen, 2, 4},
    {"randintGen", randintGen, 4, 6},
    {"randGen", randGen, 2, 4},
    {"randnGen", randnGen, 2, 4},
    {"randomGen_", randomGen_, 2, 4},
    {"uniformGen_", uniformGen_, 4},
    {"normalGen_", normalGen_, 4},
};

}  // namespace

bool GeneratorOf(const Napi::Value& v, at::Generator* out) {
  GeneratorBox* box = BoxOf(v);
  if (box == nullptr) return false;
  *out = box->gen;
  return true;
}

void RegisterGenerator(Napi::Env env, Napi::Object exports) { RegisterTable(env, exports, kExports); }

}  // namespace tnapi
