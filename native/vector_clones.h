// Multiversioned functions for the fused CPU kernels: built for x86-64-v4 (AVX-512), x86-64-v3
// (AVX2 with FMA) and the baseline, picked at load (GCC's function multiversioning).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TNAPI_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TNAPI_VECTOR_CLONES
#endif
// Helpers of the cloned functions: inlined into each clone, so that they are compiled for its target.
#if defined(__GNUC__)
#define TNAPI_INLINE inline __attribute__((always_inline))
#else
#define TNAPI_INLINE inline
#endif
