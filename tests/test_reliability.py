"""Reliability of fastnn.Network: Ctrl-C, threads, memory, numerical extremes, determinism, and
inputs left untouched.

tests/test_network.py (oracle agreement, bad input, divergence, the callback's exception, array-likes,
pickling) and tests/test_io.py (files) are not repeated here. No test asserts a timing except the
one the interruption contract states (fit returns within 0.5 s of Ctrl-C).
"""

import gc
import hashlib
import json
import math
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import fastnn
from conftest import synthetic_data
from fastnn import _core

TESTS_DIR = Path(__file__).resolve().parent
CHILD_TIMEOUT = 180  # seconds; generous for a busy machine, never reached when things work
posix_only = pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process (POSIX signals)")


def assert_same_weights(actual, expected):
    assert len(actual) == len(expected)
    for W_a, W_e in zip(actual, expected):
        np.testing.assert_array_equal(W_a, W_e)


def assert_probabilities(proba, dtype):
    """Finite, in [0, 1], rows summing to 1 (1e-12 in float64, 1e-6 in float32)."""
    assert np.isfinite(proba).all(), proba
    assert ((proba >= 0) & (proba <= 1)).all(), proba
    tolerance = 1e-12 if np.dtype(dtype) == np.float64 else 1e-6
    np.testing.assert_allclose(proba.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=tolerance)


@contextmanager
def no_floating_point_warnings():
    """NumPy-side floating-point problems raise, and any warning is an error (the C engine's own
    arithmetic is checked through its results)."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------------------------------- Ctrl-C

_INTERRUPTED_CHILD = textwrap.dedent(r'''
    import json, signal, sys, time, warnings
    import numpy as np
    import fastnn

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    spec = json.loads(sys.argv[1])
    X, y = np.load(spec["X"]), np.load(spec["y"])
    validation = (np.load(spec["X_val"]), np.load(spec["y_val"])) if "X_val" in spec else (None, None)

    def report_epoch(net):
        print(json.dumps({"epoch": net.n_epochs_}), flush=True)

    net = fastnn.Network(**spec["params"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            net.fit(X, y, *validation, callback=report_epoch)
            outcome = "returned"
        except KeyboardInterrupt:
            outcome = "KeyboardInterrupt escaped fit"
    returned_at = time.monotonic()
    if outcome == "returned":
        np.savez(spec["weights"], *net.weights_)
    print(json.dumps({
        "outcome": outcome, "returned_at": returned_at, "n_epochs": net.n_epochs_,
        "interrupted": getattr(net, "interrupted_", None), "history": net.history_,
        "warnings": [[w.category.__name__, str(w.message)] for w in caught],
    }), flush=True)
''')


def _read_line(process, timeout):
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"the training process printed nothing within {timeout} s; stderr:\n{err}")
    return line


def interrupt_fit(tmp_path, params, X, y, X_val=None, y_val=None, delay=0.05):
    """Run ``Network(**params).fit`` in a child process and send it SIGINT ``delay`` seconds after
    it reports its first completed epoch (from the callback, i.e. as the second epoch starts).

    Returns the child's report (a dict), the monotonic time the signal was sent, and its stderr.
    """
    spec = {"params": params, "weights": str(tmp_path / "weights.npz")}
    for name, array in (("X", X), ("y", y), ("X_val", X_val), ("y_val", y_val)):
        if array is not None:
            spec[name] = str(tmp_path / f"{name}.npy")
            np.save(spec[name], array)
    process = subprocess.Popen([sys.executable, "-c", _INTERRUPTED_CHILD, json.dumps(spec)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = _read_line(process, CHILD_TIMEOUT)
        assert json.loads(first) == {"epoch": 1}, first
        time.sleep(delay)  # into the part of the epoch under test
        sent_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=CHILD_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    return report, sent_at, err


def saved_weights(path):
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


@posix_only
def test_sigint_inside_the_engine_returns_promptly_with_the_weights_of_an_epoch_boundary(tmp_path):
    # about half a second of SGD per epoch: the signal arrives 0.05 s into the engine's epoch loop
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40000, 64))
    y = np.arange(40000) % 10
    params = dict(hidden=[256], learning_rate=0.01, epochs=100000, random_state=0)
    report, sent_at, err = interrupt_fit(tmp_path, params, X, y)

    assert report["outcome"] == "returned", err
    assert report["returned_at"] - sent_at < 0.5, "fit took more than 0.5 s to return after SIGINT"
    assert report["interrupted"] is True
    n_epochs = report["n_epochs"]
    assert 1 <= n_epochs < params["epochs"]
    assert len(report["history"]["train_loss"]) == n_epochs
    assert any(category == "RuntimeWarning" and "interrupt" in message for category, message in report["warnings"]), \
        report["warnings"]
    weights = saved_weights(tmp_path / "weights.npz")
    assert all(np.isfinite(W).all() for W in weights)
    # exactly the weights (and losses) of a run stopped after n_epochs epochs
    serial = fastnn.Network(**{**params, "hidden": tuple(params["hidden"]), "epochs": n_epochs}).fit(X, y)
    assert_same_weights(weights, serial.weights_)
    assert report["history"]["train_loss"] == serial.history_["train_loss"]


@posix_only
def test_sigint_while_the_epoch_loss_is_computed_still_returns(tmp_path):
    # a tiny training set and a big validation set: all but a fraction of a millisecond of each
    # (about 0.3 s long) epoch is the validation loss, and the signal arrives 0.05 s into it
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((20, 64)), np.arange(20) % 10
    X_val, y_val = rng.standard_normal((40000, 64)), np.arange(40000) % 10
    params = dict(hidden=[1024], learning_rate=0.01, epochs=10**6, random_state=0)
    report, _, err = interrupt_fit(tmp_path, params, X, y, X_val, y_val)

    assert report["outcome"] == "returned", err
    assert report["interrupted"] is True
    n_epochs = report["n_epochs"]
    assert len(report["history"]["train_loss"]) == len(report["history"]["val_loss"]) == n_epochs
    serial = fastnn.Network(**{**params, "hidden": (1024,), "epochs": n_epochs}).fit(X, y)
    assert_same_weights(saved_weights(tmp_path / "weights.npz"), serial.weights_)


# ------------------------------------------------------------------------------------- threads


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_rows", [20, 600], ids=["per-sample kernels", "GEMM batches"])
def test_eight_threads_predicting_on_one_model_agree_with_serial(dtype, n_rows):
    X, y = synthetic_data(600, 12, 4, seed=0)
    net = fastnn.Network(hidden=(40, 20), epochs=2, learning_rate=0.1, random_state=0, dtype=dtype).fit(X, y)
    X, y = X[:n_rows], y[:n_rows]
    expected_proba, expected_loss = net.predict_proba(X), net.loss(X, y)
    expected_sparse = net.predict_proba(sp.csr_matrix(X))
    start = threading.Barrier(8)

    def predict_repeatedly(_):
        start.wait()
        return [(net.predict_proba(X), net.loss(X, y), net.predict_proba(sp.csr_matrix(X))) for _ in range(4)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(predict_repeatedly, range(8)))
    for runs in results:
        for proba, loss, proba_sparse in runs:
            np.testing.assert_array_equal(proba, expected_proba)
            assert loss == expected_loss
            np.testing.assert_array_equal(proba_sparse, expected_sparse)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_fit_releases_the_gil_while_the_engine_trains(batch_size, monkeypatch):
    """While fit runs in a thread, this thread keeps running and sees the weights change in the
    middle of engine calls: with the GIL held through each call it could only run between calls,
    and so could see at most one new weight vector per call.

    Robust on a busy machine by construction: every engine call is counted as it starts and
    ends, and the test asks only whether this thread ever ran *inside* a call and saw the
    weights move there, however few times the scheduler let it run. A call that held the GIL
    could show this thread two sums at most while counted as running (just before the C code
    starts and just after it returns), so three distinct sums mean the C code let it run."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((60000, 20)), np.arange(60000) % 3
    epochs = 2
    net = fastnn.Network(hidden=(32,), epochs=epochs, learning_rate=0.05, random_state=0, batch_size=batch_size)
    net.fit(X[:50], y[:50])  # imports and first-call set-up done here, not in the race below
    calls = {"started": 0, "ended": 0}
    for name in ("sgd_epoch", "minibatch_epoch"):
        def counted(*args, _engine_call=getattr(_core, name), **kwargs):
            calls["started"] += 1
            try:
                return _engine_call(*args, **kwargs)
            finally:
                calls["ended"] += 1
        monkeypatch.setattr(_core, name, counted)
    monkeypatch.setattr(_core, "WORK_PER_CHUNK", 1 << 40)  # one long engine call per epoch
    worker = threading.Thread(target=net.fit, args=(X, y))
    seen_inside = {}  # engine call -> the distinct weight sums this thread saw while it ran
    worker.start()
    while worker.is_alive():
        started, ended = calls["started"], calls["ended"]
        flat = net.__dict__.get("_flat")
        if flat is None or started != ended + 1:
            continue
        total = float(flat.sum())
        if calls["started"] == started and calls["ended"] == ended:  # still inside that call
            seen_inside.setdefault(started, set()).add(total)
    worker.join()
    assert net.n_epochs_ == epochs and net.weights_[0].shape == (32, 21)
    assert calls["started"] == calls["ended"] == epochs
    assert any(len(sums) >= 3 for sums in seen_inside.values()), seen_inside


def test_two_threads_fitting_one_instance_either_refuse_or_serialise():
    """The second fit starts while the first is paused in its callback after epoch 1: it must be
    refused with RuntimeError or wait; the instance must end as one complete fit."""
    X, y = synthetic_data(300, 6, 3, seed=2)
    params = dict(hidden=(5,), epochs=4, learning_rate=0.1, random_state=0)
    reference = fastnn.Network(**params).fit(X, y)
    net = fastnn.Network(**params)
    first_paused, second_done = threading.Event(), threading.Event()
    errors = {}

    def pause_once(_):
        if not first_paused.is_set():
            first_paused.set()
            second_done.wait(timeout=3)  # a lock that serialises fits keeps the second waiting

    def first():
        try:
            net.fit(X, y, callback=pause_once)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors["first"] = error

    def second():
        first_paused.wait(timeout=60)
        try:
            net.fit(X, y)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors["second"] = error
        finally:
            second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert "first" not in errors, errors
    if "second" in errors:
        assert isinstance(errors["second"], RuntimeError), errors
        assert "fit" in str(errors["second"])
    assert net.n_epochs_ == 4
    assert net.history_["train_loss"] == reference.history_["train_loss"]
    assert_same_weights(net.weights_, reference.weights_)
    np.testing.assert_array_equal(net.predict_proba(X), reference.predict_proba(X))


def _independent_problems():
    X, y = synthetic_data(400, 10, 3, seed=3)
    X_sparse = X.copy()
    X_sparse[X_sparse < 0.5] = 0
    X2, y2 = synthetic_data(300, 6, 2, seed=4)
    return [
        (dict(hidden=(12,), epochs=3, learning_rate=0.1, random_state=0), X, y),
        (dict(hidden=(8, 6), epochs=3, learning_rate=0.1, random_state=1, dtype="float32", shuffle=True), X, y),
        (dict(hidden=(10,), epochs=3, learning_rate=0.1, random_state=2, l2=0.01), sp.csr_matrix(X_sparse), y),
        (dict(hidden=(10,), epochs=3, learning_rate=0.2, random_state=3, batch_size=8), X, y),
        (dict(hidden=(4,), epochs=3, learning_rate=0.1, random_state=4, output="sigmoid"), X2, y2),
    ]


def test_separate_instances_fitted_in_parallel_threads_equal_their_serial_fits():
    problems = _independent_problems()
    serial = [fastnn.Network(**params).fit(X, y) for params, X, y in problems]
    start = threading.Barrier(len(problems))

    def fit(problem):
        params, X, y = problem
        start.wait()
        return fastnn.Network(**params).fit(X, y)

    with ThreadPoolExecutor(len(problems)) as pool:
        parallel = list(pool.map(fit, problems))
    for (_, X, _), a, b in zip(problems, parallel, serial):
        assert_same_weights(a.weights_, b.weights_)
        assert a.history_ == b.history_
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# ------------------------------------------------------------------------------------- memory


def _resident_bytes():
    """This process's resident memory (Linux /proc), or None where unavailable."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def test_an_exception_from_the_callback_1000_times_does_not_leak():
    X, y = synthetic_data(30, 5, 3, seed=5)

    def stop(_):
        raise RuntimeError("stop here")

    def fail_fits(times):
        for _ in range(times):
            net = fastnn.Network(hidden=(4,), epochs=3, random_state=0)
            try:
                net.fit(X, y, callback=stop)
            except RuntimeError as error:
                assert str(error) == "stop here"
            else:
                raise AssertionError("the callback's exception did not propagate")

    fail_fits(50)  # warm up caches and allocators
    gc.collect()
    rss_before = _resident_bytes()
    tracemalloc.start()
    try:
        traced_before = tracemalloc.get_traced_memory()[0]
        fail_fits(1000)
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
    finally:
        tracemalloc.stop()
    assert traced_growth < 256 * 1024, f"Python allocations grew by {traced_growth} bytes"
    # Under AddressSanitizer (tools/sanitize.sh) freed memory sits in ASan's quarantine, so the
    # resident size grows by design; ASan's own leak and use-after-free checks stand in there.
    under_asan = "libasan" in os.environ.get("LD_PRELOAD", "")
    if rss_before is not None and not under_asan:
        rss_growth = _resident_bytes() - rss_before
        assert rss_growth < 4 * 2**20, f"resident memory grew by {rss_growth / 2**20:.1f} MB"
    # and the network the exception passed through can be freed
    net = fastnn.Network(hidden=(4,), epochs=3)
    with pytest.raises(RuntimeError):
        net.fit(X, y, callback=stop)
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is None


# ------------------------------------------------------------------------------------- numerical extremes

DTYPES = ["float64", "float32"]
EXTREME_LOGITS = [36.0, 88.8, 709.8, 1e4]


def _softplus(a):
    """log(1 + e^a), exactly in double for any a."""
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _logsumexp(b):
    m = max(b)
    return m + math.log(sum(math.exp(v - m) for v in b))


def _as(dtype, value):
    return float(np.asarray(value, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("logit", [s * a for a in EXTREME_LOGITS for s in (1, -1)])
def test_sigmoid_output_at_extreme_logits(dtype, logit):
    net = fastnn.Network.from_weights([np.array([[0.0, logit]])], output="sigmoid", dtype=dtype)
    X = np.ones((1, 1))
    a = _as(dtype, logit)
    with no_floating_point_warnings():
        proba = net.predict_proba(X)
        losses = [net.loss(X, [label]) for label in (0, 1)]
    assert_probabilities(proba, dtype)
    rtol = 1e-12 if dtype == "float64" else 1e-6
    assert proba[0, 1] == pytest.approx(1 / (1 + math.exp(-a)) if a >= 0 else math.exp(a) / (1 + math.exp(a)),
                                        rel=rtol, abs=1e-300)
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[0] == pytest.approx(_softplus(a), rel=rtol, abs=1e-300)
    assert losses[1] == pytest.approx(_softplus(-a), rel=rtol, abs=1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("magnitude", EXTREME_LOGITS)
def test_softmax_output_at_extreme_logits(dtype, magnitude):
    # logits [a, 0, -a] for x = 1
    net = fastnn.Network.from_weights([np.array([[0.0, magnitude], [0.0, 0.0], [0.0, -magnitude]])], dtype=dtype)
    X = np.ones((1, 1))
    b = [_as(dtype, magnitude), 0.0, -_as(dtype, magnitude)]
    with no_floating_point_warnings():
        proba = net.predict_proba(X)
        losses = [net.loss(X, [label]) for label in (0, 1, 2)]
    assert_probabilities(proba, dtype)
    rtol = 1e-12 if dtype == "float64" else 1e-6
    for label in (0, 1, 2):
        assert math.isfinite(losses[label])
        assert losses[label] == pytest.approx(_logsumexp(b) - b[label], rel=rtol, abs=1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_1000_and_1_and_of_equal_huge_logits(dtype):
    rtol = 1e-12 if dtype == "float64" else 1e-6
    X = np.zeros((1, 1))  # logits = biases
    wide = fastnn.Network.from_weights([np.array([[1000.0, 0.0], [1.0, 0.0]])], dtype=dtype)
    equal = fastnn.Network.from_weights([np.array([[1e4, 0.0], [1e4, 0.0], [1e4, 0.0]])], dtype=dtype)
    with no_floating_point_warnings():
        proba_wide, proba_equal = wide.predict_proba(X), equal.predict_proba(X)
        # the true class's probability e^-999 underflows to 0; the loss from the logits does not
        loss_underflow = wide.loss(X, [1])
        loss_equal = equal.loss(X, [2])
    assert_probabilities(proba_wide, dtype)
    assert proba_wide[0, 0] == 1.0
    assert_probabilities(proba_equal, dtype)
    np.testing.assert_allclose(proba_equal, 1 / 3, rtol=rtol)
    assert loss_underflow == pytest.approx(999.0, rel=rtol)
    assert loss_equal == pytest.approx(math.log(3), rel=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("magnitude", EXTREME_LOGITS)
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_training_through_saturated_units_stays_finite(dtype, magnitude, output):
    """Hidden units at +-magnitude (fully saturated) and output logits of that size: an epoch of
    SGD from there keeps the weights and the losses finite."""
    W1 = np.array([[0.0, magnitude], [0.0, -magnitude], [magnitude, 0.0]])
    W2 = np.array([[0.0, magnitude, -magnitude, 1.0]]) if output == "sigmoid" else \
        np.array([[0.0, magnitude, -magnitude, 1.0], [0.0, -magnitude, magnitude, -1.0]])
    X = np.array([[1.0], [-1.0], [0.5], [-0.25]])
    y = np.array([0, 1, 1, 0])
    net = fastnn.Network(hidden=(3,), output=output, init=[W1, W2], learning_rate=0.5, epochs=2, l2=0.001,
                         dtype=dtype)
    with no_floating_point_warnings():
        net.fit(X, y)
        proba = net.predict_proba(X)
    assert all(np.isfinite(W).all() for W in net.weights_)
    assert np.isfinite(net.history_["train_loss"]).all()
    assert_probabilities(proba, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_logits_that_overflow_still_give_probabilities_and_a_loss(dtype, output):
    big = float(np.finfo(dtype).max) / 2
    W = np.array([[0.0, 4.0]]) if output == "sigmoid" else np.array([[0.0, 4.0], [0.0, 0.0]])
    net = fastnn.Network.from_weights([W], output=output, dtype=dtype)
    X = np.array([[big]])  # logit 4 * big = +inf in the dtype
    proba = net.predict_proba(X)
    np.testing.assert_array_equal(proba, [[0.0, 1.0]] if output == "sigmoid" else [[1.0, 0.0]])
    assert net.loss(X, [1 if output == "sigmoid" else 0]) == 0.0  # the certain, correct class


def test_a_fit_whose_loss_overflows_is_reported_as_diverged():
    net = fastnn.Network(hidden=(), init="zeros", learning_rate=0.1, epochs=1)
    X = np.array([[1e200]])
    try:
        net.fit(X, [1])
    except ValueError as error:
        assert "diverged" in str(error)
        return
    assert np.isfinite(net.history_["train_loss"]).all(), net.history_
    assert_probabilities(net.predict_proba(X), "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [(), (4,)])
@pytest.mark.parametrize("case", ["constant columns", "all zero", "subnormal", "1e150"])
def test_degenerate_inputs_never_give_nan_weights(dtype, hidden, case):
    X, y = synthetic_data(40, 4, 3, seed=6)
    if case == "constant columns":
        X[:, 1], X[:, 3] = 3.0, -7.5
    elif case == "all zero":
        X = np.zeros_like(X)
    elif case == "subnormal":
        X = np.sign(X) * float(np.finfo(dtype).smallest_subnormal)
    else:
        X = X * 1e150
    net = fastnn.Network(hidden=hidden, epochs=3, learning_rate=0.1, random_state=0, dtype=dtype)
    if case == "1e150" and dtype == "float32":
        with warnings.catch_warnings(), pytest.raises(ValueError, match="too large|infinity"):
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "overflow encountered in cast"
            net.fit(X, y)  # not representable in float32: refused, not silently infinite
        return
    try:
        net.fit(X, y)
    except ValueError as error:
        # only huge inputs may legitimately make SGD diverge, and that must be said
        assert case == "1e150" and "diverged" in str(error), error
        return
    assert all(np.isfinite(W).all() for W in net.weights_)
    assert np.isfinite(net.history_["train_loss"]).all()
    assert_probabilities(net.predict_proba(X), dtype)


# ------------------------------------------------------------------------------------- determinism

_DIGESTS = textwrap.dedent(r'''
    import hashlib
    import numpy as np
    import scipy.sparse as sp
    import fastnn
    from conftest import synthetic_data

    def run_digests():
        """sha256 of the weights, loss curves and probabilities of a few seeded fits."""
        X, y = synthetic_data(400, 12, 3, seed=7)
        X_val, y_val = synthetic_data(100, 12, 3, seed=8)
        X_sparse = np.where(X > 0.3, X, 0.0)
        runs = {
            "float64": (dict(), X),
            "float32": (dict(dtype="float32"), X),
            "mini-batch": (dict(batch_size=8), X),
            "sparse": (dict(), sp.csr_matrix(X_sparse)),
        }
        digests = {}
        for name, (extra, X_train) in runs.items():
            net = fastnn.Network(hidden=(16, 8), epochs=3, learning_rate=0.1, shuffle=True, random_state=0,
                                 l2=0.001, **extra).fit(X_train, y, X_val, y_val)
            h = hashlib.sha256()
            for W in net.weights_:
                h.update(W.tobytes())
            h.update(np.array(net.history_["train_loss"] + net.history_["val_loss"]).tobytes())
            h.update(net.predict_proba(X_val).tobytes())
            h.update(net.predict_proba(X_val[:5]).tobytes())
            digests[name] = h.hexdigest()
        return digests
''')


def _digests_here():
    namespace = {}
    exec(compile(_DIGESTS, "<digests>", "exec"), namespace)
    return namespace["run_digests"]()


def _digests_in_a_fresh_process(threads, hash_seed):
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "PYTHONPATH": os.pathsep.join(
        [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        env[variable] = str(threads)
    code = _DIGESTS + "\nimport json\nprint(json.dumps(run_digests()))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=CHILD_TIMEOUT, cwd=TESTS_DIR)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_same_seed_gives_bitwise_identical_runs_across_processes_and_thread_settings():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    reference = _digests_here()
    with threadpoolctl.threadpool_limits(limits=1):
        assert _digests_here() == reference
    with threadpoolctl.threadpool_limits(limits=2):
        assert _digests_here() == reference
    assert _digests_in_a_fresh_process(threads=1, hash_seed=0) == reference
    assert _digests_in_a_fresh_process(threads=2, hash_seed=12345) == reference


# ------------------------------------------------------------------------------------- inputs


def test_read_only_memmaps_train_and_predict_like_in_memory_arrays(tmp_path):
    X, y = synthetic_data(200, 8, 3, seed=9)
    X_val, y_val = synthetic_data(50, 8, 3, seed=10)
    arrays = {"X": X, "y": y, "X_val": X_val, "y_val": y_val, "X32": X.astype(np.float32)}
    mapped = {}
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
        mapped[name] = np.load(tmp_path / f"{name}.npy", mmap_mode="r")
        assert isinstance(mapped[name], np.memmap) and not mapped[name].flags.writeable
    for dtype, X_key in (("float64", "X"), ("float32", "X32"), ("float64", "X32")):
        params = dict(hidden=(6,), epochs=2, learning_rate=0.1, random_state=0, dtype=dtype)
        expected = fastnn.Network(**params).fit(arrays[X_key], y, X_val, y_val)
        got = fastnn.Network(**params).fit(mapped[X_key], mapped["y"], mapped["X_val"], mapped["y_val"])
        assert_same_weights(got.weights_, expected.weights_)
        assert got.history_ == expected.history_
        np.testing.assert_array_equal(got.predict_proba(mapped[X_key]), expected.predict_proba(arrays[X_key]))
        assert got.loss(mapped["X_val"], mapped["y_val"]) == expected.loss(X_val, y_val)


def _fingerprint(value):
    """sha256 over everything that makes up an array, a sparse matrix or a list of arrays."""
    h = hashlib.sha256()
    if sp.issparse(value):
        for part in (value.data, value.indices, value.indptr):
            h.update(repr((part.dtype.str, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        h.update(repr(value.shape).encode())
    elif isinstance(value, list):
        for item in value:
            h.update(_fingerprint(item).encode())
    else:
        array = np.asarray(value)
        h.update(repr((array.dtype.str, array.shape, array.strides)).encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _non_canonical_csr(X, duplicates):
    """X as CSR whose column indices are unsorted within rows (and, optionally, split into duplicates)."""
    rows, cols = np.nonzero(X)
    values = X[rows, cols]
    if duplicates:  # every entry stored as two halves
        rows, cols, values = np.repeat(rows, 2), np.repeat(cols, 2), np.repeat(values / 2, 2)
    order = np.lexsort((-cols, rows))  # columns descending within each row
    indptr = np.searchsorted(rows[order], np.arange(X.shape[0] + 1))
    matrix = sp.csr_matrix((values[order], cols[order].astype(np.int32), indptr.astype(np.int32)), shape=X.shape)
    assert not matrix.has_canonical_format
    np.testing.assert_allclose(matrix.toarray(), X)
    return matrix


@pytest.mark.parametrize("form", [
    "float64", "float32", "fortran", "csr",
    "csr unsorted",
    "csr duplicates",
])
def test_fit_and_predict_leave_every_input_unchanged(form):
    X, y = synthetic_data(60, 6, 3, seed=11)
    X_val, y_val = synthetic_data(20, 6, 3, seed=12)
    X[X < 0.2] = 0.0
    inputs = {
        "float64": X, "float32": X.astype(np.float32), "fortran": np.asfortranarray(X), "csr": sp.csr_matrix(X),
        "csr unsorted": _non_canonical_csr(X, duplicates=False),
        "csr duplicates": _non_canonical_csr(X, duplicates=True),
    }
    X_in = inputs[form]
    init = [np.random.default_rng(0).normal(size=shape) for shape in [(5, 7), (3, 6)]]
    everything = {"X": X_in, "y": y, "X_val": X_val, "y_val": y_val, "init": init}
    before = {name: _fingerprint(value) for name, value in everything.items()}
    net = fastnn.Network(hidden=(5,), init=init, epochs=2, learning_rate=0.1).fit(X_in, y, X_val, y_val)
    net.predict(X_in)
    net.predict_proba(X_in)
    net.loss(X_in, y)
    after = {name: _fingerprint(value) for name, value in everything.items()}
    assert after == before


def test_read_only_non_canonical_csr_is_accepted():
    X, y = synthetic_data(40, 5, 3, seed=13)
    X[X < 0.2] = 0.0
    matrix = _non_canonical_csr(X, duplicates=True)
    for part in (matrix.data, matrix.indices, matrix.indptr):
        part.flags.writeable = False
    expected = fastnn.Network(hidden=(4,), epochs=2, random_state=0).fit(sp.csr_matrix(X), y)
    got = fastnn.Network(hidden=(4,), epochs=2, random_state=0).fit(matrix, y)
    for W_a, W_e in zip(got.weights_, expected.weights_):
        np.testing.assert_allclose(W_a, W_e, rtol=1e-12, atol=1e-15)


def test_estimator_leaves_sample_weight_and_sparse_input_unchanged():
    from fastnn import MLPClassifier

    X, y = synthetic_data(60, 6, 3, seed=14)
    X[X < 0.2] = 0.0
    X_in = _non_canonical_csr(X, duplicates=True)
    for dtype in ("float64", "float32"):
        sample_weight = np.linspace(0.5, 2.0, len(y)).astype(dtype)
        before = (_fingerprint(X_in), _fingerprint(y), _fingerprint(sample_weight))
        model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, dtype=dtype, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning
            model.fit(X_in, y, sample_weight=sample_weight)
        model.predict_proba(X_in)
        assert (_fingerprint(X_in), _fingerprint(y), _fingerprint(sample_weight)) == before
