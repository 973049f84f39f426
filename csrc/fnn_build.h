/*
 * fnn_build.h -- compile-time settings shared by the engine's translation units (not part of the
 * API): fnn.c (shape helpers) and fnn_f64.c / fnn_f32.c (the kernel sources fnn_*.inc instantiated
 * per type).
 * The kernels need GCC or Clang: they are written in GCC vector extensions.
 */
#ifndef FNN_BUILD_H
#define FNN_BUILD_H

#include "fnn.h"

#include <math.h>
#include <string.h>

/* The per-sample helpers are inlined into each entry point, so that the entry points can be
 * compiled once per instruction set. */
#define FNN_INLINE inline __attribute__((always_inline))

/* Width of the vectors the dense kernels work on (GCC/Clang vector extensions); 32 bytes is one
 * AVX register, or two SSE registers on baseline x86-64. */
#define FNN_VECTOR_BYTES 32

/* Runtime CPU dispatch: on x86-64 with GCC (ifunc), the training and prediction entry points are
 * built for baseline x86-64 and for x86-64-v3 (AVX2 + FMA), and the loader picks the best the CPU
 * runs. An installed package thus stays portable and still uses the wide registers. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(FNN_NO_DISPATCH) && !defined(__AVX2__)
#define FNN_DISPATCH __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FNN_DISPATCH
#endif

#endif /* FNN_BUILD_H */
