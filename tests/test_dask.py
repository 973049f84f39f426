"""fastnn on dask: grid search on a local cluster, fits streamed from dask arrays, data-parallel fits."""

import concurrent.futures
import contextlib
import functools
import logging
import os
import signal
import threading
import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from conftest import synthetic_data
from fastnn.estimator import MLPClassifier, sklearn_initial_weights

distributed = pytest.importorskip("dask.distributed", reason="dask.distributed is not installed")
import dask  # noqa: E402  (installed with dask.distributed)

GRID = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(5,), (10,)]}


@contextlib.contextmanager
def local_client(n_workers=2, processes=False, silence_logs=logging.ERROR, set_as_default=True):
    """A client of a ``LocalCluster`` of ``n_workers`` one-thread workers (processes or threads of
    this process), closed with its cluster on exit."""
    with distributed.LocalCluster(n_workers=n_workers, processes=processes, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=silence_logs) as cluster, \
            distributed.Client(cluster, set_as_default=set_as_default) as client:
        yield client


def search():
    model = MLPClassifier(learning_rate_init=0.1, max_iter=15, random_state=0)
    return GridSearchCV(model, GRID, cv=3)


def test_grid_search_on_a_local_dask_cluster_matches_the_serial_search():
    X, y = synthetic_data(150, 6, 3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = search().fit(X, y)
    with local_client(processes=True) as client:
        with joblib.parallel_backend("dask"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            on_cluster = search().fit(X, y)
        assert len(client.scheduler_info()["workers"]) == 2
    # every fit is seeded, so where it ran does not change what it learned
    np.testing.assert_array_equal(on_cluster.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert on_cluster.best_params_ == serial.best_params_
    np.testing.assert_array_equal(on_cluster.predict_proba(X), serial.predict_proba(X))


# ------------------------------------------------------------------ training on dask arrays


def dask_problem(n=2400, m=8, k=3, chunk=500, seed=0):
    import dask.array as da

    X, y = synthetic_data(n, m, k, seed=seed)
    return X, y, da.from_array(X, chunks=(chunk, m)), da.from_array(y, chunks=chunk)


def quiet_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_dask_array_in_order_trains_exactly_as_the_array_in_memory(dtype):
    X, y, Xd, yd = dask_problem()
    params = dict(hidden_layer_sizes=(7,), max_iter=4, random_state=0, shuffle=False, dtype=dtype)
    streamed = quiet_fit(MLPClassifier(**params), Xd, yd)
    in_memory = quiet_fit(MLPClassifier(**params), X, y)
    for a, b in zip(streamed.coefs_ + streamed.intercepts_, in_memory.coefs_ + in_memory.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(streamed.loss_curve_, in_memory.loss_curve_, rtol=1e-12)
    assert streamed.n_features_in_ == 8 and list(streamed.classes_) == [0, 1, 2] and streamed.n_iter_ == 4


@pytest.mark.parametrize("X_dtype, expected", [(np.float32, np.float32), (np.float64, np.float64),
                                               (np.int64, np.float64)])
def test_dtype_none_follows_the_dask_array_as_in_memory(X_dtype, expected):
    import dask.array as da

    X, y, _, yd = dask_problem(n=600, chunk=200)
    X = (X * 4).astype(X_dtype)
    params = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0, shuffle=False)
    streamed = quiet_fit(MLPClassifier(**params), da.from_array(X, chunks=(200, X.shape[1])), yd)
    in_memory = quiet_fit(MLPClassifier(**params), X, y)
    assert streamed.coefs_[0].dtype == in_memory.coefs_[0].dtype == expected
    np.testing.assert_array_equal(streamed.coefs_[0], in_memory.coefs_[0])


def test_a_dask_dataframe_and_shuffled_blocks_train_reproducibly():
    dd = pytest.importorskip("dask.dataframe", reason="dask.dataframe needs pandas")
    import pandas as pd

    X, y, Xd, yd = dask_problem()
    frame = dd.from_pandas(pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]), npartitions=4)
    labels = dd.from_pandas(pd.Series(np.array(["a", "b", "c"])[y]), npartitions=4)
    first = quiet_fit(MLPClassifier(hidden_layer_sizes=(7,), max_iter=5, random_state=3), frame, labels)
    again = quiet_fit(MLPClassifier(hidden_layer_sizes=(7,), max_iter=5, random_state=3), frame, labels)
    np.testing.assert_array_equal(first.coefs_[0], again.coefs_[0])
    assert list(first.classes_) == ["a", "b", "c"] and first.score(X, np.array(["a", "b", "c"])[y]) > 0.8


def test_dask_blocks_are_computed_one_at_a_time_in_order():
    import dask
    import dask.array as da

    X, y = synthetic_data(600, 4, 2, seed=1)
    computed = []

    def block(i):
        computed.append(i)
        return X[200 * i : 200 * (i + 1)]

    Xd = da.concatenate([da.from_delayed(dask.delayed(block)(i), (200, 4), X.dtype) for i in range(3)])
    yd = da.from_array(y, chunks=200)
    quiet_fit(MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, shuffle=False, random_state=0, tol=0), Xd, yd)
    assert computed == [0, 1, 2, 0, 1, 2]


def test_partial_fit_on_a_dask_array_is_one_pass_over_its_blocks():
    X, y, Xd, yd = dask_problem()
    streamed = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, shuffle=False).partial_fit(Xd, yd, classes=[0, 1, 2])
    in_memory = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, shuffle=False).partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(streamed.coefs_[0], in_memory.coefs_[0])


def test_bad_dask_input_is_refused_with_the_fix():
    import dask.array as da

    X, y, Xd, yd = dask_problem()
    cases = [
        (dict(), da.from_array(X, chunks=(500, 4)), yd, r"X.rechunk\(\{1: -1\}\)"),
        (dict(), Xd, da.from_array(y, chunks=700), r"y.rechunk\(X.chunks\[0\]\)"),
        (dict(), Xd[Xd[:, 0] > 0], yd[Xd[:, 0] > 0], "compute_chunk_sizes"),
        (dict(early_stopping=True), Xd, yd, "early_stopping"),
        (dict(class_weight="balanced"), Xd, yd, "class_weight"),
    ]
    for params, X_bad, y_bad, message in cases:
        with pytest.raises(ValueError, match=message):
            MLPClassifier(max_iter=1, **params).fit(X_bad, y_bad)
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier(max_iter=1).fit(Xd, yd, sample_weight=np.ones(len(y)))


def test_data_parallel_training_on_a_local_cluster_learns_as_the_serial_fit():
    import fastnn.dask

    X, y, Xd, yd = dask_problem(n=4000, chunk=1000)
    params = dict(hidden_layer_sizes=(12,), max_iter=8, random_state=0, learning_rate_init=0.05)
    with local_client(processes=True) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = fastnn.dask.fit(MLPClassifier(**params), Xd, yd, client=client)
    serial = quiet_fit(MLPClassifier(**params), X, y)
    assert model.n_iter_ == 8 and len(model.loss_curve_) == 8
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.score(X, y) > serial.score(X, y) - 0.03


_WORKER_CALLS = []


def _fails_in_the_second_epoch(*args):
    """A worker epoch that fails after two calls (module level: a worker thread finds this very
    function, and its call list, by name)."""
    _WORKER_CALLS.append(1)
    if len(_WORKER_CALLS) > 2:  # the third task
        raise OSError("worker lost its disk")
    return _real_worker_epoch(*args)


@pytest.mark.parametrize("blocks_per_round, completed", [(None, 1), (1, 0)],
                         ids=["fails in epoch 2", "fails in the second round of epoch 1"])
def test_a_failed_worker_epoch_keeps_the_last_averaged_model(monkeypatch, blocks_per_round, completed):
    """Four blocks on two workers: one round per epoch (two tasks), or two rounds per epoch."""
    import fastnn.dask

    global _real_worker_epoch
    _real_worker_epoch = fastnn.dask._worker_epoch
    _WORKER_CALLS.clear()
    X, y, Xd, yd = dask_problem(n=2000, chunk=500)
    monkeypatch.setattr(fastnn.dask, "_worker_epoch", _fails_in_the_second_epoch)
    params = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    with local_client() as client:
        model = MLPClassifier(**params)
        with pytest.raises(RuntimeError, match="keeps the weights of the last completed epoch"):
            fastnn.dask.fit(model, Xd, yd, client=client, blocks_per_round=blocks_per_round, retries=0)
        assert model.n_iter_ == completed and len(model.loss_curve_) == completed
        # exactly the model of a run that stopped after those epochs: no partial average
        if completed:
            monkeypatch.setattr(fastnn.dask, "_worker_epoch", _real_worker_epoch)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                reference = fastnn.dask.fit(MLPClassifier(**{**params, "max_iter": completed}), Xd, yd, client=client,
                                            blocks_per_round=blocks_per_round)
            expected = reference.coefs_ + reference.intercepts_
        else:  # the initial weights
            weights = sklearn_initial_weights([8, 6, 3], np.random.RandomState(0), np.float64)
            expected = [W[:, 1:].T for W in weights] + [W[:, 0] for W in weights]
    for a, b in zip(model.coefs_ + model.intercepts_, expected):
        np.testing.assert_array_equal(a, b)


_PREPARED = []


def _counted_prepare(X_block, y_block, **kwargs):
    """``prepare_block`` that counts its calls (module level: the in-process workers find it,
    and its list, by name)."""
    _PREPARED.append(len(X_block))
    return _real_prepare_block(X_block, y_block, **kwargs)


def test_data_parallel_training_uses_the_client_it_is_given_not_the_default_one():
    X, y, Xd, yd = dask_problem(n=2000, chunk=500)
    with local_client(set_as_default=False) as client:
        with pytest.raises(ValueError, match="No clients found"):
            distributed.default_client()
        model = quiet_fit_dask(MLPClassifier(hidden_layer_sizes=(5,), max_iter=2), Xd, yd, client=client)
    assert model.n_iter_ == 2


def test_each_block_is_prepared_once_per_fit_not_once_per_epoch(monkeypatch):
    """The conversion and checks of a block (and the copy of a block that arrived misaligned)
    happen once, on the worker that keeps it for every epoch."""
    import fastnn._blocks

    global _real_prepare_block
    _real_prepare_block = fastnn._blocks.prepare_block
    _PREPARED.clear()
    monkeypatch.setattr(fastnn._blocks, "prepare_block", _counted_prepare)
    X, y, Xd, yd = dask_problem(n=2000, chunk=500)
    with local_client() as client:
        model = quiet_fit_dask(MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, tol=0, random_state=0), Xd, yd,
                               client=client, blocks_per_round=None)
    assert model.n_iter_ == 3 and sorted(_PREPARED) == [500] * 4


def quiet_fit_dask(model, X, y, **kwargs):
    import fastnn.dask

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fastnn.dask.fit(model, X, y, **kwargs)


def test_data_parallel_training_refuses_a_block_with_nan_before_training():
    import dask.array as da

    X, y, Xd, yd = dask_problem(n=2000, chunk=500)
    X = X.copy()
    X[1234, 3] = np.nan
    with local_client() as client:
        with pytest.raises(ValueError, match="NaN"):
            quiet_fit_dask(MLPClassifier(hidden_layer_sizes=(5,), max_iter=2), da.from_array(X, chunks=(500, 8)), yd,
                           client=client)


def test_with_one_average_per_epoch_a_block_is_cut_to_even_out_the_workers(monkeypatch):
    """Three blocks of 500 rows on two workers: one worker trains 750 rows, the other 750."""
    import fastnn._blocks

    global _real_prepare_block
    _real_prepare_block = fastnn._blocks.prepare_block
    _PREPARED.clear()
    monkeypatch.setattr(fastnn._blocks, "prepare_block", _counted_prepare)
    X, y, Xd, yd = dask_problem(n=1500, chunk=500)
    with local_client() as client:
        model = quiet_fit_dask(MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0), Xd, yd,
                               client=client, blocks_per_round=None)
    assert model.n_iter_ == 2 and sorted(_PREPARED) == [250, 250, 500, 500]


def test_even_rows_gives_every_worker_its_share_and_every_row_once():
    from fastnn.dask import balanced_assignment, even_rows

    rng = np.random.default_rng(0)
    for _ in range(500):
        rows = [int(r) for r in rng.integers(1, 300, size=rng.integers(1, 12))]
        workers = [f"w{i}" for i in range(rng.integers(1, 6))]
        holders = [workers[i] if i < len(workers) else None for i in rng.integers(0, len(workers) + 1, len(rows))]
        pieces = even_rows(rows, balanced_assignment(rows, holders, workers), workers)
        loads = [sum(stop - start for _, start, stop, w in pieces if w == worker) for worker in workers]
        assert max(loads) - min(loads) <= 1
        for block, block_rows in enumerate(rows):  # the pieces of a block tile it
            spans = sorted((start, stop) for b, start, stop, _ in pieces if b == block)
            assert spans[0][0] == 0 and spans[-1][1] == block_rows and all(start < stop for start, stop in spans)
            assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    # the benchmark's blocks: one block cut, 900 rows each
    rows, trainers = [250] * 7 + [50], ["a", "a", "b", "b", "a", "b", "b", "a"]
    assert even_rows(rows, trainers, ["a", "b"])[6:8] == [(6, 0, 150, "b"), (6, 150, 250, "a")]


def test_a_prepared_block_travels_as_its_arrays():
    import pickle
    import sys

    from fastnn._blocks import PreparedBlock, prepare_block

    X, y = synthetic_data(50, 4, 3, seed=2)
    prepare = functools.partial(prepare_block, classes=np.array([0, 1, 2]), class_weights=np.array([1.0, 2.0, 0.5]),
                                dtype=np.float32)
    block = PreparedBlock(X, y, prepare)
    again = pickle.loads(pickle.dumps(block))
    assert again.weight_sum == block.weight_sum == pytest.approx(np.array([1.0, 2.0, 0.5])[y].sum())
    for name in ("values", "labels", "sample_weight"):
        np.testing.assert_array_equal(getattr(again.data, name), getattr(block.data, name))
    assert (again.data.n_rows, again.data.n_features, again.data.dtype) == (50, 4, np.float32)
    assert sys.getsizeof(block) >= 50 * 4 * 4 + 50 * 4 + 50 * 4  # what dask's memory accounting reads


def test_blocks_stay_with_their_worker_unless_it_holds_more_than_its_share():
    from fastnn.dask import balanced_assignment

    # 7 full blocks and a short one, five of them on "a": one full block moves to "b"
    rows = [250] * 7 + [50]
    holders = ["a", "a", "b", "b", "a", "a", "b", "a"]
    trainers = balanced_assignment(rows, holders, ["a", "b"])
    assert sum(trainers[i] != holders[i] for i in range(8)) == 1
    assert sorted(sum(r for r, t in zip(rows, trainers) if t == w) for w in "ab") == [800, 1000]
    # everything on one worker of three, or held by a worker that is gone
    assert sorted(balanced_assignment([10] * 6, ["a"] * 6, ["a", "b", "c"])) == ["a", "a", "b", "b", "c", "c"]
    assert balanced_assignment([10, 10], [None, "gone"], ["a", "b"]) == ["a", "b"]
    # more workers than blocks: each block where it is
    assert balanced_assignment([10, 10], ["b", "c"], ["a", "b", "c", "d"]) == ["b", "c"]


# ------------------------------------------------------------------ a worker process killed mid-epoch


def _call_number(folder):
    """1 for the first caller in any process, 2 for the next, ...: the first file name this call
    creates (creating a file that exists fails, atomically, across processes)."""
    number = 1
    while True:
        try:
            os.close(os.open(os.path.join(folder, f"call-{number}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return number
        except FileExistsError:
            number += 1


def _stalls_at_call(*args, folder, stall_at, variable):
    """A worker epoch (runs in a worker process) that, as call ``stall_at`` among all workers,
    publishes its process id in the dask Variable ``variable`` and waits to be killed."""
    import importlib

    if _call_number(folder) == stall_at:
        distributed.Variable(variable).set(os.getpid())
        threading.Event().wait(600)  # killed long before, unless something is broken
        raise RuntimeError("this worker process was to be killed and was not")
    return importlib.import_module("fastnn.dask")._worker_epoch(*args)


def _blocks_in_turn(rows, holders, workers):
    """Block i to worker i mod 2, whatever holds it: both fits of a test train the same groups."""
    return [workers[i % len(workers)] for i in range(len(rows))]


@pytest.mark.parametrize("outcome", ["recovers", "fails"])
def test_a_worker_process_killed_mid_epoch_never_leaves_a_partial_average(monkeypatch, tmp_path, outcome):
    """Four blocks on two worker processes, two averaging rounds per epoch; the worker running
    the seventh task (epoch 2, round 2: after an average in that epoch) is killed while it trains.

    Dask either runs that task again elsewhere (its blocks recomputed from the graph): the fit
    recovers and, every task being deterministic, ends with exactly the model of an undisturbed
    fit; or (``allowed-failures`` 0) the task fails with ``KilledWorker``: the fit raises and keeps
    exactly the model after epoch 1, not the average of epoch 2's first round.
    """
    import uuid

    import fastnn.dask

    X, y, Xd, yd = dask_problem(n=2000, chunk=500)
    params = dict(hidden_layer_sizes=(6,), max_iter=3, random_state=0, tol=0)
    monkeypatch.setattr(fastnn.dask, "balanced_assignment", _blocks_in_turn)
    allowed_failures = {"recovers": 3, "fails": 0}[outcome]
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}), \
            local_client(processes=True, silence_logs=logging.CRITICAL) as client:
        Xp, yp = client.persist([Xd, yd])
        # the model to end with: all 3 epochs, or epoch 1 (the last one completed before the kill)
        reference = quiet_fit_dask(MLPClassifier(**{**params, "max_iter": 3 if outcome == "recovers" else 1}), Xp, yp,
                                   client=client)
        variable = f"victim-{uuid.uuid4().hex}"
        monkeypatch.setattr(fastnn.dask, "_worker_epoch", functools.partial(
            _stalls_at_call, folder=str(tmp_path), stall_at=7, variable=variable))
        model = MLPClassifier(**params)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            fitting = pool.submit(quiet_fit_dask, model, Xp, yp, client=client)
            pid = distributed.Variable(variable, client=client).get(timeout=600)  # the task is training
            assert pid in client.run(os.getpid).values()
            os.kill(pid, signal.SIGKILL)
            if outcome == "recovers":
                assert fitting.result() is model
                assert len(os.listdir(tmp_path)) == 13  # 3 epochs x 4 tasks, and the killed one again
            else:
                with pytest.raises(RuntimeError, match=r"KilledWorker.*keeps the weights of the last completed epoch"):
                    fitting.result()
    assert model.n_iter_ == reference.n_iter_ and model.loss_curve_ == reference.loss_curve_
    for a, b in zip(model.coefs_ + model.intercepts_, reference.coefs_ + reference.intercepts_):
        np.testing.assert_array_equal(a, b)


_ACTIVATIONS_SEEN = []


def _recording_worker_epoch(weights, blocks, state, shuffle, seed):
    """A worker epoch that records the activations it was handed (module level, like the others)."""
    _ACTIVATIONS_SEEN.append(list(state.get("activations") or []))
    return _real_worker_epoch(weights, blocks, state, shuffle, seed)


def test_workers_train_the_models_activations(monkeypatch):
    import fastnn.dask
    from fastnn import _core

    global _real_worker_epoch
    _real_worker_epoch = fastnn.dask._worker_epoch
    _ACTIVATIONS_SEEN.clear()
    monkeypatch.setattr(fastnn.dask, "_worker_epoch", _recording_worker_epoch)
    X, y, Xd, yd = dask_problem(n=1000, chunk=500)
    with local_client(n_workers=1) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = fastnn.dask.fit(MLPClassifier(hidden_layer_sizes=(6, 5), activation=["relu", "tanh"], max_iter=2,
                                                  random_state=0), Xd, yd, client=client)
    assert _ACTIVATIONS_SEEN and all(seen == [_core.ACTIVATION_RELU, _core.ACTIVATION_TANH]
                                     for seen in _ACTIVATIONS_SEEN)
    assert model.n_iter_ == 2


def test_a_streamed_fit_trains_the_models_activations():
    X, y, Xd, yd = dask_problem()
    params = dict(hidden_layer_sizes=(7, 4), activation=["tanh", "leaky_relu"], max_iter=3, random_state=0,
                  shuffle=False)
    streamed = quiet_fit(MLPClassifier(**params), Xd, yd)
    in_memory = quiet_fit(MLPClassifier(**params), X, y)
    for a, b in zip(streamed.coefs_ + streamed.intercepts_, in_memory.coefs_ + in_memory.intercepts_):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ the regressor on dask arrays


def regression_problem(n=2400, m=6, chunk=500, n_targets=1, seed=0):
    """Real targets a small network can learn, in memory and as dask arrays chunked alike."""
    import dask.array as da

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m))
    y = np.column_stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.tanh(X[:, 3] - X[:, 4])])[:, :n_targets]
    y = y + 0.05 * rng.normal(size=y.shape)
    y = y[:, 0] if n_targets == 1 else y
    return X, y, da.from_array(X, chunks=(chunk, m)), da.from_array(y, chunks=(chunk,) + y.shape[1:])


def assert_same_fit(a, b):
    for x, z in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(x, z)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
    assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_


@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_regressor_streamed_in_order_trains_exactly_as_in_memory(dtype, n_targets):
    from fastnn import MLPRegressor

    X, y, Xd, yd = regression_problem(n_targets=n_targets)
    params = dict(hidden_layer_sizes=(7,), max_iter=4, random_state=0, shuffle=False, dtype=dtype,
                  learning_rate_init=0.01)
    streamed = quiet_fit(MLPRegressor(**params), Xd, yd)
    in_memory = quiet_fit(MLPRegressor(**params), X, y)
    assert_same_fit(streamed, in_memory)
    assert streamed.n_features_in_ == 6 and streamed.n_outputs_ == n_targets and streamed.n_iter_ == 4
    assert streamed.coefs_[0].dtype == np.dtype(dtype)
    assert streamed.predict(X).shape == y.shape


def test_a_regressor_on_shuffled_blocks_learns_as_in_memory_and_reproducibly():
    from fastnn import MLPRegressor

    X, y, Xd, yd = regression_problem(n_targets=2)
    params = dict(hidden_layer_sizes=(16,), max_iter=15, random_state=3, learning_rate_init=0.01)
    streamed = quiet_fit(MLPRegressor(**params), Xd, yd)
    again = quiet_fit(MLPRegressor(**params), Xd, yd)
    in_memory = quiet_fit(MLPRegressor(**params), X, y)
    np.testing.assert_array_equal(streamed.coefs_[0], again.coefs_[0])
    assert not np.array_equal(streamed.coefs_[0], in_memory.coefs_[0])  # another order of the rows
    assert streamed.score(X, y) > in_memory.score(X, y) - 0.03 and in_memory.score(X, y) > 0.8


def test_a_regressor_on_a_dask_dataframe_trains_as_on_the_arrays():
    dd = pytest.importorskip("dask.dataframe", reason="dask.dataframe needs pandas")
    import pandas as pd

    from fastnn import MLPRegressor

    X, y, Xd, yd = regression_problem(n_targets=2)
    frame = dd.from_pandas(pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]), npartitions=4)
    targets = dd.from_pandas(pd.DataFrame(y, columns=["a", "b"]), npartitions=4)
    one_target = dd.from_pandas(pd.Series(y[:, 0]), npartitions=4)
    params = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0, shuffle=False)
    assert_same_fit(quiet_fit(MLPRegressor(**params), frame, targets), quiet_fit(MLPRegressor(**params), X, y))
    assert_same_fit(quiet_fit(MLPRegressor(**params), frame, one_target),
                    quiet_fit(MLPRegressor(**params), X, y[:, 0]))


def test_partial_fit_of_a_regressor_on_a_dask_array_is_one_pass_over_its_blocks():
    from fastnn import MLPRegressor

    X, y, Xd, yd = regression_problem()
    streamed, in_memory = (MLPRegressor(hidden_layer_sizes=(5,), random_state=0, shuffle=False) for _ in range(2))
    for _ in range(2):
        streamed.partial_fit(Xd, yd)
        in_memory.partial_fit(X, y)
    assert_same_fit(streamed, in_memory)


def test_bad_dask_input_to_a_regressor_is_refused_with_the_fix():
    import dask.array as da

    from fastnn import MLPRegressor

    X, y, Xd, yd = regression_problem(n_targets=2)
    y_nan = y.copy()
    y_nan[1700, 1] = np.nan
    cases = [
        (dict(), da.from_array(X, chunks=(500, 3)), yd, r"X.rechunk\(\{1: -1\}\)"),
        (dict(), Xd, da.from_array(y, chunks=(700, 2)), r"y.rechunk\(X.chunks\[0\]\)"),
        (dict(), Xd, da.from_array(y, chunks=(500, 1)), r"y.rechunk\(\{1: -1\}\)"),
        (dict(), Xd[Xd[:, 0] > 0], yd[Xd[:, 0] > 0], "compute_chunk_sizes"),
        (dict(), Xd, da.from_array(y_nan, chunks=(500, 2)), "y holds NaN"),
        (dict(), Xd, da.from_array(y[:, :, None], chunks=(500, 2, 1)), "1-D or 2-D"),
        (dict(early_stopping=True), Xd, yd, "early_stopping"),
        (dict(solver="lbfgs"), Xd, yd, "lbfgs"),
    ]
    for params, X_bad, y_bad, message in cases:
        with pytest.raises(ValueError, match=message):
            MLPRegressor(max_iter=1, **params).fit(X_bad, y_bad)
    with pytest.raises(ValueError, match="sample_weight"):
        MLPRegressor(max_iter=1).fit(Xd, yd, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="y holds NaN"):  # found in its block, before a weight of it is used
        from fastnn._blocks import prepare_block

        prepare_block(X[:3], y_nan[1699:1702], dtype=np.float64)


def test_a_regressors_block_travels_with_its_targets():
    import pickle

    from fastnn._blocks import PreparedBlock, prepare_block

    X, y, _, _ = regression_problem(n=50, n_targets=2)
    block = PreparedBlock(X, y, functools.partial(prepare_block, dtype=np.float32))
    again = pickle.loads(pickle.dumps(block))
    assert again.weight_sum == block.weight_sum == 50 and again.data.labels is None
    np.testing.assert_array_equal(again.data.targets, y.astype(np.float32))


def test_data_parallel_training_of_a_regressor_on_a_local_cluster_learns_as_the_serial_fit():
    from fastnn import MLPRegressor

    X, y, Xd, yd = regression_problem(n=4000, chunk=1000, n_targets=2)
    params = dict(hidden_layer_sizes=(12,), max_iter=8, random_state=0, learning_rate_init=0.01)
    with local_client(processes=True) as client:
        model = quiet_fit_dask(MLPRegressor(**params), Xd, yd, client=client)
    serial = quiet_fit(MLPRegressor(**params), X, y)
    assert model.n_iter_ == 8 and len(model.loss_curve_) == 8 and model.n_outputs_ == 2
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.score(X, y) > serial.score(X, y) - 0.03


@pytest.mark.parametrize("n_targets", [1, 2])
def test_data_parallel_training_on_one_worker_in_order_is_the_serial_fit(n_targets):
    """One worker, one average per epoch, no shuffling: the worker trains every block in order
    from the model, and the average of one model is that model."""
    from fastnn import MLPRegressor

    X, y, Xd, yd = regression_problem(n=1500, n_targets=n_targets)
    params = dict(hidden_layer_sizes=(6,), max_iter=3, random_state=0, shuffle=False, tol=0)
    with local_client(n_workers=1) as client:
        model = quiet_fit_dask(MLPRegressor(**params), Xd, yd, client=client, blocks_per_round=None)
    assert_same_fit(model, quiet_fit(MLPRegressor(**params), X, y))


def test_data_parallel_training_refuses_what_is_not_a_fastnn_mlp():
    import fastnn.dask
    from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor

    X, y, Xd, yd = regression_problem(n=100)
    with pytest.raises(TypeError, match="MLPClassifier or a fastnn.MLPRegressor, got MLPRegressor"):
        fastnn.dask.fit(SklearnMLPRegressor(), Xd, yd, client=object())
