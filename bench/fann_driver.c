/*
 * fann_driver.c -- FANN contender for bench/run.py.
 *
 * Built by the harness at run time, once per precision:
 *   gcc -O3 -DFNN_BENCH_DOUBLE fann_driver.c -o fann_driver_f64 -ldoublefann -lm
 *   gcc -O3                    fann_driver.c -o fann_driver_f32 -lfloatfann  -lm
 *
 * Usage:
 *   fann_driver TRAIN_FILE PREDICT_FILE H1 [H2 ...]
 *
 * TRAIN_FILE and PREDICT_FILE use the harness's binary layout (little endian):
 *   char[4] "FNNB"; int32 n; int32 d; int32 k;
 *   float64 X[n][d] (row-major); int32 y[n] (labels 0..k-1)
 * PREDICT_FILE may be "-" (no prediction data).
 *
 * The network is d -> H1 -> ... -> k, sigmoid hidden and output units
 * (FANN has no softmax), targets one-hot, plain MSE error
 * (FANN_ERRORFUNC_LINEAR), incremental training (one update per row, rows in
 * file order), learning rate 0.01, momentum 0.
 *
 * Commands are read from stdin, one per line; each answer is one JSON line:
 *   train    -> {"seconds": s, "rows": n, "samples_per_s": r, "mse": e}
 *               one epoch of fann_train_epoch (FANN_TRAIN_INCREMENTAL)
 *   predict  -> {"seconds": s, "rows": m, "samples_per_s": r, "checksum": c}
 *               fann_run over every row of PREDICT_FILE
 *   quit     -> exits 0
 * On start it prints {"ready": true, "fann_type_bytes": b, ...}.
 * Errors are printed as {"error": "..."} and exit with status 1.
 */
#ifdef FNN_BENCH_DOUBLE
#include <doublefann.h>
#else
#include <floatfann.h>
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int32_t n, d, k;
    fann_type *X; /* n * d, row-major */
    int32_t *y;   /* n */
} bench_data;

static void die(const char *msg)
{
    printf("{\"error\": \"%s\"}\n", msg);
    fflush(stdout);
    exit(1);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Read one file of the harness's layout; X is converted to fann_type once. */
static void read_data(const char *path, bench_data *data)
{
    FILE *f = fopen(path, "rb");
    char magic[4];
    int32_t header[3];
    size_t count, i;
    double *row;

    if (f == NULL)
        die("cannot open data file");
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "FNNB", 4) != 0)
        die("data file does not start with FNNB");
    if (fread(header, sizeof(int32_t), 3, f) != 3)
        die("data file header is truncated");
    data->n = header[0];
    data->d = header[1];
    data->k = header[2];
    if (data->n <= 0 || data->d <= 0 || data->k < 2)
        die("data file header has a bad shape");
    count = (size_t)data->n * (size_t)data->d;
    data->X = malloc(count * sizeof(fann_type));
    data->y = malloc((size_t)data->n * sizeof(int32_t));
    row = malloc((size_t)data->d * sizeof(double));
    if (data->X == NULL || data->y == NULL || row == NULL)
        die("out of memory");
    for (i = 0; i < (size_t)data->n; i++) {
        int32_t j;
        if (fread(row, sizeof(double), (size_t)data->d, f) != (size_t)data->d)
            die("data file X is truncated");
        for (j = 0; j < data->d; j++)
            data->X[i * (size_t)data->d + (size_t)j] = (fann_type)row[j];
    }
    if (fread(data->y, sizeof(int32_t), (size_t)data->n, f) != (size_t)data->n)
        die("data file y is truncated");
    for (i = 0; i < (size_t)data->n; i++)
        if (data->y[i] < 0 || data->y[i] >= data->k)
            die("data file has a label outside 0..k-1");
    free(row);
    fclose(f);
}

/* FANN's own training set: inputs copied, targets one-hot. */
static struct fann_train_data *to_fann_train(const bench_data *data)
{
    struct fann_train_data *train =
        fann_create_train((unsigned int)data->n, (unsigned int)data->d, (unsigned int)data->k);
    int32_t i, j;

    if (train == NULL)
        die("fann_create_train failed");
    for (i = 0; i < data->n; i++) {
        for (j = 0; j < data->d; j++)
            train->input[i][j] = data->X[(size_t)i * (size_t)data->d + (size_t)j];
        for (j = 0; j < data->k; j++)
            train->output[i][j] = (fann_type)(j == data->y[i] ? 1 : 0);
    }
    return train;
}

int main(int argc, char **argv)
{
    bench_data train_data, predict_data;
    struct fann_train_data *train;
    struct fann *ann;
    unsigned int layers[16];
    unsigned int num_layers, l;
    int have_predict;
    char line[256];

    if (argc < 4)
        die("usage: fann_driver TRAIN_FILE PREDICT_FILE H1 [H2 ...]");
    if (argc - 3 > 14)
        die("at most 14 hidden layers");

    read_data(argv[1], &train_data);
    have_predict = strcmp(argv[2], "-") != 0;
    if (have_predict) {
        read_data(argv[2], &predict_data);
        if (predict_data.d != train_data.d)
            die("predict file has a different number of columns");
    }

    num_layers = (unsigned int)(argc - 3 + 2);
    layers[0] = (unsigned int)train_data.d;
    for (l = 1; l + 1 < num_layers; l++) {
        int h = atoi(argv[2 + l]);
        if (h <= 0)
            die("hidden sizes must be positive integers");
        layers[l] = (unsigned int)h;
    }
    layers[num_layers - 1] = (unsigned int)train_data.k;

    ann = fann_create_standard_array(num_layers, layers);
    if (ann == NULL)
        die("fann_create_standard_array failed");
    srand(0);
    fann_randomize_weights(ann, (fann_type)-0.1, (fann_type)0.1);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_hidden(ann, (fann_type)0.5); /* 1/(1+e^-a) */
    fann_set_activation_steepness_output(ann, (fann_type)0.5);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_learning_rate(ann, 0.01f);
    fann_set_learning_momentum(ann, 0.0f);
    train = to_fann_train(&train_data);

    printf("{\"ready\": true, \"fann_type_bytes\": %d, \"layers\": %u, \"rows\": %d}\n",
           (int)sizeof(fann_type), num_layers, train_data.n);
    fflush(stdout);

    while (fgets(line, sizeof line, stdin) != NULL) {
        if (strncmp(line, "train", 5) == 0) {
            double t0 = now_seconds(), t1;
            float mse = fann_train_epoch(ann, train);
            t1 = now_seconds();
            printf("{\"seconds\": %.9g, \"rows\": %d, \"samples_per_s\": %.9g, \"mse\": %.9g}\n",
                   t1 - t0, train_data.n, (double)train_data.n / (t1 - t0), (double)mse);
        } else if (strncmp(line, "predict", 7) == 0) {
            double t0, t1, checksum = 0.0;
            int32_t i;
            if (!have_predict)
                die("predict requested but PREDICT_FILE was '-'");
            t0 = now_seconds();
            for (i = 0; i < predict_data.n; i++) {
                fann_type *out = fann_run(ann, predict_data.X + (size_t)i * (size_t)predict_data.d);
                checksum += (double)out[0]; /* keeps the work observable */
            }
            t1 = now_seconds();
            printf("{\"seconds\": %.9g, \"rows\": %d, \"samples_per_s\": %.9g, \"checksum\": %.9g}\n",
                   t1 - t0, predict_data.n, (double)predict_data.n / (t1 - t0), checksum);
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        } else {
            die("unknown command (expected train, predict or quit)");
        }
        fflush(stdout);
    }

    fann_destroy_train(train);
    fann_destroy(ann);
    free(train_data.X);
    free(train_data.y);
    if (have_predict) {
        free(predict_data.X);
        free(predict_data.y);
    }
    return 0;
}
