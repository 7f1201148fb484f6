"""The batched network against the sources' per-example algorithm (ffnn.reference)."""

import warnings

import numpy as np
import pytest

import ffnn
from ffnn import reference
from ffnn.gradcheck import numerical_gradient, relative_error

PAIRS = [
    ("sigmoid", "sigmoid", "quadratic"),
    ("tanh", "softmax", "quadratic"),
    ("relu", "softmax", "cross_entropy"),
    ("leaky_relu", "sigmoid", "binary_cross_entropy"),
    ("identity", "identity", "quadratic"),
    ("sigmoid", "softmax", "binary_cross_entropy"),
]


def mirror(net: ffnn.Network, cost: str) -> reference.ReferenceNetwork:
    """The reference network with the same weights, activations and cost."""
    return reference.ReferenceNetwork(
        net.sizes,
        [a.name for a in net.activations],
        cost,
        weights=[w.copy() for w in net.weights],
        biases=[b.copy() for b in net.biases],
    )


def columns(X, Y):
    return [(x.reshape(-1, 1), y.reshape(-1, 1)) for x, y in zip(X, Y)]


@pytest.mark.parametrize(("hidden", "output", "cost"), PAIRS)
def test_batched_backprop_equals_reference(hidden, output, cost, rng):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        net = ffnn.Network([6, 5, 4, 3], hidden, output, cost, dtype="float64", seed=3)
    X = rng.standard_normal((9, 6))
    Y = np.eye(3)[rng.integers(0, 3, 9)] * 0.85 + 0.05  # smoothed labels: rows sum to 1
    nabla_b, nabla_w = net.backprop(X, Y)
    ref = mirror(net, cost)
    sums_b = [np.zeros_like(b) for b in ref.biases]
    sums_w = [np.zeros_like(w) for w in ref.weights]
    for x, y in columns(X, Y):
        db, dw = ref.backprop(x, y)
        sums_b = [s + d for s, d in zip(sums_b, db)]
        sums_w = [s + d for s, d in zip(sums_w, dw)]
    for ours, theirs in zip(nabla_b, sums_b):
        np.testing.assert_allclose(ours, theirs.ravel() / 9, rtol=0, atol=1e-12)
    for ours, theirs in zip(nabla_w, sums_w):
        np.testing.assert_allclose(ours, theirs / 9, rtol=0, atol=1e-12)
    assert max(np.abs(b).max() for b in nabla_b) > 1e-4  # the comparison is not between zeros


def test_feedforward_and_cost_equal_reference(rng):
    net = ffnn.Network([4, 6, 3], "tanh", "softmax", "cross_entropy", dtype="float64", seed=2)
    ref = mirror(net, "cross_entropy")
    X = rng.standard_normal((7, 4))
    y = rng.integers(0, 3, 7)
    for x, a in zip(X, net.feedforward(X)):
        np.testing.assert_allclose(a, ref.feedforward(x.reshape(-1, 1)).ravel(), rtol=0, atol=1e-14)
    assert net.cost(X, y) == pytest.approx(ref.total_cost(columns(X, np.eye(3)[y])), abs=1e-13)


@pytest.mark.parametrize("lmbda", [0.0, 0.3])
def test_fit_epochs_equal_reference_sgd(lmbda, rng):
    """Same weights, same shuffling (seed), partial last batch: the same parameters after 2 epochs."""
    net = ffnn.Network([5, 4, 3], dtype="float64", seed=11)
    ref = mirror(net, "quadratic")
    X = rng.standard_normal((23, 5))
    y = rng.integers(0, 3, 23)
    ffnn.fit(net, X, y, epochs=2, batch_size=5, eta=0.7, lmbda=lmbda, seed=5)
    ref.SGD(columns(X, np.eye(3)[y]), epochs=2, mini_batch_size=5, eta=0.7, lmbda=lmbda, seed=5)
    for ours, theirs in zip(net.weights, ref.weights):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    for ours, theirs in zip(net.biases, ref.biases):
        np.testing.assert_allclose(ours, theirs.ravel(), rtol=0, atol=1e-12)
    assert not np.allclose(
        net.weights[0], mirror(ffnn.Network([5, 4, 3], dtype="float64", seed=11), "quadratic").weights[0]
    )


def test_reference_sgd_reports_test_accuracy(capsys):
    X, y = ffnn.data.toy.xor()
    ref = reference.ReferenceNetwork([2, 8, 2], seed=0)
    data = columns(X, np.eye(2)[y])
    scores = ref.SGD(
        data, epochs=3, mini_batch_size=2, eta=1.0, test_data=[(x.reshape(-1, 1), t) for x, t in zip(X, y)], seed=0
    )
    assert len(scores) == 3 and all(0 <= s <= 4 for s in scores)
    assert "Epoch 2: " in capsys.readouterr().out


# -- the erratum of source 003, demonstrated ---------------------------------------------------


def source003_backprop(net: reference.ReferenceNetwork, x, y):
    """Source 003's backprop as printed: its hidden-layer line uses activations, not weights."""
    sigmoid, sigmoid_prime = reference.sigmoid, reference.sigmoid_prime
    nabla_b = [np.zeros(b.shape) for b in net.biases]
    nabla_w = [np.zeros(w.shape) for w in net.weights]
    activation = x
    activations = [x]
    zs = []
    for b, w in zip(net.biases, net.weights):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    for l in range(2, net.num_layers):
        z = zs[-l]
        sp = sigmoid_prime(z)
        delta = np.dot(activations[-l].transpose(), delta) * sp  # the printed line
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
    return nabla_b, nabla_w


def test_source003_hidden_line_fails_on_most_shapes():
    net = reference.ReferenceNetwork([784, 30, 10], seed=0)
    x, y = np.full((784, 1), 0.5), np.eye(10)[:, [3]]
    with pytest.raises(ValueError, match="not aligned"):
        source003_backprop(net, x, y)
    net.backprop(x, y)  # the corrected line runs


def test_source003_hidden_line_fails_gradcheck_where_shapes_fit(rng):
    """With n_{L−1} = n_L the printed line runs, and gives the wrong gradient; ffnn's is right."""
    net = ffnn.Network([3, 4, 4], dtype="float64", seed=4)
    ref = mirror(net, "quadratic")
    x, y = rng.standard_normal(3), rng.uniform(size=4)
    num_b, num_w = numerical_gradient(net, x.reshape(1, -1), y.reshape(1, -1))
    wrong_b, wrong_w = source003_backprop(ref, x.reshape(-1, 1), y.reshape(-1, 1))
    right_b, right_w = net.backprop(x.reshape(1, -1), y.reshape(1, -1))
    assert relative_error([b.ravel() for b in wrong_b] + wrong_w, num_b + num_w) > 0.05
    assert relative_error(right_b + right_w, num_b + num_w) < 1e-8
