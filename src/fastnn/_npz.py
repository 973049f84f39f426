"""npz archives: the zip structure and ``.npy`` headers checked before any read.

:func:`_scan_npz` checks an archive's directory and every array header against
the file's size, so that no later read allocates more than the file justifies;
data files (:func:`fastnn.io.read_npz`) and model files (:mod:`fastnn._modelfile`)
are both read through it.
"""

from __future__ import annotations

import io
import math
import os
import zipfile

import numpy as np

from ._errors import _BAD_BYTES_ERRORS, _MAX_LABEL, DataFormatError, _data_error, _short
from ._files import _open_for_reading

_MAX_NPY_HEADER = 10_000
# Deflate cannot compress better than about 1032:1; a zip entry that claims
# more is lying about its size (a "zip bomb") and is refused before reading.
_MAX_DEFLATE_RATIO = 1100


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


def _read_npz(path, name, labels, n_features, n_classes, targets=None):
    """:func:`fastnn.io.read_npz` once its arguments are checked (``name``: ``path`` for messages)."""

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
                        + ("" if labels is None else " and y (n_samples,)" if labels != "float"
                           else " and y (n_samples,) or (n_samples, n_targets)")
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
    if labels == "float":
        y = _check_npz_targets(y, X, targets, make_error)
    elif y is not None:
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
    if labels == "float":
        return X, y
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


def _check_npz_targets(y, X, targets, make_error):
    """``y`` of a data .npz as real-valued targets: float64, shape (n,) or (n, K), finite."""
    if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] == 0):
        raise make_error(f"y must hold targets of shape (n_samples,) or (n_samples, n_targets), got shape {y.shape}")
    if y.dtype.kind not in "biuf":
        raise make_error(f"y must hold real-valued targets, got dtype {y.dtype}")
    if X.shape[0] != y.shape[0]:
        raise make_error(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    n_targets = 1 if y.ndim == 1 else y.shape[1]
    if targets is not None and n_targets != targets:
        raise make_error(f"y has {n_targets} target column(s) (shape {y.shape}), expected {targets}")
    y = np.ascontiguousarray(y, dtype=np.float64)
    if not np.isfinite(y).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
        where = ", ".join(map(str, index))
        raise make_error(f"y[{where}] is {y[index]}; all targets must be finite")
    return y
