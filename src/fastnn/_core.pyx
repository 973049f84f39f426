# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Bridge between fastnn's Python layer and the C engine (csrc/fnn.h).

Plumbing only: the arrays arrive already validated and converted by Python (contiguous, one
dtype, intp indices, int32 labels); this module checks shapes once more before C sees a pointer,
dispatches float32/float64, releases the GIL around the C calls and turns status codes into
exceptions. Weights are the engine's flat buffer (see ``fastnn.network`` for the layout).
"""
from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from libc.stdint cimport int32_t

cimport cython
from cython cimport floating

import sys

import numpy as np


# Rows per GEMM in batched prediction and loss evaluation.
DEFAULT_PREDICT_BATCH = 512
# Engine calls are split into chunks of about this many weight touches, so that Ctrl-C is
# noticed within milliseconds even for wide layers (see _forward_all; the training loops size
# their chunks by it too).
WORK_PER_CHUNK = 1 << 23

OUTPUT_SOFTMAX = FNN_OUTPUT_SOFTMAX
OUTPUT_SIGMOID = FNN_OUTPUT_SIGMOID
OUTPUT_MULTILABEL = FNN_OUTPUT_MULTILABEL
OUTPUT_IDENTITY = FNN_OUTPUT_IDENTITY
# The outputs whose truth is real-valued targets (n_rows, K) rather than integer labels.
TARGET_OUTPUTS = (FNN_OUTPUT_MULTILABEL, FNN_OUTPUT_IDENTITY)
ACTIVATION_LOGISTIC = FNN_ACTIVATION_LOGISTIC
ACTIVATION_TANH = FNN_ACTIVATION_TANH
ACTIVATION_RELU = FNN_ACTIVATION_RELU
ACTIVATION_IDENTITY = FNN_ACTIVATION_IDENTITY
ACTIVATION_LEAKY_RELU = FNN_ACTIVATION_LEAKY_RELU
LEAKY_SLOPE = FNN_LEAKY_SLOPE
# Samples per run of deferred first-layer updates (part of the per-sample work size).
DEFERRED_ROWS = FNN_DEFERRED_ROWS


# BLAS's Fortran GEMMs, as scipy.linalg.cython_blas exports them; found on first use (load_blas),
# so that importing this module does not import scipy.linalg.
ctypedef void (*_blas_dgemm)(char *transa, char *transb, int *m, int *n, int *k, double *alpha,
                             double *a, int *lda, double *b, int *ldb, double *beta, double *c,
                             int *ldc) noexcept nogil
ctypedef void (*_blas_sgemm)(char *transa, char *transb, int *m, int *n, int *k, float *alpha,
                             float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                             int *ldc) noexcept nogil
cdef _blas_dgemm dgemm = NULL
cdef _blas_sgemm sgemm = NULL


cdef void *_capsule_pointer(capsule) except NULL:
    return PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))


def load_blas():
    """Make the GEMMs of the batched paths available: import ``scipy.linalg.cython_blas`` once.

    The batched functions call this themselves before they release the GIL (the GIL makes the
    first call's loading atomic). Call it first to have scipy's BLAS library loaded before
    something inspects the loaded libraries (e.g. threadpoolctl limiting BLAS threads).
    """
    global dgemm, sgemm
    if dgemm is not NULL:
        return
    from scipy.linalg import cython_blas

    capi = cython_blas.__pyx_capi__
    cdef _blas_sgemm single = <_blas_sgemm>_capsule_pointer(capi["sgemm"])
    cdef _blas_dgemm double_ = <_blas_dgemm>_capsule_pointer(capi["dgemm"])
    sgemm = single
    dgemm = double_  # last: a non-NULL dgemm means both are there


cdef void _gemm(int trans_a, int trans_b, fnn_index m, fnn_index n, fnn_index k, floating alpha,
                const floating *A, fnn_index lda, const floating *B, fnn_index ldb, floating beta,
                floating *C, fnn_index ldc) noexcept nogil:
    """The engine's ``fnn_gemm_f64`` (``_gemm[double]``) and ``fnn_gemm_f32`` (``_gemm[float]``)."""
    # Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef int m_ = <int>m, n_ = <int>n, k_ = <int>k, lda_ = <int>lda, ldb_ = <int>ldb, ldc_ = <int>ldc
    if floating is double:
        dgemm(&tb, &ta, &n_, &m_, &k_, &alpha, <double *>B, &ldb_, <double *>A, &lda_, &beta, C, &ldc_)
    else:
        sgemm(&tb, &ta, &n_, &m_, &k_, &alpha, <float *>B, &ldb_, <float *>A, &lda_, &beta, C, &ldc_)


cdef int _raise_for_status(int status) except -1:
    if status != FNN_OK:
        raise ValueError(f"fastnn engine: {fnn_strerror(status).decode()} (status {status})")
    return 0


# Weight and work buffers start on a cache line: the kernels' 32-byte vector loads and stores
# then never straddle two lines (a split store costs about as much as two).
ALIGNMENT = 64


def aligned_zeros(Py_ssize_t n, dtype):
    """A zero-filled 1-D array of ``n`` elements whose data start on a 64-byte boundary.

    Parameters
    ----------
    n : int
    dtype : numpy dtype

    Returns
    -------
    ndarray of shape (n,)
        A view into a slightly larger byte buffer.
    """
    dtype = np.dtype(dtype)
    raw = np.zeros(n * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + n * dtype.itemsize].view(dtype)


def aligned_copy(array):
    """A copy of a 1-D array in a buffer from :func:`aligned_zeros`."""
    out = aligned_zeros(array.shape[0], array.dtype)
    out[:] = array
    return out


def ensure_aligned(array):
    """``array`` itself if its data start on a 64-byte boundary, else :func:`aligned_copy` of it."""
    return array if array.ctypes.data % ALIGNMENT == 0 else aligned_copy(array)


include "_core_structs.pxi"


cdef int _check_call(Architecture arch, Py_ssize_t n_weights, Dataset data, object dtype) except -1:
    if arch.dtype != dtype:
        raise TypeError(f"the weights are {np.dtype(dtype)} but the architecture lays out {arch.dtype}")
    if n_weights != fnn_weight_count(&arch.net):
        raise ValueError(f"weight buffer has {n_weights} elements, the architecture needs "
                         f"{fnn_weight_count(&arch.net)}")
    if data.n_features != arch.sizes[0]:
        raise ValueError(f"data has {data.n_features} features, the network expects {arch.sizes[0]}")
    if data.dtype != dtype:
        raise TypeError(f"data is {data.dtype} but the weights are {dtype}")
    if data.targets is not None and data.targets.shape[1] != arch.sizes[arch.sizes.shape[0] - 1]:
        raise ValueError(f"targets have {data.targets.shape[1]} columns, the network has "
                         f"{arch.sizes[arch.sizes.shape[0] - 1]} outputs")
    return 0


cdef int _require_truth(Architecture arch, Dataset data, str what) except -1:
    """The labels or targets the architecture's output needs, present in ``data``."""
    if arch.net.output in TARGET_OUTPUTS:
        if data.targets is None:
            raise ValueError(f"{what} needs targets")
    elif data.labels is None:
        raise ValueError(f"{what} needs labels")
    return 0


def sgd_epoch(Architecture arch, floating[::1] W, Dataset data, const fnn_index[::1] order,
              double learning_rate, double l2=0.0, Py_ssize_t chunk=1024, stop=None,
              shared=None, snapshot=None):
    """One per-sample SGD pass over ``data`` rows in ``order``, updating ``W`` in place.

    The GIL is released around the engine; between chunks of ``chunk`` samples the GIL is
    taken back to let signal handlers run, so Ctrl-C interrupts between two samples (the
    weights then hold a consistent state). ``stop``, a one-element int8 array shared with
    other threads, ends the pass early at the next chunk boundary once it is non-zero.

    With ``shared`` and ``snapshot`` (arrays like ``W``), ``W`` is a thread's private copy in
    lock-free parallel SGD: after each chunk it is published to ``shared`` (see
    ``fnn_publish`` in ``fnn.h``: ``shared += W - snapshot``, then ``W = snapshot = shared``).

    Returns
    -------
    loss_sum : float
        Sum over the visited samples of ``sample_weight * J`` (the output's loss), each measured
        just before that sample's update.
    """
    _check_call(arch, W.shape[0], data, np.float64 if floating is double else np.float32)
    _require_truth(arch, data, "training")
    cdef fnn_sgd sgd
    sgd.learning_rate = learning_rate
    sgd.l2 = l2
    cdef floating[::1] work = aligned_zeros(work_size(arch), np.float64 if floating is double else np.float32)
    return _chunked_pass(arch, W, NULL, data, order, &sgd, NULL, False, max(chunk, 1), work, stop, shared, snapshot)


cdef double _chunked_pass(Architecture arch, floating[::1] W, floating *state, Dataset data,
                          const fnn_index[::1] order, fnn_sgd *sgd, fnn_optimizer *opt, bint batched,
                          Py_ssize_t step, floating[::1] work, stop, shared, snapshot) except? -1:
    """The loop of the training passes: ``order`` goes to the engine ``step`` entries at a time.

    The entry point: ``fnn_sgd_epoch`` (``opt`` NULL) or ``fnn_optim_epoch``, their
    ``_minibatch_`` forms if ``batched``. The GIL is released for each chunk and signals are
    checked after it; ``stop`` and the publication to ``shared`` work as :func:`sgd_epoch` says.
    Returns the loss sum; ``opt.t`` counts on in place.
    """
    cdef floating[::1] shared_view, snapshot_view
    cdef bint publish = _publication(W, shared, snapshot)
    if publish:
        shared_view, snapshot_view = shared, snapshot
    cdef double loss_sum = 0.0
    cdef Py_ssize_t start = 0, end, n_order = order.shape[0]
    cdef int status = FNN_OK
    cdef const signed char[::1] stop_flag = stop if stop is not None else np.zeros(1, np.int8)
    while start < n_order:
        if stop_flag[0]:
            break
        end = min(start + step, n_order)
        with nogil:
            if floating is double:
                if opt is NULL and batched:
                    status = fnn_minibatch_epoch_f64(&arch.net, &W[0], &data.c64, &order[start], end - start,
                                                     sgd, _gemm[double], &work[0], &loss_sum)
                elif opt is NULL:
                    status = fnn_sgd_epoch_f64(&arch.net, &W[0], &data.c64, &order[start], end - start, sgd,
                                               &work[0], &loss_sum)
                elif batched:
                    status = fnn_optim_minibatch_epoch_f64(&arch.net, &W[0], state, &data.c64, &order[start],
                                                           end - start, sgd, opt, _gemm[double], &work[0], &loss_sum)
                else:
                    status = fnn_optim_epoch_f64(&arch.net, &W[0], state, &data.c64, &order[start], end - start,
                                                 sgd, opt, &work[0], &loss_sum)
            else:
                if opt is NULL and batched:
                    status = fnn_minibatch_epoch_f32(&arch.net, &W[0], &data.c32, &order[start], end - start,
                                                     sgd, _gemm[float], &work[0], &loss_sum)
                elif opt is NULL:
                    status = fnn_sgd_epoch_f32(&arch.net, &W[0], &data.c32, &order[start], end - start, sgd,
                                               &work[0], &loss_sum)
                elif batched:
                    status = fnn_optim_minibatch_epoch_f32(&arch.net, &W[0], state, &data.c32, &order[start],
                                                           end - start, sgd, opt, _gemm[float], &work[0], &loss_sum)
                else:
                    status = fnn_optim_epoch_f32(&arch.net, &W[0], state, &data.c32, &order[start], end - start,
                                                 sgd, opt, &work[0], &loss_sum)
            if publish and status == FNN_OK:
                _publish(shared_view, W, snapshot_view)
        _raise_for_status(status)
        PyErr_CheckSignals()
        start = end
    return loss_sum


cdef void _publish(floating[::1] shared, floating[::1] local, floating[::1] snapshot) noexcept nogil:
    """``fnn_publish``: shared += local - snapshot, then local = snapshot = shared."""
    if floating is double:
        fnn_publish_f64(&shared[0], &local[0], &snapshot[0], local.shape[0])
    else:
        fnn_publish_f32(&shared[0], &local[0], &snapshot[0], local.shape[0])


cdef bint _publication(floating[::1] W, shared, snapshot) except -1:
    """Whether the epoch publishes to ``shared`` (both given, each shaped like ``W``)."""
    if shared is None and snapshot is None:
        return False
    if shared is None or snapshot is None:
        raise ValueError("shared and snapshot go together")
    for name, array in (("shared", shared), ("snapshot", snapshot)):
        if array.dtype != np.asarray(W).dtype or array.shape != (W.shape[0],):
            raise ValueError(f"{name} must be shaped and typed like the weights")
    return True


def minibatch_epoch(Architecture arch, floating[::1] W, Dataset data, const fnn_index[::1] order,
                    double learning_rate, double l2, Py_ssize_t batch_size, Py_ssize_t chunk=1024,
                    stop=None, shared=None, snapshot=None):
    """One mini-batch SGD pass over ``data`` rows in ``order`` (BLAS GEMMs), updating ``W``.

    Batches are consecutive runs of ``batch_size`` entries of ``order``; each update is
    ``W <- W - learning_rate * (mean batch gradient + l2 * W_nonbias)``. Signals are checked
    between chunks of about ``chunk`` rows (whole batches), and ``shared``/``snapshot`` publish
    after each chunk, as in :func:`sgd_epoch`.

    Returns
    -------
    loss_sum : float
        Sum of the samples' weighted losses, each measured before its batch's update.
    """
    dtype = np.float64 if floating is double else np.float32
    _check_call(arch, W.shape[0], data, dtype)
    _require_truth(arch, data, "training")
    cdef Py_ssize_t n_order = order.shape[0]
    work_elements = batch_work_size(arch, batch_size, n_order, data.indptr is not None)
    batch_size = min(batch_size, max(n_order, 1))  # a batch larger than the rows visited is those rows
    load_blas()
    cdef fnn_sgd sgd
    sgd.learning_rate, sgd.l2, sgd.batch_size = learning_rate, l2, batch_size
    cdef floating[::1] work = aligned_zeros(work_elements, dtype)
    return _chunked_pass(arch, W, NULL, data, order, &sgd, NULL, True, max(1, chunk // batch_size) * batch_size,
                         work, stop, shared, snapshot)


def _forward_all(Architecture arch, const floating[::1] W, Dataset data, out, Py_ssize_t batch_size):
    """Batched forward pass of every row: outputs into ``out`` (an array, or None), returns the loss sum.

    Rows go to the engine in chunks of about ``WORK_PER_CHUNK`` weight touches, the GIL released
    for each; signal handlers run between chunks, so Ctrl-C is seen within milliseconds.
    """
    dtype = np.float64 if floating is double else np.float32
    _check_call(arch, W.shape[0], data, dtype)
    work_elements = batch_work_size(arch, batch_size, data.n_rows, data.indptr is not None)
    batch_size = min(batch_size, data.n_rows)  # a batch larger than the data is the data
    load_blas()
    cdef floating[::1] work = aligned_zeros(work_elements, dtype)
    cdef floating[:, ::1] out_view
    cdef floating *out_ptr = NULL
    if out is not None:
        out_view = out
        out_ptr = &out_view[0, 0]
    cdef Py_ssize_t K = arch.sizes[arch.sizes.shape[0] - 1]
    cdef Py_ssize_t chunk = max(batch_size, <Py_ssize_t>WORK_PER_CHUNK // max(1, fnn_weight_count(&arch.net)))
    cdef Py_ssize_t first = 0, count
    cdef double total = 0.0
    cdef int status
    while first < data.n_rows:
        count = min(chunk, data.n_rows - first)
        with nogil:
            if floating is double:
                status = fnn_predict_batched_f64(&arch.net, &W[0], &data.c64, first, count, batch_size,
                                                 _gemm[double], out_ptr + first * K if out_ptr else NULL,
                                                 &work[0], &total)
            else:
                status = fnn_predict_batched_f32(&arch.net, &W[0], &data.c32, first, count, batch_size,
                                                 _gemm[float], out_ptr + first * K if out_ptr else NULL,
                                                 &work[0], &total)
        _raise_for_status(status)
        PyErr_CheckSignals()
        first += count
    return total


def predict(Architecture arch, const floating[::1] W, Dataset data, Py_ssize_t batch_size=DEFAULT_PREDICT_BATCH):
    """Output-layer values of every row, ``(n_rows, K)``: softmax probabilities, p(y=1), the K sigmoids or the identity's values.

    ``batch_size > 1`` sends that many rows at a time through each layer as one GEMM (BLAS);
    ``batch_size == 1`` runs the per-sample kernels, which need no BLAS.
    """
    dtype = np.float64 if floating is double else np.float32
    _check_call(arch, W.shape[0], data, dtype)
    out = np.empty((data.n_rows, arch.sizes[arch.sizes.shape[0] - 1]), dtype=dtype)
    cdef floating[:, ::1] out_view = out
    cdef floating[::1] work
    cdef int status
    if batch_size > 1:
        _forward_all(arch, W, data, out, batch_size)
        return out
    work = aligned_zeros(work_size(arch), dtype)
    with nogil:
        if floating is double:
            status = fnn_predict_f64(&arch.net, &W[0], &data.c64, &out_view[0, 0], &work[0])
        else:
            status = fnn_predict_f32(&arch.net, &W[0], &data.c32, &out_view[0, 0], &work[0])
    _raise_for_status(status)
    return out


def loss_sum(Architecture arch, const floating[::1] W, Dataset data, Py_ssize_t batch_size=DEFAULT_PREDICT_BATCH):
    """Sum over rows of ``sample_weight * J``, J the output's loss (computed from the logits; see ``fnn.h``).

    ``batch_size`` chooses the GEMM (> 1) or per-sample (1) forward pass, as in :func:`predict`.
    """
    dtype = np.float64 if floating is double else np.float32
    _check_call(arch, W.shape[0], data, dtype)
    _require_truth(arch, data, "the loss")
    if batch_size > 1:
        return _forward_all(arch, W, data, None, batch_size)
    cdef floating[::1] work = aligned_zeros(work_size(arch), dtype)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is double:
            status = fnn_loss_f64(&arch.net, &W[0], &data.c64, &work[0], &total)
        else:
            status = fnn_loss_f32(&arch.net, &W[0], &data.c32, &work[0], &total)
    _raise_for_status(status)
    return total


def gradient(Architecture arch, const floating[::1] W, Dataset data, Py_ssize_t row):
    """Gradient of row ``row``'s loss w.r.t. the flat weights, by the engine's backward pass.

    Returns
    -------
    grad : ndarray, same shape and dtype as ``W``
    loss : float
    """
    dtype = np.float64 if floating is double else np.float32
    _check_call(arch, W.shape[0], data, dtype)
    _require_truth(arch, data, "the gradient")
    grad = np.empty(W.shape[0], dtype=dtype)
    cdef floating[::1] grad_view = grad
    cdef floating[::1] work = aligned_zeros(work_size(arch), dtype)
    cdef double loss = 0.0
    cdef int status
    with nogil:
        if floating is double:
            status = fnn_gradient_f64(&arch.net, &W[0], &data.c64, row, &grad_view[0], &work[0], &loss)
        else:
            status = fnn_gradient_f32(&arch.net, &W[0], &data.c32, row, &grad_view[0], &work[0], &loss)
    _raise_for_status(status)
    return grad, loss


def activate(int activation, floating[::1] z):
    """``z <- g(z)`` in place for the hidden activation ``activation``, as the kernels compute it."""
    cdef int status
    with nogil:
        if floating is double:
            status = fnn_activate_f64(activation, &z[0], z.shape[0]) if z.shape[0] else FNN_OK
        else:
            status = fnn_activate_f32(activation, &z[0], z.shape[0]) if z.shape[0] else FNN_OK
    _raise_for_status(status)


include "_core_optim.pxi"
