"""Spark ML interchange: ``MultilayerPerceptronClassifier``'s weight vector and fastnn's layers.

Spark's multilayer perceptron is fastnn's model (sigmoid hidden layers, softmax output). It
keeps one flat vector, per layer the ``(n_in, n_out)`` weights row by row (Breeze's column-major
``(n_out, n_in)`` matrix) and then the ``n_out`` biases; ``layers`` lists the sizes. fastnn's
layer ``l`` is ``W`` of shape ``(n_out, n_in + 1)`` with the bias in column 0.

Train in Spark and predict or fine-tune in fastnn (:func:`from_spark_model`), or start Spark
from fastnn's weights (:func:`to_spark_weights` as ``initialWeights``). PySpark is not needed
to convert; only the Spark objects themselves come from it.
"""

import numpy as np

__all__ = ["from_spark_model", "from_spark_weights", "to_spark_weights"]


def _finite(value, name):
    array = np.array(value, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def to_spark_weights(network):
    """The network's weights as Spark ML's ``MultilayerPerceptronClassifier`` vector.

    Parameters
    ----------
    network : fastnn.Network
        Fitted, with a softmax output (Spark's only output layer).

    Returns
    -------
    layers : list of int
        ``[n_features, hidden..., K]``, Spark's ``layers`` parameter.
    weights : ndarray of float64
        Give it to Spark as ``initialWeights`` (``pyspark.ml.linalg.Vectors.dense(weights)``).
    """
    if network.output != "softmax":
        raise ValueError("Spark's MultilayerPerceptronClassifier has a softmax output; this network's is "
                         f"{network.output!r}")
    weights = network.weights_
    parts = [np.concatenate([W[:, 1:].T.ravel(), W[:, 0]]) for W in weights]
    return [weights[0].shape[1] - 1, *(W.shape[0] for W in weights)], np.concatenate(parts).astype(np.float64)


def from_spark_weights(layers, weights, *, dtype="float64"):
    """A fitted softmax ``fastnn.Network`` from Spark ML's ``layers`` and flat ``weights``.

    Raises
    ------
    ValueError
        ``weights`` has not the length ``layers`` implies, or ``layers`` is not sizes >= 1.
    """
    from .network import Network

    sizes = [int(size) for size in layers]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layers must list at least 2 sizes >= 1, got {list(layers)}")
    flat = _finite(weights, "weights").ravel()
    expected = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if flat.size != expected:
        raise ValueError(f"a Spark weight vector for layers {sizes} has {expected} entries, this one {flat.size}")
    result, offset = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        coef = flat[offset : offset + n_in * n_out].reshape(n_in, n_out)
        bias = flat[offset + n_in * n_out : offset + (n_in + 1) * n_out]
        result.append(np.column_stack([bias, coef.T]))
        offset += (n_in + 1) * n_out
    return Network.from_weights(result, output="softmax", dtype=dtype)


def from_spark_model(model, *, dtype="float64"):
    """A fitted ``fastnn.Network`` predicting as a Spark ``MultilayerPerceptronClassificationModel``.

    Parameters
    ----------
    model : pyspark.ml.classification.MultilayerPerceptronClassificationModel

    Returns
    -------
    fastnn.Network
    """
    layers = model.getLayers() if hasattr(model, "getLayers") else model.layers
    return from_spark_weights(layers, model.weights.toArray(), dtype=dtype)
