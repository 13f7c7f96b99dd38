// Which kernel runs a full-sequence LSTM, and the composed LSTM that avoids oneDNN's RNN primitive.
//
// libtorch 2.x sends a CPU float LSTM (`at::lstm`) to oneDNN's RNN primitive (`mkldnn_rnn_layer`),
// whose AVX-512 kernels return wrong numbers on some CPUs (pytorch/pytorch#173922; measured here:
// 0.19 max |diff| against a float64 LSTM on an AVX-512 AMD EPYC with libtorch 2.6 / oneDNN 3.7).
// The composed LSTM below is libtorch's own native (non-oneDNN) algorithm written out with public
// ATen ops: one input GEMM per layer and direction, then per step the recurrent GEMM, the gates and
// the state update. It has no global state, so it is safe on any thread and under autograd.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <vector>

namespace tnapi {

enum class LstmKernel : int { kLibtorch = 0, kComposed = 1 };

// The kernel that LSTMs use now (process-wide; set from JS by lstmKernel()).
LstmKernel CurrentLstmKernel();

// The full-sequence LSTM of at::lstm's non-packed overload (same arguments, same results).
std::vector<at::Tensor> ComposedLstm(const at::Tensor& input, const std::vector<at::Tensor>& hx,
                                     const std::vector<at::Tensor>& params, bool hasBiases, int64_t layers,
                                     double dropout, bool train, bool bidirectional, bool batchFirst);

// torch.backends' native half: recordOps, lstmKernel, rnnSelfCheck.
void RegisterRnnKernels(Napi::Env env, Napi::Object exports);

}  // namespace tnapi
