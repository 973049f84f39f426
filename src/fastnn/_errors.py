"""The exceptions of :mod:`fastnn.io` and the helpers that word their messages.

Every problem with a data file is a :class:`DataFormatError`, every problem
with a model file a :class:`ModelFormatError`; both are documented and exported
by :mod:`fastnn.io`.  The helpers here put the file (and the line and field) in
front of the reason and shorten whatever of the file's content a message quotes.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib

#: The largest integer class label a data file may hold.
_MAX_LABEL = 2**31 - 1

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

    __module__ = "fastnn.io"  # where it is documented and imported from

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

    __module__ = "fastnn.io"

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
