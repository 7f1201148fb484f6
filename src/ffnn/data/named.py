"""Data sets by name, for the command line: MNIST-style, toy, or the user's own file.

:func:`load` returns a :class:`Splits` — train, validation (or None) and test (or None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ffnn.data import mnist, toy
from ffnn.data.arrays import CSV_SUFFIXES, index_names, load_data
from ffnn.errors import ParameterError

Split = tuple[np.ndarray, np.ndarray]


@dataclass
class Splits:
    train: Split
    validation: Split | None
    test: Split | None
    classes: list[str] | None = field(default=None)  # the classes, unless they are the indices 0..k−1


NAMES = (*mnist.DATASETS, *toy.TOY_SETS)


def is_file(name: str) -> bool:
    """Whether the data set ``name`` is the user's own file (.npz, .csv or .tsv) rather than a named set."""
    return Path(name).suffix.lower() in (".npz", *CSV_SUFFIXES)


def is_csv(name: str) -> bool:
    """Whether the data set ``name`` is the user's own text table, .csv or .tsv (which has a label column)."""
    return Path(name).suffix.lower() in CSV_SUFFIXES


def load(
    name: str,
    validation: int = 0,
    seed: int = 0,
    dtype: str = "float32",
    *,
    label: str | int | None = None,
    test_fraction: float = 0.0,
    classes: list[str] | None = None,
    test_file: str = "",
    regression: bool = False,
) -> Splits:
    """The data set ``name`` (see :data:`NAMES`) or the .npz, .csv or .tsv file at that path.

    ``validation=k`` holds out the last k training examples. Toy sets draw 1,000 training and
    500 test points (from ``seed`` and ``seed + 1``); XOR and source 002's set are their own test.

    A file's own options: ``label`` (its label column, .csv and .tsv only), ``test_fraction`` (the
    share of each class held out as the test split, drawn with ``seed``, when the file has no test
    split of its own), ``classes`` (a model's classes, to encode the file's labels by) and
    ``test_file`` (a second file whose examples are the test split, encoded by the model's classes
    or else the first file's — a label the first file lacks is refused; then nothing is held out
    of the first). With ``regression`` the labels are
    real-valued targets, (n, k), and the test split is drawn from all rows alike.
    """
    if name in mnist.DATASETS:
        splits = mnist.load(name, dtype=dtype, validation=validation)
        if validation:
            return Splits(splits[0], splits[1], splits[2])
        return Splits(splits[0], None, splits[1])
    if name in ("xor", "punnen"):
        pair = toy.TOY_SETS[name]()
        return _hold_out(pair, validation, pair)
    if name in toy.TOY_SETS:
        make = toy.TOY_SETS[name]
        return _hold_out(make(n=1000, seed=seed), validation, make(n=500, seed=seed + 1))
    if is_file(name):
        loaded = load_data(name, label, classes=classes, regression=regression)
        train, test = loaded.train, loaded.test
        if test_file:
            known = None if regression else classes or loaded.classes or index_names(int(train[1].max()) + 1)
            own = load_data(test_file, label if is_csv(test_file) else None, classes=known, regression=regression)
            test = own.test if own.test is not None else own.train
        elif test is None and test_fraction:
            train, test = split_stratified(name, train, test_fraction, seed)
        held = _hold_out(train, validation, test)
        held.classes = loaded.classes
        return held
    raise ParameterError(
        f"unknown dataset {name!r}; use one of {', '.join(NAMES)} or a path to a .npz, .csv or .tsv file."
    )


def _hold_out(train: Split, k: int, test: Split | None) -> Splits:
    X, y = train
    if not k:
        return Splits((X, y), None, test)
    if not 0 < k < len(X):
        raise ParameterError(f"validation={k} must be smaller than the {len(X)} training examples.")
    return Splits((X[:-k], y[:-k]), (X[-k:], y[-k:]), test)


def label_column(text: str) -> str | int | None:
    """The ``label_column`` setting as ``load_arrays`` takes it: None (the last), an index, or a name."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def split_stratified(name: str, data: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """(train, test): ``fraction`` of each class's examples (rounded; at least one of a class with
    two or more, never its last) drawn at random with ``seed`` as the test split; both keep the
    file's order."""
    X, y = data
    rng = np.random.default_rng(seed)
    test = []
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if y.ndim == 1 else [np.arange(len(y))]
    for rows in groups:  # each class (all rows alike for regression targets)
        k = min(max(round(fraction * len(rows)), 1), len(rows) - 1)
        test.append(rng.permutation(rows)[:k])
    chosen = np.zeros(len(y), dtype=bool)
    chosen[np.concatenate(test)] = True
    if not chosen.any():
        raise ParameterError(
            f"{name}: too few examples to hold out a test split ({len(y)}); set test_fraction to 0 or add examples."
        )
    return (X[~chosen], y[~chosen]), (X[chosen], y[chosen])
