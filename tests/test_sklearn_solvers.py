"""fastnn's solvers side by side with scikit-learn's: the same numbers to rounding.

With the same ``random_state`` and the same solver settings, ``fastnn.MLPClassifier`` /
``fastnn.MLPRegressor`` follow ``sklearn.neural_network``'s MLPs for sgd with momentum and with
Nesterov's momentum, each learning-rate schedule (constant, invscaling, adaptive), adam and
lbfgs, at batch sizes 1, 32 and ``"auto"``: ``coefs_``, ``intercepts_``, ``loss_curve_``,
``n_iter_`` and the predictions agree to rounding (L-BFGS: to the rounding its line searches
amplify). ``alpha`` is 0 in mini-batches (the documented difference, see
``test_sklearn_parity.py``); per sample it is sklearn's.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor

from fastnn import MLPClassifier, MLPRegressor
from test_sklearn_parity import assert_same_fit, classification, regression

SOLVERS = {
    "momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "invscaling": dict(solver="sgd", momentum=0.5, learning_rate="invscaling", power_t=0.25),
    "adaptive": dict(solver="sgd", momentum=0.9, learning_rate="adaptive", tol=0.5, n_iter_no_change=1),
    "adam": dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-7),
}


def fit_both(Ours, Theirs, X, y, **params):
    params = {"random_state": 0, "shuffle": True, "tol": 0.0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = Ours(**params).fit(X, y)
        theirs = Theirs(**params).fit(X, y)
    return ours, theirs


@pytest.mark.parametrize("batch_size", [1, 32, "auto"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_classifier_solvers_follow_sklearn(solver, batch_size):
    X, y = classification("digits" if batch_size == "auto" else "wine")
    settings = dict(SOLVERS[solver])
    max_iter = 8 if solver == "adaptive" else 4
    ours, theirs = fit_both(MLPClassifier, SklearnClassifier, X, y, hidden_layer_sizes=(10,), activation="tanh",
                            batch_size=batch_size, learning_rate_init=0.01, max_iter=max_iter, alpha=0.0, **settings)
    assert_same_fit(ours, theirs, X)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 32, "auto"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_regressor_solvers_follow_sklearn(solver, batch_size):
    X, y = regression("diabetes")
    settings = dict(SOLVERS[solver])
    max_iter = 8 if solver == "adaptive" else 4
    ours, theirs = fit_both(MLPRegressor, SklearnRegressor, X, y, hidden_layer_sizes=(8,), activation="relu",
                            batch_size=batch_size, learning_rate_init=0.005, max_iter=max_iter, alpha=0.0, **settings)
    assert_same_fit(ours, theirs, X)


def test_adaptive_lowers_the_rate_and_stops_as_sklearn():
    X, y = classification("iris")
    # the loss never improves by tol=10: the rate drops every 2 epochs until <= 1e-6, then the fit stops
    ours, theirs = fit_both(MLPClassifier, SklearnClassifier, X, y, hidden_layer_sizes=(5,), activation="relu",
                            solver="sgd", momentum=0.9, learning_rate="adaptive", learning_rate_init=0.1,
                            batch_size=16, tol=10.0, n_iter_no_change=1, max_iter=100, alpha=0.0)
    assert theirs.n_iter_ < 100
    assert_same_fit(ours, theirs, X)
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)


@pytest.mark.parametrize("solver", ["nesterov", "adam"])
def test_alpha_per_sample_is_sklearns(solver):
    X, y = classification("wine")
    ours, theirs = fit_both(MLPClassifier, SklearnClassifier, X, y, hidden_layer_sizes=(8, 6), activation="relu",
                            batch_size=1, learning_rate_init=0.005, max_iter=3, alpha=1e-3, **SOLVERS[solver])
    # the penalty in loss_ is the mean of the epoch's two ends (README), the weights are sklearn's
    assert_same_fit(ours, theirs, X, loss_rtol=1e-2)


@pytest.mark.parametrize("solver", ["momentum", "adam"])
def test_partial_fit_keeps_the_optimizer_and_fit_starts_a_new_one(solver):
    X, y = classification("iris")
    params = dict(hidden_layer_sizes=(6,), activation="tanh", batch_size=8, learning_rate_init=0.01, random_state=0,
                  alpha=0.0, **SOLVERS[solver])
    ours, theirs = MLPClassifier(**params), SklearnClassifier(**params)
    for chunk in (slice(0, 75), slice(75, 150), slice(0, 150)):
        ours.partial_fit(X[chunk], y[chunk], classes=np.unique(y))
        theirs.partial_fit(X[chunk], y[chunk], classes=np.unique(y))
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    # a pickled model goes on with its optimizer state
    ours = pickle.loads(pickle.dumps(ours))
    ours.partial_fit(X, y)
    theirs.partial_fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    # warm start: a fit continues from the weights with a new optimizer, as sklearn's
    ours.set_params(warm_start=True, max_iter=2)
    theirs.set_params(warm_start=True, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


LBFGS_CASES = [(MLPClassifier, SklearnClassifier, "iris", "logistic"), (MLPClassifier, SklearnClassifier, "wine", "relu"),
               (MLPClassifier, SklearnClassifier, "breast_cancer", "tanh"),
               (MLPRegressor, SklearnRegressor, "diabetes", "tanh")]


@pytest.mark.parametrize("Ours, Theirs, name, activation", LBFGS_CASES)
def test_lbfgs_follows_sklearn(Ours, Theirs, name, activation):
    X, y = regression(name) if Ours is MLPRegressor else classification(name)
    params = dict(solver="lbfgs", hidden_layer_sizes=(6,), activation=activation, alpha=1e-3, max_iter=25,
                  random_state=0, tol=1e-6)
    ours, theirs = fit_both(Ours, Theirs, X, y, **params)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-5, atol=1e-7)
    # warm start continues from the weights
    ours.set_params(warm_start=True, max_iter=5)
    theirs.set_params(warm_start=True, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-5)


def test_lbfgs_has_no_partial_fit():
    for model in (MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs")):
        assert not hasattr(model, "partial_fit")
        with pytest.raises(AttributeError) as error:
            model.partial_fit
        assert "lbfgs is not stochastic" in str(error.value.__cause__)


@pytest.mark.parametrize("params, message", [
    (dict(momentum=1.0), "momentum"), (dict(momentum=-0.5), "momentum"), (dict(beta_1=1.0), "beta_1"),
    (dict(beta_2=-0.1), "beta_2"), (dict(epsilon=0.0), "epsilon"), (dict(power_t=-1.0), "power_t"),
    (dict(solver="rmsprop"), "solver"), (dict(learning_rate="cosine"), "learning_rate"),
    (dict(max_fun=0), "max_fun"), (dict(batch_size="big"), "batch_size"),
])
@pytest.mark.parametrize("Model", [MLPClassifier, MLPRegressor])
def test_out_of_range_settings_name_the_parameter(Model, params, message):
    X, y = classification("iris")
    with pytest.raises(ValueError, match=f"'{message}' parameter"):
        Model(**params).fit(X, y)


def test_a_diverging_adam_fit_keeps_finite_weights():
    X, y = regression("diabetes")
    model = MLPRegressor(solver="sgd", momentum=0.99, learning_rate_init=10.0, batch_size=1, hidden_layer_sizes=(5,),
                         max_iter=5, random_state=0)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        model.fit(X * 1e3, y * 1e3)
    assert all(np.isfinite(c).all() for c in model.coefs_)
