"""A plain NumPy reference for fastnn, written straight from the equations.

This module is the yardstick the compiled engine is checked against. It
favours being obviously right over being fast: one sample at a time, one
line per equation, names that follow the math. It never imports fastnn.

The network (CMU 10-601 backpropagation lecture, NNFORWARD / NNBACKWARD):

* parameters are a list of matrices ``W_l`` of shape ``(n_out, n_in + 1)``,
  bias in column 0;
* ``z_0 = x``;
* hidden layers: ``a_l = W_l [1; z_{l-1}]``, ``z_l = g_l(a_l)`` with ``g_l``
  one of ``ACTIVATIONS`` (default: the sigmoid, "logistic");
* output layer: ``b = W_L [1; z_{L-1}]`` and ``y_hat = softmax(b)``
  (``output="softmax"``, K >= 2 units), ``y_hat = sigmoid(b)``
  (``output="sigmoid"``, one unit, labels 0/1), ``y_hat_k = sigmoid(b_k)``
  (``output="multilabel"``, K units, a 0/1 vector y per sample) or
  ``y_hat = b`` (``output="identity"``, K units, a real vector y);
* loss: cross-entropy from the logits, ``J = logsumexp(b) - b_y`` or
  ``J = softplus(b) - y b`` (summed over the K units for multilabel), or
  ``J = 1/2 ||b - y||^2`` for the identity output.

``activation`` is one name for every hidden layer or a list, one per layer.

Every function takes a ``dtype`` (default float64). All arithmetic is then
done in that dtype, so ``dtype=np.float32`` emulates a float32 engine; only
the sums over samples that produce a mean loss are accumulated in float64.
"""

import numpy as np

OUTPUTS = ("softmax", "sigmoid", "multilabel", "identity")
#: Outputs whose y is a vector of K targets per sample rather than a label.
TARGET_OUTPUTS = ("multilabel", "identity")
LEAKY_SLOPE = 0.01


# ---------------------------------------------------------------------------
# elementwise pieces
# ---------------------------------------------------------------------------


def sigmoid(a, dtype=np.float64):
    """Logistic function, two-branch so neither branch overflows.

    ``1 / (1 + exp(-a))`` for ``a >= 0`` and ``exp(a) / (1 + exp(a))``
    otherwise.

    Parameters
    ----------
    a : array_like of float
        Pre-activations, any shape.
    dtype : numpy dtype, default float64
        Dtype the arithmetic is done in.

    Returns
    -------
    z : ndarray of dtype, same shape as ``a``
        Values in [0, 1].
    """
    a = np.asarray(a, dtype=dtype)
    z = np.empty_like(a)
    nonneg = a >= 0
    z[nonneg] = 1 / (1 + np.exp(-a[nonneg]))
    e = np.exp(a[~nonneg])
    z[~nonneg] = e / (1 + e)
    return z


def softmax(b, dtype=np.float64):
    """Softmax over the last axis, with the maximum subtracted first.

    ``softmax(b)_k = exp(b_k - max b) / sum_j exp(b_j - max b)``.

    Parameters
    ----------
    b : array_like of float, shape (K,) or (n, K)
        Logits.
    dtype : numpy dtype, default float64
        Dtype the arithmetic is done in.

    Returns
    -------
    y_hat : ndarray of dtype, same shape as ``b``
        Probabilities; each row sums to 1.
    """
    b = np.asarray(b, dtype=dtype)
    e = np.exp(b - b.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def logsumexp(b, dtype=np.float64):
    """``log(sum_k exp(b_k))`` over the last axis, computed as ``m + log(sum exp(b - m))``.

    Parameters
    ----------
    b : array_like of float, shape (K,) or (n, K)
        Logits.
    dtype : numpy dtype, default float64
        Dtype the arithmetic is done in.

    Returns
    -------
    lse : ndarray of dtype, shape () or (n,)
    """
    b = np.asarray(b, dtype=dtype)
    m = b.max(axis=-1)
    return m + np.log(np.exp(b - m[..., None]).sum(axis=-1))


def softmax_cross_entropy(b, y, dtype=np.float64):
    """Cross-entropy of a softmax output, from its logits: ``logsumexp(b) - b_y``.

    Parameters
    ----------
    b : array_like of float, shape (K,) or (n, K)
        Logits.
    y : int or array_like of int, shape () or (n,)
        True class(es), 0..K-1.
    dtype : numpy dtype, default float64
        Dtype the arithmetic is done in.

    Returns
    -------
    J : ndarray of dtype, shape () or (n,)
        Per-sample loss, >= 0.
    """
    b = np.asarray(b, dtype=dtype)
    y = np.asarray(y, dtype=np.intp)
    b_y = np.take_along_axis(b, y[..., None], axis=-1)[..., 0]
    return logsumexp(b, dtype) - b_y


def binary_cross_entropy(b, y, dtype=np.float64):
    """Cross-entropy of a sigmoid output, from its logit, in the log1p form.

    ``J = -y log sigmoid(b) - (1 - y) log(1 - sigmoid(b)) = softplus(b) - y b``
    with ``softplus(b) = max(b, 0) + log1p(exp(-|b|))``.

    Parameters
    ----------
    b : array_like of float, any shape
        Logit(s) of the single output unit.
    y : array_like of {0, 1}, same shape as ``b``
        True label(s).
    dtype : numpy dtype, default float64
        Dtype the arithmetic is done in.

    Returns
    -------
    J : ndarray of dtype, same shape as ``b``
        Per-sample loss, >= 0.
    """
    b = np.asarray(b, dtype=dtype)
    y = np.asarray(y).astype(dtype)
    softplus = np.maximum(b, 0) + np.log1p(np.exp(-np.abs(b)))
    return softplus - y * b


def activate(a, name, dtype=np.float64):
    """``g(a)`` for the hidden activation ``name`` (one of ``ACTIVATIONS``)."""
    a = np.asarray(a, dtype=dtype)
    if name == "logistic":
        return sigmoid(a, dtype)
    if name == "tanh":
        return np.tanh(a)
    if name == "relu":
        return np.maximum(a, 0).astype(dtype)
    if name == "identity":
        return a.copy()
    if name == "leaky_relu":
        return np.where(a > 0, a, np.dtype(dtype).type(LEAKY_SLOPE) * a).astype(dtype)
    raise ValueError(f"unknown activation {name!r}")


def derivative(z, name, dtype=np.float64):
    """``g'(a)`` written in terms of the activation's output ``z = g(a)``.

    logistic ``z (1 - z)``; tanh ``1 - z^2``; relu ``[z > 0]``; identity 1;
    leaky_relu 1 for ``z > 0``, else 0.01.
    """
    z = np.asarray(z, dtype=dtype)
    one = np.dtype(dtype).type(1)
    if name == "logistic":
        return z * (one - z)
    if name == "tanh":
        return one - z * z
    if name == "relu":
        return (z > 0).astype(dtype)
    if name == "identity":
        return np.ones_like(z)
    if name == "leaky_relu":
        return np.where(z > 0, one, np.dtype(dtype).type(LEAKY_SLOPE)).astype(dtype)
    raise ValueError(f"unknown activation {name!r}")


ACTIVATIONS = ("logistic", "tanh", "relu", "identity", "leaky_relu")


def _activations(activation, n_hidden):
    names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(names) != n_hidden or any(name not in ACTIVATIONS for name in names):
        raise ValueError(f"activation must be one of {ACTIVATIONS} or {n_hidden} of them, got {activation!r}")
    return names


# ---------------------------------------------------------------------------
# one sample: NNFORWARD and NNBACKWARD
# ---------------------------------------------------------------------------


def _with_bias(z):
    """``[1; z]`` in the dtype of ``z``."""
    return np.concatenate((np.ones(1, dtype=z.dtype), z))


def _check_output(output):
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")


def _as_weights(weights, dtype):
    """Copy the weights into fresh 2-D arrays of ``dtype`` (never aliases the input)."""
    Ws = [np.array(W, dtype=dtype, copy=True) for W in weights]
    if not Ws:
        raise ValueError("weights must hold at least one layer (the output layer)")
    for l, W in enumerate(Ws):
        if W.ndim != 2:
            raise ValueError(f"weights[{l}] must be 2-D (n_out, n_in + 1), got shape {W.shape}")
        if l > 0 and W.shape[1] != Ws[l - 1].shape[0] + 1:
            raise ValueError(
                f"weights[{l}] has {W.shape[1]} columns but layer {l - 1} has "
                f"{Ws[l - 1].shape[0]} units; expected {Ws[l - 1].shape[0] + 1} (bias + units)"
            )
    return Ws


def forward(weights, x, output, y=None, dtype=np.float64, activation="logistic"):
    """NNFORWARD for one sample.

    Parameters
    ----------
    weights : list of array_like, each of shape (n_out, n_in + 1)
        Layer matrices, bias in column 0; the last one is the output layer
        (K rows for softmax, 1 row for sigmoid).
    x : array_like of float, shape (m,)
        One input row.
    output : {"softmax", "sigmoid"}
        Output unit type.
    y : int or array_like, optional
        True label (the K targets for multilabel/identity); when given, the
        loss ``J`` is computed.
    dtype : numpy dtype, default float64
        Dtype the arithmetic is done in.
    activation : str or list of str, default "logistic"

    Returns
    -------
    cache : dict
        ``"a"``: list of the hidden pre-activations ``a_1..a_{L-1}``;
        ``"z"``: list ``[z_0 = x, z_1, ..., z_{L-1}]`` (inputs of each layer);
        ``"b"``: output logits, shape (K,) or (1,);
        ``"y_hat"``: output probabilities, shape (K,) or (1,) (P(class 1));
        ``"J"``: loss as a 0-d array of dtype, or None when ``y`` is None.
    """
    _check_output(output)
    Ws = _as_weights(weights, dtype)
    z = np.asarray(x, dtype=dtype)
    if z.shape != (Ws[0].shape[1] - 1,):
        raise ValueError(f"x must have shape ({Ws[0].shape[1] - 1},) to match weights[0], got {z.shape}")
    a_list, z_list = [], [z]
    for W, name in zip(Ws[:-1], _activations(activation, len(Ws) - 1)):
        a = W @ _with_bias(z)
        z = activate(a, name, dtype)
        a_list.append(a)
        z_list.append(z)
    b = Ws[-1] @ _with_bias(z)
    if output == "softmax":
        y_hat = softmax(b, dtype)
        J = None if y is None else softmax_cross_entropy(b, y, dtype)
    elif output == "multilabel":
        y_hat = sigmoid(b, dtype)
        J = None if y is None else np.sum(binary_cross_entropy(b, np.asarray(y, dtype=dtype), dtype), dtype=dtype)
    elif output == "identity":
        y_hat = b.copy()
        J = None if y is None else np.dtype(dtype).type(0.5) * np.sum((b - np.asarray(y, dtype=dtype)) ** 2)
    else:
        if b.shape != (1,):
            raise ValueError(f"a sigmoid output layer has 1 unit, got {b.shape[0]}")
        y_hat = sigmoid(b, dtype)
        J = None if y is None else binary_cross_entropy(b[0], y, dtype)
    return {"a": a_list, "z": z_list, "b": b, "y_hat": y_hat, "J": J}


def backward(weights, x, y, output, cache=None, dtype=np.float64, activation="logistic"):
    """NNBACKWARD for one sample: the gradient of its loss ``J`` w.r.t. every ``W``.

    Output delta ``dJ/db = y_hat - onehot(y)`` (softmax) or ``y_hat - y``
    (sigmoid). Then, from the top layer down::

        gW_l         = delta_l (outer) [1; z_{l-1}]
        delta_{l-1}  = (W_l[:, 1:]^T delta_l) * g'(z_{l-1})

    using the weights as given (before any update).

    Parameters
    ----------
    weights : list of array_like, each of shape (n_out, n_in + 1)
        Layer matrices, bias in column 0.
    x : array_like of float, shape (m,)
        One input row.
    y : int
        True label (0..K-1; 0 or 1 for a sigmoid output).
    output : {"softmax", "sigmoid"}
        Output unit type.
    cache : dict, optional
        The result of ``forward(weights, x, output, ...)``; computed when None.
    dtype : numpy dtype, default float64
        Dtype the arithmetic is done in.

    Returns
    -------
    grads : list of ndarray of dtype
        ``dJ/dW_l``, same shapes as ``weights``.
    """
    _check_output(output)
    Ws = _as_weights(weights, dtype)
    names = _activations(activation, len(Ws) - 1)
    if cache is None:
        cache = forward(Ws, x, output, y, dtype, activation)
    y_hat = cache["y_hat"]
    if output in TARGET_OUTPUTS:
        y = np.asarray(y, dtype=dtype)
        if y.shape != y_hat.shape:
            raise ValueError(f"y must hold {y_hat.shape[0]} targets, got shape {y.shape}")
        delta = y_hat - y
    elif output == "softmax":
        if not 0 <= int(y) < y_hat.shape[0]:
            raise ValueError(f"label {y} out of range 0..{y_hat.shape[0] - 1}")
        onehot = np.zeros_like(y_hat)
        onehot[int(y)] = 1
        delta = y_hat - onehot
    else:
        if int(y) not in (0, 1):
            raise ValueError(f"a sigmoid output needs labels 0 or 1, got {y}")
        delta = y_hat - np.dtype(dtype).type(y)
    grads = [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        z_prev = cache["z"][l]
        grads[l] = np.outer(delta, _with_bias(z_prev))
        if l > 0:
            delta = (Ws[l][:, 1:].T @ delta) * derivative(z_prev, names[l - 1], dtype)
    return grads


# ---------------------------------------------------------------------------
# many samples: predictions and loss
# ---------------------------------------------------------------------------


def _check_X_y(X, y, n_in, dtype, output="softmax"):
    X = np.asarray(X, dtype=dtype)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"X must have shape (n, {n_in}) to match weights[0], got {X.shape}")
    if y is not None and output in TARGET_OUTPUTS:
        y = np.asarray(y, dtype=dtype)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have shape ({X.shape[0]}, K), got {y.shape}")
    elif y is not None:
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        y = y.astype(np.intp)
    return X, y


def logits(weights, X, dtype=np.float64, activation="logistic"):
    """Output logits for every row, the forward pass written for a whole matrix.

    ``Z_0 = X``; ``Z_l = sigmoid([1, Z_{l-1}] W_l^T)``; ``B = [1, Z_{L-1}] W_L^T``.

    Parameters
    ----------
    weights : list of array_like, each of shape (n_out, n_in + 1)
    X : array_like of float, shape (n, m)
    dtype : numpy dtype, default float64

    Returns
    -------
    B : ndarray of dtype, shape (n, K) or (n, 1)
    """
    Ws = _as_weights(weights, dtype)
    Z, _ = _check_X_y(X, None, Ws[0].shape[1] - 1, dtype)
    ones = np.ones((Z.shape[0], 1), dtype=dtype)
    for W, name in zip(Ws[:-1], _activations(activation, len(Ws) - 1)):
        Z = activate(np.hstack((ones, Z)) @ W.T, name, dtype)
    return np.hstack((ones, Z)) @ Ws[-1].T


def outputs(weights, X, output, dtype=np.float64, activation="logistic"):
    """The output layer's values for every row: softmax probabilities, the
    sigmoid(s), or the identity's logits.

    Returns
    -------
    ndarray of dtype, shape (n, K)
    """
    _check_output(output)
    B = logits(weights, X, dtype, activation)
    if output == "softmax":
        return softmax(B, dtype)
    if output == "identity":
        return B
    return sigmoid(B, dtype)


def predict_proba(weights, X, output, dtype=np.float64, activation="logistic"):
    """Class probabilities for every row.

    Parameters
    ----------
    weights : list of array_like, each of shape (n_out, n_in + 1)
    X : array_like of float, shape (n, m)
    output : {"softmax", "sigmoid"}
    dtype : numpy dtype, default float64

    Returns
    -------
    P : ndarray of dtype, shape (n, K)
        Rows sum to 1. For a sigmoid output K = 2 and the columns are
        ``[1 - p, p]`` with ``p = sigmoid(b)``.
    """
    _check_output(output)
    B = logits(weights, X, dtype, activation)
    if output == "softmax":
        return softmax(B, dtype)
    p = sigmoid(B[:, 0], dtype)
    return np.column_stack((1 - p, p))


def predict(weights, X, output, dtype=np.float64, activation="logistic"):
    """Most probable class for every row.

    Parameters
    ----------
    weights : list of array_like, each of shape (n_out, n_in + 1)
    X : array_like of float, shape (n, m)
    output : {"softmax", "sigmoid"}
    dtype : numpy dtype, default float64

    Returns
    -------
    y_pred : ndarray of intp, shape (n,)
        Labels 0..K-1 (argmax; ties go to the lower label).
    """
    return np.argmax(predict_proba(weights, X, output, dtype, activation), axis=1)


def per_sample_loss(weights, X, y, output, dtype=np.float64, activation="logistic"):
    """Cross-entropy of every row, from the logits.

    Parameters
    ----------
    weights : list of array_like, each of shape (n_out, n_in + 1)
    X : array_like of float, shape (n, m)
    y : array_like of int, shape (n,)
    output : {"softmax", "sigmoid"}
    dtype : numpy dtype, default float64

    Returns
    -------
    J : ndarray of dtype, shape (n,)
    """
    _check_output(output)
    Ws = _as_weights(weights, dtype)
    X, y = _check_X_y(X, y, Ws[0].shape[1] - 1, dtype, output)
    B = logits(Ws, X, dtype, activation)
    if output == "multilabel":
        return np.sum(binary_cross_entropy(B, y, dtype), axis=1, dtype=dtype)
    if output == "identity":
        return np.dtype(dtype).type(0.5) * np.sum((B - y) ** 2, axis=1, dtype=dtype)
    n_classes = B.shape[1] if output == "softmax" else 2
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1} for this output layer, got {y.min()}..{y.max()}")
    if output == "softmax":
        return softmax_cross_entropy(B, y, dtype)
    return binary_cross_entropy(B[:, 0], y, dtype)


def mean_loss(weights, X, y, output, dtype=np.float64, activation="logistic"):
    """Mean cross-entropy over the rows (summed in float64).

    Parameters
    ----------
    weights : list of array_like, each of shape (n_out, n_in + 1)
    X : array_like of float, shape (n, m)
    y : array_like of int, shape (n,)
    output : {"softmax", "sigmoid"}
    dtype : numpy dtype, default float64

    Returns
    -------
    J : float
        ``(1/n) sum_i J_i`` (no L2 term).
    """
    J = per_sample_loss(weights, X, y, output, dtype, activation)
    return float(np.sum(J, dtype=np.float64) / J.shape[0])


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


def _epoch_orders(order, n, epochs):
    """One row order per epoch: default 0..n-1; one sequence reused every epoch; or one per epoch."""
    if order is None:
        return [np.arange(n)] * epochs
    if len(order) == 0:
        raise ValueError("order must not be empty; pass None to visit rows 0..n-1")
    order = [np.asarray(o, dtype=np.intp) for o in order] if np.ndim(order[0]) == 1 else [np.asarray(order, dtype=np.intp)]
    if len(order) == 1:
        order = order * epochs
    if len(order) != epochs:
        raise ValueError(f"order must be one row order or {epochs} of them (one per epoch), got {len(order)}")
    for o in order:
        if o.ndim != 1 or np.any(o < 0) or np.any(o >= n):
            raise ValueError(f"each order must be a 1-D sequence of row indices in 0..{n - 1}")
    return order


def _l2_term(W, l2):
    """``l2 * W`` with the bias column zeroed (the gradient of (l2/2)||W_nonbias||^2)."""
    R = l2 * W
    R[:, 0] = 0
    return R


def _train(weights, X, y, output, learning_rate, epochs, batch_size, l2, order, X_val, y_val,
           sample_weight, dtype, activation, optimizer=None):
    _check_output(output)
    Ws = _as_weights(weights, dtype)
    X, y = _check_X_y(X, y, Ws[0].shape[1] - 1, dtype, output)
    n = X.shape[0]
    sw = np.ones(n, dtype=dtype) if sample_weight is None else np.asarray(sample_weight, dtype=dtype)
    if sw.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    lr = np.dtype(dtype).type(learning_rate)
    lam = np.dtype(dtype).type(l2)
    history = {"train_loss": [], "val_loss": []}
    for rows in _epoch_orders(order, n, epochs):
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            # gradients of every sample in the batch, all from the weights before this update
            total = [np.zeros_like(W) for W in Ws]
            for i in batch:
                g = backward(Ws, X[i], y[i], output, dtype=dtype, activation=activation)
                for l in range(len(Ws)):
                    total[l] += sw[i] * g[l]
            m = np.dtype(dtype).type(len(batch))
            if optimizer is None:
                Ws = [W - lr * (G / m + _l2_term(W, lam)) for W, G in zip(Ws, total)]
            else:
                Ws = optimizer.update(Ws, [G / m + _l2_term(W, lam) for W, G in zip(Ws, total)])
        history["train_loss"].append(mean_loss(Ws, X, y, output, dtype, activation))
        if X_val is not None:
            history["val_loss"].append(mean_loss(Ws, X_val, y_val, output, dtype, activation))
    return Ws, history


def sgd_train(weights, X, y, output, learning_rate, epochs, l2=0.0, order=None, X_val=None, y_val=None,
              sample_weight=None, dtype=np.float64, activation="logistic"):
    """Per-sample SGD: one update per row, rows visited in the given order.

    For each row ``i``: ``W_l <- W_l - lr * (sw_i * dJ_i/dW_l + l2 * W_l^nonbias)``
    for every layer at once, where ``W^nonbias`` is ``W`` with column 0
    zeroed and all gradients are taken at the weights before the update.

    Parameters
    ----------
    weights : list of array_like, each of shape (n_out, n_in + 1)
        Starting weights, bias in column 0 (not modified).
    X : array_like of float, shape (n, m)
    y : array_like of int, shape (n,)
    output : {"softmax", "sigmoid"}
    learning_rate : float
    epochs : int
    l2 : float, default 0.0
        Strength ``lambda`` of the penalty ``(lambda/2) ||W_nonbias||^2``.
    order : sequence of int, or sequence of sequences of int, optional
        Row order: None means 0..n-1 every epoch; one sequence is reused
        every epoch; a list of ``epochs`` sequences gives one per epoch.
    X_val : array_like of float, shape (n_val, m), optional
    y_val : array_like of int, shape (n_val,), optional
    sample_weight : array_like of float, shape (n,), optional
        Multiplies each row's loss gradient (not the L2 term). Default 1.
    dtype : numpy dtype, default float64

    Returns
    -------
    weights : list of ndarray of dtype
        Trained weights, same shapes.
    history : dict
        ``{"train_loss": [...], "val_loss": [...]}``: mean cross-entropy
        (unweighted, no L2 term) over the whole set after each epoch;
        ``val_loss`` is empty when ``X_val`` is None.
    """
    return _train(weights, X, y, output, learning_rate, epochs, 1, l2, order, X_val, y_val,
                  sample_weight, dtype, activation)


def minibatch_sgd_train(weights, X, y, output, learning_rate, epochs, batch_size, l2=0.0, order=None,
                        X_val=None, y_val=None, sample_weight=None, dtype=np.float64, activation="logistic"):
    """Mini-batch SGD: consecutive batches of ``batch_size`` rows in the given order.

    For each batch ``S``:
    ``W_l <- W_l - lr * ((1/|S|) sum_{i in S} sw_i * dJ_i/dW_l + l2 * W_l^nonbias)``,
    all gradients at the weights before the update; the last batch of an
    epoch may be smaller and is averaged over its own size.
    ``batch_size=1`` is :func:`sgd_train`.

    Parameters
    ----------
    weights, X, y, output, learning_rate, epochs, l2, order, X_val, y_val, sample_weight, dtype
        As in :func:`sgd_train`.
    batch_size : int
        Rows per update, >= 1.

    Returns
    -------
    weights : list of ndarray of dtype
    history : dict
        As in :func:`sgd_train`.
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return _train(weights, X, y, output, learning_rate, epochs, int(batch_size), l2, order, X_val, y_val,
                  sample_weight, dtype, activation)


class Optimizer:
    """scikit-learn's update rules (``sklearn/neural_network/_stochastic_optimizers.py``), written
    out for a list of weight matrices, gradient ``g`` given (the batch's mean gradient plus the L2
    term):

    - ``"momentum"``: ``v <- momentum v - lr g``; ``W <- W + v``
    - ``"nesterov"``: ``v <- momentum v - lr g``; ``W <- W + momentum v - lr g``
    - ``"adam"``: ``t <- t + 1``; ``m <- b1 m + (1 - b1) g``; ``s <- b2 s + (1 - b2) g^2``;
      ``W <- W - lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(s) + eps)``
    """

    def __init__(self, method, learning_rate, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        if method not in ("momentum", "nesterov", "adam"):
            raise ValueError(f"unknown optimizer {method!r}")
        self.method, self.lr, self.momentum = method, learning_rate, momentum
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.first = self.second = None

    def update(self, Ws, grads):
        dtype = Ws[0].dtype.type
        if self.first is None:
            self.first = [np.zeros_like(W) for W in Ws]
            self.second = [np.zeros_like(W) for W in Ws]
        if self.method == "adam":
            self.t += 1
            b1, b2 = dtype(self.beta_1), dtype(self.beta_2)
            self.first = [b1 * m + (dtype(1) - b1) * g for m, g in zip(self.first, grads)]
            self.second = [b2 * s + (dtype(1) - b2) * g * g for s, g in zip(self.second, grads)]
            lr_t = dtype(self.lr * np.sqrt(1 - self.beta_2 ** self.t) / (1 - self.beta_1 ** self.t))
            return [W - lr_t * m / (np.sqrt(s) + dtype(self.epsilon)) for W, m, s in zip(Ws, self.first, self.second)]
        mu, lr = dtype(self.momentum), dtype(self.lr)
        self.first = [mu * v - lr * g for v, g in zip(self.first, grads)]
        if self.method == "nesterov":
            return [W + (mu * v - lr * g) for W, v, g in zip(Ws, self.first, grads)]
        return [W + v for W, v in zip(Ws, self.first)]


def optimizer_train(weights, X, y, output, optimizer, epochs, batch_size=1, l2=0.0, order=None,
                    sample_weight=None, dtype=np.float64, activation="logistic"):
    """Training with an :class:`Optimizer` (its state carries over between calls): for each batch
    ``S``, ``g = (1/|S|) sum_{i in S} sw_i dJ_i/dW + l2 W_nonbias`` at the weights before the
    update, then the optimizer's rule.

    Returns
    -------
    weights : list of ndarray of dtype
    history : dict
        As in :func:`sgd_train`.
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return _train(weights, X, y, output, optimizer.lr, epochs, int(batch_size), l2, order, None, None,
                  sample_weight, dtype, activation, optimizer=optimizer)
