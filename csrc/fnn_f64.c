/*
 * fnn_f64.c -- the float64 entry points of fnn.h: the kernel sources (fnn_*.inc)
 * instantiated for double.
 */
#include "fnn_build.h"

#define T double
#define SUFFIX f64
#define LANES 4 /* FNN_VECTOR_BYTES / sizeof(T), for the preprocessor */
#define LANE_INDEX int64_t
#include "fnn_simd.inc"
#include "fnn_activate.inc"
#include "fnn_pass.inc"
#include "fnn_sample.inc"
#include "fnn_batch.inc"
#include "fnn_optim.inc"
#include "fnn_optim_batch.inc"
