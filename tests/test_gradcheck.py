"""Backpropagation against central differences, float64, on random architectures (hypothesis).

Every hidden activation × every output activation/cost pair, softmax with the quadratic cost
(which needs the full Jacobian) included.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ffnn
from ffnn.gradcheck import check_gradients, numerical_gradient, relative_error

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
OUTPUT_COST = [
    ("sigmoid", "quadratic"),
    ("tanh", "quadratic"),
    ("relu", "quadratic"),
    ("leaky_relu", "quadratic"),
    ("identity", "quadratic"),
    ("softmax", "quadratic"),
    ("softmax", "cross_entropy"),
    ("sigmoid", "binary_cross_entropy"),
    ("sigmoid", "cross_entropy"),  # legal, unusual: warns, general chain rule
    ("softmax", "binary_cross_entropy"),  # legal, unusual: warns, general chain rule
]

architectures = st.lists(st.integers(1, 6), min_size=2, max_size=5)  # depth 1-4


def targets(cost: str, n: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    if cost == "cross_entropy":
        return np.eye(n_out)[rng.integers(0, n_out, n)]
    return rng.uniform(0.05, 0.95, (n, n_out))


def make_network(sizes, hidden, output, cost, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the unusual pairs warn; tested elsewhere
        return ffnn.Network(
            sizes,
            activation=hidden,
            output_activation=output,
            cost=cost,
            init="scaled_normal",
            dtype="float64",
            seed=seed,
        )


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("output", "cost"), OUTPUT_COST)
@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=architectures, seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 5))
def test_backprop_matches_central_differences(hidden, output, cost, sizes, seed, batch):
    rng = np.random.default_rng(seed)
    net = make_network(sizes, hidden, output, cost, seed)
    X = rng.standard_normal((batch, sizes[0]))
    Y = targets(cost, batch, sizes[-1], rng)
    assume(far_from_kinks(net, X))
    backprop = flat(*net.backprop(X, Y))
    numeric = flat(*numerical_gradient(net, X, Y))
    np.testing.assert_allclose(np.concatenate(backprop), np.concatenate(numeric), rtol=1e-7, atol=1e-9)
    if np.linalg.norm(np.concatenate(numeric)) > 1e-6:  # a relative error needs a gradient that is not ~0
        assert relative_error(backprop, numeric) < 1e-7


def flat(nabla_b, nabla_w):
    return [g.ravel() for g in nabla_b + nabla_w]


def far_from_kinks(net, X, margin=1e-3):
    """False when some z of a ReLU-type unit lies within the finite differences' reach of 0."""
    a = X
    for w, b, act in zip(net.weights, net.biases, net.activations):
        z = a @ w.T + b
        if act.name in ("relu", "leaky_relu") and (np.abs(z) < margin).any():
            return False
        a = act.value(z)
    return True


def test_largest_error_over_all_pairs_is_tiny():
    """One fixed deep net per pair, reporting the worst error (quoted in the closing note)."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for hidden in HIDDEN:
        for output, cost in OUTPUT_COST:
            net = make_network([5, 4, 4, 3], hidden, output, cost, 1)
            X = next(X for X in (rng.standard_normal((4, 5)) for _ in range(100)) if far_from_kinks(net, X))
            worst = max(worst, check_gradients(net, X, targets(cost, 4, 3, rng)))
    assert worst < 1e-7
    print(f"largest gradient-check relative error: {worst:.2e}")


def test_gradcheck_flags_a_wrong_gradient(rng):
    net = ffnn.Network([3, 4, 2], dtype="float64", seed=0)
    X, Y = rng.standard_normal((5, 3)), rng.uniform(size=(5, 2))
    nabla_b, nabla_w = net.backprop(X, Y)
    num_b, num_w = numerical_gradient(net, X, Y)
    assert relative_error(nabla_b + nabla_w, num_b + num_w) < 1e-8
    nabla_w[0][1, 2] += 1e-3  # one wrong partial derivative
    assert relative_error(nabla_b + nabla_w, num_b + num_w) > 1e-4


def test_gradcheck_works_on_float32_networks_in_float64(rng):
    net = ffnn.Network([3, 4, 2], seed=0)
    assert net.dtype == np.float32
    assert check_gradients(net, rng.standard_normal((5, 3)), rng.uniform(size=(5, 2))) < 1e-7
    assert net.weights[0].dtype == np.float32  # the network itself is untouched


def test_relative_error_of_zero_gradients_is_zero():
    assert relative_error([np.zeros(3)], [np.zeros(3)]) == 0.0
