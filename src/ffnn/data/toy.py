"""Small generated data sets for learning and testing backpropagation.

Every set is ``(X, y)``: X float64 of shape (n, features), y integer labels of shape (n,).
"""

from __future__ import annotations

import numpy as np


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four points of XOR: y = x1 ⊕ x2. No single line separates the classes."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def punnen() -> tuple[np.ndarray, np.ndarray]:
    """Seed 002's four examples: three inputs (the third always 1, a bias in disguise).

    The seed's code trains on y = [0, 1, 1, 0] (XOR of the first two inputs), although its text
    states y = [0, 1, 0, 1]; this is the set its code actually learns (see docs/errata.md).
    """
    X = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])
