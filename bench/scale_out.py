"""Beyond one process: streaming from dask blocks, data-parallel training on a Dask cluster, ONNX.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/scale_out.py [--rows 2000000] [--epochs 3]

A generated float32 problem (``--rows`` x 64, 4 classes from a random sigmoid teacher, 10% of
the rows held out) trained by ``fastnn.MLPClassifier(hidden_layer_sizes=(32,), batch_size=1,
shuffle=False)`` for ``--epochs`` epochs, in these ways, one after another in this process:

- in memory: ``fit(X, y)``;
- streamed: ``fit`` on a dask array of the same rows in blocks of ``--block`` rows (one block in
  memory at a time), local scheduler; its peak memory is measured in a child process whose dask
  blocks are read from .npy files as their turn comes (so only what the fit holds is resident);
- data-parallel: ``fastnn.dask.fit`` on ``LocalCluster(n_workers=W, threads_per_worker=1)`` for
  W = 1 and 2 (the data persisted on the workers and their imports done first, not timed);
- prediction of 10k rows: ``predict_proba`` against onnxruntime on ``fastnn.to_onnx(model)``.

Printed: samples per second of training (rows x epochs / wall time of the fit), test accuracy,
peak resident memory, and the ratios the README quotes, with the machine and versions.
"""

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

N_FEATURES, N_CLASSES, HIDDEN = 64, 4, 32


def teacher_block(seed, n):
    """Rows ``n`` of the generated problem from ``seed``: X ~ N(0, 1), y = argmax of a fixed teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    teacher = np.random.default_rng(12345)
    W1 = teacher.standard_normal((N_FEATURES, 16)).astype(np.float32) / 4
    W2 = teacher.standard_normal((16, N_CLASSES)).astype(np.float32) * 3
    hidden = 1 / (1 + np.exp(-(X @ W1)))
    scores = hidden @ W2
    return X, np.argmax(scores - scores.mean(axis=0), axis=1)


def model(**kwargs):
    import fastnn

    return fastnn.MLPClassifier(hidden_layer_sizes=(HIDDEN,), batch_size=1, shuffle=False, learning_rate_init=0.01,
                                random_state=0, dtype="float32", tol=0, **kwargs)


def timed_fit(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        fitted = fit()
        return fitted, time.perf_counter() - start


def peak_rss_mib():
    """This process's peak resident memory in MiB (Linux VmHWM: counted from its own exec, unlike
    ru_maxrss, which a child forked from a large parent starts at the parent's size)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status (this measurement needs Linux)")


def peak_memory_of_streaming(rows, block, epochs):
    """Peak RSS (MiB) of a child that streams the problem's blocks from .npy files (each read
    when its turn comes), the RSS of its imports alone, and the size of one block (MiB)."""
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as folder:
        for i in range(rows // block):
            X, y = teacher_block(100 + i, block)
            np.save(os.path.join(folder, f"X{i}.npy"), X)
            np.save(os.path.join(folder, f"y{i}.npy"), y)
        code = f"""
import os, warnings, dask, dask.array as da, numpy as np, sys
sys.path.insert(0, {here!r})
from scale_out import model, peak_rss_mib
def lazy(name, shape, dtype):
    return da.concatenate([da.from_delayed(dask.delayed(np.load)(os.path.join({folder!r}, f"{{name}}{{i}}.npy")),
                                           shape, dtype) for i in range({rows // block})])
X, y = lazy("X", ({block}, 64), np.float32), lazy("y", ({block},), np.int64)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    with dask.config.set(scheduler="synchronous"):
        model(max_iter={epochs}).fit(X, y)
print(peak_rss_mib())
"""
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    baseline = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {here!r}); import fastnn, "
                               "dask.array, sklearn.utils.validation; from scale_out import peak_rss_mib; "
                               "print(peak_rss_mib())"], capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1]), float(baseline.stdout.split()[-1]), block * N_FEATURES * 4 / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--block", type=int, default=250_000, help="rows per dask block (default: %(default)s)")
    parser.add_argument("--blocks-per-round", type=int, default=1,
                        help="blocks each worker trains between averages; 0: once per epoch (default: %(default)s)")
    args = parser.parse_args(argv)

    import dask
    import dask.array as da
    import distributed
    import sklearn
    from threadpoolctl import threadpool_info

    import fastnn
    import fastnn.dask

    X, y = teacher_block(0, args.rows)
    n_test = args.rows // 10
    X_test, y_test, X, y = X[:n_test], y[:n_test], X[n_test:], y[n_test:]
    n = X.shape[0]
    results = {"rows": n, "epochs": args.epochs, "block": args.block, "blocks_per_round": args.blocks_per_round}

    serial, seconds = timed_fit(lambda: model(max_iter=args.epochs).fit(X, y))
    results["in_memory"] = {"samples_per_s": n * args.epochs / seconds, "accuracy": serial.score(X_test, y_test)}

    Xd, yd = da.from_array(X, chunks=(args.block, N_FEATURES)), da.from_array(y, chunks=args.block)
    with dask.config.set(scheduler="synchronous"):
        streamed, seconds = timed_fit(lambda: model(max_iter=args.epochs).fit(Xd, yd))
    results["streamed"] = {"samples_per_s": n * args.epochs / seconds, "accuracy": streamed.score(X_test, y_test)}
    peak, base, block_mib = peak_memory_of_streaming(n, args.block, 1)
    results["streamed"].update(peak_rss_mib=peak, import_rss_mib=base, block_mib=block_mib)

    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None,
                                      silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
            Xp, yp = client.persist([Xd, yd])
            distributed.wait([Xp, yp])
            client.run(lambda: __import__("sklearn.utils.validation") and __import__("fastnn._blocks"))
            fitted, seconds = timed_fit(lambda: fastnn.dask.fit(model(max_iter=args.epochs), Xp, yp, client=client,
                                                                blocks_per_round=args.blocks_per_round or None))
        results[f"parallel_{workers}"] = {"seconds_per_epoch": seconds / args.epochs,
                                          "samples_per_s": n * args.epochs / seconds,
                                          "accuracy": fitted.score(X_test, y_test)}

    rows = X_test[:10_000]
    start = time.perf_counter()
    for _ in range(5):
        serial.predict_proba(rows)
    results["predict_proba_rows_per_s"] = 5 * len(rows) / (time.perf_counter() - start)
    try:
        import onnxruntime

        session = onnxruntime.InferenceSession(fastnn.to_onnx(serial).SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        start = time.perf_counter()
        for _ in range(5):
            session.run(None, {"X": rows})
        results["onnxruntime_rows_per_s"] = 5 * len(rows) / (time.perf_counter() - start)
    except ImportError:
        results["onnxruntime_rows_per_s"] = None

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; python "
          f"{platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}, dask "
          f"{dask.__version__}, fastnn {fastnn.__version__}; BLAS: "
          f"{[(i['internal_api'], i.get('architecture'), i['num_threads']) for i in threadpool_info()]}")
    print(json.dumps(results, indent=2))
    p1, p2 = results["parallel_1"], results["parallel_2"]
    print(f"data-parallel, 2 workers vs 1: {p1['seconds_per_epoch'] / p2['seconds_per_epoch']:.2f}x per epoch; "
          f"accuracy {p2['accuracy']:.4f} vs in-memory {results['in_memory']['accuracy']:.4f}")
    print(f"streamed vs in memory: {results['streamed']['samples_per_s'] / results['in_memory']['samples_per_s']:.2f}x "
          f"samples/s; peak RSS {peak:.0f} MiB (after imports {base:.0f} MiB, one block {block_mib:.0f} MiB)")


if __name__ == "__main__":
    main()
