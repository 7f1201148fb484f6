"""Shared fixtures. Every random number in the tests comes from a seeded Generator, and hypothesis
runs derandomized, so a test run is the same everywhere."""

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ffnn", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ffnn")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)
