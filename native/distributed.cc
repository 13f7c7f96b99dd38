// torch.distributed on libtorch's c10d (see distributed.h). The protocol on the store (prefixes,
// the store-based barrier, group names) is PyTorch's and lives in lib/distributed/, which calls
// these bindings; here are only libtorch's objects and the thread-pool plumbing:
//
//   - stores: TCPStore / FileStore / PrefixStore, and their key-value operations;
//   - process groups: a Gloo (or NCCL) group made exactly as Python's `_new_process_group_helper`
//     makes it (1.13: the ProcessGroupGloo itself; 2.x: a c10d::ProcessGroup holding the Gloo
//     backend for cpu and cuda), sequence number set as Python sets it;
//   - collectives: one binding, `collective(pg, op, options, sync)`.
//
// Everything that can block (connecting, waiting for peers, a collective) runs on the libuv pool
// through workers.h's PoolWorker, with its tensors marked in flight (inputs) or written (outputs);
// `sync` runs it on the calling thread instead. Without Gloo's headers at build time the bindings
// exist but refuse with the reason (`available()` says false).
#include "distributed.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "compat.h"
#include "workers.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef TORCH_NAPI_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef TORCH_NAPI_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace tnapi {
namespace {

constexpr const char* kNamePrefix = "torch.distributed.";
using Ms = std::chrono::milliseconds;

// ---------------------------------------------------------------------------------------------
// Handles: Node-API externals, type-tagged so that no other external passes for one.
constexpr napi_type_tag kStoreTag = {0x746e617069647374ull, 0x53746f7265000001ull};
constexpr napi_type_tag kGroupTag = {0x746e617069647374ull, 0x47726f7570000001ull};

struct StoreHolder {
  c10::intrusive_ptr<c10d::Store> store;
  std::string where;  // "host:port", a file path: for messages
};

struct GroupHolder {
  c10::intrusive_ptr<c10d::ProcessGroup> pg;  // null once destroyed
  std::string backend;
  int rank = 0, size = 0;
  int64_t timeoutMs = 0;
  int inflight = 0;  // collectives queued and not completed (JS thread only)
  // Every rank is torch-napi (lib/distributed checks it at creation): each collective first
  // compares the ranks' calls (Fingerprint below), and send/recv send their size first.
  bool checked = false;
};

template <class T>
Napi::Value MakeHandle(Napi::Env env, T* holder, const napi_type_tag& tag) {
  Napi::External<T> ext = Napi::External<T>::New(env, holder, [](Napi::Env, T* h) { delete h; });
  napi_status s = napi_type_tag_object(env, ext, &tag);
  if (s != napi_ok) throw Napi::Error::New(env, "torch.distributed: cannot tag a native handle");
  return ext;
}

template <class T>
T* HolderOf(Napi::Env env, Napi::Value v, const napi_type_tag& tag) {
  if (v.IsObject() && !v.IsExternal()) {
    Napi::Value inner = v.As<Napi::Object>().Get("_pg");
    if (inner.IsExternal())
      v = inner;
    else {
      inner = v.As<Napi::Object>().Get("_store");
      if (inner.IsExternal()) v = inner;
    }
  }
  if (!v.IsExternal()) return nullptr;
  bool ok = false;
  if (napi_check_object_type_tag(env, v, &tag, &ok) != napi_ok || !ok) return nullptr;
  return v.As<Napi::External<T>>().Data();
}

std::string Describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "the number " + v.ToString().Utf8Value();
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsArray()) return "an array";
  return "an object of another kind";
}

StoreHolder* StoreArg(const Args& a, size_t i) {
  StoreHolder* h = HolderOf<StoreHolder>(a.Env(), a[i], kStoreTag);
  if (h == nullptr)
    throw Napi::TypeError::New(a.Env(), a.Name() + ": expected argument " + std::to_string(i) +
                                            " to be a Store (TCPStore, FileStore, PrefixStore), got " + Describe(a[i]));
  return h;
}

GroupHolder* GroupArg(Napi::Env env, const std::string& name, Napi::Value v) {
  GroupHolder* h = HolderOf<GroupHolder>(env, v, kGroupTag);
  if (h == nullptr) throw Napi::TypeError::New(env, name + ": expected a ProcessGroup, got " + Describe(v));
  if (!h->pg) throw Napi::Error::New(env, name + ": the process group was destroyed (destroyProcessGroup)");
  return h;
}

// c10::Error's message without its C++ backtrace; others' what().
std::string MessageOf(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

// ---------------------------------------------------------------------------------------------
// Running: on the pool (a Promise) or here (`sync`).
using WorkFn = std::function<void()>;
using ResultFn = std::function<Napi::Value(Napi::Env)>;

class DistWorker : public PoolWorker {
 public:
  DistWorker(Napi::Env env, std::string name, std::vector<TensorBox*> reads, std::vector<TensorBox*> writes,
             WorkFn work, ResultFn result, GroupHolder* group)
      : PoolWorker(env, "torch-napi:distributed", std::move(name), std::move(reads), std::move(writes)),
        work_(std::move(work)),
        result_(std::move(result)),
        group_(group),
        groupRef_(group != nullptr ? Napi::Persistent(Napi::Object::New(env)) : Napi::ObjectReference()) {
    if (group_ != nullptr) group_->inflight++;
  }
  ~DistWorker() override {
    if (group_ != nullptr) group_->inflight--;
  }
  // Keeps the JS handle of the group alive (so its holder is not finalized) while in flight.
  void HoldGroup(Napi::Value handle) { groupRef_.Set("h", handle); }

 protected:
  void Work() override { work_(); }
  void DropInputs() override { work_ = nullptr; }
  Napi::Value Result(Napi::Env env) override {
    Napi::Value out = result_(env);
    result_ = nullptr;
    return out;
  }

 private:
  WorkFn work_;
  ResultFn result_;
  GroupHolder* group_;
  Napi::ObjectReference groupRef_;
};

Napi::Value Run(Napi::Env env, const std::string& name, bool sync, WorkFn work, ResultFn result,
                std::vector<TensorBox*> reads = {}, std::vector<TensorBox*> writes = {}, GroupHolder* group = nullptr,
                Napi::Value groupHandle = Napi::Value()) {
  if (sync) {
    try {
      work();
    } catch (...) {
      throw ToJsError(env, name, MapException(std::current_exception()));
    }
    return result(env);
  }
  auto* w = new DistWorker(env, name, std::move(reads), std::move(writes), std::move(work), std::move(result), group);
  if (group != nullptr) w->HoldGroup(groupHandle);
  return PoolWorker::Start(w);
}

ResultFn Undefined() {
  return [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
}

// ---------------------------------------------------------------------------------------------
// Stores.

// tcpStore(host, port, worldSize (-1: unknown), isServer, waitWorkers, timeoutMs, multiTenant, sync)
TNAPI_FN(tcpStore, {
  std::string host = a.String(0);
  int64_t port = a.Int(1), worldSize = a.Int(2);
  bool isServer = a.Bool(3), waitWorkers = a.Bool(4);
  int64_t timeoutMs = a.Int(5);
  bool multiTenant = a.Bool(6), sync = a.Bool(7);
  if (port < 0 || port > 65535) a.RangeError("port must be in 0..65535, got " + std::to_string(port));
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(port);
  opts.isServer = isServer;
  if (worldSize > 0) opts.numWorkers = static_cast<size_t>(worldSize);
  opts.waitWorkers = waitWorkers && worldSize > 0;
  opts.timeout = Ms(timeoutMs);
  opts.multiTenant = multiTenant;
#if TNAPI_TORCH_AT_LEAST(2, 0)
  // 2.x serves the store with libuv by default, as Python (which reads USE_LIBUV=0 to opt out);
  // a libtorch built without libuv (Debian's 2.6) refuses that, so the classic server is used
  // there. Clients of either speak the same protocol.
  const char* uv = std::getenv("USE_LIBUV");
  opts.useLibUV = !(uv != nullptr && std::string(uv) == "0");
#endif
  auto made = std::make_shared<c10::intrusive_ptr<c10d::TCPStore>>();
  std::string where = host + ":" + std::to_string(port);
  WorkFn work = [=] {
    try {
      try {
        *made = c10::make_intrusive<c10d::TCPStore>(host, opts);
      } catch (const std::exception& e) {
#if TNAPI_TORCH_AT_LEAST(2, 0)
        if (!opts.useLibUV || MessageOf(e).find("libuv") == std::string::npos) throw;
        c10d::TCPStoreOptions classic = opts;
        classic.useLibUV = false;
        *made = c10::make_intrusive<c10d::TCPStore>(host, classic);
#else
        throw;
#endif
      }
    } catch (const std::exception& e) {
      std::string msg = MessageOf(e);
      if (isServer && (msg.find("in use") != std::string::npos || msg.find("EADDRINUSE") != std::string::npos ||
                       msg.find("failed to listen") != std::string::npos || msg.find("bind") != std::string::npos))
        throw std::runtime_error("cannot host the TCPStore on " + where +
                                 ": the port is in use (another process, or an earlier group not destroyed). "
                                 "libtorch said: " +
                                 msg);
      if (!isServer)
        throw std::runtime_error("cannot reach the TCPStore of rank 0 at " + where + " within " +
                                 std::to_string(timeoutMs) + " ms. libtorch said: " + msg);
      if (msg.find("imeout") != std::string::npos || msg.find("imed out") != std::string::npos)
        throw std::runtime_error("TCPStore on " + where + ": not every rank connected within " +
                                 std::to_string(timeoutMs) +
                                 " ms (did every rank start, with the same worldSize?). libtorch said: " + msg);
      throw std::runtime_error("TCPStore on " + where + ": " + msg);
    }
  };
  ResultFn result = [made, where](Napi::Env env) -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    o.Set("handle", MakeHandle(env, new StoreHolder{*made, where}, kStoreTag));
    o.Set("port", Napi::Number::New(env, (*made)->getPort()));
    return o;
  };
  return Run(a.Env(), a.Name(), sync, std::move(work), std::move(result));
})

// fileStore(path, worldSize) -> handle
TNAPI_FN(fileStore, {
  std::string path = a.String(0);
  int64_t worldSize = a.Int(1);
  auto s = c10::make_intrusive<c10d::FileStore>(path, static_cast<int>(worldSize));
  return MakeHandle(a.Env(), new StoreHolder{s, path}, kStoreTag);
})

// prefixStore(prefix, store) -> handle
TNAPI_FN(prefixStore, {
  std::string prefix = a.String(0);
  StoreHolder* inner = StoreArg(a, 1);
  auto s = c10::make_intrusive<c10d::PrefixStore>(prefix, inner->store);
  return MakeHandle(a.Env(), new StoreHolder{s, inner->where}, kStoreTag);
})

std::vector<uint8_t> BytesArg(const Args& a, size_t i) {
  if (a[i].IsString()) {
    std::string s = a[i].As<Napi::String>().Utf8Value();
    return std::vector<uint8_t>(s.begin(), s.end());
  }
  if (a[i].IsTypedArray()) {
    Napi::Uint8Array u = a[i].As<Napi::Uint8Array>();
    return std::vector<uint8_t>(u.Data(), u.Data() + u.ByteLength());
  }
  a.TypeError(i, "a string or a Uint8Array");
}

std::vector<std::string> StringList(const Args& a, size_t i) {
  if (!a[i].IsArray()) a.TypeError(i, "an array of strings");
  Napi::Array arr = a[i].As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr[k];
    if (!v.IsString()) a.TypeError(i, "an array of strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

// storeOp(store, op, name, key|keys, value, sync): op is set | get | add | wait | deleteKey |
// check | numKeys | setTimeout | compareSet; `name` prefixes errors (e.g. "TCPStore.get").
TNAPI_FN(storeOp, {
  StoreHolder* h = StoreArg(a, 0);
  std::string op = a.String(1), name = std::string(kNamePrefix) + a.String(2);
  bool sync = a.Bool(5);
  c10::intrusive_ptr<c10d::Store> store = h->store;
  auto out = std::make_shared<Napi::Value>();
  if (op == "set") {
    std::string key = a.String(3);
    std::vector<uint8_t> value = BytesArg(a, 4);
    return Run(
        a.Env(), name, sync, [=] { store->set(key, value); }, Undefined());
  }
  if (op == "get") {
    std::string key = a.String(3);
    auto got = std::make_shared<std::vector<uint8_t>>();
    return Run(
        a.Env(), name, sync, [=] { *got = store->get(key); },
        [got](Napi::Env env) -> Napi::Value { return Napi::Buffer<uint8_t>::Copy(env, got->data(), got->size()); });
  }
  if (op == "add") {
    std::string key = a.String(3);
    int64_t n = a.Int(4);
    auto got = std::make_shared<int64_t>(0);
    return Run(
        a.Env(), name, sync, [=] { *got = store->add(key, n); },
        [got](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*got)); });
  }
  if (op == "wait") {
    std::vector<std::string> keys = StringList(a, 3);
    int64_t ms = a.IntOr(4, -1);
    return Run(
        a.Env(), name, sync,
        [=] {
          if (ms < 0)
            store->wait(keys);
          else
            store->wait(keys, Ms(ms));
        },
        Undefined());
  }
  if (op == "deleteKey") {
    std::string key = a.String(3);
    auto got = std::make_shared<bool>(false);
    return Run(
        a.Env(), name, sync, [=] { *got = store->deleteKey(key); },
        [got](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, *got); });
  }
  if (op == "check") {
    std::vector<std::string> keys = StringList(a, 3);
    auto got = std::make_shared<bool>(false);
    return Run(
        a.Env(), name, sync, [=] { *got = store->check(keys); },
        [got](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, *got); });
  }
  if (op == "numKeys") {
    auto got = std::make_shared<int64_t>(0);
    return Run(
        a.Env(), name, sync, [=] { *got = store->getNumKeys(); },
        [got](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*got)); });
  }
  if (op == "setTimeout") {
    store->setTimeout(Ms(a.Int(4)));
    return a.Env().Undefined();
  }
  if (op == "compareSet") {
    std::string key = a.String(3);
    if (!a[4].IsArray()) a.TypeError(4, "[expected, desired]");
    Napi::Array pair = a[4].As<Napi::Array>();
    auto bytes = [&](Napi::Value v) {
      std::string s = v.ToString().Utf8Value();
      return std::vector<uint8_t>(s.begin(), s.end());
    };
    std::vector<uint8_t> expected = bytes(pair[0u]), desired = bytes(pair[1u]);
    auto got = std::make_shared<std::vector<uint8_t>>();
    return Run(
        a.Env(), name, sync, [=] { *got = store->compareSet(key, expected, desired); },
        [got](Napi::Env env) -> Napi::Value { return Napi::Buffer<uint8_t>::Copy(env, got->data(), got->size()); });
  }
  a.RangeError("unknown store operation '" + op + "'");
})

// ---------------------------------------------------------------------------------------------
// Process groups.

#ifdef TORCH_NAPI_HAVE_GLOO
c10::intrusive_ptr<c10d::ProcessGroupGloo> MakeGloo(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                    int64_t timeoutMs) {
  // As torch/csrc/distributed/c10d/init.cpp's ProcessGroupGloo binding: the interfaces named by
  // GLOO_SOCKET_IFNAME, else the default device (this host's name, else loopback).
  auto opts = c10d::ProcessGroupGloo::Options::create();
  opts->timeout = Ms(timeoutMs);
  const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifnames != nullptr && std::string(ifnames).size() > 1) {
    std::string list = ifnames;
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string iface = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!iface.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  opts->threads = static_cast<int>(opts->devices.size() * 2);
  auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
#if TNAPI_TORCH_AT_LEAST(2, 0)
  pg->setSequenceNumberForGroup();  // 2.x sets it here; 1.x after its store-based barrier
#endif
  return pg;
}
#endif

// newGroup(backend, groupStore, backendStore, rank, size, timeoutMs, groupName, groupDesc, sync)
// -> Promise<handle>. `groupStore` is PrefixStore(<group name>, default store) as Python makes
// it; `backendStore` the store the backend itself gets (2.x: PrefixStore("cpu/", groupStore)).
TNAPI_FN(newGroup, {
  std::string backend = a.String(0);
  StoreHolder* groupStore = StoreArg(a, 1);
  StoreHolder* backendStore = StoreArg(a, 2);
  int rank = static_cast<int>(a.Int(3)), size = static_cast<int>(a.Int(4));
  int64_t timeoutMs = a.Int(5);
  std::string groupName = a.String(6), groupDesc = a.String(7);
  bool sync = a.Bool(8);
  auto gs = groupStore->store, bs = backendStore->store;
  auto made = std::make_shared<c10::intrusive_ptr<c10d::ProcessGroup>>();
  (void)gs;
  (void)groupName;
  (void)groupDesc;
  WorkFn work;
  if (backend == "gloo") {
#ifdef TORCH_NAPI_HAVE_GLOO
    work = [=] {
      auto gloo = MakeGloo(bs, rank, size, timeoutMs);
#if TNAPI_TORCH_AT_LEAST(2, 0)
      auto pg = c10::make_intrusive<c10d::ProcessGroup>(gs, rank, size);
      pg->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
      c10::intrusive_ptr<c10d::Backend> b = gloo;
      pg->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, b);
      pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::GLOO, b);
      pg->setGroupName(groupName);
      pg->setGroupDesc(groupDesc);
      *made = pg;
#else
      *made = gloo;
#endif
    };
#else
    throw TorchError(a.Env(), a.Name() +
                                  ": this build of torch-napi has no Gloo: Gloo's headers (gloo/*.h) were missing when it "
                                  "was built. Install them (Debian/Ubuntu: apt install libgloo-dev) and rebuild.");
#endif
  } else if (backend == "nccl") {
#ifdef TORCH_NAPI_HAVE_NCCL
    work = [=] {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = Ms(timeoutMs);
      auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(bs, rank, size, opts);
#if TNAPI_TORCH_AT_LEAST(2, 0)
      nccl->setSequenceNumberForGroup();
#endif
#if TNAPI_TORCH_AT_LEAST(2, 0)
      auto pg = c10::make_intrusive<c10d::ProcessGroup>(gs, rank, size);
      pg->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
      c10::intrusive_ptr<c10d::Backend> b = nccl;
      pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, b);
      pg->setGroupName(groupName);
      pg->setGroupDesc(groupDesc);
      *made = pg;
#else
      *made = nccl;
#endif
    };
#else
    throw TorchError(a.Env(), a.Name() +
                                  ": backend 'nccl' needs a libtorch built with CUDA and NCCL (and torch-napi built "
                                  "against it); this one has no NCCL. Use backend 'gloo'.");
#endif
  } else {
    a.RangeError("unknown backend '" + backend + "' (gloo, nccl)");
  }
  ResultFn result = [=](Napi::Env env) -> Napi::Value {
    auto* h = new GroupHolder{*made, backend, rank, size, timeoutMs, 0};
    return MakeHandle(env, h, kGroupTag);
  };
  return Run(a.Env(), a.Name(), sync, std::move(work), std::move(result));
})

// groupInfo(pg) -> {rank, size, backend, timeoutMs, destroyed, inflight}
TNAPI_FN(groupInfo, {
  GroupHolder* h = HolderOf<GroupHolder>(a.Env(), a[0], kGroupTag);
  if (h == nullptr) a.TypeError(0, "a ProcessGroup");
  Napi::Object o = Napi::Object::New(a.Env());
  o.Set("rank", h->rank);
  o.Set("size", h->size);
  o.Set("backend", h->backend);
  o.Set("timeoutMs", Napi::Number::New(a.Env(), static_cast<double>(h->timeoutMs)));
  o.Set("destroyed", !h->pg);
  o.Set("inflight", h->inflight);
  o.Set("checked", h->checked);
  return o;
})

// destroyGroup(pg): drops this handle's reference (collectives in flight keep theirs).
TNAPI_FN(destroyGroup, {
  GroupHolder* h = HolderOf<GroupHolder>(a.Env(), a[0], kGroupTag);
  if (h == nullptr) a.TypeError(0, "a ProcessGroup");
  h->pg.reset();
  return a.Env().Undefined();
})

// ---------------------------------------------------------------------------------------------
// Collectives.

// The tensors of one call: each checked (a live, dense, contiguous tensor on the group's device,
// not held by another call in a conflicting way) and recorded as read or written.
class CallTensors {
 public:
  CallTensors(Napi::Env env, std::string name, c10::DeviceType device)
      : env_(env), name_(std::move(name)), device_(device) {}

  at::Tensor Take(Napi::Value v, const std::string& where, bool write) {
    bool stale = false;
    TensorBox* box = Unwrap(env_, v, &stale);
    if (box == nullptr && !stale) {
      if (v.IsObject() && !v.IsExternal()) {
        Napi::Value h = v.As<Napi::Object>().Get("_h");
        box = Unwrap(env_, h, &stale);
      }
      if (box == nullptr && !stale) throw Napi::TypeError::New(env_, name_ + ": " + where + " is not a Tensor");
    }
    if (box == nullptr || !box->t.defined())
      throw Napi::Error::New(env_, name_ + ": " + where + " is a disposed tensor");
    bool held = box->inflight - pins_.Count(box) > 0;
    if (write ? held || StorageFlight(box->t) != 0 : box->writers > 0 || StorageFlight(box->t) == 2)
      ThrowInUse(env_, name_ + " (" + where + ")", write ? "modifying it" : "using it");
    const at::Tensor& t = box->t;
    if (t.device().type() != device_)
      throw Napi::TypeError::New(env_, name_ + ": " + where + " must be a " +
                                           (device_ == c10::DeviceType::CPU ? "CPU" : "CUDA") +
                                           " tensor for this group's backend, got one on " + t.device().str());
    if (t.layout() != c10::kStrided || !t.is_contiguous())
      throw Napi::TypeError::New(env_, name_ + ": " + where +
                                           " must be a dense, contiguous tensor (as PyTorch's collectives require); "
                                           "call .contiguous() first");
    (write ? writes_ : reads_).push_back(box);
    pins_.Add(box);
    return t;
  }

  std::vector<at::Tensor> TakeList(Napi::Value v, const std::string& where, bool write) {
    if (!v.IsArray()) throw Napi::TypeError::New(env_, name_ + ": " + where + " must be an array of tensors");
    Napi::Array arr = v.As<Napi::Array>();
    std::vector<at::Tensor> out;
    for (uint32_t k = 0; k < arr.Length(); k++)
      out.push_back(Take(arr.Get(k), where + "[" + std::to_string(k) + "]", write));
    return out;
  }

  std::vector<TensorBox*> reads_, writes_;
  BoxPins pins_;

 private:
  Napi::Env env_;
  std::string name_;
  c10::DeviceType device_;
};

c10d::ReduceOp ReduceOpOf(Napi::Env env, const std::string& name, const std::string& op) {
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "band") return c10d::ReduceOp::BAND;
  if (op == "bor") return c10d::ReduceOp::BOR;
  if (op == "bxor") return c10d::ReduceOp::BXOR;
  throw Napi::RangeError::New(env, name + ": unknown reduce op '" + op + "'");
}

// Waits for a collective's Work; a failure gets the group's timeout and the likely causes.
void Await(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what, int64_t timeoutMs) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    std::string msg = MessageOf(e);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw std::runtime_error("the collective failed: " + msg + " (this group's timeout is " +
                             std::to_string(timeoutMs) +
                             " ms; a collective ends this way when a peer rank died or exited, when the ranks "
                             "called different collectives, or when their tensors differ in size or dtype)");
  }
}

// ---------------------------------------------------------------------------------------------
// Checked groups. Gloo trusts every rank to pass tensors of one size: a rank whose buffer is
// smaller than what a peer sends aborts the whole process (gloo::EnforceNotMet thrown on Gloo's
// own thread: std::terminate), and one waiting for a different collective hangs until the
// timeout. When every rank of a group is torch-napi, each collective therefore first all-gathers
// a fixed-size description of the call (so this exchange itself always matches), and compares.
// Python's ranks do not take part in this, so a group with a Python rank is not checked.
constexpr int64_t kFpMagic = 0x746e6170;  // "tnap"
constexpr int kFpLen = 12;
const char* const kOps[] = {"allReduce", "broadcast",     "reduce",         "allGather", "gather",
                            "scatter",   "reduceScatter", "allToAllSingle", "barrier"};

const char* DtypeName(int64_t code) {
  switch (static_cast<at::ScalarType>(code)) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return "another dtype";
  }
}

struct Fingerprint {
  std::vector<int64_t> v = std::vector<int64_t>(kFpLen, 0);
  Fingerprint() = default;
  Fingerprint(int op, int64_t root, int64_t reduceOp, const at::Tensor* t) {
    v[0] = kFpMagic;
    v[1] = op;
    v[2] = root;
    v[3] = reduceOp;
    if (t != nullptr) {
      v[4] = static_cast<int64_t>(t->scalar_type());
      v[5] = t->numel();
      v[6] = t->dim();
      for (int64_t d = 0; d < std::min<int64_t>(t->dim(), kFpLen - 7); d++) v[7 + d] = t->size(d);
    }
  }
  std::string Describe() const {
    if (v[0] != kFpMagic) return "something else (not a torch-napi collective)";
    std::string s = v[1] >= 0 && v[1] < 9 ? kOps[v[1]] : "?";
    if (v[1] == 8) return s;
    s += std::string("(") + DtypeName(v[4]) + " [";
    for (int64_t d = 0; d < std::min<int64_t>(v[6], kFpLen - 7); d++) s += (d ? ", " : "") + std::to_string(v[7 + d]);
    if (v[6] > kFpLen - 7) s += ", ...";
    s += "], " + std::to_string(v[5]) + " elements";
    if (v[1] == 1 || v[1] == 2 || v[1] == 4 || v[1] == 5) s += ", root " + std::to_string(v[2]);
    return s + ")";
  }
};

void CheckCall(c10d::ProcessGroup& pg, const Fingerprint& mine, int rank, int size, int64_t timeoutMs) {
  at::Tensor t = at::tensor(mine.v, at::kLong);
  std::vector<at::Tensor> in{t};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < size; r++) out[0].push_back(at::empty({kFpLen}, at::kLong));
  Await(pg.allgather(out, in), "check", timeoutMs);
  for (int r = 0; r < size; r++) {
    at::Tensor o = out[0][r];
    const int64_t* p = o.data_ptr<int64_t>();
    Fingerprint theirs;
    theirs.v.assign(p, p + kFpLen);
    if (theirs.v != mine.v)
      throw std::runtime_error("the ranks called different collectives or passed different tensors: rank " +
                               std::to_string(r) + " called " + theirs.Describe() + ", this rank (" +
                               std::to_string(rank) + ") " + mine.Describe() +
                               "; nothing was exchanged (Gloo would have aborted the process or hung)");
  }
}

// send/recv in a checked group: the sender sends [dtype, numel] first; a receiver whose tensor
// differs still receives the data (into scratch, so the sender completes) and then fails.
void CheckedSend(c10d::ProcessGroup& pg, std::vector<at::Tensor>& t, int peer, int tag, int64_t timeoutMs) {
  std::vector<at::Tensor> head{
      at::tensor(std::vector<int64_t>{kFpMagic, static_cast<int64_t>(t[0].scalar_type()), t[0].numel()}, at::kLong)};
  Await(pg.send(head, peer, tag), "send", timeoutMs);
  if (t[0].numel() > 0) Await(pg.send(t, peer, tag), "send", timeoutMs);
}

void CheckedRecv(c10d::ProcessGroup& pg, std::vector<at::Tensor>& t, int peer, int tag, int64_t timeoutMs) {
  std::vector<at::Tensor> head{at::empty({3}, at::kLong)};
  Await(pg.recv(head, peer, tag), "recv", timeoutMs);
  const int64_t* h = head[0].data_ptr<int64_t>();
  if (h[0] != kFpMagic)
    throw std::runtime_error("rank " + std::to_string(peer) + " sent something else than a torch-napi send");
  auto dtype = static_cast<at::ScalarType>(h[1]);
  int64_t numel = h[2];
  if (dtype == t[0].scalar_type() && numel == t[0].numel()) {
    if (numel > 0) Await(pg.recv(t, peer, tag), "recv", timeoutMs);
    return;
  }
  if (numel > 0) {
    std::vector<at::Tensor> scratch{at::empty({numel}, at::TensorOptions().dtype(dtype))};
    Await(pg.recv(scratch, peer, tag), "recv", timeoutMs);
  }
  throw std::runtime_error("rank " + std::to_string(peer) + " sent " + std::to_string(numel) + " elements of " +
                           DtypeName(h[1]) + ", but this rank's tensor holds " + std::to_string(t[0].numel()) +
                           " elements of " + DtypeName(static_cast<int64_t>(t[0].scalar_type())) +
                           " (the data was received and dropped; the tensor is unchanged)");
}

// collective(pg, op, options, sync): op is allReduce | broadcast | reduce | allGather | gather |
// scatter | reduceScatter | allToAll | send | recv | barrier. Options: tensor, tensors (list),
// inputs (list), root, reduceOp, peer, tag, avg (divide the sum by the group size).
TNAPI_FN(collective, {
  Napi::Env env = a.Env();
  std::string op = a.String(1);
  std::string name = std::string(kNamePrefix) + op;
  GroupHolder* g = GroupArg(env, name, a[0]);
  if (!a[2].IsObject()) a.TypeError(2, "an options object");
  Napi::Object o = a[2].As<Napi::Object>();
  bool sync = a.Bool(3);
  c10::intrusive_ptr<c10d::ProcessGroup> pg = g->pg;
  c10::DeviceType device = g->backend == "nccl" ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  CallTensors ts(env, name, device);
  auto intOpt = [&](const char* key) -> int64_t {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber())
      throw Napi::TypeError::New(env, name + ": option '" + key + "' must be a number, got " + Describe(v));
    return v.As<Napi::Number>().Int64Value();
  };
  auto strOpt = [&](const char* key) -> std::string {
    Napi::Value v = o.Get(key);
    if (!v.IsString())
      throw Napi::TypeError::New(env, name + ": option '" + key + "' must be a string, got " + Describe(v));
    return v.As<Napi::String>().Utf8Value();
  };
  bool avg = o.Get("avg").IsBoolean() && o.Get("avg").As<Napi::Boolean>().Value();
  int size = g->size, rank = g->rank;
  int64_t timeoutMs = g->timeoutMs;
  std::string what = op;
  WorkFn work;
  // What the ranks compare in a checked group (see Fingerprint).
  int fpOp = -1;
  int64_t fpRoot = -1, fpReduce = -1;
  at::Tensor fpTensor;
  auto reduceCode = [&]() -> int64_t {
    std::string r = strOpt("reduceOp");
    return static_cast<int64_t>(r.size() * 131 + r[0]) + (avg ? 1000 : 0);
  };
  if (op == "allReduce") {
    std::vector<at::Tensor> t{ts.Take(o.Get("tensor"), "tensor", true)};
    c10d::AllreduceOptions opts;
    opts.reduceOp = ReduceOpOf(env, name, strOpt("reduceOp"));
    fpOp = 0, fpReduce = reduceCode(), fpTensor = t[0];
    work = [=]() mutable {
      if (t[0].numel() > 0) Await(pg->allreduce(t, opts), what, timeoutMs);
      if (avg) t[0].div_(size);
    };
  } else if (op == "broadcast") {
    std::vector<at::Tensor> t{ts.Take(o.Get("tensor"), "tensor", true)};
    c10d::BroadcastOptions opts;
    opts.rootRank = intOpt("root");
    fpOp = 1, fpRoot = opts.rootRank, fpTensor = t[0];
    work = [=]() mutable {
      if (t[0].numel() > 0) Await(pg->broadcast(t, opts), what, timeoutMs);
    };
  } else if (op == "reduce") {
    std::vector<at::Tensor> t{ts.Take(o.Get("tensor"), "tensor", true)};
    c10d::ReduceOptions opts;
    opts.rootRank = intOpt("root");
    opts.reduceOp = ReduceOpOf(env, name, strOpt("reduceOp"));
    fpOp = 2, fpRoot = opts.rootRank, fpReduce = reduceCode(), fpTensor = t[0];
    work = [=]() mutable {
      if (t[0].numel() > 0) Await(pg->reduce(t, opts), what, timeoutMs);
      if (avg && rank == opts.rootRank) t[0].div_(size);
    };
  } else if (op == "allGather") {
    std::vector<std::vector<at::Tensor>> out{ts.TakeList(o.Get("tensors"), "tensorList", true)};
    std::vector<at::Tensor> in{ts.Take(o.Get("tensor"), "tensor", false)};
    fpOp = 3, fpTensor = in[0];
    work = [=]() mutable {
      if (in[0].numel() > 0) Await(pg->allgather(out, in), what, timeoutMs);
    };
  } else if (op == "gather") {
    std::vector<at::Tensor> in{ts.Take(o.Get("tensor"), "tensor", false)};
    std::vector<std::vector<at::Tensor>> out;
    c10d::GatherOptions opts;
    opts.rootRank = intOpt("root");
    if (rank == opts.rootRank) out.push_back(ts.TakeList(o.Get("tensors"), "gatherList", true));
    fpOp = 4, fpRoot = opts.rootRank, fpTensor = in[0];
    work = [=]() mutable {
      if (in[0].numel() > 0) Await(pg->gather(out, in, opts), what, timeoutMs);
    };
  } else if (op == "scatter") {
    std::vector<at::Tensor> out{ts.Take(o.Get("tensor"), "tensor", true)};
    std::vector<std::vector<at::Tensor>> in;
    c10d::ScatterOptions opts;
    opts.rootRank = intOpt("root");
    if (rank == opts.rootRank) in.push_back(ts.TakeList(o.Get("inputs"), "scatterList", false));
    fpOp = 5, fpRoot = opts.rootRank, fpTensor = out[0];
    work = [=]() mutable {
      if (out[0].numel() > 0) Await(pg->scatter(out, in, opts), what, timeoutMs);
    };
  } else if (op == "reduceScatter") {
    std::vector<at::Tensor> out{ts.Take(o.Get("tensor"), "output", true)};
    std::vector<std::vector<at::Tensor>> in{ts.TakeList(o.Get("inputs"), "inputList", false)};
    c10d::ReduceScatterOptions opts;
    opts.reduceOp = ReduceOpOf(env, name, strOpt("reduceOp"));
#if !TNAPI_TORCH_AT_LEAST(2, 0)
    if (g->backend == "gloo")
      throw TorchError(env, name + ": the Gloo backend of libtorch " + std::string(TORCH_VERSION) +
                                " has no reduce_scatter; use allReduce and take this rank's slice, or a libtorch "
                                ">= 2.0 (whose Gloo has reduce_scatter_tensor, which this uses)");
#endif
    fpOp = 6, fpReduce = reduceCode(), fpTensor = out[0];
    work = [=]() mutable {
      if (out[0].numel() > 0) {
#if TNAPI_TORCH_AT_LEAST(2, 0)
        // Gloo has no list reduce_scatter even in 2.x, but has reduce_scatter_tensor (Python's
        // reduce_scatter_tensor: _reduce_scatter_base on the inputs laid end to end).
        std::vector<at::Tensor> flat;
        for (const at::Tensor& x : in[0]) flat.push_back(x.reshape({-1}));
        at::Tensor joined = at::cat(flat);
        at::Tensor o = out[0].view({-1});
        c10d::ReduceScatterOptions o2 = opts;
        Await(pg->_reduce_scatter_base(o, joined, o2), what, timeoutMs);
#else
        Await(pg->reduce_scatter(out, in, opts), what, timeoutMs);
#endif
      }
      if (avg) out[0].div_(size);
    };
  } else if (op == "allToAll") {
    at::Tensor out = ts.Take(o.Get("tensor"), "output", true);
    at::Tensor in = ts.Take(o.Get("input"), "input", false);
    fpOp = 7, fpTensor = in;
    work = [=]() mutable {
      std::vector<int64_t> splits;
      if (out.numel() > 0 || in.numel() > 0) Await(pg->alltoall_base(out, in, splits, splits), what, timeoutMs);
    };
  } else if (op == "send" || op == "recv") {
    bool send = op == "send";
    std::vector<at::Tensor> t{ts.Take(o.Get("tensor"), "tensor", !send)};
    int peer = static_cast<int>(intOpt("peer"));
    int tag = static_cast<int>(intOpt("tag"));
    bool checked = g->checked;
    work = [=]() mutable {
      if (!checked)
        Await(send ? pg->send(t, peer, tag) : pg->recv(t, peer, tag), what, timeoutMs);
      else if (send)
        CheckedSend(*pg, t, peer, tag, timeoutMs);
      else
        CheckedRecv(*pg, t, peer, tag, timeoutMs);
    };
  } else if (op == "barrier") {
    fpOp = 8;
    work = [=]() mutable {
      c10d::BarrierOptions opts;
      opts.timeout = Ms(timeoutMs);
      Await(pg->barrier(opts), what, timeoutMs);
    };
  } else {
    a.RangeError("unknown collective '" + op + "'");
  }
  if (g->checked && fpOp >= 0) {
    Fingerprint fp(fpOp, fpRoot, fpReduce, fpTensor.defined() ? &fpTensor : nullptr);
    work = [pg, fp, rank, size, timeoutMs, inner = std::move(work)] {
      CheckCall(*pg, fp, rank, size, timeoutMs);
      inner();
    };
  }
  return Run(env, name, sync, std::move(work), Undefined(), ts.reads_, ts.writes_, g, a[0]);
})

// setSequenceNumber(pg, sync): 1.x's `_set_sequence_number_for_group`, which Python calls after
// the store-based barrier (rank 0 writes the number; the others wait for it). 2.x: nothing (the
// backend got it when made, as Python does there).
TNAPI_FN(setSequenceNumber, {
  std::string name = std::string(kNamePrefix) + "initProcessGroup";
  GroupHolder* g = GroupArg(a.Env(), name, a[0]);
  c10::intrusive_ptr<c10d::ProcessGroup> pg = g->pg;
  WorkFn work = [pg] {
#if !TNAPI_TORCH_AT_LEAST(2, 0)
    pg->setSequenceNumberForGroup();
#endif
  };
  return Run(a.Env(), name, a.Bool(1), std::move(work), Undefined());
})

// setChecked(pg, on): see Fingerprint.
TNAPI_FN(setChecked, {
  GroupHolder* h = HolderOf<GroupHolder>(a.Env(), a[0], kGroupTag);
  if (h == nullptr) a.TypeError(0, "a ProcessGroup");
  h->checked = a.Bool(1);
  return a.Env().Undefined();
})

TNAPI_FN(available, {
  Napi::Object o = Napi::Object::New(a.Env());
#ifdef TORCH_NAPI_HAVE_GLOO
  o.Set("gloo", true);
#else
  o.Set("gloo", false);
#endif
#ifdef TORCH_NAPI_HAVE_NCCL
  o.Set("nccl", true);
#else
  o.Set("nccl", false);
#endif
  o.Set("torchMajor", TORCH_VERSION_MAJOR);
  o.Set("torchMinor", TORCH_VERSION_MINOR);
  return o;
})

struct Binding2 {
  const char* name;
  Binding fn;
};
const Binding2 kBindings[] = {
    {"available", available},
    {"tcpStore", tcpStore},
    {"fileStore", fileStore},
    {"prefixStore", prefixStore},
    {"storeOp", storeOp},
    {"newGroup", newGroup},
    {"groupInfo", groupInfo},
    {"destroyGroup", destroyGroup},
    {"collective", collective},
    {"setChecked", setChecked},
    {"setSequenceNumber", setSequenceNumber},
};

}  // namespace

c10::intrusive_ptr<c10d::ProcessGroup> ProcessGroupOf(const Napi::Value& v) {
  Napi::Env env = v.Env();
  GroupHolder* h = HolderOf<GroupHolder>(env, v, kGroupTag);
  if (h == nullptr) throw Napi::TypeError::New(env, "expected a torch.distributed ProcessGroup, got " + Describe(v));
  if (!h->pg) throw Napi::Error::New(env, "the process group was destroyed (destroyProcessGroup)");
  return h->pg;
}

void RegisterDistributed(Napi::Env env, Napi::Object exports) {
  // A plain object, not top-level exports: lib/distributed/native.ts types it.
  Napi::Object d = Napi::Object::New(env);
  for (const Binding2& b : kBindings) d.Set(b.name, Napi::Function::New(env, b.fn, b.name));
  exports.Set("distributed", d);
}

}  // namespace tnapi
