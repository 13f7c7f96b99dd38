// The fused CPU LSTM training kernel (torch.backends.fastPath, counted as fastPathStats().rnnTrain).
//
// When an LSTM call needs gradients, libtorch's path records about ten autograd nodes per time step
// and layer, and its backward runs them one by one. This kernel is one custom autograd node per
// layer: its forward is the inference kernel's algorithm (one GEMM for the input projection of all
// steps, then per step a small recurrent GEMM and one fused gate loop) that also keeps the gates and
// cell states; its backward is one loop back through time (per step a fused loop for the gates'
// gradients and a small GEMM for the previous hidden state's), then one GEMM each for the input's and
// the weights' gradients. Its backward is not itself differentiable: a backward that builds a graph
// (createGraph) through it throws and names torch.backends.fastPath(false), the path that has one.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace tnapi {

// [output, hN, cN] as at::lstm's for these arguments, with autograd nodes of the fused kernel; or
// nullopt when the kernel does not apply: the fast path is off, the JIT tracer is recording, no
// gradient is needed (grad mode off, or nothing read requires grad: FastRnn's case), a tensor is not
// a CPU float32 strided tensor, the LSTM is bidirectional, packed, without biases or with projections,
// dropout would run between layers, the input is empty, or the shapes are not ones the reference
// accepts (the reference then runs and reports the error).
c10::optional<std::vector<at::Tensor>> FastLstmTrain(const at::Tensor& input,
                                                     const c10::optional<at::Tensor>& batchSizes,
                                                     const std::vector<at::Tensor>& hx,
                                                     const std::vector<at::Tensor>& params, bool hasBiases,
                                                     int64_t layers, double dropout, bool train, bool bidirectional,
                                                     bool batchFirst);

}  // namespace tnapi
