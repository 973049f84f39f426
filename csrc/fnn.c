/*
 * fnn.c -- the shape helpers of fnn.h (the kernels are in fnn_f64.c and fnn_f32.c).
 */
#include "fnn_build.h"

/* a + b and a * b of non-negative counts, or -1 when an operand is -1 (an earlier overflow) or
 * the result does not fit in fnn_index */
static fnn_index add_counts(fnn_index a, fnn_index b)
{
    fnn_index sum;
    return a < 0 || b < 0 || __builtin_add_overflow(a, b, &sum) ? -1 : sum;
}

static fnn_index mul_counts(fnn_index a, fnn_index b)
{
    fnn_index product;
    return a < 0 || b < 0 || __builtin_mul_overflow(a, b, &product) ? -1 : product;
}

/* The caller's part of the net: layers, output, activations, padding. */
static int check_architecture(const fnn_net *net)
{
    if (net == NULL || net->sizes == NULL || net->n_layers < 1) return FNN_ERROR_LAYERS;
    for (int l = 0; l <= net->n_layers; ++l)
        if (net->sizes[l] < 1) return FNN_ERROR_LAYERS;
    const fnn_index n_out = net->sizes[net->n_layers];
    switch (net->output) {
    case FNN_OUTPUT_SOFTMAX: if (n_out < 2) return FNN_ERROR_OUTPUT; break;
    case FNN_OUTPUT_SIGMOID: if (n_out != 1) return FNN_ERROR_OUTPUT; break;
    case FNN_OUTPUT_MULTILABEL: case FNN_OUTPUT_IDENTITY: break;
    default: return FNN_ERROR_OUTPUT;
    }
    if (net->activation)
        for (int l = 0; l + 1 < net->n_layers; ++l)
            if (net->activation[l] < FNN_ACTIVATION_LOGISTIC || net->activation[l] > FNN_ACTIVATION_LEAKY_RELU)
                return FNN_ERROR_ACTIVATION;
    if (net->pad_units < 1) return FNN_ERROR_PADDING;
    return FNN_OK;
}

int fnn_check_net(const fnn_net *net)
{
    const int status = check_architecture(net);
    if (status != FNN_OK) return status;
    if (net->width == NULL || net->offset == NULL) return FNN_ERROR_LAYOUT;
    /* the tables must be this architecture's (a few operations per layer, once per call) */
    fnn_index z_total = 0, widest = 0;
    if (net->offset[0] != 0) return FNN_ERROR_LAYOUT;
    for (int l = 0; l <= net->n_layers; ++l) {
        if (net->width[l] != fnn_padded_width(net, net->sizes[l])) return FNN_ERROR_LAYOUT;
        if (l == 0) continue;
        z_total = add_counts(z_total, net->width[l]);
        if (net->width[l] > widest) widest = net->width[l];
        if (net->offset[l] != add_counts(net->offset[l - 1], mul_counts(add_counts(net->sizes[l - 1], 1), net->width[l])))
            return FNN_ERROR_LAYOUT;
    }
    if (net->z_total != z_total || net->widest != widest) return FNN_ERROR_LAYOUT;
    return FNN_OK;
}

const char *fnn_strerror(int status)
{
    switch (status) {
    case FNN_OK: return "success";
    case FNN_ERROR_LAYERS: return "the network has no layer or a layer of fewer than one unit";
    case FNN_ERROR_LABEL: return "a label is outside the classes the output layer has (or labels are missing)";
    case FNN_ERROR_INDEX: return "a row or column index is out of range";
    case FNN_ERROR_SIZE: return "a buffer size overflows the engine's index range";
    case FNN_ERROR_OUTPUT: return "the output layer's units fit no output type (softmax: >= 2, sigmoid: 1, multilabel and identity: >= 1)";
    case FNN_ERROR_PADDING: return "the weight layout's padding is not a whole number of vectors of the type";
    case FNN_ERROR_FEATURES: return "the data's number of features differs from the network's inputs";
    case FNN_ERROR_BATCH: return "a batch size is smaller than one row";
    case FNN_ERROR_LAYOUT: return "the network's layout tables are missing or not those of its layers (fnn_layout)";
    case FNN_ERROR_ACTIVATION: return "a hidden layer's activation code is unknown";
    case FNN_ERROR_TARGET: return "the output layer needs real-valued targets and the data have none";
    case FNN_ERROR_OPTIMIZER: return "an unknown optimizer, or a setting outside its range (momentum, beta_1, beta_2 "
                                     "in [0, 1), epsilon > 0, Adam's step count >= 0)";
    default: return "unknown status";
    }
}

fnn_index fnn_padded_width(const fnn_net *net, fnn_index n_out)
{
    const fnn_index unit = net->pad_units > 0 ? net->pad_units : 1; /* an invalid net never divides by 0 */
    if (n_out < 0) return -1;
    return mul_counts(add_counts(n_out / unit, n_out % unit != 0), unit); /* n_out rounded up */
}

fnn_index fnn_layer_offset(const fnn_net *net, int layer)
{
    fnn_index offset = 0;
    for (int l = 0; l < layer; ++l)
        offset = add_counts(offset, mul_counts(add_counts(net->sizes[l], 1), fnn_padded_width(net, net->sizes[l + 1])));
    return offset;
}

fnn_index fnn_weight_count(const fnn_net *net)
{
    return fnn_layer_offset(net, net->n_layers);
}

int fnn_layout(fnn_net *net, fnn_index *width, fnn_index *offset)
{
    const int status = check_architecture(net);
    if (status != FNN_OK) return status;
    fnn_index z_total = 0, widest = 0;
    offset[0] = 0;
    for (int l = 0; l <= net->n_layers; ++l) {
        width[l] = fnn_padded_width(net, net->sizes[l]);
        if (width[l] < 0) return FNN_ERROR_SIZE;
        if (l == 0) continue;
        z_total = add_counts(z_total, width[l]);
        if (width[l] > widest) widest = width[l];
        offset[l] = add_counts(offset[l - 1], mul_counts(add_counts(net->sizes[l - 1], 1), width[l]));
        if (offset[l] < 0 || z_total < 0) return FNN_ERROR_SIZE;
    }
    if (fnn_work_size(net) < 0) return FNN_ERROR_SIZE;
    net->width = width;
    net->offset = offset;
    net->z_total = z_total;
    net->widest = widest;
    return FNN_OK;
}

/* Sum and maximum of the padded widths of layers 1..n_layers (-1 on overflow). */
static void activation_widths(const fnn_net *net, fnn_index *total, fnn_index *widest)
{
    *total = 0;
    *widest = 0;
    for (int l = 1; l <= net->n_layers; ++l) {
        const fnn_index width = fnn_padded_width(net, net->sizes[l]);
        *total = add_counts(*total, width);
        if (width < 0) *widest = -1;
        else if (*widest >= 0 && width > *widest) *widest = width;
    }
}

fnn_index fnn_work_size(const fnn_net *net)
{
    fnn_index activations, widest;
    activation_widths(net, &activations, &widest);
    /* + the first-layer maps, deltas and inputs of one run of deferred updates, and the maps of
     * the velocity (momentum's runs) */
    const fnn_index run = add_counts(mul_counts(3, fnn_padded_width(net, net->sizes[1])), net->sizes[0]);
    return add_counts(add_counts(activations, mul_counts(2, widest)), mul_counts(FNN_DEFERRED_ROWS, run));
}

fnn_index fnn_batch_work_size(const fnn_net *net, fnn_index batch_size, int sparse_input)
{
    fnn_index activations, widest;
    activation_widths(net, &activations, &widest);
    const fnn_index inputs = sparse_input ? 0 : fnn_padded_width(net, net->sizes[0]);
    return mul_counts(batch_size, add_counts(add_counts(inputs, activations), mul_counts(2, widest)));
}

int fnn_check_optimizer(const fnn_optimizer *opt)
{
    if (opt == NULL) return FNN_ERROR_OPTIMIZER;
    /* written so that NaN fails every test */
    switch (opt->method) {
    case FNN_OPTIMIZER_SGD: return FNN_OK;
    case FNN_OPTIMIZER_MOMENTUM:
    case FNN_OPTIMIZER_NESTEROV: return opt->momentum >= 0.0 && opt->momentum < 1.0 ? FNN_OK : FNN_ERROR_OPTIMIZER;
    case FNN_OPTIMIZER_ADAM:
        return opt->beta_1 >= 0.0 && opt->beta_1 < 1.0 && opt->beta_2 >= 0.0 && opt->beta_2 < 1.0 &&
                       opt->epsilon > 0.0 && opt->t >= 0
                   ? FNN_OK
                   : FNN_ERROR_OPTIMIZER;
    default: return FNN_ERROR_OPTIMIZER;
    }
}

fnn_index fnn_state_size(const fnn_net *net, int method)
{
    switch (method) {
    case FNN_OPTIMIZER_SGD: return 0;
    case FNN_OPTIMIZER_MOMENTUM:
    case FNN_OPTIMIZER_NESTEROV: return fnn_weight_count(net);
    case FNN_OPTIMIZER_ADAM: return mul_counts(2, fnn_weight_count(net));
    default: return -1;
    }
}

fnn_index fnn_optim_batch_work_size(const fnn_net *net, fnn_index batch_size, int sparse_input)
{
    return add_counts(fnn_weight_count(net), fnn_batch_work_size(net, batch_size, sparse_input));
}
