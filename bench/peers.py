"""Contenders for `bench/run.py`: one small class per library and training path.

Every contender has the same interface:

``setup(shape, X, y)``
    Convert the data to its own dtype and layout and build its network.  Not
    timed.  Raises `Skip` with a reason (and the install command) when the
    library or the feature is missing.
``run()``
    One timed epoch of training (``task == "train"``) or one forward pass over
    all rows (``task == "predict"``); returns the seconds it took.
``close()``
    Release processes and files.

fastnn's engine rows (`FastnnEpoch` and its subclasses: sparse, Hogwild!,
mini-batch) time one epoch of `fastnn._engine.sgd_epoch` on data converted
once, as the NumPy, PyTorch and FANN rows time their epoch loops; a new
engine path is one small subclass. The `Network.fit` and `MLPClassifier`
rows time the whole `fit` call (input checks, initialisation, the epoch and,
for `Network`, the loss pass that fills `history_`).

All networks are ``d -> hidden... -> k`` with sigmoid hidden units, softmax
output with cross-entropy (FANN: sigmoid output with MSE, it has no softmax),
learning rate 0.01, no momentum, no L2 penalty, rows visited in the given
order.  Initial weights are U(-0.1, 0.1) with zero biases, the same for every
contender (FANN draws its own from the same range).
"""

from __future__ import annotations

import _threads

_threads.pin_single_thread()  # before numpy; run.py has already done it

import gc  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

LEARNING_RATE = 0.01
BATCH_SIZE = 128
BENCH_DIR = Path(__file__).resolve().parent

INSTALL = {
    "torch": "pip install torch==2.13.0",
    "sklearn": "pip install scikit-learn",
    "scipy": "pip install scipy",
    "fann": "apt-get update && apt-get install -y libfann-dev",
    "gcc": "apt-get update && apt-get install -y gcc",
    "fastnn": "pip install -e .",
    "matplotlib": "pip install matplotlib",
    "threadpoolctl": "pip install threadpoolctl",
}


class Skip(Exception):
    """A contender cannot run here; the message says why and how to fix it."""


# --------------------------------------------------------------------------
# shapes, FLOP counts, shared initial weights
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A network shape ``layers = (d, h1, ..., k)``.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"S1"``.
    layers : tuple of int
        Units per layer, inputs first, classes last (``k >= 2``).
    """

    name: str
    layers: tuple

    @property
    def hidden(self):
        """tuple of int: the hidden layer sizes."""
        return tuple(self.layers[1:-1])

    @property
    def label(self):
        """str: the shape written as ``128→50→10``."""
        return "→".join(str(n) for n in self.layers)

    def n_weights(self):
        """Number of parameters W, biases included: sum of n_out·(n_in + 1)."""
        return sum(n_out * (n_in + 1) for n_in, n_out in zip(self.layers[:-1], self.layers[1:]))

    def flops_train(self):
        """FLOPs per sample of one SGD step: 2·W forward + 2·W_above backward + 2·W update.

        W_above = sum of n_out·n_in over the layers above the first (the
        matrix-vector products that carry the delta down to the hidden layers).
        """
        pairs = list(zip(self.layers[:-1], self.layers[1:]))
        w_above = sum(n_out * n_in for n_in, n_out in pairs[1:])
        return 4 * self.n_weights() + 2 * w_above

    def flops_predict(self):
        """FLOPs per sample of the forward pass: 2·W."""
        return 2 * self.n_weights()


def init_weights(shape, dtype, seed=0):
    """Initial weights in fastnn's layout.

    Parameters
    ----------
    shape : Shape
    dtype : numpy dtype
    seed : int

    Returns
    -------
    weights : list of ndarray
        One array per layer, shape ``(n_out, n_in + 1)``, bias in column 0
        (zeros), other entries U(-0.1, 0.1).
    """
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in zip(shape.layers[:-1], shape.layers[1:]):
        W = np.zeros((n_out, n_in + 1), dtype=dtype)
        W[:, 1:] = rng.uniform(-0.1, 0.1, size=(n_out, n_in))
        weights.append(W)
    return weights


def _timed(fn, *args):
    """Seconds taken by ``fn(*args)``, the garbage collector paused.

    The harness collects (cheaply, after `gc.freeze`) before each timed run.
    """
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn(*args)
        return time.perf_counter() - t0
    finally:
        gc.enable()


@dataclass
class RunContext:
    """What contenders share within one harness run.

    Parameters
    ----------
    workdir : Path
        A scratch directory owned by the harness (FANN binaries, data files).
    """

    workdir: Path
    _fann: dict = field(default_factory=dict)

    def fann_binary(self, dtype):
        """Path of the FANN driver for `dtype`, compiled on first use.

        Raises
        ------
        Skip
            When gcc or libfann-dev is missing or the driver does not build.
        """
        key = np.dtype(dtype).name
        if key not in self._fann:
            self._fann[key] = self._build_fann(key)
        if isinstance(self._fann[key], Skip):
            raise self._fann[key]
        return self._fann[key]

    def _build_fann(self, key):
        cc = shutil.which("gcc") or shutil.which("cc")
        if cc is None:
            return Skip(f"no C compiler to build the FANN driver: {INSTALL['gcc']}")
        out = self.workdir / f"fann_driver_{key}"
        if key == "float64":
            flags, lib = ["-DFNN_BENCH_DOUBLE"], "-ldoublefann"
        else:
            flags, lib = [], "-lfloatfann"
        cmd = [cc, "-O3", *flags, str(BENCH_DIR / "fann_driver.c"), "-o", str(out), lib, "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["(no message)"])[0]
            return Skip(f"FANN driver did not build ({first}); install FANN: {INSTALL['fann']}")
        return out


def write_bench_data(path, X, y, k):
    """Write X, y in the layout `fann_driver.c` reads.

    ``"FNNB"``, int32 n, d, k, float64 X (n, d) row-major, int32 y (n,).
    """
    X = np.ascontiguousarray(X, dtype="<f8")
    with open(path, "wb") as f:
        f.write(b"FNNB")
        f.write(np.array([X.shape[0], X.shape[1], k], dtype="<i4").tobytes())
        f.write(X.tobytes())
        f.write(np.ascontiguousarray(y, dtype="<i4").tobytes())


# --------------------------------------------------------------------------
# the contender interface
# --------------------------------------------------------------------------


class Contender:
    """Base class: one library, one path (per-sample SGD, mini-batch, predict...), one dtype.

    Parameters
    ----------
    dtype : {"float64", "float32"}
    ctx : RunContext
    """

    library = "?"
    path = "per-sample SGD"
    task = "train"  # "train" (one epoch) or "predict" (forward over all rows)
    note = ""

    def __init__(self, dtype, ctx):
        self.dtype = np.dtype(dtype)
        self.ctx = ctx

    @property
    def key(self):
        """str: a unique, readable name."""
        return f"{self.library} | {self.path} | {self.dtype.name}"

    def setup(self, shape, X, y):
        """Prepare `shape` on data X (n, d) float64, y (n,) int64; not timed."""
        raise NotImplementedError

    def run(self):
        """Run one timed epoch (or forward pass) and return its seconds."""
        raise NotImplementedError

    def close(self):
        """Release what `setup` acquired."""


# --------------------------------------------------------------------------
# NumPy
# --------------------------------------------------------------------------


class NumpySGD(Contender):
    """Per-sample SGD written in NumPy: per row, matrix-vector products and np.outer updates."""

    library = "NumPy"
    path = "per-sample SGD"
    note = "Python loop over rows; np.dot / np.outer per layer"

    def setup(self, shape, X, y):
        self.X = np.ascontiguousarray(X, dtype=self.dtype)
        self.y = np.asarray(y, dtype=np.intp)
        weights = init_weights(shape, self.dtype)
        self.W = [np.ascontiguousarray(w[:, 1:]) for w in weights]
        self.b = [w[:, 0].copy() for w in weights]
        self.lr = self.dtype.type(LEARNING_RATE)

    def _epoch(self):
        W, b, lr = self.W, self.b, self.lr
        L = len(W)
        with np.errstate(over="ignore"):  # exp(-a) -> inf gives sigmoid 0, as it should
            for x, label in zip(self.X, self.y):
                zs = [x]
                z = x
                for l in range(L - 1):
                    z = 1.0 / (1.0 + np.exp(-(W[l] @ z + b[l])))
                    zs.append(z)
                a = W[L - 1] @ z + b[L - 1]
                e = np.exp(a - a.max())
                delta = e / e.sum()  # softmax; dCE/da = p - onehot
                delta[label] -= 1.0
                for l in range(L - 1, -1, -1):
                    z_prev = zs[l]
                    if l > 0:  # uses W[l] before its update
                        delta_prev = (W[l].T @ delta) * z_prev * (1.0 - z_prev)
                    W[l] -= lr * np.outer(delta, z_prev)
                    b[l] -= lr * delta
                    if l > 0:
                        delta = delta_prev

    def run(self):
        return _timed(self._epoch)


class NumpyPredict(Contender):
    """Batched forward pass in NumPy: one matrix product per layer."""

    library = "NumPy"
    path = "predict (batched)"
    task = "predict"

    def setup(self, shape, X, y):
        self.X = np.ascontiguousarray(X, dtype=self.dtype)
        weights = init_weights(shape, self.dtype)
        self.W = [np.ascontiguousarray(w[:, 1:].T) for w in weights]
        self.b = [w[:, 0].copy() for w in weights]

    def _forward(self):
        Z = self.X
        with np.errstate(over="ignore"):
            for l in range(len(self.W) - 1):
                Z = 1.0 / (1.0 + np.exp(-(Z @ self.W[l] + self.b[l])))
            A = Z @ self.W[-1] + self.b[-1]
            E = np.exp(A - A.max(axis=1, keepdims=True))
            return E / E.sum(axis=1, keepdims=True)

    def run(self):
        return _timed(self._forward)


# --------------------------------------------------------------------------
# scikit-learn
# --------------------------------------------------------------------------


def _sklearn_mlp():
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as exc:
        raise Skip(f"scikit-learn is not installed ({exc}): {INSTALL['sklearn']}") from None
    return MLPClassifier, ConvergenceWarning


class SklearnSGD(Contender):
    """`sklearn.neural_network.MLPClassifier` fitted for one epoch of SGD (``fit`` timed)."""

    library = "scikit-learn"
    path = "per-sample SGD"
    batch_size = 1
    note = "MLPClassifier.fit, max_iter=1 (includes its input checks and per-batch loss)"

    def setup(self, shape, X, y):
        self.MLPClassifier, self.ConvergenceWarning = _sklearn_mlp()
        self.shape = shape
        self.X = np.ascontiguousarray(X, dtype=self.dtype)
        self.y = np.asarray(y)
        self._checked = False

    def _make(self):
        return self.MLPClassifier(
            hidden_layer_sizes=self.shape.hidden,
            activation="logistic",
            solver="sgd",
            batch_size=self.batch_size,
            learning_rate="constant",
            learning_rate_init=LEARNING_RATE,
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=0.0,
            max_iter=1,
            shuffle=False,
            early_stopping=False,
            random_state=0,
        )

    def run(self):
        est = self._make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning (max_iter=1), batch_size clipping
            seconds = _timed(est.fit, self.X, self.y)
        if not self._checked:
            self._checked = True
            if est.coefs_[0].dtype != self.dtype:
                raise Skip(f"MLPClassifier trained in {est.coefs_[0].dtype} for {self.dtype} input")
        return seconds


class SklearnMiniBatch(SklearnSGD):
    """`MLPClassifier` with ``batch_size=128``."""

    path = f"mini-batch {BATCH_SIZE}"
    batch_size = BATCH_SIZE


class SklearnPredict(SklearnSGD):
    """`MLPClassifier.predict_proba` over all rows."""

    path = "predict (batched)"
    task = "predict"
    note = "MLPClassifier.predict_proba"

    def setup(self, shape, X, y):
        super().setup(shape, X, y)
        est = self._make()
        est.set_params(batch_size=256)
        n = min(len(self.X), 1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning, batch_size clipping
            est.fit(self.X[:n], self.y[:n])
        weights = init_weights(shape, self.dtype)
        if len(est.classes_) == shape.layers[-1]:  # same weights as the others
            est.coefs_ = [np.ascontiguousarray(w[:, 1:].T) for w in weights]
            est.intercepts_ = [w[:, 0].copy() for w in weights]
        self.est = est

    def run(self):
        return _timed(self.est.predict_proba, self.X)


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise Skip(f"PyTorch is not installed ({exc}): {INSTALL['torch']}") from None
    return torch


class _TorchBase(Contender):
    library = "PyTorch"

    def setup(self, shape, X, y):
        torch = self.torch = _torch()
        tdtype = {"float64": torch.float64, "float32": torch.float32}[self.dtype.name]
        self.X = torch.from_numpy(np.ascontiguousarray(X, dtype=self.dtype))
        self.y = torch.from_numpy(np.asarray(y, dtype=np.int64))
        self.n = len(X)
        layers = []
        for l, w in enumerate(init_weights(shape, self.dtype)):
            if l > 0:
                layers.append(torch.nn.Sigmoid())
            lin = torch.nn.Linear(w.shape[1] - 1, w.shape[0], dtype=tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w[:, 1:]))
                lin.bias.copy_(torch.from_numpy(w[:, 0]))
            layers.append(lin)
        self.model = torch.nn.Sequential(*layers)


class TorchSGD(_TorchBase):
    """PyTorch per-sample SGD as users write it: nn.Linear, autograd, optim.SGD."""

    path = "per-sample SGD (autograd)"
    step = 1
    note = "nn.Sequential + F.cross_entropy + loss.backward() + optim.SGD(momentum=0)"

    def setup(self, shape, X, y):
        super().setup(shape, X, y)
        self.opt = self.torch.optim.SGD(self.model.parameters(), lr=LEARNING_RATE, momentum=0.0)

    def _epoch(self):
        F = self.torch.nn.functional
        model, opt, X, y, step = self.model, self.opt, self.X, self.y, self.step
        for start in range(0, self.n, step):
            opt.zero_grad()
            loss = F.cross_entropy(model(X[start:start + step]), y[start:start + step])
            loss.backward()
            opt.step()

    def run(self):
        return _timed(self._epoch)


class TorchMiniBatch(TorchSGD):
    """PyTorch mini-batch SGD, 128 rows per step (mean cross-entropy)."""

    path = f"mini-batch {BATCH_SIZE}"
    step = BATCH_SIZE


class TorchManualSGD(_TorchBase):
    """PyTorch per-sample SGD without autograd: backprop by hand under torch.no_grad."""

    path = "per-sample SGD (manual)"
    note = "torch.addmv / torch.mv / Tensor.addr_ per layer, no autograd"

    def setup(self, shape, X, y):
        super().setup(shape, X, y)
        linears = [m for m in self.model if isinstance(m, self.torch.nn.Linear)]
        self.W = [m.weight.detach() for m in linears]
        self.b = [m.bias.detach() for m in linears]
        self.labels = self.y.tolist()

    def _epoch(self):
        torch = self.torch
        W, b, lr = self.W, self.b, LEARNING_RATE
        L = len(W)
        with torch.no_grad():
            for i, label in enumerate(self.labels):
                z = self.X[i]
                zs = [z]
                for l in range(L - 1):
                    z = torch.sigmoid(torch.addmv(b[l], W[l], z))
                    zs.append(z)
                delta = torch.softmax(torch.addmv(b[L - 1], W[L - 1], z), 0)
                delta[label] -= 1.0
                for l in range(L - 1, -1, -1):
                    z_prev = zs[l]
                    if l > 0:
                        delta_prev = torch.mv(W[l].t(), delta).mul_(z_prev * (1.0 - z_prev))
                    W[l].addr_(delta, z_prev, alpha=-lr)  # W -= lr · delta z_prevᵀ
                    b[l].add_(delta, alpha=-lr)
                    if l > 0:
                        delta = delta_prev

    def run(self):
        return _timed(self._epoch)


class TorchPredict(_TorchBase):
    """PyTorch batched forward pass with softmax, under torch.inference_mode."""

    path = "predict (batched)"
    task = "predict"

    def _forward(self):
        with self.torch.inference_mode():
            return self.torch.softmax(self.model(self.X), dim=1)

    def run(self):
        return _timed(self._forward)


# --------------------------------------------------------------------------
# FANN (through bench/fann_driver.c)
# --------------------------------------------------------------------------


class FannSGD(Contender):
    """FANN 2.2 incremental training (FANN_TRAIN_INCREMENTAL) through `fann_driver.c`."""

    library = "FANN"
    path = "per-sample SGD (incremental)"
    command = "train"
    note = "sigmoid output units with MSE error (FANN has no softmax): compares the cost of a training step"

    def setup(self, shape, X, y):
        binary = self.ctx.fann_binary(self.dtype)
        self.proc = None
        data = self.ctx.workdir / f"{shape.name}_{self.task}_{len(X)}.bin"
        if not data.exists():
            write_bench_data(data, X, y, shape.layers[-1])
        hidden = [str(h) for h in shape.hidden]
        self.proc = subprocess.Popen(
            [str(binary), str(data), str(data), *hidden],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answer()  # the "ready" line

    def _answer(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"FANN driver exited with status {self.proc.wait()}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"FANN driver: {answer['error']}")
        return answer

    def run(self):
        self.proc.stdin.write(self.command + "\n")
        self.proc.stdin.flush()
        return float(self._answer()["seconds"])  # timed inside the driver

    def close(self):
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class FannPredict(FannSGD):
    """FANN forward pass: fann_run once per row (FANN has no batched forward)."""

    path = "predict (fann_run per row)"
    task = "predict"
    command = "predict"
    note = "sigmoid output units"


# --------------------------------------------------------------------------
# fastnn
# --------------------------------------------------------------------------


def _fastnn():
    try:
        import fastnn
    except ImportError as exc:
        raise Skip(f"fastnn is not importable ({exc}); from the project root: {INSTALL['fastnn']}") from None
    return fastnn


class FastnnEpoch(Contender):
    """One epoch of fastnn's engine, ``fastnn._engine.sgd_epoch``, timed like the peers' epoch loops.

    The data are converted once in `setup` (as `Network.fit` does once per fit) and every
    repeat starts from the same initial weights. Subclasses change one setting each.
    """

    library = "fastnn"
    path = "per-sample SGD"
    note = "engine epoch (fastnn._engine.sgd_epoch); the input converted once, as fit does"
    batch_size = 1
    n_jobs = 1
    sparse = False
    activation = "logistic"

    def setup(self, shape, X, y):
        _fastnn()
        from fastnn import _core, _engine as network

        self.network, self.core = network, _core
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if self.sparse:
            from scipy import sparse

            X = sparse.csr_matrix(X)
        self.architecture = network.architecture(list(shape.layers), "softmax",
                                                 [self.activation] * len(shape.hidden), self.dtype)
        self.W0 = network.pack_weights(init_weights(shape, self.dtype), self.dtype)
        self.data = network.make_dataset(X, self.dtype, labels=np.asarray(y, dtype=np.int32))
        self.order = np.arange(len(y), dtype=np.intp)

    def _epoch(self, W):
        self.network.sgd_epoch(self.architecture, W, self.data, self.order, learning_rate=LEARNING_RATE,
                               batch_size=self.batch_size, n_jobs=self.n_jobs)

    def run(self):
        return _timed(self._epoch, self.core.aligned_copy(self.W0))  # aligned, as in fit


class FastnnTanh(FastnnEpoch):
    """The engine epoch with tanh hidden units (per-sample SGD)."""

    path = "per-sample SGD, tanh hidden units"
    note = "activation='tanh'"
    activation = "tanh"


class FastnnRelu(FastnnEpoch):
    """The engine epoch with ReLU hidden units (per-sample SGD)."""

    path = "per-sample SGD, relu hidden units"
    note = "activation='relu'"
    activation = "relu"


class FastnnSparse(FastnnEpoch):
    """The engine epoch on a `scipy.sparse.csr_matrix` X (per-sample SGD)."""

    path = "per-sample SGD, sparse CSR X"
    note = "X as scipy.sparse.csr_matrix"
    sparse = True


class FastnnHogwild(FastnnEpoch):
    """The engine epoch with ``n_jobs=2``: Hogwild! per-sample SGD on two threads."""

    path = "per-sample SGD, n_jobs=2 (Hogwild!)"
    note = "two threads by design (the only contender that uses more than one)"
    n_jobs = 2


class FastnnSparseHogwild(FastnnHogwild):
    """Hogwild! on CSR input: threads write only the rows of their samples' non-zero inputs."""

    path = "per-sample SGD, sparse CSR X, n_jobs=2 (Hogwild!)"
    note = "two threads, X as scipy.sparse.csr_matrix"
    sparse = True


class FastnnMiniBatch(FastnnEpoch):
    """The engine epoch in mini-batches of 128 rows (BLAS GEMMs on one thread)."""

    path = f"mini-batch {BATCH_SIZE}"
    note = "engine epoch, mini-batches through scipy's BLAS"
    batch_size = BATCH_SIZE


class FastnnSGD(Contender):
    """`fastnn.Network(...).fit(X, y)` for one epoch of per-sample SGD, the whole call timed.

    Subclasses add one feature each: `network_params` (extra `Network`
    arguments), `_convert` (the input format) or `_make` (another class).
    """

    library = "fastnn"
    path = "per-sample SGD (Network.fit)"
    note = "Network.fit, epochs=1 (includes its input checks and the loss pass for history_)"
    network_params: dict = {}

    def _convert(self, X):
        return np.ascontiguousarray(X, dtype=self.dtype)

    def setup(self, shape, X, y):
        self.fastnn = _fastnn()
        self.shape = shape
        self.X = self._convert(X)
        self.y = np.asarray(y)

    def _make(self):
        return self.fastnn.Network(
            hidden=self.shape.hidden,
            learning_rate=LEARNING_RATE,
            epochs=1,
            shuffle=False,
            dtype=self.dtype.name,
            random_state=0,
            **self.network_params,
        )

    def run(self):
        model = self._make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _timed(model.fit, self.X, self.y)


class FastnnEstimator(FastnnSGD):
    """`fastnn.MLPClassifier` (the scikit-learn estimator), one epoch of per-sample SGD."""

    path = "per-sample SGD (MLPClassifier)"
    note = "the scikit-learn estimator around the engine, fit timed"
    estimator_params: dict = {}

    def _make(self):
        try:
            cls = self.fastnn.MLPClassifier
        except AttributeError:
            raise Skip("fastnn has no MLPClassifier yet") from None
        est = cls(
            hidden_layer_sizes=self.shape.hidden,
            learning_rate_init=LEARNING_RATE,
            max_iter=1,
            shuffle=False,
            alpha=0.0,
            random_state=0,
            **self.estimator_params,
        )
        if "dtype" in est.get_params():
            est.set_params(dtype=self.dtype.name)
        return est


class FastnnEstimatorMiniBatch(FastnnEstimator):
    """`fastnn.MLPClassifier(batch_size=128)`: mini-batch SGD."""

    path = f"mini-batch {BATCH_SIZE} (MLPClassifier)"
    estimator_params = {"batch_size": BATCH_SIZE}
    note = "the scikit-learn estimator, fit timed"


class FastnnPredict(Contender):
    """`fastnn.Network.from_weights(...).predict_proba(X)` over all rows."""

    library = "fastnn"
    path = "predict_proba"
    task = "predict"

    def setup(self, shape, X, y):
        fastnn = _fastnn()
        self.X = np.ascontiguousarray(X, dtype=self.dtype)
        try:
            from_weights = fastnn.Network.from_weights
        except AttributeError:
            raise Skip("fastnn.Network has no from_weights yet") from None
        self.net = from_weights(init_weights(shape, self.dtype), output="softmax", dtype=self.dtype.name)

    def run(self):
        return _timed(self.net.predict_proba, self.X)


# --------------------------------------------------------------------------
# the registry and the reference rate
# --------------------------------------------------------------------------

#: (class, dtype) pairs in the order they run within a round.
REGISTRY = [
    (NumpySGD, "float64"),
    (NumpySGD, "float32"),
    (SklearnSGD, "float64"),
    (SklearnSGD, "float32"),
    (SklearnMiniBatch, "float64"),
    (SklearnMiniBatch, "float32"),
    (TorchSGD, "float64"),
    (TorchSGD, "float32"),
    (TorchManualSGD, "float64"),
    (TorchManualSGD, "float32"),
    (TorchMiniBatch, "float64"),
    (TorchMiniBatch, "float32"),
    (FannSGD, "float64"),
    (FannSGD, "float32"),
    (FastnnEpoch, "float64"),
    (FastnnEpoch, "float32"),
    (FastnnTanh, "float64"),
    (FastnnTanh, "float32"),
    (FastnnRelu, "float64"),
    (FastnnRelu, "float32"),
    (FastnnSparse, "float64"),
    (FastnnSparse, "float32"),
    (FastnnHogwild, "float64"),
    (FastnnHogwild, "float32"),
    (FastnnSparseHogwild, "float64"),
    (FastnnSparseHogwild, "float32"),
    (FastnnMiniBatch, "float64"),
    (FastnnMiniBatch, "float32"),
    (FastnnSGD, "float64"),
    (FastnnSGD, "float32"),
    (FastnnEstimator, "float64"),
    (FastnnEstimator, "float32"),
    (FastnnEstimatorMiniBatch, "float64"),
    (FastnnEstimatorMiniBatch, "float32"),
    (NumpyPredict, "float64"),
    (NumpyPredict, "float32"),
    (SklearnPredict, "float64"),
    (SklearnPredict, "float32"),
    (TorchPredict, "float64"),
    (TorchPredict, "float32"),
    (FannPredict, "float64"),
    (FannPredict, "float32"),
    (FastnnPredict, "float64"),
    (FastnnPredict, "float32"),
]

#: The contenders whose rate every other row is compared with, per task.
FASTNN_REFERENCE = {"train": FastnnEpoch, "predict": FastnnPredict}


def gemm_gflops(dtype, n=1024, repeats=5):
    """Single-thread matrix-multiply rate, best of `repeats`.

    Parameters
    ----------
    dtype : {"float64", "float32"}
        float64 measures dgemm, float32 sgemm (through ``numpy.matmul``).
    n : int
        Square size; one product is 2·n³ FLOPs.
    repeats : int

    Returns
    -------
    gflops : float
    """
    rng = np.random.default_rng(1)
    A = rng.random((n, n)).astype(dtype)
    B = rng.random((n, n)).astype(dtype)
    C = np.empty((n, n), dtype=dtype)
    np.matmul(A, B, out=C)  # warm-up
    best = min(_timed(lambda: np.matmul(A, B, out=C)) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def new_workdir():
    """A fresh scratch directory for one run (the caller removes it)."""
    return Path(tempfile.mkdtemp(prefix="fastnn-bench-"))
