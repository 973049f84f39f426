"""What fastnn's scikit-learn estimators share: initial state, the stochastic fit, weight views.

The estimators keep every layer in one flat engine buffer, layer ``l`` stored as an
``(n_in + 1, width)`` block (``width >= n_out``, padded for the kernels) whose row 0 is the
bias: columns ``:n_out`` of rows ``1..n_in`` are exactly sklearn's ``coefs_[l]`` and of row 0
``intercepts_[l]``. Both attributes are therefore views of that buffer, computed on access;
nothing is kept twice. A pickle stores the weights in the user layout, independent of padding.

The epoch loop is sklearn's ``_fit_stochastic`` (stopping rules, ``ConvergenceWarning``, early
stopping's best weights) run under the rules of the training core, ``fastnn._training``.
"""

import numbers
import warnings

import joblib
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning

from . import _core, _engine, _training
from ._validation import check_weight_list


def sklearn_initial_weights(sizes, rng, dtype):
    """sklearn's initialisation for logistic units, in fastnn's layout.

    ``fastnn._training.initial_weights(sizes, "sklearn", rng, dtype)``: for each layer, in
    sklearn's order, ``coef ~ U(-r, r)`` of shape ``(n_in, n_out)``, then ``intercept ~ U(-r, r)``
    of shape ``(n_out,)``, with ``r = sqrt(2 / (n_in + n_out))``; the same ``RandomState`` gives
    the same weights as ``sklearn.neural_network.MLPClassifier(activation="logistic")``.

    Returns
    -------
    list of ndarray of shape (n_out, n_in + 1), dtype ``dtype``
        ``[intercept, coef.T]`` side by side: the bias in column 0.
    """
    return _training.initial_weights(sizes, "sklearn", rng, dtype)


def _resolve_n_jobs(n_jobs):
    """Threads for ``n_jobs``: ``None`` -> 1 (serial and reproducible, even inside a joblib
    backend's context), negative values by joblib's rule (``-1`` -> every CPU)."""
    if n_jobs is None:
        return 1
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use n_jobs=1 (serial), k > 1 threads, or -1 (all CPUs)")
    return joblib.effective_n_jobs(n_jobs)


def _finite(value, name):
    """The constraints already refuse inf and nan, but partial_fit skips them once fitted."""
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


class BaseMLP(BaseEstimator):
    """The fitted state and the stochastic fit of fastnn's estimators (not used directly).

    Subclasses provide the data handling of their task and ``_validation_score(outputs, y, w)``,
    the score that early stopping maximises.
    """

    def _check_init(self, sizes):
        """A string init, or the weights of a list init (checked against ``sizes``)."""
        if isinstance(self.init, str):
            return self.init
        weights, init_sizes = check_weight_list(list(self.init), name="init", n_features=sizes[0],
                                                        n_outputs=sizes[-1])
        if init_sizes != sizes:
            raise ValueError(
                f"init has layer sizes {init_sizes} but the model needs {sizes} (n_features, "
                "hidden_layer_sizes, and 1 output for two classes or one per class)"
            )
        return weights

    def _start(self, classes, sizes, flat, dtype):
        """Fresh fitted state: weights, shapes and an empty history."""
        self.__dict__.pop("_assigned", None)  # weights set by hand before this fit: in flat now, or dropped
        self.classes_ = classes
        self._sizes = [int(s) for s in sizes]
        self._flat = flat
        self._dtype = dtype
        self._best_flat = flat.copy() if self.early_stopping else None  # best weights so far
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = "logistic" if sizes[-1] == 1 else "softmax"
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            self.validation_loss_curve_ = []
        else:
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = None, None, np.inf
            self.validation_loss_curve_ = None

    def _output_code(self):
        """The engine's output layer: one sigmoid unit for two classes, else a softmax."""
        return _core.OUTPUT_SIGMOID if self._sizes[-1] == 1 else _core.OUTPUT_SOFTMAX

    def _architecture(self):
        return _core.Architecture(self._sizes, self._output_code(), self._flat.dtype)

    def _fit_stochastic(self, source, validation, rng, settings, incremental):
        """sklearn's ``_fit_stochastic``: one engine pass per epoch under the training core's rules.

        ``source`` is a :class:`Rows` (arrays in memory) or a ``fastnn._blocks.Blocks`` (a dask
        array, one block in memory at a time); ``validation`` is ``(X_val, y_val, sample_weight_val)`` or None.
        """
        dtype = settings["dtype"]
        early_stopping = self.early_stopping
        if validation is not None:
            X_val, y_val, sw_val = validation
            validation = (_engine.make_dataset(X_val, dtype, labels=y_val,
                                               sample_weight=None if sw_val is None else sw_val.astype(dtype)),
                          y_val, sw_val)
        n_samples = source.n_samples
        batch_size = self.batch_size
        if batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch_size = n_samples
        arch = self._architecture()
        W = self._flat

        def train(data, order):
            return _engine.sgd_epoch(arch, W, data, order, learning_rate=settings["learning_rate"],
                                     l2=settings["alpha"], batch_size=batch_size, n_jobs=settings["n_jobs"])

        def run_epoch(epoch):
            norm_before = self._squared_coef_norm()
            loss_sum, weight_sum = source.epoch(train, rng, self.shuffle)
            # sklearn adds (alpha / 2) ||coefs||^2 of the weights before each update; the engine
            # reports the data term only, so the penalty is averaged over the epoch's two ends
            penalty = 0.25 * settings["alpha"] * (norm_before + self._squared_coef_norm())
            return [loss_sum / weight_sum + penalty]

        def after_epoch(epoch, losses):
            self.n_iter_ = epoch
            self.t_ += n_samples
            self.loss_ = losses[0]
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            self._update_no_improvement_count(validation, arch)
            if self._no_improvement_count > self.n_iter_no_change:
                if self.verbose:
                    what = "Validation score" if early_stopping else "Training loss"
                    print(f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                          "consecutive epochs. Stopping.")
                return True
            if not incremental and self.n_iter_ == self.max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                    "converged yet." % self.max_iter,
                    ConvergenceWarning,
                )
            return False

        self.n_iter_ = 0
        try:
            outcome = _training.run_epochs(W, 1 if incremental else self.max_iter, run_epoch, after_epoch)
        except _training.Diverged as error:
            raise ValueError(
                f"training diverged in epoch {error.epoch}: the weights or the loss became NaN, infinite or absurdly "
                "large (the model keeps those of the epoch before). Lower learning_rate_init or scale the inputs, "
                "e.g. with StandardScaler."
            ) from None
        if outcome.interrupted:
            warnings.warn("Training interrupted by user.")
        if early_stopping:
            W[:] = self._best_flat  # restore the best weights

    def _squared_coef_norm(self):
        """``sum_l ||coefs_[l]||^2`` in double (the biases are not penalised)."""
        return float(sum(np.dot(c.ravel(), c.ravel()) for c in (c.astype(np.float64) for c in self.coefs_)))

    def _update_no_improvement_count(self, validation, arch):
        if validation is not None:
            data, y_val, sw_val = validation
            score = self._validation_score(_engine.predict_outputs(arch, self._flat, data), y_val, sw_val)
            val_weight = float(data.n_rows if sw_val is None else sw_val.sum())
            self.validation_loss_curve_.append(_engine.loss_sum(arch, self._flat, data) / val_weight)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_flat = self._flat.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def __sklearn_is_fitted__(self):
        return getattr(self, "_flat", None) is not None

    # ------------------------------------------------------------------ weights in sklearn's layout

    def _layer_blocks(self):
        """Each layer's ``(n_in + 1, n_out)`` view of the engine buffer: row 0 bias, rows 1.. coef."""
        if not self.__sklearn_is_fitted__():
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit first")
        arch = self._architecture()
        for layer, (n_in, n_out) in enumerate(zip(self._sizes[:-1], self._sizes[1:])):
            # the engine may pad each row of a layer beyond n_out; the padding is never shown
            block = self._flat[arch.layer_offset(layer) : arch.layer_offset(layer + 1)].reshape(n_in + 1, -1)
            yield block[:, :n_out]

    @property
    def coefs_(self):
        """list of ndarray: layer ``l``'s weights, shape ``(n_in, n_out)``, views of the engine buffer.

        Assignable as in sklearn: ``model.coefs_ = [...]`` or ``model.coefs_[l] = W`` writes into
        the weights of a fitted model (same shapes). Before the first fit, ``coefs_`` and
        ``intercepts_`` set by hand are kept as given and are the starting weights of
        ``partial_fit`` or of a ``warm_start`` fit (a fit that starts again draws new ones).
        """
        if not self.__sklearn_is_fitted__() and "coefs_" in self.__dict__.get("_assigned", {}):
            return self._assigned["coefs_"]
        return _LayerViews("coefs_", (block[1:] for block in self._layer_blocks()))

    @coefs_.setter
    def coefs_(self, value):
        self._assign("coefs_", value)

    @property
    def intercepts_(self):
        """list of ndarray: layer ``l``'s biases, shape ``(n_out,)``, views of the engine buffer
        (assignable: see ``coefs_``)."""
        if not self.__sklearn_is_fitted__() and "intercepts_" in self.__dict__.get("_assigned", {}):
            return self._assigned["intercepts_"]
        return _LayerViews("intercepts_", (block[0] for block in self._layer_blocks()))

    @intercepts_.setter
    def intercepts_(self, value):
        self._assign("intercepts_", value)

    def _assign(self, name, value):
        if not self.__sklearn_is_fitted__():  # kept as given: sklearn's tests build a model by hand
            self.__dict__.setdefault("_assigned", {})[name] = value
            return
        views = getattr(self, name)
        if not isinstance(value, (list, tuple)) or len(value) != len(views):
            raise ValueError(f"{name} must be a list of {len(views)} arrays, one per layer, got {value!r}")
        arrays = [views.checked(layer, array) for layer, array in enumerate(value)]  # all, before writing any
        for view, array in zip(views, arrays):
            view[...] = array

    def _assigned_weights(self, sizes):
        """``coefs_`` and ``intercepts_`` set by hand before the first fit, as ``(n_out, n_in + 1)``
        matrices for the layer ``sizes`` (None unless both were set)."""
        assigned = self.__dict__.get("_assigned", {})
        if "coefs_" not in assigned or "intercepts_" not in assigned:
            return None
        coefs, intercepts = list(assigned["coefs_"]), list(assigned["intercepts_"])
        expected = [((n_in, n_out), (n_out,)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        given = [(np.shape(c), np.shape(b)) for c, b in zip(coefs, intercepts)]
        if len(coefs) != len(intercepts) or given != expected:
            raise ValueError(f"coefs_ and intercepts_ set by hand have the shapes {given}, but the layer sizes "
                             f"{sizes} need {expected} (coef, intercept) per layer")
        weights = [np.column_stack([np.asarray(b, dtype=np.float64), np.asarray(c, dtype=np.float64).T])
                   for c, b in zip(coefs, intercepts)]
        if not all(np.isfinite(W).all() for W in weights):
            raise ValueError("coefs_ and intercepts_ set by hand contain NaN or infinity")
        return weights

    def __getstate__(self):
        # stored in the user layout, so that a pickle does not depend on the engine's padding
        state = dict(super().__getstate__())
        state.pop("_fit_lock", None)
        if state.get("_flat") is not None:
            for name in ("_flat", "_best_flat"):
                if state.get(name) is not None:
                    state[name] = _engine.unpack_weights(state[name], self._sizes)
        return state

    def __setstate__(self, state):
        if isinstance(state.get("_flat"), list):
            state = dict(state)
            for name in ("_flat", "_best_flat"):
                if state.get(name) is not None:
                    state[name] = _engine.pack_weights(state[name], state["_dtype"])
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = self.n_jobs not in (None, 1)  # Hogwild! threads race by design
        return tags


class _LayerViews(list):
    """The list ``coefs_`` or ``intercepts_`` returns: one view per layer, and ``views[l] = W``
    writes ``W`` into that layer's weights (replacing an item of sklearn's list does the same)."""

    def __init__(self, name, views):
        super().__init__(views)
        self.name = name

    def __setitem__(self, layer, value):
        if not isinstance(layer, numbers.Integral):
            raise TypeError(f"set one layer at a time: {self.name}[l] = array")
        self[layer][...] = self.checked(layer, value)

    def checked(self, layer, value):
        """``value`` as a float64 array of layer ``layer``'s shape, finite."""
        array = np.asarray(value, dtype=np.float64)
        if array.shape != self[layer].shape:
            raise ValueError(f"{self.name}[{layer}] must have the shape {self[layer].shape} (the fitted layer "
                             f"sizes), got {array.shape}; to change the layers, fit again")
        if not np.isfinite(array).all():
            raise ValueError(f"{self.name}[{layer}] contains NaN or infinity")
        return array


class Rows:
    """Training rows in memory: one engine dataset, visited in sklearn's order.

    Parameters
    ----------
    X : ndarray or CSR matrix, as the engine reads it
    y_index : ndarray of int32
        Class (or target) indices of the rows.
    sample_weight : ndarray of float64 or None
    dtype : np.float64 or np.float32
    """

    def __init__(self, X, y_index, sample_weight, dtype):
        self.n_samples = X.shape[0]
        self.weight_sum = float(self.n_samples if sample_weight is None else sample_weight.sum())
        self.data = _engine.make_dataset(X, dtype, labels=y_index,
                                         sample_weight=None if sample_weight is None else sample_weight.astype(dtype))
        self.sample_idx = np.arange(self.n_samples, dtype=np.intp)

    def epoch(self, train, rng, shuffle):
        """``train(data, order)`` over every row; returns ``(loss_sum, weight_sum)``."""
        if shuffle:  # sklearn.utils.shuffle(sample_idx, random_state=rng): each epoch permutes the last order
            permutation = np.arange(self.n_samples)
            rng.shuffle(permutation)
            self.sample_idx = self.sample_idx[permutation]
        return train(self.data, self.sample_idx), self.weight_sum
