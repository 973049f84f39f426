/*
 * test_fnn.c -- standalone tests of fastnn's C engine (csrc/fnn.h), no Python involved.
 *
 * Build and run (from the project root):
 *     make -C tests/c            # plain builds; `make -C tests/c gates` adds ASan+UBSan and valgrind
 *     gcc -std=c11 -O2 -g -Icsrc tests/c/test_fnn.c csrc/fnn.c -lm -o test_fnn && ./test_fnn
 *
 * What is checked, for float64 and float32, dense and CSR rows, softmax and sigmoid outputs and
 * several layer shapes (including layers wider than one register block):
 *   - one SGD step and a short SGD pass (with sample weights and L2) against a straightforward
 *     double-precision reference written below from the equations, in the user layout
 *     W of shape (n_out, n_in + 1) with the bias in column 0;
 *   - mini-batch SGD (fnn_minibatch_epoch) against the reference's mean-gradient step, for batch
 *     sizes 1, 3, 7, 10 and 300, with a written-out GEMM that checks its arguments like a BLAS;
 *   - fnn_predict, fnn_loss and fnn_predict_batched against the same reference;
 *   - fnn_gradient against the reference and against centered finite differences of fnn_loss;
 *   - the zero padding of the weight layout stays zero;
 *   - the status codes for bad shapes, labels, row and column indices and batch sizes, and that a
 *     refused call leaves the weights and the loss untouched;
 *   - extreme logits (+-36, +-88.8, +-709.8, +-1e4, softmax [1000, 1] and [1e4, 1e4, 1e4]) give
 *     probabilities in [0, 1] summing to 1, the reference's finite losses, finite gradients and
 *     finite SGD steps.
 *
 * Every buffer is allocated with exactly the number of elements fnn.h documents
 * (fnn_weight_count, fnn_work_size, fnn_batch_work_size, n_rows * n_outputs, the data arrays),
 * so that AddressSanitizer or valgrind flag any access past it; work buffers are zeroed once, as
 * fnn.h asks. The program exits with status 1 when a check fails and prints each failure with its
 * line.
 *
 * The typed tests are written once: this file includes itself twice with TEST_T defined as
 * double and as float (as csrc/fnn_f64.c and fnn_f32.c instantiate the kernel sources fnn_*.inc).
 */
#ifndef TEST_T /* ---------------------------------------------------------------- common part */

#include "fnn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 4
#define MAX_UNITS 80
#define N_ROWS 5 /* rows of every test data set; row ZERO_ROW has no non-zero entry */
#define ZERO_ROW 3

static int n_checks, n_failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        ++n_checks;                                                                        \
        if (!(cond)) {                                                                     \
            ++n_failures;                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n    ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

static void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory (%zu x %zu bytes)\n", count, size);
        exit(2);
    }
    return p;
}

/* Deterministic uniform numbers in [lo, hi) (xorshift64*). */
static uint64_t rng_state;
static void rng_seed(uint64_t seed) { rng_state = seed * 2654435761u + 88172645463325252ull; }
static double uniform(double lo, double hi)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    const uint64_t bits = (rng_state * 2685821657736338717ull) >> 11;
    return lo + (hi - lo) * ((double)bits / 9007199254740992.0);
}

/* A layer shape: sizes[0] inputs, ..., sizes[n_layers] output units. */
typedef struct shape {
    int n_layers;
    fnn_index sizes[MAX_LAYERS + 1];
    int output;
    const char *name;
} shape;

/* The engine's view of a shape, its layout padded to multiples of pad_units columns. The layout
 * tables live in a ring of static buffers: a test holds a few nets at a time, never eight. */
static fnn_net as_net(const shape *s, fnn_index pad_units)
{
    static fnn_index tables[8][2][MAX_LAYERS + 1];
    static int next;
    fnn_index(*table)[MAX_LAYERS + 1] = tables[next++ % 8];
    fnn_net net = {s->n_layers, s->sizes, s->output, pad_units, NULL, NULL, NULL, 0, 0};
    if (fnn_layout(&net, table[0], table[1]) != FNN_OK) {
        fprintf(stderr, "%s: no layout for pad_units %td\n", s->name, pad_units);
        exit(2);
    }
    return net;
}

static int n_classes(const shape *s) { return s->output == FNN_OUTPUT_SIGMOID ? 2 : (int)s->sizes[s->n_layers]; }

/* ------------------------------------------------------------------ double-precision reference
 * Weights in the user layout: layer l is W_l of shape (n_out, n_in + 1), row-major, bias in
 * column 0; the layers are stored one after the other. */

static size_t ref_offset(const shape *s, int layer)
{
    size_t offset = 0;
    for (int l = 0; l < layer; ++l) offset += (size_t)s->sizes[l + 1] * (size_t)(s->sizes[l] + 1);
    return offset;
}

static size_t ref_count(const shape *s) { return ref_offset(s, s->n_layers); }

static double ref_sigmoid(double a) { return a >= 0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a)); }

/* Forward pass of the dense row x: z[0] = x, z[l] = sigmoid(W_{l-1} [1; z[l-1]]) for hidden
 * layers, z[L] = softmax(b) or sigmoid(b) of the logits b = W_{L-1} [1; z[L-1]].
 * Returns the cross-entropy of label y: logsumexp(b) - b_y, or max(b, 0) - b y + log1p(e^-|b|). */
static double ref_forward(const shape *s, const double *W, const double *x, int y,
                          double z[MAX_LAYERS + 1][MAX_UNITS])
{
    const int L = s->n_layers;
    double b[MAX_UNITS];
    for (fnn_index i = 0; i < s->sizes[0]; ++i) z[0][i] = x[i];
    for (int l = 0; l < L; ++l) {
        const fnn_index n_in = s->sizes[l], n_out = s->sizes[l + 1];
        for (fnn_index j = 0; j < n_out; ++j) {
            const double *row = W + ref_offset(s, l) + (size_t)j * (size_t)(n_in + 1);
            double a = row[0];
            for (fnn_index i = 0; i < n_in; ++i) a += row[i + 1] * z[l][i];
            if (l + 1 < L) z[l + 1][j] = ref_sigmoid(a);
            else b[j] = a;
        }
    }
    const fnn_index K = s->sizes[L];
    if (s->output == FNN_OUTPUT_SIGMOID) {
        z[L][0] = ref_sigmoid(b[0]);
        return fmax(b[0], 0.0) - b[0] * y + log1p(exp(-fabs(b[0])));
    }
    double b_max = b[0], sum = 0.0;
    for (fnn_index j = 1; j < K; ++j) b_max = fmax(b_max, b[j]);
    for (fnn_index j = 0; j < K; ++j) sum += exp(b[j] - b_max);
    for (fnn_index j = 0; j < K; ++j) z[L][j] = exp(b[j] - b_max) / sum;
    return b_max + log(sum) - b[y];
}

/* G = dJ/dW (user layout) for one row, by the chain rule: delta_L = y_hat - onehot(y);
 * dJ/dW_l = delta_{l+1} [1; z_l]^T; delta_l = (W_l[:, 1:]^T delta_{l+1}) * z_l (1 - z_l).
 * Returns J. */
static double ref_gradient(const shape *s, const double *W, const double *x, int y, double *G)
{
    double z[MAX_LAYERS + 1][MAX_UNITS], delta[MAX_UNITS], below[MAX_UNITS];
    const int L = s->n_layers;
    const double J = ref_forward(s, W, x, y, z);
    for (fnn_index j = 0; j < s->sizes[L]; ++j)
        delta[j] = z[L][j] - (s->output == FNN_OUTPUT_SIGMOID ? (double)y : (double)(j == y));
    for (int l = L - 1; l >= 0; --l) {
        const fnn_index n_in = s->sizes[l], n_out = s->sizes[l + 1];
        const size_t offset = ref_offset(s, l);
        for (fnn_index j = 0; j < n_out; ++j) {
            double *g = G + offset + (size_t)j * (size_t)(n_in + 1);
            g[0] = delta[j];
            for (fnn_index i = 0; i < n_in; ++i) g[i + 1] = delta[j] * z[l][i];
        }
        if (l == 0) break;
        for (fnn_index i = 0; i < n_in; ++i) {
            double back = 0.0;
            for (fnn_index j = 0; j < n_out; ++j) back += W[offset + (size_t)j * (size_t)(n_in + 1) + i + 1] * delta[j];
            below[i] = back * z[l][i] * (1.0 - z[l][i]);
        }
        memcpy(delta, below, sizeof(double) * (size_t)n_in);
    }
    return J;
}

/* One SGD step on row x: W <- W - lr (weight dJ/dW + l2 W_nonbias), the gradient and the
 * penalty both taken at the weights before the step. Returns weight * J (J before the step). */
static double ref_sgd_step(const shape *s, double *W, const double *x, int y, double weight, double lr, double l2)
{
    const size_t n = ref_count(s);
    double *G = xmalloc(n * sizeof *G);
    const double J = ref_gradient(s, W, x, y, G);
    for (int l = 0; l < s->n_layers; ++l) {
        const fnn_index n_in = s->sizes[l], n_out = s->sizes[l + 1];
        const size_t offset = ref_offset(s, l);
        for (fnn_index j = 0; j < n_out; ++j)
            for (fnn_index i = 0; i <= n_in; ++i) {
                const size_t k = offset + (size_t)j * (size_t)(n_in + 1) + (size_t)i;
                W[k] -= lr * (weight * G[k] + (i > 0 ? l2 * W[k] : 0.0));
            }
    }
    free(G);
    return weight * J;
}

/* One mini-batch step on rows[0..nb) of X (m columns): W <- W - lr (mean_b weight_b dJ_b/dW +
 * l2 W_nonbias), every gradient taken at the weights before the step. Returns sum_b weight_b J_b. */
static double ref_minibatch_step(const shape *s, double *W, const double *X, fnn_index m, const fnn_index *rows,
                                 fnn_index nb, const int32_t *labels, const double *sample_weight, double lr, double l2)
{
    const size_t n = ref_count(s);
    double *G = xmalloc(n * sizeof *G), *mean = xcalloc(n, sizeof *mean), loss = 0.0;
    for (fnn_index b = 0; b < nb; ++b) {
        const fnn_index r = rows[b];
        const double weight = sample_weight ? sample_weight[r] : 1.0;
        loss += weight * ref_gradient(s, W, X + r * m, labels[r], G);
        for (size_t k = 0; k < n; ++k) mean[k] += weight * G[k] / (double)nb;
    }
    for (int l = 0; l < s->n_layers; ++l) {
        const fnn_index n_in = s->sizes[l], n_out = s->sizes[l + 1];
        for (fnn_index j = 0; j < n_out; ++j)
            for (fnn_index i = 0; i <= n_in; ++i) {
                const size_t k = ref_offset(s, l) + (size_t)j * (size_t)(n_in + 1) + (size_t)i;
                W[k] -= lr * (mean[k] + (i > 0 ? l2 * W[k] : 0.0));
            }
    }
    free(mean);
    free(G);
    return loss;
}

/* An optimizer of fnn.h with its state in the user layout (v, or m and s). */
typedef struct ref_optimizer {
    int method;
    double momentum, beta_1, beta_2, epsilon;
    long t;
    double *v, *m, *s;
} ref_optimizer;

/* One optimizer update on rows[0..nb) of X: g = mean_b weight_b dJ_b/dW + l2 W_nonbias (every
 * gradient at the weights before the update), then fnn.h's rule for the method, written out per
 * weight. Returns sum_b weight_b J_b. */
static double ref_optimizer_step(const shape *s, double *W, ref_optimizer *o, const double *X, fnn_index m,
                                 const fnn_index *rows, fnn_index nb, const int32_t *labels,
                                 const double *sample_weight, double lr, double l2)
{
    const size_t n = ref_count(s);
    double *G = xmalloc(n * sizeof *G), *g = xcalloc(n, sizeof *g), loss = 0.0;
    for (fnn_index b = 0; b < nb; ++b) {
        const fnn_index r = rows[b];
        const double weight = sample_weight ? sample_weight[r] : 1.0;
        loss += weight * ref_gradient(s, W, X + r * m, labels[r], G);
        for (size_t k = 0; k < n; ++k) g[k] += weight * G[k] / (double)nb;
    }
    for (int l = 0; l < s->n_layers; ++l)
        for (fnn_index j = 0; j < s->sizes[l + 1]; ++j)
            for (fnn_index i = 1; i <= s->sizes[l]; ++i) {
                const size_t k = ref_offset(s, l) + (size_t)j * (size_t)(s->sizes[l] + 1) + (size_t)i;
                g[k] += l2 * W[k];
            }
    o->t += 1;
    const double lr_t = lr * sqrt(1.0 - pow(o->beta_2, (double)o->t)) / (1.0 - pow(o->beta_1, (double)o->t));
    for (size_t k = 0; k < n; ++k) {
        if (o->method == FNN_OPTIMIZER_ADAM) {
            o->m[k] = o->beta_1 * o->m[k] + (1.0 - o->beta_1) * g[k];
            o->s[k] = o->beta_2 * o->s[k] + (1.0 - o->beta_2) * g[k] * g[k];
            W[k] -= lr_t * o->m[k] / (sqrt(o->s[k]) + o->epsilon);
        } else {
            o->v[k] = o->momentum * o->v[k] - lr * g[k];
            W[k] += o->method == FNN_OPTIMIZER_NESTEROV ? o->momentum * o->v[k] - lr * g[k] : o->v[k];
        }
    }
    free(g);
    free(G);
    return loss;
}

/* Worst |actual - expected| / (atol + rtol |expected|) over n values: <= 1 means close. */
static double closeness(const double *actual, const double *expected, size_t n, double rtol, double atol)
{
    double worst = 0.0;
    for (size_t k = 0; k < n; ++k) {
        const double ratio = fabs(actual[k] - expected[k]) / (atol + rtol * fabs(expected[k]));
        if (!(ratio <= worst)) worst = ratio; /* NaN propagates as a failure */
    }
    return worst;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t k = 0; k < n; ++k) m = fmax(m, fabs(a[k]));
    return m;
}

/* ------------------------------------------------------------------ layout helpers (untyped) */

/* fnn_check_net of net once fnn_layout has filled its tables (the architecture's own errors
 * come from both). */
static int laid_out_status(fnn_net net)
{
    fnn_index width[8], offset[8];
    if (net.n_layers >= 8) return -100;
    const int status = fnn_layout(&net, width, offset);
    return status != FNN_OK ? status : fnn_check_net(&net);
}

static void test_check_net(void)
{
    const fnn_index good[] = {3, 4, 2}, one_out[] = {3, 4, 1}, zero_hidden[] = {3, 0, 2}, zero_in[] = {0, 2};
    const int known[] = {FNN_ACTIVATION_TANH}, unknown[] = {5};
    fnn_net net = {2, good, FNN_OUTPUT_SOFTMAX, FNN_PAD_UNITS_F64, NULL, NULL, NULL, 0, 0};
    CHECK(fnn_check_net(&net) == FNN_ERROR_LAYOUT, "a net without its layout");
    CHECK(laid_out_status(net) == FNN_OK, "valid softmax net");
    {
        fnn_index width[3], offset[3];
        CHECK(fnn_layout(&net, width, offset) == FNN_OK && net.width == width && net.offset == offset,
              "fnn_layout points the net to its tables");
        CHECK(width[0] == 4 && width[1] == 4 && width[2] == 4 && offset[1] == 16 && offset[2] == 36 &&
                  net.z_total == 8 && net.widest == 4,
              "layout of 3-4-2: widths %td %td %td, offsets %td %td", width[0], width[1], width[2], offset[1],
              offset[2]);
        width[1] = 8;
        CHECK(fnn_check_net(&net) == FNN_ERROR_LAYOUT, "a width table that is not the net's");
        width[1] = 4;
        offset[2] = 35;
        CHECK(fnn_check_net(&net) == FNN_ERROR_LAYOUT, "an offset table that is not the net's");
        offset[2] = 36;
        net.z_total = 4;
        CHECK(fnn_check_net(&net) == FNN_ERROR_LAYOUT, "a stale activation total");
        net.width = net.offset = NULL;
        net.z_total = net.widest = 0;
    }
    net.activation = known;
    CHECK(laid_out_status(net) == FNN_OK, "a tanh hidden layer");
    net.activation = unknown;
    CHECK(laid_out_status(net) == FNN_ERROR_ACTIVATION, "an unknown activation");
    net.activation = NULL;
    net.output = FNN_OUTPUT_IDENTITY;
    CHECK(laid_out_status(net) == FNN_OK, "identity output over 2 units");
    net.output = FNN_OUTPUT_MULTILABEL;
    CHECK(laid_out_status(net) == FNN_OK, "multilabel output over 2 units");
    net.output = FNN_OUTPUT_SOFTMAX;
    net.pad_units = 0;
    CHECK(laid_out_status(net) == FNN_ERROR_PADDING, "no padding unit");
    net.pad_units = FNN_PAD_UNITS_F32;
    net.output = FNN_OUTPUT_SIGMOID;
    CHECK(laid_out_status(net) == FNN_ERROR_OUTPUT, "sigmoid output with 2 units");
    net.sizes = one_out;
    CHECK(laid_out_status(net) == FNN_OK, "valid sigmoid net");
    net.output = FNN_OUTPUT_SOFTMAX;
    CHECK(laid_out_status(net) == FNN_ERROR_OUTPUT, "softmax over 1 unit");
    net.output = 7;
    CHECK(laid_out_status(net) == FNN_ERROR_OUTPUT, "unknown output code");
    net.output = FNN_OUTPUT_SOFTMAX;
    net.sizes = zero_hidden;
    CHECK(laid_out_status(net) == FNN_ERROR_LAYERS, "a layer of 0 units");
    net.n_layers = 1;
    net.sizes = zero_in;
    CHECK(laid_out_status(net) == FNN_ERROR_LAYERS, "0 inputs");
    net.n_layers = 0;
    net.sizes = good;
    CHECK(laid_out_status(net) == FNN_ERROR_LAYERS, "no layer");
    net.n_layers = -1;
    CHECK(laid_out_status(net) == FNN_ERROR_LAYERS, "negative layer count");
    net.n_layers = 2;
    net.sizes = NULL;
    CHECK(laid_out_status(net) == FNN_ERROR_LAYERS, "sizes NULL");
    CHECK(fnn_check_net(NULL) == FNN_ERROR_LAYERS, "net NULL");

    /* every status code has its own message */
    static const int codes[] = {FNN_OK, FNN_ERROR_LAYERS, FNN_ERROR_LABEL, FNN_ERROR_INDEX, FNN_ERROR_SIZE,
                                FNN_ERROR_OUTPUT, FNN_ERROR_PADDING, FNN_ERROR_FEATURES, FNN_ERROR_BATCH,
                                FNN_ERROR_LAYOUT, FNN_ERROR_ACTIVATION, FNN_ERROR_TARGET};
    const int n_codes = (int)(sizeof codes / sizeof codes[0]);
    for (int a = 0; a < n_codes; ++a) {
        CHECK(strcmp(fnn_strerror(codes[a]), "unknown status") != 0, "status %d has no message", codes[a]);
        for (int b = 0; b < a; ++b)
            CHECK(strcmp(fnn_strerror(codes[a]), fnn_strerror(codes[b])) != 0, "statuses %d and %d share a message",
                  codes[a], codes[b]);
    }
    CHECK(strcmp(fnn_strerror(12345), "unknown status") == 0, "message of an unknown status");
}

/* Size computations that would overflow fnn_index return -1 instead of wrapping. */
static void test_size_overflow(void)
{
    const fnn_index max = PTRDIFF_MAX;
    const fnn_index wide_layer[] = {3, max - 2, 2}, wide_product[] = {(fnn_index)1 << 32, (fnn_index)1 << 32, 2};
    const fnn_index small[] = {2, 3, 2};
    fnn_net net = {2, wide_layer, FNN_OUTPUT_SOFTMAX, FNN_PAD_UNITS_F64, NULL, NULL, NULL, 0, 0};
    CHECK(fnn_padded_width(&net, max - 2) == -1, "padded width past the index range");
    CHECK(fnn_padded_width(&net, max - 3) == max - 3, "widest representable padded width");
    CHECK(fnn_weight_count(&net) == -1 && fnn_work_size(&net) == -1, "sizes of a too-wide layer");
    net.sizes = wide_product;
    CHECK(fnn_weight_count(&net) == -1, "weight count of 2^32 x 2^32 weights");
    CHECK(fnn_batch_work_size(&net, (fnn_index)1 << 31, 0) == -1, "batch work of 2^31 rows of 2^32 inputs");
    net.sizes = small;
    CHECK(fnn_batch_work_size(&net, 3, 0) == 3 * (4 + 4 + 4 + 2 * 4), "batch work, dense input");
    CHECK(fnn_batch_work_size(&net, 3, 1) == 3 * (4 + 4 + 2 * 4), "batch work, CSR input");
    CHECK(fnn_batch_work_size(&net, max / 8, 0) == -1, "batch work of a huge batch");
    CHECK(fnn_batch_work_size(&net, (fnn_index)1 << 62, 0) == -1, "batch work of 2^62 rows");
}

static void test_layout(const shape *s, fnn_index pad)
{
    fnn_net net = as_net(s, pad);
    fnn_index offset = 0, activations = 0, widest = 0;
    for (int l = 0; l < s->n_layers; ++l) {
        const fnn_index n_out = s->sizes[l + 1], width = fnn_padded_width(&net, n_out);
        CHECK(width >= n_out && width < n_out + pad && width % pad == 0,
              "%s: padded width %td of %td units (unit %td)", s->name, width, n_out, pad);
        CHECK(fnn_layer_offset(&net, l) == offset, "%s: offset of layer %d", s->name, l);
        offset += (s->sizes[l] + 1) * width;
        activations += width;
        if (width > widest) widest = width;
    }
    CHECK(fnn_weight_count(&net) == offset, "%s: weight count %td, expected %td", s->name, fnn_weight_count(&net), offset);
    CHECK(fnn_layer_offset(&net, s->n_layers) == offset, "%s: end offset", s->name);
    CHECK(fnn_work_size(&net) >= activations + 2 * widest, "%s: work size %td", s->name, fnn_work_size(&net));
}

#define TEST_T double
#define TS f64
#define TEST_PAD FNN_PAD_UNITS_F64
#define TEST_RTOL 1e-12
#define TEST_ATOL 1e-13
#include "test_fnn.c"
#undef TEST_T
#undef TS
#undef TEST_PAD
#undef TEST_RTOL
#undef TEST_ATOL

#define TEST_T float
#define TS f32
#define TEST_PAD FNN_PAD_UNITS_F32
#define TEST_RTOL 1e-5
#define TEST_ATOL 1e-6
#include "test_fnn.c"
#undef TEST_T
#undef TS
#undef TEST_PAD
#undef TEST_RTOL
#undef TEST_ATOL

/* fnn_check_optimizer: each method's range, NaN refused, the other methods' settings unread. */
static void test_check_optimizer(void)
{
    const fnn_optimizer good[] = {
        {FNN_OPTIMIZER_SGD, NAN, NAN, NAN, NAN, -1},
        {FNN_OPTIMIZER_MOMENTUM, 0.0, NAN, NAN, NAN, 0},
        {FNN_OPTIMIZER_NESTEROV, 0.999, 2.0, 2.0, -1.0, 0},
        {FNN_OPTIMIZER_ADAM, 5.0, 0.0, 0.0, 1e-300, 0},
        {FNN_OPTIMIZER_ADAM, NAN, 0.9, 0.999, 1e-8, 123},
    };
    const fnn_optimizer bad[] = {
        {FNN_OPTIMIZER_MOMENTUM, 1.0, 0.9, 0.999, 1e-8, 0},
        {FNN_OPTIMIZER_NESTEROV, -0.5, 0.9, 0.999, 1e-8, 0},
        {FNN_OPTIMIZER_MOMENTUM, NAN, 0.9, 0.999, 1e-8, 0},
        {FNN_OPTIMIZER_ADAM, 0.9, 1.0, 0.999, 1e-8, 0},
        {FNN_OPTIMIZER_ADAM, 0.9, 0.9, -0.1, 1e-8, 0},
        {FNN_OPTIMIZER_ADAM, 0.9, 0.9, 0.999, 0.0, 0},
        {FNN_OPTIMIZER_ADAM, 0.9, 0.9, 0.999, NAN, 0},
        {FNN_OPTIMIZER_ADAM, 0.9, 0.9, 0.999, 1e-8, -1},
        {7, 0.9, 0.9, 0.999, 1e-8, 0},
    };
    for (int k = 0; k < (int)(sizeof good / sizeof good[0]); ++k)
        CHECK(fnn_check_optimizer(&good[k]) == FNN_OK, "good optimizer %d refused", k);
    for (int k = 0; k < (int)(sizeof bad / sizeof bad[0]); ++k)
        CHECK(fnn_check_optimizer(&bad[k]) == FNN_ERROR_OPTIMIZER, "bad optimizer %d accepted", k);
    CHECK(fnn_check_optimizer(NULL) == FNN_ERROR_OPTIMIZER, "NULL optimizer accepted");
    CHECK(strcmp(fnn_strerror(FNN_ERROR_OPTIMIZER), "unknown status") != 0, "FNN_ERROR_OPTIMIZER has no message");
    const shape s = {2, {3, 5, 2}, FNN_OUTPUT_SOFTMAX, "3-5-2"};
    const fnn_net net = as_net(&s, FNN_PAD_UNITS_F64);
    CHECK(fnn_state_size(&net, FNN_OPTIMIZER_SGD) == 0 && fnn_state_size(&net, FNN_OPTIMIZER_NESTEROV) == fnn_weight_count(&net) &&
              fnn_state_size(&net, FNN_OPTIMIZER_ADAM) == 2 * fnn_weight_count(&net) && fnn_state_size(&net, 9) == -1,
          "fnn_state_size");
}

static const shape SHAPES[] = {
    {1, {3, 2}, FNN_OUTPUT_SOFTMAX, "3-2 softmax"},
    {1, {5, 1}, FNN_OUTPUT_SIGMOID, "5-1 sigmoid"},
    {2, {4, 7, 3}, FNN_OUTPUT_SOFTMAX, "4-7-3 softmax"},
    {2, {3, 10, 1}, FNN_OUTPUT_SIGMOID, "3-10-1 sigmoid"},
    {2, {17, 9, 2}, FNN_OUTPUT_SOFTMAX, "17-9-2 softmax"},
    {3, {9, 6, 5, 4}, FNN_OUTPUT_SOFTMAX, "9-6-5-4 softmax"},
    {3, {2, 8, 16, 1}, FNN_OUTPUT_SIGMOID, "2-8-16-1 sigmoid"},
    /* wider than one register block (32 doubles, 64 floats): several column blocks per layer */
    {2, {6, 70, 11}, FNN_OUTPUT_SOFTMAX, "6-70-11 softmax"},
    {4, {3, 33, 5, 40, 9}, FNN_OUTPUT_SOFTMAX, "3-33-5-40-9 softmax"},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))
/* batch sizes: one row, batches with a short last one, one batch of all 7 order entries, a
 * batch larger than the data, and one above the 256 rows fnn_predict_batched takes at a time */
static const fnn_index BATCHES[] = {1, 3, 7, 10, 300};
#define N_BATCHES ((int)(sizeof BATCHES / sizeof BATCHES[0]))

int main(void)
{
    test_check_net();
    test_size_overflow();
    test_check_optimizer();
    for (int k = 0; k < N_SHAPES; ++k) {
        const shape *s = &SHAPES[k];
        test_layout(s, FNN_PAD_UNITS_F64);
        test_layout(s, FNN_PAD_UNITS_F32);
        for (int sparse = 0; sparse <= 1; ++sparse) {
            for (int weighted = 0; weighted <= 1; ++weighted) {
                /* one step, then a pass that revisits rows, with and without L2 */
                test_sgd_f64(s, sparse, weighted, 0.0, 1);
                test_sgd_f64(s, sparse, weighted, 0.05, 7);
                test_sgd_f32(s, sparse, weighted, 0.0, 1);
                test_sgd_f32(s, sparse, weighted, 0.05, 7);
                test_predict_and_loss_f64(s, sparse, weighted);
                test_predict_and_loss_f32(s, sparse, weighted);
                for (int b = 0; b < N_BATCHES; ++b) {
                    test_minibatch_f64(s, sparse, weighted, b % 2 ? 0.05 : 0.0, BATCHES[b]);
                    test_minibatch_f32(s, sparse, weighted, b % 2 ? 0.05 : 0.0, BATCHES[b]);
                    test_predict_batched_f64(s, sparse, weighted, BATCHES[b]);
                    test_predict_batched_f32(s, sparse, weighted, BATCHES[b]);
                }
            }
            test_gradient_f64(s, sparse);
            test_gradient_f32(s, sparse);
            for (int method = FNN_OPTIMIZER_MOMENTUM; method <= FNN_OPTIMIZER_ADAM; ++method)
                for (int b = 0; b < 3; ++b) { /* per sample, batches of 3 (one short), one batch of all */
                    const fnn_index batch = b == 0 ? 1 : b == 1 ? 3 : 10;
                    test_optimizer_f64(s, sparse, (b + method) % 2, b == 2 ? 0.0 : 0.05, batch, method);
                    test_optimizer_f32(s, sparse, (b + method) % 2, b == 2 ? 0.0 : 0.05, batch, method);
                }
            for (int b = 0; b < 3; ++b) {
                test_gradient_batched_f64(s, sparse, b != 1, BATCHES[b]);
                test_gradient_batched_f32(s, sparse, b != 1, BATCHES[b]);
            }
            test_status_codes_f64(s, sparse);
            test_status_codes_f32(s, sparse);
        }
    }
    test_extreme_logits_f64();
    test_extreme_logits_f32();
    test_sigmoid_accuracy_f64();
    test_sigmoid_accuracy_f32();
    test_activations_f64();
    test_activations_f32();
    test_publish_f64();
    test_publish_f32();
    printf("test_fnn: %d checks, %d failed\n", n_checks, n_failures);
    return n_failures ? 1 : 0;
}

#else /* ---------------------------------------------------------------- typed part (TEST_T) */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define TF(name) CAT(name, TS)
#define DATA_T CAT(fnn_data, TS)
#define TYPE_NAME (sizeof(TEST_T) == 8 ? "f64" : "f32")

/* A value as TEST_T sees it (the reference computes from exactly the engine's inputs). */
static double TF(rounded)(double v) { return (double)(TEST_T)v; }

/* Engine weights from user-layout W, in a new buffer of exactly fnn_weight_count elements:
 * layer l transposed to (n_in + 1, fnn_padded_width(&net, n_out)), padding zero. */
static TEST_T *TF(pack)(const shape *s, const double *W)
{
    fnn_net net = as_net(s, TEST_PAD);
    TEST_T *E = xmalloc((size_t)fnn_weight_count(&net) * sizeof *E);
    for (int l = 0; l < s->n_layers; ++l) {
        const fnn_index n_in = s->sizes[l], n_out = s->sizes[l + 1], width = fnn_padded_width(&net, n_out);
        TEST_T *block = E + fnn_layer_offset(&net, l);
        for (fnn_index i = 0; i <= n_in; ++i)
            for (fnn_index j = 0; j < width; ++j)
                block[i * width + j] = j < n_out ? (TEST_T)W[ref_offset(s, l) + (size_t)j * (size_t)(n_in + 1) + (size_t)i] : 0;
    }
    return E;
}

/* User-layout W (ref_count elements) from engine weights; returns the largest |padding| value. */
static double TF(unpack)(const shape *s, const TEST_T *E, double *W)
{
    fnn_net net = as_net(s, TEST_PAD);
    double padding = 0.0;
    for (int l = 0; l < s->n_layers; ++l) {
        const fnn_index n_in = s->sizes[l], n_out = s->sizes[l + 1], width = fnn_padded_width(&net, n_out);
        const TEST_T *block = E + fnn_layer_offset(&net, l);
        for (fnn_index i = 0; i <= n_in; ++i)
            for (fnn_index j = 0; j < width; ++j) {
                if (j < n_out) W[ref_offset(s, l) + (size_t)j * (size_t)(n_in + 1) + (size_t)i] = (double)block[i * width + j];
                else padding = fmax(padding, fabs((double)block[i * width + j]));
            }
    }
    return padding;
}

/* Index in the engine buffer of user weight W_l[j, i]. */
static fnn_index TF(engine_index)(const shape *s, int l, fnn_index j, fnn_index i)
{
    fnn_net net = as_net(s, TEST_PAD);
    return fnn_layer_offset(&net, l) + i * fnn_padded_width(&net, s->sizes[l + 1]) + j;
}

/* A data set owning exactly-sized copies of its arrays. */
typedef struct TF(owned_data) {
    DATA_T data;
    TEST_T *values, *sample_weight;
    fnn_index *indptr, *indices;
    int32_t *labels;
} TF(owned_data);

/* rows [first, first + n_rows) of the dense X (n_features columns), dense or CSR (zeros left out) */
static TF(owned_data) TF(make_data)(const double *X, fnn_index first, fnn_index n_rows, fnn_index n_features,
                                    const int32_t *labels, const double *sample_weight, int sparse)
{
    TF(owned_data) d;
    memset(&d, 0, sizeof d);
    const double *rows = X + first * n_features;
    if (sparse) {
        fnn_index nnz = 0;
        for (fnn_index k = 0; k < n_rows * n_features; ++k) nnz += rows[k] != 0.0;
        d.indptr = xmalloc((size_t)(n_rows + 1) * sizeof *d.indptr);
        d.indices = nnz ? xmalloc((size_t)nnz * sizeof *d.indices) : NULL;
        d.values = nnz ? xmalloc((size_t)nnz * sizeof *d.values) : NULL;
        nnz = 0;
        d.indptr[0] = 0;
        for (fnn_index r = 0; r < n_rows; ++r) {
            for (fnn_index c = 0; c < n_features; ++c)
                if (rows[r * n_features + c] != 0.0) {
                    d.indices[nnz] = c;
                    d.values[nnz++] = (TEST_T)rows[r * n_features + c];
                }
            d.indptr[r + 1] = nnz;
        }
    } else {
        d.values = xmalloc((size_t)(n_rows * n_features) * sizeof *d.values);
        for (fnn_index k = 0; k < n_rows * n_features; ++k) d.values[k] = (TEST_T)rows[k];
    }
    if (labels) {
        d.labels = xmalloc((size_t)n_rows * sizeof *d.labels);
        memcpy(d.labels, labels + first, (size_t)n_rows * sizeof *d.labels);
    }
    if (sample_weight) {
        d.sample_weight = xmalloc((size_t)n_rows * sizeof *d.sample_weight);
        for (fnn_index r = 0; r < n_rows; ++r) d.sample_weight[r] = (TEST_T)sample_weight[first + r];
    }
    d.data.values = d.values;
    d.data.indptr = d.indptr;
    d.data.indices = d.indices;
    d.data.n_rows = n_rows;
    d.data.n_features = n_features;
    d.data.labels = d.labels;
    d.data.sample_weight = d.sample_weight;
    return d;
}

static void TF(free_data)(TF(owned_data) *d)
{
    free(d->values);
    free(d->sample_weight);
    free(d->indptr);
    free(d->indices);
    free(d->labels);
}

/* A random problem for shape s: X (N_ROWS x sizes[0], about 40% zeros, row ZERO_ROW all zero,
 * values already rounded to TEST_T), labels, sample weights in [0.25, 2], user weights in
 * [-scale, scale] rounded to TEST_T. */
typedef struct TF(problem) {
    double *X, *sample_weight, *W;
    int32_t *labels;
} TF(problem);

static TF(problem) TF(make_problem)(const shape *s, uint64_t seed, double scale)
{
    TF(problem) p;
    const fnn_index m = s->sizes[0];
    rng_seed(seed);
    p.X = xmalloc((size_t)(N_ROWS * m) * sizeof *p.X);
    p.labels = xmalloc(N_ROWS * sizeof *p.labels);
    p.sample_weight = xmalloc(N_ROWS * sizeof *p.sample_weight);
    p.W = xmalloc(ref_count(s) * sizeof *p.W);
    for (fnn_index k = 0; k < N_ROWS * m; ++k) {
        const double v = uniform(-1.0, 1.0);
        p.X[k] = (k / m == ZERO_ROW || uniform(0.0, 1.0) < 0.4) ? 0.0 : TF(rounded)(v);
    }
    for (int r = 0; r < N_ROWS; ++r) {
        p.labels[r] = (int32_t)(uniform(0.0, 1.0) * n_classes(s));
        if (p.labels[r] >= n_classes(s)) p.labels[r] = n_classes(s) - 1;
        p.sample_weight[r] = TF(rounded)(uniform(0.25, 2.0));
    }
    for (size_t k = 0; k < ref_count(s); ++k) p.W[k] = TF(rounded)(uniform(-scale, scale));
    return p;
}

static void TF(free_problem)(TF(problem) *p)
{
    free(p->X);
    free(p->labels);
    free(p->sample_weight);
    free(p->W);
}

static TEST_T *TF(new_work)(const shape *s)
{
    fnn_net net = as_net(s, TEST_PAD);
    return xcalloc((size_t)fnn_work_size(&net), sizeof(TEST_T)); /* zeroed once, as fnn.h asks */
}

/* fnn_sgd_epoch over `n_order` entries of a fixed row order (rows revisited) against the
 * reference applied step by step. */
static void TF(test_sgd)(const shape *s, int sparse, int weighted, double l2, fnn_index n_order)
{
    static const fnn_index order[] = {2, 0, ZERO_ROW, 4, 1, 2, 4};
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index m = s->sizes[0];
    const double lr = 0.3;
    TF(problem) p = TF(make_problem)(s, 1000u + (uint64_t)m + 7u * (uint64_t)sparse + 13u * (uint64_t)weighted, 0.5);
    TF(owned_data) d = TF(make_data)(p.X, 0, N_ROWS, m, p.labels, weighted ? p.sample_weight : NULL, sparse);
    TEST_T *E = TF(pack)(s, p.W), *work = TF(new_work)(s);
    double *got = xmalloc(ref_count(s) * sizeof *got);

    const fnn_sgd sgd = {lr, l2, 1};
    double loss = 0.125; /* fnn_sgd_epoch adds to it */
    int status = TF(fnn_sgd_epoch)(&net, E, &d.data, order, n_order, &sgd, work, &loss);
    CHECK(status == FNN_OK, "%s %s: status %d", s->name, TYPE_NAME, status);

    double expected_loss = 0.125;
    for (fnn_index t = 0; t < n_order; ++t) {
        const fnn_index r = order[t];
        expected_loss += ref_sgd_step(s, p.W, p.X + r * m, p.labels[r], weighted ? p.sample_weight[r] : 1.0, lr, l2);
    }
    const double padding = TF(unpack)(s, E, got);
    CHECK(padding == 0.0, "%s %s: padding became %g", s->name, TYPE_NAME, padding);
    const double scale = max_abs(p.W, ref_count(s));
    const double err = closeness(got, p.W, ref_count(s), TEST_RTOL * n_order, TEST_ATOL * n_order * scale);
    CHECK(err <= 1.0, "%s %s sparse=%d weighted=%d l2=%g steps=%td: weights off by %g tolerances",
          s->name, TYPE_NAME, sparse, weighted, l2, n_order, err);
    const double loss_err = closeness(&loss, &expected_loss, 1, TEST_RTOL * 10, 0.0);
    CHECK(loss_err <= 1.0, "%s %s sparse=%d: loss sum %.17g, expected %.17g", s->name, TYPE_NAME, sparse, loss,
          expected_loss);

    free(got);
    free(work);
    free(E);
    TF(free_data)(&d);
    TF(free_problem)(&p);
}

static void TF(test_predict_and_loss)(const shape *s, int sparse, int weighted)
{
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index m = s->sizes[0], K = s->sizes[s->n_layers];
    TF(problem) p = TF(make_problem)(s, 2000u + (uint64_t)m, 1.5);
    TF(owned_data) d = TF(make_data)(p.X, 0, N_ROWS, m, p.labels, weighted ? p.sample_weight : NULL, sparse);
    TF(owned_data) unlabelled = TF(make_data)(p.X, 0, N_ROWS, m, NULL, NULL, sparse);
    TEST_T *E = TF(pack)(s, p.W), *work = TF(new_work)(s);
    TEST_T *out = xmalloc((size_t)(N_ROWS * K) * sizeof *out); /* (n_rows, K); K = 1 for sigmoid */

    int status = TF(fnn_predict)(&net, E, &unlabelled.data, out, work);
    CHECK(status == FNN_OK, "%s %s: predict status %d", s->name, TYPE_NAME, status);
    double expected_loss = 0.0, worst = 0.0;
    for (int r = 0; r < N_ROWS; ++r) {
        double z[MAX_LAYERS + 1][MAX_UNITS], sum = 0.0;
        const double J = ref_forward(s, p.W, p.X + r * m, p.labels[r], z);
        expected_loss += (weighted ? p.sample_weight[r] : 1.0) * J;
        for (fnn_index j = 0; j < K; ++j) {
            const double got = (double)out[r * K + j], want = z[s->n_layers][j];
            worst = fmax(worst, fabs(got - want) / (TEST_ATOL + TEST_RTOL * want));
            CHECK(got >= 0.0 && got <= 1.0, "%s %s: probability %g outside [0, 1]", s->name, TYPE_NAME, got);
            sum += got;
        }
        if (s->output == FNN_OUTPUT_SOFTMAX)
            CHECK(fabs(sum - 1.0) <= 10 * TEST_RTOL, "%s %s: row %d sums to %.17g", s->name, TYPE_NAME, r, sum);
    }
    CHECK(worst <= 1.0, "%s %s sparse=%d: probabilities off by %g tolerances", s->name, TYPE_NAME, sparse, worst);

    double loss = 99.0; /* fnn_loss overwrites it */
    status = TF(fnn_loss)(&net, E, &d.data, work, &loss);
    CHECK(status == FNN_OK, "%s %s: loss status %d", s->name, TYPE_NAME, status);
    const double err = closeness(&loss, &expected_loss, 1, TEST_RTOL * 10, 0.0);
    CHECK(err <= 1.0, "%s %s sparse=%d weighted=%d: loss %.17g, expected %.17g", s->name, TYPE_NAME, sparse, weighted,
          loss, expected_loss);

    free(out);
    free(work);
    free(E);
    TF(free_data)(&unlabelled);
    TF(free_data)(&d);
    TF(free_problem)(&p);
}

/* fnn_gradient against the reference, and against centered differences of fnn_loss on a data
 * set holding just that row: (J(w + eps) - J(w - eps)) / (2 eps) for every user weight. */
static void TF(test_gradient)(const shape *s, int sparse)
{
    static const fnn_index rows[] = {0, ZERO_ROW, 4};
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index m = s->sizes[0], n_weights = fnn_weight_count(&net);
    const size_t n = ref_count(s);
    const double eps = sizeof(TEST_T) == 8 ? 1e-6 : 1e-2;
    const double fd_rtol = sizeof(TEST_T) == 8 ? 1e-6 : 2e-2, fd_atol = sizeof(TEST_T) == 8 ? 1e-8 : 2e-3;
    TF(problem) p = TF(make_problem)(s, 3000u + (uint64_t)m + (uint64_t)sparse, 1.0);
    TF(owned_data) d = TF(make_data)(p.X, 0, N_ROWS, m, p.labels, NULL, sparse);
    TEST_T *E = TF(pack)(s, p.W), *work = TF(new_work)(s);
    TEST_T *E_before = xmalloc((size_t)n_weights * sizeof *E_before);
    TEST_T *G = xmalloc((size_t)n_weights * sizeof *G);
    double *got = xmalloc(n * sizeof *got), *expected = xmalloc(n * sizeof *expected);
    memcpy(E_before, E, (size_t)n_weights * sizeof *E);

    for (int k = 0; k < (int)(sizeof rows / sizeof rows[0]); ++k) {
        const fnn_index r = rows[k];
        double loss = -1.0;
        int status = TF(fnn_gradient)(&net, E, &d.data, r, G, work, &loss);
        CHECK(status == FNN_OK, "%s %s: gradient status %d", s->name, TYPE_NAME, status);
        CHECK(memcmp(E, E_before, (size_t)n_weights * sizeof *E) == 0, "%s %s: fnn_gradient changed W", s->name,
              TYPE_NAME);
        const double J = ref_gradient(s, p.W, p.X + r * m, p.labels[r], expected);
        const double padding = TF(unpack)(s, G, got);
        CHECK(padding == 0.0, "%s %s: gradient padding %g", s->name, TYPE_NAME, padding);
        const double scale = max_abs(expected, n);
        CHECK(scale > 1e-3, "%s %s: the checked gradient must not be (almost) zero", s->name, TYPE_NAME);
        double err = closeness(got, expected, n, TEST_RTOL * 10, TEST_ATOL * 10 * scale);
        CHECK(err <= 1.0, "%s %s sparse=%d row %td: gradient off the reference by %g tolerances", s->name,
              TYPE_NAME, sparse, r, err);
        err = closeness(&loss, &J, 1, TEST_RTOL * 10, 0.0);
        CHECK(err <= 1.0, "%s %s: gradient's loss %.17g, expected %.17g", s->name, TYPE_NAME, loss, J);

        /* finite differences of fnn_loss on the one-row data set */
        TF(owned_data) one = TF(make_data)(p.X, r, 1, m, p.labels, NULL, sparse);
        double worst = 0.0;
        for (int l = 0; l < s->n_layers; ++l)
            for (fnn_index j = 0; j < s->sizes[l + 1]; ++j)
                for (fnn_index i = 0; i <= s->sizes[l]; ++i) {
                    const fnn_index e = TF(engine_index)(s, l, j, i);
                    const TEST_T w = E[e];
                    double J_plus = 0.0, J_minus = 0.0;
                    E[e] = (TEST_T)(w + eps);
                    const double up = (double)E[e] - (double)w;
                    status = TF(fnn_loss)(&net, E, &one.data, work, &J_plus);
                    E[e] = (TEST_T)(w - eps);
                    const double down = (double)w - (double)E[e];
                    status |= TF(fnn_loss)(&net, E, &one.data, work, &J_minus);
                    E[e] = w;
                    const double numeric = (J_plus - J_minus) / (up + down), analytic = (double)G[e];
                    worst = fmax(worst, fabs(analytic - numeric) / (fd_atol + fd_rtol * fabs(numeric)));
                    CHECK(status == FNN_OK, "%s %s: loss status %d", s->name, TYPE_NAME, status);
                }
        CHECK(worst <= 1.0, "%s %s sparse=%d row %td: gradient off the finite differences by %g tolerances",
              s->name, TYPE_NAME, sparse, r, worst);
        TF(free_data)(&one);
    }
    CHECK(memcmp(E, E_before, (size_t)n_weights * sizeof *E) == 0, "%s %s: W not restored", s->name, TYPE_NAME);

    free(got);
    free(expected);
    free(G);
    free(E_before);
    free(work);
    free(E);
    TF(free_data)(&d);
    TF(free_problem)(&p);
}

/* The matrix product the batched functions call, written out, checking its arguments as a BLAS
 * would (a BLAS rejects a leading dimension shorter than a row): row-major
 * C (m, n) <- alpha op(A) op(B) + beta C, with C not read when beta == 0. */
static int TF(gemm_calls);
static void TF(strict_gemm)(int trans_a, int trans_b, fnn_index m, fnn_index n, fnn_index k, TEST_T alpha,
                            const TEST_T *A, fnn_index lda, const TEST_T *B, fnn_index ldb, TEST_T beta, TEST_T *C,
                            fnn_index ldc)
{
    ++TF(gemm_calls);
    CHECK(m >= 0 && n >= 0 && k >= 0, "gemm dimensions %td %td %td", m, n, k);
    CHECK(lda >= (trans_a ? m : k) && lda >= 1, "gemm lda %td too small", lda);
    CHECK(ldb >= (trans_b ? k : n) && ldb >= 1, "gemm ldb %td too small", ldb);
    CHECK(ldc >= n && ldc >= 1, "gemm ldc %td too small", ldc);
    for (fnn_index i = 0; i < m; ++i)
        for (fnn_index j = 0; j < n; ++j) {
            double acc = 0.0;
            for (fnn_index p = 0; p < k; ++p)
                acc += (double)(trans_a ? A[p * lda + i] : A[i * lda + p]) * (double)(trans_b ? B[j * ldb + p] : B[p * ldb + j]);
            const double c = beta == (TEST_T)0 ? 0.0 : (double)beta * (double)C[i * ldc + j];
            C[i * ldc + j] = (TEST_T)((double)alpha * acc + c);
        }
}

static TEST_T *TF(new_batch_work)(const shape *s, fnn_index batch_size, int sparse)
{
    fnn_net net = as_net(s, TEST_PAD);
    return xcalloc((size_t)fnn_batch_work_size(&net, batch_size, sparse), sizeof(TEST_T));
}

/* fnn_minibatch_epoch over a fixed order (rows revisited; the last batch may be short) against
 * the reference applied batch by batch. */
static void TF(test_minibatch)(const shape *s, int sparse, int weighted, double l2, fnn_index batch_size)
{
    static const fnn_index order[] = {2, 0, ZERO_ROW, 4, 1, 2, 4};
    const fnn_index n_order = (fnn_index)(sizeof order / sizeof order[0]);
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index m = s->sizes[0];
    const double lr = 0.3;
    TF(problem) p = TF(make_problem)(s, 5000u + (uint64_t)m + 7u * (uint64_t)sparse + 13u * (uint64_t)weighted, 0.5);
    TF(owned_data) d = TF(make_data)(p.X, 0, N_ROWS, m, p.labels, weighted ? p.sample_weight : NULL, sparse);
    TEST_T *E = TF(pack)(s, p.W), *work = TF(new_batch_work)(s, batch_size, sparse);
    double *got = xmalloc(ref_count(s) * sizeof *got);

    const fnn_sgd sgd = {lr, l2, batch_size};
    double loss = 0.125; /* fnn_minibatch_epoch adds to it */
    TF(gemm_calls) = 0;
    int status = TF(fnn_minibatch_epoch)(&net, E, &d.data, order, n_order, &sgd, TF(strict_gemm), work, &loss);
    CHECK(status == FNN_OK, "%s %s: minibatch status %d", s->name, TYPE_NAME, status);
    CHECK(TF(gemm_calls) > 0 || (s->n_layers == 1 && sparse), "%s %s: gemm never called", s->name, TYPE_NAME);

    double expected_loss = 0.125;
    fnn_index n_batches = 0;
    for (fnn_index t0 = 0; t0 < n_order; t0 += batch_size, ++n_batches) {
        const fnn_index nb = n_order - t0 < batch_size ? n_order - t0 : batch_size;
        expected_loss += ref_minibatch_step(s, p.W, p.X, m, order + t0, nb, p.labels, weighted ? p.sample_weight : NULL,
                                            lr, l2);
    }
    const double padding = TF(unpack)(s, E, got);
    CHECK(padding == 0.0, "%s %s: minibatch padding became %g", s->name, TYPE_NAME, padding);
    const double scale = max_abs(p.W, ref_count(s));
    const double err = closeness(got, p.W, ref_count(s), TEST_RTOL * 3 * n_batches, TEST_ATOL * 3 * n_batches * scale);
    CHECK(err <= 1.0, "%s %s sparse=%d weighted=%d l2=%g batch=%td: minibatch weights off by %g tolerances", s->name,
          TYPE_NAME, sparse, weighted, l2, batch_size, err);
    const double loss_err = closeness(&loss, &expected_loss, 1, TEST_RTOL * 10, 0.0);
    CHECK(loss_err <= 1.0, "%s %s batch=%td: minibatch loss sum %.17g, expected %.17g", s->name, TYPE_NAME, batch_size,
          loss, expected_loss);

    free(got);
    free(work);
    free(E);
    TF(free_data)(&d);
    TF(free_problem)(&p);
}

/* fnn_predict_batched: outputs and (with labels) the loss, against the reference; output NULL
 * gives the loss alone. */
static void TF(test_predict_batched)(const shape *s, int sparse, int weighted, fnn_index batch_size)
{
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index m = s->sizes[0], K = s->sizes[s->n_layers];
    TF(problem) p = TF(make_problem)(s, 6000u + (uint64_t)m, 1.5);
    TF(owned_data) d = TF(make_data)(p.X, 0, N_ROWS, m, p.labels, weighted ? p.sample_weight : NULL, sparse);
    TF(owned_data) unlabelled = TF(make_data)(p.X, 0, N_ROWS, m, NULL, NULL, sparse);
    TEST_T *E = TF(pack)(s, p.W), *work = TF(new_batch_work)(s, batch_size, sparse);
    TEST_T *out = xmalloc((size_t)(N_ROWS * K) * sizeof *out);

    double loss = 0.0; /* the loss is added to: without labels nothing is */
    int status = TF(fnn_predict_batched)(&net, E, &unlabelled.data, 0, N_ROWS, batch_size, TF(strict_gemm), out, work,
                                         &loss);
    CHECK(status == FNN_OK, "%s %s: predict_batched status %d", s->name, TYPE_NAME, status);
    CHECK(loss == 0.0, "%s %s: predict_batched without labels gave loss %g", s->name, TYPE_NAME, loss);
    double expected_loss = 0.0, worst = 0.0;
    for (int r = 0; r < N_ROWS; ++r) {
        double z[MAX_LAYERS + 1][MAX_UNITS], sum = 0.0;
        expected_loss += (weighted ? p.sample_weight[r] : 1.0) * ref_forward(s, p.W, p.X + r * m, p.labels[r], z);
        for (fnn_index j = 0; j < K; ++j) {
            const double got = (double)out[r * K + j], want = z[s->n_layers][j];
            worst = fmax(worst, fabs(got - want) / (TEST_ATOL + TEST_RTOL * want));
            CHECK(got >= 0.0 && got <= 1.0, "%s %s: probability %g outside [0, 1]", s->name, TYPE_NAME, got);
            sum += got;
        }
        if (s->output == FNN_OUTPUT_SOFTMAX)
            CHECK(fabs(sum - 1.0) <= 10 * TEST_RTOL, "%s %s: row %d sums to %.17g", s->name, TYPE_NAME, r, sum);
    }
    CHECK(worst <= 1.0, "%s %s sparse=%d batch=%td: batched probabilities off by %g tolerances", s->name, TYPE_NAME,
          sparse, batch_size, worst);

    loss = 0.0;
    status = TF(fnn_predict_batched)(&net, E, &d.data, 0, N_ROWS, batch_size, TF(strict_gemm), NULL, work, &loss);
    CHECK(status == FNN_OK, "%s %s: predict_batched (loss only) status %d", s->name, TYPE_NAME, status);
    const double err = closeness(&loss, &expected_loss, 1, TEST_RTOL * 10, 0.0);
    CHECK(err <= 1.0, "%s %s sparse=%d weighted=%d batch=%td: batched loss %.17g, expected %.17g", s->name, TYPE_NAME,
          sparse, weighted, batch_size, loss, expected_loss);

    free(out);
    free(work);
    free(E);
    TF(free_data)(&unlabelled);
    TF(free_data)(&d);
    TF(free_problem)(&p);
}

/* Every refused call returns its status code and leaves W, the output and the loss untouched. */
static void TF(test_status_codes)(const shape *s, int sparse)
{
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index m = s->sizes[0], K = s->sizes[s->n_layers], n_weights = fnn_weight_count(&net);
    TF(problem) p = TF(make_problem)(s, 4000u + (uint64_t)m, 0.5);
    TF(owned_data) d = TF(make_data)(p.X, 0, N_ROWS, m, p.labels, NULL, sparse);
    TEST_T *E = TF(pack)(s, p.W), *work = TF(new_work)(s);
    TEST_T *E_before = xmalloc((size_t)n_weights * sizeof *E_before);
    TEST_T *G = xmalloc((size_t)n_weights * sizeof *G);
    TEST_T *out = xmalloc((size_t)(N_ROWS * K) * sizeof *out);
    TEST_T *batch_work = TF(new_batch_work)(s, 2, sparse); /* sgd.batch_size and the predict batch below */
    memcpy(E_before, E, (size_t)n_weights * sizeof *E);
    const fnn_sgd sgd = {0.1, 0.0, 2};
    fnn_index order[N_ROWS];
    for (fnn_index r = 0; r < N_ROWS; ++r) order[r] = r;
    double loss;
    int status;

#define EXPECT_ALL(data_ptr, code, what)                                                                     \
    do {                                                                                                    \
        loss = 42.0;                                                                                        \
        status = TF(fnn_sgd_epoch)(&net, E, (data_ptr), order, N_ROWS, &sgd, work, &loss);                  \
        CHECK(status == (code), "%s %s: sgd_epoch with %s gave %d", s->name, TYPE_NAME, what, status);      \
        CHECK(loss == 42.0, "%s %s: sgd_epoch with %s changed the loss", s->name, TYPE_NAME, what);         \
        status = TF(fnn_loss)(&net, E, (data_ptr), work, &loss);                                            \
        CHECK(status == (code), "%s %s: loss with %s gave %d", s->name, TYPE_NAME, what, status);           \
        status = TF(fnn_gradient)(&net, E, (data_ptr), 0, G, work, &loss);                                  \
        CHECK(status == (code), "%s %s: gradient with %s gave %d", s->name, TYPE_NAME, what, status);       \
        loss = 42.0;                                                                                        \
        status = TF(fnn_minibatch_epoch)(&net, E, (data_ptr), order, N_ROWS, &sgd, TF(strict_gemm),         \
                                         batch_work, &loss);                                                \
        CHECK(status == (code), "%s %s: minibatch with %s gave %d", s->name, TYPE_NAME, what, status);      \
        CHECK(loss == 42.0, "%s %s: minibatch with %s changed the loss", s->name, TYPE_NAME, what);         \
        /* predicting needs no labels */                                                                   \
        status = TF(fnn_predict_batched)(&net, E, (data_ptr), 0, (data_ptr)->n_rows, 2, TF(strict_gemm), out, \
                                         batch_work, &loss);                                               \
        CHECK(status == ((data_ptr)->labels ? (code) : FNN_OK), "%s %s: predict_batched with %s gave %d",    \
              s->name, TYPE_NAME, what, status);                                                             \
        CHECK(memcmp(E, E_before, (size_t)n_weights * sizeof *E) == 0, "%s %s: %s changed W", s->name,      \
              TYPE_NAME, what);                                                                             \
    } while (0)

    /* labels */
    const int32_t good0 = d.labels[0], good_last = d.labels[N_ROWS - 1];
    d.labels[N_ROWS - 1] = n_classes(s);
    EXPECT_ALL(&d.data, FNN_ERROR_LABEL, "label K");
    d.labels[N_ROWS - 1] = good_last;
    d.labels[0] = -1;
    EXPECT_ALL(&d.data, FNN_ERROR_LABEL, "label -1");
    d.labels[0] = INT32_MAX;
    EXPECT_ALL(&d.data, FNN_ERROR_LABEL, "label INT32_MAX");
    d.labels[0] = good0;
    d.data.labels = NULL;
    EXPECT_ALL(&d.data, FNN_ERROR_LABEL, "labels NULL");
    d.data.labels = d.labels;

    /* shapes */
    d.data.n_features = m + 1;
    EXPECT_ALL(&d.data, FNN_ERROR_FEATURES, "one feature too many");
    status = TF(fnn_predict)(&net, E, &d.data, out, work);
    CHECK(status == FNN_ERROR_FEATURES, "%s %s: predict with a feature too many gave %d", s->name, TYPE_NAME, status);
    d.data.n_features = m;
    {
        fnn_net bad = net;
        bad.output = s->output == FNN_OUTPUT_SOFTMAX ? FNN_OUTPUT_SIGMOID : FNN_OUTPUT_SOFTMAX;
        loss = 42.0;
        status = TF(fnn_sgd_epoch)(&bad, E, &d.data, order, N_ROWS, &sgd, work, &loss);
        CHECK(status == FNN_ERROR_OUTPUT, "%s %s: wrong output type gave %d", s->name, TYPE_NAME, status);
        status = TF(fnn_predict)(&bad, E, &d.data, out, work);
        CHECK(status == FNN_ERROR_OUTPUT, "%s %s: predict, wrong output type gave %d", s->name, TYPE_NAME, status);
        bad.n_layers = 0;
        status = TF(fnn_loss)(&bad, E, &d.data, work, &loss);
        CHECK(status == FNN_ERROR_LAYERS, "%s %s: no layers gave %d", s->name, TYPE_NAME, status);
        bad = net;
        bad.pad_units = TEST_PAD / 2; /* rows would not be whole vectors */
        status = TF(fnn_sgd_epoch)(&bad, E, &d.data, order, N_ROWS, &sgd, work, &loss);
        CHECK(status == FNN_ERROR_PADDING, "%s %s: half-vector padding gave %d", s->name, TYPE_NAME, status);
        status = TF(fnn_predict_batched)(&bad, E, &d.data, 0, N_ROWS, 4, TF(strict_gemm), out, work, &loss);
        CHECK(status == FNN_ERROR_PADDING, "%s %s: batched, half-vector padding gave %d", s->name, TYPE_NAME, status);
    }

    /* row indices */
    order[2] = N_ROWS;
    loss = 42.0;
    status = TF(fnn_sgd_epoch)(&net, E, &d.data, order, N_ROWS, &sgd, work, &loss);
    CHECK(status == FNN_ERROR_INDEX, "%s %s: order entry n_rows gave %d", s->name, TYPE_NAME, status);
    order[2] = -1;
    status = TF(fnn_sgd_epoch)(&net, E, &d.data, order, N_ROWS, &sgd, work, &loss);
    CHECK(status == FNN_ERROR_INDEX, "%s %s: order entry -1 gave %d", s->name, TYPE_NAME, status);
    order[2] = 2;
    CHECK(loss == 42.0 && memcmp(E, E_before, (size_t)n_weights * sizeof *E) == 0,
          "%s %s: a refused order changed W or the loss", s->name, TYPE_NAME);
    status = TF(fnn_gradient)(&net, E, &d.data, N_ROWS, G, work, &loss);
    CHECK(status == FNN_ERROR_INDEX, "%s %s: gradient row n_rows gave %d", s->name, TYPE_NAME, status);
    status = TF(fnn_gradient)(&net, E, &d.data, -1, G, work, &loss);
    CHECK(status == FNN_ERROR_INDEX, "%s %s: gradient row -1 gave %d", s->name, TYPE_NAME, status);
    order[4] = N_ROWS;
    status = TF(fnn_minibatch_epoch)(&net, E, &d.data, order, N_ROWS, &sgd, TF(strict_gemm), batch_work, &loss);
    CHECK(status == FNN_ERROR_INDEX, "%s %s: minibatch order entry n_rows gave %d", s->name, TYPE_NAME, status);
    order[4] = 4;
    CHECK(loss == 42.0 && memcmp(E, E_before, (size_t)n_weights * sizeof *E) == 0,
          "%s %s: a refused minibatch order changed W or the loss", s->name, TYPE_NAME);

    /* batch sizes below 1 */
    {
        fnn_sgd no_batch = sgd;
        no_batch.batch_size = 0;
        status = TF(fnn_minibatch_epoch)(&net, E, &d.data, order, N_ROWS, &no_batch, TF(strict_gemm), batch_work, &loss);
        CHECK(status == FNN_ERROR_BATCH, "%s %s: minibatch with batch_size 0 gave %d", s->name, TYPE_NAME, status);
        status = TF(fnn_predict_batched)(&net, E, &d.data, 0, N_ROWS, 0, TF(strict_gemm), out, batch_work, &loss);
        CHECK(status == FNN_ERROR_BATCH, "%s %s: predict_batched with batch 0 gave %d", s->name, TYPE_NAME, status);
        CHECK(loss == 42.0 && memcmp(E, E_before, (size_t)n_weights * sizeof *E) == 0,
              "%s %s: batch size 0 changed W or the loss", s->name, TYPE_NAME);
    }

    /* column indices of sparse rows */
    if (sparse && d.data.indptr[N_ROWS] > 0) {
        const fnn_index last = d.data.indptr[N_ROWS] - 1, kept = d.indices[last];
        d.indices[last] = m;
        EXPECT_ALL(&d.data, FNN_ERROR_INDEX, "column index n_features");
        status = TF(fnn_predict)(&net, E, &d.data, out, work);
        CHECK(status == FNN_ERROR_INDEX, "%s %s: predict, column n_features gave %d", s->name, TYPE_NAME, status);
        d.indices[last] = -1;
        EXPECT_ALL(&d.data, FNN_ERROR_INDEX, "column index -1");
        d.indices[last] = kept;
    }

    /* and the untouched data still works */
    loss = 0.0;
    status = TF(fnn_sgd_epoch)(&net, E, &d.data, order, N_ROWS, &sgd, work, &loss);
    CHECK(status == FNN_OK && loss > 0.0, "%s %s: valid call after refusals gave %d", s->name, TYPE_NAME, status);
#undef EXPECT_ALL

    free(batch_work);
    free(out);
    free(G);
    free(E_before);
    free(work);
    free(E);
    TF(free_data)(&d);
    TF(free_problem)(&p);
}

/* Output and loss for logits set through the bias column (x = 1, all other weights 0): the
 * probabilities stay in [0, 1] and sum to 1, the losses are finite and equal the reference, and
 * one SGD step keeps the weights finite. */
static void TF(check_logits)(const shape *s, const double *logits, const char *what)
{
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index K = s->sizes[s->n_layers], n_weights = fnn_weight_count(&net);
    const int L = s->n_layers;
    double *W = xcalloc(ref_count(s), sizeof *W);
    /* biases: logits[0] for every hidden unit (saturating them), logits[j] for output unit j;
     * input weights 0 in the first layer, 0.5 above it (so the saturated units feed forward
     * and backward) */
    for (int l = 0; l < L; ++l) {
        const fnn_index n_in = s->sizes[l];
        for (fnn_index j = 0; j < s->sizes[l + 1]; ++j) {
            double *row = W + ref_offset(s, l) + (size_t)j * (size_t)(n_in + 1);
            row[0] = TF(rounded)(logits[l + 1 < L ? 0 : j]);
            for (fnn_index i = 0; i < n_in; ++i) row[i + 1] = l > 0 ? 0.5 : 0.0;
        }
    }
    TEST_T *E = TF(pack)(s, W), *work = TF(new_work)(s), *out = xmalloc((size_t)K * sizeof *out);
    TEST_T *G = xmalloc((size_t)n_weights * sizeof *G);
    const double x = 1.0;
    for (int32_t y = 0; y < n_classes(s); ++y) {
        TF(owned_data) d = TF(make_data)(&x, 0, 1, 1, &y, NULL, 0);
        int status = TF(fnn_predict)(&net, E, &d.data, out, work);
        CHECK(status == FNN_OK, "%s %s: predict status %d", what, TYPE_NAME, status);
        double z[MAX_LAYERS + 1][MAX_UNITS], sum = 0.0;
        const double J = ref_forward(s, W, &x, y, z);
        for (fnn_index j = 0; j < K; ++j) {
            const double got = (double)out[j];
            CHECK(got >= 0.0 && got <= 1.0, "%s %s: probability %g", what, TYPE_NAME, got);
            CHECK(fabs(got - z[L][j]) <= 10 * TEST_RTOL, "%s %s: probability %.17g, expected %.17g", what,
                  TYPE_NAME, got, z[L][j]);
            sum += got;
        }
        if (s->output == FNN_OUTPUT_SOFTMAX)
            CHECK(fabs(sum - 1.0) <= (sizeof(TEST_T) == 8 ? 1e-12 : 1e-6), "%s %s: sum %.17g", what, TYPE_NAME, sum);
        double loss = NAN;
        status = TF(fnn_loss)(&net, E, &d.data, work, &loss);
        CHECK(status == FNN_OK && isfinite(loss) && loss >= 0.0, "%s %s y=%d: loss %g", what, TYPE_NAME, y, loss);
        CHECK(fabs(loss - J) <= 10 * TEST_RTOL * fmax(1.0, fabs(J)), "%s %s y=%d: loss %.17g, expected %.17g",
              what, TYPE_NAME, y, loss, J);
        double g_loss = NAN;
        status = TF(fnn_gradient)(&net, E, &d.data, 0, G, work, &g_loss);
        int finite = status == FNN_OK && isfinite(g_loss);
        for (fnn_index k = 0; k < n_weights; ++k) finite &= isfinite((double)G[k]);
        CHECK(finite, "%s %s y=%d: gradient not finite", what, TYPE_NAME, y);

        TEST_T *batch_work = TF(new_batch_work)(s, 1, 0);
        double batched_loss = 0.0;
        status = TF(fnn_predict_batched)(&net, E, &d.data, 0, d.data.n_rows, 1, TF(strict_gemm), out, batch_work,
                                         &batched_loss);
        CHECK(status == FNN_OK && fabs(batched_loss - J) <= 10 * TEST_RTOL * fmax(1.0, fabs(J)),
              "%s %s y=%d: batched loss %.17g, expected %.17g", what, TYPE_NAME, y, batched_loss, J);
        for (fnn_index j = 0; j < K; ++j)
            CHECK(out[j] >= 0 && out[j] <= 1 && fabs((double)out[j] - z[L][j]) <= 10 * TEST_RTOL,
                  "%s %s: batched probability %.17g, expected %.17g", what, TYPE_NAME, (double)out[j], z[L][j]);
        {
            TEST_T *E_batch = TF(pack)(s, W);
            const fnn_sgd batch_sgd = {0.5, 0.01, 1};
            const fnn_index row = 0;
            double batch_loss = 0.0;
            status = TF(fnn_minibatch_epoch)(&net, E_batch, &d.data, &row, 1, &batch_sgd, TF(strict_gemm), batch_work,
                                             &batch_loss);
            finite = status == FNN_OK && isfinite(batch_loss);
            for (fnn_index k = 0; k < n_weights; ++k) finite &= isfinite((double)E_batch[k]);
            CHECK(finite, "%s %s y=%d: mini-batch step not finite", what, TYPE_NAME, y);
            free(E_batch);
        }
        free(batch_work);

        TEST_T *E_step = TF(pack)(s, W);
        const fnn_sgd sgd = {0.5, 0.01, 1};
        const fnn_index order = 0;
        double step_loss = 0.0;
        status = TF(fnn_sgd_epoch)(&net, E_step, &d.data, &order, 1, &sgd, work, &step_loss);
        finite = status == FNN_OK && isfinite(step_loss);
        for (fnn_index k = 0; k < n_weights; ++k) finite &= isfinite((double)E_step[k]);
        CHECK(finite, "%s %s y=%d: SGD step not finite", what, TYPE_NAME, y);
        free(E_step);
        TF(free_data)(&d);
    }
    free(G);
    free(out);
    free(work);
    free(E);
    free(W);
}

/* fnn_sigmoid against a long double reference, over a sweep of [-800, 800] (both tails, where
 * e^-|a| runs down through the subnormals to 0) and the special values: within 3 ulp of
 * TEST_T (absolute below the smallest normal number), limits exact, NaN kept. Odd counts
 * exercise the scalar tail after the vectors. */
static void TF(test_sigmoid_accuracy)(void)
{
    const double eps = sizeof(TEST_T) == 8 ? 0x1p-52 : 0x1p-23, tiny = sizeof(TEST_T) == 8 ? 0x1p-1022 : 0x1p-126;
    enum { N = 200003 };
    TEST_T *z = xmalloc(N * sizeof *z);
    for (int i = 0; i < N; ++i) z[i] = (TEST_T)(-800.0 + 1600.0 * i / (N - 1));
    double worst = 0.0, worst_at = 0.0;
    TEST_T *in = xmalloc(N * sizeof *in);
    memcpy(in, z, N * sizeof *z);
    CAT(fnn_sigmoid, TS)(z, N);
    for (int i = 0; i < N; ++i) {
        const long double a = in[i];
        const double ref = (double)(a >= 0 ? 1.0L / (1.0L + expl(-a)) : expl(a) / (1.0L + expl(a)));
        const double err = fabs((double)z[i] - ref) / (ref > tiny ? ref : tiny);
        if (err > worst) worst = err, worst_at = (double)in[i];
    }
    CHECK(worst <= 3 * eps, "%s sigmoid: %.3g ulp at %.17g", TYPE_NAME, worst / eps, worst_at);
    TEST_T special[] = {(TEST_T)-INFINITY, (TEST_T)INFINITY, (TEST_T)NAN, (TEST_T)0.0, (TEST_T)-0.0, (TEST_T)1e-30,
                        (TEST_T)-1e-30};
    CAT(fnn_sigmoid, TS)(special, 7);
    CHECK(special[0] == 0 && special[1] == 1 && isnan(special[2]) && special[3] == (TEST_T)0.5 &&
              special[4] == (TEST_T)0.5 && special[5] == (TEST_T)0.5 && special[6] == (TEST_T)0.5,
          "%s sigmoid of -inf, inf, nan, 0, -0, +-1e-30: %g %g %g %g %g %g %g", TYPE_NAME, (double)special[0],
          (double)special[1], (double)special[2], (double)special[3], (double)special[4], (double)special[5],
          (double)special[6]);
    free(in);
    free(z);
}

/* tanh within 3 ulp of a long double reference, on a grid over [-40, 40] and on magnitudes from
 * the smallest normal up (relative accuracy near 0); relu, leaky relu and the identity exact;
 * the limits, signed zeros and NaN; an unknown activation refused. */
static void TF(test_activations)(void)
{
    const double eps = sizeof(TEST_T) == 8 ? 0x1p-52 : 0x1p-23;
    const double smallest = sizeof(TEST_T) == 8 ? 0x1p-1022 : 0x1p-126;
    enum { N_GRID = 200003, N_LOG = 4000, N = N_GRID + 2 * N_LOG };
    TEST_T *in = xmalloc(N * sizeof *in), *z = xmalloc(N * sizeof *z);
    for (int i = 0; i < N_GRID; ++i) in[i] = (TEST_T)(-40.0 + 80.0 * i / (N_GRID - 1));
    for (int i = 0; i < N_LOG; ++i) { /* |a| from the smallest normal to 2, both signs */
        const double a = smallest * pow(2.0 / smallest, (double)i / (N_LOG - 1));
        in[N_GRID + 2 * i] = (TEST_T)a;
        in[N_GRID + 2 * i + 1] = (TEST_T)-a;
    }
    memcpy(z, in, N * sizeof *z);
    CHECK(CAT(fnn_activate, TS)(FNN_ACTIVATION_TANH, z, N) == FNN_OK, "%s tanh status", TYPE_NAME);
    double worst = 0.0, worst_at = 0.0;
    for (int i = 0; i < N; ++i) {
        const double ref = (double)tanhl((long double)in[i]);
        const double err = fabs((double)z[i] - ref) / fmax(fabs(ref), smallest);
        if (err > worst) worst = err, worst_at = (double)in[i];
    }
    CHECK(worst <= 3 * eps, "%s tanh: %.3g ulp at %.17g", TYPE_NAME, worst / eps, worst_at);

    const int exact[] = {FNN_ACTIVATION_RELU, FNN_ACTIVATION_LEAKY_RELU, FNN_ACTIVATION_IDENTITY};
    for (int k = 0; k < 3; ++k) {
        memcpy(z, in, N * sizeof *z);
        CAT(fnn_activate, TS)(exact[k], z, N);
        int wrong = 0;
        for (int i = 0; i < N; ++i) {
            const TEST_T a = in[i];
            const TEST_T want = exact[k] == FNN_ACTIVATION_IDENTITY ? a
                              : a > 0                               ? a
                              : exact[k] == FNN_ACTIVATION_RELU     ? (TEST_T)0
                                                                    : (TEST_T)FNN_LEAKY_SLOPE * a;
            wrong += z[i] != want;
        }
        CHECK(wrong == 0, "%s activation %d: %d values differ", TYPE_NAME, exact[k], wrong);
    }

    const TEST_T special[] = {(TEST_T)-INFINITY, (TEST_T)INFINITY, (TEST_T)NAN, (TEST_T)0.0, (TEST_T)-0.0};
    TEST_T t[5];
    memcpy(t, special, sizeof t);
    CAT(fnn_activate, TS)(FNN_ACTIVATION_TANH, t, 5);
    CHECK(t[0] == -1 && t[1] == 1 && isnan(t[2]) && t[3] == 0 && !signbit(t[3]) && t[4] == 0 && signbit(t[4]),
          "%s tanh of -inf, inf, nan, 0, -0: %g %g %g %g %g", TYPE_NAME, (double)t[0], (double)t[1], (double)t[2],
          (double)t[3], (double)t[4]);
    memcpy(t, special, sizeof t);
    CAT(fnn_activate, TS)(FNN_ACTIVATION_RELU, t, 5);
    CHECK(t[0] == 0 && t[1] == INFINITY && isnan(t[2]) && t[3] == 0 && t[4] == 0,
          "%s relu of -inf, inf, nan, 0, -0: %g %g %g %g %g", TYPE_NAME, (double)t[0], (double)t[1], (double)t[2],
          (double)t[3], (double)t[4]);
    CHECK(CAT(fnn_activate, TS)(5, t, 5) == FNN_ERROR_ACTIVATION && CAT(fnn_activate, TS)(-1, t, 5) == FNN_ERROR_ACTIVATION,
          "%s unknown activations refused", TYPE_NAME);
    free(in);
    free(z);
}

/* fnn_publish adds local - snapshot to shared (including what another thread added to shared
 * meanwhile) and leaves all three equal. */
static void TF(test_publish)(void)
{
    TEST_T shared[5] = {1, 2, 3, 4, 5}, local[5] = {1.5, 2, 2, 4, -5}, snapshot[5] = {1, 2, 3, 4, 5};
    shared[3] = 10; /* another thread's update since the snapshot */
    const TEST_T expected[5] = {1.5, 2, 2, 10, -5};
    CAT(fnn_publish, TS)(shared, local, snapshot, 5);
    for (int i = 0; i < 5; ++i)
        CHECK(shared[i] == expected[i] && local[i] == expected[i] && snapshot[i] == expected[i],
              "%s publish [%d]: shared %g local %g snapshot %g, expected %g", TYPE_NAME, i, (double)shared[i],
              (double)local[i], (double)snapshot[i], (double)expected[i]);
}

/* fnn_optim_epoch (batch_size 1) or fnn_optim_minibatch_epoch over a fixed order, called twice
 * (the state and Adam's step count carry over), against ref_optimizer_step; weights and state. */
static void TF(test_optimizer)(const shape *s, int sparse, int weighted, double l2, fnn_index batch_size, int method)
{
    static const fnn_index order[] = {2, 0, ZERO_ROW, 4, 1, 2, 4};
    const fnn_index n_order = (fnn_index)(sizeof order / sizeof order[0]);
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index m = s->sizes[0], n_weights = fnn_weight_count(&net);
    const double lr = method == FNN_OPTIMIZER_ADAM ? 0.01 : 0.1;
    TF(problem) p = TF(make_problem)(s, 7000u + (uint64_t)m + 7u * (uint64_t)sparse + 13u * (uint64_t)method, 0.5);
    TF(owned_data) d = TF(make_data)(p.X, 0, N_ROWS, m, p.labels, weighted ? p.sample_weight : NULL, sparse);
    TEST_T *E = TF(pack)(s, p.W);
    const fnn_index n_state = fnn_state_size(&net, method);
    CHECK(n_state == (method == FNN_OPTIMIZER_ADAM ? 2 : 1) * n_weights, "%s: state size %td", s->name, n_state);
    TEST_T *state = xcalloc((size_t)n_state, sizeof(TEST_T));
    const fnn_index work_size = batch_size == 1 ? fnn_work_size(&net) : fnn_optim_batch_work_size(&net, batch_size < n_order ? batch_size : n_order, sparse);
    TEST_T *work = xcalloc((size_t)work_size, sizeof(TEST_T));
    const size_t n = ref_count(s);
    double *got = xmalloc(n * sizeof *got);
    ref_optimizer ref = {method, 0.9, 0.9, 0.999, 1e-8, 0, xcalloc(n, sizeof(double)), xcalloc(n, sizeof(double)),
                         xcalloc(n, sizeof(double))};
    fnn_optimizer opt = {method, 0.9, 0.9, 0.999, 1e-8, 0};
    const fnn_sgd sgd = {lr, l2, batch_size};
    double loss = 0.0, expected_loss = 0.0;
    fnn_index updates = 0;
    for (int call = 0; call < 2; ++call) {
        const int status = batch_size == 1
            ? TF(fnn_optim_epoch)(&net, E, state, &d.data, order, n_order, &sgd, &opt, work, &loss)
            : TF(fnn_optim_minibatch_epoch)(&net, E, state, &d.data, order, n_order, &sgd, &opt, TF(strict_gemm), work,
                                            &loss);
        CHECK(status == FNN_OK, "%s %s method %d: status %d", s->name, TYPE_NAME, method, status);
        for (fnn_index t0 = 0; t0 < n_order; t0 += batch_size, ++updates) {
            const fnn_index nb = n_order - t0 < batch_size ? n_order - t0 : batch_size;
            expected_loss += ref_optimizer_step(s, p.W, &ref, p.X, m, order + t0, nb, p.labels,
                                                weighted ? p.sample_weight : NULL, lr, l2);
        }
    }
    CHECK(method != FNN_OPTIMIZER_ADAM || opt.t == updates, "%s: Adam's t %ld after %td updates", s->name,
          (long)opt.t, updates);
    const double tolerance = method == FNN_OPTIMIZER_ADAM ? 30.0 * (double)updates : 3.0 * (double)updates;
    const double padding = TF(unpack)(s, E, got);
    CHECK(padding == 0.0, "%s %s: optimizer padding became %g", s->name, TYPE_NAME, padding);
    double err = closeness(got, p.W, n, TEST_RTOL * tolerance, TEST_ATOL * tolerance * max_abs(p.W, n));
    CHECK(err <= 1.0, "%s %s sparse=%d weighted=%d l2=%g batch=%td method=%d: weights off by %g tolerances", s->name,
          TYPE_NAME, sparse, weighted, l2, batch_size, method, err);
    const double *first = method == FNN_OPTIMIZER_ADAM ? ref.m : ref.v;
    TF(unpack)(s, state, got);
    err = closeness(got, first, n, TEST_RTOL * tolerance, TEST_ATOL * tolerance * max_abs(first, n));
    CHECK(err <= 1.0, "%s %s method=%d batch=%td: state off by %g tolerances", s->name, TYPE_NAME, method, batch_size,
          err);
    if (method == FNN_OPTIMIZER_ADAM) {
        TF(unpack)(s, state + n_weights, got);
        err = closeness(got, ref.s, n, TEST_RTOL * tolerance, TEST_ATOL * tolerance * max_abs(ref.s, n));
        CHECK(err <= 1.0, "%s %s batch=%td: Adam's s off by %g tolerances", s->name, TYPE_NAME, batch_size, err);
    }
    err = closeness(&loss, &expected_loss, 1, TEST_RTOL * 10 * tolerance, 0.0);
    CHECK(err <= 1.0, "%s %s method=%d: loss sum %.17g, expected %.17g", s->name, TYPE_NAME, method, loss,
          expected_loss);
    /* settings out of range are refused before anything changes */
    const double w0 = (double)E[0];
    fnn_optimizer bad = opt;
    if (method == FNN_OPTIMIZER_ADAM) bad.beta_2 = 1.0;
    else bad.momentum = -0.1;
    const int status = batch_size == 1
        ? TF(fnn_optim_epoch)(&net, E, state, &d.data, order, n_order, &sgd, &bad, work, &loss)
        : TF(fnn_optim_minibatch_epoch)(&net, E, state, &d.data, order, n_order, &sgd, &bad, TF(strict_gemm), work, &loss);
    CHECK(status == FNN_ERROR_OPTIMIZER && (double)E[0] == w0, "%s: bad settings gave status %d", s->name, status);
    free(ref.v);
    free(ref.m);
    free(ref.s);
    free(got);
    free(work);
    free(state);
    free(E);
    TF(free_data)(&d);
    TF(free_problem)(&p);
}

/* fnn_gradient_batched over all rows in chunks: the sum of the reference's weighted gradients. */
static void TF(test_gradient_batched)(const shape *s, int sparse, int weighted, fnn_index batch_size)
{
    const fnn_net net = as_net(s, TEST_PAD);
    const fnn_index m = s->sizes[0];
    const size_t n = ref_count(s);
    TF(problem) p = TF(make_problem)(s, 8000u + (uint64_t)m + 7u * (uint64_t)sparse, 0.7);
    TF(owned_data) d = TF(make_data)(p.X, 0, N_ROWS, m, p.labels, weighted ? p.sample_weight : NULL, sparse);
    TEST_T *E = TF(pack)(s, p.W), *G = xcalloc((size_t)fnn_weight_count(&net), sizeof(TEST_T));
    TEST_T *work = xcalloc((size_t)fnn_batch_work_size(&net, batch_size < N_ROWS ? batch_size : N_ROWS, sparse),
                           sizeof(TEST_T));
    double *expected = xcalloc(n, sizeof *expected), *one = xmalloc(n * sizeof *one), *got = xmalloc(n * sizeof *got);
    double loss = 0.0, expected_loss = 0.0;
    for (fnn_index r = 0; r < N_ROWS; ++r) {
        const double weight = weighted ? p.sample_weight[r] : 1.0;
        expected_loss += weight * ref_gradient(s, p.W, p.X + r * m, p.labels[r], one);
        for (size_t k = 0; k < n; ++k) expected[k] += weight * one[k];
    }
    /* two calls: rows [0, 2) and [2, N_ROWS), accumulating */
    int status = TF(fnn_gradient_batched)(&net, E, &d.data, 0, 2, batch_size, TF(strict_gemm), G, work, &loss);
    if (status == FNN_OK)
        status = TF(fnn_gradient_batched)(&net, E, &d.data, 2, N_ROWS - 2, batch_size, TF(strict_gemm), G, work, &loss);
    CHECK(status == FNN_OK, "%s %s: gradient_batched status %d", s->name, TYPE_NAME, status);
    const double padding = TF(unpack)(s, G, got);
    CHECK(padding == 0.0, "%s %s: gradient padding %g", s->name, TYPE_NAME, padding);
    double err = closeness(got, expected, n, TEST_RTOL * 10, TEST_ATOL * 10 * max_abs(expected, n));
    CHECK(err <= 1.0, "%s %s sparse=%d weighted=%d batch=%td: full gradient off by %g tolerances", s->name, TYPE_NAME,
          sparse, weighted, batch_size, err);
    err = closeness(&loss, &expected_loss, 1, TEST_RTOL * 10, 0.0);
    CHECK(err <= 1.0, "%s %s: gradient_batched loss %.17g, expected %.17g", s->name, TYPE_NAME, loss, expected_loss);
    CHECK(TF(fnn_gradient_batched)(&net, E, &d.data, 3, N_ROWS, batch_size, TF(strict_gemm), G, work, &loss) ==
              FNN_ERROR_INDEX, "%s: rows past the data accepted", s->name);
    free(expected);
    free(one);
    free(got);
    free(work);
    free(G);
    free(E);
    TF(free_data)(&d);
    TF(free_problem)(&p);
}

static void TF(test_extreme_logits)(void)
{
    static const double magnitudes[] = {0.0, 36.0, 88.8, 709.8, 1e4};
    const shape sig = {1, {1, 1}, FNN_OUTPUT_SIGMOID, "sigmoid output"};
    const shape soft = {1, {1, 2}, FNN_OUTPUT_SOFTMAX, "softmax [a, 0]"};
    const shape soft3 = {1, {1, 3}, FNN_OUTPUT_SOFTMAX, "softmax [a, a, a]"};
    const shape hidden = {2, {1, 2, 2}, FNN_OUTPUT_SOFTMAX, "saturated hidden layer"};
    const shape hidden_sig = {3, {1, 3, 2, 1}, FNN_OUTPUT_SIGMOID, "saturated hidden layers, sigmoid"};
    for (int k = 0; k < (int)(sizeof magnitudes / sizeof magnitudes[0]); ++k)
        for (int sign = -1; sign <= 1; sign += 2) {
            const double a = sign * magnitudes[k];
            const double one[] = {a}, pair[] = {a, 0.0}, same[] = {a, a, a};
            TF(check_logits)(&sig, one, sig.name);
            TF(check_logits)(&soft, pair, soft.name);
            TF(check_logits)(&soft3, same, soft3.name);
            TF(check_logits)(&hidden, pair, hidden.name);
            TF(check_logits)(&hidden_sig, one, hidden_sig.name);
        }
    /* softmax of [1000, 1]: the true class's probability underflows for y = 1, J = 999 */
    const double wide[] = {1000.0, 1.0};
    TF(check_logits)(&soft, wide, "softmax [1000, 1]");
    const double huge_equal[] = {1e4, 1e4, 1e4};
    TF(check_logits)(&soft3, huge_equal, "softmax [1e4, 1e4, 1e4]");
}

#undef TYPE_NAME
#undef DATA_T
#undef TF
#undef CAT
#undef CAT_

#endif /* TEST_T */
