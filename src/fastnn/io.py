"""Data files (CSV, npz), model files, and writing files safely, for fastnn.

Data
----
``read_csv`` reads the OCR text format: one example per line, ``label,x1,...,xm``
(``labels="int"``, the default), with text labels (``"str"``, or ``"auto"`` to
decide by the file), or features only (``labels=None``); ``header=True`` skips a
header line.  It parses the file in pieces of whole lines straight into the
result.  ``read_npz`` reads an ``.npz`` archive holding the arrays ``X`` (2-D,
numeric) and ``y`` (1-D labels; not needed with ``labels=None``), checking every
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
    format_version  1
    fastnn_version  version of the writer (or null when unknown)
    layer_sizes     [n_in, h1, ..., n_out]
    output          "softmax" or "sigmoid"
    dtype           "float64" or "float32"
    classes         the class labels (JSON list; K entries for softmax, 2 for sigmoid)
    n_features      n_in

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
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import errno
import functools
import secrets
import stat
import struct
import sys
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
    "model_bytes",
    "write_atomic",
    "write_files",
    "writes_through",
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
# Fast-path guard: any byte outside the number grammar, commas, blanks and LF sends
# a piece to the line-by-line reader, which says exactly what is wrong.
_NUMBER_BYTES = b"0123456789eE+-., \t\f\v\n"
_LETTER_RE = re.compile(r"[A-Za-z]")
_LABEL_FIELD_RE = re.compile(r"^([^,\n]*),", re.MULTILINE)
_BLANKS = " \t\f\v"
_BLANK_BYTES = b" \t\f\v\r\n"
_BOM = b"\xef\xbb\xbf"
#: Bytes of whole lines parsed in one piece: the reader holds about this much text
#: (plus one line) and its numbers at a time, besides the result.
_PARSE_CHUNK = 8 * 2**20
_LABEL_MODES = ("int", "str", "auto", None)
#: Files larger than this are parsed with pandas when it is installed.
_PANDAS_MIN_BYTES = 32 * 2**20


def read_csv(path, *, labels="int", header=False, n_features=None, n_classes=None, progress=None):
    """Read a data set in the OCR CSV format (or a CSV of features only).

    Each line is one example, ``label,x1,...,xm``: a class label followed by the
    ``m`` feature values (with ``labels=None``: only ``x1,...,xm``).  There is no
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
    labels : {"int", "str", "auto", None}, default="int"
        What the first field is. ``"int"``: a non-negative integer class label.
        ``"str"``: a class name, kept as text (blanks around it removed).
        ``"auto"``: integer labels if every label field is a number, else text
        labels (as ``"str"``). ``None``: there is no label column; every field
        is a feature.
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

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
        The feature values (the only result with ``labels=None``).
    y : ndarray of shape (n_samples,)
        The labels: int64, each ``>= 0``, for integer labels; a numpy string
        array (dtype ``<U``) for text labels.

    Raises
    ------
    DataFormatError
        If the file cannot be read, is not a regular file, is empty, looks binary,
        has a line longer than ``MAX_LINE_BYTES``, a header (without
        ``header=True``), a blank line before the end, a row with a different
        number of fields, a field that is not a finite number, or an integer
        label that is not a non-negative integer (below ``n_classes`` if given).
        The message starts with ``path:line[:field]:``.
    """
    name = _display(path)
    if labels not in _LABEL_MODES:
        raise ValueError(f"labels must be 'int', 'str', 'auto' or None, got {labels!r}")
    n_features = _check_positive_int(n_features, "n_features")
    n_classes = _check_positive_int(n_classes, "n_classes")
    header = bool(header)
    if labels == "auto":
        try:
            return _read_csv(path, name, "int", header, n_features, n_classes, progress)
        except DataFormatError as exc:
            if not getattr(exc, "label_is_text", False):
                raise
        labels = "str"
    return _read_csv(path, name, labels, header, n_features, n_classes, progress)


def _row_format(mode):
    return "'x1,...,xm'" if mode is None else "'label,x1,...,xm'"


def _read_csv(path, name, mode, header, n_features, n_classes, progress):
    """read_csv for one label mode ("int", "str" or None)."""
    fmt = _row_format(mode)
    fh, size = _open_regular(path, lambda reason: _data_error(name, reason), "file")
    with fh:
        start, data_end, n_lines = _scan_csv_bytes(fh, name, size, fmt)
        if data_end <= start:
            raise _data_error(name, f"the file is empty: no data rows (expected rows {fmt})")
        first_line = 1
        fh.seek(start)
        if header:
            start += len(fh.readline(data_end - start))
            n_lines -= 1
            first_line = 2
            if start >= data_end:
                raise _data_error(name, f"the file has a header line but no data rows (expected rows {fmt})")
        expected = None if n_features is None else n_features + (mode is not None)
        # pandas' parser is about 3x faster than numpy's; worth its import for big files only
        parser = _pandas_parser() if data_end - start > _PANDAS_MIN_BYTES else None
        reader = _ChunkReader(fh, start, data_end, name)
        X = y = None
        text_labels = []
        row = 0
        lineno = first_line
        for chunk in reader:
            n_chunk_lines = chunk.count(b"\n") + 1
            result = None
            if mode != "str":  # the common case: numbers straight from the bytes, nothing decoded
                result = _csv_fast(chunk, n_features, n_classes, labels=mode == "int", expected=expected,
                                   parser=parser)
            if result is not None:
                data, codes = result
            else:
                text = _decode_chunk(chunk, name, lineno, fmt)
                parse = dict(name=name, n_features=n_features, first_line=lineno,
                             header_possible=lineno == 1, parser=parser)
                if mode == "str":
                    names, text = _split_labels(text, **parse)
                    data, _ = _parse_block(text, labels=False, n_classes=None, column_offset=1,
                                           expected=None if expected is None else expected - 1, **parse)
                    text_labels.append(np.array(names))
                else:
                    data, codes = _parse_block(text, labels=mode == "int", expected=expected,
                                               n_classes=n_classes, column_offset=0, **parse)
                del text
            del chunk
            if X is None:
                X = np.empty((n_lines, data.shape[1]), dtype=np.float64)
                if mode == "int":
                    y = np.empty(n_lines, dtype=np.int64)
                expected = data.shape[1] + (mode is not None)
            if row + data.shape[0] > n_lines:
                raise _data_error(name, "the file changed while it was being read; read it again")
            X[row:row + data.shape[0]] = data
            if mode == "int":
                y[row:row + data.shape[0]] = codes
            row += data.shape[0]
            lineno += n_chunk_lines
            if progress is not None:
                progress(reader.done, data_end)
        if row != n_lines:
            raise _data_error(name, "the file changed while it was being read; read it again")
    if mode is None:
        return X
    if mode == "str":
        y = np.concatenate(text_labels)
    return X, y


def _scan_csv_bytes(fh, name, size, fmt):
    """First pass, in small pieces: refuse NUL bytes and over-long lines early.

    Returns ``(start, data_end, n_lines)``: the offset after a byte order mark,
    the offset after the last byte that is not blank (trailing blank lines are
    allowed and ignored), and the number of lines in between.
    """
    chunk_size = max(1, min(_READ_CHUNK, MAX_LINE_BYTES))
    offset = 0
    line = 1  # number of the line being read
    line_len = 0  # bytes of that line read so far
    newlines = 0
    data_end = 0
    lines_to_data_end = 0
    while offset < size:
        try:
            chunk = fh.read(min(chunk_size, size - offset))
        except OSError as exc:
            raise _data_error(name, f"cannot read the file: {exc.strerror or exc}") from None
        if not chunk:
            break
        nul = chunk.find(b"\0")
        if nul >= 0:
            raise _data_error(
                name,
                f"the file contains NUL bytes; it looks binary (expected a text CSV file with rows {fmt})",
                line + chunk.count(b"\n", 0, nul),
            )
        first_nl = chunk.find(b"\n")
        count = 0 if first_nl < 0 else chunk.count(b"\n")
        if first_nl < 0:
            line_len += len(chunk)
        else:
            # Lines wholly inside the chunk are shorter than chunk_size <= limit.
            if line_len + first_nl > MAX_LINE_BYTES:
                _raise_long_line(name, line, fmt)
            line += count
            line_len = len(chunk) - chunk.rfind(b"\n") - 1
        if line_len > MAX_LINE_BYTES:
            _raise_long_line(name, line, fmt)
        kept = len(chunk.rstrip(_BLANK_BYTES))
        if kept:
            data_end = offset + kept
            lines_to_data_end = newlines + (count if kept == len(chunk) else chunk.count(b"\n", 0, kept))
        newlines += count
        offset += len(chunk)
    start = 0
    fh.seek(0)
    if fh.read(len(_BOM)) == _BOM:
        start = len(_BOM)
    return start, data_end, lines_to_data_end + 1


class _ChunkReader:
    """Iterate over ``[start, end)`` of a file in pieces that end at a line end.

    Each piece is about ``_PARSE_CHUNK`` bytes of whole lines (more when a single
    line is longer), without the line end that closes it.
    """

    def __init__(self, fh, start, end, name):
        self.fh = fh
        self.done = start
        self.end = end
        self.name = name

    def __iter__(self):
        carry = b""
        while True:
            want = self.end - self.done
            try:
                block = self.fh.read(min(_PARSE_CHUNK, want)) if want > 0 else b""
            except OSError as exc:
                raise _data_error(self.name, f"cannot read the file: {exc.strerror or exc}") from None
            if want > 0 and not block:
                raise _data_error(self.name, "the file became shorter while it was being read; read it again")
            self.done += len(block)
            buffer = carry + block if carry else block
            del block
            if self.done < self.end:
                cut = buffer.rfind(b"\n")
                if cut < 0:
                    carry = buffer
                    continue
                carry = buffer[cut + 1:]
                # a CRLF line end is cut as a whole
                yield buffer[:cut - 1] if cut and buffer[cut - 1] == 0x0D else buffer[:cut]
            else:
                if buffer or carry:
                    yield buffer
                return


def _decode_chunk(chunk, name, lineno, fmt):
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = lineno + chunk.count(b"\n", 0, exc.start)
        raise _data_error(
            name,
            f"byte 0x{chunk[exc.start]:02x} is not UTF-8 text; the file looks binary"
            f" (expected a text CSV file with rows {fmt})",
            line,
        ) from None
    return text.replace("\r\n", "\n") if "\r" in text else text


def _raise_long_line(name, line, fmt="'label,x1,...,xm'"):
    raise _data_error(
        name,
        f"line is longer than {MAX_LINE_BYTES} bytes; this does not look like a CSV"
        f" data file (one example per line: {fmt})",
        line,
    )


def _split_labels(text, name, n_features, first_line, header_possible, parser=None):
    """Cut the label field off every line: (stripped labels, the rest of the text)."""
    names = _LABEL_FIELD_RE.findall(text)
    n_lines = text.count("\n") + 1
    if len(names) != n_lines:
        # some line has no comma: find the first one and say what is wrong with it
        pos = 0
        for i in range(n_lines):
            end = text.find("\n", pos)
            line = text[pos:] if end < 0 else text[pos:end]
            if "," not in line:
                if not line.strip(_BLANKS + "\r"):
                    raise _data_error(name, "blank line; blank lines are only allowed at the end of the file",
                                      first_line + i)
                raise _data_error(name, "expected at least 2 fields (label,x1,...,xm), found 1", first_line + i)
            pos = end + 1
    names = [label.strip(_BLANKS) for label in names]
    for i, label in enumerate(names):
        if not label or "\r" in label:
            problem = ("stray carriage return (\\r) inside a line; lines must end in LF or CRLF" if label
                       else "empty label (expected a class name or number)")
            raise _data_error(name, problem, first_line + i, 1)
    return names, _LABEL_FIELD_RE.sub("", text)


def _parse_block(body, *, name, labels, expected, n_features, n_classes, first_line, column_offset,
                 header_possible, parser=None):
    """Numbers of a block of lines: the fast path, else the careful reader."""
    result = _csv_fast(body, n_features, n_classes, labels=labels, expected=expected, parser=parser)
    if result is None:
        result = _csv_slow(body, name, n_features, n_classes, labels=labels, expected=expected,
                           first_line=first_line, column_offset=column_offset, header_possible=header_possible)
    return result


def _only_number_characters(raw):
    """Whether the bytes ``raw`` hold only characters of the number grammar, commas,
    blanks and LF (``bytes.translate`` deletes them at memory speed)."""
    return not raw.translate(None, _NUMBER_BYTES)


def _pandas_parser():
    """pandas' C CSV parser if pandas is installed (an optional speed-up), else None.

    Before pandas 3 its default float conversion is not always correctly rounded;
    ``float_precision="round_trip"`` is (pandas 3 made that the default).
    """
    try:
        import pandas
    except ImportError:
        return None
    if int(pandas.__version__.split(".")[0]) >= 3:
        return pandas.read_csv
    return functools.partial(pandas.read_csv, float_precision="round_trip")


def _csv_fast(body, n_features, n_classes, *, labels=True, expected=None, parser=None):
    """Parse well-formed input with a C reader; None if anything is off.

    The reader is numpy's ``loadtxt``, or ``parser`` (pandas' ``read_csv``) when
    given; the guards before it leave only digits, signs, points, exponents,
    commas, blanks and line ends, which both read as the same correctly rounded
    numbers.  Returns ``(X, y)`` (``y`` None without a label column).
    """
    if isinstance(body, str):
        if not body.isascii():
            return None
        body = body.encode("ascii")
    # a blank line is caught below: numpy skips it and pandas reads NaN, so the row
    # count or the finiteness check fails
    if not _only_number_characters(body) or not body:
        return None
    try:
        if parser is not None:
            data = parser(io.BytesIO(body), header=None, dtype=np.float64, engine="c", na_filter=False,
                          quoting=3, skip_blank_lines=False, low_memory=False).to_numpy()
        else:
            data = np.loadtxt(
                io.StringIO(body.decode("ascii")), delimiter=",", dtype=np.float64, ndmin=2, comments=None
            )
    except (ValueError, TypeError, OverflowError):
        return None
    except Exception as exc:  # pandas' ParserError and EmptyDataError are ValueErrors; be sure
        if type(exc).__module__.startswith("pandas"):
            return None
        raise
    if data.shape[0] != body.count(b"\n") + 1:
        return None
    n_fields = data.shape[1]
    if expected is None and n_features is not None:
        expected = n_features + labels
    if n_fields < 1 + labels or (expected is not None and n_fields != expected):
        return None
    if not np.isfinite(data).all():
        return None
    if not labels:
        return data, None
    codes = data[:, 0]
    upper = _MAX_LABEL if n_classes is None else n_classes - 1
    if not np.all((codes >= 0) & (codes <= upper) & (codes == np.floor(codes))):
        return None
    return data[:, 1:], codes.astype(np.int64)  # a view: the caller copies it into the result


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


def _csv_slow(body, name, n_features, n_classes, *, labels=True, expected=None, first_line=1, column_offset=0,
              header_possible=None):
    """Reference reader: what it accepts is the format; reports the first problem.

    Pass 1 checks each line's structure and number syntax (one regular
    expression per line, linear time even on hostile input) and stops at the
    first bad line.  Pass 2 converts the lines before it in one bulk call and
    checks the values (overflow to infinity, labels).  The earliest problem in
    file order is raised.  ``first_line`` is the file's number of the body's first
    line and ``column_offset`` the number of fields cut off each line before it
    (both only for messages).  Returns ``(X, y)``, ``y`` None without labels.
    """
    if expected is None and n_features is not None:
        expected = n_features + labels
    if header_possible is None:
        header_possible = first_line == 1
    shape = _LineShape(name, labels, n_features, column_offset, header_possible)
    syntax_error = None
    n_good = 0  # lines that passed pass 1
    pos = 0  # start of the current line; lines are not split up front (memory)
    while True:
        newline = body.find("\n", pos)
        end = len(body) if newline < 0 else newline
        line = body[pos:end]
        syntax_error = shape.problem(line, first_line + n_good, expected)
        if syntax_error is not None:
            break
        if expected is None:
            expected = line.count(",") + 1
        n_good += 1
        if newline < 0:
            break
        pos = newline + 1
    data = codes = None
    if n_good:
        good = body[: pos - 1] if syntax_error is not None else body
        values = np.fromstring(good.replace("\n", ","), dtype=np.float64, sep=",")
        del good
        if values.size != n_good * expected:  # cannot happen for lines that passed pass 1
            raise _data_error(name, "could not read the numbers in the file")
        data = values.reshape(n_good, expected)
        nonfinite = ~np.isfinite(data)
        bad_rows = nonfinite.any(axis=1)
        if labels:
            codes = data[:, 0]
            upper = _MAX_LABEL if n_classes is None else n_classes - 1
            bad_rows |= (codes != np.floor(codes)) | (codes < 0) | (codes > upper)
        if bad_rows.any():
            row = int(np.argmax(bad_rows))
            start, end = _field_span(body, row, "\n")
            raise _value_problem(name, body[start:end], first_line + row, nonfinite[row],
                                 codes[row] if labels else None, n_classes, column_offset)
    if syntax_error is not None:
        raise syntax_error
    if not labels:
        return np.ascontiguousarray(data), None
    return np.ascontiguousarray(data[:, 1:]), codes.astype(np.int64)


class _LineShape:
    """The structure and number syntax of one line (pass 1 of :func:`_csv_slow`)."""

    def __init__(self, name, labels, n_features, column_offset, header_possible):
        self.name = name
        self.labels = labels
        self.n_features = n_features
        self.offset = column_offset
        self.header_possible = header_possible
        self.fmt = _row_format("int" if labels or column_offset else None)

    def problem(self, line, lineno, expected):
        """The DataFormatError for the line, or None."""
        name, offset = self.name, self.offset
        cr = line.find("\r")
        if cr >= 0:
            return _data_error(
                name,
                "stray carriage return (\\r) inside a line; lines must end in LF or CRLF",
                lineno,
                line.count(",", 0, cr) + 1 + offset,
            )
        if not line.strip(_BLANKS):
            return _data_error(
                name, "blank line; blank lines are only allowed at the end of the file", lineno
            )
        if lineno == 1 and self.header_possible:
            first_token = line[: _field_span(line, 0)[1]].strip(_BLANKS)
            if (
                not _NUM_RE.fullmatch(first_token)
                and not _NONFINITE_RE.fullmatch(first_token)
                and _LETTER_RE.search(first_token)
            ):
                which = "second field" if offset else "first field"
                error = _data_error(
                    name,
                    f"this looks like a header line ({which} {_short(first_token)});"
                    " headers are not supported: remove the first line so that every"
                    f" line is {self.fmt}, or skip it with header=True (the command"
                    " line's --header)",
                    lineno,
                )
                error.label_is_text = self.labels  # or text labels: "auto" tries those
                return error
        n_found = line.count(",") + 1
        minimum = 1 + self.labels
        if expected is None:
            if n_found < minimum:
                return _data_error(
                    name, f"expected at least 2 fields (label,x1,...,xm), found {n_found}", lineno
                )
        elif n_found != expected:
            detail = ""
            if lineno == 1 and self.n_features is not None:
                detail = (f" (the label and n_features={self.n_features} values)" if self.labels or offset
                          else f" (n_features={self.n_features} values)")
            return _data_error(name, f"expected {expected + offset} fields{detail}, found {n_found + offset}",
                               lineno)
        if not _LINE_RE.fullmatch(line):
            start = _PREFIX_RE.match(line).end()
            end = line.find(",", start)
            token = line[start : len(line) if end < 0 else end].strip(_BLANKS)
            column = line.count(",", 0, start) + 1
            error = _data_error(name, _token_problem(token), lineno, column + offset)
            error.label_is_text = self.labels and column == 1 and token != ""
            return error
        return None


def _value_problem(name, line, lineno, nonfinite, label, n_classes, column_offset=0):
    """The DataFormatError for a syntactically valid line with a bad value."""
    if nonfinite.any():
        j = int(np.argmax(nonfinite))
        start, end = _field_span(line, j)
        token = line[start:end].strip(_BLANKS)
        return _data_error(
            name, f"non-finite value {_short(token)} (too large for float64)", lineno, j + 1 + column_offset
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


_FILE_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind_of(mode):
    """What a non-regular file is, in words."""
    for test, kind in _FILE_KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def _open_regular(path, make_error, what):
    """Open a regular file for reading; return ``(file object, size in bytes)``.

    Pipes, devices and sockets are refused (they could block, or never end); every
    later read is bounded by the size found here.  Opening does not block on a
    FIFO (``O_NONBLOCK``).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise make_error(f"cannot read the {what}: it does not exist") from None
    except IsADirectoryError:
        raise make_error(f"cannot read the {what}: it is a directory") from None
    except PermissionError:
        raise make_error(f"cannot read the {what}: permission denied") from None
    except OSError as exc:
        raise make_error(f"cannot read the {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise make_error(f"cannot read the {what}: it is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise make_error(
                f"cannot read the {what}: it is {_kind_of(info.st_mode)}, not a regular file;"
                " save the data to a file first"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return fh, info.st_size


def _open_for_reading(path, make_error, what):
    """:func:`_open_regular` without the size (the caller closes the file)."""
    return _open_regular(path, make_error, what)[0]


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


def read_npz(path, *, labels="int", n_features=None, n_classes=None):
    """Read a data set from an ``.npz`` archive with arrays ``X`` and ``y``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file, e.g. written by ``np.savez(path, X=X, y=y)``; it must be
        a regular file.
    labels : {"int", "str", "auto", None}, default="int"
        ``"int"``: ``y`` holds integer labels. ``"str"``/``"auto"``: ``y`` may also
        hold text (a numpy string array), returned as text; with ``"auto"`` integer
        labels are returned as integers. ``None``: only ``X`` is read (``y`` need not
        exist).
    n_features : int, optional
        Expected number of columns of ``X``.
    n_classes : int, optional
        Number of classes ``K``; when given, every integer label must be in ``0..K-1``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
        ``X`` converted to float64 (it may be stored as any real or bool dtype);
        the only result with ``labels=None``.
    y : ndarray of shape (n_samples,)
        int64 labels, each ``>= 0`` (stored with any integer dtype), or a string
        array for text labels.

    Raises
    ------
    DataFormatError
        If the file cannot be read, is not a regular file or not an npz archive,
        holds pickled objects (they are never unpickled), lacks ``X`` (or ``y``),
        declares arrays larger than the file can hold, or if ``X`` is not a
        non-empty 2-D array of finite real numbers, ``y`` not a 1-D array of
        labels of the same length with integer labels in range.  The message
        starts with ``path:``.
    """
    name = _display(path)
    if labels not in _LABEL_MODES:
        raise ValueError(f"labels must be 'int', 'str', 'auto' or None, got {labels!r}")
    n_features = _check_positive_int(n_features, "n_features")
    n_classes = _check_positive_int(n_classes, "n_classes")

    def make_error(reason):
        return _data_error(name, reason)

    wanted = ("X",) if labels is None else ("X", "y")
    fh = _open_for_reading(path, make_error, "file")
    with fh:
        try:
            arrays, _ = _scan_npz(fh, make_error, "file")
            for key in wanted:
                if key not in arrays:
                    raise make_error(
                        f"array {key!r} is missing (found {sorted(arrays)}); a data .npz must"
                        " hold X (n_samples, n_features)"
                        + ("" if labels is None else " and y (n_samples,)")
                    )
            with _open_npz(fh, make_error, "file") as npz:
                X = npz["X"]
                y = None if labels is None else npz["y"]
        except DataFormatError:
            raise
        except _BAD_BYTES_ERRORS as exc:
            raise make_error(f"not a readable .npz archive: {exc}") from exc
    if X.ndim != 2:
        raise make_error(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise make_error(f"X must hold real numbers, got dtype {X.dtype}")
    if y is not None:
        if y.ndim != 1:
            raise make_error(f"y must be 1-D (n_samples,), got shape {y.shape}")
        text = labels in ("str", "auto") and y.dtype.kind in "US"
        if y.dtype.kind not in "iu" and not text:
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
    if y is None:
        return X
    if y.dtype.kind in "US":
        return X, y.astype(str)
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


def load_dataset(path, *, labels="int", header=False, n_features=None, n_classes=None, progress=None):
    """Read a data set, choosing the reader by the file suffix.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv`` file (see :func:`read_csv`) or an ``.npz`` file (see
        :func:`read_npz`); the suffix is matched case-insensitively.
    labels : {"int", "str", "auto", None}, default="int"
        What the labels are (see :func:`read_csv`); ``None`` reads features only.
    header : bool, default=False
        A CSV's first line is a header to skip (an ``.npz`` has none).
    n_features : int, optional
        Expected number of features.
    n_classes : int, optional
        Number of classes ``K``; integer labels must be in ``0..K-1``.
    progress : callable, optional
        ``progress(bytes_done, bytes_total)`` while a CSV is read.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64, C-contiguous
    y : ndarray of shape (n_samples,)
        int64 or text labels (not returned with ``labels=None``).

    Raises
    ------
    DataFormatError
        For an unsupported suffix, and for any problem the reader reports.
    """
    suffix = Path(_display(path)).suffix.lower()
    if suffix == ".csv":
        return read_csv(path, labels=labels, header=header, n_features=n_features, n_classes=n_classes,
                        progress=progress)
    if suffix == ".npz":
        return read_npz(path, labels=labels, n_features=n_features, n_classes=n_classes)
    rows = "'x1,...,xm'" if labels is None else "'label,x1,...,xm'"
    arrays = "X" if labels is None else "X and y"
    raise _data_error(
        _display(path),
        f"unsupported data file type {suffix or '(no suffix)'!r}; use .csv (rows"
        f" {rows}) or .npz (arrays {arrays})",
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

    net = Network.from_weights(weights, output=metadata["output"], dtype=metadata["dtype"])
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
    weights, output, extra = _model_weights(net)
    if extra:
        metadata = {**extra, **(metadata or {})}
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
    if classes is None:
        classes = getattr(net, "classes_", None)
    return _encode_model(weights, output=output, dtype=dtype, classes=classes, metadata=metadata)


def _model_weights(net):
    """``(weights in the fastnn layout, output, extra metadata)`` of a fitted model."""
    try:
        return net.weights_, getattr(net, "output", None), None
    except AttributeError:
        pass
    try:
        coefs, intercepts = net.coefs_, net.intercepts_
    except AttributeError:
        raise ValueError(
            "cannot save a network that is not fitted: call fit() first, or build it with"
            " Network.from_weights()"
        ) from None
    weights = [np.column_stack([b, np.asarray(W).T]) for W, b in zip(coefs, intercepts)]
    output = "sigmoid" if getattr(net, "out_activation_", None) == "logistic" else "softmax"
    params = {}
    get_params = getattr(net, "get_params", None)
    for key, value in (get_params(deep=False) if get_params else {}).items():
        if value is None or isinstance(value, (bool, int, float, str)):
            params[key] = value
        elif isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
            params[key] = list(value)
    return weights, output, {"saved_from": {"class": type(net).__name__, "params": params}}


def write_model(path, weights, *, output=None, dtype=None, classes=None, metadata=None):
    """Write weight matrices and metadata as a fastnn model file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (replaced atomically, see :func:`write_files`; no suffix is added).
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
    write_atomic(path, _encode_model(weights, output=output, dtype=dtype, classes=classes, metadata=metadata))


def _encode_model(weights, *, output=None, dtype=None, classes=None, metadata=None):
    """The bytes of a model file; parameters and errors as :func:`write_model`."""
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
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# ----------------------------------------------------------------------------
# writing files

#: Bytes handed to one ``os.write`` call.
_WRITE_BLOCK = 2**20
# Paths that name a descriptor this process already has open: written through
# that descriptor (as a shell redirection would), never replaced or reopened.
_STD_STREAMS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_FD_PATH_RE = re.compile(r"/(?:dev/fd|proc/self/fd)/([0-9]+)")


def _write_all(fd, data):
    """Write every byte of ``data`` to ``fd``: the one place where output bytes go."""
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view[:_WRITE_BLOCK])
        view = view[written:]


class _Target:
    """Where one output goes: a regular file replaced by rename, or written through."""

    def __init__(self, path):
        self.display = _display(path)
        given = os.fspath(path)
        self.fd = _STD_STREAMS.get(os.fsdecode(given))
        match = _FD_PATH_RE.fullmatch(os.fsdecode(given))
        if match:
            self.fd = int(match.group(1))
        self.tmp = None
        self.backup = None
        self.published = False
        self.mode = None
        self.existed = False
        if self.fd is not None:
            self.real, self.through = given, True
            return
        # a symlink is followed: its target is written and the link is kept
        self.real = os.path.realpath(given) if os.path.islink(given) else given
        try:
            info = os.stat(self.real)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise _named(exc, self.display)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory; give a file name", self.display)
        # a device, FIFO or socket is written to as it is (-o /dev/null works)
        self.through = info is not None and not stat.S_ISREG(info.st_mode)
        if info is not None and not self.through:
            self.existed = True
            self.mode = stat.S_IMODE(info.st_mode)

    def prepare(self, data):
        """Write ``data`` to a synced temporary file next to the target."""
        folder = os.path.dirname(os.path.abspath(self.real))
        base = os.path.basename(self.real)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        # a new file gets 0o666 less the umask (applied by the system, never read
        # here); a replaced file keeps its mode, and the temporary is private until then
        create_mode = 0o666 if self.mode is None else 0o600
        try:
            while True:
                tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
                try:
                    fd = os.open(tmp, flags, create_mode)
                    break
                except FileExistsError:
                    continue
            self.tmp = tmp
            try:
                if self.mode is not None and hasattr(os, "fchmod"):
                    os.fchmod(fd, self.mode)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _named(exc, self.display) from None

    def write_through(self, data):
        try:
            if self.fd is not None:
                _write_all(self.fd, data)
                return
            fd = os.open(self.real, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _named(exc, self.display) from None

    def discard(self):
        for name in (self.tmp, self.backup):
            if name is not None:
                try:
                    os.unlink(name)
                except OSError:
                    pass
        self.tmp = self.backup = None


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
    try:
        return _Target(path).through
    except OSError:
        return False


def _named(exc, display):
    """The OSError ``exc`` naming the file as the user wrote it."""
    exc.filename = display
    exc.filename2 = None
    return exc


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
    items = []
    for path, data in outputs:
        if isinstance(data, str):
            data = data.encode("utf-8")
        items.append((_Target(path), data))
    seen = {}
    for target, _ in items:
        if target.through:  # several outputs may well go to /dev/null
            continue
        key = os.path.realpath(target.real)
        if key in seen:
            raise ValueError(f"{target.display}: two outputs name the same file ({seen[key]})")
        seen[key] = target.display
    targets = [target for target, _ in items]
    try:
        for target, data in items:
            if not target.through:
                target.prepare(data)
        for target, data in items:
            if target.through:
                target.write_through(data)
        _publish([t for t in targets if not t.through])
    finally:
        for target in targets:
            target.discard()


def _publish(targets):
    """Rename the prepared temporaries over their targets, all or none."""
    try:
        for target in targets:
            if target.existed:
                backup = f"{target.tmp[:-len('.tmp')]}.bak"
                try:
                    os.link(target.real, backup)
                    target.backup = backup
                except OSError:
                    target.backup = None
        for target in targets:
            try:
                os.replace(target.tmp, target.real)
            except OSError as exc:
                raise _named(exc, target.display) from None
            target.tmp = None
            target.published = True
    except BaseException:
        for target in reversed(targets):
            if not target.published:
                continue
            try:
                if target.backup is not None:
                    os.replace(target.backup, target.real)
                    target.backup = None
                elif not target.existed:
                    os.unlink(target.real)
            except OSError:
                pass
        raise
    for folder in {os.path.dirname(os.path.abspath(t.real)) for t in targets}:
        _fsync_folder(folder)


def _fsync_folder(folder):
    """Make the renames in ``folder`` durable (best effort: not every system allows it)."""
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
