"""The weights of fastnn's estimators in scikit-learn's layout: views of the engine buffer.

The estimators keep every layer in one flat engine buffer, layer ``l`` stored as an
``(n_in + 1, width)`` block (``width >= n_out``, padded for the kernels) whose row 0 is the
bias: columns ``:n_out`` of rows ``1..n_in`` are exactly sklearn's ``coefs_[l]`` and of row 0
``intercepts_[l]``. Both attributes are therefore views of that buffer, computed on access;
nothing is kept twice. A pickle stores the weights in the user layout, independent of padding.
"""

import numbers

import numpy as np

from . import _engine


class LayerWeights:
    """``coefs_`` and ``intercepts_`` as views of ``_flat``, assignable, and pickled in the user
    layout (a mixin of ``fastnn._mlp.BaseMLP``, which provides ``_flat``, ``_sizes``,
    ``_architecture()`` and ``__sklearn_is_fitted__()``)."""

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
