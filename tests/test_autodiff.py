"""Tests of fastnn.autodiff: the lecture's examples, every operation against centered finite
differences, the properties of the backward pass (shared subexpressions, deep graphs), the error
messages, and autodiff as an oracle for the gradient that fastnn.Network's engine applies."""

import doctest
import math
import sys
import warnings

import numpy as np
import pytest

from fastnn import autodiff as ad

EPS = 1e-6  # step of the centered finite differences (float64)


def numeric_grad(f, arrays, eps=EPS):
    """Centered finite differences of the scalar f(*arrays) with respect to each array."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            saved = a[i]
            a[i] = saved + eps
            f_plus = f(*arrays)
            a[i] = saved - eps
            f_minus = f(*arrays)
            a[i] = saved
            g[i] = (f_plus - f_minus) / (2 * eps)
        grads.append(g)
    return grads


def assert_gradients_match_fd(build, arrays, rtol=1e-6, atol=1e-7, seed=0):
    """Check ad.grad of a random projection sum(w * build(...)) against finite differences.

    The projection makes every output element count, so the full vector-Jacobian product of a
    non-scalar operation is checked, not just its sum.
    """
    variables = [ad.Variable(a, name=f"v{i}") for i, a in enumerate(arrays)]
    out = build(*variables)
    w = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape) * np.where(
        np.random.default_rng(seed + 1).random(out.shape) < 0.5, -1.0, 1.0
    )
    analytic = ad.grad(ad.sum(out * w), variables)

    def f(*values):
        return float(np.sum(build(*[ad.constant(v) for v in values]).value * w))

    numeric = numeric_grad(f, arrays)
    for i, (g_ad, g_fd, a) in enumerate(zip(analytic, numeric, arrays)):
        assert np.shape(g_ad) == np.shape(a), f"gradient {i} has shape {np.shape(g_ad)}, variable {np.shape(a)}"
        assert np.any(g_fd != 0), f"finite differences of input {i} are all zero: the check would be vacuous"
        np.testing.assert_allclose(g_ad, g_fd, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


# ----------------------------------------------------------------------------------------------
# Every operation against finite differences (and its forward value against NumPy)
# ----------------------------------------------------------------------------------------------

_rng = np.random.default_rng(12345)


def _normal(*shape):
    return _rng.normal(size=shape)


def _positive(*shape):
    return _rng.uniform(0.5, 2.0, size=shape)


def _np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _np_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(a, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))


# (id, build from nodes, the same in NumPy, inputs)
OPERATIONS = [
    ("add (3,1)+(4,)", lambda a, b: a + b, lambda a, b: a + b, [_normal(3, 1), _normal(4)]),
    ("add ()+(3,)", lambda a, b: a + b, lambda a, b: a + b, [_normal(), _normal(3)]),
    ("add (2,3)+(2,3)", ad.add, np.add, [_normal(2, 3), _normal(2, 3)]),
    ("subtract (2,3)-(3,)", lambda a, b: a - b, lambda a, b: a - b, [_normal(2, 3), _normal(3)]),
    ("subtract (3,)-(2,1)", ad.subtract, np.subtract, [_normal(3), _normal(2, 1)]),
    ("multiply (2,3)*(2,1)", lambda a, b: a * b, lambda a, b: a * b, [_normal(2, 3), _normal(2, 1)]),
    ("multiply (4,)*()", ad.multiply, np.multiply, [_normal(4), _normal()]),
    ("multiply (1,3)*(2,1)", lambda a, b: a * b, lambda a, b: a * b, [_normal(1, 3), _normal(2, 1)]),
    ("divide (3,4)/(4,)", lambda a, b: a / b, lambda a, b: a / b, [_normal(3, 4), _positive(4)]),
    ("divide ()/(2,2)", ad.divide, np.divide, [_normal(), _positive(2, 2)]),
    ("negative", lambda a: -a, np.negative, [_normal(2, 3)]),
    ("scalars and arrays mix in", lambda a: 2 * a - 1.5 / a + (1.0 - a) * np.arange(3.0) + np.ones(3),
     lambda a: 2 * a - 1.5 / a + (1.0 - a) * np.arange(3.0) + np.ones(3), [_positive(3)]),
    ("power x**3", lambda a: a**3, lambda a: a**3, [_normal(4)]),
    ("power x**0.5", lambda a: a**0.5, np.sqrt, [_positive(4)]),
    ("power x**-2", lambda a: a**-2, lambda a: a**-2.0, [_positive(2, 2)]),
    ("power 2**x", lambda a: 2.0**a, lambda a: 2.0**a, [_normal(3)]),
    ("power x**y (3,1)**(2,)", lambda a, b: a**b, np.power, [_positive(3, 1), _normal(2)]),
    ("matmul (2,3)@(3,4)", lambda a, b: a @ b, np.matmul, [_normal(2, 3), _normal(3, 4)]),
    ("matmul (2,3)@(3,)", lambda a, b: a @ b, np.matmul, [_normal(2, 3), _normal(3)]),
    ("matmul (3,)@(3,2)", ad.matmul, np.matmul, [_normal(3), _normal(3, 2)]),
    ("matmul (3,)@(3,)", lambda a, b: a @ b, np.matmul, [_normal(3), _normal(3)]),
    ("matmul array@node", lambda b: np.arange(6.0).reshape(2, 3) @ b,
     lambda b: np.arange(6.0).reshape(2, 3) @ b, [_normal(3, 2)]),
    ("sum", ad.sum, np.sum, [_normal(2, 3)]),
    ("sum axis=0", lambda a: ad.sum(a, axis=0), lambda a: np.sum(a, axis=0), [_normal(2, 3)]),
    ("sum axis=1 keepdims", lambda a: a.sum(axis=1, keepdims=True), lambda a: a.sum(axis=1, keepdims=True),
     [_normal(2, 3)]),
    ("sum axis=(0,2)", lambda a: ad.sum(a, axis=(0, 2)), lambda a: np.sum(a, axis=(0, 2)), [_normal(2, 3, 2)]),
    ("mean", ad.mean, np.mean, [_normal(2, 3)]),
    ("mean axis=-1", lambda a: a.mean(axis=-1), lambda a: a.mean(axis=-1), [_normal(2, 3)]),
    ("exp", ad.exp, np.exp, [_normal(2, 3)]),
    ("log", ad.log, np.log, [_positive(2, 3)]),
    ("sqrt", ad.sqrt, np.sqrt, [_positive(4)]),
    ("sin", ad.sin, np.sin, [_normal(5)]),
    ("cos", ad.cos, np.cos, [_normal(5)]),
    ("tanh", ad.tanh, np.tanh, [_normal(5)]),
    ("sigmoid", ad.sigmoid, _np_sigmoid, [np.array([-30.0, -4.0, -0.5, 0.0, 0.5, 4.0, 30.0])]),
    ("softplus", ad.softplus, lambda a: np.log1p(np.exp(a)), [np.array([-20.0, -2.0, 0.0, 0.3, 2.0, 20.0])]),
    ("softmax (4,)", ad.softmax, _np_softmax, [_normal(4)]),
    ("softmax (3,2) axis=0", lambda a: ad.softmax(a, axis=0), lambda a: _np_softmax(a, axis=0), [_normal(3, 2)]),
    ("logsumexp", ad.logsumexp, _np_logsumexp, [_normal(4)]),
    ("logsumexp axis=1", lambda a: ad.logsumexp(a, axis=1), lambda a: _np_logsumexp(a, axis=1), [_normal(2, 3)]),
    ("logsumexp keepdims", lambda a: ad.logsumexp(a, axis=0, keepdims=True),
     lambda a: _np_logsumexp(a, axis=0, keepdims=True), [_normal(2, 3)]),
    ("getitem int", lambda a: a[2], lambda a: a[2], [_normal(4)]),
    ("getitem slice", lambda a: a[1:3], lambda a: a[1:3], [_normal(4)]),
    ("getitem repeated indices", lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]], [_normal(4)]),
    ("getitem (:, 1:)", lambda a: a[:, 1:], lambda a: a[:, 1:], [_normal(3, 4)]),
    ("getitem boolean mask", lambda a: a[np.array([True, False, True])], lambda a: a[np.array([True, False, True])],
     [_normal(3)]),
    ("concat bias 1", lambda z: ad.concat([ad.constant([1.0]), z]), lambda z: np.concatenate([[1.0], z]),
     [_normal(3)]),
    ("concat three", lambda a, b, c: ad.concat([a, b, c]), lambda a, b, c: np.concatenate([a, b, c]),
     [_normal(2), _normal(1), _normal(3)]),
    ("concat axis=1", lambda a, b: ad.concat([a, b], axis=1), lambda a, b: np.concatenate([a, b], axis=1),
     [_normal(2, 3), _normal(2, 1)]),
    ("reshape", lambda a: a.reshape(3, 2), lambda a: a.reshape(3, 2), [_normal(2, 3)]),
    ("reshape -1", lambda a: ad.reshape(a, (-1,)), lambda a: a.reshape(-1), [_normal(2, 3)]),
    ("transpose .T", lambda a: a.T, lambda a: a.T, [_normal(2, 3)]),
    ("transpose axes", lambda a: ad.transpose(a, (1, 2, 0)), lambda a: np.transpose(a, (1, 2, 0)),
     [_normal(2, 3, 4)]),
    ("softmax_cross_entropy", lambda b: ad.softmax_cross_entropy(b, 1), lambda b: -np.log(_np_softmax(b)[1]),
     [_normal(4)]),
    ("binary_cross_entropy_with_logit y=1", lambda a: ad.binary_cross_entropy_with_logit(a, 1),
     lambda a: -np.log(_np_sigmoid(a)), [_normal()]),
    ("binary_cross_entropy_with_logit y=0, shape (1,)", lambda a: ad.binary_cross_entropy_with_logit(a, 0),
     lambda a: -np.log(1 - _np_sigmoid(a[0])), [_normal(1)]),
    ("binary_cross_entropy_with_logit y=0.3", lambda a: ad.binary_cross_entropy_with_logit(a, 0.3),
     lambda a: -0.3 * np.log(_np_sigmoid(a)) - 0.7 * np.log(1 - _np_sigmoid(a)), [_normal()]),
]


@pytest.mark.parametrize("build, reference, arrays", [case[1:] for case in OPERATIONS],
                         ids=[case[0] for case in OPERATIONS])
def test_operation_value_matches_numpy(build, reference, arrays):
    out = build(*[ad.Variable(a) for a in arrays])
    expected = reference(*arrays)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.value, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("build, reference, arrays", [case[1:] for case in OPERATIONS],
                         ids=[case[0] for case in OPERATIONS])
def test_operation_gradient_matches_finite_differences(build, reference, arrays):
    assert_gradients_match_fd(build, arrays)


def test_composite_expression_matches_finite_differences():
    def build(W, x, c):
        h = ad.tanh(W @ x + c)  # (2,3)@(3,) + (2,)
        return ad.sum(h**2) * ad.mean(ad.exp(-x)) + ad.logsumexp(h) / (1.0 + ad.sum(c * c))

    assert_gradients_match_fd(build, [_normal(2, 3), _normal(3), _normal(2)])


# ----------------------------------------------------------------------------------------------
# The lecture's examples
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x0", [-1.5, 0.3, 2.0, 3.7])
def test_lecture_example_cos_sin(x0):
    x = ad.Variable(x0, name="x")
    J = ad.cos(ad.sin(x**2) + 3 * x**2)
    J.backward()
    assert float(J) == pytest.approx(np.cos(np.sin(x0**2) + 3 * x0**2), rel=1e-14, abs=1e-15)
    by_hand = -np.sin(np.sin(x0**2) + 3 * x0**2) * (np.cos(x0**2) * 2 * x0 + 6 * x0)
    assert np.shape(x.grad) == ()
    assert float(x.grad) == pytest.approx(by_hand, rel=1e-12)
    (fd,) = numeric_grad(lambda v: np.cos(np.sin(v**2) + 3 * v**2), [x0])
    assert float(x.grad) == pytest.approx(float(fd), rel=1e-6)


def test_lecture_example_elementwise_on_an_array():
    x0 = np.array([-1.5, 0.3, 2.0, 3.7])
    x = ad.Variable(x0)
    g = ad.grad(ad.sum(ad.cos(ad.sin(x**2) + 3 * x**2)), x)
    np.testing.assert_allclose(g, -np.sin(np.sin(x0**2) + 3 * x0**2) * (np.cos(x0**2) * 2 * x0 + 6 * x0), rtol=1e-12)


def _quiz(x, z):
    """y = exp(xz) + xz / log(x) + sin(log(x)) / (xz), written for nodes or numbers alike."""
    exp, log, sin = (ad.exp, ad.log, ad.sin) if isinstance(x, ad.Node) else (np.exp, np.log, np.sin)
    xz, log_x = x * z, log(x)  # each used twice
    return exp(xz) + xz / log_x + sin(log_x) / xz


def test_lecture_quiz_function():
    x0, z0 = 2.0, 3.0
    x, z = ad.Variable(x0, name="x"), ad.Variable(z0, name="z")
    y = _quiz(x, z)
    dy_dx, dy_dz = ad.grad(y, [x, z])
    L = np.log(x0)
    # Derived by hand:
    #   d/dx e^{xz} = z e^{xz};  d/dx xz/log x = z (log x - 1) / (log x)^2;
    #   d/dx sin(log x)/(xz) = (cos(log x) - sin(log x)) / (x^2 z)
    #   d/dz e^{xz} = x e^{xz};  d/dz xz/log x = x / log x;  d/dz sin(log x)/(xz) = -sin(log x) / (x z^2)
    closed_x = z0 * np.exp(x0 * z0) + z0 * (L - 1) / L**2 + (np.cos(L) - np.sin(L)) / (x0**2 * z0)
    closed_z = x0 * np.exp(x0 * z0) + x0 / L - np.sin(L) / (x0 * z0**2)
    assert float(y) == pytest.approx(_quiz(x0, z0), rel=1e-14)
    assert float(dy_dx) == pytest.approx(closed_x, rel=1e-12)
    assert float(dy_dz) == pytest.approx(closed_z, rel=1e-12)
    fd_x, fd_z = numeric_grad(_quiz, [x0, z0])
    assert float(dy_dx) == pytest.approx(float(fd_x), rel=1e-7)
    assert float(dy_dz) == pytest.approx(float(fd_z), rel=1e-7)
    # xz and log(x) are each used twice but recorded once
    ops = [u.op for u in ad.topological_order(y)]
    assert ops.count("log") == 1
    assert ops.count("multiply") == 1


def test_binary_logistic_regression():
    rng = np.random.default_rng(7)
    N, D = 6, 3
    X1 = np.hstack([np.ones((N, 1)), rng.normal(size=(N, D))])  # bias feature first
    y = rng.integers(0, 2, size=N).astype(float)
    theta = ad.Variable(rng.normal(size=D + 1), name="theta")
    a = X1 @ theta
    J = ad.mean(ad.softplus(a) - y * a)  # mean of -y log s(a) - (1-y) log(1 - s(a))
    g = ad.grad(J, theta)
    p = _np_sigmoid(X1 @ theta.value)
    np.testing.assert_allclose(float(J), np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)), rtol=1e-12)
    np.testing.assert_allclose(g, X1.T @ (p - y) / N, rtol=1e-12)  # the lecture's (s(theta^T x) - y) x
    # one sample through the library's loss
    J1 = ad.binary_cross_entropy_with_logit(theta @ X1[0], int(y[0]))
    np.testing.assert_allclose(ad.grad(J1, theta), (p[0] - y[0]) * X1[0], rtol=1e-12)
    assert_gradients_match_fd(
        lambda th: ad.mean(ad.softplus(X1 @ th) - y * (X1 @ th)), [theta.value]
    )


def backprop_by_hand(weights, x, label, output):
    """The lecture's backpropagation for one sample, in NumPy: (loss, [dJ/dW per layer])."""
    zs = [np.asarray(x, dtype=float)]
    for W in weights[:-1]:
        zs.append(_np_sigmoid(W @ np.concatenate([[1.0], zs[-1]])))
    b = weights[-1] @ np.concatenate([[1.0], zs[-1]])
    if output == "softmax":
        y_hat = _np_softmax(b)
        loss = -np.log(y_hat[label])
        delta = y_hat - np.eye(len(b))[label]  # dJ/db
    else:
        p = _np_sigmoid(b[0])
        loss = -label * np.log(p) - (1 - label) * np.log(1 - p)
        delta = np.array([p - label])
    grads = [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        z_prev = zs[layer]
        grads[layer] = np.outer(delta, np.concatenate([[1.0], z_prev]))
        if layer:
            delta = (weights[layer][:, 1:].T @ delta) * z_prev * (1 - z_prev)
    return loss, grads


def _random_weights(sizes, rng, scale=0.7):
    return [rng.normal(scale=scale, size=(n_out, n_in + 1)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]


@pytest.mark.parametrize(
    "sizes, output, label",
    [
        ((4, 5, 3), "softmax", 2),  # one hidden layer, the lecture's alpha and beta
        ((4, 5, 1), "sigmoid", 1),
        ((3, 4, 3, 4), "softmax", 0),  # two hidden layers
        ((3, 4, 3, 1), "sigmoid", 0),
    ],
)
def test_network_gradients(sizes, output, label):
    rng = np.random.default_rng(sum(sizes))
    arrays = _random_weights(sizes, rng)
    x = rng.uniform(-1, 1, size=sizes[0])
    weights = [ad.Variable(W, name=f"W{i}") for i, W in enumerate(arrays)]
    J = ad.network_loss(weights, x, label, output=output)
    loss, by_hand = backprop_by_hand(arrays, x, label, output)
    assert float(J) == pytest.approx(loss, rel=1e-12)
    for g, expected in zip(ad.grad(J, weights), by_hand):
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-14)
    assert_gradients_match_fd(lambda *Ws: ad.network_loss(Ws, x, label, output=output), arrays)
    proba = ad.network_proba(weights, x, output=output).value
    assert proba.shape == ((sizes[-1],) if output == "softmax" else (2,))
    assert proba.sum() == pytest.approx(1.0)
    assert float(J) == pytest.approx(-np.log(proba[label]), rel=1e-12)


def test_network_loss_l2_penalty_excludes_biases():
    rng = np.random.default_rng(3)
    arrays = _random_weights((3, 4, 2), rng)
    x = rng.normal(size=3)
    weights = [ad.Variable(W) for W in arrays]
    lam = 0.3
    J = ad.network_loss(weights, x, 1, l2=lam)
    J0 = ad.network_loss(weights, x, 1)
    assert float(J) - float(J0) == pytest.approx(0.5 * lam * sum(np.sum(W[:, 1:] ** 2) for W in arrays), rel=1e-12)
    for g, g0, W in zip(ad.grad(J, weights), ad.grad(J0, weights), arrays):
        np.testing.assert_allclose(g[:, 0], g0[:, 0], rtol=1e-14)  # biases are not penalised
        np.testing.assert_allclose(g[:, 1:], g0[:, 1:] + lam * W[:, 1:], rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# The backward pass itself
# ----------------------------------------------------------------------------------------------


def test_shared_subexpression_gets_both_contributions_and_is_visited_once():
    calls = {"forward": 0, "vjp": 0}

    def counted_sin(a):
        def forward(v):
            calls["forward"] += 1
            return np.sin(v)

        def vjp(g, out, v):
            calls["vjp"] += 1
            return g * np.cos(v)

        return ad.primitive("sin", forward, [vjp], a)

    x0 = 0.7
    x = ad.Variable(x0)
    u = counted_sin(x)
    y = u * u + u  # u feeds two nodes (three edges)
    y.backward()
    assert float(x.grad) == pytest.approx((2 * np.sin(x0) + 1) * np.cos(x0), rel=1e-14)
    assert float(u.grad) == pytest.approx(2 * np.sin(x0) + 1, rel=1e-14)  # both contributions
    assert calls == {"forward": 1, "vjp": 1}  # computed once; propagated once, after accumulating
    order = ad.topological_order(y)
    assert len(order) == len(set(map(id, order))) == 4  # x, u, u*u, u*u+u: nothing twice
    assert order.index(x) < order.index(u) < order.index(y) == len(order) - 1


def test_node_used_twice_as_both_operands():
    x = ad.Variable(np.array([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(ad.grad(ad.sum(x * x), x), 2 * x.value)
    np.testing.assert_allclose(ad.grad(ad.sum(x / (x * x)), x), -1 / x.value**2)


def test_chain_of_100000_nodes_does_not_recurse():
    limit = sys.getrecursionlimit()
    assert limit < 100_000  # otherwise the test would not show anything
    n = 100_000
    x = ad.Variable(0.8, name="x")
    y = x
    for _ in range(n):
        y = ad.sin(y)
    order = ad.topological_order(y)
    assert len(order) == n + 1
    y.backward()
    # forward-mode derivative of the same chain: d y_{k+1} = cos(y_k) d y_k
    value, derivative = 0.8, 1.0
    for _ in range(n):
        value, derivative = np.sin(value), derivative * np.cos(value)
    assert float(y) == pytest.approx(value, rel=1e-12)
    assert float(x.grad) == pytest.approx(derivative, rel=1e-9)
    assert float(x.grad) > 0
    x.value = 0.5  # the forward pass again, over the same deep graph
    value = 0.5
    for _ in range(n):
        value = math.sin(value)
    assert ad.evaluate(y) == pytest.approx(value, rel=1e-12)
    del y, order  # freeing the deep chain must not overflow the stack either


def test_gradients_have_the_shape_of_the_variable():
    a = ad.Variable(2.0)
    b = ad.Variable(np.ones((3, 1)))
    c = ad.Variable(np.ones(4))
    W = ad.Variable(np.ones((2, 3)))
    J = ad.sum(W @ (b * c)[:, 0]) * a  # (3,1)*(4,) -> (3,4)
    ga, gb, gc, gW = ad.grad(J, [a, b, c, W])
    assert np.shape(ga) == () and gb.shape == (3, 1) and gc.shape == (4,) and gW.shape == (2, 3)
    np.testing.assert_allclose(gb, np.full((3, 1), 2 * 2.0))
    np.testing.assert_allclose(gc, [2 * 2.0 * 3, 0, 0, 0])


def test_backward_stores_adjoints_and_does_not_accumulate_across_calls():
    x = ad.Variable(2.0)
    a = x**2
    J = ad.cos(ad.sin(a) + 3 * a)
    J.backward()
    first = float(x.grad)
    J.backward()
    assert float(x.grad) == first
    assert float(a.grad) == pytest.approx(-np.sin(np.sin(4.0) + 12.0) * (np.cos(4.0) + 3))  # dJ/da
    assert float(J.grad) == 1.0
    assert ad.grad(J, x) == pytest.approx(first)
    assert ad.grad(J, a) == pytest.approx(float(a.grad))  # intermediate nodes work with grad too


def test_evaluate_reruns_the_forward_pass():
    x = ad.Variable(np.array([0.5, 1.0]))
    J = ad.sum(ad.cos(ad.sin(x**2) + 3 * x**2))
    x.value = np.array([2.0, -1.0])
    assert ad.evaluate(J) == pytest.approx(np.sum(np.cos(np.sin([4.0, 1.0]) + 3 * np.array([4.0, 1.0]))))
    x0 = np.array([2.0, -1.0])
    np.testing.assert_allclose(
        ad.grad(J, x), -np.sin(np.sin(x0**2) + 3 * x0**2) * (np.cos(x0**2) * 2 * x0 + 6 * x0), rtol=1e-12
    )


def test_inputs_are_copied_and_converted_to_float64():
    data = np.array([1, 2, 3])
    x = ad.Variable(data)
    data[0] = 100
    assert x.value.dtype == np.float64
    np.testing.assert_array_equal(x.value, [1.0, 2.0, 3.0])
    assert (x + 1).value.dtype == np.float64


def test_stable_sigmoid_and_losses_do_not_overflow():
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        a = ad.Variable(np.array([-800.0, 800.0]))
        z = ad.sigmoid(a)
        np.testing.assert_array_equal(z.value, [0.0, 1.0])
        assert np.all(np.isfinite(ad.grad(ad.sum(z), a)))

        b = ad.Variable(np.array([1000.0, 0.0, -1000.0]))
        J = ad.softmax_cross_entropy(b, 2)
        assert float(J) == pytest.approx(2000.0)
        np.testing.assert_allclose(ad.grad(J, b), [1.0, 0.0, -1.0], atol=1e-300)

        s = ad.Variable(800.0)
        J0 = ad.binary_cross_entropy_with_logit(s, 0)
        assert float(J0) == pytest.approx(800.0)
        assert float(ad.grad(J0, s)) == pytest.approx(1.0)
        J1 = ad.binary_cross_entropy_with_logit(s, 1)
        assert float(J1) == 0.0
        assert float(ad.grad(J1, s)) == 0.0
        p = ad.softmax(b)
        np.testing.assert_allclose(p.value, [1.0, 0.0, 0.0])


def test_docstring_examples():
    result = doctest.testmod(ad, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10
    assert result.failed == 0


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


def test_backward_from_a_non_scalar_output_is_an_error():
    x = ad.Variable(np.ones(3))
    with pytest.raises(ValueError, match=r"scalar.*\(3,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="scalar"):
        ad.grad(x * 2, x)


@pytest.mark.parametrize("op", [ad.add, ad.subtract, ad.multiply, ad.divide, ad.power])
def test_shapes_that_do_not_broadcast_are_an_error_at_construction(op):
    x = ad.Variable(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3,\)"):
        op(x, np.ones(3))


def test_matmul_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2,\)"):
        ad.Variable(np.ones((2, 3))) @ np.ones(2)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        ad.Variable(np.ones((2, 2, 2))) @ np.ones(2)


def test_gradient_of_a_variable_not_in_the_graph_is_an_error():
    x, other = ad.Variable(1.0, name="x"), ad.Variable(2.0, name="other")
    y = ad.exp(x)
    with pytest.raises(ValueError, match="other"):
        ad.grad(y, [x, other])
    c = ad.constant(3.0)
    with pytest.raises(ValueError, match="Variable"):
        ad.grad(y * c, c)
    with pytest.raises(TypeError, match="Node"):
        ad.grad(y, np.array(1.0))


def test_bad_operands_and_labels_are_errors():
    x = ad.Variable(np.ones(3))
    with pytest.raises(TypeError, match="real number"):
        x + "one"
    with pytest.raises(TypeError, match="real number"):
        x * np.array([1j, 2, 3])
    with pytest.raises(ValueError, match="outside 0..2"):
        ad.softmax_cross_entropy(x, 3)
    with pytest.raises(TypeError, match="integer"):
        ad.softmax_cross_entropy(x, 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ad.binary_cross_entropy_with_logit(x[0], 2)
    with pytest.raises(ValueError, match="single value"):
        ad.binary_cross_entropy_with_logit(x, 1)
    with pytest.raises(ValueError, match="shape"):
        x.value = np.ones(4)
    with pytest.raises(ValueError, match="axis 2"):
        ad.sum(x, axis=2)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        ad.concat([ad.Variable(np.ones((2, 3))), np.ones((3, 3))], axis=1)
    with pytest.raises(ValueError, match="reshape"):
        x.reshape(2, 2)


def test_network_helpers_check_shapes_output_and_label():
    rng = np.random.default_rng(0)
    weights = _random_weights((3, 4, 2), rng)
    x = np.zeros(3)
    with pytest.raises(ValueError, match=r"weights\[1\].*\(2, 4\).*5"):
        ad.network_loss([weights[0], np.zeros((2, 4))], x, 0)
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        ad.network_loss(weights, np.zeros(5), 0)
    with pytest.raises(ValueError, match="one unit"):
        ad.network_loss(weights, x, 0, output="sigmoid")
    with pytest.raises(ValueError, match="output"):
        ad.network_loss(weights, x, 0, output="tanh")
    with pytest.raises(ValueError, match="outside"):
        ad.network_loss(weights, x, 2)
    sig = _random_weights((3, 1), rng)
    with pytest.raises(ValueError, match="0 or 1"):
        ad.network_loss(sig, x, 2, output="sigmoid")
    with pytest.raises(ValueError, match="K >= 2"):
        ad.network_loss(sig, x, 0, output="softmax")


# ----------------------------------------------------------------------------------------------
# Oracle: the gradient fastnn.Network's engine applies in one SGD step
# ----------------------------------------------------------------------------------------------


def _network_class():
    try:
        from fastnn import Network
    except ImportError as exc:
        pytest.skip(f"fastnn.Network cannot be imported ({exc}); the oracle tests need the compiled engine")
    return Network


ORACLE_CASES = [
    (hidden, output)
    for hidden in [(), (5,), (6, 4), (4, 3, 5)]
    for output in ["softmax", "sigmoid"]
]


@pytest.mark.parametrize("hidden, output", ORACLE_CASES, ids=[f"{h}-{o}" for h, o in ORACLE_CASES])
@pytest.mark.parametrize("l2", [0.0, 0.25])
def test_engine_sgd_step_applies_the_autodiff_gradient(hidden, output, l2):
    Network = _network_class()
    rng = np.random.default_rng(len(hidden) * 10 + (output == "sigmoid"))
    n_features = 7
    n_out = 1 if output == "sigmoid" else 3 + len(hidden) % 2  # K = 3 or 4
    arrays = _random_weights((n_features, *hidden, n_out), rng, scale=0.5)
    x = rng.uniform(0.0, 1.0, size=n_features)
    label = int(rng.integers(0, 2 if output == "sigmoid" else n_out))

    weights = [ad.Variable(W) for W in arrays]
    J = ad.network_loss(weights, x, label, output=output, l2=l2)
    expected = ad.grad(J, weights)

    lr = 0.05  # one step on one sample: the gradient is taken at the initial weights whatever lr is
    net = Network(hidden=hidden, output=output, init=[W.copy() for W in arrays], learning_rate=lr,
                  epochs=1, l2=l2, shuffle=False).fit(x[None, :], np.array([label]))
    assert len(net.weights_) == len(arrays)
    for layer, (W_before, W_after, g) in enumerate(zip(arrays, net.weights_, expected)):
        applied = (W_before - W_after) / lr
        # rounding of W - lr * g: a few ulp of W, divided by lr
        atol = 4 * np.finfo(np.float64).eps * np.abs(W_before).max() / lr
        np.testing.assert_allclose(applied, g, rtol=1e-10, atol=atol, err_msg=f"layer {layer}")
        assert np.linalg.norm(applied - g) <= 1e-10 * np.linalg.norm(g) + atol, f"layer {layer}"


@pytest.mark.parametrize("hidden, output", ORACLE_CASES, ids=[f"{h}-{o}" for h, o in ORACLE_CASES])
def test_engine_forward_pass_matches_autodiff(hidden, output):
    Network = _network_class()
    rng = np.random.default_rng(100 + len(hidden))
    n_features, n_out = 5, (1 if output == "sigmoid" else 3)
    arrays = _random_weights((n_features, *hidden, n_out), rng)
    X = rng.uniform(0.0, 1.0, size=(4, n_features))
    y = rng.integers(0, 2 if output == "sigmoid" else n_out, size=4)
    net = Network.from_weights([W.copy() for W in arrays], output=output)
    proba = np.array([ad.network_proba(arrays, row, output=output).value for row in X])
    np.testing.assert_allclose(net.predict_proba(X), proba, rtol=1e-12, atol=1e-15)
    losses = [float(ad.network_loss(arrays, row, int(label), output=output)) for row, label in zip(X, y)]
    assert net.loss(X, y) == pytest.approx(np.mean(losses), rel=1e-12)
