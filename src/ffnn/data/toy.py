"""Small generated data sets for learning and testing backpropagation.

Every set is ``(X, y)``: X float64 of shape (n, features), y integer labels of shape (n,).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ffnn.errors import ParameterError


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four points of XOR: y = x1 ⊕ x2. No single line separates the classes."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def punnen() -> tuple[np.ndarray, np.ndarray]:
    """Source 002's four examples: three inputs (the third always 1, a bias in disguise).

    The source's code trains on y = [0, 1, 1, 0] (XOR of the first two inputs), although its text
    states y = [0, 1, 0, 1]; this is the set its code actually learns (see docs/errata.md).
    """
    X = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def _check(n: int, noise: float) -> tuple[int, float]:
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ParameterError(f"The 'n' parameter must be an integer >= 2. Got {n!r} instead.")
    if not noise >= 0:
        raise ParameterError(f"The 'noise' parameter must be a number >= 0. Got {noise!r} instead.")
    return n, float(noise)


def spirals(
    n: int = 300, classes: int = 3, noise: float = 0.2, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms in the plane, n points split as evenly as possible.

    Arm k: radius r ∈ [0, 1], angle θ = 4r + 2πk/classes + noise·N(0, 1).
    """
    n, noise = _check(n, noise)
    if not isinstance(classes, int) or classes < 2:
        raise ParameterError(f"The 'classes' parameter must be an integer >= 2. Got {classes!r} instead.")
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    r = rng.random(n)
    theta = 4.0 * r + 2.0 * np.pi * y / classes + noise * rng.standard_normal(n)
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)]), y


def moons(n: int = 300, noise: float = 0.1, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: class 0 on top, class 1 below and shifted right."""
    n, noise = _check(n, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.pi * rng.random(n)
    X = np.where(
        (y == 0)[:, None],
        np.column_stack([np.cos(t), np.sin(t)]),
        np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)]),
    )
    return X + noise * rng.standard_normal((n, 2)), y


def circles(
    n: int = 300, noise: float = 0.05, factor: float = 0.5, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor`` (0 < factor < 1)."""
    n, noise = _check(n, noise)
    if not 0 < factor < 1:
        raise ParameterError(f"The 'factor' parameter must be in (0, 1). Got {factor!r} instead.")
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = 2.0 * np.pi * rng.random(n)
    radius = np.where(y == 0, 1.0, factor)
    X = np.column_stack([radius * np.cos(t), radius * np.sin(t)])
    return X + noise * rng.standard_normal((n, 2)), y


def quadrants(n: int = 300, noise: float = 0.1, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """XOR in the plane: points uniform in [−1, 1]², class 1 where x1 and x2 differ in sign (as
    :func:`xor`'s (0, 1) and (1, 0), centred), then moved by noise·N(0, 1) in each coordinate."""
    n, noise = _check(n, noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)
    return X + noise * rng.standard_normal((n, 2)), y


TOY_SETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "xor": xor,
    "punnen": punnen,
    "spirals": spirals,
    "moons": moons,
    "circles": circles,
    "quadrants": quadrants,
}
