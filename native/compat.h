// The one place where libtorch versions differ (1.13 and 2.x are built and tested).
#pragma once

#include <torch/csrc/api/include/torch/version.h>

#define TNAPI_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// c10::optional became std::optional in 2.x (c10::optional is an alias there); c10::nullopt
// still exists in 2.6. Nothing else we use differs yet.
