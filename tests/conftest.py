"""Shared fixtures. Every random number in the tests comes from a seeded Generator, and hypothesis
runs derandomized, so a test run is the same everywhere."""

import os

# scikit-learn's estimator checks include "array API dispatch on NumPy input changes nothing",
# which runs only when SciPy was imported with this set: set before anything imports SciPy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ffnn", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ffnn")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)
