"""The model family's speed: hidden activations and regression, fastnn against its peers.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/model_family.py [--repeats 5] [--quick]

Three tables, each of contenders interleaved in one process, one thread (BLAS limited to one),
best of the repeats (samples per second of one training epoch). Every contender runs in the
calling thread, which is timed by its CPU time (``time.thread_time``): on a machine busy with
other work, preemption then does not count against whichever contender it happens to hit.

A. Per-sample SGD epochs of the engine on S1 (OCR large, 128->50->10; a synthetic stand-in
   where ../shared/data/ocr is absent) with logistic, tanh and relu hidden units, float64 and
   float32: the rate of each activation relative to the logistic one.
B. Regression 64->50->1 on 20,000 synthetic rows, per-sample SGD: one epoch of
   ``fastnn.MLPRegressor(batch_size=1)`` against ``sklearn.neural_network.MLPRegressor(
   solver="sgd", batch_size=1, momentum=0)``, whole ``fit`` calls (max_iter=1) timed.
C. Regression 784->256->1 on 10,000 synthetic rows (S2's size), mini-batches of 128, float32:
   the engine's epoch against a PyTorch loop (Linear, ReLU, Linear; 0.5 * MSE; SGD), when
   PyTorch is installed.
"""

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import fastnn
from fastnn import _core, _engine

OCR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ocr" / "large_train.csv"


def best_rate(run, n_samples, repeats, min_seconds):
    """Samples per second of ``run()`` (one epoch), best of ``repeats`` timed repeats of at least
    ``min_seconds`` of back-to-back runs each."""
    best = 0.0
    for _ in range(repeats):
        runs, start = 0, time.thread_time()
        while True:
            run()
            runs += 1
            elapsed = time.thread_time() - start
            if elapsed >= min_seconds:
                break
        best = max(best, runs * n_samples / elapsed)
    return best


def interleaved(contenders, n_samples, repeats, min_seconds):
    """{name: rate}, the contenders timed round-robin, each warmed up first."""
    for run in contenders.values():
        run()
    rates = dict.fromkeys(contenders, 0.0)
    for _ in range(repeats):
        for name, run in contenders.items():
            rates[name] = max(rates[name], best_rate(run, n_samples, 1, min_seconds))
    return rates


def activation_rates(repeats, min_seconds, rows):
    if OCR.is_file():
        table = np.loadtxt(OCR, delimiter=",", max_rows=rows)
        X, y, source = table[:, 1:], table[:, 0].astype(np.int32), f"OCR large_train, {len(table)} rows"
    else:
        rng = np.random.default_rng(1)
        X = (rng.random((rows, 128)) < 0.21).astype(np.float64)
        y = rng.integers(0, 10, size=rows).astype(np.int32)
        source = f"synthetic 0/1 stand-in, {rows} rows (OCR data not found)"
    contenders = {}
    for dtype in (np.float64, np.float32):
        data = _engine.make_dataset(np.ascontiguousarray(X, dtype=dtype), dtype, labels=y)
        order = np.arange(len(y), dtype=np.intp)
        for activation in ("logistic", "tanh", "relu"):
            arch = _engine.architecture([128, 50, 10], "softmax", [activation], dtype)
            weights = fastnn._training.initial_weights([128, 50, 10], "glorot", np.random.default_rng(0), dtype)
            W0 = _engine.pack_weights(weights, dtype)

            def run(arch=arch, W0=W0, data=data, order=order):
                _engine.sgd_epoch(arch, _core.aligned_copy(W0), data, order, learning_rate=0.01)

            contenders[f"{activation} {np.dtype(dtype).name}"] = run
    rates = interleaved(contenders, len(y), repeats, min_seconds)
    return source, rates


def regression_problem(n, d, hidden, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    teacher = np.tanh(X @ rng.normal(size=(d, hidden)) / np.sqrt(d)) @ rng.normal(size=hidden)
    y = teacher + 0.1 * rng.normal(size=n)
    return X, (y - y.mean()) / y.std()


def regressor_rates(repeats, rows):
    from sklearn.neural_network import MLPRegressor as SklearnRegressor

    X, y = regression_problem(rows, 64, 50, seed=2)
    common = dict(hidden_layer_sizes=(50,), activation="relu", solver="sgd", batch_size=1, learning_rate_init=0.001,
                  max_iter=1, random_state=0, tol=0.0, shuffle=True)
    contenders = {
        "fastnn MLPRegressor": lambda: fastnn.MLPRegressor(**common).fit(X, y),
        "scikit-learn MLPRegressor": lambda: SklearnRegressor(**common, momentum=0.0).fit(X, y),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return interleaved(contenders, rows, repeats, 0.0)


def minibatch_rates(repeats, min_seconds, rows):
    X, y = regression_problem(rows, 784, 256, seed=3)
    X, y = X.astype(np.float32), y.astype(np.float32)
    lr, batch = 0.001, 128
    arch = _engine.architecture([784, 256, 1], "identity", ["relu"], np.float32)
    W0 = _engine.pack_weights(fastnn._training.initial_weights([784, 256, 1], "glorot", np.random.default_rng(0),
                                                               np.float32), np.float32)
    data = _engine.make_dataset(X, np.float32, targets=y[:, None].copy())
    order = np.arange(rows, dtype=np.intp)
    contenders = {"fastnn mini-batch 128": lambda: _engine.sgd_epoch(arch, _core.aligned_copy(W0), data, order,
                                                                      learning_rate=lr, batch_size=batch)}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y[:, None].copy())

        def torch_epoch():
            model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            for start in range(0, rows, batch):
                optimizer.zero_grad()
                loss = 0.5 * torch.nn.functional.mse_loss(model(X_t[start:start + batch]), y_t[start:start + batch])
                loss.backward()
                optimizer.step()

        contenders["PyTorch mini-batch 128"] = torch_epoch
    return interleaved(contenders, rows, repeats, min_seconds), None if torch is None else torch.__version__


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.3)
    parser.add_argument("--quick", action="store_true", help="few rows and repeats: checks that it runs")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    min_seconds = 0.0 if args.quick else args.min_seconds
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load": os.getloadavg()[0],
               "fastnn": fastnn.__version__, "numpy": np.__version__,
               "blas": [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]}
    with threadpool_limits(1):
        source, rates = activation_rates(repeats, min_seconds, 500 if args.quick else 9000)
        results["A. activations, S1 per-sample epoch"] = {
            "data": source,
            **{name: {"samples/s": round(rate), "x logistic": round(rate / rates["logistic " + name.split()[1]], 3)}
               for name, rate in rates.items()}}
        rates = regressor_rates(repeats, 500 if args.quick else 20000)
        results["B. regression 64-50-1, per-sample, whole fit"] = {
            **{name: round(rate) for name, rate in rates.items()},
            "fastnn / scikit-learn": round(rates["fastnn MLPRegressor"] / rates["scikit-learn MLPRegressor"], 1)}
        rates, torch_version = minibatch_rates(repeats, min_seconds, 512 if args.quick else 10000)
        table = {name: round(rate) for name, rate in rates.items()}
        if torch_version is not None:
            table["fastnn / PyTorch"] = round(rates["fastnn mini-batch 128"] / rates["PyTorch mini-batch 128"], 2)
            table["torch"] = torch_version
        results["C. regression 784-256-1, float32, mini-batch 128"] = table
    results["load after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
