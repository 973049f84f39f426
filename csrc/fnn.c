/*
 * fnn.c -- the shape helpers of fnn.h (the kernels are in fnn_f64.c and fnn_f32.c).
 */
#include "fnn_build.h"

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
