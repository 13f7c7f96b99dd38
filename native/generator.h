// torch.Generator handles (native/generator.cc), for the bindings that take a generator.
#pragma once

#include <napi.h>

#include <ATen/ATen.h>

namespace tnapi {

// Whether `v` is a generator handle; if so, `*out` shares its generator.
bool GeneratorOf(const Napi::Value& v, at::Generator* out);

}  // namespace tnapi
