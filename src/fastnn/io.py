"""Data files (CSV, npz) and model files for fastnn.

Data
----
``read_csv`` reads the OCR text format: no header, one example per line,
``label,x1,...,xm``.  ``read_npz`` reads an ``.npz`` archive holding the arrays
``X`` (2-D, numeric) and ``y`` (1-D, integer labels).  ``load_dataset`` picks
one of the two by the file suffix.  Every problem with a data file is reported as
a :class:`DataFormatError` whose message starts with ``path:line[:column]:``
(1-based line and field numbers) so that the offending spot can be found at
once, e.g. ``train.csv:57: expected 129 fields, found 128``.

Models
------
``save`` writes a fitted network to one ``.npz`` file: the weight matrices
``W0, W1, ...`` (each of shape ``(n_out, n_in + 1)``, bias in column 0, exactly
as ``net.weights_`` shows them) and a ``metadata`` entry, a JSON document stored
as a 1-D ``uint8`` array (never as a pickled object).  The metadata records::

    format          "fastnn-model"
    format_version  1
    fastnn_version  version of the writer (or null when unknown)
    layer_sizes     [n_in, h1, ..., n_out]
    output          "softmax" or "sigmoid"
    dtype           "float64" or "float32"
    classes         the class labels (JSON list; K entries for softmax, 2 for sigmoid)
    n_features      n_in

plus any keys the caller passes (training settings, final metrics, an
``interrupted`` flag, ...).  The file is written atomically: a temporary file in
the target folder is written, flushed and fsynced and then renamed over the
target, so a reader sees either the old file or the new one, never a mix.

``load`` returns a :class:`fastnn.Network` built with ``Network.from_weights``;
the metadata dictionary is attached to it as ``net.metadata_``.  ``read_model``
and ``write_model`` are the same file format without the ``Network`` class
(plain weight arrays and a metadata dict).  Model files are loaded with
``allow_pickle=False`` and everything in them is checked before it is used; any
defect is reported as a :class:`ModelFormatError`.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

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
    "MAX_LINE_BYTES",
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
]

#: Longest CSV line accepted, in bytes (without the line end).  A longer line is
#: reported as an error after reading at most this many bytes of it.
MAX_LINE_BYTES = 64 * 2**20

#: Value of the ``format`` metadata key of every fastnn model file.
MODEL_FORMAT = "fastnn-model"

#: Model file format version written by this module (and the newest it reads).
MODEL_FORMAT_VERSION = 1

_READ_CHUNK = 2**20
_MAX_LABEL = 2**31 - 1
_MAX_LAYER_SIZE = 2**31 - 1
_MAX_METADATA_BYTES = 16 * 2**20
_MAX_NPY_HEADER = 10_000
# Deflate cannot compress better than about 1032:1; a zip entry that claims
# more is lying about its size (a "zip bomb") and is refused before reading.
_MAX_DEFLATE_RATIO = 1100
_MODEL_DTYPES = ("float64", "float32")
_OUTPUTS = ("softmax", "sigmoid")
_RESERVED_KEYS = (
    "format",
    "format_version",
    "fastnn_version",
    "layer_sizes",
    "output",
    "dtype",
    "classes",
    "n_features",
)

# Exceptions that numpy, zipfile, zlib and json raise on malformed bytes.  They
# are caught (and only they) and re-raised as ModelFormatError/DataFormatError.
_BAD_BYTES_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,  # includes json.JSONDecodeError and UnicodeDecodeError
    KeyError,
    OverflowError,
    NotImplementedError,  # zipfile: unsupported compression or zip feature
    RecursionError,  # json: absurdly deep nesting
)


# ----------------------------------------------------------------------------
# errors


class DataFormatError(ValueError):
    """A data file is missing, unreadable or not in the expected format.

    The message starts with ``path:line[:column]:`` (1-based line number and
    field number) where the problem has a location, else with ``path:``.

    Attributes
    ----------
    path : str or None
        The file as it was named by the caller.
    line : int or None
        1-based line number of the problem (CSV only).
    column : int or None
        1-based field number on that line (CSV only).
    """

    def __init__(self, message, path=None, line=None, column=None):
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column


class ModelFormatError(ValueError):
    """A model file is missing, damaged, or not a fastnn model file.

    Attributes
    ----------
    path : str or None
        The file as it was named by the caller.
    """

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path


def _display(path):
    """The path as the user wrote it, as text, for messages."""
    return os.fsdecode(os.fspath(path))


def _data_error(name, reason, line=None, column=None):
    where = name
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    return DataFormatError(f"{where}: {reason}", path=name, line=line, column=column)


def _short(token, limit=40):
    """repr() of a token, shortened so a hostile field cannot flood a message."""
    if len(token) > limit:
        return repr(token[:limit]) + f"... ({len(token)} characters)"
    return repr(token)


def _show(value, limit=60):
    """repr() of any value, shortened for messages."""
    if isinstance(value, str):
        return _short(value, limit)
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_positive_int(value, name):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------
# CSV

# Blanks allowed around a field (the line end is handled separately).
_WS = r"[ \t\f\v]*+"
# A finite decimal number: the grammar accepted for every field.  Possessive and
# atomic groups keep matching linear even on hostile, very long fields.
_NUM = r"(?>[+-]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+)"
_NUM_RE = re.compile(_NUM)
_NONFINITE_RE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_LINE_RE = re.compile(rf"{_WS}{_NUM}{_WS}(?:,{_WS}{_NUM}{_WS})*+")
_PREFIX_RE = re.compile(rf"(?:{_WS}{_NUM}{_WS},)*+")
# Fast-path guards: any character outside the number grammar, or a blank line,
# sends the file to the line-by-line reader, which says exactly what is wrong.
_UNEXPECTED_CHAR_RE = re.compile(r"[^0-9eE+\-., \t\f\v\n]")
_BLANK_LINE_RE = re.compile(r"^[ \t\f\v]*$", re.MULTILINE)
_LETTER_RE = re.compile(r"[A-Za-z]")
_BLANKS = " \t\f\v"


def read_csv(path, *, n_features=None, n_classes=None):
    """Read a data set in the OCR CSV format.

    Each line is one example, ``label,x1,...,xm``: an integer class label
    followed by the ``m`` feature values.  There is no header.  Lines may end in
    LF or CRLF; a UTF-8 byte order mark, blanks around fields and blank lines at
    the end of the file are accepted.  Numbers are read as decimal literals
    (``1``, ``-0.5``, ``.5``, ``2e-3``) independently of the locale.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.
    n_features : int, optional
        Expected number of features ``m``; when given, every line must have
        exactly ``m + 1`` fields.
    n_classes : int, optional
        Number of classes ``K``; when given, every label must be in ``0..K-1``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
        The feature values.
    y : ndarray of shape (n_samples,), dtype int64
        The labels, each ``>= 0``.

    Raises
    ------
    DataFormatError
        If the file cannot be read, is empty, looks binary, has a line longer
        than ``MAX_LINE_BYTES``, a header, a blank line before the end, a row with
        a different number of fields, a field that is not a finite number, or a
        label that is not a non-negative integer (below ``n_classes`` if given).
        The message starts with ``path:line[:field]:``.
    """
    name = _display(path)
    n_features = _check_positive_int(n_features, "n_features")
    n_classes = _check_positive_int(n_classes, "n_classes")
    raw = _read_text_bytes(path, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _data_error(
            name,
            f"byte 0x{raw[exc.start]:02x} is not UTF-8 text; the file looks binary"
            " (expected a text CSV file with rows 'label,x1,...,xm')",
            line,
        ) from None
    del raw
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    body = text.rstrip(_BLANKS + "\r\n")
    del text
    if not body:
        raise _data_error(name, "the file is empty: no data rows (expected rows 'label,x1,...,xm')")
    result = _csv_fast(body, n_features, n_classes)
    if result is None:
        # Something is wrong (or unusual): read line by line for a precise message.
        result = _csv_slow(body, name, n_features, n_classes)
    return result


def _read_text_bytes(path, name):
    """Read a file in chunks, refusing NUL bytes and over-long lines early."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise _data_error(name, "cannot read the file: it does not exist") from None
    except IsADirectoryError:
        raise _data_error(name, "cannot read the file: it is a directory") from None
    except PermissionError:
        raise _data_error(name, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise _data_error(name, f"cannot read the file: {exc.strerror or exc}") from None
    chunk_size = max(1, min(_READ_CHUNK, MAX_LINE_BYTES))
    chunks = []
    line = 1  # number of the line being read
    line_len = 0  # bytes of that line read so far
    with f:
        while True:
            try:
                chunk = f.read(chunk_size)
            except OSError as exc:
                raise _data_error(name, f"cannot read the file: {exc.strerror or exc}") from None
            if not chunk:
                break
            nul = chunk.find(b"\0")
            if nul >= 0:
                raise _data_error(
                    name,
                    "the file contains NUL bytes; it looks binary"
                    " (expected a text CSV file with rows 'label,x1,...,xm')",
                    line + chunk.count(b"\n", 0, nul),
                )
            first_nl = chunk.find(b"\n")
            if first_nl < 0:
                line_len += len(chunk)
            else:
                # Lines wholly inside the chunk are shorter than chunk_size <= limit.
                if line_len + first_nl > MAX_LINE_BYTES:
                    _raise_long_line(name, line)
                line += chunk.count(b"\n")
                line_len = len(chunk) - chunk.rfind(b"\n") - 1
            if line_len > MAX_LINE_BYTES:
                _raise_long_line(name, line)
            chunks.append(chunk)
    return b"".join(chunks)


def _raise_long_line(name, line):
    raise _data_error(
        name,
        f"line is longer than {MAX_LINE_BYTES} bytes; this does not look like a CSV"
        " data file (one example per line: 'label,x1,...,xm')",
        line,
    )


def _csv_fast(body, n_features, n_classes):
    """Parse well-formed input with numpy's C reader; None if anything is off."""
    if "\r" in body or _UNEXPECTED_CHAR_RE.search(body) or _BLANK_LINE_RE.search(body):
        return None
    try:
        data = np.loadtxt(
            io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2, comments=None
        )
    except ValueError:
        return None
    n_fields = data.shape[1]
    if n_fields < 2 or (n_features is not None and n_fields != n_features + 1):
        return None
    if not np.isfinite(data).all():
        return None
    labels = data[:, 0]
    upper = _MAX_LABEL if n_classes is None else n_classes - 1
    if not np.all((labels >= 0) & (labels <= upper) & (labels == np.floor(labels))):
        return None
    return np.ascontiguousarray(data[:, 1:]), labels.astype(np.int64)


def _field_span(text, j, sep=","):
    """(start, end) of the 0-based field ``j`` of ``text`` split at ``sep``.

    Counts separators block by block in C, so it needs no per-field objects and
    little time even for a field far into a huge line (or a line far into a file).
    """
    pos = 0
    need = j  # separators still to pass
    block = 2**20
    while need > 0:
        block_end = min(pos + block, len(text))
        count = text.count(sep, pos, block_end)
        if count < need:
            need -= count
            pos = block_end
            continue
        while need > 0:
            pos = text.index(sep, pos) + 1
            need -= 1
    end = text.find(sep, pos)
    return pos, len(text) if end < 0 else end


def _token_problem(token):
    """Why a (stripped) field is not a finite number."""
    if token == "":
        return "empty field (expected a number)"
    if _NONFINITE_RE.fullmatch(token):
        return f"non-finite value {_short(token)}"
    return f"{_short(token)} is not a number"


def _csv_slow(body, name, n_features, n_classes):
    """Reference reader: what it accepts is the format; reports the first problem.

    Pass 1 checks each line's structure and number syntax (one regular
    expression per line, linear time even on hostile input) and stops at the
    first bad line.  Pass 2 converts the lines before it in one bulk call and
    checks the values (overflow to infinity, labels).  The earliest problem in
    file order is raised.
    """
    expected = None if n_features is None else n_features + 1
    syntax_error = None
    n_good = 0  # lines that passed pass 1
    pos = 0  # start of the current line; lines are not split up front (memory)
    while True:
        newline = body.find("\n", pos)
        end = len(body) if newline < 0 else newline
        line = body[pos:end]
        syntax_error = _line_syntax_problem(name, line, n_good + 1, expected, n_features)
        if syntax_error is not None:
            break
        if expected is None:
            expected = line.count(",") + 1
        n_good += 1
        if newline < 0:
            break
        pos = newline + 1
    if n_good:
        good = body[: pos - 1] if syntax_error is not None else body
        values = np.fromstring(good.replace("\n", ","), dtype=np.float64, sep=",")
        del good
        if values.size != n_good * expected:  # cannot happen for lines that passed pass 1
            raise _data_error(name, "could not read the numbers in the file")
        data = values.reshape(n_good, expected)
        nonfinite = ~np.isfinite(data)
        labels = data[:, 0]
        upper = _MAX_LABEL if n_classes is None else n_classes - 1
        bad_rows = nonfinite.any(axis=1) | (labels != np.floor(labels)) | (labels < 0) | (labels > upper)
        if bad_rows.any():
            row = int(np.argmax(bad_rows))
            start, end = _field_span(body, row, "\n")
            raise _value_problem(name, body[start:end], row + 1, nonfinite[row], labels[row], n_classes)
    if syntax_error is not None:
        raise syntax_error
    return np.ascontiguousarray(data[:, 1:]), labels.astype(np.int64)


def _line_syntax_problem(name, line, lineno, expected, n_features):
    """The DataFormatError for a line's structure or number syntax, or None."""
    cr = line.find("\r")
    if cr >= 0:
        return _data_error(
            name,
            "stray carriage return (\\r) inside a line; lines must end in LF or CRLF",
            lineno,
            line.count(",", 0, cr) + 1,
        )
    if not line.strip(_BLANKS):
        return _data_error(
            name, "blank line; blank lines are only allowed at the end of the file", lineno
        )
    if lineno == 1:
        label_token = line[: _field_span(line, 0)[1]].strip(_BLANKS)
        if (
            not _NUM_RE.fullmatch(label_token)
            and not _NONFINITE_RE.fullmatch(label_token)
            and _LETTER_RE.search(label_token)
        ):
            return _data_error(
                name,
                f"this looks like a header line (first field {_short(label_token)});"
                " headers are not supported: remove the first line so that every"
                " line is 'label,x1,...,xm'",
                lineno,
            )
    n_found = line.count(",") + 1
    if expected is None:
        if n_found < 2:
            return _data_error(
                name, f"expected at least 2 fields (label,x1,...,xm), found {n_found}", lineno
            )
    elif n_found != expected:
        detail = ""
        if lineno == 1:
            detail = f" (the label and n_features={n_features} values)"
        return _data_error(name, f"expected {expected} fields{detail}, found {n_found}", lineno)
    if not _LINE_RE.fullmatch(line):
        start = _PREFIX_RE.match(line).end()
        end = line.find(",", start)
        token = line[start : len(line) if end < 0 else end].strip(_BLANKS)
        return _data_error(name, _token_problem(token), lineno, line.count(",", 0, start) + 1)
    return None


def _value_problem(name, line, lineno, nonfinite, label, n_classes):
    """The DataFormatError for a syntactically valid line with a bad value."""
    if nonfinite.any():
        j = int(np.argmax(nonfinite))
        start, end = _field_span(line, j)
        token = line[start:end].strip(_BLANKS)
        return _data_error(
            name, f"non-finite value {_short(token)} (too large for float64)", lineno, j + 1
        )
    token = _short(line[: _field_span(line, 0)[1]].strip(_BLANKS))
    if not float(label).is_integer():
        return _data_error(name, f"label {token} is not an integer", lineno, 1)
    if label < 0:
        return _data_error(
            name, f"label {token} is negative; labels must be integers 0..K-1", lineno, 1
        )
    if n_classes is not None and label >= n_classes:
        return _data_error(
            name,
            f"label {token} is out of range: n_classes={n_classes} allows 0..{n_classes - 1}",
            lineno,
            1,
        )
    return _data_error(name, f"label {token} is too large (at most {_MAX_LABEL})", lineno, 1)


# ----------------------------------------------------------------------------
# npz archives (shared by data and model files)


def _open_for_reading(path, make_error, what):
    try:
        return open(path, "rb")  # the caller closes it
    except FileNotFoundError:
        raise make_error(f"cannot read the {what}: it does not exist") from None
    except IsADirectoryError:
        raise make_error(f"cannot read the {what}: it is a directory") from None
    except PermissionError:
        raise make_error(f"cannot read the {what}: permission denied") from None
    except OSError as exc:
        raise make_error(f"cannot read the {what}: {exc.strerror or exc}") from None


def _scan_npz(fh, make_error, what):
    """Check the zip structure and every ``.npy`` header without reading the data.

    Returns ``{key: (shape, dtype)}`` for the ``key.npy`` entries and the list of
    other entry names.  Each entry's declared array size must equal the bytes the
    zip directory says it holds, and those must be plausible for the file size, so
    no later read can allocate more than the file justifies.
    """
    file_size = os.fstat(fh.fileno()).st_size
    with zipfile.ZipFile(fh) as zf:
        infos = zf.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise make_error(f"the {what} has duplicate entries; it is corrupt")
        total = 0
        for info in infos:
            if info.flag_bits & 0x61:  # encrypted, patched or strongly encrypted
                raise make_error(
                    f"entry {_short(info.filename)} is encrypted or uses an unsupported zip feature"
                )
            if info.compress_type == zipfile.ZIP_STORED:
                if info.file_size != info.compress_size:
                    raise make_error(f"entry {_short(info.filename)} has inconsistent sizes; the {what} is corrupt")
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                if info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
                    raise make_error(
                        f"entry {_short(info.filename)} claims an impossible compression ratio;"
                        f" the {what} is corrupt or malicious"
                    )
            else:
                raise make_error(
                    f"entry {_short(info.filename)} uses unsupported zip compression"
                    f" method {info.compress_type}"
                )
            total += info.compress_size
        if total > file_size:
            raise make_error(f"the entries need more bytes than the {what} has; it is truncated or corrupt")
        arrays = {}
        others = []
        for info in infos:
            if not info.filename.endswith(".npy"):
                others.append(info.filename)
                continue
            key = info.filename[: -len(".npy")]
            with zf.open(info) as member:
                head = member.read(min(info.file_size, _MAX_NPY_HEADER + 64))
            buf = io.BytesIO(head)
            version = np.lib.format.read_magic(buf)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(buf, max_header_size=_MAX_NPY_HEADER)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(buf, max_header_size=_MAX_NPY_HEADER)
            else:
                raise make_error(f"array {key!r} uses unsupported .npy format version {version}")
            if dtype.hasobject:
                raise make_error(
                    f"array {key!r} holds Python objects (pickled data); such files are never"
                    " unpickled because that could run arbitrary code"
                )
            if any(n < 0 for n in shape):
                raise make_error(f"array {key!r} declares a negative dimension {shape}; the {what} is corrupt")
            nbytes = math.prod(shape) * dtype.itemsize
            if buf.tell() + nbytes != info.file_size:
                raise make_error(
                    f"array {key!r} declares shape {shape} of {dtype} ({nbytes} bytes) but its"
                    f" entry holds {max(info.file_size - buf.tell(), 0)} bytes; the {what} is"
                    " truncated or corrupt"
                )
            arrays[key] = (shape, dtype)
    return arrays, others


def _open_npz(fh, make_error, what):
    """np.load on an already scanned file; refuse anything but an npz archive."""
    fh.seek(0)
    loaded = np.load(fh, allow_pickle=False, max_header_size=_MAX_NPY_HEADER)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise make_error(f"the {what} is not an .npz archive")
    return loaded


# ----------------------------------------------------------------------------
# npz data


def read_npz(path, *, n_features=None, n_classes=None):
    """Read a data set from an ``.npz`` archive with arrays ``X`` and ``y``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file, e.g. written by ``np.savez(path, X=X, y=y)``.
    n_features : int, optional
        Expected number of columns of ``X``.
    n_classes : int, optional
        Number of classes ``K``; when given, every label must be in ``0..K-1``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
        ``X`` converted to float64 (it may be stored as any real or bool dtype).
    y : ndarray of shape (n_samples,), dtype int64
        The labels (stored with any integer dtype), each ``>= 0``.

    Raises
    ------
    DataFormatError
        If the file cannot be read, is not an npz archive, holds pickled objects
        (they are never unpickled), lacks ``X`` or ``y``, or if ``X`` is not a
        non-empty 2-D array of finite real numbers, ``y`` not a 1-D integer array
        of the same length with labels in range.  The message starts with ``path:``.
    """
    name = _display(path)
    n_features = _check_positive_int(n_features, "n_features")
    n_classes = _check_positive_int(n_classes, "n_classes")

    def make_error(reason):
        return _data_error(name, reason)

    fh = _open_for_reading(path, make_error, "file")
    with fh:
        try:
            arrays, _ = _scan_npz(fh, make_error, "file")
            for key in ("X", "y"):
                if key not in arrays:
                    raise make_error(
                        f"array {key!r} is missing (found {sorted(arrays)}); a data .npz must"
                        " hold X (n_samples, n_features) and y (n_samples,)"
                    )
            with _open_npz(fh, make_error, "file") as npz:
                X = npz["X"]
                y = npz["y"]
        except DataFormatError:
            raise
        except _BAD_BYTES_ERRORS as exc:
            raise make_error(f"not a readable .npz archive: {exc}") from exc
    if X.ndim != 2:
        raise make_error(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise make_error(f"X must hold real numbers, got dtype {X.dtype}")
    if y.ndim != 1:
        raise make_error(f"y must be 1-D (n_samples,), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise make_error(
            f"y must hold integer labels, got dtype {y.dtype}; store y.astype(np.int64)"
        )
    if X.shape[0] != y.shape[0]:
        raise make_error(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise make_error(f"X is empty (shape {X.shape}); at least one example and one feature are needed")
    if n_features is not None and X.shape[1] != n_features:
        raise make_error(f"X has {X.shape[1]} features, expected n_features={n_features}")
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        row, col = np.argwhere(~np.isfinite(X))[0]
        raise make_error(f"X[{row}, {col}] is {X[row, col]}; all values must be finite")
    if (y < 0).any():
        i = int(np.argmax(y < 0))
        raise make_error(f"y[{i}] = {y[i]} is negative; labels must be integers 0..K-1")
    upper = _MAX_LABEL if n_classes is None else n_classes - 1
    if (y > upper).any():
        i = int(np.argmax(y > upper))
        if n_classes is None:
            raise make_error(f"y[{i}] = {y[i]} is too large (at most {_MAX_LABEL})")
        raise make_error(f"y[{i}] = {y[i]} is out of range: n_classes={n_classes} allows 0..{upper}")
    return X, y.astype(np.int64)


def load_dataset(path, *, n_features=None, n_classes=None):
    """Read a data set, choosing the reader by the file suffix.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv`` file (see :func:`read_csv`) or an ``.npz`` file (see
        :func:`read_npz`); the suffix is matched case-insensitively.
    n_features : int, optional
        Expected number of features.
    n_classes : int, optional
        Number of classes ``K``; labels must be in ``0..K-1``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
    y : ndarray of shape (n_samples,), dtype int64

    Raises
    ------
    DataFormatError
        For an unsupported suffix, and for any problem the reader reports.
    """
    suffix = Path(_display(path)).suffix.lower()
    if suffix == ".csv":
        return read_csv(path, n_features=n_features, n_classes=n_classes)
    if suffix == ".npz":
        return read_npz(path, n_features=n_features, n_classes=n_classes)
    raise _data_error(
        _display(path),
        f"unsupported data file type {suffix or '(no suffix)'!r}; use .csv (rows"
        " 'label,x1,...,xm') or .npz (arrays X and y)",
    )


# ----------------------------------------------------------------------------
# model files


def _fastnn_version():
    try:
        from . import __version__
    except ImportError:
        return None
    return str(__version__)


def _json_default(value):
    """Make numpy scalars/arrays and paths JSON-serialisable in metadata."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"object of type {type(value).__name__} is not JSON-serialisable")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_metadata(meta, fail):
    """Check the reserved metadata keys; ``fail(reason)`` raises.  Returns the
    layer sizes, output, dtype name and class list."""
    if not isinstance(meta, dict):
        fail(f"metadata must be a JSON object, got {type(meta).__name__}")
    if "format" not in meta:
        fail("metadata key 'format' is missing: this is not a fastnn model file")
    if meta["format"] != MODEL_FORMAT:
        fail(f"metadata 'format' is {_show(meta['format'])}, not {MODEL_FORMAT!r}: this is not a fastnn model file")
    if "format_version" not in meta:
        fail("metadata key 'format_version' is missing")
    version = meta["format_version"]
    if not _is_int(version) or version < 1:
        fail(f"metadata 'format_version' must be a positive integer, got {_show(version)}")
    if version > MODEL_FORMAT_VERSION:
        fail(
            f"the file has model format version {version}, written by a newer fastnn;"
            f" this version reads format version {MODEL_FORMAT_VERSION}: upgrade fastnn to load it"
        )
    # Only now, knowing the version, can the other keys be expected.
    for key in ("layer_sizes", "output", "dtype", "classes", "n_features"):
        if key not in meta:
            fail(f"metadata key {key!r} is missing")
    fastnn_version = meta.get("fastnn_version")
    if fastnn_version is not None and not isinstance(fastnn_version, str):
        fail(f"metadata 'fastnn_version' must be a string or null, got {_show(fastnn_version)}")
    sizes = meta["layer_sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2:
        fail(f"metadata 'layer_sizes' must be a list [n_in, ..., n_out] of at least 2 sizes, got {_show(sizes)}")
    for i, n in enumerate(sizes):
        if not _is_int(n):
            fail(f"layer_sizes[{i}] must be an integer, got {_show(n)}")
        if not 1 <= n <= _MAX_LAYER_SIZE:
            fail(f"layer_sizes[{i}] = {n} is out of range (1..{_MAX_LAYER_SIZE})")
    output = meta["output"]
    if output not in _OUTPUTS:
        fail(f"metadata 'output' must be 'softmax' or 'sigmoid', got {_show(output)}")
    dtype = meta["dtype"]
    if dtype not in _MODEL_DTYPES:
        fail(f"metadata 'dtype' must be 'float64' or 'float32', got {_show(dtype)}")
    n_out = sizes[-1]
    if output == "sigmoid" and n_out != 1:
        fail(f"a sigmoid output has 1 unit, but layer_sizes ends in {n_out}")
    if output == "softmax" and n_out < 2:
        fail(f"a softmax output needs at least 2 units, but layer_sizes ends in {n_out}")
    n_classes = 2 if output == "sigmoid" else n_out
    classes = meta["classes"]
    if not isinstance(classes, list):
        fail(f"metadata 'classes' must be a list, got {type(classes).__name__}")
    if len(classes) != n_classes:
        fail(
            f"metadata 'classes' has {len(classes)} entries but the {output} output with"
            f" {n_out} unit(s) means {n_classes} classes"
        )
    for c in classes:
        if isinstance(c, float) and not math.isfinite(c):
            fail(f"metadata 'classes' holds the non-finite value {c}")
        if not isinstance(c, (str, int, float)):
            fail(f"metadata 'classes' must hold strings or numbers, got {_show(c)}")
    if len(set(classes)) != len(classes):
        fail(f"metadata 'classes' has duplicates: {_show(classes, 200)}")
    n_features = meta["n_features"]
    if not _is_int(n_features) or n_features != sizes[0]:
        fail(f"metadata 'n_features' is {_show(n_features)} but layer_sizes starts with {sizes[0]}")
    return sizes, output, dtype, classes


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
    name = _display(path)

    def make_error(reason):
        return ModelFormatError(f"{name}: {reason}", path=name)

    def fail(reason):
        raise make_error(reason)

    fh = _open_for_reading(path, make_error, "model file")
    with fh:
        try:
            arrays, others = _scan_npz(fh, make_error, "model file")
            if others:
                fail(f"unexpected entry {_short(others[0])}; a fastnn model file holds only .npy arrays")
            if "metadata" not in arrays:
                fail("the 'metadata' entry is missing; this is not a fastnn model file")
            meta_shape, meta_dtype = arrays["metadata"]
            if meta_dtype != np.uint8 or len(meta_shape) != 1:
                fail(f"'metadata' must be a 1-D uint8 array (UTF-8 JSON), got {meta_dtype} of shape {meta_shape}")
            if meta_shape[0] > _MAX_METADATA_BYTES:
                fail(f"'metadata' is {meta_shape[0]} bytes, more than the {_MAX_METADATA_BYTES} allowed")
            with _open_npz(fh, make_error, "model file") as npz:
                blob = npz["metadata"].tobytes()
                try:
                    text = blob.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise make_error(f"'metadata' is not UTF-8 text: {exc}") from exc
                try:
                    meta = json.loads(text)
                except (ValueError, RecursionError) as exc:
                    raise make_error(f"'metadata' is not valid JSON: {exc}") from exc
                sizes, output, dtype_name, _ = _validate_metadata(meta, fail)
                n_layers = len(sizes) - 1
                weight_keys = [k for k in arrays if k != "metadata"]
                if len(weight_keys) != n_layers:
                    expected_keys = [f"W{i}" for i in range(min(n_layers, 3))]
                    fail(
                        f"layer_sizes {_show(sizes, 80)} declares {n_layers} weight"
                        f" matrices ({', '.join(expected_keys)}{', ...' if n_layers > 3 else ''})"
                        f" but the file holds {len(weight_keys)} other array(s)"
                    )
                dtype = np.dtype(dtype_name)
                for i in range(n_layers):
                    key = f"W{i}"
                    if key not in arrays:
                        fail(f"weight array {key!r} is missing (found {sorted(weight_keys)[:5]})")
                    shape, arr_dtype = arrays[key]
                    expected = (sizes[i + 1], sizes[i] + 1)
                    if shape != expected:
                        fail(
                            f"{key} has shape {shape} but layer_sizes {sizes[i]} -> {sizes[i + 1]}"
                            f" needs {expected} (n_out, n_in + 1)"
                        )
                    if arr_dtype.kind != "f" or arr_dtype.newbyteorder("=") != dtype:
                        fail(f"{key} has dtype {arr_dtype} but the metadata says {dtype_name}")
                weights = []
                for i in range(n_layers):
                    key = f"W{i}"
                    W = np.ascontiguousarray(npz[key], dtype=dtype)
                    finite = np.isfinite(W)
                    if not finite.all():
                        r, c = np.argwhere(~finite)[0]
                        fail(f"{key}[{r}, {c}] is {W[r, c]}; a model's weights must be finite")
                    weights.append(W)
        except ModelFormatError:
            raise
        except _BAD_BYTES_ERRORS as exc:
            raise make_error(f"not a readable fastnn model file (.npz): {type(exc).__name__}: {exc}") from exc
    return weights, meta


def load(path):
    """Load a model saved with :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    net : fastnn.Network
        A fitted network built with ``Network.from_weights(weights, output=...,
        dtype=...)``; it predicts exactly as the saved one.  The file's metadata
        dict is available as ``net.metadata_``.

    Raises
    ------
    ModelFormatError
        If the file is not a valid fastnn model file (see :func:`read_model`).
    """
    weights, metadata = read_model(path)
    from . import Network

    net = Network.from_weights(weights, output=metadata["output"], dtype=metadata["dtype"])
    net.metadata_ = metadata
    return net


def save(net, path, *, metadata=None):
    """Save a fitted network to one ``.npz`` file, atomically.

    Parameters
    ----------
    net : fastnn.Network
        A fitted network (``net.weights_`` must exist).  Its ``output`` and
        ``dtype`` and, when present, ``classes_`` are recorded.
    path : str or os.PathLike
        Target file; it is replaced only once the new file is completely written
        and synced (no ``.npz`` suffix is added).
    metadata : dict, optional
        Extra JSON-serialisable information to record (training settings, final
        metrics, an ``interrupted`` flag, ...).  Keys must be strings and must not
        be one of the reserved keys (``format``, ``format_version``,
        ``fastnn_version``, ``layer_sizes``, ``output``, ``dtype``, ``classes``,
        ``n_features``).  Numpy scalars and arrays are converted to numbers and lists.

    Raises
    ------
    ValueError
        If the network is not fitted, its weights are not finite or inconsistent,
        or the metadata cannot be recorded.
    OSError
        If the file cannot be written; an existing file at ``path`` is then
        left unchanged and no temporary file remains.
    """
    try:
        weights = net.weights_
    except AttributeError:
        raise ValueError(
            "cannot save a network that is not fitted: call fit() first, or build it with"
            " Network.from_weights()"
        ) from None
    dtype = getattr(net, "dtype", None)
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            dtype = None
    n_features_in = getattr(net, "n_features_in_", None)
    if n_features_in is not None and len(weights) and n_features_in != np.shape(weights[0])[-1] - 1:
        raise ValueError(
            f"net.n_features_in_ = {n_features_in} disagrees with the first weight matrix"
            f" of shape {np.shape(weights[0])}"
        )
    write_model(
        path,
        weights,
        output=getattr(net, "output", None),
        dtype=dtype,
        classes=getattr(net, "classes_", None),
        metadata=metadata,
    )


def write_model(path, weights, *, output=None, dtype=None, classes=None, metadata=None):
    """Write weight matrices and metadata as a fastnn model file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (replaced atomically; no suffix is added).
    weights : sequence of array_like
        ``weights[l]`` of shape ``(n_{l+1}, n_l + 1)``, bias in column 0, all of
        one float dtype, finite.
    output : {"softmax", "sigmoid"}, optional
        The output layer; inferred from the last layer when omitted (one unit means
        sigmoid).
    dtype : {"float64", "float32"}, optional
        The dtype to record and store; by default that of the weights.
    classes : sequence, optional
        Class labels (strings or numbers), ``K`` of them for a softmax output
        with ``K`` units and 2 for a sigmoid output; by default ``0..K-1``.
    metadata : dict, optional
        Extra JSON-serialisable information (see :func:`save`).

    Raises
    ------
    ValueError
        If the weights, output, dtype, classes or metadata are invalid.
    OSError
        If the file cannot be written (an existing file is left unchanged).
    """
    if isinstance(weights, np.ndarray) or not hasattr(weights, "__len__") or len(weights) == 0:
        raise ValueError("weights must be a non-empty list of 2-D arrays, one per layer")
    weights = [np.asarray(W) for W in weights]
    if dtype is None:
        dtype = weights[0].dtype
        mixed = sorted({str(W.dtype) for W in weights})
        if len(mixed) > 1:
            raise ValueError(f"the weights have mixed dtypes {mixed}; pass dtype= to choose one")
    dtype = np.dtype(dtype)
    if dtype.name not in _MODEL_DTYPES:
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    for i, W in enumerate(weights):
        if W.ndim != 2 or W.dtype.kind != "f":
            raise ValueError(f"weights[{i}] must be a 2-D float array, got {W.dtype} of shape {W.shape}")
        if W.shape[0] < 1 or W.shape[1] < 2:
            raise ValueError(f"weights[{i}] has shape {W.shape}; each layer needs shape (n_out >= 1, n_in + 1 >= 2)")
        if i and W.shape[1] != weights[i - 1].shape[0] + 1:
            raise ValueError(
                f"weights[{i}] has shape {W.shape} but the layer below has {weights[i - 1].shape[0]}"
                f" units, so it needs {weights[i - 1].shape[0] + 1} columns (bias first)"
            )
        if not np.isfinite(W).all():
            raise ValueError(f"weights[{i}] contains NaN or infinite values; refusing to save a broken model")
    weights = [np.ascontiguousarray(W, dtype=dtype) for W in weights]
    sizes = [weights[0].shape[1] - 1] + [W.shape[0] for W in weights]
    if output is None:
        output = "sigmoid" if sizes[-1] == 1 else "softmax"
    if output not in _OUTPUTS:
        raise ValueError(f"output must be 'softmax' or 'sigmoid', got {output!r}")
    n_classes = 2 if output == "sigmoid" else sizes[-1]
    if classes is None:
        classes = list(range(n_classes))
    elif isinstance(classes, np.ndarray):
        classes = classes.tolist()
    else:
        classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    extra = {} if metadata is None else metadata
    if not isinstance(extra, dict):
        raise ValueError(f"metadata must be a dict, got {type(extra).__name__}")
    for key in extra:
        if not isinstance(key, str):
            raise ValueError(f"metadata keys must be strings, got {key!r}")
    clash = [key for key in extra if key in _RESERVED_KEYS]
    if clash:
        raise ValueError(f"metadata keys {clash} are reserved for the file format; rename them")
    meta = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "fastnn_version": _fastnn_version(),
        "layer_sizes": sizes,
        "output": output,
        "dtype": dtype.name,
        "classes": classes,
        "n_features": sizes[0],
        **extra,
    }

    def fail(reason):
        raise ValueError(f"cannot save this model: {reason}")

    _validate_metadata(meta, fail)
    try:
        blob = json.dumps(meta, default=_json_default).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"metadata is not JSON-serialisable: {exc}") from exc
    if len(blob) > _MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {len(blob)} bytes as JSON, more than the {_MAX_METADATA_BYTES} allowed")
    arrays = {f"W{i}": W for i, W in enumerate(weights)}
    arrays["metadata"] = np.frombuffer(blob, dtype=np.uint8)
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def _default_file_mode():
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(path, write):
    """Write via ``write(fileobj)`` to a temp file next to ``path``, then rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.NamedTemporaryFile(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp", delete=False
    )
    try:
        with tmp:
            write(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, _default_file_mode())
        os.replace(tmp.name, path)
    except BaseException:
        try:
            os.unlink(tmp.name)
        except FileNotFoundError:
            pass
        raise
    # Make the rename itself durable (best effort: not every system allows it).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
