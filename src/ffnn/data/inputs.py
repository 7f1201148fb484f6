"""Inputs to classify, from files: PNG/JPEG digits become MNIST-like 28×28 rows; .npy/.csv files
give their rows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ffnn.errors import DataFormatError
from ffnn.images import mnist_like, read_image


def read_inputs(paths: Sequence[str], n_in: int) -> tuple[list[str], np.ndarray]:
    """(names, rows) for the files ``paths``; every row has ``n_in`` values."""
    names, rows = [], []
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix in (".png", ".jpg", ".jpeg"):
            names.append(path)
            rows.append(mnist_like(read_image(path)).reshape(1, -1))
            continue
        array = np.atleast_2d(_read_numbers(path, suffix))
        if array.ndim != 2 or array.shape[1] != n_in:
            raise DataFormatError(f"{path}: rows must have {n_in} values for this model; got shape {array.shape}.")
        names += [f"{path}[{i}]" for i in range(len(array))] if len(array) > 1 else [path]
        rows.append(array)
    return names, np.concatenate(rows)


def _read_numbers(path: str, suffix: str) -> np.ndarray:
    if suffix == ".npy":
        try:
            return np.asarray(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as e:
            raise DataFormatError(f"{path}: not a readable .npy file of numbers ({e}).") from e
    if suffix == ".csv":
        try:
            return np.asarray(np.loadtxt(path, delimiter=",", ndmin=2))
        except (OSError, ValueError) as e:
            raise DataFormatError(f"{path}: not a CSV file of numbers ({e}).") from e
    raise DataFormatError(f"{path}: unsupported input; use .png, .jpg, .npy or .csv.")
