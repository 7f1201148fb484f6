"""Inputs to classify, from files: PNG/JPEG digits become MNIST-like 28×28 rows; .npy/.csv files
give their rows, which must be finite real numbers.

A ``.npy`` file's header is read and checked against the file's size and dtype before NumPy
allocates anything, so a few bytes claiming a billion rows cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ffnn._files import check_npy
from ffnn._validation import REAL_KINDS
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
        array = np.atleast_2d(_read_numbers(path, suffix, n_in))
        if array.ndim != 2 or array.shape[1] != n_in:
            raise DataFormatError(f"{path}: rows must have {n_in} values for this model; got shape {array.shape}.")
        if not np.isfinite(array).all():
            row = int(np.argwhere(~np.isfinite(array))[0, 0])
            raise DataFormatError(f"{path}: row {row} contains NaN or inf; the model needs finite numbers.")
        names += [f"{path}[{i}]" for i in range(len(array))] if len(array) > 1 else [path]
        rows.append(array)
    return names, np.concatenate(rows)


def _read_numbers(path: str, suffix: str, n_in: int) -> np.ndarray:
    if suffix == ".npy":
        try:
            declared = check_npy(path)
        except (OSError, ValueError) as e:
            raise DataFormatError(f"{path}: not a readable .npy file of numbers ({e}).") from e
        if declared.dtype.kind not in REAL_KINDS:
            raise DataFormatError(
                f"{path}: holds {declared.dtype} values, not numbers; save real numbers (float or integer) rows."
            )
        if declared.shape[-1:] != (n_in,) or len(declared.shape) > 2:
            raise DataFormatError(
                f"{path}: rows must have {n_in} values for this model; the file declares shape {declared.shape}."
            )
        try:
            return np.asarray(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as e:
            raise DataFormatError(f"{path}: not a readable .npy file of numbers ({e}).") from e
    if suffix == ".csv":
        try:
            return np.asarray(np.loadtxt(path, delimiter=",", ndmin=2, encoding="utf-8-sig"))
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise DataFormatError(f"{path}: not a CSV file of numbers ({e}).") from e
    raise DataFormatError(f"{path}: unsupported input; use .png, .jpg, .npy or .csv.")
