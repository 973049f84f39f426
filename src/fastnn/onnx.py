"""ONNX export of fastnn models, through skl2onnx's own MLP converter.

A fastnn network is the network scikit-learn's ``MLPClassifier`` describes (``coefs_``,
``intercepts_``, a hidden activation, a softmax or logistic output), so skl2onnx's converter for
that estimator writes it: one MatMul + Add per layer, Sigmoid between layers, Softmax (or Sigmoid
and ``[1 - p, p]``) at the end, then ArgMax and the class labels. The graph's outputs are named
as skl2onnx names them, ``label`` and ``probabilities``.

Importing this module registers ``fastnn.MLPClassifier`` with skl2onnx, so that pipelines holding
one convert with ``skl2onnx.to_onnx(pipeline, X[:1])``; :func:`register` does it explicitly.
Needs the optional extra ``fastnn[onnx]`` (onnx and skl2onnx).
"""

import numpy as np

try:
    import skl2onnx
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    from skl2onnx.operator_converters.multilayer_perceptron import convert_sklearn_mlp_classifier
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("ONNX export needs onnx and skl2onnx: pip install 'fastnn[onnx]'") from error
from sklearn.base import BaseEstimator, ClassifierMixin

from ._validation import check_dtype

__all__ = ["register", "to_onnx"]


class _LabelKind:
    """What skl2onnx's converter reads of sklearn's ``_label_binarizer``: single-label classes."""

    y_type_ = "multiclass"


class MLPView(ClassifierMixin, BaseEstimator):
    """A fitted fastnn network seen through the attributes of ``sklearn.neural_network.MLPClassifier``.

    Parameters
    ----------
    model : fastnn.Network or fastnn.MLPClassifier
        Fitted.
    dtype : np.float32 or np.float64
        Type of the weights handed to the converter.
    """

    def __init__(self, model=None, dtype=np.float64):
        self.model = model
        self.dtype = dtype
        if model is None:  # an empty view, as sklearn's clone makes
            return
        if hasattr(model, "coefs_"):
            self.coefs_ = [np.asarray(c, dtype=dtype) for c in model.coefs_]
            self.intercepts_ = [np.asarray(b, dtype=dtype) for b in model.intercepts_]
            self.classes_ = np.asarray(model.classes_)
        else:
            weights = model.weights_  # raises NotFittedError for an unfitted Network
            self.coefs_ = [np.ascontiguousarray(W[:, 1:].T, dtype=dtype) for W in weights]
            self.intercepts_ = [np.asarray(W[:, 0], dtype=dtype) for W in weights]
            # a network loaded from a model file knows its class names
            names = getattr(model, "metadata_", {}).get("classes")
            self.classes_ = np.asarray(names) if names is not None else np.arange(model.n_classes_)
        if self.coefs_[-1].shape[1] == 2:
            # skl2onnx's converter reads two classes as one logistic unit; a softmax over two
            # logits is exactly that unit on their difference: softmax(a, b)[1] = sigmoid(b - a)
            self.coefs_[-1] = self.coefs_[-1][:, 1:] - self.coefs_[-1][:, :1]
            self.intercepts_[-1] = self.intercepts_[-1][1:] - self.intercepts_[-1][:1]
        self.n_layers_ = len(self.coefs_) + 1
        self.n_features_in_ = self.coefs_[0].shape[0]
        self.activation = "logistic"
        self.out_activation_ = "logistic" if self.coefs_[-1].shape[1] == 1 else "softmax"
        self._label_binarizer = _LabelKind()


def _convert_fastnn_mlp(scope, operator, container):
    """skl2onnx converter for fastnn's classifier: the sklearn MLP converter on its view."""
    model = operator.raw_operator
    if not isinstance(model, MLPView):
        operator.raw_operator = MLPView(model, np.float64)
    convert_sklearn_mlp_classifier(scope, operator, container)


_OPTIONS = {"zipmap": [True, False, "columns"], "output_class_labels": [False, True], "nocl": [True, False]}


def register():
    """Register ``fastnn.MLPClassifier`` (and the view of a ``Network``) with skl2onnx.

    Done on import of this module; calling it again is harmless.
    """
    from .estimator import MLPClassifier

    for model_type, alias in ((MLPClassifier, "FastnnMLPClassifier"), (MLPView, "FastnnMLPView")):
        update_registered_converter(model_type, alias, calculate_linear_classifier_output_shapes,
                                    _convert_fastnn_mlp, options=_OPTIONS)


def to_onnx(model, path=None, *, dtype=None, target_opset=None):
    """Export a fitted fastnn model as an ONNX graph.

    Parameters
    ----------
    model : fastnn.Network or fastnn.MLPClassifier
        Fitted.
    path : str or os.PathLike, optional
        Also write the model there (atomically: a temporary file in the same folder, renamed).
    dtype : {"float32", "float64"}, optional
        Type of the graph's input ``X`` and arithmetic; default: the model's own.
    target_opset : int, optional
        ONNX opset (default: the newest skl2onnx supports).

    Returns
    -------
    onnx.ModelProto
        Input ``X`` of shape ``(N, n_features)``; outputs ``label`` (``N``, int64 class labels,
        or strings) and ``probabilities`` (``(N, n_classes)``, rows summing to 1).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        The model is not fitted.
    TypeError
        Not a fastnn model.
    """
    from sklearn.utils.validation import check_is_fitted

    from . import io
    from .estimator import MLPClassifier
    from .network import Network

    if not isinstance(model, (Network, MLPClassifier)):
        raise TypeError(f"to_onnx exports a fastnn.Network or fastnn.MLPClassifier, got {type(model).__name__}")
    if isinstance(model, MLPClassifier):
        check_is_fitted(model)
    else:
        model._check_fitted()
    own = model._flat.dtype
    dtype = np.dtype(own if dtype is None else check_dtype(dtype))
    view = MLPView(model, dtype)
    tensor = DoubleTensorType if dtype == np.float64 else FloatTensorType
    onx = skl2onnx.convert_sklearn(view, initial_types=[("X", tensor([None, view.n_features_in_]))],
                                   options={id(view): {"zipmap": False}}, target_opset=target_opset)
    if path is not None:
        io.write_atomic(path, onx.SerializeToString())
    return onx


register()
