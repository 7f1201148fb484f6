"""Inputs to classify, from files: PNG/JPEG digits become MNIST-like 28×28 rows; .npy/.csv files
give their rows, which must be finite real numbers. A .csv file may start with a header row (a
row with a field that is not a number); a header naming the model's label column (``label``)
lets the file carry that column too, which is then left out — so the file a model was trained
on can be passed as it is.

A ``.npy`` file's header is read and checked against the file's size and dtype before NumPy
allocates anything, so a few bytes claiming a billion rows cost nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ffnn._files import check_npy
from ffnn._validation import REAL_KINDS
from ffnn.data.arrays import is_number
from ffnn.errors import DataFormatError
from ffnn.images import mnist_like, read_image


def read_inputs(paths: Sequence[str], n_in: int, label: str | None = None) -> tuple[list[str], np.ndarray]:
    """(names, rows) for the files ``paths``; every row has ``n_in`` values."""
    names, rows = [], []
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix in (".png", ".jpg", ".jpeg"):
            names.append(path)
            rows.append(mnist_like(read_image(path)).reshape(1, -1))
            continue
        array = np.atleast_2d(_read_numbers(path, suffix, n_in, label))
        if array.ndim != 2 or array.shape[1] != n_in:
            raise DataFormatError(f"{path}: rows must have {n_in} values for this model; got shape {array.shape}.")
        if not np.isfinite(array).all():
            row = int(np.argwhere(~np.isfinite(array))[0, 0])
            raise DataFormatError(f"{path}: row {row} contains NaN or inf; the model needs finite numbers.")
        names += [f"{path}[{i}]" for i in range(len(array))] if len(array) > 1 else [path]
        rows.append(array)
    return names, np.concatenate(rows)


def _read_numbers(path: str, suffix: str, n_in: int, label: str | None = None) -> np.ndarray:
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
        return _read_csv(path, n_in, label)
    raise DataFormatError(f"{path}: unsupported input; use .png, .jpg, .npy or .csv.")


def _read_csv(path: str, n_in: int, label: str | None) -> np.ndarray:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataFormatError(f"{path}: cannot be read as CSV text ({e}).") from e
    if not rows:
        raise DataFormatError(f"{path}: is empty; it needs rows of {n_in} numbers.")
    header = [name.strip() for name in rows[0]] if not all(is_number(v) for v in rows[0]) else None
    body = rows[1:] if header else rows
    drop = header.index(label) if header and label and label in header and len(header) == n_in + 1 else None
    values = np.empty((len(body), n_in if drop is not None else len(rows[0])))
    for i, row in enumerate(body):
        line = i + (2 if header else 1)
        fields = [v for j, v in enumerate(row) if j != drop]
        if len(fields) != values.shape[1]:
            raise DataFormatError(
                f"{path}: line {line} has {len(row)} fields; rows must have {n_in} values for this model."
            )
        try:
            values[i] = [float(v) for v in fields]
        except ValueError as e:
            raise DataFormatError(f"{path}: line {line} has a field that is not a number ({e}).") from e
    return values
