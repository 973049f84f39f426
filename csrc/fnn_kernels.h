/*
 * fnn_kernels.h -- the engine's kernels, written once for one floating type.
 *
 * Included by fnn_f64.c and fnn_f32.c with T (the type) and SUFFIX (f64 / f32) defined. Everything
 * here is static except the entry points of fnn.h. Per-row arithmetic is in T;
 * reductions over a row (dot products, softmax sums, losses) accumulate in double, except the
 * input products of deferred updates (gram_rows), which only enter a correction term.
 * Every helper that does arithmetic is FNN_INLINE: one left out of line is compiled once, for
 * baseline x86-64, and its vector code then runs at half width even in the AVX2 entry points.
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

/*
 * Dense kernels on register blocks. A weight block is (n_in + 1, n_out) row-major; the forward
 * pass and the rank-1 update both walk it one column block at a time, keeping that block's
 * accumulators (or that slice of delta) in vector registers while the rows stream past.
 * `rows` lists the inputs that take part (the non-zeros of a sparse row) or is NULL for all of
 * them; `x` holds their values in the same order.
 */
#define VLEN ((int)(FNN_VECTOR_BYTES / sizeof(T)))
#define NVEC 8 /* at most this many vectors per column block (16 AVX registers hold 2 blocks) */
typedef T FN(vec) __attribute__((vector_size(FNN_VECTOR_BYTES)));
#define VEC FN(vec)

static FNN_INLINE VEC FN(load)(const T *p)
{
    VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

static FNN_INLINE void FN(store)(T *p, VEC v) { memcpy(p, &v, sizeof v); }

/*
 * Vector exp and sigmoid, written in vector extensions so that both instruction sets of the
 * dispatch get them inlined (measured: S1 float64 epochs ~5% faster than with a call per vector
 * into glibc's libmvec). e^x = 2^k e^r with k = round(x / ln2) and r = x - k ln2 (ln2 in two parts,
 * so r is exact to a few ulp of r), |r| <= ln2 / 2; e^r is a polynomial of degree 11 in double and
 * 6 in float, whose error there is below 0.03 ulp (double) and 0.02 ulp (float);
 * 2^k is put together in the exponent bits, lifted into the normal range and scaled back by one
 * multiplication, so that results down to the smallest subnormal round as they should. e^x is
 * within 2 ulp of libm's exp, the sigmoid built on it within 3 ulp of a long double reference
 * over [-800, 800] (tests/c/test_fnn.c).
 */
#define EXP_DEGREE (sizeof(T) == 8 ? 11 : 6)
typedef LANE_INDEX FN(ivec) __attribute__((vector_size(FNN_VECTOR_BYTES)));
#define IVEC FN(ivec)
typedef double FN(dvec) __attribute__((vector_size(FNN_VECTOR_BYTES / sizeof(T) * sizeof(double)))); /* VLEN doubles */

static FNN_INLINE VEC FN(splat)(T a) /* every lane a (also for a = -0.0, which 0 + a is not) */
{
    VEC v;
    for (int i = 0; i < VLEN; ++i) v[i] = a;
    return v;
}

/* lanes of a where mask is set (all bits), else of b */
static FNN_INLINE VEC FN(select)(IVEC mask, VEC a, VEC b) { return (VEC)((mask & (IVEC)a) | (~mask & (IVEC)b)); }

/* e^x for x <= 0, lane by lane (NaN stays NaN, -inf gives 0). */
static FNN_INLINE VEC FN(exp_nonpositive)(VEC x)
{
    const int double_type = sizeof(T) == 8;
    const T log2e = (T)1.4426950408889634, ln2_hi = double_type ? (T)6.93147180369123816490e-01 : (T)0.693359375,
            ln2_lo = double_type ? (T)1.90821492927058770002e-10 : (T)-2.12194440e-4,
            round_magic = double_type ? (T)0x1.8p52 : (T)0x1.8p23, /* adding it rounds to an integer */
            lowest = double_type ? (T)-745.2 : (T)-104.0; /* e^lowest underflows to 0 */
    /* 2^k = 2^(k + lift) 2^-lift with 2^(k + lift) a normal number for every k >= lowest / ln2 */
    const int mantissa_bits = double_type ? 52 : 23, bias = double_type ? 1023 : 127, lift = double_type ? 54 : 24;
    const T unlift = double_type ? (T)0x1p-54 : (T)0x1p-24;
    x = FN(select)(x < FN(splat)(lowest), FN(splat)(lowest), x);
    const VEC k = (x * log2e + round_magic) - round_magic;
    const VEC r = (x - k * ln2_hi) - k * ln2_lo;
    /* near-minimax polynomials of e^r on |r| <= ln2 / 2 (Chebyshev fits: maximum error 3e-18 for
     * degree 11, 2e-9 for degree 6), constant term first */
    static const double coefficients[2][12] = {
        {1.0, 1.0, 0.5000000000000019, 0.1666666666666668, 0.0416666666664881, 0.008333333333319601,
         0.0013888888952314775, 0.00019841269890047113, 2.4801485482328494e-05, 2.755724091857897e-06,
         2.763263963904103e-07, 2.5110037605963777e-08},
        {1.0, 1.000000037716214, 0.5000000047117757, 0.16666415514653277, 0.04166635289677516,
         0.008375126398153335, 0.0013941108433972674}};
    const double *c_n = coefficients[double_type ? 0 : 1];
    /* Estrin's scheme (pairs, then pairs of pairs, ...): a short dependency chain */
    VEC c[EXP_DEGREE + 1];
    for (int n = 0; n <= EXP_DEGREE; n += 2)
        c[n / 2] = n + 1 <= EXP_DEGREE ? (T)c_n[n] + r * (T)c_n[n + 1] : FN(splat)((T)c_n[n]);
    int count = EXP_DEGREE / 2 + 1;
    for (VEC power = r * r; count > 1; power *= power) {
        for (int n = 0; 2 * n < count; ++n) c[n] = 2 * n + 1 < count ? c[2 * n] + power * c[2 * n + 1] : c[2 * n];
        count = (count + 1) / 2;
    }
    const VEC p = c[0];
    /* the exponent field of 2^(k + lift) is the low bits of k + lift + bias + round_magic */
    const VEC lifted = (VEC)((IVEC)(k + (round_magic + (T)(bias + lift))) << mantissa_bits);
    return p * lifted * unlift; /* exact, then one rounding (into the subnormals if need be) */
}

/* sigmoid(a) = 1 / (1 + e^-|a|) for a >= 0, else e^-|a| / (1 + e^-|a|): never overflows. */
static FNN_INLINE VEC FN(sigmoid_vector)(VEC a)
{
    const VEC minus_zero = FN(splat)((T)-0.0);
    const VEC e = FN(exp_nonpositive)((VEC)((IVEC)a | (IVEC)minus_zero)); /* e^-|a| */
    const VEC s = (T)1 / ((T)1 + e);
    return FN(select)(a >= (T)0, s, e * s);
}

/* z <- sigmoid(z) over n entries. */
static FNN_INLINE void FN(sigmoid_array)(T *z, fnn_index n)
{
    fnn_index j = 0;
    for (; j + VLEN <= n; j += VLEN) FN(store)(z + j, FN(sigmoid_vector)(FN(load)(z + j)));
    for (; j < n; ++j) z[j] = FN(sigmoid)(z[j]);
}

/* out[j0 : j0 + nvec VLEN] = block[0, j] + sum_k x[k] block[rows[k] + 1, j]. */
static FNN_INLINE void FN(affine_block)(T *restrict out, const T *restrict block, const T *restrict x,
                                        const fnn_index *restrict rows, fnn_index count, fnn_index n_out,
                                        fnn_index j0, const int nvec)
{
    VEC acc[NVEC], odd[NVEC];
    for (int v = 0; v < nvec; ++v) acc[v] = FN(load)(block + j0 + v * VLEN);
    fnn_index k = 0;
    if (nvec <= NVEC / 2) {
        /* a narrow block: its few sums would each be one long FMA chain, so the odd inputs go
         * to a second set of sums */
        for (int v = 0; v < nvec; ++v) odd[v] = (VEC){0};
        for (; k + 1 < count; k += 2) {
            const T x0 = x[k], x1 = x[k + 1];
            const T *row0 = block + ((rows ? rows[k] : k) + 1) * n_out + j0;
            const T *row1 = block + ((rows ? rows[k + 1] : k + 1) + 1) * n_out + j0;
            for (int v = 0; v < nvec; ++v) {
                acc[v] += x0 * FN(load)(row0 + v * VLEN);
                odd[v] += x1 * FN(load)(row1 + v * VLEN);
            }
        }
        for (int v = 0; v < nvec; ++v) acc[v] += odd[v];
    }
    for (; k < count; ++k) {
        const T xk = x[k];
        const T *row = block + ((rows ? rows[k] : k) + 1) * n_out + j0;
        for (int v = 0; v < nvec; ++v) acc[v] += xk * FN(load)(row + v * VLEN);
    }
    for (int v = 0; v < nvec; ++v) FN(store)(out + j0 + v * VLEN, acc[v]);
}

/* out = block^T [1; x] over the listed inputs; width (the stored columns) is a multiple of VLEN. */
static FNN_INLINE void FN(affine)(T *restrict out, const T *restrict block, const T *restrict x,
                                  const fnn_index *restrict rows, fnn_index count, fnn_index width)
{
    for (fnn_index j0 = 0; j0 < width; j0 += NVEC * VLEN) {
        const fnn_index left = (width - j0) / VLEN;
        /* a constant vector count per case, so that each block's accumulators live in registers */
        switch (left >= NVEC ? NVEC : (int)left) {
        case 8: FN(affine_block)(out, block, x, rows, count, width, j0, 8); break;
        case 7: FN(affine_block)(out, block, x, rows, count, width, j0, 7); break;
        case 6: FN(affine_block)(out, block, x, rows, count, width, j0, 6); break;
        case 5: FN(affine_block)(out, block, x, rows, count, width, j0, 5); break;
        case 4: FN(affine_block)(out, block, x, rows, count, width, j0, 4); break;
        case 3: FN(affine_block)(out, block, x, rows, count, width, j0, 3); break;
        case 2: FN(affine_block)(out, block, x, rows, count, width, j0, 2); break;
        default: FN(affine_block)(out, block, x, rows, count, width, j0, 1); break;
        }
    }
}

/* block[rows[k] + 1, j] <- decay block[rows[k] + 1, j] - lr x[k] delta[j] over one column block. */
static FNN_INLINE void FN(update_block)(T *restrict block, const T *restrict x, const fnn_index *restrict rows,
                                        fnn_index count, const T *restrict delta, fnn_index n_out, T lr,
                                        T decay, fnn_index j0, const int nvec)
{
    VEC d[NVEC];
    for (int v = 0; v < nvec; ++v) d[v] = FN(load)(delta + j0 + v * VLEN);
    if (decay != (T)1) {
        for (fnn_index k = 0; k < count; ++k) {
            const T step = lr * x[k];
            T *row = block + ((rows ? rows[k] : k) + 1) * n_out + j0;
            for (int v = 0; v < nvec; ++v)
                FN(store)(row + v * VLEN, decay * FN(load)(row + v * VLEN) - step * d[v]);
        }
        return;
    }
    for (fnn_index k = 0; k < count; ++k) {
        const T step = lr * x[k];
        T *row = block + ((rows ? rows[k] : k) + 1) * n_out + j0;
        for (int v = 0; v < nvec; ++v) FN(store)(row + v * VLEN, FN(load)(row + v * VLEN) - step * d[v]);
    }
}

/* Rank-1 SGD update of the listed input rows: W_row <- decay W_row - lr x delta^T; width (the
 * stored columns) is a multiple of VLEN. */
static FNN_INLINE void FN(update)(T *restrict block, const T *restrict x, const fnn_index *restrict rows,
                                  fnn_index count, const T *restrict delta, fnn_index width, T lr, T decay)
{
    for (fnn_index j0 = 0; j0 < width; j0 += NVEC * VLEN) {
        const fnn_index left = (width - j0) / VLEN;
        switch (left >= NVEC ? NVEC : (int)left) {
        case 8: FN(update_block)(block, x, rows, count, delta, width, lr, decay, j0, 8); break;
        case 7: FN(update_block)(block, x, rows, count, delta, width, lr, decay, j0, 7); break;
        case 6: FN(update_block)(block, x, rows, count, delta, width, lr, decay, j0, 6); break;
        case 5: FN(update_block)(block, x, rows, count, delta, width, lr, decay, j0, 5); break;
        case 4: FN(update_block)(block, x, rows, count, delta, width, lr, decay, j0, 4); break;
        case 3: FN(update_block)(block, x, rows, count, delta, width, lr, decay, j0, 3); break;
        case 2: FN(update_block)(block, x, rows, count, delta, width, lr, decay, j0, 2); break;
        default: FN(update_block)(block, x, rows, count, delta, width, lr, decay, j0, 1); break;
        }
    }
}

/* The sum of a vector's lanes, pairwise in registers: log2(lanes) shuffles and adds. */
static FNN_INLINE T FN(sum_lanes)(VEC v)
{
#if defined(__clang__)
#if LANES == 8
    v += __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
    v += __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
    v += __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
#else
    v += __builtin_shufflevector(v, v, 2, 3, 0, 1);
    v += __builtin_shufflevector(v, v, 1, 0, 3, 2);
#endif
#else
    typedef LANE_INDEX FN(lane_mask) __attribute__((vector_size(FNN_VECTOR_BYTES)));
#if LANES == 8
    v += __builtin_shuffle(v, (FN(lane_mask)){4, 5, 6, 7, 0, 1, 2, 3});
    v += __builtin_shuffle(v, (FN(lane_mask)){2, 3, 0, 1, 6, 7, 4, 5});
    v += __builtin_shuffle(v, (FN(lane_mask)){1, 0, 3, 2, 5, 4, 7, 6});
#else
    v += __builtin_shuffle(v, (FN(lane_mask)){2, 3, 0, 1});
    v += __builtin_shuffle(v, (FN(lane_mask)){1, 0, 3, 2});
#endif
#endif
    return v[0];
}

/* For one weight row of n (a multiple of VLEN) stored columns: returns sum_j row[j] delta[j]
 * (the weights before the update), then row <- decay row - step delta. */
static FNN_INLINE double FN(dot_update)(T *restrict row, const T *restrict delta, fnn_index n, T step, T decay)
{
    VEC acc = {0};
    if (decay != (T)1) {
        for (fnn_index j = 0; j < n; j += VLEN) {
            const VEC w = FN(load)(row + j), d = FN(load)(delta + j);
            acc += w * d;
            FN(store)(row + j, decay * w - step * d);
        }
    } else {
        for (fnn_index j = 0; j < n; j += VLEN) {
            const VEC w = FN(load)(row + j), d = FN(load)(delta + j);
            acc += w * d;
            FN(store)(row + j, w - step * d);
        }
    }
    return (double)FN(sum_lanes)(acc);
}

/* The lane sums of LANES vectors at once: lane k of the result is the sum of acc[k]'s lanes.
 * A transposing tree of shuffles and adds (log2(lanes) rounds over halving vector counts). */
static FNN_INLINE VEC FN(sum_lanes_rows)(VEC *acc)
{
    typedef LANE_INDEX FN(row_mask) __attribute__((vector_size(FNN_VECTOR_BYTES)));
#if defined(__clang__)
#define FNN_SHUFFLE2(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define FNN_SHUFFLE2(a, b, ...) __builtin_shuffle(a, b, (FN(row_mask)){__VA_ARGS__})
#endif
#if LANES == 8
    VEC u[4], v[2];
    for (int k = 0; k < 4; ++k) /* lanes (2i, 2i+1) of a and b -> pair sums, interleaved */
        u[k] = FNN_SHUFFLE2(acc[2 * k], acc[2 * k + 1], 0, 8, 2, 10, 4, 12, 6, 14) +
               FNN_SHUFFLE2(acc[2 * k], acc[2 * k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    for (int k = 0; k < 2; ++k)
        v[k] = FNN_SHUFFLE2(u[2 * k], u[2 * k + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
               FNN_SHUFFLE2(u[2 * k], u[2 * k + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    return FNN_SHUFFLE2(v[0], v[1], 0, 1, 2, 3, 8, 9, 10, 11) + FNN_SHUFFLE2(v[0], v[1], 4, 5, 6, 7, 12, 13, 14, 15);
#else
    VEC u[2];
    for (int k = 0; k < 2; ++k)
        u[k] = FNN_SHUFFLE2(acc[2 * k], acc[2 * k + 1], 0, 4, 2, 6) + FNN_SHUFFLE2(acc[2 * k], acc[2 * k + 1], 1, 5, 3, 7);
    return FNN_SHUFFLE2(u[0], u[1], 0, 1, 4, 5) + FNN_SHUFFLE2(u[0], u[1], 2, 3, 6, 7);
#endif
#undef FNN_SHUFFLE2
}

/* dot_update for LANES consecutive rows (the row stride is n) with steps lr z[k]: returns the
 * rows' sums sum_j row_k[j] delta[j] in the lanes of one vector, then updates the rows. Each
 * delta vector is loaded once for all the rows. */
static FNN_INLINE VEC FN(dot_update_rows)(T *restrict rows, const T *restrict delta, fnn_index n, const T *restrict z,
                                          T lr, T decay)
{
    VEC acc[LANES];
    T step[LANES];
    for (int k = 0; k < LANES; ++k) {
        acc[k] = (VEC){0};
        step[k] = lr * z[k];
    }
    for (fnn_index j = 0; j < n; j += VLEN) {
        const VEC d = FN(load)(delta + j);
        for (int k = 0; k < LANES; ++k) {
            T *p = rows + k * n + j;
            const VEC w = FN(load)(p);
            acc[k] += w * d;
            FN(store)(p, decay == (T)1 ? w - step[k] * d : decay * w - step[k] * d);
        }
    }
    return FN(sum_lanes_rows)(acc);
}

/* Forward pass of one row through layers [0, n_layers): activations go to work; the last layer's
 * output is left as logits (pre-activation) b. Returns a pointer to b. With layer0_ready, work
 * already holds the first layer's affine map of this row (see sgd_deferred). */
static FNN_INLINE T *FN(forward_logits)(const fnn_net *net, const T *W, const DATA *data, fnn_index r, T *work,
                                        int layer0_ready)
{
    const fnn_index *sizes = net->sizes;
    T *out = work;
    const T *in = NULL;
    for (int l = 0; l < net->n_layers; ++l) {
        const fnn_index n_in = sizes[l], n_out = sizes[l + 1], width = fnn_padded_width(net, n_out);
        const T *block = W + fnn_layer_offset(net, l);
        if (l == 0 && layer0_ready) {
            /* sgd_deferred already computed this row's first-layer affine map */
        } else if (l == 0 && data->indptr) {
            const fnn_index first = data->indptr[r];
            FN(affine)(out, block, data->values + first, data->indices + first, data->indptr[r + 1] - first, width);
        } else {
            FN(affine)(out, block, (l == 0) ? data->values + r * n_in : in, NULL, n_in, width);
        }
        if (l + 1 < net->n_layers) {
            FN(sigmoid_array)(out, width); /* the padding columns hold sigmoid(0), never read */
        }
        in = out;
        out += width;
    }
    return (T *)in;
}

/* softplus(a) = log(1 + e^a), exact at a = +-inf. */
static inline double FN(softplus)(double a)
{
    return fmax(a, 0.0) + log1p(exp(-fabs(a)));
}

/* Turns logits b into output probabilities in place and returns the cross-entropy of label y:
 * softmax: J = logsumexp(b) - b_y;  sigmoid: J = softplus(-b) for y = 1, softplus(b) for y = 0.
 * Infinite logits (an overflowing affine map) give the limits: the classes at +inf share the
 * probability; J is then 0-ish or +inf, never NaN. NaN logits stay NaN for the caller to see. */
static FNN_INLINE double FN(output_and_loss)(const fnn_net *net, T *b, int32_t y)
{
    const fnn_index K = net->sizes[net->n_layers];
    if (net->output == FNN_OUTPUT_SIGMOID) {
        const double logit = (double)b[0];
        b[0] = FN(sigmoid)(b[0]);
        return FN(softplus)(y ? -logit : logit);
    }
    /* b is stored padded to whole vectors (pad_units is a multiple of VLEN); lanes past K take
     * no part */
    const fnn_index width = (K + VLEN - 1) / VLEN * VLEN;
    IVEC lane;
    for (int v = 0; v < VLEN; ++v) lane[v] = v;
    VEC top = FN(splat)(b[0]); /* a NaN in b[0] stays in every lane, as in a scalar running max */
    for (fnn_index j = 0; j < width; j += VLEN) {
        const VEC z = FN(load)(b + j);
        top = FN(select)((lane + (LANE_INDEX)j < (LANE_INDEX)K) & (z > top), z, top);
    }
    double b_max = (double)top[0];
    for (int v = 1; v < VLEN; ++v) b_max = (double)top[v] > b_max ? (double)top[v] : b_max;
    const double b_y = (double)b[y];
    if (isinf(b_max)) {
        /* every logit -inf: uniform; some +inf: those share the probability */
        fnn_index n_top = 0;
        for (fnn_index j = 0; j < K; ++j) n_top += (double)b[j] == b_max;
        for (fnn_index j = 0; j < K; ++j) b[j] = (T)((double)b[j] == b_max ? 1.0 / (double)n_top : 0.0);
        return b_y == b_max ? log((double)n_top) : INFINITY;
    }
    /* e^(b - b_max), 0 in the padding lanes; their sum and the quotients in double */
    const VEC shift = FN(splat)((T)b_max);
    FN(dvec) sums = {0};
    for (fnn_index j = 0; j < width; j += VLEN) {
        const IVEC inside = lane + (LANE_INDEX)j < (LANE_INDEX)K;
        const VEC e = FN(exp_nonpositive)(FN(select)(inside, FN(load)(b + j), shift) - shift);
        const VEC kept = FN(select)(inside, e, (VEC){0});
        FN(store)(b + j, kept);
        sums += __builtin_convertvector(kept, FN(dvec));
    }
    double sum = 0.0;
    for (int v = 0; v < VLEN; ++v) sum += sums[v];
    for (fnn_index j = 0; j < width; j += VLEN)
        FN(store)(b + j, __builtin_convertvector(__builtin_convertvector(FN(load)(b + j), FN(dvec)) / sum, VEC));
    return b_max + log(sum) - b_y;
}

/* sum_j row[j] delta[j], accumulated in double. */
static FNN_INLINE double FN(dot)(const T *restrict row, const T *restrict delta, fnn_index n)
{
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (fnn_index j = 0; j < n; ++j) acc += (double)row[j] * (double)delta[j];
    return acc;
}

/*
 * Backward pass for one row whose forward pass left activations in work and output probabilities
 * in y_hat. delta starts as the output delta (y_hat - y) * sample_weight. Going down the layers,
 * the delta of the layer below, (W^T delta) * z (1 - z), is read from each weight row before the
 * row is updated.
 * SGD mode (G == NULL): W <- W - lr (delta [1; z_prev]^T + l2 W_nonbias), in place; with
 * `deferred`, the first layer is left alone and its delta copied there (see sgd_deferred).
 * Gradient mode (G != NULL, zeroed): G <- delta [1; z_prev]^T, W untouched.
 */
static FNN_INLINE void FN(backward)(const fnn_net *net, T *W, T *G, const DATA *data, fnn_index r,
                         const T *y_hat, int32_t y, T weight, const fnn_sgd *sgd, T *work, T *deferred)
{
    const fnn_index *sizes = net->sizes;
    const int L = net->n_layers;
    /* work layout: activations of layers 0..L-1 back to back, then two delta buffers. */
    fnn_index act_total = 0, widest = 0;
    for (int l = 1; l <= L; ++l) {
        const fnn_index width = fnn_padded_width(net, sizes[l]);
        act_total += width;
        if (width > widest) widest = width;
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
    for (fnn_index j = K; j < widest; ++j) delta[j] = 0; /* padding */
    fnn_index act_end = act_total - fnn_padded_width(net, K); /* start of the output layer's activations */
    for (int l = L - 1; l >= 0; --l) {
        const fnn_index n_in = sizes[l], width = fnn_padded_width(net, sizes[l + 1]); /* stored columns */
        if (l == 0 && deferred) {
            memcpy(deferred, delta, (size_t)width * sizeof(T)); /* the caller updates the first layer */
            break;
        }
        const fnn_index offset = fnn_layer_offset(net, l);
        T *block = W + offset;
        T *grad = G ? G + offset : NULL;
        const T *z_in = NULL;
        if (l > 0) {
            act_end -= fnn_padded_width(net, n_in);
            z_in = work + act_end;
        }
        /* bias row: no L2 */
        for (fnn_index j = 0; j < width; ++j) {
            if (grad) grad[j] = delta[j];
            else block[j] -= lr * delta[j];
        }
        if (l > 0) {
            fnn_index i = 0;
            if (!grad) {
                /* LANES rows at a time: their sums come out together in one vector */
                for (; i + LANES <= n_in; i += LANES) {
                    const VEC back = FN(dot_update_rows)(block + (i + 1) * width, delta, width, z_in + i, lr, decay);
                    const VEC z = FN(load)(z_in + i);
                    FN(store)(delta_below + i, back * z * ((T)1 - z)); /* sigmoid' = z (1 - z) */
                }
            }
            for (; i < n_in; ++i) {
                T *row = block + (i + 1) * width;
                const T zi = z_in[i];
                double back;
                if (grad) {
                    back = FN(dot)(row, delta, width);
                    for (fnn_index j = 0; j < width; ++j) grad[(i + 1) * width + j] = zi * delta[j];
                } else {
                    back = FN(dot_update)(row, delta, width, lr * zi, decay);
                }
                delta_below[i] = (T)(back * (double)zi * (1.0 - (double)zi)); /* sigmoid' = z (1 - z) */
            }
            for (fnn_index i = n_in; i < widest; ++i) delta_below[i] = 0; /* padding */
            T *swap = delta;
            delta = delta_below;
            delta_below = swap;
            continue;
        }
        /* input layer: the rows of the non-zero inputs (sparse) or of every input (dense) */
        const fnn_index *rows = NULL;
        const T *x = data->values + r * n_in;
        fnn_index count = n_in;
        if (data->indptr) {
            rows = data->indices + data->indptr[r];
            x = data->values + data->indptr[r];
            count = data->indptr[r + 1] - data->indptr[r];
        }
        if (grad) {
            FN(update)(grad, x, rows, count, delta, width, (T)-1, (T)1); /* G (zero) <- x delta^T */
        } else if (data->indptr && decay != (T)1) {
            /* L2 shrinks every row, not only the non-zero inputs' (also when the sample, or the
             * whole matrix, has none: then `rows` may be NULL) */
            for (fnn_index i = 0; i < n_in; ++i) {
                T *row = block + (i + 1) * width;
                for (fnn_index j = 0; j < width; ++j) row[j] *= decay;
            }
            FN(update)(block, x, rows, count, delta, width, lr, (T)1);
        } else {
            FN(update)(block, x, rows, count, delta, width, lr, decay);
        }
    }
}

/*
 * Deferred first-layer updates (dense input). Per-sample SGD changes the first layer after each
 * sample s by b <- b - lr delta_s (biases) and w_i <- decay w_i - lr x_s[i] delta_s (the row of
 * input i; decay = 1 - lr l2). Within a run of FNN_DEFERRED_ROWS samples starting from weights
 * (b0, W0), sample k therefore sees
 *     b_k + W_k^T x_k = b0 + decay^k W0^T x_k - lr sum_{s<k} (1 + decay^(k-1-s) x_s . x_k) delta_s.
 * The run's maps W0^T x_k come from one pass over W0 (each weight vector used for every sample
 * of the run), the corrections from a few short dot products, and the run's updates are applied
 * in a second pass, sample after sample as above: the same SGD, two passes over the first layer
 * per run instead of one read-modify-write pass per sample.
 */
#define NROWS FNN_DEFERRED_ROWS
#define NVEC_DEFERRED 2        /* vectors per column block of the run's maps: NROWS x 2 sums in registers */
#define NVEC_DEFERRED_UPDATE 2 /* ... of the run's updates: NROWS x 2 deltas in registers (measured) */

/* out[k][j0 : j0 + nvec VLEN] = block[1:]^T x_k (no bias) for the run's rows k (out's row
 * stride width), with xt[i * NROWS + k] = x_k[i] (the run's inputs interleaved). */
static FNN_INLINE void FN(affine_rows_block)(T *restrict out, const T *restrict block, const T *restrict xt,
                                             fnn_index n_in, fnn_index width, fnn_index j0, const int nvec)
{
    VEC acc[NROWS][NVEC_DEFERRED];
    for (int k = 0; k < NROWS; ++k)
        for (int v = 0; v < nvec; ++v) acc[k][v] = (VEC){0};
    for (fnn_index i = 0; i < n_in; ++i) {
        const T *row = block + (i + 1) * width + j0;
        VEC w[NVEC_DEFERRED];
        for (int v = 0; v < nvec; ++v) w[v] = FN(load)(row + v * VLEN);
        for (int k = 0; k < NROWS; ++k) {
            const T xk = xt[i * NROWS + k];
            for (int v = 0; v < nvec; ++v) acc[k][v] += xk * w[v];
        }
    }
    for (int k = 0; k < NROWS; ++k)
        for (int v = 0; v < nvec; ++v) FN(store)(out + k * width + j0 + v * VLEN, acc[k][v]);
}

/* The run's updates over one column block (deltas row stride width), sample after sample:
 * block[0] -= lr delta_k, block[i + 1] <- decay_k block[i + 1] - x_k[i] (lr delta_k) with the
 * inputs interleaved as for the maps (decay_k is 1 for the padding samples of a short run). The
 * steps lr delta_k are formed once per block, so a row costs one FMA per sample and vector. */
static FNN_INLINE void FN(update_rows_block)(T *restrict block, const T *restrict xt, const T *restrict deltas,
                                             const T *restrict decay, fnn_index n_in, fnn_index width, T lr,
                                             fnn_index j0, const int nvec)
{
    VEC d[NROWS][NVEC_DEFERRED_UPDATE];
    for (int k = 0; k < NROWS; ++k)
        for (int v = 0; v < nvec; ++v) d[k][v] = lr * FN(load)(deltas + k * width + j0 + v * VLEN);
    for (int v = 0; v < nvec; ++v) {
        VEC w = FN(load)(block + j0 + v * VLEN);
        for (int k = 0; k < NROWS; ++k) w -= d[k][v];
        FN(store)(block + j0 + v * VLEN, w);
    }
    if (decay) {
        for (fnn_index i = 0; i < n_in; ++i) {
            T *row = block + (i + 1) * width + j0;
            const T *x = xt + i * NROWS;
            for (int v = 0; v < nvec; ++v) {
                VEC w = FN(load)(row + v * VLEN);
                for (int k = 0; k < NROWS; ++k) w = decay[k] * w - x[k] * d[k][v];
                FN(store)(row + v * VLEN, w);
            }
        }
        return;
    }
    for (fnn_index i = 0; i < n_in; ++i) {
        T *row = block + (i + 1) * width + j0;
        const T *x = xt + i * NROWS;
        for (int v = 0; v < nvec; ++v) {
            VEC w = FN(load)(row + v * VLEN);
            for (int k = 0; k < NROWS; ++k) w -= x[k] * d[k][v];
            FN(store)(row + v * VLEN, w);
        }
    }
}

/* gram[s][k] = xs[s] . xs[k] for s < k, one pass over the run's rows (sums in T). */
static FNN_INLINE void FN(gram_rows)(double gram[NROWS][NROWS], const T *const *xs, fnn_index n)
{
    VEC acc[NROWS][NROWS];
    for (int s = 0; s < NROWS; ++s)
        for (int k = s + 1; k < NROWS; ++k) acc[s][k] = (VEC){0};
    fnn_index j = 0;
    for (; j + VLEN <= n; j += VLEN) {
        VEC x[NROWS];
        for (int k = 0; k < NROWS; ++k) x[k] = FN(load)(xs[k] + j);
        for (int s = 0; s < NROWS; ++s)
            for (int k = s + 1; k < NROWS; ++k) acc[s][k] += x[s] * x[k];
    }
    for (int s = 0; s < NROWS; ++s)
        for (int k = s + 1; k < NROWS; ++k) {
            double sum = (double)FN(sum_lanes)(acc[s][k]);
            for (fnn_index t = j; t < n; ++t) sum += (double)xs[s][t] * (double)xs[k][t];
            gram[s][k] = sum;
        }
}

static FNN_INLINE void FN(affine_rows)(T *restrict out, const T *restrict block, const T *restrict xt,
                                       fnn_index n_in, fnn_index width)
{
    for (fnn_index j0 = 0; j0 < width; j0 += NVEC_DEFERRED * VLEN) {
        const fnn_index left = (width - j0) / VLEN;
        if (left >= NVEC_DEFERRED) FN(affine_rows_block)(out, block, xt, n_in, width, j0, NVEC_DEFERRED);
        else FN(affine_rows_block)(out, block, xt, n_in, width, j0, 1);
    }
}

static FNN_INLINE void FN(update_rows)(T *restrict block, const T *restrict xt, const T *restrict deltas,
                                       const T *restrict decay, fnn_index n_in, fnn_index width, T lr)
{
    for (fnn_index j0 = 0; j0 < width; j0 += NVEC_DEFERRED_UPDATE * VLEN) {
        const fnn_index left = (width - j0) / VLEN;
        if (left >= NVEC_DEFERRED_UPDATE)
            FN(update_rows_block)(block, xt, deltas, decay, n_in, width, lr, j0, NVEC_DEFERRED_UPDATE);
        else FN(update_rows_block)(block, xt, deltas, decay, n_in, width, lr, j0, 1);
    }
}

/* Per-sample SGD over dense rows order[0..n_order), the first layer deferred as above. */
static FNN_INLINE double FN(sgd_deferred)(const fnn_net *net, T *W, const DATA *data, const fnn_index *order,
                                          fnn_index n_order, const fnn_sgd *sgd, T *work)
{
    const fnn_index n_in = net->sizes[0], width = fnn_padded_width(net, net->sizes[1]);
    const T lr = (T)sgd->learning_rate;
    const double decay = 1.0 - sgd->learning_rate * sgd->l2;
    /* the run's first-layer maps and deltas and its inputs (interleaved), at the end of work */
    T *maps = work + fnn_work_size(net) - NROWS * (2 * width + n_in);
    T *deltas = maps + NROWS * width, *xt = deltas + NROWS * width;
    double total = 0.0;
    for (fnn_index t0 = 0; t0 < n_order; t0 += NROWS) {
        const int n_run = n_order - t0 < NROWS ? (int)(n_order - t0) : NROWS;
        const T *xs[NROWS];
        for (int k = 0; k < NROWS; ++k) xs[k] = data->values + order[t0 + (k < n_run ? k : n_run - 1)] * n_in;
        for (fnn_index i = 0; i < n_in; ++i)
            for (int k = 0; k < NROWS; ++k) xt[i * NROWS + k] = xs[k][i];
        FN(affine_rows)(maps, W, xt, n_in, width);
        double gram[NROWS][NROWS];
        FN(gram_rows)(gram, xs, n_in);
        double decay_power[NROWS + 1] = {1.0}; /* decay^k */
        for (int k = 1; k <= NROWS; ++k) decay_power[k] = decay_power[k - 1] * decay;
        for (int k = 0; k < n_run; ++k) {
            const fnn_index r = order[t0 + k];
            /* the first-layer map, where forward_logits expects it: b0 + decay^k W0^T x_k ... */
            T *a = work;
            const T *map = maps + k * width, scale = (T)decay_power[k];
            for (fnn_index j = 0; j < width; ++j) a[j] = W[j] + scale * map[j];
            for (int s = 0; s < k; ++s) { /* ... minus the earlier samples' updates, seen through x_k */
                const T c = (T)(sgd->learning_rate * (1.0 + decay_power[k - 1 - s] * gram[s][k]));
                const T *d = deltas + s * width;
                for (fnn_index j = 0; j < width; ++j) a[j] -= c * d[j];
            }
            const T weight = data->sample_weight ? data->sample_weight[r] : (T)1;
            T *y_hat = FN(forward_logits)(net, W, data, r, work, 1);
            total += (double)weight * FN(output_and_loss)(net, y_hat, data->labels[r]);
            FN(backward)(net, W, NULL, data, r, y_hat, data->labels[r], weight, sgd, work, deltas + k * width);
        }
        memset(deltas + n_run * width, 0, (size_t)((NROWS - n_run) * width) * sizeof(T)); /* no step */
        T decays[NROWS];
        for (int k = 0; k < NROWS; ++k) decays[k] = k < n_run ? (T)decay : (T)1; /* no decay either */
        FN(update_rows)(W, xt, deltas, decay == 1.0 ? NULL : decays, n_in, width, lr);
    }
    return total;
}

FNN_DISPATCH void FN(fnn_sigmoid)(T *z, fnn_index n) { FN(sigmoid_array)(z, n); }

void FN(fnn_publish)(T *shared, T *local, T *snapshot, fnn_index n)
{
    for (fnn_index i = 0; i < n; ++i) {
        const T w = shared[i] + (local[i] - snapshot[i]); /* read and written unlocked, on purpose */
        shared[i] = w;
        local[i] = w;
        snapshot[i] = w;
    }
}

/* FNN_OK when the rows the call will read are valid: order[0..n_order) (every row when order is
 * NULL) are rows of data, their labels (if any) are classes of the output layer and their sparse
 * column indices are features. Only the visited rows are checked, once per call, before any
 * weight changes. */
static int FN(check_rows)(const fnn_net *net, const DATA *data, const fnn_index *order, fnn_index first,
                         fnn_index n)
{
    const int status = fnn_check_net(net);
    if (status != FNN_OK) return status;
    if (data->n_features != net->sizes[0]) return FNN_ERROR_FEATURES;
    if (net->pad_units % VLEN != 0) return FNN_ERROR_PADDING; /* rows must be whole vectors */
    if (fnn_weight_count(net) < 0 || fnn_work_size(net) < 0) return FNN_ERROR_SIZE;
    const fnn_index K = net->output == FNN_OUTPUT_SIGMOID ? 2 : net->sizes[net->n_layers];
    for (fnn_index t = 0; t < n; ++t) {
        const fnn_index r = order ? order[t] : first + t;
        if (r < 0 || r >= data->n_rows) return FNN_ERROR_INDEX;
        if (data->labels && (data->labels[r] < 0 || data->labels[r] >= K)) return FNN_ERROR_LABEL;
        if (data->indptr) {
            /* no branch per entry (as unsigned, a negative index is out of range too) */
            int outside = 0;
            for (fnn_index k = data->indptr[r]; k < data->indptr[r + 1]; ++k)
                outside |= (size_t)data->indices[k] >= (size_t)data->n_features;
            if (outside) return FNN_ERROR_INDEX;
        }
    }
    return FNN_OK;
}

FNN_DISPATCH int FN(fnn_sgd_epoch)(const fnn_net *net, T *W, const DATA *data, const fnn_index *order,
                      fnn_index n_order, const fnn_sgd *sgd, T *work, double *loss_sum)
{
    if (!data->labels) return FNN_ERROR_LABEL;
    int status = FN(check_rows)(net, data, order, 0, n_order);
    if (status != FNN_OK) return status;

    if (!data->indptr) {
        *loss_sum += FN(sgd_deferred)(net, W, data, order, n_order, sgd, work);
        return FNN_OK;
    }
    /* sparse rows: each sample updates the rows of its non-zero inputs */
    double total = 0.0;
    for (fnn_index t = 0; t < n_order; ++t) {
        const fnn_index r = order[t];
        const int32_t y = data->labels[r];
        const T weight = data->sample_weight ? data->sample_weight[r] : (T)1;
        T *y_hat = FN(forward_logits)(net, W, data, r, work, 0);
        total += (double)weight * FN(output_and_loss)(net, y_hat, y);
        FN(backward)(net, W, NULL, data, r, y_hat, y, weight, sgd, work, NULL);
    }
    *loss_sum += total;
    return FNN_OK;
}

FNN_DISPATCH int FN(fnn_predict)(const fnn_net *net, const T *W, const DATA *data, T *output, T *work)
{
    int status = FN(check_rows)(net, data, NULL, 0, data->n_rows);
    if (status != FNN_OK) return status;
    const fnn_index K = net->sizes[net->n_layers];
    for (fnn_index r = 0; r < data->n_rows; ++r) {
        T *y_hat = FN(forward_logits)(net, W, data, r, work, 0);
        FN(output_and_loss)(net, y_hat, 0);
        memcpy(output + r * K, y_hat, (size_t)K * sizeof(T));
    }
    return FNN_OK;
}

FNN_DISPATCH int FN(fnn_loss)(const fnn_net *net, const T *W, const DATA *data, T *work, double *loss_sum)
{
    int status = FN(check_rows)(net, data, NULL, 0, data->n_rows);
    if (status != FNN_OK) return status;
    if (!data->labels) return FNN_ERROR_LABEL;
    double total = 0.0;
    for (fnn_index r = 0; r < data->n_rows; ++r) {
        const double weight = data->sample_weight ? (double)data->sample_weight[r] : 1.0;
        T *y_hat = FN(forward_logits)(net, W, data, r, work, 0);
        total += weight * FN(output_and_loss)(net, y_hat, data->labels[r]);
    }
    *loss_sum = total;
    return FNN_OK;
}

int FN(fnn_gradient)(const fnn_net *net, const T *W, const DATA *data, fnn_index row, T *G,
                     T *work, double *loss)
{
    int status = FN(check_rows)(net, data, NULL, 0, data->n_rows);
    if (status != FNN_OK) return status;
    if (!data->labels) return FNN_ERROR_LABEL;
    if (row < 0 || row >= data->n_rows) return FNN_ERROR_INDEX;
    memset(G, 0, (size_t)fnn_weight_count(net) * sizeof(T));
    T *y_hat = FN(forward_logits)(net, W, data, row, work, 0);
    *loss = FN(output_and_loss)(net, y_hat, data->labels[row]);
    FN(backward)(net, (T *)W, G, data, row, y_hat, data->labels[row], (T)1, NULL, work, NULL);
    return FNN_OK;
}

/* ------------------------------------------------------------------ mini-batch (GEMM) path */

/* Row b of a batch: order[b], or first + b when order is NULL (consecutive rows). */
#define FNN_BATCH_ROW(b) (order ? order[b] : first + (b))

/*
 * Batched forward pass of the rows FNN_BATCH_ROW(0..nb): batch work layout (all row-major, nb
 * rows): X (nb, pad(n_features)) gathered inputs (dense input only; nothing for CSR input), then
 * the activations of layers 1..L, (nb, pad(sizes[l])) each, then two delta buffers (nb, widest).
 * Returns the output logits. Consecutive dense rows go to the first GEMM in place, without the
 * gather.
 */
static FNN_INLINE T *FN(forward_batch)(const fnn_net *net, const T *W, const DATA *data, const fnn_index *order,
                                       fnn_index first, fnn_index nb, FNN_CAT(fnn_gemm, SUFFIX) gemm, T *work)
{
    const fnn_index *sizes = net->sizes;
    const fnn_index n0 = sizes[0], ld0 = data->indptr ? 0 : fnn_padded_width(net, n0);
    T *X = work;
    T *out = work + nb * ld0;
    const T *in = X;
    fnn_index ld_in = ld0;
    if (!data->indptr && !order) {
        in = data->values + first * n0;
        ld_in = n0;
    } else if (!data->indptr) {
        for (fnn_index b = 0; b < nb; ++b)
            memcpy(X + b * ld0, data->values + order[b] * n0, (size_t)n0 * sizeof(T));
    }
    for (int l = 0; l < net->n_layers; ++l) {
        const fnn_index n_in = sizes[l], width = fnn_padded_width(net, sizes[l + 1]);
        const T *block = W + fnn_layer_offset(net, l);
        for (fnn_index b = 0; b < nb; ++b) memcpy(out + b * width, block, (size_t)width * sizeof(T));
        if (l == 0 && data->indptr) {
            for (fnn_index b = 0; b < nb; ++b) {
                const fnn_index start = data->indptr[FNN_BATCH_ROW(b)];
                FN(affine)(out + b * width, block, data->values + start, data->indices + start,
                           data->indptr[FNN_BATCH_ROW(b) + 1] - start, width);
            }
        } else {
            /* A (nb, width) += Z_in (nb, n_in) W[1:] (n_in, width) */
            gemm(0, 0, nb, width, n_in, (T)1, in, ld_in, block + width, width, (T)1, out, width);
        }
        if (l + 1 < net->n_layers) {
            FN(sigmoid_array)(out, nb * width);
        }
        in = out;
        ld_in = width;
        out += nb * width;
    }
    return (T *)in;
}

FNN_DISPATCH int FN(fnn_minibatch_epoch)(const fnn_net *net, T *W, const DATA *data, const fnn_index *order,
                                         fnn_index n_order, const fnn_sgd *sgd, FNN_CAT(fnn_gemm, SUFFIX) gemm,
                                         T *work, double *loss_sum)
{
    if (!data->labels) return FNN_ERROR_LABEL;
    if (sgd->batch_size < 1) return FNN_ERROR_BATCH;
    int status = FN(check_rows)(net, data, order, 0, n_order);
    if (status != FNN_OK) return status;
    if (fnn_batch_work_size(net, sgd->batch_size < n_order ? sgd->batch_size : n_order, data->indptr != NULL) < 0)
        return FNN_ERROR_SIZE;

    const fnn_index *sizes = net->sizes;
    const int L = net->n_layers;
    const fnn_index K = sizes[L];
    fnn_index widest = 0;
    for (int l = 1; l <= L; ++l)
        if (fnn_padded_width(net, sizes[l]) > widest) widest = fnn_padded_width(net, sizes[l]);
    const T lr = (T)sgd->learning_rate, decay = (T)(1.0 - sgd->learning_rate * sgd->l2);
    double total = 0.0;

    for (fnn_index t0 = 0; t0 < n_order; t0 += sgd->batch_size) {
        const fnn_index *rows = order + t0;
        const fnn_index nb = n_order - t0 < sgd->batch_size ? n_order - t0 : sgd->batch_size;
        T *logits = FN(forward_batch)(net, W, data, rows, 0, nb, gemm, work);
        const fnn_index width_K = fnn_padded_width(net, K);
        T *delta = logits + nb * width_K;
        T *delta_below = delta + nb * widest;
        /* output delta (y_hat - y) sample_weight / nb; padding columns zero */
        for (fnn_index b = 0; b < nb; ++b) {
            const int32_t y = data->labels[rows[b]];
            const T weight = data->sample_weight ? data->sample_weight[rows[b]] : (T)1;
            T *y_hat = logits + b * width_K;
            total += (double)weight * FN(output_and_loss)(net, y_hat, y);
            T *d = delta + b * width_K;
            for (fnn_index j = 0; j < width_K; ++j) d[j] = j < K ? y_hat[j] : (T)0;
            if (net->output == FNN_OUTPUT_SIGMOID) d[0] -= (T)y;
            else d[y] -= (T)1;
            for (fnn_index j = 0; j < K; ++j) d[j] *= weight / (T)nb;
        }
        /* walk down the layers; z_in of layer l is the activation block of layer l (l > 0) */
        T *act_end = logits;
        for (int l = L - 1; l >= 0; --l) {
            const fnn_index n_in = sizes[l], width = fnn_padded_width(net, sizes[l + 1]);
            T *block = W + fnn_layer_offset(net, l);
            /* the row stride of z_in: for l == 0, of the gathered inputs (none for CSR input) */
            const fnn_index ld_in = l == 0 && data->indptr ? 0 : fnn_padded_width(net, n_in);
            const T *z_in = act_end - nb * ld_in;
            act_end -= nb * ld_in;
            if (l > 0) {
                /* delta_below (nb, n_in) = delta (nb, width) W[1:]^T, with the weights before the update */
                gemm(0, 1, nb, n_in, width, (T)1, delta, width, block + width, width, (T)0, delta_below, ld_in);
                for (fnn_index b = 0; b < nb; ++b) {
                    for (fnn_index i = 0; i < ld_in; ++i) {
                        const T z = z_in[b * ld_in + i];
                        delta_below[b * ld_in + i] = i < n_in ? delta_below[b * ld_in + i] * z * ((T)1 - z) : (T)0;
                    }
                }
            }
            /* bias row: W[0] -= lr sum_b delta_b */
            for (fnn_index b = 0; b < nb; ++b)
                for (fnn_index j = 0; j < width; ++j) block[j] -= lr * delta[b * width + j];
            if (decay != (T)1) {
                for (fnn_index i = 0; i < n_in; ++i) {
                    T *row = block + (i + 1) * width;
                    for (fnn_index j = 0; j < width; ++j) row[j] *= decay;
                }
            }
            if (l == 0 && data->indptr) {
                for (fnn_index b = 0; b < nb; ++b) {
                    const fnn_index first = data->indptr[rows[b]];
                    FN(update)(block, data->values + first, data->indices + first,
                               data->indptr[rows[b] + 1] - first, delta + b * width, width, lr, (T)1);
                }
            } else {
                /* W[1:] (n_in, width) -= lr Z_in^T (n_in, nb) delta (nb, width) */
                gemm(1, 0, n_in, width, nb, -lr, z_in, ld_in, delta, width, (T)1, block + width, width);
            }
            if (l > 0) {
                T *swap = delta;
                delta = delta_below;
                delta_below = swap;
            }
        }
    }
    *loss_sum += total;
    return FNN_OK;
}

FNN_DISPATCH int FN(fnn_predict_batched)(const fnn_net *net, const T *W, const DATA *data, fnn_index first,
                                         fnn_index n_rows, fnn_index batch_size, FNN_CAT(fnn_gemm, SUFFIX) gemm,
                                         T *output, T *work, double *loss_sum)
{
    if (first < 0 || n_rows < 0 || first > data->n_rows - n_rows) return FNN_ERROR_INDEX;
    if (batch_size < 1) return FNN_ERROR_BATCH;
    int status = FN(check_rows)(net, data, NULL, first, n_rows);
    if (status != FNN_OK) return status;
    if (fnn_batch_work_size(net, batch_size < n_rows ? batch_size : n_rows, data->indptr != NULL) < 0)
        return FNN_ERROR_SIZE;
    const fnn_index K = net->sizes[net->n_layers], width_K = fnn_padded_width(net, K);
    double total = 0.0;
    for (fnn_index r0 = first; r0 < first + n_rows; r0 += batch_size) {
        const fnn_index nb = first + n_rows - r0 < batch_size ? first + n_rows - r0 : batch_size;
        T *logits = FN(forward_batch)(net, W, data, NULL, r0, nb, gemm, work);
        for (fnn_index b = 0; b < nb; ++b) {
            T *y_hat = logits + b * width_K;
            const int32_t y = data->labels ? data->labels[r0 + b] : 0;
            const double weight = data->sample_weight ? (double)data->sample_weight[r0 + b] : 1.0;
            const double loss = FN(output_and_loss)(net, y_hat, y);
            if (data->labels) total += weight * loss;
            if (output) memcpy(output + (r0 - first + b) * K, y_hat, (size_t)K * sizeof(T));
        }
    }
    if (loss_sum) *loss_sum += total;
    return FNN_OK;
}

#undef FNN_BATCH_ROW
#undef NROWS
#undef NVEC_DEFERRED
#undef NVEC_DEFERRED_UPDATE
#undef VEC
#undef IVEC
#undef EXP_DEGREE
#undef NVEC
#undef VLEN
#undef FN
#undef DATA
#undef FNN_CAT
#undef FNN_CAT_
