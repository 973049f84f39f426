"""Samples per second of whole fits (Network.fit, MLPClassifier.fit) on OCR large, best of 3.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/fit_rates.py [--epochs 5]

Per-sample SGD, 128-50-10, one BLAS thread; each fit includes its input checks, initialisation
and the per-epoch loss passes (what a user's `fit` call costs, unlike bench/run.py's engine rows).
Run it with two builds' interpreters one after the other, alternating, to compare them.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import fastnn

OCR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ocr" / "large_train.csv"


def best_rate(fit, n_samples, epochs, repeats=3):
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        best = max(best, n_samples * epochs / (time.perf_counter() - start))
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    data = np.loadtxt(OCR, delimiter=",")
    X, y = np.ascontiguousarray(data[:, 1:]), data[:, 0].astype(int)
    rates = {}
    warnings.simplefilter("ignore")
    with threadpool_limits(1):
        for dtype in ("float64", "float32"):
            net = fastnn.Network(hidden=(50,), epochs=args.epochs, learning_rate=0.01, random_state=0, dtype=dtype)
            net.fit(X[:100], y[:100])  # first-call set-up outside the timing
            rates[f"Network.fit {dtype}"] = best_rate(lambda: net.fit(X, y), len(X), args.epochs)
            model = fastnn.MLPClassifier(hidden_layer_sizes=(50,), max_iter=args.epochs, random_state=0, dtype=dtype,
                                         tol=0)
            rates[f"MLPClassifier.fit {dtype}"] = best_rate(lambda: model.fit(X, y), len(X), args.epochs)
    print(json.dumps({name: round(rate) for name, rate in rates.items()}))


if __name__ == "__main__":
    main()
