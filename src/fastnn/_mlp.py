"""What fastnn's scikit-learn estimators share: parameters, initial state, the stochastic fit.

Both estimators fit arrays in memory and dask arrays streamed block by block through the same
code (the two training sources are ``fastnn._blocks.Rows`` and ``fastnn._blocks.Blocks``).
Their weights, ``coefs_`` and ``intercepts_``, are views of one flat engine buffer
(``fastnn._weights``).

The epoch loop is sklearn's ``_fit_stochastic`` (stopping rules, ``ConvergenceWarning``, early
stopping's best weights) run under the rules of the training core, ``fastnn._training``.
"""

import numbers
import warnings

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from sklearn.utils._param_validation import Interval, Options, StrOptions

from . import _blocks, _engine, _optim, _training, _validation
from ._validation import check_activations, check_dtype, check_hidden, check_weight_list
from ._weights import LayerWeights

#: The named initial weights of the estimators: sklearn's draw first (see ``sklearn_initial_weights``).
INITS = ("sklearn", *_validation.INITS)

#: The constraints of the solver parameters, scikit-learn's (momentum excludes 1: a velocity that
#: never decays only grows).
SOLVER_CONSTRAINTS = {
    "solver": [StrOptions({"sgd", "adam", "lbfgs"})],
    "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions(set(_optim.SCHEDULES))],
    "power_t": [Interval(numbers.Real, 0, None, closed="left")],
    "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
    "nesterovs_momentum": ["boolean"],
    "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
    "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
    "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
}

#: The constraints of the parameters both estimators have (scikit-learn's where it has them).
MLP_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(_validation.ACTIVATIONS)), list, tuple],
    "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"), Options(numbers.Real, {np.inf})],
    "init": [StrOptions(set(INITS)), list, tuple],
    "dtype": [StrOptions(set(_validation.DTYPES)), type, None],
    "n_jobs": [numbers.Integral, None],
    **SOLVER_CONSTRAINTS,
}

#: ``out_activation_`` (sklearn's name for the output function) of each engine output.
OUT_ACTIVATIONS = {"softmax": "softmax", "sigmoid": "logistic", "multilabel": "logistic", "identity": "identity"}


def sklearn_initial_weights(sizes, rng, dtype, activation="logistic"):
    """sklearn's initialisation, in fastnn's layout.

    ``fastnn._training.initial_weights(sizes, "sklearn", rng, dtype, activation)``: for each
    layer, in sklearn's order, ``coef ~ U(-r, r)`` of shape ``(n_in, n_out)``, then
    ``intercept ~ U(-r, r)`` of shape ``(n_out,)``, with ``r = sqrt(2 / (n_in + n_out))`` for
    logistic units and ``sqrt(6 / (n_in + n_out))`` for the others; the same ``RandomState``
    gives the same weights as scikit-learn's MLPs with that ``activation``.

    Returns
    -------
    list of ndarray of shape (n_out, n_in + 1), dtype ``dtype``
        ``[intercept, coef.T]`` side by side: the bias in column 0.
    """
    return _training.initial_weights(sizes, "sklearn", rng, dtype, activation)


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


class BaseMLP(LayerWeights, BaseEstimator):
    """The fitted state and the stochastic fit of fastnn's estimators (not used directly).

    Subclasses provide the data handling of their task: ``_encode_targets`` (``y`` as the
    engine's labels or targets, and the number of outputs), ``_stream_targets`` (the same for
    a dask ``y`` streamed block by block), ``_output()`` (the engine's output layer),
    ``_sample_weight``, ``_stratify`` (the early-stopping split) and
    ``_validation_score(outputs, y, w)``, the score that early stopping maximises.
    """

    #: The loss divided by this is ``loss_`` (sklearn's squared error is a mean over outputs).
    _loss_per_output = False

    def _store_parameters(self, arguments):
        """The body of each estimator's ``__init__`` (``arguments``: its ``locals()``): every
        parameter stored as given, nothing checked (``fit`` validates). The signature itself is
        spelled out in each estimator with its own defaults: ``get_params`` reads it there."""
        for name in self._get_param_names():
            setattr(self, name, arguments[name])

    # ------------------------------------------------------------------ the fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X``, ``y`` with its ``solver``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array or dataframe} of shape (n_samples, n_features)
            Training rows; sparse input (CSR, CSC, COO) is trained on without densifying; a dask
            collection is streamed through the engine one block of rows at a time (``y`` chunked
            alike; no early stopping, ``solver="lbfgs"``, ``sample_weight`` or
            ``class_weight="balanced"`` then).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            A classifier's class labels of any sortable type, or a multilabel 0/1 indicator
            matrix (a single class is fitted as sklearn fits it: one sigmoid unit trained
            towards 0; ``predict`` returns that class). A regressor's finite real targets, one
            column per target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, not all zero; each scales its row's loss and update.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_settings(self, incremental):
        """Hyperparameters the constraints cannot express; returns the normalised values."""
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True: one epoch over a chunk has no "
                             "held-out rows to stop on; set early_stopping=False")
        if incremental:
            self._check_solver()
        hidden = check_hidden(self.hidden_layer_sizes, "hidden_layer_sizes")
        return {
            "optimizer": self._optimizer_settings(),
            "dtype": None if self.dtype is None else check_dtype(self.dtype),
            "hidden": hidden,
            "activations": check_activations(self.activation, len(hidden)),
            "alpha": _finite(self.alpha, "alpha"),
            "learning_rate": _finite(self.learning_rate_init, "learning_rate_init"),
            "n_jobs": _resolve_n_jobs(self.n_jobs),
        }

    def _optimizer_settings(self):
        """The stochastic solver's settings (see ``fastnn._optim``), checked; None for lbfgs."""
        if self.solver == "lbfgs":
            return None
        if self.solver == "adam":
            return _optim.check_settings("adam", beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        if self.solver != "sgd":
            raise ValueError(f"unknown solver {self.solver!r}; choose 'sgd', 'adam' or 'lbfgs'")
        return _optim.check_settings("nesterov" if self.nesterovs_momentum else "momentum", momentum=self.momentum,
                                     schedule=self.learning_rate, power_t=self.power_t)

    def _check_solver(self):
        """``partial_fit`` needs a stochastic solver (as in sklearn, an AttributeError otherwise)."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                                 "stochastic (solver='lbfgs' fits the whole data at once: use fit, or solver='sgd' "
                                 "or 'adam')")
        return True

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        with _training.exclusive_fit(self):
            return self._fit_exclusive(X, y, sample_weight, incremental, classes)

    def _fit_exclusive(self, X, y, sample_weight, incremental, classes):
        settings = self._check_settings(incremental)
        fitted = self.__sklearn_is_fitted__()
        first_pass = not fitted or (not self.warm_start and not incremental)
        if self._is_dask(X):
            return self._fit_blocks(X, y, sample_weight, settings, first_pass, incremental, classes)

        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=self._fit_dtype(settings, first_pass), order="C",
                             reset=first_pass, multi_output=True, y_numeric=self._y_numeric)
        dtype = settings["dtype"] = X.dtype.type
        if sp.issparse(X) and not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        truth, task = self._encode_targets(y, dtype, first_pass, incremental, classes)
        sample_weight = self._sample_weight(sample_weight, X, y, task)
        sizes = self._layer_sizes(X.shape[1], task["n_outputs"], settings, first_pass)

        if sample_weight is not None and not np.all(sample_weight > 0):
            keep = sample_weight > 0  # a row of weight 0 is a row that is not there
            if not keep.any():
                raise ValueError("every sample weight (times class_weight) is zero; at least one row "
                                 "needs a positive weight")
            X, truth, sample_weight = X[keep], truth[keep], sample_weight[keep]

        rng = check_random_state(self.random_state)
        # the random draws in sklearn's order: initial weights, then the split
        flat = self._initial_flat(sizes, rng, dtype, incremental, settings) if first_pass else None
        if self.solver == "lbfgs":  # the whole data at once: no split, no epochs (sklearn's _fit_lbfgs)
            self._begin(task, sizes, flat, dtype, settings)
            from ._lbfgs import fit_lbfgs

            fit_lbfgs(self, _blocks.Rows(X, truth, sample_weight, dtype), settings)
            return self
        train, validation = self._split(X, truth, sample_weight, rng, task)
        self._begin(task, sizes, flat, dtype, settings)
        if self.early_stopping and self.validation_scores_ is None:  # warm start, early stopping switched on
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            self.validation_loss_curve_ = []
            self._best_flat = self._flat.copy()
        if not self.early_stopping and self.best_loss_ is None:  # ... or switched off
            self.best_loss_ = np.inf
        self._fit_stochastic(_blocks.Rows(*train, dtype), validation, rng, settings, incremental)
        return self

    _y_numeric = False  # validate_data's y_numeric: a regressor's y
    _multi_output_blocks = False  # whether a streamed y may have several columns (a regressor's targets)

    def _is_dask(self, X):
        return _blocks.is_dask_collection(X)

    def _fit_source(self, X, y, source):
        """``fit`` on dask arrays with a given training source (``fastnn.dask.fit``'s workers)."""
        with _training.exclusive_fit(self):
            self._validate_params()
            settings = self._check_settings(incremental=False)
            first_pass = not self.__sklearn_is_fitted__() or not self.warm_start
            return self._fit_blocks(X, y, None, settings, first_pass, False, None, source=source)

    def _fit_blocks(self, X, y, sample_weight, settings, first_pass, incremental, classes, source=None):
        """The fit of a dask array: its blocks of rows streamed through the engine each epoch, by
        a :class:`fastnn._blocks.Blocks` here or by ``source`` (the workers of ``fastnn.dask.fit``)."""
        if self.early_stopping:
            raise ValueError("early_stopping needs held-out rows in memory and is not available on a dask array; "
                             "set early_stopping=False (and score a validation set of your own)")
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' needs the whole data in memory and is not available on a dask array; "
                             "use solver='sgd' or 'adam'")
        plain = settings["optimizer"]["method"] == "sgd" and settings["optimizer"]["schedule"] == "constant"
        if source is not None and not plain:
            raise ValueError("a distributed fit trains with plain SGD only: set solver='sgd', momentum=0 and "
                             "learning_rate='constant'")
        if sample_weight is not None:
            raise ValueError("sample_weight is not available on a dask array; fit arrays in memory to weigh rows, "
                             "or give a classifier class_weight as a dict")
        X, y = _blocks.as_dask_arrays(X, y, multi_output=self._multi_output_blocks)
        dtype = self._fit_dtype(settings, first_pass)
        if isinstance(dtype, tuple):  # sklearn's rule, applied to the dask array's dtype
            dtype = np.float32 if X.dtype == np.float32 else np.float64
        settings["dtype"] = dtype
        task, prepare = self._stream_targets(y, dtype, first_pass, incremental, classes)
        if first_pass:
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")
        sizes = self._layer_sizes(X.shape[1], task["n_outputs"], settings, first_pass)
        rng = check_random_state(self.random_state)
        flat = self._initial_flat(sizes, rng, dtype, incremental, settings) if first_pass else None
        self._begin(task, sizes, flat, dtype, settings)

        target_scale = task.get("target_scale")
        if source is None:
            source = _blocks.Blocks(X, y, prepare, target_scale)
        else:  # a distributed source trains on the workers, from the state they are handed
            source.bind(self, self._flat, lambda: dict(
                sizes=self._sizes, output=self._output_code(), activations=self._activation_codes(),
                dtype=np.dtype(dtype).name, prepare=prepare,
                learning_rate=settings["learning_rate"], alpha=settings["alpha"],
                batch_size=self._batch_size(source.n_samples)), target_scale)
        self._fit_stochastic(source, None, rng, settings, incremental)
        return self

    def _fit_dtype(self, settings, first_pass):
        """The precision of this fit: ``dtype`` if given, else the fitted one (a warm start or
        ``partial_fit``), else sklearn's rule for the input, ``(np.float64, np.float32)``: a
        float32 or float64 ``X`` keeps its dtype, anything else becomes float64."""
        if settings["dtype"] is not None:
            return settings["dtype"]
        return (np.float64, np.float32) if first_pass else self._dtype

    def _layer_sizes(self, n_features, n_outputs, settings, first_pass):
        """``[n_features, hidden..., n_outputs]``; a warm start must keep the fitted ones."""
        sizes = [n_features, *settings["hidden"], n_outputs]
        if not first_pass and sizes != self._sizes:
            raise ValueError(f"the layer sizes {sizes} differ from the fitted {self._sizes} (hidden_layer_sizes "
                             "changed, or the outputs y asks for); set warm_start=False to start again")
        if not first_pass and tuple(settings["activations"]) != self._activations:
            raise ValueError(f"activation {self.activation!r} differs from the fitted {list(self._activations)}; "
                             "set warm_start=False to start again")
        return sizes

    def _initial_flat(self, sizes, rng, dtype, incremental, settings):
        """The starting weights of a first fit (``init``, drawn from ``rng``), in the engine layout;
        for ``partial_fit`` or a warm start, ``coefs_`` and ``intercepts_`` set by hand if any (as sklearn)."""
        assigned = self._assigned_weights(sizes) if incremental or self.warm_start else None
        if assigned is not None:
            return _engine.pack_weights(assigned, dtype)
        init = self._check_init(sizes)
        weights = init if not isinstance(init, str) else _training.initial_weights(
            sizes, init, rng, dtype, settings["activations"])
        return _engine.pack_weights(weights, dtype)

    def _begin(self, task, sizes, flat, dtype, settings):
        """Fresh fitted state from ``flat`` (a first fit), or the fitted one in ``dtype`` (a warm start)."""
        if flat is not None:
            self._start(task, sizes, flat, dtype, settings["activations"])
        elif self._flat.dtype != dtype:  # warm start in another precision
            def repack(flat):  # the layout's padding depends on the precision: through the user layout
                return None if flat is None else _engine.pack_weights(_engine.unpack_weights(flat, self._sizes), dtype)

            self._flat, self._best_flat = repack(self._flat), repack(self._best_flat)
            self._dtype = dtype

    def _split(self, X, truth, sample_weight, rng, task):
        """Training rows and, with early stopping, held-out rows (split as sklearn splits them).

        Returns
        -------
        train : tuple ``(X, truth, sample_weight)``
        validation : tuple ``(X_val, truth_val, sample_weight_val)`` or None
        """
        if not self.early_stopping:
            return (X, truth, sample_weight), None
        train_rows, val_rows = train_test_split(np.arange(X.shape[0]), random_state=rng,
                                                test_size=self.validation_fraction,
                                                stratify=self._stratify(truth, task))
        if val_rows.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the "
                             "size of your dataset.")

        def part(rows):
            return X[rows], truth[rows], None if sample_weight is None else sample_weight[rows]
        return part(train_rows), part(val_rows)

    def _sample_weight(self, sample_weight, X, y, task):
        """Per-row weights as float64 (checked: one per row, non-negative), or None for all ones."""
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True, copy=True)

    def _stratify(self, truth, task):
        """What the early-stopping split stratifies on (sklearn's rule for the task), or None."""
        return None

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

    def _start(self, task, sizes, flat, dtype, activations):
        """Fresh fitted state: weights, shapes and an empty history (``task``: the subclass's)."""
        self.__dict__.pop("_assigned", None)  # weights set by hand before this fit: in flat now, or dropped
        self._set_task(task)
        self._sizes = [int(s) for s in sizes]
        self._activations = tuple(activations)
        self._flat = flat
        self._dtype = dtype
        self._best_flat = flat.copy() if self.early_stopping else None  # best weights so far
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = OUT_ACTIVATIONS[self._output()]
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
        """The engine's code of the output layer (see ``_output``)."""
        return _engine.OUTPUT_CODES[self._output()]

    def _activation_codes(self):
        """The engine's codes of the hidden activations."""
        return [_engine.ACTIVATION_CODES[a] for a in self._fitted_activations()]

    def _fitted_activations(self):
        # estimators pickled before the activations existed were logistic
        return self.__dict__.get("_activations") or ("logistic",) * (len(self._sizes) - 2)

    def _architecture(self):
        return _engine.architecture(self._sizes, self._output(), self._fitted_activations(), self._flat.dtype)

    def _fit_stochastic(self, source, validation, rng, settings, incremental):
        """sklearn's ``_fit_stochastic``: one engine pass per epoch under the training core's rules.

        ``source`` is a ``fastnn._blocks.Rows`` (arrays in memory) or a ``fastnn._blocks.Blocks`` (a dask
        array, one block in memory at a time); ``validation`` is ``(X_val, y_val, sample_weight_val)`` or None.
        """
        dtype = settings["dtype"]
        early_stopping = self.early_stopping
        if validation is not None:
            X_val, y_val, sw_val = validation
            validation = (_engine.make_dataset(X_val, dtype, **_blocks.truth_arguments(y_val),
                                               sample_weight=None if sw_val is None else sw_val.astype(dtype)),
                          y_val, sw_val)
        per_output = self._loss_divisor()
        n_samples = source.n_samples
        batch_size = self._batch_size(n_samples)
        arch = self._architecture()
        W = self._flat
        optimizer = self._stochastic_optimizer(settings, incremental)

        def train(data, order):
            return _engine.sgd_epoch(arch, W, data, order, learning_rate=optimizer.learning_rate,
                                     l2=settings["alpha"], batch_size=batch_size, n_jobs=settings["n_jobs"],
                                     optimizer=optimizer)

        def run_epoch(epoch):
            norm_before = self._squared_coef_norm()
            loss_sum, weight_sum = source.epoch(train, rng, self.shuffle)
            # sklearn adds (alpha / 2) ||coefs||^2 of the weights before each update; the engine
            # reports the data term only, so the penalty is averaged over the epoch's two ends
            penalty = 0.25 * settings["alpha"] * (norm_before + self._squared_coef_norm())
            return [loss_sum / weight_sum / per_output + penalty]

        def after_epoch(epoch, losses):
            self.n_iter_ = epoch
            self.t_ += n_samples
            self.loss_ = losses[0]
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            self._update_no_improvement_count(validation, arch)
            optimizer.iteration_ends(self.t_)  # invscaling's new rate
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early_stopping else "Training loss"
                message = (f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                           "consecutive epochs.")
                if optimizer.trigger_stopping(message, self.verbose):
                    return True
                self._no_improvement_count = 0  # adaptive: the rate divided by 5, training goes on
            if not incremental and self.n_iter_ == self.max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                    "converged yet." % self.max_iter,
                    ConvergenceWarning,
                )
            return False

        self.n_iter_ = 0
        try:
            outcome = _training.run_epochs(W, 1 if incremental else self.max_iter, run_epoch, after_epoch,
                                           optimizer=None if optimizer.method == "sgd" else optimizer,
                                           target_scale=getattr(source, "target_scale", None)
                                           if self._output() == "identity" else None)
        except _training.Diverged as error:
            # sklearn's sentence first, for code that matches it; then what happened and what to do
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large values and need "
                f"to be preprocessed: training diverged in epoch {error.epoch} (the weights or the loss became NaN, "
                "infinite or absurdly large; the model keeps those of the epoch before). Lower learning_rate_init "
                "or scale the inputs, e.g. with StandardScaler."
            ) from None
        if outcome.interrupted:
            warnings.warn("Training interrupted by user.")
        if early_stopping:
            W[:] = self._best_flat  # restore the best weights

    def _batch_size(self, n_samples):
        """Rows per update: ``"auto"`` is ``min(200, n_samples)``; a size above ``n_samples`` is
        clipped with sklearn's warning."""
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            return n_samples
        return self.batch_size

    def _stochastic_optimizer(self, settings, incremental):
        """sklearn's rule: a new optimizer for each ``fit`` (warm start included), the same one
        across ``partial_fit`` calls (its velocities, moments, step count and rate go on)."""
        optimizer = self.__dict__.get("_optimizer")
        if (not incremental or optimizer is None or optimizer.sizes != self._sizes
                or optimizer.dtype != np.dtype(self._flat.dtype).type):
            optimizer = self._optimizer = _optim.Optimizer(self._sizes, self._flat.dtype, settings["learning_rate"],
                                                           **settings["optimizer"])
        return optimizer

    def _squared_coef_norm(self):
        """``sum_l ||coefs_[l]||^2`` in double (the biases are not penalised)."""
        return float(sum(np.dot(c.ravel(), c.ravel()) for c in (c.astype(np.float64) for c in self.coefs_)))

    def _loss_divisor(self):
        """What a mean loss sum is divided by for ``loss_``: the outputs for sklearn's squared error
        (a mean over the targets too), else 1."""
        return self.n_outputs_ if self._loss_per_output else 1

    def _update_no_improvement_count(self, validation, arch):
        if validation is not None:
            data, y_val, sw_val = validation
            score = self._validation_score(_engine.predict_outputs(arch, self._flat, data), y_val, sw_val)
            val_weight = float(data.n_rows if sw_val is None else sw_val.sum())
            self.validation_loss_curve_.append(_engine.loss_sum(arch, self._flat, data) / val_weight
                                               / self._loss_divisor())
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

    def _predict_outputs(self, X):
        """The output layer's values for ``X`` (checked as sklearn checks it), ``(n_samples, n_outputs_)``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=self._dtype, order="C", reset=False)
        return _engine.predict_outputs(self._architecture(), self._flat, _engine.make_dataset(X, self._dtype))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = self.n_jobs not in (None, 1)  # Hogwild! threads race by design
        return tags
