"""Benchmark fastnn against its peers, single-threaded, contenders interleaved.

Usage (from the project root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py \
        [--quick] [--shapes S1,S2,S3] [--repeats N] [--min-seconds S] [--out DIR] [--write-results]

Every contender of `peers.REGISTRY` is set up and warmed up (one untimed
epoch), then timed round-robin: repeat 1 of every contender, then repeat 2 of
every contender, ...; the median time is reported.  A repeat runs a contender's
epoch back to back as many times as its warm-up says fill ``--min-seconds``
(as ``timeit`` autoranges), so that a 20 ms epoch is not timed alone right
after another library had the core: the first milliseconds after such a switch
run measurably slower.  Missing peers are skipped
with the command that installs them; this script installs nothing.

Writes ``RESULTS.md``, ``results.json`` and ``bench.png`` into ``--out``
(default ``bench/out/``); also into ``bench/`` with ``--write-results``.
See ``bench/README.md`` for what each contender does and the FLOP formula.
"""

import _threads

ORIGINAL_THREAD_ENV = _threads.pin_single_thread()  # before numpy is imported

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import peers  # noqa: E402
import peers_optim  # noqa: E402
from peers import INSTALL, Shape, Skip  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
OCR_DIR = PROJECT_DIR / ".." / "shared" / "data" / "ocr"

SHAPES = {
    "S1": Shape("S1", (128, 50, 10)),
    "S2": Shape("S2", (784, 256, 10)),
    "S3": Shape("S3", (784, 256, 256, 10)),
}
FULL_ROWS = {"S1": 9000, "S2": 10000, "S3": 10000}
PREDICT_ROWS = 10000
QUICK_ROWS = 50
MIN_REPEAT_SECONDS = 0.2  # a timed repeat lasts at least this long (timeit's autorange uses 0.2 s)
MAX_RUNS_PER_REPEAT = 50
MNIST_ZERO_FRACTION = 0.81  # MNIST pixels are ~81% zeros
OCR_ONE_FRACTION = 0.21  # the OCR letters are ~21% ones


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def parse_args(argv):
    """Parse the command line; bad values exit with a message saying what to pass."""
    parser = argparse.ArgumentParser(
        description="Benchmark fastnn against NumPy, scikit-learn, PyTorch and FANN "
        "(single-threaded, interleaved, medians).",
        epilog="Recommended: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny run for checking the harness: {QUICK_ROWS} rows, 1 repeat")
    parser.add_argument("--shapes", default="S1,S2,S3",
                        help="comma-separated subset of S1 (128→50→10 OCR), S2 (784→256→10), "
                        "S3 (784→256→256→10); default all")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per contender (default 5, 1 with --quick)")
    parser.add_argument("--min-seconds", type=float, default=MIN_REPEAT_SECONDS,
                        help="a timed repeat runs a contender back to back for at least this long "
                        f"(default {MIN_REPEAT_SECONDS:g}; 0: one run per repeat; ignored with --quick)")
    parser.add_argument("--rows", type=int, default=None,
                        help="use only the first ROWS training rows of each shape (default: all; "
                        f"{QUICK_ROWS} with --quick)")
    parser.add_argument("--predict-rows", type=int, default=None,
                        help=f"rows of the prediction pass (default {PREDICT_ROWS}; {QUICK_ROWS} with --quick)")
    parser.add_argument("--only", default=None,
                        help="comma-separated words; run only contenders whose name contains one "
                        "(e.g. --only fastnn,FANN)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out",
                        help="output directory (default bench/out/)")
    parser.add_argument("--write-results", action="store_true",
                        help="also write RESULTS.md, results.json and bench.png into bench/ "
                        "(the committed copy)")
    parser.add_argument("--ocr-dir", type=Path, default=OCR_DIR,
                        help="folder holding large_train.csv (default ../shared/data/ocr)")
    parser.add_argument("--note", default="",
                        help="a sentence about the conditions, copied into RESULTS.md")
    args = parser.parse_args(argv)

    names = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in names if s not in SHAPES]
    if unknown or not names:
        parser.error(f"--shapes got {args.shapes!r}; use a comma-separated subset of {','.join(SHAPES)}")
    args.shapes = names
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.rows is None and args.quick:
        args.rows = QUICK_ROWS
    if args.predict_rows is None:
        args.predict_rows = QUICK_ROWS if args.quick else PREDICT_ROWS
    for name in ("repeats", "rows", "predict_rows"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if not args.min_seconds >= 0:  # also NaN
        parser.error(f"--min-seconds must be 0 or more, got {args.min_seconds}")
    args.only = [w.strip() for w in args.only.split(",") if w.strip()] if args.only else None
    return args


# --------------------------------------------------------------------------
# what is installed, the machine, the versions, the threads
# --------------------------------------------------------------------------


def optional_import(name):
    """The module `name`, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def fann_version():
    """Version of the Debian libfann-dev package, or None."""
    if shutil.which("dpkg-query") is None:
        return None
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libfann-dev"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def gcc_version():
    """``gcc -dumpfullversion``, or None."""
    if shutil.which("gcc") is None:
        return None
    proc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def cpu_info():
    """CPU model, logical and physical core counts, usable cores, SIMD flags."""
    model, flags, physical = None, set(), set()
    socket = core = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and model is None:
                    model = value
                elif key == "flags" and not flags:
                    flags = set(value.split())
                elif key == "physical id":
                    socket = value
                elif key == "core id":
                    core = value
                    physical.add((socket, core))
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "model": model or platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": len(physical) or None,
        "usable_cores": usable,
        "simd": sorted(flags & {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"}),
        "platform": platform.platform(),
    }


def check_installed(torch_module):
    """List what is missing, each with its install command.

    Returns
    -------
    missing : list of (str, str)
        ``(what, command)`` pairs.
    """
    missing = []
    if optional_import("sklearn") is None:
        missing.append(("scikit-learn", INSTALL["sklearn"]))
    if torch_module is None:
        missing.append(("PyTorch", INSTALL["torch"]))
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        missing.append(("a C compiler (for the FANN driver)", INSTALL["gcc"]))
    if not Path("/usr/include/fann.h").exists() and fann_version() is None:
        missing.append(("FANN (libfann-dev)", INSTALL["fann"]))
    if optional_import("fastnn") is None:
        missing.append(("fastnn (from the project root)", INSTALL["fastnn"]))
    if optional_import("matplotlib") is None:
        missing.append(("matplotlib (for bench.png)", INSTALL["matplotlib"]))
    if optional_import("threadpoolctl") is None:
        missing.append(("threadpoolctl (to pin BLAS to one thread)", INSTALL["threadpoolctl"]))
    return missing


def versions(torch_module):
    """Versions of Python and every peer; None where not installed."""
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "sklearn", "threadpoolctl", "matplotlib", "fastnn"):
        module = optional_import(name)
        out[name] = getattr(module, "__version__", "installed") if module is not None else None
    out["torch"] = torch_module.__version__ if torch_module is not None else None
    out["fann (libfann-dev)"] = fann_version()
    out["gcc"] = gcc_version()
    return out


def blas_info(threadpoolctl):
    """What threadpoolctl reports for every loaded BLAS/OpenMP library."""
    if threadpoolctl is None:
        return []
    keep = ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [
        {**{k: info.get(k) for k in keep}, "library": Path(info.get("filepath", "")).name}
        for info in threadpoolctl.threadpool_info()
    ]


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


def load_data(shape, rows, ocr_dir):
    """Training rows for `shape`.

    Returns
    -------
    X : ndarray of shape (n, d), float64
    y : ndarray of shape (n,), int64, labels 0..k-1
    source : str
        Where the rows came from (and, for stand-in data, why).
    """
    d, k = shape.layers[0], shape.layers[-1]
    n = FULL_ROWS[shape.name] if rows is None else min(rows, FULL_ROWS[shape.name])
    rng = np.random.default_rng({"S1": 1, "S2": 2, "S3": 3}[shape.name])
    if shape.name == "S1":
        path = Path(ocr_dir) / "large_train.csv"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",", max_rows=n)
            if table.ndim != 2 or table.shape[1] != d + 1:
                raise SystemExit(f"{path} has {table.shape[-1]} columns, expected {d + 1} "
                                 "(label,x1..x128); pass the right folder with --ocr-dir")
            return table[:, 1:].copy(), table[:, 0].astype(np.int64), f"OCR {path.name}, {n} rows"
        X = (rng.random((n, d)) < OCR_ONE_FRACTION).astype(np.float64)
        y = rng.integers(0, k, size=n)
        return X, y, (f"synthetic binary stand-in, {n} rows ({path} not found; "
                      "the OCR data lives in ../shared/data/ocr)")
    X = rng.random((n, d))
    X[rng.random((n, d)) < MNIST_ZERO_FRACTION] = 0.0
    y = rng.integers(0, k, size=n)
    return X, y, f"synthetic MNIST-like (U(0,1) pixels, {MNIST_ZERO_FRACTION:.0%} zeros), {n} rows"


def predict_data(X, y, m):
    """`m` rows for the prediction pass: the training rows, repeated as needed."""
    index = np.arange(m) % len(X)
    return np.ascontiguousarray(X[index]), y[index]


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------


def runs_per_repeat(warm_up_seconds, min_seconds):
    """How many back-to-back runs make a timed repeat of at least `min_seconds`."""
    if min_seconds <= 0 or warm_up_seconds <= 0:
        return 1
    return max(1, min(MAX_RUNS_PER_REPEAT, int(np.ceil(min_seconds / warm_up_seconds))))


def run_shape(shape, data, contenders, repeats, log, warm_up=True, min_seconds=MIN_REPEAT_SECONDS):
    """Set up, warm up and time every contender on one shape, interleaved.

    Parameters
    ----------
    shape : Shape
    data : dict
        ``{"train": (X, y), "predict": (X, y)}``.
    contenders : list of peers.Contender
    repeats : int
    log : callable
        Progress printer.
    warm_up : bool, default=True
        Run each contender once, untimed, before the timed rounds.
    min_seconds : float, default=MIN_REPEAT_SECONDS
        A timed repeat runs the contender back to back until the warm-up's time says
        this many seconds are filled (one run without a warm-up); its seconds are the
        mean per run.

    Returns
    -------
    records : list of dict
        One per contender: status ``ok``, ``skipped`` or ``failed``, the note,
        the timed seconds (one per repeat), the runs per repeat and the rows.
    """
    records, active = [], []
    for c in contenders:
        record = {"shape": shape.name, "library": c.library, "path": c.path, "task": c.task,
                  "dtype": c.dtype.name, "key": c.key, "note": c.note, "is_reference":
                  type(c) is peers.FASTNN_REFERENCE[c.task], "rows": len(data[c.task][0]),
                  "seconds": [], "runs_per_repeat": 1}
        records.append(record)
        t0 = time.perf_counter()
        try:
            c.setup(shape, *data[c.task])
            if warm_up:
                record["runs_per_repeat"] = runs_per_repeat(c.run(), min_seconds)  # untimed
        except Skip as exc:
            record.update(status="skipped", reason=str(exc))
            log(f"  skip  {c.key}: {exc}")
            c.close()
            continue
        except Exception as exc:  # one broken contender must not stop the others
            record.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
            log(f"  FAIL  {c.key}:\n{traceback.format_exc()}")
            c.close()
            continue
        record["status"] = "ok"
        active.append((c, record))
        log(f"  ready {c.key} (setup{' and warm-up' if warm_up else ''} {time.perf_counter() - t0:.2f} s; "
            f"{record['runs_per_repeat']} run(s) per repeat)")

    gc.collect()
    gc.freeze()  # setup's objects too: the gc.collect() before each run stays cheap
    for r in range(repeats):
        for c, record in active:
            if record["status"] != "ok":
                continue
            gc.collect()
            try:
                runs = record["runs_per_repeat"]
                record["seconds"].append(sum(c.run() for _ in range(runs)) / runs)
            except Exception as exc:  # one broken contender must not stop the others
                record.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
                log(f"  FAIL  {c.key}:\n{traceback.format_exc()}")
        log(f"  round {r + 1}/{repeats} done")
    for c, _ in active:
        c.close()
    return records


def add_rates(records, shape, gemm):
    """Add median seconds, samples/s, GFLOP/s, % of gemm and the fastnn ratio to `records`."""
    flops = {"train": shape.flops_train(), "predict": shape.flops_predict()}
    for rec in records:
        if rec["status"] != "ok" or not rec["seconds"]:
            continue
        median = statistics.median(rec["seconds"])
        rec["median_s"] = median
        rec["spread_pct"] = 100.0 * (max(rec["seconds"]) - min(rec["seconds"])) / median
        rec["samples_per_s"] = rec["rows"] / median
        rec["flops_per_sample"] = flops[rec["task"]]
        rec["gflops"] = rec["samples_per_s"] * flops[rec["task"]] / 1e9
        rec["pct_gemm"] = 100.0 * rec["gflops"] / gemm[rec["dtype"]]
    for rec in records:
        ref = next((r for r in records if r["is_reference"] and r["task"] == rec["task"]
                    and r["dtype"] == rec["dtype"] and "samples_per_s" in r), None)
        if ref is not None and "samples_per_s" in rec:
            rec["fastnn_ratio"] = ref["samples_per_s"] / rec["samples_per_s"]


# --------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------


def _fmt_rate(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def write_markdown(path, meta, results, chart_name):
    """Write RESULTS.md: machine, versions, threads, date, command, one table per shape."""
    L = []
    L.append("# fastnn benchmark results\n")
    L.append(f"- **Date:** {meta['date']}")
    L.append(f"- **Command:** `{meta['command']}`")
    if meta["note"]:
        L.append(f"- **Conditions:** {meta['note']}")
    if meta["quick"]:
        L.append("- **Quick run** (tiny sizes, for checking the harness): the rates below say nothing about speed.")
    cpu = meta["cpu"]
    L.append(f"- **CPU:** {cpu['model']}; {cpu['logical_cores']} logical cores"
             f" ({cpu['physical_cores'] or '?'} physical), {cpu['usable_cores']} usable;"
             f" SIMD: {', '.join(cpu['simd']) or 'none listed'}")
    L.append(f"- **Platform:** {cpu['platform']}")
    L.append("- **Versions:** " + ", ".join(f"{k} {v}" if v else f"{k} (not installed)"
                                            for k, v in meta["versions"].items()))
    L.append(f"- **Threads:** {', '.join(f'{k}={v}' for k, v in meta['threads']['env'].items())}; "
             f"threadpoolctl limit {meta['threads']['threadpoolctl_limit']}; "
             f"torch {meta['threads']['torch'] or '(not installed)'}")
    overridden = {k: v for k, v in meta["threads"]["env_before"].items() if v not in (None, "1")}
    if overridden:
        L.append(f"- **Thread variables overridden to 1** (were: {overridden})")
    kernel_env = meta["openblas_kernel_env"]
    set_vars = {k: v for k, v in kernel_env.items() if v is not None}
    L.append("- **OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE:** "
             + (f"SET ({set_vars}): the BLAS kernel may not be the one this CPU would get"
                if set_vars else "unset"))
    L.append("- **BLAS/OpenMP (threadpoolctl):** " + ("; ".join(
        f"{b['library']}: {b['internal_api']} {b['version'] or ''}"
        f"{' ' + b['architecture'] if b.get('architecture') else ''}, {b['num_threads']} thread(s)"
        for b in meta["blas"]) or "threadpoolctl not installed"))
    n_measured = len(meta["gemm_samples"]["float64"])
    L.append(f"- **Reference rate (single thread, {meta['gemm_n']}×{meta['gemm_n']} `numpy.matmul`, best of "
             f"{meta['gemm_repeats']} products, measured {n_measured} times: at the start and after each shape; "
             f"the best counts):** dgemm {meta['gemm']['float64']:.1f} GFLOP/s, "
             f"sgemm {meta['gemm']['float32']:.1f} GFLOP/s")
    warm = "no warm-up (quick run)" if meta["quick"] else "one untimed warm-up epoch"
    fill = (f"each repeat runs the contender's epoch back to back until it lasts ≥ {meta['min_seconds']:g} s "
            "(the warm-up's time sets the count; the mean per run counts)" if meta["min_seconds"] > 0
            else "each repeat is one run")
    L.append(f"- **Timing:** {warm}, then {meta['repeats']} timed repeat(s) per contender, "
             f"round-robin over contenders; {fill}; medians of the repeats. "
             "Learning rate 0.01, no momentum, rows in order.")
    L.append("")
    if meta["missing"]:
        L.append("**Not installed here** (their contenders are skipped): "
                 + "; ".join(f"{what}: `{cmd}`" for what, cmd in meta["missing"]))
        L.append("")

    for shape_name, block in results.items():
        shape = SHAPES[shape_name]
        L.append(f"## {shape_name}: {shape.label}\n")
        L.append(f"Training data: {block['source']}. Prediction: {block['predict_rows']} rows. "
                 f"FLOPs per sample: training {shape.flops_train():,}, prediction {shape.flops_predict():,} "
                 f"(W = {shape.n_weights():,} weights).\n")
        L.append("| contender | path | dtype | samples/s | GFLOP/s | % of gemm | fastnn ÷ this | spread |")
        L.append("|---|---|---|---:|---:|---:|---:|---:|")
        for task in ("train", "predict"):
            for rec in block["records"]:
                if rec["task"] != task or rec["status"] != "ok" or "samples_per_s" not in rec:
                    continue
                ratio = f"{rec['fastnn_ratio']:.2f}×" if "fastnn_ratio" in rec else "–"
                name = f"**{rec['library']}**" if rec["library"] == "fastnn" else rec["library"]
                gemm = "dgemm" if rec["dtype"] == "float64" else "sgemm"
                spread = f"{rec['spread_pct']:.0f}%" if len(rec["seconds"]) > 1 else "–"
                L.append(f"| {name} | {rec['path']} | {rec['dtype']} | {_fmt_rate(rec['samples_per_s'])} | "
                         f"{rec['gflops']:.2f} | {rec['pct_gemm']:.1f}% of {gemm} | {ratio} | {spread} |")
        failed = [r for r in block["records"] if r["status"] == "failed"]
        if failed:
            L.append("")
            L.append("Failed: " + "; ".join(f"{r['key']} ({r['reason']})" for r in failed))
        L.append("")

    skipped = {}  # reason -> {contender: [dtypes]}
    for block in results.values():
        for rec in block["records"]:
            if rec["status"] == "skipped":
                dtypes = skipped.setdefault(rec["reason"], {}).setdefault(f"{rec['library']} {rec['path']}", [])
                if rec["dtype"] not in dtypes:
                    dtypes.append(rec["dtype"])
    if skipped:
        L.append("## Skipped\n")
        for reason, contenders in skipped.items():
            shown = "; ".join(f"{name} ({', '.join(dtypes)})" for name, dtypes in contenders.items())
            L.append(f"- {shown}: {reason}")
        L.append("")

    L.append("## How to read this\n")
    L.append("- samples/s = rows ÷ median seconds of one epoch (training) or of one pass over all rows (prediction).")
    L.append("- FLOPs per sample of an SGD step = 2·W (forward) + 2·W_above (delta carried down to the hidden "
             "layers; W_above = weights of the layers above the first, biases excluded) + 2·W (update); "
             "prediction = 2·W. W counts every weight including biases. Mini-batch rows use the same count.")
    L.append("- % of gemm = GFLOP/s ÷ the single-thread dgemm (float64) or sgemm (float32) rate measured in this run.")
    L.append("- fastnn ÷ this = fastnn's rate ÷ this row's rate, same dtype and task: training rows against "
             "fastnn's per-sample engine epoch, prediction rows against `predict_proba`; "
             "above 1× means fastnn is faster.")
    L.append("- spread = (slowest − fastest) ÷ median of the timed repeats.")
    L.append("- FANN trains sigmoid output units on MSE (its standard; it has no softmax), so its rows compare "
             "the cost of a training step, not the same model.")
    L.append("- fastnn's engine rows (per-sample, sparse, Hogwild!, mini-batch) time one epoch of "
             "`fastnn._engine.sgd_epoch` on data converted once, as the NumPy, PyTorch and FANN rows time their "
             "epoch loops; the `Network.fit`, `MLPClassifier` and scikit-learn rows time the whole `fit` call "
             "(input checks, initialisation, one epoch and, for `Network.fit`, the loss pass for `history_`).")
    L.append("- The sparse-CSR row's GFLOP/s uses the dense FLOP count (a dense-equivalent rate).")
    L.append("- Every contender runs on one thread except a row marked n_jobs=2.")
    if chart_name:
        L.append(f"\n![samples per second]({chart_name})")
    Path(path).write_text("\n".join(L) + "\n", encoding="utf-8")


def write_chart(path, results, quick):
    """Bar chart of samples/s (log scale): one column per shape, rows training / prediction.

    Returns
    -------
    ok : bool
        False when matplotlib is not installed.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    colors = {"fastnn": "#d62728", "NumPy": "#1f77b4", "scikit-learn": "#ff7f0e",
              "PyTorch": "#9467bd", "FANN": "#2ca02c"}
    tasks = [("train", "training"), ("predict", "prediction")]
    names = list(results)
    label_in, plot_in, pad_in = 2.7, 3.9, 0.5  # fixed margins: tight_layout is slow
    col_in = label_in + plot_in + pad_in
    fig, axes = plt.subplots(len(tasks), len(names), figsize=(col_in * len(names), 10), squeeze=False)
    fig.subplots_adjust(left=label_in / (col_in * len(names)), right=1 - pad_in / (col_in * len(names)),
                        wspace=(label_in + pad_in) / plot_in, top=0.93, bottom=0.06, hspace=0.2)
    for j, name in enumerate(names):
        for i, (task, title) in enumerate(tasks):
            ax = axes[i][j]
            recs = [r for r in results[name]["records"]
                    if r["task"] == task and r["status"] == "ok" and "samples_per_s" in r]
            labels = [f"{r['library']} {r['path']} {'f64' if r['dtype'] == 'float64' else 'f32'}" for r in recs]
            values = [r["samples_per_s"] for r in recs]
            ax.barh(range(len(recs)), values, color=[colors.get(r["library"], "grey") for r in recs])
            ax.set_yticks(range(len(recs)))
            ax.set_yticklabels(labels, fontsize=7)
            ax.invert_yaxis()
            if values:
                ax.set_xscale("log")
                # bars start at a power of ten, so their lengths are comparable
                ax.set_xlim(10 ** np.floor(np.log10(min(values))), 10 ** np.ceil(np.log10(max(values) * 1.5)))
                for k, v in enumerate(values):
                    ax.text(v, k, f" {_fmt_rate(v)}", va="center", fontsize=6)
            ax.set_xlabel("samples/s (log scale)")
            ax.set_title(f"{name} {SHAPES[name].label}: {title}", fontsize=10)
            ax.grid(axis="x", which="major", alpha=0.3)
    fig.suptitle("fastnn and peers, single thread" + (" (quick run: not a measurement)" if quick else ""))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main(argv=None):
    """Run the benchmark; returns the exit status (1 when a contender failed)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)

    def log(msg):
        print(msg, flush=True)

    kernel_env = {name: os.environ.get(name) for name in _threads.OPENBLAS_KERNEL_VARS}
    if any(v is not None for v in kernel_env.values()):
        log(f"warning: {kernel_env} set; they choose the OpenBLAS kernel. Recommended: "
            "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py")

    torch = optional_import("torch")
    torch_threads = None
    if torch is not None:
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only settable before torch's first parallel work
            pass
        torch_threads = f"num_threads={torch.get_num_threads()}, interop={torch.get_num_interop_threads()}"
    threadpoolctl = optional_import("threadpoolctl")
    optional_import("fastnn")  # load its libraries before the thread limit is applied
    gc.collect()
    gc.freeze()  # the imports' objects leave the collector's view: gc.collect() before each run is cheap

    missing = check_installed(torch)
    if missing:
        log("Not installed (their contenders are skipped):")
        for what, cmd in missing:
            log(f"  {what}: {cmd}")

    args.out.mkdir(parents=True, exist_ok=True)
    workdir = peers.new_workdir()
    status = 0
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        if threadpoolctl is not None:
            stack.enter_context(threadpoolctl.threadpool_limits(limits=1))
        else:
            log("warning: threadpoolctl is missing; relying on the *_NUM_THREADS variables alone")

        # the reference rate is measured at the start and after each shape; the best counts,
        # so that a busy moment of a shared machine does not lower it
        gemm_n, gemm_repeats = (256, 2) if args.quick else (1024, 5)
        gemm_samples = {"float64": [], "float32": []}
        gemm = {}

        def measure_gemm():
            for dt in gemm_samples:
                gemm_samples[dt].append(peers.gemm_gflops(dt, gemm_n, gemm_repeats))
                gemm[dt] = max(gemm_samples[dt])
            log(f"reference: dgemm {gemm_samples['float64'][-1]:.1f} GFLOP/s, "
                f"sgemm {gemm_samples['float32'][-1]:.1f} GFLOP/s")

        measure_gemm()

        meta = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python", "bench/run.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
            "note": args.note,
            "quick": args.quick,
            "repeats": args.repeats,
            "min_seconds": 0.0 if args.quick else args.min_seconds,
            "cpu": cpu_info(),
            "versions": versions(torch),
            "threads": {
                "env": {name: os.environ.get(name) for name in _threads.THREAD_VARS},
                "env_before": ORIGINAL_THREAD_ENV,
                "threadpoolctl_limit": 1 if threadpoolctl is not None else None,
                "torch": torch_threads,
            },
            "openblas_kernel_env": kernel_env,
            "blas": blas_info(threadpoolctl),
            "gemm": gemm,
            "gemm_samples": gemm_samples,
            "gemm_n": gemm_n,
            "gemm_repeats": gemm_repeats,
            "missing": missing,
        }

        ctx = peers.RunContext(workdir)
        results = {}
        for name in args.shapes:
            shape = SHAPES[name]
            X, y, source = load_data(shape, args.rows, args.ocr_dir)
            data = {"train": (X, y), "predict": predict_data(X, y, args.predict_rows)}
            log(f"{name} {shape.label}: {source}")
            contenders = [cls(dtype, ctx) for cls, dtype in peers.REGISTRY + peers_optim.REGISTRY]
            if args.only:
                contenders = [c for c in contenders if any(w.lower() in c.key.lower() for w in args.only)]
            records = run_shape(shape, data, contenders, args.repeats, log, warm_up=not args.quick,
                                min_seconds=0.0 if args.quick else args.min_seconds)
            measure_gemm()
            add_rates(records, shape, gemm)
            results[name] = {"source": source, "predict_rows": args.predict_rows, "records": records}
            for rec in records:
                if rec["status"] == "failed":
                    status = 1
                elif rec["status"] == "ok" and "samples_per_s" in rec:
                    ratio = f"  fastnn ÷ this {rec['fastnn_ratio']:.2f}" if "fastnn_ratio" in rec else ""
                    log(f"  {rec['key']:<58} {_fmt_rate(rec['samples_per_s']):>12} samples/s "
                        f"{rec['gflops']:7.2f} GFLOP/s{ratio}")

    for name, block in results.items():  # again, with the final reference rate
        add_rates(block["records"], SHAPES[name], gemm)
    chart = "bench.png"
    targets = [args.out.resolve()]
    if args.write_results and BENCH_DIR not in targets:
        targets.append(BENCH_DIR)
    first = targets[0]
    drawn = write_chart(first / chart, results, args.quick)
    write_markdown(first / "RESULTS.md", meta, results, chart if drawn else None)
    with open(first / "results.json", "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, default=str)
    for target in targets:
        if target != first:
            for name in ("RESULTS.md", "results.json") + ((chart,) if drawn else ()):
                shutil.copyfile(first / name, target / name)
        log(f"wrote {target / 'RESULTS.md'}, results.json" + (", bench.png" if drawn else
                                                              " (no chart: matplotlib not installed)"))
    return status


if __name__ == "__main__":
    sys.exit(main())
