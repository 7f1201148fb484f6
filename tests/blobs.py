"""Three Gaussian blobs in 64 dimensions as a ``.npz`` data file: a small, learnable data set for
tests that run the command line (kill, resume, MPI)."""

from pathlib import Path

import numpy as np


def write_blobs(path: Path, n: int, n_test: int) -> None:
    """``path`` ← X, y (the first n − n_test examples) and X_test, y_test (the rest); seed 0."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 64)) * 1.5
    y = rng.integers(0, 3, n)
    X = centres[y] + rng.standard_normal((n, 64))
    cut = n - n_test
    np.savez(path, X=X[:cut], y=y[:cut], X_test=X[cut:], y_test=y[cut:])
