"""Weight initialisers: each draws w^l of shape (n_out, n_in) and b^l of shape (n_out,).

Every initialiser takes the generator to draw from — :func:`generator` makes it from the seed — so
the same seed always gives the same network. For all but one that is a ``numpy.random.Generator``;
``legacy_uniform`` draws from NumPy's legacy ``RandomState``, seeded as the sources'
``np.random.seed(seed)`` seeds it, so that a source's own weights come out number for number.

| name              | weights w_jk                        | biases b_j     | from                       |
|-------------------|-------------------------------------|----------------|----------------------------|
| ``small_uniform`` | U[0, 1) × 0.01                      | U[0, 1) × 0.01 | source 000 (``rand*0.01``) |
| ``normal``        | N(0, 1)                             | N(0, 1)        | source 003 / the book ch1  |
| ``scaled_normal`` | N(0, 1/n_in)                        | N(0, 1)        | the book ch3               |
| ``glorot``        | U[−r, r], r = √(6 / (n_in + n_out)) | 0              | Glorot & Bengio 2010       |
| ``he``            | N(0, 2/n_in)                        | 0              | He et al. 2015             |
| ``legacy_uniform``| U[0, 1), legacy ``RandomState``     | 0              | source 002                 |

``legacy_uniform`` draws each layer as source 002 does, ``np.random.random((n_in, n_out))`` — a
layer's weights in the source's (input, output) layout, layer after layer from one stream — and
takes the transpose, ffnn's (n_out, n_in); it draws no biases (source 002's network has none).

``get_initializer`` also accepts ``seed000``, the former name of ``small_uniform`` (listed nowhere
else), so that model files, checkpoints and run folders' ``config.toml`` that name it still load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ffnn.errors import ParameterError

Layer = tuple[np.ndarray, np.ndarray]
Rng = Any  # a numpy.random.Generator, or a RandomState for legacy_uniform (see ``generator``)
Initializer = Callable[[int, int, Rng], Layer]


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


def legacy_uniform(n_in: int, n_out: int, rng: np.random.RandomState) -> Layer:
    """w ~ U[0, 1) drawn as source 002's ``np.random.random((n_in, n_out))`` and transposed, b = 0;
    ``rng`` is the legacy ``RandomState`` (:func:`generator`)."""
    return rng.random_sample((n_in, n_out)).T, np.zeros(n_out)


INITIALIZERS: dict[str, Initializer] = {
    f.__name__: f for f in (small_uniform, normal, scaled_normal, glorot, he, legacy_uniform)
}
_LEGACY = ("legacy_uniform",)  # drawn from NumPy's legacy RandomState
FORMER_NAMES = {"seed000": "small_uniform"}  # accepted, never offered


def get_initializer(name: str) -> Initializer:
    """An initialiser by name (or by a former name); see the table in this module's docstring."""
    initializer = INITIALIZERS.get(FORMER_NAMES.get(name, name)) if isinstance(name, str) else None
    if initializer is None:
        raise ParameterError(f"The 'init' parameter must be one of {sorted(INITIALIZERS)}. Got {name!r} instead.")
    return initializer


def generator(name: str, seed: int | None) -> Rng:
    """The generator initialiser ``name`` draws from, seeded with ``seed`` (None: from the OS):
    ``numpy.random.RandomState(seed)`` for ``legacy_uniform`` (what ``np.random.seed(seed)``
    makes), ``numpy.random.default_rng(seed)`` for the others."""
    if FORMER_NAMES.get(name, name) not in _LEGACY:
        return np.random.default_rng(seed)
    if seed is not None and not 0 <= seed < 2**32:
        raise ParameterError(
            f"The 'seed' of init={name!r} must be in [0, 2**32) (NumPy's legacy generator's). Got {seed}."
        )
    return np.random.RandomState(seed)
