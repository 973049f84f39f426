"""Data-parallel training on a Dask cluster: parallel SGD with model averaging.

Each worker trains fastnn's engine on blocks of rows it holds (``blocks_per_round`` of them),
starting from the current model; the driver then averages the workers' weights (weighted by
the rows each trained on) and the next round starts from the average, until every block has
been visited once: an epoch. This is the parallel SGD of Zinkevich, Weimer, Smola and
Li (2010), as Spark's and Vowpal Wabbit's averaging trainers run it. The data stay on the workers
(persisted; each block converted and validated once per fit, on the worker that trains on it, and
kept there for every epoch); only weights travel, and the driver only ever sees weights.

The estimator's epoch loop is the in-memory fit's (``n_iter_``, ``loss_curve_``, the stopping
rules, Ctrl-C, divergence): one pass over every block (one or more averaging rounds) is one epoch.

Example::

    from dask.distributed import Client
    client = Client(cluster)
    model = fastnn.dask.fit(fastnn.MLPClassifier(hidden_layer_sizes=(64,), max_iter=10), X, y)

``fastnn.MLPRegressor`` trains the same way (``y`` one target per row, or one column per target).
"""

import numpy as np

from . import _blocks, _core, _engine

__all__ = ["fit"]


def fit(model, X, y, *, client=None, blocks_per_round=1, retries=1):
    """Fit ``model`` on dask arrays by data-parallel SGD across the cluster's workers.

    Parameters
    ----------
    model : fastnn.MLPClassifier or fastnn.MLPRegressor
        Its parameters apply (``max_iter`` epochs at most, ``learning_rate_init``, ``alpha``,
        ``batch_size``, ``shuffle``, ``random_state``, stopping rules; ``warm_start`` continues
        from its weights). Fitted in place and returned.
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        Chunked along the rows only.
    y : dask array or series of shape (n_samples,), chunked as X
        Class labels for a classifier; real targets for a regressor, which may also have the
        shape ``(n_samples, n_targets)`` (a dask array with one chunk across the columns, or a
        dask dataframe).
    client : dask.distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    blocks_per_round : int or None, default=1
        Blocks each worker trains on between two averages; None averages once per epoch.
        Averaging more often keeps the workers' models closer to each other (and the average
        closer to what serial SGD would reach in as many epochs) for a few milliseconds of
        scheduling per round.
    retries : int, default=1
        How often a worker's task that raised an error is run again (dask's ``retries``). A
        task whose worker process dies is run again elsewhere by dask itself (its blocks
        recomputed from the graph), unless workers already died under it more than the
        scheduler's ``distributed.scheduler.allowed-failures`` times (default 3): then it fails
        with ``KilledWorker``, which ``retries`` does not repeat.

    Returns
    -------
    model

    Raises
    ------
    RuntimeError
        A worker's task failed for good (an error beyond ``retries``, or ``KilledWorker``); the
        model keeps the weights of the last completed epoch, never a partial average.
    ValueError
        A block of X (or a regressor's y) holds NaN or infinity (found when the blocks are
        prepared, before training).
    TypeError
        ``model`` is neither a ``fastnn.MLPClassifier`` nor a ``fastnn.MLPRegressor``.

    Notes
    -----
    Before the first epoch each block of rows is converted to the model's dtype, checked and
    turned into engine data once, on the worker that will train on it; that worker keeps it
    until the fit ends (next to ``X``'s own block, which it shares when no conversion or
    alignment copy was needed). Blocks stay on the worker that holds them unless that worker
    holds more than an equal share of the rows; such blocks move once, so that every worker
    trains on about as many rows per epoch. With ``blocks_per_round=None`` the workers' rows
    are evened out exactly: a worker above its share also hands the last rows of a block (cut
    where the block is, so only those rows travel) to a worker below its share.
    """
    from distributed import futures_of, get_client

    from ._mlp import BaseMLP

    if not isinstance(model, BaseMLP):
        raise TypeError("fastnn.dask.fit trains a fastnn.MLPClassifier or a fastnn.MLPRegressor, got "
                        f"{type(model).__name__}")
    if blocks_per_round is not None and (not isinstance(blocks_per_round, int) or blocks_per_round < 1):
        raise ValueError(f"blocks_per_round must be an integer >= 1 or None, got {blocks_per_round!r}")
    client = client or get_client()
    # refused before anything is sent to the cluster
    X, y = _blocks.as_dask_arrays(X, y, multi_output=model._multi_output_blocks)
    X, y = client.persist([X, y])
    _wait(client, futures_of([X, y]))
    source = _AveragedBlocks(client, X, y, blocks_per_round, retries)
    with client.as_current():  # the estimator's own dask computations (the classes or scale of y) run here too
        return model._fit_source(X, y, source)


class _AveragedBlocks:
    """One epoch = every worker trains on its own blocks from the same weights; then the average.

    Used as the training source of the estimator's stochastic fit (see ``fastnn._mlp``): its
    ``epoch`` ignores the local ``train`` function and writes the averaged weights into ``W``.
    When bound to the estimator, each block is converted once, on the worker that will train
    on it, into a :class:`fastnn._blocks.PreparedBlock` that stays there for every epoch.
    """

    def __init__(self, client, X, y, blocks_per_round, retries):
        from distributed import futures_of

        self.client, self.retries, self.blocks_per_round = client, retries, blocks_per_round
        self.n_samples = X.shape[0]
        x_futures = {future.key: future for future in futures_of(X)}
        y_futures = {future.key: future for future in futures_of(y)}
        y_columns = (0,) * (y.ndim - 1)  # a regressor's y may be 2-D, in one chunk across its columns
        self.pairs = [(x_futures[(X.name, i, 0)], y_futures[(y.name, i, *y_columns)]) for i in range(X.numblocks[0])]
        self.rows = X.chunks[0]

    def bind(self, estimator, W, prepare_state, target_scale=None):
        """The estimator being fitted, its weights ``W`` (averaged into in place),
        ``prepare_state()``, the settings each worker's epoch needs, and a regressor's
        ``target_scale`` (see :class:`fastnn._blocks.Blocks`); prepares the blocks."""
        self.estimator, self.W, self.prepare_state = estimator, W, prepare_state
        self.target_scale = target_scale
        self.parts = self._prepare_blocks(prepare_state()["prepare"])

    def _prepare_blocks(self, prepare):
        """Convert every block once on the worker that trains on it: ``[(worker, [future of a
        PreparedBlock, ...]), ...]``, the rows balanced across the workers (whole blocks; with one
        average per epoch, a block's rows may be cut between two workers to even them out)."""
        import operator

        owners = self.client.who_has([x for x, _ in self.pairs])
        holders = [next(iter(owners.get(x.key) or [None])) for x, _ in self.pairs]
        workers = sorted(self.client.ncores()) or sorted({h for h in holders if h is not None})
        trainers = balanced_assignment(self.rows, holders, workers)
        if self.blocks_per_round is None:  # only each worker's total counts: even it out to a row
            pieces = even_rows(self.rows, trainers, workers)
        else:  # a round is blocks: whole ones
            pieces = [(block, 0, rows, worker) for block, (rows, worker) in enumerate(zip(self.rows, trainers))]
        by_worker = {}
        for block, start, stop, worker in pieces:
            x, y = self.pairs[block]
            if (start, stop) != (0, self.rows[block]):  # cut where the block is, so only the piece travels
                where = dict(workers=None if holders[block] is None else [holders[block]], allow_other_workers=True,
                             pure=False, retries=self.retries)
                x = self.client.submit(operator.getitem, x, slice(start, stop), **where)
                y = self.client.submit(operator.getitem, y, slice(start, stop), **where)
            by_worker.setdefault(worker, []).append(self.client.submit(
                _blocks.PreparedBlock, x, y, prepare, pure=False, workers=[worker], allow_other_workers=True,
                retries=self.retries))
        futures = [future for blocks in by_worker.values() for future in blocks]
        _wait(self.client, futures)
        failed = [future for future in futures if future.status != "finished"]
        if failed:
            try:
                failed[0].result()
            except ValueError:  # the data themselves (NaN, infinity): the message says what
                raise
            except Exception as error:
                raise RuntimeError(f"preparing the blocks on the workers failed ({type(error).__name__}: {error}); "
                                   "nothing was trained") from error
        return list(by_worker.items())

    def epoch(self, train, rng, shuffle):
        sizes, dtype = self.estimator._sizes, self.W.dtype
        state = dict(self.prepare_state())
        del state["prepare"]  # done once, in bind
        queues = [(worker, [blocks[i] for i in (rng.permutation(len(blocks)) if shuffle else range(len(blocks)))])
                  for worker, blocks in self.parts]
        loss_sum = weight_sum = 0.0
        while any(blocks for _, blocks in queues):
            weights = _engine.unpack_weights(self.W, sizes)
            tasks = []
            for worker, blocks in queues:
                count = len(blocks) if self.blocks_per_round is None else self.blocks_per_round
                taken, blocks[:] = blocks[:count], blocks[count:]
                if taken:
                    seed = int(rng.randint(np.iinfo(np.int32).max))
                    tasks.append(self.client.submit(
                        _worker_epoch, weights, taken, state, shuffle, seed, pure=False,
                        workers=[worker], allow_other_workers=True, retries=self.retries))
            try:
                results = self.client.gather(tasks)
            except Exception as error:  # a lost worker beyond the retries: the last average stays
                raise RuntimeError(f"a worker's training failed ({type(error).__name__}: {error}); the model keeps "
                                   "the weights of the last completed epoch") from error
            total = sum(rows for _, _, rows, _ in results)
            average = [sum(part[k] * (rows / total) for part, _, rows, _ in results) for k in range(len(weights))]
            self.W[:] = _engine.pack_weights(average, dtype)
            loss_sum += sum(loss for _, loss, _, _ in results)
            weight_sum += sum(weight for _, _, _, weight in results)
        return loss_sum, weight_sum


def _wait(client, futures):
    """Until every future of ``client`` is finished or failed (``distributed.wait`` would use the
    default client, which ``client`` need not be)."""
    from distributed import as_completed

    for _ in as_completed(futures, loop=client.loop):
        pass


def balanced_assignment(rows, holders, workers):
    """The worker that trains on each block: where it is held, unless that gives its holder more
    than an equal share of the rows; then the least loaded worker.

    Parameters
    ----------
    rows : sequence of int
        Rows of each block.
    holders : sequence of str or None
        The worker holding each block (None: not known).
    workers : sequence of str
        The workers to train on (at least one).

    Returns
    -------
    list of str
        One worker per block. Largest blocks are placed first; the most rows any worker gets is
        then close to the least possible for whole blocks, and blocks move only to even out the load.
    """
    share = sum(rows) / len(workers)
    load = dict.fromkeys(workers, 0)
    trainers = [None] * len(rows)
    largest_first = sorted(range(len(rows)), key=lambda i: -rows[i])
    for i in largest_first:  # blocks that can stay where they are
        if holders[i] in load and load[holders[i]] + rows[i] <= share:
            trainers[i] = holders[i]
            load[holders[i]] += rows[i]
    for i in largest_first:  # the others go where the load is least (their holder first on a tie)
        if trainers[i] is None:
            least = min(load.values())
            trainers[i] = holders[i] if load.get(holders[i]) == least else min(load, key=load.get)
            load[trainers[i]] += rows[i]
    return trainers


def even_rows(rows, trainers, workers):
    """Pieces of blocks ``(block, start, stop, worker)`` that give every worker the same number of
    rows (to one row): each worker keeps its blocks from ``trainers`` but a worker above its
    share hands the last rows of its last blocks to workers below theirs.

    Parameters
    ----------
    rows : sequence of int
        Rows of each block.
    trainers : sequence of str
        The worker of each whole block (e.g. from :func:`balanced_assignment`).
    workers : sequence of str

    Returns
    -------
    list of tuple
        In block order; a block that was cut appears once per piece.
    """
    load = dict.fromkeys(workers, 0)
    for block_rows, worker in zip(rows, trainers):
        load[worker] += block_rows
    busiest_first = sorted(workers, key=lambda w: -load[w])
    base, extra = divmod(sum(rows), len(workers))
    share = {worker: base + (k < extra) for k, worker in enumerate(busiest_first)}
    pieces = {worker: [] for worker in workers}
    for block, (block_rows, worker) in enumerate(zip(rows, trainers)):
        pieces[worker].append([block, 0, block_rows])
    short = [[worker, share[worker] - load[worker]] for worker in workers if load[worker] < share[worker]]
    moved = []
    for worker in busiest_first:
        excess = load[worker] - share[worker]
        while excess > 0:
            piece, need = pieces[worker][-1], short[0]
            count = min(excess, piece[2] - piece[1], need[1])
            moved.append((piece[0], piece[2] - count, piece[2], need[0]))
            piece[2] -= count
            if piece[1] == piece[2]:
                pieces[worker].pop()
            excess -= count
            need[1] -= count
            if need[1] == 0:
                short.pop(0)
    kept = [(block, start, stop, worker) for worker, own in pieces.items() for block, start, stop in own]
    return sorted(kept + moved)


def _worker_epoch(weights, blocks, state, shuffle, seed):
    """On a worker: the engine over the given prepared blocks from ``weights``; returns the new
    weights (user layout), the loss sum, the rows and their weight sum."""
    dtype = np.dtype(state["dtype"])
    arch = _core.Architecture(state["sizes"], state["output"], dtype, state.get("activations"))
    W = _engine.pack_weights(weights, dtype)
    rng = np.random.RandomState(seed)

    def train(data, order):
        return _engine.sgd_epoch(arch, W, data, order, learning_rate=state["learning_rate"], l2=state["alpha"],
                                 batch_size=state["batch_size"])

    def block_data(i):
        return blocks[i].data, blocks[i].weight_sum

    loss_sum, weight_sum, rows = _blocks.train_blocks(block_data, len(blocks), train, rng, shuffle)
    return _engine.unpack_weights(W, state["sizes"]), loss_sum, rows, weight_sum
