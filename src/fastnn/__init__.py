"""fastnn: fast per-sample SGD for fully-connected sigmoid networks on the CPU.

The engine is C (``csrc/``) behind a Cython bridge; :class:`Network` is the thin Python class
over it, :func:`gradcheck` checks its gradients against finite differences.
"""

from .gradcheck import gradcheck
from .network import Network

__version__ = "0.1.0"

__all__ = ["Network", "gradcheck", "__version__"]
