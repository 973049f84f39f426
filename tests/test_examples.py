"""Every script in examples/ runs to its end where its optional libraries are installed."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: What each example needs beyond fastnn's own dependencies.
NEEDS = {
    "grid_search_dask.py": ["dask.distributed"],
    "train_on_dask.py": ["dask.distributed"],
    "spark_interchange.py": ["pyspark", "pandas", "java"],
    "tune_with_ray.py": ["ray.tune"],
    "hyperband_dask.py": ["dask_ml", "dask<2025.3"],
}


def missing(requirements):
    for name in requirements:
        if name.startswith("dask<"):  # dask-ml's HyperbandSearchCV fails with newer dask (see the example)
            import dask

            if tuple(int(part) for part in dask.__version__.split(".")[:2]) >= (2025, 3):
                return f"dask < 2025.3 (installed: {dask.__version__})"
        elif name == "java":
            if shutil.which("java") is None:
                return "a Java runtime"
        elif importlib.util.find_spec(name.split(".")[0]) is None:
            return name
    return None


def test_every_example_is_listed():
    assert sorted(path.name for path in EXAMPLES.glob("*.py")) == sorted(NEEDS)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_example_runs(name):
    absent = missing(NEEDS[name])
    if absent:
        pytest.skip(f"{name} needs {absent}")
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=900,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "accuracy" in result.stdout
