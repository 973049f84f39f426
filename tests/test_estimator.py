"""fastnn.MLPClassifier: against the NumPy oracle, against scikit-learn's MLPClassifier, and as a
scikit-learn citizen (pipelines, searches, labels, weights, sparse input, incremental fits)."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import oracle
from conftest import load_ocr, synthetic_data
from fastnn import _engine
from fastnn.estimator import MLPClassifier, sklearn_initial_weights

RTOL = {np.float64: 1e-12, np.float32: 1e-5}


def problem(k=3, n=60, m=6, seed=0):
    return synthetic_data(n, m, k, seed)


def user_layout(model):
    """The model's weights as ``(n_out, n_in + 1)`` matrices, bias in column 0 (the oracle's layout)."""
    return [np.column_stack([b, W.T]) for W, b in zip(model.coefs_, model.intercepts_)]


def random_weights(sizes, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=scale, size=(n_out, n_in + 1)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def fit_quietly(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def assert_weights_close(actual, expected, rtol):
    assert [W.shape for W in actual] == [W.shape for W in expected]
    for W_a, W_e in zip(actual, expected):
        np.testing.assert_allclose(W_a, W_e, rtol=rtol, atol=rtol * np.abs(W_e).max())


def exact_settings(**params):
    """Deterministic per-sample SGD for exactly ``max_iter`` epochs."""
    base = dict(shuffle=False, n_iter_no_change=np.inf, max_iter=4, learning_rate_init=0.1)
    base.update(params)
    return MLPClassifier(**base)


# ---------------------------------------------------------------------------------------- the oracle


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", [(), (5,), (4, 3)])
@pytest.mark.parametrize("k", [2, 4])
def test_given_init_alpha_and_weights_match_the_oracle(dtype, hidden, k):
    X, y = problem(k)
    sw = np.random.default_rng(1).uniform(0.2, 3.0, size=len(y))
    n_out = 1 if k == 2 else k
    start = random_weights([X.shape[1], *hidden, n_out], seed=2)
    model = exact_settings(hidden_layer_sizes=hidden, init=[W.copy() for W in start], alpha=0.01,
                           dtype=np.dtype(dtype).name)
    fit_quietly(model, X, y, sample_weight=sw)
    output = "sigmoid" if k == 2 else "softmax"
    expected, _ = oracle.sgd_train(start, X, y, output, 0.1, 4, l2=0.01, sample_weight=sw, dtype=dtype)
    assert all(c.dtype == dtype for c in model.coefs_ + model.intercepts_)
    assert_weights_close(user_layout(model), expected, 10 * RTOL[dtype])
    assert model.out_activation_ == ("logistic" if k == 2 else "softmax")
    assert model.n_outputs_ == n_out and model.n_layers_ == len(hidden) + 2


@pytest.mark.parametrize("k", [2, 3])
def test_seeded_sklearn_init_then_training_matches_the_oracle(k):
    X, y = problem(k)
    sizes = [X.shape[1], 7, 1 if k == 2 else k]
    model = fit_quietly(exact_settings(hidden_layer_sizes=(7,), alpha=1e-3, random_state=42), X, y)
    start = sklearn_initial_weights(sizes, np.random.RandomState(42), np.float64)
    bound = np.sqrt(2 / (sizes[0] + sizes[1]))
    assert np.abs(start[0]).max() <= bound and np.abs(start[0][:, 0]).max() > 0  # biases drawn too
    expected, _ = oracle.sgd_train(start, X, y, "sigmoid" if k == 2 else "softmax", 0.1, 4, l2=1e-3)
    assert_weights_close(user_layout(model), expected, 1e-11)


def test_loss_curve_is_the_running_mean_of_weighted_losses_before_each_update():
    X, y = problem(3, n=25)
    sw = np.linspace(0.5, 2.0, len(y))
    start = random_weights([X.shape[1], 4, 3], seed=5)
    model = fit_quietly(exact_settings(hidden_layer_sizes=(4,), init=start, alpha=0.0, max_iter=2), X, y,
                        sample_weight=sw)
    Ws, curve = start, []
    for _ in range(2):
        total = 0.0
        for i in range(len(y)):
            total += sw[i] * oracle.per_sample_loss(Ws, X[i:i + 1], y[i:i + 1], "softmax")[0]
            Ws, _ = oracle.sgd_train(Ws, X[i:i + 1], y[i:i + 1], "softmax", 0.1, 1, sample_weight=sw[i:i + 1])
        curve.append(total / sw.sum())
    np.testing.assert_allclose(model.loss_curve_, curve, rtol=1e-12)
    assert model.loss_ == model.loss_curve_[-1]


@pytest.mark.parametrize("batch_size", [3, 7])
@pytest.mark.parametrize("k", [2, 3])
def test_minibatch_matches_the_oracle(batch_size, k):
    X, y = problem(k, n=40)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, size=len(y))
    start = random_weights([X.shape[1], 5, 1 if k == 2 else k], seed=4)
    model = fit_quietly(exact_settings(hidden_layer_sizes=(5,), init=start, alpha=0.01, batch_size=batch_size),
                        X, y, sample_weight=sw)
    expected, _ = oracle.minibatch_sgd_train(start, X, y, "sigmoid" if k == 2 else "softmax", 0.1, 4,
                                             batch_size, l2=0.01, sample_weight=sw)
    assert_weights_close(user_layout(model), expected, 1e-11)


# ---------------------------------------------------------------------------------------- sklearn itself


def sklearn_twin(**params):
    return SklearnMLP(activation="logistic", solver="sgd", batch_size=1, momentum=0.0,
                      learning_rate="constant", **params)


def test_same_seed_gives_sklearns_weights_epoch_for_epoch():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.05, alpha=1e-3, max_iter=3, random_state=7)
    ours = fit_quietly(MLPClassifier(**params), X, y)
    theirs = fit_quietly(sklearn_twin(**params), X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ == 3 and ours.t_ == theirs.t_


def test_loss_equals_sklearns_without_penalty():
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16.0, y[:200]
    params = dict(hidden_layer_sizes=(8,), learning_rate_init=0.05, alpha=0.0, max_iter=3, random_state=1)
    ours = fit_quietly(MLPClassifier(**params), X, y)
    theirs = fit_quietly(sklearn_twin(**params), X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_digits_accuracy_within_one_point_of_sklearn():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.1, alpha=1e-4, max_iter=5, random_state=0)
    ours = fit_quietly(MLPClassifier(**params), X_train, y_train).score(X_test, y_test)
    theirs = fit_quietly(sklearn_twin(**params), X_train, y_train).score(X_test, y_test)
    assert ours > 0.9
    assert abs(ours - theirs) <= 0.01


def test_ocr_accuracy_within_one_point_of_sklearn():
    X_train, y_train = load_ocr("small_train")
    X_val, y_val = load_ocr("small_validation")
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.1, alpha=0.0, max_iter=8, random_state=0)
    ours = fit_quietly(MLPClassifier(**params), X_train, y_train).score(X_val, y_val)
    theirs = fit_quietly(sklearn_twin(**params), X_train, y_train).score(X_val, y_val)
    assert ours > 0.5
    assert abs(ours - theirs) <= 0.01


# ---------------------------------------------------------------------------------------- sklearn tools


def test_pipeline_grid_search_and_cross_validation():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(10,), learning_rate_init=0.05,
                                                         max_iter=40, random_state=0))
    assert fit_quietly(pipe, X, y).score(X, y) > 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
        search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2],
                                     "mlpclassifier__hidden_layer_sizes": [(5,), (10,)]}, cv=3).fit(X, y)
    assert scores.shape == (3,) and scores.mean() > 0.8
    assert search.best_score_ > 0.8 and len(search.cv_results_["params"]) == 4


def test_grid_search_with_two_threads():
    X, y = problem(3, n=90)
    search = GridSearchCV(MLPClassifier(max_iter=20, random_state=0), {"alpha": [1e-4, 1e-3, 1e-2]}, cv=3,
                          n_jobs=2)
    with joblib.parallel_backend("threading"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.predict(X).shape == (90,)


def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = problem(3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = fit_quietly(MLPClassifier(max_iter=5, random_state=0), frame, y)
    assert list(model.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="valid feature names"):
        np.testing.assert_array_equal(model.predict(frame), model.predict(X))


# ---------------------------------------------------------------------------------------- labels


@pytest.mark.parametrize("labels", [np.array([10, 20, 35]), np.array(["ant", "bee", "cat"]),
                                    np.array([-1.0, 0.0, 7.0])])
def test_any_sortable_labels_give_the_same_model(labels):
    X, y = problem(3)
    reference = fit_quietly(MLPClassifier(max_iter=5, random_state=0), X, y)
    model = fit_quietly(MLPClassifier(max_iter=5, random_state=0), X, labels[y])
    np.testing.assert_array_equal(model.classes_, labels)
    np.testing.assert_array_equal(model.predict_proba(X), reference.predict_proba(X))
    np.testing.assert_array_equal(model.predict(X), labels[reference.predict(X)])
    assert model.predict(X).dtype == labels.dtype


def test_two_classes_use_one_sigmoid_unit_and_report_both_columns():
    X, y = problem(2)
    model = fit_quietly(MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0), X,
                        np.where(y == 1, "yes", "no"))
    assert model.n_outputs_ == 1 and model.coefs_[-1].shape == (4, 1) and model.out_activation_ == "logistic"
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[(proba[:, 1] > 0.5).astype(int)])
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(proba), rtol=1e-12)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_one_class_is_fitted_as_sklearn_fits_it(early_stopping):
    # sklearn's LabelBinarizer makes one class a column of zeros: one sigmoid unit trained towards 0
    X, _ = problem(3, n=40)
    y = np.full(len(X), "only")
    params = dict(hidden_layer_sizes=(4,), learning_rate_init=0.05, max_iter=3, random_state=0,
                  early_stopping=early_stopping, validation_fraction=0.2)
    ours = fit_quietly(MLPClassifier(**params), X, y)
    theirs = fit_quietly(sklearn_twin(**params), X, y)
    np.testing.assert_array_equal(ours.classes_, ["only"])
    assert ours.n_outputs_ == theirs.n_outputs_ == 1 and ours.out_activation_ == theirs.out_activation_ == "logistic"
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert ours.predict_proba(X).shape == theirs.predict_proba(X).shape == (len(X), 2)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_array_equal(ours.predict(X), y)
    assert ours.score(X, y) == 1.0
    if early_stopping:
        assert ours.validation_scores_ == theirs.validation_scores_ == [1.0] * 3
    streamed = MLPClassifier(random_state=0).partial_fit(X, y, classes=["only"])
    np.testing.assert_array_equal(streamed.predict(X[:2]), ["only", "only"])
    with pytest.raises(ValueError, match="classes not in"):
        streamed.partial_fit(X, np.full(len(X), "other"))


def test_continuous_targets_are_refused():
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(np.eye(3), [0.5, 1.5, 2.25])


# ---------------------------------------------------------------------------------------- weights


def test_class_weight_is_sample_weight_per_class():
    X, y = problem(3)
    weights = {0: 2.0, 1: 0.5, 2: 1.0}
    by_class = fit_quietly(exact_settings(class_weight=weights, random_state=0), X, y)
    by_row = fit_quietly(exact_settings(random_state=0), X, y, sample_weight=np.array([2.0, 0.5, 1.0])[y])
    np.testing.assert_array_equal(by_class._flat, by_row._flat)
    sw = np.random.default_rng(0).uniform(0.5, 1.5, len(y))
    both = fit_quietly(exact_settings(class_weight=weights, random_state=0), X, y, sample_weight=sw)
    product = fit_quietly(exact_settings(random_state=0), X, y, sample_weight=sw * np.array([2.0, 0.5, 1.0])[y])
    np.testing.assert_array_equal(both._flat, product._flat)


def test_class_weight_keyed_by_string_labels():
    X, y = problem(3)
    names = np.array(["ant", "bee", "cat"])
    by_name = fit_quietly(exact_settings(class_weight={"ant": 3.0}, random_state=0), X, names[y])
    by_row = fit_quietly(exact_settings(random_state=0), X, y, sample_weight=np.array([3.0, 1.0, 1.0])[y])
    np.testing.assert_array_equal(by_name._flat, by_row._flat)


def test_balanced_class_weight():
    X, y = problem(3, n=60)
    keep = np.r_[np.flatnonzero(y == 0)[:5], np.flatnonzero(y != 0)]
    X, y = X[keep], y[keep]
    counts = np.bincount(y)
    balanced = fit_quietly(exact_settings(class_weight="balanced", random_state=0), X, y)
    manual = fit_quietly(exact_settings(random_state=0), X, y, sample_weight=(len(y) / (3 * counts))[y])
    np.testing.assert_allclose(balanced._flat, manual._flat, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="balanced"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_zero_weight_rows_are_rows_that_are_not_there():
    X, y = problem(3)
    sw = np.ones(len(y))
    sw[::4] = 0.0
    weighted = fit_quietly(MLPClassifier(max_iter=5, random_state=3), X, y, sample_weight=sw)
    removed = fit_quietly(MLPClassifier(max_iter=5, random_state=3), X[sw > 0], y[sw > 0])
    np.testing.assert_array_equal(weighted._flat, removed._flat)
    assert weighted.t_ == removed.t_


def test_a_weight_scales_the_step():
    X, y = problem(3)
    doubled = fit_quietly(exact_settings(alpha=0.0, learning_rate_init=0.05, random_state=0), X, y,
                          sample_weight=np.full(len(y), 2.0))
    faster = fit_quietly(exact_settings(alpha=0.0, learning_rate_init=0.1, random_state=0), X, y)
    np.testing.assert_array_equal(doubled._flat, faster._flat)


@pytest.mark.parametrize("sample_weight, message", [
    (np.ones(5), "sample_weight.shape"),
    (np.ones((60, 2)), "1D array"),
    (np.r_[-1.0, np.ones(59)], "Negative values"),
    (np.r_[np.nan, np.ones(59)], "NaN"),
    (np.zeros(60), "at least one non-zero"),
])
def test_bad_sample_weight(sample_weight, message):
    X, y = problem(3)
    with pytest.raises(ValueError, match=message):
        MLPClassifier().fit(X, y, sample_weight=sample_weight)


def test_sample_weight_is_not_modified():
    X, y = problem(3)
    sw = np.linspace(0.0, 2.0, len(y))
    copy = sw.copy()
    fit_quietly(MLPClassifier(max_iter=2, class_weight={0: 3.0, 1: 1.0, 2: 1.0}), X, y, sample_weight=sw)
    np.testing.assert_array_equal(sw, copy)


# ---------------------------------------------------------------------------------------- sparse input


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_gives_the_dense_result(fmt):
    X, y = problem(3)
    X[np.abs(X) < 0.7] = 0.0
    dense = fit_quietly(MLPClassifier(max_iter=5, random_state=0), X, y)
    sparse = fit_quietly(MLPClassifier(max_iter=5, random_state=0), sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(sparse._flat, dense._flat, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), rtol=1e-12)


# ---------------------------------------------------------------------------------------- incremental fits


def test_partial_fit_needs_classes_first_and_then_keeps_them():
    X, y = problem(3)
    model = MLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        model.partial_fit(X, y)
    model.partial_fit(X[y != 2], y[y != 2], classes=[0, 1, 2])
    assert model.n_iter_ == 1 and model.t_ == np.count_nonzero(y != 2)
    model.partial_fit(X, y)
    assert model.t_ == np.count_nonzero(y != 2) + len(y) and len(model.loss_curve_) == 2
    assert model.predict_proba(X).shape == (len(y), 3)
    with pytest.raises(ValueError, match="not the same"):
        model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes not in"):
        model.partial_fit(X, np.where(y == 0, 7, y))
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :3], y)


def test_partial_fit_refuses_early_stopping_as_sklearn_does():
    X, y = problem(3)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    model = fit_quietly(MLPClassifier(early_stopping=True, max_iter=2, random_state=0), X, y)
    before = model._flat.copy()
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(model._flat, before)
    assert model.n_iter_ == 2


def test_partial_fit_takes_sklearns_positional_order():
    # sklearn: partial_fit(X, y, sample_weight=None, classes=None)
    X, y = problem(3)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    positional = MLPClassifier(random_state=0).partial_fit(X, y, sw, [0, 1, 2])
    keywords = MLPClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2], sample_weight=sw)
    np.testing.assert_array_equal(positional._flat, keywords._flat)
    unweighted = MLPClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    assert not np.array_equal(positional._flat, unweighted._flat)


def test_out_of_core_partial_fit_over_a_memory_map_matches_fit(tmp_path):
    X, y = problem(4, n=157, m=9)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    y_map = np.load(tmp_path / "y.npy", mmap_mode="r")
    params = dict(hidden_layer_sizes=(6,), shuffle=False, random_state=0, alpha=1e-3, learning_rate_init=0.05)
    streamed = MLPClassifier(**params)
    in_memory = MLPClassifier(max_iter=1, warm_start=True, **params)
    for _ in range(3):
        for start in range(0, len(y), 40):
            streamed.partial_fit(X_map[start:start + 40], y_map[start:start + 40], classes=np.arange(4))
        fit_quietly(in_memory, X, y)
        np.testing.assert_allclose(streamed._flat, in_memory._flat, rtol=1e-12, atol=1e-14)
    assert streamed.t_ == in_memory.t_ == 3 * len(y)


def test_warm_start_continues_where_fit_stopped():
    X, y = problem(3)
    once = fit_quietly(exact_settings(max_iter=5, random_state=0), X, y)
    twice = fit_quietly(exact_settings(max_iter=3, random_state=0, warm_start=True), X, y)
    twice.set_params(max_iter=2)
    fit_quietly(twice, X, y)
    np.testing.assert_array_equal(twice._flat, once._flat)
    assert twice.n_iter_ == 2 and twice.t_ == once.t_ and twice.loss_curve_ == once.loss_curve_
    with pytest.raises(ValueError, match="same classes"):
        twice.fit(X[y != 2], y[y != 2])
    twice.set_params(hidden_layer_sizes=(7,))
    with pytest.raises(ValueError, match="hidden_layer_sizes changed"):
        twice.fit(X, y)
    cold = fit_quietly(exact_settings(max_iter=2, random_state=0), X, y)
    fit_quietly(cold, X, y)  # warm_start=False starts again
    assert cold.t_ == 2 * len(y) and len(cold.loss_curve_) == 2


def test_warm_start_in_another_precision_keeps_the_weights():
    # float64 and float32 pad the engine layout differently (4 and 8 columns): the switch goes
    # through the user layout, so the network continues from the same weights
    X, y = problem(3)
    model = fit_quietly(exact_settings(max_iter=2, random_state=0, warm_start=True, hidden_layer_sizes=(5,)), X, y)
    coefs, intercepts = [c.copy() for c in model.coefs_], [b.copy() for b in model.intercepts_]
    model.set_params(dtype="float32", max_iter=1, learning_rate_init=1e-12)
    fit_quietly(model, X, y)
    assert model._flat.dtype == np.float32 and model._flat.size == model._architecture().n_weights
    for after, before in zip(model.coefs_ + model.intercepts_, coefs + intercepts):
        np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-7)
    model.set_params(dtype="float64", learning_rate_init=0.1)
    fit_quietly(model, X, y)
    assert model._flat.dtype == np.float64 and model.score(X, y) > 0.5


# ---------------------------------------------------------------------------------------- stopping


def test_early_stopping_restores_the_best_weights():
    X, y = synthetic_data(200, 6, 3, seed=4)
    y = y.copy()
    y[::3] = (y[::3] + 1) % 3  # label noise: the held-out accuracy peaks, then wanders
    params = dict(hidden_layer_sizes=(30,), learning_rate_init=0.3, early_stopping=True, validation_fraction=0.25,
                  n_iter_no_change=8, tol=0.0, random_state=2)
    model = fit_quietly(MLPClassifier(max_iter=60, **params), X, y)
    best_epoch = int(np.argmax(model.validation_scores_)) + 1
    assert model.n_iter_ > best_epoch, "the run must go on past its best epoch for this test to mean anything"
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_loss_ is None and len(model.validation_loss_curve_) == model.n_iter_
    stopped_at_best = fit_quietly(MLPClassifier(max_iter=best_epoch, **params), X, y)
    np.testing.assert_array_equal(model._flat, stopped_at_best._flat)
    # the held-out rows, drawn as the model drew them: initial weights first, then the split
    rng = np.random.RandomState(2)
    sklearn_initial_weights([6, 30, 3], rng, np.float64)
    _, val_rows = train_test_split(np.arange(len(y)), random_state=rng, test_size=0.25)
    assert model.score(X[val_rows], y[val_rows]) == model.best_validation_score_
    assert model.validation_scores_[-1] < model.best_validation_score_  # not the last epoch's weights


def test_convergence_warning_and_tol_stopping():
    X, y = problem(3)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier(max_iter=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = MLPClassifier(max_iter=100, tol=10.0, n_iter_no_change=4).fit(X, y)
    # sklearn's rule: stop once more than n_iter_no_change epochs in a row did not improve by tol
    assert model.n_iter_ == 6 and model.best_loss_ == min(model.loss_curve_)
    assert model.validation_scores_ is None and model.validation_loss_curve_ is None


def test_keyboard_interrupt_keeps_the_last_completed_epoch(monkeypatch):
    X, y = problem(3)
    reference = fit_quietly(exact_settings(max_iter=2, random_state=0), X, y)
    real_epoch, calls = _engine.sgd_epoch, []

    def interrupted_on_the_third_epoch(arch, W, data, order, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            real_epoch(arch, W, data, order[:10], **kwargs)  # half-done epoch, then Ctrl-C
            raise KeyboardInterrupt
        return real_epoch(arch, W, data, order, **kwargs)

    monkeypatch.setattr(_engine, "sgd_epoch", interrupted_on_the_third_epoch)
    model = exact_settings(max_iter=10, random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        model.fit(X, y)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    np.testing.assert_array_equal(model._flat, reference._flat)


def test_divergence_is_a_clear_error():
    X, y = problem(3)
    with pytest.raises(ValueError, match="diverged in epoch 1"):
        MLPClassifier(hidden_layer_sizes=(5,), learning_rate_init=1e6).fit(X * 1e306, y)


# ---------------------------------------------------------------------------------------- objects


def test_pickle_and_clone_round_trips():
    X, y = problem(3)
    model = fit_quietly(MLPClassifier(max_iter=5, random_state=0), X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    refit = fit_quietly(clone(model), X, y)
    np.testing.assert_array_equal(refit.predict_proba(X), model.predict_proba(X))
    assert not hasattr(clone(model), "classes_")
    assert isinstance(model.__getstate__()["_flat"], list)  # the user layout, whatever the engine pads


def test_pickled_early_stopping_model_keeps_training_from_its_best_weights():
    X, y = problem(3, n=120)
    model = fit_quietly(MLPClassifier(max_iter=5, early_stopping=True, random_state=0), X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored._best_flat, model._best_flat)
    for fitted in (model, restored):
        fitted.set_params(warm_start=True, max_iter=3)
        fit_quietly(fitted, X, y)
    np.testing.assert_array_equal(restored._flat, model._flat)
    assert len(restored.validation_scores_) == 8


def test_warm_start_can_switch_early_stopping_on_and_off():
    X, y = problem(3, n=120)
    model = fit_quietly(MLPClassifier(max_iter=3, random_state=0, warm_start=True), X, y)
    fit_quietly(model.set_params(early_stopping=True), X, y)
    assert len(model.validation_scores_) == 3 and model.best_loss_ is None
    fit_quietly(model.set_params(early_stopping=False), X, y)
    assert model.best_loss_ == min(model.loss_curve_[-3:]) and len(model.loss_curve_) == 9


def test_coefs_are_sklearn_shaped_views_of_the_weights():
    X, y = problem(4)
    model = fit_quietly(MLPClassifier(hidden_layer_sizes=(5, 3), max_iter=2, random_state=0), X, y)
    assert [c.shape for c in model.coefs_] == [(6, 5), (5, 3), (3, 4)]
    assert [b.shape for b in model.intercepts_] == [(5,), (3,), (4,)]
    model.coefs_[-1][:] = 0.0
    model.intercepts_[-1][:] = 0.0
    np.testing.assert_allclose(model.predict_proba(X), 0.25, rtol=1e-15)
    with pytest.raises(AttributeError):
        MLPClassifier().coefs_


def test_weights_set_by_hand_start_partial_fit_as_in_sklearns_worked_example():
    # sklearn's test_mlp.py::test_fit (its worked example) builds the model by hand, then partial_fit
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    model = MLPClassifier(learning_rate_init=0.1, alpha=0.1, random_state=1, max_iter=1, hidden_layer_sizes=2)
    model.coefs_ = [0] * 2
    model.intercepts_ = [0] * 2
    model.coefs_[0] = np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]])
    model.coefs_[1] = np.array([[0.1], [0.2]])
    model.intercepts_[0] = np.array([0.1, 0.1])
    model.intercepts_[1] = np.array([1.0])
    start = [np.column_stack([b, W.T]) for W, b in zip(model.coefs_, model.intercepts_)]
    model.partial_fit(X, y, classes=[0, 1])
    expected, _ = oracle.sgd_train(start, X, y, "sigmoid", 0.1, 1, l2=0.1)
    assert_weights_close(user_layout(model), expected, 1e-13)
    # sklearn's hand-worked numbers
    np.testing.assert_almost_equal(model.coefs_[0], [[0.098, 0.195756], [0.2956664, 0.096008],
                                                     [0.4939998, -0.002244]], decimal=3)
    np.testing.assert_almost_equal(model.coefs_[1], [[0.04706], [0.154089]], decimal=3)
    np.testing.assert_almost_equal(model.intercepts_[0], [0.098333, 0.09626], decimal=3)
    np.testing.assert_almost_equal(model.intercepts_[1], [0.9235], decimal=3)
    np.testing.assert_almost_equal(model.predict_proba(X)[0, 1], 0.739, decimal=3)


def test_weights_set_by_hand_are_checked_and_a_fresh_fit_ignores_them():
    X, y = problem(3)
    model = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    model.coefs_, model.intercepts_ = [np.zeros((6, 4)), np.zeros((4, 2))], [np.zeros(4), np.zeros(2)]
    with pytest.raises(ValueError, match=r"coefs_ and intercepts_ set by hand have the shapes .* need"):
        model.partial_fit(X, y, classes=[0, 1, 2])
    model.intercepts_ = [np.zeros(4), np.full(3, np.nan)]
    model.coefs_ = [np.zeros((6, 4)), np.zeros((4, 3))]
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.partial_fit(X, y, classes=[0, 1, 2])
    model.intercepts_[1] = np.zeros(3)
    fit_quietly(model.set_params(max_iter=2), X, y)  # warm_start=False: starts from sklearn's draw, as sklearn does
    reference = fit_quietly(MLPClassifier(hidden_layer_sizes=(4,), random_state=0, max_iter=2), X, y)
    np.testing.assert_array_equal(model._flat, reference._flat)
    assert "_assigned" not in model.__dict__


def test_assigning_coefs_of_a_fitted_model_writes_its_weights():
    X, y = problem(4)
    model = fit_quietly(MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0), X, y)
    model.coefs_ = [np.zeros((6, 5)), np.ones((5, 4))]
    model.intercepts_[1] = np.zeros(4)
    np.testing.assert_allclose(model.predict_proba(X), 0.25, rtol=1e-15)
    model.intercepts_ = [np.zeros(5), np.log([1.0, 1.0, 1.0, 5.0])]
    np.testing.assert_allclose(model.predict_proba(X)[:, 3], 5 / 8, rtol=1e-15)
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have the shape \(5, 4\)"):
        model.coefs_[1] = np.zeros((5, 3))
    with pytest.raises(ValueError, match="list of 2 arrays"):
        model.coefs_ = [np.zeros((6, 5))]
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have the shape"):
        model.coefs_ = [np.ones((6, 5)), np.zeros((4, 4))]
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.intercepts_[0] = np.full(5, np.inf)
    np.testing.assert_allclose(model.predict_proba(X)[:, 3], 5 / 8, rtol=1e-15)  # refused: nothing written


def test_float32_model():
    X, y = problem(3)
    model = fit_quietly(MLPClassifier(max_iter=5, dtype="float32", random_state=0), X, y)
    assert model.predict_proba(X).dtype == np.float32 and model.coefs_[0].dtype == np.float32
    reference = fit_quietly(MLPClassifier(max_iter=5, random_state=0), X, y)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), atol=1e-4)


def _as(X, kind):
    """``X`` in one of the forms sklearn's dtype rule distinguishes."""
    pd = pytest.importorskip("pandas") if kind.startswith("frame") else None
    return {
        "float32": lambda: X.astype(np.float32),
        "float64": lambda: X,
        "int64": lambda: np.round(X * 4).astype(np.int64),
        "float16": lambda: X.astype(np.float16),
        "csr float32": lambda: sp.csr_matrix(X.astype(np.float32)),
        "csc float32": lambda: sp.csc_matrix(X.astype(np.float32)),
        "frame float32": lambda: pd.DataFrame(X.astype(np.float32)),
        "frame mixed": lambda: pd.DataFrame(X).astype({0: np.float32}),
    }[kind]()


@pytest.mark.parametrize("kind", ["float32", "float64", "int64", "float16", "csr float32", "csc float32",
                                  "frame float32", "frame mixed"])
def test_default_dtype_follows_the_input_as_sklearn_does(kind):
    X, y = problem(3)
    X_in = _as(X, kind)
    params = dict(hidden_layer_sizes=(4,), learning_rate_init=0.05, max_iter=2, random_state=0)
    ours = fit_quietly(MLPClassifier(**params), X_in, y)
    theirs = fit_quietly(sklearn_twin(**params), X_in, y)
    expected = theirs.coefs_[0].dtype
    assert expected == (np.float32 if kind.endswith("float32") else np.float64)  # sklearn's rule, as documented
    assert all(a.dtype == expected for a in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X_in).dtype == expected
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 if expected == np.float64 else 1e-5)


def test_warm_start_and_partial_fit_keep_the_fitted_dtype_unless_forced():
    X, y = problem(3)
    X32 = X.astype(np.float32)
    # sklearn keeps the fitted coefs_ dtype when partial_fit or a warm start sees another one
    theirs = fit_quietly(sklearn_twin(max_iter=2, random_state=0), X32, y).partial_fit(X, y)
    assert theirs.coefs_[0].dtype == np.float32
    ours = fit_quietly(MLPClassifier(max_iter=2, random_state=0), X32, y).partial_fit(X, y)
    assert ours._flat.dtype == np.float32 and ours.coefs_[0].dtype == np.float32
    warm = fit_quietly(MLPClassifier(max_iter=2, random_state=0, warm_start=True), X, y)
    fit_quietly(warm, X32, y)
    assert warm._flat.dtype == np.float64
    fit_quietly(warm.set_params(dtype="float32"), X, y)  # a name forces it, even on a warm start
    assert warm._flat.dtype == np.float32
    cold = fit_quietly(MLPClassifier(max_iter=2, random_state=0), X32, y)
    fit_quietly(cold, X, y)  # a fit that starts again follows the new input
    assert cold._flat.dtype == np.float64
    forced = fit_quietly(MLPClassifier(max_iter=2, random_state=0, dtype="float64"), X32, y)
    assert forced._flat.dtype == np.float64


def test_hogwild_threads_train_a_useful_model():
    X, y = problem(3, n=300)
    model = fit_quietly(MLPClassifier(hidden_layer_sizes=(10,), learning_rate_init=0.1, max_iter=30, n_jobs=2,
                                      random_state=0), X, y)
    assert model.score(X, y) > 0.8
    assert model.__sklearn_tags__().non_deterministic


def test_verbose_prints_the_loss(capsys):
    X, y = problem(3)
    fit_quietly(MLPClassifier(max_iter=2, verbose=True), X, y)
    assert "Iteration 2, loss = " in capsys.readouterr().out


@pytest.mark.parametrize("params, message", [
    (dict(activation="swish"), "activation"),
    (dict(activation=["relu", "tanh"], hidden_layer_sizes=(5,)), "lists 2 activations but the network has 1"),
    (dict(solver="rmsprop"), "solver"),
    (dict(momentum=1.0), "momentum"),
    (dict(batch_size=0), "batch_size"),
    (dict(learning_rate_init=0.0), "learning_rate_init"),
    (dict(learning_rate_init=np.inf), "learning_rate_init"),
    (dict(alpha=np.nan), "alpha"),
    (dict(hidden_layer_sizes=(5, 0)), "hidden_layer_sizes"),
    (dict(n_jobs=0), "n_jobs"),
    (dict(dtype="float16"), "dtype"),
    (dict(init="normal"), "init"),
    (dict(init=[np.zeros((4, 7)), np.zeros((3, 5))], hidden_layer_sizes=()), "init has layer sizes"),
    (dict(init=[np.zeros((3, 5))], hidden_layer_sizes=()), "input features"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(class_weight={0: -1.0}), "class_weight"),
])
def test_bad_hyperparameters_are_caught_in_fit(params, message):
    X, y = problem(3)
    model = MLPClassifier(**params)  # __init__ only stores them
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)


def test_multioutput_labels_that_are_not_indicators_are_refused():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.column_stack([np.arange(30) % 3, np.arange(30) % 2])  # three labels in a column
    with pytest.raises(ValueError, match="not a 0/1 multilabel indicator matrix"):
        MLPClassifier(max_iter=2).fit(X, y)
    # two values per column are an indicator matrix to sklearn: non-zero means present
    Y = np.column_stack([np.arange(30) % 2 * 2, (np.arange(30) + 1) % 2 * 2])
    model = fit_quietly(MLPClassifier(max_iter=2, random_state=0), X, Y)
    np.testing.assert_array_equal(model.classes_, [0, 1])
    assert set(np.unique(model.predict(X))) <= {0, 1} and model.predict(X).shape == (30, 2)


def test_regressor_refuses_non_finite_targets():
    from fastnn import MLPRegressor

    X = np.random.default_rng(0).normal(size=(30, 3))
    for bad, message in ((np.nan, "NaN"), (np.inf, "infinity")):
        y = np.ones(30)
        y[4] = bad
        with pytest.raises(ValueError, match=message):
            MLPRegressor(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="too large for float32"):
        MLPRegressor(max_iter=2, dtype="float32").fit(X, np.full(30, 1e300))
