"""The ``fastnn`` command with hidden activations, regression and multilabel models.

As in tests/test_cli.py, the main paths run ``python -m fastnn ...`` in a subprocess and their
variations call ``fastnn.cli.main(argv)`` in-process.
"""

import importlib.util
import json
import math
import re

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, hamming_loss, mean_absolute_error, mean_squared_error, r2_score
from test_cli import ERROR_LINE, assert_one_line_error, png_size, run, run_in_process, write_csv

import fastnn
from fastnn import cli, plots
from fastnn import io as fnn_io
from fastnn._cli_train import _split


def regression_data(n=400, m=4, seed=0, n_targets=1):
    """``y = X @ w + 0.3 + noise`` (a second target: a smooth non-linear function)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m))
    y = X @ np.linspace(1.0, -1.0, m) + 0.3 + rng.normal(scale=0.05, size=n)
    if n_targets == 2:
        y = np.column_stack([y, np.tanh(X[:, 0]) - 0.5 * X[:, 1]])
    return X, y


def values(text):
    """The CSV text ``predict`` prints as a float array, one row per line."""
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])


def printed(text):
    """``name: value`` lines of ``evaluate``."""
    return dict(re.findall(r"^([\w -]+):\s+(\S+)", text, re.M))


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    """``fastnn train --task regression`` on y = X @ w + noise, with relu units."""
    folder = tmp_path_factory.mktemp("regression_run")
    X, y = regression_data()
    write_csv(folder / "reg.csv", X, y)
    result = run("train", "reg.csv", "--task", "regression", "--validation-fraction", "0.25", "--hidden", "8",
                 "--activation", "relu", "--epochs", "40", "--lr", "0.01", "--seed", "0", "--output", "run",
                 cwd=folder)
    assert result.returncode == 0, result.stderr
    train_rows, val_rows = _split(X.shape[0], 0.25, "reg.csv")
    return {"dir": folder, "model": folder / "run" / cli.MODEL_FILE, "result": result, "X": X, "y": y,
            "train": train_rows, "val": val_rows}


def test_regression_reaches_a_low_rmse_and_matches_the_python_api(regression_run):
    folder, X, y = regression_run["dir"], regression_run["X"], regression_run["y"]
    train, val = regression_run["train"], regression_run["val"]
    assert sorted(p.name for p in (folder / "run").iterdir()) == sorted(
        [cli.MODEL_FILE, cli.METRICS_FILE, cli.CURVE_FILE])
    net = fastnn.Network(hidden=(8,), output="identity", activation="relu", learning_rate=0.01, epochs=40,
                         init="uniform", random_state=0).fit(X[train], y[train], X[val], y[val])
    saved = fnn_io.load(regression_run["model"])
    for W_saved, W in zip(saved.weights_, net.weights_):
        np.testing.assert_array_equal(W_saved, W)

    report = json.loads((folder / "run" / cli.METRICS_FILE).read_text())
    assert report["settings"]["task"] == "regression" and report["settings"]["targets"] == 1
    assert report["settings"]["activation"] == ["relu"]
    assert report["history"]["train_loss"] == net.history_["train_loss"]
    np.testing.assert_allclose(report["history"]["val_rmse"], np.sqrt(2 * np.array(net.history_["val_loss"])),
                               rtol=1e-12)
    final = report["final"]["validation"]
    predicted = net.predict(X[val])
    assert final["n_samples"] == val.size
    assert final["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y[val], predicted)), rel=1e-12)
    assert final["mae"] == pytest.approx(mean_absolute_error(y[val], predicted), rel=1e-12)
    assert final["r2"] == pytest.approx(r2_score(y[val], predicted), rel=1e-12)
    assert final["loss"] == pytest.approx(net.loss(X[val], y[val]), rel=1e-12)
    # the targets' spread is about 1.6; the noise 0.05
    assert final["rmse"] < 0.15 and final["r2"] > 0.99
    assert report["final"]["validation"]["rmse"] == pytest.approx(report["history"]["val_rmse"][-1], rel=1e-9)
    assert png_size(folder / "run" / cli.CURVE_FILE) == plots.CURVE_SIZE[::-1]

    # the progress reports the RMSE, the summary RMSE, MAE and R2
    err, out = regression_run["result"].stderr, regression_run["result"].stdout
    assert re.search(r"epoch 1/40 done: RMSE train \d\.\d{4}, validation \d\.\d{4} \(loss train", err), err
    assert re.search(r"^validation:\s+RMSE \S+  MAE \S+  R2 0\.99\d\d  \(100 samples\)$", out, re.M), out


def test_the_model_file_records_activation_and_output(regression_run):
    net = fnn_io.load(regression_run["model"])
    assert net.output == "identity" and net.n_outputs_ == 1 and not hasattr(net, "n_classes_")
    assert net.metadata_["output"] == "identity" and net.metadata_["activation"] == ["relu"]
    assert net.metadata_["format_version"] == 2 and net.metadata_["classes"] == []
    assert net.metadata_["training"]["task"] == "regression"


def test_predict_and_evaluate_a_regression_model(regression_run, capsys, monkeypatch):
    folder, model, X, y = regression_run["dir"], regression_run["model"], regression_run["X"], regression_run["y"]
    net = fnn_io.load(model)
    predicted = run("predict", model, "reg.csv", cwd=folder)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout == "".join(f"{float(v)!r}\n" for v in net.predict(X))

    evaluate = run("evaluate", model, "reg.csv", cwd=folder)
    assert evaluate.returncode == 0, evaluate.stderr
    scores = printed(evaluate.stdout)
    assert int(scores["samples"]) == X.shape[0]
    assert float(scores["RMSE"]) == pytest.approx(math.sqrt(mean_squared_error(y, net.predict(X))), rel=1e-12)
    assert float(scores["MAE"]) == pytest.approx(mean_absolute_error(y, net.predict(X)), rel=1e-12)
    assert float(scores["R2"]) == pytest.approx(r2_score(y, net.predict(X)), rel=1e-12)
    assert float(scores["loss"]) == pytest.approx(net.loss(X, y), rel=1e-12)
    assert "confusion" not in evaluate.stdout and "per target" not in evaluate.stdout

    # a features-only file: --no-labels, or a hint to use it
    write_csv(folder / "features.csv", X[:5])
    result = run_in_process("predict", model, "features.csv", "--no-labels", cwd=folder, capsys=capsys,
                            monkeypatch=monkeypatch)
    assert result.returncode == 0 and values(result.stdout)[:, 0].tolist() == net.predict(X[:5]).tolist()
    result = run_in_process("predict", model, "features.csv", cwd=folder, capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 2
    assert "features.csv:1: expected 5 fields (the target and n_features=4 values), found 4; if the file has no " \
           "target column, use --no-labels" in result.stderr
    # --proba is for classifiers
    result = run_in_process("predict", model, "reg.csv", "--proba", cwd=folder, capsys=capsys,
                            monkeypatch=monkeypatch)
    assert result.returncode == 2 and result.stdout == ""
    assert ERROR_LINE.match(result.stderr.rstrip("\n")) and "--proba does not apply" in result.stderr
    assert "regression model" in result.stderr
    # one row: R2 is undefined, and says so
    write_csv(folder / "one.csv", X[:1], y[:1])
    result = run_in_process("evaluate", model, "one.csv", cwd=folder, capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 0 and "R2:            n/a" in result.stdout


def test_two_targets_and_an_activation_per_layer(tmp_path, capsys, monkeypatch):
    X, Y = regression_data(n=300, n_targets=2)
    lines = ["y1,y2,a,b,c,d"] + [",".join(f"{v:.17g}" for v in row) for row in np.column_stack([Y, X])]
    (tmp_path / "two.csv").write_text("\n".join(lines) + "\n")
    result = run_in_process("train", "two.csv", "--header", "--task", "regression", "--targets", "2", "--hidden",
                            "8", "4", "--activation", "tanh", "relu", "--epochs", "30", "--lr", "0.02", "--seed", "1",
                            "-o", "run", "-q", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 0, result.stderr
    net = fnn_io.load(tmp_path / "run" / cli.MODEL_FILE)
    assert net.metadata_["activation"] == ["tanh", "relu"] and net.n_outputs_ == 2
    assert net.metadata_["layer_sizes"] == [4, 8, 4, 2]
    reference = fastnn.Network(hidden=(8, 4), output="identity", activation=["tanh", "relu"], learning_rate=0.02,
                               epochs=30, init="uniform", random_state=1).fit(X, Y)
    np.testing.assert_array_equal(net.weights_[-1], reference.weights_[-1])
    report = json.loads((tmp_path / "run" / cli.METRICS_FILE).read_text())
    per_target = report["final"]["train"]["per_target"]
    mse = mean_squared_error(Y, reference.predict(X), multioutput="raw_values")
    np.testing.assert_allclose(per_target["rmse"], np.sqrt(mse), rtol=1e-12)
    assert report["final"]["train"]["rmse"] == pytest.approx(math.sqrt(mse.mean()), rel=1e-12)
    assert report["final"]["train"]["r2"] == pytest.approx(r2_score(Y, reference.predict(X)), rel=1e-12)

    result = run_in_process("predict", "run/model.npz", "two.csv", "--header", cwd=tmp_path, capsys=capsys,
                            monkeypatch=monkeypatch)
    assert result.returncode == 0
    np.testing.assert_array_equal(values(result.stdout), reference.predict(X))
    result = run_in_process("evaluate", "run/model.npz", "two.csv", "--header", cwd=tmp_path, capsys=capsys,
                            monkeypatch=monkeypatch)
    assert result.returncode == 0
    table = result.stdout.split("per target:\n", 1)[1].splitlines()
    assert table[0].split() == ["target", "RMSE", "MAE", "R2"]
    rows = np.array([[float(v) for v in line.split()] for line in table[1:]])
    np.testing.assert_allclose(rows[:, 1], np.sqrt(mse), rtol=1e-5)
    np.testing.assert_allclose(rows[:, 3], r2_score(Y, reference.predict(X), multioutput="raw_values"), rtol=1e-5)

    # the same rows from an .npz, y (n, 2)
    np.savez(tmp_path / "two.npz", X=X, y=Y)
    result = run_in_process("evaluate", "run/model.npz", "two.npz", cwd=tmp_path, capsys=capsys,
                            monkeypatch=monkeypatch)
    assert result.returncode == 0 and result.stdout.split("per target:")[1] == "\n" + "\n".join(table) + "\n"


def test_regression_from_npz_with_a_validation_file(tmp_path, capsys, monkeypatch):
    X, y = regression_data(n=200, seed=3)
    np.savez(tmp_path / "train.npz", X=X[:150], y=y[:150])
    write_csv(tmp_path / "valid.csv", X[150:], y[150:])
    result = run_in_process("train", "train.npz", "--task", "regression", "--validation", "valid.csv", "--hidden",
                            "4", "--epochs", "3", "--lr", "0.01", "--seed", "0", "-o", "run", "-q", cwd=tmp_path,
                            capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "run" / cli.METRICS_FILE).read_text())
    assert report["final"]["validation"]["n_samples"] == 50 and report["settings"]["activation"] == ["logistic"]


def test_classification_with_activations(tmp_path, capsys, monkeypatch):
    from conftest import synthetic_data

    X, y = synthetic_data(n=90, m=4, k=3, seed=4)
    write_csv(tmp_path / "c.csv", X, y)
    result = run_in_process("train", "c.csv", "--hidden", "5", "3", "--activation", "leaky_relu", "--epochs", "2",
                            "--seed", "2", "-o", "relu", "-q", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 0, result.stderr
    net = fnn_io.load(tmp_path / "relu" / cli.MODEL_FILE)
    assert net.metadata_["activation"] == ["leaky_relu", "leaky_relu"] and net.metadata_["output"] == "softmax"
    reference = fastnn.Network(hidden=(5, 3), activation="leaky_relu", learning_rate=cli.DEFAULT_LEARNING_RATE,
                               epochs=2, init="uniform", random_state=2).fit(X, y)
    np.testing.assert_array_equal(net.weights_[0], reference.weights_[0])
    # the ONNX export writes the leaky relu units (checked in onnxruntime where it is installed)
    if importlib.util.find_spec("skl2onnx") is not None:
        result = run_in_process("export", "relu/model.npz", "relu.onnx", cwd=tmp_path, capsys=capsys,
                                monkeypatch=monkeypatch)
        assert result.returncode == 0, result.stderr
        if importlib.util.find_spec("onnxruntime") is not None:
            import onnxruntime

            session = onnxruntime.InferenceSession(str(tmp_path / "relu.onnx"), providers=["CPUExecutionProvider"])
            proba = session.run(["probabilities"], {"X": X.astype(np.float64)})[0]
            np.testing.assert_allclose(proba, net.predict_proba(X), rtol=0, atol=1e-12)
    # the default stays the logistic network, written as format version 1
    result = run_in_process("train", "c.csv", "--hidden", "5", "--epochs", "1", "-o", "plain", "-q", cwd=tmp_path,
                            capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 0
    plain = fnn_io.load(tmp_path / "plain" / cli.MODEL_FILE)
    assert plain.metadata_["format_version"] == 1 and "activation" not in plain.metadata_
    assert plain.metadata_["training"]["task"] == "classification"


def test_gradcheck_with_activations_and_target_outputs(tmp_path, regression_run, capsys):
    assert cli.main(["gradcheck", "--hidden", "6", "5", "--activation", "tanh", "relu", "--output-layer",
                     "identity"]) == 0
    out = capsys.readouterr().out
    assert "random 6-6-5-3 identity network (tanh/relu hidden units)" in out and "passed" in out
    assert cli.main(["gradcheck", "--output-layer", "multilabel", "--classes", "4", "--activation",
                     "leaky_relu"]) == 0
    assert "passed" in capsys.readouterr().out
    assert cli.main(["gradcheck", "--model", str(regression_run["model"])]) == 0
    assert "passed" in capsys.readouterr().out


@pytest.fixture
def multilabel_files(tmp_path, monkeypatch):
    """A multilabel model saved through the Python API, and its data (3 0/1 columns first)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] > 1]).astype(np.int64)
    net = fastnn.Network(hidden=(8,), output="multilabel", activation="relu", learning_rate=0.1, epochs=10,
                         random_state=0).fit(X, Y)
    fnn_io.save(net, tmp_path / "ml.npz")
    write_csv(tmp_path / "ml.csv", np.column_stack([Y, X]))
    monkeypatch.chdir(tmp_path)
    return tmp_path, net, X, Y


def test_predict_and_evaluate_a_multilabel_model(multilabel_files, capsys):
    folder, net, X, Y = multilabel_files
    assert cli.main(["predict", "ml.npz", "ml.csv"]) == 0
    assert capsys.readouterr().out == "".join(",".join(map(str, row)) + "\n" for row in net.predict(X).tolist())
    assert cli.main(["predict", "ml.npz", "ml.csv", "--proba"]) == 0
    np.testing.assert_array_equal(values(capsys.readouterr().out), net.predict_proba(X))
    assert cli.main(["evaluate", "ml.npz", "ml.csv"]) == 0
    scores = printed(capsys.readouterr().out)
    assert float(scores["subset accuracy"]) == accuracy_score(Y, net.predict(X))
    assert float(scores["Hamming loss"]) == pytest.approx(hamming_loss(Y, net.predict(X)), rel=1e-15)
    assert float(scores["cross-entropy"]) == pytest.approx(net.loss(X, Y), rel=1e-12)
    lines = (folder / "ml.csv").read_text().split("\n")
    fields = lines[6].split(",")
    lines[6] = ",".join(fields[:1] + ["0.5"] + fields[2:])
    (folder / "bad.csv").write_text("\n".join(lines))
    assert cli.main(["evaluate", "ml.npz", "bad.csv"]) == 2
    assert capsys.readouterr().err.startswith("fastnn: error: bad.csv:7:2: label value 0.5 is not 0 or 1")


@pytest.fixture
def regression_files(tmp_path, monkeypatch):
    X, y = regression_data(n=30)
    write_csv(tmp_path / "reg.csv", X, y)
    lines = (tmp_path / "reg.csv").read_text().split("\n")
    (tmp_path / "text_target.csv").write_text("\n".join(lines[:3] + ["abc" + lines[3][lines[3].index(","):]]
                                                        + lines[4:]))
    np.savez(tmp_path / "two.npz", X=X, y=np.column_stack([y, y]))
    net = fastnn.Network(hidden=(3,), output="identity", epochs=1, random_state=0).fit(X, y)
    fnn_io.save(net, tmp_path / "reg_model.npz")
    monkeypatch.chdir(tmp_path)
    return tmp_path


BAD_INPUTS = [
    (["train", "text_target.csv", "--task", "regression"], r"^text_target\.csv:4:1: target 'abc' is not a number$"),
    (["train", "reg.csv", "--activation", "swish"],
     r"^argument --activation: invalid choice: 'swish' \(choose from logistic, tanh, relu, identity, leaky_relu\)"),
    (["train", "--activation", "relu", "reg.csv"], r"^argument --activation: .*\(put DATA before --activation\)"),
    (["train", "reg.csv", "--hidden", "8", "4", "--activation", "tanh", "relu", "relu"],
     r"^argument --activation: 3 names for 2 hidden layers \(--hidden 8 4\); give one name for every layer, or "
     r"one per hidden layer$"),
    (["train", "reg.csv", "--hidden", "--activation", "tanh", "relu"], r"^argument --activation: 2 names for 0"),
    (["train", "reg.csv", "--targets", "2"], r"^--targets N is for --task regression"),
    (["train", "--task", "regression"], r"^--task regression needs DATA"),
    (["train", "--task", "regression", "--dataset", "digits"], r"^--task regression needs DATA \(not --dataset"),
    (["train", "--task", "classic"], r"^argument --task: invalid choice: 'classic'"),
    (["train", "reg.csv", "--task", "regression", "--targets", "0"], r"^argument --targets: must be an integer >= 1"),
    (["train", "two.npz", "--task", "regression", "--targets", "3"],
     r"^two\.npz: y has 2 target column\(s\) \(shape \(30, 2\)\), expected 3$"),
    (["train", "two.npz", "--task", "regression", "--validation", "reg.csv"],
     r"^reg\.csv:1: expected 6 fields \(2 targets and n_features=4 values\), found 5$"),
    (["predict", "reg_model.npz", "reg.csv", "--proba"], r"^reg_model\.npz: --proba does not apply"),
    (["evaluate", "reg_model.npz", "text_target.csv"], r"^text_target\.csv:4:1: target 'abc' is not a number$"),
    (["gradcheck", "--model", "reg_model.npz", "--activation", "relu"], r"^--model checks a saved network; drop "
                                                                         r"--activation"),
    (["gradcheck", "--activation", "relu", "tanh", "relu"], r"^argument --activation: 3 names for 2 hidden layers"),
]


@pytest.mark.parametrize("argv,message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_line_and_status_2(regression_files, argv, message, capsys):
    assert_one_line_error(argv, message, regression_files, capsys)


def test_a_non_numeric_target_in_a_subprocess(regression_files):
    result = run("train", "text_target.csv", "--task", "regression", cwd=regression_files)
    assert result.returncode == 2
    assert result.stderr == "fastnn: error: text_target.csv:4:1: target 'abc' is not a number\n"
    assert result.stdout == ""


def test_help_describes_the_new_options(capsys):
    assert cli.main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--task {classification,regression}" in text and "--activation NAME [NAME ...]" in text
    assert "--targets N" in text and "leaky_relu" in text
    assert cli.main(["evaluate", "--help"]) == 0
    assert "RMSE" in capsys.readouterr().out


def test_export_writes_a_regression_model(regression_files, capsys, monkeypatch):
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    folder = regression_files
    result = run_in_process("export", "reg_model.npz", "reg.onnx", cwd=folder, capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 0, result.stderr
    net = fastnn.load(folder / "reg_model.npz")
    X = np.random.default_rng(0).normal(size=(7, net.n_features_in_))
    session = ort.InferenceSession(str(folder / "reg.onnx"), providers=["CPUExecutionProvider"])
    values = session.run(["variable"], {"X": X})[0]
    np.testing.assert_allclose(values.reshape(net.predict(X).shape), net.predict(X), rtol=0, atol=1e-12)
