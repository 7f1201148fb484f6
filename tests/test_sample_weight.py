"""Sample weights in the core: C = Σ_x w_x C_x / Σ_x w_x over each batch, BP1's δ^L rows scaled.

Checked three ways: against central differences of the weighted cost, against the per-example
oracle (``ffnn.reference``) summing w_x ∇C_x, and against training on repeated or removed
examples (full batch, float64).
"""

import warnings

import numpy as np
import pytest

import ffnn
from ffnn import reference
from ffnn.gradcheck import check_gradients
from test_reference import PAIRS  # every (hidden, output, cost) pair the oracle covers


def soft_targets(rng, n, n_in, n_out=3):
    """(X, Y): n standard-normal rows and one-hot targets softened into (0, 1), as every cost takes them."""
    return rng.standard_normal((n, n_in)), np.eye(n_out)[rng.integers(0, n_out, n)] * 0.85 + 0.05


def network(hidden="tanh", output="softmax", cost="cross_entropy", sizes=(5, 4, 3), seed=3):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ffnn.Network(list(sizes), hidden, output, cost, dtype="float64", seed=seed)


@pytest.mark.parametrize(("hidden", "output", "cost"), PAIRS)
def test_weighted_gradient_equals_finite_differences_of_the_weighted_cost(hidden, output, cost, rng):
    net = network(hidden, output, cost, sizes=(5, 4, 3))
    X, Y = soft_targets(rng, 7, 5)
    w = rng.random(7) * 3
    w[2] = 0.0
    assert check_gradients(net, X, Y, sample_weight=w) < 1e-8
    # and the weights matter: the unweighted gradient is another one
    weighted_b, _ = net.backprop(X, Y, w)
    plain_b, _ = net.backprop(X, Y)
    assert np.abs(weighted_b[-1] - plain_b[-1]).max() > 1e-3


@pytest.mark.parametrize(("hidden", "output", "cost"), PAIRS)
def test_weighted_gradient_equals_the_per_example_oracle(hidden, output, cost, rng):
    net = network(hidden, output, cost, sizes=(6, 5, 3))
    X, Y = soft_targets(rng, 9, 6)
    w = rng.random(9) * 2
    nabla_b, nabla_w = net.backprop(X, Y, w)
    ref = reference.ReferenceNetwork(
        net.sizes, [a.name for a in net.activations], cost, weights=net.weights, biases=net.biases
    )
    sums_b = [np.zeros_like(b) for b in ref.biases]
    sums_w = [np.zeros_like(p) for p in ref.weights]
    for x, y, wx in zip(X, Y, w):
        db, dw = ref.backprop(x.reshape(-1, 1), y.reshape(-1, 1))
        sums_b = [s + wx * d for s, d in zip(sums_b, db)]
        sums_w = [s + wx * d for s, d in zip(sums_w, dw)]
    for ours, theirs in zip(nabla_b, sums_b):
        np.testing.assert_allclose(ours, theirs.ravel() / w.sum(), rtol=0, atol=1e-12)
    for ours, theirs in zip(nabla_w, sums_w):
        np.testing.assert_allclose(ours, theirs / w.sum(), rtol=0, atol=1e-12)


def test_integer_weights_give_the_gradient_of_repeated_examples(rng):
    net = network()
    X = rng.standard_normal((6, 5))
    y = rng.integers(0, 3, 6)
    counts = np.array([1, 3, 0, 2, 1, 1])
    weighted = net.backprop(X, y, counts)
    repeated = net.backprop(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    for ours, theirs in zip(weighted[0] + weighted[1], repeated[0] + repeated[1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)


def test_unit_weights_give_exactly_the_unweighted_gradient(rng):
    net = network()
    X = rng.standard_normal((8, 5))
    y = rng.integers(0, 3, 8)
    (weighted_b, weighted_w), (plain_b, plain_w) = net.backprop(X, y, np.ones(8)), net.backprop(X, y)
    for ours, theirs in zip(weighted_b + weighted_w, plain_b + plain_w):
        np.testing.assert_array_equal(ours, theirs)


def train(X, y, sample_weight=None, optimizer=None, epochs=20):
    net = network(sizes=(5, 8, 3), seed=1)
    kwargs = {"optimizer": ffnn.optimizers.adam(0.01)} if optimizer else {"eta": 0.5}
    history = ffnn.fit(
        net, X, y, epochs=epochs, batch_size=len(X), seed=0, shuffle=False, sample_weight=sample_weight, **kwargs
    )
    return net, history


@pytest.mark.parametrize("optimizer", [False, True], ids=["sgd", "adam"])
def test_fit_with_doubled_weights_equals_fit_on_duplicated_examples(optimizer, rng):
    X = rng.standard_normal((12, 5))
    y = rng.integers(0, 3, 12)
    w = np.ones(12)
    w[[1, 7]] = 2.0
    weighted, h_weighted = train(X, y, w, optimizer)
    duplicated, h_duplicated = train(np.concatenate([X, X[[1, 7]]]), np.concatenate([y, y[[1, 7]]]), None, optimizer)
    # the same sums, rounded in another order: equal to float64 rounding
    for ours, theirs in zip(weighted.parameters(), duplicated.parameters()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h_weighted.train_cost, h_duplicated.train_cost, rtol=1e-12)


@pytest.mark.parametrize("optimizer", [False, True], ids=["sgd", "adam"])
def test_fit_with_a_zero_weight_equals_fit_without_the_example(optimizer, rng):
    X = rng.standard_normal((12, 5))
    y = rng.integers(0, 3, 12)
    w = np.ones(12)
    w[[0, 5]] = 0.0
    X[5] = 1e3  # a zero-weight example, however wild, changes nothing
    weighted, _ = train(X, y, w, optimizer)
    keep = w > 0
    absent, _ = train(X[keep], y[keep], None, optimizer)
    for ours, theirs in zip(weighted.parameters(), absent.parameters()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


def test_a_batch_of_zero_weights_takes_no_step_and_costs_nothing():
    X = np.arange(8.0).reshape(4, 2)
    net = network(sizes=(2, 3, 2))
    before = [p.copy() for p in net.parameters()]
    history = ffnn.fit(
        net, X, [0, 1, 0, 1], epochs=1, batch_size=2, eta=0.1, shuffle=False, sample_weight=[0, 0, 1, 1],
        batches_per_epoch=1,
    )  # fmt: skip
    assert history.train_cost == [0.0]
    for p, q in zip(before, net.parameters()):
        np.testing.assert_array_equal(p, q)


def test_weighted_score_and_cost():
    net = network(sizes=(2, 3, 2))
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    predicted = net.predict(X)
    y = predicted.copy()
    y[2] = 1 - y[2]  # the last one wrong
    accuracy, _ = net.score(X, y, [1.0, 1.0, 2.0])
    assert accuracy == pytest.approx(0.5)
    costs = [net.cost(X[i : i + 1], y[i : i + 1]) for i in range(3)]
    assert net.cost(X, y, [1.0, 0.0, 3.0]) == pytest.approx((costs[0] + 3 * costs[2]) / 4)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, 2.0], r"'sample_weight' must have shape \(3,\)"),
        ([[1.0, 2.0, 3.0]], r"'sample_weight' must have shape \(3,\)"),
        ([1.0, np.nan, 1.0], r"'sample_weight' must be finite and >= 0. Got nan at index 1"),
        ([1.0, 1.0, np.inf], r"'sample_weight' must be finite and >= 0. Got inf at index 2"),
        ([1.0, -0.5, 1.0], r"'sample_weight' must be finite and >= 0. Got -0.5 at index 1"),
        ([0, 0, 0], "'sample_weight' must not be all zero"),
    ],
)
def test_bad_sample_weights_are_refused_naming_the_parameter(weights, message):
    net = network(sizes=(2, 3, 2))
    with pytest.raises(ffnn.ParameterError, match=message):
        ffnn.fit(net, np.ones((3, 2)), [0, 1, 0], epochs=1, batch_size=3, eta=0.1, sample_weight=weights)


def test_text_weights_are_a_type_error():
    net = network(sizes=(2, 3, 2))
    with pytest.raises(ffnn.ParameterTypeError, match="'sample_weight' must be a numeric array"):
        ffnn.fit(net, np.ones((3, 2)), [0, 1, 0], epochs=1, batch_size=3, eta=0.1, sample_weight=["a", "b", "c"])
