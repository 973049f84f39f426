/*
 * fnn.c -- shape helpers and the float64 / float32 instantiations of fnn_kernels.h.
 */
#include "fnn.h"

#include <math.h>
#include <string.h>

int fnn_check_net(const fnn_net *net)
{
    if (net == NULL || net->sizes == NULL || net->n_layers < 1) return FNN_ERROR_SHAPE;
    for (int l = 0; l <= net->n_layers; ++l)
        if (net->sizes[l] < 1) return FNN_ERROR_SHAPE;
    const fnn_index n_out = net->sizes[net->n_layers];
    if (net->output == FNN_OUTPUT_SOFTMAX && n_out < 2) return FNN_ERROR_SHAPE;
    if (net->output == FNN_OUTPUT_SIGMOID && n_out != 1) return FNN_ERROR_SHAPE;
    if (net->output != FNN_OUTPUT_SOFTMAX && net->output != FNN_OUTPUT_SIGMOID) return FNN_ERROR_SHAPE;
    return FNN_OK;
}

fnn_index fnn_layer_offset(const fnn_net *net, int layer)
{
    fnn_index offset = 0;
    for (int l = 0; l < layer; ++l) offset += (net->sizes[l] + 1) * net->sizes[l + 1];
    return offset;
}

fnn_index fnn_weight_count(const fnn_net *net)
{
    return fnn_layer_offset(net, net->n_layers);
}

fnn_index fnn_work_size(const fnn_net *net)
{
    fnn_index activations = 0, widest = 0;
    for (int l = 1; l <= net->n_layers; ++l) {
        activations += net->sizes[l];
        if (net->sizes[l] > widest) widest = net->sizes[l];
    }
    return activations + 2 * widest;
}

#define T double
#define SUFFIX f64
#include "fnn_kernels.h"
#undef T
#undef SUFFIX

#define T float
#define SUFFIX f32
#include "fnn_kernels.h"
#undef T
#undef SUFFIX
