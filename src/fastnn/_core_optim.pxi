# The optimizers and the full-batch gradient of the engine (csrc/fnn_optim.inc), included by
# _core.pyx: plumbing only, as the rest of the bridge.

OPTIMIZER_SGD = FNN_OPTIMIZER_SGD
OPTIMIZER_MOMENTUM = FNN_OPTIMIZER_MOMENTUM
OPTIMIZER_NESTEROV = FNN_OPTIMIZER_NESTEROV
OPTIMIZER_ADAM = FNN_OPTIMIZER_ADAM


def state_size(Architecture arch, int method):
    """Elements of the optimizer state of ``method`` (``fnn_state_size``): 0, 1 or 2 weight counts.

    Raises
    ------
    ValueError
        An unknown method.
    """
    cdef fnn_index size = fnn_state_size(&arch.net, method)
    if size < 0:
        raise ValueError(f"unknown optimizer method {method} (or a state too large for the engine)")
    return size


cdef int _fill_optimizer(fnn_optimizer *opt, int method, double momentum, double beta_1, double beta_2,
                         double epsilon, long long t) except -1:
    opt.method, opt.momentum, opt.beta_1, opt.beta_2, opt.epsilon, opt.t = method, momentum, beta_1, beta_2, epsilon, t
    _raise_for_status(fnn_check_optimizer(opt))
    return 0


def optim_epoch(Architecture arch, floating[::1] W, floating[::1] state, Dataset data, const fnn_index[::1] order,
                double learning_rate, double l2, Py_ssize_t batch_size, int method, double momentum=0.0,
                double beta_1=0.9, double beta_2=0.999, double epsilon=1e-8, long long t=0,
                Py_ssize_t chunk=1024, stop=None, shared=None, snapshot=None):
    """One pass over ``data`` rows in ``order`` with the optimizer ``method``, updating ``W`` and ``state``.

    ``batch_size == 1``: one update per sample (``fnn_optim_epoch``); larger: one per run of
    ``batch_size`` entries of ``order`` with the mean gradient (``fnn_optim_minibatch_epoch``,
    BLAS GEMMs). The update rules are those of ``fnn.h`` (scikit-learn's); ``state`` holds
    :func:`state_size` elements in the layout of ``W``. Chunks, ``stop``, ``shared`` and
    ``snapshot`` work as in :func:`sgd_epoch` (only the weights are published).

    Returns
    -------
    loss_sum : float
        Sum of the samples' weighted losses, each measured before its update.
    t : int
        Adam's count of updates after the pass (``t`` plus the updates made).
    """
    dtype = np.float64 if floating is double else np.float32
    _check_call(arch, W.shape[0], data, dtype)
    _require_truth(arch, data, "training")
    if state.shape[0] != state_size(arch, method):
        raise ValueError(f"the optimizer state has {state.shape[0]} elements, method {method} needs "
                         f"{state_size(arch, method)}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cdef fnn_optimizer opt
    _fill_optimizer(&opt, method, momentum, beta_1, beta_2, epsilon, t)
    cdef Py_ssize_t n_order = order.shape[0]
    batch_size = min(batch_size, max(n_order, 1))
    cdef bint batched = batch_size > 1
    if batched:
        load_blas()
        size = fnn_optim_batch_work_size(&arch.net, batch_size, data.indptr is not None)
        if size < 0:
            raise ValueError("the batch is too large for the engine's index range")
    else:
        size = work_size(arch)
    cdef fnn_sgd sgd
    sgd.learning_rate, sgd.l2, sgd.batch_size = learning_rate, l2, batch_size
    cdef floating[::1] work = aligned_zeros(size, dtype)
    cdef floating *state_ptr = &state[0] if state.shape[0] else NULL
    loss_sum = _chunked_pass(arch, W, state_ptr, data, order, &sgd, &opt, batched,
                             max(1, max(chunk, 1) // batch_size) * batch_size, work, stop, shared, snapshot)
    return loss_sum, opt.t


def gradient_sum(Architecture arch, const floating[::1] W, Dataset data, Py_ssize_t batch_size=DEFAULT_PREDICT_BATCH):
    """Full-batch gradient: ``sum_r sample_weight_r dJ_r/dW`` over every row, and the loss sum.

    The engine's ``fnn_gradient_batched``, ``batch_size`` rows per GEMM, in chunks of about
    ``WORK_PER_CHUNK`` weight touches with the GIL released (Ctrl-C is seen between chunks). No
    L2 term; the padding of the result is zero.

    Returns
    -------
    grad : ndarray, shaped and typed like ``W`` (in a 64-byte aligned buffer)
    loss_sum : float
    """
    dtype = np.float64 if floating is double else np.float32
    _check_call(arch, W.shape[0], data, dtype)
    _require_truth(arch, data, "the gradient")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    work_elements = batch_work_size(arch, batch_size, data.n_rows, data.indptr is not None)
    batch_size = min(batch_size, max(data.n_rows, 1))
    load_blas()
    grad = aligned_zeros(W.shape[0], dtype)
    cdef floating[::1] grad_view = grad
    cdef floating[::1] work = aligned_zeros(work_elements, dtype)
    cdef Py_ssize_t chunk = max(batch_size, <Py_ssize_t>WORK_PER_CHUNK // max(1, fnn_weight_count(&arch.net)))
    chunk = max(1, chunk // batch_size) * batch_size
    cdef Py_ssize_t first = 0, count
    cdef double total = 0.0
    cdef int status
    while first < data.n_rows:
        count = min(chunk, data.n_rows - first)
        with nogil:
            if floating is double:
                status = fnn_gradient_batched_f64(&arch.net, &W[0], &data.c64, first, count, batch_size, _gemm[double],
                                                  &grad_view[0], &work[0], &total)
            else:
                status = fnn_gradient_batched_f32(&arch.net, &W[0], &data.c32, first, count, batch_size, _gemm[float],
                                                  &grad_view[0], &work[0], &total)
        _raise_for_status(status)
        PyErr_CheckSignals()
        first += count
    return grad, total
