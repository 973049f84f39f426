"""fastnn.Network against the NumPy oracle: training, losses, gradients, inputs, real data."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

import fastnn
import oracle
from conftest import load_ocr, synthetic_data
from fastnn.gradcheck import layer_gradients
from fastnn._engine import pack_weights, unpack_weights

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]
SHAPES = [(), (11,), (6, 5), (5, 4, 3)]  # 11: blocks of 4 (float64) and 8 (float32) rows and a remainder


def random_weights(sizes, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=scale, size=(n_out, n_in + 1)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def problem(output, n=60, m=8, seed=0):
    k = 2 if output == "sigmoid" else 4
    X, y = synthetic_data(n, m, k, seed)
    return X, y, k


def assert_weights_close(actual, expected, rtol, atol_scale=1.0):
    assert len(actual) == len(expected)
    for W_a, W_e in zip(actual, expected):
        assert W_a.shape == W_e.shape
        np.testing.assert_allclose(W_a, W_e, rtol=rtol, atol=rtol * atol_scale * np.abs(W_e).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", SHAPES)
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
@pytest.mark.parametrize("init", ["given", "zeros", "uniform"])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_training_matches_oracle(dtype, hidden, output, init, l2):
    X, y, k = problem(output, n=63)  # runs of four deferred first-layer updates, then a run of three
    X_val, y_val, _ = problem(output, n=25, seed=1)
    n_out = 1 if output == "sigmoid" else k
    sizes = [X.shape[1], *hidden, n_out]
    if init == "given":
        start = random_weights(sizes, seed=3)
        net_init = [W.copy() for W in start]
    else:
        net_init = init
        start = fastnn._training.initial_weights(sizes, init, np.random.default_rng(5), np.float64)
    net = fastnn.Network(hidden=hidden, output=output, init=net_init, learning_rate=0.1, epochs=4, l2=l2,
                         dtype=np.dtype(dtype).name, random_state=5)
    net.fit(X, y, X_val, y_val)
    expected, history = oracle.sgd_train(start, X, y, output, 0.1, 4, l2=l2, X_val=X_val, y_val=y_val, dtype=dtype)
    rtol = RTOL[dtype]
    assert_weights_close(net.weights_, expected, rtol * 10)
    np.testing.assert_allclose(net.history_["train_loss"], history["train_loss"], rtol=rtol * 10)
    np.testing.assert_allclose(net.history_["val_loss"], history["val_loss"], rtol=rtol * 10)
    assert net.weights_[0].dtype == dtype
    np.testing.assert_allclose(net.predict_proba(X_val), oracle.predict_proba(expected, X_val, output),
                               rtol=rtol * 10, atol=rtol)


def test_training_moves_weights():
    """Guard for the comparison above: the oracle and the engine really train."""
    X, y, _ = problem("softmax")
    net = fastnn.Network(hidden=(7,), learning_rate=0.1, epochs=4, random_state=0).fit(X, y)
    assert net.history_["train_loss"][-1] < net.history_["train_loss"][0]
    assert not np.allclose(net.weights_[0], 0)


@pytest.mark.parametrize("hidden", SHAPES)
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_gradient_against_finite_differences(hidden, output):
    X, y, k = problem(output, n=5)
    sizes = [X.shape[1], *hidden, 1 if output == "sigmoid" else k]
    net = fastnn.Network.from_weights(random_weights(sizes, seed=11), output=output)
    for row in range(3):
        errors = fastnn.gradcheck(net, X[row], y[row])
        assert len(errors) == len(sizes) - 1
        assert max(errors) < 1e-6, errors
    for analytic, numeric in layer_gradients(net, X[0], y[0]):
        assert np.abs(analytic).max() > 1e-8, "the checked gradient must not be all zero"
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("hidden", [(), (6,), (5, 4)])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_engine_gradient_equals_oracle_gradient(hidden, output):
    from fastnn import _core

    X, y, k = problem(output, n=5)
    sizes = [X.shape[1], *hidden, 1 if output == "sigmoid" else k]
    weights = random_weights(sizes, seed=2)
    net = fastnn.Network.from_weights(weights, output=output)
    data = fastnn._engine.make_dataset(np.ascontiguousarray(X[:1]), np.float64, labels=y[:1].astype(np.int32))
    flat, loss = _core.gradient(net._architecture, pack_weights(weights, np.float64), data, 0)
    expected = oracle.backward(weights, X[0], y[0], output)
    cache = oracle.forward(weights, X[0], output, y=y[0])
    assert loss == pytest.approx(cache["J"], rel=1e-13)
    assert_weights_close(unpack_weights(flat, sizes), expected, 1e-12)


def test_golden_single_step():
    """One hand-worked update: 1 input, no hidden layer, one sigmoid output.

    W = [[b, w]] = [[0, 0]], x = 2, y = 1, lr = 0.5.
    a = 0 + 0 * 2 = 0, p = sigmoid(0) = 0.5, delta = p - y = -0.5.
    gradient = delta * [1, x] = [-0.5, -1.0]; W <- W - 0.5 * gradient = [[0.25, 0.5]].
    Loss before: -log(0.5) = log 2. After: a = 0.25 + 0.5 * 2 = 1.25, J = log(1 + e^-1.25).
    """
    net = fastnn.Network(hidden=(), output="sigmoid", init=[np.zeros((1, 2))], learning_rate=0.5, epochs=1)
    net.fit([[2.0]], [1])
    np.testing.assert_array_equal(net.weights_[0], [[0.25, 0.5]])
    assert net.history_["train_loss"][0] == pytest.approx(np.log1p(np.exp(-1.25)), rel=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_sparse_input_matches_dense(dtype, output):
    X, y, _ = problem(output)
    X[X < 0.6] = 0.0
    kwargs = dict(hidden=(6,), output=output, learning_rate=0.2, epochs=3, random_state=0, dtype=np.dtype(dtype).name)
    dense = fastnn.Network(**kwargs).fit(X, y)
    for matrix in (sp.csr_matrix, sp.csc_matrix):
        sparse = fastnn.Network(**kwargs).fit(matrix(X), y)
        assert_weights_close(sparse.weights_, dense.weights_, RTOL[dtype] * 10)
        np.testing.assert_allclose(sparse.predict_proba(matrix(X)), dense.predict_proba(X), rtol=RTOL[dtype] * 10)


def test_sparse_with_l2_matches_oracle():
    X, y, k = problem("softmax")
    X[X < 0.6] = 0.0
    start = random_weights([X.shape[1], 5, k], seed=4)
    net = fastnn.Network(hidden=(5,), init=[W.copy() for W in start], learning_rate=0.1, epochs=3, l2=0.05)
    net.fit(sp.csr_matrix(X), y)
    expected, _ = oracle.sgd_train(start, X, y, "softmax", 0.1, 3, l2=0.05)
    assert_weights_close(net.weights_, expected, 1e-11)


def test_shuffle_is_seeded_and_matches_oracle_order():
    X, y, k = problem("softmax")
    net = fastnn.Network(hidden=(5,), learning_rate=0.1, epochs=3, shuffle=True, random_state=7).fit(X, y)
    again = fastnn.Network(hidden=(5,), learning_rate=0.1, epochs=3, shuffle=True, random_state=7).fit(X, y)
    for W_a, W_b in zip(net.weights_, again.weights_):
        np.testing.assert_array_equal(W_a, W_b)
    rng = np.random.default_rng(7)
    start = fastnn._training.initial_weights([X.shape[1], 5, k], "uniform", rng, np.float64)
    orders = [rng.permutation(len(X)) for _ in range(3)]
    expected, _ = oracle.sgd_train(start, X, y, "softmax", 0.1, 3, order=orders)
    assert_weights_close(net.weights_, expected, 1e-12)


def test_unshuffled_run_is_independent_of_seed_given_weights():
    X, y, k = problem("softmax")
    start = random_weights([X.shape[1], 4, k], seed=0)
    a = fastnn.Network(hidden=(4,), init=start, random_state=1).fit(X, y)
    b = fastnn.Network(hidden=(4,), init=start, random_state=2).fit(X, y)
    for W_a, W_b in zip(a.weights_, b.weights_):
        np.testing.assert_array_equal(W_a, W_b)


def test_init_weights_are_copied_not_modified():
    X, y, k = problem("softmax")
    start = random_weights([X.shape[1], 4, k], seed=0)
    copies = [W.copy() for W in start]
    fastnn.Network(hidden=(4,), init=start, epochs=2).fit(X, y)
    for W, W0 in zip(start, copies):
        np.testing.assert_array_equal(W, W0)


@pytest.mark.parametrize("variant", ["list", "int", "bool", "float32", "fortran", "strided", "negative_stride"])
def test_array_likes_give_the_same_result(variant):
    X, y, _ = problem("softmax", n=40)
    X = np.round(X * 4)  # integer-valued so every variant holds the same numbers
    reference = fastnn.Network(hidden=(5,), epochs=2, random_state=0).fit(X, y)
    if variant == "list":
        X_in = X.tolist()
    elif variant == "int":
        X_in = X.astype(np.int64)
    elif variant == "bool":
        X = (X > 1).astype(np.float64)
        reference = fastnn.Network(hidden=(5,), epochs=2, random_state=0).fit(X, y)
        X_in = X > 0
    elif variant == "float32":
        X_in = X.astype(np.float32)
    elif variant == "fortran":
        X_in = np.asfortranarray(X)
    elif variant == "strided":
        wide = np.zeros((X.shape[0], 2 * X.shape[1]))
        wide[:, ::2] = X
        X_in = wide[:, ::2]
    else:
        X_in = X[::-1].copy()[::-1]
        assert X_in.strides[0] < 0
    snapshot = np.array(X_in, copy=True)
    net = fastnn.Network(hidden=(5,), epochs=2, random_state=0).fit(X_in, list(y))
    for W_a, W_b in zip(net.weights_, reference.weights_):
        np.testing.assert_array_equal(W_a, W_b)
    np.testing.assert_array_equal(np.asarray(X_in), snapshot)


def test_predict_proba_rows_and_permutations():
    X, y, _ = problem("softmax")
    net = fastnn.Network(hidden=(5,), epochs=2, random_state=0).fit(X, y)
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # Rows go through BLAS in batches; a row's result may differ from the batch's in the last bit.
    rows = np.vstack([net.predict_proba(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(rows, proba, rtol=1e-14, atol=1e-16)
    perm = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(net.predict_proba(X[perm]), proba[perm], rtol=1e-14, atol=1e-16)
    np.testing.assert_array_equal(net.predict(X), proba.argmax(axis=1))
    assert net.loss(X, y) == pytest.approx(net.history_["train_loss"][-1], rel=1e-12)


def test_sigmoid_output_probabilities_have_two_columns():
    X, y, _ = problem("sigmoid")
    net = fastnn.Network(hidden=(3,), output="sigmoid", epochs=1, random_state=0).fit(X, y)
    proba = net.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert net.n_classes_ == 2 and net.weights_[-1].shape == (1, 4)


def test_pickle_round_trip_predicts_identically():
    X, y, _ = problem("softmax")
    net = fastnn.Network(hidden=(5,), epochs=2, random_state=0).fit(X, y)
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(clone.predict_proba(X), net.predict_proba(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_buffers_start_on_a_cache_line(dtype):
    X, y, _ = problem("softmax")
    net = fastnn.Network(hidden=(5,), epochs=1, dtype=np.dtype(dtype).name, random_state=0).fit(X, y)
    clone = pickle.loads(pickle.dumps(net))
    packed = pack_weights(random_weights([8, 5, 4], seed=0), dtype)
    for flat in (net._flat, clone._flat, packed, fastnn._core.aligned_zeros(7, dtype)):
        assert flat.ctypes.data % fastnn._core.ALIGNMENT == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparse", [False, True])
def test_engine_result_does_not_depend_on_alignment(dtype, sparse):
    # the kernels' vector loads and stores take any address; alignment changes speed, not bits
    X, y, _ = problem("softmax", n=40)
    sizes = [X.shape[1], 13, 4]
    arch = fastnn._core.Architecture(sizes, fastnn._core.OUTPUT_SOFTMAX, dtype)
    X = X.astype(dtype)
    data = fastnn._engine.make_dataset(sp.csr_matrix(X) if sparse else X, np.dtype(dtype),
                                       labels=y.astype(np.int32))
    order = np.arange(len(y), dtype=np.intp)
    aligned = pack_weights(random_weights(sizes, seed=2), dtype)
    itemsize = np.dtype(dtype).itemsize
    raw = fastnn._core.aligned_zeros(aligned.size + 64 // itemsize, dtype)
    shifted = raw[1 : 1 + aligned.size]  # 4 or 8 bytes past a cache line
    shifted[:] = aligned
    assert shifted.ctypes.data % 32 != 0
    for W in (aligned, shifted):
        fastnn._engine.sgd_epoch(arch, W, data, order, learning_rate=0.1)
    np.testing.assert_array_equal(shifted, aligned)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [1, 8])
def test_publishing_epoch_alone_matches_the_plain_epoch(dtype, batch_size):
    """One thread publishing to `shared` every chunk ends where the plain epoch ends (to rounding:
    shared + (local - snapshot) is local up to one rounding per publication)."""
    X, y, _ = problem("softmax", n=90)
    sizes = [X.shape[1], 13, 4]
    arch = fastnn._core.Architecture(sizes, fastnn._core.OUTPUT_SOFTMAX, dtype)
    data = fastnn._engine.make_dataset(X.astype(dtype), np.dtype(dtype), labels=y.astype(np.int32))
    order = np.arange(len(y), dtype=np.intp)
    plain = pack_weights(random_weights(sizes, seed=3), dtype)
    shared, local, snapshot = plain.copy(), plain.copy(), plain.copy()
    if batch_size == 1:
        fastnn._core.sgd_epoch(arch, plain, data, order, 0.2, 0.0, 16)
        fastnn._core.sgd_epoch(arch, local, data, order, 0.2, 0.0, 16, None, shared, snapshot)
    else:
        fastnn._core.minibatch_epoch(arch, plain, data, order, 0.2, 0.0, batch_size, 16)
        fastnn._core.minibatch_epoch(arch, local, data, order, 0.2, 0.0, batch_size, 16, None, shared, snapshot)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(shared, plain, rtol=tol, atol=tol)
    np.testing.assert_array_equal(local, shared)  # the thread continues from the shared state
    np.testing.assert_array_equal(snapshot, shared)
    start = pack_weights(random_weights(sizes, seed=3), dtype)
    assert np.abs(shared - start).max() > 1e-3  # it did train
    with pytest.raises(ValueError, match="together"):
        fastnn._core.sgd_epoch(arch, local, data, order, 0.2, 0.0, 16, None, shared, None)
    with pytest.raises(ValueError, match="shaped and typed"):
        fastnn._core.sgd_epoch(arch, local, data, order, 0.2, 0.0, 16, None, shared[:-1].copy(), snapshot)


def test_hogwild_trains_to_similar_quality():
    X, y = synthetic_data(2000, 10, 3, 0)
    serial = fastnn.Network(hidden=(16,), learning_rate=0.1, epochs=5, random_state=0).fit(X, y)
    parallel = fastnn.Network(hidden=(16,), learning_rate=0.1, epochs=5, random_state=0, n_jobs=2).fit(X, y)
    accuracy = lambda net: (net.predict(X) == y).mean()  # noqa: E731
    assert accuracy(parallel) > accuracy(serial) - 0.05
    assert parallel.history_["train_loss"][-1] < parallel.history_["train_loss"][0]


def test_callback_sees_each_epoch_and_its_exception_propagates():
    X, y, _ = problem("softmax")
    seen = []
    fastnn.Network(hidden=(3,), epochs=3).fit(X, y, callback=lambda net: seen.append(net.n_epochs_))
    assert seen == [1, 2, 3]

    def fail(net):
        raise RuntimeError("stop here")

    net = fastnn.Network(hidden=(3,), epochs=3)
    with pytest.raises(RuntimeError, match="stop here"):
        net.fit(X, y, callback=fail)
    assert net.n_epochs_ == 1


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.zeros(5), [0, 1, 0, 1, 0], "2D"),
        (np.zeros((3, 2)), [0, 1], "3 rows but y has 2"),
        (np.zeros((0, 2)), [], "0 sample"),
        (np.zeros((3, 0)), [0, 1, 0], "0 feature"),
        ([[0.0, np.nan], [1.0, 0.0]], [0, 1], "NaN"),
        ([[0.0, np.inf], [1.0, 0.0]], [0, 1], "infinity"),
        ([[0.0, 1.0], [1.0, 0.0]], [0.5, 1], "non-integer"),
        ([[0.0, 1.0], [1.0, 0.0]], [-1, 1], "negative"),
        ([[0.0, 1.0], [1.0, 0.0]], [0, 0], "at least 2 classes"),
        ([[1j, 1.0], [1.0, 0.0]], [0, 1], "complex"),
    ],
)
def test_bad_training_input(X, y, message):
    with pytest.raises(ValueError, match=message):
        fastnn.Network(hidden=(2,)).fit(X, y)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bad, message", [(np.nan, "contains NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
def test_bad_values_in_an_array_ready_for_the_engine(dtype, bad, message):
    """C-contiguous arrays of the network's dtype skip check_array; the finiteness check stays."""
    rng = np.random.default_rng(0)
    X = rng.random((40, 3)).astype(dtype)
    net = fastnn.Network(hidden=(2,), epochs=1, dtype=dtype).fit(X, np.arange(40) % 2)
    X[17, 1] = bad
    with pytest.raises(ValueError, match=message):
        net.predict_proba(X)
    with pytest.raises(ValueError, match=message):
        net.fit(X, np.arange(40) % 2)


def test_huge_finite_values_ready_for_the_engine_are_accepted():
    """Their sum overflows; the full check then finds every value finite."""
    X = np.full((4, 2), np.finfo(np.float32).max / 2, dtype=np.float32)
    net = fastnn.Network(hidden=(2,), epochs=1, dtype="float32").fit(np.eye(2, dtype=np.float32), [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and the check's overflowing sum warns of nothing
        P = net.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)


def test_object_array_of_strings_is_a_type_error():
    with pytest.raises(TypeError, match="numbers"):
        fastnn.Network(hidden=(2,)).fit(np.array([["a", "b"], ["c", "d"]], dtype=object), [0, 1])


def test_sigmoid_output_refuses_more_than_two_classes():
    with pytest.raises(ValueError, match="sigmoid output has 2 classes"):
        fastnn.Network(hidden=(2,), output="sigmoid").fit(np.eye(3), [0, 1, 2])


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(hidden=(0,)), "hidden"),
        (dict(hidden=(-1,)), "hidden"),
        (dict(hidden=(2.5,)), "hidden"),
        (dict(learning_rate=0), "learning_rate"),
        (dict(learning_rate=-1), "learning_rate"),
        (dict(learning_rate=np.nan), "learning_rate"),
        (dict(learning_rate=np.inf), "learning_rate"),
        (dict(epochs=0), "epochs"),
        (dict(epochs=1.5), "epochs"),
        (dict(l2=-1.0), "l2"),
        (dict(init="random"), "init"),
        (dict(output="tanh"), "output"),
        (dict(dtype="float16"), "dtype"),
        (dict(n_jobs=0), "n_jobs"),
        (dict(random_state=-3), "random_state"),
        (dict(init=[np.zeros((2, 3))]), "expects 2 input features"),
        (dict(init=[np.zeros((2, 4)), np.zeros((3, 2))]), "columns must be 1"),
        (dict(init=[np.zeros((2, 4)), np.full((3, 3), np.nan)]), "NaN"),
    ],
)
def test_bad_hyperparameters(params, message):
    with pytest.raises(ValueError, match=message):
        fastnn.Network(**params).fit(np.eye(3), [0, 1, 2])


def test_predict_before_fit_and_with_wrong_width():
    net = fastnn.Network(hidden=(2,))
    with pytest.raises(NotFittedError, match="not fitted"):
        net.predict(np.eye(3))
    net.fit(np.eye(3), [0, 1, 2])
    with pytest.raises(ValueError, match="X has 4 features, but this Network is expecting 3"):
        net.predict(np.eye(4))
    with pytest.raises(ValueError, match="label 3"):
        net.loss(np.eye(3), [0, 1, 3])


def test_divergence_raises_naming_the_epoch():
    X, y, _ = problem("softmax")
    with pytest.raises(ValueError, match="diverged at epoch"):
        fastnn.Network(hidden=(5,), learning_rate=1e6, epochs=3, random_state=0).fit(X * 1e306, y)


def test_huge_learning_rate_keeps_probabilities_finite():
    X, y, _ = problem("softmax")
    net = fastnn.Network(hidden=(5,), learning_rate=1e6, epochs=3, random_state=0).fit(X, y)
    proba = net.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.isfinite(net.history_["train_loss"]).all()


def test_layer_sizes_too_large_are_refused_before_allocating():
    with pytest.raises(ValueError, match="too many"):
        fastnn.Network(hidden=(2**31, 2**31)).fit(np.eye(3), [0, 1, 2])


# ---------------------------------------------------------------------------------- real data


def test_ocr_large_one_hidden_layer_reaches_20_percent():
    X, y = load_ocr("large_train")
    X_val, y_val = load_ocr("large_validation")
    net = fastnn.Network(hidden=(50,), learning_rate=0.01, epochs=10, init="uniform", random_state=0)
    net.fit(X, y, X_val, y_val)
    assert np.mean(net.predict(X_val) != y_val) < 0.20
    assert net.history_["val_loss"][-1] < net.history_["val_loss"][0]


def test_ocr_small_matches_oracle_for_the_handout_settings():
    X, y = load_ocr("small_train")
    X_val, y_val = load_ocr("small_validation")
    net = fastnn.Network(hidden=(4,), learning_rate=0.1, epochs=2, init="zeros").fit(X, y, X_val, y_val)
    sizes = [X.shape[1], 4, 10]
    start = [np.zeros((b, a + 1)) for a, b in zip(sizes[:-1], sizes[1:])]
    expected, history = oracle.sgd_train(start, X, y, "softmax", 0.1, 2, X_val=X_val, y_val=y_val)
    assert_weights_close(net.weights_, expected, 1e-12)
    np.testing.assert_allclose(net.history_["train_loss"], history["train_loss"], rtol=1e-12)
    np.testing.assert_allclose(net.history_["val_loss"], history["val_loss"], rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [(), (6,), (5, 4)])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
@pytest.mark.parametrize("batch_size, l2", [(4, 0.0), (7, 0.01), (60, 0.0)])
def test_minibatch_matches_oracle(dtype, hidden, output, batch_size, l2):
    X, y, k = problem(output)
    sizes = [X.shape[1], *hidden, 1 if output == "sigmoid" else k]
    start = random_weights(sizes, seed=8)
    net = fastnn.Network(hidden=hidden, output=output, init=[W.copy() for W in start], learning_rate=0.3,
                         epochs=3, l2=l2, batch_size=batch_size, dtype=np.dtype(dtype).name).fit(X, y)
    expected, history = oracle.minibatch_sgd_train(start, X, y, output, 0.3, 3, batch_size, l2=l2, dtype=dtype)
    assert_weights_close(net.weights_, expected, RTOL[dtype] * 10)
    np.testing.assert_allclose(net.history_["train_loss"], history["train_loss"], rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_minibatch_matches_dense(dtype):
    X, y, _ = problem("softmax")
    X[X < 0.6] = 0.0
    kwargs = dict(hidden=(6,), learning_rate=0.2, epochs=3, random_state=0, batch_size=8, l2=0.01,
                  dtype=np.dtype(dtype).name)
    dense = fastnn.Network(**kwargs).fit(X, y)
    sparse = fastnn.Network(**kwargs).fit(sp.csr_matrix(X), y)
    assert_weights_close(sparse.weights_, dense.weights_, RTOL[dtype] * 10)


def test_gemm_path_with_batches_of_one_equals_per_sample_path():
    from fastnn import _core

    X, y, k = problem("softmax")
    weights = random_weights([X.shape[1], 5, k], seed=1)
    net = fastnn.Network.from_weights(weights)
    data = fastnn._engine.make_dataset(np.ascontiguousarray(X), np.float64, labels=y.astype(np.int32))
    order = np.arange(len(X), dtype=np.intp)
    W_sample, W_batch = pack_weights(weights, np.float64), pack_weights(weights, np.float64)
    loss_sample = _core.sgd_epoch(net._architecture, W_sample, data, order, 0.3, 0.01)
    loss_batch = _core.minibatch_epoch(net._architecture, W_batch, data, order, 0.3, 0.01, 1)
    np.testing.assert_allclose(W_batch, W_sample, rtol=1e-12, atol=1e-14)
    assert loss_batch == pytest.approx(loss_sample, rel=1e-12)
    assert not np.allclose(W_sample, pack_weights(weights, np.float64))


def test_concurrent_fit_on_one_instance_is_refused():
    import threading

    X, y = synthetic_data(3000, 20, 3, 0)
    net = fastnn.Network(hidden=(64,), epochs=200)
    started, errors = threading.Event(), []

    def notice_start(network):
        started.set()

    thread = threading.Thread(target=lambda: net.fit(X, y, callback=notice_start))
    thread.start()
    started.wait(timeout=30)
    try:
        net.fit(X, y)
    except RuntimeError as error:
        errors.append(str(error))
    thread.join()
    assert errors and "already being fitted" in errors[0]
    assert net.n_epochs_ == 200 and np.isfinite(net.weights_[0]).all()


def test_golden_handout_run_on_small_ocr():
    """The handout's small run (4 hidden units, zero init, lr 0.1, 2 epochs) to 12 digits.

    Golden values, agreed by the engine and the NumPy oracle; any change to the arithmetic of the
    per-sample path that moves them by more than rounding fails here.
    """
    X, y = load_ocr("small_train")
    X_val, y_val = load_ocr("small_validation")
    net = fastnn.Network(hidden=(4,), init="zeros", learning_rate=0.1, epochs=2).fit(X, y, X_val, y_val)
    np.testing.assert_allclose(net.history_["train_loss"], [2.185062761138787, 1.9010325772656411], rtol=1e-12)
    np.testing.assert_allclose(net.history_["val_loss"], [2.1882730258814203, 1.9136380346124435], rtol=1e-12)
    assert np.mean(net.predict(X) != y) == pytest.approx(0.77)
    assert np.mean(net.predict(X_val) != y_val) == pytest.approx(0.78)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.parametrize("rows", ["all empty", "some empty"])
def test_sparse_rows_without_entries_decay_like_dense_rows(dtype, batch_size, rows):
    """L2 shrinks every first-layer weight on every update, whether or not a sample (or any
    sample of the matrix) has a non-zero input: CSR input trains exactly as its dense copy, and
    both follow the oracle."""
    X = np.zeros((6, 4))
    if rows == "some empty":
        X[1, 2], X[4, 0] = 0.5, -1.5
    y = np.array([0, 1, 0, 1, 1, 0])
    params = dict(hidden=(3,), init="glorot", random_state=0, learning_rate=0.1, l2=0.5, epochs=2,
                  batch_size=batch_size, dtype=np.dtype(dtype).name)
    dense = fastnn.Network(**params).fit(X, y)
    csr = fastnn.Network(**params).fit(sp.csr_matrix(X), y)
    assert_weights_close(csr.weights_, dense.weights_, RTOL[dtype])
    start = fastnn._training.initial_weights([4, 3, 2], "glorot", np.random.default_rng(0), np.float64)
    if batch_size == 1:
        expected, _ = oracle.sgd_train(start, X, y, "softmax", 0.1, 2, l2=0.5, dtype=dtype)
    else:
        expected, _ = oracle.minibatch_sgd_train(start, X, y, "softmax", 0.1, 2, batch_size=2, l2=0.5, dtype=dtype)
    assert_weights_close(dense.weights_, expected, RTOL[dtype] * 10)
    assert np.abs(dense.weights_[0][:, 1:] - start[0][:, 1:]).max() > 0.1  # the decay is visible
