"""The training core: initial weights and the epoch loop that every front end runs.

``Network.fit``, ``MLPClassifier.fit``/``partial_fit`` and the command line all train through
:func:`run_epochs`, so that one set of rules holds everywhere:

- **Snapshot.** The weights (and the optimizer's state, if any) are copied before each epoch;
  nobody else keeps copies per epoch. Every rule below that puts the weights back puts the
  optimizer's state, step count and learning rate back with them.
- **Ctrl-C** (``KeyboardInterrupt``) during an epoch, or while its losses are computed, puts the
  weights back to the end of the last completed epoch and ends the loop as *interrupted*; during
  the bookkeeping after a completed epoch it keeps that epoch. The front end then sets its
  ``interrupted_`` flag and issues one warning; ``KeyboardInterrupt`` never escapes the loop.
- **Errors**: any other exception inside an epoch (a worker lost, memory exhausted) also puts
  the weights back to the end of the last completed epoch, then propagates.
- **Divergence**: an epoch after which a weight or a loss is NaN or infinite, or whose mean
  training loss is absurd (:func:`absurd_loss`), puts the weights back to the end of the last
  completed epoch and raises :class:`Diverged` naming the epoch.
- **History and callbacks** belong to ``after_epoch``, called once per completed epoch; it may
  stop the loop by returning True, and an exception it raises propagates (the weights stay those
  of that completed epoch).
"""

import threading
from collections import namedtuple
from contextlib import contextmanager

import numpy as np

class Diverged(ValueError):
    """Training diverged: the weights or the loss of an epoch became NaN, infinite or absurd.

    Attributes
    ----------
    epoch : int
        The epoch (1-based, counted from the start of this fit) that diverged.
    """

    def __init__(self, epoch):
        self.epoch = epoch
        super().__init__(
            f"training diverged at epoch {epoch}: the weights or the loss became NaN, infinite or absurdly large "
            f"(the model keeps the weights of the epoch before). Lower the learning rate or scale the inputs "
            "(e.g. with StandardScaler)."
        )


class Outcome(namedtuple("Outcome", ["n_epochs", "interrupted"])):
    """How :func:`run_epochs` ended.

    Attributes
    ----------
    n_epochs : int
        Epochs completed (and kept) in this call.
    interrupted : bool
        Ctrl-C ended the loop; the weights are those after ``n_epochs`` epochs.
    """

    __slots__ = ()


def run_epochs(W, max_epochs, run_epoch, after_epoch, optimizer=None, *, target_scale=None):
    """Train for up to ``max_epochs`` epochs under the rules of this module.

    Parameters
    ----------
    W : ndarray
        The flat engine weights that ``run_epoch`` updates in place.
    max_epochs : int
    run_epoch : callable
        ``run_epoch(epoch) -> losses``: one epoch of training and the loss passes it needs;
        ``losses`` is a sequence of floats whose first entry is the epoch's mean training loss.
        Ctrl-C or an exception inside it rolls the epoch back.
    after_epoch : callable
        ``after_epoch(epoch, losses) -> bool``: history, callbacks and stopping rules of the
        front end after a completed epoch; True stops the loop.
    optimizer : fastnn._optim.Optimizer, optional
        The optimizer whose state ``run_epoch`` updates with ``W``: snapshotted and rolled back
        with the weights.
    target_scale : float, optional
        For squared-error losses (regression): the root mean square of the targets, which sets
        what loss is absurd (see :func:`absurd_loss`).

    Returns
    -------
    Outcome

    Raises
    ------
    Diverged
        After putting the weights back to the last completed epoch.
    """
    epoch = 0
    try:
        for epoch in range(1, max_epochs + 1):
            snapshot = state = None
            try:
                snapshot = W.copy()
                state = None if optimizer is None else optimizer.snapshot()
                losses = run_epoch(epoch)
            except BaseException as error:  # an epoch that does not complete leaves no trace
                if snapshot is not None:
                    W[:] = snapshot
                if state is not None:
                    optimizer.restore(state)
                if isinstance(error, KeyboardInterrupt):
                    return Outcome(epoch - 1, interrupted=True)
                raise
            if diverged(W, losses, target_scale) or (optimizer is not None and not np.isfinite(optimizer.state).all()):
                W[:] = snapshot
                if state is not None:
                    optimizer.restore(state)
                raise Diverged(epoch)
            if after_epoch(epoch, losses):
                return Outcome(epoch, interrupted=False)
    except KeyboardInterrupt:  # in the bookkeeping of a completed epoch: that epoch stays
        return Outcome(epoch, interrupted=True)
    return Outcome(max_epochs, interrupted=False)


def absurd_loss(dtype, target_scale=None):
    """The mean training loss above which a fit has diverged.

    A sample's cross-entropy is about the gap between its largest logit and its true class's
    logit. Once the mean gap exceeds ``1 / eps`` (4.5e15 in float64, 8.4e6 in float32), logits
    are so large that numbers differing by 1 are equal in that precision: the weights have blown
    up and what the model predicts is rounding (``--lr 1e300`` gives a loss of about 1e300).
    A squared error ``1/2 e^2`` is absurd in the same sense when the error ``e`` is ``1 / eps``
    times the scale of the targets (``target_scale``, their root mean square, at least 1):
    ``1/2 (target_scale / eps)^2``, so that large targets are no divergence by themselves.
    """
    eps = np.finfo(dtype).eps
    if target_scale is None:
        return 1.0 / eps
    return 0.5 * (max(float(target_scale), 1.0) / eps) ** 2


def diverged(W, losses, target_scale=None):
    """Whether weights ``W`` and an epoch's ``losses`` (training loss first) mean divergence."""
    losses = np.asarray(losses, dtype=np.float64)
    return not (np.isfinite(losses).all() and losses[0] <= absurd_loss(W.dtype, target_scale)
                and np.isfinite(W).all())


@contextmanager
def exclusive_fit(model):
    """Refuse a second ``fit`` of one instance while the first runs in another thread.

    Raises
    ------
    RuntimeError
        ``model`` is already being fitted.
    """
    lock = model.__dict__.setdefault("_fit_lock", threading.Lock())  # atomic under the GIL
    if not lock.acquire(blocking=False):
        raise RuntimeError(f"this {type(model).__name__} is already being fitted in another thread; "
                           "fit separate instances (e.g. sklearn.base.clone) to train in parallel")
    try:
        yield
    finally:
        lock.release()


def initial_weights(sizes, init, rng, dtype, activation="logistic"):
    """Starting weights in the user layout.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_features, hidden..., n_outputs]``.
    init : {"uniform", "zeros", "glorot", "sklearn"}
        ``"uniform"``: weights ~ U(-0.1, 0.1), biases 0 (the handout's RANDOM scheme);
        ``"zeros"``: everything 0 (ZERO); ``"glorot"``: weights ~ U(-r, r) with
        ``r = sqrt(6 / (n_in + n_out))``, biases 0, suited to deeper nets; ``"sklearn"``: for
        each layer in order, ``coef ~ U(-r, r)`` of shape ``(n_in, n_out)`` then
        ``intercept ~ U(-r, r)``, ``r = sqrt(2 / (n_in + n_out))`` for logistic units and
        ``sqrt(6 / (n_in + n_out))`` for the others (Glorot & Bengio, 2010), drawn exactly as
        scikit-learn's MLPs draw them from the same ``RandomState``.
    rng : numpy.random.Generator or numpy.random.RandomState
    dtype : np.float64 or np.float32
    activation : str or sequence of str, default="logistic"
        The hidden activation(s), which set the ``"sklearn"`` bound (a list counts as logistic
        only when every entry is).

    Returns
    -------
    list of ndarray, shape (n_out, n_in + 1) each, bias in column 0
    """
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = np.zeros((n_out, n_in + 1), dtype=np.float64)
        if init == "uniform":
            W[:, 1:] = rng.uniform(-0.1, 0.1, size=(n_out, n_in))
        elif init == "glorot":
            bound = np.sqrt(6.0 / (n_in + n_out))
            W[:, 1:] = rng.uniform(-bound, bound, size=(n_out, n_in))
        elif init == "sklearn":
            logistic = all(a == "logistic" for a in ([activation] if isinstance(activation, str) else activation))
            bound = np.sqrt((2.0 if logistic else 6.0) / (n_in + n_out))
            W[:, 1:] = rng.uniform(-bound, bound, (n_in, n_out)).T
            W[:, 0] = rng.uniform(-bound, bound, n_out)
        weights.append(W.astype(dtype))
    return weights
