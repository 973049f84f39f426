"""fastnn: fast per-sample SGD for fully-connected sigmoid networks on the CPU.

The engine is C (``csrc/``) behind a Cython bridge; :class:`Network` is the thin Python class
over it, :func:`gradcheck` checks its gradients against finite differences, ``fastnn.io`` reads
data and model files, and ``fastnn.autodiff`` is a small reverse-mode autodiff used as an
independent gradient oracle.
"""

from .gradcheck import gradcheck
from .io import DataFormatError, ModelFormatError, load, load_dataset, read_csv, read_npz, save
from .network import Network

__version__ = "0.1.0"


def __getattr__(name):
    # MLPClassifier pulls in scikit-learn, which takes a second to import, and autodiff is only
    # an oracle for the tests: load them on first use so that `import fastnn` (and the command
    # line) start fast.
    if name == "MLPClassifier":
        from .estimator import MLPClassifier

        return MLPClassifier
    if name == "to_onnx":  # needs the optional extra fastnn[onnx]
        from .onnx import to_onnx

        return to_onnx
    if name == "autodiff":
        import importlib

        return importlib.import_module(".autodiff", __name__)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")

__all__ = [
    "DataFormatError",
    "MLPClassifier",
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
]
