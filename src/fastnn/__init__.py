"""fastnn: fast per-sample SGD for fully-connected sigmoid networks on the CPU.

The engine is C (``csrc/``) behind a Cython bridge; :class:`Network` is the thin Python class
over it, :func:`gradcheck` checks its gradients against finite differences, ``fastnn.io`` reads
data and model files, and ``fastnn.autodiff`` is a small reverse-mode autodiff used as an
independent gradient oracle.
"""

from .gradcheck import gradcheck
from .network import Network

__version__ = "0.1.0"


#: Names of fastnn.io, loaded with it on first use (the file formats need ~40 ms of imports).
_IO_NAMES = ("DataFormatError", "ModelFormatError", "load", "load_dataset", "read_csv", "read_npz", "save")


def __getattr__(name):
    # The estimators pull in scikit-learn, which takes a second to import, and autodiff is only
    # an oracle for the tests: load them on first use so that `import fastnn` (and the command
    # line) start fast.
    if name in _IO_NAMES:
        from . import io

        return getattr(io, name)
    if name == "MLPClassifier":
        from .estimator import MLPClassifier

        return MLPClassifier
    if name == "MLPRegressor":
        from .regressor import MLPRegressor

        return MLPRegressor
    if name == "to_onnx":  # needs the optional extra fastnn[onnx]
        from .onnx import to_onnx

        return to_onnx
    if name in ("io", "autodiff", "onnx", "spark", "dask"):  # submodules, as attributes once asked for
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")


__all__ = [
    "DataFormatError",
    "MLPClassifier",
    "MLPRegressor",
    "ModelFormatError",
    "Network",
    "__version__",
    "autodiff",
    "gradcheck",
    "load",
    "load_dataset",
    "read_csv",
    "read_npz",
    "save",
    "to_onnx",
    "io",
]
