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
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks  # noqa: E402

import ffnn  # noqa: E402
from ffnn.errors import FFNNError, NonFiniteOutputError  # noqa: E402
from ffnn.sklearn import FFNNClassifier, FFNNRegressor  # noqa: E402

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

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


@pytest.mark.parametrize("Estimator", [FFNNClassifier, FFNNRegressor])
def test_default_estimators_pass_check_estimator(Estimator):
    """As a user constructs them: the default dtype follows the input (float64 checks, float64
    network), so weighted and repeated rows agree and predictions do not depend on the batch."""
    check_estimator(Estimator())


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
    with pytest.raises(ffnn.SettingError, match=r"^The 'learning_rate' parameter must be a number > 0; got -1"):
        FFNNClassifier(learning_rate=-1).fit(X, y)
    with pytest.raises(ffnn.SettingError, match=r"^The 'optimizer' parameter must be one of 'sgd', "):
        FFNNClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(
        ffnn.ParameterError, match=r"^The 'validation_fraction' parameter must be a number in \(0, 1\); got 1.5\.$"
    ):
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
    for fit in (lambda: cosine.partial_fit(X, y, classes=[0, 1]), lambda: cosine.set_params(warm_start=True).fit(X, y)):
        with pytest.raises(ffnn.ParameterError, match=r"^schedule='cosine' is planned over one call's epochs"):
            fit()  # issue 21: refused from the first call (which was accepted, for the second to be refused)
        assert not hasattr(cosine, "network_")
    assert cosine.set_params(warm_start=False).fit(X, y).n_iter_ == 3  # one call: its schedule runs to its end


def test_hidden_layer_sizes_may_come_as_an_array(rng):
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    est = FFNNClassifier(hidden_layer_sizes=np.array([5, 4]), max_iter=2, random_state=0).fit(X, y)
    assert est.network_.sizes == [3, 5, 4, 2]
    with pytest.raises(ffnn.ParameterError, match=r"'hidden_layer_sizes' parameter must be a tuple of positive"):
        FFNNClassifier(hidden_layer_sizes=np.array([5.5]), max_iter=2).fit(X, y)


@pytest.mark.parametrize("Estimator", [FFNNClassifier, FFNNRegressor])
def test_network_dtype_follows_the_input_unless_forced(Estimator):
    X, y = blobs()

    def network_dtype(data, **kw):
        return Estimator(hidden_layer_sizes=(4,), max_iter=2, random_state=0, **kw).fit(data, y).network_.dtype

    assert network_dtype(X.astype(np.float32)) == np.float32
    assert network_dtype(X) == np.float64
    assert network_dtype(np.rint(X).astype(np.int64)) == np.float64
    assert network_dtype(X, dtype="float32") == np.float32
    assert network_dtype(X.astype(np.float32), dtype="float64") == np.float64
    model = Estimator(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X.astype(np.float32), y)
    outputs = model.predict_proba(X) if Estimator is FFNNClassifier else model.predict(X)
    assert outputs.dtype == np.float64  # a float32 network's outputs are handed back as float64, as before


def test_continuing_keeps_the_first_fits_dtype():
    """warm_start and partial_fit keep the network: data of another dtype is cast to the network's;
    asking for another dtype explicitly is refused."""
    X, y = blobs()
    model = FFNNClassifier(hidden_layer_sizes=(8,), max_iter=3, tol=None, warm_start=True, random_state=0)
    model.fit(X.astype(np.float32), y)
    network = model.network_
    model.fit(X, y)
    assert model.network_ is network and network.dtype == np.float32 and model.n_iter_ == 6
    assert all(np.isfinite(model.loss_curve_))
    assert all(w.dtype == np.float32 for w in network.parameters())
    model.set_params(dtype="float64")
    with pytest.raises(ffnn.ParameterError, match=r"^dtype changed since the network was made"):
        model.fit(X, y)
    regressor = FFNNRegressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y)
    regressor.partial_fit(X.astype(np.float32), y)
    assert regressor.network_.dtype == np.float64 and regressor.n_iter_ == 2


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("warm_start", "False", "The 'warm_start' parameter must be true or false; got 'False'."),
        ("verbose", "yes", "The 'verbose' parameter must be true or false; got 'yes'."),
        ("early_stopping", 1, "The 'early_stopping' parameter must be true or false; got 1."),
        ("validation_fraction", 0.0, "The 'validation_fraction' parameter must be a number in (0, 1); got 0.0."),
        ("validation_fraction", "0.1", "The 'validation_fraction' parameter must be a number in (0, 1); got '0.1'."),
        ("n_iter_no_change", 0, "The 'n_iter_no_change' parameter must be an integer >= 1; got 0."),
        ("n_iter_no_change", 2.5, "The 'n_iter_no_change' parameter must be an integer >= 1; got 2.5."),
        ("tol", -0.5, "The 'tol' parameter must be None or a number >= 0; got -0.5."),
        ("tol", "none", "The 'tol' parameter must be None or a number >= 0; got 'none'."),
        ("batch_size", 0, "The 'batch_size' parameter must be 'auto' or an integer >= 1; got 0."),
        ("batch_size", "all", "The 'batch_size' parameter must be 'auto' or an integer >= 1; got 'all'."),
        (
            "hidden_layer_sizes",
            (8, 0),
            "The 'hidden_layer_sizes' parameter must be a tuple of positive integers (at most 2147483647 each); "
            "got (8, 0).",
        ),
        (
            "hidden_layer_sizes",
            "64",
            "The 'hidden_layer_sizes' parameter must be a tuple of positive integers (at most 2147483647 each); "
            "got '64'.",
        ),
        (
            "hidden_layer_sizes",
            (True,),
            "The 'hidden_layer_sizes' parameter must be a tuple of positive integers (at most 2147483647 each); "
            "got (True,).",
        ),
        ("dtype", "float16", "The 'dtype' parameter must be one of 'float32', 'float64'; got 'float16'."),
        ("max_iter", 0, "The 'max_iter' parameter must be an integer >= 1; got 0."),
    ],
)
def test_parameters_are_checked_at_fit_in_scikit_learns_form(parameter, value, message):
    """__init__ only stores (scikit-learn's convention); fit checks each parameter against its one
    declaration (ffnn.settings, or the estimator's own) and names it, the rule and the value."""
    X, y = blobs()
    model = FFNNClassifier(**{parameter: value})
    assert model.get_params()[parameter] == value
    with pytest.raises(ffnn.SettingError) as caught:
        model.fit(X, y)
    assert str(caught.value) == message


def test_warm_start_given_as_a_string_is_refused_not_taken_as_true():
    X, y = blobs()
    model = FFNNClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    first = model.network_
    model.set_params(warm_start="False")
    with pytest.raises(ffnn.SettingError, match="'warm_start' parameter must be true or false; got 'False'"):
        model.fit(X, y)
    assert model.network_ is first and model.n_iter_ == 2


def test_numpy_numbers_from_a_parameter_grid_are_taken_and_the_halving_rule_is_not():
    """A grid built with np.arange gives NumPy integers and floats: they are numbers like any other.
    The book's halving rule watches a validation accuracy the estimators do not keep: refused by name."""
    X, y = blobs()
    model = FFNNClassifier(
        hidden_layer_sizes=np.arange(4, 5), max_iter=np.int64(3), batch_size=np.int32(16),
        learning_rate=np.float32(0.01), n_iter_no_change=np.int64(2), random_state=0,
    ).fit(X, y)  # fmt: skip
    assert model.n_iter_ == 3 and model.network_.sizes == [X.shape[1], 4, 3]
    with pytest.raises(ffnn.SettingError, match=r"^The 'schedule' parameter must be one of 'constant', 'step', "):
        FFNNClassifier(schedule="halve-on-plateau").fit(X, y)


def test_the_alternatives_and_forms_a_parameter_may_take():
    X, y = blobs()

    def trained(**kw):
        return FFNNClassifier(**{"max_iter": 2, "random_state": 0, **kw}).fit(X, y)

    assert trained(hidden_layer_sizes=7).network_.sizes == [5, 7, 3]
    assert trained(hidden_layer_sizes=[4, np.int64(3)]).network_.sizes == [5, 4, 3, 3]
    assert trained(hidden_layer_sizes=()).network_.sizes == [5, 3]
    assert trained(tol=None, max_iter=12, batch_size=7).n_iter_ == 12
    assert trained(tol=1, n_iter_no_change=1, max_iter=12, batch_size="auto").n_iter_ == 2  # no epoch gains 1


def test_outputs_that_overflow_are_refused_not_returned_as_nan():
    """The estimators' outputs come from network_.outputs: where a float32 network's activations
    overflow, predict, predict_proba and score raise NonFiniteOutputError (an FFNNError)."""
    assert issubclass(NonFiniteOutputError, FFNNError)
    X, y = blobs()
    X = np.abs(X).astype(np.float32)  # positive inputs: every ReLU passes the huge weights on
    classifier = FFNNClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    regressor = FFNNRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    for model in (classifier, regressor):
        assert model.network_.dtype == np.float32
        for w in model.network_.weights:
            w[...] = 1e30  # finite in float32; z^L ≈ 8 · 1e30 · 1e30 · (Σx + 1) is not
        with np.errstate(over="ignore", invalid="ignore"):  # numpy's warnings on the way to the refusal
            with pytest.raises(NonFiniteOutputError, match=r"overflow its dtype \(float32\) for input row 0"):
                model.predict(X)
            with pytest.raises(NonFiniteOutputError):
                model.score(X, y)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(NonFiniteOutputError):
        classifier.predict_proba(X)


def test_a_classifier_keeps_its_class_names_in_the_network(tmp_path, rng):
    """Issue 21: trained on string labels, network_.classes was None, so ffnn.save lost them."""
    X = rng.standard_normal((60, 3))
    y = np.array(["cat", "dog", "emu"])[rng.integers(0, 3, 60)]
    est = FFNNClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(X, y)
    assert est.network_.classes == ["cat", "dog", "emu"]
    ffnn.save(est.network_, tmp_path / "m.npz")
    loaded = ffnn.load(tmp_path / "m.npz")
    assert loaded.classes == ["cat", "dog", "emu"]
    assert [loaded.classes[i] for i in loaded.predict(X)] == est.predict(X).tolist()
    numbers = FFNNClassifier(hidden_layer_sizes=(5,), max_iter=1, random_state=0).partial_fit(
        X, y == "dog", [False, True]
    )
    assert numbers.network_.classes == ["False", "True"]


def test_layers_beyond_any_machine_are_refused_not_a_memory_error():
    """Issue 21: hidden_layer_sizes=(10**9,) raised a raw MemoryError."""
    X, y = np.zeros((4, 100)), np.array([0, 1, 0, 1])
    with pytest.raises(ffnn.SettingError, match=r"^The 'hidden_layer_sizes' parameter must be a tuple of positive "
                       r"integers \(at most 2147483647 each\); got \(1000000000000,\)\.$"):  # fmt: skip
        FFNNClassifier(hidden_layer_sizes=(10**12,)).fit(X, y)
    with pytest.raises(ffnn.ParameterError, match=r"^A network of sizes \[100, 2147483647, 2\] \(221,190,815,643 "
                       r"parameters\) needs about 4,880\.0 GiB of memory, and this machine has .* GiB available: give "
                       r"it smaller layers\.$"):  # fmt: skip
        FFNNClassifier(hidden_layer_sizes=(2**31 - 1,)).fit(X, y)
