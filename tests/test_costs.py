"""Costs: values, gradients against finite differences, stable forms, output errors, pairing."""

import numpy as np
import pytest

from ffnn import costs
from ffnn.activations import get_activation


@pytest.mark.parametrize("name", ["quadratic", "cross_entropy", "binary_cross_entropy"])
def test_gradient_matches_central_differences(name, rng):
    cost = costs.get_cost(name)
    a = rng.uniform(0.1, 0.9, (3, 4))
    y = rng.uniform(0.0, 1.0, (3, 4))
    h = 1e-6
    numeric = np.empty_like(a)
    for idx in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[idx] += h
        minus[idx] -= h
        numeric[idx] = (cost.value(plus, y).sum() - cost.value(minus, y).sum()) / (2 * h)
    np.testing.assert_allclose(cost.gradient(a, y), numeric, rtol=1e-7)


def test_quadratic_is_the_sources_cost():
    a, y = np.array([[0.5, 0.0], [1.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    # C = 1/2N Σ‖a − y‖² = (0.25 + 1) / (2·2)
    assert costs.batch_cost(costs.Quadratic(), get_activation("sigmoid"), a, a, y) == pytest.approx(0.3125)


@pytest.mark.parametrize(("name", "output"), [("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")])
def test_stable_form_equals_direct_form_and_stays_finite(name, output, rng):
    cost, act = costs.get_cost(name), get_activation(output)
    z = rng.standard_normal((4, 3)) * 4
    y = np.eye(3)[[0, 1, 2, 1]]
    np.testing.assert_allclose(cost.value_from_z(z, y), cost.value(act.value(z), y), rtol=1e-12)
    huge = np.array([[1e4, -1e4, 0.0]])
    assert np.isfinite(cost.value_from_z(huge, np.array([[0.0, 1.0, 0.0]]))).all()
    assert cost.value_from_z(huge, np.array([[0.0, 1.0, 0.0]]))[0] > 1e3  # confidently wrong: large, not inf


@pytest.mark.parametrize(("name", "output"), [("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")])
def test_matched_output_error_is_a_minus_y_and_equals_the_chain_rule(name, output, rng):
    cost, act = costs.get_cost(name), get_activation(output)
    a = act.value(rng.standard_normal((5, 3)))
    y = np.eye(3)[[0, 1, 2, 0, 1]]
    fused = costs.output_error(cost, act, a, y)
    np.testing.assert_array_equal(fused, a - y)
    np.testing.assert_allclose(fused, act.backward(a, cost.gradient(a, y)), atol=1e-14)


def test_unmatched_log_costs_stay_finite_at_saturation():
    a = np.array([[1.0, 0.0]])
    y = np.array([[0.0, 1.0]])
    for name in ["cross_entropy", "binary_cross_entropy"]:
        cost = costs.get_cost(name)
        assert np.isfinite(cost.value(a, y)).all()
        assert np.isfinite(cost.gradient(a, y)).all()


def test_pairings():
    costs.check_pairing(costs.CrossEntropy(), get_activation("softmax"))  # matched: silent
    costs.check_pairing(costs.Quadratic(), get_activation("relu"))  # quadratic: anything goes
    with pytest.warns(UserWarning, match="legal but unusual; the matching output for 'cross_entropy' is 'softmax'"):
        costs.check_pairing(costs.CrossEntropy(), get_activation("sigmoid"))
    with pytest.raises(ValueError, match=r"'binary_cross_entropy' cost needs output activations in \(0, 1\).*'tanh'"):
        costs.check_pairing(costs.BinaryCrossEntropy(), get_activation("tanh"))
    with pytest.raises(ValueError, match=r"'cost' parameter must be one of .*Got 'mse'"):
        costs.get_cost("mse")
