"""fastnn.MLPRegressor: a scikit-learn regressor trained by fastnn's C engine.

The estimator follows ``sklearn.neural_network.MLPRegressor`` wherever the meaning is the same
(parameter names, fitted attributes, the stopping rules, ``partial_fit``, ``warm_start``, early
stopping on R^2) and draws its random numbers the same way: with ``init="sklearn"`` and the same
``random_state`` it starts from sklearn's initial weights and visits the rows in sklearn's
order, so it follows ``MLPRegressor(solver="sgd", learning_rate="constant", momentum=0)`` up
to rounding. The output layer is the identity, the loss half the squared error.
"""

import functools

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from . import _blocks
from ._docs import with_shared_parameter_docs
from ._mlp import MLP_CONSTRAINTS, BaseMLP

__all__ = ["MLPRegressor"]


@with_shared_parameter_docs
class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor trained by fastnn's SGD engine.

    Hidden layers compute ``z = g(z_prev @ coefs_[l] + intercepts_[l])`` with ``g`` the
    ``activation``; the output layer is the identity, one unit per target, trained on half the
    squared error. Training is stochastic gradient descent with a fixed learning rate and, by
    default, one update per sample (``batch_size=1``), in C with the GIL released::

        W <- W - learning_rate_init * (sample_weight_i * dJ_i/dW + alpha * W)

    with ``J_i = 1/2 ||y_hat_i - y_i||^2`` and the ``alpha * W`` term on ``coefs_`` only. With
    ``momentum``, ``solver="adam"`` or ``solver="lbfgs"`` the same gradient goes to sklearn's
    update rule for that solver (see ``fastnn._optim`` and ``fastnn._lbfgs``).

    Parameters
    ----------
    loss : {"squared_error"}, default="squared_error"
        sklearn's only other choice, ``"poisson"``, needs an exponential output layer the
        engine does not have.
    hidden_layer_sizes : array-like of int, default=(100,)
        Units of each hidden layer; ``()`` is linear regression.
    activation : {"relu", "tanh", "logistic", "identity", "leaky_relu"} or list, default="relu"
        Hidden-unit function (sklearn's default), or one per hidden layer.
    %(solver_alpha_batch_size)s
    learning_rate_init : float, default=0.001
        The step size, > 0 (sklearn's value; the first one under a schedule, Adam's base
        rate). Per-sample steps on unscaled targets are
        large: scale ``y`` (e.g. ``TransformedTargetRegressor``) or lower the step if a fit
        diverges.
    %(max_iter_shuffle_random_state)s
    tol : float, default=1e-4
    verbose : bool or int, default=False
    warm_start : bool, default=False
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their R^2 stops improving;
        the best weights are restored.
    %(validation_fraction_n_iter_no_change)s
    init : {"sklearn", "uniform", "zeros", "glorot"} or list of ndarray, default="sklearn"
        Starting weights, as in :class:`fastnn.MLPClassifier` (sklearn's bound for non-logistic
        units is ``sqrt(6 / (fan_in + fan_out))``).
    %(dtype_n_jobs_and_the_solvers_settings)s

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` had string column names.
    coefs_, intercepts_ : list of ndarray
        Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer (views of the engine buffer).
    n_layers_ : int
    n_outputs_ : int
        Targets.
    out_activation_ : "identity"
    loss_ : float
        sklearn's loss of the last epoch: the mean over rows and targets of half the squared
        error of each row measured before its update, plus the penalty (see
        :class:`fastnn.MLPClassifier`'s Notes on the penalty).
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
        R^2 of the held-out rows after each epoch (early stopping only).
    best_validation_score_ : float or None
    validation_loss_curve_ : list of float or None
    n_iter_ : int
    t_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    >>> model = MLPRegressor(hidden_layer_sizes=(32,), max_iter=50, random_state=0).fit(X, y)
    >>> model.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "loss": [StrOptions({"squared_error"})],
        **MLP_CONSTRAINTS,
    }

    _loss_per_output = True  # sklearn's squared error is a mean over the targets too
    _y_numeric = True
    _multi_output_blocks = True

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="sgd",
                 alpha=0.0001, batch_size=1, learning_rate_init=0.001, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, init="sklearn", dtype=None, n_jobs=None,
                 learning_rate="constant", power_t=0.5, momentum=0.0, nesterovs_momentum=True, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, max_fun=15000):
        self._store_parameters(locals())

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of SGD over ``X``, ``y``, continuing from the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, dtype, first_pass, incremental, classes):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        targets = _blocks.float_targets(y, dtype)
        return targets, {"n_outputs": targets.shape[1]}

    def _stream_targets(self, y, dtype, first_pass, incremental, classes):
        """The task of a dask ``y`` (its outputs, and the root mean square of its targets from one
        pass over it) and ``prepare``, which turns a block of rows and targets into engine data."""
        # as for rows in memory (fastnn._blocks.Rows), the scale of the targets sets what loss is divergence
        target_scale = float(np.sqrt((y.astype(dtype).astype(np.float64) ** 2).mean().compute()))
        if not np.isfinite(target_scale):
            raise ValueError(f"y holds NaN, infinity or a value too large for {np.dtype(dtype).name}; give finite "
                             "targets (scale them if they are large)")
        task = {"n_outputs": 1 if y.ndim == 1 else y.shape[1], "target_scale": target_scale}
        return task, functools.partial(_blocks.prepare_block, dtype=dtype)

    def _set_task(self, task):
        pass

    def _output(self):
        return "identity"

    def _validation_score(self, outputs, targets, sample_weight):
        """R^2 of the held-out rows, as sklearn's early stopping scores them."""
        return r2_score(targets, outputs, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for one target, else (n_samples, n_targets)
        """
        out = self._predict_outputs(X)
        return out[:, 0] if out.shape[1] == 1 else out
