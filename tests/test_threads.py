"""Issue 22: the BLAS threads of a fit — one setting (flag, argument, FFNN_THREADS), defaults that
fit the context, decided once per fit by the size of its products, and the BLAS left as found."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import ffnn
from ffnn import threads
from ffnn.build import build_training
from ffnn.callbacks import Callback
from ffnn.config import configure
from ffnn.errors import SettingError
from ffnn.training import Trainer

SMALL = ([40, 100, 4], 200, "float32")  # the 5,000 × 40 problem's network: 800,000 multiply-adds a product
LARGE = ([64, 256, 10], 128, "float64")  # 2,097,152 multiply-adds in float64: two threads' worth


def blas_threads() -> list[int]:
    """What threadpoolctl sees the loaded BLAS libraries allowed now."""
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


class SeenThreads(Callback):
    """The BLAS threads in force while the fit runs, seen from inside it after each batch."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def on_batch_end(self, network, epoch, batch):
        self.seen.update(blas_threads())
        return False


def fit_seeing_threads(case, rng, **options):
    sizes, batch, dtype = case
    X = rng.random((2 * batch, sizes[0]))
    y = rng.integers(0, sizes[-1], 2 * batch)
    seen = SeenThreads()
    ffnn.fit(ffnn.Network(sizes, seed=0, dtype=dtype), X, y, 1, batch, eta=0.1, callbacks=[seen], **options)
    return seen.seen


@pytest.fixture(autouse=True)
def no_variable(monkeypatch):
    monkeypatch.delenv(threads.VARIABLE, raising=False)


# -- the setting: its rule and its precedence ------------------------------------------------------


def test_the_setting_is_an_integer_from_0_automatic_and_reaches_fit():
    assert configure().threads == 0
    assert build_training(configure(flags={"threads": 3}), 100)[0]["threads"] == 3
    assert "threads" not in build_training(configure(), 100)[0]  # automatic: fit's default
    with pytest.raises(SettingError, match=r"^--threads must be an integer >= 0; got -1\.$"):
        configure(flags={"threads": -1})


def test_the_estimators_parameter_is_n_threads_checked_by_the_setting(rng):
    pytest.importorskip("sklearn")
    from ffnn.sklearn import FFNNClassifier

    X, y = rng.random((20, 3)), np.arange(20) % 2
    assert FFNNClassifier().get_params()["n_threads"] is None
    with pytest.raises(SettingError, match=r"^The 'n_threads' parameter must be an integer >= 0; got 1\.5\.$"):
        FFNNClassifier(n_threads=1.5, max_iter=1).fit(X, y)
    assert FFNNClassifier(n_threads=1, max_iter=1).fit(X, y).n_iter_ == 1


def test_a_given_number_beats_the_variable_which_beats_automatic(monkeypatch):
    assert threads.requested(None) is None and threads.requested(0) is None
    monkeypatch.setenv(threads.VARIABLE, "3")
    assert threads.requested(None) == 3 and threads.requested(0) == 3
    assert threads.requested(2) == 2
    for automatic in ("", " ", "0"):
        monkeypatch.setenv(threads.VARIABLE, automatic)
        assert threads.requested(None) is None


@pytest.mark.parametrize("text", ["two", "-1", "1.5"])
def test_a_bad_variable_is_refused_in_one_line_before_training(monkeypatch, rng, text):
    monkeypatch.setenv(threads.VARIABLE, text)
    net = ffnn.Network([3, 2], seed=0)
    before = [p.copy() for p in net.parameters()]
    expected = rf"^FFNN_THREADS must be an integer >= 0 \(0 or empty: automatic\); got '{text}'\.$"
    with pytest.raises(SettingError, match=expected):
        ffnn.fit(net, rng.random((4, 3)), [0, 1, 0, 1], 1, 2, eta=0.1)
    assert all(np.array_equal(p, q) for p, q in zip(net.parameters(), before))


def test_a_bad_argument_is_refused():
    with pytest.raises(ffnn.ParameterError, match=r"^The 'threads' parameter must be an integer >= 0\. Got -2"):
        threads.requested(-2)


# -- the defaults of each context -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cores", "processes", "asked", "expected"),
    [(2, 1, None, 2), (16, 1, None, 16), (2, 2, None, 1), (16, 4, None, 4), (16, 3, None, 5), (2, 1, 1, 1)],
)
def test_automatic_shares_the_cores_among_the_processes(cores, processes, asked, expected):
    assert threads.per_process(cores, processes, asked) == threads.Plan(expected)


def test_more_threads_than_cores_are_used_with_a_warning():
    plan = threads.per_process(2, 2, 2)
    assert plan.threads == 2
    assert plan.warning == (
        "2 processes × 2 threads = 4 BLAS threads on 2 cores: they take turns, and each product waits for the "
        "slowest. Set threads to 1 (--threads, FFNN_THREADS), or leave it automatic."
    )
    assert threads.per_process(4, 1, 6).warning.startswith("6 threads = 6 BLAS threads on 4 cores:")
    crowded = threads.per_process(2, 4, None)
    assert crowded.threads == 1
    assert (
        crowded.warning
        == "4 processes on 2 cores: they take turns, and each product waits for the slowest. Start at most 2."
    )


def test_a_fit_warns_when_its_threads_outnumber_the_cores(rng):
    with pytest.warns(UserWarning, match=rf"^{threads.cores() + 1} threads = .* BLAS threads on {threads.cores()} "):
        fit_seeing_threads(SMALL, rng, threads=threads.cores() + 1)


def test_serve_answers_on_one_thread_unless_the_variable_says_otherwise(monkeypatch):
    assert threads.for_serve() == 1
    monkeypatch.setenv(threads.VARIABLE, "2")
    assert threads.for_serve() == 2


def test_automatic_keeps_the_limit_a_caller_set(rng):
    with threadpool_limits(1, user_api="blas"):
        assert fit_seeing_threads(LARGE, rng) == {1}
        assert blas_threads() and set(blas_threads()) == {1}


@pytest.mark.filterwarnings("ignore:.*BLAS threads on:UserWarning")  # a machine of one core
def test_a_given_number_is_used_within_a_callers_limit_and_the_limit_comes_back(rng):
    with threadpool_limits(1, user_api="blas"):
        assert fit_seeing_threads(LARGE, rng, threads=2) == {2}
        assert set(blas_threads()) == {1}


# -- the size of the products ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "work", "itemsize", "expected"),
    [
        (2, 200 * 40 * 100, 4, 1),  # the 5,000 × 40 problem: float32 and float64
        (2, 200 * 40 * 100, 8, 1),
        (2, 10 * 784 * 30, 4, 1),  # the sources' MNIST network, batch 10
        (2, 32 * 784 * 100, 4, 1),
        (2, 128 * 784 * 800, 4, 2),
        (16, 128 * 784 * 800, 4, 16),
        (16, 10 * 784 * 800, 4, 2),  # 6.3 million multiply-adds: two threads' worth in float32 ...
        (16, 10 * 784 * 800, 8, 5),  # ... five in float64
        (2, 2**21, 4, 1),
        (2, 2**21, 8, 2),
    ],
)
def test_a_product_gets_one_thread_per_2_to_the_23_bytes_of_multiply_adds(available, work, itemsize, expected):
    assert threads.for_products(available, work, itemsize) == expected


@pytest.mark.filterwarnings("ignore:.*BLAS threads on:UserWarning")  # a machine of one core
def test_small_products_run_on_one_thread_large_ones_on_those_given(rng):
    before = blas_threads()
    assert fit_seeing_threads(SMALL, rng, threads=2) == {1}
    assert fit_seeing_threads(LARGE, rng, threads=2) == {2}
    assert blas_threads() == before  # each fit put the BLAS back as it found it


def test_the_decision_is_the_fits_once_for_all_its_layers(rng):
    """The widest layer decides for the whole network: its products dominate the batch."""
    X, y = rng.random((256, 64)), rng.integers(0, 10, 256)
    wide = Trainer(ffnn.Network([64, 256, 10], dtype="float64", seed=0), X, y, 1, 128, eta=0.1, threads=2)
    narrow = Trainer(ffnn.Network([64, 16, 10], dtype="float64", seed=0), X, y, 1, 128, eta=0.1, threads=2)
    assert (wide.threads, narrow.threads) == (2, 1)


@pytest.mark.filterwarnings("ignore:.*BLAS threads on:UserWarning")  # a machine of one core
def test_one_thread_and_two_train_the_same_weights(rng):
    """In float64, OpenBLAS splits a product's rows and columns between threads, never its sums:
    the weights come out bit for bit the same (the test allows 1e-12, what another BLAS might differ by)."""
    sizes, batch, dtype = LARGE
    X, y = rng.random((4 * batch, sizes[0])), rng.integers(0, sizes[-1], 4 * batch)
    weights, decided = [], []
    for n in (1, 2):
        net = ffnn.Network(sizes, seed=0, dtype=dtype)
        trainer = Trainer(net, X, y, 2, batch, eta=0.5, seed=1, threads=n)
        trainer.run()
        weights.append(net.parameters())
        decided.append(trainer.threads)
    assert decided == [1, 2]
    for one, two in zip(*weights):
        np.testing.assert_allclose(one, two, rtol=0, atol=1e-12)
