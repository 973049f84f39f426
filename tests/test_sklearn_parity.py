"""fastnn's estimators side by side with scikit-learn's: the same numbers to rounding.

With the same ``random_state``, ``fastnn.MLPClassifier`` / ``fastnn.MLPRegressor`` and
``sklearn.neural_network``'s MLPs with ``solver="sgd", momentum=0, learning_rate="constant"``
draw the same initial weights, visit the rows in the same order and take the same steps, for
every activation, per sample and in mini-batches: ``coefs_``, ``intercepts_``, ``loss_curve_``,
``n_iter_`` and the predictions agree to rounding. The one documented difference is ``alpha``
in mini-batches (sklearn divides it by the batch size, fastnn does not), checked here with
``alpha / batch_size`` on rows that split into whole batches.
"""

import warnings

import numpy as np
import pytest
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.preprocessing import StandardScaler

from fastnn import MLPClassifier, MLPRegressor

SKLEARN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
COMMON = dict(solver="sgd", learning_rate_init=0.01, random_state=0, tol=0.0, shuffle=True)
SGD_ONLY = dict(momentum=0.0, learning_rate="constant")


def _scaled(X):
    return StandardScaler().fit_transform(X)


def classification(name):
    loader = {"iris": datasets.load_iris, "wine": datasets.load_wine, "digits": datasets.load_digits,
              "breast_cancer": datasets.load_breast_cancer}[name]
    X, y = loader(return_X_y=True)
    return _scaled(X), y


def regression(name):
    if name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
    else:  # the size of California housing: 20640 rows, 8 features
        X, y = datasets.make_regression(n_samples=20640, n_features=8, n_informative=6, noise=10.0, random_state=0)
    return _scaled(X), (y - y.mean()) / y.std()


def fit_both(fastnn_class, sklearn_class, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = fastnn_class(**COMMON, **params).fit(X, y)
        theirs = sklearn_class(**COMMON, **SGD_ONLY, **params).fit(X, y)
    return ours, theirs


def assert_same_fit(ours, theirs, X, loss_rtol=1e-9):
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=loss_rtol)
    assert ours.n_iter_ == theirs.n_iter_ and ours.out_activation_ == theirs.out_activation_
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("activation", SKLEARN_ACTIVATIONS)
@pytest.mark.parametrize("name", ["iris", "wine", "digits", "breast_cancer"])
def test_classifier_follows_sklearn(name, activation, batch_size):
    X, y = classification(name)
    ours, theirs = fit_both(MLPClassifier, SklearnClassifier, X, y, hidden_layer_sizes=(12,), activation=activation,
                            batch_size=batch_size, max_iter=3, alpha=0.0)
    assert_same_fit(ours, theirs, X)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8, atol=1e-12)


# per-sample sklearn on 20640 rows takes seconds an epoch: relu stands for the other activations there
REGRESSION_CASES = [(name, activation, batch_size) for name in ("diabetes", "california_sized")
                    for activation in SKLEARN_ACTIVATIONS for batch_size in (1, 32)
                    if not (name == "california_sized" and batch_size == 1 and activation != "relu")]


@pytest.mark.parametrize("name, activation, batch_size", REGRESSION_CASES)
def test_regressor_follows_sklearn(name, activation, batch_size):
    X, y = regression(name)
    ours, theirs = fit_both(MLPRegressor, SklearnRegressor, X, y, hidden_layer_sizes=(10,), activation=activation,
                            batch_size=batch_size, max_iter=1 if name == "california_sized" else 3, alpha=0.0)
    assert_same_fit(ours, theirs, X)


@pytest.mark.parametrize("Ours, Theirs, data", [
    (MLPClassifier, SklearnClassifier, classification("wine")),
    (MLPRegressor, SklearnRegressor, regression("diabetes")),
])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_alpha_per_sample_is_sklearns(Ours, Theirs, data, activation):
    X, y = data
    ours, theirs = fit_both(Ours, Theirs, X, y, hidden_layer_sizes=(8, 6), activation=activation, batch_size=1,
                            max_iter=3, alpha=1e-3)
    # the weights are sklearn's; loss_ adds the penalty of the epoch's two ends, sklearn of every step
    assert_same_fit(ours, theirs, X, loss_rtol=1e-3)


@pytest.mark.parametrize("Ours, Theirs, data", [
    (MLPClassifier, SklearnClassifier, classification("digits")),
    (MLPRegressor, SklearnRegressor, regression("diabetes")),
])
def test_alpha_in_mini_batches_is_sklearns_divided_by_the_batch(Ours, Theirs, data):
    X, y = data
    X, y = X[:384], y[:384]  # 12 whole batches of 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        params = dict(hidden_layer_sizes=(10,), activation="tanh", batch_size=32, max_iter=3)
        ours = Ours(**COMMON, **params, alpha=1e-2 / 32).fit(X, y)
        theirs = Theirs(**COMMON, **SGD_ONLY, **params, alpha=1e-2).fit(X, y)
    assert_same_fit(ours, theirs, X, loss_rtol=1e-3)


def test_multilabel_follows_sklearn():
    X, _ = classification("iris")
    Y = (np.random.default_rng(0).random((X.shape[0], 3)) < 0.4).astype(int)
    ours, theirs = fit_both(MLPClassifier, SklearnClassifier, X, Y, hidden_layer_sizes=(10,), activation="relu",
                            batch_size=1, max_iter=3, alpha=0.0)
    assert_same_fit(ours, theirs, X)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8)
    assert ours.score(X, Y) == theirs.score(X, Y)


@pytest.mark.parametrize("Ours, Theirs, data", [
    (MLPClassifier, SklearnClassifier, classification("breast_cancer")),
    (MLPRegressor, SklearnRegressor, regression("diabetes")),
])
def test_early_stopping_and_multi_output_follow_sklearn(Ours, Theirs, data):
    X, y = data
    if Ours is MLPRegressor:
        y = np.column_stack([y, -0.5 * y + 0.1])  # two targets: loss_ is sklearn's mean over them
    ours, theirs = fit_both(Ours, Theirs, X, y, hidden_layer_sizes=(7,), activation="relu", batch_size=1,
                            max_iter=6, alpha=0.0, early_stopping=True, n_iter_no_change=2)
    assert_same_fit(ours, theirs, X)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-9)
