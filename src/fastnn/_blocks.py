"""The training sources of the estimators' stochastic fit: rows in memory, and dask arrays too
large for memory, streamed through the engine block by block.

``MLPClassifier.fit`` and ``MLPRegressor.fit`` on arrays train on one engine dataset
(:class:`Rows`); on a dask array (or dask dataframe) they train epoch after epoch on its blocks
of rows, one block in memory at a time (:class:`Blocks`). Both give ``epoch(train, rng,
shuffle)``; the rest of the fit (initial weights, stopping rules, Ctrl-C, divergence) is one.
Nothing here imports dask unless the data are dask collections already.
"""

import sys

import numpy as np


def is_dask_collection(X):
    """Whether ``X`` is a dask array or dataframe (without importing dask)."""
    return "dask" in sys.modules and type(X).__module__.split(".")[0] == "dask"


def as_dask_arrays(X, y, *, multi_output=False):
    """``X`` and ``y`` as dask arrays of rows, chunked alike, with one chunk across the columns.

    Parameters
    ----------
    X : dask.array.Array or dask.dataframe.DataFrame
    y : dask array, series or dataframe, or a NumPy array-like of the same length
    multi_output : bool, default=False
        Whether ``y`` may have several columns (a regressor's targets); a ``y`` of one column
        is made 1-D either way.

    Returns
    -------
    X, y : dask.array.Array

    Raises
    ------
    ValueError
        Unknown chunk sizes, chunks that split the columns (of ``X`` or ``y``), or ``y`` chunked
        along the rows differently from ``X``: each with the call that fixes it.
    """
    import dask.array as da

    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    if hasattr(y, "to_dask_array"):
        y = y.to_dask_array(lengths=True)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D dask array of rows, got {X.ndim} dimension(s)")
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError("X has rows chunks of unknown size; call X.compute_chunk_sizes() first")
    if X.numblocks[1] != 1:
        raise ValueError(f"X's chunks split its {X.shape[1]} columns into {X.numblocks[1]} parts; fastnn trains on "
                         "whole rows: rechunk with X.rechunk({1: -1})")
    if not isinstance(y, da.Array):
        y = np.asarray(y)
        if y.shape[:1] != X.shape[:1]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0] if y.ndim else 0} rows")
        y = da.from_array(y, chunks=(X.chunks[0],) + y.shape[1:])
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and not multi_output:
        raise ValueError(f"y must be 1-D, one label per row, got shape {y.shape}; multilabel y is not available "
                         "on a dask array")
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D (one column per target), got shape {y.shape}")
    if y.ndim == 2 and y.numblocks[1] != 1:
        raise ValueError(f"y's chunks split its {y.shape[1]} columns into {y.numblocks[1]} parts; fastnn trains on "
                         "whole rows: rechunk with y.rechunk({1: -1})")
    if y.chunks[0] != X.chunks[0]:
        raise ValueError(f"y is chunked along the rows as {y.chunks[0]} but X as {X.chunks[0]}; they must match: "
                         "use y.rechunk(X.chunks[0])")
    return X, y


def prepare_block(X_block, y_block, *, dtype, classes=None, class_weights=None):
    """One computed block as an engine dataset: ``(dataset, weight sum of its rows)``.

    Parameters
    ----------
    X_block : array-like or sparse matrix, y_block : array-like
    dtype : np.float64 or np.float32
    classes : ndarray or None
        The classifier's sorted classes (a label outside them is an error); None for a
        regressor's targets, ``y_block`` of shape ``(n_rows,)`` or ``(n_rows, n_targets)``.
    class_weights : ndarray of shape (n_classes,) or None
    """
    from sklearn.utils.validation import check_array, column_or_1d

    from . import _engine

    X_block = check_array(X_block, accept_sparse="csr", dtype=dtype, order="C")
    if classes is None:
        data = _engine.make_dataset(X_block, dtype, targets=float_targets(y_block, dtype))
        return data, float(X_block.shape[0])
    y_block = column_or_1d(y_block)
    y_index = np.searchsorted(classes, y_block)  # sorted classes: a label's index, if it is one
    known = classes[np.minimum(y_index, len(classes) - 1)] == y_block
    if not known.all():
        raise ValueError(f"`y` has classes not in `self.classes_`: {np.unique(y_block[~known])[:10]}")
    y_index = y_index.astype(np.int32)
    weight = None if class_weights is None else class_weights[y_index]
    data = _engine.make_dataset(X_block, dtype, labels=y_index,
                                sample_weight=None if weight is None else weight.astype(dtype))
    return data, float(X_block.shape[0] if weight is None else weight.sum())


def float_targets(y, dtype):
    """A regressor's ``y`` as the engine's targets: ``(n_rows, n_targets)``, C-contiguous, ``dtype``.

    Raises
    ------
    ValueError
        ``y`` holds NaN or infinity, or a value too large for ``dtype``.
    """
    y = np.asarray(y)
    with np.errstate(over="ignore"):
        targets = np.ascontiguousarray(np.reshape(y, (y.shape[0], -1)), dtype=dtype)
    if not np.isfinite(targets).all():
        what = "NaN or infinity" if not np.isfinite(y.astype(np.float64)).all() else "a value too large for " + \
            np.dtype(dtype).name
        raise ValueError(f"y holds {what}; give finite targets (scale them if they are large)")
    return targets


class PreparedBlock:
    """A block of rows converted once into an engine dataset, to be trained on every epoch.

    A dask worker keeps one per block it trains on, so that the conversion and validation
    (and the copy of a block that arrived misaligned from the network, which the engine cannot
    read in place) happen once per fit instead of once per epoch.

    Parameters
    ----------
    X_block : array-like or sparse matrix of shape (n_rows, n_features)
    y_block : array-like of shape (n_rows,) or (n_rows, n_targets)
    prepare : callable
        ``prepare(X_block, y_block) -> (engine dataset, weight sum of its rows)``, e.g.
        :func:`prepare_block` with the model's classes.

    Attributes
    ----------
    data : fastnn._core.Dataset
    weight_sum : float
        The weight sum of its rows (the row count without class weights).

    Notes
    -----
    Pickling keeps the dataset's arrays and rebuilds the dataset where it is unpickled (dask
    does so when it moves or spills a block); ``sys.getsizeof`` counts the arrays, which is
    what dask's memory accounting reads.
    """

    def __init__(self, X_block, y_block, prepare):
        self.data, self.weight_sum = prepare(X_block, y_block)

    def __reduce__(self):
        d = self.data
        return _rebuild_prepared, (d.values, d.n_rows, d.n_features, d.indptr, d.indices, d.labels, d.sample_weight,
                                   self.weight_sum, d.targets)

    def __sizeof__(self):
        d = self.data
        arrays = (d.values, d.indptr, d.indices, d.labels, d.sample_weight, d.targets)
        return object.__sizeof__(self) + sum(a.nbytes for a in arrays if a is not None)


def _rebuild_prepared(values, n_rows, n_features, indptr, indices, labels, sample_weight, weight_sum, targets=None):
    """Unpickle a :class:`PreparedBlock` (the arrays are validated already: no conversion again)."""
    from . import _core

    block = PreparedBlock.__new__(PreparedBlock)
    block.data = _core.Dataset(values, n_rows, n_features, indptr=indptr, indices=indices, labels=labels,
                               sample_weight=sample_weight, targets=targets)
    block.weight_sum = weight_sum
    return block


class Blocks:
    """Training rows of a dask array, one block of rows in memory at a time.

    Each epoch computes the blocks one after another (in a new random order per epoch with
    ``shuffle``, and their rows too), converts each with ``prepare(X_block, y_block)`` into an
    engine dataset and trains on it. Peak memory: about one block and its conversion.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features), one chunk across the columns
    y : dask.array.Array of shape (n_samples,) or (n_samples, n_targets), chunked along the rows as X
    prepare : callable
        ``prepare(X_block, y_block) -> (engine dataset, weight sum of its rows)``.
    target_scale : float or None, default=None
        A regressor's: the root mean square of the targets, which sets what loss is divergence
        (see ``fastnn._training.absurd_loss``).
    """

    def __init__(self, X, y, prepare, target_scale=None):
        # the blocks as delayed objects: computing one gives the block itself (an Array's compute
        # would concatenate its one chunk into a copy)
        self.X_blocks, self.y_blocks = X.to_delayed().ravel(), y.to_delayed().ravel()
        self.prepare = prepare
        self.n_samples = X.shape[0]
        self.target_scale = target_scale

    def epoch(self, train, rng, shuffle):
        import dask

        def computed_block(block):
            return self.prepare(*dask.compute(self.X_blocks[block], self.y_blocks[block]))

        loss_sum, weight_sum, _ = train_blocks(computed_block, len(self.X_blocks), train, rng, shuffle)
        return loss_sum, weight_sum


def train_blocks(get_data, n_blocks, train, rng, shuffle):
    """One pass over blocks of rows: ``get_data(i) -> (engine dataset, weight sum of its rows)``,
    ``train(data, order)`` trains on each; blocks and their rows in a new random order with
    ``shuffle``. Each block is let go before the next is fetched.

    Returns
    -------
    loss_sum, weight_sum : float
    rows : int
    """
    loss_sum = weight_sum = 0.0
    rows = 0
    for block in (rng.permutation(n_blocks) if shuffle else range(n_blocks)):
        data, block_weight = get_data(block)
        order = np.arange(data.n_rows, dtype=np.intp)
        loss_sum += train(data, rng.permutation(order) if shuffle else order)
        weight_sum += block_weight
        rows += data.n_rows
        del data  # before the next block is fetched: one block in memory
    return loss_sum, weight_sum, rows


def truth_arguments(truth):
    """``make_dataset``'s keyword for encoded ``y``: int32 class indices are ``labels=``, an
    ``(n, K)`` float array (multilabel indicators, regression targets) ``targets=``."""
    return {"labels": truth} if truth.ndim == 1 else {"targets": truth}


class Rows:
    """Training rows in memory: one engine dataset, visited in sklearn's order.

    Parameters
    ----------
    X : ndarray or CSR matrix, as the engine reads it
    truth : ndarray
        Class indices of the rows (int32), or their ``(n, K)`` targets in ``dtype``.
    sample_weight : ndarray of float64 or None
    dtype : np.float64 or np.float32
    """

    def __init__(self, X, truth, sample_weight, dtype):
        self.n_samples = X.shape[0]
        self.weight_sum = float(self.n_samples if sample_weight is None else sample_weight.sum())
        from . import _engine

        self.data = _engine.make_dataset(X, dtype, **truth_arguments(truth),
                                         sample_weight=None if sample_weight is None else sample_weight.astype(dtype))
        # regression targets: their root mean square sets what loss is divergence (_training.absurd_loss)
        self.target_scale = (float(np.sqrt(np.mean(np.square(truth, dtype=np.float64))))
                             if truth.ndim == 2 and truth.dtype.kind == "f" else None)
        self.sample_idx = np.arange(self.n_samples, dtype=np.intp)

    def epoch(self, train, rng, shuffle):
        """``train(data, order)`` over every row; returns ``(loss_sum, weight_sum)``."""
        if shuffle:  # sklearn.utils.shuffle(sample_idx, random_state=rng): each epoch permutes the last order
            permutation = np.arange(self.n_samples)
            rng.shuffle(permutation)
            self.sample_idx = self.sample_idx[permutation]
        return train(self.data, self.sample_idx), self.weight_sum
