// torch.backends.fastPath: whether inference calls may take the fused CPU kernels (fast_rnn.cc,
// fast_attention.cc) instead of the reference at:: path. The fused inference kernels take a call
// when no gradient can flow (grad mode off, or nothing it reads requires grad), on CPU, for
// float32/float64; the one training kernel (fast_rnn_train.h, a float32 LSTM with its own autograd
// nodes) takes some of the calls that need gradients. Everything else runs the reference path.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <initializer_list>
#include <vector>

namespace tnapi {

// Which fused kernel a call took (counted, so tests can assert the path that ran).
// kRnnTrain: the fused LSTM training kernel (fast_rnn_train.h), the one that serves gradients.
// kOnednnGemm: not a kernel but a float GEMM inside the fused attention that went to oneDNN (blas.h).
enum class FastKernel : int {
  kRnn = 0,
  kMha = 1,
  kSdpa = 2,
  kLayer = 3,
  kRnnTrain = 4,
  kLinear = 5,
  kOnednnGemm = 6,
  kCount = 7
};

// The switch (process-wide; default on, TORCH_NAPI_FAST_PATH=0 at load turns it off).
bool FastPathEnabled();
// Counts one call of `k` (relaxed atomic).
void FastPathHit(FastKernel k);

// True when the switch is on, the JIT tracer is not recording, and no gradient can flow through a
// call reading these tensors: grad mode is off, or none of them (undefined ones ignored) requires grad.
bool NoGradNeeded(std::initializer_list<const at::Tensor*> ts);
bool NoGradNeeded(const std::vector<at::Tensor>& ts);
// Whether every defined tensor here is a CPU tensor of `dtype` (float32/float64 only).
bool FastDtype(const at::Tensor& like);

void RegisterFastPath(Napi::Env env, Napi::Object exports);

}  // namespace tnapi
