"""Hogwild! with an optimizer: private states merged per epoch, or one state shared by the threads.

Fits OCR large (128-50-10, 9000 rows, ../shared/data/ocr) for 10 shuffled epochs, 4 seeds, per
method: serial; two threads each with a private copy of the optimizer state, merged (mean) after
the epoch (what fastnn does); two threads updating one shared state buffer without locks. Prints
the validation accuracy and the time. Run from the project root: ``python bench/hogwild_state.py``.
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import load_ocr  # noqa: E402

import fastnn  # noqa: E402
from fastnn import _engine, _optim  # noqa: E402

X, y = load_ocr("large_train")
Xv, yv = load_ocr("large_validation")
sizes = [128, 50, 10]


def run(method, n_jobs, mode, seed, epochs=10, lr=0.01):
    rng = np.random.default_rng(seed)
    weights = fastnn._training.initial_weights(sizes, "uniform", rng, np.float64)
    arch = _engine.architecture(sizes, "softmax", ["logistic"], np.float64)
    W = _engine.pack_weights(weights, np.float64)
    data = _engine.make_dataset(X, np.float64, labels=y.astype(np.int32))
    opt = _optim.Optimizer(sizes, np.float64, lr, method=method, momentum=0.9)
    if mode == "shared":  # every thread updates the one state buffer, unlocked
        opt.private_copy = lambda: opt
        opt.merge = lambda copies: None
    start = time.perf_counter()
    for _ in range(epochs):
        _engine.sgd_epoch(arch, W, data, rng.permutation(len(y)).astype(np.intp), learning_rate=lr,
                          optimizer=opt, n_jobs=n_jobs)
    seconds = time.perf_counter() - start
    net = fastnn.Network.from_weights(_engine.unpack_weights(W, sizes))
    return (net.predict(Xv) == yv).mean(), seconds


for method, lr in (("sgd", 0.01), ("momentum", 0.002), ("adam", 0.001)):
    for n_jobs, mode in ((1, "serial"), (2, "private"), (2, "shared")):
        accs, times = zip(*(run(method, n_jobs, mode, seed, lr=lr) for seed in range(4)))
        print(f"{method:9s} {mode:8s} n_jobs={n_jobs}: validation accuracy {np.mean(accs):.4f} "
              f"(min {min(accs):.4f}), {np.median(times):.2f} s for 10 epochs")
