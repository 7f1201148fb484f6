"""Source 002's perceptron: converges on separable data, cannot learn XOR."""

import numpy as np
import pytest

from ffnn import Perceptron
from ffnn.data import toy


def test_learns_and_gate():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    p = Perceptron(2)
    mistakes = p.fit(X, [0, 0, 0, 1], epochs=50)
    assert mistakes[-1] == 0 and len(mistakes) < 50
    np.testing.assert_array_equal(p.predict(X), [0, 0, 0, 1])


def test_learns_a_separable_cloud(rng):
    X = rng.standard_normal((200, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 > 0).astype(int)
    p = Perceptron(3, eta=0.1)
    assert p.fit(X, y, epochs=1000)[-1] == 0
    np.testing.assert_array_equal(p.predict(X), y)


def test_cannot_learn_xor():
    """No line separates XOR: every one of 1,000 epochs still makes mistakes."""
    X, y = toy.xor()
    p = Perceptron(2)
    mistakes = p.fit(X, y, epochs=1000)
    assert len(mistakes) == 1000 and min(mistakes) >= 1
    assert (p.predict(X) != y).any()


def test_bad_labels():
    with pytest.raises(ValueError, match="each 0 or 1"):
        Perceptron(2).fit(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match=r"'eta' parameter must be a number > 0.0"):
        Perceptron(2, eta=0)
