"""The ``fastnn`` command, run as a user runs it.

The main paths run ``python -m fastnn ...`` in a subprocess (so they work before the console
script is installed); one test runs the installed ``fastnn`` script. Variations of a path
already covered by a subprocess (the table of bad inputs, other neuralnet runs, gradcheck,
``--proba``) call ``fastnn.cli.main(argv)`` in-process, the very function the script calls,
because each subprocess pays seconds of imports; one bad input also goes through a
subprocess to show that the user sees the same single line.
"""

import functools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import oracle
from conftest import load_ocr, ocr_path, synthetic_data

import fastnn
from fastnn import cli, plots
from fastnn import io as fnn_io

TIMEOUT = 120
ERROR_LINE = re.compile(r"^fastnn: error: \S.*$")
METRIC_LINE = re.compile(
    r"^(epoch=(\d+) crossentropy\((train|validation)\): (\S+)|error\((train|validation)\): (\S+))$")


def run(*args, cwd, timeout=TIMEOUT):
    """Run ``python -m fastnn ARGS`` in ``cwd``; return the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "fastnn", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def run_in_process(*args, cwd, capsys, monkeypatch):
    """``fastnn.cli.main(ARGS)`` in ``cwd``: the same code as the command, without the start-up cost."""
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    status = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


def write_csv(path, X, y=None, line_end="\n"):
    """Rows ``label,x1..xm`` (or ``x1..xm`` without ``y``) with exactly round-tripping numbers."""
    columns = X if y is None else np.column_stack([y, X])
    lines = [",".join(f"{v:.17g}" for v in row) for row in columns]
    path.write_bytes((line_end.join(lines) + line_end).encode())
    return path


def read_metrics(text):
    """Parse the neuralnet metrics file into (train losses, validation losses, train error, val error)."""
    losses = {"train": [], "validation": []}
    errors = {}
    for line in text.split("\n")[:-1]:
        match = METRIC_LINE.match(line)
        assert match, f"malformed metrics line {line!r}"
        if match.group(1).startswith("epoch="):
            assert int(match.group(2)) == len(losses[match.group(3)]) + 1
            losses[match.group(3)].append(float(match.group(4)))
        else:
            errors[match.group(5)] = float(match.group(6))
    return losses["train"], losses["validation"], errors["train"], errors["validation"]


def assert_repr_floats(text):
    """Every value in the metrics text is written as Python's repr of the float."""
    for line in text.split("\n")[:-1]:
        value = line.rsplit(" ", 1)[1]
        assert repr(float(value)) == value, line


def png_size(path):
    """(height, width) of a PNG read back with matplotlib."""
    from matplotlib.image import imread

    image = imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    return image.shape[:2]


def grid_size(n_units, image_shape):
    """Pixel size of hidden_units.png: plots.weight_grid for ``n_units`` tiles of ``image_shape``,
    with the title band above and the colour bar to the right."""
    height, width = image_shape
    cols = math.ceil(math.sqrt(n_units))
    rows = math.ceil(n_units / cols)
    scale = max(1, math.ceil(plots.MIN_TILE / min(height, width)))
    return (rows * (height * scale + plots.GAP) + plots.GAP + plots.TITLE_HEIGHT,
            cols * (width * scale + plots.GAP) + plots.GAP + plots.COLORBAR_WIDTH)


# ---------------------------------------------------------------------------------------------
# train


def test_train_without_arguments_uses_digits(tmp_path):
    result = run("train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    runs = list(tmp_path.glob("fastnn-run-*"))
    assert len(runs) == 1 and runs[0].is_dir()
    folder = runs[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [cli.MODEL_FILE, cli.METRICS_FILE, cli.CURVE_FILE, cli.UNITS_FILE])
    assert "validation:" in result.stdout and str(folder.name) in result.stdout

    report = json.loads((folder / cli.METRICS_FILE).read_text())
    assert report["epochs_completed"] == cli.DEFAULT_EPOCHS and not report["interrupted"]
    assert len(report["history"]["train_loss"]) == len(report["history"]["val_loss"]) == cli.DEFAULT_EPOCHS
    assert report["final"]["validation"]["accuracy"] > 0.9
    assert report["final"]["train"]["n_samples"] + report["final"]["validation"]["n_samples"] == 1797

    net = fnn_io.load(folder / cli.MODEL_FILE)
    assert net.n_features_in_ == 64 and net.n_classes_ == 10
    assert net.metadata_["interrupted"] is False
    assert net.metadata_["training"]["seed"] == report["settings"]["seed"]
    assert png_size(folder / cli.CURVE_FILE) == plots.CURVE_SIZE[::-1]
    assert png_size(folder / cli.UNITS_FILE) == grid_size(cli.DEFAULT_HIDDEN[0], (8, 8))


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """A ``fastnn train`` run on synthetic CSV files, shared by the predict/evaluate tests."""
    folder = tmp_path_factory.mktemp("csv_run")
    X, y = synthetic_data(n=400, m=12, k=3, seed=5)
    train, valid = write_csv(folder / "train.csv", X[:300], y[:300], "\r\n"), write_csv(
        folder / "valid.csv", X[300:], y[300:])
    result = run("train", "train.csv", "--validation", "valid.csv", "--hidden", "5", "--epochs", "20",
                 "--lr", "0.2", "--seed", "3", "--image-shape", "3x4", "--output", "out/run", cwd=folder)
    assert result.returncode == 0, result.stderr
    return {"dir": folder, "model": folder / "out" / "run" / cli.MODEL_FILE, "train": train, "valid": valid,
            "X": X[:300], "y": y[:300], "X_val": X[300:], "y_val": y[300:], "result": result}


def test_train_csv_matches_the_python_api(csv_run):
    out = csv_run["model"].parent
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [cli.MODEL_FILE, cli.METRICS_FILE, cli.CURVE_FILE, cli.UNITS_FILE])
    net = fastnn.Network(hidden=(5,), learning_rate=0.2, epochs=20, init="uniform", random_state=3)
    net.fit(csv_run["X"], csv_run["y"], csv_run["X_val"], csv_run["y_val"])
    saved = fnn_io.load(csv_run["model"])
    for W_saved, W in zip(saved.weights_, net.weights_):
        np.testing.assert_array_equal(W_saved, W)
    report = json.loads((out / cli.METRICS_FILE).read_text())
    assert {k: report["history"][k] for k in ("train_loss", "val_loss")} == {
        "train_loss": net.history_["train_loss"], "val_loss": net.history_["val_loss"]}
    error = float(np.mean(net.predict(csv_run["X_val"]) != csv_run["y_val"]))
    assert report["final"]["validation"]["error"] == error
    assert saved.metadata_["metrics"]["validation"]["error"] == error
    assert saved.metadata_["training"]["learning_rate"] == 0.2
    assert png_size(out / cli.UNITS_FILE) == grid_size(5, (3, 4))
    assert png_size(out / cli.CURVE_FILE) == plots.CURVE_SIZE[::-1]


def test_predict_and_evaluate_agree_with_the_api(csv_run, capsys, monkeypatch):
    folder, model = csv_run["dir"], csv_run["model"]
    net = fnn_io.load(model)
    X_val, y_val = csv_run["X_val"], csv_run["y_val"]

    labels = run("predict", model, "valid.csv", cwd=folder)
    assert labels.returncode == 0, labels.stderr
    assert labels.stdout == "".join(f"{k}\n" for k in net.predict(X_val))

    proba = run_in_process("predict", model, "valid.csv", "--proba", "-o", "proba.csv", cwd=folder,
                           capsys=capsys, monkeypatch=monkeypatch)
    assert proba.returncode == 0 and proba.stdout == "", proba.stderr
    np.testing.assert_array_equal(np.loadtxt(folder / "proba.csv", delimiter=",", ndmin=2),
                                  net.predict_proba(X_val))

    evaluate = run("evaluate", model, "valid.csv", cwd=folder)
    assert evaluate.returncode == 0, evaluate.stderr
    values = dict(re.findall(r"^(accuracy|error|cross-entropy):\s+(\S+)$", evaluate.stdout, re.M))
    error = float(np.mean(net.predict(X_val) != y_val))
    assert float(values["error"]) == error and float(values["accuracy"]) == 1 - error
    assert float(values["cross-entropy"]) == pytest.approx(net.loss(X_val, y_val), rel=1e-15)
    table = evaluate.stdout.split("predicted label):\n", 1)[1].strip().split("\n")
    counts = np.array([[int(v) for v in row.split()[1:]] for row in table[1:]])
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(y_val, minlength=3))
    assert np.trace(counts) == np.sum(net.predict(X_val) == y_val)


def test_predict_without_label_column(csv_run, tmp_path, monkeypatch, capsys):
    write_csv(tmp_path / "features.csv", csv_run["X_val"])
    np.savez(tmp_path / "features.npz", X=csv_run["X_val"])
    net = fnn_io.load(csv_run["model"])
    monkeypatch.chdir(tmp_path)
    for data in ("features.csv", "features.npz"):
        assert cli.main(["predict", str(csv_run["model"]), data, "--no-labels"]) == 0
        assert capsys.readouterr().out == "".join(f"{k}\n" for k in net.predict(csv_run["X_val"]))
    # without --no-labels, a features-only file is one field short; the message says what to do
    assert cli.main(["predict", str(csv_run["model"]), "features.csv"]) == 2
    err = capsys.readouterr().err
    assert "features.csv:1: expected 13 fields" in err and "--no-labels" in err


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_interrupted_train_saves_a_loadable_model(tmp_path, signum, status):
    """The signal is sent once the command reports its first completed epoch (an event, not a
    delay), so the run always has an epoch to keep, however busy the machine is."""
    if os.name != "posix":
        pytest.skip("sends signals to a child process")
    X, y = synthetic_data(n=3000, m=40, k=3, seed=1)
    np.savez(tmp_path / "big.npz", X=X, y=y)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastnn", "train", "big.npz", "--hidden", "64", "--epochs", "100000",
         "--validation-fraction", "0.2", "--output", "run"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a child of a background job may inherit SIGINT ignored; give it the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        started = proc.stderr.readline()
        assert "training" in started, started
        first_epoch = proc.stderr.readline()
        assert "epoch 1/100000 done" in first_epoch, first_epoch
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, err
    assert "Traceback" not in err and "interrupted" in err
    net = fnn_io.load(tmp_path / "run" / cli.MODEL_FILE)
    assert net.metadata_["interrupted"] is True
    report = json.loads((tmp_path / "run" / cli.METRICS_FILE).read_text())
    assert report["interrupted"] is True
    assert 0 <= report["epochs_completed"] < 100000
    assert len(report["history"]["train_loss"]) == report["epochs_completed"]
    assert png_size(tmp_path / "run" / cli.CURVE_FILE) == plots.CURVE_SIZE[::-1]
    assert list(tmp_path.glob("run/.*.tmp")) == []


def test_ctrl_c_in_the_first_epoch_saves_nothing(bad_files, capsys, monkeypatch):
    from fastnn import _engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_engine, "sgd_epoch", interrupted)
    assert cli.main(["train", "good.csv", "--epochs", "3", "-o", "run"]) == 130
    assert "interrupted before the first epoch finished; nothing was saved" in capsys.readouterr().err
    assert not (bad_files / "run").exists()


def test_train_reports_its_epochs_on_a_log_and_moves_its_bar_within_epochs(bad_files, capsys, monkeypatch):
    assert cli.main(["train", "good.csv", "--epochs", "3", "--hidden", "2", "-o", "logged"]) == 0
    err = capsys.readouterr().err
    assert "epoch 1/3 done: cross-entropy train" in err and "epoch 3/3 done" in err  # first and last
    updates = []
    from tqdm import tqdm

    real_update = tqdm.update
    monkeypatch.setattr(tqdm, "update", lambda bar, n=1: updates.append(bar.n + n) or real_update(bar, n))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    from fastnn import _engine

    monkeypatch.setattr(_engine, "chunk_rows", lambda n_weights: 1)  # an engine call per sample
    assert cli.main(["train", "good.csv", "--epochs", "2", "--hidden", "2", "-o", "bar"]) == 0
    rows = json.loads((bad_files / "bar" / cli.METRICS_FILE).read_text())["final"]["train"]["n_samples"]
    assert any(0 < done < rows for done in updates), updates  # the bar moved inside the first epoch
    assert updates[-1] == 2 * rows


def test_gradcheck_of_a_saturated_network_is_inconclusive_not_failed(capsys):
    assert cli.main(["gradcheck", "--features", "1000", "--hidden", "2", "--samples", "3"]) == 0
    out = capsys.readouterr().out
    assert "layer 1 (2x1001): inconclusive" in out and "FAILED" not in out
    assert "layer 2 (3x3): worst relative error" in out and "ok" in out


def test_export_writes_an_onnx_model_that_predicts_as_fastnn(csv_run, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    pytest.importorskip("skl2onnx", reason="skl2onnx is not installed")
    assert cli.main(["export", str(csv_run["model"]), str(tmp_path / "model.onnx")]) == 0
    net = fnn_io.load(csv_run["model"])
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {"X": csv_run["X_val"]})
    np.testing.assert_allclose(proba, net.predict_proba(csv_run["X_val"]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, net.predict(csv_run["X_val"]))
    assert cli.main(["export", str(csv_run["model"]), str(csv_run["model"])]) == 2
    assert "would overwrite the model file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# neuralnet: the handout's program


def neuralnet_outputs(folder, train, valid, epochs, hidden, init_flag, lr, runner=run):
    result = runner("neuralnet", train, valid, "train.labels", "valid.labels", "metrics.txt", epochs, hidden,
                    init_flag, lr, cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    metrics = (folder / "metrics.txt").read_bytes().decode()
    assert "\r" not in metrics
    assert_repr_floats(metrics)
    train_labels = np.array((folder / "train.labels").read_text().split(), dtype=np.int64)
    valid_labels = np.array((folder / "valid.labels").read_text().split(), dtype=np.int64)
    return train_labels, valid_labels, read_metrics(metrics)


def check_against_oracle(folder, train_file, valid_file, X, y, X_val, y_val, epochs, hidden, lr, runner=run):
    """INIT_FLAG 2 (zeros) against oracle.sgd_train: losses to 1e-12, labels and errors exactly."""
    labels, labels_val, (loss, loss_val, error, error_val) = neuralnet_outputs(
        folder, train_file, valid_file, epochs, hidden, 2, lr, runner)
    K = int(max(y.max(), y_val.max())) + 1
    zeros = [np.zeros((hidden, X.shape[1] + 1)), np.zeros((K, hidden + 1))]
    weights, history = oracle.sgd_train(zeros, X, y, "softmax", lr, epochs, X_val=X_val, y_val=y_val)
    np.testing.assert_allclose(loss, history["train_loss"], rtol=1e-12)
    np.testing.assert_allclose(loss_val, history["val_loss"], rtol=1e-12)
    np.testing.assert_array_equal(labels, oracle.predict(weights, X, "softmax"))
    np.testing.assert_array_equal(labels_val, oracle.predict(weights, X_val, "softmax"))
    assert error == float(np.mean(labels != y)) and error_val == float(np.mean(labels_val != y_val))


def test_neuralnet_synthetic_matches_oracle(tmp_path, capsys, monkeypatch):
    # in-process (the OCR test below runs the same program as a subprocess)
    X, y = synthetic_data(n=150, m=6, k=4, seed=2)
    write_csv(tmp_path / "tr.csv", X[:100], y[:100], "\r\n")
    write_csv(tmp_path / "va.csv", X[100:], y[100:])
    runner = functools.partial(run_in_process, capsys=capsys, monkeypatch=monkeypatch)
    check_against_oracle(tmp_path, "tr.csv", "va.csv", X[:100], y[:100], X[100:], y[100:], 3, 4, 0.1,
                         runner)


def test_neuralnet_ocr_small_matches_oracle(tmp_path):
    X, y = load_ocr("small_train")
    X_val, y_val = load_ocr("small_validation")
    check_against_oracle(tmp_path, ocr_path("small_train"), ocr_path("small_validation"),
                         X, y, X_val, y_val, 2, 4, 0.1)


def test_neuralnet_ocr_small_random_init(tmp_path, capsys, monkeypatch):
    X, y = load_ocr("small_train")
    X_val, y_val = load_ocr("small_validation")
    epochs = 3
    runner = functools.partial(run_in_process, capsys=capsys, monkeypatch=monkeypatch)
    labels, labels_val, (loss, loss_val, error, error_val) = neuralnet_outputs(
        tmp_path, ocr_path("small_train"), ocr_path("small_validation"), epochs, 4, 1, 0.1, runner)
    assert len(loss) == len(loss_val) == epochs and loss[-1] < loss[0] < math.log(10) + 0.1
    assert labels.shape == y.shape and labels_val.shape == y_val.shape
    assert set(labels) <= set(range(10)) and 0 <= error <= 1 and 0 <= error_val <= 1
    # the same as the Python API with the documented seed
    net = fastnn.Network(hidden=(4,), init="uniform", learning_rate=0.1, epochs=epochs,
                         random_state=cli.NEURALNET_SEED).fit(X, y, X_val, y_val)
    assert loss == net.history_["train_loss"] and loss_val == net.history_["val_loss"]
    np.testing.assert_array_equal(labels_val, net.predict(X_val))


# ---------------------------------------------------------------------------------------------
# gradcheck, help, version, console script


def test_gradcheck_command(tmp_path, capsys, monkeypatch):
    result = run_in_process("gradcheck", "--hidden", "4", "3", "--features", "5", "--classes", "4",
                            cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"^layer (\d) \((\d+)x(\d+)\): worst relative error (\S+)  ok$", result.stdout, re.M)
    assert [(a, b, c) for a, b, c, _ in lines] == [("1", "4", "6"), ("2", "3", "5"), ("3", "4", "4")]
    assert all(float(e) < 1e-6 for *_, e in lines)
    # an impossible tolerance fails with status 1
    assert cli.main(["gradcheck", "--output", "sigmoid", "--tolerance", "1e-300", "--samples", "1"]) == 1
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train", "predict", "evaluate", "neuralnet", "gradcheck"])
def test_every_command_has_help_with_examples(command, capsys):
    assert cli.main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert f"usage: fastnn {command}" in text and "example" in text


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fastnn {fastnn.__version__}"


def test_installed_console_script(tmp_path):
    script = shutil.which("fastnn")
    if script is None:
        pytest.skip("the fastnn console script is not installed (pip install -e .)")
    result = subprocess.run([script, "gradcheck", "--samples", "2"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert "passed" in result.stdout


# ---------------------------------------------------------------------------------------------
# bad input: one line on stderr, status 2, no traceback, no files


@pytest.fixture
def bad_files(tmp_path, monkeypatch):
    """A folder of broken inputs (and one good model), made the current directory."""
    X, y = synthetic_data(n=30, m=4, k=3, seed=0)
    write_csv(tmp_path / "good.csv", X, y)
    lines = (tmp_path / "good.csv").read_text().split("\n")
    (tmp_path / "ragged.csv").write_text("\n".join(lines[:2] + [lines[2].rsplit(",", 1)[0]] + lines[3:]))
    fields = lines[1].split(",")
    (tmp_path / "nonnum.csv").write_text("\n".join(lines[:1] + [",".join(fields[:3] + ["abc"] + fields[4:])]
                                                   + lines[2:]))
    (tmp_path / "negative.csv").write_text("\n".join(lines[:4] + ["-1" + lines[4][1:]] + lines[5:]))
    (tmp_path / "label7.csv").write_text("\n".join(lines[:1] + ["7" + lines[1][1:]] + lines[2:]))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "wide.csv").write_text("0,1,2,3,4,5\n1,1,2,3,4,5\n")
    (tmp_path / "data.txt").write_text("0,1\n")
    (tmp_path / "notamodel.npz").write_bytes(b"this is not a zip file")
    model = fastnn.Network(hidden=(3,), epochs=1, random_state=0).fit(X, y)
    fnn_io.save(model, tmp_path / "model.npz")
    monkeypatch.chdir(tmp_path)
    return tmp_path


BAD_INPUTS = [
    (["train", "ragged.csv"], r"^ragged\.csv:3: expected 5 fields, found 4$"),
    (["train", "nonnum.csv"], r"^nonnum\.csv:2:4: 'abc' is not a number$"),
    (["train", "empty.csv"], r"^empty\.csv: the file is empty"),
    (["train", "missing.csv"], r"^missing\.csv: cannot read the file: it does not exist$"),
    (["train", "negative.csv"], r"^negative\.csv:5:1: label '-1' is negative"),
    (["train", "data.txt"], r"^data\.txt: unsupported data file type '\.txt'"),
    (["train", "good.csv", "--validation", "wide.csv"], r"^wide\.csv:1: expected 5 fields"),
    (["train", "good.csv", "--validation", "x.csv", "--validation-fraction", "0.2"], r"not allowed with"),
    (["train", "--epochs", "0"], r"^argument --epochs: must be an integer >= 1, got '0'"),
    (["train", "--lr", "-1"], r"^argument --lr/--learning-rate: must be a finite number > 0"),
    (["train", "--lr", "nan"], r"^argument --lr/--learning-rate: must be a finite number > 0"),
    (["train", "--hidden", "ten"], r"^argument --hidden: must be an integer >= 1, got 'ten'"),
    (["train", "--l2", "-0.5"], r"^argument --l2: must be a finite number >= 0"),
    (["train", "--validation-fraction", "1"], r"^argument --validation-fraction: must be a number between"),
    (["train", "--init", "ones"], r"^argument --init: invalid choice: 'ones'"),
    (["train", "--image-shape", "5x5"], r"^--image-shape 5x5 has 25 pixels but digits has 64 features$"),
    (["train", "--output", "good.csv"], r"^good\.csv: --output exists and is not a folder$"),
    (["train", "good.csv", "--dataset", "digits"], r"^give either DATA or --dataset"),
    (["predict", "missing.npz", "good.csv"], r"^missing\.npz: "),
    (["predict", "notamodel.npz", "good.csv"], r"^notamodel\.npz: not a readable fastnn model file"),
    (["predict", "model.npz", "wide.csv"], r"^wide\.csv:1: expected 5 fields"),
    (["predict", "model.npz", "good.csv", "-o", "nofolder/out.txt"], r"^nofolder/out\.txt: cannot write -o"),
    (["evaluate", "model.npz", "label7.csv"], r"^label7\.csv:2:1: label '7' is out of range"),
    (["neuralnet", "missing.csv", "good.csv", "a", "b", "c", "1", "4", "1", "0.1"], r"^missing\.csv: cannot read"),
    (["neuralnet", "good.csv", "good.csv", "a", "b", "c", "1", "4", "3", "0.1"], r"^argument INIT_FLAG: must be 1"),
    (["neuralnet", "good.csv", "good.csv", "good.csv", "b", "c", "1", "4", "1", "0.1"], r"would overwrite"),
    (["neuralnet", "good.csv"], r"^the following arguments are required"),
    (["gradcheck", "--output", "sigmoid", "--classes", "3"], r"^--output sigmoid has 2 classes"),
    (["frobnicate"], r"^argument COMMAND: invalid choice: 'frobnicate'"),
    ([], r"^choose a command"),
]


def assert_one_line_error(argv, message, folder, capsys):
    """``fastnn argv`` exits with status 2 and one line on stderr matching ``message``, prints
    nothing on stdout and leaves ``folder`` as it was (no output, no leftover folder)."""
    before = sorted(p.name for p in folder.iterdir())
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.split("\n")
    assert len(lines) == 2 and lines[1] == "", captured.err
    assert ERROR_LINE.match(lines[0]), lines[0]
    assert re.search(message, lines[0][len("fastnn: error: "):]), lines[0]
    assert captured.out == ""
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.parametrize("argv,message", BAD_INPUTS, ids=[" ".join(a) or "(none)" for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_line_and_status_2(bad_files, argv, message, capsys):
    assert_one_line_error(argv, message, bad_files, capsys)


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    (tmp_path / "train.csv").write_text("0,1,0\n1,0,1\n0,1\n")
    result = run("train", "train.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "fastnn: error: train.csv:3: expected 3 fields, found 2\n"
    assert result.stdout == "" and sorted(tmp_path.iterdir()) == [tmp_path / "train.csv"]


def test_debug_shows_the_traceback(bad_files, capsys):
    with pytest.raises(fnn_io.DataFormatError, match="ragged.csv:3"):
        cli.main(["train", "ragged.csv", "--debug"])


def test_failed_training_leaves_no_output_folder(bad_files, capsys, monkeypatch):
    def diverge(self, *args, **kwargs):
        raise ValueError("training diverged at epoch 1: the weights became NaN or infinite")

    monkeypatch.setattr(fastnn.Network, "fit", diverge)
    assert cli.main(["train", "good.csv", "--output", "new/run"]) == 1
    assert "fastnn: error: training diverged at epoch 1" in capsys.readouterr().err
    assert not (bad_files / "new").exists()
    assert cli.main(["train", "good.csv"]) == 1
    assert list(bad_files.glob("fastnn-run-*")) == []


def test_predict_no_labels_npz_goes_through_the_checked_reader(bad_files, capsys):
    import io as _io
    import zipfile

    head = _io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False,
                                                "shape": (10**6, 10**6)})
    with zipfile.ZipFile(bad_files / "lie.npz", "w") as zf:
        zf.writestr("X.npy", head.getvalue() + b"\0" * 64)
    np.save(bad_files / "plain.npy", np.zeros((2, 4)))
    (bad_files / "plain.npy").rename(bad_files / "plain.npz")
    for name, message in (("lie.npz", r"^lie\.npz: array 'X' declares shape \(1000000, 1000000\)"),
                          ("plain.npz", r"^plain\.npz: not a readable \.npz archive")):
        assert cli.main(["predict", "model.npz", name, "--no-labels"]) == 2
        err = capsys.readouterr().err
        assert re.search(message, err[len("fastnn: error: "):]), err
        assert "internal error" not in err


# ---------------------------------------------------------------------------------------------
# text labels, headers and the small things


@pytest.fixture
def text_label_files(tmp_path, monkeypatch):
    X, y = synthetic_data(n=90, m=4, k=3, seed=4)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    for path, rows in (("tr.csv", slice(0, 60)), ("va.csv", slice(60, 90))):
        lines = ["name,a,b,c,d"] + [f"{n}," + ",".join(f"{v:.17g}" for v in row)
                                    for n, row in zip(names[rows], X[rows])]
        (tmp_path / path).write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path, X, y, names


def test_text_labels_round_trip_through_train_predict_evaluate(text_label_files, capsys):
    folder, X, y, names = text_label_files
    assert cli.main(["train", "tr.csv", "--header", "--validation", "va.csv", "--hidden", "4", "--epochs", "3",
                     "--seed", "1", "-o", "run", "-q"]) == 0
    net = fnn_io.load(folder / "run" / cli.MODEL_FILE)
    assert net.metadata_["classes"] == ["setosa", "versicolor", "virginica"]
    # the same fit as integer codes of the sorted names
    reference = fastnn.Network(hidden=(4,), epochs=3, learning_rate=cli.DEFAULT_LEARNING_RATE, init="uniform",
                               random_state=1).fit(X[:60], y[:60], X[60:], y[60:])
    np.testing.assert_array_equal(net.weights_[0], reference.weights_[0])
    capsys.readouterr()
    assert cli.main(["predict", "run/model.npz", "va.csv", "--header"]) == 0
    printed = capsys.readouterr().out.split()
    np.testing.assert_array_equal(printed, net.metadata_["classes"] and
                                  np.array(net.metadata_["classes"])[reference.predict(X[60:])])
    assert cli.main(["evaluate", "run/model.npz", "va.csv", "--header"]) == 0
    out = capsys.readouterr().out
    error = float(np.mean(reference.predict(X[60:]) != y[60:]))
    assert float(re.search(r"^error:\s+(\S+)$", out, re.M).group(1)) == error
    assert "setosa" in out.split("predicted label):\n", 1)[1]
    # a header without --header is named as such, with the option to use
    assert cli.main(["train", "tr.csv", "-q"]) == 2
    err = capsys.readouterr().err
    assert "tr.csv:1: this looks like a header line" in err and "--header" in err


def test_integer_labels_are_unchanged_by_the_text_label_support(tmp_path, capsys, monkeypatch):
    X, y = synthetic_data(n=50, m=3, k=3, seed=2)
    write_csv(tmp_path / "d.csv", X, y)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "d.csv", "--hidden", "2", "--epochs", "1", "--seed", "0", "-o", "r", "-q"]) == 0
    assert fnn_io.load(tmp_path / "r" / cli.MODEL_FILE).metadata_["classes"] == [0, 1, 2]


def test_small_messages(bad_files, capsys):
    assert cli.main(["train", "--hidden", "0"]) == 2
    assert "for no hidden layer give --hidden with no numbers" in capsys.readouterr().err
    assert cli.main(["predict", "good.csv", "model.npz"]) == 2
    assert "MODEL comes first: 'fastnn predict MODEL DATA'" in capsys.readouterr().err
    np.savez(bad_files / "data.npz", X=np.zeros((2, 4)), y=np.array([0, 1]))
    assert cli.main(["evaluate", "data.npz", "model.npz"]) == 2
    assert "MODEL comes first: 'fastnn evaluate MODEL DATA'" in capsys.readouterr().err
    assert cli.main(["gradcheck", "--output-layer", "sigmoid", "--classes", "3"]) == 2
    assert "--output-layer sigmoid has 2 classes" in capsys.readouterr().err
    assert cli.main(["gradcheck", "--output-layer", "sigmoid", "--samples", "1"]) == 0
    capsys.readouterr()
    assert cli.main(["gradcheck", "--help"]) == 0
    helptext = capsys.readouterr().out
    assert "--output-layer" in helptext and "--output " not in helptext
    assert cli.main(["train", "good.csv", "--epochs", "1", "--hidden", "2", "-o", "one"]) == 0
    captured = capsys.readouterr()
    assert "for 1 epoch;" in captured.err and ", 1 epoch," in captured.out


def test_loading_shows_progress_only_on_a_terminal(bad_files, capsys, monkeypatch):
    calls = []
    real = fnn_io.load_dataset
    monkeypatch.setattr(fnn_io, "load_dataset", lambda *a, **k: calls.append(k.get("progress")) or real(*a, **k))
    assert cli.main(["predict", "model.npz", "good.csv"]) == 0
    assert calls[-1] is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["predict", "model.npz", "good.csv"]) == 0
    assert callable(calls[-1])


def test_one_epoch_learning_curve_has_whole_epoch_ticks():
    from matplotlib.image import imread  # noqa: F401  (the figure is drawn with matplotlib)

    png = plots.learning_curve_png({"train_loss": [0.5], "val_loss": [0.6]})
    assert png.startswith(b"\x89PNG")


def test_hidden_units_share_one_colour_scale():
    W = np.zeros((2, 5))
    W[0, 1:] = [1, -1, 0.5, 0]
    W[1, 1:] = [0.1, 0, 0, 0]
    grid = plots.weight_grid(W, (2, 2))
    scale = max(1, math.ceil(plots.MIN_TILE / 2))
    tile0 = grid[plots.GAP, plots.GAP]  # unit 0, weight 1: the darkest red
    tile1 = grid[plots.GAP, plots.GAP * 2 + 2 * scale]  # unit 1, weight 0.1: pale, not the same red
    assert not np.allclose(tile0, tile1)
