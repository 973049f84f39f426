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

/*
 * Vector sigmoid and softmax exponentials, four (eight) entries at a time with glibc's vector exp
 * (libmvec) when the build links it (FNN_USE_LIBMVEC, Linux x86-64 with glibc) and the CPU has
 * AVX2 and FMA; the kernels fall back to scalar exp otherwise.
 */
#if defined(FNN_USE_LIBMVEC) && defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

__m256d _ZGVdN4v_exp(__m256d x);
__m256 _ZGVdN8v_expf(__m256 x);

static int fnn_has_vector_exp(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* sigmoid(a) = 1 / (1 + e^-|a|) for a >= 0, else e^-|a| / (1 + e^-|a|). */
__attribute__((target("avx2,fma"))) static void fnn_sigmoid_vector_f64(double *z, fnn_index n)
{
    const __m256d one = _mm256_set1_pd(1.0), sign = _mm256_set1_pd(-0.0), zero = _mm256_setzero_pd();
    fnn_index j = 0;
    for (; j + 4 <= n; j += 4) {
        const __m256d a = _mm256_loadu_pd(z + j);
        const __m256d e = _ZGVdN4v_exp(_mm256_or_pd(a, sign));
        const __m256d s = _mm256_div_pd(one, _mm256_add_pd(one, e));
        _mm256_storeu_pd(z + j, _mm256_blendv_pd(_mm256_mul_pd(e, s), s, _mm256_cmp_pd(a, zero, _CMP_GE_OQ)));
    }
    for (; j < n; ++j) {
        const double e = exp(-fabs(z[j]));
        z[j] = z[j] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }
}

__attribute__((target("avx2,fma"))) static void fnn_sigmoid_vector_f32(float *z, fnn_index n)
{
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    fnn_index j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 a = _mm256_loadu_ps(z + j);
        const __m256 e = _ZGVdN8v_expf(_mm256_or_ps(a, sign));
        const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
        _mm256_storeu_ps(z + j, _mm256_blendv_ps(_mm256_mul_ps(e, s), s, _mm256_cmp_ps(a, zero, _CMP_GE_OQ)));
    }
    for (; j < n; ++j) {
        const float e = (float)exp(-fabs((double)z[j]));
        z[j] = z[j] >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}
/* z[j] <- exp(z[j] - shift) over n entries; a short tail goes through one padded vector. */
__attribute__((target("avx2,fma"))) static void fnn_exp_shifted_vector_f64(double *z, fnn_index n, double shift)
{
    const __m256d s = _mm256_set1_pd(shift);
    fnn_index j = 0;
    for (; j + 4 <= n; j += 4) _mm256_storeu_pd(z + j, _ZGVdN4v_exp(_mm256_sub_pd(_mm256_loadu_pd(z + j), s)));
    if (j < n) {
        double tail[4] = {shift, shift, shift, shift};
        memcpy(tail, z + j, (size_t)(n - j) * sizeof(double));
        _mm256_storeu_pd(tail, _ZGVdN4v_exp(_mm256_sub_pd(_mm256_loadu_pd(tail), s)));
        memcpy(z + j, tail, (size_t)(n - j) * sizeof(double));
    }
}

__attribute__((target("avx2,fma"))) static void fnn_exp_shifted_vector_f32(float *z, fnn_index n, double shift)
{
    const __m256 s = _mm256_set1_ps((float)shift);
    fnn_index j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(z + j, _ZGVdN8v_expf(_mm256_sub_ps(_mm256_loadu_ps(z + j), s)));
    if (j < n) {
        float tail[8];
        for (int k = 0; k < 8; ++k) tail[k] = (float)shift;
        memcpy(tail, z + j, (size_t)(n - j) * sizeof(float));
        _mm256_storeu_ps(tail, _ZGVdN8v_expf(_mm256_sub_ps(_mm256_loadu_ps(tail), s)));
        memcpy(z + j, tail, (size_t)(n - j) * sizeof(float));
    }
}
#define FNN_VECTOR_EXP 1
#endif

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
