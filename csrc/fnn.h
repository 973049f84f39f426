/*
 * fnn.h -- the whole C API of fastnn's engine.
 *
 * A network has n_layers weight matrices (hidden layers + 1). Layer l maps sizes[l] inputs to
 * sizes[l+1] outputs: hidden layers compute z = g(W [1; z_prev]) with g one of the FNN_ACTIVATION_*
 * functions (chosen per hidden layer); the last layer is a softmax over sizes[n_layers] >= 2 classes,
 * one sigmoid unit (sizes[n_layers] == 1), K independent sigmoids (multilabel) or the identity
 * (regression), each with its loss (FNN_OUTPUT_*).
 *
 * Storage: all weights live in one contiguous buffer, layer after layer. Layer l is stored
 * TRANSPOSED, as a row-major (sizes[l] + 1, fnn_padded_width(net, sizes[l+1])) block whose row 0
 * holds the biases and row i + 1 the weights leaving input i; the columns past sizes[l+1] are zero
 * padding, so that every row is a whole number of SIMD vectors (net->pad_units columns: 4 doubles
 * or 8 floats, one 32-byte vector). (Users see W as (n_out, n_in + 1),
 * bias in column 0; the transpose makes both the forward pass and the rank-1 SGD update stream
 * contiguous rows.)
 *
 * Every function is arithmetic only: no allocation, no I/O, no globals. Scratch memory is passed
 * in (fnn_work_size elements of the data type). Each entry point returns an FNN_* status code.
 * Functions exist for double (_f64) and float (_f32); sums are accumulated in double.
 */
#ifndef FNN_H
#define FNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef ptrdiff_t fnn_index;

/* Status codes returned by every entry point; fnn_strerror(status) says what each means. */
#define FNN_OK 0
#define FNN_ERROR_LAYERS (-1)   /* no layer (n_layers < 1), sizes NULL, or a layer size < 1 */
#define FNN_ERROR_LABEL (-2)    /* a label outside 0..K-1 (softmax) or 0..1 (sigmoid), or labels NULL */
#define FNN_ERROR_INDEX (-3)    /* a row index in `order` or a sparse column index out of range */
#define FNN_ERROR_SIZE (-4)     /* a buffer size of the call (weights, work) does not fit in fnn_index */
#define FNN_ERROR_OUTPUT (-5)   /* an unknown output type, or output units that fit no output type */
#define FNN_ERROR_PADDING (-6)  /* pad_units < 1, or no multiple of the function's type's vector */
#define FNN_ERROR_FEATURES (-7) /* the data's n_features differs from the network's sizes[0] */
#define FNN_ERROR_BATCH (-8)    /* a batch size < 1 */
#define FNN_ERROR_LAYOUT (-9)   /* the layout tables are missing or not those of the architecture (fnn_layout) */
#define FNN_ERROR_ACTIVATION (-10) /* an unknown hidden activation code */
#define FNN_ERROR_TARGET (-11)  /* the output needs real-valued targets and the data have none */
#define FNN_ERROR_OPTIMIZER (-12) /* an unknown optimizer method, or a setting outside its range (fnn_optimizer) */

/* Output layers and their losses J (y_hat the output, b the logits W [1; z_prev]):
 * SOFTMAX:    y_hat = softmax(b) over K >= 2 classes, label y;  J = logsumexp(b) - b_y
 * SIGMOID:    y_hat = sigmoid(b), K = 1, label y in {0, 1};    J = softplus(b) - y b
 * MULTILABEL: y_hat_k = sigmoid(b_k), K >= 1 targets t in [0, 1]; J = sum_k softplus(b_k) - t_k b_k
 * IDENTITY:   y_hat = b, K >= 1 real targets t;                 J = 1/2 sum_k (b_k - t_k)^2
 * Each is the canonical pair of its output function, so the output delta dJ/db is y_hat - y. */
#define FNN_OUTPUT_SOFTMAX 0
#define FNN_OUTPUT_SIGMOID 1
#define FNN_OUTPUT_MULTILABEL 2
#define FNN_OUTPUT_IDENTITY 3

/* Hidden activations g and the derivatives the backward pass takes from the stored output z = g(a):
 * LOGISTIC z = 1 / (1 + e^-a), z (1 - z);  TANH z = tanh(a), 1 - z^2;  RELU z = max(a, 0), [z > 0];
 * IDENTITY z = a, 1;  LEAKY_RELU z = a for a > 0 else FNN_LEAKY_SLOPE a, 1 for z > 0 else FNN_LEAKY_SLOPE. */
#define FNN_ACTIVATION_LOGISTIC 0
#define FNN_ACTIVATION_TANH 1
#define FNN_ACTIVATION_RELU 2
#define FNN_ACTIVATION_IDENTITY 3
#define FNN_ACTIVATION_LEAKY_RELU 4
#define FNN_LEAKY_SLOPE 0.01

/* The architecture: sizes[0] = n_features, sizes[n_layers] = output units. The fields up to
 * pad_units are the caller's; fnn_layout fills the rest once, and every kernel reads them. */
typedef struct fnn_net {
    int n_layers;
    const fnn_index *sizes;   /* n_layers + 1 entries */
    int output;               /* FNN_OUTPUT_* */
    fnn_index pad_units;      /* layer widths are padded to a multiple of this: FNN_PAD_UNITS_F64
                                 for the _f64 functions, FNN_PAD_UNITS_F32 for _f32 (or a multiple) */
    const int *activation;    /* n_layers - 1 entries: hidden layer l's FNN_ACTIVATION_*; NULL: all logistic */
    /* the layout (fnn_layout): */
    const fnn_index *width;   /* n_layers + 1 entries: fnn_padded_width of each layer's units */
    const fnn_index *offset;  /* n_layers + 1 entries: layer l's block in W; offset[n_layers] = fnn_weight_count */
    fnn_index z_total;        /* width[1] + ... + width[n_layers]: the activations of one row */
    fnn_index widest;         /* max of width[1..n_layers] */
} fnn_net;

/* Fills the layout of net from its architecture: width and offset are the caller's arrays of
 * n_layers + 1 entries, which net then points to (they must outlive its use). FNN_OK, or the
 * architecture's error (fnn_check_net), or FNN_ERROR_SIZE when a size overflows fnn_index. */
int fnn_layout(fnn_net *net, fnn_index *width, fnn_index *offset);

/* Padding units of the weight layout per data type: one 32-byte vector. */
#define FNN_PAD_UNITS_F64 4
#define FNN_PAD_UNITS_F32 8

/* SGD settings. Per sample (batch_size 1): W <- W - learning_rate (sample_weight dJ/dW + l2 W_nonbias).
 * Mini-batch: W <- W - learning_rate (mean over the batch of sample_weight dJ/dW + l2 W_nonbias). */
typedef struct fnn_sgd {
    double learning_rate;
    double l2;
    fnn_index batch_size;
} fnn_sgd;

/*
 * Optimizers (scikit-learn's _stochastic_optimizers, step for step). Each update takes the gradient
 * g = dJ/dW + l2 W_nonbias that the plain SGD update uses (per sample: sample_weight dJ/dW; per
 * mini-batch: the batch's mean) and a learning rate lr = fnn_sgd.learning_rate:
 *   SGD       W <- W - lr g                                                  (no state)
 *   MOMENTUM  v <- momentum v - lr g;  W <- W + v                            (state: v)
 *   NESTEROV  v <- momentum v - lr g;  W <- W + momentum v - lr g            (state: v)
 *   ADAM      t <- t + 1;  m <- beta_1 m + (1 - beta_1) g;  s <- beta_2 s + (1 - beta_2) g^2;
 *             W <- W - lr_t m / (sqrt(s) + epsilon),  lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
 *                                                                            (state: m, then s)
 * The state is the caller's buffer of fnn_state_size elements: each state array has the layout of
 * W (padding included, where it stays zero) and the arrays follow each other. Every weight moves
 * at every update, also where the sample's gradient is zero (an input that is 0, a sparse row's
 * absent entries): the moments decay and the velocity keeps moving W. The engine does exactly that
 * (no lazy decay): with momentum or Adam, a CSR row costs as much as a dense one. Momentum's
 * update is linear in (W, v): per sample on dense rows, the first layer is updated in runs of
 * FNN_DEFERRED_ROWS samples in closed form (the same updates, up to rounding), as plain SGD's is.
 */
#define FNN_OPTIMIZER_SGD 0
#define FNN_OPTIMIZER_MOMENTUM 1
#define FNN_OPTIMIZER_NESTEROV 2
#define FNN_OPTIMIZER_ADAM 3

typedef struct fnn_optimizer {
    int method;      /* FNN_OPTIMIZER_* */
    double momentum; /* MOMENTUM, NESTEROV: in [0, 1) */
    double beta_1;   /* ADAM: in [0, 1) */
    double beta_2;   /* ADAM: in [0, 1) */
    double epsilon;  /* ADAM: > 0 */
    int64_t t;       /* ADAM: updates made so far (>= 0); each update adds one, in place */
} fnn_optimizer;

/* FNN_OK, or FNN_ERROR_OPTIMIZER for an unknown method or a setting of it outside its range
 * (NaN included); the settings of the other methods are not read. */
int fnn_check_optimizer(const fnn_optimizer *opt);

/* Elements of the optimizer state: 0 (SGD), fnn_weight_count (MOMENTUM, NESTEROV), 2 x
 * fnn_weight_count (ADAM); -1 for an unknown method or an overflow. */
fnn_index fnn_state_size(const fnn_net *net, int method);

/*
 * Matrix products for the mini-batch and batched-prediction paths, supplied by the caller (the
 * Python bridge passes BLAS): row-major C (m, n) <- alpha op(A) op(B) + beta C, op(A) (m, k),
 * op(B) (k, n), op = transpose when trans_* != 0; lda, ldb, ldc are row strides.
 */
typedef void (*fnn_gemm_f64)(int trans_a, int trans_b, fnn_index m, fnn_index n, fnn_index k, double alpha,
                             const double *A, fnn_index lda, const double *B, fnn_index ldb, double beta,
                             double *C, fnn_index ldc);
typedef void (*fnn_gemm_f32)(int trans_a, int trans_b, fnn_index m, fnn_index n, fnn_index k, float alpha,
                             const float *A, fnn_index lda, const float *B, fnn_index ldb, float beta,
                             float *C, fnn_index ldc);

/*
 * A set of rows and what they should give. Dense when indptr == NULL: `values` is row-major
 * (n_rows, n_features). CSR otherwise: row r has entries values[indptr[r]:indptr[r+1]] at columns
 * indices[...]. The truth: `labels` for the softmax and sigmoid outputs, `targets` (row-major
 * (n_rows, K)) for the multilabel and identity outputs; either may be NULL for functions that only
 * predict. sample_weight NULL means all ones.
 */
typedef struct fnn_data_f64 {
    const double *values;
    const fnn_index *indptr;
    const fnn_index *indices;
    fnn_index n_rows;
    fnn_index n_features;
    const int32_t *labels;
    const double *targets;
    const double *sample_weight;
} fnn_data_f64;

typedef struct fnn_data_f32 { /* the same with float values and weights */
    const float *values;
    const fnn_index *indptr;
    const fnn_index *indices;
    fnn_index n_rows;
    fnn_index n_features;
    const int32_t *labels;
    const float *targets;
    const float *sample_weight;
} fnn_data_f32;

/* FNN_OK if the architecture is valid: n_layers >= 1 and sizes >= 1 (else FNN_ERROR_LAYERS), output
 * units that fit the output (FNN_ERROR_OUTPUT: softmax >= 2, sigmoid 1, the others >= 1), known
 * activations (FNN_ERROR_ACTIVATION), pad_units >= 1 (FNN_ERROR_PADDING), and its layout filled by
 * fnn_layout (FNN_ERROR_LAYOUT). The entry points also refuse a pad_units that is no multiple of
 * their type's (FNN_ERROR_PADDING). */
int fnn_check_net(const fnn_net *net);

/* A one-line description of a status code ("unknown status" for a code fnn.h does not define). */
const char *fnn_strerror(int status);

/* The size functions below return -1 when the count does not fit in fnn_index (they never wrap);
 * the entry points refuse such a network or batch with FNN_ERROR_SIZE. */

/* Columns a layer of n_out units occupies in storage: n_out rounded up to a multiple of
 * net->pad_units (the padding stays zero). */
fnn_index fnn_padded_width(const fnn_net *net, fnn_index n_out);

/* Elements of the weight buffer: sum over layers of (sizes[l] + 1) * fnn_padded_width(net, sizes[l+1]). */
fnn_index fnn_weight_count(const fnn_net *net);

/* Offset of layer l's block in the weight buffer. */
fnn_index fnn_layer_offset(const fnn_net *net, int layer);

/* Samples per run of deferred first-layer updates (dense per-sample SGD). */
#define FNN_DEFERRED_ROWS 4

/* Scratch elements of the per-sample functions: the padded activations of layers 1..L, two delta
 * buffers of the widest padded layer, and one run of deferred first-layer updates
 * (FNN_DEFERRED_ROWS x (3 pad(sizes[1]) + sizes[0])); the caller zeroes the buffer once. */
fnn_index fnn_work_size(const fnn_net *net);

/* Scratch elements of the batched functions for batches of up to batch_size rows:
 * batch_size x (pad(sizes[0]) for dense input, 0 for CSR input (sparse_input != 0)
 *               + the padded activations of layers 1..L + 2 x the widest padded layer).
 * A call visiting n rows needs it for min(batch_size, n) rows only. */
fnn_index fnn_batch_work_size(const fnn_net *net, fnn_index batch_size, int sparse_input);

/*
 * The entry points, for double (_f64) and float (_f32). W is the weight buffer, work the scratch
 * buffer (fnn_work_size elements for the per-sample functions).
 */

/* One SGD pass over rows order[0..n_order): for each, forward, output delta y_hat - y, backpropagate
 * with the weights before the update, update in place. Adds the weighted loss of each sample,
 * measured before its update, to *loss_sum. */
int fnn_sgd_epoch_f64(const fnn_net *net, double *W, const fnn_data_f64 *data, const fnn_index *order,
                      fnn_index n_order, const fnn_sgd *sgd, double *work, double *loss_sum);
int fnn_sgd_epoch_f32(const fnn_net *net, float *W, const fnn_data_f32 *data, const fnn_index *order,
                      fnn_index n_order, const fnn_sgd *sgd, float *work, double *loss_sum);

/* Output of every row, (n_rows, K): softmax probabilities, p(y = 1), the K sigmoids, or the identity's values. */
int fnn_predict_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data, double *output, double *work);
int fnn_predict_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data, float *output, float *work);

/* *loss_sum = sum_r sample_weight_r * J_r, J the output's loss computed from the logits. */
int fnn_loss_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data, double *work, double *loss_sum);
int fnn_loss_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data, float *work, double *loss_sum);

/* G = dJ/dW for the single row `row` of data (same layout as W), by the same backward pass the SGD
 * step applies; *loss = J. */
int fnn_gradient_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data, fnn_index row, double *G,
                     double *work, double *loss);
int fnn_gradient_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data, fnn_index row, float *G,
                     float *work, double *loss);

/* Mini-batch SGD over order[0..n_order) in batches of sgd->batch_size rows (the last may be smaller):
 * forward the batch, backpropagate with the weights before the update, update once. Adds the
 * weighted losses (before the update) to *loss_sum.
 * work: fnn_batch_work_size(net, min(sgd->batch_size, n_order), data is CSR) elements. */
int fnn_minibatch_epoch_f64(const fnn_net *net, double *W, const fnn_data_f64 *data, const fnn_index *order,
                            fnn_index n_order, const fnn_sgd *sgd, fnn_gemm_f64 gemm, double *work,
                            double *loss_sum);
int fnn_minibatch_epoch_f32(const fnn_net *net, float *W, const fnn_data_f32 *data, const fnn_index *order,
                            fnn_index n_order, const fnn_sgd *sgd, fnn_gemm_f32 gemm, float *work,
                            double *loss_sum);

/* fnn_predict, and with the truth the output needs (labels or targets) also fnn_loss (added to *loss_sum when loss_sum is not NULL),
 * for rows [first, first + n_rows), batch_size rows at a time through gemm. output (may be NULL)
 * receives (n_rows, K) values, its row 0 for row `first`.
 * work: fnn_batch_work_size(net, min(batch_size, n_rows), data is CSR) elements. */
int fnn_predict_batched_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data, fnn_index first,
                            fnn_index n_rows, fnn_index batch_size, fnn_gemm_f64 gemm, double *output,
                            double *work, double *loss_sum);
int fnn_predict_batched_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data, fnn_index first,
                            fnn_index n_rows, fnn_index batch_size, fnn_gemm_f32 gemm, float *output,
                            float *work, double *loss_sum);

/* fnn_sgd_epoch with the optimizer `opt` (per sample, one update per row): forward, output delta,
 * backpropagate with the weights before the update, then the optimizer's update of every weight
 * and its state in the same pass over the layer (each weight read and written once per sample).
 * state: fnn_state_size(net, opt->method) elements (the caller zeroes it before the first update);
 * opt->t counts Adam's updates. work: fnn_work_size elements. SGD is fnn_sgd_epoch itself. */
int fnn_optim_epoch_f64(const fnn_net *net, double *W, double *state, const fnn_data_f64 *data,
                        const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd, fnn_optimizer *opt,
                        double *work, double *loss_sum);
int fnn_optim_epoch_f32(const fnn_net *net, float *W, float *state, const fnn_data_f32 *data,
                        const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd, fnn_optimizer *opt,
                        float *work, double *loss_sum);

/* Scratch elements of fnn_optim_minibatch_epoch: fnn_weight_count (the batch's gradient) +
 * fnn_batch_work_size(net, batch_size, sparse_input). */
fnn_index fnn_optim_batch_work_size(const fnn_net *net, fnn_index batch_size, int sparse_input);

/* fnn_minibatch_epoch with the optimizer `opt`: per batch, the mean gradient G (GEMMs, weights
 * before the update), then one pass over W, G and the state applying the optimizer to
 * g = G + l2 W_nonbias. work: fnn_optim_batch_work_size(net, min(sgd->batch_size, n_order), CSR)
 * elements. */
int fnn_optim_minibatch_epoch_f64(const fnn_net *net, double *W, double *state, const fnn_data_f64 *data,
                                  const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd,
                                  fnn_optimizer *opt, fnn_gemm_f64 gemm, double *work, double *loss_sum);
int fnn_optim_minibatch_epoch_f32(const fnn_net *net, float *W, float *state, const fnn_data_f32 *data,
                                  const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd,
                                  fnn_optimizer *opt, fnn_gemm_f32 gemm, float *work, double *loss_sum);

/* Full-batch gradient (for L-BFGS and other batch methods): over rows [first, first + n_rows),
 * batch_size rows per GEMM, G += sum_r sample_weight_r dJ_r/dW (the layout of W, padding zero; the
 * caller zeroes G first) and *loss_sum += sum_r sample_weight_r J_r. W is not changed; no L2 term.
 * work: fnn_batch_work_size(net, min(batch_size, n_rows), data is CSR) elements. */
int fnn_gradient_batched_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data, fnn_index first,
                             fnn_index n_rows, fnn_index batch_size, fnn_gemm_f64 gemm, double *G, double *work,
                             double *loss_sum);
int fnn_gradient_batched_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data, fnn_index first,
                             fnn_index n_rows, fnn_index batch_size, fnn_gemm_f32 gemm, float *G, float *work,
                             double *loss_sum);

/* z[j] <- sigmoid(z[j]) for j < n: the hidden layers' activation, as the kernels compute it (exposed
 * so that its accuracy can be tested against libm). */
void fnn_sigmoid_f64(double *z, fnn_index n);
void fnn_sigmoid_f32(float *z, fnn_index n);

/* z[j] <- g(z[j]) for j < n, g the FNN_ACTIVATION_* `activation`, as the kernels compute it.
 * FNN_OK or FNN_ERROR_ACTIVATION. */
int fnn_activate_f64(int activation, double *z, fnn_index n);
int fnn_activate_f32(int activation, float *z, fnn_index n);

/* Lock-free parallel SGD (Hogwild!): a thread that trained its private copy `local` since `snapshot`
 * adds what it learned to `shared` and continues from there: shared += local - snapshot, then
 * local = snapshot = shared (n entries). Other threads may publish to `shared` at the same time; an
 * update can then be lost, as Hogwild! allows. */
void fnn_publish_f64(double *shared, double *local, double *snapshot, fnn_index n);
void fnn_publish_f32(float *shared, float *local, float *snapshot, fnn_index n);

#ifdef __cplusplus
}
#endif

#endif /* FNN_H */
