"""The engine's optimizers (momentum, Nesterov, Adam) against the NumPy oracle.

Every path of ``fnn_optim_epoch`` / ``fnn_optim_minibatch_epoch`` (float64/float32, dense/CSR,
per sample/mini-batch, L2, sample weights, every activation and output) follows
``oracle.optimizer_train``, written from scikit-learn's update rules; the state carries over
between epochs; the full-batch gradient of the engine (``_core.gradient_sum``) is the sum of
the oracle's; the training core rolls the optimizer state back with the weights; Hogwild!
threads merge their private states; bad settings are refused.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import oracle
from fastnn import _core, _engine, _optim, _training
from test_model_family import ACTIVATIONS, OUTPUTS, RTOL, assert_close, make_problem, random_weights, sizes_for

METHODS = ("momentum", "nesterov", "adam")


def truth(output, y, dtype):
    if output in ("softmax", "sigmoid"):
        return {"labels": np.asarray(y, dtype=np.int32)}
    return {"targets": np.ascontiguousarray(y, dtype=dtype)}


def engine_fit(weights, X, y, output, activation, dtype, sparse, batch_size, l2, optimizer, epochs,
               sample_weight=None, n_jobs=1):
    sizes = [weights[0].shape[1] - 1] + [W.shape[0] for W in weights]
    arch = _engine.architecture(sizes, output, [activation] * (len(sizes) - 2), dtype)
    W = _engine.pack_weights(weights, dtype)
    X = sp.csr_matrix(X.astype(dtype)) if sparse else np.ascontiguousarray(X, dtype=dtype)
    data = _engine.make_dataset(X, dtype, sample_weight=None if sample_weight is None else sample_weight.astype(dtype),
                                **truth(output, y, dtype))
    for _ in range(epochs):
        _engine.sgd_epoch(arch, W, data, np.arange(X.shape[0], dtype=np.intp), learning_rate=optimizer.learning_rate,
                          l2=l2, batch_size=batch_size, optimizer=optimizer, n_jobs=n_jobs)
    return _engine.unpack_weights(W, sizes), W


@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("method", METHODS)
def test_optimizers_match_the_oracle(method, dtype, sparse, batch_size):
    for k, (activation, output) in enumerate([("logistic", "softmax"), ("tanh", "sigmoid"), ("relu", "identity"),
                                              ("leaky_relu", "multilabel")]):
        X, y = make_problem(output, seed=k, sparse_rows=sparse)
        sizes = sizes_for(output, X.shape[1], (6, 4), 3)
        weights = [W.astype(dtype).astype(np.float64) for W in random_weights(np.random.default_rng(k), sizes)]
        sample_weight = np.random.default_rng(9).uniform(0.5, 2.0, X.shape[0]) if k % 2 else None
        lr = 0.01 if method == "adam" else 0.05
        settings = dict(momentum=0.8, beta_1=0.85, beta_2=0.99, epsilon=1e-7)
        ours = _optim.Optimizer(sizes, dtype, lr, method=method, **settings)
        got, _ = engine_fit(weights, X, y, output, activation, dtype, sparse, batch_size, 0.01, ours, 3,
                            sample_weight=sample_weight)
        theirs = oracle.Optimizer(method, lr, **settings)
        sw = None if sample_weight is None else sample_weight.astype(dtype)
        expected, _ = oracle.optimizer_train(weights, X.astype(dtype), y, output, theirs, 3, batch_size=batch_size,
                                             l2=0.01, sample_weight=sw, dtype=dtype, activation=activation)
        # float32 Adam divides by sqrt(s): rounding of near-zero gradients is amplified a little
        scale = 20 if (method == "adam" and dtype == np.float32) else 1
        for W_a, W_e in zip(got, expected):
            np.testing.assert_allclose(W_a, W_e, rtol=RTOL[dtype] * scale,
                                       atol=RTOL[dtype] * scale * max(1.0, np.abs(W_e).max()))
        n_updates = 3 * (X.shape[0] if batch_size == 1 else -(-X.shape[0] // batch_size))
        assert ours.t == (n_updates if method == "adam" else 0)
        first = ours.state[: ours.state.size // (2 if method == "adam" else 1)]
        for S_a, S_e in zip(_engine.unpack_weights(first, sizes), theirs.first):
            np.testing.assert_allclose(S_a, S_e, rtol=RTOL[dtype] * scale * 10,
                                       atol=RTOL[dtype] * scale * 10 * max(1e-3, np.abs(S_e).max()))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_and_output_with_adam(activation):
    for output in OUTPUTS:
        X, y = make_problem(output, seed=3)
        sizes = sizes_for(output, X.shape[1], (5,), 3)
        weights = random_weights(np.random.default_rng(4), sizes)
        got, _ = engine_fit(weights, X, y, output, activation, np.float64, False, 1, 0.0,
                            _optim.Optimizer(sizes, np.float64, 0.01, method="adam"), 2)
        expected, _ = oracle.optimizer_train(weights, X, y, output, oracle.Optimizer("adam", 0.01), 2,
                                             activation=activation)
        assert_close(got, expected, np.float64)


def test_momentum_zero_is_plain_sgd_bit_for_bit():
    X, y = make_problem("softmax", seed=1)
    sizes = sizes_for("softmax", X.shape[1], (6,), 3)
    weights = random_weights(np.random.default_rng(1), sizes)
    opt = _optim.Optimizer(sizes, np.float64, 0.05, method="nesterov", momentum=0.0)
    assert opt.method == "sgd" and opt.state.size == 0
    _, W_opt = engine_fit(weights, X, y, "softmax", "logistic", np.float64, False, 1, 0.01, opt, 2)
    _, W_sgd = engine_fit(weights, X, y, "softmax", "logistic", np.float64, False, 1, 0.01,
                          _optim.Optimizer(sizes, np.float64, 0.05), 2)
    np.testing.assert_array_equal(W_opt, W_sgd)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_full_batch_gradient_is_the_oracles_sum(dtype, sparse):
    X, y = make_problem("softmax", n=40, seed=2, sparse_rows=sparse)
    sizes = sizes_for("softmax", X.shape[1], (6, 4), 3)
    weights = [W.astype(dtype).astype(np.float64) for W in random_weights(np.random.default_rng(2), sizes)]
    arch = _engine.architecture(sizes, "softmax", ["tanh", "relu"], dtype)
    W = _engine.pack_weights(weights, dtype)
    Xd = sp.csr_matrix(X.astype(dtype)) if sparse else np.ascontiguousarray(X, dtype=dtype)
    sw = np.random.default_rng(0).uniform(0.5, 2, X.shape[0])
    data = _engine.make_dataset(Xd, dtype, labels=y.astype(np.int32), sample_weight=sw.astype(dtype))
    grad, loss = _core.gradient_sum(arch, W, data, 16)
    expected = [np.zeros_like(w) for w in weights]
    for i in range(X.shape[0]):
        for l, g in enumerate(oracle.backward(weights, X[i].astype(dtype), y[i], "softmax", dtype=dtype,
                                              activation=["tanh", "relu"])):
            expected[l] += float(sw.astype(dtype)[i]) * g
    assert_close(_engine.unpack_weights(grad, sizes), expected, dtype)
    per_row = oracle.per_sample_loss(weights, X.astype(dtype), y, "softmax", dtype, ["tanh", "relu"])
    assert loss == pytest.approx(float(np.dot(sw.astype(dtype), per_row)), rel=RTOL[dtype] * 10)


def test_the_training_core_rolls_the_optimizer_back():
    sizes = [3, 4, 2]
    opt = _optim.Optimizer(sizes, np.float64, 0.01, method="adam")
    W = np.zeros(5)
    before = opt.snapshot()

    def run_epoch(epoch):
        opt.state[:] = 1.0
        opt.t += 10
        opt.learning_rate = 5.0
        raise KeyboardInterrupt

    outcome = _training.run_epochs(W, 3, run_epoch, lambda e, l: False, optimizer=opt)
    assert outcome.interrupted and outcome.n_epochs == 0
    assert opt.t == 0 and opt.learning_rate == 0.01 and not opt.state.any() and before[0].size == opt.state.size

    def diverging(epoch):
        opt.state[:] = np.nan
        opt.t += 1
        return [1.0]

    with pytest.raises(_training.Diverged):
        _training.run_epochs(W, 3, diverging, lambda e, l: False, optimizer=opt)
    assert opt.t == 0 and np.isfinite(opt.state).all()


def test_hogwild_threads_merge_their_states():
    X, y = make_problem("softmax", n=400, seed=6)
    sizes = sizes_for("softmax", X.shape[1], (6,), 3)
    weights = random_weights(np.random.default_rng(6), sizes)
    opt = _optim.Optimizer(sizes, np.float64, 0.01, method="adam")
    got, W = engine_fit(weights, X, y, "softmax", "tanh", np.float64, False, 1, 0.0, opt, 2, n_jobs=2)
    assert np.isfinite(W).all() and opt.state.any() and opt.t == 400  # two threads x 200 updates, averaged
    assert oracle.mean_loss(got, X, y, "softmax", activation="tanh") < oracle.mean_loss(weights, X, y, "softmax",
                                                                                        activation="tanh")


def test_optimizer_pickles_in_the_user_layout():
    sizes = [3, 5, 2]
    opt = _optim.Optimizer(sizes, np.float32, 0.01, method="adam")
    opt.state[:] = np.arange(opt.state.size)
    opt.t = 7
    copy = pickle.loads(pickle.dumps(opt))
    assert copy.t == 7 and copy.state.dtype == np.float32 and copy.state.ctypes.data % 64 == 0
    np.testing.assert_array_equal(copy.state, np.where(_mask(sizes, np.float32, 2), opt.state, 0))


def _mask(sizes, dtype, k):
    """True at the state entries that are not padding."""
    ones = _engine.pack_weights([np.ones((n_out, n_in + 1)) for n_in, n_out in zip(sizes[:-1], sizes[1:])], dtype)
    return np.tile(ones != 0, k)


@pytest.mark.parametrize("settings, message", [
    (dict(method="rmsprop"), "unknown optimizer"),
    (dict(method="momentum", momentum=1.0), r"momentum must be \[0, 1\)"),
    (dict(method="momentum", momentum=-0.1), r"momentum must be \[0, 1\)"),
    (dict(method="adam", beta_1=1.0), r"beta_1 must be \[0, 1\)"),
    (dict(method="adam", beta_2=float("nan")), r"beta_2 must be \[0, 1\)"),
    (dict(method="adam", epsilon=0.0), "epsilon must be > 0"),
    (dict(method="sgd", power_t=-1.0), "power_t must be >= 0"),
    (dict(method="sgd", schedule="cosine"), "unknown learning-rate schedule"),
    (dict(method="sgd", momentum="0.5"), "momentum must be a real number"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ValueError, match=message):
        _optim.Optimizer([2, 3, 2], np.float64, 0.1, **settings)


def test_engine_refuses_bad_settings_and_state():
    X, y = make_problem("softmax", seed=1)
    sizes = sizes_for("softmax", X.shape[1], (6,), 3)
    arch = _engine.architecture(sizes, "softmax", ["logistic"], np.float64)
    W = _engine.pack_weights(random_weights(np.random.default_rng(1), sizes), np.float64)
    data = _engine.make_dataset(X, np.float64, labels=y.astype(np.int32))
    order = np.arange(X.shape[0], dtype=np.intp)
    state = np.zeros(_core.state_size(arch, _core.OPTIMIZER_MOMENTUM))
    with pytest.raises(ValueError, match="optimizer"):
        _core.optim_epoch(arch, W, state, data, order, 0.1, 0.0, 1, _core.OPTIMIZER_MOMENTUM, momentum=1.5)
    with pytest.raises(ValueError, match="state has"):
        _core.optim_epoch(arch, W, state[:-1], data, order, 0.1, 0.0, 1, _core.OPTIMIZER_MOMENTUM, momentum=0.5)


# ---------------------------------------------------------------------------
# Network and the command line
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 5])
@pytest.mark.parametrize("method", METHODS)
def test_network_optimizers_match_the_oracle(method, batch_size):
    import fastnn

    X, y = make_problem("softmax", seed=2)
    sizes = sizes_for("softmax", X.shape[1], (6,), 3)
    weights = random_weights(np.random.default_rng(3), sizes)
    net = fastnn.Network(hidden=(6,), init=weights, learning_rate=0.02, epochs=3, l2=0.01, optimizer=method,
                         momentum=0.7, batch_size=batch_size).fit(X, y)
    expected, history = oracle.optimizer_train(weights, X, y, "softmax", oracle.Optimizer(method, 0.02, momentum=0.7),
                                               3, batch_size=batch_size, l2=0.01)
    assert_close(net.weights_, expected, np.float64)
    np.testing.assert_allclose(net.history_["train_loss"], history["train_loss"], rtol=1e-10)
    assert net.history_["learning_rate"] == [0.02] * 3


def test_network_schedules():
    import fastnn

    X, y = make_problem("softmax", seed=2)
    n = X.shape[0]
    net = fastnn.Network(hidden=(4,), learning_rate=0.1, epochs=3, schedule="invscaling", power_t=0.5,
                         random_state=0).fit(X, y)
    np.testing.assert_allclose(net.history_["learning_rate"], [0.1, 0.1 / (n + 1) ** 0.5, 0.1 / (2 * n + 1) ** 0.5])
    # a rate too small to lower the loss by 1e-4: divided by 5 after 2 epochs without improvement,
    # and no more once at or below 1e-6
    net = fastnn.Network(hidden=(4,), learning_rate=2e-6, epochs=6, schedule="adaptive", optimizer="momentum",
                         random_state=0).fit(X, y)
    np.testing.assert_allclose(net.history_["learning_rate"], [2e-6, 2e-6, 2e-6, 4e-7, 4e-7, 4e-7])


@pytest.mark.parametrize("params, message", [
    (dict(optimizer="rmsprop"), "unknown optimizer"), (dict(optimizer="momentum", momentum=1.0), "momentum"),
    (dict(optimizer="adam", beta_2=1.5), "beta_2"), (dict(optimizer="adam", epsilon=-1.0), "epsilon"),
    (dict(schedule="cosine"), "schedule"), (dict(power_t=-0.5), "power_t"),
])
def test_network_refuses_bad_optimizer_settings(params, message):
    import fastnn

    X, y = make_problem("softmax", seed=2)
    with pytest.raises(ValueError, match=message):
        fastnn.Network(hidden=(4,), **params).fit(X, y)


def test_a_diverging_network_keeps_its_weights_and_state():
    import fastnn

    X, y = make_problem("identity", seed=2)
    net = fastnn.Network(hidden=(4,), output="identity", learning_rate=50.0, epochs=5, optimizer="momentum",
                         momentum=0.9, init="glorot", random_state=0)
    with pytest.raises(ValueError, match="diverged"):
        net.fit(X * 1e3, y * 1e3)
    assert all(np.isfinite(W).all() for W in net.weights_)


def test_cli_train_with_optimizers(tmp_path, capsys, monkeypatch):
    import json

    from conftest import synthetic_data
    from fastnn import cli
    from test_cli import run_in_process, write_csv

    X, y = synthetic_data(n=200, m=6, k=3, seed=4)
    write_csv(tmp_path / "train.csv", X, y)
    done = run_in_process("train", "train.csv", "--epochs", "4", "--hidden", "5", "--solver", "sgd", "--momentum",
                          "0.9", "--nesterov", "--schedule", "adaptive", "-o", "run", "-q", cwd=tmp_path,
                          capsys=capsys, monkeypatch=monkeypatch)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["settings"]["optimizer"] == "nesterov" and len(metrics["history"]["learning_rate"]) == 4
    done = run_in_process("train", "train.csv", "--epochs", "2", "--solver", "adam", "-o", "adam", "-q",
                          cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert done.returncode == 0, done.stderr
    for bad, flag in ((["--momentum", "1.5"], "--momentum must be [0, 1)"),
                      (["--momentum", "-0.1"], "--momentum must be [0, 1)")):
        done = run_in_process("train", "train.csv", *bad, "-o", "bad", cwd=tmp_path, capsys=capsys,
                              monkeypatch=monkeypatch)
        assert done.returncode == 2 and flag in done.stderr, done.stderr
    assert cli is not None


def test_learning_curve_marks_where_the_rate_dropped():
    from fastnn import plots

    plain = plots.learning_curve_png({"train_loss": [1.0, 0.9, 0.9, 0.9], "learning_rate": [0.1] * 4})
    marked = plots.learning_curve_png({"train_loss": [1.0, 0.9, 0.9, 0.9], "learning_rate": [0.1, 0.1, 0.02, 0.02]})
    assert plain[:8] == marked[:8] == b"\x89PNG\r\n\x1a\n" and plain != marked
