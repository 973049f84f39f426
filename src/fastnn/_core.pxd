from libc.stdint cimport int32_t, int64_t


cdef extern from "fnn.h" nogil:
    ctypedef Py_ssize_t fnn_index

    int FNN_OK
    int FNN_ERROR_LAYERS
    int FNN_ERROR_LABEL
    int FNN_ERROR_INDEX
    int FNN_ERROR_SIZE
    int FNN_ERROR_OUTPUT
    int FNN_ERROR_PADDING
    int FNN_ERROR_FEATURES
    int FNN_ERROR_BATCH
    int FNN_ERROR_LAYOUT
    int FNN_ERROR_ACTIVATION
    int FNN_ERROR_TARGET
    int FNN_ERROR_OPTIMIZER
    int FNN_OPTIMIZER_SGD
    int FNN_OPTIMIZER_MOMENTUM
    int FNN_OPTIMIZER_NESTEROV
    int FNN_OPTIMIZER_ADAM
    int FNN_OUTPUT_SOFTMAX
    int FNN_OUTPUT_SIGMOID
    int FNN_OUTPUT_MULTILABEL
    int FNN_OUTPUT_IDENTITY
    int FNN_ACTIVATION_LOGISTIC
    int FNN_ACTIVATION_TANH
    int FNN_ACTIVATION_RELU
    int FNN_ACTIVATION_IDENTITY
    int FNN_ACTIVATION_LEAKY_RELU
    double FNN_LEAKY_SLOPE

    int FNN_PAD_UNITS_F64
    int FNN_PAD_UNITS_F32
    int FNN_DEFERRED_ROWS

    ctypedef struct fnn_net:
        int n_layers
        const fnn_index *sizes
        int output
        fnn_index pad_units
        const int *activation
        const fnn_index *width
        const fnn_index *offset
        fnn_index z_total
        fnn_index widest

    ctypedef struct fnn_sgd:
        double learning_rate
        double l2
        fnn_index batch_size

    ctypedef struct fnn_optimizer:
        int method
        double momentum
        double beta_1
        double beta_2
        double epsilon
        int64_t t

    ctypedef void (*fnn_gemm_f64)(int trans_a, int trans_b, fnn_index m, fnn_index n, fnn_index k,
                                  double alpha, const double *A, fnn_index lda, const double *B,
                                  fnn_index ldb, double beta, double *C, fnn_index ldc) noexcept nogil
    ctypedef void (*fnn_gemm_f32)(int trans_a, int trans_b, fnn_index m, fnn_index n, fnn_index k,
                                  float alpha, const float *A, fnn_index lda, const float *B,
                                  fnn_index ldb, float beta, float *C, fnn_index ldc) noexcept nogil

    ctypedef struct fnn_data_f64:
        const double *values
        const fnn_index *indptr
        const fnn_index *indices
        fnn_index n_rows
        fnn_index n_features
        const int32_t *labels
        const double *targets
        const double *sample_weight

    ctypedef struct fnn_data_f32:
        const float *values
        const fnn_index *indptr
        const fnn_index *indices
        fnn_index n_rows
        fnn_index n_features
        const int32_t *labels
        const float *targets
        const float *sample_weight

    int fnn_check_net(const fnn_net *net)
    int fnn_layout(fnn_net *net, fnn_index *width, fnn_index *offset)
    const char *fnn_strerror(int status)
    fnn_index fnn_padded_width(const fnn_net *net, fnn_index n_out)
    fnn_index fnn_weight_count(const fnn_net *net)
    fnn_index fnn_layer_offset(const fnn_net *net, int layer)
    fnn_index fnn_work_size(const fnn_net *net)
    fnn_index fnn_batch_work_size(const fnn_net *net, fnn_index batch_size, int sparse_input)

    int fnn_sgd_epoch_f64(const fnn_net *net, double *W, const fnn_data_f64 *data,
                          const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd,
                          double *work, double *loss_sum)
    int fnn_sgd_epoch_f32(const fnn_net *net, float *W, const fnn_data_f32 *data,
                          const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd,
                          float *work, double *loss_sum)
    int fnn_predict_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data,
                        double *output, double *work)
    int fnn_predict_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data,
                        float *output, float *work)
    int fnn_loss_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data,
                     double *work, double *loss_sum)
    int fnn_loss_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data,
                     float *work, double *loss_sum)
    int fnn_gradient_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data,
                         fnn_index row, double *G, double *work, double *loss)
    int fnn_gradient_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data,
                         fnn_index row, float *G, float *work, double *loss)
    int fnn_minibatch_epoch_f64(const fnn_net *net, double *W, const fnn_data_f64 *data,
                                const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd,
                                fnn_gemm_f64 gemm, double *work, double *loss_sum)
    int fnn_minibatch_epoch_f32(const fnn_net *net, float *W, const fnn_data_f32 *data,
                                const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd,
                                fnn_gemm_f32 gemm, float *work, double *loss_sum)
    int fnn_activate_f64(int activation, double *z, fnn_index n)
    int fnn_activate_f32(int activation, float *z, fnn_index n)
    void fnn_publish_f64(double *shared, double *local, double *snapshot, fnn_index n)
    void fnn_publish_f32(float *shared, float *local, float *snapshot, fnn_index n)
    int fnn_predict_batched_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data,
                                fnn_index first, fnn_index n_rows, fnn_index batch_size,
                                fnn_gemm_f64 gemm, double *output, double *work, double *loss_sum)
    int fnn_predict_batched_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data,
                                fnn_index first, fnn_index n_rows, fnn_index batch_size,
                                fnn_gemm_f32 gemm, float *output, float *work, double *loss_sum)
    int fnn_check_optimizer(const fnn_optimizer *opt)
    fnn_index fnn_state_size(const fnn_net *net, int method)
    fnn_index fnn_optim_batch_work_size(const fnn_net *net, fnn_index batch_size, int sparse_input)
    int fnn_optim_epoch_f64(const fnn_net *net, double *W, double *state, const fnn_data_f64 *data,
                            const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd, fnn_optimizer *opt,
                            double *work, double *loss_sum)
    int fnn_optim_epoch_f32(const fnn_net *net, float *W, float *state, const fnn_data_f32 *data,
                            const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd, fnn_optimizer *opt,
                            float *work, double *loss_sum)
    int fnn_optim_minibatch_epoch_f64(const fnn_net *net, double *W, double *state, const fnn_data_f64 *data,
                                      const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd,
                                      fnn_optimizer *opt, fnn_gemm_f64 gemm, double *work, double *loss_sum)
    int fnn_optim_minibatch_epoch_f32(const fnn_net *net, float *W, float *state, const fnn_data_f32 *data,
                                      const fnn_index *order, fnn_index n_order, const fnn_sgd *sgd,
                                      fnn_optimizer *opt, fnn_gemm_f32 gemm, float *work, double *loss_sum)
    int fnn_gradient_batched_f64(const fnn_net *net, const double *W, const fnn_data_f64 *data, fnn_index first,
                                 fnn_index n_rows, fnn_index batch_size, fnn_gemm_f64 gemm, double *G,
                                 double *work, double *loss_sum)
    int fnn_gradient_batched_f32(const fnn_net *net, const float *W, const fnn_data_f32 *data, fnn_index first,
                                 fnn_index n_rows, fnn_index batch_size, fnn_gemm_f32 gemm, float *G,
                                 float *work, double *loss_sum)
