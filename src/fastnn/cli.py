"""The ``fastnn`` command: train, predict, evaluate, the handout's neuralnet program, gradcheck.

Every command reports bad input as one line on stderr, ``fastnn: error: <where>: <what>``,
and exits with status 2 (usage and data errors), 1 (a failure while working, e.g. training
diverged or a file could not be written) or 130 (interrupted by Ctrl-C). ``--debug`` shows
the traceback instead. Output files are written only after the work succeeded, all of a
command's files together through ``fastnn.io.write_files`` (temporary files in the same
folder, synced, then renamed; an earlier version is restored if a rename fails), so a failed
or interrupted run never leaves a half-written file behind nor changes an earlier result.
"""

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from . import io as fnn_io
from .io import DataFormatError, ModelFormatError
from .network import Network
from .plots import hidden_units_png, learning_curve_png, parse_image_shape

PROG = "fastnn"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Default training settings of ``fastnn train`` (the Network defaults are tuned for the API).
DEFAULT_HIDDEN = (50,)
DEFAULT_EPOCHS = 30
DEFAULT_LEARNING_RATE = 0.1
#: Share of rows held out for validation by ``--dataset digits`` unless told otherwise.
DEFAULT_VALIDATION_FRACTION = 0.2
#: Seed of the (fixed) permutation that splits train/validation rows.
SPLIT_SEED = 0
#: Seed of the initial weights of ``fastnn neuralnet`` with INIT_FLAG 1 unless --seed.
NEURALNET_SEED = 0
#: Labels this large are only accepted when most of the classes below them occur.
MAX_SPARSE_CLASSES = 1000
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


# ---------------------------------------------------------------------------------------------
# argument parsing


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as a :class:`UsageError` (one line) instead of exiting."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _layer_size(text):
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError as exc:
        if not text.lstrip("+-").replace(".", "", 1).isdigit():
            raise argparse.ArgumentTypeError(f"{exc} (put DATA before --hidden)") from None
        if text.strip().lstrip("+-").strip("0.") == "":
            raise argparse.ArgumentTypeError(
                f"{exc}; for no hidden layer give --hidden with no numbers") from None
        raise


class _OptionName(argparse.Action):
    """Store the value and the option string the user typed (for messages)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_option", option_string)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _nonnegative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1 (exclusive), got {text!r}")
    return value


def _image_shape(text):
    try:
        return parse_image_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _init_flag(text):
    if text not in ("1", "2"):
        raise argparse.ArgumentTypeError(f"must be 1 (random uniform) or 2 (zeros), got {text!r}")
    return int(text)


TRAIN_EPILOG = """\
data:
  DATA is a CSV file in the OCR format (each line 'label,x1,...,xm'; --header skips a first
  line naming the columns) or an .npz file holding arrays X (n, m) and y (n,). Labels are
  integers 0..K-1, or class names (any text, e.g. 'cat'): the classes are then the names in
  sorted order, stored in model.npz, and 'fastnn predict' prints the names. Without DATA,
  the scikit-learn digits (1797 8x8 images, pixels scaled to [0, 1], bundled, no download)
  are used, split 80/20 into train/validation by a fixed permutation.
  --validation-fraction holds out that share of the rows by the same fixed permutation
  (independent of --seed); the training rows keep their file order.

output (in --output DIR, by default a new folder fastnn-run-YYYYmmdd-HHMMSS):
  model.npz           the trained network (load with fastnn.io.load, or fastnn predict)
  metrics.json        settings, loss per epoch, final error rates, time
  learning_curve.png  mean cross-entropy per epoch on the training and validation rows
  hidden_units.png    each first-layer unit's input weights as an image (image data only:
                      --image-shape, the digits' 8x8, or 16x8 for 128 features in [0, 1])

Ctrl-C stops training and saves the model of the last completed epoch (marked interrupted
in its metadata) with its metrics and learning curve; the exit status is then 130.
Put DATA before --hidden: --hidden takes the words after it as layer sizes.

examples:
  fastnn train                                     # digits, a few seconds
  fastnn train train.csv --validation valid.csv --hidden 64 32 --epochs 100 --lr 0.05
  fastnn train data.npz --validation-fraction 0.1 --hidden --output run1   # no hidden layer
  fastnn train train.csv --image-shape 16x8 --seed 7 --jobs 2 --quiet
"""

PREDICT_EPILOG = """\
DATA is read like training data: a CSV file with the label in column 1 (the labels are
ignored; --header skips a header line) or an .npz file with X (y optional). With --no-labels
every CSV column is a feature and an .npz needs only X. Output: one predicted label per line
(the class names the model was trained with), or with --proba one CSV row of K class
probabilities per sample, columns in the order of the sorted classes (no header), to stdout
or the file given by -o (a file is replaced only once complete; -o /dev/stdout works).

examples:
  fastnn predict run1/model.npz test.csv > labels.txt
  fastnn predict run1/model.npz features.csv --no-labels --proba -o proba.csv
  fastnn predict run1/model.npz iris.csv --header
"""

EVALUATE_EPILOG = """\
DATA holds features and true labels (CSV 'label,x1,...,xm', --header to skip a header line,
or .npz with X and y); labels are matched to the model's classes by name. Prints the number
of samples, accuracy, error rate, mean cross-entropy and the confusion matrix (rows: true
label, columns: predicted label).

examples:
  fastnn evaluate run1/model.npz valid.csv
"""

NEURALNET_EPILOG = """\
The handout's program: one hidden sigmoid layer of HIDDEN_UNITS units and a softmax output
over K = 1 + the largest label in the two files, trained by per-sample SGD visiting the
training rows in file order with a fixed learning rate. INIT_FLAG 1 draws the weights from
U(-0.1, 0.1) with zero biases (seed 0 unless --seed), 2 starts from all zeros.
TRAIN_OUT and VALIDATION_OUT get one predicted label per line; METRICS_OUT gets

  epoch=1 crossentropy(train): <mean cross-entropy after epoch 1>
  epoch=1 crossentropy(validation): <...>
  ...
  error(train): <error rate of the final model>
  error(validation): <...>

example:
  fastnn neuralnet small_train.csv small_validation.csv train_out.labels \\
      validation_out.labels metrics_out.txt 2 4 2 0.1
"""

GRADCHECK_EPILOG = """\
Compares the engine's backpropagated gradient with centered finite differences on a few
random samples, for a random network (--hidden, --features, --classes, --output-layer) or a saved
model (--model), and prints the worst relative error of each layer. Exits with status 1 if
any exceeds --tolerance.

examples:
  fastnn gradcheck
  fastnn gradcheck --hidden 16 8 --features 20 --classes 5
  fastnn gradcheck --output-layer sigmoid --hidden
  fastnn gradcheck --model run1/model.npz
"""


def build_parser():
    """The ``fastnn`` argument parser with its subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Train and use fully-connected sigmoid networks (per-sample SGD on the CPU).",
        epilog="Run 'fastnn COMMAND --help' for a command's options and examples.\n\n"
               "examples:\n  fastnn train\n  fastnn train train.csv --validation valid.csv --epochs 50\n"
               "  fastnn evaluate fastnn-run-*/model.npz valid.csv",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_common(sub):
        sub.add_argument("--debug", action="store_true", help="show the full traceback of an error")

    # ---- train
    train = commands.add_parser(
        "train", help="train a network and save it with its metrics and plots",
        description="Train a network by SGD and save the model, its metrics and plots.",
        epilog=TRAIN_EPILOG, formatter_class=formatter)
    train.add_argument("data", nargs="?", metavar="DATA", help="training data (.csv or .npz); default: digits")
    train.add_argument("--dataset", choices=["digits"], help="a bundled data set instead of DATA")
    train.add_argument("--hidden", nargs="*", type=_layer_size, default=list(DEFAULT_HIDDEN), metavar="N",
                       help=f"units of each hidden layer (default: {' '.join(map(str, DEFAULT_HIDDEN))}; "
                            "no numbers: no hidden layer)")
    train.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS,
                       help="passes over the training rows (default: %(default)s)")
    train.add_argument("--lr", "--learning-rate", dest="lr", type=_positive_float,
                       default=DEFAULT_LEARNING_RATE, help="SGD learning rate (default: %(default)s)")
    train.add_argument("--init", choices=["uniform", "zeros", "glorot"], default="uniform",
                       help="initial weights: uniform U(-0.1, 0.1), zeros, or glorot (default: %(default)s)")
    train.add_argument("--batch-size", type=_positive_int, default=1,
                       help="samples per update (default: 1, per-sample SGD)")
    train.add_argument("--l2", type=_nonnegative_float, default=0.0,
                       help="L2 penalty (l2/2)*||W||^2 on non-bias weights (default: %(default)s)")
    train.add_argument("--seed", type=_seed, default=None,
                       help="seed of the initial weights and shuffling (default: a fresh one, recorded)")
    train.add_argument("--shuffle", action=argparse.BooleanOptionalAction, default=False,
                       help="visit the rows in a new random order each epoch (default: file order)")
    train.add_argument("--header", action="store_true",
                       help="the CSV files' first line is a header: skip it")
    validation = train.add_mutually_exclusive_group()
    validation.add_argument("--validation", metavar="FILE", help="validation data (.csv or .npz)")
    validation.add_argument("--validation-fraction", type=_fraction, metavar="F",
                            help="hold out this share of DATA's rows for validation")
    train.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                       help="precision of the weights and arithmetic (default: %(default)s)")
    train.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                       help="threads training together without locks, Hogwild! (default: 1, reproducible)")
    train.add_argument("--output", "-o", metavar="DIR",
                       help="folder for the results (default: a new fastnn-run-YYYYmmdd-HHMMSS)")
    train.add_argument("--image-shape", type=_image_shape, metavar="HxW",
                       help="draw the first layer's weights as HxW images, e.g. 16x8")
    train.add_argument("--quiet", "-q", action="store_true",
                       help="no progress bar or summary; print only the output folder")
    add_common(train)
    train.set_defaults(run=cmd_train)

    # ---- predict
    predict = commands.add_parser(
        "predict", help="predict labels (or probabilities) with a saved model",
        description="Predict the label (or class probabilities) of each sample.",
        epilog=PREDICT_EPILOG, formatter_class=formatter)
    predict.add_argument("model", metavar="MODEL", help="a model file written by 'fastnn train'")
    predict.add_argument("data", metavar="DATA", help="samples (.csv or .npz)")
    predict.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    predict.add_argument("--proba", action="store_true", help="print class probabilities as CSV")
    predict.add_argument("--no-labels", action="store_true",
                         help="DATA has no label column: every CSV column is a feature")
    predict.add_argument("--header", action="store_true", help="DATA's first line is a header: skip it")
    add_common(predict)
    predict.set_defaults(run=cmd_predict)

    # ---- evaluate
    evaluate = commands.add_parser(
        "evaluate", help="error rate, cross-entropy and confusion matrix of a saved model",
        description="Evaluate a saved model on labelled data.",
        epilog=EVALUATE_EPILOG, formatter_class=formatter)
    evaluate.add_argument("model", metavar="MODEL", help="a model file written by 'fastnn train'")
    evaluate.add_argument("data", metavar="DATA", help="labelled samples (.csv or .npz)")
    evaluate.add_argument("--header", action="store_true", help="DATA's first line is a header: skip it")
    add_common(evaluate)
    evaluate.set_defaults(run=cmd_evaluate)

    # ---- neuralnet
    neuralnet = commands.add_parser(
        "neuralnet", help="the course handout's neuralnet program (exact output format)",
        description="Train one hidden layer by SGD and write labels and metrics as the handout specifies.",
        epilog=NEURALNET_EPILOG, formatter_class=formatter)
    neuralnet.add_argument("train_input", metavar="TRAIN_INPUT", help="training CSV")
    neuralnet.add_argument("validation_input", metavar="VALIDATION_INPUT", help="validation CSV")
    neuralnet.add_argument("train_out", metavar="TRAIN_OUT", help="predicted training labels (written)")
    neuralnet.add_argument("validation_out", metavar="VALIDATION_OUT", help="predicted validation labels (written)")
    neuralnet.add_argument("metrics_out", metavar="METRICS_OUT", help="losses and error rates (written)")
    neuralnet.add_argument("num_epoch", metavar="NUM_EPOCH", type=_positive_int, help="epochs")
    neuralnet.add_argument("hidden_units", metavar="HIDDEN_UNITS", type=_positive_int, help="hidden units")
    neuralnet.add_argument("init_flag", metavar="INIT_FLAG", type=_init_flag,
                           help="1: random uniform U(-0.1, 0.1), 2: zeros")
    neuralnet.add_argument("learning_rate", metavar="LEARNING_RATE", type=_positive_float, help="SGD step")
    neuralnet.add_argument("--seed", type=_seed, default=NEURALNET_SEED,
                           help="seed of the INIT_FLAG 1 weights (default: %(default)s)")
    add_common(neuralnet)
    neuralnet.set_defaults(run=cmd_neuralnet)

    # ---- gradcheck
    gradcheck = commands.add_parser(
        "gradcheck", help="check the engine's gradients against finite differences",
        description="Check backpropagation against centered finite differences.",
        epilog=GRADCHECK_EPILOG, formatter_class=formatter)
    gradcheck.add_argument("--hidden", nargs="*", type=_layer_size, default=None, metavar="N",
                           help="hidden layer sizes of the random network (default: 5 4)")
    gradcheck.add_argument("--features", type=_positive_int, default=None, metavar="M",
                           help="inputs of the random network (default: 6)")
    gradcheck.add_argument("--classes", type=_positive_int, default=None, metavar="K",
                           help="classes of the random network (default: 3; 2 for --output-layer sigmoid)")
    gradcheck.add_argument("--output-layer", dest="output", choices=["softmax", "sigmoid"], default=None,
                           action=_OptionName, help="output layer of the random network (default: softmax)")
    # the former name, kept working for existing scripts
    gradcheck.add_argument("--output", dest="output", choices=["softmax", "sigmoid"], action=_OptionName,
                           help=argparse.SUPPRESS)
    gradcheck.add_argument("--model", metavar="FILE", help="check this saved model instead")
    gradcheck.add_argument("--samples", type=_positive_int, default=5,
                           help="random samples to check (default: %(default)s)")
    gradcheck.add_argument("--eps", type=_positive_float, default=1e-5, help="finite-difference step")
    gradcheck.add_argument("--tolerance", type=_positive_float, default=1e-6,
                           help="largest relative error accepted (default: %(default)s)")
    gradcheck.add_argument("--seed", type=_seed, default=0, help="seed of the random network and samples")
    add_common(gradcheck)
    gradcheck.set_defaults(run=cmd_gradcheck)
    return parser


# ---------------------------------------------------------------------------------------------
# entry point


def main(argv=None):
    """Run the ``fastnn`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 failure while working, 2 usage or data error, 130 interrupted.
    """
    debug = False
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        if args.command is None:
            raise UsageError("choose a command: train, predict, evaluate, neuralnet or gradcheck "
                             "(see 'fastnn --help')")
        debug = args.debug
        return args.run(args)
    except KeyboardInterrupt:
        if debug:
            raise
        _say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. '| head'): stop quietly.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except (UsageError, DataFormatError, ModelFormatError) as exc:
        if debug:
            raise
        _say(f"error: {_one_line(exc)}")
        return EXIT_USAGE
    except (CommandError, OSError) as exc:
        if debug:
            raise
        _say(f"error: {_one_line(exc)}")
        return EXIT_FAILURE
    except Exception as exc:  # a defect in fastnn itself: one line, the traceback on request
        if debug:
            raise
        _say(f"internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the "
             "traceback, and please report it)")
        return EXIT_FAILURE


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


# ---------------------------------------------------------------------------------------------
# files


def _check_output_file(path, option):
    """Refuse, before any work, an output file that cannot be written.

    A symlink is judged by its target; a device or pipe (``-o /dev/null``) is written
    through, so its folder need not be writable.
    """
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


def _same_file(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def _load_labelled(path, args, *, n_features=None, no_labels_hint=False, **options):
    """:func:`_read_data` with a hint when a features-only file was given to a labelled reader."""
    try:
        return _read_data(path, args, n_features=n_features, **options)
    except DataFormatError as exc:
        found = re.search(r"found (\d+)$", str(exc))
        if no_labels_hint and n_features is not None and found and int(found.group(1)) == n_features:
            raise DataFormatError(f"{exc}; if the file has no label column, use --no-labels",
                                  path=exc.path, line=exc.line, column=exc.column) from None
        raise


# ---------------------------------------------------------------------------------------------
# train


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
    n_classes = int(y.max()) + 1
    if n_classes > MAX_SPARSE_CLASSES and np.unique(y).size < n_classes / 2:
        row = int(np.argmax(y))
        where = f"{name}:{row + 1 + bool(header)}:1" if is_csv else name
        raise DataFormatError(
            f"{where}: label {int(y[row])} would make {n_classes} classes, but only {np.unique(y).size} "
            "different labels occur; labels must be 0..K-1", path=name)


def _training_data(args):
    """Training and validation arrays and a description of where they came from."""
    if args.data is not None and args.dataset is not None:
        raise UsageError("give either DATA or --dataset, not both (see 'fastnn train --help')")
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
    if args.image_shape is not None:
        height, width = args.image_shape
        if height * width != X.shape[1]:
            raise UsageError(f"--image-shape {height}x{width} has {height * width} pixels but {name} has "
                             f"{X.shape[1]} features")
        image_shape = args.image_shape
    elif image_shape is None and X.shape[1] == 128 and X.min() >= 0 and X.max() <= 1:
        image_shape = (16, 8)  # the OCR letters: 16x8 images, pixels in [0, 1]
    return X, y, X_val, y_val, n_classes, source, image_shape, classes


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


def _read_data(path, args, **options):
    """``io.load_dataset`` with a progress bar on stderr for a read that takes over a second."""
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return fnn_io.load_dataset(path, **options)
    from tqdm import tqdm

    with tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, desc=f"reading {Path(path).name}",
              file=sys.stderr, delay=1.0, leave=False, ncols=80) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        return fnn_io.load_dataset(path, progress=progress, **options)


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
    """Per-epoch callback: a tqdm bar (samples/s, live losses) and a snapshot of the last epoch."""

    def __init__(self, n_samples, epochs, enabled):
        self.n_samples = n_samples
        self.snapshot = None  # (weights, history, n_epochs) after the last completed epoch
        self.bar = None
        if enabled:
            from tqdm import tqdm

            try:
                width, height = os.get_terminal_size(sys.stderr.fileno())
            except (OSError, ValueError):
                width = height = 0
            # a terminal that reports no size (some pseudo-terminals) is taken as 80x24; tqdm
            # would otherwise draw nothing
            self.bar = tqdm(total=n_samples * epochs, unit=" samples", unit_scale=True, desc="training",
                            file=sys.stderr, dynamic_ncols=width > 0 and height > 0,
                            ncols=None if width > 0 else 80, nrows=None if height > 0 else 24, leave=False)

    def __call__(self, net):
        history = {key: list(values) for key, values in net.history_.items()}
        self.snapshot = (net.weights_, history, net.n_epochs_)
        if self.bar is not None:
            postfix = {"epoch": net.n_epochs_, "train": f"{history['train_loss'][-1]:.4f}"}
            if history["val_loss"]:
                postfix["val"] = f"{history['val_loss'][-1]:.4f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(self.n_samples)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _scores(net, X, y):
    """Accuracy, error rate and mean cross-entropy of ``net`` on ``(X, y)``."""
    predicted = net.predict(X)
    error = float(np.mean(predicted != y))
    return {"n_samples": int(X.shape[0]), "accuracy": 1.0 - error, "error": error,
            "loss": float(net.loss(X, y))}


def cmd_train(args):
    """``fastnn train``: see :data:`TRAIN_EPILOG`."""
    if args.output is not None:
        _check_output_dir(args.output)
    elif not os.access(".", os.W_OK | os.X_OK):
        raise UsageError(f"{os.getcwd()}: cannot create the output folder here (not writable); use --output DIR")
    X, y, X_val, y_val, n_classes, source, image_shape, classes = _training_data(args)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    params = dict(hidden=tuple(args.hidden), output="softmax", init=args.init, learning_rate=args.lr,
                  epochs=args.epochs, l2=args.l2, shuffle=args.shuffle, dtype=args.dtype,
                  random_state=seed, batch_size=args.batch_size, n_jobs=args.jobs)
    net = Network(**params)
    sizes = [X.shape[1], *args.hidden, n_classes]
    settings = {
        "data": source["data"], "validation": source["validation"], "hidden": list(args.hidden),
        "epochs": args.epochs, "learning_rate": args.lr, "init": args.init, "batch_size": args.batch_size,
        "l2": args.l2, "seed": seed, "shuffle": args.shuffle, "dtype": args.dtype, "jobs": args.jobs,
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
        _print_summary(sizes, n_epochs, metrics, seconds, throughput, seed, folder, files)
    if interrupted:
        _say(f"training interrupted after {n_epochs} of {_count(args.epochs, 'epoch')}; saved that model "
             f"(marked interrupted) in {folder}")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _train_and_save(args, net, X, y, X_val, y_val, sizes, settings, image_shape, folder, written, classes=None):
    """Fit, then write the run's files into ``folder``, appending each to ``written``.

    Returns
    -------
    tuple or None
        ``(n_epochs, metrics, seconds, samples_per_second, file_names, interrupted)``, or None
        when Ctrl-C came before the first epoch could be kept.
    """
    show_progress = not args.quiet and sys.stderr.isatty()
    progress = _Progress(X.shape[0], args.epochs, show_progress)
    started = time.perf_counter()
    escaped = False
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="training interrupted", category=RuntimeWarning)
            net.fit(X, y, X_val, y_val, callback=progress)
    except KeyboardInterrupt:
        escaped = True  # Ctrl-C between the engine calls of an epoch; restore the last epoch below
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        progress.close()
    seconds = time.perf_counter() - started
    interrupted = escaped or bool(getattr(net, "interrupted_", False))
    if escaped:
        if progress.snapshot is None:
            _say("interrupted before the first epoch finished; nothing was saved")
            return None
        weights, history, n_epochs = progress.snapshot
        net = Network.from_weights(weights, output="softmax", dtype=args.dtype)
    else:
        history, n_epochs = net.history_, net.n_epochs_

    metrics = {"train": _scores(net, X, y), "validation": _scores(net, X_val, y_val) if X_val is not None else None}
    throughput = X.shape[0] * n_epochs / seconds if seconds > 0 else None
    report = {
        "fastnn_version": __version__,
        "settings": settings,
        "layer_sizes": sizes,
        "epochs_completed": n_epochs,
        "interrupted": interrupted,
        "history": {"train_loss": [float(v) for v in history["train_loss"]],
                    "val_loss": [float(v) for v in history["val_loss"]]},
        "final": metrics,
        "time_seconds": seconds,
        "samples_per_second": throughput,
        "image_shape": list(image_shape) if image_shape else None,
        "classes": classes,
    }
    metadata = {"training": settings, "metrics": metrics, "epochs_completed": n_epochs,
                "interrupted": interrupted, "image_shape": report["image_shape"]}
    outputs = {
        METRICS_FILE: (json.dumps(report, indent=2) + "\n").encode("utf-8"),
        CURVE_FILE: learning_curve_png(report["history"], title=f"{'-'.join(map(str, sizes))} network"),
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


def _print_summary(sizes, n_epochs, metrics, seconds, throughput, seed, folder, files):
    print(f"network: {'-'.join(map(str, sizes))}, {_count(n_epochs, 'epoch')}, seed {seed}")
    for part in ("train", "validation"):
        scores = metrics[part]
        if scores is not None:
            print(f"{part + ':':<12} accuracy {scores['accuracy']:.4f}  error {scores['error']:.4f}  "
                  f"cross-entropy {scores['loss']:.4f}  ({scores['n_samples']} samples)")
    rate = f" ({throughput:,.0f} samples/s)" if throughput else ""
    print(f"time:        {seconds:.2f} s{rate}")
    print(f"saved in {folder}{os.sep}: {', '.join(files)}")


# ---------------------------------------------------------------------------------------------
# predict and evaluate


def _load_model(path, command="predict"):
    hint = f"MODEL comes first: 'fastnn {command} MODEL DATA'"
    if Path(path).suffix.lower() == ".csv":
        raise UsageError(f"{path}: this is a data file, not a model; {hint}")
    try:
        net = fnn_io.load(path)
    except ModelFormatError as exc:
        if "'metadata' entry is missing" in str(exc):
            raise ModelFormatError(f"{exc}; {hint}", path=exc.path) from None
        raise
    classes = list(getattr(net, "metadata_", {}).get("classes", range(net.n_classes_)))
    return net, classes


def cmd_predict(args):
    """``fastnn predict``: see :data:`PREDICT_EPILOG`."""
    if args.output is not None:
        _check_output_file(args.output, "-o")
        if _same_file(args.output, args.data) or _same_file(args.output, args.model):
            raise UsageError(f"{args.output}: -o would overwrite an input file")
    net, classes = _load_model(args.model, "predict")
    if args.no_labels:
        X = _read_data(args.data, args, labels=None, header=args.header, n_features=net.n_features_in_)
    else:
        X, _ = _load_labelled(args.data, args, labels="auto", header=args.header, n_features=net.n_features_in_,
                              no_labels_hint=True)
    if args.proba:
        P = net.predict_proba(X)
        text = "".join(",".join(repr(float(p)) for p in row) + "\n" for row in P.tolist())
    else:
        text = "".join(f"{classes[k]}\n" for k in net.predict(X).tolist())
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        fnn_io.write_atomic(args.output, text)
    return EXIT_OK


def confusion_matrix(y_true, y_pred, n_classes):
    """Counts ``C[i, j]`` of samples with true label ``i`` predicted as ``j``.

    Parameters
    ----------
    y_true, y_pred : ndarray of int, shape (n,)
    n_classes : int

    Returns
    -------
    ndarray of int64, shape (n_classes, n_classes)
    """
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (y_true, y_pred), 1)
    return C


def format_confusion(C, classes):
    """The confusion matrix as a text table (rows: true label, columns: predicted label)."""
    names = [str(c) for c in classes]
    width = max(max(len(n) for n in names), len(str(int(C.max()) if C.size else 0)), 1)
    corner = "true\\pred"
    head = max(len(corner), width)
    lines = [f"{corner:>{head}} " + " ".join(f"{n:>{width}}" for n in names)]
    for name, row in zip(names, C):
        lines.append(f"{name:>{head}} " + " ".join(f"{int(v):>{width}}" for v in row))
    return "\n".join(lines)


def cmd_evaluate(args):
    """``fastnn evaluate``: see :data:`EVALUATE_EPILOG`."""
    net, classes = _load_model(args.model, "evaluate")
    K = net.n_classes_
    if classes == list(range(K)):
        X, y = _load_labelled(args.data, args, header=args.header, n_features=net.n_features_in_, n_classes=K)
    else:
        X, labels = _load_labelled(args.data, args, labels="auto", header=args.header,
                                   n_features=net.n_features_in_)
        # the file's labels as text match the model's class names (3 and "3" alike)
        index = {str(c): k for k, c in enumerate(classes)}
        labels = [str(label) for label in labels.tolist()]
        unknown = [i for i, label in enumerate(labels) if label not in index]
        if unknown:
            row = unknown[0]
            where = (f"{args.data}:{row + 1 + args.header}:1" if args.data.lower().endswith(".csv")
                     else args.data)
            raise DataFormatError(f"{where}: label {labels[row]!r} is not one of the model's classes "
                                  f"{classes[:20]}", path=args.data)
        y = np.array([index[label] for label in labels], dtype=np.int64)
    predicted = net.predict(X)
    error = float(np.mean(predicted != y))
    loss = float(net.loss(X, y))
    print(f"samples:       {X.shape[0]}")
    print(f"accuracy:      {1.0 - error!r}")
    print(f"error:         {error!r}")
    print(f"cross-entropy: {loss!r}")
    print("confusion matrix (rows: true label, columns: predicted label):")
    print(format_confusion(confusion_matrix(y, predicted, K), classes))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# neuralnet (the handout's program)


def neuralnet_metrics(history, train_error, validation_error):
    """The handout's metrics file text.

    Parameters
    ----------
    history : dict
        ``{"train_loss": [...], "val_loss": [...]}``, one entry per epoch.
    train_error, validation_error : float

    Returns
    -------
    str
        ``epoch=e crossentropy(train): v`` and ``epoch=e crossentropy(validation): v`` for each
        epoch, then ``error(train): v`` and ``error(validation): v``; values are ``repr`` of the
        float, lines end in ``\\n``.
    """
    lines = []
    for epoch, (train, validation) in enumerate(zip(history["train_loss"], history["val_loss"]), start=1):
        lines.append(f"epoch={epoch} crossentropy(train): {float(train)!r}")
        lines.append(f"epoch={epoch} crossentropy(validation): {float(validation)!r}")
    lines.append(f"error(train): {float(train_error)!r}")
    lines.append(f"error(validation): {float(validation_error)!r}")
    return "\n".join(lines) + "\n"


def cmd_neuralnet(args):
    """``fastnn neuralnet``: see :data:`NEURALNET_EPILOG`."""
    outputs = {"TRAIN_OUT": args.train_out, "VALIDATION_OUT": args.validation_out,
               "METRICS_OUT": args.metrics_out}
    for option, path in outputs.items():
        _check_output_file(path, option)
        for input_path in (args.train_input, args.validation_input):
            if _same_file(path, input_path):
                raise UsageError(f"{path}: {option} would overwrite the input file {input_path}")
    paths = [path for path in outputs.values() if not fnn_io.writes_through(path)]
    for i, path in enumerate(paths):
        if any(_same_file(path, other) for other in paths[:i]):
            raise UsageError(f"{path}: two outputs name the same file")

    X, y = fnn_io.read_csv(args.train_input)
    X_val, y_val = fnn_io.read_csv(args.validation_input, n_features=X.shape[1])
    if max(y.max(), y_val.max()) < 1:
        raise DataFormatError(f"{args.train_input}: every label is 0; the softmax needs at least 2 classes",
                              path=args.train_input)
    net = Network(hidden=(args.hidden_units,), output="softmax",
                  init="uniform" if args.init_flag == 1 else "zeros", learning_rate=args.learning_rate,
                  epochs=args.num_epoch, shuffle=False, dtype="float64", random_state=args.seed)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="training interrupted", category=RuntimeWarning)
            net.fit(X, y, X_val, y_val)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if net.interrupted_:
        raise KeyboardInterrupt
    predicted_train, predicted_val = net.predict(X), net.predict(X_val)
    contents = {
        args.train_out: "".join(f"{k}\n" for k in predicted_train.tolist()),
        args.validation_out: "".join(f"{k}\n" for k in predicted_val.tolist()),
        args.metrics_out: neuralnet_metrics(net.history_, np.mean(predicted_train != y),
                                            np.mean(predicted_val != y_val)),
    }
    fnn_io.write_files(contents.items())  # all three files, or none changes
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# gradcheck


def cmd_gradcheck(args):
    """``fastnn gradcheck``: see :data:`GRADCHECK_EPILOG`."""
    from .gradcheck import gradcheck

    rng = np.random.default_rng(args.seed)
    if args.model is not None:
        given = [name for name in ("hidden", "features", "classes", "output") if getattr(args, name) is not None]
        if given:
            option = getattr(args, "output_option", None) if given[0] == "output" else f"--{given[0]}"
            raise UsageError(f"--model checks a saved network; drop {option} (see 'fastnn gradcheck --help')")
        net = fnn_io.load(args.model)
        n_features, n_classes = net.n_features_in_, net.n_classes_
        draw_x = lambda: rng.uniform(0.0, 1.0, size=n_features)  # noqa: E731
        what = f"model {args.model}"
    else:
        output = args.output or "softmax"
        hidden = [5, 4] if args.hidden is None else args.hidden
        n_features = 6 if args.features is None else args.features
        n_classes = args.classes if args.classes is not None else (2 if output == "sigmoid" else 3)
        if output == "sigmoid" and n_classes != 2:
            option = getattr(args, "output_option", None) or "--output-layer"
            raise UsageError(f"{option} sigmoid has 2 classes, got --classes {n_classes}")
        if n_classes < 2:
            raise UsageError(f"--classes must be >= 2, got {n_classes}")
        sizes = [n_features, *hidden, 1 if output == "sigmoid" else n_classes]
        weights = [rng.normal(size=(n_out, n_in + 1)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        net = Network.from_weights(weights, output=output)
        draw_x = lambda: rng.normal(size=n_features)  # noqa: E731
        what = f"random {'-'.join(map(str, sizes))} {output} network"
    shapes = [W.shape for W in net.weights_]
    worst = [0.0] * len(shapes)
    for _ in range(args.samples):
        errors = gradcheck(net, draw_x(), int(rng.integers(n_classes)), eps=args.eps)
        worst = [max(a, b) for a, b in zip(worst, errors)]
    print(f"gradient check of the {what}: {args.samples} samples, eps {args.eps:g}")
    for layer, (shape, error) in enumerate(zip(shapes, worst), start=1):
        verdict = "ok" if error <= args.tolerance else "FAILED"
        print(f"layer {layer} ({shape[0]}x{shape[1]}): worst relative error {error:.3e}  {verdict}")
    if max(worst) > args.tolerance:
        print(f"FAILED: relative error above the tolerance {args.tolerance:g}")
        return EXIT_FAILURE
    print(f"passed (tolerance {args.tolerance:g})")
    return EXIT_OK
