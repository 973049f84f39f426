"""The training core (fastnn._training): one set of rules for every front end.

The rules are tested on ``run_epochs`` itself with a stand-in epoch, then through Network and
MLPClassifier: Ctrl-C, divergence (non-finite and absurd losses), callbacks, threads, and the
sizes a fit derives from its input (batch size, number of classes).
"""

import fractions
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import fastnn
from conftest import synthetic_data
from fastnn import _engine, _training


def counting_epochs(W, *, interrupt_in=None, interrupt_after=None, diverge_in=None, loss=1.0):
    """A stand-in ``run_epoch``/``after_epoch`` pair: epoch e adds e to every weight."""
    log = []

    def run_epoch(epoch):
        W[:] += epoch
        if epoch == interrupt_in:
            raise KeyboardInterrupt
        if epoch == diverge_in:
            W[0] = np.nan
        return [loss]

    def after_epoch(epoch, losses):
        log.append(epoch)
        if epoch == interrupt_after:
            raise KeyboardInterrupt
        return False

    return run_epoch, after_epoch, log


def test_ctrl_c_inside_an_epoch_puts_the_weights_back_to_the_last_completed_one():
    W = np.zeros(3)
    run_epoch, after_epoch, log = counting_epochs(W, interrupt_in=3)
    outcome = _training.run_epochs(W, 10, run_epoch, after_epoch)
    assert outcome == _training.Outcome(n_epochs=2, interrupted=True)
    np.testing.assert_array_equal(W, 1 + 2)
    assert log == [1, 2]


def test_ctrl_c_after_a_completed_epoch_keeps_it():
    W = np.zeros(3)
    run_epoch, after_epoch, log = counting_epochs(W, interrupt_after=2)
    outcome = _training.run_epochs(W, 10, run_epoch, after_epoch)
    assert outcome == _training.Outcome(n_epochs=2, interrupted=True)
    np.testing.assert_array_equal(W, 1 + 2)


@pytest.mark.parametrize("loss, diverge_in", [(1.0, 2), (np.inf, None), (1e300, None)],
                         ids=["NaN weight", "infinite loss", "absurd loss"])
def test_divergence_restores_the_last_completed_epoch_and_names_the_epoch(loss, diverge_in):
    W = np.zeros(3)
    run_epoch, after_epoch, log = counting_epochs(W, diverge_in=diverge_in, loss=loss)
    with pytest.raises(_training.Diverged, match=f"diverged at epoch {diverge_in or 1}") as caught:
        _training.run_epochs(W, 10, run_epoch, after_epoch)
    assert caught.value.epoch == (diverge_in or 1)
    np.testing.assert_array_equal(W, 1 if diverge_in == 2 else 0)
    assert log == ([1] if diverge_in == 2 else [])


def test_after_epoch_stops_the_loop_and_its_exceptions_propagate():
    W = np.zeros(1)
    assert _training.run_epochs(W, 10, lambda e: [0.5], lambda e, losses: e == 4) == _training.Outcome(4, False)

    def fails(epoch, losses):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        _training.run_epochs(W, 10, lambda e: [0.5], fails)


def test_the_absurd_loss_is_one_over_the_precision():
    assert _training.absurd_loss(np.float64) == 2.0**52
    assert _training.absurd_loss(np.float32) == 2.0**23


# ------------------------------------------------------------------------------------- front ends


def test_an_absurd_learning_rate_is_divergence_with_the_weights_of_the_epoch_before():
    X, y = synthetic_data(60, 5, 3, seed=0)
    net = fastnn.Network(hidden=(4,), learning_rate=1e300, epochs=3, random_state=0)
    with pytest.raises(ValueError, match="diverged at epoch 1"):
        net.fit(X, y)
    # nothing was completed: the network holds its initial weights, finite, and no history
    initial = _training.initial_weights([5, 4, 3], "uniform", np.random.default_rng(0), np.float64)
    for W, W0 in zip(net.weights_, initial):
        np.testing.assert_array_equal(W, W0)
    assert net.n_epochs_ == 0 and net.history_["train_loss"] == []


def test_the_estimator_reports_an_absurd_learning_rate_as_divergence():
    X, y = synthetic_data(60, 5, 3, seed=0)
    with pytest.raises(ValueError, match="diverged in epoch 1"):
        fastnn.MLPClassifier(hidden_layer_sizes=(4,), learning_rate_init=1e300, max_iter=3).fit(X, y)


def test_a_batch_larger_than_the_data_is_the_data():
    X, y = synthetic_data(100, 2, 2, seed=1)
    params = dict(hidden=(3,), epochs=2, random_state=0, learning_rate=0.1)
    with pytest.warns(UserWarning, match="clipped"):
        huge = fastnn.Network(batch_size=2**62, **params).fit(X, y)
    whole = fastnn.Network(batch_size=100, **params).fit(X, y)
    for W_huge, W_whole in zip(huge.weights_, whole.weights_):
        np.testing.assert_array_equal(W_huge, W_whole)


def test_one_stray_label_does_not_build_a_huge_softmax():
    with pytest.raises(ValueError, match="only 2 different labels occur"):
        fastnn.Network(hidden=(2,)).fit([[0, 1], [1, 0]], [0, 30_000_000])
    # many classes that do occur are fine
    X = np.eye(1200)
    assert fastnn.Network(hidden=(), epochs=1).fit(X, np.arange(1200)).n_classes_ == 1200


def test_rational_hyperparameters_are_numbers():
    X, y = synthetic_data(30, 3, 2, seed=2)
    exact = fastnn.Network(hidden=(2,), epochs=1, learning_rate=0.5, l2=0.25, random_state=0).fit(X, y)
    rational = fastnn.Network(hidden=(2,), epochs=1, learning_rate=fractions.Fraction(1, 2),
                              l2=fractions.Fraction(1, 4), random_state=0).fit(X, y)
    for W_a, W_b in zip(exact.weights_, rational.weights_):
        np.testing.assert_array_equal(W_a, W_b)


def test_a_thread_that_cannot_start_stops_the_threads_already_running(monkeypatch):
    X, y = synthetic_data(4000, 8, 3, seed=3)
    net = fastnn.Network(hidden=(16,), epochs=1, n_jobs=3, random_state=0)
    real_start, started = threading.Thread.start, []

    def start_one_then_fail(thread):
        if started:
            raise RuntimeError("can't start new thread")
        started.append(thread)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_one_then_fail)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        net.fit(X, y)
    assert len(started) == 1 and not started[0].is_alive()  # joined before fit raised


def test_an_error_in_a_hogwild_thread_reaches_the_caller(monkeypatch):
    X, y = synthetic_data(4000, 8, 3, seed=3)
    real_epoch = _engine._core.sgd_epoch

    def fails_off_the_main_thread(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            raise MemoryError("worker out of memory")
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(_engine._core, "sgd_epoch", fails_off_the_main_thread)
    with pytest.raises(MemoryError, match="worker"):
        fastnn.Network(hidden=(16,), epochs=1, n_jobs=2, random_state=0).fit(X, y)


def test_two_threads_fitting_one_estimator_refuse_the_second():
    X, y = synthetic_data(300, 6, 3, seed=2)
    model = fastnn.MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    inside, release = threading.Event(), threading.Event()
    real_epoch = _engine.sgd_epoch
    errors = []

    def paused_epoch(*args, **kwargs):
        inside.set()
        release.wait(timeout=30)
        return real_epoch(*args, **kwargs)

    def first_fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)

    _engine.sgd_epoch = paused_epoch
    try:
        worker = threading.Thread(target=first_fit)
        worker.start()
        assert inside.wait(timeout=30)
        try:
            model.fit(X[:50], y[:50])
        except RuntimeError as error:
            errors.append(error)
        release.set()
        worker.join()
    finally:
        _engine.sgd_epoch = real_epoch
    assert errors and "already being fitted" in str(errors[0])
    assert model.n_features_in_ == 6 and model.n_iter_ == 3 and len(model.loss_curve_) == 3


def test_gradcheck_works_on_float32_networks():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(4, 4)), rng.normal(size=(3, 5))]
    net = fastnn.Network.from_weights(weights, dtype="float32")
    errors = fastnn.gradcheck(net, [0.5, -1.0, 2.0], 2)
    assert len(errors) == 2 and max(errors) < 1e-6


def test_network_fits_without_loading_scikit_learn_or_scipy_sparse():
    code = ("import sys, numpy as np, fastnn\n"
            "fastnn.Network(hidden=(3,), epochs=1).fit(np.random.rand(100, 10), np.arange(100) % 2)\n"
            "print(sorted(m for m in ('sklearn', 'scipy.sparse', 'scipy.stats', 'matplotlib', 'fastnn.autodiff')"
            " if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_gradcheck_calls_a_saturated_layer_inconclusive_not_failed():
    """1000 inputs into 2 sigmoid units saturate them: first-layer gradients of ~1e-13, below the
    central differences' rounding noise; the check says so instead of reporting a failure."""
    from fastnn.gradcheck import check_layers

    rng = np.random.default_rng(0)
    sizes = [1000, 2, 3]
    net = fastnn.Network.from_weights([rng.normal(size=(n_out, n_in + 1)) for n_in, n_out in zip(sizes[:-1], sizes[1:])])
    first, last = check_layers(net, rng.normal(size=1000), 1)
    assert not first.conclusive(1e-6) and first.scale < first.noise
    assert last.conclusive(1e-6) and last.error < 1e-6
    # an ordinary network is conclusive everywhere and passes
    net = fastnn.Network.from_weights([rng.normal(size=(5, 7)), rng.normal(size=(3, 6))])
    checks = check_layers(net, rng.normal(size=6), 1)
    assert all(check.conclusive(1e-6) and check.error < 1e-6 for check in checks)


def test_an_error_inside_an_epoch_rolls_it_back_and_propagates():
    W = np.zeros(3)

    def run_epoch(epoch):
        W[:] += epoch
        if epoch == 2:
            raise MemoryError("out of memory in the middle of epoch 2")
        return [1.0]

    with pytest.raises(MemoryError, match="epoch 2"):
        _training.run_epochs(W, 5, run_epoch, lambda epoch, losses: False)
    np.testing.assert_array_equal(W, 1)


def test_nan_weights_set_after_fitting_are_named_as_such():
    X, y = synthetic_data(40, 3, 2, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastnn.MLPClassifier(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
    model.coefs_[0][0, 0] = np.nan  # coefs_ are views of the weights
    with pytest.raises(ValueError, match="weights contain NaN or infinity"):
        model.predict(X)
