/*
 * fnn_kernels.h -- the engine's kernels, written once for one floating type.
 *
 * Included by fnn.c once per type with T (the type) and SUFFIX (f64 / f32) defined. Everything
 * here is static except the FNN_DECLARE_API entry points of fnn.h. Per-row arithmetic is in T;
 * reductions over a row (dot products, softmax sums, losses) accumulate in double.
 */
#define FNN_CAT_(a, b) a##_##b
#define FNN_CAT(a, b) FNN_CAT_(a, b)
#define FN(name) FNN_CAT(name, SUFFIX)
#define DATA FNN_CAT(fnn_data, SUFFIX)

/* sigmoid(a) = 1 / (1 + e^-a), in the two-branch form that never overflows. */
static inline T FN(sigmoid)(T a)
{
    T e = (T)exp(-fabs((double)a));
    return a >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);
}

/* out <- out + alpha * v  (axpy over one contiguous weight row). */
static inline void FN(axpy)(T *restrict out, const T *restrict v, fnn_index n, T alpha)
{
#pragma omp simd
    for (fnn_index j = 0; j < n; ++j) out[j] += alpha * v[j];
}

/* Forward pass of one row through layers [0, n_layers): activations go to work; the last layer's
 * output is left as logits (pre-activation) b. Returns a pointer to b. */
static T *FN(forward_logits)(const fnn_net *net, const T *W, const DATA *data, fnn_index r, T *work)
{
    const fnn_index *sizes = net->sizes;
    T *out = work;
    const T *in = NULL;
    for (int l = 0; l < net->n_layers; ++l) {
        const fnn_index n_in = sizes[l], n_out = sizes[l + 1];
        const T *block = W + fnn_layer_offset(net, l);
        memcpy(out, block, (size_t)n_out * sizeof(T)); /* a = bias */
        if (l == 0 && data->indptr) {
            for (fnn_index k = data->indptr[r]; k < data->indptr[r + 1]; ++k)
                FN(axpy)(out, block + (data->indices[k] + 1) * n_out, n_out, data->values[k]);
        } else {
            const T *x = (l == 0) ? data->values + r * n_in : in;
            for (fnn_index i = 0; i < n_in; ++i)
                FN(axpy)(out, block + (i + 1) * n_out, n_out, x[i]);
        }
        if (l + 1 < net->n_layers) {
            for (fnn_index j = 0; j < n_out; ++j) out[j] = FN(sigmoid)(out[j]);
        }
        in = out;
        out += n_out;
    }
    return (T *)in;
}

/* Turns logits b into output probabilities in place and returns the cross-entropy of label y:
 * softmax: J = logsumexp(b) - b_y;  sigmoid: J = max(b, 0) - b y + log1p(e^-|b|). */
static double FN(output_and_loss)(const fnn_net *net, T *b, int32_t y)
{
    const fnn_index K = net->sizes[net->n_layers];
    if (net->output == FNN_OUTPUT_SIGMOID) {
        const double logit = (double)b[0];
        b[0] = FN(sigmoid)(b[0]);
        return fmax(logit, 0.0) - logit * (double)y + log1p(exp(-fabs(logit)));
    }
    double b_max = (double)b[0];
    for (fnn_index j = 1; j < K; ++j) b_max = fmax(b_max, (double)b[j]);
    const double b_y = (double)b[y];
    double sum = 0.0;
    for (fnn_index j = 0; j < K; ++j) {
        const double e = exp((double)b[j] - b_max);
        b[j] = (T)e;
        sum += e;
    }
    for (fnn_index j = 0; j < K; ++j) b[j] = (T)((double)b[j] / sum);
    return b_max + log(sum) - b_y;
}

/* sum_j row[j] delta[j], accumulated in double. */
static inline double FN(dot)(const T *restrict row, const T *restrict delta, fnn_index n)
{
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (fnn_index j = 0; j < n; ++j) acc += (double)row[j] * (double)delta[j];
    return acc;
}

/* row <- row - step * delta, with the L2 shrink row <- row - lr l2 row folded in when decay != 1. */
static inline void FN(update_row)(T *restrict row, const T *restrict delta, fnn_index n, T step, T decay)
{
    if (decay != (T)1) {
#pragma omp simd
        for (fnn_index j = 0; j < n; ++j) row[j] = decay * row[j] - step * delta[j];
    } else {
#pragma omp simd
        for (fnn_index j = 0; j < n; ++j) row[j] -= step * delta[j];
    }
}

/*
 * Backward pass for one row whose forward pass left activations in work and output probabilities
 * in y_hat. delta starts as the output delta (y_hat - y) * sample_weight. Going down the layers,
 * the delta of the layer below, (W^T delta) * z (1 - z), is read from each weight row before the
 * row is updated.
 * SGD mode (G == NULL): W <- W - lr (delta [1; z_prev]^T + l2 W_nonbias), in place.
 * Gradient mode (G != NULL, zeroed): G <- delta [1; z_prev]^T, W untouched.
 */
static void FN(backward)(const fnn_net *net, T *W, T *G, const DATA *data, fnn_index r,
                         const T *y_hat, int32_t y, T weight, const fnn_sgd *sgd, T *work)
{
    const fnn_index *sizes = net->sizes;
    const int L = net->n_layers;
    /* work layout: activations of layers 0..L-1 back to back, then two delta buffers. */
    fnn_index act_total = 0, widest = 0;
    for (int l = 1; l <= L; ++l) {
        act_total += sizes[l];
        if (sizes[l] > widest) widest = sizes[l];
    }
    T *delta = work + act_total;
    T *delta_below = delta + widest;

    const fnn_index K = sizes[L];
    for (fnn_index j = 0; j < K; ++j) delta[j] = y_hat[j];
    if (net->output == FNN_OUTPUT_SIGMOID) delta[0] -= (T)y;
    else delta[y] -= (T)1;
    if (weight != (T)1)
        for (fnn_index j = 0; j < K; ++j) delta[j] *= weight;

    const T lr = G ? (T)0 : (T)sgd->learning_rate;
    const T decay = G ? (T)1 : (T)(1.0 - sgd->learning_rate * sgd->l2);
    fnn_index act_end = act_total - K; /* start of the output layer's activations */
    for (int l = L - 1; l >= 0; --l) {
        const fnn_index n_in = sizes[l], n_out = sizes[l + 1];
        const fnn_index offset = fnn_layer_offset(net, l);
        T *block = W + offset;
        T *grad = G ? G + offset : NULL;
        const T *z_in = NULL;
        if (l > 0) {
            act_end -= n_in;
            z_in = work + act_end;
        }
        /* bias row: no L2 */
        if (grad) {
            for (fnn_index j = 0; j < n_out; ++j) grad[j] = delta[j];
        } else {
            FN(update_row)(block, delta, n_out, lr, (T)1);
        }
        if (l > 0) {
            for (fnn_index i = 0; i < n_in; ++i) {
                T *row = block + (i + 1) * n_out;
                const T zi = z_in[i];
                const double back = FN(dot)(row, delta, n_out);
                delta_below[i] = (T)(back * (double)zi * (1.0 - (double)zi));
                if (grad) {
                    T *grow = grad + (i + 1) * n_out;
                    for (fnn_index j = 0; j < n_out; ++j) grow[j] = zi * delta[j];
                } else {
                    FN(update_row)(row, delta, n_out, lr * zi, decay);
                }
            }
            T *swap = delta;
            delta = delta_below;
            delta_below = swap;
        } else if (data->indptr) {
            if (!grad && decay != (T)1) {
                for (fnn_index i = 0; i < n_in; ++i) {
                    T *row = block + (i + 1) * n_out;
#pragma omp simd
                    for (fnn_index j = 0; j < n_out; ++j) row[j] *= decay;
                }
            }
            for (fnn_index k = data->indptr[r]; k < data->indptr[r + 1]; ++k) {
                const fnn_index i = data->indices[k];
                const T xi = data->values[k];
                if (grad) FN(axpy)(grad + (i + 1) * n_out, delta, n_out, xi);
                else FN(update_row)(block + (i + 1) * n_out, delta, n_out, lr * xi, (T)1);
            }
        } else {
            const T *x = data->values + r * n_in;
            for (fnn_index i = 0; i < n_in; ++i) {
                if (grad) {
                    T *grow = grad + (i + 1) * n_out;
                    for (fnn_index j = 0; j < n_out; ++j) grow[j] = x[i] * delta[j];
                } else {
                    FN(update_row)(block + (i + 1) * n_out, delta, n_out, lr * x[i], decay);
                }
            }
        }
    }
}

/* FNN_OK when every label is a valid class (labels may be NULL: nothing to check). */
static int FN(check_data)(const fnn_net *net, const DATA *data)
{
    if (fnn_check_net(net) != FNN_OK || data->n_features != net->sizes[0]) return FNN_ERROR_SHAPE;
    if (data->indptr) {
        const fnn_index nnz = data->indptr[data->n_rows];
        for (fnn_index k = 0; k < nnz; ++k)
            if (data->indices[k] < 0 || data->indices[k] >= data->n_features) return FNN_ERROR_INDEX;
    }
    if (data->labels) {
        const fnn_index K = net->output == FNN_OUTPUT_SIGMOID ? 2 : net->sizes[net->n_layers];
        for (fnn_index r = 0; r < data->n_rows; ++r)
            if (data->labels[r] < 0 || data->labels[r] >= K) return FNN_ERROR_LABEL;
    }
    return FNN_OK;
}

int FN(fnn_sgd_epoch)(const fnn_net *net, T *W, const DATA *data, const fnn_index *order,
                      fnn_index n_order, const fnn_sgd *sgd, T *work, double *loss_sum)
{
    int status = FN(check_data)(net, data);
    if (status != FNN_OK) return status;
    if (!data->labels) return FNN_ERROR_LABEL;
    for (fnn_index t = 0; t < n_order; ++t)
        if (order[t] < 0 || order[t] >= data->n_rows) return FNN_ERROR_INDEX;

    double total = 0.0;
    for (fnn_index t = 0; t < n_order; ++t) {
        const fnn_index r = order[t];
        const int32_t y = data->labels[r];
        const T weight = data->sample_weight ? data->sample_weight[r] : (T)1;
        T *y_hat = FN(forward_logits)(net, W, data, r, work);
        total += (double)weight * FN(output_and_loss)(net, y_hat, y);
        FN(backward)(net, W, NULL, data, r, y_hat, y, weight, sgd, work);
    }
    *loss_sum += total;
    return FNN_OK;
}

int FN(fnn_predict)(const fnn_net *net, const T *W, const DATA *data, T *output, T *work)
{
    int status = FN(check_data)(net, data);
    if (status != FNN_OK) return status;
    const fnn_index K = net->sizes[net->n_layers];
    for (fnn_index r = 0; r < data->n_rows; ++r) {
        T *y_hat = FN(forward_logits)(net, W, data, r, work);
        FN(output_and_loss)(net, y_hat, 0);
        memcpy(output + r * K, y_hat, (size_t)K * sizeof(T));
    }
    return FNN_OK;
}

int FN(fnn_loss)(const fnn_net *net, const T *W, const DATA *data, T *work, double *loss_sum)
{
    int status = FN(check_data)(net, data);
    if (status != FNN_OK) return status;
    if (!data->labels) return FNN_ERROR_LABEL;
    double total = 0.0;
    for (fnn_index r = 0; r < data->n_rows; ++r) {
        const double weight = data->sample_weight ? (double)data->sample_weight[r] : 1.0;
        T *y_hat = FN(forward_logits)(net, W, data, r, work);
        total += weight * FN(output_and_loss)(net, y_hat, data->labels[r]);
    }
    *loss_sum = total;
    return FNN_OK;
}

int FN(fnn_gradient)(const fnn_net *net, const T *W, const DATA *data, fnn_index row, T *G,
                     T *work, double *loss)
{
    int status = FN(check_data)(net, data);
    if (status != FNN_OK) return status;
    if (!data->labels) return FNN_ERROR_LABEL;
    if (row < 0 || row >= data->n_rows) return FNN_ERROR_INDEX;
    memset(G, 0, (size_t)fnn_weight_count(net) * sizeof(T));
    T *y_hat = FN(forward_logits)(net, W, data, row, work);
    *loss = FN(output_and_loss)(net, y_hat, data->labels[row]);
    FN(backward)(net, (T *)W, G, data, row, y_hat, data->labels[row], (T)1, NULL, work);
    return FNN_OK;
}

#undef FN
#undef DATA
#undef FNN_CAT
#undef FNN_CAT_
