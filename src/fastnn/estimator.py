"""fastnn.MLPClassifier: a scikit-learn classifier trained by fastnn's C engine.

The estimator follows ``sklearn.neural_network.MLPClassifier`` wherever the meaning is the same
(parameter names, fitted attributes, the stopping rules, ``ConvergenceWarning``, ``partial_fit``,
``warm_start``, early stopping) and even draws its random numbers the same way: with
``init="sklearn"``, ``batch_size=1`` and the same ``random_state``, it starts from sklearn's
initial weights and visits the rows in sklearn's order, so it follows the trajectory of
``sklearn.neural_network.MLPClassifier(activation="logistic", solver="sgd", batch_size=1,
momentum=0)`` up to rounding, many times faster.

What every fastnn estimator shares (the stochastic fit, the weights as views of the engine
buffer, pickling) is in ``fastnn._mlp``.
"""

import functools

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import _blocks
from ._docs import with_shared_parameter_docs
from ._mlp import MLP_CONSTRAINTS, BaseMLP
from ._blocks import Rows  # noqa: F401 (public here)
from ._mlp import INITS, _finite, _resolve_n_jobs, sklearn_initial_weights  # noqa: F401 (public here)

__all__ = ["MLPClassifier"]


@with_shared_parameter_docs
class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier trained by fastnn's SGD engine.

    Hidden layers compute ``z = g(z_prev @ coefs_[l] + intercepts_[l])`` with ``g`` the
    ``activation``; the output is one sigmoid unit for one or two classes (binary
    cross-entropy), a softmax over the classes (cross-entropy), or for a multilabel indicator
    ``y`` one sigmoid per label (binary cross-entropy summed over the labels). Training is stochastic gradient descent with a fixed learning rate and,
    by default, one update per sample (``batch_size=1``), in C with the GIL released::

        W <- W - learning_rate_init * (sample_weight_i * dJ_i/dW + alpha * W)

    where the ``alpha * W`` term applies to ``coefs_`` only, never to ``intercepts_``. With
    ``momentum``, ``solver="adam"`` or ``solver="lbfgs"`` the same gradient goes to sklearn's
    update rule for that solver (see ``fastnn._optim`` and ``fastnn._lbfgs``).

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(100,)
        Units of each hidden layer; ``()`` gives logistic / softmax regression.
    activation : {"logistic", "tanh", "relu", "identity", "leaky_relu"} or list, default="logistic"
        Hidden-unit function, sklearn's names (plus ``"leaky_relu"``, slope 0.01 below 0), or
        one per hidden layer. sklearn's default is ``"relu"``; fastnn keeps the logistic units
        it has always trained.
    %(solver_alpha_batch_size)s
    learning_rate_init : float, default=0.01
        The step size, > 0 (the first one under a schedule; Adam's base rate). sklearn's
        default is 0.001, tuned for adam.
    %(max_iter_shuffle_random_state)s
    tol : float, default=1e-4
        Training stops when the loss (or, with early stopping, the validation accuracy) has
        not improved by at least ``tol`` for ``n_iter_no_change`` consecutive epochs.
    verbose : bool or int, default=False
        Print the loss (and validation accuracy) after each epoch.
    warm_start : bool, default=False
        ``fit`` continues from the current weights instead of starting again; the classes
        and the layer sizes must not change.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified for one or two classes, as in
        sklearn), stop when their accuracy stops improving and restore the best weights.
    %(validation_fraction_n_iter_no_change)s
    class_weight : dict, "balanced" or None, default=None
        Weight of each class, multiplied into the sample weights (not in sklearn's
        ``MLPClassifier``). ``"balanced"`` uses ``n_samples / (n_classes * count(class))``.
    init : {"sklearn", "uniform", "zeros", "glorot"} or list of ndarray, default="sklearn"
        Starting weights. ``"sklearn"``: weights and biases ~ U(-r, r),
        ``r = sqrt(2 / (fan_in + fan_out))``, drawn exactly as sklearn draws them;
        ``"uniform"``: weights ~ U(-0.1, 0.1), biases 0; ``"zeros"``: all 0; ``"glorot"``:
        weights ~ U(+-sqrt(6 / (fan_in + fan_out))), biases 0. A list gives one
        ``(n_out, n_in + 1)`` matrix per layer, bias in column 0 (fastnn's layout; the output
        layer has 1 row for one or two classes, else one per class).
    %(dtype_n_jobs_and_the_solvers_settings)s
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
    feature_names_in_ : ndarray of str of shape ``(n_features_in_,)``
        Defined when ``X`` had string column names.
    coefs_ : list of ndarray, shape (n_in, n_out) each
        Weight matrices in sklearn's layout (views of the engine buffer).
    intercepts_ : list of ndarray, shape (n_out,) each
        Bias vectors (views of the engine buffer).
    n_layers_ : int
        Layers including input and output.
    n_outputs_ : int
        Output units: 1 for one or two classes, else ``n_classes``.
    out_activation_ : {"logistic", "softmax"}
        ``"logistic"`` for one or two classes and for multilabel ``y``.
    loss_ : float
        Training loss of the last epoch (see Notes).
    loss_curve_ : list of float
        ``loss_`` of each epoch.
    best_loss_ : float or None
        Lowest ``loss_`` seen; None with early stopping.
    validation_scores_ : list of float or None
        Accuracy on the held-out rows after each epoch (early stopping only).
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (early stopping only).
    validation_loss_curve_ : list of float or None
        Mean (sample-weighted) cross-entropy of the held-out rows after each epoch, without
        the penalty (early stopping only).
    n_iter_ : int
        Epochs run by the last call to ``fit`` (1 after ``partial_fit``).
    t_ : int
        Training rows visited since the weights were initialised.

    Notes
    -----
    ``loss_`` is sklearn's: the running mean of each sample's (weighted) cross-entropy,
    measured just before that sample's update, divided by the sum of the weights, plus the
    penalty ``(alpha / 2) * sum ||coefs_||^2``. sklearn adds the penalty of the weights before
    each update; the engine reports the data term only, so fastnn averages the penalty of the
    weights at the start and at the end of the epoch. With ``alpha=0`` the two losses agree
    to rounding; otherwise they differ by a fraction of the penalty's change over one epoch.

    ``sample_weight`` scales each row's loss and its update (``W -= lr * (w_i * g_i + alpha *
    W)``); a row of weight 0 is left out altogether. This is the per-sample meaning of a
    weight, which sklearn's ``batch_size=1`` does not have: it divides each update by the
    sample's own weight, so the weight cancels from the data term. Per-sample SGD is not the
    same as repeating a row ``w_i`` times, so scikit-learn's two sample-weight equivalence
    checks are expected failures.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastnn.estimator import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(10,),
    ...                       learning_rate_init=0.1, max_iter=50, random_state=0))
    >>> model.fit(X, y).score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "class_weight": [dict, StrOptions({"balanced"}), None],
        **MLP_CONSTRAINTS,
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="logistic", solver="sgd", alpha=0.0001,
                 batch_size=1, learning_rate_init=0.01, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, class_weight=None, init="sklearn", dtype=None, n_jobs=None,
                 learning_rate="constant", power_t=0.5, momentum=0.0, nesterovs_momentum=True, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, max_fun=15000):
        self._store_parameters(locals())

    # ------------------------------------------------------------------ fitting

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of SGD over ``X``, ``y``, continuing from the current weights.

        The arguments are sklearn's, in sklearn's order.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, each one of ``classes``.
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like of shape (n_classes,), default=None
            Every class the model will see; required on the first call, optional later
            (it must then equal ``classes_``).

        Returns
        -------
        self : MLPClassifier

        Raises
        ------
        ValueError
            With ``early_stopping=True`` (one epoch over a chunk has no held-out rows to stop
            on), as in sklearn; with ``class_weight="balanced"`` (the class frequencies of one
            chunk are not those of the data: pass a dict instead).
        """
        if not self.__sklearn_is_fitted__():
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            classes = unique_labels(classes)
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"`classes={classes!r}` is not the same as on the first call to partial_fit, "
                             f"was: {self.classes_!r}")
        else:
            classes = self.classes_
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _check_settings(self, incremental):
        settings = super()._check_settings(incremental)
        if incremental and isinstance(self.class_weight, str):
            raise ValueError("class_weight='balanced' needs the whole training set; with partial_fit "
                             "pass a dict of class weights, or sample_weight")
        return settings

    def _encode_targets(self, y, dtype, first_pass, incremental, classes):
        """``y`` as the engine takes it: class indices (int32), or for a multilabel indicator
        matrix the (n, K) 0/1 targets; and the task (classes, multilabel, output units)."""
        multilabel = y.ndim == 2 and type_of_target(y) == "multilabel-indicator"
        if not first_pass and multilabel != getattr(self, "_multilabel", False):
            raise ValueError(f"y is {'a multilabel indicator matrix' if multilabel else 'one label per row'} but the "
                             f"model was fitted on {'one label per row' if multilabel else 'multilabel y'}; set "
                             "warm_start=False to start again")
        if multilabel:
            if self.class_weight:
                raise ValueError("class_weight is not available for multilabel y; pass sample_weight")
            n_labels = y.shape[1]
            # as sklearn's label binarizer: a non-zero entry is the label's presence
            return (np.ascontiguousarray(y != 0, dtype=dtype),
                    {"classes": np.arange(n_labels), "multilabel": True, "n_outputs": n_labels})
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim == 2:
            raise ValueError(f"Multioutput target data is not supported with label binarization: y has {y.shape[1]} "
                             "columns that are not a 0/1 multilabel indicator matrix; give one label per row, or "
                             "0/1 indicators of the labels each row has")
        check_classification_targets(y)
        classes = self._check_classes(y, first_pass, incremental, classes)
        y_index = np.searchsorted(classes, y).astype(np.int32)
        return y_index, {"classes": classes, "multilabel": False, "labels": y,
                         "n_outputs": 1 if len(classes) <= 2 else len(classes)}

    def _set_task(self, task):
        self.classes_ = task["classes"]
        self._multilabel = task["multilabel"]

    def _output(self):
        """The engine's output layer: K sigmoids for multilabel y, one sigmoid unit for one or two
        classes, else a softmax."""
        if getattr(self, "_multilabel", False):
            return "multilabel"
        return "sigmoid" if self._sizes[-1] == 1 else "softmax"

    def _stream_targets(self, y, dtype, first_pass, incremental, classes):
        """The task of a dask ``y`` (its classes, from one pass over it) and ``prepare``, which
        turns a block of rows and labels into engine data (see ``_encode_targets``)."""
        if isinstance(self.class_weight, str):
            raise ValueError("class_weight='balanced' is not available on a dask array (it needs the class counts "
                             "of every block); pass class_weight as a dict")
        labels = np.asarray(y.map_blocks(np.unique, dtype=y.dtype).compute())  # one pass over y
        check_classification_targets(labels)
        classes = self._check_classes(labels, first_pass, incremental, classes)
        task = {"classes": classes, "multilabel": False, "n_outputs": 1 if len(classes) <= 2 else len(classes)}
        return task, functools.partial(_blocks.prepare_block, classes=classes,
                                       class_weights=self._class_weights(classes), dtype=dtype)

    def _check_classes(self, y, first_pass, incremental, classes):
        """``classes_`` for this fit: new on a first pass, else checked against the fitted ones."""
        if incremental and classes is not None:
            new = classes
        elif first_pass:
            new = unique_labels(y)
        else:
            new = self.classes_
        seen = unique_labels(y)
        if self.warm_start and not incremental and not first_pass and not np.array_equal(seen, new):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the previous call to "
                f"fit. Previously got {self.classes_}, `y` has {seen}"
            )
        missing = np.setdiff1d(seen, new)
        if len(missing):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {new}. "
                             f"'y' has {seen}.")
        return new

    def _sample_weight(self, sample_weight, X, y, task):
        """Per-row weights (sample_weight times class_weight) as float64, or None for all ones."""
        classes = task["classes"]
        y = task.get("labels", y)
        sample_weight = super()._sample_weight(sample_weight, X, y, task)
        if self.class_weight is None or (isinstance(self.class_weight, dict) and not self.class_weight):
            return sample_weight
        per_class = compute_class_weight(self.class_weight, classes=classes, y=y,
                                         sample_weight=sample_weight)
        per_class = np.asarray(per_class, dtype=np.float64)
        if not np.all(np.isfinite(per_class)) or np.any(per_class < 0):
            raise ValueError(f"class_weight must give finite weights >= 0, got {self.class_weight!r}")
        row_weight = per_class[np.searchsorted(classes, y)]
        return row_weight if sample_weight is None else sample_weight * row_weight

    def _class_weights(self, classes):
        """The weight of each class as an array (a dict ``class_weight``), or None for all ones."""
        if not self.class_weight:
            return None
        per_class = np.asarray(compute_class_weight(self.class_weight, classes=classes, y=classes), dtype=np.float64)
        if not np.all(np.isfinite(per_class)) or np.any(per_class < 0):
            raise ValueError(f"class_weight must give finite weights >= 0, got {self.class_weight!r}")
        return per_class

    def _stratify(self, truth, task):
        """sklearn stratifies on its binarized y only when that has one column (one or two classes)."""
        return (truth == 1)[:, None] if truth.ndim == 1 and len(task["classes"]) <= 2 else None

    def _validation_score(self, outputs, y_index, sample_weight):
        """Accuracy of the network's outputs on held-out rows (class indices ``y_index``; for
        multilabel y the indicator rows, and the accuracy is that of whole label sets)."""
        if getattr(self, "_multilabel", False):
            return accuracy_score(y_index.astype(np.int64), (outputs > 0.5).astype(np.int64),
                                  sample_weight=sample_weight)
        if len(self.classes_) == 1:  # as predict: the one class, whatever the output
            predicted = np.zeros(len(y_index), dtype=np.int32)
        else:
            predicted = (outputs[:, 0] > 0.5).astype(np.int32) if outputs.shape[1] == 1 else np.argmax(outputs, axis=1)
        return accuracy_score(y_index, predicted, sample_weight=sample_weight)

    # ------------------------------------------------------------------ prediction

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), dtype of the model
            Columns ordered as ``classes_``; rows sum to 1. A model fitted on a single class
            returns 2 columns, as sklearn's does: ``1 - p`` and ``p``, where ``p``, the output
            unit, was trained towards 0 (column 0 is the probability of that class).
        """
        out = self._predict_outputs(X)
        if out.shape[1] == 1 and not getattr(self, "_multilabel", False):
            return np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        """Natural log of :meth:`predict_proba` (``-inf`` where a probability is exactly 0).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), dtype of ``classes_``
            The class of a model fitted on a single class for every row (as sklearn).
        """
        check_is_fitted(self)
        proba = self.predict_proba(X)
        if getattr(self, "_multilabel", False):  # the label sets, as sklearn's label binarizer gives them back
            return (proba > 0.5).astype(np.int64)
        if len(self.classes_) == 1:
            return np.repeat(self.classes_, proba.shape[0])
        return self.classes_[np.argmax(proba, axis=1)]
