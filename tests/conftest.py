"""Shared test helpers: the OCR data and a small synthetic classification set.

Nothing here imports fastnn, so the helpers (and ``tests/oracle.py``) stay
usable while the compiled package is absent or broken.
"""

import functools
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent
# Let test modules ``import oracle`` / ``from conftest import ...`` under any
# pytest import mode (prepend puts this directory on sys.path, importlib does not).
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

OCR_DIR = Path(__file__).parents[1] / ".." / "shared" / "data" / "ocr"
OCR_NAMES = ("small_train", "small_validation", "medium_train", "medium_validation", "large_train",
             "large_validation")


def ocr_path(name=None):
    """Where the OCR data lives (it is not part of the repository).

    Parameters
    ----------
    name : str, optional
        A data set name such as ``"small_train"``; None gives the directory.

    Returns
    -------
    path : pathlib.Path
        ``../shared/data/ocr`` from the project root, or ``.../{name}.csv``
        inside it. The path may not exist; :func:`load_ocr` skips then.
    """
    if name is None:
        return OCR_DIR.resolve()
    return (OCR_DIR / f"{name}.csv").resolve()


def _skip_reason(path):
    return f"OCR data not found at {path} (../shared/data/ocr from the project root)"


@functools.lru_cache(maxsize=None)
def _read_ocr(path):
    data = np.loadtxt(path, delimiter=",")
    if data.ndim != 2 or data.shape[1] < 2:
        raise ValueError(f"{path}: expected rows 'label,x1..xm', got an array of shape {data.shape}")
    y = data[:, 0]
    if not np.array_equal(y, np.round(y)) or y.min() < 0:
        raise ValueError(f"{path}: column 0 must hold integer labels >= 0")
    X = np.ascontiguousarray(data[:, 1:], dtype=np.float64)
    y = y.astype(np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def load_ocr(name):
    """Load one OCR data set, skipping the calling test where it is absent.

    Parameters
    ----------
    name : str
        One of ``small_train``, ``small_validation``, ``medium_train``,
        ``medium_validation``, ``large_train``, ``large_validation``.

    Returns
    -------
    X : ndarray of float64, shape (n, 128)
        Pixel features (0/1), a fresh writable copy.
    y : ndarray of int64, shape (n,)
        Labels 0..9, a fresh writable copy.
    """
    if name not in OCR_NAMES:
        raise ValueError(f"unknown OCR data set {name!r}; use one of {OCR_NAMES}")
    path = ocr_path(name)
    if not path.is_file():
        pytest.skip(_skip_reason(path))
    X, y = _read_ocr(str(path))
    return X.copy(), y.copy()


def synthetic_data(n=200, m=10, k=3, seed=0):
    """A small classification set a small network can learn: labels from a random teacher net.

    Inputs are standard normal; the label of a row is the argmax of a random
    one-hidden-layer sigmoid network (8 hidden units, random weights, output
    biases set so its classes are about equally frequent). Rows are drawn from a larger pool so
    that every class gets ``n // k`` or ``n // k + 1`` rows, in a shuffled
    order.

    Parameters
    ----------
    n : int, default 200
        Number of rows, >= k.
    m : int, default 10
        Number of features.
    k : int, default 3
        Number of classes, >= 2.
    seed : int, default 0
        Seed of the generator; the same arguments give the same data.

    Returns
    -------
    X : ndarray of float64, shape (n, m)
    y : ndarray of int64, shape (n,)
        Labels 0..k-1, each present.
    """
    if k < 2 or n < k or m < 1:
        raise ValueError(f"need k >= 2, n >= k and m >= 1, got n={n}, m={m}, k={k}")
    rng = np.random.default_rng(seed)
    counts = np.full(k, n // k)
    counts[: n % k] += 1
    for _ in range(100):
        W1 = rng.normal(size=(8, m + 1)) * (2 / np.sqrt(m))
        W2 = rng.normal(size=(k, 8 + 1)) * 4
        pool = rng.normal(size=(4 * n + 200, m))
        hidden = 1 / (1 + np.exp(-(pool @ W1[:, 1:].T + W1[:, 0])))
        scores = hidden @ W2[:, 1:].T
        # choose the teacher's output biases so that its classes are about equally frequent
        head = scores[:2000]
        for _ in range(100):
            P = np.exp(head + W2[:, 0] - (head + W2[:, 0]).max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            W2[:, 0] -= np.log(P.mean(axis=0) * k)
        labels = np.argmax(scores + W2[:, 0], axis=1)
        if all(np.count_nonzero(labels == c) >= counts[c] for c in range(k)):
            break
    else:  # pragma: no cover - needs an extreme (n, m, k)
        raise RuntimeError(f"could not draw a teacher that produces {counts.max()} rows of every class")
    rows = np.concatenate([np.flatnonzero(labels == c)[: counts[c]] for c in range(k)])
    rows = rng.permutation(rows)
    return np.ascontiguousarray(pool[rows]), labels[rows].astype(np.int64)


@pytest.fixture
def ocr_dir():
    """The OCR data directory; skips the test where it is absent."""
    path = ocr_path()
    if not path.is_dir():
        pytest.skip(_skip_reason(path))
    return path


@pytest.fixture
def ocr_small():
    """``(X_train, y_train, X_val, y_val)`` of the small OCR set (500 + 100 rows); skips where absent."""
    return (*load_ocr("small_train"), *load_ocr("small_validation"))
