/*
 * fnn_f32.c -- the float32 entry points of fnn.h: the kernel sources (fnn_*.inc)
 * instantiated for float.
 */
#include "fnn_build.h"

#define T float
#define SUFFIX f32
#define LANES 8 /* FNN_VECTOR_BYTES / sizeof(T), for the preprocessor */
#define LANE_INDEX int32_t
#include "fnn_simd.inc"
#include "fnn_activate.inc"
#include "fnn_pass.inc"
#include "fnn_sample.inc"
#include "fnn_batch.inc"
#include "fnn_optim.inc"
#include "fnn_optim_batch.inc"
