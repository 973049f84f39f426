"""Tests of fastnn.io: CSV/npz data readers and the model file format.

The data and file-format tests need only NumPy. Tests that build a
``fastnn.Network`` skip where the compiled package cannot be imported.
"""

import importlib
import importlib.util
import json
import locale
import os
import pickle
import stat
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
OCR_DIR = (ROOT / ".." / "shared" / "data" / "ocr").resolve()
FIXTURES = Path(__file__).resolve().parent / "fixtures"

try:
    import fastnn
    from fastnn import _csv as fcsv
    from fastnn import io as fio
except ImportError:  # the package (its compiled engine) is not importable: test io.py on its own
    fastnn = None
    # src/fastnn as a package of another name whose __init__.py is not run, so that io.py and
    # the modules it imports (none of which needs the engine) load by themselves
    _spec = importlib.util.spec_from_file_location(
        "fastnn_io_under_test", ROOT / "src" / "fastnn" / "__init__.py",
        submodule_search_locations=[str(ROOT / "src" / "fastnn")],
    )
    sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
    fio = importlib.import_module(f"{_spec.name}.io")
    fcsv = importlib.import_module(f"{_spec.name}._csv")

Network = getattr(fastnn, "Network", None)
needs_network = pytest.mark.skipif(
    Network is None, reason="fastnn.Network is not importable (compiled engine missing); model round trips need it"
)
DataFormatError = fio.DataFormatError
ModelFormatError = fio.ModelFormatError


def _ocr(name):
    path = OCR_DIR / f"{name}.csv"
    if not path.is_file():
        pytest.skip(f"OCR data not found at {path} (../shared/data/ocr from the project root)")
    return path


def _write(tmp_path, content, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# ----------------------------------------------------------------------------
# CSV: good input

CLEAN = "1,0.5,-2\n0,1e-3,3\n2,0,.25\n"
CLEAN_X = np.array([[0.5, -2.0], [1e-3, 3.0], [0.0, 0.25]])
CLEAN_Y = np.array([1, 0, 2])


def test_read_csv_clean(tmp_path):
    X, y = fio.read_csv(_write(tmp_path, CLEAN))
    assert X.dtype == np.float64 and X.flags.c_contiguous and X.shape == (3, 2)
    assert y.dtype == np.int64 and y.shape == (3,)
    np.testing.assert_array_equal(X, CLEAN_X)
    np.testing.assert_array_equal(y, CLEAN_Y)


@pytest.mark.parametrize(
    "variant",
    [
        CLEAN.replace("\n", "\r\n"),  # CRLF
        "\ufeff" + CLEAN,  # UTF-8 byte order mark
        "\ufeff" + CLEAN.replace("\n", "\r\n"),
        CLEAN + "\n\n  \n\t\r\n",  # trailing blank lines
        CLEAN.rstrip("\n"),  # no final line end
        CLEAN.rstrip("\n") + "\r",
        CLEAN.replace(",", " , "),  # blanks around commas
        CLEAN.replace(",", "\t,\t"),
        " " + CLEAN.replace("\n", " \n "),
        "+1,5e-1,-2.0\n0.0,0.001,3.\n2e0,-0,25e-2\n",  # other spellings of the same numbers
    ],
    ids=["crlf", "bom", "bom-crlf", "trailing-blank", "no-final-eol", "final-cr", "spaces", "tabs",
         "edge-spaces", "spellings"],
)
def test_read_csv_benign_variants_parse_identically(tmp_path, variant):
    X, y = fio.read_csv(_write(tmp_path, variant))
    np.testing.assert_array_equal(X, CLEAN_X)
    np.testing.assert_array_equal(y, CLEAN_Y)
    assert X.flags.c_contiguous and X.dtype == np.float64 and y.dtype == np.int64


def test_read_csv_checks_counts(tmp_path):
    path = _write(tmp_path, CLEAN)
    X, y = fio.read_csv(path, n_features=2, n_classes=3)
    assert X.shape == (3, 2)
    with pytest.raises(TypeError, match="n_features"):
        fio.read_csv(path, n_features=2.0)
    with pytest.raises(ValueError, match="n_classes"):
        fio.read_csv(path, n_classes=0)


def test_read_csv_ocr_small():
    X, y = fio.read_csv(_ocr("small_train"), n_features=128, n_classes=10)
    assert X.shape == (500, 128) and y.shape == (500,)
    assert X.dtype == np.float64 and X.flags.c_contiguous and y.dtype == np.int64
    assert set(np.unique(X)) <= {0.0, 1.0}
    assert y.min() >= 0 and y.max() <= 9
    reference = np.loadtxt(_ocr("small_train"), delimiter=",")
    np.testing.assert_array_equal(X, reference[:, 1:])
    np.testing.assert_array_equal(y, reference[:, 0])


def test_read_csv_ocr_large():
    X, y = fio.read_csv(_ocr("large_train"))
    assert X.shape == (9000, 128) and y.shape == (9000,)


def test_line_reader_agrees_with_fast_path_on_ocr():
    body = _ocr("small_train").read_text(encoding="utf-8").replace("\r\n", "\n").rstrip()
    fast = fio._csv_fast(body, None, None)
    assert fast is not None
    slow = fio._csv_slow(body, "small_train.csv", None, None)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


PANDAS_PARSER = fio._pandas_parser()
_TOKENS = st.one_of(
    st.sampled_from(["0", "1", "-0", "+1", "2.", ".5", "1e3", "1E-3", "2.5e+1", " 3 ", "\t4", "00", "7"]),
    st.sampled_from(["", "1e", ".", "+", "-", "1.2.3", "e5", "1..", ".e1", "+-1", "1e+", "1 2", "--1",
                     "1e999", "-1e400", "1.5", "99999999999", "1e1"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_TOKENS, min_size=1, max_size=4), min_size=1, max_size=4))
def test_fast_path_accepts_only_what_the_line_reader_accepts(rows):
    """The numpy fast path is an optimisation: whatever it accepts, the reference
    line-by-line reader must accept with identical values."""
    body = "\n".join(",".join(row) for row in rows).rstrip(" \t\f\v\r\n")
    if not body:
        return
    parsers = [None] + ([PANDAS_PARSER] if PANDAS_PARSER is not None else [])
    fast = [fio._csv_fast(body, None, None, parser=parser) for parser in parsers]
    try:
        slow = fio._csv_slow(body, "t.csv", None, None)
    except DataFormatError:
        assert fast == [None] * len(parsers)
        return
    for result in fast:
        if result is not None:
            np.testing.assert_array_equal(result[0], slow[0])
            np.testing.assert_array_equal(result[1], slow[1])


def test_read_csv_does_not_depend_on_the_locale(tmp_path):
    saved = locale.setlocale(locale.LC_ALL)
    chosen = None
    for name in ("de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "ru_RU.UTF-8", "nl_NL.UTF-8",
                 "es_ES.UTF-8", "it_IT.UTF-8"):
        try:
            locale.setlocale(locale.LC_ALL, name)
        except locale.Error:
            continue
        if locale.localeconv()["decimal_point"] == ",":
            chosen = name
            break
    if chosen is None:
        locale.setlocale(locale.LC_ALL, saved)
        pytest.skip("no locale with a decimal comma is installed (tried de_DE, fr_FR, ru_RU, ...)")
    try:
        X, y = fio.read_csv(_write(tmp_path, CLEAN))
        with pytest.raises(DataFormatError, match=r":1:2: '0;5' is not a number"):
            fio.read_csv(_write(tmp_path, "1,0;5\n", "semicolon.csv"))
    finally:
        locale.setlocale(locale.LC_ALL, saved)
    np.testing.assert_array_equal(X, CLEAN_X)
    np.testing.assert_array_equal(y, CLEAN_Y)


# ----------------------------------------------------------------------------
# CSV: bad input, each reported at its place

BAD_CSV = [
    # (content, read_csv keywords, expected message after the path)
    ("1,0,0\n2,0\n", {}, ":2: expected 3 fields, found 2"),
    ("1,0\n2,0,0\n", {}, ":2: expected 2 fields, found 3"),
    ("1,0,0\n2,0,abc\n", {}, ":2:3: 'abc' is not a number"),
    ("1,nan,0\n", {}, ":1:2: non-finite value 'nan'"),
    ("1,0,-inf\n", {}, ":1:3: non-finite value '-inf'"),
    ("1,0\n1,Infinity\n", {}, ":2:2: non-finite value 'Infinity'"),
    ("1,1e999\n", {}, ":1:2: non-finite value '1e999' (too large for float64)"),
    ("1,0\n3.5,0\n", {}, ":2:1: label '3.5' is not an integer"),
    ("-1,0\n", {}, ":1:1: label '-1' is negative; labels must be integers 0..K-1"),
    ("0,0\n3,0\n", {"n_classes": 3}, ":2:1: label '3' is out of range: n_classes=3 allows 0..2"),
    ("1e12,0\n", {}, ":1:1: label '1e12' is too large (at most 2147483647)"),
    ("1,0,0\n", {"n_features": 3}, ":1: expected 4 fields (the label and n_features=3 values), found 3"),
    ("1,,0\n", {}, ":1:2: empty field (expected a number)"),
    ("1,0,\n", {}, ":1:3: empty field (expected a number)"),
    ("1,0\n\n2,0\n", {}, ":2: blank line; blank lines are only allowed at the end of the file"),
    ("\n1,0\n", {}, ":1: blank line; blank lines are only allowed at the end of the file"),
    ("1,0\n  \t\n2,0\n", {}, ":2: blank line; blank lines are only allowed at the end of the file"),
    ("label,x1,x2\n1,0,0\n", {}, ":1: this looks like a header line (first field 'label'); headers are not"
                                 " supported: remove the first line so that every line is 'label,x1,...,xm'"),
    ("\ufeffy,a,b\r\n1,0,0\r\n", {}, ":1: this looks like a header line (first field 'y')"),
    ("1,0\r2,0\n", {}, ":1:2: stray carriage return (\\r) inside a line; lines must end in LF or CRLF"),
    ("1\n2\n", {}, ":1: expected at least 2 fields (label,x1,...,xm), found 1"),
    ("1,\u0663\n", {}, ":1:2: '\u0663' is not a number"),
    ("1,2 3\n", {}, ":1:2: '2 3' is not a number"),
    ('1,"0.5"\n', {}, ":1:2: '\"0.5\"' is not a number"),
    ("1,0x10\n", {}, ":1:2: '0x10' is not a number"),
    ("1,1_000\n", {}, ":1:2: '1_000' is not a number"),
    ("1,0\r\n1,0\r\n1,zz\r\n", {}, ":3:2: 'zz' is not a number"),
    ("1,0,0\n" * 100 + "1,0,0,x\n", {}, ":101: expected 3 fields, found 4"),
    ("1,0,0\n" * 100 + "1,0,y\n", {}, ":101:3: 'y' is not a number"),
    ("1,0,0\n" * 100 + "2,0,1e400\n", {}, ":101:3: non-finite value '1e400'"),
    ("", {}, ": the file is empty: no data rows (expected rows 'label,x1,...,xm')"),
    ("\n \r\n\n", {}, ": the file is empty"),
    ("\ufeff", {}, ": the file is empty"),
    (b"1,0\n2,\x000\n", {}, ":2: the file contains NUL bytes; it looks binary"),
    (b"1,0\n\x1f\x8b\x08\x08abc", {}, ":2: byte 0x8b is not UTF-8 text; the file looks binary"),
]


@pytest.mark.parametrize("content,kwargs,expected", BAD_CSV, ids=[str(i) for i in range(len(BAD_CSV))])
def test_read_csv_rejects_with_location(tmp_path, content, kwargs, expected):
    path = _write(tmp_path, content, "train.csv")
    with pytest.raises(DataFormatError) as info:
        fio.read_csv(path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path) + expected), message
    assert info.value.path == str(path)


def test_error_carries_line_and_column(tmp_path):
    with pytest.raises(DataFormatError) as info:
        fio.read_csv(_write(tmp_path, "1,0,0\n2,0,abc\n"))
    assert (info.value.line, info.value.column) == (2, 3)
    assert isinstance(info.value, ValueError)


def test_read_csv_shortens_a_huge_bad_field(tmp_path):
    path = _write(tmp_path, "1," + "9" * 100_000 + "x\n")
    with pytest.raises(DataFormatError, match=r":1:2: '9{40}'\.\.\. \(100001 characters\) is not a number") as info:
        fio.read_csv(path)
    assert len(str(info.value)) < 300


def test_read_csv_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataFormatError, match="nope.csv: cannot read the file: it does not exist"):
        fio.read_csv(path)


def test_read_csv_directory(tmp_path):
    with pytest.raises(DataFormatError, match="cannot read the file: it is a directory"):
        fio.read_csv(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_read_csv_unreadable_file(tmp_path):
    path = _write(tmp_path, CLEAN)
    path.chmod(0)
    try:
        with pytest.raises(DataFormatError, match="cannot read the file: permission denied"):
            fio.read_csv(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


@pytest.fixture(scope="module")
def huge_line_file(tmp_path_factory):
    """A 100 MB file that is one single line of '1,1,1,...'."""
    path = tmp_path_factory.mktemp("huge") / "one_line.csv"
    block = b"1," * (2**19)  # 1 MiB
    with open(path, "wb") as f:
        for _ in range(100):
            f.write(block)
    return path


def test_read_csv_rejects_a_100mb_line(huge_line_file):
    with pytest.raises(DataFormatError) as info:
        fio.read_csv(huge_line_file)
    assert str(info.value).startswith(f"{huge_line_file}:1: line is longer than {fio.MAX_LINE_BYTES} bytes")


def test_read_csv_long_line_memory_is_bounded(huge_line_file, monkeypatch):
    monkeypatch.setattr(fio, "MAX_LINE_BYTES", 2**20)
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match=r":1: line is longer than 1048576 bytes"):
            fio.read_csv(huge_line_file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak} bytes while rejecting a long line"


def test_read_csv_long_line_after_good_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(fio, "MAX_LINE_BYTES", 100)
    path = _write(tmp_path, "1,0\n" * 5 + "1," + "0," * 60 + "0\n" + "1,0\n")
    with pytest.raises(DataFormatError, match=r":6: line is longer than 100 bytes"):
        fio.read_csv(path)
    X, y = fio.read_csv(_write(tmp_path, "1," + "0," * 48 + "0\n", "ok.csv"))  # 100 bytes is fine
    assert X.shape == (1, 49)


# ----------------------------------------------------------------------------
# npz data and load_dataset


def test_read_npz(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[0, 1], [1, 0]], dtype=np.uint8), y=np.array([1, 0], dtype=np.int32))
    X, y = fio.read_npz(path, n_features=2, n_classes=2)
    assert X.dtype == np.float64 and X.flags.c_contiguous and y.dtype == np.int64
    np.testing.assert_array_equal(X, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(y, [1, 0])
    np.savez_compressed(path, X=np.asfortranarray(np.ones((3, 2))), y=np.arange(3))
    X, y = fio.read_npz(path)
    assert X.flags.c_contiguous and X.shape == (3, 2)


BAD_NPZ = [
    ({"X": np.ones((2, 2))}, {}, "array 'y' is missing"),
    ({"y": np.ones(2, dtype=int)}, {}, "array 'X' is missing"),
    ({"X": np.ones(2), "y": np.arange(2)}, {}, "X must be 2-D (n_samples, n_features), got shape (2,)"),
    ({"X": np.ones((2, 2)), "y": np.arange(3)}, {}, "X has 2 rows but y has 3 labels"),
    ({"X": np.ones((2, 2)), "y": np.ones(2)}, {}, "y must hold integer labels, got dtype float64"),
    ({"X": np.ones((2, 2)), "y": np.zeros((2, 1), dtype=int)}, {}, "y must be 1-D"),
    ({"X": np.array([[1.0, np.nan]]), "y": np.zeros(1, dtype=int)}, {}, "X[0, 1] is nan; all values must be finite"),
    ({"X": np.array([["a"]]), "y": np.zeros(1, dtype=int)}, {}, "X must hold real numbers, got dtype <U1"),
    ({"X": np.ones((2, 2)), "y": np.array([0, -1])}, {}, "y[1] = -1 is negative"),
    ({"X": np.ones((2, 2)), "y": np.array([0, 5])}, {"n_classes": 5},
     "y[1] = 5 is out of range: n_classes=5 allows 0..4"),
    ({"X": np.ones((2, 2)), "y": np.array([0, 1])}, {"n_features": 3}, "X has 2 features, expected n_features=3"),
    ({"X": np.ones((0, 2)), "y": np.zeros(0, dtype=int)}, {}, "X is empty"),
]


@pytest.mark.parametrize("arrays,kwargs,expected", BAD_NPZ, ids=[str(i) for i in range(len(BAD_NPZ))])
def test_read_npz_rejects(tmp_path, arrays, kwargs, expected):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError) as info:
        fio.read_npz(path, **kwargs)
    assert str(info.value).startswith(f"{path}: {expected}"), str(info.value)


def test_read_npz_not_an_archive(tmp_path):
    path = _write(tmp_path, CLEAN, "d.npz")
    with pytest.raises(DataFormatError, match=r"d\.npz: not a readable \.npz archive"):
        fio.read_npz(path)
    with pytest.raises(DataFormatError, match="does not exist"):
        fio.read_npz(tmp_path / "missing.npz")


def test_read_npz_never_unpickles(tmp_path):
    sentinel = tmp_path / "pwned"
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([_Payload(sentinel)], dtype=object), y=np.arange(1))
    with pytest.raises(DataFormatError, match="holds Python objects"):
        fio.read_npz(path)
    assert not sentinel.exists()


def test_load_dataset_dispatches(tmp_path):
    X, y = fio.load_dataset(_write(tmp_path, CLEAN, "a.CSV"))
    np.testing.assert_array_equal(X, CLEAN_X)
    np.savez(tmp_path / "b.npz", X=CLEAN_X, y=CLEAN_Y)
    X2, y2 = fio.load_dataset(tmp_path / "b.npz", n_classes=3)
    np.testing.assert_array_equal(X2, CLEAN_X)
    np.testing.assert_array_equal(y2, CLEAN_Y)
    with pytest.raises(DataFormatError, match=r"c\.json: unsupported data file type '\.json'; use \.csv"):
        fio.load_dataset(tmp_path / "c.json")
    with pytest.raises(DataFormatError, match=r"unsupported data file type '\(no suffix\)'"):
        fio.load_dataset(tmp_path / "c")


# ----------------------------------------------------------------------------
# model files without the Network class

W0 = np.array([[0.0, 1.0, -1.0], [0.5, -2.0, 1.0], [-0.25, 0.75, 0.5]])
W1 = np.array([[0.0, 4.0, -2.0, 0.0], [0.5, -3.0, 3.0, -1.0], [-1.0, 0.0, 0.0, 4.0]])


class _Payload:
    """Unpickling this creates the file ``path``: proof that a loader unpickled data."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _model_file(tmp_path, name="m.npz", **kwargs):
    path = tmp_path / name
    fio.write_model(path, [W0, W1], **kwargs)
    return path


def _raw_model(path, metadata=None, **arrays):
    """Write an npz with the given entries; ``metadata`` (a dict) is stored as JSON bytes."""
    if metadata is not None:
        arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


def _valid_meta(**changes):
    """Metadata of the W0/W1 model; a change to None removes that key."""
    meta = {
        "format": "fastnn-model", "format_version": 1, "fastnn_version": "0.1.0",
        "layer_sizes": [2, 3, 3], "output": "softmax", "dtype": "float64",
        "classes": [0, 1, 2], "n_features": 2,
    }
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not None}


def test_write_read_model_round_trip(tmp_path):
    path = _model_file(tmp_path, metadata={"epochs": np.int64(3), "val_loss": np.float32(0.5),
                                             "history": np.array([1.0, 0.5]), "interrupted": True})
    weights, meta = fio.read_model(path)
    assert len(weights) == 2
    for got, want in zip(weights, [W0, W1]):
        assert got.dtype == np.float64 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
    assert meta["format"] == "fastnn-model" and meta["format_version"] == 1
    assert meta["layer_sizes"] == [2, 3, 3] and meta["n_features"] == 2
    assert meta["output"] == "softmax" and meta["dtype"] == "float64" and meta["classes"] == [0, 1, 2]
    assert meta["epochs"] == 3 and meta["val_loss"] == 0.5 and meta["history"] == [1.0, 0.5]
    assert meta["interrupted"] is True
    if fastnn is not None:
        assert meta["fastnn_version"] == fastnn.__version__
    with np.load(path, allow_pickle=False) as npz:
        assert npz["metadata"].dtype == np.uint8
        assert sorted(npz.files) == ["W0", "W1", "metadata"]


def test_write_model_float32_and_sigmoid(tmp_path):
    Wa = np.array([[0.5, 1.0], [-0.5, 2.0]], dtype=np.float32)
    Wb = np.array([[0.25, -1.0, 1.0]], dtype=np.float32)
    path = tmp_path / "s.npz"
    fio.write_model(path, [Wa, Wb], classes=np.array(["no", "yes"]))
    weights, meta = fio.read_model(path)
    assert meta["output"] == "sigmoid" and meta["dtype"] == "float32" and meta["classes"] == ["no", "yes"]
    assert [W.dtype for W in weights] == [np.float32, np.float32]
    np.testing.assert_array_equal(weights[1], Wb)


BAD_WRITES = [
    ({"weights": []}, "non-empty list"),
    ({"weights": [W0, W0]}, "needs 4 columns"),
    ({"weights": [W0, W1 * np.nan]}, "NaN or infinite"),
    ({"weights": [W0, W1.astype(np.float32)]}, r"mixed dtypes \['float32', 'float64'\]; pass dtype="),
    ({"weights": [W0.astype(np.float16), W1.astype(np.float16)]}, "dtype must be float64 or float32"),
    ({"weights": [W0.astype(int), W1]}, "mixed dtypes"),
    ({"weights": [W0.astype(int), W1], "dtype": "float64"}, r"weights\[0\] must be a 2-D float array"),
    ({"weights": [W0[0], W1]}, r"weights\[0\] must be a 2-D float array"),
    ({"weights": W0}, "non-empty list"),
    ({"output": "sigmoid"}, "sigmoid output has 1 unit"),
    ({"output": "relu"}, "output must be one of 'softmax', 'sigmoid', 'multilabel', 'identity'"),
    ({"classes": [0, 1]}, "'classes' has 2 entries"),
    ({"classes": [0, 1, 1]}, "duplicates"),
    ({"metadata": {"dtype": "x"}}, r"metadata keys \['dtype'\] are reserved"),
    ({"metadata": {"f": object()}}, "not JSON-serialisable"),
    ({"metadata": {1: 2}}, "keys must be strings"),
    ({"metadata": [1]}, "metadata must be a dict"),
]


@pytest.mark.parametrize("kwargs,expected", BAD_WRITES, ids=[str(i) for i in range(len(BAD_WRITES))])
def test_write_model_rejects(tmp_path, kwargs, expected):
    weights = kwargs.pop("weights", [W0, W1])
    with pytest.raises(ValueError, match=expected):
        fio.write_model(tmp_path / "m.npz", weights, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_fixture_model_v1_reads_back():
    """tests/fixtures/model_v1.npz was written once by write_model (format version 1); it must stay readable."""
    weights, meta = fio.read_model(FIXTURES / "model_v1.npz")
    np.testing.assert_array_equal(weights[0], W0)
    np.testing.assert_array_equal(weights[1], W1)
    assert meta["format"] == "fastnn-model" and meta["format_version"] == 1
    assert meta["layer_sizes"] == [2, 3, 3] and meta["output"] == "softmax" and meta["dtype"] == "float64"
    assert meta["classes"] == ["a", "e", "g"]
    assert meta["interrupted"] is False and meta["epochs"] == 0


def test_truncated_at_every_byte(tmp_path):
    data = _model_file(tmp_path).read_bytes()
    cut = tmp_path / "cut.npz"
    for size in range(len(data)):
        cut.write_bytes(data[:size])
        with pytest.raises(ModelFormatError):
            fio.read_model(cut)


def test_corrupted_bytes_are_rejected_or_harmless(tmp_path):
    """Flipping any one byte gives ModelFormatError, or (e.g. in an unused field) a valid model."""
    data = bytearray(_model_file(tmp_path).read_bytes())
    bad = tmp_path / "bad.npz"
    for i in range(len(data)):
        for mask in (0xFF, 0x01):
            data[i] ^= mask
            bad.write_bytes(bytes(data))
            data[i] ^= mask
            try:
                weights, _ = fio.read_model(bad)
            except ModelFormatError:
                continue
            np.testing.assert_array_equal(weights[0], W0)
            np.testing.assert_array_equal(weights[1], W1)


LYING = [
    # (metadata changes, other array changes, expected message part)
    ({"format": "other"}, {}, "'format' is 'other', not 'fastnn-model'"),
    ({"format_version": 3, "layer_sizes": None, "classes": None}, {},
     "model format version 3, written by a newer fastnn; this version reads format version 2: upgrade fastnn"),
    ({"format_version": 2}, {}, "metadata key 'activation' is missing"),
    ({"format_version": 2, "activation": ["tanh", "relu"]}, {}, "must list one of 'logistic'"),
    ({"format_version": 2, "activation": ["swish"]}, {}, "must list one of 'logistic'"),
    ({"format_version": 2, "activation": ["relu"], "output": "identity", "classes": []}, {}, None),
    ({"format_version": 2, "activation": ["relu"], "output": "identity"}, {},
     "'classes' has 3 entries but the identity output"),
    ({"output": "identity", "classes": []}, {}, "'output' must be 'softmax' or 'sigmoid'"),
    ({"format_version": 0}, {}, "'format_version' must be a positive integer"),
    ({"format_version": None}, {}, "metadata key 'format_version' is missing"),
    ({"format": None}, {}, "metadata key 'format' is missing: this is not a fastnn model file"),
    ({"classes": None}, {}, "metadata key 'classes' is missing"),
    ({"fastnn_version": None}, {}, None),  # optional: the file loads
    ({"format_version": "1"}, {}, "'format_version' must be a positive integer"),
    ({"format_version": True}, {}, "'format_version' must be a positive integer"),
    ({"layer_sizes": [2, 0, 3]}, {}, "layer_sizes[1] = 0 is out of range"),
    ({"layer_sizes": [2, -1, 3]}, {}, "layer_sizes[1] = -1 is out of range"),
    ({"layer_sizes": [2, 2**31, 3]}, {}, "layer_sizes[1] = 2147483648 is out of range"),
    ({"layer_sizes": [2, 3.0, 3]}, {}, "layer_sizes[1] must be an integer, got 3.0"),
    ({"layer_sizes": [2, "3", 3]}, {}, "layer_sizes[1] must be an integer"),
    ({"layer_sizes": [2, True, 3]}, {}, "layer_sizes[1] must be an integer"),
    ({"layer_sizes": [2]}, {}, "'layer_sizes' must be a list"),
    ({"layer_sizes": "2,3,3"}, {}, "'layer_sizes' must be a list"),
    ({"layer_sizes": [2, 4, 3]}, {}, "W0 has shape (3, 3) but layer_sizes 2 -> 4 needs (4, 3)"),
    ({"layer_sizes": [2, 3, 3, 3]}, {}, "declares 3 weight matrices (W0, W1, W2) but the file holds 2"),
    ({"layer_sizes": [2, 3]}, {}, "declares 1 weight matrices"),
    ({"layer_sizes": [2, 3, 3], "n_features": 3}, {}, "'n_features' is 3 but layer_sizes starts with 2"),
    ({"dtype": "float32"}, {}, "W0 has dtype float64 but the metadata says float32"),
    ({"dtype": "int64"}, {}, "'dtype' must be 'float64' or 'float32'"),
    ({"output": "tanh"}, {}, "'output' must be 'softmax' or 'sigmoid'"),
    ({"output": "sigmoid"}, {}, "a sigmoid output has 1 unit, but layer_sizes ends in 3"),
    ({"classes": [0, 1]}, {}, "'classes' has 2 entries but the softmax output with 3 unit(s) means 3 classes"),
    ({"classes": "abc"}, {}, "'classes' must be a list"),
    ({"classes": [0, 1, [2]]}, {}, "'classes' must hold strings or numbers"),
    ({"fastnn_version": 1}, {}, "'fastnn_version' must be a string or null"),
    ({}, {"W1": W1 * np.nan}, "W1[0, 0] is nan; a model's weights must be finite"),
    ({}, {"W0": np.where(W0 == 0.5, np.inf, W0)}, "W0[1, 0] is inf"),
    ({}, {"W1": W1.T}, "W1 has shape (4, 3) but layer_sizes 3 -> 3 needs (3, 4)"),
    ({}, {"W1": W1.astype(np.float32)}, "W1 has dtype float32 but the metadata says float64"),
    ({}, {"W1": W1.astype(np.int64)}, "W1 has dtype int64"),
    ({}, {"W1": None}, "declares 2 weight matrices (W0, W1) but the file holds 1"),
    ({}, {"W1": None, "W7": W1}, "weight array 'W1' is missing"),
    ({}, {"extra": W1}, "declares 2 weight matrices (W0, W1) but the file holds 3"),
]


@pytest.mark.parametrize("changes,arrays,expected", LYING, ids=[str(i) for i in range(len(LYING))])
def test_lying_model_files(tmp_path, changes, arrays, expected):
    entries = {"W0": W0, "W1": W1, **arrays}
    entries = {k: v for k, v in entries.items() if v is not None}
    path = _raw_model(tmp_path / "m.npz", _valid_meta(**changes), **entries)
    if expected is None:
        weights, _ = fio.read_model(path)
        np.testing.assert_array_equal(weights[1], W1)
        return
    with pytest.raises(ModelFormatError) as info:
        fio.read_model(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_sigmoid_model_class_count(tmp_path):
    Wb = np.array([[0.0, 1.0, 1.0, 1.0]])
    meta = _valid_meta(output="sigmoid", layer_sizes=[2, 3, 1])
    with pytest.raises(ModelFormatError, match="'classes' has 3 entries but the sigmoid output with 1 unit"):
        fio.read_model(_raw_model(tmp_path / "m.npz", meta, W0=W0, W1=Wb))
    meta["classes"] = [0, 1]
    weights, _ = fio.read_model(_raw_model(tmp_path / "m.npz", meta, W0=W0, W1=Wb))
    np.testing.assert_array_equal(weights[1], Wb)
    meta = _valid_meta(output="softmax", layer_sizes=[2, 3, 1], classes=[0])
    with pytest.raises(ModelFormatError, match="a softmax output needs at least 2 units"):
        fio.read_model(_raw_model(tmp_path / "m.npz", meta, W0=W0, W1=Wb))


@pytest.mark.parametrize(
    "metadata,expected",
    [
        (None, "the 'metadata' entry is missing"),
        (np.frombuffer(b"\xff\xfe{}", dtype=np.uint8), "'metadata' is not UTF-8 text"),
        (np.frombuffer(b"{not json", dtype=np.uint8), "'metadata' is not valid JSON"),
        (np.frombuffer(b"[" * 100_000, dtype=np.uint8), "'metadata' is not valid JSON"),
        (np.frombuffer(b"[1, 2]", dtype=np.uint8), "metadata must be a JSON object, got list"),
        (np.frombuffer(b"{}", dtype=np.uint8), "metadata key 'format' is missing"),
        (np.array([json.dumps(_valid_meta())]), "'metadata' must be a 1-D uint8 array"),
        (np.frombuffer(json.dumps(_valid_meta()).encode(), dtype=np.uint8).reshape(1, -1),
         "'metadata' must be a 1-D uint8 array"),
    ],
    ids=["missing", "not-utf8", "not-json", "deep-json", "json-list", "no-keys", "unicode-array", "2d"],
)
def test_bad_metadata_entry(tmp_path, metadata, expected):
    entries = {"W0": W0, "W1": W1}
    if metadata is not None:
        entries["metadata"] = metadata
    path = tmp_path / "m.npz"
    np.savez(path, **entries)
    with pytest.raises(ModelFormatError, match=expected.replace("(", r"\(").replace("[", r"\[")):
        fio.read_model(path)


def test_huge_json_integer_is_rejected(tmp_path):
    path = tmp_path / "m.npz"
    text = json.dumps(_valid_meta()).replace('"n_features": 2', '"n_features": ' + "9" * 5000)
    np.savez(path, W0=W0, W1=W1, metadata=np.frombuffer(text.encode(), dtype=np.uint8))
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        fio.read_model(path)


def _npy_bytes(header, payload=b""):
    import io as _io

    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + payload


def test_lying_npy_header_is_caught_before_allocation(tmp_path):
    """An entry that declares a (2**40, 2**40) array but holds 24 bytes is refused unread."""
    path = tmp_path / "m.npz"
    meta = np.frombuffer(json.dumps(_valid_meta()).encode(), dtype=np.uint8)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("W0.npy", _npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (2**40, 2**40)}, b"\0" * 24))
        zf.writestr("W1.npy", _npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (3, 4)}, W1.tobytes()))
        buf = __import__("io").BytesIO()
        np.save(buf, meta)
        zf.writestr("metadata.npy", buf.getvalue())
    with pytest.raises(ModelFormatError, match=r"array 'W0' declares shape \(1099511627776, 1099511627776\)"):
        fio.read_model(path)


def test_other_zip_entries_and_compression(tmp_path):
    path = _model_file(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(ModelFormatError, match="unexpected entry 'notes.txt'"):
        fio.read_model(path)
    # a compressed model file (e.g. rewritten with savez_compressed) is still read
    weights, meta = fio.read_model(_model_file(tmp_path, "c.npz"))
    with np.load(tmp_path / "c.npz") as npz:
        entries = {k: npz[k] for k in npz.files}
    np.savez_compressed(tmp_path / "c.npz", **entries)
    weights2, meta2 = fio.read_model(tmp_path / "c.npz")
    np.testing.assert_array_equal(weights2[1], weights[1])
    assert meta2 == meta


def test_not_a_model_file(tmp_path):
    for name, content in [("text.npz", b"hello, world\n"), ("empty.npz", b""),
                          ("zeros.npz", b"\0" * 4096)]:
        with pytest.raises(ModelFormatError, match=r"not a readable fastnn model file"):
            fio.read_model(_write(tmp_path, content, name))
    np.save(tmp_path / "arr.npy", W0)
    with pytest.raises(ModelFormatError, match="not a readable fastnn model file"):
        fio.read_model(tmp_path / "arr.npy")
    with pytest.raises(ModelFormatError, match="cannot read the model file: it does not exist"):
        fio.read_model(tmp_path / "missing.npz")
    with pytest.raises(ModelFormatError, match="cannot read the model file: it is a directory"):
        fio.read_model(tmp_path)


def test_pickle_payloads_are_never_unpickled(tmp_path):
    sentinel = tmp_path / "pwned"
    # the payload is live: unpickling it really creates the file
    check = tmp_path / "check"
    pickle.loads(pickle.dumps(_Payload(check)))
    assert check.exists()
    # 1. an object array inside an otherwise valid model file
    path = tmp_path / "obj.npz"
    meta = np.frombuffer(json.dumps(_valid_meta()).encode(), dtype=np.uint8)
    np.savez(path, W0=np.array([[_Payload(sentinel)]], dtype=object), W1=W1, metadata=meta)
    with pytest.raises(ModelFormatError, match="holds Python objects"):
        fio.read_model(path)
    # 2. the metadata entry itself pickled
    np.savez(path, W0=W0, W1=W1, metadata=np.array([_Payload(sentinel)], dtype=object))
    with pytest.raises(ModelFormatError, match="holds Python objects"):
        fio.read_model(path)
    # 3. a bare pickle file with a model's name
    path = tmp_path / "raw.npz"
    path.write_bytes(pickle.dumps(_Payload(sentinel)))
    with pytest.raises(ModelFormatError):
        fio.read_model(path)
    assert not sentinel.exists()


# ----------------------------------------------------------------------------
# atomic saving


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_save_replaces_and_sets_normal_permissions(tmp_path):
    path = _model_file(tmp_path)
    fio.write_model(path, [W0 * 2, W1])
    weights, _ = fio.read_model(path)
    np.testing.assert_array_equal(weights[0], W0 * 2)
    assert _listing(tmp_path) == ["m.npz"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("where", ["savez", "fsync"])
def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch, where):
    path = _model_file(tmp_path)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    if where == "savez":
        monkeypatch.setattr(np, "savez", broken_savez)
    else:
        monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        fio.write_model(path, [W0 * 2, W1])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["m.npz"]


def test_failed_save_with_keyboard_interrupt_leaves_no_temp_file(tmp_path, monkeypatch):
    def interrupted(f, **arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fio.write_model(tmp_path / "m.npz", [W0, W1])
    assert _listing(tmp_path) == []


def test_save_onto_a_directory_fails_cleanly(tmp_path):
    (tmp_path / "m.npz").mkdir()
    with pytest.raises(OSError):
        fio.write_model(tmp_path / "m.npz", [W0, W1])
    assert _listing(tmp_path) == ["m.npz"] and (tmp_path / "m.npz").is_dir()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root may write into read-only folders (the monkeypatched failures cover this)")
def test_save_into_read_only_folder(tmp_path):
    path = _model_file(tmp_path)
    before = path.read_bytes()
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(PermissionError):
            fio.write_model(path, [W0 * 2, W1])
    finally:
        tmp_path.chmod(stat.S_IRWXU)
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["m.npz"]


# ----------------------------------------------------------------------------
# with fastnn.Network


def _oracle_proba(weights, X, output="softmax"):
    z = X
    for W in weights[:-1]:
        z = 1 / (1 + np.exp(-(z @ W[:, 1:].T + W[:, 0])))
    a = z @ weights[-1][:, 1:].T + weights[-1][:, 0]
    if output == "sigmoid":
        p = 1 / (1 + np.exp(-a[:, 0]))
        return np.column_stack([1 - p, p])
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


FIXTURE_X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 2.0], [2.0, -1.0]])
FIXTURE_LABELS = np.array([0, 1, 2, 1, 0])


def test_fixture_oracle_labels():
    np.testing.assert_array_equal(np.argmax(_oracle_proba([W0, W1], FIXTURE_X), axis=1), FIXTURE_LABELS)


@needs_network
def test_fixture_model_v1_loads_and_predicts():
    net = fio.load(FIXTURES / "model_v1.npz")
    assert isinstance(net, Network)
    assert net.metadata_["format_version"] == 1 and net.metadata_["classes"] == ["a", "e", "g"]
    np.testing.assert_array_equal(net.predict(FIXTURE_X), FIXTURE_LABELS)
    np.testing.assert_allclose(net.predict_proba(FIXTURE_X), _oracle_proba([W0, W1], FIXTURE_X), rtol=1e-12)


@needs_network
@pytest.mark.parametrize("output,dtype", [("softmax", "float64"), ("softmax", "float32"),
                                          ("sigmoid", "float64"), ("sigmoid", "float32")])
def test_save_load_round_trip(tmp_path, output, dtype):
    rng = np.random.default_rng(0)
    n_out = 1 if output == "sigmoid" else 4
    weights = [rng.normal(size=(5, 4)), rng.normal(size=(3, 6)), rng.normal(size=(n_out, 4))]
    net = Network.from_weights(weights, output=output, dtype=dtype)
    X = rng.normal(size=(50, 3))
    path = tmp_path / "net.npz"
    fio.save(net, path, metadata={"learning_rate": 0.1, "interrupted": False})
    loaded = fio.load(path)
    assert loaded.output == output and np.dtype(loaded.dtype) == np.dtype(dtype)
    for a, b in zip(loaded.weights_, net.weights_):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert loaded.metadata_["output"] == output and loaded.metadata_["dtype"] == dtype
    assert loaded.metadata_["learning_rate"] == 0.1 and loaded.metadata_["interrupted"] is False
    assert loaded.metadata_["classes"] == [0, 1] if output == "sigmoid" else [0, 1, 2, 3]


@needs_network
def test_save_load_fitted_network(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    net = Network(hidden=(5,), epochs=2, learning_rate=0.1, random_state=0).fit(X, y)
    path = tmp_path / "fitted.npz"
    fio.save(net, path, metadata={"epochs": 2, "final_train_loss": net.history_["train_loss"][-1]})
    loaded = fio.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    assert loaded.metadata_["final_train_loss"] == net.history_["train_loss"][-1]


@needs_network
def test_save_unfitted_network(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        fio.save(Network(), tmp_path / "n.npz")
    assert _listing(tmp_path) == []


# ----------------------------------------------------------------------------
# one CSV grammar: label modes and header


def test_read_csv_without_labels(tmp_path):
    X = fio.read_csv(_write(tmp_path, "0.5,-2\n1e-3,3\n0,.25\n"), labels=None)
    np.testing.assert_array_equal(X, CLEAN_X)
    assert X.dtype == np.float64 and X.flags.c_contiguous
    X1 = fio.read_csv(_write(tmp_path, "7\n8\n", "one.csv"), labels=None)
    assert X1.shape == (2, 1)


@pytest.mark.parametrize("content,kwargs,expected", [
    ("0.5,-2\n1,2,3\n", {}, ":2: expected 2 fields, found 3"),
    ("0.5,-2\n1,abc\n", {}, ":2:2: 'abc' is not a number"),
    ("1,2\n", {"n_features": 3}, ":1: expected 3 fields (n_features=3 values), found 2"),
    ("x1,x2\n1,2\n", {}, ":1: this looks like a header line (first field 'x1')"),
    ("1,2\n\n3,4\n", {}, ":2: blank line"),
])
def test_read_csv_without_labels_rejects_with_location(tmp_path, content, kwargs, expected):
    path = _write(tmp_path, content)
    with pytest.raises(DataFormatError) as info:
        fio.read_csv(path, labels=None, **kwargs)
    assert str(info.value).startswith(str(path) + expected), str(info.value)


def test_read_csv_header_is_skipped_and_lines_keep_their_numbers(tmp_path):
    path = _write(tmp_path, "label,x1,x2\r\n" + CLEAN.replace("\n", "\r\n"))
    X, y = fio.read_csv(path, header=True)
    np.testing.assert_array_equal(X, CLEAN_X)
    np.testing.assert_array_equal(y, CLEAN_Y)
    bad = _write(tmp_path, "label,x1,x2\n1,0,0\n2,0,zz\n", "bad.csv")
    with pytest.raises(DataFormatError, match=r"bad\.csv:3:3: 'zz' is not a number"):
        fio.read_csv(bad, header=True)
    with pytest.raises(DataFormatError, match="header line but no data rows"):
        fio.read_csv(_write(tmp_path, "\ufeffa,b,c\n\n", "only.csv"), header=True)
    with pytest.raises(DataFormatError, match=r"header line .*header=True"):
        fio.read_csv(_write(tmp_path, "label,x1\n1,0\n", "h.csv"))


def test_read_csv_text_labels(tmp_path):
    path = _write(tmp_path, " cat ,0.5,-2\ndog,1e-3,3\r\ncat,0,.25\n")
    X, y = fio.read_csv(path, labels="str")
    np.testing.assert_array_equal(X, CLEAN_X)
    assert y.tolist() == ["cat", "dog", "cat"] and y.dtype.kind == "U"
    assert fio.read_csv(path, labels="auto")[1].tolist() == ["cat", "dog", "cat"]
    # numbers stay integer labels under "auto", with the same checks as "int"
    X, y = fio.read_csv(_write(tmp_path, CLEAN, "int.csv"), labels="auto")
    assert y.dtype == np.int64 and y.tolist() == CLEAN_Y.tolist()
    with pytest.raises(DataFormatError, match=r":2:1: label '3.5' is not an integer"):
        fio.read_csv(_write(tmp_path, "1,0\n3.5,0\n", "f.csv"), labels="auto")
    # a header over text labels is recognised by its second field
    with pytest.raises(DataFormatError, match=r":1: this looks like a header line \(second field 'x1'\)"):
        fio.read_csv(_write(tmp_path, "label,x1,x2\na,0,0\n", "hs.csv"), labels="auto")
    assert fio.read_csv(_write(tmp_path, "label,x1,x2\na,0,0\n", "hs.csv"), labels="auto",
                        header=True)[1].tolist() == ["a"]


@pytest.mark.parametrize("content,expected", [
    ("a,0\nb\n", ":2: expected at least 2 fields (label,x1,...,xm), found 1"),
    ("a,0\n,1\n", ":2:1: empty label"),
    ("a,0,1\nb,0\n", ":2: expected 3 fields, found 2"),
    ("a,0,1\nb,0,q\n", ":2:3: 'q' is not a number"),
    ("a,0\n\nb,1\n", ":2: blank line"),
])
def test_read_csv_text_labels_reject_with_location(tmp_path, content, expected):
    path = _write(tmp_path, content)
    with pytest.raises(DataFormatError) as info:
        fio.read_csv(path, labels="str")
    assert str(info.value).startswith(str(path) + expected), str(info.value)


def test_read_csv_in_pieces_equals_one_piece(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 7))
    y = rng.integers(0, 5, size=300)
    body = "".join(f"{label}," + ",".join(f"{v:.17g}" for v in row) + "\r\n" for label, row in zip(y, X))
    path = _write(tmp_path, "\ufeff" + body + "\n \n")
    whole = fio.read_csv(path)
    monkeypatch.setattr(fcsv, "_PARSE_CHUNK", 97)  # pieces end at line ends, in the middle of the file
    seen = []
    pieces = fio.read_csv(path, progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_array_equal(whole[0], X)
    np.testing.assert_array_equal(pieces[0], X)
    np.testing.assert_array_equal(pieces[1], y)
    assert len(seen) > 10 and seen[-1][0] == seen[-1][1] and seen == sorted(seen)
    lines = body.split("\r\n")
    lines[250] += ",9"
    broken = _write(tmp_path, "\r\n".join(lines), "r.csv")
    with pytest.raises(DataFormatError, match=r"r\.csv:251: expected 8 fields, found 9"):
        fio.read_csv(broken)


# ----------------------------------------------------------------------------
# one npz reader for every caller; regular files only


def test_read_npz_features_only(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, X=CLEAN_X)
    np.testing.assert_array_equal(fio.read_npz(path, labels=None), CLEAN_X)
    np.testing.assert_array_equal(fio.load_dataset(path, labels=None, n_features=2), CLEAN_X)
    with pytest.raises(DataFormatError, match="'y' is missing"):
        fio.read_npz(path)
    np.savez(tmp_path / "s.npz", X=CLEAN_X, y=np.array(["b", "a", "b"]))
    assert fio.read_npz(tmp_path / "s.npz", labels="auto")[1].tolist() == ["b", "a", "b"]
    with pytest.raises(DataFormatError, match="integer labels"):
        fio.read_npz(tmp_path / "s.npz")


def _lying_npz(path, key="X", shape=(10**6, 10**6)):
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    buffer = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{key}.npy", buffer.getvalue() + b"\0" * 64)
    return path


def test_read_npz_features_only_checks_the_headers(tmp_path):
    path = _lying_npz(tmp_path / "lie.npz")
    with pytest.raises(DataFormatError, match=r"declares shape \(1000000, 1000000\)"):
        fio.read_npz(path, labels=None)
    npy = tmp_path / "array.npz"
    np.save(tmp_path / "array.npy", CLEAN_X)
    (tmp_path / "array.npy").rename(npy)
    with pytest.raises(DataFormatError, match="not a readable .npz archive"):
        fio.read_npz(npy, labels=None)


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"), reason="needs /dev/zero, mkfifo")
def test_non_regular_inputs_are_refused(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataFormatError, match=r"pipe\.csv: cannot read the file: it is a named pipe \(FIFO\)"):
        fio.read_csv(fifo)
    with pytest.raises(ModelFormatError, match="/dev/zero: cannot read the model file: it is a character device"):
        fio.load("/dev/zero")
    with pytest.raises(DataFormatError, match="character device"):
        fio.read_npz("/dev/zero")


# ----------------------------------------------------------------------------
# MLPClassifier through save/load


@needs_network
@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
@pytest.mark.parametrize("labels", [[0, 1, 2], ["a", "b", "c"], ["no", "yes"]])
def test_save_load_mlpclassifier(tmp_path, labels):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 4))
    y = np.asarray(labels)[rng.integers(0, len(labels), size=60)]
    clf = fastnn.MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    path = tmp_path / "clf.npz"
    fio.save(clf, path, metadata={"note": "x"})
    net = fio.load(path)
    np.testing.assert_array_equal(net.predict_proba(X), clf.predict_proba(X))
    classes = np.asarray(net.metadata_["classes"])
    assert classes.tolist() == clf.classes_.tolist()
    np.testing.assert_array_equal(classes[net.predict(X)], clf.predict(X))
    assert net.metadata_["saved_from"]["class"] == "MLPClassifier"
    assert net.metadata_["saved_from"]["params"]["max_iter"] == 3 and net.metadata_["note"] == "x"
    with pytest.raises(ValueError, match="not fitted"):
        fio.save(fastnn.MLPClassifier(), tmp_path / "u.npz")


def test_writing_never_changes_the_umask(tmp_path, monkeypatch):
    def forbidden(mask):
        raise AssertionError("os.umask was called")

    monkeypatch.setattr(os, "umask", forbidden)
    fio.write_atomic(tmp_path / "a.txt", "x\n")
    fio.write_model(tmp_path / "m.npz", [W0, W1])
    assert (tmp_path / "a.txt").read_text() == "x\n"


def test_the_optional_pandas_fast_path_reads_the_same_numbers(tmp_path, monkeypatch):
    parser = fio._pandas_parser()
    if parser is None:
        pytest.skip("pandas is not installed")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 6)) * 10.0 ** rng.integers(-300, 300, size=(400, 6))
    y = rng.integers(0, 4, size=400)
    body = "\n".join(f"{label}," + ",".join(f"{v:.17g}" for v in row) for label, row in zip(y, X))
    via_pandas = fio._csv_fast(body, None, None, parser=parser)
    via_numpy = fio._csv_fast(body, None, None)
    np.testing.assert_array_equal(via_pandas[0], X)
    np.testing.assert_array_equal(via_numpy[0], X)
    np.testing.assert_array_equal(via_pandas[1], y)
    for bad in (body + "\n1,2", body.replace(",", ",,", 1), body + "\n\n1," + "0," * 5 + "0"):
        assert fio._csv_fast(bad, None, None, parser=parser) is None
    monkeypatch.setattr(fcsv, "_PANDAS_MIN_BYTES", 0)
    path = _write(tmp_path, body + "\n1,0,0\n")
    with pytest.raises(DataFormatError, match=r":401: expected 7 fields, found 3"):
        fio.read_csv(path)
    X2, y2 = fio.read_csv(_write(tmp_path, body + "\n", "ok.csv"))
    np.testing.assert_array_equal(X2, X)
