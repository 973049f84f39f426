"""Grid search over fastnn.MLPClassifier on a local dask cluster of two worker processes."""

import logging
import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from conftest import synthetic_data
from fastnn.estimator import MLPClassifier

distributed = pytest.importorskip("dask.distributed", reason="dask.distributed is not installed")

GRID = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(5,), (10,)]}


def search():
    model = MLPClassifier(learning_rate_init=0.1, max_iter=15, random_state=0)
    return GridSearchCV(model, GRID, cv=3)


def test_grid_search_on_a_local_dask_cluster_matches_the_serial_search():
    X, y = synthetic_data(150, 6, 3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = search().fit(X, y)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            on_cluster = search().fit(X, y)
        assert len(client.scheduler_info()["workers"]) == 2
    # every fit is seeded, so where it ran does not change what it learned
    np.testing.assert_array_equal(on_cluster.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert on_cluster.best_params_ == serial.best_params_
    np.testing.assert_array_equal(on_cluster.predict_proba(X), serial.predict_proba(X))
