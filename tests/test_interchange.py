"""Weights to and from PyTorch's state_dict and Spark ML's weight vector, checked against the real
libraries where they are installed (torch: the bench extra; pyspark with a Java runtime)."""

import shutil

import numpy as np
import pytest

import fastnn
from conftest import synthetic_data
from fastnn import spark


def fitted(output="softmax", hidden=(6, 4), dtype="float64", k=3):
    X, y = synthetic_data(90, 5, 2 if output == "sigmoid" else k, seed=7)
    net = fastnn.Network(hidden=hidden, output=output, epochs=4, learning_rate=0.3, random_state=0, dtype=dtype)
    return net.fit(X, y), X


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_state_dict_round_trip_keeps_every_weight(output):
    net, X = fitted(output)
    state = net.to_state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert state["0.weight"].shape == (6, 5) and state["4.bias"].shape == (net.weights_[-1].shape[0],)
    back = fastnn.Network.from_state_dict(state, output=output)
    for W_back, W in zip(back.weights_, net.weights_):
        np.testing.assert_array_equal(W_back, W)
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))


@pytest.mark.parametrize("state, message", [
    ({}, "empty"),
    ({"0.weight": np.zeros((2, 3))}, "needs weight and bias"),
    ({"fc.weight": np.zeros((2, 3)), "fc.bias": np.zeros(2)}, "is not '<index>.weight'"),
    ({"0.weight": np.zeros((2, 3)), "0.bias": np.zeros(3)}, "are not a Linear layer's"),
    ({"0.weight": np.zeros((2, 3)), "0.bias": np.zeros(2), "2.weight": np.zeros((3, 4)), "2.bias": np.zeros(3)},
     "columns must be 1"),
    ({"0.weight": np.full((2, 3), np.nan), "0.bias": np.zeros(2)}, "NaN"),
])
def test_a_bad_state_dict_is_refused_with_the_reason(state, message):
    with pytest.raises(ValueError, match=message):
        fastnn.Network.from_state_dict(state)


def test_pytorch_sequential_predicts_as_the_network_and_back():
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'fastnn[bench]')")
    net, X = fitted("softmax")
    model = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 4), torch.nn.Sigmoid(),
                                torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1)).double()
    model.load_state_dict({key: torch.from_numpy(value) for key, value in net.to_state_dict().items()})
    with torch.no_grad():
        proba = model(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(proba, net.predict_proba(X), rtol=0, atol=1e-14)
    torch.manual_seed(0)
    other = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Sigmoid(), torch.nn.Linear(7, 1)).double()
    back = fastnn.Network.from_state_dict(other.state_dict(), output="sigmoid")
    with torch.no_grad():
        p = torch.sigmoid(other(torch.from_numpy(X))).numpy()[:, 0]
    np.testing.assert_allclose(back.predict_proba(X)[:, 1], p, rtol=0, atol=1e-14)


def test_spark_weight_vector_round_trip():
    net, X = fitted("softmax")
    layers, weights = spark.to_spark_weights(net)
    assert layers == [5, 6, 4, 3] and weights.shape == ((5 + 1) * 6 + (6 + 1) * 4 + (4 + 1) * 3,)
    back = spark.from_spark_weights(layers, weights)
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    with pytest.raises(ValueError, match="has 79 entries, this one 78"):
        spark.from_spark_weights(layers, weights[:-1])
    with pytest.raises(ValueError, match="softmax output"):
        spark.to_spark_weights(fitted("sigmoid")[0])


@pytest.fixture(scope="module")
def spark_session():
    pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed")
    if shutil.which("java") is None:
        pytest.skip("pyspark needs a Java runtime (Debian: default-jre-headless)")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("fastnn-interchange")
               .config("spark.ui.enabled", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session, pyspark
    session.stop()


def test_spark_reproduces_fastnn_and_fastnn_reproduces_spark(spark_session):
    session, pyspark = spark_session
    from pyspark.ml.classification import MultilayerPerceptronClassifier
    from pyspark.ml.linalg import Vectors

    net, X = fitted("softmax")
    y = net.predict(X)
    frame = session.createDataFrame([(Vectors.dense(row), float(label)) for row, label in zip(X, y)],
                                    ["features", "label"])
    layers, weights = spark.to_spark_weights(net)
    started = MultilayerPerceptronClassifier(layers=layers, initialWeights=Vectors.dense(weights), maxIter=0,
                                             seed=0).fit(frame)
    proba = np.array([row.probability.toArray() for row in started.transform(frame).select("probability").collect()])
    np.testing.assert_allclose(proba, net.predict_proba(X), rtol=0, atol=1e-12)
    trained = MultilayerPerceptronClassifier(layers=[5, 8, 3], maxIter=20, seed=1).fit(frame)
    proba = np.array([row.probability.toArray() for row in trained.transform(frame).select("probability").collect()])
    np.testing.assert_allclose(spark.from_spark_model(trained).predict_proba(X), proba, rtol=0, atol=1e-12)
