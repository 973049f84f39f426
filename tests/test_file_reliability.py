"""Files under failure: a disk that fills up, a write or rename that fails part-way.

Every command that writes (``neuralnet``, ``train``, ``predict -o``, ``diagram``, ``fastnn.save``) is run
once to count its low-level writes and renames; then, for every k, again with the k-th
``write`` raising ENOSPC (and, separately, the k-th rename failing). After each failure no
earlier file may be lost or changed (bytes and permission bits), no temporary file may
remain, and the error must name the file. The other tests cover outputs that are symlinks,
devices and files with a private mode, and inputs that are not regular files.
"""

import errno
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from conftest import synthetic_data

import fastnn
from fastnn import _files as fnn_files
from fastnn import cli
from fastnn import io as fnn_io


def write_csv(path, X, y):
    lines = [",".join(f"{v:.17g}" for v in row) for row in np.column_stack([y, X])]
    path.write_text("\n".join(lines) + "\n")
    return path


def snapshot(folder):
    """Every file below ``folder``: relative path -> (bytes, permission bits)."""
    state = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as f:
                state[os.path.relpath(path, folder)] = (f.read(), stat.S_IMODE(os.stat(path).st_mode))
    return state


def leftovers(folder):
    return sorted(name for _, _, names in os.walk(folder) for name in names
                  if name.endswith((".tmp", ".bak")))


class FailOn:
    """Count calls of ``function``; make call number ``fail_at`` raise ``error`` (0: never)."""

    def __init__(self, function, fail_at=0, error=None):
        self.function, self.fail_at, self.error, self.calls = function, fail_at, error, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.error
        return self.function(*args, **kwargs)


@pytest.fixture
def workdir(tmp_path, monkeypatch, capsys):
    X, y = synthetic_data(n=60, m=4, k=3, seed=0)
    write_csv(tmp_path / "tr.csv", X[:40], y[:40])
    write_csv(tmp_path / "va.csv", X[40:], y[40:])
    model = fastnn.Network(hidden=(3,), epochs=1, random_state=0).fit(X, y)
    fnn_io.save(model, tmp_path / "model.npz")
    monkeypatch.chdir(tmp_path)
    return tmp_path


NEURALNET = ["neuralnet", "tr.csv", "va.csv", "out/tr.labels", "out/va.labels", "out/metrics.txt", "2", "3",
             "1", "0.1"]
TRAIN = ["train", "tr.csv", "--validation", "va.csv", "--hidden", "4", "--epochs", "2", "--image-shape", "2x2",
         "--output", "out/run", "--quiet"]
PREDICT = ["predict", "model.npz", "va.csv", "-o", "out/labels.txt"]


def run_save(seed):
    X, y = synthetic_data(n=20, m=4, k=3, seed=seed)
    net = fastnn.Network(hidden=(2,), epochs=1, random_state=seed).fit(X, y)
    fnn_io.save(net, "out/saved.npz", metadata={"seed": seed})
    return 0


COMMANDS = {
    "neuralnet": lambda seed: cli.main(NEURALNET + ["--seed", str(seed)]),
    "train": lambda seed: cli.main(TRAIN + ["--seed", str(seed)]),
    "predict": lambda seed: cli.main(PREDICT + (["--proba"] if seed % 2 else [])),
    "save": run_save,
    "diagram": lambda seed: cli.main(["diagram", "model.npz", "out/network.svg", "--max-edges", str(5 + seed)]),
}


N_FILES = {"neuralnet": 3, "train": 4, "predict": 1, "save": 1, "diagram": 1}


@pytest.mark.parametrize("failing", ["write", "fsync", "rename"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_failure_at_any_write_leaves_every_earlier_file_as_it_was(workdir, monkeypatch, capsys, command,
                                                                    failing):
    run = COMMANDS[command]
    (workdir / "out").mkdir()
    assert run(1) == 0  # the earlier results the failing runs must not touch
    for path in (workdir / "out").rglob("*"):
        if path.is_file():
            path.chmod(0o640)
    before = snapshot(workdir)
    assert leftovers(workdir) == []
    targets = {"write": (fnn_files, "_write_all"), "fsync": (os, "fsync"), "rename": (os, "replace")}
    owner, attribute = targets[failing]
    original = getattr(owner, attribute)

    counter = FailOn(original)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owner, attribute, counter)
        assert run(2) == 0  # a successful run, to count the calls
    n_calls = counter.calls
    assert n_calls >= 1
    (workdir / "out").mkdir(exist_ok=True)
    # restore the earlier results (the counting run replaced them)
    for name, (data, mode) in before.items():
        (workdir / name).write_bytes(data)
        (workdir / name).chmod(mode)
    capsys.readouterr()

    for k in range(1, n_calls + 1):
        error = OSError(errno.ENOSPC, "No space left on device")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(owner, attribute, FailOn(original, k, error))
            try:
                status = run(2)
            except OSError as exc:  # fastnn.save raises; the commands report
                assert command == "save" and exc.errno == errno.ENOSPC and "saved.npz" in str(exc)
                status = 1
        if status == 0:
            # only the folder's fsync after the renames is best effort (a rename is durable or not)
            assert failing == "fsync" and k > N_FILES[command], (command, k)
            continue
        if command != "save":
            assert status == 1, k
            err = capsys.readouterr().err
            assert "No space left on device" in err and "out" in err, err
            assert "Traceback" not in err and "internal error" not in err
        assert snapshot(workdir) == before, f"{command}: call {k} of {n_calls} changed an earlier file"
        assert leftovers(workdir) == [], k


def test_a_failed_first_train_run_leaves_no_folder(workdir, monkeypatch, capsys):
    monkeypatch.setattr(fnn_files, "_write_all", FailOn(fnn_files._write_all, 3, OSError(errno.ENOSPC, "No space")))
    assert cli.main(TRAIN) == 1
    assert not (workdir / "out").exists()


# ---------------------------------------------------------------------------------------------
# what an output path may be


def test_a_symlinked_output_writes_its_target_and_keeps_the_link(workdir, capsys):
    (workdir / "real").mkdir()
    (workdir / "real" / "labels.txt").write_text("old\n")
    os.symlink("real/labels.txt", workdir / "link.txt")
    assert cli.main(["predict", "model.npz", "va.csv", "-o", "link.txt"]) == 0
    assert os.path.islink(workdir / "link.txt")
    assert (workdir / "real" / "labels.txt").read_text() != "old\n"
    assert len((workdir / "real" / "labels.txt").read_text().split()) == 20
    assert leftovers(workdir) == []


def test_a_dangling_symlink_creates_its_target(workdir, capsys):
    os.symlink("target.txt", workdir / "dangling.txt")
    assert cli.main(["predict", "model.npz", "va.csv", "-o", "dangling.txt"]) == 0
    assert os.path.islink(workdir / "dangling.txt") and (workdir / "target.txt").is_file()


def test_an_existing_files_mode_is_kept(workdir, capsys):
    private = workdir / "private.txt"
    private.write_text("secret\n")
    private.chmod(0o600)
    assert cli.main(["predict", "model.npz", "va.csv", "-o", "private.txt"]) == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    fnn_io.save(fnn_io.load("model.npz"), private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_dev_null_is_written_through_not_replaced(workdir, capsys):
    assert cli.main(["predict", "model.npz", "va.csv", "-o", "/dev/null"]) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert cli.main(["neuralnet", "tr.csv", "va.csv", "/dev/null", "/dev/null", "metrics.txt", "1", "2", "1",
                     "0.1"]) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and (workdir / "metrics.txt").is_file()
    fnn_io.write_atomic("/dev/null", b"x" * 100)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert [name for name in os.listdir("/dev") if name.startswith(".null.")] == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_device_reports_the_file(workdir, capsys):
    assert cli.main(["predict", "model.npz", "va.csv", "-o", "/dev/full"]) == 1
    assert "fastnn: error: /dev/full: No space left on device" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
def test_dev_stdout_goes_to_the_standard_output(workdir):
    result = subprocess.run([sys.executable, "-m", "fastnn", "predict", "model.npz", "va.csv", "-o", "/dev/stdout"],
                            cwd=workdir, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 20


def test_two_outputs_naming_one_file_are_refused_before_writing(workdir):
    with pytest.raises(ValueError, match="two outputs name the same file"):
        fnn_io.write_files([("a.txt", "1"), ("./a.txt", "2")])
    assert not (workdir / "a.txt").exists()


# ---------------------------------------------------------------------------------------------
# inputs that are not regular files


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"), reason="needs /dev/zero, mkfifo")
@pytest.mark.parametrize("argv,message", [
    (["predict", "/dev/zero", "va.csv"], "/dev/zero: cannot read the model file: it is a character device"),
    (["predict", "model.npz", "fifo.csv"], "fifo.csv: cannot read the file: it is a named pipe (FIFO)"),
    (["predict", "model.npz", "fifo.npz", "--no-labels"], "fifo.npz: cannot read the file: it is a named pipe"),
    (["train", "fifo.csv"], "fifo.csv: cannot read the file: it is a named pipe (FIFO)"),
])
def test_pipes_and_devices_are_refused_as_inputs(workdir, capsys, argv, message):
    os.mkfifo(workdir / "fifo.csv")
    os.mkfifo(workdir / "fifo.npz")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"fastnn: error: {message}" in err, err
