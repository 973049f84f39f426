"""Successive-halving search with dask-ml's HyperbandSearchCV over partial_fit epochs.

HyperbandSearchCV trains many candidates one partial_fit call (one fastnn epoch) at a time and
stops the unpromising ones early. dask-ml 2025.1 drives the search through an asynchronous dask
client, which dask 2025.3 and later refuse inside ``dask.compute`` ("Attempting to use an
asynchronous Client in a synchronous context"); with dask < 2025.3 it works:

    pip install "dask[distributed]==2025.2.0" "dask-ml==2025.1.0"
    python examples/hyperband_dask.py

With newer dask, Ray Tune's ASHA scheduler runs the same search (examples/tune_with_ray.py).
"""

import logging
import warnings

import dask.array as da
from dask.distributed import Client, LocalCluster
from dask_ml.model_selection import HyperbandSearchCV
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastnn


def main():
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    X_train, y_train = da.from_array(X_train, chunks=300), da.from_array(y_train, chunks=300)
    with LocalCluster(n_workers=2, threads_per_worker=1, silence_logs=logging.ERROR) as cluster, Client(cluster):
        search = HyperbandSearchCV(
            fastnn.MLPClassifier(random_state=0),
            {"hidden_layer_sizes": [(16,), (32,), (64,)], "learning_rate_init": [0.003, 0.01, 0.03, 0.1],
             "alpha": [1e-5, 1e-4, 1e-3]},
            max_iter=27, random_state=0)
        search.fit(X_train, y_train, classes=list(range(10)))
    print(f"best parameters: {search.best_params_}")
    print(f"test accuracy: {search.best_estimator_.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
