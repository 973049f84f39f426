"""``fastnn train``: read the data, train a Network through the training core, save the run."""

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, _engine, _optim
from . import io as fnn_io
from ._cli_common import (
    CURVE_FILE,
    DEFAULT_VALIDATION_FRACTION,
    EXIT_INTERRUPTED,
    EXIT_OK,
    MAX_TEXT_CLASSES,
    METRICS_FILE,
    MODEL_FILE,
    SPLIT_SEED,
    UNITS_FILE,
    CommandError,
    UsageError,
    _activations,
    _check_output_dir,
    _count,
    _read_data,
    regression_scores,
    _say,
)
from .io import DataFormatError
from ._validation import implausible_classes
from .network import Network
from .plots import hidden_units_png, learning_curve_png


def _split(n_rows, fraction, name):
    """Fixed pseudo-random train/validation split; both parts keep the original row order."""
    n_val = int(round(fraction * n_rows))
    n_val = min(max(n_val, 1), n_rows - 1)
    if n_rows < 2:
        raise DataFormatError(f"{name}: {n_rows} row is too few to hold out a validation part", path=name)
    permutation = np.random.default_rng(SPLIT_SEED).permutation(n_rows)
    return np.sort(permutation[n_val:]), np.sort(permutation[:n_val])


def _load_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.ascontiguousarray(digits.data / 16.0), digits.target.astype(np.int64)


def _check_labels_plausible(y, name, is_csv, header=False):
    """Catch a typo such as a label 100000 in a 10-class file before it builds a huge layer."""
    if y.dtype.kind == "U":
        return
    implausible = implausible_classes(y)
    if implausible:
        row = int(np.argmax(y))
        where = f"{name}:{row + 1 + bool(header)}:1" if is_csv else name
        raise DataFormatError(
            f"{where}: label {int(y[row])} would make {implausible[0]} classes, but only {implausible[1]} "
            "different labels occur; labels must be 0..K-1", path=name)


def _training_data(args):
    """Training and validation arrays and a description of where they came from.

    Returns
    -------
    tuple
        ``(X, y, X_val, y_val, n_outputs, source, image_shape, classes)``: for classification
        ``y`` holds class indices, ``n_outputs`` is K and ``classes`` the class names (None for
        integer labels); for regression ``y`` is ``(n, N)`` float64 targets, ``n_outputs`` is N
        and ``classes`` None.
    """
    if args.data is not None and args.dataset is not None:
        raise UsageError("give either DATA or --dataset, not both (see 'fastnn train --help')")
    if args.task == "regression":
        return _regression_data(args)
    source = {"data": args.data or args.dataset or "digits", "validation": None}
    image_shape = None
    if args.data is None:
        X, y = _load_digits()
        image_shape = (8, 8)
        name = "digits"
        fraction = args.validation_fraction
        if args.validation is None and fraction is None:
            fraction = DEFAULT_VALIDATION_FRACTION
    else:
        name = args.data
        X, y = _read_data(args.data, args, labels="auto", header=args.header)
        _check_labels_plausible(y, name, name.lower().endswith(".csv"), args.header)
        fraction = args.validation_fraction
    X_val = y_val = None
    if args.validation is not None:
        X_val, y_val = _read_data(args.validation, args, labels="auto", header=args.header, n_features=X.shape[1])
        _check_labels_plausible(y_val, args.validation, args.validation.lower().endswith(".csv"), args.header)
        source["validation"] = args.validation
    y, y_val, classes = _encode_labels(y, y_val, name)
    if args.validation is None and fraction is not None:
        train_rows, val_rows = _split(X.shape[0], fraction, name)
        X, y, X_val, y_val = X[train_rows], y[train_rows], X[val_rows], y[val_rows]
        source["validation"] = f"fraction {fraction} of {name}"
    n_classes = int(max(y.max(), -1 if y_val is None else y_val.max())) + 1
    if classes is not None:
        n_classes = len(classes)
        if n_classes < 2:
            raise DataFormatError(f"{name}: every label is {classes[0]!r}; training needs at least 2 classes",
                                  path=name)
    if n_classes < 2:
        raise DataFormatError(f"{name}: every label is 0; training needs at least 2 classes (labels 0..K-1)",
                              path=name)
    image_shape = _image_shape(args, X, name, image_shape)
    return X, y, X_val, y_val, n_classes, source, image_shape, classes


def _image_shape(args, X, name, known=None):
    """The shape to draw the first layer's weights in: --image-shape (checked), ``known``, the
    OCR letters' 16x8 for 128 features in [0, 1], or None (not image data)."""
    if args.image_shape is not None:
        height, width = args.image_shape
        if height * width != X.shape[1]:
            raise UsageError(f"--image-shape {height}x{width} has {height * width} pixels but {name} has "
                             f"{X.shape[1]} features")
        return args.image_shape
    if known is None and X.shape[1] == 128 and X.min() >= 0 and X.max() <= 1:
        return (16, 8)  # the OCR letters: 16x8 images, pixels in [0, 1]
    return known


def _regression_data(args):
    """:func:`_training_data` for ``--task regression``: real targets first in each row."""
    if args.data is None:
        raise UsageError(f"--task regression needs DATA{' (not --dataset digits)' if args.dataset else ''}: a CSV "
                         "whose first column is the target (--targets N: the first N), or an .npz with X and y "
                         "(see 'fastnn train --help')")
    name = args.data
    X, y = _read_data(name, args, labels="float", header=args.header, targets=args.targets)
    Y = y.reshape(y.shape[0], -1)
    source = {"data": name, "validation": None}
    X_val = Y_val = None
    if args.validation is not None:
        X_val, y_val = _read_data(args.validation, args, labels="float", header=args.header,
                                  n_features=X.shape[1], targets=Y.shape[1])
        Y_val = y_val.reshape(y_val.shape[0], -1)
        source["validation"] = args.validation
    elif args.validation_fraction is not None:
        train_rows, val_rows = _split(X.shape[0], args.validation_fraction, name)
        X, Y, X_val, Y_val = X[train_rows], Y[train_rows], X[val_rows], Y[val_rows]
        source["validation"] = f"fraction {args.validation_fraction} of {name}"
    return X, Y, X_val, Y_val, Y.shape[1], source, _image_shape(args, X, name), None


def _encode_labels(y, y_val, name):
    """Integer labels as they are; text labels as indices into their sorted classes.

    Returns ``(y, y_val, classes)``; ``classes`` is None for integer labels, else the
    sorted class names of both files (as ``np.unique`` and scikit-learn's
    ``LabelEncoder`` order them), so that class ``k`` is ``classes[k]``.
    """
    if y.dtype.kind != "U" and (y_val is None or y_val.dtype.kind != "U"):
        return y, y_val, None
    texts = [y.astype(str)] + ([] if y_val is None else [y_val.astype(str)])
    classes = np.unique(np.concatenate(texts))
    if classes.size > MAX_TEXT_CLASSES:
        raise DataFormatError(f"{name}: {classes.size} different labels; at most {MAX_TEXT_CLASSES} classes "
                              "are supported (is the first column really the label?)", path=name)
    codes = [np.searchsorted(classes, t).astype(np.int64) for t in texts]
    return codes[0], codes[1] if y_val is not None else None, classes.tolist()


def _new_run_dir():
    """Claim a new folder ``fastnn-run-YYYYmmdd-HHMMSS[-N]`` in the current directory."""
    stem = time.strftime("fastnn-run-%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        path = Path(stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"{path}: cannot create the output folder: {exc.strerror or exc}") from None
        return path
    raise CommandError(f"cannot find a free name for the output folder ({stem}-N)")


class _Progress:
    """What ``fastnn train`` shows while it trains, from the network's ``progress`` and
    ``callback`` hooks (it keeps no weights: the training core keeps the last epoch's).

    On a terminal: a tqdm bar over all epochs' samples, moved within epochs every few
    milliseconds, with the epoch and the live losses; it fits 80 columns. Elsewhere (a log
    file, a pipe): one line on stderr after the first epoch, then at most one every
    ``LOG_EVERY`` seconds, and one after the last.
    """

    LOG_EVERY = 10.0

    def __init__(self, n_samples, epochs, mode, n_targets=None):
        self.n_samples, self.epochs, self.mode = n_samples, epochs, mode
        self.n_targets = n_targets  # regression: report the RMSE of the N targets
        self.bar = None
        self.logged_at = None
        if mode == "bar":
            from tqdm import tqdm

            try:
                width, height = os.get_terminal_size(sys.stderr.fileno())
            except (OSError, ValueError):
                width = height = 0
            # a terminal that reports no size (some pseudo-terminals) is taken as 80x24; tqdm
            # would otherwise draw nothing
            self.bar = tqdm(total=n_samples * epochs, unit=" samples", unit_scale=True, desc=self._epoch_text(1),
                            file=sys.stderr, dynamic_ncols=width > 0 and height > 0,
                            ncols=None if width > 0 else 80, nrows=None if height > 0 else 24, leave=False,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}, {rate_fmt}{postfix}")

    def _epoch_text(self, epoch):
        return f"epoch {epoch}/{self.epochs}"

    def samples(self, done, epoch):
        """``done`` samples of (1-based) ``epoch`` are trained."""
        if self.bar is not None:
            self.bar.update((epoch - 1) * self.n_samples + done - self.bar.n)

    def epoch(self, net):
        """Epoch ``net.n_epochs_`` is complete."""
        epoch, history = net.n_epochs_, net.history_
        losses = _pair(history["train_loss"][-1], history["val_loss"][-1] if history["val_loss"] else None)
        if self.n_targets is not None:
            rmse = _pair(*(_rmse(part[-1], self.n_targets) if part else None
                           for part in (history["train_loss"], history["val_loss"])))
        if self.bar is not None:
            self.bar.set_description_str(self._epoch_text(min(epoch + 1, self.epochs)), refresh=False)
            self.bar.set_postfix_str(losses if self.n_targets is None else f"RMSE {rmse}", refresh=False)
            self.bar.update(epoch * self.n_samples - self.bar.n)
        elif self.mode == "log":
            now = time.monotonic()
            if self.logged_at is None or now - self.logged_at >= self.LOG_EVERY or epoch == self.epochs:
                self.logged_at = now
                if self.n_targets is None:
                    _say(f"{self._epoch_text(epoch)} done: cross-entropy {losses}")
                else:
                    _say(f"{self._epoch_text(epoch)} done: RMSE {rmse} (loss {losses})")

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _pair(train, validation):
    """``train 0.1234`` or ``train 0.1234, validation 0.2345``."""
    return f"train {train:.4f}" + ("" if validation is None else f", validation {validation:.4f}")


def _rmse(loss, n_targets):
    """The RMSE over every row and target from the mean loss ``0.5 * ||y_hat - y||^2`` per row."""
    return math.sqrt(2.0 * loss / n_targets)


def _scores(net, X, y):
    """Accuracy, error rate and mean cross-entropy of ``net`` on ``(X, y)``."""
    predicted = net.predict(X)
    error = float(np.mean(predicted != y))
    return {"n_samples": int(X.shape[0]), "accuracy": 1.0 - error, "error": error,
            "loss": float(net.loss(X, y))}


def _regression_scores(net, X, Y):
    """:func:`regression_scores` of ``net`` on ``(X, Y)``, with the sample count and the loss."""
    predicted = net.predict(X).reshape(Y.shape)
    return {"n_samples": int(X.shape[0]), **regression_scores(Y, predicted), "loss": float(net.loss(X, Y))}


def cmd_train(args):
    """``fastnn train``: see :data:`TRAIN_EPILOG`."""
    if args.output is not None:
        _check_output_dir(args.output)
    elif not os.access(".", os.W_OK | os.X_OK):
        raise UsageError(f"{os.getcwd()}: cannot create the output folder here (not writable); use --output DIR")
    activation = _activations(args.activation, args.hidden)
    optimizer = _optimizer_params(args)
    regression = args.task == "regression"
    if args.targets is not None and not regression:
        raise UsageError("--targets N is for --task regression (the first N columns are real-valued targets)")
    X, y, X_val, y_val, n_outputs, source, image_shape, classes = _training_data(args)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    params = dict(hidden=tuple(args.hidden), output="identity" if regression else "softmax", init=args.init,
                  learning_rate=args.lr, epochs=args.epochs, l2=args.l2, shuffle=args.shuffle, dtype=args.dtype,
                  random_state=seed, batch_size=args.batch_size, n_jobs=args.jobs, activation=activation, **optimizer)
    net = Network(**params)
    sizes = [X.shape[1], *args.hidden, n_outputs]
    activations = [activation] * len(args.hidden) if isinstance(activation, str) else activation
    settings = {
        "data": source["data"], "validation": source["validation"], "task": args.task,
        **({"targets": n_outputs} if regression else {}), "hidden": list(args.hidden),
        "activation": activations, "epochs": args.epochs, "learning_rate": args.lr, "init": args.init,
        "batch_size": args.batch_size, "l2": args.l2, "seed": seed, "shuffle": args.shuffle, "dtype": args.dtype,
        "jobs": args.jobs, "optimizer": optimizer["optimizer"], "momentum": args.momentum, "schedule": args.schedule,
    }
    if not args.quiet:
        val_text = f" (validation: {X_val.shape[0]})" if X_val is not None else ""
        _say(f"training a {'-'.join(map(str, sizes))} network on {X.shape[0]} samples{val_text} for "
             f"{_count(args.epochs, 'epoch')}; Ctrl-C stops early and keeps the model")

    folder, created = _make_run_dir(args.output)
    written = []
    try:
        run = _train_and_save(args, net, X, y, X_val, y_val, sizes, settings, image_shape, folder, written,
                              classes=classes)
    except BaseException:
        _remove(written, created)
        raise
    if run is None:  # interrupted before anything could be saved
        _remove(written, created)
        return EXIT_INTERRUPTED
    n_epochs, metrics, seconds, throughput, files, interrupted = run
    if args.quiet:
        print(folder)
    else:
        _print_summary(sizes, n_epochs, metrics, seconds, throughput, seed, folder, files, regression)
    if interrupted:
        _say(f"training interrupted after {n_epochs} of {_count(args.epochs, 'epoch')}; saved that model "
             f"(marked interrupted) in {folder}")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _optimizer_params(args):
    """``Network``'s optimizer parameters from ``--solver``, ``--momentum``, ``--nesterov`` and
    ``--schedule`` (sklearn's meaning: momentum 0 is plain SGD), checked before any data loads."""
    if args.solver == "adam":
        method = "adam"
    elif args.momentum == 0.0:
        method = "sgd"
    else:
        method = "nesterov" if args.nesterov else "momentum"
    try:
        _optim.check_settings(method, momentum=args.momentum, schedule=args.schedule)
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None
    return {"optimizer": method, "momentum": args.momentum, "schedule": args.schedule}


def _train_and_save(args, net, X, y, X_val, y_val, sizes, settings, image_shape, folder, written, classes=None):
    """Fit, then write the run's files into ``folder``, appending each to ``written``.

    Returns
    -------
    tuple or None
        ``(n_epochs, metrics, seconds, samples_per_second, file_names, interrupted)``, or None
        when Ctrl-C came before the first epoch could be kept.
    """
    regression = settings["task"] == "regression"
    progress = _Progress(X.shape[0], args.epochs, "quiet" if args.quiet else "bar" if sys.stderr.isatty() else "log",
                         n_targets=sizes[-1] if regression else None)
    n_weights = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if _engine.uses_gemm(n_weights, X.shape[0], args.batch_size):
        _engine.load_gemm()  # BLAS loads before the clock starts
    started = time.perf_counter()  # after every import: the rate is the training's own
    try:
        net.fit(X, y, X_val, y_val, callback=progress.epoch,
                progress=(lambda done: progress.samples(done, net.n_epochs_ + 1)) if progress.bar else None)
    except KeyboardInterrupt:  # before the first epoch began (while the data were converted)
        net = None
    except ValueError as exc:
        hint = " For regression, standardise large targets too." if regression and "diverged" in str(exc) else ""
        raise CommandError(f"{exc}{hint}") from exc
    finally:
        progress.close()
    seconds = time.perf_counter() - started
    if net is None or net.n_epochs_ == 0:
        _say("interrupted before the first epoch finished; nothing was saved")
        return None
    interrupted, history, n_epochs = net.interrupted_, net.history_, net.n_epochs_
    if not args.quiet:  # scoring and drawing the plots take a second or two (matplotlib loads)
        _say(f"scoring the model and writing its files to {folder}{os.sep}")

    scores = _regression_scores if regression else _scores
    metrics = {"train": scores(net, X, y), "validation": scores(net, X_val, y_val) if X_val is not None else None}
    throughput = X.shape[0] * n_epochs / seconds if seconds > 0 else None
    curve = {"train_loss": [float(v) for v in history["train_loss"]],
             "val_loss": [float(v) for v in history["val_loss"]],
             "learning_rate": [float(v) for v in history.get("learning_rate", [])]}
    if regression:
        curve.update({f"{part}_rmse": [_rmse(v, sizes[-1]) for v in curve[f"{part}_loss"]]
                      for part in ("train", "val")})
    report = {
        "fastnn_version": __version__,
        "settings": settings,
        "layer_sizes": sizes,
        "epochs_completed": n_epochs,
        "interrupted": interrupted,
        "history": curve,
        "final": metrics,
        "time_seconds": seconds,
        "samples_per_second": throughput,
        "image_shape": list(image_shape) if image_shape else None,
        "classes": classes,
    }
    metadata = {"training": settings, "metrics": metrics, "epochs_completed": n_epochs,
                "interrupted": interrupted, "image_shape": report["image_shape"]}
    title = f"{'-'.join(map(str, sizes))} network"
    if regression:
        curve_png = learning_curve_png({"train_loss": curve["train_rmse"], "val_loss": curve["val_rmse"],
                                        "learning_rate": curve["learning_rate"]}, title=title, ylabel="RMSE")
    else:
        curve_png = learning_curve_png(curve, title=title)
    outputs = {
        METRICS_FILE: (json.dumps(report, indent=2) + "\n").encode("utf-8"),
        CURVE_FILE: curve_png,
    }
    if image_shape is not None and args.hidden:
        outputs[UNITS_FILE] = hidden_units_png(net.weights_[0], image_shape)
    # every file of the run, or none: an earlier run's files in the folder stay as they were
    files = {MODEL_FILE: fnn_io.model_bytes(net, metadata=metadata, classes=classes), **outputs}
    fnn_io.write_files([(folder / name, data) for name, data in files.items()])
    written.extend(folder / name for name in files)
    return n_epochs, metrics, seconds, throughput, [MODEL_FILE, *outputs], interrupted


def _make_run_dir(output_dir):
    """Create the output folder (a new default one, or ``output_dir`` with its parents).

    Returns
    -------
    folder : pathlib.Path
    created : list of pathlib.Path
        The folders this call created, outermost first (to remove if nothing is written).
    """
    if output_dir is None:
        folder = _new_run_dir()
        return folder, [folder]
    folder = Path(output_dir)
    missing = []
    probe = folder
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{output_dir}: cannot create the output folder: {exc.strerror or exc}") from None
    return folder, list(reversed(missing))


def _remove(written, created):
    """Undo a run's outputs: its files, then the folders it created (if empty)."""
    for path in written:
        with contextlib.suppress(OSError):
            path.unlink()
    for path in reversed(created):
        with contextlib.suppress(OSError):
            path.rmdir()


def _print_summary(sizes, n_epochs, metrics, seconds, throughput, seed, folder, files, regression=False):
    print(f"network: {'-'.join(map(str, sizes))}, {_count(n_epochs, 'epoch')}, seed {seed}")
    for part in ("train", "validation"):
        scores = metrics[part]
        if scores is None:
            continue
        if regression:
            r2 = "n/a" if scores["r2"] is None else f"{scores['r2']:.4f}"
            print(f"{part + ':':<12} RMSE {scores['rmse']:.6g}  MAE {scores['mae']:.6g}  R2 {r2}  "
                  f"({scores['n_samples']} samples)")
        else:
            print(f"{part + ':':<12} accuracy {scores['accuracy']:.4f}  error {scores['error']:.4f}  "
                  f"cross-entropy {scores['loss']:.4f}  ({scores['n_samples']} samples)")
    rate = f" ({throughput:,.0f} samples/s)" if throughput else ""
    print(f"time:        {seconds:.2f} s{rate}")
    print(f"saved in {folder}{os.sep}: {', '.join(files)}")


