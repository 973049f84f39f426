"""fastnn.Network: the thin Python class over the C engine.

Policy lives here: parameter checks, initialisation and row order; the epoch loop and its rules
(Ctrl-C, divergence) are the training core's (``fastnn._training``), the engine calls
``fastnn._engine``'s. Each epoch is one pass of the C engine over the rows with the GIL
released, in chunks of a few milliseconds between which Ctrl-C is noticed.
"""

import numbers
import warnings

import numpy as np

from . import _core, _engine, _optim, _training
from ._engine import make_dataset, pack_weights, unpack_weights
from ._validation import (
    INITS,
    OUTPUTS,
    TARGET_OUTPUTS,
    check_activations,
    check_choice,
    check_count,
    check_dtype,
    check_hidden,
    check_labels,
    check_matrix,
    check_nonnegative_finite,
    check_positive_finite,
    check_targets,
    check_weight_list,
    implausible_classes,
)

# Refuse networks whose weights alone would not fit in memory, before allocating anything.
_MAX_WEIGHT_BYTES = 1 << 40


class Network:
    """A fully-connected network trained by per-sample SGD (or momentum, Nesterov, Adam).

    Hidden layers compute ``z = g(W @ [1, *z_prev])`` with ``g`` the layer's activation; the
    output layer is a softmax over K classes (mean cross-entropy loss), one sigmoid unit (binary
    cross-entropy), K independent sigmoids (multilabel: binary cross-entropy summed over the K
    labels) or K identity units (regression: ``0.5 * ||y_hat - y||^2``). Training visits the
    rows in order (or a fresh permutation per epoch with ``shuffle=True``) and updates the
    weights after every row: ``W <- W - learning_rate * (dJ/dW + l2 * W_nonbias)``.

    Parameters
    ----------
    hidden : tuple of int, default=(50,)
        Units of each hidden layer; ``()`` is logistic/softmax (or linear) regression.
    output : {"softmax", "sigmoid", "multilabel", "identity"}, default="softmax"
        ``"sigmoid"`` is one output unit for two classes; ``"multilabel"`` takes an ``(n, K)``
        0/1 indicator ``y``; ``"identity"`` takes real targets ``(n,)`` or ``(n, K)``.
    init : {"uniform", "zeros", "glorot"} or list of ndarray, default="uniform"
        See :func:`fastnn._training.initial_weights`; a list gives the starting weights in the
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
        :func:`fastnn._engine.sgd_epoch`). Only ``n_jobs=1`` is exactly reproducible.
    activation : {"logistic", "tanh", "relu", "identity", "leaky_relu"} or list, default="logistic"
        The hidden layers' activation: one name for all, or one per hidden layer. The backward
        pass takes each derivative from the stored activation: ``z (1 - z)``, ``1 - z^2``,
        ``[z > 0]``, ``1``, and ``1`` or ``0.01`` for leaky_relu (slope 0.01 below 0).
    optimizer : {"sgd", "momentum", "nesterov", "adam"}, default="sgd"
        The update, run by the engine per sample or per batch (scikit-learn's rules, see
        :mod:`fastnn._optim`): plain SGD; ``v <- momentum v - lr g, W <- W + v``; Nesterov's
        ``W <- W + momentum v - lr g`` with the new ``v``; or Adam. ``g`` is the gradient of the
        update, ``l2`` term included.
    momentum : float, default=0.9
        For ``"momentum"`` and ``"nesterov"``, in [0, 1).
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's decay rates, in [0, 1), and its term added to ``sqrt(s)``, > 0.
    schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        The learning rate of each epoch (not for Adam): ``"invscaling"``,
        ``learning_rate / (t + 1) ** power_t`` after ``t`` training rows; ``"adaptive"``, divided
        by 5 each time 2 consecutive epochs fail to lower the training loss by 1e-4 (down to
        1e-6). ``history_["learning_rate"]`` records the rate of each epoch.
    power_t : float, default=0.5
        The exponent of ``"invscaling"``, >= 0.

    Attributes
    ----------
    weights_ : list of ndarray
        One ``(n_out, n_in + 1)`` array per layer, bias in column 0 (copies).
    n_features_in_ : int
    n_classes_ : int
        K; 2 for the sigmoid output (the classification outputs only).
    n_outputs_ : int
        Units of the output layer.
    history_ : dict
        ``{"train_loss": [...], "val_loss": [...], "learning_rate": [...]}``: the mean loss on
        the training (and validation) rows after each epoch, and the learning rate of the epoch.
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
                 l2=0.0, shuffle=False, dtype="float64", random_state=None, batch_size=1, n_jobs=1,
                 activation="logistic", optimizer="sgd", momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 schedule="constant", power_t=0.5):
        self.hidden = hidden
        self.optimizer = optimizer
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.schedule = schedule
        self.power_t = power_t
        self.activation = activation
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
                           ("hidden", "activation", "output", "init", "learning_rate", "epochs", "l2", "shuffle",
                            "dtype", "random_state", "batch_size", "n_jobs", "optimizer", "momentum", "beta_1",
                            "beta_2", "epsilon", "schedule", "power_t") if not (k == "init" and not isinstance(self.init, str)))
        return f"Network({params})"

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_weights(cls, weights, output="softmax", dtype="float64", activation="logistic"):
        """A fitted network with the given weights (e.g. loaded from a file).

        Parameters
        ----------
        weights : list of ndarray
            One ``(n_out, n_in + 1)`` array per layer, bias in column 0, finite.
        output : {"softmax", "sigmoid", "multilabel", "identity"}
        dtype : {"float64", "float32"}
        activation : str or list of str, default="logistic"
            The hidden layers' activation (see the class).

        Returns
        -------
        Network
        """
        dtype_ = check_dtype(dtype)
        check_choice(output, "output", OUTPUTS)
        arrays, sizes = check_weight_list(weights, name="weights")
        activations = check_activations(activation, len(sizes) - 2)
        if output == "sigmoid" and sizes[-1] != 1:
            raise ValueError(f"the sigmoid output has 1 unit; the last matrix of weights has {sizes[-1]}")
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("the softmax output needs at least 2 output units; the last matrix of weights has 1")
        net = cls(hidden=tuple(sizes[1:-1]), output=output, init=[W.copy() for W in arrays],
                  dtype=np.dtype(dtype_).name, activation=activation)
        net._set_fitted(sizes, output, activations, pack_weights(arrays, dtype_), dtype_)
        net.history_ = {"train_loss": [], "val_loss": [], "learning_rate": []}
        net.n_epochs_ = 0
        net.interrupted_ = False
        return net

    def to_state_dict(self):
        """The parameters under the names of ``torch.nn.Sequential(Linear, Sigmoid, ..., Linear)``.

        Layer ``l`` of that Sequential is module ``2 l`` (a Sigmoid sits between two Linear
        layers; a final Softmax module has no parameters and changes no name).

        Returns
        -------
        dict of str to ndarray
            ``{"0.weight": (n_out, n_in), "0.bias": (n_out,), "2.weight": ..., ...}`` in the
            network's dtype: ``W[:, 1:]`` and ``W[:, 0]`` of each layer. Load it with
            ``sequential.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})``.
        """
        state = {}
        for layer, W in enumerate(self.weights_):
            state[f"{2 * layer}.weight"] = np.ascontiguousarray(W[:, 1:])
            state[f"{2 * layer}.bias"] = np.ascontiguousarray(W[:, 0])
        return state

    @classmethod
    def from_state_dict(cls, state, output="softmax", dtype="float64", activation="logistic"):
        """A fitted network from a ``torch.nn.Sequential(Linear, Sigmoid, ...)`` state_dict.

        Parameters
        ----------
        state : mapping of str to array-like or torch.Tensor
            ``"{i}.weight"`` ``(n_out, n_in)`` and ``"{i}.bias"`` ``(n_out,)`` for each Linear
            module ``i``, in increasing ``i`` (any numbering).
        output : {"softmax", "sigmoid", "multilabel", "identity"}
        dtype : {"float64", "float32"}
        activation : str or list of str, default="logistic"
            The activation modules between the Linear layers (see the class).

        Returns
        -------
        Network

        Raises
        ------
        ValueError
            A key that is not ``<index>.weight`` / ``<index>.bias``, a weight without its bias,
            shapes that do not chain, or non-finite values.
        """
        layers = {}
        for key, value in state.items():
            index, _, kind = str(key).partition(".")
            if not index.isdigit() or kind not in ("weight", "bias"):
                raise ValueError(f"state_dict key {key!r} is not '<index>.weight' or '<index>.bias' of a "
                                 "torch.nn.Sequential of Linear layers and activations")
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            layers.setdefault(int(index), {})[kind] = np.asarray(value, dtype=np.float64)
        if not layers:
            raise ValueError("the state_dict is empty: it holds no Linear layer")
        weights = []
        for index in sorted(layers):
            parts = layers[index]
            if set(parts) != {"weight", "bias"}:
                raise ValueError(f"module {index} has {sorted(parts)}; a Linear layer needs weight and bias")
            weight, bias = parts["weight"], parts["bias"]
            if weight.ndim != 2 or bias.shape != (weight.shape[0],):
                raise ValueError(f"module {index}: weight of shape {weight.shape} and bias of shape {bias.shape} "
                                 "are not a Linear layer's (n_out, n_in) and (n_out,)")
            weights.append(np.column_stack([bias, weight]))
        return cls.from_weights(weights, output=output, dtype=dtype, activation=activation)

    @staticmethod
    def _check_output(output):
        return _engine.OUTPUT_CODES[check_choice(output, "output", OUTPUTS)]

    def _set_fitted(self, sizes, output, activations, flat, dtype):
        self._sizes = [int(s) for s in sizes]
        self._output = output
        self._activations = tuple(activations)
        self._architecture = _engine.architecture(self._sizes, output, self._activations, dtype)
        self._flat = _core.ensure_aligned(flat)
        self._dtype = dtype
        self.n_features_in_ = self._sizes[0]
        self.n_outputs_ = self._sizes[-1]
        if output in TARGET_OUTPUTS and output != "multilabel":
            self.__dict__.pop("n_classes_", None)
        else:
            self.n_classes_ = 2 if output == "sigmoid" else self._sizes[-1]

    # ------------------------------------------------------------------ training

    def fit(self, X, y, X_val=None, y_val=None, *, callback=None, progress=None):
        """Train from the initial weights by per-sample SGD.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or scipy sparse matrix
            Any numbers (lists, int/bool/float arrays, any memory order); converted once,
            never modified. Sparse input is trained on without densifying.
        y : array-like
            Integer labels ``0..K-1`` of shape (n_samples,) (``0``/``1`` for the sigmoid
            output); a 0/1 indicator matrix (n_samples, K) for ``"multilabel"``; real targets
            (n_samples,) or (n_samples, K) for ``"identity"``.
        X_val, y_val : optional
            Validation rows whose loss is recorded after each epoch.
        callback : callable, optional
            Called as ``callback(network)`` after each completed epoch (``n_epochs_`` and
            ``history_`` are current). An exception it raises stops training and propagates;
            the network then holds the weights of that epoch.
        progress : callable, optional
            Called as ``progress(n_done)`` every few milliseconds during an epoch, with the
            number of that epoch's training rows done so far (for progress bars).

        Returns
        -------
        self : Network

        Raises
        ------
        ValueError
            Bad input or hyperparameters, or training diverged
            (:class:`fastnn._training.Diverged`: NaN, infinite or absurdly large weights or
            loss; the network keeps the weights of the last completed epoch).
        RuntimeError
            ``fit`` is already running on this instance in another thread.
        """
        with _training.exclusive_fit(self):
            return self._fit(X, y, X_val, y_val, callback, progress)

    def _check_params(self):
        """The hyperparameters, checked and normalised (one message per fault, naming it)."""
        return dict(
            dtype=check_dtype(self.dtype),
            output_code=self._check_output(self.output),
            learning_rate=check_positive_finite(self.learning_rate, "learning_rate"),
            epochs=check_count(self.epochs, "epochs"),
            l2=check_nonnegative_finite(self.l2, "l2"),
            hidden=check_hidden(self.hidden),
            n_jobs=check_count(self.n_jobs, "n_jobs"),
            batch_size=check_count(self.batch_size, "batch_size"),
            rng=self._rng(),
            optimizer=_optim.check_settings(self.optimizer, self.momentum, self.beta_1, self.beta_2, self.epsilon,
                                            self.schedule, self.power_t),
        )

    def _fit(self, X, y, X_val, y_val, callback, progress):
        for name, function in (("callback", callback), ("progress", progress)):
            if function is not None and not callable(function):
                raise TypeError(f"{name} must be callable, got {type(function).__name__}")
        params = self._check_params()
        dtype, output_code, output = params["dtype"], params["output_code"], self.output

        X = check_matrix(X, dtype)
        y = self._check_truth(y, X.shape[0], dtype, output)
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither")
        if X_val is not None:
            X_val = check_matrix(X_val, dtype, name="X_val")
            y_val = self._check_truth(y_val, X_val.shape[0], dtype, output, name="y_val")
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
            if output in TARGET_OUTPUTS and y_val.shape[1] != y.shape[1]:
                raise ValueError(f"y_val has {y_val.shape[1]} columns but y has {y.shape[1]}")

        sizes, weights = self._initial_state(X.shape[1], params["hidden"], output_code, y, y_val, params["rng"],
                                             dtype)
        activations = check_activations(self.activation, len(sizes) - 2)
        if output in TARGET_OUTPUTS:
            if y.shape[1] != sizes[-1]:
                raise ValueError(f"y has {y.shape[1]} columns but the network has {sizes[-1]} outputs")
        else:
            n_classes = 2 if output_code == _core.OUTPUT_SIGMOID else sizes[-1]
            for labels, name in ((y, "y"), (y_val, "y_val")):
                if labels is not None and labels.size and labels.max() >= n_classes:
                    raise ValueError(
                        f"{name} has label {labels.max()} but the {self.output} output has {n_classes} classes "
                        f"(labels must be 0..{n_classes - 1})"
                    )
        batch_size = params["batch_size"]
        if batch_size > X.shape[0]:
            warnings.warn(f"batch_size={batch_size} is larger than the {X.shape[0]} training rows; "
                          "it is clipped to them", UserWarning, stacklevel=3)
            batch_size = X.shape[0]
        self._set_fitted(sizes, output, activations, pack_weights(weights, dtype), dtype)
        self._clear_fit_state()

        train = make_dataset(X, dtype, **self._truth_arguments(y))
        validation = None if X_val is None else make_dataset(X_val, dtype, **self._truth_arguments(y_val))
        optimizer = _optim.Optimizer(sizes, dtype, params["learning_rate"], **params["optimizer"])
        settings = dict(l2=params["l2"], batch_size=batch_size, n_jobs=params["n_jobs"], optimizer=optimizer)
        self._run_epochs(train, validation, params["epochs"], settings, params["rng"], callback, progress)
        return self

    @staticmethod
    def _check_truth(y, n_rows, dtype, output, name="y"):
        """``y`` checked for ``output``: int32 labels, or ``(n_rows, K)`` targets of ``dtype``."""
        if output in TARGET_OUTPUTS:
            return check_targets(y, n_rows, dtype, name=name, indicator=output == "multilabel")
        return check_labels(y, n_rows, name=name)

    def _truth_arguments(self, y):
        """``make_dataset``'s keyword for checked ``y``: ``labels=`` or ``targets=``."""
        if y is None:
            return {}
        return {"targets": y} if self._output in TARGET_OUTPUTS else {"labels": y}

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
            elif self.output in TARGET_OUTPUTS:
                n_outputs = y.shape[1]
            else:
                n_outputs = self._count_classes(y, y_val)
            sizes = [n_features, *hidden, n_outputs]
            self._check_size(sizes, dtype)
            return sizes, _training.initial_weights(sizes, self.init, rng, dtype)
        n_outputs = 1 if output_code == _core.OUTPUT_SIGMOID else y.shape[1] if self.output in TARGET_OUTPUTS else None
        weights, sizes = check_weight_list(self.init, n_features=n_features, n_outputs=n_outputs)
        if output_code == _core.OUTPUT_SOFTMAX and sizes[-1] < 2:
            raise ValueError("the softmax output needs at least 2 output units; the last matrix of init has 1")
        return sizes, [W.astype(dtype) for W in weights]

    @staticmethod
    def _count_classes(y, y_val):
        """K = 1 + the largest label, refused when it is implausible for the labels that occur."""
        labels = y if y_val is None else np.concatenate([y, y_val])
        n_classes = int(labels.max()) + 1
        if n_classes < 2:
            raise ValueError("the softmax output needs at least 2 classes, but every label is 0; "
                             "check y, or use output='sigmoid' for two classes")
        implausible = implausible_classes(labels)
        if implausible:
            raise ValueError(
                f"the largest label, {n_classes - 1}, would make a softmax of {n_classes} units, but only "
                f"{implausible[1]} different labels occur; labels must be 0..K-1 (encode them, e.g. with "
                "np.unique(y, return_inverse=True)), or pass init= weights of the size you mean")
        return n_classes

    @staticmethod
    def _check_size(sizes, dtype):
        n_weights = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
        if n_weights * np.dtype(dtype).itemsize > _MAX_WEIGHT_BYTES:
            raise ValueError(f"layer sizes {sizes} need {n_weights} weights, too many to allocate")

    def _clear_fit_state(self):
        self.history_ = {"train_loss": [], "val_loss": [], "learning_rate": []}
        self.n_epochs_ = 0
        self.interrupted_ = False

    def _run_epochs(self, train, validation, epochs, settings, rng, callback, progress):
        """One engine pass per epoch, then its losses, under the training core's rules.

        ``settings`` are the keyword arguments of :func:`fastnn._engine.sgd_epoch`.
        """
        arch, W = self._architecture, self._flat
        rows = np.arange(train.n_rows, dtype=np.intp)
        optimizer = settings["optimizer"]

        def run_epoch(epoch):
            order = rng.permutation(rows) if self.shuffle else rows
            _engine.sgd_epoch(arch, W, train, order, progress=progress, learning_rate=optimizer.learning_rate,
                              **settings)
            return [self._mean_loss(train)] + ([] if validation is None else [self._mean_loss(validation)])

        def after_epoch(epoch, losses):
            self.history_["train_loss"].append(losses[0])
            if validation is not None:
                self.history_["val_loss"].append(losses[1])
            self.history_["learning_rate"].append(optimizer.learning_rate)
            self.n_epochs_ = epoch
            optimizer.epoch_ends(losses[0], epoch * train.n_rows)  # the schedule's rate for the next epoch
            if callback is not None:
                callback(self)
            return False

        scale = None
        if self._output == "identity":  # what a squared error can be before it is divergence
            scale = float(np.sqrt(np.mean(np.square(train.targets, dtype=np.float64))))
        outcome = _training.run_epochs(W, epochs, run_epoch, after_epoch,
                                       optimizer=None if optimizer.method == "sgd" else optimizer, target_scale=scale)
        if outcome.interrupted:
            self.interrupted_ = True
            warnings.warn(f"training interrupted after {outcome.n_epochs} completed epoch(s); keeping the weights "
                          f"of epoch {outcome.n_epochs}", RuntimeWarning, stacklevel=4)

    def _mean_loss(self, data):
        return _engine.loss_sum(self._architecture, self._flat, data) / data.n_rows

    # ------------------------------------------------------------------ prediction

    def _check_fitted(self):
        if getattr(self, "_flat", None) is None:
            from sklearn.exceptions import NotFittedError  # imported here: scikit-learn loads slowly

            raise NotFittedError("this Network is not fitted yet; call fit(X, y) first")

    def _dataset(self, X, y=None):
        self._check_fitted()
        X = check_matrix(X, self._dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but this Network is expecting "
                             f"{self.n_features_in_} features as input")
        return make_dataset(X, self._dtype, **self._truth_arguments(y))

    def predict_proba(self, X):
        """Class probabilities (the classification outputs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or sparse matrix

        Returns
        -------
        ndarray of shape (n_samples, K), dtype of the network
            Rows sum to 1 for the softmax; for the sigmoid output the columns are ``[1 - p, p]``;
            for ``"multilabel"`` each column is its label's probability.
        """
        self._check_fitted()
        if self._output == "identity":
            raise AttributeError("a network with the identity output predicts values, not probabilities; "
                                 "use predict")
        data = self._dataset(X)
        out = _engine.predict_outputs(self._architecture, self._flat, data)
        if self._output == "sigmoid":
            return np.hstack([1 - out, out])
        return out

    def predict(self, X):
        """Predictions: classes, label sets or values, by the output layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or sparse matrix

        Returns
        -------
        ndarray
            Softmax and sigmoid outputs: the most probable class of each row, int64 ``0..K-1``,
            shape (n_samples,). Multilabel: the labels whose probability exceeds 0.5, an int64
            0/1 matrix (n_samples, K). Identity: the outputs, shape (n_samples,) for one output,
            else (n_samples, K), dtype of the network.
        """
        self._check_fitted()
        if self._output == "identity":
            out = _engine.predict_outputs(self._architecture, self._flat, self._dataset(X))
            return out[:, 0] if out.shape[1] == 1 else out
        if self._output == "multilabel":
            return (self.predict_proba(X) > 0.5).astype(np.int64)
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int64)

    def loss(self, X, y):
        """Mean loss of ``y`` under the model (the training objective without the L2 term).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or sparse matrix
        y : array-like
            As for :meth:`fit`: integer labels ``0..K-1``, a 0/1 indicator matrix
            (multilabel), or real targets (identity).

        Returns
        -------
        float
            Cross-entropy; binary cross-entropy summed over the labels (multilabel);
            ``0.5 * ||y_hat - y||^2`` (identity).
        """
        self._check_fitted()
        X = check_matrix(X, self._dtype)
        truth = self._check_truth(y, X.shape[0], self._dtype, self._output)
        if self._output in TARGET_OUTPUTS:
            if truth.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {truth.shape[1]} columns but the model has {self.n_outputs_} outputs")
        elif truth.size and truth.max() >= self.n_classes_:
            raise ValueError(f"y has label {truth.max()} but the model has {self.n_classes_} classes")
        data = self._dataset(X, truth)
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
            # networks pickled before activations and the new outputs existed were logistic
            self._output = state.get("_output", self.output)
            self._activations = state.get("_activations", ("logistic",) * (len(self._sizes) - 2))
            self._architecture = _engine.architecture(self._sizes, self._output, self._activations,
                                                      self._flat.dtype)
