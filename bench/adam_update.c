/*
 * adam_update.c -- the time of Adam's per-weight update alone, the floor of per-sample Adam.
 *
 * Built and run by bench/optim_ceilings.py with the engine's flags (-O3 -mavx2 -mfma
 * -fopenmp-simd -fno-math-errno). The loop is the update of csrc/fnn_optim.inc (FN(step_row),
 * method Adam) for float64: per weight, g = c delta + l2 w; m <- b1 m + (1-b1) g;
 * s <- b2 s + (1-b2) g^2; w <- w - lr m / (sqrt(s) + eps). It is the one pass per sample that
 * per-sample Adam cannot skip (every weight and both moments change at every update), and it
 * needs one square root and one division per weight.
 *
 * Usage: adam_update N_WEIGHTS STEPS REPEATS; prints one line per repeat: nanoseconds per step
 * (thread CPU time).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double thread_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

__attribute__((noinline)) static double adam_step(double *restrict w, double *restrict m, double *restrict s,
                                                  const double *restrict delta, long n, double c, double l2,
                                                  double lr, double b1, double b2, double eps)
{
    double acc = 0;
#pragma omp simd reduction(+ : acc)
    for (long j = 0; j < n; ++j) {
        const double wj = w[j], dj = delta[j], g = c * dj + l2 * wj;
        const double mj = b1 * m[j] + (1 - b1) * g, sj = b2 * s[j] + (1 - b2) * (g * g);
        acc += wj * dj;
        m[j] = mj;
        s[j] = sj;
        w[j] = wj - lr * mj / (sqrt(sj) + eps);
    }
    return acc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: adam_update N_WEIGHTS STEPS REPEATS\n");
        return 2;
    }
    const long n = atol(argv[1]), steps = atol(argv[2]), repeats = atol(argv[3]);
    double *w = malloc(sizeof(double) * n), *m = calloc(n, sizeof(double)), *s = calloc(n, sizeof(double)),
           *delta = malloc(sizeof(double) * n);
    if (!w || !m || !s || !delta || n < 1 || steps < 1 || repeats < 1) return 2;
    srand(1);
    for (long j = 0; j < n; ++j) {
        w[j] = rand() / (double)RAND_MAX - 0.5;
        delta[j] = 1e-2 * (rand() / (double)RAND_MAX - 0.5);
    }
    double sink = 0;
    for (long r = 0; r < repeats; ++r) {
        const double start = thread_seconds();
        for (long t = 0; t < steps; ++t) sink += adam_step(w, m, s, delta, n, 1.0, 0.0, 1e-3, 0.9, 0.999, 1e-8);
        printf("%.1f\n", (thread_seconds() - start) / (double)steps * 1e9);
    }
    fprintf(stderr, "checksum %g\n", sink);
    return 0;
}
