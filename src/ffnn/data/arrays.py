"""The user's own data: ``.npz``, ``.csv`` and ``.tsv`` files, validated, never unpickled.

- ``.npz``: arrays ``X`` (n, features) and ``y`` (n,) of labels, numbers or names (a NumPy
  unicode array, ``dtype='<U…'``; object arrays are refused); optionally ``X_test`` and
  ``y_test`` (both or neither). Loaded with ``allow_pickle=False``.
- ``.csv``/``.tsv``: one example per row. A ``.tsv`` file's fields are separated by tabs; a
  ``.csv`` file's by the one of commas, semicolons and tabs that splits its first lines into
  equally many fields (:func:`separator`). An optional header row: the first row is a header
  when it has a field that is not a number in a column whose second row has one — said in a
  warning when that row also holds numbers (it may be an example). The labels are the column
  named by ``label`` (a header name or a column index), by default the last column; every other
  column is a feature and must be a number. An empty field is a missing value, refused with its
  line and column; the file is read row by row into one array, so memory holds its numbers,
  not its text.

The classes of a file are the distinct labels present, sorted, as scikit-learn's label encoding
makes them (:func:`encode`): labels that are all numbers (whole ones) are named by their values
('3', '5', '8' for 3, 5, 8 — three classes, not nine; 1 and 1.0 alike) and sorted by value;
when any label is text, every label is a name as written (a warning lists labels equal as
numbers, 1 and 1.0, that thereby become different classes) and sorted as text. Labels become
indices 0..k−1 into the classes, and :func:`load_data` returns the classes — None when they are
the indices themselves ('0' … 'k−1', as MNIST's), so such a model keeps plain indices.
``classes=`` encodes a file by a model's (or a training file's) classes instead, refusing a
label it does not have (as scikit-learn's encoder refuses an unseen label); a model without
class names has the classes :func:`index_names`. At least 2 distinct classes; features must be
finite. Every problem raises :class:`ffnn.errors.DataFormatError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ffnn._files import ArrayInfo, check_npz, max_data_bytes, too_large
from ffnn._validation import REAL_KINDS
from ffnn.errors import DataFormatError, ParameterError

Split = tuple[np.ndarray, np.ndarray]
CSV_SUFFIXES = (".csv", ".tsv")  # text tables: one example per row
SEPARATORS = {"\t": "tabs", ";": "semicolons", ",": "commas"}  # a .csv file's, preferred in this order on a tie


@dataclass
class Loaded:
    """A user's data file: the training pair, the test pair (or None), and the classes (None when
    they are the indices 0..k−1 themselves, or for regression targets)."""

    train: Split
    test: Split | None
    classes: list[str] | None


def load_arrays(
    path: str | os.PathLike[str], label: str | int | None = None, *, max_bytes: int | None = None
) -> tuple[Split, Split | None]:
    """``((X, y), (X_test, y_test))`` from a ``.npz``, ``.csv`` or ``.tsv`` file; the test pair may be None.

    The labels are encoded as indices into the file's classes (see :func:`load_data` for them).
    """
    loaded = load_data(path, label, max_bytes=max_bytes)
    return loaded.train, loaded.test


def index_names(count: int) -> list[str]:
    """The classes of labels that are class indices 0..count−1, by name: '0' … str(count − 1)."""
    return [str(i) for i in range(count)]


def load_data(
    path: str | os.PathLike[str],
    label: str | int | None = None,
    *,
    classes: list[str] | None = None,
    max_bytes: int | None = None,
    regression: bool = False,
) -> Loaded:
    """The ``.npz``, ``.csv`` or ``.tsv`` file at ``path``, its labels encoded (:func:`encode`; by
    ``classes`` if given).

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
                "The 'label' parameter applies to .csv and .tsv files only; an .npz file names its arrays y, y_test."
            )
        return _load_npz(path, limit, classes, regression)
    if suffix in CSV_SUFFIXES:
        if path.stat().st_size > limit:
            raise DataFormatError(too_large(f"{path}: the file", path.stat().st_size, limit))
        X, raw, lines, column = _load_csv(path, label)
        if regression:
            texts = raw.tolist()
            try:
                targets = np.array([float(v) for v in texts])
            except ValueError:
                at = next(i for i, v in enumerate(texts) if not is_number(v))
                raise DataFormatError(
                    f"{path}: a regression target must be a number; {column} has {texts[at]!r} at line {lines[at]}."
                ) from None
            return Loaded(_check_targets(path, X, targets, "X", "y"), None, None)
        y, names = encode(path, raw, column, classes, lines)
        return Loaded(_check_pair(path, X, y, "X", "y"), None, names)
    raise DataFormatError(f"{path}: unsupported file type {suffix or '(none)'}; use .npz (arrays X, y), .csv or .tsv.")


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
    y, names = encode(path, arrays["y"], "y", classes)
    train = _check_pair(path, arrays["X"], y, "X", "y")
    if "X_test" not in arrays:
        return Loaded(train, None, names)
    known = classes or names or index_names(int(y.max()) + 1)  # y_test is labelled by y's classes
    y_test, _ = encode(path, arrays["y_test"], "y_test", known)
    return Loaded(train, _check_pair(path, arrays["X_test"], y_test, "X_test", "y_test"), names)


def encode(
    path: Path, raw: Any, name: str, classes: list[str] | None = None, lines: np.ndarray | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """(the labels ``raw`` (n,) as class indices, the classes — None when they are '0' … 'k−1').

    Without ``classes``, the classes are the distinct labels present: named by their values,
    sorted by value, when every label is a whole number (1, 1.0 and '01' are the class '1');
    else every label is a name as written, sorted, and labels equal as numbers are different
    classes, which a warning lists. With ``classes``, a label is that class whose name it is as
    written, else whose name its value is; a label that is neither is refused. ``name`` says
    what holds the labels, ``lines`` where each came from (a CSV's line numbers; else indices).
    """
    raw = np.asarray(raw)

    def at(i: int) -> str:
        return f"line {lines[i]}" if lines is not None else f"index {i}"

    if raw.dtype.kind == "U":
        raw = np.char.strip(raw)
        empty = np.flatnonzero(raw == "")
        if len(empty):
            raise DataFormatError(f"{path}: {name} is empty at {at(int(empty[0]))}; every example needs a class.")
    distinct, inverse = np.unique(raw, return_inverse=True)
    inverse = inverse.reshape(-1)
    values = distinct.tolist()
    written = [str(v) for v in values] if raw.dtype.kind == "U" else None
    numbers = [_value_name(v) for v in values]  # '3' for 3, 3.0, '03'; '' when not whole; None: no number
    if classes is None:
        if written is None or all(n is not None for n in numbers):
            not_whole = next((j for j, n in enumerate(numbers) if n == ""), None)
            if not_whole is not None:
                first = int(np.flatnonzero(inverse == not_whole)[0])
                raise DataFormatError(
                    f"{path}: {name} holds {values[not_whole]!r} at {at(first)}; class labels are whole numbers "
                    "or names (for real-valued targets, set task to 'regression')."
                )
            names = [str(n) for n in numbers]
            classes = sorted(set(names), key=int)
        else:
            names = written
            classes = names  # np.unique sorted them
            _warn_equal_numbers(path, name, written)
        if len(classes) < 2:
            every = f" (every label is {classes[0]!r})" if classes else ""
            count = f"{len(classes)} class{'' if classes else 'es'}"
            raise DataFormatError(f"{path}: {name} has {count}; a classifier needs at least 2{every}.")
    else:
        known = set(classes)
        texts = written if written is not None else [str(v) for v in values]
        names = [t if t in known else (n if n in known else t) for t, n in zip(texts, numbers)]
        unknown = next((t for t in names if t not in known), None)
        if unknown is not None:
            its = "it has no class names; its classes are the indices" if classes == index_names(len(classes)) else ""
            raise DataFormatError(
                f"{path}: {name} has class {unknown!r}, which the model does not know ({its or 'its classes:'} "
                f"{_listed(classes)}); a model can only score the classes it was trained on."
            )
    index = {c: i for i, c in enumerate(classes)}
    codes = np.array([index[n] for n in names], dtype=np.intp)[inverse]
    return codes, (None if classes == index_names(len(classes)) else list(classes))


def _value_name(value: Any) -> str | None:
    """A label's class name as a number: its whole value ('3' for 3, 3.0, '3.0', '03', '3e0');
    '' for a number that is not whole (0.5, nan); None for text that is not a number."""
    if isinstance(value, str):
        try:
            return str(int(value))
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                return None
    if isinstance(value, float) and not value.is_integer():
        return ""
    return str(int(value))


def _warn_equal_numbers(path: Path, name: str, labels: list[str]) -> None:
    """Warn, in one line, of labels that are names as written but equal as numbers ('1', '1.0', '01')."""
    groups: dict[float, list[str]] = {}
    for text in labels:
        if is_number(text):
            groups.setdefault(float(text), []).append(text)
    equal = [group for group in groups.values() if len(group) > 1]
    if equal:
        example = next(text for text in labels if not is_number(text))
        shown = "; ".join(", ".join(repr(t) for t in group) for group in equal[:5])
        more = f" (and {len(equal) - 5} more such groups)" if len(equal) > 5 else ""
        warnings.warn(
            f"{path}: {name} holds names (such as {example!r}), so every label is a class as written, and these "
            f"labels, equal as numbers, are different classes: {shown}{more}. Write each class one way if they "
            "are one.",
            UserWarning,
            stacklevel=4,
        )


def _listed(names: list[str], most: int = 12) -> str:
    """``names`` comma-separated, the first ``most`` of a longer list and how many there are."""
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])}, … ({len(names)} in all)"


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


def separator(path: Path) -> str:
    """The field separator of the text table at ``path``: a tab for a ``.tsv`` file; for a
    ``.csv`` file the one of tab, semicolon and comma that splits its first lines (up to 5) into
    equally many fields, and the most fields (tab, then semicolon, then comma on a tie: a
    semicolon file may write decimal commas); a comma when none does."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            sample = list(itertools.islice((line for line in f if line.strip()), 5))
    except (OSError, UnicodeDecodeError) as e:
        raise DataFormatError(f"{path}: cannot be read as CSV text ({e}).") from e
    best, most = ",", 1
    for candidate in SEPARATORS:
        try:
            widths = {len(row) for row in csv.reader(sample, delimiter=candidate)}
        except csv.Error:
            continue
        if len(widths) == 1 and (width := widths.pop()) > most:
            best, most = candidate, width
    return best


@contextlib.contextmanager
def rows(path: Path, sep: str) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """The rows of the text table at ``path`` as (line number, fields), read one at a time; blank
    lines are skipped. A file that is not text raises DataFormatError."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a byte-order mark is not part of the first field
            reader = csv.reader(f, delimiter=sep)
            yield ((reader.line_num, row) for row in reader if row)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataFormatError(f"{path}: cannot be read as CSV text ({e}).") from e


def field_error(path: Path, line: int, column: str, text: str, hint: str) -> DataFormatError:
    """The error of a field that should be a number: a missing value when it is empty, else not a
    number, with ``hint`` (and, for a decimal comma, how to write it)."""
    if not text.strip():
        return DataFormatError(f"{path}: line {line}, {column} is empty: a missing value; fill it in or drop the row.")
    comma = "; write decimals with a point" if "," in text and is_number(text.replace(",", ".", 1)) else ""
    return DataFormatError(f"{path}: line {line}, {column}: {text!r} is not a number; {hint}{comma}.")


def warn_header(path: Path, line: int, fields: list[str], sep: str, why: str) -> None:
    """Warn, in one line, when the row taken as the header holds numbers (it may be an example)."""
    if any(is_number(v) for v in fields):
        shown = sep.join(fields) if len(sep.join(fields)) <= 60 else sep.join(fields)[:57] + "…"
        warnings.warn(
            f"{path}: line {line} ({shown!r}) is taken as the header (the column names), since {why}; "
            "if it is an example, add a header row above it.",
            UserWarning,
            stacklevel=4,
        )


def _load_csv(path: Path, label: str | int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(features, the label column's fields as text, each row's line number, the label column in words).

    The rows are read one at a time into an array sized by the file's line count: memory holds
    the numbers and the labels, never every field as a Python string at once."""
    sep = separator(path)
    with rows(path, sep) as table:
        first = next(table, None)
        if first is None:
            raise DataFormatError(f"{path}: is empty.")
        second = next(table, None)
        why = _header_reason(first[1], None if second is None else second[1])
        header = [name.strip() for name in first[1]] if why else None
        if header:
            warn_header(path, first[0], first[1], sep, why)
        width = len(first[1])
        column = _label_column(path, header, width, label, sep)
        if width < 2:
            raise DataFormatError(
                f"{path}: needs at least one feature column, a label column and one data row; its rows have one "
                f"field (fields are separated by {SEPARATORS[sep]})."
            )
        words = _label_words(header, column, width, label is None)
        head = [first, second] if second else [first]
        body = itertools.chain(head[1:] if header else head, table)
        capacity = _count_lines(path)
        values, lines, labels = np.empty((capacity, width - 1)), np.empty(capacity, dtype=np.int64), []
        n = 0
        for line, row in body:
            if len(row) != width:
                raise DataFormatError(
                    f"{path}: line {line} has {len(row)} fields, the first row has {width} "
                    f"(fields are separated by {SEPARATORS[sep]})."
                )
            text = row.pop(column).strip()
            if not text:
                raise DataFormatError(
                    f"{path}: line {line}, {words} is empty: a missing label; fill it in or drop the row."
                )
            labels.append(text)
            try:
                values[n] = [float(v) for v in row]
            except ValueError:
                k = next(k for k, v in enumerate(row) if not is_number(v))
                hint = f"only {words} may hold names (fields are separated by {SEPARATORS[sep]})"
                raise field_error(path, line, column_words(header, k + (k >= column)), row[k], hint) from None
            lines[n] = line
            n += 1
    if not n:
        raise DataFormatError(f"{path}: needs at least one feature column, a label column and one data row.")
    values, lines = values[:n], lines[:n]
    finite = np.isfinite(values)
    if not finite.all():
        i, k = (int(v) for v in np.argwhere(~finite)[0])  # k: a feature, the columns less the label's
        raise DataFormatError(
            f"{path}: line {lines[i]}, {column_words(header, k + (k >= column))} holds {values[i, k]}, "
            "not a finite number; clean or impute it first."
        )
    return values, np.array(labels), lines, words


def _count_lines(path: Path) -> int:
    """An upper bound on the rows of the text file at ``path``: its line breaks, plus one."""
    count = 1
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            count += max(block.count(b"\n"), block.count(b"\r"))
    return count


def is_number(text: str) -> bool:
    """Whether a CSV field reads as a number (a header's names do not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header_reason(first: list[str], second: list[str] | None) -> str:
    """Why the first row names the columns — a field that is not a number where the second row
    has a number (a label column of names alone does not make a header) — or '' when it does not."""
    if all(is_number(v) for v in first):
        return ""
    if second is None:
        return f"{next(v for v in first if not is_number(v))!r} is not a number"
    found = next((a for a, b in zip(first, second) if not is_number(a) and is_number(b)), None)
    return "" if found is None else f"{found!r} is not a number where the next row has one"


def column_words(header: list[str] | None, j: int) -> str:
    """Column ``j`` in words: its name, else its index."""
    return f"column {header[j]!r}" if header else f"column {j}"


def _label_words(header: list[str] | None, column: int, width: int, default: bool) -> str:
    """The label column in words; when none was named (``default``), also that it is the last, and the columns."""
    title = column_words(header, column)
    if not default:
        return f"the label column ({title})"
    columns = f"the columns are {_listed(header)}" if header else f"the file has {width} columns and no header row"
    return f"the label column ({title}, the last, as none was named; {columns})"


def _label_column(path: Path, header: list[str] | None, width: int, label: str | int | None, sep: str) -> int:
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
        raise DataFormatError(
            f"{path}: no column named {label!r} ({found}); its fields are separated by {SEPARATORS[sep]}."
        )
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


def _check_pair(path: Path, X: Any, y: np.ndarray, x_name: str, y_name: str) -> Split:
    """(X, y) for classification: X finite real numbers as float64, y the class indices :func:`encode` gave."""
    X = np.asarray(X)
    _check_shapes(path, X.shape, y.shape, X.dtype, y.dtype, x_name, y_name)
    if not np.isfinite(X).all():
        row = int(np.argwhere(~np.isfinite(X))[0, 0])
        raise DataFormatError(f"{path}: {x_name} row {row} contains NaN or inf; clean or impute it first.")
    return np.asarray(X, dtype=np.float64), y


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
