"""Input checks shared by Network, MLPClassifier and the CLI: bad input is caught here, where it
enters, with a message that says what was wrong and what to do."""

import numbers

import numpy as np
import scipy.sparse as sp

DTYPES = {"float64": np.float64, "float32": np.float32}


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
        Never a view the engine could write to: the caller's array is not modified.

    Raises
    ------
    ValueError
        Not 2-D, no rows or no columns, NaN or infinity, complex values.
    TypeError
        Values that are not numbers (e.g. strings in an object array).
    """
    if (type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2 and X.flags.c_contiguous
            and X.shape[0] > 0 and X.shape[1] > 0):
        # already what the engine reads (e.g. prediction on prepared data): only the finiteness
        # check, without check_array's ~0.2 ms per call (~5% of predicting 10k S1 rows)
        from sklearn.utils import assert_all_finite

        assert_all_finite(X, input_name=name)
        return X
    if sp.issparse(X) and not accept_sparse:
        raise TypeError(f"{name} is a sparse matrix; pass a dense array (e.g. {name}.toarray())")
    if not sp.issparse(X) and not hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
        raise TypeError(f"{name} must be an array-like of numbers, got {type(X).__name__}")
    if not sp.issparse(X):
        X = _numeric_array(X, name)
    from sklearn.utils import check_array  # imported here: scikit-learn takes a second to load

    converted = check_array(
        X,
        accept_sparse="csr" if accept_sparse else False,
        dtype=dtype,
        order="C",
        ensure_all_finite=True,
        input_name=name,
    )
    if sp.issparse(converted):
        # the engine reads CSR as is: duplicate entries add up, as in scipy; nothing is rewritten
        converted = sp.csr_matrix(converted)
    return converted


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


def check_positive_finite(value, name):
    """A real number > 0 and finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_nonnegative_finite(value, name):
    """A real number >= 0 and finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_count(value, name, minimum=1):
    """An integer >= ``minimum`` (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


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
