"""Regression data files: ``labels="float"`` (real-valued targets first) for CSV and npz.

Messages start with the full path of the file; the patterns match from its name on.
"""

import numpy as np
import pytest

from fastnn import _csv as fcsv
from fastnn import io as fio


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_text(Y, X):
    return "".join(",".join(f"{v:.17g}" for v in row) + "\n" for row in np.column_stack([Y, X]))


@pytest.fixture
def regression_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = np.column_stack([X @ [1.5, -2.0, 0.25] + 3.0, rng.normal(scale=1e6, size=40)])
    return X, Y


def test_one_target_is_the_first_column(tmp_path, regression_rows):
    X, Y = regression_rows
    X_read, y = fio.read_csv(write(tmp_path, csv_text(Y[:, 0], X)), labels="float")
    assert y.dtype == np.float64 and y.shape == (40,)
    assert X_read.dtype == np.float64 and X_read.flags.c_contiguous
    np.testing.assert_array_equal(y, Y[:, 0])
    np.testing.assert_array_equal(X_read, X)


def test_k_targets_are_the_first_k_columns(tmp_path, regression_rows):
    X, Y = regression_rows
    path = write(tmp_path, csv_text(Y, X))
    X_read, y = fio.read_csv(path, labels="float", targets=2)
    assert y.shape == (40, 2)
    np.testing.assert_array_equal(y, Y)
    np.testing.assert_array_equal(X_read, X)
    # the same rows as one target and one more feature
    X_one, y_one = fio.load_dataset(path, labels="float", n_features=4)
    np.testing.assert_array_equal(y_one, Y[:, 0])
    np.testing.assert_array_equal(X_one, np.column_stack([Y[:, 1], X]))


@pytest.mark.parametrize("path_taken", ["careful reader", "pandas", "tiny pieces"])
def test_every_parser_path_reads_the_same_targets(tmp_path, regression_rows, monkeypatch, path_taken):
    X, Y = regression_rows
    path = write(tmp_path, "a,b,c,d,e\n" + csv_text(Y, X))
    if path_taken == "careful reader":
        monkeypatch.setattr(fcsv, "_csv_fast", lambda *args, **kwargs: None)
    elif path_taken == "pandas":
        pytest.importorskip("pandas")
        monkeypatch.setattr(fcsv, "_PANDAS_MIN_BYTES", 0)
    else:
        monkeypatch.setattr(fcsv, "_PARSE_CHUNK", 7)
    X_read, y = fio.read_csv(path, labels="float", targets=2, header=True)
    np.testing.assert_array_equal(y, Y)
    np.testing.assert_array_equal(X_read, X)


BAD_CSV = [
    ("1.5,0,1\n2,1,0\nabc,2,2\n", {}, r"bad\.csv:3:1: target 'abc' is not a number$"),
    ("1.5,0,1\n2,1,0\ncat,2,2\n", {"targets": 2}, r"bad\.csv:3:1: target 'cat' is not a number$"),
    ("1.5,0,1\n2,x,0\n", {"targets": 2}, r"bad\.csv:2:2: target 'x' is not a number$"),
    ("1.5,0,1\n2,0,x\n", {"targets": 2}, r"bad\.csv:2:3: 'x' is not a number$"),
    ("1,2\n3,inf\n", {}, r"bad\.csv:2:2: non-finite value 'inf'$"),
    ("1,2\n-inf,2\n", {}, r"bad\.csv:2:1: non-finite value '-inf'$"),
    ("1,2,3\n,2,3\n", {"targets": 2}, r"bad\.csv:2:1: empty field \(expected a number\)$"),
    ("1,2,3\n4,5,6\n", {"targets": 4}, r"bad\.csv:1: expected at least 5 fields \(y1,...,y4,x1,...,xm\)"),
    ("1e999,2\n", {}, r"bad\.csv:1:1: non-finite value '1e999' \(too large for float64\)$"),
    ("price,a\n1,2\n", {}, r"bad\.csv:1: this looks like a header line .* every line is 'y,x1,...,xm'"),
    ("1\n2\n", {}, r"bad\.csv:1: expected at least 2 fields \(y,x1,...,xm\), found 1$"),
    ("1,2,3\n", {"targets": 3}, r"bad\.csv:1: expected at least 4 fields \(y1,...,y3,x1,...,xm\), found 3$"),
    ("1,2,3\n", {"n_features": 3}, r"bad\.csv:1: expected 4 fields \(the target and n_features=3 values\)"),
    ("1,2,3\n", {"targets": 2, "n_features": 2}, r"bad\.csv:1: expected 4 fields \(2 targets and n_features=2"),
    ("1,2,3\n4,5\n", {}, r"bad\.csv:2: expected 3 fields, found 2$"),
    ("", {}, r"bad\.csv: the file is empty: no data rows \(expected rows 'y,x1,...,xm'\)$"),
]


@pytest.mark.parametrize("text,options,message", BAD_CSV, ids=[m[:40] for _, _, m in BAD_CSV])
def test_bad_regression_csv_names_the_line(tmp_path, text, options, message):
    with pytest.raises(fio.DataFormatError, match=message):
        fio.read_csv(write(tmp_path, text, "bad.csv"), labels="float", **options)


def test_npz_targets(tmp_path):
    X = np.arange(6.0).reshape(3, 2)
    np.savez(tmp_path / "one.npz", X=X, y=np.array([1, 2, 3], dtype=np.int32))
    X_read, y = fio.read_npz(tmp_path / "one.npz", labels="float")
    assert y.dtype == np.float64 and y.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(X_read, X)
    assert fio.read_npz(tmp_path / "one.npz", labels="float", targets=1)[1].shape == (3,)
    np.savez(tmp_path / "two.npz", X=X, y=np.ones((3, 2), dtype=np.float32))
    assert fio.load_dataset(tmp_path / "two.npz", labels="float", targets=2)[1].shape == (3, 2)


@pytest.mark.parametrize("y,options,message", [
    (np.ones((3, 2)), {"targets": 1}, r"bad\.npz: y has 2 target column\(s\) \(shape \(3, 2\)\), expected 1$"),
    (np.array([1.0, np.nan, 2.0]), {}, r"bad\.npz: y\[1\] is nan; all targets must be finite$"),
    (np.array([[1.0, 2.0], [3.0, np.inf], [0, 0]]), {}, r"bad\.npz: y\[1, 1\] is inf"),
    (np.array(["a", "b", "c"]), {}, r"bad\.npz: y must hold real-valued targets, got dtype <U1$"),
    (np.ones(4), {}, r"bad\.npz: X has 3 rows but y has 4$"),
    (np.ones((3, 1, 1)), {}, r"bad\.npz: y must hold targets of shape \(n_samples,\) or"),
])
def test_bad_npz_targets(tmp_path, y, options, message):
    np.savez(tmp_path / "bad.npz", X=np.ones((3, 2)), y=y)
    with pytest.raises(fio.DataFormatError, match=message):
        fio.load_dataset(tmp_path / "bad.npz", labels="float", **options)


def test_targets_is_only_for_the_float_mode(tmp_path):
    path = write(tmp_path, "1,2\n")
    with pytest.raises(ValueError, match="targets=2 is for labels='float'"):
        fio.read_csv(path, targets=2)
    with pytest.raises(ValueError, match="targets must be a positive integer"):
        fio.read_csv(path, labels="float", targets=0)
    with pytest.raises(ValueError, match="labels must be 'int', 'str', 'auto', 'float' or None"):
        fio.read_csv(path, labels="real")
