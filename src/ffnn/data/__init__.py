"""Data: one representation end to end — X float (n, features), y integer labels (n,)."""

from ffnn.data import toy
from ffnn.data.arrays import load_arrays
from ffnn.data.idx import read_idx, write_idx
from ffnn.data.mnist import DATASETS, fetch, load_fashion_mnist, load_mnist

__all__ = ["DATASETS", "fetch", "load_arrays", "load_fashion_mnist", "load_mnist", "read_idx", "toy", "write_idx"]
