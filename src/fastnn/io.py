"""Data files (CSV, npz), model files, and writing files safely, for fastnn.

Data
----
``read_csv`` reads the OCR text format: one example per line, ``label,x1,...,xm``
(``labels="int"``, the default), with text labels (``"str"``, or ``"auto"`` to
decide by the file), real-valued targets for regression (``"float"``: the first
field, or the first ``targets`` fields), or features only (``labels=None``);
``header=True`` skips a header line.  It parses the file in pieces of whole lines
straight into the result.  ``read_npz`` reads an ``.npz`` archive holding the
arrays ``X`` (2-D, numeric) and ``y`` (1-D labels, or real targets of shape (n,)
or (n, K) with ``"float"``; not needed with ``labels=None``), checking every
header against the file's size before anything is allocated.  ``load_dataset``
picks one of the two by the file suffix.  Only regular files are read (a pipe
or device is refused).  Every problem with a data file is reported as a
:class:`DataFormatError` whose message starts with ``path:line[:column]:``
(1-based line and field numbers) so that the offending spot can be found at
once, e.g. ``train.csv:57: expected 129 fields, found 128``.

Writing
-------
``write_atomic`` writes one file and ``write_files`` several, all or none: each
through a synced temporary file in the target's folder, renamed at the end, the
folder fsynced; symlinks are followed, devices (``/dev/null``) written through,
an existing file's mode kept (details in :func:`write_files`).

Models
------
``save`` writes a fitted network to one ``.npz`` file: the weight matrices
``W0, W1, ...`` (each of shape ``(n_out, n_in + 1)``, bias in column 0, exactly
as ``net.weights_`` shows them) and a ``metadata`` entry, a JSON document stored
as a 1-D ``uint8`` array (never as a pickled object).  The metadata records::

    format          "fastnn-model"
    format_version  1 or 2
    fastnn_version  version of the writer (or null when unknown)
    layer_sizes     [n_in, h1, ..., n_out]
    output          "softmax", "sigmoid", "multilabel" (version 2) or "identity" (version 2)
    activation      the hidden layers' activations, one name each (version 2; version 1: logistic)
    dtype           "float64" or "float32"
    classes         the class labels (JSON list; K entries for softmax and multilabel, 2 for
                    sigmoid, none for identity)
    n_features      n_in

A logistic network with a softmax or sigmoid output is written as version 1, which
fastnn versions from before version 2 read too.

plus any keys the caller passes (training settings, final metrics, an
``interrupted`` flag, ...).  The file is written atomically (``write_atomic``),
so a reader sees either the old file or the new one, never a mix.  ``save``
takes a fitted ``Network`` or ``MLPClassifier``.

``load`` returns a :class:`fastnn.Network` built with ``Network.from_weights``;
the metadata dictionary is attached to it as ``net.metadata_``.  ``read_model``
and ``write_model`` are the same file format without the ``Network`` class
(plain weight arrays and a metadata dict).  Model files are loaded with
``allow_pickle=False`` and everything in them is checked before it is used; any
defect is reported as a :class:`ModelFormatError`.

Layout
------
This module is the public surface: the functions, their documentation and the
constants.  The formats are implemented in private modules, each of which uses
only those listed after it (and none imports the compiled engine)::

    fastnn._csv        the CSV grammar: scan, fast path, careful reader
    fastnn._modelfile  model files: metadata checked, encoded, read back
    fastnn._npz        npz archives: zip and .npy headers checked before reading
    fastnn._files      regular files opened with bounds; all-or-none writes
    fastnn._errors     DataFormatError, ModelFormatError and their messages
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._csv import _read_csv
from ._errors import DataFormatError, ModelFormatError, _data_error, _display
from ._files import _write_files, _writes_through
from ._modelfile import MODEL_FORMAT, MODEL_FORMAT_VERSION, _encode_model, _model_bytes, _read_model
from ._npz import _read_npz

# the CSV reader's two paths and pandas' parser, which the tests call through this module
from ._csv import _csv_fast, _csv_slow, _pandas_parser  # noqa: F401

__all__ = [
    "DataFormatError",
    "ModelFormatError",
    "read_csv",
    "read_npz",
    "load_dataset",
    "save",
    "load",
    "read_model",
    "write_model",
    "model_bytes",
    "write_atomic",
    "write_files",
    "writes_through",
    "MAX_LINE_BYTES",
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
]

#: Longest CSV line accepted, in bytes (without the line end).  A longer line is
#: reported as an error after reading at most this many bytes of it.  ``read_csv``
#: reads the value at each call and hands it to the CSV reader.
MAX_LINE_BYTES = 64 * 2**20

# MODEL_FORMAT (the ``format`` metadata key of every fastnn model file, "fastnn-model") and
# MODEL_FORMAT_VERSION (the version written, and the newest read) are imported above from
# the model file code that writes and checks them.

_LABEL_MODES = ("int", "str", "auto", "float", None)
_MODES_TEXT = "'int', 'str', 'auto', 'float' or None"


def _check_positive_int(value, name):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return int(value)


def _check_read_options(labels, n_features, n_classes, targets):
    """The readers' shared options, checked: returns ``n_features, n_classes, targets`` as ints or None."""
    if labels not in _LABEL_MODES:
        raise ValueError(f"labels must be {_MODES_TEXT}, got {labels!r}")
    n_features = _check_positive_int(n_features, "n_features")
    n_classes = _check_positive_int(n_classes, "n_classes")
    targets = _check_positive_int(targets, "targets")
    if targets is not None and labels != "float":
        raise ValueError(f"targets={targets} is for labels='float' (real-valued targets), got labels={labels!r}")
    return n_features, n_classes, targets


def read_csv(path, *, labels="int", header=False, n_features=None, n_classes=None, progress=None,
             targets=None):
    """Read a data set in the OCR CSV format (or a CSV of features only).

    Each line is one example, ``label,x1,...,xm``: a class label followed by the
    ``m`` feature values (with ``labels=None``: only ``x1,...,xm``; with
    ``labels="float"``: ``y,x1,...,xm``, or ``y1,...,yK,x1,...,xm`` for
    ``targets=K``, real-valued regression targets first).  There is no
    header unless ``header=True``.  Lines may end in LF or CRLF; a UTF-8 byte
    order mark, blanks around fields and blank lines at the end of the file are
    accepted.  Numbers are read as decimal literals (``1``, ``-0.5``, ``.5``,
    ``2e-3``) independently of the locale.

    The file is parsed in pieces of whole lines straight into the result, so the
    memory needed is the result plus a bounded buffer (a few times
    ``_PARSE_CHUNK`` bytes), whatever the file's size.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file; it must be a regular file (not a pipe or device).
    labels : {"int", "str", "auto", "float", None}, default="int"
        What the first field is. ``"int"``: a non-negative integer class label.
        ``"str"``: a class name, kept as text (blanks around it removed).
        ``"auto"``: integer labels if every label field is a number, else text
        labels (as ``"str"``). ``"float"``: a real-valued target (any finite
        number; the first ``targets`` fields are). ``None``: there is no label
        column; every field is a feature.
    header : bool, default=False
        Skip the first line (a header naming the columns).
    n_features : int, optional
        Expected number of features ``m``; when given, every line must have
        exactly ``m`` feature fields.
    n_classes : int, optional
        Number of classes ``K``; when given, every integer label must be in
        ``0..K-1`` (ignored for text labels).
    progress : callable, optional
        Called as ``progress(bytes_done, bytes_total)`` after each piece is parsed.
    targets : int, optional
        With ``labels="float"``: the number ``K`` of leading target fields (default 1).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
        The feature values (the only result with ``labels=None``).
    y : ndarray of shape (n_samples,) or (n_samples, K)
        The labels: int64, each ``>= 0``, for integer labels; a numpy string
        array (dtype ``<U``) for text labels; float64 targets for ``"float"``,
        of shape (n_samples,) for one target, else (n_samples, K).

    Raises
    ------
    DataFormatError
        If the file cannot be read, is not a regular file, is empty, looks binary,
        has a line longer than ``MAX_LINE_BYTES``, a header (without
        ``header=True``), a blank line before the end, a row with a different
        number of fields, a field that is not a finite number (targets included),
        or an integer label that is not a non-negative integer (below
        ``n_classes`` if given).  The message starts with ``path:line[:field]:``.
    """
    name = _display(path)
    n_features, n_classes, targets = _check_read_options(labels, n_features, n_classes, targets)
    header = bool(header)
    if labels == "float":
        return _read_csv(path, name, "float", header, n_features, None, progress, MAX_LINE_BYTES,
                         n_targets=targets or 1)
    if labels == "auto":
        try:
            return _read_csv(path, name, "int", header, n_features, n_classes, progress, MAX_LINE_BYTES)
        except DataFormatError as exc:
            if not getattr(exc, "label_is_text", False):
                raise
        labels = "str"
    return _read_csv(path, name, labels, header, n_features, n_classes, progress, MAX_LINE_BYTES)


def read_npz(path, *, labels="int", n_features=None, n_classes=None, targets=None):
    """Read a data set from an ``.npz`` archive with arrays ``X`` and ``y``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file, e.g. written by ``np.savez(path, X=X, y=y)``; it must be
        a regular file.
    labels : {"int", "str", "auto", "float", None}, default="int"
        ``"int"``: ``y`` holds integer labels. ``"str"``/``"auto"``: ``y`` may also
        hold text (a numpy string array), returned as text; with ``"auto"`` integer
        labels are returned as integers. ``"float"``: ``y`` holds real-valued
        targets, shape (n_samples,) or (n_samples, K). ``None``: only ``X`` is read
        (``y`` need not exist).
    n_features : int, optional
        Expected number of columns of ``X``.
    n_classes : int, optional
        Number of classes ``K``; when given, every integer label must be in ``0..K-1``.
    targets : int, optional
        With ``labels="float"``: the number of targets ``y`` must hold (a 1-D ``y``
        is one target); by default any.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
        ``X`` converted to float64 (it may be stored as any real or bool dtype);
        the only result with ``labels=None``.
    y : ndarray of shape (n_samples,) or (n_samples, K)
        int64 labels, each ``>= 0`` (stored with any integer dtype), or a string
        array for text labels; for ``"float"``, the targets as float64 in the
        stored shape.

    Raises
    ------
    DataFormatError
        If the file cannot be read, is not a regular file or not an npz archive,
        holds pickled objects (they are never unpickled), lacks ``X`` (or ``y``),
        declares arrays larger than the file can hold, or if ``X`` is not a
        non-empty 2-D array of finite real numbers, ``y`` not a 1-D array of
        labels of the same length with integer labels in range (for ``"float"``:
        not finite real targets of the same length, or not ``targets`` of them).
        The message starts with ``path:``.
    """
    name = _display(path)
    n_features, n_classes, targets = _check_read_options(labels, n_features, n_classes, targets)
    return _read_npz(path, name, labels, n_features, n_classes, targets)


def load_dataset(path, *, labels="int", header=False, n_features=None, n_classes=None, progress=None,
                 targets=None):
    """Read a data set, choosing the reader by the file suffix.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv`` file (see :func:`read_csv`) or an ``.npz`` file (see
        :func:`read_npz`); the suffix is matched case-insensitively.
    labels : {"int", "str", "auto", "float", None}, default="int"
        What the labels are (see :func:`read_csv`); ``"float"`` reads real-valued
        targets, ``None`` features only.
    header : bool, default=False
        A CSV's first line is a header to skip (an ``.npz`` has none).
    n_features : int, optional
        Expected number of features.
    n_classes : int, optional
        Number of classes ``K``; integer labels must be in ``0..K-1``.
    progress : callable, optional
        ``progress(bytes_done, bytes_total)`` while a CSV is read.
    targets : int, optional
        With ``labels="float"``: the number of targets (a CSV's leading fields,
        default 1; an ``.npz``'s ``y`` columns, default any).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
    y : ndarray of shape (n_samples,) or (n_samples, K)
        int64 or text labels, or float64 targets (not returned with ``labels=None``).

    Raises
    ------
    DataFormatError
        For an unsupported suffix, and for any problem the reader reports.
    """
    suffix = Path(_display(path)).suffix.lower()
    if suffix == ".csv":
        return read_csv(path, labels=labels, header=header, n_features=n_features, n_classes=n_classes,
                        progress=progress, targets=targets)
    if suffix == ".npz":
        return read_npz(path, labels=labels, n_features=n_features, n_classes=n_classes, targets=targets)
    rows = "'x1,...,xm'" if labels is None else "'y,x1,...,xm'" if labels == "float" else "'label,x1,...,xm'"
    arrays = "X" if labels is None else "X and y"
    raise _data_error(
        _display(path),
        f"unsupported data file type {suffix or '(no suffix)'!r}; use .csv (rows"
        f" {rows}) or .npz (arrays {arrays})",
    )


# ----------------------------------------------------------------------------
# model files


def read_model(path):
    """Read and validate a model file without building a network.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save` or :func:`write_model`.

    Returns
    -------
    weights : list of ndarray
        ``weights[l]`` has shape ``(layer_sizes[l+1], layer_sizes[l] + 1)``, bias
        in column 0, dtype float64 or float32 as recorded, C-contiguous, finite.
    metadata : dict
        The metadata (reserved keys described in the module docstring, plus
        whatever the writer added).

    Raises
    ------
    ModelFormatError
        If the file cannot be read or is not a valid fastnn model file of a
        supported format version: not an npz archive, truncated or corrupt bytes,
        pickled objects (never unpickled), missing or unexpected entries, bad
        metadata, weight shapes or dtypes that disagree with the metadata,
        non-finite weights.
    """
    return _read_model(path)


def load(path):
    """Load a model saved with :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        The model file (a regular file).

    Returns
    -------
    net : fastnn.Network
        A fitted network built with ``Network.from_weights(weights, output=...,
        dtype=...)``; it predicts exactly the probabilities of the saved model.
        The file's metadata dict is available as ``net.metadata_``; its
        ``classes`` entry maps the network's class index ``k`` (what
        ``net.predict`` returns) to the saved label.  A file saved from a
        :class:`fastnn.MLPClassifier` loads as such a network too (its metadata
        has ``"saved_from": {"class": "MLPClassifier", "params": {...}}``), so
        ``np.asarray(net.metadata_["classes"])[net.predict(X)]`` is the
        classifier's ``predict(X)``.

    Raises
    ------
    ModelFormatError
        If the file is not a valid fastnn model file (see :func:`read_model`).
    """
    weights, metadata = read_model(path)
    from . import Network

    net = Network.from_weights(weights, output=metadata["output"], dtype=metadata["dtype"],
                               activation=metadata.get("activation", "logistic"))
    net.metadata_ = metadata
    return net


def save(net, path, *, metadata=None):
    """Save a fitted network or classifier to one ``.npz`` file, atomically.

    Parameters
    ----------
    net : fastnn.Network or fastnn.MLPClassifier
        A fitted model.  For a ``Network`` (``net.weights_``) its ``output``,
        ``dtype`` and, when present, ``classes_`` are recorded.  For an
        ``MLPClassifier`` its ``coefs_`` and ``intercepts_`` are stored in the
        fastnn layout (layer ``l`` as ``[intercepts_[l], coefs_[l].T]``, bias in
        column 0), with its output (logistic: sigmoid), dtype, ``classes_`` and
        its JSON-serialisable parameters under ``saved_from``; see :func:`load`.
    path : str or os.PathLike
        Target file; it is replaced only once the new file is completely written
        and synced (no ``.npz`` suffix is added); see :func:`write_files` for
        symlinks, devices and permissions.
    metadata : dict, optional
        Extra JSON-serialisable information to record (training settings, final
        metrics, an ``interrupted`` flag, ...).  Keys must be strings and must not
        be one of the reserved keys (``format``, ``format_version``,
        ``fastnn_version``, ``layer_sizes``, ``output``, ``dtype``, ``classes``,
        ``n_features``).  Numpy scalars and arrays are converted to numbers and lists.

    Raises
    ------
    ValueError
        If the model is not fitted, its weights are not finite or inconsistent,
        or the metadata cannot be recorded.
    OSError
        If the file cannot be written; an existing file at ``path`` is then
        left unchanged and no temporary file remains.
    """
    write_atomic(path, model_bytes(net, metadata=metadata))


def model_bytes(net, *, metadata=None, classes=None):
    """The bytes of the model file :func:`save` writes (to write them yourself).

    Parameters
    ----------
    net : fastnn.Network or fastnn.MLPClassifier
    metadata : dict, optional
    classes : sequence, optional
        The class labels to record; by default ``net.classes_`` if it exists, else
        ``0..K-1``.

    Returns
    -------
    bytes
    """
    return _model_bytes(net, metadata=metadata, classes=classes)


def write_model(path, weights, *, output=None, dtype=None, classes=None, metadata=None, activation=None):
    """Write weight matrices and metadata as a fastnn model file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (replaced atomically, see :func:`write_files`; no suffix is added).
    weights : sequence of array_like
        ``weights[l]`` of shape ``(n_{l+1}, n_l + 1)``, bias in column 0, all of
        one float dtype, finite.
    output : {"softmax", "sigmoid", "multilabel", "identity"}, optional
        The output layer; inferred from the last layer when omitted (one unit means
        sigmoid, more a softmax).
    dtype : {"float64", "float32"}, optional
        The dtype to record and store; by default that of the weights.
    classes : sequence, optional
        Class labels (strings or numbers), ``K`` of them for a softmax or multilabel
        output with ``K`` units, 2 for a sigmoid output, none for the identity
        output; by default ``0..K-1``.
    metadata : dict, optional
        Extra JSON-serialisable information (see :func:`save`).
    activation : str or list of str, optional
        The hidden layers' activation, one name or one per hidden layer; by default
        logistic. A logistic model with a softmax or sigmoid output is written as
        format version 1 (readable by every fastnn), any other as version 2.

    Raises
    ------
    ValueError
        If the weights, output, dtype, classes or metadata are invalid.
    OSError
        If the file cannot be written (an existing file is left unchanged).
    """
    write_atomic(path, _encode_model(weights, output=output, dtype=dtype, classes=classes, metadata=metadata,
                                     activation=activation))


def writes_through(path):
    """Whether :func:`write_files` writes ``path`` in place (a device, pipe, socket,
    or a descriptor such as ``/dev/stdout``) rather than replacing it.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bool
    """
    return _writes_through(path)


def write_atomic(path, data):
    """Write ``data`` to ``path`` atomically (see :func:`write_files`).

    Parameters
    ----------
    path : str or os.PathLike
    data : bytes or str
        ``str`` is encoded as UTF-8 (line ends are written as given).

    Raises
    ------
    OSError
        The file could not be written (the error names ``path``); an existing
        file is then unchanged and no temporary file remains.
    """
    write_files([(path, data)])


def write_files(outputs):
    """Write several files so that either all are published or none changes.

    Each regular target is first written to a temporary file in its own folder
    (written, flushed, fsynced).  Only when every temporary is complete are they
    renamed over their targets, in order; the folders are then fsynced.  While
    the renames run, each replaced file is kept as a hard link (a backup): if a
    rename fails, the files already renamed get their old versions back and new
    ones are removed, so the command leaves every earlier file as it was.  (Where
    the file system has no hard links, a failure between two renames, which
    needs a crash or a concurrent change of the folder, can leave the files
    renamed so far published.)

    Targets are resolved as a program writing a file in place would see them: a
    symlink is followed (its target is replaced, the link stays); a device,
    FIFO or socket (``/dev/null``, a terminal) and ``/dev/stdout``,
    ``/dev/stderr``, ``/dev/fd/N`` are written through, never replaced by a
    regular file (they are written before the renames; such writes cannot be
    undone).  A replaced file keeps its permission bits; a new file gets
    ``0o666`` less the umask.  The process's umask is never changed.

    Parameters
    ----------
    outputs : sequence of (path, bytes or str)
        The files and their contents; ``str`` is encoded as UTF-8.

    Raises
    ------
    ValueError
        If two outputs name the same file.
    OSError
        If a file cannot be written; the error names that file (as given).
        No temporary file remains and no earlier file has changed.
    """
    _write_files(outputs)
