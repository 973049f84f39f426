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


cdef void _gemm_f64(int trans_a, int trans_b, fnn_index m, fnn_index n, fnn_index k, double alpha,
                    const double *A, fnn_index lda, const double *B, fnn_index ldb, double beta,
                    double *C, fnn_index ldc) noexcept nogil:
    # Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef int m_ = <int>m, n_ = <int>n, k_ = <int>k, lda_ = <int>lda, ldb_ = <int>ldb, ldc_ = <int>ldc
    dgemm(&tb, &ta, &n_, &m_, &k_, &alpha, <double *>B, &ldb_, <double *>A, &lda_, &beta, C, &ldc_)


cdef void _gemm_f32(int trans_a, int trans_b, fnn_index m, fnn_index n, fnn_index k, float alpha,
                    const float *A, fnn_index lda, const float *B, fnn_index ldb, float beta,
                    float *C, fnn_index ldc) noexcept nogil:
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef int m_ = <int>m, n_ = <int>n, k_ = <int>k, lda_ = <int>lda, ldb_ = <int>ldb, ldc_ = <int>ldc
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


cdef fnn_index _pad_units(dtype) except -1:
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return FNN_PAD_UNITS_F64
    if dtype == np.float32:
        return FNN_PAD_UNITS_F32
    raise TypeError(f"the engine computes in float32 or float64, not {dtype}")


def padded_width(Py_ssize_t n_out, dtype):
    """Columns a layer of ``n_out`` units occupies in the engine's weight buffer (zero padded).

    Parameters
    ----------
    n_out : int
    dtype : float64 or float32
        The padding is one 32-byte vector: 4 float64 or 8 float32 columns.
    """
    if n_out < 1:
        raise ValueError("a layer needs at least one unit")
    cdef fnn_net net
    net.pad_units = _pad_units(dtype)
    return fnn_padded_width(&net, n_out)


cdef class Architecture:
    """Layer sizes, hidden activations and output type, as the engine sees them, with the weight
    layout computed once (``fnn_layout``) for every call that uses the architecture.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_features, hidden_1, ..., n_outputs]``; at least two entries, all >= 1.
    output : {OUTPUT_SOFTMAX, OUTPUT_SIGMOID, OUTPUT_MULTILABEL, OUTPUT_IDENTITY}
        Softmax over ``sizes[-1] >= 2`` classes, one sigmoid unit (``sizes[-1] == 1``), or
        ``sizes[-1]`` independent sigmoids or identity units.
    dtype : float64 or float32, default=float64
        The weights' type, which sets the padding of the layout (see :func:`padded_width`).
    activations : sequence of int or None, default=None
        One ``ACTIVATION_*`` code per hidden layer (``len(sizes) - 2``); None: all logistic.
    """
    cdef fnn_net net
    cdef readonly object sizes, dtype, activations, widths, offsets

    def __cinit__(self, sizes, int output, dtype=np.float64, activations=None):
        self.dtype = np.dtype(dtype)
        self.net.pad_units = _pad_units(self.dtype)
        self.sizes = np.ascontiguousarray(sizes, dtype=np.intp)
        if self.sizes.ndim != 1 or self.sizes.shape[0] < 2:
            raise ValueError("sizes must list at least the input and the output layer")
        # the engine's index arithmetic (fnn_index) must not overflow: check in Python integers
        listed = self.sizes.tolist()
        unit = self.net.pad_units
        weights = sum((a + 1) * (-(-b // unit) * unit) for a, b in zip(listed, listed[1:]))  # padded layout
        if min(self.sizes) < 1 or weights > (1 << 57):  # 2^57 weights: 1 EiB of float64
            raise ValueError(f"layer sizes {self.sizes.tolist()} are not positive or too large for the engine")
        cdef const fnn_index[::1] view = self.sizes
        self.net.n_layers = <int>(view.shape[0] - 1)
        self.net.sizes = &view[0]
        self.net.output = output
        n_hidden = view.shape[0] - 2
        if activations is None:
            activations = [FNN_ACTIVATION_LOGISTIC] * n_hidden
        self.activations = np.ascontiguousarray(activations, dtype=np.intc)
        if self.activations.shape != (n_hidden,):
            raise ValueError(f"{self.activations.size} activations for {n_hidden} hidden layers")
        cdef const int[::1] activation_view = self.activations
        self.net.activation = &activation_view[0] if n_hidden else NULL
        self.widths = np.zeros(view.shape[0], dtype=np.intp)
        self.offsets = np.zeros(view.shape[0], dtype=np.intp)
        cdef fnn_index[::1] widths = self.widths
        cdef fnn_index[::1] offsets = self.offsets
        status = fnn_layout(&self.net, &widths[0], &offsets[0])
        if status == FNN_ERROR_SIZE or fnn_weight_count(&self.net) < 0 or fnn_work_size(&self.net) < 0:
            raise ValueError(f"layer sizes {self.sizes.tolist()} are too large for the engine")
        _raise_for_status(status)

    @property
    def output(self):
        """The output type (an ``OUTPUT_*`` code)."""
        return self.net.output

    @property
    def n_weights(self):
        """Number of elements of the flat weight buffer."""
        return fnn_weight_count(&self.net)

    def layer_offset(self, int layer):
        """Offset of ``layer`` in the flat weight buffer (``layer == n_layers`` gives the total)."""
        if layer < 0 or layer > self.net.n_layers:
            raise IndexError(f"layer {layer} out of range")
        return fnn_layer_offset(&self.net, layer)


def work_size(Architecture arch):
    """Elements of the scratch buffer of the per-sample functions (``fnn_work_size``).

    Raises
    ------
    ValueError
        The count does not fit in the engine's index range.
    """
    cdef fnn_index size = fnn_work_size(&arch.net)
    if size < 0:
        raise ValueError(f"layer sizes {arch.sizes.tolist()} are too large for the engine")
    return size


def batch_work_size(Architecture arch, batch_size, n_rows, bint sparse_input):
    """Elements of the scratch buffer of a batched call over ``n_rows`` rows in batches of ``batch_size``.

    A batch larger than the rows the call visits is those rows: the buffer is sized for
    ``min(batch_size, n_rows)`` rows (``fnn_batch_work_size``); CSR input needs no room for
    gathered input rows, so its buffer grows with the hidden and output layers only.

    Parameters
    ----------
    arch : Architecture
    batch_size, n_rows : int
        Any non-negative Python integers (``batch_size >= 1``).
    sparse_input : bool

    Raises
    ------
    ValueError
        ``batch_size < 1``, or the buffer would not fit in memory addresses (its size in bytes
        exceeds the index range); the message says which batch size was asked for.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = min(batch_size, max(n_rows, 1))
    itemsize = arch.dtype.itemsize
    cdef fnn_index size = -1
    if rows <= sys.maxsize:  # fnn_index is Py_ssize_t
        size = fnn_batch_work_size(&arch.net, <fnn_index>rows, sparse_input)
    if size < 0 or size > sys.maxsize // itemsize:
        raise ValueError(f"batches of {rows} rows of layer sizes {arch.sizes.tolist()} need a work buffer "
                         "larger than the address space; use a smaller batch_size")
    return size


cdef class Dataset:
    """Rows for the engine: dense row-major or CSR, with optional labels and sample weights.

    Parameters
    ----------
    values : ndarray of float32 or float64, 1-D, C-contiguous
        Dense: the ``(n_rows, n_features)`` matrix raveled. CSR: the stored entries.
    n_rows, n_features : int
    indptr, indices : ndarray of intp or None
        CSR structure (both or neither).
    labels : ndarray of int32, shape (n_rows,), or None
    sample_weight : ndarray, shape (n_rows,), same dtype as ``values``, or None
    """
    cdef fnn_data_f64 c64
    cdef fnn_data_f32 c32
    cdef readonly object values, indptr, indices, labels, targets, sample_weight, dtype
    cdef readonly Py_ssize_t n_rows, n_features

    def __cinit__(self, values, Py_ssize_t n_rows, Py_ssize_t n_features, indptr=None,
                  indices=None, labels=None, sample_weight=None, targets=None):
        if n_rows < 1 or n_features < 1:
            raise ValueError(f"a dataset needs at least one row and one feature, got ({n_rows}, {n_features})")
        # the kernels load whole numbers: an array whose data are not aligned to its type (a view
        # into a byte buffer at an odd offset, say) is copied once, here
        values, indptr, indices, labels, sample_weight, targets = [
            None if array is None else np.require(array, requirements="A")
            for array in (values, indptr, indices, labels, sample_weight, targets)
        ]
        if targets is not None and (targets.ndim != 2 or targets.shape[0] != n_rows
                                    or not targets.flags.c_contiguous or targets.dtype != values.dtype):
            raise ValueError(f"targets must be a C-contiguous ({n_rows}, K) array of the values' dtype")
        self.values, self.indptr, self.indices = values, indptr, indices
        self.labels, self.sample_weight, self.targets = labels, sample_weight, targets
        self.n_rows, self.n_features = n_rows, n_features
        self.dtype = values.dtype
        if self.dtype == np.float64:
            self._fill_f64()
        elif self.dtype == np.float32:
            self._fill_f32()
        else:
            raise TypeError(f"values must be float32 or float64, got {self.dtype}")

    cdef int _fill_structure(self, const fnn_index **indptr, const fnn_index **indices,
                             const int32_t **labels, Py_ssize_t n_values) except -1:
        cdef const fnn_index[::1] indptr_view
        cdef const fnn_index[::1] indices_view
        cdef const int32_t[::1] label_view
        if (self.indptr is None) != (self.indices is None):
            raise ValueError("CSR data needs both indptr and indices")
        cdef Py_ssize_t r
        if self.indptr is None:
            if n_values != <object>self.n_rows * <object>self.n_features:  # in Python integers: no wrap
                raise ValueError(f"dense values hold {n_values} numbers, expected {self.n_rows} x {self.n_features}")
            indptr[0] = NULL
            indices[0] = NULL
        else:
            indptr_view = self.indptr
            indices_view = self.indices
            if indptr_view.shape[0] != self.n_rows + 1:
                raise ValueError("indptr must have n_rows + 1 entries")
            if indptr_view[0] != 0 or indptr_view[self.n_rows] != n_values \
                    or indices_view.shape[0] != n_values:
                raise ValueError("indptr, indices and values of the CSR data disagree")
            for r in range(self.n_rows):
                if indptr_view[r + 1] < indptr_view[r]:
                    raise ValueError("indptr of the CSR data must not decrease")
            indptr[0] = &indptr_view[0]
            indices[0] = &indices_view[0] if n_values else NULL
        labels[0] = NULL
        if self.labels is not None:
            label_view = self.labels
            if label_view.shape[0] != self.n_rows:
                raise ValueError(f"{label_view.shape[0]} labels for {self.n_rows} rows")
            labels[0] = &label_view[0]
        return 0

    cdef _fill_f64(self):
        cdef const double[::1] values = self.values
        cdef const double[::1] weights
        cdef const double[:, ::1] targets
        self._fill_structure(&self.c64.indptr, &self.c64.indices, &self.c64.labels, values.shape[0])
        self.c64.targets = NULL
        if self.targets is not None and self.targets.size:
            targets = self.targets
            self.c64.targets = &targets[0, 0]
        self.c64.values = &values[0] if values.shape[0] else NULL
        self.c64.n_rows, self.c64.n_features = self.n_rows, self.n_features
        self.c64.sample_weight = NULL
        if self.sample_weight is not None:
            weights = self.sample_weight
            if weights.shape[0] != self.n_rows:
                raise ValueError("sample_weight must have one entry per row")
            self.c64.sample_weight = &weights[0]

    cdef _fill_f32(self):
        cdef const float[::1] values = self.values
        cdef const float[::1] weights
        cdef const float[:, ::1] targets
        self._fill_structure(&self.c32.indptr, &self.c32.indices, &self.c32.labels, values.shape[0])
        self.c32.targets = NULL
        if self.targets is not None and self.targets.size:
            targets = self.targets
            self.c32.targets = &targets[0, 0]
        self.c32.values = &values[0] if values.shape[0] else NULL
        self.c32.n_rows, self.c32.n_features = self.n_rows, self.n_features
        self.c32.sample_weight = NULL
        if self.sample_weight is not None:
            weights = self.sample_weight
            if weights.shape[0] != self.n_rows:
                raise ValueError("sample_weight must have one entry per row")
            self.c32.sample_weight = &weights[0]


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
    cdef floating[::1] shared_view, snapshot_view
    cdef bint publish = _publication(W, shared, snapshot)
    if publish:
        shared_view, snapshot_view = shared, snapshot
    cdef double loss_sum = 0.0
    cdef Py_ssize_t start = 0, end, n_order = order.shape[0]
    cdef int status = FNN_OK
    cdef const signed char[::1] stop_flag = stop if stop is not None else np.zeros(1, np.int8)
    chunk = max(chunk, 1)
    while start < n_order:
        if stop_flag[0]:
            break
        end = min(start + chunk, n_order)
        with nogil:
            if floating is double:
                status = fnn_sgd_epoch_f64(&arch.net, &W[0], &data.c64, &order[start],
                                           end - start, &sgd, &work[0], &loss_sum)
            else:
                status = fnn_sgd_epoch_f32(&arch.net, &W[0], &data.c32, &order[start],
                                           end - start, &sgd, &work[0], &loss_sum)
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
    cdef floating[::1] shared_view, snapshot_view
    cdef bint publish = _publication(W, shared, snapshot)
    if publish:
        shared_view, snapshot_view = shared, snapshot
    cdef double loss_sum = 0.0
    cdef Py_ssize_t start = 0, end
    cdef Py_ssize_t step = max(1, chunk // batch_size) * batch_size
    cdef int status = FNN_OK
    cdef const signed char[::1] stop_flag = stop if stop is not None else np.zeros(1, np.int8)
    while start < n_order:
        if stop_flag[0]:
            break
        end = min(start + step, n_order)
        with nogil:
            if floating is double:
                status = fnn_minibatch_epoch_f64(&arch.net, &W[0], &data.c64, &order[start], end - start,
                                                 &sgd, _gemm_f64, &work[0], &loss_sum)
            else:
                status = fnn_minibatch_epoch_f32(&arch.net, &W[0], &data.c32, &order[start], end - start,
                                                 &sgd, _gemm_f32, &work[0], &loss_sum)
            if publish and status == FNN_OK:
                _publish(shared_view, W, snapshot_view)
        _raise_for_status(status)
        PyErr_CheckSignals()
        start = end
    return loss_sum


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
                                                 _gemm_f64, out_ptr + first * K if out_ptr else NULL,
                                                 &work[0], &total)
            else:
                status = fnn_predict_batched_f32(&arch.net, &W[0], &data.c32, first, count, batch_size,
                                                 _gemm_f32, out_ptr + first * K if out_ptr else NULL,
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
