"""Finite-difference check of the gradient the C engine's backward pass computes."""

from collections import namedtuple

import numpy as np

from . import _core, _engine
from ._validation import TARGET_OUTPUTS, check_labels, check_matrix, check_targets
from ._engine import make_dataset, pack_weights, unpack_weights
from .network import Network


#: How much finer than the tolerance the finite differences must resolve a layer's gradient for
#: its check to mean something.
NOISE_MARGIN = 10.0
#: The tolerance of ``fastnn gradcheck``; a finer one still checks the layers resolved this well
#: (and fails them, if it cannot be met) rather than calling them inconclusive.
DEFAULT_TOLERANCE = 1e-6


class LayerCheck(namedtuple("LayerCheck", ["error", "scale", "noise"])):
    """The finite-difference check of one layer's gradient.

    Attributes
    ----------
    error : float
        ``max |g_engine - g_numeric| / max(max |g_engine|, max |g_numeric|)`` (0 when both are
        exactly zero).
    scale : float
        ``max(max |g_engine|, max |g_numeric|)``.
    noise : float
        The rounding noise of a central difference of the loss ``J`` with step ``eps``,
        ``eps_float64 * max(|J|, 1) / eps``: numeric gradient entries are only known to about this.
    """

    __slots__ = ()

    def conclusive(self, tolerance=DEFAULT_TOLERANCE):
        """Whether the differences resolve the gradient finely enough to judge it at ``tolerance``.

        They know each entry to about ``noise``, the gradient to ``noise / scale`` relative; when
        that is not ``NOISE_MARGIN`` times finer than ``max(tolerance, DEFAULT_TOLERANCE)``, a
        correct gradient can show a relative error above the tolerance: the check would measure
        the rounding of the differences, not the engine.
        """
        return self.noise * NOISE_MARGIN <= self.scale * max(tolerance, DEFAULT_TOLERANCE)


def gradcheck(model, x, y, *, eps=1e-5):
    """Compare the engine's gradient of one sample's loss with centered finite differences.

    The analytic gradient comes from the same backward pass that the SGD update applies; the
    numeric one perturbs every parameter by ``+-eps`` in float64 and differences the
    cross-entropy: ``(J(w + eps) - J(w - eps)) / (2 eps)``.

    Parameters
    ----------
    model : Network
        A fitted network (its weights are used in float64 and left unchanged).
    x : array-like of shape (n_features,)
        One sample.
    y : int
        Its label.
    eps : float, default=1e-5

    Returns
    -------
    list of float
        For each layer, the worst relative error
        ``max |g_engine - g_numeric| / max(max |g_engine|, max |g_numeric|)`` (0 when both
        gradients are exactly zero). :func:`check_layers` also says whether each is conclusive.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> rng = np.random.default_rng(0)
    >>> weights = [rng.normal(size=(4, 4)), rng.normal(size=(3, 5))]
    >>> net = fastnn.Network.from_weights(weights)
    >>> errors = fastnn.gradcheck(net, [0.5, -1.0, 2.0], 2)
    >>> all(e < 1e-6 for e in errors)
    True
    """
    return [check.error for check in check_layers(model, x, y, eps=eps)]


def check_layers(model, x, y, *, eps=1e-5):
    """:func:`gradcheck` with each layer's gradient scale and the differences' noise floor.

    A saturated network (e.g. many inputs and few sigmoid units) can have gradients of 1e-11,
    where central differences are all rounding noise; such a layer is *inconclusive*
    (``LayerCheck.conclusive(tolerance)`` is False), not wrong.

    Returns
    -------
    list of LayerCheck
        One per layer.
    """
    gradients, loss = layer_gradients(model, x, y, eps=eps, return_loss=True)
    noise = float(np.finfo(np.float64).eps * max(abs(loss), 1.0) / eps)
    checks = []
    for analytic, numeric in gradients:
        scale = float(max(np.abs(analytic).max(), np.abs(numeric).max()))
        error = 0.0 if scale == 0 else float(np.abs(analytic - numeric).max() / scale)
        checks.append(LayerCheck(error, scale, noise))
    return checks


def layer_gradients(model, x, y, *, eps=1e-5, return_loss=False):
    """The engine's and the finite-difference gradient of one sample's loss, per layer.

    Parameters
    ----------
    model : Network
        Fitted.
    x : array-like of shape (n_features,)
    y : int or array-like
        The class label, or the row's targets (multilabel, identity outputs).
    eps : float
    return_loss : bool, default=False
        Also return the sample's loss.

    Returns
    -------
    list of (ndarray, ndarray)
        ``(analytic, numeric)`` per layer, each of shape ``(n_out, n_in + 1)``, float64.
    loss : float
        With ``return_loss``.
    """
    if not isinstance(model, Network):
        raise TypeError(f"gradcheck needs a fastnn.Network, got {type(model).__name__}")
    model._check_fitted()
    X = check_matrix(np.atleast_2d(np.asarray(x)), np.float64, name="x")
    if X.shape[0] != 1:
        raise ValueError(f"x must be one sample of shape (n_features,), got shape {np.shape(x)}")
    if X.shape[1] != model.n_features_in_:
        raise ValueError(f"x has {X.shape[1]} features, the network expects {model.n_features_in_}")
    if model._output in TARGET_OUTPUTS:
        targets = check_targets(np.reshape(y, (1, -1)), 1, np.float64, indicator=model._output == "multilabel")
        if targets.shape[1] != model.n_outputs_:
            raise ValueError(f"y has {targets.shape[1]} targets, the network has {model.n_outputs_} outputs")
        truth = {"targets": targets}
    else:
        label = check_labels(np.atleast_1d(y), 1)
        if label[0] >= model.n_classes_:
            raise ValueError(f"label {label[0]} is not one of the network's {model.n_classes_} classes")
        truth = {"labels": label}
    # in float64 whatever the network's precision: the finite differences need its resolution
    sizes = model._sizes
    arch = _engine.architecture(sizes, model._output, model._activations, np.float64)
    W = pack_weights(model.weights_, np.float64)
    data = make_dataset(X, np.float64, **truth)
    analytic, loss = _core.gradient(arch, W, data, 0)
    numeric = np.empty_like(W)
    for k in range(W.shape[0]):
        saved = W[k]
        W[k] = saved + eps
        loss_plus = _core.loss_sum(arch, W, data, 1)
        W[k] = saved - eps
        loss_minus = _core.loss_sum(arch, W, data, 1)
        W[k] = saved
        numeric[k] = (loss_plus - loss_minus) / (2 * eps)
    gradients = list(zip(unpack_weights(analytic, sizes), unpack_weights(numeric, sizes)))
    return (gradients, loss) if return_loss else gradients
