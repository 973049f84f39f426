"""The CSV grammar of :func:`fastnn.io.read_csv`.

A file is first scanned in small pieces (NUL bytes, over-long lines, the end of
the data), then parsed in pieces of whole lines straight into the result.  Each
piece takes the fast path when it can (numpy's or pandas' C reader behind
guards that leave only the number grammar); anything else goes to the careful
line-by-line reader (:func:`_csv_slow`), whose acceptance *is* the format and
which names the first bad line and field.  The public entry point and its
documentation are in :mod:`fastnn.io`.
"""

from __future__ import annotations

import functools
import io
import re

import numpy as np

from ._errors import _MAX_LABEL, _data_error, _short
from ._files import _open_regular

_READ_CHUNK = 2**20


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
#: Files larger than this are parsed with pandas when it is installed.
_PANDAS_MIN_BYTES = 32 * 2**20


def _row_format(mode, n_targets=1):
    """A row of the format, for messages: ``'label,x1,...,xm'``, ``'y,x1,...,xm'``, ..."""
    if mode is None:
        return "'x1,...,xm'"
    if mode == "float":
        targets = {1: "y", 2: "y1,y2"}.get(n_targets, f"y1,...,y{n_targets}")
        return f"'{targets},x1,...,xm'"
    return "'label,x1,...,xm'"


def _read_csv(path, name, mode, header, n_features, n_classes, progress, max_line_bytes, n_targets=1):
    """read_csv for one label mode ("int", "str", "float" or None), lines of at most ``max_line_bytes``.

    In the "float" mode the first ``n_targets`` fields of each line are real-valued targets,
    returned as ``y`` of shape (n,) for one target, else (n, n_targets).
    """
    fmt = _row_format(mode, n_targets)
    targets = n_targets if mode == "float" else 0  # leading columns of real-valued targets
    leading = targets or int(mode is not None)  # the columns before the features
    fh, size = _open_regular(path, lambda reason: _data_error(name, reason), "file")
    with fh:
        start, data_end, n_lines = _scan_csv_bytes(fh, name, size, fmt, max_line_bytes)
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
        expected = None if n_features is None else n_features + leading
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
                                   parser=parser, targets=targets)
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
                                               n_classes=n_classes, column_offset=0, targets=targets, **parse)
                del text
            del chunk
            if targets:  # the targets are the first columns of the numbers
                codes, data = data[:, :targets], data[:, targets:]
            if X is None:
                X = np.empty((n_lines, data.shape[1]), dtype=np.float64)
                if mode == "int":
                    y = np.empty(n_lines, dtype=np.int64)
                elif targets:
                    y = np.empty((n_lines, targets), dtype=np.float64)
                expected = data.shape[1] + leading
            if row + data.shape[0] > n_lines:
                raise _data_error(name, "the file changed while it was being read; read it again")
            X[row:row + data.shape[0]] = data
            if mode == "int" or targets:
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
    elif targets == 1:
        y = y[:, 0].copy()
    return X, y


def _scan_csv_bytes(fh, name, size, fmt, max_line_bytes):
    """First pass, in small pieces: refuse NUL bytes and over-long lines early.

    Returns ``(start, data_end, n_lines)``: the offset after a byte order mark,
    the offset after the last byte that is not blank (trailing blank lines are
    allowed and ignored), and the number of lines in between.
    """
    chunk_size = max(1, min(_READ_CHUNK, max_line_bytes))
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
            if line_len + first_nl > max_line_bytes:
                _raise_long_line(name, line, fmt, max_line_bytes)
            line += count
            line_len = len(chunk) - chunk.rfind(b"\n") - 1
        if line_len > max_line_bytes:
            _raise_long_line(name, line, fmt, max_line_bytes)
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


def _raise_long_line(name, line, fmt, max_line_bytes):
    raise _data_error(
        name,
        f"line is longer than {max_line_bytes} bytes; this does not look like a CSV"
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
                 header_possible, parser=None, targets=0):
    """Numbers of a block of lines: the fast path, else the careful reader."""
    result = _csv_fast(body, n_features, n_classes, labels=labels, expected=expected, parser=parser,
                       targets=targets)
    if result is None:
        result = _csv_slow(body, name, n_features, n_classes, labels=labels, expected=expected,
                           first_line=first_line, column_offset=column_offset, header_possible=header_possible,
                           targets=targets)
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


def _csv_fast(body, n_features, n_classes, *, labels=True, expected=None, parser=None, targets=0):
    """Parse well-formed input with a C reader; None if anything is off.

    The reader is numpy's ``loadtxt``, or ``parser`` (pandas' ``read_csv``) when
    given; the guards before it leave only digits, signs, points, exponents,
    commas, blanks and line ends, which both read as the same correctly rounded
    numbers.  Returns ``(X, y)`` (``y`` None without a label column).  With
    ``targets`` (and ``labels=False``) the first ``targets`` columns are real
    numbers like the features and stay in ``X``: every line needs at least one
    field more.
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
        expected = n_features + labels + targets
    if n_fields < 1 + labels + targets or (expected is not None and n_fields != expected):
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
              header_possible=None, targets=0):
    """Reference reader: what it accepts is the format; reports the first problem.

    Pass 1 checks each line's structure and number syntax (one regular
    expression per line, linear time even on hostile input) and stops at the
    first bad line.  Pass 2 converts the lines before it in one bulk call and
    checks the values (overflow to infinity, labels).  The earliest problem in
    file order is raised.  ``first_line`` is the file's number of the body's first
    line and ``column_offset`` the number of fields cut off each line before it
    (both only for messages).  ``targets`` leading fields are real-valued targets, kept
    in ``X`` as for :func:`_csv_fast`.  Returns ``(X, y)``, ``y`` None without labels.
    """
    if expected is None and n_features is not None:
        expected = n_features + labels + targets
    if header_possible is None:
        header_possible = first_line == 1
    shape = _LineShape(name, labels, n_features, column_offset, header_possible, targets)
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

    def __init__(self, name, labels, n_features, column_offset, header_possible, targets=0):
        self.name = name
        self.labels = labels
        self.n_features = n_features
        self.offset = column_offset
        self.header_possible = header_possible
        self.targets = targets
        if targets:
            self.fmt = _row_format("float", targets)
        else:
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
        minimum = 1 + self.labels + self.targets
        if expected is None:
            if n_found < minimum:
                return _data_error(
                    name, f"expected at least {minimum} fields ({self.fmt.strip(chr(39))}), found {n_found}",
                    lineno
                )
        elif n_found != expected:
            detail = ""
            if lineno == 1 and self.n_features is not None:
                if self.targets:
                    what = "the target" if self.targets == 1 else f"{self.targets} targets"
                    detail = f" ({what} and n_features={self.n_features} values)"
                elif self.labels or offset:
                    detail = f" (the label and n_features={self.n_features} values)"
                else:
                    detail = f" (n_features={self.n_features} values)"
            return _data_error(name, f"expected {expected + offset} fields{detail}, found {n_found + offset}",
                               lineno)
        if not _LINE_RE.fullmatch(line):
            start = _PREFIX_RE.match(line).end()
            end = line.find(",", start)
            token = line[start : len(line) if end < 0 else end].strip(_BLANKS)
            column = line.count(",", 0, start) + 1
            problem = _token_problem(token)
            if column <= self.targets and problem.endswith("is not a number"):
                problem = f"target {problem}"
            error = _data_error(name, problem, lineno, column + offset)
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
