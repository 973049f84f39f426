"""Property-based fuzzing of fastnn's entry points (hypothesis).

* ``Network.fit`` / ``predict_proba`` on arbitrary small arrays and hyperparameters either raise
  ``ValueError`` / ``TypeError`` or succeed with finite weights and probabilities in [0, 1] whose
  rows sum to 1.
* ``fastnn.io.read_csv`` and ``read_npz`` on arbitrary bytes raise only ``DataFormatError``, and
  what they accept agrees with Python's own number parsing.
* ``fastnn.io.load`` on arbitrary bytes, on damaged copies of valid model files and on
  well-formed archives with arbitrary metadata raises only ``ModelFormatError``; what it accepts
  predicts finite probabilities.

Each property runs a short, reproducible search by default (``max_examples=50``, derandomized,
the "fastnn-fuzz" profile). Set ``FASTNN_FUZZ_EXAMPLES=<n>`` for a longer, randomized search;
``tools/fuzz.sh`` does that for every property here.
"""

import io
import json
import math
import os
import warnings
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import _csv as fcsv
from fastnn import io as fio

_EXAMPLES_ENV = "FASTNN_FUZZ_EXAMPLES"


def _fuzz_examples():
    text = os.environ.get(_EXAMPLES_ENV)
    if text is None:
        return 50
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{_EXAMPLES_ENV} must be a positive integer (examples per property), got {text!r}")
    return value


settings.register_profile(
    "fastnn-fuzz",
    max_examples=_fuzz_examples(),
    deadline=None,
    # the default run is the same every time (a CI gate); a long run explores new inputs
    derandomize=_EXAMPLES_ENV not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
FUZZ = settings.get_profile("fastnn-fuzz")


def assert_probabilities(proba, n_rows, n_classes, dtype):
    """Finite, in [0, 1], rows summing to 1 within the dtype's precision."""
    assert proba.shape == (n_rows, n_classes)
    assert np.isfinite(proba).all(), proba
    assert ((proba >= 0) & (proba <= 1)).all(), proba
    tolerance = 1e-12 if np.dtype(dtype) == np.float64 else 1e-5
    np.testing.assert_allclose(proba.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=tolerance)


# ---------------------------------------------------------------------------------- Network.fit

SPECIAL_VALUES = [0.0, -0.0, 1.0, -1.0, 0.5, 5e-324, -5e-324, 2.2e-308, 1e-300, 1e150, -1e150, 3.4e38,
                  3.5e38, 1e300, 1.7e308, -1.7e308, math.nan, math.inf, -math.inf]
matrix_values = st.one_of(
    st.floats(-10, 10, allow_nan=False),
    st.sampled_from(SPECIAL_VALUES),
    st.floats(allow_nan=True, allow_infinity=True),
)


@st.composite
def feature_matrices(draw, n_rows, n_features):
    """X in one of the forms fit accepts (or should refuse cleanly)."""
    values = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=matrix_values))
    form = draw(st.sampled_from(["float64", "float32", "int", "bool", "list", "csr", "csc", "fortran",
                                 "object", "strings"]))
    if form == "float32":
        with np.errstate(over="ignore", invalid="ignore"):
            return values.astype(np.float32)
    if form == "int":
        return np.nan_to_num(values, posinf=9, neginf=-9).clip(-9, 9).astype(np.int64)
    if form == "bool":
        return values > 0
    if form == "list":
        return values.tolist()
    if form in ("csr", "csc"):
        return sp.csr_matrix(values) if form == "csr" else sp.csc_matrix(values)
    if form == "fortran":
        return np.asfortranarray(values)
    if form == "object":
        return values.astype(object)
    return values.astype(str)


labels = st.one_of(
    st.integers(0, 3),
    st.integers(-2, 6),
    st.sampled_from([0.0, 1.0, 0.5, math.nan, 2**31, True]),
)

hyperparameters = st.fixed_dictionaries({
    "hidden": st.one_of(st.lists(st.integers(1, 6), max_size=2).map(tuple),
                        st.sampled_from([(0,), (-1,), (2.5,), "3", None, [3]])),
    "output": st.sampled_from(["softmax", "softmax", "sigmoid", "tanh", None]),
    "init": st.sampled_from(["uniform", "zeros", "glorot", "random", None]),
    "learning_rate": st.one_of(st.sampled_from([1e-3, 0.1, 1.0, 30.0, 1e6]),
                               st.floats(allow_nan=True, allow_infinity=True), st.integers(-1, 2), st.none()),
    "epochs": st.one_of(st.integers(-1, 3), st.sampled_from([1.5, True, "2", None])),
    "l2": st.one_of(st.sampled_from([0.0, 0.01, 1.0]), st.floats(allow_nan=True, allow_infinity=True)),
    "shuffle": st.booleans(),
    "dtype": st.sampled_from(["float64", "float32", np.float32, "float16", "int64", None]),
    "random_state": st.one_of(st.integers(-1, 2**32), st.none(), st.just(1.5)),
    "batch_size": st.one_of(st.integers(1, 4), st.integers(-1, 12), st.just(2.0)),
    "n_jobs": st.one_of(st.just(1), st.integers(0, 3)),
})


@st.composite
def training_problems(draw):
    n_rows = draw(st.integers(1, 7))
    n_features = draw(st.integers(1, 4))
    shape_kind = draw(st.sampled_from(["2d"] * 8 + ["1d", "3d", "no rows", "no features", "rows mismatch"]))
    if shape_kind == "2d" or shape_kind == "rows mismatch":
        X = draw(feature_matrices(n_rows, n_features))
    elif shape_kind == "1d":
        X = np.zeros(n_rows)
    elif shape_kind == "3d":
        X = np.zeros((n_rows, n_features, 2))
    elif shape_kind == "no rows":
        X = np.zeros((0, n_features))
    else:
        X = np.zeros((n_rows, 0))
    n_labels = n_rows + (1 if shape_kind == "rows mismatch" else 0)
    y = draw(st.lists(labels, min_size=n_labels, max_size=n_labels))
    y_form = draw(st.sampled_from(["list", "array", "column"]))
    if y_form != "list":
        y = np.array(y)
        if y_form == "column":
            y = y.reshape(-1, 1)
    params = draw(hyperparameters)
    return X, y, params


@FUZZ
@given(problem=training_problems(), X_new=hnp.arrays(np.float64, (3, 1), elements=st.floats(-1e3, 1e3)))
def test_fit_and_predict_never_crash_or_return_garbage(problem, X_new):
    X, y, params = problem
    net = fastnn.Network(**params)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. sklearn's DataConversionWarning
            net.fit(X, y)
    except (ValueError, TypeError):
        return
    dtype = np.dtype(net.weights_[0].dtype)
    assert all(np.isfinite(W).all() for W in net.weights_)
    assert net.n_epochs_ == params["epochs"] and len(net.history_["train_loss"]) == net.n_epochs_
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    proba = net.predict_proba(X)
    assert_probabilities(proba, n_rows, net.n_classes_, dtype)
    predicted = net.predict(X)
    assert predicted.shape == (n_rows,) and ((predicted >= 0) & (predicted < net.n_classes_)).all()
    wide = np.repeat(X_new, net.n_features_in_, axis=1)
    assert_probabilities(net.predict_proba(wide), 3, net.n_classes_, dtype)


@FUZZ
@given(
    logits_scale=st.sampled_from([1.0, 36.0, 88.8, 709.8, 1e4, 1e30, 1e300]),
    weights=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 5)),
                       elements=st.floats(-1, 1)),
    hidden=st.booleans(),
    output=st.sampled_from(["softmax", "sigmoid"]),
    dtype=st.sampled_from(["float64", "float32"]),
    X=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.just(1)), elements=st.floats(-1, 1)),
)
def test_finite_weights_predict_finite_probabilities(logits_scale, weights, hidden, output, dtype, X):
    """A model with finite weights, however large, predicts finite probabilities for finite input."""
    n_out = 1 if output == "sigmoid" else max(2, weights.shape[0])
    rng = np.random.default_rng(weights.shape)
    if dtype == "float32":
        logits_scale = min(logits_scale, 1e30)
    if hidden:
        layers = [rng.uniform(-1, 1, (weights.shape[0], 2)) * logits_scale,
                  rng.uniform(-1, 1, (n_out, weights.shape[0] + 1)) * logits_scale]
    else:
        layers = [rng.uniform(-1, 1, (n_out, 2)) * logits_scale]
    net = fastnn.Network.from_weights(layers, output=output, dtype=dtype)
    assert_probabilities(net.predict_proba(X), X.shape[0], net.n_classes_, dtype)
    y = np.zeros(X.shape[0], dtype=np.int64)
    assert math.isfinite(net.loss(X, y))


# ---------------------------------------------------------------------------------- read_csv

_CSV_TOKENS = ["0", "1", "2", "-1", "0.5", ".5", "5.", "1e3", "1E-3", "-0", "+1", "1e400", "-1e400", "nan",
               "inf", "-inf", "NaN", "1_0", "0x1", "١", "1.5e", "e5", "--1", "", " ", "\t", "1 2", "\ufeff1", "x"]


@st.composite
def csv_like_bytes(draw):
    """Mostly well-formed rows, with damage: odd tokens, line ends, encodings, truncation."""
    n_rows = draw(st.integers(0, 6))
    n_fields = draw(st.integers(1, 5))
    token = st.one_of(st.sampled_from(_CSV_TOKENS), st.integers(-3, 12).map(str),
                      st.floats(allow_nan=False, allow_infinity=False).map(repr))
    rows = []
    for _ in range(n_rows):
        width = n_fields if draw(st.integers(0, 9)) else draw(st.integers(1, 6))
        rows.append(",".join(draw(st.lists(token, min_size=width, max_size=width))))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
    text = newline.join(rows) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n \n", " "]))
    if draw(st.booleans()):
        text = "\ufeff" + text
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1"])), errors="replace")
    if data and draw(st.integers(0, 4)) == 0:
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=4)) + data[cut:]
    return data


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _check_csv_result(data, X, y, n_features, n_classes):
    assert isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2 and X.flags.c_contiguous
    assert isinstance(y, np.ndarray) and y.dtype == np.int64 and y.shape == (X.shape[0],)
    assert X.shape[0] >= 1 and X.shape[1] >= 1 and np.isfinite(X).all() and (y >= 0).all()
    if n_features is not None:
        assert X.shape[1] == n_features
    if n_classes is not None:
        assert (y < n_classes).all()
    # what was accepted reads the same with Python's own parser
    text = data.decode("utf-8").lstrip("\ufeff").replace("\r\n", "\n").rstrip(" \t\f\v\r\n")
    lines = text.split("\n")
    assert len(lines) == X.shape[0]
    for line, row, label in zip(lines, X, y):
        fields = [float(field) for field in line.split(",")]
        assert fields[0] == label and fields[1:] == row.tolist()


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), csv_like_bytes()),
       n_features=st.one_of(st.none(), st.integers(1, 5)), n_classes=st.one_of(st.none(), st.integers(1, 12)))
def test_read_csv_raises_only_data_format_errors(scratch, data, n_features, n_classes):
    path = scratch / "fuzz.csv"
    path.write_bytes(data)
    try:
        X, y = fio.read_csv(path, n_features=n_features, n_classes=n_classes)
    except fio.DataFormatError as error:
        assert str(error).startswith(str(path)), error
        return
    _check_csv_result(data, X, y, n_features, n_classes)


# ---------------------------------------------------------------------------------- npz data / models


def _npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _valid_models():
    rng = np.random.default_rng(0)
    models = []
    for output, dtype, sizes in (("softmax", "float64", [3, 4, 3]), ("sigmoid", "float32", [2, 1]),
                                 ("softmax", "float32", [2, 3, 2, 2]), ("identity", "float64", [3, 4, 2])):
        weights = [rng.normal(size=(b, a + 1)).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        # the bytes write_model writes, built in memory: version 1 for logistic classifiers,
        # version 2 (with the activations) for the others
        version_1 = output in ("softmax", "sigmoid")
        n_classes = 2 if output == "sigmoid" else 0 if output == "identity" else sizes[-1]
        meta = {"format": fio.MODEL_FORMAT, "format_version": 1 if version_1 else 2, "fastnn_version": "0",
                "layer_sizes": sizes, "output": output, "dtype": dtype,
                "classes": list(range(n_classes)), "n_features": sizes[0],
                **({} if version_1 else {"activation": ["tanh"] * (len(sizes) - 2)})}
        arrays = {f"W{i}": W for i, W in enumerate(weights)}
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        models.append(_npz_bytes(**arrays))
    return models


VALID_MODELS = _valid_models()


@st.composite
def damaged_copies(draw, originals):
    """A valid file with a few byte-level edits: flips, overwrites, insertions, cuts, repeats."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "repeat"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "set" and data:
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(chunk)] = chunk
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[at:]
        elif op == "repeat":
            end = min(len(data), at + draw(st.integers(1, 64)))
            data[at:at] = data[at:end]
    return bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@st.composite
def archives_with_odd_metadata(draw):
    """Well-formed npz archives whose metadata and arrays are plausible but arbitrary."""
    n_layers = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 4), min_size=n_layers + 1, max_size=n_layers + 1))
    output = draw(st.sampled_from(["softmax", "sigmoid", "relu", 1, None]))
    dtype = draw(st.sampled_from(["float64", "float32", "float16", "int32"]))
    meta = {"format": fio.MODEL_FORMAT, "format_version": 1, "fastnn_version": "0.1.0", "layer_sizes": sizes,
            "output": output, "dtype": dtype, "classes": list(range(sizes[-1] if output != "sigmoid" else 2)),
            "n_features": sizes[0]}
    for _ in range(draw(st.integers(0, 3))):  # change, drop or add keys
        key = draw(st.sampled_from([*meta, "extra"]))
        if draw(st.booleans()):
            meta[key] = draw(json_values)
        else:
            meta.pop(key, None)
    blob = json.dumps(meta).encode() if draw(st.integers(0, 9)) else draw(st.binary(max_size=30))
    arrays = {"metadata": np.frombuffer(blob, dtype=np.uint8)}
    for i in range(draw(st.integers(0, n_layers + 1))):
        shape = (sizes[min(i + 1, n_layers)], sizes[min(i, n_layers)] + 1)
        if draw(st.integers(0, 4)) == 0:
            shape = draw(st.tuples(st.integers(0, 4), st.integers(0, 4)))
        array_dtype = draw(st.sampled_from(["float64", "float32", ">f8", "int64", "complex128"]))
        values = draw(hnp.arrays(np.float64, shape, elements=st.floats(allow_nan=True, allow_infinity=True,
                                                                       width=32)))
        with np.errstate(all="ignore"):
            arrays[draw(st.sampled_from([f"W{i}", f"W{i}", "W9", "x"]))] = values.astype(array_dtype)
    return _npz_bytes(**arrays)


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), damaged_copies(VALID_MODELS), archives_with_odd_metadata()))
def test_load_raises_only_model_format_errors(scratch, data):
    path = scratch / "fuzz_model.npz"
    path.write_bytes(data)
    try:
        net = fio.load(path)
    except fio.ModelFormatError as error:
        assert str(error).startswith(str(path)), error
        return
    assert isinstance(net, fastnn.Network)
    assert all(np.isfinite(W).all() for W in net.weights_)
    X = np.zeros((2, net.n_features_in_))
    output = net.metadata_["output"]
    if output == "identity":  # a regression model predicts values
        values = net.predict(X)
        assert values.shape[0] == 2 and np.isfinite(values).all()
    elif output == "multilabel":  # one probability per label, each in [0, 1]
        proba = net.predict_proba(X)
        assert proba.shape == (2, net.n_outputs_) and ((proba >= 0) & (proba <= 1)).all()
    else:
        assert_probabilities(net.predict_proba(X), 2, net.n_classes_, net.weights_[0].dtype)


VALID_DATA = [_npz_bytes(X=np.arange(6.0).reshape(3, 2), y=np.array([0, 1, 2])),
              _npz_bytes(X=np.eye(2, dtype=np.float32), y=np.array([1, 0], dtype=np.int8))]


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), damaged_copies(VALID_DATA)))
def test_read_npz_raises_only_data_format_errors(scratch, data):
    path = scratch / "fuzz_data.npz"
    path.write_bytes(data)
    try:
        X, y = fio.read_npz(path)
    except fio.DataFormatError as error:
        assert str(error).startswith(str(path)), error
        return
    assert X.dtype == np.float64 and X.ndim == 2 and np.isfinite(X).all()
    assert y.dtype == np.int64 and y.shape == (X.shape[0],) and (y >= 0).all()


def test_the_valid_files_the_mutations_start_from_are_valid(scratch):
    """Guard: the damaged copies start from files that load."""
    for k, data in enumerate(VALID_MODELS):
        path = scratch / f"valid_{k}.npz"
        path.write_bytes(data)
        assert isinstance(fio.load(path), fastnn.Network)
    for k, data in enumerate(VALID_DATA):
        path = scratch / f"valid_data_{k}.npz"
        path.write_bytes(data)
        fio.read_npz(path)
    with zipfile.ZipFile(io.BytesIO(VALID_MODELS[0])) as archive:
        assert sorted(archive.namelist()) == ["W0.npy", "W1.npy", "metadata.npy"]


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), csv_like_bytes()),
       labels=st.sampled_from(["int", "str", "auto", "float", None]), header=st.booleans(),
       piece=st.sampled_from([None, 1, 7, 64]))
def test_every_csv_mode_raises_only_data_format_errors(scratch, data, labels, header, piece):
    """Every label mode, with and without a header, read in one piece or in tiny pieces
    (so that piece ends fall everywhere): a DataFormatError, or values Python reads alike."""
    path = scratch / "modes.csv"
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        if piece is not None:
            patch.setattr(fcsv, "_PARSE_CHUNK", piece)
        try:
            result = fio.read_csv(path, labels=labels, header=header)
        except fio.DataFormatError as error:
            assert str(error).startswith(str(path)), error
            return
    X, y = (result, None) if labels is None else result
    assert X.dtype == np.float64 and X.ndim == 2 and X.flags.c_contiguous and np.isfinite(X).all()
    text = data.decode("utf-8").lstrip("\ufeff").replace("\r\n", "\n").rstrip(" \t\f\v\r\n")
    lines = text.split("\n")[1 if header else 0:]
    assert len(lines) == X.shape[0]
    for i, (line, row) in enumerate(zip(lines, X)):
        fields = line.split(",")
        if labels is not None:
            label, fields = fields[0], fields[1:]
            if y.dtype.kind == "U":
                assert y[i] == label.strip(" \t\f\v")
            else:
                assert float(label) == y[i]
        assert [float(field) for field in fields] == row.tolist()
