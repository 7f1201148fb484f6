"""The scikit-learn estimators: scikit-learn's own checks, Pipeline/GridSearchCV on digits, clone,
cross_val_score, labels of any type, sample weights, partial_fit, warm_start, bad input."""

import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="the sklearn extra is not installed")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import ffnn  # noqa: E402
from ffnn.sklearn import FFNNClassifier, FFNNRegressor  # noqa: E402

# Small, float64 instances: every check runs (none is skipped or expected to fail by us). float64
# makes check_sample_weight_equivalence_on_dense_data (integer weights = repeated rows, zero =
# removed; 15 rows, one full batch) hold to rounding; the regressor's larger learning rate lets
# 100 epochs reach check_regressors_train's R² > 0.5 on its unscaled targets. conftest.py sets
# SCIPY_ARRAY_API so that the array-API check (NumPy input with dispatch on) runs too; pandas
# comes with the test extra, for the DataFrame checks.
CHECKED = [
    FFNNClassifier(max_iter=50, dtype="float64"),
    FFNNRegressor(max_iter=100, learning_rate=0.01, dtype="float64"),
]


@parametrize_with_checks(CHECKED)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def test_grid_search_in_a_pipeline_on_digits(digits):
    X, y = digits
    pipe = Pipeline([("scale", StandardScaler()), ("net", FFNNClassifier(random_state=0))])
    # shuffled folds: digits is ordered by writer, and scikit-learn's unshuffled folds test on
    # unseen writers (MLPClassifier's defaults score 0.94 on them, ffnn's 0.94 too: BENCHMARKS.md)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, {"net__hidden_layer_sizes": [(32,), (128,)]}, cv=folds, n_jobs=1)
    search.fit(X, y)
    assert search.best_score_ >= 0.97, search.cv_results_["mean_test_score"]
    assert search.best_params_["net__hidden_layer_sizes"] in [(32,), (128,)]


def test_clone_and_cross_val_score(digits):
    X, y = digits
    model = FFNNClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=1)
    model.fit(X[:200] / 16, y[:200])
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "network_")
    scores = cross_val_score(make_pipeline(StandardScaler(), copy), X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.9


def test_string_labels_round_trip():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = make_pipeline(StandardScaler(), FFNNClassifier(random_state=0)).fit(X, names)
    net = model[-1]
    assert list(net.classes_) == ["setosa", "versicolor", "virginica"]
    predicted = model.predict(X)
    assert predicted.dtype == names.dtype
    assert set(predicted) <= set(names)
    assert model.score(X, names) > 0.9
    proba = model.predict_proba(X)
    np.testing.assert_array_equal(net.classes_[proba.argmax(axis=1)], predicted)
    assert isinstance(model.score(X, names), float)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), predicted)


def test_attributes_after_fit(digits):
    X, y = digits
    model = FFNNClassifier(hidden_layer_sizes=(16,), max_iter=40, early_stopping=True, random_state=0)
    model.fit(X / 16, y)
    assert isinstance(model.network_, ffnn.Network)
    assert model.network_.sizes == [64, 16, 10]
    assert model.n_features_in_ == 64
    assert len(model.loss_curve_) == model.n_iter_ == len(model.validation_scores_)
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert max(model.validation_scores_) > 0.9
    assert FFNNClassifier(max_iter=3).fit(X / 16, y).validation_scores_ is None


def test_multi_output_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    Y = np.c_[X[:, 0] + X[:, 1], np.sin(X[:, 2]), X[:, 3] ** 2 / 3]
    model = FFNNRegressor(hidden_layer_sizes=(32,), learning_rate=0.01, random_state=0).fit(X, Y)
    assert model.predict(X).shape == (300, 3)
    assert model.predict(X).dtype == np.float64
    assert model.score(X, Y) > 0.9
    assert model.network_.activations[-1].name == "identity"
    single = FFNNRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, Y[:, 0])
    assert single.predict(X).shape == (300,)


def blobs(n=40):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, n)
    return rng.standard_normal((n, 5)) + 2.0 * y[:, None], y


def full_batch(**kw):
    return FFNNClassifier(hidden_layer_sizes=(8,), max_iter=25, batch_size=1000, dtype="float64", random_state=0, **kw)


def test_zero_weight_is_an_absent_example():
    X, y = blobs()
    w = np.ones(len(X))
    w[[3, 11, 20]] = 0.0
    keep = w > 0
    weighted = full_batch(tol=None).fit(X, y, sample_weight=w)
    absent = full_batch(tol=None).fit(X[keep], y[keep])
    for ours, theirs in zip(weighted.network_.parameters(), absent.network_.parameters()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


def test_doubled_weight_is_a_duplicated_example():
    X, y = blobs()
    w = np.ones(len(X))
    w[[0, 7]] = 2.0
    weighted = full_batch(tol=None).fit(X, y, sample_weight=w)
    repeated = full_batch(tol=None).fit(np.concatenate([X, X[[0, 7]]]), np.concatenate([y, y[[0, 7]]]))
    for ours, theirs in zip(weighted.network_.parameters(), repeated.network_.parameters()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-12)


def test_partial_fit_needs_classes_first_and_continues():
    X, y = blobs(90)
    model = FFNNClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        model.partial_fit(X, y)
    model.partial_fit(X[:30], y[:30], classes=[0, 1, 2])
    first = model.network_
    for start in (30, 60):
        model.partial_fit(X[start : start + 30], y[start : start + 30])
    assert model.network_ is first and model.n_iter_ == 3 and len(model.loss_curve_) == 3
    assert model._optimizer_state is not None  # Adam's moments, carried over from call to call
    with pytest.raises(ValueError, match="not the same as on last call"):
        model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="class 7, which is not among the classes"):
        model.partial_fit(X[:3], [0, 1, 7])


def test_warm_start_continues_the_same_network():
    X, y = blobs()
    model = FFNNClassifier(hidden_layer_sizes=(8,), max_iter=5, tol=None, warm_start=True, random_state=0)
    model.fit(X, y)
    network = model.network_
    model.fit(X, y)
    assert model.network_ is network and model.n_iter_ == 10
    cold = FFNNClassifier(hidden_layer_sizes=(8,), max_iter=5, tol=None, random_state=0).fit(X, y)
    cold_network = cold.network_
    cold.fit(X, y)
    assert cold.network_ is not cold_network and cold.n_iter_ == 5


def test_tol_stops_on_a_training_loss_plateau():
    X, y = blobs()
    model = FFNNClassifier(hidden_layer_sizes=(8,), learning_rate=0.05, max_iter=500, tol=1e-2, random_state=0)
    model.fit(X, y)
    assert model.n_iter_ < 500


def test_bad_input_gets_clear_errors():
    X, y = blobs()
    model = FFNNClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but FFNNClassifier is expecting 5 features"):
        model.predict(X[:, :3])
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        FFNNClassifier().fit(bad, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="needs at least 2 classes"):
        FFNNClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        FFNNClassifier().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ffnn.ParameterError, match="'sample_weight' must be finite and >= 0"):
        FFNNClassifier(max_iter=1).fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ffnn.ParameterError, match="'hidden_layer_sizes' parameter must be a tuple of positive"):
        FFNNClassifier(hidden_layer_sizes=(0,)).fit(X, y)
    with pytest.raises(ffnn.SettingError, match="learning_rate must be a number > 0; got -1"):
        FFNNClassifier(learning_rate=-1).fit(X, y)
    with pytest.raises(ffnn.SettingError, match="optimizer must be one of"):
        FFNNClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ffnn.ParameterError, match="'validation_fraction' parameter must be in"):
        FFNNClassifier(early_stopping=True, validation_fraction=1.5).fit(X, y)
    regressor = FFNNRegressor(max_iter=1).fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="y has 1 target columns, but the regressor was fitted with 2"):
        regressor.partial_fit(X, y)


def test_importing_ffnn_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = "import sys, ffnn; print('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "False\n"


def test_continuing_refuses_what_it_cannot_continue(rng):
    """warm_start and partial_fit keep the network and the optimizer's state: a changed
    architecture or optimizer, or a schedule planned for one call, would be silently wrong."""
    X, y = rng.standard_normal((60, 4)), rng.integers(0, 2, 60)
    est = FFNNClassifier(hidden_layer_sizes=(8,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
    est.set_params(hidden_layer_sizes=(16, 16))
    with pytest.raises(ffnn.ParameterError, match=r"^hidden_layer_sizes changed since the network was made"):
        est.fit(X, y)
    est.set_params(hidden_layer_sizes=(8,), optimizer="momentum")
    with pytest.raises(ffnn.ParameterError, match=r"^optimizer changed since the network was made"):
        est.fit(X, y)
    cosine = FFNNClassifier(hidden_layer_sizes=(8,), max_iter=3, schedule="cosine", random_state=0)
    cosine.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ffnn.ParameterError, match=r"^schedule='cosine' is planned over one call's epochs"):
        cosine.partial_fit(X, y)


def test_hidden_layer_sizes_may_come_as_an_array(rng):
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    est = FFNNClassifier(hidden_layer_sizes=np.array([5, 4]), max_iter=2, random_state=0).fit(X, y)
    assert est.network_.sizes == [3, 5, 4, 2]
    with pytest.raises(ffnn.ParameterError, match=r"'hidden_layer_sizes' parameter must be a tuple of positive"):
        FFNNClassifier(hidden_layer_sizes=np.array([5.5]), max_iter=2).fit(X, y)
