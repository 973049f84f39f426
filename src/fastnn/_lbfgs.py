"""``solver="lbfgs"``: scikit-learn's ``_fit_lbfgs`` with the loss and gradient from the engine.

scipy's L-BFGS-B minimises the full-batch objective of scikit-learn's MLPs,

    loss(W) = sum_r w_r J_r / sum_r w_r  (/ n_outputs for squared error, a mean over outputs)
              + (alpha / 2) ||coefs||^2 / sum_r w_r

with the gradient scikit-learn hands it: ``(sum_r w_r dJ_r/dcoef + alpha coef) / sum_r w_r`` and
``sum_r w_r dJ_r/dintercept / sum_r w_r`` (not divided by the outputs: scikit-learn's gradient
is that of the summed squared error). The parameters are packed in scikit-learn's order, every
layer's ``coefs_`` raveled, then every layer's ``intercepts_``; the options are scikit-learn's
(``maxfun=max_fun``, ``maxiter=max_iter``, ``gtol=tol``), so both follow the same iterates. The
engine computes the sums (``_core.gradient_sum``: GEMMs over all rows, the GIL released).
"""

import warnings

import numpy as np
import scipy.optimize

from . import _core, _engine


def packed_positions(arch, sizes):
    """Positions in the engine buffer of scikit-learn's packed parameters.

    Returns
    -------
    positions : ndarray of intp
        ``flat[positions]`` is ``np.hstack([c.ravel() for c in coefs_ + intercepts_])``.
    n_coefs : int
        The first ``n_coefs`` entries are coefficients, the rest intercepts.
    """
    coefs, intercepts = [], []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        offset = arch.layer_offset(layer)
        width = (arch.layer_offset(layer + 1) - offset) // (n_in + 1)
        rows = offset + width * np.arange(1, n_in + 1, dtype=np.intp)
        coefs.append((rows[:, None] + np.arange(n_out, dtype=np.intp)).ravel())
        intercepts.append(offset + np.arange(n_out, dtype=np.intp))
    n_coefs = sum(c.size for c in coefs)
    return np.concatenate(coefs + intercepts), n_coefs


def _lbfgs_options(model):
    options = {"maxfun": model.max_fun, "maxiter": model.max_iter, "gtol": model.tol}
    try:  # scipy < 1.15 takes iprint (sklearn's helper knows which)
        from sklearn.utils.fixes import _get_additional_lbfgs_options_dict

        options.update(_get_additional_lbfgs_options_dict("iprint", 1 if model.verbose else -1))
    except ImportError:
        pass
    return options


def _iterations(result, max_iter):
    """``n_iter_`` as scikit-learn reads it, with its ConvergenceWarning when L-BFGS did not converge."""
    try:
        from sklearn.utils.optimize import _check_optimize_result

        return _check_optimize_result("lbfgs", result, max_iter)
    except ImportError:  # pragma: no cover - sklearn moved its helper
        return min(result.nit, max_iter)


def fit_lbfgs(model, rows, settings):
    """Fit ``model`` (a fastnn estimator whose weights are set) by L-BFGS-B on ``rows``.

    Sets ``n_iter_`` (scipy's ``nit``, at most ``max_iter``) and ``loss_`` (the objective at the
    solution). A fit interrupted by Ctrl-C keeps the best point evaluated so far and warns; a fit
    whose weights become non-finite keeps its starting weights and raises ``ValueError``.
    """
    arch = model._architecture()
    W = model._flat
    dtype = W.dtype.type
    positions, n_coefs = packed_positions(arch, model._sizes)
    coef_positions = positions[:n_coefs]
    alpha = settings["alpha"]
    weight_sum = rows.weight_sum
    per_output = model.n_outputs_ if model._loss_per_output else 1
    start = W.copy()
    best = {"loss": np.inf, "x": None}

    def loss_and_gradient(x):
        W[positions] = x
        with _engine.single_threaded_blas:
            grad, loss_sum = _core.gradient_sum(arch, W, rows.data)
        coefs = W[coef_positions].astype(np.float64)
        loss = loss_sum / weight_sum / per_output + 0.5 * alpha * float(np.dot(coefs, coefs)) / weight_sum
        packed = grad[positions].astype(np.float64)
        packed[:n_coefs] += alpha * coefs
        packed /= weight_sum
        if loss < best["loss"]:
            best["loss"], best["x"] = loss, x.copy()
        return loss, packed

    x0 = W[positions].astype(np.float64)
    try:
        result = scipy.optimize.minimize(loss_and_gradient, x0, method="L-BFGS-B", jac=True,
                                         options=_lbfgs_options(model))
    except KeyboardInterrupt:
        W[:] = start
        if best["x"] is not None:
            W[positions] = best["x"]
        model.n_iter_, model.loss_ = 0, best["loss"]
        warnings.warn("Training interrupted by user.")
        return
    model.n_iter_ = _iterations(result, model.max_iter)
    model.loss_ = float(result.fun)
    W[positions] = result.x
    if not (np.isfinite(W).all() and np.isfinite(model.loss_)):
        W[:] = start
        raise ValueError("Solver produced non-finite parameter weights. The input data may contain large values and "
                         "need to be preprocessed: L-BFGS diverged (the model keeps its starting weights). Scale the "
                         "inputs, e.g. with StandardScaler, or raise alpha.")
