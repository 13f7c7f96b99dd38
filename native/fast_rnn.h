// The fused CPU inference kernel for LSTM / GRU / RNN_TANH / RNN_RELU (torch.backends.fastPath).
//
// libtorch's recurrent kernels dispatch about ten small ATen ops per time step and layer; at small
// sizes that dispatch is nearly all of the time. This kernel computes the same thing in plain loops:
// per layer and direction, the input projection of every time step is one GEMM; each step is one
// small GEMM for the recurrent part and one fused loop for biases, gates, nonlinearities and the
// state update, written straight into the result tensors. It never uses oneDNN.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace tnapi {

// The results of at::lstm / at::gru / at::rnn_tanh / at::rnn_relu for these arguments ([output, hN]
// or [output, hN, cN] for LSTM; mode 0 LSTM, 1 GRU, 2 RNN_TANH, 3 RNN_RELU; with batchSizes, input
// is a packed sequence's data), or nullopt when the fused kernel does not apply: the fast path is
// off, a gradient may be needed, a tensor is not a CPU float32/float64 tensor of the input's dtype,
// dropout would run between layers, the input is empty, or the shapes are not ones the reference
// accepts (the reference then runs and reports the error).
c10::optional<std::vector<at::Tensor>> FastRnn(int64_t mode, const at::Tensor& input,
                                               const c10::optional<at::Tensor>& batchSizes,
                                               const std::vector<at::Tensor>& hx, const std::vector<at::Tensor>& params,
                                               bool hasBiases, int64_t layers, double dropout, bool train,
                                               bool bidirectional, bool batchFirst);

}  // namespace tnapi
