"""Toy sets: shapes, class balance, determinism per seed, parameter checks."""

import numpy as np
import pytest

from ffnn.data import toy


@pytest.mark.parametrize("name", ["spirals", "moons", "circles"])
def test_shapes_balance_and_determinism(name):
    make = toy.TOY_SETS[name]
    X, y = make(n=301, seed=3)
    assert X.shape == (301, 2) and y.shape == (301,)
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    X2, y2 = make(n=301, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(n=301, seed=4)[0])


def test_quadrants_label_xor_of_the_signs():
    X, y = toy.quadrants(n=2000, noise=0.0, seed=1)
    assert X.shape == (2000, 2) and np.abs(X).max() <= 1.0
    np.testing.assert_array_equal(y, np.sign(X[:, 0]) != np.sign(X[:, 1]))
    assert 900 < y.sum() < 1100  # about half in each class


def test_spirals_have_k_classes_and_circles_their_radii():
    _, y = toy.spirals(n=500, classes=5, seed=0)
    assert set(y) == {0, 1, 2, 3, 4}
    X, y = toy.circles(n=1000, noise=0.0, factor=0.3, seed=0)
    radii = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radii[y == 0], 1.0)
    np.testing.assert_allclose(radii[y == 1], 0.3)


def test_xor_and_source002_sets():
    X, y = toy.xor()
    np.testing.assert_array_equal(y, (X[:, 0] != X[:, 1]).astype(int))
    X, y = toy.punnen()
    np.testing.assert_array_equal(X[:, 2], 1.0)
    np.testing.assert_array_equal(y, [0, 1, 1, 0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: toy.spirals(n=1), r"'n' parameter must be an integer >= 2"),
        (lambda: toy.spirals(classes=1), r"'classes' parameter must be an integer >= 2"),
        (lambda: toy.moons(noise=-1.0), r"'noise' parameter must be a number >= 0"),
        (lambda: toy.circles(factor=1.5), r"'factor' parameter must be in \(0, 1\)"),
    ],
)
def test_bad_parameters(call, match):
    with pytest.raises(ValueError, match=match):
        call()
