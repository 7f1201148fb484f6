"""Each activation's value and derivative: against finite differences, known values, extremes."""

import numpy as np
import pytest

from ffnn import activations
from ffnn.activations import get_activation

ELEMENTWISE = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_from_a_matches_central_differences(name, rng):
    act = get_activation(name)
    z = rng.standard_normal((5, 7)) * 3
    z[np.abs(z) < 1e-3] = 0.5  # keep away from the ReLU kink
    h = 1e-6
    numeric = (act.value(z + h) - act.value(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(act.value(z)), numeric, rtol=1e-7, atol=1e-9)
    grad = rng.standard_normal(z.shape)
    np.testing.assert_allclose(act.backward(act.value(z), grad), grad * numeric, rtol=1e-7, atol=1e-9)


def test_known_values():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(activations.Sigmoid().value(z), [[0.11920292202211755, 0.5, 0.9525741268224334]])
    np.testing.assert_allclose(activations.ReLU().value(z), [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(activations.LeakyReLU().value(z), [[-0.02, 0.0, 3.0]])
    np.testing.assert_allclose(activations.LeakyReLU(0.2).value(z), [[-0.4, 0.0, 3.0]])
    np.testing.assert_allclose(activations.Softmax().value(np.log([[1.0, 2.0, 5.0]])), [[0.125, 0.25, 0.625]])


def test_softmax_backward_is_the_jacobian_product(rng):
    z = rng.standard_normal((4, 5))
    a = activations.Softmax().value(z)
    g = rng.standard_normal((4, 5))
    for row in range(4):
        jacobian = np.diag(a[row]) - np.outer(a[row], a[row])  # ∂a_j/∂z_k = a_j(1[j=k] − a_k)
        np.testing.assert_allclose(activations.Softmax().backward(a, g)[row], jacobian.T @ g[row], atol=1e-15)
    with pytest.raises(TypeError, match="softmax has no element-wise derivative"):
        activations.Softmax().derivative(a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "softmax", "tanh"])
def test_no_overflow_or_warning_for_huge_z(name, dtype):
    """pytest turns warnings into errors here, so a RuntimeWarning from exp would fail the test."""
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    a = get_activation(name).value(z.copy())
    assert a.dtype == dtype
    assert np.isfinite(a).all()
    if name == "sigmoid":  # σ(−1e4) is held at the smallest normal float, never subnormal
        tiny = np.finfo(dtype).tiny
        assert tiny <= a[0, 0] < 2 * tiny
        assert a[0, -1] == 1.0
        assert 0 < a[0, 1] < 1e-20
    if name == "softmax":
        np.testing.assert_allclose(a, [[0, 0, 0, 0, 1]], atol=0)
        np.testing.assert_allclose(a.sum(), 1.0, rtol=1e-6)


def test_in_place_value_and_backward_match_fresh_ones(rng):
    for name in [*ELEMENTWISE, "softmax"]:
        act = get_activation(name)
        z = rng.standard_normal((3, 4))
        a = act.value(z)
        buf = z.copy()
        np.testing.assert_array_equal(act.value(buf, out=buf), a)
        g = rng.standard_normal((3, 4))
        gbuf = g.copy()
        np.testing.assert_array_equal(act.backward(a, gbuf, out=gbuf), act.backward(a, g))


def test_leaky_slope_is_validated():
    with pytest.raises(ValueError, match=r"'slope' parameter must be in \(0, 1\). Got 1.5"):
        activations.LeakyReLU(1.5)


def test_lookup_by_name_and_instance():
    act = activations.Tanh()
    assert get_activation(act) is act
    assert repr(get_activation("leaky_relu")) == "LeakyReLU(slope=0.01)"
    with pytest.raises(ValueError, match=r"'activation' parameter must be one of .*Got 'gelu'"):
        get_activation("gelu")
