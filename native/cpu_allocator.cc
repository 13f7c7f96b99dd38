// A caching CPU allocator for libtorch's storages up to 64 MiB.
//
// Why, large blocks: glibc maps each block over ~128 KiB (up to its dynamic threshold) freshly with
// mmap and unmaps it at free, so every large result pays a page fault per 4 KiB page, every time.
// Where page faults are dear (a virtual machine: ~10 us each measured on one, an 8 MiB result then
// costs ~20 ms to fault in) this dominated the large attention rows: MultiheadAttention E=256, L=S=128,
// N=64 took 172 ms per call with 1 MiB the largest cached block and 49-90 ms with 64 MiB, and
// libtorch's own ops (the reference path, PyTorch itself) suffered alike (softmax of 32 MiB: 102 ms).
// onnxruntime keeps its memory in an arena for the same reason.
//
// Why, small blocks: a result left to the GC is freed in a batch when V8 collects it, and with glibc malloc a
// batch of frees followed by fresh 4 KB requests costs more than the op itself: every request of
// 1 KB or more consolidates the fast bins that the batch just filled (measured with perf on
// `a.add(b)`, 1000 float32 elements, result left to the GC: malloc, _int_free, malloc_consolidate
// and unlink_chunk took 33 % of the loop, 2.5 us per op against 1.1 us disposed). PyTorch frees at
// refcount zero, one block at a time, and does not see this. Released blocks are kept on per-size
// free lists (sizes rounded up to 2^k * {1, 1.25, 1.5, 1.75}, at most 25 % waste) and handed out
// again; at most kCacheBytes are kept, larger blocks and the rest go back to malloc. The blocks
// come from c10::alloc_cpu (64-byte aligned, as libtorch's own allocator). A block is cached only
// while the cache stays within kCacheBytes, so a single block larger than that is never kept.
//
// Installed once per process with c10::SetCPUAllocator at load. Not under AddressSanitizer (a
// cached block would hide a use after free) or with TORCH_NAPI_CPU_CACHE=0.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <type_traits>
#include <vector>

#include "args.h"

#if defined(__SANITIZE_ADDRESS__)
#define TNAPI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TNAPI_ASAN 1
#endif
#endif

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "torch.backends.cpu.";
constexpr size_t kHeader = 64;  // keeps the 64-byte alignment; holds the size class
constexpr int kMaxLog = 26;
constexpr size_t kMaxBlock = size_t{1} << kMaxLog;  // larger requests go straight to c10::alloc_cpu
constexpr size_t kClasses = 1 + (kMaxLog - 6) * 4;  // see ClassOf
constexpr int64_t kCacheBytes = int64_t{256} << 20;

// The size class of 0 < n <= kMaxBlock and its block size: 64, then 2^k * {1.25, 1.5, 1.75, 2}.
size_t ClassOf(size_t n, size_t* rounded) {
  if (n <= 64) {
    *rounded = 64;
    return 0;
  }
  const int k = 63 - __builtin_clzll(n - 1);  // 2^k < n <= 2^(k+1), k >= 6
  const size_t step = size_t{1} << (k - 2);
  const size_t q = (n + step - 1) / step;  // 5..8
  *rounded = q * step;
  return 1 + static_cast<size_t>(k - 6) * 4 + (q - 5);
}

struct Cache {
  std::mutex mu;
  std::array<std::vector<void*>, kClasses> free;  // raw blocks (header included)
  std::array<size_t, kClasses> size{};            // block size of each class (without header)
  int64_t bytes = 0;                              // held on the free lists
  int64_t blocks = 0;
};

Cache& TheCache() {
  static Cache* c = new Cache;  // never destroyed: storages may be freed during process teardown
  return *c;
}

// The header's class of a block larger than kMaxBlock: never cached, freed at once.
constexpr uint32_t kUncached = 0xffffffffu;

void Release(void* user) {
  if (user == nullptr) return;
  void* raw = static_cast<char*>(user) - kHeader;
  const auto cls = *static_cast<uint32_t*>(raw);
  if (cls == kUncached) {
    c10::free_cpu(raw);
    return;
  }
  Cache& c = TheCache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    const auto sz = static_cast<int64_t>(c.size[cls]);
    if (c.bytes + sz <= kCacheBytes) {
      c.free[cls].push_back(raw);
      c.bytes += sz;
      c.blocks++;
      return;
    }
  }
  c10::free_cpu(raw);
}

// Every block carries the header, the large ones too: libtorch frees raw allocations
// (raw_allocate, e.g. oneDNN's RNN backward workspace) through raw_deleter() = Release, whatever
// their size, so Release must recognise every pointer this allocator hands out.
c10::DataPtr Allocate(size_t n) {
  if (n == 0) return {nullptr, nullptr, &Release, c10::Device(c10::DeviceType::CPU)};
  if (n > kMaxBlock) {
    void* raw = c10::alloc_cpu(n + kHeader);
    *static_cast<uint32_t*>(raw) = kUncached;
    void* user = static_cast<char*>(raw) + kHeader;
    return {user, user, &Release, c10::Device(c10::DeviceType::CPU)};
  }
  size_t rounded;
  const size_t cls = ClassOf(n, &rounded);
  void* raw = nullptr;
  Cache& c = TheCache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    std::vector<void*>& list = c.free[cls];
    if (!list.empty()) {
      raw = list.back();
      list.pop_back();
      c.bytes -= static_cast<int64_t>(rounded);
      c.blocks--;
    }
  }
  if (raw == nullptr) {
    raw = c10::alloc_cpu(rounded + kHeader);  // throws c10::Error when out of memory
    *static_cast<uint32_t*>(raw) = static_cast<uint32_t>(cls);
  }
  void* user = static_cast<char*>(raw) + kHeader;
  return {user, user, &Release, c10::Device(c10::DeviceType::CPU)};
}

// c10::Allocator::allocate is const in libtorch 1.13 and not in 2.x: the base that overrides the
// one this libtorch declares is chosen from its type.
// (templates, so that only the one chosen is instantiated and checked against this libtorch)
template <class Base = c10::Allocator>
struct ConstAllocate : Base {
  c10::DataPtr allocate(size_t n) const override { return Allocate(n); }
};
template <class Base = c10::Allocator>
struct MutableAllocate : Base {
  c10::DataPtr allocate(size_t n) override { return Allocate(n); }
};
using AllocateBase = std::conditional_t<
    std::is_same<decltype(&c10::Allocator::allocate), c10::DataPtr (c10::Allocator::*)(size_t) const>::value,
    ConstAllocate<>, MutableAllocate<>>;

class CachingCpuAllocator final : public AllocateBase {
 public:
  // raw_allocate/raw_deallocate (used inside some kernels) free through this: data == context here
  c10::DeleterFnPtr raw_deleter() const override { return &Release; }
  // libtorch >= 2.3 declares this pure virtual (and this overrides it); 1.13 has no such method.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
};

bool& Installed() {
  static bool installed = false;
  return installed;
}

// Frees every cached block; returns the bytes freed.
int64_t EmptyCache() {
  Cache& c = TheCache();
  std::array<std::vector<void*>, kClasses> lists;
  int64_t bytes;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    lists.swap(c.free);
    bytes = c.bytes;
    c.bytes = 0;
    c.blocks = 0;
  }
  for (auto& list : lists)
    for (void* raw : list) c10::free_cpu(raw);
  return bytes;
}

// allocatorCache() -> {enabled, bytes, blocks, limit, maxBlock}
TNAPI_FN(allocatorCache, {
  Cache& c = TheCache();
  Napi::Object o = Napi::Object::New(a.Env());
  std::lock_guard<std::mutex> lock(c.mu);
  o.Set("enabled", Installed());
  o.Set("bytes", static_cast<double>(c.bytes));
  o.Set("blocks", static_cast<double>(c.blocks));
  o.Set("limit", static_cast<double>(kCacheBytes));
  o.Set("maxBlock", static_cast<double>(kMaxBlock));
  return o;
})

// emptyCache() -> bytes returned to the system allocator
TNAPI_FN(emptyCache, { return Napi::Number::New(a.Env(), static_cast<double>(EmptyCache())); })

const Export kExports[] = {
    {"allocatorCache", allocatorCache, 0},
    {"emptyCache", emptyCache, 0},
};

}  // namespace

void RegisterCpuAllocator(Napi::Env env, Napi::Object exports) {
  static std::once_flag once;
  std::call_once(once, [] {
#if !defined(TNAPI_ASAN)
    const char* v = std::getenv("TORCH_NAPI_CPU_CACHE");
    if (v != nullptr && std::strcmp(v, "0") == 0) return;
    Cache& c = TheCache();
    for (size_t cls = 0; cls < kClasses; cls++) {
      // the block size of each class, from its smallest member
      size_t n =
          cls == 0 ? 1 : (size_t{1} << (6 + (cls - 1) / 4)) + 1 + ((cls - 1) % 4) * (size_t{1} << (4 + (cls - 1) / 4));
      size_t rounded;
      ClassOf(n, &rounded);
      c.size[cls] = rounded;
    }
    static CachingCpuAllocator allocator;
    c10::SetCPUAllocator(&allocator, /*priority=*/1);
    Installed() = true;
#endif
  });
  RegisterTable(env, exports, kExports);
}

}  // namespace tnapi
