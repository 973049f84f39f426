"""Every command and example in the README works when copied, in order.

The ``sh`` blocks run line by line in one temporary folder (as a user would paste them), with
the data files they name made there first; the ``python`` blocks run as scripts. A few lines
are not run here, each for a stated reason (CI runs them itself, or they take many minutes).
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import synthetic_data

README = Path(__file__).resolve().parents[1] / "README.md"
TIMEOUT = 600

#: Commands that this test does not run, and why. A line is matched by its start.
NOT_RUN_HERE = {
    "python -m pytest": "this test suite itself",
    "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py": "the full benchmark takes an hour; "
                                                                       "tests/test_bench.py runs its quick mode",
    "make -C tests/c gates": "run by tests/test_c_engine.py",
    "bash tools/sanitize.sh": "run by .ci/run on a build of its own",
    "bash tools/fuzz.sh": "run by .ci/run (FASTNN_FUZZ_EXAMPLES)",
    "python -m sphinx": "builds the documentation site from the project's docs/ and runs its tutorials: run by .ci/run",
}
#: Data files the README's commands name, made here in the OCR format (label, 128 pixels).
DATA_FILES = {"train.csv": 0, "valid.csv": 1, "test.csv": 2, "small_train.csv": 3, "small_validation.csv": 4}
#: Regression data files the README's commands name (target, 6 features).
REGRESSION_FILES = {"prices.csv": 5}


def blocks(language):
    """The README's fenced code blocks in ``language``, in order."""
    text = README.read_text(encoding="utf-8")
    return [match.group(1) for match in re.finditer(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)]


def commands(block):
    """The block's shell commands: continuation lines joined, comments and blank lines dropped."""
    lines = block.replace("\\\n", " ").splitlines()
    return [line for line in (line.strip() for line in lines) if line and not line.startswith("#")]


def runnable(command):
    """The part of a README command this test runs (None: none of it), e.g. after ``pip install ... &&``."""
    parts = [part.strip() for part in command.split("&&")]
    parts = [part for part in parts if not part.startswith("pip install")]
    for part in parts:
        if any(part.startswith(prefix) for prefix in NOT_RUN_HERE):
            return None
    return " && ".join(parts) or None


def write_ocr_csv(path, seed, n=120):
    X, y = synthetic_data(n, 128, 10, seed=seed)
    pixels = (X > 0).astype(int)
    path.write_text("".join(f"{label}," + ",".join(map(str, row)) + "\n" for label, row in zip(y, pixels)))


def write_regression_csv(path, seed, n=200):
    """``y = X @ w + 0.5 sin(6 x1) + noise`` on 6 features in [0, 1]: a target of about unit scale."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 6))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5, -1.0]) + 0.5 * np.sin(6 * X[:, 0]) + rng.normal(scale=0.05, size=n)
    path.write_text("".join(f"{t:.6f}," + ",".join(f"{v:.6f}" for v in row) + "\n" for t, row in zip(y, X)))


def test_the_readme_has_shell_and_python_blocks():
    assert blocks("sh") and blocks("python")
    assert all(commands(block) for block in blocks("sh"))


def test_every_shell_command_of_the_readme_runs_as_written(tmp_path):
    for name, seed in DATA_FILES.items():
        write_ocr_csv(tmp_path / name, seed)
    for name, seed in REGRESSION_FILES.items():
        write_regression_csv(tmp_path / name, seed)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    ran = []
    for block in blocks("sh"):
        for command in commands(block):
            command = runnable(command)
            if command is None:
                continue
            result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                                    timeout=TIMEOUT, stdin=subprocess.DEVNULL)
            assert result.returncode == 0, f"README command failed: {command}\n{result.stdout}\n{result.stderr}"
            ran.append(shlex.split(command)[0])
    assert ran.count("fastnn") >= 5, ran


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_every_python_example_of_the_readme_runs(tmp_path, index):
    code = blocks("python")[index]
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"README example {index} failed:\n{code}\n{result.stderr}"


def test_the_printed_results_of_the_readme_examples_are_what_they_print(tmp_path):
    """The autodiff example's comment ``# J = ..., dJ/dx = ...`` is what it prints."""
    for code in blocks("python"):
        expected = re.findall(r"^# (J = .*?)  \(", code, flags=re.M)
        if not expected:
            continue
        result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                                timeout=TIMEOUT)
        assert result.stdout.splitlines()[: len(expected)] == expected
