"""The ``fastnn`` command: train, predict, evaluate, the handout's neuralnet program, gradcheck, export, diagram.

Every command reports bad input as one line on stderr, ``fastnn: error: <where>: <what>``,
and exits with status 2 (usage and data errors), 1 (a failure while working, e.g. training
diverged or a file could not be written), 130 (interrupted by Ctrl-C) or 143 (SIGTERM, handled
as Ctrl-C). ``--debug`` shows the traceback instead. Output files are written only after the
work succeeded, all of a command's files together through ``fastnn.io.write_files`` (temporary
files in the same folder, synced, then renamed; an earlier version is restored if a rename
fails), so a failed or interrupted run never leaves a half-written file behind nor changes an
earlier result.

This module is the parser and the entry point; each command lives in the module that
``COMMANDS`` names and is imported only when it runs (``fastnn --help`` loads no numerical code).
"""

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import warnings

from . import __version__
from ._cli_common import (  # noqa: F401 (the names scripts and tests use as fastnn.cli.*)
    CURVE_FILE,
    DEFAULT_ACTIVATION,
    DEFAULT_EPOCHS,
    DEFAULT_HIDDEN,
    DEFAULT_LEARNING_RATE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    METRICS_FILE,
    MODEL_FILE,
    NEURALNET_SEED,
    PROG,
    TASKS,
    UNITS_FILE,
    CommandError,
    UsageError,
    _one_line,
    _say,
)
from ._validation import (
    ACTIVATIONS,
    DTYPES,
    INITS,
    OUTPUTS,
    InvalidValue,
    check_count,
    check_fraction,
    check_nonnegative_finite,
    check_positive_finite,
)
from .gradcheck import DEFAULT_TOLERANCE
from ._errors import DataFormatError, ModelFormatError
from .plots import DIAGRAM_MAX_EDGES, DIAGRAM_MAX_UNITS, parse_image_shape

#: Each command's module and function.
COMMANDS = {
    "train": ("._cli_train", "cmd_train"),
    "predict": ("._cli_tools", "cmd_predict"),
    "evaluate": ("._cli_tools", "cmd_evaluate"),
    "neuralnet": ("._cli_tools", "cmd_neuralnet"),
    "gradcheck": ("._cli_tools", "cmd_gradcheck"),
    "export": ("._cli_tools", "cmd_export"),
    "diagram": ("._cli_tools", "cmd_diagram"),
}

# ---------------------------------------------------------------------------------------------
# argument parsing


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as a :class:`UsageError` (one line) instead of exiting."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _checked(check, parse, *limits):
    """An argparse type: ``parse`` the text, then the check Network and the estimator use too, so
    that the message is theirs (``must be an integer >= 1, got '0'``)."""

    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            value = text  # not even a number: the check refuses it with its requirement
        try:
            return check(value, "value", *limits)
        except InvalidValue as exc:
            raise argparse.ArgumentTypeError(f"must be {exc.requirement}, got {text!r}") from None

    return convert


_positive_int = _checked(check_count, int)
_positive_float = _checked(check_positive_finite, float)
_nonnegative_float = _checked(check_nonnegative_finite, float)
_seed = _checked(check_count, int, 0, 2**63)
_fraction = _checked(check_fraction, float)


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


def _activation_name(text):
    """A hidden activation's name (argparse's own wording, plus a hint for a misplaced DATA)."""
    if text in ACTIVATIONS:
        return text
    hint = " (put DATA before --activation)" if any(c in text for c in "./\\") else ""
    raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(ACTIVATIONS)}){hint}")


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

regression (--task regression):
  The first CSV column is a real-valued target ('y,x1,...,xm'), or the first N with
  --targets N ('y1,...,yN,x1,...,xm'); an .npz holds X (n, m) and y (n,) or (n, N). The
  network ends in N identity units trained on the mean of 0.5*||y_hat - y||^2; progress
  and the learning curve show the RMSE (over all rows and targets), metrics.json the train
  and validation RMSE, MAE and R2. SGD with a fixed step works best on targets of about
  unit scale: standardise large targets before training.

activations:
  --activation NAME sets the hidden units of every layer; --activation NAME1 NAME2 ... one
  per --hidden layer (logistic, the default, is the sigmoid; tanh; relu; identity;
  leaky_relu, slope 0.01 below 0). The model file records them.

output (in --output DIR, by default a new folder fastnn-run-YYYYmmdd-HHMMSS):
  model.npz           the trained network (load with fastnn.io.load, or fastnn predict)
  metrics.json        settings, loss per epoch, final error rates (regression: RMSE, MAE,
                      R2), time
  learning_curve.png  mean cross-entropy (regression: RMSE) per epoch on the training and
                      validation rows
  hidden_units.png    each first-layer unit's input weights as an image (image data only:
                      --image-shape, the digits' 8x8, or 16x8 for 128 features in [0, 1])

Ctrl-C stops training and saves the model of the last completed epoch (marked interrupted
in its metadata) with its metrics and learning curve; the exit status is then 130.
Put DATA before --hidden and --activation: they take the words after them.

examples:
  fastnn train                                     # digits, a few seconds
  fastnn train train.csv --validation valid.csv --hidden 64 32 --epochs 100 --lr 0.05
  fastnn train data.npz --validation-fraction 0.1 --hidden --output run1   # no hidden layer
  fastnn train train.csv --image-shape 16x8 --seed 7 --jobs 2 --quiet
  fastnn train train.csv --hidden 64 32 --activation relu tanh --init glorot
  fastnn train prices.csv --task regression --validation-fraction 0.2 --activation relu
  fastnn train two_targets.csv --task regression --targets 2 --header
"""

PREDICT_EPILOG = """\
DATA is read like training data: a CSV file with the label in column 1 (the labels are
ignored; --header skips a header line) or an .npz file with X (y optional). With --no-labels
every CSV column is a feature and an .npz needs only X. Output: one predicted label per line
(the class names the model was trained with), or with --proba one CSV row of K class
probabilities per sample, columns in the order of the sorted classes (no header), to stdout
or the file given by -o (a file is replaced only once complete; -o /dev/stdout works).
A regression model's DATA has its N target columns first (ignored; or --no-labels); it
prints the predicted values, one line per sample, N comma-separated values (--proba does
not apply). A multilabel model (saved from the Python API) prints one 0/1 row per sample,
a column per label (--proba: each label's probability); its DATA has the K 0/1 columns first.

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

For a regression model DATA holds the N targets first (CSV 'y1,...,yN,x1,...,xm', or .npz
with y (n,) or (n, N)); it prints the RMSE (over all rows and targets), MAE, R2 (the mean of
the targets' R2) and the loss (mean 0.5*||y_hat - y||^2), then, for N > 1, each target's
RMSE, MAE and R2. For a multilabel model (saved from the Python API; DATA: K 0/1 columns
first) it prints the subset accuracy (rows with every label right), the Hamming loss (share
of wrong labels), the mean binary cross-entropy summed over labels, and each label's accuracy.

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
random samples, for a random network (--hidden, --features, --classes, --output-layer,
--activation) or a saved model (--model), and prints the worst relative error of each layer.
For the multilabel and identity outputs --classes is the number of output units. Exits with status 1 if
any exceeds --tolerance. A layer whose gradient is too small for the differences to resolve
(saturated sigmoid units: rounding noise would dominate) is reported inconclusive, not failed.

examples:
  fastnn gradcheck
  fastnn gradcheck --hidden 16 8 --features 20 --classes 5
  fastnn gradcheck --output-layer sigmoid --hidden
  fastnn gradcheck --hidden 6 5 --activation tanh relu --output-layer identity
  fastnn gradcheck --model run1/model.npz
"""


EXPORT_EPILOG = """\
The graph takes X (N, n_features) and gives, as skl2onnx names them, 'label' (N, the class names
the model was trained with; N x K 0/1 for a multilabel model) and 'probabilities' (N, K) for a
classifier, 'variable' (N, n_targets) for a regression model; onnxruntime reproduces fastnn's
outputs to 1e-12 in float64 and 1e-6 in float32, for every activation and output. Needs
pip install "fastnn[onnx]".

example:
  fastnn export run1/model.npz model.onnx
"""

DIAGRAM_EPILOG = """\
Draws the network diagram of a saved model: one circle per unit, layers from the inputs (left)
to the outputs (right), one edge per weight coloured by its value (red positive, blue
negative) and as wide as its magnitude; intercepts are not drawn. The extension of OUTPUT names
the format (.svg, .png, .pdf, ...). A layer wider than --max-units shows its units of largest
total |weight|; beyond --max-edges edges, each layer keeps its largest |weights|.

examples:
  fastnn diagram run1/model.npz network.svg
  fastnn diagram run1/model.npz network.png --max-edges 100
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
        description="Train and use fully-connected networks (per-sample SGD on the CPU).",
        epilog="Run 'fastnn COMMAND --help' for a command's options and examples.\n\n"
               "examples:\n  fastnn train\n  fastnn train train.csv --validation valid.csv --epochs 50\n"
               "  fastnn evaluate fastnn-run-*/model.npz valid.csv",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, summary, description, epilog):
        """A subcommand's parser; ``--debug`` and its ``run`` name are added after its own options."""
        return commands.add_parser(name, help=summary, description=description, epilog=epilog,
                                   formatter_class=formatter)

    def add_model(sub):
        sub.add_argument("model", metavar="MODEL", help="a model file written by 'fastnn train'")

    # ---- train
    train = command("train", "train a network and save it with its metrics and plots",
                    "Train a network by SGD and save the model, its metrics and plots.", TRAIN_EPILOG)
    train.add_argument("data", nargs="?", metavar="DATA", help="training data (.csv or .npz); default: digits")
    train.add_argument("--dataset", choices=["digits"], help="a bundled data set instead of DATA")
    train.add_argument("--task", choices=TASKS, default="classification",
                       help="classification (labels first) or regression (real targets first); "
                            "default: %(default)s")
    train.add_argument("--targets", type=_positive_int, default=None, metavar="N",
                       help="--task regression: the first N columns are targets (default: 1; "
                            "an .npz: the columns of y)")
    train.add_argument("--hidden", nargs="*", type=_layer_size, default=list(DEFAULT_HIDDEN), metavar="N",
                       help=f"units of each hidden layer (default: {' '.join(map(str, DEFAULT_HIDDEN))}; "
                            "no numbers: no hidden layer)")
    train.add_argument("--activation", nargs="+", type=_activation_name, choices=ACTIVATIONS, default=None,
                       metavar="NAME", help=f"hidden units: one of {', '.join(ACTIVATIONS)}, for all hidden "
                                            f"layers or one per layer (default: {DEFAULT_ACTIVATION})")
    train.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS,
                       help="passes over the training rows (default: %(default)s)")
    train.add_argument("--lr", "--learning-rate", dest="lr", type=_positive_float,
                       default=DEFAULT_LEARNING_RATE, help="SGD learning rate (default: %(default)s)")
    train.add_argument("--init", choices=INITS, default="uniform",
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
    train.add_argument("--dtype", choices=list(DTYPES), default="float64",
                       help="precision of the weights and arithmetic (default: %(default)s)")
    # the optimizer (scikit-learn's names and rules; see fastnn._optim)
    train.add_argument("--solver", choices=["sgd", "adam"], default="sgd",
                       help="sgd (with --momentum, --nesterov, --schedule) or adam (default: %(default)s)")
    train.add_argument("--momentum", type=float, default=0.0, metavar="M",
                       help="sgd's momentum, in [0, 1) (default: 0, plain SGD)")
    train.add_argument("--nesterov", action="store_true", help="Nesterov's momentum instead of the classical one")
    train.add_argument("--schedule", choices=["constant", "invscaling", "adaptive"], default="constant",
                       help="sgd's learning rate per epoch: constant, lr/(t+1)^0.5 after t samples, or divided "
                            "by 5 when the loss stalls for 2 epochs (default: %(default)s)")
    train.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                       help="threads training together without locks, Hogwild! (default: 1, reproducible)")
    train.add_argument("--output", "-o", metavar="DIR",
                       help="folder for the results (default: a new fastnn-run-YYYYmmdd-HHMMSS)")
    train.add_argument("--image-shape", type=_image_shape, metavar="HxW",
                       help="draw the first layer's weights as HxW images, e.g. 16x8")
    train.add_argument("--quiet", "-q", action="store_true",
                       help="no progress bar or summary; print only the output folder")

    # ---- predict
    predict = command("predict", "predict labels, probabilities or values with a saved model",
                      "Predict the label (or class probabilities) of each sample.", PREDICT_EPILOG)
    add_model(predict)
    predict.add_argument("data", metavar="DATA", help="samples (.csv or .npz)")
    predict.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    predict.add_argument("--proba", action="store_true",
                         help="print class probabilities as CSV (classification models)")
    predict.add_argument("--no-labels", action="store_true",
                         help="DATA has no label column: every CSV column is a feature")
    predict.add_argument("--header", action="store_true", help="DATA's first line is a header: skip it")

    # ---- evaluate
    evaluate = command("evaluate", "error rate, cross-entropy and confusion matrix (regression: RMSE, MAE, R2)",
                       "Evaluate a saved model on labelled data.", EVALUATE_EPILOG)
    add_model(evaluate)
    evaluate.add_argument("data", metavar="DATA", help="labelled samples (.csv or .npz)")
    evaluate.add_argument("--header", action="store_true", help="DATA's first line is a header: skip it")

    # ---- neuralnet
    neuralnet = command("neuralnet", "the course handout's neuralnet program (exact output format)",
                        "Train one hidden layer by SGD and write labels and metrics as the handout specifies.",
                        NEURALNET_EPILOG)
    # the handout's positional arguments, in its order: name (metavar in capitals), type, help
    for name, kind, text in [
        ("train_input", None, "training CSV"),
        ("validation_input", None, "validation CSV"),
        ("train_out", None, "predicted training labels (written)"),
        ("validation_out", None, "predicted validation labels (written)"),
        ("metrics_out", None, "losses and error rates (written)"),
        ("num_epoch", _positive_int, "epochs"),
        ("hidden_units", _positive_int, "hidden units"),
        ("init_flag", _init_flag, "1: random uniform U(-0.1, 0.1), 2: zeros"),
        ("learning_rate", _positive_float, "SGD step"),
    ]:
        neuralnet.add_argument(name, metavar=name.upper(), type=kind, help=text)
    neuralnet.add_argument("--seed", type=_seed, default=NEURALNET_SEED,
                           help="seed of the INIT_FLAG 1 weights (default: %(default)s)")

    # ---- gradcheck
    gradcheck = command("gradcheck", "check the engine's gradients against finite differences",
                        "Check backpropagation against centered finite differences.", GRADCHECK_EPILOG)
    gradcheck.add_argument("--hidden", nargs="*", type=_layer_size, default=None, metavar="N",
                           help="hidden layer sizes of the random network (default: 5 4)")
    gradcheck.add_argument("--features", type=_positive_int, default=None, metavar="M",
                           help="inputs of the random network (default: 6)")
    gradcheck.add_argument("--classes", type=_positive_int, default=None, metavar="K",
                           help="classes (output units) of the random network (default: 3; 2 for "
                                "--output-layer sigmoid)")
    gradcheck.add_argument("--activation", nargs="+", type=_activation_name, choices=ACTIVATIONS,
                           default=None, metavar="NAME",
                           help=f"hidden units of the random network, one name or one per layer "
                                f"(default: {DEFAULT_ACTIVATION})")
    gradcheck.add_argument("--output-layer", dest="output", choices=OUTPUTS, default=None,
                           action=_OptionName, help="output layer of the random network (default: softmax)")
    # the former name, kept working for existing scripts
    gradcheck.add_argument("--output", dest="output", choices=OUTPUTS, action=_OptionName,
                           help=argparse.SUPPRESS)
    gradcheck.add_argument("--model", metavar="FILE", help="check this saved model instead")
    gradcheck.add_argument("--samples", type=_positive_int, default=5,
                           help="random samples to check (default: %(default)s)")
    gradcheck.add_argument("--eps", type=_positive_float, default=1e-5, help="finite-difference step")
    gradcheck.add_argument("--tolerance", type=_positive_float, default=DEFAULT_TOLERANCE,
                           help="largest relative error accepted (default: %(default)s)")
    gradcheck.add_argument("--seed", type=_seed, default=0, help="seed of the random network and samples")

    # ---- export
    export = command("export", "write a saved model as an ONNX graph",
                     "Write a saved model as an ONNX graph (outputs 'label' and 'probabilities').", EXPORT_EPILOG)
    add_model(export)
    export.add_argument("onnx", metavar="OUTPUT", help="the ONNX file to write (.onnx)")
    export.add_argument("--dtype", choices=list(DTYPES), default=None,
                        help="type of the graph's input and arithmetic (default: the model's)")

    # ---- diagram
    diagram = command("diagram", "draw the network diagram of a saved model (.svg, .png, .pdf)",
                      "Draw the network diagram of a saved model: units as circles, weights as edges.",
                      DIAGRAM_EPILOG)
    add_model(diagram)
    diagram.add_argument("image", metavar="OUTPUT", help="the image to write (.svg, .png, .pdf, ...)")
    diagram.add_argument("--max-units", type=_positive_int, default=DIAGRAM_MAX_UNITS, metavar="N",
                         help="most units drawn per layer (default: %(default)s)")
    diagram.add_argument("--max-edges", type=_positive_int, default=DIAGRAM_MAX_EDGES, metavar="N",
                         help="most edges drawn (default: %(default)s)")
    for name, sub in commands.choices.items():
        sub.add_argument("--debug", action="store_true", help="show the full traceback of an error")
        sub.set_defaults(run=name)
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
        Exit status: 0 success, 1 failure while working, 2 usage or data error, 130 interrupted
        (Ctrl-C), 143 terminated (SIGTERM).
    """
    debug = False
    previous = _terminate_like_ctrl_c()
    shown = warnings.showwarning
    warnings.showwarning = _warning_line
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        if args.command is None:
            raise UsageError(f"choose a command: {', '.join(COMMANDS)} (see 'fastnn --help')")
        debug = args.debug
        module, function = COMMANDS[args.run]
        status = getattr(importlib.import_module(module, __package__), function)(args)
        return EXIT_TERMINATED if status == EXIT_INTERRUPTED and _terminated.is_set() else status
    except KeyboardInterrupt:
        if debug:
            raise
        _say("terminated" if _terminated.is_set() else "interrupted")
        return EXIT_TERMINATED if _terminated.is_set() else EXIT_INTERRUPTED
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
    finally:
        warnings.showwarning = shown
        _terminated.clear()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _warning_line(message, category, filename, lineno, file=None, line=None):
    """A warning as the command's other messages: one line, ``fastnn: warning: ...``."""
    _say(f"warning: {_one_line(message)}")


_terminated = threading.Event()


def _terminate_like_ctrl_c():
    """Make SIGTERM (what ``kill`` and schedulers send) stop the command as Ctrl-C does, so that
    training saves its last completed epoch and no temporary file is left; the exit status is
    then 143. Returns the handler it replaced (None where signals cannot be set: not the main
    thread)."""

    def on_sigterm(signum, frame):
        _terminated.set()
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:
        return None
