"""The optimizer contenders of bench/run.py: momentum and Adam in fastnn, scikit-learn and PyTorch.

Each is a variant of a contender of ``peers.py`` with one setting changed (momentum 0.9 without
Nesterov, or Adam with its defaults), so that ``--only momentum,adam`` compares them with the
plain per-sample SGD rows of the same run (``--only momentum,adam,per-sample SGD | float64``).
Every repeat starts from the same weights and a zero optimizer state.
"""

from peers import (
    BATCH_SIZE,
    LEARNING_RATE,
    FastnnEpoch,
    SklearnSGD,
    TorchMiniBatch,
    _timed,
)


class FastnnMomentum(FastnnEpoch):
    """One engine epoch of per-sample SGD with momentum 0.9 (``fnn_optim_epoch``)."""

    path = "per-sample momentum 0.9"
    note = "engine epoch with fastnn._optim.Optimizer(method='momentum', momentum=0.9)"
    method = "momentum"

    def _epoch(self, W):
        from fastnn import _optim

        optimizer = _optim.Optimizer(list(self.architecture.sizes), self.dtype, LEARNING_RATE, method=self.method,
                                     momentum=0.9)
        self.network.sgd_epoch(self.architecture, W, self.data, self.order, learning_rate=LEARNING_RATE,
                               batch_size=self.batch_size, n_jobs=self.n_jobs, optimizer=optimizer)

    def run(self):
        return _timed(self._epoch, self.core.aligned_copy(self.W0))


class FastnnAdam(FastnnMomentum):
    """One engine epoch of per-sample Adam (beta_1 0.9, beta_2 0.999, epsilon 1e-8)."""

    path = "per-sample adam"
    note = "engine epoch with fastnn._optim.Optimizer(method='adam')"
    method = "adam"


class FastnnAdamMiniBatch(FastnnAdam):
    """Adam in mini-batches of 128 rows (``fnn_optim_minibatch_epoch``, GEMMs on one BLAS thread)."""

    path = f"mini-batch {BATCH_SIZE} adam"
    note = "engine epoch, Adam, mini-batches through scipy's BLAS"
    batch_size = BATCH_SIZE


class SklearnMomentum(SklearnSGD):
    """`MLPClassifier(solver="sgd", momentum=0.9, nesterovs_momentum=False, batch_size=1)`, one epoch."""

    path = "per-sample momentum 0.9"
    settings = dict(solver="sgd", momentum=0.9, nesterovs_momentum=False)

    def _make(self):
        return super()._make().set_params(**self.settings)


class SklearnAdam(SklearnMomentum):
    """`MLPClassifier(solver="adam", batch_size=1)`, one epoch."""

    path = "per-sample adam"
    settings = dict(solver="adam")


class SklearnAdamMiniBatch(SklearnAdam):
    """`MLPClassifier(solver="adam", batch_size=128)`, one epoch."""

    path = f"mini-batch {BATCH_SIZE} adam"
    batch_size = BATCH_SIZE


class TorchAdamMiniBatch(TorchMiniBatch):
    """PyTorch mini-batch loop with ``torch.optim.Adam`` (defaults), 128 rows per step."""

    path = f"mini-batch {BATCH_SIZE} adam"
    note = "nn.Sequential + F.cross_entropy + loss.backward() + optim.Adam"

    def setup(self, shape, X, y):
        super().setup(shape, X, y)
        self.opt = self.torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE)




class SklearnLbfgs(SklearnSGD):
    """`MLPClassifier(solver="lbfgs", max_iter=20, tol=0)`: 20 L-BFGS iterations, the whole fit timed.

    Its samples/s is rows x 20 iterations / seconds; compare it with fastnn's lbfgs row only.
    """

    path = "lbfgs, 20 iterations (fit)"
    note = "rows x iterations / fit time; only comparable with the other lbfgs row"
    settings = dict(solver="lbfgs", max_iter=20, tol=0.0)

    def _make(self):
        return super()._make().set_params(**self.settings)

    def run(self):
        return super().run() / 20  # per pass over the rows, as the epoch rows


class FastnnLbfgs(SklearnLbfgs):
    """`fastnn.MLPClassifier(solver="lbfgs", max_iter=20, tol=0)`, the same fit."""

    library = "fastnn"

    def setup(self, shape, X, y):
        super().setup(shape, X, y)
        import fastnn

        self.MLPClassifier = fastnn.MLPClassifier


#: (class, dtype) pairs, run after those of peers.REGISTRY.
REGISTRY = [
    (FastnnMomentum, "float64"),
    (FastnnMomentum, "float32"),
    (FastnnAdam, "float64"),
    (FastnnAdam, "float32"),
    (FastnnAdamMiniBatch, "float64"),
    (FastnnAdamMiniBatch, "float32"),
    (SklearnMomentum, "float64"),
    (SklearnMomentum, "float32"),
    (SklearnAdam, "float64"),
    (SklearnAdam, "float32"),
    (SklearnAdamMiniBatch, "float64"),
    (SklearnAdamMiniBatch, "float32"),
    (TorchAdamMiniBatch, "float64"),
    (TorchAdamMiniBatch, "float32"),
    (SklearnLbfgs, "float64"),
    (FastnnLbfgs, "float64"),
]
