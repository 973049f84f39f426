"""Training on data that do not fit in memory, and on many machines, with dask.

1. ``MLPClassifier.fit`` on a dask array streams its blocks of rows through fastnn's engine, one
   block in memory at a time, epoch after epoch (here from a folder of .npy blocks on disk).
2. ``fastnn.dask.fit`` trains on a Dask cluster: each worker runs the engine on the blocks it
   holds and the models are averaged after every block (parallel SGD with model averaging).
3. ``dask_ml.wrappers.Incremental`` hands the blocks to ``partial_fit`` one after another (needs
   dask-ml; skipped without it).

Here the cluster is two local worker processes; point ``Client`` at a scheduler address to use a
real one (every worker needs fastnn installed).

    python examples/train_on_dask.py
"""

import logging
import tempfile
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

import fastnn
import fastnn.dask

N_BLOCKS, BLOCK_ROWS, N_FEATURES = 8, 25_000, 32


def write_blocks(folder):
    """A generated 4-class problem as .npy blocks in ``folder`` (stand-ins for files too big to load)."""
    teacher = np.random.default_rng(1).standard_normal((N_FEATURES, 4))
    for i in range(N_BLOCKS):
        X = np.random.default_rng(100 + i).standard_normal((BLOCK_ROWS, N_FEATURES)).astype(np.float32)
        np.save(folder / f"X{i}.npy", X)
        np.save(folder / f"y{i}.npy", np.argmax(np.tanh(X @ teacher), axis=1))


def lazy_arrays(folder):
    """Dask arrays whose blocks are read from disk only when a block is needed."""
    X = da.concatenate([da.from_delayed(dask.delayed(np.load)(folder / f"X{i}.npy"), (BLOCK_ROWS, N_FEATURES),
                                        np.float32) for i in range(N_BLOCKS)])
    y = da.concatenate([da.from_delayed(dask.delayed(np.load)(folder / f"y{i}.npy"), (BLOCK_ROWS,), np.int64)
                        for i in range(N_BLOCKS)])
    return X, y


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_blocks(folder)
        X, y = lazy_arrays(folder)
        X_test, y_test = np.load(folder / "X0.npy"), np.load(folder / "y0.npy")
        model = fastnn.MLPClassifier(hidden_layer_sizes=(32,), max_iter=3, learning_rate_init=0.02, random_state=0,
                                     dtype="float32")

        streamed = model.fit(X, y)  # one block in memory at a time
        print(f"streamed from disk: {streamed.n_iter_} epochs, accuracy {streamed.score(X_test, y_test):.4f}")

        with LocalCluster(n_workers=2, threads_per_worker=1, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            parallel = fastnn.dask.fit(fastnn.MLPClassifier(**model.get_params()), X, y, client=client)
            print(f"data-parallel on {len(client.scheduler_info()['workers'])} workers: accuracy "
                  f"{parallel.score(X_test, y_test):.4f}")
            try:
                from dask_ml.wrappers import Incremental
            except ImportError:
                print("dask-ml is not installed: skipping Incremental")
                return
            incremental = Incremental(fastnn.MLPClassifier(**model.get_params()))
            incremental.fit(X, y, classes=[0, 1, 2, 3])  # one partial_fit per block, in order
            print(f"dask_ml Incremental (one pass): accuracy {incremental.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
