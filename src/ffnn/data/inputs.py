"""Inputs to classify, from files: PNG/JPEG digits become MNIST-like 28×28 rows; .npy/.csv/.tsv
files give their rows, which must be finite real numbers. A text table's fields are separated as
``ffnn.data.arrays.separator`` finds (tabs in a .tsv; commas, semicolons or tabs in a .csv), and
it may start with a header row (a row with a field that is not a number; a warning says so when
that row also holds numbers); a header naming the model's label column (``label``) lets the file
carry that column too, which is then left out — so the file a model was trained on can be passed
as it is. An empty field is a missing value, named by its line and column.

A ``.npy`` file's header is read and checked against the file's size and dtype before NumPy
allocates anything, so a few bytes claiming a billion rows cost nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ffnn._files import check_npy
from ffnn._validation import REAL_KINDS
from ffnn.data.arrays import (
    CSV_SUFFIXES,
    SEPARATORS,
    column_words,
    field_error,
    is_number,
    rows,
    separator,
    warn_header,
)
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
    if suffix in CSV_SUFFIXES:
        return _read_csv(Path(path), n_in, label)
    raise DataFormatError(f"{path}: unsupported input; use .png, .jpg, .npy, .csv or .tsv.")


def _read_csv(path: Path, n_in: int, label: str | None) -> np.ndarray:
    sep = separator(path)
    with rows(path, sep) as table:
        first = next(table, None)
        if first is None:
            raise DataFormatError(f"{path}: is empty; it needs rows of {n_in} numbers.")
        name = next((v for v in first[1] if not is_number(v)), None)
        header = [v.strip() for v in first[1]] if name is not None else None
        if header:
            warn_header(path, first[0], first[1], sep, f"{name!r} is not a number")
        drop = header.index(label) if header and label and label in header and len(header) == n_in + 1 else None
        width = n_in if drop is not None else len(first[1])
        values = []
        for line, row in table if header else itertools.chain([first], table):
            fields = [v for j, v in enumerate(row) if j != drop]
            if len(fields) != width:
                raise DataFormatError(
                    f"{path}: line {line} has {len(row)} fields; rows must have {n_in} values for this model "
                    f"(fields are separated by {SEPARATORS[sep]})."
                )
            try:
                values.append([float(v) for v in fields])
            except ValueError:
                k = next(k for k, v in enumerate(fields) if not is_number(v))
                j = k + (drop is not None and k >= drop)  # the file's column
                hint = f"the model needs numbers (fields are separated by {SEPARATORS[sep]})"
                raise field_error(path, line, column_words(header, j), fields[k], hint) from None
    return np.array(values, dtype=np.float64).reshape(-1, width)
