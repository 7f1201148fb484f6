"""Weight initialisers: each draws w^l of shape (n_out, n_in) and b^l of shape (n_out,).

Every initialiser takes the ``numpy.random.Generator`` to draw from, so the same seed always gives
the same network.

| name              | weights w_jk                        | biases b_j     | from                       |
|-------------------|-------------------------------------|----------------|----------------------------|
| ``small_uniform`` | U[0, 1) × 0.01                      | U[0, 1) × 0.01 | source 000 (``rand*0.01``) |
| ``normal``        | N(0, 1)                             | N(0, 1)        | source 003 / the book ch1  |
| ``scaled_normal`` | N(0, 1/n_in)                        | N(0, 1)        | the book ch3               |
| ``glorot``        | U[−r, r], r = √(6 / (n_in + n_out)) | 0              | Glorot & Bengio 2010       |
| ``he``            | N(0, 2/n_in)                        | 0              | He et al. 2015             |

``get_initializer`` also accepts ``seed000``, the former name of ``small_uniform`` (listed nowhere
else), so that model files, checkpoints and run folders' ``config.toml`` that name it still load.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ffnn.errors import ParameterError

Layer = tuple[np.ndarray, np.ndarray]
Initializer = Callable[[int, int, np.random.Generator], Layer]


def small_uniform(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """w, b ~ U[0, 1) × 0.01, as source 000's ``np.random.rand(rows, cols) * 0.01``."""
    return rng.random((n_out, n_in)) * 0.01, rng.random(n_out) * 0.01


def normal(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """w, b ~ N(0, 1), as source 003's ``np.random.randn``."""
    return rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)


def scaled_normal(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """w ~ N(0, 1/n_in), b ~ N(0, 1): the book's improved initialisation (chapter 3)."""
    return rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), rng.standard_normal(n_out)


def glorot(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """w ~ U[−r, r] with r = √(6 / (n_in + n_out)), b = 0."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, (n_out, n_in)), np.zeros(n_out)


def he(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """w ~ N(0, 2/n_in), b = 0: keeps the variance of ReLU activations constant across layers."""
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


INITIALIZERS: dict[str, Initializer] = {f.__name__: f for f in (small_uniform, normal, scaled_normal, glorot, he)}
FORMER_NAMES = {"seed000": "small_uniform"}  # accepted, never offered


def get_initializer(name: str) -> Initializer:
    """An initialiser by name (or by a former name); see the table in this module's docstring."""
    initializer = INITIALIZERS.get(FORMER_NAMES.get(name, name)) if isinstance(name, str) else None
    if initializer is None:
        raise ParameterError(f"The 'init' parameter must be one of {sorted(INITIALIZERS)}. Got {name!r} instead.")
    return initializer
