"""Smoke test of the benchmark harness: ``python bench/run.py --quick`` runs and writes its reports.

Asserts nothing about speed. Peers that are not installed (PyTorch, FANN, fastnn itself) and
the OCR data, when absent, are skipped by the harness, so the test passes without them.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "bench" / "run.py"
COMMITTED = ROOT / "bench" / "RESULTS.md"


def _mtime(path):
    return path.stat().st_mtime_ns if path.exists() else None


def test_quick_run_writes_reports(tmp_path):
    committed_before = _mtime(COMMITTED)
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"

    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "| contender | path | dtype | samples/s |" in report
    assert "Quick run" in report
    for shape in ("S1: 128→50→10", "S2: 784→256→10", "S3: 784→256→256→10"):
        assert shape in report

    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert set(data["results"]) == {"S1", "S2", "S3"}
    assert data["meta"]["threads"]["env"]["OMP_NUM_THREADS"] == "1"
    assert data["meta"]["gemm"]["float64"] > 0
    records = [r for block in data["results"].values() for r in block["records"]]
    assert all(r["status"] in ("ok", "skipped") for r in records), [
        (r["key"], r.get("reason")) for r in records if r["status"] not in ("ok", "skipped")]
    numpy_rows = [r for r in records if r["library"] == "NumPy"]
    assert numpy_rows and all(r["status"] == "ok" and r["samples_per_s"] > 0 for r in numpy_rows)

    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "bench.png").stat().st_size > 0
    assert _mtime(COMMITTED) == committed_before, "a --quick run must not touch bench/RESULTS.md"


@pytest.mark.parametrize(
    "args, message",
    [(["--shapes", "S9"], "S1,S2,S3"), (["--min-seconds", "-1"], "--min-seconds")],
)
def test_bad_options_are_refused_with_what_to_pass(args, message):
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert message in proc.stderr


def test_runs_per_repeat_fill_the_minimum_time():
    run = _import_bench("run")
    assert run.runs_per_repeat(0.02, 0.2) == 10
    assert run.runs_per_repeat(0.03, 0.2) == 7
    assert run.runs_per_repeat(5.0, 0.2) == 1
    assert run.runs_per_repeat(1e-7, 0.2) == run.MAX_RUNS_PER_REPEAT
    assert run.runs_per_repeat(0.02, 0.0) == 1


def _import_bench(name):
    """Import bench/<name>.py without leaving its thread-variable pinning in this process."""
    saved = dict(os.environ)
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))
        os.environ.clear()
        os.environ.update(saved)


def _epoch_weights(contender, shape, X, y):
    """Weights in the (n_out, n_in + 1) layout after one timed epoch of `contender`."""
    contender.setup(shape, X, y)
    contender.run()
    if hasattr(contender, "model"):  # PyTorch
        linears = [m for m in contender.model if m.__class__.__name__ == "Linear"]
        return [np.hstack([m.bias.detach().numpy()[:, None], m.weight.detach().numpy()]) for m in linears]
    return [np.hstack([b[:, None], W]) for W, b in zip(contender.W, contender.b)]


def test_per_sample_contenders_compute_the_same_epoch(tmp_path):
    """The NumPy and PyTorch loops are the same SGD: one epoch from the same weights agrees."""
    peers = _import_bench("peers")
    shape = peers.Shape("T", (6, 5, 4, 3))
    rng = np.random.default_rng(0)
    X = rng.random((40, 6))
    y = rng.integers(0, 3, size=40)
    ctx = peers.RunContext(tmp_path)
    expected = _epoch_weights(peers.NumpySGD("float64", ctx), shape, X, y)
    moved = [np.abs(w - w0).max() for w, w0 in zip(expected, peers.init_weights(shape, np.float64))]
    assert min(moved) > 1e-6, "the epoch did not change the weights"

    others = {}
    if importlib.util.find_spec("torch") is not None:
        others["torch autograd"] = _epoch_weights(peers.TorchSGD("float64", ctx), shape, X, y)
        others["torch manual"] = _epoch_weights(peers.TorchManualSGD("float64", ctx), shape, X, y)
    try:
        import fastnn
    except ImportError:
        fastnn = None
    if fastnn is not None:
        net = fastnn.Network(hidden=shape.hidden, init=peers.init_weights(shape, np.float64), learning_rate=0.01,
                             epochs=1, shuffle=False, dtype="float64")
        others["fastnn"] = net.fit(X, y).weights_
    if not others:
        pytest.skip("neither PyTorch nor fastnn is installed: nothing to compare the NumPy loop with")
    for name, weights in others.items():
        for layer, (got, want) in enumerate(zip(weights, expected)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"{name}, layer {layer}")


def test_model_family_benchmark_runs_quickly():
    """bench/model_family.py --quick: every table present, rates positive (no timing asserted)."""
    pytest.importorskip("threadpoolctl")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "model_family.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout)
    activations = results["A. activations, S1 per-sample epoch"]
    assert {"logistic float64", "tanh float32", "relu float64"} <= set(activations)
    assert all(row["samples/s"] > 0 for name, row in activations.items() if name != "data")
    assert results["B. regression 64-50-1, per-sample, whole fit"]["fastnn MLPRegressor"] > 0
    assert results["C. regression 784-256-1, float32, mini-batch 128"]["fastnn mini-batch 128"] > 0


def test_optimizer_ceilings_benchmark_runs():
    """bench/optim_ceilings.py: the L-BFGS comparison on digits prints its ceiling (no timing asserted)."""
    pytest.importorskip("sklearn")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "optim_ceilings.py"), "--repeats", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "digits (1797 rows, 64-64-10)" in proc.stdout
    assert "ceiling at the dgemm rate" in proc.stdout
    assert "per-sample Adam" in proc.stdout  # measured, or skipped with its reason
