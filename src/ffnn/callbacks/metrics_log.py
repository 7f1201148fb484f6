"""The run's ``metrics.csv``, declared once: its schema (:func:`metrics_columns`), the callback that
writes it (:class:`MetricsLog`) and its reader (:func:`read_metrics`, what ``ffnn plot`` draws from).

One row per epoch: the columns :attr:`MetricsLog.COLUMNS`, then the series that callbacks record in
``history.extra`` (``grad_norm_1``, …, ``train_accuracy``), sorted by name; a value not measured
(None) is an empty cell. The live page publishes the same columns (:mod:`ffnn.live`).
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from ffnn._files import atomic_open
from ffnn.callbacks.base import Callback
from ffnn.errors import DataFormatError
from ffnn.network import Network
from ffnn.state import History

Metrics = dict[str, list[float | None]]
_NOT_MEASURED = ""  # the cell of a value not measured (None), as written and as read


class MetricsLog(Callback):
    """Rewrites ``metrics.csv`` (atomically) with the whole history so far: after an epoch when
    ``seconds`` have passed since the last write (0: after every epoch), and when training ends."""

    COLUMNS = ("epoch", "train_cost", "validation_accuracy", "validation_cost", "test_accuracy", "test_cost", "seconds")

    def __init__(self, path: Path, seconds: float = 0.0) -> None:
        self.path, self.seconds = path, seconds
        self._written_at = time.monotonic()
        self._pending = False
        self._history = History()

    def on_epoch_end(self, network: Network, history: History) -> bool:
        self._pending, self._history = True, history
        if time.monotonic() - self._written_at >= self.seconds:
            self._write(history)
        return False

    def on_train_end(self, network: Network, history: History) -> None:
        if self._pending:
            self._write(history)

    def flush(self) -> None:
        """Write the epochs not yet written — when training ended without ``on_train_end``: it diverged."""
        if self._pending:
            self._write(self._history)

    def _write(self, history: History) -> None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        names, columns = metrics_columns(history)
        writer.writerow(names)
        for row in zip(*columns):
            writer.writerow(_NOT_MEASURED if v is None else v for v in row)
        with atomic_open(self.path) as f:
            f.write(text.getvalue().encode())
        self._written_at, self._pending = time.monotonic(), False


def metrics_columns(history: History) -> tuple[list[str], list[list[Any]]]:
    """The columns of ``metrics.csv``: their names and values, one per epoch (None: not measured)."""
    extra = sorted(history.extra)
    names = [*MetricsLog.COLUMNS, *extra]
    return names, [getattr(history, c) for c in MetricsLog.COLUMNS] + [history.extra[k] for k in extra]


def read_metrics(path: str | Path) -> Metrics:
    """``metrics.csv`` as columns of floats (None where a value is empty)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            return {}
        return {key: [float(r[key]) if r[key] != _NOT_MEASURED else None for r in rows] for key in rows[0]}
    except FileNotFoundError as e:
        raise DataFormatError(f"{path}: no such file; is this a run folder that ffnn train wrote?") from e
    except (ValueError, TypeError, KeyError, csv.Error, UnicodeDecodeError) as e:
        raise DataFormatError(f"{path}: not a metrics file of numbers written by ffnn train ({e}).") from e
