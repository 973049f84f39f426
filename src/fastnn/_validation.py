"""Input checks shared by Network, MLPClassifier and the CLI: bad input is caught here, where it
enters, with a message that says what was wrong and what to do."""

import math
import numbers
import sys

import numpy as np

# The vocabulary every surface (Network, MLPClassifier, the command line, model files) checks against.
#: Precisions of the weights and the arithmetic.
DTYPES = {"float64": np.float64, "float32": np.float32}
#: Output layers: a softmax over K >= 2 classes, one sigmoid unit for two, K independent sigmoids
#: (multilabel: an (n, K) 0/1 indicator y), or K identity units (regression: real targets).
OUTPUTS = ("softmax", "sigmoid", "multilabel", "identity")
#: The outputs trained on real-valued targets (an (n, K) array) instead of class labels.
TARGET_OUTPUTS = ("multilabel", "identity")
#: Hidden activations, scikit-learn's names plus leaky_relu (slope 0.01 below 0).
ACTIVATIONS = ("logistic", "tanh", "relu", "identity", "leaky_relu")
#: Named initial weights (see ``fastnn._training.initial_weights``); the estimator adds "sklearn".
INITS = ("uniform", "zeros", "glorot")
#: A softmax over more classes than this needs most of them to occur in the labels (a stray label
#: such as 30000000 would otherwise build a layer of that many units).
MAX_SPARSE_CLASSES = 1000


def implausible_classes(labels):
    """``(K, n_present)`` when integer labels would make K = 1 + max > MAX_SPARSE_CLASSES classes
    of which fewer than half occur (a typo, not a class set), else None."""
    n_classes = int(labels.max()) + 1
    if n_classes <= MAX_SPARSE_CLASSES:
        return None
    n_present = np.unique(labels).size
    return (n_classes, n_present) if n_present < n_classes / 2 else None


class InvalidValue(ValueError):
    """A parameter outside what it may be: ``"{name} must be {requirement}, got {value!r}"``.

    The command line words its arguments' errors from ``requirement``, so that every surface
    says the same.
    """

    def __init__(self, name, requirement, value):
        self.name, self.requirement, self.value = name, requirement, value
        super().__init__(f"{name} must be {requirement}, got {value!r}")


def issparse(X):
    """``scipy.sparse.issparse(X)`` without importing SciPy (a sparse matrix implies it is loaded).

    ``import fastnn`` and ``Network`` on dense data never load ``scipy.sparse`` (~50 ms).
    """
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def check_dtype(dtype):
    """Normalise ``dtype`` to ``np.float64`` or ``np.float32``.

    Parameters
    ----------
    dtype : {"float64", "float32"} or the numpy type
    """
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return DTYPES[name]


def check_matrix(X, dtype, *, name="X", accept_sparse=True):
    """Convert ``X`` once to what the engine reads: C-contiguous ``dtype`` or CSR ``dtype``.

    NumPy and SciPy only (no scikit-learn: ``Network`` starts fast), with scikit-learn's
    messages for the same faults.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or a scipy sparse matrix
    dtype : np.float64 or np.float32
    name : str
        How messages call the argument.
    accept_sparse : bool

    Returns
    -------
    ndarray of shape (n_samples, n_features), C-contiguous, or scipy.sparse.csr_matrix
        Never a view the engine could write to: the caller's array is not modified. Dense
        results start on a boundary of their item size (the kernels' loads need it).

    Raises
    ------
    ValueError
        Not 2-D, no rows or no columns, NaN or infinity (also after conversion to ``dtype``),
        complex values.
    TypeError
        Values that are not numbers (e.g. strings in an object array).
    """
    if issparse(X):
        import scipy.sparse as sp

        if not accept_sparse:
            raise TypeError(f"{name} is a sparse matrix; pass a dense array (e.g. {name}.toarray())")
        if X.dtype.kind == "c":
            raise ValueError(f"{name} has complex values; fastnn trains on real numbers only")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got a sparse matrix of dtype {X.dtype}")
        _check_shape(X.shape, name)
        # the engine reads CSR as is: duplicate entries add up, as in scipy; nothing is rewritten
        with np.errstate(over="ignore"):  # an overflow to infinity is reported below
            converted = sp.csr_matrix(X, dtype=dtype, copy=False)
        _check_finite(converted.data, X.data if X.format == "csr" else None, name)
        return converted
    if not hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
        raise TypeError(f"{name} must be an array-like of numbers, got {type(X).__name__}")
    array = _numeric_array(X, name)
    if array.ndim != 2:
        raise ValueError(f"Expected a 2D array for {name}, got {array.ndim}D array instead (shape "
                         f"{array.shape}): reshape it with {name}.reshape(-1, 1) for one feature or "
                         f"{name}.reshape(1, -1) for one sample")
    _check_shape(array.shape, name)
    with np.errstate(over="ignore"):  # an overflow to infinity is reported below
        converted = np.require(array.astype(dtype, copy=False), requirements=["C", "A"])
    _check_finite(converted, array, name)
    return converted


def _check_shape(shape, name):
    if shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required "
                         f"({name} needs at least one row)")
    if shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required "
                         f"({name} needs at least one column)")


def _check_finite(values, original, name):
    """NaN or infinity in ``values`` (converted) is an error; says whether ``original`` had it."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(values.sum(dtype=np.float64)):  # one pass in the common case
            return
    if np.isnan(values).any():
        raise ValueError(f"Input {name} contains NaN.")
    if not np.isfinite(values).all():
        became = original is not None and original.dtype != values.dtype and np.isfinite(original).all()
        raise ValueError(f"Input {name} contains infinity or a value too large for {values.dtype!r}"
                         + (" (it is finite before the conversion: scale it)" if became else "."))


def _numeric_array(X, name):
    """``np.asarray(X)`` refusing what is not real numbers, with a message that says so."""
    dtype = getattr(X, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", None) == "c":
        raise ValueError(f"{name} has complex values; fastnn trains on real numbers only")
    try:
        array = np.asarray(X)
    except ValueError as error:
        raise ValueError(f"{name} is not a rectangular array of numbers ({error})") from None
    if array.dtype.kind == "c":
        raise ValueError(f"{name} has complex values; fastnn trains on real numbers only")
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must hold numbers only ({error})") from None
    elif array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got an array of dtype {array.dtype}")
    return array


def check_labels(y, n_rows, *, name="y"):
    """Integer class labels ``0..K-1`` as int32.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Integers (floats with integral values are accepted).
    n_rows : int
        Number of rows of the matching X.

    Returns
    -------
    ndarray of int32, shape (n_samples,)
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but {name} has {y.shape[0]} labels; they must match")
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{name} contains NaN or infinity; labels must be integers 0..K-1")
        if not np.array_equal(y, np.round(y)):
            raise ValueError(f"{name} has non-integer values; labels must be integers 0..K-1")
    elif y.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class labels 0..K-1, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} has a negative label ({y.min()}); labels must be integers 0..K-1")
    if y.size and y.max() >= 2**31 - 1:
        raise ValueError(f"{name} has a label too large to be a class index ({y.max()})")
    return y.astype(np.int32)


def check_targets(y, n_rows, dtype, *, name="y", indicator=False):
    """Real-valued targets as a C-contiguous ``(n_samples, K)`` array of ``dtype``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, K)
        Finite numbers; a 1-D ``y`` is one target.
    n_rows : int
        Number of rows of the matching X.
    dtype : np.float64 or np.float32
    indicator : bool, default=False
        Require 0/1 values (a multilabel indicator matrix).

    Returns
    -------
    ndarray of shape (n_samples, K)
    """
    if issparse(y):
        y = y.toarray()
    what = "a 0/1 indicator matrix of labels" if indicator else "real-valued targets"
    array = _numeric_array(y, name)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"{name} must be {what} of shape (n_samples,) or (n_samples, n_outputs), "
                         f"got shape {array.shape}")
    if array.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but {name} has {array.shape[0]}; they must match")
    if indicator:
        if not np.isin(array, (0, 1)).all():
            bad = array[~np.isin(array, (0, 1))].ravel()[0].item()
            raise ValueError(f"{name} must be {what}: every value 0 or 1, found {bad!r}")
    with np.errstate(over="ignore"):
        converted = np.require(array.astype(dtype, copy=False), requirements=["C", "A"])
    if not np.isfinite(converted).all():
        raise ValueError(f"{name} contains NaN or infinity; {what} must be finite"
                         + (f" in {np.dtype(dtype).name}" if np.isfinite(array).all() else ""))
    return converted


def check_activations(activation, n_hidden, name="activation"):
    """One activation name per hidden layer: a name for all of them, or a list of ``n_hidden``.

    Returns
    -------
    tuple of str
    """
    if isinstance(activation, str):
        check_choice(activation, name, ACTIVATIONS)
        return (activation,) * n_hidden
    try:
        names = tuple(activation)
    except TypeError:
        raise InvalidValue(name, f"one of {', '.join(map(repr, ACTIVATIONS))} or a list of them, one per "
                           "hidden layer", activation) from None
    if len(names) != n_hidden:
        raise ValueError(f"{name} lists {len(names)} activations but the network has {n_hidden} hidden "
                         f"layer(s); give one name, or one per hidden layer")
    for entry in names:
        check_choice(entry, name, ACTIVATIONS)
    return names


def _real(value, name, condition):
    """``float(value)`` for a finite real number (bools refused) that is ``> 0`` or ``>= 0``."""
    number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    in_range = number > 0 if condition == "> 0" else number >= 0
    if not (math.isfinite(number) and in_range):
        raise InvalidValue(name, f"a finite number {condition}", value)
    return number


def check_positive_finite(value, name):
    """A finite real number > 0 (any ``numbers.Real``: int, float, NumPy scalar, Fraction)."""
    return _real(value, name, "> 0")


def check_nonnegative_finite(value, name):
    """A real number >= 0 and finite."""
    return _real(value, name, ">= 0")


def check_choice(value, name, choices):
    """One of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidValue(name, f"one of {', '.join(map(repr, choices))}", value)
    return value


def check_count(value, name, minimum=1, maximum=None):
    """An integer >= ``minimum`` (and < ``maximum`` if given); bools and floats are refused."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum
            or (maximum is not None and value >= maximum)):
        raise InvalidValue(name, f"an integer >= {minimum}" + ("" if maximum is None else f" and < {maximum}"), value)
    return int(value)


def check_fraction(value, name):
    """A real number strictly between 0 and 1."""
    number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    if not 0 < number < 1:
        raise InvalidValue(name, "a number between 0 and 1 (exclusive)", value)
    return number


def check_hidden(hidden, name="hidden"):
    """Hidden layer sizes as a tuple of ints >= 1 (an int means one layer; () means none)."""
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        sizes = tuple(hidden)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of layer sizes, e.g. (50,), got {hidden!r}") from None
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"{name} must hold integers >= 1, got {hidden!r}")
    return tuple(int(s) for s in sizes)


def check_weight_list(weights, *, name="init", n_features=None, n_outputs=None):
    """Validate user-layout weights: a chain of finite 2-D arrays, each ``(n_out, n_in + 1)``.

    Returns
    -------
    weights : list of ndarray of float64
    sizes : list of int
        ``[n_features, hidden..., n_outputs]`` implied by the shapes.
    """
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)) or not weights:
        raise ValueError(f"{name} must be a non-empty list of weight matrices of shape (n_out, n_in + 1)")
    arrays, sizes = [], []
    for index, W in enumerate(weights):
        W = np.asarray(W, dtype=np.float64) if not np.iscomplexobj(W) else None
        if W is None or W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 2:
            raise ValueError(
                f"{name}[{index}] must be a real 2-D array of shape (n_out, n_in + 1) with n_out >= 1 "
                f"and n_in >= 1, got shape {getattr(W, 'shape', None)}"
            )
        if not np.isfinite(W).all():
            raise ValueError(f"{name}[{index}] contains NaN or infinity")
        if index == 0:
            sizes.append(W.shape[1] - 1)
        elif W.shape[1] - 1 != sizes[-1]:
            raise ValueError(
                f"{name}[{index}] has shape {W.shape}: its {W.shape[1]} columns must be 1 + the "
                f"{sizes[-1]} outputs of layer {index - 1}"
            )
        sizes.append(W.shape[0])
        arrays.append(W)
    if n_features is not None and sizes[0] != n_features:
        raise ValueError(f"{name}[0] expects {sizes[0]} input features but X has {n_features}")
    if n_outputs is not None and sizes[-1] != n_outputs:
        raise ValueError(f"the last matrix of {name} has {sizes[-1]} outputs, the output layer needs {n_outputs}")
    return arrays, sizes
