"""fastnn.Network: the thin Python class over the C engine.

Policy lives here: validation, initialisation, row order, the epoch loop and its history. Each
epoch is one pass of the C engine (``_core.sgd_epoch``) over the rows with the GIL released, in
chunks of a few milliseconds between which Ctrl-C is noticed.

Weight layout. Users see layer ``l`` as ``W`` of shape ``(n_out, n_in + 1)`` whose column 0 is
the bias, so that ``z = sigmoid(W @ [1, *z_prev])``. The engine keeps all layers in one flat
buffer, each layer stored transposed as ``(n_in + 1, n_out)`` with its columns zero-padded to
whole 32-byte SIMD vectors (4 float64 or 8 float32 columns; see ``csrc/fnn.h``), the buffer
starting on a cache line; :func:`pack_weights` and :func:`unpack_weights` convert
between the two.
"""

import numbers
import threading
import warnings

import numpy as np
import scipy.sparse as sp

from . import _core
from ._validation import (
    check_count,
    check_dtype,
    check_hidden,
    check_labels,
    check_matrix,
    check_nonnegative_finite,
    check_positive_finite,
)

OUTPUTS = {"softmax": _core.OUTPUT_SOFTMAX, "sigmoid": _core.OUTPUT_SIGMOID}
INITS = ("uniform", "zeros", "glorot")
# With n_jobs > 1, a thread publishes its updates after about this many weight touches, and
# after 16 to 64 samples whatever the network's size. Fewer publications leave each thread
# further behind the other's updates: on OCR large (128-50-10, lr 0.01, 10 shuffled epochs,
# 8 runs per seed) every 256 samples lost 0.4-0.75 points of validation accuracy against the
# serial fit, every 64 samples 0.2; one publication costs about what 4 samples do on that net.
_PUBLISH_WORK = 1 << 21
_PUBLISH_MIN_SAMPLES, _PUBLISH_MAX_SAMPLES = 16, 64
# Engine calls are split into chunks of about this many weight touches, so that Ctrl-C is
# noticed within milliseconds even for wide layers.
_WORK_PER_CHUNK = 1 << 23
# From this many rows on, prediction and losses go through the layers as GEMMs.
_GEMM_MIN_ROWS = 32
# Refuse networks whose weights alone would not fit in memory, before allocating anything.
_MAX_WEIGHT_BYTES = 1 << 40


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


def initial_weights(sizes, init, rng, dtype):
    """Starting weights in the user layout.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_features, hidden..., n_outputs]``.
    init : {"uniform", "zeros", "glorot"}
        ``"uniform"``: weights ~ U(-0.1, 0.1), biases 0 (the handout's RANDOM scheme);
        ``"zeros"``: everything 0 (ZERO); ``"glorot"``: weights ~ U(-r, r) with
        ``r = sqrt(6 / (n_in + n_out))``, biases 0, suited to deeper nets.
    rng : numpy.random.Generator
    dtype : np.float64 or np.float32

    Returns
    -------
    list of ndarray, shape (n_out, n_in + 1) each
    """
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = np.zeros((n_out, n_in + 1), dtype=np.float64)
        if init == "uniform":
            W[:, 1:] = rng.uniform(-0.1, 0.1, size=(n_out, n_in))
        elif init == "glorot":
            bound = np.sqrt(6.0 / (n_in + n_out))
            W[:, 1:] = rng.uniform(-bound, bound, size=(n_out, n_in))
        weights.append(W.astype(dtype))
    return weights


def check_weight_list(weights, *, name="init", n_features=None, n_outputs=None):
    """Validate user-layout weights: a chain of finite 2-D arrays, each ``(n_out, n_in + 1)``.

    Returns
    -------
    weights : list of ndarray of float64
    sizes : list of int
        ``[n_features, hidden..., n_outputs]`` implied by the shapes.
    """
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)) or not weights:
        raise ValueError(f"{name} must be a non-empty list of weight matrices of shape (n_out, n_in + 1)")
    arrays, sizes = [], []
    for index, W in enumerate(weights):
        W = np.asarray(W, dtype=np.float64) if not np.iscomplexobj(W) else None
        if W is None or W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 2:
            raise ValueError(
                f"{name}[{index}] must be a real 2-D array of shape (n_out, n_in + 1) with n_out >= 1 "
                f"and n_in >= 1, got shape {getattr(W, 'shape', None)}"
            )
        if not np.isfinite(W).all():
            raise ValueError(f"{name}[{index}] contains NaN or infinity")
        if index == 0:
            sizes.append(W.shape[1] - 1)
        elif W.shape[1] - 1 != sizes[-1]:
            raise ValueError(
                f"{name}[{index}] has shape {W.shape}: its {W.shape[1]} columns must be 1 + the "
                f"{sizes[-1]} outputs of layer {index - 1}"
            )
        sizes.append(W.shape[0])
        arrays.append(W)
    if n_features is not None and sizes[0] != n_features:
        raise ValueError(f"{name}[0] expects {sizes[0]} input features but X has {n_features}")
    if n_outputs is not None and sizes[-1] != n_outputs:
        raise ValueError(f"the last matrix of {name} has {sizes[-1]} outputs, the output layer needs {n_outputs}")
    return arrays, sizes


def make_dataset(X, dtype, labels=None, sample_weight=None):
    """Wrap already-validated ``X`` (dense C-contiguous or CSR of ``dtype``) for the engine."""
    n_rows, n_features = X.shape
    if sp.issparse(X):
        return _core.Dataset(
            X.data, n_rows, n_features,
            indptr=X.indptr.astype(np.intp), indices=X.indices.astype(np.intp),
            labels=labels, sample_weight=sample_weight,
        )
    return _core.Dataset(X.reshape(-1), n_rows, n_features, labels=labels, sample_weight=sample_weight)


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


def forward_batch_size(n_rows):
    """Rows per GEMM for a forward pass over ``n_rows`` rows (1: the per-sample kernels)."""
    return 1 if n_rows < _GEMM_MIN_ROWS else _core.DEFAULT_PREDICT_BATCH


def predict_outputs(architecture, W, data):
    """Output-layer values of every row of ``data`` (see ``_core.predict``), GEMMs on one BLAS thread.

    Raises
    ------
    ValueError
        Some row's weighted sums overflow into NaN (inputs far larger than in training).
    """
    with single_threaded_blas:
        out = _core.predict(architecture, W, data, forward_batch_size(data.n_rows))
    if not np.isfinite(out).all():
        rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
        raise ValueError(f"the network's outputs are NaN for {rows.size} row(s) (first: row {rows[0]}): their "
                         "weighted sums overflow; scale the inputs as they were scaled for training")
    return out


def loss_sum(architecture, W, data):
    """Sum of the rows' weighted cross-entropies (see ``_core.loss_sum``), GEMMs on one BLAS thread."""
    with single_threaded_blas:
        return _core.loss_sum(architecture, W, data, forward_batch_size(data.n_rows))


def chunk_rows(n_weights):
    """Samples per engine call between two checks for Ctrl-C."""
    return max(1, _WORK_PER_CHUNK // max(1, n_weights))


def sgd_epoch(architecture, W, data, order, *, learning_rate, l2=0.0, batch_size=1, n_jobs=1):
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
        ``order`` with the mean gradient (BLAS GEMMs), ``W <- W - lr (mean grad + l2 W)``.
    n_jobs : int, default=1
        With ``n_jobs > 1``, lock-free parallel SGD in the manner of Hogwild! (Niu et al.,
        2011): the order is cut into ``n_jobs`` contiguous parts, each trained by its own
        thread. A thread updates a private copy per sample and adds its accumulated updates to
        the shared weights, without locks, every 16 to 64 samples (so that threads do not
        fight over cache lines on every sample), then continues from the shared weights.
        Updates interleave nondeterministically; ``n_jobs=1`` is exactly reproducible.

    Returns
    -------
    float
        Sum of the visited samples' weighted losses, each measured before its update.
    """
    chunk = chunk_rows(architecture.n_weights)

    def train(part, weights, chunk=chunk, stop=None, shared=None, snapshot=None):
        if batch_size == 1:
            return _core.sgd_epoch(architecture, weights, data, part, learning_rate, l2, chunk, stop,
                                   shared, snapshot)
        with single_threaded_blas:
            return _core.minibatch_epoch(architecture, weights, data, part, learning_rate, l2, batch_size,
                                         max(chunk, batch_size), stop, shared, snapshot)

    if n_jobs == 1 or len(order) < 2 * n_jobs * batch_size:
        return train(order, W)
    parts = np.array_split(order, n_jobs)
    samples = min(_PUBLISH_MAX_SAMPLES, max(_PUBLISH_MIN_SAMPLES, _PUBLISH_WORK // architecture.n_weights))
    samples = min(samples, len(parts[0]) // 16)  # and at least 16 publications per thread and epoch
    publish_every = max(1, samples // batch_size) * batch_size
    stop = np.zeros(1, dtype=np.int8)
    losses = [0.0] * n_jobs

    def train_part(k):
        # Every sample writes every weight of a dense net, so threads sharing W directly would
        # pass its cache lines back and forth on each sample. Each thread trains a private copy
        # instead and adds what it learned to the shared weights every `publish_every` samples,
        # without locks, then continues from the shared state (delayed Hogwild!). The engine
        # publishes between its chunks (_core.sgd_epoch's `shared`), the GIL released.
        local, snapshot = _core.aligned_copy(W), W.copy()
        losses[k] = train(parts[k], local, publish_every, stop, shared=W, snapshot=snapshot)

    threads = [threading.Thread(target=train_part, args=(k,), daemon=True) for k in range(1, n_jobs)]
    for thread in threads:
        thread.start()
    try:
        train_part(0)  # the calling thread takes part 0 and sees Ctrl-C
    except BaseException:
        stop[0] = 1
        raise
    finally:
        for thread in threads:
            thread.join()
    return sum(losses)


class Network:
    """A fully-connected sigmoid network trained by per-sample SGD.

    Hidden layers compute ``z = sigmoid(W @ [1, *z_prev])``; the output layer is a softmax over
    K classes (mean cross-entropy loss) or one sigmoid unit (binary cross-entropy). Training
    visits the rows in order (or a fresh permutation per epoch with ``shuffle=True``) and
    updates the weights after every row: ``W <- W - learning_rate * (dJ/dW + l2 * W_nonbias)``.

    Parameters
    ----------
    hidden : tuple of int, default=(50,)
        Units of each hidden layer; ``()`` is logistic/softmax regression.
    output : {"softmax", "sigmoid"}, default="softmax"
        ``"sigmoid"`` is one output unit for two classes.
    init : {"uniform", "zeros", "glorot"} or list of ndarray, default="uniform"
        See :func:`initial_weights`; a list gives the starting weights in the
        :attr:`weights_` layout (copied, never modified).
    learning_rate : float, default=0.01
        Fixed SGD step, > 0.
    epochs : int, default=10
        Passes over the training rows, >= 1.
    l2 : float, default=0.0
        Strength of the penalty ``(l2 / 2) * ||W||^2`` on non-bias weights, added to every
        sample's loss.
    shuffle : bool, default=False
        Visit the rows in a new random order each epoch. ``False`` reproduces the handout's
        deterministic SGD exactly.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the weights and the arithmetic (sums are accumulated in double).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the initial weights and the shuffling; the same int gives bitwise-identical runs.
    batch_size : int, default=1
        1 is per-sample SGD. Larger values update once per ``batch_size`` rows with the mean
        gradient (computed with BLAS); ``l2`` then applies once per update.
    n_jobs : int, default=1
        Threads training together on shared weights without locks (Hogwild!, see
        :func:`sgd_epoch`). Only ``n_jobs=1`` is exactly reproducible.

    Attributes
    ----------
    weights_ : list of ndarray
        One ``(n_out, n_in + 1)`` array per layer, bias in column 0 (copies).
    n_features_in_ : int
    n_classes_ : int
        K; 2 for the sigmoid output.
    history_ : dict
        ``{"train_loss": [...], "val_loss": [...]}``: mean cross-entropy on the training (and
        validation) rows after each epoch.
    n_epochs_ : int
        Epochs completed.
    interrupted_ : bool
        True when Ctrl-C stopped ``fit``; the weights are those after the last full epoch.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
    >>> y = np.array([0, 1, 1, 0])
    >>> net = fastnn.Network(hidden=(8,), learning_rate=0.5, epochs=2000, init="glorot",
    ...                      random_state=0).fit(X, y)
    >>> net.predict(X).tolist()
    [0, 1, 1, 0]
    """

    def __init__(self, hidden=(50,), output="softmax", init="uniform", learning_rate=0.01, epochs=10,
                 l2=0.0, shuffle=False, dtype="float64", random_state=None, batch_size=1, n_jobs=1):
        self.hidden = hidden
        self.output = output
        self.init = init
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.l2 = l2
        self.shuffle = shuffle
        self.dtype = dtype
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def __repr__(self):
        params = ", ".join(f"{k}={getattr(self, k)!r}" for k in
                           ("hidden", "output", "init", "learning_rate", "epochs", "l2", "shuffle",
                            "dtype", "random_state", "batch_size", "n_jobs") if not isinstance(getattr(self, k), list))
        return f"Network({params})"

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_weights(cls, weights, output="softmax", dtype="float64"):
        """A fitted network with the given weights (e.g. loaded from a file).

        Parameters
        ----------
        weights : list of ndarray
            One ``(n_out, n_in + 1)`` array per layer, bias in column 0, finite.
        output : {"softmax", "sigmoid"}
        dtype : {"float64", "float32"}

        Returns
        -------
        Network
        """
        dtype_ = check_dtype(dtype)
        output_code = cls._check_output(output)
        arrays, sizes = check_weight_list(weights, name="weights")
        net = cls(hidden=tuple(sizes[1:-1]), output=output, init=[W.copy() for W in arrays],
                  dtype=np.dtype(dtype_).name)
        net._set_fitted(sizes, output_code, pack_weights(arrays, dtype_), dtype_)
        net.history_ = {"train_loss": [], "val_loss": []}
        net.n_epochs_ = 0
        net.interrupted_ = False
        return net

    @staticmethod
    def _check_output(output):
        if output not in OUTPUTS:
            raise ValueError(f"output must be 'softmax' or 'sigmoid', got {output!r}")
        if output == "sigmoid":
            return _core.OUTPUT_SIGMOID
        return _core.OUTPUT_SOFTMAX

    def _set_fitted(self, sizes, output_code, flat, dtype):
        self._sizes = [int(s) for s in sizes]
        self._architecture = _core.Architecture(self._sizes, output_code, dtype)
        self._flat = _core.ensure_aligned(flat)
        self._dtype = dtype
        self.n_features_in_ = self._sizes[0]
        self.n_classes_ = 2 if output_code == _core.OUTPUT_SIGMOID else self._sizes[-1]

    # ------------------------------------------------------------------ training

    def fit(self, X, y, X_val=None, y_val=None, *, callback=None):
        """Train from the initial weights by per-sample SGD.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or scipy sparse matrix
            Any numbers (lists, int/bool/float arrays, any memory order); converted once,
            never modified. Sparse input is trained on without densifying.
        y : array-like of shape (n_samples,)
            Integer labels ``0..K-1`` (``0``/``1`` for the sigmoid output).
        X_val, y_val : optional
            Validation rows whose loss is recorded after each epoch.
        callback : callable, optional
            Called as ``callback(network)`` after each completed epoch (``n_epochs_`` and
            ``history_`` are current). An exception it raises stops training and propagates;
            the network then holds the weights of that epoch.

        Returns
        -------
        self : Network

        Raises
        ------
        ValueError
            Bad input or hyperparameters, or training diverged (non-finite weights).
        RuntimeError
            ``fit`` is already running on this instance in another thread.
        """
        lock = self.__dict__.setdefault("_fit_lock", threading.Lock())  # atomic under the GIL
        if not lock.acquire(blocking=False):
            raise RuntimeError("this Network is already being fitted in another thread; "
                               "fit separate instances to train in parallel")
        try:
            return self._fit(X, y, X_val, y_val, callback)
        finally:
            lock.release()

    def _fit(self, X, y, X_val, y_val, callback):
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        dtype = check_dtype(self.dtype)
        output_code = self._check_output(self.output)
        learning_rate = check_positive_finite(self.learning_rate, "learning_rate")
        epochs = check_count(self.epochs, "epochs")
        l2 = check_nonnegative_finite(self.l2, "l2")
        hidden = check_hidden(self.hidden)
        n_jobs = check_count(self.n_jobs, "n_jobs")
        batch_size = check_count(self.batch_size, "batch_size")
        rng = self._rng()

        X = check_matrix(X, dtype)
        y = check_labels(y, X.shape[0])
        validation = None
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither")
        if X_val is not None:
            X_val = check_matrix(X_val, dtype, name="X_val")
            y_val = check_labels(y_val, X_val.shape[0], name="y_val")
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")

        sizes, weights = self._initial_state(X.shape[1], hidden, output_code, y, y_val, rng, dtype)
        n_classes = 2 if output_code == _core.OUTPUT_SIGMOID else sizes[-1]
        for labels, name in ((y, "y"), (y_val, "y_val")):
            if labels is not None and labels.size and labels.max() >= n_classes:
                raise ValueError(
                    f"{name} has label {labels.max()} but the {self.output} output has {n_classes} classes "
                    f"(labels must be 0..{n_classes - 1})"
                )
        self._set_fitted(sizes, output_code, pack_weights(weights, dtype), dtype)
        self._clear_fit_state()

        train = make_dataset(X, dtype, labels=y)
        if X_val is not None:
            validation = make_dataset(X_val, dtype, labels=y_val)
        settings = dict(learning_rate=learning_rate, l2=l2, batch_size=batch_size, n_jobs=n_jobs)
        self._run_epochs(train, validation, epochs, settings, rng, callback)
        return self

    def _rng(self):
        if isinstance(self.random_state, np.random.Generator):
            return self.random_state
        if self.random_state is None or (isinstance(self.random_state, numbers.Integral)
                                         and not isinstance(self.random_state, bool)
                                         and self.random_state >= 0):
            return np.random.default_rng(self.random_state)
        raise ValueError(f"random_state must be None, an int >= 0 or a numpy Generator, got {self.random_state!r}")

    def _initial_state(self, n_features, hidden, output_code, y, y_val, rng, dtype):
        """Layer sizes and starting weights (user layout) for a fit on ``n_features`` inputs."""
        if isinstance(self.init, str):
            if self.init not in INITS:
                raise ValueError(f"init must be one of {INITS} or a list of weight matrices, got {self.init!r}")
            if output_code == _core.OUTPUT_SIGMOID:
                n_outputs = 1
            else:
                n_outputs = int(max(y.max(), -1 if y_val is None else y_val.max())) + 1
                if n_outputs < 2:
                    raise ValueError(
                        "the softmax output needs at least 2 classes, but every label is 0; "
                        "check y, or use output='sigmoid' for two classes"
                    )
            sizes = [n_features, *hidden, n_outputs]
            self._check_size(sizes, dtype)
            return sizes, initial_weights(sizes, self.init, rng, dtype)
        n_outputs = 1 if output_code == _core.OUTPUT_SIGMOID else None
        weights, sizes = check_weight_list(self.init, n_features=n_features, n_outputs=n_outputs)
        if output_code == _core.OUTPUT_SOFTMAX and sizes[-1] < 2:
            raise ValueError("the softmax output needs at least 2 output units; the last matrix of init has 1")
        return sizes, [W.astype(dtype) for W in weights]

    @staticmethod
    def _check_size(sizes, dtype):
        n_weights = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
        if n_weights * np.dtype(dtype).itemsize > _MAX_WEIGHT_BYTES:
            raise ValueError(f"layer sizes {sizes} need {n_weights} weights, too many to allocate")

    def _clear_fit_state(self):
        self.history_ = {"train_loss": [], "val_loss": []}
        self.n_epochs_ = 0
        self.interrupted_ = False

    def _run_epochs(self, train, validation, epochs, settings, rng, callback):
        """The epoch loop: one engine pass per epoch, then the loss after it.

        ``settings`` are the keyword arguments of :func:`sgd_epoch`.
        """
        arch, W = self._architecture, self._flat
        rows = np.arange(train.n_rows, dtype=np.intp)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(rows) if self.shuffle else rows
            before = W.copy()
            try:
                sgd_epoch(arch, W, train, order, **settings)
                losses = [self._mean_loss(train)] + ([] if validation is None else [self._mean_loss(validation)])
            except KeyboardInterrupt:  # during the epoch or its loss pass: back to the last epoch
                W[:] = before
                self.interrupted_ = True
                warnings.warn(f"training interrupted during epoch {epoch}; keeping the weights "
                              f"after epoch {epoch - 1}", RuntimeWarning, stacklevel=3)
                return
            if not (np.isfinite(W).all() and np.isfinite(losses).all()):
                self._forget_fit()
                raise ValueError(
                    f"training diverged at epoch {epoch}: the weights or the loss became NaN or infinite. "
                    "Lower the learning rate or scale the inputs (e.g. with StandardScaler)."
                )
            self.history_["train_loss"].append(losses[0])
            if validation is not None:
                self.history_["val_loss"].append(losses[1])
            self.n_epochs_ = epoch
            if callback is not None:
                callback(self)

    def _forget_fit(self):
        for name in ("_flat", "_architecture", "_sizes", "n_features_in_", "n_classes_"):
            self.__dict__.pop(name, None)

    def _mean_loss(self, data):
        return loss_sum(self._architecture, self._flat, data) / data.n_rows

    # ------------------------------------------------------------------ prediction

    def _check_fitted(self):
        if getattr(self, "_flat", None) is None:
            from sklearn.exceptions import NotFittedError  # imported here: scikit-learn loads slowly

            raise NotFittedError("this Network is not fitted yet; call fit(X, y) first")

    def _dataset(self, X, labels=None):
        self._check_fitted()
        X = check_matrix(X, self._dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but this Network is expecting "
                             f"{self.n_features_in_} features as input")
        return make_dataset(X, self._dtype, labels=labels)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or sparse matrix

        Returns
        -------
        ndarray of shape (n_samples, K), dtype of the network
            Rows sum to 1; for the sigmoid output the columns are ``[1 - p, p]``.
        """
        data = self._dataset(X)
        out = predict_outputs(self._architecture, self._flat, data)
        if self._architecture.sizes[-1] == 1 and self.n_classes_ == 2:
            return np.hstack([1 - out, out])
        return out

    def predict(self, X):
        """Most probable class of each row, as ints ``0..K-1``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or sparse matrix

        Returns
        -------
        ndarray of int64, shape (n_samples,)
        """
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int64)

    def loss(self, X, y):
        """Mean cross-entropy of the labels under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or sparse matrix
        y : array-like of shape (n_samples,)
            Integer labels ``0..K-1``.

        Returns
        -------
        float
        """
        self._check_fitted()
        labels = check_labels(y, np.shape(X)[0] if not sp.issparse(X) else X.shape[0])
        if labels.size and labels.max() >= self.n_classes_:
            raise ValueError(f"y has label {labels.max()} but the model has {self.n_classes_} classes")
        data = self._dataset(X, labels=labels)
        return self._mean_loss(data)

    @property
    def weights_(self):
        """One ``(n_out, n_in + 1)`` array per layer, bias in column 0 (copies)."""
        self._check_fitted()
        return unpack_weights(self._flat, self._sizes)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_architecture", None)
        state.pop("_fit_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if state.get("_flat") is not None:
            self._flat = _core.ensure_aligned(self._flat)
            self._architecture = _core.Architecture(self._sizes, self._check_output(self.output), self._flat.dtype)
