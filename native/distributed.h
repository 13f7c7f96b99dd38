// torch.distributed on libtorch's own c10d: stores (TCPStore, FileStore, PrefixStore), process
// groups (Gloo; NCCL when libtorch has it) and their collectives, run on the libuv pool
// (native/distributed.cc, lib/distributed/).
//
// For other bindings (nn.parallel.DistributedDataParallel's Reducer): the c10d process group
// behind a JS process-group value. A JS `ProcessGroup` (lib/distributed/process_group.ts) holds a
// native handle in its `_pg` field; either the object or the handle itself is accepted.
#pragma once

#include <napi.h>

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

namespace tnapi {

// The process group of `v` (a lib/distributed ProcessGroup or its `_pg` handle). Throws a
// Napi::TypeError if `v` is neither, and a Napi::Error if the group was destroyed
// (destroyProcessGroup). The returned reference keeps the group alive on its own.
c10::intrusive_ptr<c10d::ProcessGroup> ProcessGroupOf(const Napi::Value& v);

// Adds `exports.distributed` (an object of bindings; see lib/distributed/native.ts).
void RegisterDistributed(Napi::Env env, Napi::Object exports);

}  // namespace tnapi
