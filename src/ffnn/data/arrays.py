"""The user's own data: ``.npz`` and ``.csv`` files, validated, never unpickled.

- ``.npz``: arrays ``X`` (n, features) and ``y`` (n,) of integer labels or of class names (a
  NumPy unicode array, ``dtype='<U…'``; object arrays are refused); optionally ``X_test`` and
  ``y_test`` (both or neither). Loaded with ``allow_pickle=False``.
- ``.csv``: one example per row, comma-separated; an optional header row (the first row is a
  header when it has a field that is not a number in a column whose second row has one). The
  labels are the column named by ``label`` (a header name or a column index), by default the last
  column; every other column is a feature and must be a number.

Labels are whole numbers ≥ 0 (class indices), or class names: then the names, sorted, become the
classes 0..k−1 (:func:`load_data` returns them; ``classes=`` maps a file's names to a model's
classes instead, refusing a name the model does not know). At least 2 distinct classes; features
must be finite.
Every problem raises :class:`ffnn.errors.DataFormatError` naming the file and the fix.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ffnn._files import ArrayInfo, check_npz, max_data_bytes, too_large
from ffnn._validation import REAL_KINDS
from ffnn.errors import DataFormatError, ParameterError

Split = tuple[np.ndarray, np.ndarray]
MAX_LABEL = 2**31 - 1  # labels index output neurons; larger ones are a mistake (and would wrap in a cast)


@dataclass
class Loaded:
    """A user's data file: the training pair, the test pair (or None), and the class names (None
    when the labels are class indices)."""

    train: Split
    test: Split | None
    classes: list[str] | None


def load_arrays(
    path: str | os.PathLike[str], label: str | int | None = None, *, max_bytes: int | None = None
) -> tuple[Split, Split | None]:
    """``((X, y), (X_test, y_test))`` from a ``.npz`` or ``.csv`` file; the test pair may be None.

    Class names are encoded as indices into their sorted list (see :func:`load_data` for the list).
    """
    loaded = load_data(path, label, max_bytes=max_bytes)
    return loaded.train, loaded.test


def load_data(
    path: str | os.PathLike[str],
    label: str | int | None = None,
    *,
    classes: list[str] | None = None,
    max_bytes: int | None = None,
    regression: bool = False,
) -> Loaded:
    """The ``.npz`` or ``.csv`` file at ``path``, its class names encoded (by ``classes`` if given).

    With ``regression`` the labels are real-valued targets instead, returned as (n, k) float64
    (a CSV's label column gives k = 1; an ``.npz`` file's ``y`` may be (n,) or (n, k)).

    An ``.npz`` file's arrays are checked from their headers before any is read: names, dtypes,
    shapes, and their total size against ``max_bytes`` (default: ``$FFNN_MAX_DATA_BYTES``, else
    512 MiB), so a small file cannot claim gigabytes.
    """
    path = Path(path)
    limit = max_data_bytes(max_bytes)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if label is not None:
            raise ParameterError(
                "The 'label' parameter applies to .csv files only; an .npz file names its arrays y, y_test."
            )
        return _load_npz(path, limit, classes, regression)
    if suffix == ".csv":
        if path.stat().st_size > limit:
            raise DataFormatError(too_large(f"{path}: the file", path.stat().st_size, limit))
        X, raw = _load_csv(path, label)
        numbers = _as_numbers(raw)
        if regression:
            if numbers is None:
                bad = next(v for v in raw.tolist() if _as_numbers(np.array([v])) is None)
                raise DataFormatError(f"{path}: a regression target must be a number; the label column has {bad!r}.")
            return Loaded(_check_targets(path, X, numbers, "X", "y"), None, None)
        if numbers is not None:
            return Loaded(_check_pair(path, X, numbers, "X", "y"), None, None)
        y, names = _encode(path, raw, "the label column", classes)
        return Loaded(_check_pair(path, X, y, "X", "y"), None, names)
    raise DataFormatError(f"{path}: unsupported file type {suffix or '(none)'}; use .npz (arrays X, y) or .csv.")


_NAMES = ("X", "y", "X_test", "y_test")


def _load_npz(path: Path, limit: int, classes: list[str] | None, regression: bool = False) -> Loaded:
    try:
        with open(path, "rb") as f:
            declared = check_npz(f, max_bytes=max(limit, 1 << 32))
    except (ValueError, OSError) as e:
        raise DataFormatError(f"{path}: not a readable .npz archive ({e}).") from e
    _check_declared(path, declared, limit, regression)
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in _NAMES if key in declared}
    except Exception as e:  # zip and npy layers raise many types for a damaged member
        raise DataFormatError(f"{path}: not a readable .npz archive ({type(e).__name__}: {e}).") from e
    if regression:
        train = _check_targets(path, arrays["X"], arrays["y"], "X", "y")
        if "X_test" not in arrays:
            return Loaded(train, None, None)
        test = _check_targets(path, arrays["X_test"], arrays["y_test"], "X_test", "y_test")
        if test[1].shape[1] != train[1].shape[1]:
            raise DataFormatError(f"{path}: y_test has {test[1].shape[1]} targets per row, y has {train[1].shape[1]}.")
        return Loaded(train, test, None)
    y, names = arrays["y"], None
    if y.dtype.kind == "U":
        y, names = _encode(path, y, "y", classes)
    train = _check_pair(path, arrays["X"], y, "X", "y")
    if "X_test" not in arrays:
        return Loaded(train, None, names)
    y_test = arrays["y_test"]
    if (y_test.dtype.kind == "U") != (names is not None):
        raise DataFormatError(f"{path}: y and y_test must both hold class names or both class indices.")
    if names is not None:
        y_test, _ = _encode(path, y_test, "y_test", names)
    return Loaded(train, _check_pair(path, arrays["X_test"], y_test, "X_test", "y_test"), names)


def _as_numbers(raw: np.ndarray) -> np.ndarray | None:
    """The label fields as numbers, or None when any is not a number (they are class names)."""
    try:
        return np.array([float(v) for v in raw])
    except ValueError:
        return None


def _encode(path: Path, raw: np.ndarray, name: str, classes: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """Class names as indices into ``classes`` (default: the names found, sorted), and the classes."""
    labels = np.char.strip(np.asarray(raw, dtype=str))
    empty = np.flatnonzero(labels == "")
    if len(empty):
        raise DataFormatError(f"{path}: {name} is empty at example {int(empty[0])}; every example needs a class.")
    found = sorted(set(labels.tolist()))
    if classes is None:
        classes = found
        if len(classes) < 2:
            raise DataFormatError(f"{path}: {name} has 1 class ({classes[0]!r}); a classifier needs at least 2.")
    unknown = [c for c in found if c not in classes]
    if unknown:
        raise DataFormatError(
            f"{path}: {name} has class {unknown[0]!r}, which the model does not know (its classes: "
            f"{', '.join(classes)}); a model can only score the classes it was trained on."
        )
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[c] for c in labels.tolist()], dtype=np.intp), list(classes)


def _check_declared(path: Path, declared: dict[str, ArrayInfo], limit: int, regression: bool = False) -> None:
    """The arrays as their headers declare them, checked before any is read: names, dtypes, shapes, size."""
    missing = [k for k in ("X", "y") if k not in declared]
    if missing:
        raise DataFormatError(f"{path}: missing array(s) {', '.join(missing)}; found {sorted(declared) or 'none'}.")
    if ("X_test" in declared) != ("y_test" in declared):
        raise DataFormatError(f"{path}: has only one of X_test and y_test; include both or neither.")
    for x_name, y_name in (("X", "y"), ("X_test", "y_test")):
        if x_name not in declared:
            continue
        X, y = declared[x_name], declared[y_name]
        for name, array in ((x_name, X), (y_name, y)):
            if array.dtype.hasobject:
                raise DataFormatError(
                    f"{path}: {name} is an object array, which would need pickle to load; save plain numeric arrays."
                )
        if regression:  # targets: (n,) or (n, k) numbers
            _check_shapes(path, X.shape, y.shape[:1], X.dtype, y.dtype, x_name, y_name)
            if len(y.shape) > 2 or y.dtype.kind not in REAL_KINDS:
                raise DataFormatError(
                    f"{path}: {y_name} must hold numbers, (n,) or (n, targets); got {y.dtype} {y.shape}."
                )
        else:
            _check_shapes(path, X.shape, y.shape, X.dtype, y.dtype, x_name, y_name)
    if "X_test" in declared and declared["X_test"].shape[1] != declared["X"].shape[1]:
        raise DataFormatError(
            f"{path}: X_test has {declared['X_test'].shape[1]} features but X has {declared['X'].shape[1]}; "
            "they must match."
        )
    size = sum(declared[name].nbytes for name in _NAMES if name in declared)
    if size > limit:
        raise DataFormatError(too_large(f"{path}: its arrays", size, limit))


def _load_csv(path: Path, label: str | int | None) -> tuple[np.ndarray, np.ndarray]:
    """(features, the label column's fields as text)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a byte-order mark is not part of the first field
            rows = [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataFormatError(f"{path}: cannot be read as CSV text ({e}).") from e
    if not rows:
        raise DataFormatError(f"{path}: is empty.")
    header = [name.strip() for name in rows[0]] if _is_header(rows) else None
    body = rows[1:] if header else rows
    width = len(rows[0])
    column = _label_column(path, header, width, label)
    if width < 2 or not len(body):
        raise DataFormatError(f"{path}: needs at least one feature column, a label column and one data row.")
    values = np.empty((len(body), width - 1))
    labels = []
    for i, row in enumerate(body):
        line = i + (2 if header else 1)
        if len(row) != width:
            raise DataFormatError(f"{path}: line {line} has {len(row)} fields, the first row has {width}.")
        labels.append(row[column])
        try:
            values[i] = [float(v) for j, v in enumerate(row) if j != column]
        except ValueError as e:
            where = f"column {header[column]!r}" if header else f"column {column}"
            raise DataFormatError(
                f"{path}: line {line} has a field that is not a number ({e}); only the label column "
                f"({where}) may hold names."
            ) from e
    return values, np.array(labels, dtype=str)


def is_number(text: str) -> bool:
    """Whether a CSV field reads as a number (a header's names do not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns: a field that is not a number where the second row
    has a number (a label column of names alone does not make a header)."""
    first = rows[0]
    if all(is_number(v) for v in first):
        return False
    if len(rows) < 2:
        return True
    return any(not is_number(a) and is_number(b) for a, b in zip(first, rows[1]))


def _label_column(path: Path, header: list[str] | None, width: int, label: str | int | None) -> int:
    if label is None:
        return width - 1
    if isinstance(label, str) and not (header and label in header) and label.lstrip("-").isdigit():
        label = int(label)  # "2" names no column: it is an index
    if isinstance(label, int) and not isinstance(label, bool):
        if not -width <= label < width:
            raise DataFormatError(f"{path}: label column {label} is out of range for {width} columns.")
        return label % width
    if header is None or label not in header:
        found = f"columns are {header}" if header else "the file has no header row"
        raise DataFormatError(f"{path}: no column named {label!r} ({found}).")
    return header.index(label)


def _check_shapes(
    path: Path, x_shape: tuple[int, ...], y_shape: tuple[int, ...], x_dtype: Any, y_dtype: Any, x_name: str, y_name: str
) -> None:
    if len(x_shape) != 2 or x_dtype.kind not in REAL_KINDS:
        raise DataFormatError(
            f"{path}: {x_name} must be a 2-D numeric array (n, features) of real numbers; got {x_dtype} {x_shape}."
        )
    if len(y_shape) != 1 or y_dtype.kind not in (*REAL_KINDS, "U"):
        raise DataFormatError(f"{path}: {y_name} must be a 1-D array of labels; got {y_dtype} {y_shape}.")
    if x_shape[0] != y_shape[0]:
        raise DataFormatError(f"{path}: {x_name} has {x_shape[0]} rows but {y_name} has {y_shape[0]} labels.")


def _check_pair(path: Path, X: Any, y: Any, x_name: str, y_name: str) -> Split:
    X, y = np.asarray(X), np.asarray(y)
    _check_shapes(path, X.shape, y.shape, X.dtype, y.dtype, x_name, y_name)
    if not np.isfinite(X).all():
        row = int(np.argwhere(~np.isfinite(X))[0, 0])
        raise DataFormatError(f"{path}: {x_name} row {row} contains NaN or inf; clean or impute it first.")
    bad = (y < 0) | (y > MAX_LABEL)
    if y.dtype.kind == "f":
        bad |= ~np.isfinite(y) | (y != np.round(y))
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{path}: {y_name} must hold whole-number class labels >= 0 (at most {MAX_LABEL:,}); "
            f"got {y[at].item()!r} at index {at}."
        )
    labels = y.astype(np.intp)
    if y_name == "y" and len(np.unique(labels)) < 2:
        raise DataFormatError(f"{path}: {y_name} has {len(np.unique(labels))} class; a classifier needs at least 2.")
    return np.asarray(X, dtype=np.float64), labels


def _check_targets(path: Path, X: Any, y: Any, x_name: str, y_name: str) -> Split:
    """(X, Y) for regression: finite numbers, Y as (n, targets) float64."""
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.dtype.kind not in REAL_KINDS:
        raise DataFormatError(f"{path}: {y_name} must hold numbers, (n,) or (n, targets); got {y.dtype} {y.shape}.")
    _check_shapes(path, X.shape, y.shape[:1], X.dtype, np.dtype(np.float64), x_name, y_name)
    for name, array in ((x_name, X), (y_name, y)):
        if not np.isfinite(array).all():
            row = int(np.argwhere(~np.isfinite(array))[0, 0])
            raise DataFormatError(f"{path}: {name} row {row} contains NaN or inf; clean or impute it first.")
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
