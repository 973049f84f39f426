"""Pin every BLAS/OpenMP library to one thread; import this before numpy.

The variables must be in the environment before numpy, scipy or torch load
their thread pools, so `bench/run.py` imports this module first.  The
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` variables are never touched:
they choose the OpenBLAS kernel, and the harness only records them.
"""

import os

#: Environment variables that set the size of a BLAS or OpenMP thread pool.
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

#: Variables that change which OpenBLAS kernel runs; recorded, never set.
OPENBLAS_KERNEL_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def pin_single_thread():
    """Set every variable of `THREAD_VARS` to ``"1"``.

    Returns
    -------
    original : dict of str to (str or None)
        The value each variable had before, ``None`` where it was unset.
    """
    original = {name: os.environ.get(name) for name in THREAD_VARS}
    for name in THREAD_VARS:
        os.environ[name] = "1"
    return original
