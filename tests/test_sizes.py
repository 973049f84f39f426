"""Buffer sizes of the engine: every size computation is exact or refused, never wrapped.

The sizes the bridge allocates (weights, per-sample work, batched work) are checked against a
model in Python integers, which cannot overflow, for architectures, batch sizes and row counts up
to the int64 edge: either the engine's size equals the model or the engine refuses the call with
a ValueError. The cases that once corrupted memory or asked for tens of GiB are tested as
calls: a batch size of 2**62, wide CSR input, values at a misaligned address. tools/sanitize.sh
runs this file under AddressSanitizer + UBSan.
"""
import os
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import Network, _core

INDEX_MAX = sys.maxsize  # the engine's fnn_index is Py_ssize_t
# the suite's search is the same every run (a CI gate); tools/fuzz.sh (FASTNN_FUZZ_EXAMPLES set)
# searches new inputs
DERANDOMIZE = "FASTNN_FUZZ_EXAMPLES" not in os.environ
DEFERRED_ROWS = _core.DEFERRED_ROWS


def padded(n, dtype):
    unit = 4 if np.dtype(dtype) == np.float64 else 8
    return -(-n // unit) * unit


def model_weight_count(sizes, dtype):
    return sum((n_in + 1) * padded(n_out, dtype) for n_in, n_out in zip(sizes, sizes[1:]))


def model_work_size(sizes, dtype):
    widths = [padded(n, dtype) for n in sizes[1:]]
    return sum(widths) + 2 * max(widths) + DEFERRED_ROWS * (3 * widths[0] + sizes[0])  # 3: W, v maps and deltas


def model_batch_work_size(sizes, dtype, batch_size, n_rows, sparse):
    rows = min(batch_size, max(n_rows, 1))
    widths = [padded(n, dtype) for n in sizes[1:]]
    inputs = 0 if sparse else padded(sizes[0], dtype)
    return rows * (inputs + sum(widths) + 2 * max(widths))


# layer sizes from 1 to far past what any machine holds, biased towards both ends
layer_size = st.one_of(st.integers(1, 300), st.integers(1, 1 << 62), st.integers((1 << 62) - 300, INDEX_MAX - 1))
architecture = st.tuples(st.lists(layer_size, min_size=2, max_size=5), st.sampled_from([np.float64, np.float32]))
count = st.one_of(st.integers(1, 1000), st.integers(1, INDEX_MAX), st.integers(INDEX_MAX - 1000, INDEX_MAX))


def make_architecture(sizes, dtype):
    sizes = list(sizes)
    sizes[-1] = max(sizes[-1], 2)  # a softmax output
    return _core.Architecture(sizes, _core.OUTPUT_SOFTMAX, dtype), sizes


@settings(max_examples=300, deadline=None, derandomize=DERANDOMIZE)
@given(architecture)
def test_weight_and_work_sizes_match_a_big_integer_model_or_are_refused(case):
    sizes, dtype = case
    try:
        arch, sizes = make_architecture(sizes, dtype)
    except ValueError as error:
        assert "too large" in str(error)
        sizes = [*sizes[:-1], max(sizes[-1], 2)]
        # refused only what is out of the engine's reach: 2^57 weights is 1 EiB of float64
        assert model_weight_count(sizes, dtype) > (1 << 57) or model_work_size(sizes, dtype) > INDEX_MAX
        return
    assert arch.n_weights == model_weight_count(sizes, dtype)
    assert arch.layer_offset(len(sizes) - 1) == arch.n_weights
    assert _core.work_size(arch) == model_work_size(sizes, dtype)


@settings(max_examples=300, deadline=None, derandomize=DERANDOMIZE)
@given(st.lists(st.integers(1, 5000), min_size=2, max_size=4), st.sampled_from([np.float64, np.float32]),
       count, count, st.booleans())
def test_batch_work_size_matches_a_big_integer_model_or_is_refused(sizes, dtype, batch_size, n_rows, sparse):
    arch, sizes = make_architecture(sizes, dtype)
    expected = model_batch_work_size(sizes, dtype, batch_size, n_rows, sparse)
    if expected * np.dtype(dtype).itemsize > INDEX_MAX:
        with pytest.raises(ValueError, match="smaller batch_size"):
            _core.batch_work_size(arch, batch_size, n_rows, sparse)
    else:
        assert _core.batch_work_size(arch, batch_size, n_rows, sparse) == expected


@given(st.integers(1 << 52, 1 << 70), st.sampled_from([np.float64, np.float32]))
@settings(max_examples=50, deadline=None, derandomize=DERANDOMIZE)
def test_batch_work_size_of_huge_batches_over_huge_row_counts_is_refused(rows, dtype):
    arch, _ = make_architecture([784, 256, 10], dtype)
    with pytest.raises(ValueError, match="smaller batch_size"):
        _core.batch_work_size(arch, rows, rows, False)


def test_batch_size_below_one_is_refused():
    arch, _ = make_architecture([3, 2], np.float64)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        _core.batch_work_size(arch, 0, 10, False)


def fit_weights(batch_size, X, y, **params):
    net = Network(hidden=(3,), epochs=2, batch_size=batch_size, random_state=0, **params).fit(X, y)
    return net.weights_


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size", [2**62, 10**9, INDEX_MAX])
def test_a_batch_larger_than_the_data_is_the_data(batch_size, dtype):
    rng = np.random.default_rng(0)
    X, y = rng.random((100, 2)), np.arange(100) % 2
    huge = fit_weights(batch_size, X, y, dtype=dtype)
    whole = fit_weights(100, X, y, dtype=dtype)
    for W_huge, W_whole in zip(huge, whole):
        np.testing.assert_array_equal(W_huge, W_whole)


def test_a_huge_batch_in_the_bridge_is_clipped_to_the_rows_of_the_call():
    rng = np.random.default_rng(1)
    arch = _core.Architecture([3, 4, 2], _core.OUTPUT_SOFTMAX)
    W0 = _core.aligned_copy(rng.standard_normal(arch.n_weights) * 0.1)
    data = _core.Dataset(rng.random(3 * 50), 50, 3, labels=(np.arange(50) % 2).astype(np.int32))
    order = np.arange(50, dtype=np.intp)
    W_huge, W_whole = _core.aligned_copy(W0), _core.aligned_copy(W0)
    loss_huge = _core.minibatch_epoch(arch, W_huge, data, order, 0.1, 0.01, 2**62)
    loss_whole = _core.minibatch_epoch(arch, W_whole, data, order, 0.1, 0.01, 50)
    assert loss_huge == loss_whole
    np.testing.assert_array_equal(W_huge, W_whole)
    assert _core.loss_sum(arch, W0, data, INDEX_MAX) == _core.loss_sum(arch, W0, data, 50)


def wide_sparse(n_rows, n_features, nnz_per_row, dtype=np.float64):
    rng = np.random.default_rng(2)
    indices = np.concatenate([rng.choice(n_features, nnz_per_row, replace=False) for _ in range(n_rows)])
    indptr = np.arange(0, n_rows * nnz_per_row + 1, nnz_per_row)
    return sp.csr_matrix((rng.random(indices.size).astype(dtype), indices, indptr), shape=(n_rows, n_features))


def test_the_batch_work_of_sparse_input_does_not_grow_with_the_features():
    for n_features in (10, 10**7):
        arch = _core.Architecture([n_features, 1, 2], _core.OUTPUT_SOFTMAX)
        # (widths 4 + 4) + 2 x 4 per row, whatever the number of features
        assert _core.batch_work_size(arch, _core.DEFAULT_PREDICT_BATCH, 10**6, True) == 512 * 16
        assert _core.batch_work_size(arch, _core.DEFAULT_PREDICT_BATCH, 40, True) == 40 * 16


@pytest.mark.parametrize("n_rows", [31, 32, 600])
def test_prediction_and_loss_on_wide_sparse_input(n_rows):
    # 10^6 features: a work buffer sized by the features would take 4 GiB for 512 rows
    n_features = 10**6
    X = wide_sparse(n_rows, n_features, 10)
    y = (np.arange(n_rows) % 2).astype(np.int32)
    arch = _core.Architecture([n_features, 1, 2], _core.OUTPUT_SOFTMAX)
    W = _core.aligned_copy(np.random.default_rng(3).standard_normal(arch.n_weights) * 0.1)
    data = _core.Dataset(X.data, n_rows, n_features, indptr=X.indptr.astype(np.intp),
                         indices=X.indices.astype(np.intp), labels=y)
    batched = _core.predict(arch, W, data, _core.DEFAULT_PREDICT_BATCH)
    per_sample = _core.predict(arch, W, data, 1)
    np.testing.assert_allclose(batched, per_sample, rtol=1e-12)
    np.testing.assert_allclose(_core.loss_sum(arch, W, data, _core.DEFAULT_PREDICT_BATCH),
                               _core.loss_sum(arch, W, data, 1), rtol=1e-12)


def test_a_network_predicts_wide_sparse_input():
    X = wide_sparse(40, 10**6, 10)
    y = np.arange(40) % 2
    net = Network(hidden=(1,), epochs=1, random_state=0, batch_size=8).fit(X, y)
    proba = net.predict_proba(X)
    assert proba.shape == (40, 2) and np.isfinite(proba).all()
    assert np.isfinite(net.loss(X, y))


def misaligned(array):
    """A copy of ``array`` whose data start one byte past an aligned address (as np.frombuffer makes)."""
    raw = np.zeros(array.nbytes + array.itemsize + 1, dtype=np.uint8)
    start = (-raw.ctypes.data % array.itemsize) + 1
    out = np.frombuffer(raw.data, dtype=array.dtype, count=array.size, offset=start).reshape(array.shape)
    raw[start:start + array.nbytes] = np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=np.uint8)
    assert out.ctypes.data % array.itemsize != 0
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_misaligned_values_reach_the_engine_as_an_aligned_copy(dtype):
    rng = np.random.default_rng(4)
    values = rng.random(3 * 40).astype(dtype)
    labels = (np.arange(40) % 2).astype(np.int32)
    shifted, shifted_labels = misaligned(values), misaligned(labels)
    np.testing.assert_array_equal(shifted, values)
    data = _core.Dataset(shifted, 40, 3, labels=shifted_labels, sample_weight=misaligned(np.ones(40, dtype)))
    for array in (data.values, data.labels, data.sample_weight):
        assert array.ctypes.data % array.itemsize == 0
    reference = _core.Dataset(values, 40, 3, labels=labels)
    arch = _core.Architecture([3, 4, 2], _core.OUTPUT_SOFTMAX, dtype)
    W = _core.aligned_copy(rng.standard_normal(arch.n_weights).astype(dtype))
    for batch_size in (1, 16):
        np.testing.assert_array_equal(_core.predict(arch, W, data, batch_size),
                                      _core.predict(arch, W, reference, batch_size))
    assert _core.loss_sum(arch, W, data, 1) == _core.loss_sum(arch, W, reference, 1)


def test_a_network_fits_and_predicts_misaligned_input():
    rng = np.random.default_rng(5)
    X, y = rng.random((60, 3)), np.arange(60) % 3
    aligned = Network(hidden=(4,), epochs=2, random_state=0).fit(X, y)
    shifted = Network(hidden=(4,), epochs=2, random_state=0).fit(misaligned(X), y)
    for W_a, W_s in zip(aligned.weights_, shifted.weights_):
        np.testing.assert_array_equal(W_a, W_s)
    np.testing.assert_array_equal(aligned.predict_proba(misaligned(X)), aligned.predict_proba(X))
