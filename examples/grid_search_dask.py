"""Grid search over fastnn.MLPClassifier on a dask cluster.

Each candidate fit is an independent scikit-learn job; ``joblib.parallel_backend("dask")`` sends
them to the cluster's workers. Here the cluster is two local worker processes; point ``Client``
at a scheduler address to use a real one (every worker needs fastnn installed).

    python examples/grid_search_dask.py
"""

import logging
import warnings

import joblib
from dask.distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from fastnn.estimator import MLPClassifier


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    search = GridSearchCV(
        MLPClassifier(max_iter=30, random_state=0),
        {"hidden_layer_sizes": [(32,), (64,)], "learning_rate_init": [0.05, 0.1], "alpha": [1e-4, 1e-3]},
        cv=3,
    )
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        print(f"dask cluster: {len(client.scheduler_info()['workers'])} workers, dashboard {client.dashboard_link}")
        with joblib.parallel_backend("dask"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X_train, y_train)
    print(f"best parameters: {search.best_params_}")
    print(f"cross-validated accuracy: {search.best_score_:.4f}")
    print(f"test accuracy: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
