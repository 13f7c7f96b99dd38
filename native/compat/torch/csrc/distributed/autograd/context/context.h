// Fallback for libtorch packages that ship c10d's headers without distributed autograd's (Debian's
// libtorch-dev 1.13: reducer.hpp includes this file, which is missing there). It is on the include
// path after libtorch's own (-idirafter), so a libtorch that has the real header uses that one.
//
// c10d::Reducer's header needs only two names from it: ContextPtr (a shared_ptr member of the
// Reducer, so an incomplete class is enough) and DistAutogradContext::GradCallback (a static_assert
// that it is std::function<bool(at::Tensor&)>). Nothing here is called: the Reducer's code is in
// libtorch_cpu, built with the real header.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};
using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
