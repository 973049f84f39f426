"""The fastnn model file: its metadata checked, encoded and read back.

The format (weight matrices ``W0, W1, ...`` and a JSON ``metadata`` entry in
one ``.npz``) is described in :mod:`fastnn.io`, which documents and exports
:func:`~fastnn.io.read_model`, :func:`~fastnn.io.write_model`,
:func:`~fastnn.io.model_bytes` and the constants ``MODEL_FORMAT`` and
``MODEL_FORMAT_VERSION`` defined here.
"""

from __future__ import annotations

import io
import json
import math
import os

import numpy as np

from ._errors import _BAD_BYTES_ERRORS, ModelFormatError, _display, _short, _show
from ._files import _open_for_reading
from ._npz import _open_npz, _scan_npz

#: Value of the ``format`` metadata key of every fastnn model file.
MODEL_FORMAT = "fastnn-model"

#: Model file format version written by this module (and the newest it reads). Version 2 adds
#: the hidden layers' ``activation`` and the multilabel and identity outputs; a model of logistic
#: units with a softmax or sigmoid output is still written as version 1, which every fastnn reads.
MODEL_FORMAT_VERSION = 2

_MAX_LAYER_SIZE = 2**31 - 1
_MAX_METADATA_BYTES = 16 * 2**20
_MODEL_DTYPES = ("float64", "float32")
_OUTPUTS = ("softmax", "sigmoid", "multilabel", "identity")
_VERSION_1_OUTPUTS = ("softmax", "sigmoid")
_ACTIVATIONS = ("logistic", "tanh", "relu", "identity", "leaky_relu")
_RESERVED_KEYS = (
    "format",
    "format_version",
    "fastnn_version",
    "layer_sizes",
    "output",
    "activation",
    "dtype",
    "classes",
    "n_features",
)


def _fastnn_version():
    try:
        from . import __version__
    except ImportError:
        return None
    return str(__version__)


def _json_default(value):
    """Make numpy scalars/arrays and paths JSON-serialisable in metadata."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"object of type {type(value).__name__} is not JSON-serialisable")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_metadata(meta, fail):
    """Check the reserved metadata keys; ``fail(reason)`` raises.  Returns the
    layer sizes, output, dtype name, class list and hidden activations."""
    if not isinstance(meta, dict):
        fail(f"metadata must be a JSON object, got {type(meta).__name__}")
    if "format" not in meta:
        fail("metadata key 'format' is missing: this is not a fastnn model file")
    if meta["format"] != MODEL_FORMAT:
        fail(f"metadata 'format' is {_show(meta['format'])}, not {MODEL_FORMAT!r}: this is not a fastnn model file")
    if "format_version" not in meta:
        fail("metadata key 'format_version' is missing")
    version = meta["format_version"]
    if not _is_int(version) or version < 1:
        fail(f"metadata 'format_version' must be a positive integer, got {_show(version)}")
    if version > MODEL_FORMAT_VERSION:
        fail(
            f"the file has model format version {version}, written by a newer fastnn;"
            f" this version reads format version {MODEL_FORMAT_VERSION}: upgrade fastnn to load it"
        )
    # Only now, knowing the version, can the other keys be expected.
    for key in ("layer_sizes", "output", "dtype", "classes", "n_features"):
        if key not in meta:
            fail(f"metadata key {key!r} is missing")
    fastnn_version = meta.get("fastnn_version")
    if fastnn_version is not None and not isinstance(fastnn_version, str):
        fail(f"metadata 'fastnn_version' must be a string or null, got {_show(fastnn_version)}")
    sizes = meta["layer_sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2:
        fail(f"metadata 'layer_sizes' must be a list [n_in, ..., n_out] of at least 2 sizes, got {_show(sizes)}")
    for i, n in enumerate(sizes):
        if not _is_int(n):
            fail(f"layer_sizes[{i}] must be an integer, got {_show(n)}")
        if not 1 <= n <= _MAX_LAYER_SIZE:
            fail(f"layer_sizes[{i}] = {n} is out of range (1..{_MAX_LAYER_SIZE})")
    output = meta["output"]
    outputs = _OUTPUTS if version >= 2 else _VERSION_1_OUTPUTS
    if output not in outputs:
        choices = " or ".join(map(repr, outputs)) if len(outputs) == 2 else "one of " + ", ".join(map(repr, outputs))
        fail(f"metadata 'output' must be {choices}, got {_show(output)}")
    n_hidden = len(sizes) - 2
    if version >= 2:
        if "activation" not in meta:
            fail("metadata key 'activation' is missing")
        activation = meta["activation"]
        if (not isinstance(activation, list) or len(activation) != n_hidden
                or not all(isinstance(a, str) and a in _ACTIVATIONS for a in activation)):
            fail(f"metadata 'activation' must list one of {', '.join(map(repr, _ACTIVATIONS))} for each of the"
                 f" {n_hidden} hidden layer(s), got {_show(activation)}")
    else:
        activation = ["logistic"] * n_hidden
    dtype = meta["dtype"]
    if dtype not in _MODEL_DTYPES:
        fail(f"metadata 'dtype' must be 'float64' or 'float32', got {_show(dtype)}")
    n_out = sizes[-1]
    if output == "sigmoid" and n_out != 1:
        fail(f"a sigmoid output has 1 unit, but layer_sizes ends in {n_out}")
    if output == "softmax" and n_out < 2:
        fail(f"a softmax output needs at least 2 units, but layer_sizes ends in {n_out}")
    n_classes = _class_count(output, n_out)
    classes = meta["classes"]
    if not isinstance(classes, list):
        fail(f"metadata 'classes' must be a list, got {type(classes).__name__}")
    if len(classes) != n_classes:
        fail(
            f"metadata 'classes' has {len(classes)} entries but the {output} output with"
            f" {n_out} unit(s) means {n_classes} classes"
        )
    for c in classes:
        if isinstance(c, float) and not math.isfinite(c):
            fail(f"metadata 'classes' holds the non-finite value {c}")
        if not isinstance(c, (str, int, float)):
            fail(f"metadata 'classes' must hold strings or numbers, got {_show(c)}")
    if len(set(classes)) != len(classes):
        fail(f"metadata 'classes' has duplicates: {_show(classes, 200)}")
    n_features = meta["n_features"]
    if not _is_int(n_features) or n_features != sizes[0]:
        fail(f"metadata 'n_features' is {_show(n_features)} but layer_sizes starts with {sizes[0]}")
    return sizes, output, dtype, classes, activation


def _class_count(output, n_out):
    """Entries of the ``classes`` list: 2 for one sigmoid unit, none for regression, else one per unit."""
    return 2 if output == "sigmoid" else 0 if output == "identity" else n_out


def _read_model(path):
    """:func:`fastnn.io.read_model`."""
    name = _display(path)

    def make_error(reason):
        return ModelFormatError(f"{name}: {reason}", path=name)

    def fail(reason):
        raise make_error(reason)

    fh = _open_for_reading(path, make_error, "model file")
    with fh:
        try:
            arrays, others = _scan_npz(fh, make_error, "model file")
            if others:
                fail(f"unexpected entry {_short(others[0])}; a fastnn model file holds only .npy arrays")
            if "metadata" not in arrays:
                fail("the 'metadata' entry is missing; this is not a fastnn model file")
            meta_shape, meta_dtype = arrays["metadata"]
            if meta_dtype != np.uint8 or len(meta_shape) != 1:
                fail(f"'metadata' must be a 1-D uint8 array (UTF-8 JSON), got {meta_dtype} of shape {meta_shape}")
            if meta_shape[0] > _MAX_METADATA_BYTES:
                fail(f"'metadata' is {meta_shape[0]} bytes, more than the {_MAX_METADATA_BYTES} allowed")
            with _open_npz(fh, make_error, "model file") as npz:
                blob = npz["metadata"].tobytes()
                try:
                    text = blob.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise make_error(f"'metadata' is not UTF-8 text: {exc}") from exc
                try:
                    meta = json.loads(text)
                except (ValueError, RecursionError) as exc:
                    raise make_error(f"'metadata' is not valid JSON: {exc}") from exc
                sizes, output, dtype_name, _, _ = _validate_metadata(meta, fail)
                n_layers = len(sizes) - 1
                weight_keys = [k for k in arrays if k != "metadata"]
                if len(weight_keys) != n_layers:
                    expected_keys = [f"W{i}" for i in range(min(n_layers, 3))]
                    fail(
                        f"layer_sizes {_show(sizes, 80)} declares {n_layers} weight"
                        f" matrices ({', '.join(expected_keys)}{', ...' if n_layers > 3 else ''})"
                        f" but the file holds {len(weight_keys)} other array(s)"
                    )
                dtype = np.dtype(dtype_name)
                for i in range(n_layers):
                    key = f"W{i}"
                    if key not in arrays:
                        fail(f"weight array {key!r} is missing (found {sorted(weight_keys)[:5]})")
                    shape, arr_dtype = arrays[key]
                    expected = (sizes[i + 1], sizes[i] + 1)
                    if shape != expected:
                        fail(
                            f"{key} has shape {shape} but layer_sizes {sizes[i]} -> {sizes[i + 1]}"
                            f" needs {expected} (n_out, n_in + 1)"
                        )
                    if arr_dtype.kind != "f" or arr_dtype.newbyteorder("=") != dtype:
                        fail(f"{key} has dtype {arr_dtype} but the metadata says {dtype_name}")
                weights = []
                for i in range(n_layers):
                    key = f"W{i}"
                    W = np.ascontiguousarray(npz[key], dtype=dtype)
                    finite = np.isfinite(W)
                    if not finite.all():
                        r, c = np.argwhere(~finite)[0]
                        fail(f"{key}[{r}, {c}] is {W[r, c]}; a model's weights must be finite")
                    weights.append(W)
        except ModelFormatError:
            raise
        except _BAD_BYTES_ERRORS as exc:
            raise make_error(f"not a readable fastnn model file (.npz): {type(exc).__name__}: {exc}") from exc
    return weights, meta


def _model_bytes(net, *, metadata=None, classes=None):
    """:func:`fastnn.io.model_bytes`."""
    weights, output, activation, extra = _model_weights(net)
    if extra:
        metadata = {**extra, **(metadata or {})}
    dtype = getattr(net, "dtype", None)
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            dtype = None
    n_features_in = getattr(net, "n_features_in_", None)
    if n_features_in is not None and len(weights) and n_features_in != np.shape(weights[0])[-1] - 1:
        raise ValueError(
            f"net.n_features_in_ = {n_features_in} disagrees with the first weight matrix"
            f" of shape {np.shape(weights[0])}"
        )
    if classes is None:
        classes = getattr(net, "classes_", None)
    return _encode_model(weights, output=output, dtype=dtype, classes=classes, metadata=metadata,
                         activation=activation)


def _model_weights(net):
    """``(weights in the fastnn layout, output, hidden activations, extra metadata)`` of a fitted model."""
    try:
        return net.weights_, getattr(net, "_output", getattr(net, "output", None)), getattr(net, "_activations", None), None
    except AttributeError:
        pass
    try:
        coefs, intercepts = net.coefs_, net.intercepts_
    except AttributeError:
        raise ValueError(
            "cannot save a network that is not fitted: call fit() first, or build it with"
            " Network.from_weights()"
        ) from None
    weights = [np.column_stack([b, np.asarray(W).T]) for W, b in zip(coefs, intercepts)]
    out_activation = getattr(net, "out_activation_", None)
    if out_activation == "logistic":
        output = "multilabel" if getattr(net, "_multilabel", False) else "sigmoid"
    else:
        output = {"identity": "identity"}.get(out_activation, "softmax")
    activation = getattr(net, "activation", "logistic")
    activation = [activation] * (len(weights) - 1) if isinstance(activation, str) else list(activation)
    params = {}
    get_params = getattr(net, "get_params", None)
    for key, value in (get_params(deep=False) if get_params else {}).items():
        if value is None or isinstance(value, (bool, int, float, str)):
            params[key] = value
        elif isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
            params[key] = list(value)
    return weights, output, activation, {"saved_from": {"class": type(net).__name__, "params": params}}


def _encode_model(weights, *, output=None, dtype=None, classes=None, metadata=None, activation=None):
    """The bytes of a model file; parameters and errors as :func:`write_model`."""
    if isinstance(weights, np.ndarray) or not hasattr(weights, "__len__") or len(weights) == 0:
        raise ValueError("weights must be a non-empty list of 2-D arrays, one per layer")
    weights = [np.asarray(W) for W in weights]
    if dtype is None:
        dtype = weights[0].dtype
        mixed = sorted({str(W.dtype) for W in weights})
        if len(mixed) > 1:
            raise ValueError(f"the weights have mixed dtypes {mixed}; pass dtype= to choose one")
    dtype = np.dtype(dtype)
    if dtype.name not in _MODEL_DTYPES:
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    for i, W in enumerate(weights):
        if W.ndim != 2 or W.dtype.kind != "f":
            raise ValueError(f"weights[{i}] must be a 2-D float array, got {W.dtype} of shape {W.shape}")
        if W.shape[0] < 1 or W.shape[1] < 2:
            raise ValueError(f"weights[{i}] has shape {W.shape}; each layer needs shape (n_out >= 1, n_in + 1 >= 2)")
        if i and W.shape[1] != weights[i - 1].shape[0] + 1:
            raise ValueError(
                f"weights[{i}] has shape {W.shape} but the layer below has {weights[i - 1].shape[0]}"
                f" units, so it needs {weights[i - 1].shape[0] + 1} columns (bias first)"
            )
        if not np.isfinite(W).all():
            raise ValueError(f"weights[{i}] contains NaN or infinite values; refusing to save a broken model")
    weights = [np.ascontiguousarray(W, dtype=dtype) for W in weights]
    sizes = [weights[0].shape[1] - 1] + [W.shape[0] for W in weights]
    if output is None:
        output = "sigmoid" if sizes[-1] == 1 else "softmax"
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(map(repr, _OUTPUTS))}, got {output!r}")
    n_hidden = len(sizes) - 2
    if activation is None:
        activation = ["logistic"] * n_hidden
    elif isinstance(activation, str):
        activation = [activation] * n_hidden
    activation = list(activation)
    n_classes = _class_count(output, sizes[-1])
    if classes is None:
        classes = list(range(n_classes))
    elif isinstance(classes, np.ndarray):
        classes = classes.tolist()
    else:
        classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    extra = {} if metadata is None else metadata
    if not isinstance(extra, dict):
        raise ValueError(f"metadata must be a dict, got {type(extra).__name__}")
    for key in extra:
        if not isinstance(key, str):
            raise ValueError(f"metadata keys must be strings, got {key!r}")
    clash = [key for key in extra if key in _RESERVED_KEYS]
    if clash:
        raise ValueError(f"metadata keys {clash} are reserved for the file format; rename them")
    # version 1 where it says everything, so that older fastnn versions read the file
    version_1 = output in _VERSION_1_OUTPUTS and activation == ["logistic"] * n_hidden
    meta = {
        "format": MODEL_FORMAT,
        "format_version": 1 if version_1 else MODEL_FORMAT_VERSION,
        "fastnn_version": _fastnn_version(),
        "layer_sizes": sizes,
        "output": output,
        **({} if version_1 else {"activation": activation}),
        "dtype": dtype.name,
        "classes": classes,
        "n_features": sizes[0],
        **extra,
    }

    def fail(reason):
        raise ValueError(f"cannot save this model: {reason}")

    _validate_metadata(meta, fail)
    try:
        blob = json.dumps(meta, default=_json_default).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"metadata is not JSON-serialisable: {exc}") from exc
    if len(blob) > _MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {len(blob)} bytes as JSON, more than the {_MAX_METADATA_BYTES} allowed")
    arrays = {f"W{i}": W for i, W in enumerate(weights)}
    arrays["metadata"] = np.frombuffer(blob, dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
