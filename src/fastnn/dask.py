"""Data-parallel training on a Dask cluster: parallel SGD with model averaging.

Each worker trains fastnn's engine on blocks of rows it holds (``blocks_per_round`` of them),
starting from the current model; the driver then averages the workers' weights (weighted by
the rows each trained on) and the next round starts from the average, until every block has
been visited once: an epoch. This is the parallel SGD of Zinkevich, Weimer, Smola and
Li (2010), as Spark's and Vowpal Wabbit's averaging trainers run it. The data stay where they are
(persisted on the workers); only weights travel, and the driver only ever sees weights.

The estimator's epoch loop is the in-memory fit's (``n_iter_``, ``loss_curve_``, the stopping
rules, Ctrl-C, divergence): one averaging round is one epoch.

Example::

    from dask.distributed import Client
    client = Client(cluster)
    model = fastnn.dask.fit(fastnn.MLPClassifier(hidden_layer_sizes=(64,), max_iter=10), X, y)
"""

import numpy as np

from . import _blocks, _core, _engine

__all__ = ["fit"]


def fit(model, X, y, *, client=None, blocks_per_round=1, retries=1):
    """Fit ``model`` on dask arrays by data-parallel SGD across the cluster's workers.

    Parameters
    ----------
    model : fastnn.MLPClassifier
        Its parameters apply (``max_iter`` epochs at most, ``learning_rate_init``, ``alpha``,
        ``batch_size``, ``shuffle``, ``random_state``, stopping rules; ``warm_start`` continues
        from its weights). Fitted in place and returned.
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        Chunked along the rows only.
    y : dask array or series of shape (n_samples,), chunked as X
    client : dask.distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    blocks_per_round : int or None, default=1
        Blocks each worker trains on between two averages; None averages once per epoch.
        Averaging more often keeps the workers' models closer to each other (and the average
        closer to what serial SGD would reach in as many epochs) for a few milliseconds of
        scheduling per round.
    retries : int, default=1
        How often a worker's epoch is retried elsewhere when its worker is lost.

    Returns
    -------
    model

    Raises
    ------
    RuntimeError
        A worker's epoch failed even after ``retries``; the model keeps the weights of the last
        completed (averaged) epoch, never a partial average.
    TypeError
        ``model`` is not a ``fastnn.MLPClassifier``.
    """
    from distributed import get_client, wait

    from .estimator import MLPClassifier

    if not isinstance(model, MLPClassifier):
        raise TypeError(f"fastnn.dask.fit trains a fastnn.MLPClassifier, got {type(model).__name__}")
    if blocks_per_round is not None and (not isinstance(blocks_per_round, int) or blocks_per_round < 1):
        raise ValueError(f"blocks_per_round must be an integer >= 1 or None, got {blocks_per_round!r}")
    client = client or get_client()
    X, y = _blocks.as_dask_arrays(X, y)  # refused before anything is sent to the cluster
    X, y = client.persist([X, y])
    wait([X, y])
    source = _AveragedBlocks(client, X, y, blocks_per_round, retries)
    return model._fit_source(X, y, source)


class _AveragedBlocks:
    """One epoch = every worker trains on its own blocks from the same weights; then the average.

    Used as the training source of the estimator's stochastic fit (see ``fastnn._mlp``): its
    ``epoch`` ignores the local ``train`` function and writes the averaged weights into ``W``.
    """

    def __init__(self, client, X, y, blocks_per_round, retries):
        from distributed import futures_of

        self.client, self.retries, self.blocks_per_round = client, retries, blocks_per_round
        self.n_samples = X.shape[0]
        x_futures = {future.key: future for future in futures_of(X)}
        y_futures = {future.key: future for future in futures_of(y)}
        pairs = [(x_futures[(X.name, i, 0)], y_futures[(y.name, i)]) for i in range(X.numblocks[0])]
        owners = client.who_has([x for x, _ in pairs])
        by_worker = {}
        for pair in pairs:  # each worker trains on the blocks it holds
            worker = next(iter(owners.get(pair[0].key) or ["any"]))
            by_worker.setdefault(worker, []).append(pair)
        self.parts = list(by_worker.items())

    def bind(self, estimator, W, prepare_state):
        """The estimator being fitted, its weights ``W`` (averaged into in place) and
        ``prepare_state()``, the settings each worker's epoch needs."""
        self.estimator, self.W, self.prepare_state = estimator, W, prepare_state

    def epoch(self, train, rng, shuffle):
        sizes, dtype = self.estimator._sizes, self.W.dtype
        state = self.prepare_state()
        queues = [(worker, [pairs[i] for i in (rng.permutation(len(pairs)) if shuffle else range(len(pairs)))])
                  for worker, pairs in self.parts]
        loss_sum = weight_sum = 0.0
        while any(pairs for _, pairs in queues):
            weights = _engine.unpack_weights(self.W, sizes)
            tasks = []
            for worker, pairs in queues:
                count = len(pairs) if self.blocks_per_round is None else self.blocks_per_round
                taken, pairs[:] = pairs[:count], pairs[count:]
                if taken:
                    seed = int(rng.randint(np.iinfo(np.int32).max))
                    tasks.append(self.client.submit(
                        _worker_epoch, weights, taken, state, shuffle, seed, pure=False,
                        workers=None if worker == "any" else [worker], allow_other_workers=True, retries=self.retries))
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


def _worker_epoch(weights, pairs, state, shuffle, seed):
    """On a worker: the engine over the given blocks from ``weights``; returns the new weights
    (user layout), the loss sum, the rows and their weight sum."""
    dtype = np.dtype(state["dtype"])
    arch = _core.Architecture(state["sizes"], state["output"], dtype, state.get("activations"))
    W = _engine.pack_weights(weights, dtype)
    rng = np.random.RandomState(seed)

    def train(data, order):
        return _engine.sgd_epoch(arch, W, data, order, learning_rate=state["learning_rate"], l2=state["alpha"],
                                 batch_size=state["batch_size"])

    loss_sum, weight_sum, rows = _blocks.train_blocks(pairs.__getitem__, len(pairs), state["prepare"], train, rng,
                                                      shuffle)
    return _engine.unpack_weights(W, state["sizes"]), loss_sum, rows, weight_sum
