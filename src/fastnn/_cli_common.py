"""What the ``fastnn`` commands share: exit statuses, file names, errors, messages, file checks."""

import math
import os
import re
import sys
from pathlib import Path

from ._errors import DataFormatError

PROG = "fastnn"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM

#: Default training settings of ``fastnn train`` (the Network defaults are tuned for the API).
DEFAULT_HIDDEN = (50,)
DEFAULT_EPOCHS = 30
DEFAULT_LEARNING_RATE = 0.1
DEFAULT_ACTIVATION = "logistic"
#: What ``fastnn train --task`` learns: class labels (softmax) or real targets (identity output).
TASKS = ("classification", "regression")
#: Share of rows held out for validation by ``--dataset digits`` unless told otherwise.
DEFAULT_VALIDATION_FRACTION = 0.2
#: Seed of the (fixed) permutation that splits train/validation rows.
SPLIT_SEED = 0
#: Seed of the initial weights of ``fastnn neuralnet`` with INIT_FLAG 1 unless --seed.
NEURALNET_SEED = 0
#: Most different text labels accepted (a column of numbers read as names would make more).
MAX_TEXT_CLASSES = 10000

MODEL_FILE = "model.npz"
METRICS_FILE = "metrics.json"
CURVE_FILE = "learning_curve.png"
UNITS_FILE = "hidden_units.png"


class UsageError(Exception):
    """Bad command-line input: one line on stderr, exit status 2."""


class CommandError(Exception):
    """A failure while working (not the user's input): one line on stderr, exit status 1."""


def _count(n, noun):
    """``1 epoch``, ``2 epochs``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _say(message):
    """One line on stderr, prefixed with the program name."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _one_line(exc):
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())



def _check_output_file(path, option):
    """Refuse, before any work, an output file that cannot be written.

    A symlink is judged by its target; a device or pipe (``-o /dev/null``) is written
    through, so its folder need not be writable.
    """
    from . import io as fnn_io  # the file layer, loaded when a command uses files

    if fnn_io.writes_through(path):
        return
    real = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    if real.is_dir():
        raise UsageError(f"{path}: {option} is a folder; give a file name")
    folder = real.parent if str(real.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{path}: cannot write {option}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: cannot write {option}: folder {str(folder)!r} is not writable")


def _check_output_dir(path):
    """Refuse, before training, an output folder that cannot be created or written."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{path}: --output exists and is not a folder")
    existing = target
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{path}: cannot create the output folder: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: cannot write the output folder: {existing} is not writable")


def _activations(names, hidden):
    """The hidden layers' activations from ``--activation NAME ...``: one name for every layer, or
    one per ``--hidden`` layer (a list); ``names`` None is the default.

    Raises
    ------
    UsageError
        For a count that is neither 1 nor the number of hidden layers.
    """
    if not names:
        return DEFAULT_ACTIVATION
    if len(names) == 1:
        return names[0]
    if len(names) != len(hidden):
        layers = f"{len(hidden)} hidden layer{'s' if len(hidden) != 1 else ''}"
        sizes = f" (--hidden {' '.join(map(str, hidden))})" if hidden else ""
        raise UsageError(f"argument --activation: {len(names)} names for {layers}{sizes}; give one name for "
                         "every layer, or one per hidden layer")
    return list(names)


def _same_file(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def _load_labelled(path, args, *, n_features=None, no_labels_hint=False, **options):
    """:func:`_read_data` with a hint when a features-only file was given to a labelled reader
    (``no_labels_hint``: True, or what the missing columns are called, e.g. "target column")."""
    try:
        return _read_data(path, args, n_features=n_features, **options)
    except DataFormatError as exc:
        found = re.search(r"found (\d+)$", str(exc))
        if no_labels_hint and n_features is not None and found and int(found.group(1)) == n_features:
            what = "label column" if no_labels_hint is True else no_labels_hint
            raise DataFormatError(f"{exc}; if the file has no {what}, use --no-labels",
                                  path=exc.path, line=exc.line, column=exc.column) from None
        raise


def _read_data(path, args, **options):
    """``io.load_dataset`` with a progress bar on stderr for a read that takes over a second."""
    from . import io as fnn_io

    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return fnn_io.load_dataset(path, **options)
    from tqdm import tqdm

    with tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, desc=f"reading {Path(path).name}",
              file=sys.stderr, delay=1.0, leave=False, ncols=80) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        return fnn_io.load_dataset(path, progress=progress, **options)


def regression_scores(Y, predicted):
    """RMSE, MAE and R2 of ``predicted`` values against the targets ``Y``, by scikit-learn.

    Parameters
    ----------
    Y, predicted : ndarray of shape (n_samples, n_targets)

    Returns
    -------
    dict
        ``rmse``: the root of the mean squared error over every row and target; ``mae``: the
        mean absolute error over every row and target; ``r2``: the mean of the targets' R2
        (scikit-learn's ``r2_score``; None with fewer than 2 rows, where it is undefined); for
        more than one target also ``per_target``: ``{"rmse": [...], "mae": [...], "r2": [...]}``.
    """
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    mse = mean_squared_error(Y, predicted, multioutput="raw_values")
    mae = mean_absolute_error(Y, predicted, multioutput="raw_values")
    if Y.shape[0] >= 2:
        r2 = r2_score(Y, predicted, multioutput="raw_values")
    else:
        r2 = np.full(Y.shape[1], np.nan)
    scores = {"rmse": float(np.sqrt(np.mean(mse))), "mae": float(np.mean(mae)), "r2": _number(np.mean(r2))}
    if Y.shape[1] > 1:
        scores["per_target"] = {"rmse": [float(v) for v in np.sqrt(mse)], "mae": [float(v) for v in mae],
                                "r2": [_number(v) for v in r2]}
    return scores


def _number(value):
    """A finite float, or None (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None
