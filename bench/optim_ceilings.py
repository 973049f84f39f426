"""What the hardware allows per-sample Adam and L-BFGS, measured beside fastnn and scikit-learn.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/optim_ceilings.py [--repeats 5]

Two ceilings, each against the figure it bounds (one thread each, contenders interleaved):

- **Per-sample Adam vs plain SGD.** Adam changes every weight and both of its moments at every
  update, with one square root and one division per weight. ``bench/adam_update.c`` (built here
  with the engine's flags) times that update pass alone over S1's 6,960 weights (128-50-10); the
  engine's per-sample epochs of plain SGD and of Adam on the OCR rows of S1 are timed beside it
  (thread CPU time). ``plain SGD per sample / update pass`` is the most per-sample Adam can reach
  as a fraction of plain SGD's rate even if the forward and backward passes cost nothing.
- **L-BFGS vs scikit-learn's.** Both fit ``MLPClassifier(activation="relu", solver="lbfgs",
  max_iter=20, tol=0)`` (scikit-learn's default activation, the cheapest beside the products) on scikit-learn's digits (X / 16, hidden 64) and OCR large (9,000 rows,
  hidden 50). Each function evaluation is a forward and a backward pass over all rows, ~6 n
  sum(n_in n_out) FLOPs in matrix products (counted with scipy's ``nfev``); the single-thread
  dgemm rate of numpy's BLAS on 1024x1024 matrices is measured in the same run. ``dgemm rate /
  scikit-learn's rate`` is how much faster than scikit-learn a contender could be if its
  evaluations ran at dgemm speed with nothing else to do.
"""
import _threads

_threads.pin_single_thread()  # before numpy is imported

import argparse  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
OCR_DIR = BENCH_DIR.parent / ".." / "shared" / "data" / "ocr"
ENGINE_FLAGS = ["-O3", "-mavx2", "-mfma", "-fopenmp-simd", "-fno-math-errno"]
S1 = (128, 50, 10)


def ocr_large():
    path = OCR_DIR / "large_train.csv"
    if not path.is_file():
        return None
    table = np.loadtxt(path, delimiter=",", max_rows=9000)
    return table[:, 1:].copy(), table[:, 0].astype(np.int64)


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def build_update_timer(workdir):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    out = Path(workdir) / "adam_update"
    subprocess.run([cc, *ENGINE_FLAGS, str(BENCH_DIR / "adam_update.c"), "-o", str(out), "-lm"], check=True)
    return out


def engine_epoch_seconds(X, y, method):
    """Thread CPU seconds of one engine epoch, per-sample, plain SGD (method None) or Adam."""
    from fastnn import _core, _engine, _optim

    arch = _engine.architecture(list(S1), "softmax", ["logistic"], "float64")
    rng = np.random.default_rng(0)
    W = _engine.pack_weights([rng.uniform(-0.1, 0.1, (n_out, n_in + 1)) for n_in, n_out in zip(S1[:-1], S1[1:])],
                             "float64")
    data = _engine.make_dataset(np.ascontiguousarray(X), "float64", labels=y.astype(np.int32))
    order = np.arange(len(y), dtype=np.intp)
    optimizer = None if method is None else _optim.Optimizer(list(S1), "float64", 0.01, method=method)
    W = _core.aligned_copy(W)
    start = time.thread_time()
    _engine.sgd_epoch(arch, W, data, order, learning_rate=0.01, batch_size=1, optimizer=optimizer)
    return time.thread_time() - start


def adam_ceiling(repeats, workdir):
    data = ocr_large()
    timer = build_update_timer(workdir)
    if data is None or timer is None:
        print("\nper-sample Adam: skipped (needs the OCR data in ../shared/data/ocr and gcc)")
        return
    X, y = data
    n_weights = sum((n_in + 1) * n_out for n_in, n_out in zip(S1[:-1], S1[1:]))
    plain, adam, update = [], [], []
    for _ in range(repeats):
        plain.append(engine_epoch_seconds(X, y, None) / len(y) * 1e9)
        adam.append(engine_epoch_seconds(X, y, "adam") / len(y) * 1e9)
        lines = subprocess.run([str(timer), str(n_weights), "20000", "1"], check=True, capture_output=True,
                               text=True).stdout.split()
        update.append(float(lines[0]))
    p, a, u = (statistics.median(v) for v in (plain, adam, update))
    print(f"\nper-sample Adam on S1 ({n_weights} weights), float64, ns per sample (medians of {repeats}):")
    print(f"  plain SGD {p:,.0f}; Adam {a:,.0f} ({p / a:.2f}x plain); Adam's update pass alone {u:,.0f} "
          f"({u / a:.0%} of an Adam sample)")
    print(f"  ceiling: plain / update pass = {p / u:.2f}x plain SGD's rate, with forward and backward free")


def lbfgs_ceiling(repeats):
    import scipy.optimize
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    import fastnn
    from peers import gemm_gflops

    evaluations = []
    minimize = scipy.optimize.minimize

    def counting_minimize(*args, **kwargs):
        result = minimize(*args, **kwargs)
        evaluations.append(result.nfev)
        return result

    scipy.optimize.minimize = counting_minimize
    try:
        problems = {"digits": (digits(), (64,)), "OCR large": (ocr_large(), (50,))}
        dgemm = gemm_gflops("float64")
        print(f"\nL-BFGS, 20 iterations, float64; single-thread dgemm {dgemm:.1f} GFLOP/s (1024x1024, numpy's BLAS)")
        for name, (data, hidden) in problems.items():
            if data is None:
                print(f"  {name}: skipped (the OCR data are not in ../shared/data/ocr)")
                continue
            X, y = data
            sizes = (X.shape[1], *hidden, len(np.unique(y)))
            flops = 6.0 * len(y) * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
            times = {"scikit-learn": [], "fastnn": []}
            nfev = {}
            for _ in range(repeats):
                for library, cls in (("scikit-learn", SklearnMLP), ("fastnn", fastnn.MLPClassifier)):
                    model = cls(hidden_layer_sizes=hidden, activation="relu", solver="lbfgs", max_iter=20, tol=0.0,
                                random_state=0)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        start = time.perf_counter()
                        model.fit(X, y)
                        times[library].append(time.perf_counter() - start)
                    nfev[library] = evaluations[-1]
            rate = {lib: nfev[lib] * flops / statistics.median(t) / 1e9 for lib, t in times.items()}
            s, f = (statistics.median(times[lib]) for lib in ("scikit-learn", "fastnn"))
            print(f"  {name} ({len(y)} rows, {'-'.join(map(str, sizes))}): scikit-learn {s * 1e3:.1f} ms "
                  f"({nfev['scikit-learn']} evaluations, {rate['scikit-learn']:.1f} GFLOP/s), fastnn {f * 1e3:.1f} ms "
                  f"({nfev['fastnn']}, {rate['fastnn']:.1f} GFLOP/s): fastnn {s / f:.2f}x; ceiling at the dgemm rate "
                  f"{dgemm / rate['scikit-learn']:.2f}x; 5x would need {5 * rate['scikit-learn']:.1f} GFLOP/s")
    finally:
        scipy.optimize.minimize = minimize
    print(f"  (scikit-learn {sklearn.__version__}, fastnn {fastnn.__version__})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import scipy
    print(f"{platform.machine()}, {platform.processor() or 'cpu'}; Python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {scipy.__version__}; one thread each")
    with tempfile.TemporaryDirectory(prefix="fastnn-bench-") as workdir:
        adam_ceiling(args.repeats, workdir)
    lbfgs_ceiling(args.repeats)


if __name__ == "__main__":
    sys.exit(main())
