"""ONNX export of fastnn models, as skl2onnx writes scikit-learn's MLPs.

A fastnn network is the network scikit-learn's MLPs describe (``coefs_``, ``intercepts_``, hidden
activations, a softmax, logistic or identity output), so it is written the way skl2onnx writes
those: one MatMul + Add per layer and the layer's activation (Sigmoid, Tanh, Relu, Identity, and
leaky relu as Max(a, 0.01 a); one per hidden layer), then for a classifier Softmax or Sigmoid (and
``[1 - p, p]`` for two classes), ArgMax and the class labels (``p > 0.5`` for multilabel models),
for a regressor the values. The graph's outputs are named as skl2onnx names them: ``label`` and
``probabilities`` for classifiers, ``variable`` for regressors. The forward pass is fastnn's own
(skl2onnx's has one activation for all layers and no leaky relu); the rest uses skl2onnx's
operator helpers and registration.

Importing this module registers ``fastnn.MLPClassifier`` and ``fastnn.MLPRegressor`` with
skl2onnx, so that pipelines holding them convert with ``skl2onnx.to_onnx(pipeline, X[:1])``;
:func:`register` does it explicitly. Needs the optional extra ``fastnn[onnx]`` (onnx and skl2onnx).
"""

import numpy as np

try:
    import skl2onnx
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.common._apply_operation import apply_add, apply_cast, apply_concat, apply_identity, apply_reshape, \
        apply_sub
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from skl2onnx.common.shape_calculator import (calculate_linear_classifier_output_shapes,
                                                  calculate_linear_regressor_output_shapes)
    from skl2onnx.proto import onnx_proto
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("ONNX export needs onnx and skl2onnx: pip install 'fastnn[onnx]'") from error
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from ._validation import check_dtype

__all__ = ["register", "to_onnx"]

#: ONNX operator of each activation and output function (leaky_relu is written max(a, 0.01 a):
#: onnxruntime has LeakyRelu for float32 only).
_ONNX_FUNCTIONS = {"identity": "Identity", "logistic": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
                   "softmax": "Softmax"}
_LEAKY_SLOPE = 0.01


class MLPView(BaseEstimator):
    """A fitted fastnn model seen through the attributes of scikit-learn's MLPs.

    Parameters
    ----------
    model : fastnn.Network, fastnn.MLPClassifier or fastnn.MLPRegressor
        Fitted.
    dtype : np.float32 or np.float64
        Type of the weights written into the graph.

    Attributes
    ----------
    coefs_, intercepts_ : list of ndarray
    activations_ : list of str
        One per hidden layer.
    out_activation_ : {"softmax", "logistic", "identity"}
    multilabel : bool
    classes_ : ndarray or None
        None for a regressor.
    """

    def __init__(self, model=None, dtype=np.float64):
        self.model = model
        self.dtype = dtype
        if model is None:  # an empty view, as sklearn's clone makes
            return
        if hasattr(model, "coefs_"):
            self.coefs_ = [np.asarray(c, dtype=dtype) for c in model.coefs_]
            self.intercepts_ = [np.asarray(b, dtype=dtype) for b in model.intercepts_]
            self.activations_ = list(model._fitted_activations())
            self.out_activation_ = model.out_activation_
            self.multilabel = bool(getattr(model, "_multilabel", False))
            self.classes_ = np.asarray(model.classes_) if hasattr(model, "classes_") else None
        else:
            weights = model.weights_  # raises NotFittedError for an unfitted Network
            self.coefs_ = [np.ascontiguousarray(W[:, 1:].T, dtype=dtype) for W in weights]
            self.intercepts_ = [np.asarray(W[:, 0], dtype=dtype) for W in weights]
            self.activations_ = list(model._activations)
            self.out_activation_ = {"softmax": "softmax", "identity": "identity"}.get(model._output, "logistic")
            self.multilabel = model._output == "multilabel"
            if model._output == "identity":
                self.classes_ = None
            else:  # a network loaded from a model file knows its class names
                names = getattr(model, "metadata_", {}).get("classes")
                self.classes_ = np.asarray(names) if names is not None else np.arange(model.n_classes_)
        self.n_layers_ = len(self.coefs_) + 1
        self.n_features_in_ = self.coefs_[0].shape[0]
        self.n_outputs_ = self.coefs_[-1].shape[1]


class ClassifierView(ClassifierMixin, MLPView):
    """The view of a classifying network (for skl2onnx's classifier shapes)."""


class RegressorView(RegressorMixin, MLPView):
    """The view of a regressing network (for skl2onnx's regressor shapes)."""


def _view(model, dtype):
    """The view of ``model`` (a view stays itself)."""
    if isinstance(model, MLPView):
        return model
    regressor = getattr(model, "out_activation_", None) == "identity" or getattr(model, "_output", None) == "identity"
    return (RegressorView if regressor else ClassifierView)(model, dtype)


def _forward_pass(scope, container, view, input_name, proto_dtype):
    """The network's output for ``input_name``: per layer MatMul, Add and its function."""
    name = scope.get_unique_variable_name("cast_input")
    apply_cast(scope, input_name, name, container, to=proto_dtype)
    functions = [*view.activations_, view.out_activation_]
    for coef, intercept, function in zip(view.coefs_, view.intercepts_, functions):
        coef_name = scope.get_unique_variable_name("coefficient")
        intercept_name = scope.get_unique_variable_name("intercepts")
        container.add_initializer(coef_name, proto_dtype, coef.shape, coef.ravel())
        container.add_initializer(intercept_name, proto_dtype, [1, len(intercept)], intercept)
        product, total = scope.get_unique_variable_name("mul_result"), scope.get_unique_variable_name("add_result")
        container.add_node("MatMul", [name, coef_name], product, name=scope.get_unique_operator_name("MatMul"))
        apply_add(scope, [product, intercept_name], total, container, broadcast=1)
        name = scope.get_unique_variable_name("activations")
        if function == "leaky_relu":
            slope, scaled = scope.get_unique_variable_name("slope"), scope.get_unique_variable_name("scaled")
            container.add_initializer(slope, proto_dtype, [], [_LEAKY_SLOPE])
            container.add_node("Mul", [total, slope], scaled, name=scope.get_unique_operator_name("Mul"))
            container.add_node("Max", [total, scaled], name, name=scope.get_unique_operator_name("Max"))
        else:
            op = _ONNX_FUNCTIONS[function]
            container.add_node(op, total, name, name=scope.get_unique_operator_name(op))
    return name


def _proto_dtype(operator):
    proto = guess_proto_type(operator.inputs[0].type)
    return proto if proto == onnx_proto.TensorProto.DOUBLE else onnx_proto.TensorProto.FLOAT


def _convert_classifier(scope, operator, container):
    """skl2onnx converter of fastnn's classifiers: ``label`` and ``probabilities``."""
    view = _view(operator.raw_operator, np.float64)
    proto_dtype = _proto_dtype(operator)
    label, probabilities = operator.outputs[0].full_name, operator.outputs[1].full_name
    y_pred = _forward_pass(scope, container, view, operator.inputs[0].full_name, proto_dtype)
    if view.n_outputs_ == 1 and not view.multilabel:  # one logistic unit: [1 - p, p]
        one, negative = scope.get_unique_variable_name("unity"), scope.get_unique_variable_name("negative_proba")
        container.add_initializer(one, proto_dtype, [], [1])
        apply_sub(scope, [one, y_pred], negative, container, broadcast=1)
        apply_concat(scope, [negative, y_pred], probabilities, container, axis=1)
    else:
        apply_identity(scope, y_pred, probabilities, container)
    if view.multilabel:  # the label sets, as predict gives them: p > 0.5
        half, above = scope.get_unique_variable_name("half"), scope.get_unique_variable_name("above_half")
        container.add_initializer(half, proto_dtype, [], [0.5])
        container.add_node("Greater", [y_pred, half], above, name=scope.get_unique_operator_name("Greater"))
        apply_cast(scope, above, label, container, to=onnx_proto.TensorProto.INT64)
        return
    classes = view.classes_
    if len(classes) == 1:  # fitted on one class: both columns name it, as predict does
        classes = np.repeat(classes, 2)
    numeric = np.issubdtype(classes.dtype, np.number) or classes.dtype == np.bool_
    class_type = onnx_proto.TensorProto.INT32 if numeric else onnx_proto.TensorProto.STRING
    values = classes.astype(np.int32) if numeric else np.array([str(c).encode("utf-8") for c in classes])
    classes_name, argmax = scope.get_unique_variable_name("classes"), scope.get_unique_variable_name("argmax_output")
    extracted = scope.get_unique_variable_name("array_feature_extractor_result")
    container.add_initializer(classes_name, class_type, values.shape, values)
    container.add_node("ArgMax", probabilities, argmax, axis=1, name=scope.get_unique_operator_name("ArgMax"))
    container.add_node("ArrayFeatureExtractor", [classes_name, argmax], extracted, op_domain="ai.onnx.ml",
                       name=scope.get_unique_operator_name("ArrayFeatureExtractor"))
    if numeric:
        flat = scope.get_unique_variable_name("reshaped_result")
        apply_reshape(scope, extracted, flat, container, desired_shape=(-1,))
        apply_cast(scope, flat, label, container, to=onnx_proto.TensorProto.INT64)
    else:
        apply_reshape(scope, extracted, label, container, desired_shape=(-1,))


def _convert_regressor(scope, operator, container):
    """skl2onnx converter of fastnn's regressors: ``variable``, (N, n_outputs)."""
    view = _view(operator.raw_operator, np.float64)
    y_pred = _forward_pass(scope, container, view, operator.inputs[0].full_name, _proto_dtype(operator))
    apply_reshape(scope, y_pred, operator.outputs[0].full_name, container, desired_shape=(-1, view.n_outputs_))


def _regressor_shapes(operator):
    calculate_linear_regressor_output_shapes(operator)
    view = _view(operator.raw_operator, np.float64)
    operator.outputs[0].type.shape = [operator.inputs[0].type.shape[0], view.n_outputs_]


_OPTIONS = {"zipmap": [True, False, "columns"], "output_class_labels": [False, True], "nocl": [True, False]}


def register():
    """Register ``fastnn.MLPClassifier``, ``fastnn.MLPRegressor`` (and the views of a ``Network``)
    with skl2onnx.

    Done on import of this module; calling it again is harmless.
    """
    from .estimator import MLPClassifier
    from .regressor import MLPRegressor

    for model_type, alias in ((MLPClassifier, "FastnnMLPClassifier"), (ClassifierView, "FastnnMLPView")):
        update_registered_converter(model_type, alias, calculate_linear_classifier_output_shapes,
                                    _convert_classifier, options=_OPTIONS)
    for model_type, alias in ((MLPRegressor, "FastnnMLPRegressor"), (RegressorView, "FastnnMLPRegressorView")):
        update_registered_converter(model_type, alias, _regressor_shapes, _convert_regressor)


def to_onnx(model, path=None, *, dtype=None, target_opset=None):
    """Export a fitted fastnn model as an ONNX graph.

    Parameters
    ----------
    model : fastnn.Network, fastnn.MLPClassifier or fastnn.MLPRegressor
        Fitted; any hidden activations and any output.
    path : str or os.PathLike, optional
        Also write the model there (atomically: a temporary file in the same folder, renamed).
    dtype : {"float32", "float64"}, optional
        Type of the graph's input ``X`` and arithmetic; default: the model's own.
    target_opset : int, optional
        ONNX opset (default: the newest skl2onnx supports).

    Returns
    -------
    onnx.ModelProto
        Input ``X`` of shape ``(N, n_features)``. Classifiers: outputs ``label`` (``N``, int64
        class labels or strings; ``(N, K)`` 0/1 for a multilabel model) and ``probabilities``
        (``(N, n_classes)``, as ``predict_proba``). Regressors (and networks with the identity
        output): output ``variable``, ``(N, n_outputs)``.

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
    from .regressor import MLPRegressor

    if not isinstance(model, (Network, MLPClassifier, MLPRegressor)):
        raise TypeError("to_onnx exports a fastnn.Network, fastnn.MLPClassifier or fastnn.MLPRegressor, got "
                        f"{type(model).__name__}")
    if isinstance(model, Network):
        model._check_fitted()
    else:
        check_is_fitted(model)
    own = model._flat.dtype
    dtype = np.dtype(own if dtype is None else check_dtype(dtype))
    view = _view(model, dtype)
    tensor = DoubleTensorType if dtype == np.float64 else FloatTensorType
    options = {} if isinstance(view, RegressorView) else {id(view): {"zipmap": False}}
    onx = skl2onnx.convert_sklearn(view, initial_types=[("X", tensor([None, view.n_features_in_]))],
                                   options=options, target_opset=target_opset)
    if path is not None:
        io.write_atomic(path, onx.SerializeToString())
    return onx


register()
