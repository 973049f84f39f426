"""Beyond one process: streaming from dask blocks, data-parallel training on a Dask cluster, ONNX.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/scale_out.py [--rows 2000000] [--epochs 3]
        [--blocks-per-round 1] [--repeats 3] [--data workers|driver] [--threads] [--parallel-only]

A generated float32 problem (``--rows`` x 64, 4 classes from a random sigmoid teacher, 10% of
the rows held out; the training rows made in blocks of ``--block`` rows, each from its own seed)
trained by ``fastnn.MLPClassifier(hidden_layer_sizes=(32,), batch_size=1,
shuffle=False)`` for ``--epochs`` epochs, in these ways, one after another in this process:

- in memory: ``fit(X, y)``;
- streamed: ``fit`` on a dask array of the same rows in blocks of ``--block`` rows (one block in
  memory at a time), local scheduler, timed right after an in-memory fit (its pair); its peak memory is measured in a child process whose dask
  blocks are read from .npy files as their turn comes (so only what the fit holds is resident);
- data-parallel: ``fastnn.dask.fit`` on ``LocalCluster(n_workers=W, threads_per_worker=1)`` for
  W = 1 and 2: dask's default ``processes=True``, so each worker is a process of its own with a
  nanny process beside it, and the scheduler runs in this process (as the driver does). Both
  clusters are started first, the data persisted on their workers and one epoch fitted on each
  (a warm-up: the workers' imports and first calls; none of it timed). With ``--data workers`` (the default) each worker makes its blocks itself
  (``da.from_delayed`` of the generating function, as dask recommends loading data), with
  ``--data driver`` the blocks are ``da.from_array`` of this process's array, which dask ships
  inside the task graph (and which arrive misaligned, so each worker copies each block once per
  fit: see the README). Then ``--repeats`` rounds each time the in-memory fit, the fit on one
  worker and the fit on two, in that order (so a busy minute of a shared machine hits all three),
  each a whole ``fastnn.dask.fit`` call (the pass over y for the classes, the blocks prepared on
  the workers, the epochs). The figures are the medians, with the 1-minute load average read
  before each timed fit. Each repeat also times two processes that fit half of the rows each, at
  once, with nothing shared (``IndependentPair``): what the machine's two cores give for this work
  with no communication at all, the ceiling for two workers. ``--threads`` makes the workers
  threads of this process instead (``processes=False``: no nannies, no serialization; the
  engine releases the GIL);
- prediction of 10k rows: ``predict_proba`` against onnxruntime on ``fastnn.to_onnx(model)``.

Printed: samples per second of training (rows x epochs / wall time of the fit), test accuracy,
peak resident memory, and the ratios the README quotes, with the machine and versions.
``--parallel-only`` skips the streamed fit, its memory and prediction (the in-memory fit stays,
as the reference for accuracy and speed).
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


class EpochClock:
    """Wall time of each epoch of ``fastnn.dask.fit`` alone (the workers' training and the average),
    without what a fit does once (the pass over y for the classes, preparing the blocks)."""

    def __init__(self):
        import fastnn.dask

        self.seconds = []
        self.original = fastnn.dask._AveragedBlocks.epoch
        clock = self

        def timed_epoch(source, *args, **kwargs):
            start = time.perf_counter()
            try:
                return clock.original(source, *args, **kwargs)
            finally:
                clock.seconds.append(time.perf_counter() - start)

        fastnn.dask._AveragedBlocks.epoch = timed_epoch

    def take(self):
        """The epochs' seconds since the last call."""
        seconds, self.seconds = self.seconds, []
        return seconds


def training_rows(sizes):
    """The training rows: blocks of ``sizes`` rows, block i made from seed 100 + i."""
    blocks = [teacher_block(100 + i, rows) for i, rows in enumerate(sizes)]
    return np.concatenate([X for X, _ in blocks]), np.concatenate([y for _, y in blocks])


def _half_fitter(connection, sizes, half, epochs):
    """In a child process: fit ``model`` on one half of the training rows each time it is told to
    (the two-core reference: two of these at once, nothing shared)."""
    X, y = training_rows(sizes)
    middle = len(X) // 2
    X, y = (X[:middle], y[:middle]) if half == 0 else (X[middle:], y[middle:])
    timed_fit(lambda: model(max_iter=1).fit(X[:1000], y[:1000]))  # warm-up
    connection.send("ready")
    while connection.recv():
        connection.send(timed_fit(lambda: model(max_iter=epochs).fit(X, y))[1])


class IndependentPair:
    """Two processes that each fit half of the rows at once: what two cores of this machine give
    for this work with no communication at all (an upper bound for two dask workers)."""

    def __init__(self, sizes, epochs):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.connections, self.processes = [], []
        for half in (0, 1):
            mine, theirs = context.Pipe()
            process = context.Process(target=_half_fitter, args=(theirs, sizes, half, epochs), daemon=True)
            process.start()
            self.connections.append(mine)
            self.processes.append(process)
        for connection in self.connections:
            connection.recv()

    def fit(self):
        start = time.perf_counter()
        for connection in self.connections:
            connection.send(True)
        for connection in self.connections:
            connection.recv()
        return None, time.perf_counter() - start

    def close(self):
        for connection, process in zip(self.connections, self.processes):
            connection.send(False)
            process.join()


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


def load_average():
    """The 1-minute load average (Linux), or None."""
    try:
        with open("/proc/loadavg") as loadavg:
            return float(loadavg.read().split()[0])
    except OSError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--block", type=int, default=250_000, help="rows per dask block (default: %(default)s)")
    parser.add_argument("--blocks-per-round", type=int, default=1,
                        help="blocks each worker trains between averages; 0: once per epoch (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds of in-memory, 1-worker and 2-worker fits, interleaved (default: %(default)s)")
    parser.add_argument("--data", choices=["workers", "driver"], default="workers",
                        help="where the data-parallel fits' blocks are made: on the workers, or in this process and "
                             "shipped in the task graph (default: %(default)s)")
    parser.add_argument("--threads", action="store_true",
                        help="LocalCluster(processes=False): the workers are threads of this process, no nannies "
                             "(default: dask's processes=True)")
    parser.add_argument("--parallel-only", action="store_true",
                        help="only the in-memory and data-parallel fits (no streaming, memory or prediction)")
    args = parser.parse_args(argv)

    import dask
    import dask.array as da
    import distributed
    import sklearn

    import fastnn
    import fastnn.dask

    n_test = args.rows // 10
    X_test, y_test = teacher_block(0, n_test)
    n = args.rows - n_test
    sizes = [args.block] * (n // args.block) + ([n % args.block] if n % args.block else [])
    X, y = training_rows(sizes)
    results = {"rows": n, "epochs": args.epochs, "block": args.block, "blocks_per_round": args.blocks_per_round,
               "data": args.data, "threads": args.threads}

    timed_fit(lambda: model(max_iter=1).fit(X[:1000], y[:1000]))  # warm-up: imports and first calls, not timed
    Xd, yd = da.from_array(X, chunks=(args.block, N_FEATURES)), da.from_array(y, chunks=args.block)
    if args.data == "workers":  # the same rows, each block made where dask computes it
        made = [dask.delayed(teacher_block, nout=2)(100 + i, rows) for i, rows in enumerate(sizes)]
        Xw = da.concatenate([da.from_delayed(X_block, (rows, N_FEATURES), X.dtype)
                             for (X_block, _), rows in zip(made, sizes)])
        yw = da.concatenate([da.from_delayed(y_block, (rows,), y.dtype) for (_, y_block), rows in zip(made, sizes)])
    else:
        Xw, yw = Xd, yd
    if not args.parallel_only:
        _, memory_seconds = timed_fit(lambda: model(max_iter=args.epochs).fit(X, y))  # its pair, just before
        with dask.config.set(scheduler="synchronous"):
            streamed, seconds = timed_fit(lambda: model(max_iter=args.epochs).fit(Xd, yd))
        results["streamed"] = {"samples_per_s": n * args.epochs / seconds,
                               "in_memory_samples_per_s": n * args.epochs / memory_seconds,
                               "accuracy": streamed.score(X_test, y_test)}
        peak, base, block_mib = peak_memory_of_streaming(n, args.block, 1)
        results["streamed"].update(peak_rss_mib=peak, import_rss_mib=base, block_mib=block_mib)

    clusters, pair = {}, None
    try:
        pair = IndependentPair(sizes, args.epochs)
        for workers in (1, 2):
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=not args.threads,
                                               dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
            clusters[workers] = (cluster, client)
            Xp, yp = client.persist([Xw, yw])
            distributed.wait(distributed.futures_of([Xp, yp]))  # resident on the workers before any timing
            clusters[workers] += (Xp, yp)
            timed_fit(lambda: fastnn.dask.fit(model(max_iter=1), Xp, yp, client=client))  # warm-up: imports, first calls
        results["workers_blas"] = {workers: list(client.run(_blas_threads).values())
                                   for workers, (_, client, _, _) in clusters.items()}

        def parallel_fit(workers):
            _, client, Xp, yp = clusters[workers]
            return fastnn.dask.fit(model(max_iter=args.epochs), Xp, yp, client=client,
                                   blocks_per_round=args.blocks_per_round or None)

        fits = {"in_memory": lambda: model(max_iter=args.epochs).fit(X, y),
                "parallel_1": lambda: parallel_fit(1), "parallel_2": lambda: parallel_fit(2),
                "independent_pair": pair.fit}
        timings = {name: [] for name in fits}
        clock = EpochClock()
        for repeat in range(args.repeats):
            for name, fit in fits.items():
                load = load_average()
                fitted, seconds = timed_fit(fit) if name != "independent_pair" else fit()
                epochs = clock.take()
                timings[name].append({"seconds_per_epoch": seconds / args.epochs, "load_before": load,
                                      "accuracy": None if fitted is None else fitted.score(X_test, y_test),
                                      "epoch_alone_seconds": float(np.median(epochs)) if epochs else None})
                if name == "in_memory":
                    serial = fitted
                print(f"repeat {repeat + 1}: {name:10s} {seconds / args.epochs:.3f} s per epoch (load {load})",
                      file=sys.stderr, flush=True)
    finally:
        for cluster, client, *_ in clusters.values():
            client.close()
            cluster.close()
        if pair is not None:
            pair.close()
    for name, runs in timings.items():
        per_epoch = float(np.median([run["seconds_per_epoch"] for run in runs]))
        results[name] = {"seconds_per_epoch": per_epoch, "samples_per_s": n / per_epoch,
                         "accuracy": runs[-1]["accuracy"], "runs": runs}
        if runs[0]["epoch_alone_seconds"] is not None:
            results[name]["epoch_alone_seconds"] = float(np.median([run["epoch_alone_seconds"] for run in runs]))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; python "
          f"{platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}, dask "
          f"{dask.__version__}, distributed {distributed.__version__}, fastnn {fastnn.__version__}; BLAS threads "
          f"(this process): {_blas_threads()}, in the workers: {results['workers_blas']}")
    print("cluster: LocalCluster(n_workers=W, threads_per_worker=1, processes=False): the workers are threads of "
          "this process" if args.threads else "cluster: LocalCluster(n_workers=W, threads_per_worker=1, "
          "processes=True): one process and one nanny per worker, the scheduler in this process")
    if args.parallel_only:
        report(results)
        return
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

    report(results)
    streamed = results["streamed"]
    print(f"streamed vs in memory (timed one after the other): {streamed['samples_per_s'] / 1e6:.2f}M vs "
          f"{streamed['in_memory_samples_per_s'] / 1e6:.2f}M samples/s = "
          f"{streamed['samples_per_s'] / streamed['in_memory_samples_per_s']:.2f}x; peak RSS {results['streamed']['peak_rss_mib']:.0f} MiB (after imports "
          f"{results['streamed']['import_rss_mib']:.0f} MiB, one block {results['streamed']['block_mib']:.0f} MiB)")


def _blas_threads():
    """``(internal_api, architecture, num_threads)`` of each BLAS library loaded in this process."""
    from threadpoolctl import threadpool_info

    return [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]


def report(results):
    print(json.dumps(results, indent=2))
    memory, p1, p2 = results["in_memory"], results["parallel_1"], results["parallel_2"]
    pair = results["independent_pair"]
    loads = [run["load_before"] for name in ("in_memory", "parallel_1", "parallel_2", "independent_pair")
             for run in results[name]["runs"]]
    print(f"per epoch (medians of {len(p1['runs'])}): in memory {memory['seconds_per_epoch']:.3f} s, 1 worker "
          f"{p1['seconds_per_epoch']:.3f} s, 2 workers {p2['seconds_per_epoch']:.3f} s; load average "
          f"{min(loads)}-{max(loads)}")
    ratios = sorted(a["seconds_per_epoch"] / b["seconds_per_epoch"] for a, b in zip(p1["runs"], p2["runs"]))
    print(f"2 workers vs 1 within each repeat: {', '.join(f'{r:.2f}' for r in ratios)}x")
    ratios = sorted(a["epoch_alone_seconds"] / b["epoch_alone_seconds"] for a, b in zip(p1["runs"], p2["runs"]))
    print(f"each epoch alone (the workers' training and the average; without the fit's once-per-fit pass over y "
          f"and preparation of the blocks), medians: 1 worker {p1['epoch_alone_seconds']:.3f} s, 2 workers "
          f"{p2['epoch_alone_seconds']:.3f} s = {p1['epoch_alone_seconds'] / p2['epoch_alone_seconds']:.2f}x "
          f"(each repeat: {', '.join(f'{r:.2f}' for r in ratios)}x)")
    ratios = sorted(a["seconds_per_epoch"] / b["seconds_per_epoch"] for a, b in zip(memory["runs"], pair["runs"]))
    print(f"two independent processes (half the rows each, at once): {pair['seconds_per_epoch']:.3f} s per epoch = "
          f"{memory['seconds_per_epoch'] / pair['seconds_per_epoch']:.2f}x the in-memory fit (each repeat: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}x): what the two cores give with no communication at all")
    print(f"data-parallel, 2 workers vs 1: {p1['seconds_per_epoch'] / p2['seconds_per_epoch']:.2f}x per epoch; "
          f"1 worker vs in memory: {p1['seconds_per_epoch'] / memory['seconds_per_epoch']:.2f}x the time; "
          f"accuracy {p2['accuracy']:.4f} (2 workers), {p1['accuracy']:.4f} (1 worker) vs in-memory "
          f"{memory['accuracy']:.4f}")


if __name__ == "__main__":
    main()
