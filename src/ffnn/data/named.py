"""Data sets by name, for the command line: MNIST-style, toy, or the user's own file.

:func:`load` returns a :class:`Splits` — train, validation (or None) and test (or None).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ffnn.data import mnist, toy
from ffnn.data.arrays import load_arrays
from ffnn.errors import ParameterError

Split = tuple[np.ndarray, np.ndarray]


@dataclass
class Splits:
    train: Split
    validation: Split | None
    test: Split | None


NAMES = (*mnist.DATASETS, *toy.TOY_SETS)


def load(name: str, validation: int = 0, seed: int = 0, dtype: str = "float32") -> Splits:
    """The data set ``name`` (see :data:`NAMES`) or the .npz/.csv file at that path.

    ``validation=k`` holds out the last k training examples. Toy sets draw 1,000 training and
    500 test points (from ``seed`` and ``seed + 1``); XOR and source 002's set are their own test.
    """
    if name in mnist.DATASETS:
        splits = mnist.load(name, dtype=dtype, validation=validation)
        if validation:
            return Splits(*splits)
        return Splits(splits[0], None, splits[1])
    if name in ("xor", "punnen"):
        pair = toy.TOY_SETS[name]()
        return _hold_out(pair, validation, pair)
    if name in toy.TOY_SETS:
        make = toy.TOY_SETS[name]
        return _hold_out(make(n=1000, seed=seed), validation, make(n=500, seed=seed + 1))
    if Path(name).suffix.lower() in (".npz", ".csv"):
        train, test = load_arrays(name)
        return _hold_out(train, validation, test)
    raise ParameterError(f"unknown dataset {name!r}; use one of {', '.join(NAMES)} or a path to a .npz/.csv file.")


def _hold_out(train: Split, k: int, test: Split | None) -> Splits:
    X, y = train
    if not k:
        return Splits((X, y), None, test)
    if not 0 < k < len(X):
        raise ParameterError(f"validation={k} must be smaller than the {len(X)} training examples.")
    return Splits((X[:-k], y[:-k]), (X[-k:], y[-k:]), test)
