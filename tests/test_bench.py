"""Smoke test of the benchmark harness: ``python bench/run.py --quick`` runs and writes its reports.

Asserts nothing about speed. Peers that are not installed (PyTorch, FANN, fastnn itself) and
the OCR data, when absent, are skipped by the harness, so the test passes without them.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

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


def test_unknown_shape_is_refused_with_the_valid_names():
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--shapes", "S9"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "S1,S2,S3" in proc.stderr
