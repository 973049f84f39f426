"""The optimizers of a fit: update rule, learning-rate schedule and the engine's optimizer state.

The update rules are scikit-learn's (``sklearn/neural_network/_stochastic_optimizers.py``) and
run in the engine (``csrc/fnn.h``, ``FNN_OPTIMIZER_*``), one update per sample or per
mini-batch. The gradient ``g`` of an update is the one plain SGD takes: ``dJ/dW`` (per sample,
times its weight; per batch, the mean) plus ``l2 * W`` on the weights (never the biases)::

    sgd       W <- W - lr g
    momentum  v <- momentum v - lr g;  W <- W + v
    nesterov  v <- momentum v - lr g;  W <- W + momentum v - lr g
    adam      t <- t + 1;  m <- beta_1 m + (1 - beta_1) g;  s <- beta_2 s + (1 - beta_2) g^2;
              W <- W - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(s) + epsilon)

The schedule (scikit-learn's ``learning_rate``) changes ``lr`` between epochs only:
``"constant"``; ``"invscaling"``, ``lr = learning_rate_init / (t_ + 1) ** power_t`` after each
epoch, ``t_`` the samples seen; ``"adaptive"``, ``lr / 5`` each time the stopping rule fires,
until ``lr <= 1e-6`` stops the fit. Adam keeps its own step (the schedule is for the sgd methods,
as in scikit-learn).

Validation lives here too (:func:`check_settings`), so that ``Network``, the estimators and the
command line refuse the same values with the same messages.
"""

import numbers

import numpy as np

from . import _core

#: The engine's code of each method.
METHODS = {"sgd": _core.OPTIMIZER_SGD, "momentum": _core.OPTIMIZER_MOMENTUM,
           "nesterov": _core.OPTIMIZER_NESTEROV, "adam": _core.OPTIMIZER_ADAM}
SCHEDULES = ("constant", "invscaling", "adaptive")
#: scikit-learn's smallest learning rate of the adaptive schedule: below it the fit stops.
ADAPTIVE_FLOOR = 1e-6


def _real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return float(value)


def check_settings(method, momentum=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, schedule="constant",
                   power_t=0.5):
    """The optimizer settings, checked: a ``ValueError`` names the first one out of range.

    Parameters
    ----------
    method : {"sgd", "momentum", "nesterov", "adam"}
    momentum : float in [0, 1)
    beta_1, beta_2 : float in [0, 1)
    epsilon : float > 0
    schedule : {"constant", "invscaling", "adaptive"}
    power_t : float >= 0

    Returns
    -------
    dict
        The settings as floats, keyed by these names; ``"momentum"`` or ``"nesterov"`` with
        ``momentum == 0`` comes back as method ``"sgd"`` (the same updates, without a state).
    """
    if method not in METHODS:
        raise ValueError(f"unknown optimizer {method!r}; choose one of {', '.join(map(repr, METHODS))}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose one of "
                         f"{', '.join(map(repr, SCHEDULES))}")
    settings = {"method": method, "schedule": schedule}
    for name, value, low, high in (("momentum", momentum, 0.0, 1.0), ("beta_1", beta_1, 0.0, 1.0),
                                   ("beta_2", beta_2, 0.0, 1.0), ("epsilon", epsilon, 0.0, None),
                                   ("power_t", power_t, 0.0, None)):
        value = _real(value, name)
        inside = (value > low if name == "epsilon" else value >= low) and (high is None or value < high)
        if not (inside and np.isfinite(value)):
            where = {"momentum": "[0, 1)", "beta_1": "[0, 1)", "beta_2": "[0, 1)", "epsilon": "> 0 (and finite)",
                     "power_t": ">= 0 (and finite)"}[name]
            raise ValueError(f"{name} must be {where}, got {value!r}")
        settings[name] = value
    if method in ("momentum", "nesterov") and settings["momentum"] == 0.0:
        settings["method"] = "sgd"  # the same updates, without a state
    return settings


class Optimizer:
    """One fit's optimizer: the method and its settings, the current learning rate, and the
    engine state (velocities, or Adam's moments and step count) in the weights' layout.

    Parameters
    ----------
    sizes : list of int
        The network's layer sizes (the state has the layout of its weights).
    dtype : np.float64 or np.float32
    learning_rate : float
        ``learning_rate_init``.
    method, momentum, beta_1, beta_2, epsilon, schedule, power_t
        As in :func:`check_settings`. ``"momentum"`` or ``"nesterov"`` with ``momentum == 0`` is
        plain SGD (the same updates, without a state).
    """

    def __init__(self, sizes, dtype, learning_rate, method="sgd", momentum=0.0, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, schedule="constant", power_t=0.5):
        settings = check_settings(method, momentum, beta_1, beta_2, epsilon, schedule, power_t)
        method = settings["method"]
        self.__dict__.update(settings)
        self.sizes = [int(s) for s in sizes]
        self.dtype = np.dtype(dtype).type
        self.learning_rate_init = float(learning_rate)
        self.learning_rate = float(learning_rate)
        self.t = 0
        n_weights = _weight_count(self.sizes, self.dtype)
        self.state = _core.aligned_zeros({"sgd": 0, "adam": 2}.get(method, 1) * n_weights, self.dtype)

    @property
    def code(self):
        """The engine's ``FNN_OPTIMIZER_*`` code."""
        return METHODS[self.method]

    def engine_arguments(self):
        """Keyword arguments of ``_core.optim_epoch`` for this optimizer."""
        return dict(method=self.code, momentum=self.momentum, beta_1=self.beta_1, beta_2=self.beta_2,
                    epsilon=self.epsilon, t=self.t)

    # ------------------------------------------------------------------ the schedule (per epoch)

    def iteration_ends(self, time_step):
        """After an epoch: ``invscaling`` sets ``lr = learning_rate_init / (time_step + 1) ** power_t``."""
        if self.schedule == "invscaling" and self.method != "adam":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, message, verbose):
        """The stopping rule fired: True to stop; ``adaptive`` divides the rate by 5 instead,
        until it is <= 1e-6 (scikit-learn's rule)."""
        if self.schedule != "adaptive" or self.method == "adam":
            if verbose:
                print(message + " Stopping.")
            return True
        if self.learning_rate <= ADAPTIVE_FLOOR:
            if verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(message + " Setting learning rate to %f" % self.learning_rate)
        return False

    def epoch_ends(self, loss, time_step, tol=1e-4, patience=2):
        """``Network``'s schedule after an epoch of training loss ``loss`` (it has no stopping
        rule): ``invscaling`` as :meth:`iteration_ends`; ``adaptive`` divides the rate by 5 after
        ``patience`` epochs that fail to lower the loss by ``tol``, down to 1e-6, and goes on."""
        self.iteration_ends(time_step)
        best = self.__dict__.get("_best_loss", np.inf)
        self._stalled = self.__dict__.get("_stalled", 0) + 1 if loss > best - tol else 0
        self._best_loss = min(best, loss)
        if self._stalled >= patience and self.schedule == "adaptive" and self.method != "adam":
            if self.learning_rate > ADAPTIVE_FLOOR:
                self.learning_rate /= 5.0
            self._stalled = 0

    # ------------------------------------------------------------------ snapshots, threads, pickles

    def private_copy(self):
        """A copy with its own state buffer (a Hogwild! thread's optimizer)."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.state = _core.aligned_copy(self.state)
        return copy

    def merge(self, copies):
        """After an epoch of threads: the state becomes the mean of their states and the step
        count the mean of theirs (rounded), as if one optimizer had made each thread's updates
        on average."""
        if self.state.size:
            self.state[:] = np.mean([c.state for c in copies], axis=0, dtype=np.float64)
        self.t = int(round(float(np.mean([c.t for c in copies]))))


    def snapshot(self):
        """What :meth:`restore` needs to put the optimizer back to this moment."""
        return self.state.copy(), self.t, self.learning_rate

    def restore(self, snapshot):
        state, self.t, self.learning_rate = snapshot
        self.state[:] = state

    def __getstate__(self):
        # the state in the user layout, per state array, as the weights are pickled
        from ._engine import unpack_weights

        state = dict(self.__dict__)
        n = _weight_count(self.sizes, self.dtype)
        state["state"] = [unpack_weights(self.state[k * n : (k + 1) * n], self.sizes)
                          for k in range(self.state.size // n if n else 0)]
        return state

    def __setstate__(self, state):
        from ._engine import pack_weights

        state = dict(state)
        arrays = [pack_weights(layers, state["dtype"]) for layers in state["state"]]
        state["state"] = _core.aligned_copy(np.concatenate(arrays)) if arrays else _core.aligned_zeros(0, state["dtype"])
        self.__dict__.update(state)


def _weight_count(sizes, dtype):
    return sum((n_in + 1) * _core.padded_width(n_out, dtype) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
