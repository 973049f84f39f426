/*
 * fnn.c -- shape helpers and the float64 / float32 instantiations of fnn_kernels.h.
 */
#include "fnn.h"

#include <math.h>
#include <string.h>

/* The per-sample helpers are inlined into each entry point, so that the entry points can be
 * compiled once per instruction set. */
#if defined(__GNUC__)
#define FNN_INLINE inline __attribute__((always_inline))
#else
#define FNN_INLINE inline
#endif

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

int fnn_check_net(const fnn_net *net)
{
    if (net == NULL || net->sizes == NULL || net->n_layers < 1) return FNN_ERROR_SHAPE;
    for (int l = 0; l <= net->n_layers; ++l)
        if (net->sizes[l] < 1) return FNN_ERROR_SHAPE;
    const fnn_index n_out = net->sizes[net->n_layers];
    if (net->output == FNN_OUTPUT_SOFTMAX && n_out < 2) return FNN_ERROR_SHAPE;
    if (net->output == FNN_OUTPUT_SIGMOID && n_out != 1) return FNN_ERROR_SHAPE;
    if (net->output != FNN_OUTPUT_SOFTMAX && net->output != FNN_OUTPUT_SIGMOID) return FNN_ERROR_SHAPE;
    if (net->pad_units < 1) return FNN_ERROR_SHAPE;
    return FNN_OK;
}

fnn_index fnn_padded_width(const fnn_net *net, fnn_index n_out)
{
    const fnn_index unit = net->pad_units > 0 ? net->pad_units : 1; /* an invalid net never divides by 0 */
    return (n_out + unit - 1) / unit * unit;
}

fnn_index fnn_layer_offset(const fnn_net *net, int layer)
{
    fnn_index offset = 0;
    for (int l = 0; l < layer; ++l) offset += (net->sizes[l] + 1) * fnn_padded_width(net, net->sizes[l + 1]);
    return offset;
}

fnn_index fnn_weight_count(const fnn_net *net)
{
    return fnn_layer_offset(net, net->n_layers);
}

/* Samples per run of deferred first-layer updates (see fnn_kernels.h). */
#define FNN_DEFERRED_ROWS 4

fnn_index fnn_work_size(const fnn_net *net)
{
    fnn_index activations = 0, widest = 0;
    for (int l = 1; l <= net->n_layers; ++l) {
        const fnn_index width = fnn_padded_width(net, net->sizes[l]);
        activations += width;
        if (width > widest) widest = width;
    }
    /* + the first-layer maps, deltas and inputs of one run of deferred updates */
    return activations + 2 * widest + FNN_DEFERRED_ROWS * (2 * fnn_padded_width(net, net->sizes[1]) + net->sizes[0]);
}

fnn_index fnn_batch_work_size(const fnn_net *net, fnn_index batch_size)
{
    fnn_index activations = fnn_padded_width(net, net->sizes[0]), widest = 0;
    for (int l = 1; l <= net->n_layers; ++l) {
        const fnn_index width = fnn_padded_width(net, net->sizes[l]);
        activations += width;
        if (width > widest) widest = width;
    }
    return batch_size * (activations + 2 * widest);
}

#define T double
#define SUFFIX f64
#define LANES 4 /* FNN_VECTOR_BYTES / sizeof(T), for the preprocessor */
#define LANE_INDEX int64_t
#include "fnn_kernels.h"
#undef T
#undef SUFFIX
#undef LANES
#undef LANE_INDEX

#define T float
#define SUFFIX f32
#define LANES 8
#define LANE_INDEX int32_t
#include "fnn_kernels.h"
#undef T
#undef SUFFIX
#undef LANES
#undef LANE_INDEX
