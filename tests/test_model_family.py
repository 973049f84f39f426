"""The model family on the engine: hidden activations, multilabel and regression outputs.

Every path of the engine (float64/float32, dense/CSR, per-sample/mini-batch, L2, warm start) is
checked for every hidden activation and every output against the NumPy oracle
(``tests/oracle.py``); the oracle's own gradients against finite differences; the engine's
gradient against finite differences through ``fastnn.gradcheck``; and bad input for the new
choices.
"""

import pickle

import numpy as np
import pytest

import fastnn
import oracle

ACTIVATIONS = oracle.ACTIVATIONS
OUTPUTS = oracle.OUTPUTS
RTOL = {np.float64: 1e-11, np.float32: 2e-4}


def sizes_for(output, m, hidden, k):
    return [m, *hidden, 1 if output == "sigmoid" else k]


def random_weights(rng, sizes, scale=0.6):
    return [rng.normal(scale=scale, size=(sizes[l + 1], sizes[l] + 1)) for l in range(len(sizes) - 1)]


def make_problem(output, n=23, m=5, k=3, seed=0, sparse_rows=False):
    """Rows with about 40% zeros (a CSR copy keeps only the non-zeros) and y for ``output``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m))
    X[rng.random(size=X.shape) < 0.4] = 0.0
    if sparse_rows:
        X[3] = 0.0  # a row without any stored entry
    if output == "softmax":
        y = np.arange(n) % k
    elif output == "sigmoid":
        y = np.arange(n) % 2
    elif output == "multilabel":
        y = (rng.random(size=(n, k)) < 0.5).astype(np.int64)
    else:
        y = rng.normal(size=(n, k))
    return X, y


def oracle_fit(weights, X, y, output, activation, lr, epochs, l2, batch_size, dtype):
    if batch_size == 1:
        return oracle.sgd_train(weights, X, y, output, lr, epochs, l2=l2, dtype=dtype, activation=activation)
    return oracle.minibatch_sgd_train(weights, X, y, output, lr, epochs, batch_size, l2=l2, dtype=dtype,
                                      activation=activation)


def assert_close(actual, expected, dtype):
    rtol = RTOL[dtype]
    for W_a, W_e in zip(actual, expected):
        np.testing.assert_allclose(W_a, W_e, rtol=rtol, atol=rtol * max(1.0, np.abs(W_e).max()))


# ---------------------------------------------------------------------------
# the oracle's own gradients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_oracle_gradient_matches_finite_differences(activation, output):
    rng = np.random.default_rng(ACTIVATIONS.index(activation) * 10 + OUTPUTS.index(output))
    sizes = sizes_for(output, 3, (4, 3), 3)
    y = {"softmax": 2, "sigmoid": 1, "multilabel": np.array([1.0, 0.0, 1.0]),
         "identity": rng.normal(size=3)}[output]
    for _ in range(20):  # a draw whose every layer has a gradient (relu units may all be off)
        weights = random_weights(rng, sizes, scale=0.8)
        x = rng.normal(size=3)
        grads = oracle.backward(weights, x, y, output, activation=activation)
        if min(np.abs(g).max() for g in grads) > 1e-3:
            break
    eps = 1e-5
    for l, W in enumerate(weights):
        numeric = np.zeros_like(W)
        for index in np.ndindex(W.shape):
            plus = [w.copy() for w in weights]
            minus = [w.copy() for w in weights]
            plus[l][index] += eps
            minus[l][index] -= eps
            numeric[index] = (float(oracle.forward(plus, x, output, y, activation=activation)["J"])
                              - float(oracle.forward(minus, x, output, y, activation=activation)["J"])) / (2 * eps)
        assert np.abs(grads[l]).max() > 1e-4, f"layer {l}: the gradient is (nearly) zero"
        relative = np.linalg.norm(grads[l] - numeric) / max(np.linalg.norm(grads[l]), np.linalg.norm(numeric))
        assert relative < 1e-6, f"layer {l}: relative error {relative:.2e}"


def test_oracle_losses_by_hand():
    b = np.array([0.5, -1.0])
    # identity: 1/2 |b - t|^2
    W = [np.array([[0.5, 0.0], [-1.0, 0.0]])]  # b = bias, whatever x
    assert float(oracle.forward(W, np.array([3.0]), "identity", np.array([1.0, 1.0]))["J"]) == pytest.approx(
        0.5 * (0.25 + 4.0))
    # multilabel: sum of the units' binary cross-entropies
    expected = -np.log(1 / (1 + np.exp(-b[0]))) - np.log(1 - 1 / (1 + np.exp(-b[1])))
    assert float(oracle.forward(W, np.array([3.0]), "multilabel", np.array([1.0, 0.0]))["J"]) == pytest.approx(
        expected, rel=1e-14)


# ---------------------------------------------------------------------------
# the engine against the oracle, every path
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_training_matches_the_oracle(activation, output, dtype, sparse, batch_size):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = make_problem(output, seed=ACTIVATIONS.index(activation), sparse_rows=sparse)
    sizes = sizes_for(output, X.shape[1], (6, 4), 3)
    weights = [W.astype(dtype).astype(np.float64)
               for W in random_weights(np.random.default_rng(1), sizes)]
    lr, epochs, l2 = (0.05, 2, 0.01)
    net = fastnn.Network(hidden=(6, 4), activation=activation, output=output, init=weights, learning_rate=lr,
                         epochs=epochs, l2=l2, batch_size=batch_size, dtype=np.dtype(dtype).name)
    net.fit(scipy_sparse.csr_matrix(X) if sparse else X, y)
    expected, history = oracle_fit(weights, X.astype(dtype), y, output, activation, lr, epochs, l2, batch_size,
                                   dtype)
    assert_close(net.weights_, expected, dtype)
    np.testing.assert_allclose(net.history_["train_loss"], history["train_loss"], rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("output", OUTPUTS)
def test_one_activation_per_hidden_layer(output):
    X, y = make_problem(output, seed=5)
    activation = ["tanh", "relu", "leaky_relu"]
    sizes = sizes_for(output, X.shape[1], (6, 5, 4), 3)
    weights = random_weights(np.random.default_rng(2), sizes)
    net = fastnn.Network(hidden=(6, 5, 4), activation=activation, output=output, init=weights,
                         learning_rate=0.05, epochs=3).fit(X, y)
    expected, _ = oracle.sgd_train(weights, X, y, output, 0.05, 3, activation=activation)
    assert_close(net.weights_, expected, np.float64)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_predictions_and_loss_match_the_oracle(activation, output):
    X, y = make_problem(output, n=40, seed=3)
    sizes = sizes_for(output, X.shape[1], (9,), 3)
    weights = random_weights(np.random.default_rng(4), sizes)
    net = fastnn.Network.from_weights(weights, output=output, activation=activation)
    values = oracle.outputs(weights, X, output, activation=activation)
    if output == "identity":
        np.testing.assert_allclose(net.predict(X), values, rtol=1e-12, atol=1e-14)
        with pytest.raises(AttributeError, match="predict"):
            net.predict_proba(X)
    elif output == "multilabel":
        np.testing.assert_allclose(net.predict_proba(X), values, rtol=1e-12)
        np.testing.assert_array_equal(net.predict(X), (values > 0.5).astype(np.int64))
    else:
        np.testing.assert_allclose(net.predict_proba(X), oracle.predict_proba(weights, X, output,
                                                                              activation=activation), rtol=1e-12)
    assert net.loss(X, y) == pytest.approx(oracle.mean_loss(weights, X, y, output, activation=activation),
                                           rel=1e-12)
    # the GEMM path (many rows) gives the same as the per-sample kernels
    X_many = np.repeat(X, 40, axis=0)
    if output == "identity":
        np.testing.assert_allclose(net.predict(X_many)[::40], values, rtol=1e-12, atol=1e-14)
    else:
        np.testing.assert_allclose(net.predict_proba(X_many)[::40], net.predict_proba(X), rtol=1e-12, atol=1e-15)


def test_regression_with_one_target_predicts_a_vector():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    net = fastnn.Network(hidden=(), output="identity", learning_rate=0.02, epochs=30, random_state=0).fit(X, y)
    prediction = net.predict(X)
    assert prediction.shape == (200,)
    np.testing.assert_allclose(net.weights_[0], [[0.3, 1.0, -2.0, 0.5]], atol=1e-6)
    assert net.n_outputs_ == 1 and not hasattr(net, "n_classes_")


@pytest.mark.parametrize("output", ["multilabel", "identity"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_warm_start_continues_like_one_longer_fit(activation, output):
    X, y = make_problem(output, seed=7)
    sizes = sizes_for(output, X.shape[1], (8,), 3)
    weights = random_weights(np.random.default_rng(8), sizes)
    first = fastnn.Network(hidden=(8,), activation=activation, output=output, init=weights, learning_rate=0.05,
                           epochs=2).fit(X, y)
    second = fastnn.Network(hidden=(8,), activation=activation, output=output, init=first.weights_,
                            learning_rate=0.05, epochs=3).fit(X, y)
    expected, _ = oracle.sgd_train(weights, X, y, output, 0.05, 5, activation=activation)
    assert_close(second.weights_, expected, np.float64)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_engine_gradient_matches_finite_differences(activation, output):
    X, y = make_problem(output, n=5, seed=9)
    sizes = sizes_for(output, X.shape[1], (6, 4), 3)
    net = fastnn.Network.from_weights(random_weights(np.random.default_rng(10), sizes), output=output,
                                      activation=activation)
    x = X[1] + 0.1  # no zero inputs: a relu kink is unlikely to sit within eps
    errors = fastnn.gradcheck(net, x, y[1])
    assert max(errors) < 1e-6, errors
    for float32_net in (fastnn.Network.from_weights(net.weights_, output=output, activation=activation,
                                                    dtype="float32"),):
        assert max(fastnn.gradcheck(float32_net, x, y[1])) < 1e-4


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_hogwild_threads_train(activation, output):
    X, y = make_problem(output, n=400, seed=11)
    common = dict(hidden=(16,), activation=activation, output=output, learning_rate=0.02, epochs=5,
                  random_state=0, init="glorot")
    serial = fastnn.Network(**common).fit(X, y)
    parallel = fastnn.Network(**common, n_jobs=2).fit(X, y)
    first_loss = serial.history_["train_loss"][0]
    assert np.isfinite(parallel.history_["train_loss"]).all()
    # lock-free threads interleave nondeterministically; they must still learn about as much
    assert parallel.history_["train_loss"][-1] < first_loss
    assert parallel.history_["train_loss"][-1] < 1.5 * serial.history_["train_loss"][-1]


@pytest.mark.parametrize("output", OUTPUTS)
def test_pickle_and_from_weights_keep_the_activation(output):
    X, y = make_problem(output, seed=12)
    net = fastnn.Network(hidden=(5, 4), activation=["tanh", "leaky_relu"], output=output, epochs=2,
                         random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(net))
    method = "predict" if output == "identity" else "predict_proba"
    np.testing.assert_array_equal(getattr(copy, method)(X), getattr(net, method)(X))
    rebuilt = fastnn.Network.from_weights(net.weights_, output=output, activation=["tanh", "leaky_relu"])
    np.testing.assert_array_equal(getattr(rebuilt, method)(X), getattr(net, method)(X))


def test_engine_activations_are_the_oracles():
    from fastnn import _core

    a = np.linspace(-30, 30, 1001)
    for name, code in [("logistic", _core.ACTIVATION_LOGISTIC), ("tanh", _core.ACTIVATION_TANH),
                       ("relu", _core.ACTIVATION_RELU), ("identity", _core.ACTIVATION_IDENTITY),
                       ("leaky_relu", _core.ACTIVATION_LEAKY_RELU)]:
        for dtype, rtol in ((np.float64, 1.5e-15), (np.float32, 8e-7)):  # a few ulp
            z = a.astype(dtype)
            _core.activate(code, z)
            np.testing.assert_allclose(z, oracle.activate(a.astype(dtype), name, dtype), rtol=rtol, atol=1e-300,
                                       err_msg=name)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation, match", [
    ("softplus", "activation must be one of 'logistic', 'tanh', 'relu', 'identity', 'leaky_relu'"),
    (["tanh"], "lists 1 activations but the network has 2 hidden layer"),
    (["tanh", "relu", "relu"], "lists 3 activations"),
    (["tanh", "sigmoid"], "activation must be one of"),
    (3, "activation must be one of"),
])
def test_bad_activations_are_named(activation, match):
    X, y = make_problem("softmax")
    with pytest.raises(ValueError, match=match):
        fastnn.Network(hidden=(4, 3), activation=activation, epochs=1).fit(X, y)


@pytest.mark.parametrize("y, match", [
    (np.full((23, 3), 2), "0/1 indicator.*found 2"),
    (np.full((23, 3), 0.5), "0/1 indicator"),
    (np.full((22, 3), 1), "X has 23 rows but y has 22"),
])
def test_bad_multilabel_targets(y, match):
    X, _ = make_problem("multilabel")
    with pytest.raises(ValueError, match=match):
        fastnn.Network(hidden=(4,), output="multilabel", epochs=1).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_regression_targets_are_refused(bad):
    X, y = make_problem("identity")
    y[5, 1] = bad
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        fastnn.Network(hidden=(4,), output="identity", epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        fastnn.Network(hidden=(4,), output="identity", epochs=1).fit(X, y[:, 1])


def test_regression_target_too_large_for_float32():
    X, y = make_problem("identity")
    y[0, 0] = 1e300
    with pytest.raises(ValueError, match="in float32"):
        fastnn.Network(hidden=(4,), output="identity", epochs=1, dtype="float32").fit(X, y)


def test_targets_must_match_the_outputs_of_given_weights():
    X, y = make_problem("identity")
    weights = random_weights(np.random.default_rng(0), [5, 4, 2])
    with pytest.raises(ValueError, match="2 outputs"):
        fastnn.Network(hidden=(4,), output="identity", init=weights, epochs=1).fit(X, y)


@pytest.mark.parametrize("output, activation, version", [
    ("softmax", "logistic", 1), ("sigmoid", "logistic", 1), ("softmax", "relu", 2),
    ("multilabel", ["tanh", "logistic"], 2), ("identity", ["leaky_relu", "identity"], 2),
])
def test_model_files_keep_activation_and_output(tmp_path, output, activation, version):
    X, y = make_problem(output, seed=13)
    net = fastnn.Network(hidden=(5, 4), activation=activation, output=output, epochs=2, random_state=0).fit(X, y)
    fastnn.save(net, tmp_path / "model.npz")
    loaded = fastnn.load(tmp_path / "model.npz")
    assert loaded.metadata_["format_version"] == version
    assert loaded.metadata_.get("activation", ["logistic"] * 2) == (
        [activation] * 2 if isinstance(activation, str) else activation)
    method = "predict" if output == "identity" else "predict_proba"
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(net, method)(X))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_autodiff_gradient_is_the_engines(activation, output):
    from fastnn import _core, _engine, autodiff as ad

    X, y = make_problem(output, n=4, seed=14)
    sizes = sizes_for(output, X.shape[1], (6, 4), 3)
    weights = random_weights(np.random.default_rng(15), sizes)
    variables = [ad.Variable(W) for W in weights]
    J = ad.network_loss(variables, X[2], y[2], output=output, activation=activation)
    expected = ad.grad(J, variables)
    arch = _engine.architecture(sizes, output, [activation] * 2, np.float64)
    truth = {"targets": np.ascontiguousarray(y[2:3], dtype=np.float64)} if output in oracle.TARGET_OUTPUTS else {
        "labels": np.asarray(y[2:3], dtype=np.int32)}
    data = _engine.make_dataset(np.ascontiguousarray(X[2:3]), np.float64, **truth)
    gradient, loss = _core.gradient(arch, _engine.pack_weights(weights, np.float64), data, 0)
    assert loss == pytest.approx(float(J), rel=1e-12)
    for G, E in zip(_engine.unpack_weights(gradient, sizes), expected):
        np.testing.assert_allclose(G, E, rtol=1e-10, atol=1e-13)


def test_estimators_save_and_load_with_their_model_family(tmp_path):
    from fastnn import MLPClassifier, MLPRegressor

    X, y = make_problem("identity", n=60, seed=16)
    _, Y = make_problem("multilabel", n=60, seed=16)
    for estimator, activation, truth, output in ((MLPRegressor, "tanh", y, "identity"),
                                                 (MLPClassifier, "relu", Y, "multilabel")):
        model = estimator(hidden_layer_sizes=(5,), activation=activation, max_iter=3, random_state=0, tol=0)
        with pytest.warns(Warning):
            model.fit(X, truth)
        fastnn.save(model, tmp_path / "model.npz")
        loaded = fastnn.load(tmp_path / "model.npz")
        assert loaded.metadata_["output"] == output and loaded.metadata_["activation"] == [activation]
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_regression_targets_are_no_divergence(dtype):
    """A squared error is judged against the targets' scale: targets near 5000 give a first
    loss far above 1/eps of float32 (8.4e6), and that is no divergence."""
    from fastnn import MLPRegressor

    rng = np.random.default_rng(17)
    X = rng.normal(size=(200, 3))
    y = 5000 + 100 * X[:, 0]
    net = fastnn.Network(hidden=(4,), output="identity", learning_rate=1e-6, epochs=2, dtype=dtype,
                         random_state=0).fit(X, y)
    assert net.history_["train_loss"][0] > 1 / np.finfo(np.float32).eps
    with pytest.warns(Warning):  # ConvergenceWarning: 2 epochs
        MLPRegressor(hidden_layer_sizes=(4,), learning_rate_init=1e-6, max_iter=2, dtype=dtype,
                     random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="diverged"):  # a real divergence is still one
        fastnn.Network(hidden=(4,), output="identity", learning_rate=1e3, epochs=3, dtype=dtype,
                       random_state=0).fit(X, y)
