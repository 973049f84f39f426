"""The Cython bridge (fastnn._core) on its own: what importing it costs, and what it hands to C."""
import subprocess
import sys

import numpy as np
import pytest

from fastnn import _core


def test_importing_the_bridge_does_not_import_scipy_linalg():
    # the GEMMs are found on first use, not at import (scipy.linalg takes ~0.2 s to import)
    code = "import sys, fastnn._core; print('scipy.linalg' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_batched_prediction_loads_the_gemms_on_first_use():
    code = (
        "import sys, numpy as np\n"
        "from fastnn import _core\n"
        "arch = _core.Architecture([3, 4, 2], _core.OUTPUT_SOFTMAX)\n"
        "W = _core.aligned_zeros(arch.n_weights, np.float64)\n"
        "data = _core.Dataset(np.ones(3 * 40), 40, 3)\n"
        "out = _core.predict(arch, W, data, 8)\n"
        "print('scipy.linalg' in sys.modules, np.allclose(out, 0.5))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "True"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batched_and_per_sample_losses_agree_after_loading_twice(dtype):
    _core.load_blas()
    _core.load_blas()  # a second call changes nothing
    rng = np.random.default_rng(0)
    arch = _core.Architecture([3, 5, 4], _core.OUTPUT_SOFTMAX, dtype)
    W = _core.aligned_copy(rng.standard_normal(arch.n_weights).astype(dtype))
    data = _core.Dataset(rng.random(3 * 50).astype(dtype), 50, 3, labels=(np.arange(50) % 4).astype(np.int32))
    batched, per_sample = _core.loss_sum(arch, W, data, 16), _core.loss_sum(arch, W, data, 1)
    np.testing.assert_allclose(batched, per_sample, rtol=1e-12 if dtype == np.float64 else 1e-5)


def test_the_blas_thread_limit_covers_the_engines_own_blas():
    """The limiter's controller is made after SciPy's BLAS is loaded, so it limits that library."""
    code = (
        "import numpy as np, fastnn\n"
        "from fastnn import _engine\n"
        "from threadpoolctl import ThreadpoolController\n"
        "X, y = np.random.default_rng(0).random((200, 5)), np.arange(200) % 2\n"
        "fastnn.Network(hidden=(3,), epochs=1, batch_size=10).fit(X, y)\n"
        "seen = {info['filepath'] for info in _engine.single_threaded_blas._controller.info()}\n"
        "import scipy.linalg\n"
        "print(seen == {info['filepath'] for info in ThreadpoolController().info()})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True", result.stdout
