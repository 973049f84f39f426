"""Checks of the NumPy oracle itself (tests/oracle.py), before it judges anything else.

The oracle is trusted because (1) its gradient agrees with centred finite
differences of its own loss, (2) one SGD step agrees with numbers worked out
by hand, (3) it stays finite at extreme logits, and (4) its training loops do
what their update formulas say.
"""

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest

import oracle
from conftest import synthetic_data

OUTPUTS = ("softmax", "sigmoid")
HIDDEN = [(), (4,), (5, 3), (3, 4, 2)]


def random_weights(rng, m, hidden, K, scale=0.7):
    """Weights in the (n_out, n_in + 1) layout, N(0, scale^2), including the biases."""
    sizes = [m, *hidden, K]
    return [rng.normal(scale=scale, size=(sizes[l + 1], sizes[l] + 1)) for l in range(len(sizes) - 1)]


def n_out(output, k):
    return 1 if output == "sigmoid" else k


def test_oracle_does_not_import_fastnn():
    tree = ast.parse(Path(oracle.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not any(name.split(".")[0] == "fastnn" for name in names), names


# ---------------------------------------------------------------------------
# 1. gradient = centred finite differences
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN, ids=str)
def test_gradient_matches_finite_differences(hidden, output):
    rng = np.random.default_rng(sum(hidden) + 7 * len(hidden) + (output == "sigmoid"))
    m, k = 3, 3 if output == "softmax" else 2
    weights = random_weights(rng, m, hidden, n_out(output, k))
    eps = 1e-5
    for trial in range(3):
        x = rng.normal(size=m)
        y = int(rng.integers(k))
        grads = oracle.backward(weights, x, y, output)
        assert [g.shape for g in grads] == [W.shape for W in weights]

        def J(Ws):
            return float(oracle.forward(Ws, x, output, y)["J"])

        for l, W in enumerate(weights):
            fd = np.zeros_like(W)
            for idx in np.ndindex(W.shape):
                plus = [w.copy() for w in weights]
                minus = [w.copy() for w in weights]
                plus[l][idx] += eps
                minus[l][idx] -= eps
                fd[idx] = (J(plus) - J(minus)) / (2 * eps)
            # guard: a zero gradient would agree with anything
            assert np.max(np.abs(grads[l])) > 1e-4, f"layer {l}: gradient is (nearly) all zero"
            rel = np.linalg.norm(grads[l] - fd) / max(np.linalg.norm(grads[l]), np.linalg.norm(fd))
            assert rel < 1e-7, f"layer {l}, trial {trial}: relative error {rel:.2e}"


# ---------------------------------------------------------------------------
# 2. one SGD step, by hand
# ---------------------------------------------------------------------------


def test_golden_single_sgd_step():
    # Network: 2 inputs -> 2 sigmoid hidden units -> 2-class softmax. All inputs are
    # exact binary fractions; the expected numbers below were computed with 40-digit
    # arithmetic and rounded to 17 significant digits.
    x = np.array([1.0, 2.0])
    y = 1
    lr = 0.5
    alpha = np.array([[0.25, 0.5, -0.5],     # hidden unit 1: bias, w(x1), w(x2)
                      [-0.5, 0.75, 0.25]])   # hidden unit 2
    beta = np.array([[0.5, -1.0, 0.25],      # class 0: bias, w(z1), w(z2)
                     [-0.25, 0.75, -0.5]])   # class 1

    # Forward.
    #   a = alpha [1; x]:  a1 = 0.25 + 0.5*1 - 0.5*2 = -0.25
    #                      a2 = -0.5 + 0.75*1 + 0.25*2 = 0.75
    #   z = sigmoid(a):    z1 = 1/(1+e^0.25)  = 0.43782349911420190
    #                      z2 = 1/(1+e^-0.75) = 0.67917869917539297
    #   b = beta [1; z]:   b0 = 0.5 - z1 + 0.25 z2    = 0.23197117567964635
    #                      b1 = -0.25 + 0.75 z1 - 0.5 z2 = -0.26122172525204506
    #   y_hat = softmax(b): y_hat0 = 1/(1+e^(b1-b0)) = 0.62085830923324790
    #                       y_hat1 = 1 - y_hat0      = 0.37914169076675210
    #   J = -log y_hat1 = logsumexp(b) - b1          = 0.96984528949996746
    cache = oracle.forward([alpha, beta], x, "softmax", y)
    np.testing.assert_allclose(cache["a"][0], [-0.25, 0.75], rtol=0, atol=0)
    np.testing.assert_allclose(cache["z"][1], [0.43782349911420190, 0.67917869917539297], rtol=1e-15)
    np.testing.assert_allclose(cache["b"], [0.23197117567964635, -0.26122172525204506], rtol=1e-14)
    np.testing.assert_allclose(cache["y_hat"], [0.62085830923324790, 0.37914169076675210], rtol=1e-14)
    np.testing.assert_allclose(cache["J"], 0.96984528949996746, rtol=1e-14)

    # Backward.
    #   dJ/db = y_hat - onehot(1) = [0.62085830923324790, -0.62085830923324790]
    #   dJ/dbeta = dJ/db (outer) [1, z1, z2]:
    #     row 0 = 0.6208583092332479 * [1, z1, z2] = [0.6208583092332479, 0.2718263574026278, 0.42167373883727118]
    #     row 1 = -(row 0)
    #   dJ/dz = beta[:, 1:]^T dJ/db = 0.6208583092332479 * ([-1, 0.25] - [0.75, -0.5])
    #         = 0.6208583092332479 * [-1.75, 0.75] = [-1.0865020411581838, 0.46564373192493592]
    #   dJ/da = dJ/dz * z (1 - z):
    #     z1(1-z1) = 0.24613408273759835 -> dJ/da1 = -0.26742518329299790
    #     z2(1-z2) = 0.21789499376181403 -> dJ/da2 =  0.10146143806301172
    #   dJ/dalpha = dJ/da (outer) [1, x1, x2] = dJ/da (outer) [1, 1, 2]
    gB_expected = np.array([[0.6208583092332479, 0.2718263574026278, 0.42167373883727118],
                            [-0.6208583092332479, -0.2718263574026278, -0.42167373883727118]])
    gA_expected = np.array([[-0.2674251832929979, -0.2674251832929979, -0.53485036658599581],
                            [0.10146143806301172, 0.10146143806301172, 0.20292287612602344]])
    gA, gB = oracle.backward([alpha, beta], x, y, "softmax", cache)
    np.testing.assert_allclose(gB, gB_expected, rtol=1e-14)
    np.testing.assert_allclose(gA, gA_expected, rtol=1e-13)

    # Update, W <- W - 0.5 dJ/dW, both from the gradients above (alpha's gradient used
    # beta before its update):
    #   alpha' = [[0.25 + 0.13371259164649895, 0.5 + 0.13371259164649895, -0.5 + 0.26742518329299790],
    #             [-0.5 - 0.05073071903150586,  0.75 - 0.05073071903150586, 0.25 - 0.10146143806301172]]
    #   beta'  = [[0.5 - 0.31042915461662395, -1 - 0.1359131787013139,  0.25 - 0.21083686941863559],
    #             [-0.25 + 0.31042915461662395, 0.75 + 0.1359131787013139, -0.5 + 0.21083686941863559]]
    alpha_new = np.array([[0.38371259164649895, 0.63371259164649895, -0.2325748167070021],
                          [-0.55073071903150586, 0.69926928096849414, 0.14853856193698828]])
    beta_new = np.array([[0.18957084538337605, -1.1359131787013139, 0.03916313058136441],
                         [0.06042915461662395, 0.8859131787013139, -0.28916313058136441]])
    (A1, B1), history = oracle.sgd_train([alpha, beta], x[None, :], np.array([y]), "softmax", lr, epochs=1)
    np.testing.assert_allclose(A1, alpha_new, rtol=1e-14)
    np.testing.assert_allclose(B1, beta_new, rtol=1e-13)
    # The loss on that one sample after the step (same forward pass at the new weights).
    np.testing.assert_allclose(history["train_loss"], [0.32587279649385676], rtol=1e-13)
    assert history["val_loss"] == []


# ---------------------------------------------------------------------------
# 3. numerics at extreme logits
# ---------------------------------------------------------------------------


@pytest.fixture
def strict_float():
    """Turn floating-point overflow, division by zero and invalid results into errors.

    Underflow to 0 (e.g. exp(-1000)) is the intended result and stays silent.
    """
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_extremes(strict_float, dtype):
    z = oracle.sigmoid(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), dtype)
    assert z.dtype == dtype
    assert np.all(np.isfinite(z))
    assert z[0] == 0 and z[-1] == 1 and z[2] == 0.5
    assert 0 < z[1] < 1e-20 or dtype == np.float32
    # both branches agree with sigma(a) + sigma(-a) = 1 (to rounding)
    a = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(oracle.sigmoid(a) + oracle.sigmoid(-a), 1.0, rtol=0, atol=4e-16)
    # and with the textbook formula where that formula is safe
    np.testing.assert_allclose(oracle.sigmoid(a), 1 / (1 + np.exp(-a)), rtol=1e-15)


def test_softmax_and_losses_at_extremes(strict_float):
    b = np.array([1000.0, 0.0, -1000.0])
    np.testing.assert_array_equal(oracle.softmax(b), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(oracle.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    # softmax is shift-invariant
    np.testing.assert_allclose(oracle.softmax(b - 500), oracle.softmax(b))
    # CE from logits: logsumexp(b) - b_y
    assert oracle.softmax_cross_entropy(b, 0) == 0.0
    np.testing.assert_allclose(oracle.softmax_cross_entropy(b, 1), 1000.0, rtol=1e-15)
    np.testing.assert_allclose(oracle.softmax_cross_entropy(b, 2), 2000.0, rtol=1e-15)
    np.testing.assert_allclose(oracle.softmax_cross_entropy(np.zeros(4), 3), np.log(4), rtol=1e-15)
    # binary CE from a logit: softplus(b) - y b
    np.testing.assert_allclose(oracle.binary_cross_entropy(1000.0, 0), 1000.0, rtol=1e-15)
    np.testing.assert_allclose(oracle.binary_cross_entropy(-1000.0, 1), 1000.0, rtol=1e-15)
    assert oracle.binary_cross_entropy(1000.0, 1) == 0.0
    assert oracle.binary_cross_entropy(-1000.0, 0) == 0.0
    np.testing.assert_allclose(oracle.binary_cross_entropy(0.0, 1), np.log(2), rtol=1e-15)
    # small logits keep full relative precision (log1p form): J(b=-40, y=0) = log(1 + e^-40)
    np.testing.assert_allclose(oracle.binary_cross_entropy(-40.0, 0), np.exp(-40.0), rtol=1e-15)


def test_binary_ce_equals_two_class_softmax_ce():
    # sigmoid(b) is softmax([0, b])[1], so the losses must agree
    rng = np.random.default_rng(3)
    b = rng.normal(scale=5, size=50)
    y = rng.integers(2, size=50)
    two = np.column_stack((np.zeros_like(b), b))
    np.testing.assert_allclose(oracle.binary_cross_entropy(b, y), oracle.softmax_cross_entropy(two, y),
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("output", OUTPUTS)
def test_forward_backward_finite_at_extreme_weights(strict_float, output):
    k = 3 if output == "softmax" else 2
    weights = [np.full((4, 3), 300.0), np.full((n_out(output, k), 5), -300.0)]
    weights[1][:, 0] = np.arange(n_out(output, k)) * 700.0
    x = np.array([1.0, 2.0])
    for y in range(k):
        cache = oracle.forward(weights, x, output, y)
        assert np.isfinite(cache["J"]) and cache["J"] >= 0
        for g in oracle.backward(weights, x, y, output, cache):
            assert np.all(np.isfinite(g))


# ---------------------------------------------------------------------------
# 4. many-sample helpers agree with the one-sample pass
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN, ids=str)
def test_batch_helpers_match_per_sample_forward(hidden, output):
    k = 4 if output == "softmax" else 2
    X, y = synthetic_data(30, 5, k, seed=len(hidden))
    weights = random_weights(np.random.default_rng(11), 5, hidden, n_out(output, k))
    caches = [oracle.forward(weights, X[i], output, y[i]) for i in range(len(y))]
    P = oracle.predict_proba(weights, X, output)
    assert P.shape == (30, k)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    if output == "softmax":
        expected = np.array([c["y_hat"] for c in caches])
    else:
        p = np.array([c["y_hat"][0] for c in caches])
        expected = np.column_stack((1 - p, p))
    np.testing.assert_allclose(P, expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(oracle.predict(weights, X, output), np.argmax(expected, axis=1))
    J = np.array([float(c["J"]) for c in caches])
    np.testing.assert_allclose(oracle.per_sample_loss(weights, X, y, output), J, rtol=1e-13)
    np.testing.assert_allclose(oracle.mean_loss(weights, X, y, output), J.mean(), rtol=1e-13)
    assert isinstance(oracle.mean_loss(weights, X, y, output), float)


# ---------------------------------------------------------------------------
# 5. training loops do what the formulas say
# ---------------------------------------------------------------------------


@pytest.fixture
def problem():
    X, y = synthetic_data(24, 4, 3, seed=5)
    weights = random_weights(np.random.default_rng(2), 4, (5,), 3, scale=0.3)
    return weights, X, y


def step_by_hand(weights, x, y, output, lr, l2=0.0, sw=1.0):
    """W <- W - lr (sw dJ/dW + l2 W_nonbias), written out once more."""
    grads = oracle.backward(weights, x, y, output)
    new = []
    for W, g in zip(weights, grads):
        W_nonbias = W.copy()
        W_nonbias[:, 0] = 0
        new.append(W - lr * (sw * g + l2 * W_nonbias))
    return new


def assert_weights_close(A, B, rtol=1e-12, atol=0.0):
    assert len(A) == len(B)
    for a, b in zip(A, B):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("output", OUTPUTS)
def test_sgd_is_one_update_per_row_in_order(output):
    k = 3 if output == "softmax" else 2
    X, y = synthetic_data(10, 4, k, seed=1)
    weights = random_weights(np.random.default_rng(4), 4, (3,), n_out(output, k), scale=0.5)
    order = [3, 1, 4, 1, 5, 9, 2, 6]  # repeats and omissions are allowed
    W = weights
    for i in order:
        W = step_by_hand(W, X[i], y[i], output, lr=0.3, l2=0.01)
    got, history = oracle.sgd_train(weights, X, y, output, 0.3, 1, l2=0.01, order=order)
    assert_weights_close(got, W, rtol=1e-14, atol=1e-16)
    assert history["train_loss"] == [oracle.mean_loss(got, X, y, output)]


def test_sgd_does_not_modify_the_given_weights(problem):
    weights, X, y = problem
    before = [W.copy() for W in weights]
    oracle.sgd_train(weights, X, y, "softmax", 0.5, 2)
    oracle.minibatch_sgd_train(weights, X, y, "softmax", 0.5, 2, batch_size=5)
    assert_weights_close(weights, before, rtol=0)


def test_default_order_and_per_epoch_orders(problem):
    weights, X, y = problem
    n = len(y)
    default, h_default = oracle.sgd_train(weights, X, y, "softmax", 0.2, 3)
    explicit, h_explicit = oracle.sgd_train(weights, X, y, "softmax", 0.2, 3, order=np.arange(n))
    assert_weights_close(default, explicit, rtol=0)
    assert h_default == h_explicit

    # a list of per-epoch permutations is the same as chaining one-epoch runs
    rng = np.random.default_rng(0)
    perms = [rng.permutation(n) for _ in range(3)]
    got, history = oracle.sgd_train(weights, X, y, "softmax", 0.2, 3, order=perms, X_val=X[:7], y_val=y[:7])
    W, train, val = weights, [], []
    for p in perms:
        W, h = oracle.sgd_train(W, X, y, "softmax", 0.2, 1, order=p)
        train.append(oracle.mean_loss(W, X, y, "softmax"))
        val.append(oracle.mean_loss(W, X[:7], y[:7], "softmax"))
        assert h["train_loss"] == [train[-1]]
    assert_weights_close(got, W, rtol=0)
    assert history == {"train_loss": train, "val_loss": val}

    # reversing the order is the same as reversing the data
    rev, _ = oracle.sgd_train(weights, X, y, "softmax", 0.2, 1, order=np.arange(n)[::-1])
    rev_data, _ = oracle.sgd_train(weights, X[::-1], y[::-1], "softmax", 0.2, 1)
    assert_weights_close(rev, rev_data, rtol=0)

    with pytest.raises(ValueError, match="one per epoch"):
        oracle.sgd_train(weights, X, y, "softmax", 0.2, 3, order=perms[:2])


def test_sample_weight_two_is_double_learning_rate(problem):
    weights, X, y = problem
    doubled, h1 = oracle.sgd_train(weights, X, y, "softmax", 0.4, 2, sample_weight=np.full(len(y), 2.0))
    double_lr, h2 = oracle.sgd_train(weights, X, y, "softmax", 0.8, 2)
    assert_weights_close(doubled, double_lr, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(h1["train_loss"], h2["train_loss"], rtol=1e-14)
    # unit weights are the default
    ones, _ = oracle.sgd_train(weights, X, y, "softmax", 0.4, 2, sample_weight=np.ones(len(y)))
    plain, _ = oracle.sgd_train(weights, X, y, "softmax", 0.4, 2)
    assert_weights_close(ones, plain, rtol=0)


def test_l2_decays_non_bias_weights_only(problem):
    weights, X, y = problem
    lr, l2 = 0.1, 0.5
    # with every sample weight 0 only the penalty acts: each row multiplies the
    # non-bias weights by (1 - lr l2) and leaves the bias column alone
    got, _ = oracle.sgd_train(weights, X, y, "softmax", lr, 2, l2=l2, sample_weight=np.zeros(len(y)))
    for W0, W in zip(weights, got):
        np.testing.assert_array_equal(W[:, 0], W0[:, 0])
        np.testing.assert_allclose(W[:, 1:], W0[:, 1:] * (1 - lr * l2) ** (2 * len(y)), rtol=1e-13)
    # one full row: W - lr (g + l2 W_nonbias)
    one, _ = oracle.sgd_train(weights, X[:1], y[:1], "softmax", lr, 1, l2=l2)
    assert_weights_close(one, step_by_hand(weights, X[0], y[0], "softmax", lr, l2), rtol=1e-15, atol=1e-17)
    # a sample weight scales the loss gradient but not the penalty
    sw, _ = oracle.sgd_train(weights, X[:1], y[:1], "softmax", lr, 1, l2=l2, sample_weight=[3.0])
    assert_weights_close(sw, step_by_hand(weights, X[0], y[0], "softmax", lr, l2, sw=3.0), rtol=1e-15,
                         atol=1e-17)


def test_history_is_mean_loss_after_each_epoch(problem):
    weights, X, y = problem
    epochs = 4
    got, history = oracle.sgd_train(weights, X, y, "softmax", 0.5, epochs, X_val=X[-6:], y_val=y[-6:])
    assert len(history["train_loss"]) == len(history["val_loss"]) == epochs
    assert history["train_loss"][-1] == oracle.mean_loss(got, X, y, "softmax")
    assert history["val_loss"][-1] == oracle.mean_loss(got, X[-6:], y[-6:], "softmax")
    # SGD at a modest rate on learnable data lowers the training loss
    assert history["train_loss"][-1] < oracle.mean_loss(weights, X, y, "softmax")


@pytest.mark.parametrize("output", OUTPUTS)
def test_minibatch(output):
    k = 3 if output == "softmax" else 2
    X, y = synthetic_data(11, 4, k, seed=2)
    weights = random_weights(np.random.default_rng(6), 4, (3, 2), n_out(output, k), scale=0.5)
    sw = np.linspace(0.5, 2.0, len(y))
    lr, l2 = 0.3, 0.05

    # batch_size 1 is per-sample SGD
    a, ha = oracle.minibatch_sgd_train(weights, X, y, output, lr, 2, batch_size=1, l2=l2, sample_weight=sw)
    b, hb = oracle.sgd_train(weights, X, y, output, lr, 2, l2=l2, sample_weight=sw)
    assert_weights_close(a, b, rtol=1e-15, atol=1e-17)
    assert ha == hb

    # batches of 4 over 11 rows: sizes 4, 4, 3, each step the mean of sw_i g_i plus the penalty
    W = weights
    for rows in (range(0, 4), range(4, 8), range(8, 11)):
        grads = [oracle.backward(W, X[i], y[i], output) for i in rows]
        new = []
        for l, Wl in enumerate(W):
            mean = sum(sw[i] * g[l] for i, g in zip(rows, grads)) / len(rows)
            penalty = l2 * Wl
            penalty[:, 0] = 0
            new.append(Wl - lr * (mean + penalty))
        W = new
    got, history = oracle.minibatch_sgd_train(weights, X, y, output, lr, 1, batch_size=4, l2=l2, sample_weight=sw)
    assert_weights_close(got, W, rtol=1e-13, atol=1e-16)
    assert history["train_loss"] == [oracle.mean_loss(got, X, y, output)]

    # one batch holding every row is one full-batch gradient step
    full, _ = oracle.minibatch_sgd_train(weights, X, y, output, lr, 1, batch_size=100)
    grads = [oracle.backward(weights, X[i], y[i], output) for i in range(len(y))]
    expected = [Wl - lr * np.mean([g[l] for g in grads], axis=0) for l, Wl in enumerate(weights)]
    assert_weights_close(full, expected, rtol=1e-13, atol=1e-16)

    with pytest.raises(ValueError, match="batch_size"):
        oracle.minibatch_sgd_train(weights, X, y, output, lr, 1, batch_size=0)


# ---------------------------------------------------------------------------
# 6. float32 emulation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("output", OUTPUTS)
def test_float32_computes_in_float32_and_stays_close(output):
    k = 3 if output == "softmax" else 2
    X, y = synthetic_data(40, 6, k, seed=8)
    weights = random_weights(np.random.default_rng(9), 6, (5,), n_out(output, k), scale=0.5)
    cache = oracle.forward(weights, X[0], output, y[0], dtype=np.float32)
    for arr in [*cache["a"], *cache["z"], cache["b"], cache["y_hat"], cache["J"]]:
        assert arr.dtype == np.float32
    for g in oracle.backward(weights, X[0], y[0], output, dtype=np.float32):
        assert g.dtype == np.float32
    w32, h32 = oracle.sgd_train(weights, X, y, output, 0.1, 2, l2=1e-3, dtype=np.float32)
    w64, h64 = oracle.sgd_train(weights, X, y, output, 0.1, 2, l2=1e-3)
    assert all(W.dtype == np.float32 for W in w32)
    assert all(W.dtype == np.float64 for W in w64)
    assert_weights_close(w32, w64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h32["train_loss"], h64["train_loss"], rtol=1e-5)
    # ... and is really a different computation, not float64 in disguise
    assert any(not np.array_equal(a, b) for a, b in zip(w32, w64))
    assert oracle.predict_proba(weights, X, output, dtype=np.float32).dtype == np.float32


def test_bad_arguments_are_reported():
    weights = [np.zeros((3, 5)), np.zeros((2, 4))]
    with pytest.raises(ValueError, match="output must be one of"):
        oracle.forward(weights, np.zeros(4), "relu")
    with pytest.raises(ValueError, match="x must have shape"):
        oracle.forward(weights, np.zeros(3), "softmax")
    with pytest.raises(ValueError, match="columns"):
        oracle.forward([np.zeros((3, 5)), np.zeros((2, 3))], np.zeros(4), "softmax")
    with pytest.raises(ValueError, match="1 unit"):
        oracle.forward(weights, np.zeros(4), "sigmoid")
    with pytest.raises(ValueError, match="labels 0 or 1"):
        oracle.backward([np.zeros((1, 5))], np.zeros(4), 2, "sigmoid")
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        oracle.mean_loss([np.zeros((1, 5))], np.zeros((2, 4)), [0, 2], "sigmoid")
    with pytest.raises(ValueError, match="order must not be empty"):
        oracle.sgd_train(weights, np.zeros((3, 4)), [0, 1, 0], "softmax", 0.1, 1, order=[])
    with pytest.raises(ValueError, match="sample_weight"):
        oracle.sgd_train(weights, np.zeros((3, 4)), [0, 1, 0], "softmax", 0.1, 1, sample_weight=[1.0])
