"""ONNX export (fastnn.to_onnx, and skl2onnx on pipelines), run in onnxruntime against predict_proba."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import fastnn
from conftest import synthetic_data

pytest.importorskip("skl2onnx", reason="skl2onnx is not installed (pip install 'fastnn[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

TOLERANCE = {"float64": 1e-12, "float32": 1e-6}


def run(onx, X):
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [output.name for output in session.get_outputs()] == ["label", "probabilities"]
    return session.run(None, {"X": X})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [(), (6,), (5, 4)], ids=str)
@pytest.mark.parametrize("output, k", [("softmax", 4), ("softmax", 2), ("sigmoid", 2)])
def test_an_exported_network_predicts_as_the_network(dtype, hidden, output, k):
    X, y = synthetic_data(80, 7, k, seed=1)
    net = fastnn.Network(hidden=hidden, output=output, epochs=5, learning_rate=0.3, dtype=dtype,
                         random_state=0).fit(X, y)
    labels, proba = run(fastnn.to_onnx(net), X.astype(dtype))
    expected = net.predict_proba(X)
    assert proba.dtype == dtype and proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, rtol=0, atol=TOLERANCE[dtype])
    np.testing.assert_array_equal(labels, net.predict(X))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_exported_estimator_keeps_its_class_labels(dtype):
    X, y = synthetic_data(90, 5, 3, seed=2)
    names = np.array(["cat", "dog", "emu"])[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastnn.MLPClassifier(hidden_layer_sizes=(6,), max_iter=10, random_state=0, dtype=dtype).fit(X, names)
    labels, proba = run(fastnn.to_onnx(model), X.astype(dtype))
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=TOLERANCE[dtype])
    np.testing.assert_array_equal(labels, model.predict(X))


def test_a_float64_model_exports_in_float32():
    X, y = synthetic_data(60, 4, 3, seed=3)
    net = fastnn.Network(hidden=(5,), epochs=3, random_state=0).fit(X, y)
    _, proba = run(fastnn.to_onnx(net, dtype="float32"), X.astype(np.float32))
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, net.predict_proba(X), rtol=0, atol=TOLERANCE["float32"])


def test_a_pipeline_holding_the_estimator_converts_with_skl2onnx():
    import skl2onnx

    import fastnn.onnx  # noqa: F401 (registers the estimator with skl2onnx)
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = synthetic_data(90, 5, 3, seed=4)
    X = X * 10 + 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = Pipeline([("scale", StandardScaler()),
                         ("mlp", fastnn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0))]).fit(X, y)
    onx = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    labels, proba = run(onx, X)
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, pipe.predict(X))


def test_export_writes_the_file_and_refuses_what_it_cannot_export(tmp_path):
    import onnx

    X, y = synthetic_data(40, 3, 2, seed=5)
    net = fastnn.Network(hidden=(3,), epochs=2, random_state=0).fit(X, y)
    path = tmp_path / "model.onnx"
    fastnn.to_onnx(net, path)
    onnx.checker.check_model(onnx.load(path))
    np.testing.assert_allclose(run(onnx.load(path), X)[1], net.predict_proba(X), rtol=0, atol=1e-12)
    with pytest.raises(NotFittedError):
        fastnn.to_onnx(fastnn.Network(), tmp_path / "unfitted.onnx")
    with pytest.raises(NotFittedError):
        fastnn.to_onnx(fastnn.MLPClassifier(), tmp_path / "unfitted.onnx")
    with pytest.raises(NotFittedError):
        fastnn.to_onnx(fastnn.MLPRegressor(), tmp_path / "unfitted.onnx")
    with pytest.raises(TypeError, match="fastnn.Network, fastnn.MLPClassifier or fastnn.MLPRegressor"):
        fastnn.to_onnx(object(), tmp_path / "other.onnx")
    with pytest.raises(ValueError, match="dtype"):
        fastnn.to_onnx(net, tmp_path / "bad.onnx", dtype="float16")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def run_regressor(onx, X):
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [output.name for output in session.get_outputs()] == ["variable"]
    return session.run(None, {"X": X})[0]


ACTIVATIONS = ["logistic", "tanh", "relu", "identity", "leaky_relu", ["relu", "tanh"]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
@pytest.mark.parametrize("output", ["softmax", "sigmoid", "multilabel", "identity"])
def test_every_activation_and_output_exports(dtype, activation, output):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 5))
    y = {"softmax": rng.integers(0, 3, 60), "sigmoid": rng.integers(0, 2, 60),
         "multilabel": (rng.random((60, 3)) < 0.5).astype(int), "identity": rng.normal(size=(60, 2))}[output]
    net = fastnn.Network(hidden=(6, 4), activation=activation, output=output, epochs=3, learning_rate=0.1,
                         dtype=dtype, random_state=0).fit(X, y)
    onx = fastnn.to_onnx(net)
    if output == "identity":
        values = run_regressor(onx, X.astype(dtype))
        np.testing.assert_allclose(values, net.predict(X), rtol=0, atol=TOLERANCE[dtype])
        return
    labels, proba = run(onx, X.astype(dtype))
    np.testing.assert_allclose(proba, net.predict_proba(X), rtol=0, atol=TOLERANCE[dtype])
    np.testing.assert_array_equal(labels, net.predict(X))


@pytest.mark.parametrize("n_targets", [1, 3])
def test_a_regressor_and_its_pipeline_export(n_targets):
    import skl2onnx
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import fastnn.onnx  # noqa: F401 (registers the estimators)

    rng = np.random.default_rng(8)
    X = rng.normal(size=(80, 4)) * 3 + 1
    y = np.tanh(X @ rng.normal(size=(4, n_targets)))
    y = y[:, 0] if n_targets == 1 else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), fastnn.MLPRegressor(hidden_layer_sizes=(8,), activation="leaky_relu",
                                                                   max_iter=5, random_state=0)).fit(X, y)
    onx = skl2onnx.to_onnx(pipe, X[:1])
    values = run_regressor(onx, X)
    np.testing.assert_allclose(values, pipe.predict(X).reshape(len(X), -1), rtol=0, atol=1e-12)
    model = pipe[-1]
    direct = run_regressor(fastnn.to_onnx(model), pipe[0].transform(X))
    assert direct.shape == (80, n_targets)


def test_a_multilabel_estimator_exports_its_label_sets():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(70, 4))
    Y = (X[:, :3] + 0.3 * rng.normal(size=(70, 3)) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastnn.MLPClassifier(hidden_layer_sizes=(6,), activation="tanh", max_iter=5,
                                     random_state=0).fit(X, Y)
    labels, proba = run(fastnn.to_onnx(model), X)
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, model.predict(X))
