"""fastnn.autodiff needs NumPy only: the module loaded on its own imports neither SciPy, scikit-learn nor
the rest of fastnn (so the oracle stays independent of the engine, and loading it stays cheap)."""

import subprocess
import sys

# Load src/fastnn/autodiff.py (and _autodiff_lecture.py, its second half) as modules of a package of
# their own, without running fastnn/__init__.py, then list what they imported besides the standard
# library and NumPy.
_PROBE = """
import importlib, importlib.util, sys, types
locations = importlib.util.find_spec("fastnn").submodule_search_locations
package = types.ModuleType("standalone")
package.__path__ = list(locations)
sys.modules["standalone"] = package
module = importlib.import_module("standalone.autodiff")
x = module.Variable(2.0)
module.cos(module.sin(x ** 2) + 3 * x ** 2).backward()
print(f"{float(x.grad):.6f}")
print(" ".join(sorted({name.split(".")[0] for name in sys.modules} & {"scipy", "sklearn", "fastnn"})))
"""


def test_autodiff_imports_numpy_only():
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    gradient, extra_imports = (proc.stdout.splitlines() + ["", ""])[:2]
    assert gradient == "9.099149"
    assert extra_imports == "", f"loading fastnn/autodiff.py imported {extra_imports}; it must need NumPy only"
