"""The engine's Python toolkit: weight layout, datasets, and one epoch or forward pass.

Every front end (``Network``, ``MLPClassifier``, the command line) reaches the C engine through
these functions, never through ``_core`` directly, so that one place chooses the kernels (per
sample or GEMM), the BLAS thread limit, the chunking that keeps Ctrl-C responsive, and the
lock-free threads of ``n_jobs``.

Weight layout. Users see layer ``l`` as ``W`` of shape ``(n_out, n_in + 1)`` whose column 0 is
the bias, so that ``z = g(W @ [1, *z_prev])``. The engine keeps all layers in one flat buffer,
each layer stored transposed as ``(n_in + 1, n_out)`` with its columns zero-padded to whole
32-byte SIMD vectors (4 float64 or 8 float32 columns; see ``csrc/fnn.h``), the buffer starting on
a cache line; :func:`pack_weights` and :func:`unpack_weights` convert between the two.
"""

import contextlib
import threading

import numpy as np

from . import _core
from ._validation import issparse

#: The engine's code of each output layer name of ``_validation.OUTPUTS``.
OUTPUT_CODES = {"softmax": _core.OUTPUT_SOFTMAX, "sigmoid": _core.OUTPUT_SIGMOID,
                "multilabel": _core.OUTPUT_MULTILABEL, "identity": _core.OUTPUT_IDENTITY}
#: The engine's code of each hidden activation name of ``_validation.ACTIVATIONS``.
ACTIVATION_CODES = {"logistic": _core.ACTIVATION_LOGISTIC, "tanh": _core.ACTIVATION_TANH,
                    "relu": _core.ACTIVATION_RELU, "identity": _core.ACTIVATION_IDENTITY,
                    "leaky_relu": _core.ACTIVATION_LEAKY_RELU}


def architecture(sizes, output, activations, dtype):
    """The engine's :class:`fastnn._core.Architecture` from names.

    Parameters
    ----------
    sizes : list of int
        ``[n_features, hidden..., n_outputs]``.
    output : str
        One of ``_validation.OUTPUTS``.
    activations : sequence of str
        One of ``_validation.ACTIVATIONS`` per hidden layer.
    dtype : np.float64 or np.float32
    """
    return _core.Architecture(sizes, OUTPUT_CODES[output], dtype, [ACTIVATION_CODES[a] for a in activations])
# With n_jobs > 1, a thread publishes its updates after about this many weight touches, and
# after 16 to 64 samples whatever the network's size. Fewer publications leave each thread
# further behind the other's updates: on OCR large (128-50-10, lr 0.01, 10 shuffled epochs,
# 8 runs per seed) every 256 samples lost 0.4-0.75 points of validation accuracy against the
# serial fit, every 64 samples 0.2; one publication costs about what 4 samples do on that net.
_PUBLISH_WORK = 1 << 21
_PUBLISH_MIN_SAMPLES, _PUBLISH_MAX_SAMPLES = 16, 64
# Prediction and losses go through the layers as GEMMs from this many rows on, and when the pass
# touches at least this many weights: below, the per-sample kernels take well under a
# millisecond, less than loading BLAS (SciPy's, found on first use) and its thread limit would.
_GEMM_MIN_ROWS = 32
_GEMM_MIN_WORK = 1 << 19


def pack_weights(weights, dtype):
    """Copy user-layout weights into the engine's flat buffer.

    Parameters
    ----------
    weights : list of ndarray, each of shape (n_out, n_in + 1)
    dtype : np.float64 or np.float32

    Returns
    -------
    ndarray of shape (n_weights,)
        Each layer transposed to ``(n_in + 1, n_out)``, its columns zero-padded to
        ``_core.padded_width(n_out, dtype)``, raveled; layers concatenated. The buffer starts on a
        64-byte boundary (:func:`fastnn._core.aligned_zeros`).
    """
    weights = [np.asarray(W) for W in weights]
    widths = [_core.padded_width(W.shape[0], dtype) for W in weights]
    flat = _core.aligned_zeros(sum(W.shape[1] * width for W, width in zip(weights, widths)), dtype)
    offset = 0
    for W, width in zip(weights, widths):
        block = flat[offset : offset + W.shape[1] * width].reshape(W.shape[1], width)
        block[:, : W.shape[0]] = W.T
        offset += block.size
    return flat


def unpack_weights(flat, sizes):
    """Inverse of :func:`pack_weights`: a list of new ``(n_out, n_in + 1)`` arrays.

    The layout's padding follows ``flat.dtype``.
    """
    weights, offset = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        width = _core.padded_width(n_out, flat.dtype)
        block = flat[offset : offset + (n_in + 1) * width].reshape(n_in + 1, width)
        weights.append(np.ascontiguousarray(block[:, :n_out].T))
        offset += (n_in + 1) * width
    return weights


def make_dataset(X, dtype, labels=None, sample_weight=None, targets=None):
    """Wrap already-validated ``X`` (dense C-contiguous or CSR of ``dtype``) for the engine, with
    integer ``labels`` (softmax, sigmoid outputs) or ``(n_rows, K)`` ``targets`` of ``dtype``
    (multilabel, identity outputs)."""
    n_rows, n_features = X.shape
    if issparse(X):
        return _core.Dataset(
            X.data, n_rows, n_features,
            indptr=X.indptr.astype(np.intp), indices=X.indices.astype(np.intp),
            labels=labels, sample_weight=sample_weight, targets=targets,
        )
    return _core.Dataset(X.reshape(-1), n_rows, n_features, labels=labels, sample_weight=sample_weight,
                         targets=targets)


class _SingleThreadedBlas:
    """Context manager: BLAS runs on one thread while any fastnn engine call is inside it.

    The engine's GEMMs are small (a mini-batch, a block of rows); a BLAS thread pool gains little
    on them and, when the cores are busy, its threads wait for each other and make the products
    tens of times slower. fastnn's own parallelism is ``n_jobs``. The limit is process-wide
    (that is how BLAS libraries work), taken by the first user and given back by the last, so
    threads of fastnn overlapping each other restore the caller's setting exactly.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._limit = None
        self._controller = None  # found once: looking for the loaded libraries takes milliseconds

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    # the engine's GEMMs are SciPy's BLAS, loaded on first use: load it before
                    # the controller looks for the BLAS libraries in the process, or it misses it
                    _core.load_blas()
                    self._controller = ThreadpoolController()
                self._limit = self._controller.limit(limits=1, user_api="blas")
            self._users += 1
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._limit.restore_original_limits()
                self._limit = None


single_threaded_blas = _SingleThreadedBlas()


def uses_gemm(n_weights, n_rows, batch_size=1):
    """Whether training (``batch_size > 1``) or a forward pass over ``n_rows`` rows goes through GEMMs."""
    return batch_size > 1 or (n_rows >= _GEMM_MIN_ROWS and n_rows * n_weights >= _GEMM_MIN_WORK)


def load_gemm():
    """Load BLAS and the thread limiter now: the first GEMM call pays it (~0.2 s) otherwise."""
    with single_threaded_blas:
        pass


def forward_batch_size(architecture, n_rows):
    """Rows per GEMM for a forward pass over ``n_rows`` rows (1: the per-sample kernels)."""
    return _core.DEFAULT_PREDICT_BATCH if uses_gemm(architecture.n_weights, n_rows) else 1


def predict_outputs(architecture, W, data):
    """Output-layer values of every row of ``data`` (see ``_core.predict``), GEMMs on one BLAS thread.

    Raises
    ------
    ValueError
        Some row's weighted sums overflow into NaN (inputs far larger than in training).
    """
    batch = forward_batch_size(architecture, data.n_rows)
    with single_threaded_blas if batch > 1 else contextlib.nullcontext():
        out = _core.predict(architecture, W, data, batch)
    if not np.isfinite(out).all():
        if not np.isfinite(W).all():
            raise ValueError("the network's weights contain NaN or infinity (set after fitting?); it cannot "
                             "predict: fit it again, or give it finite weights")
        rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
        raise ValueError(f"the network's outputs are NaN for {rows.size} row(s) (first: row {rows[0]}): their "
                         "weighted sums overflow; scale the inputs as they were scaled for training")
    return out


def loss_sum(architecture, W, data):
    """Sum of the rows' weighted losses (see ``_core.loss_sum``), GEMMs on one BLAS thread."""
    batch = forward_batch_size(architecture, data.n_rows)
    with single_threaded_blas if batch > 1 else contextlib.nullcontext():
        return _core.loss_sum(architecture, W, data, batch)


def chunk_rows(n_weights):
    """Samples per engine call between two checks for Ctrl-C: about ``_core.WORK_PER_CHUNK``
    weight touches, a few milliseconds however wide the layers are."""
    return max(1, _core.WORK_PER_CHUNK // max(1, n_weights))


def sgd_epoch(architecture, W, data, order, *, learning_rate, l2=0.0, batch_size=1, n_jobs=1, progress=None,
              optimizer=None):
    """One epoch of SGD, in place: per sample or mini-batch, serial or lock-free parallel.

    Parameters
    ----------
    architecture : _core.Architecture
    W : ndarray
        Flat engine weights, updated in place.
    data : _core.Dataset
        Training rows with labels (and optional sample weights).
    order : ndarray of intp
        Rows to visit, in order.
    learning_rate, l2 : float
    batch_size : int, default=1
        1: one update per sample. Larger: one update per run of ``batch_size`` rows of
        ``order`` with the mean gradient (BLAS GEMMs), ``W <- W - lr (mean grad + l2 W)``. A
        batch larger than ``order`` is all of it.
    n_jobs : int, default=1
        With ``n_jobs > 1``, lock-free parallel SGD in the manner of Hogwild! (Niu et al.,
        2011): the order is cut into ``n_jobs`` contiguous parts, each trained by its own
        thread. A thread updates a private copy per sample and adds its accumulated updates to
        the shared weights, without locks, every 16 to 64 samples (so that threads do not
        fight over cache lines on every sample), then continues from the shared weights.
        Updates interleave nondeterministically; ``n_jobs=1`` is exactly reproducible.
    progress : callable, optional
        Called as ``progress(n_done)`` between engine calls (every few milliseconds) with the
        number of this epoch's samples trained so far (estimated from the calling thread's
        share when ``n_jobs > 1``).
    optimizer : fastnn._optim.Optimizer, optional
        Momentum, Nesterov's momentum or Adam (``csrc/fnn.h``): its state is updated in place
        with the weights (``learning_rate`` is the rate of this epoch). None, or its method
        ``"sgd"``, is plain SGD. With ``n_jobs > 1`` each thread updates a private copy of the
        state (the state is read and written at every update: shared, its cache lines would
        pass between the cores at every sample) and the epoch ends with their mean
        (``Optimizer.merge``).

    Returns
    -------
    float
        Sum of the visited samples' weighted losses, each measured before its update.
    """
    batch_size = max(1, min(batch_size, len(order)))
    chunk = chunk_rows(architecture.n_weights)

    def call(part, weights, chunk, stop, shared, snapshot, opt):
        if opt is not None and opt.method != "sgd":
            with single_threaded_blas if batch_size > 1 else contextlib.nullcontext():
                loss, opt.t = _core.optim_epoch(architecture, weights, opt.state, data, part, learning_rate, l2,
                                                batch_size, **opt.engine_arguments(), chunk=max(chunk, batch_size),
                                                stop=stop, shared=shared, snapshot=snapshot)
            return loss
        if batch_size == 1:
            return _core.sgd_epoch(architecture, weights, data, part, learning_rate, l2, chunk, stop,
                                   shared, snapshot)
        with single_threaded_blas:
            return _core.minibatch_epoch(architecture, weights, data, part, learning_rate, l2, batch_size,
                                         max(chunk, batch_size), stop, shared, snapshot)

    def train(part, weights, chunk=chunk, stop=None, shared=None, snapshot=None, report=None, opt=optimizer):
        if report is None:
            return call(part, weights, chunk, stop, shared, snapshot, opt)
        # one engine call per chunk (whole batches), each followed by a progress report
        step = max(chunk, batch_size) // batch_size * batch_size
        total = 0.0
        for start in range(0, len(part), step):
            total += call(part[start : start + step], weights, chunk, stop, shared, snapshot, opt)
            report(min(start + step, len(part)))
            if stop is not None and stop[0]:
                break
        return total

    if n_jobs == 1 or len(order) < 2 * n_jobs * batch_size:
        return train(order, W, report=progress)
    parts = np.array_split(order, n_jobs)
    samples = min(_PUBLISH_MAX_SAMPLES, max(_PUBLISH_MIN_SAMPLES, _PUBLISH_WORK // architecture.n_weights))
    samples = min(samples, len(parts[0]) // 16)  # and at least 16 publications per thread and epoch
    publish_every = max(1, samples // batch_size) * batch_size
    stop = np.zeros(1, dtype=np.int8)
    losses = [0.0] * n_jobs
    errors = []
    private = [None] * n_jobs if optimizer is None else [optimizer.private_copy() for _ in range(n_jobs)]

    def train_part(k, report=None):
        # Every sample writes every weight of a dense net, so threads sharing W directly would
        # pass its cache lines back and forth on each sample. Each thread trains a private copy
        # instead and adds what it learned to the shared weights every `publish_every` samples,
        # without locks, then continues from the shared state (delayed Hogwild!). The engine
        # publishes between its chunks (_core.sgd_epoch's `shared`), the GIL released.
        local, snapshot = _core.aligned_copy(W), W.copy()
        losses[k] = train(parts[k], local, publish_every, stop, shared=W, snapshot=snapshot, report=report,
                          opt=private[k])

    def worker(k):
        try:
            train_part(k)
        except BaseException as error:  # handed to the calling thread, which raises it
            stop[0] = 1
            errors.append(error)

    threads = []
    try:
        for k in range(1, n_jobs):  # a thread that cannot start stops those already running
            threads.append(threading.Thread(target=worker, args=(k,), daemon=True))
            threads[-1].start()
        # the calling thread takes part 0 and sees Ctrl-C
        train_part(0, None if progress is None else (lambda done: progress(done * n_jobs)))
    except BaseException:
        stop[0] = 1
        raise
    finally:
        for thread in threads:
            if thread.ident is not None:
                thread.join()
    if errors:
        raise errors[0]
    if optimizer is not None:
        optimizer.merge(private)
    return sum(losses)
