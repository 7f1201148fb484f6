"""Callbacks for :func:`ffnn.fit`: what a run shows and keeps, outside the training loop.

:class:`Callback` declares every hook the loop calls, each a no-op by default; a callback
overrides the ones it needs. The loop calls them in this order:

    bind(state)                          once, before training (the run's TrainingState)
    on_epoch_begin(network, epoch)       before each epoch
    on_batch_end(network, epoch, batch)  after each mini-batch; True stops at once, and the
                                         network goes back to the last complete epoch
    on_epoch_end(network, history)       after each epoch is recorded; True stops training
    on_train_end(network, history)       once, at the end (``history.interrupted`` says whether
                                         a batch callback stopped training mid-epoch)

A callback whose ``state_key`` is set keeps state across epochs: checkpoints save its
``state_dict()`` under that key and a resumed run gives it back through ``load_state_dict``.
A callback with ``runs_last = True`` (the checkpointer) is called after all the others, so the
state it saves includes theirs for that epoch.
"""

from __future__ import annotations

import csv
import io
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any, ClassVar

import numpy as np

from ffnn._files import atomic_open
from ffnn.errors import ParameterError
from ffnn.monitor import MODES, improves
from ffnn.network import Network
from ffnn.state import History, TrainingState


class Callback:
    """The base of every callback: each hook declared, each doing nothing by default."""

    state_key: ClassVar[str | None] = None
    runs_last: ClassVar[bool] = False

    def bind(self, state: TrainingState) -> None:
        """Before training: the run's whole state (parameters, step, random generator, history)."""

    def on_epoch_begin(self, network: Network, epoch: int) -> None:
        """Before each epoch."""

    def on_batch_end(self, network: Network, epoch: int, batch: int) -> bool:
        """After each mini-batch; True stops at once, back to the last complete epoch."""
        return False

    def on_epoch_end(self, network: Network, history: History) -> bool:
        """After each epoch, once ``history`` holds it; True stops training."""
        return False

    def on_train_end(self, network: Network, history: History) -> None:
        """Once, when training ends, however it ends but by an exception (divergence raises one)."""

    def state_dict(self) -> Any:
        """The state a checkpoint keeps (only for a callback with a ``state_key``)."""
        return None

    def load_state_dict(self, state: Any) -> None:
        """Restore what :meth:`state_dict` returned."""


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


class PrintProgress(Callback):
    """Prints ``Epoch 3: 9423 / 10000`` after each epoch — the test set's correct answers as the
    sources print them; with validation data only, ``Epoch 3: validation accuracy 97.12 %``;
    with neither, ``Epoch 3 complete``."""

    def on_epoch_end(self, network: Network, history: History) -> bool:
        epoch, correct, validation = history.epoch[-1], history.test_correct[-1], history.validation_accuracy[-1]
        if correct is not None:
            print(f"Epoch {epoch}: {correct} / {history.n_test}", flush=True)
        elif validation is not None:
            print(f"Epoch {epoch}: validation accuracy {_percent(validation)}", flush=True)
        else:
            print(f"Epoch {epoch} complete", flush=True)
        return False


class ProgressBar(Callback):
    """A bar over the batches of each epoch with its rate and the time left, drawn by tqdm
    (``tqdm.auto``: a widget in a notebook, a line on a terminal, nothing when ``stream`` is
    neither). tqdm comes with the ``progress`` extra; without it there is no bar."""

    def __init__(self, n_batches: int, stream: IO[str] | None = None) -> None:
        try:
            from tqdm.auto import tqdm  # an extra: imported only when a bar is asked for
        except ImportError:
            tqdm = None
        self.n_batches, self.stream, self._tqdm = n_batches, stream or sys.stderr, tqdm
        self._bar: Any = None

    def on_epoch_begin(self, network: Network, epoch: int) -> None:
        if self._tqdm is not None:
            self._bar = self._tqdm(
                total=self.n_batches, desc=f"epoch {epoch}", unit="batch", leave=False, file=self.stream,
                disable=None, dynamic_ncols=True,
            )  # fmt: skip

    def on_batch_end(self, network: Network, epoch: int, batch: int) -> bool:
        if self._bar is not None:
            self._bar.update(1)
        return False

    def on_epoch_end(self, network: Network, history: History) -> bool:
        self._close()
        return False

    def on_train_end(self, network: Network, history: History) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EpochTable(Callback):
    """One row per epoch: epoch, training cost, validation and test accuracy, seconds."""

    HEADER = f"{'epoch':>5}  {'train cost':>10}  {'validation':>10}  {'test':>10}  {'seconds':>7}"
    COST_HEADER = f"{'epoch':>5}  {'train cost':>10}  {'val. cost':>10}  {'test cost':>10}  {'seconds':>7}"

    def __init__(self, stream: IO[str] | None = None, costs: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.started = False
        self.costs = costs  # held-out costs instead of accuracies (regression: there are no classes)

    def on_epoch_end(self, network: Network, history: History) -> bool:
        if not self.started:
            print(self.COST_HEADER if self.costs else self.HEADER, file=self.stream)
            self.started = True
        if self.costs:
            held = [_cost(history.validation_cost[-1]), _cost(history.test_cost[-1])]
        else:
            held = [_percent(history.validation_accuracy[-1]), _percent(history.test_accuracy[-1])]
        row = (
            f"{history.epoch[-1]:>5}  {history.train_cost[-1]:>10.5f}  {held[0]:>10}"
            f"  {held[1]:>10}  {history.seconds[-1]:>7.2f}"
        )
        print(row, file=self.stream, flush=True)
        return False


def _cost(value: float | None) -> str:
    return "—" if value is None else f"{value:.5g}"


class MetricsLog(Callback):
    """Rewrites ``metrics.csv`` (atomically) with the whole history so far: after an epoch when
    ``seconds`` have passed since the last write (0: after every epoch), and when training ends."""

    COLUMNS = ("epoch", "train_cost", "validation_accuracy", "validation_cost", "test_accuracy", "test_cost", "seconds")

    def __init__(self, path: Path, seconds: float = 0.0) -> None:
        self.path, self.seconds = path, seconds
        self._written_at = time.monotonic()
        self._pending = False

    def on_epoch_end(self, network: Network, history: History) -> bool:
        self._pending = True
        if time.monotonic() - self._written_at >= self.seconds:
            self._write(history)
        return False

    def on_train_end(self, network: Network, history: History) -> None:
        if self._pending:
            self._write(history)

    def _write(self, history: History) -> None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        names, columns = metrics_columns(history)
        writer.writerow(names)
        for row in zip(*columns):
            writer.writerow("" if v is None else v for v in row)
        with atomic_open(self.path) as f:
            f.write(text.getvalue().encode())
        self._written_at, self._pending = time.monotonic(), False


def metrics_columns(history: History) -> tuple[list[str], list[list[Any]]]:
    """The columns of ``metrics.csv``: their names and values, one per epoch (None: not measured)."""
    extra = sorted(history.extra)
    names = [*MetricsLog.COLUMNS, *extra]
    return names, [getattr(history, c) for c in MetricsLog.COLUMNS] + [history.extra[k] for k in extra]


class StopOnInterrupt(Callback):
    """Ctrl-C (SIGINT) stops training after the current batch instead of killing it mid-update.

    Use as a context manager around ``fit``: the handler is installed on entry and the previous
    one restored on exit. A second Ctrl-C while stopping interrupts as usual.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None

    def __enter__(self) -> StopOnInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def on_batch_end(self, network: Network, epoch: int, batch: int) -> bool:
        return self.requested

    def on_epoch_end(self, network: Network, history: History) -> bool:
        return self.requested


class EarlyStopping(Callback):
    """Stop when the validation accuracy has not improved for ``patience`` epochs, and give the
    network back the parameters of its best epoch (also when training ends for another reason,
    but not when it was interrupted mid-epoch: then the last complete epoch is what is kept).

    ``monitor`` names another per-epoch series to watch — a field of :class:`History`
    (``"train_cost"``, ``"validation_cost"``) or a series a callback records in ``history.extra``
    — with ``mode`` ``"max"`` (higher is better) or ``"min"``; an epoch improves on the best only
    by more than ``min_delta``. ``restore_best=False`` keeps the last epoch's parameters.
    """

    state_key = "early_stopping"

    def __init__(
        self,
        patience: int = 10,
        monitor: str = "validation_accuracy",
        mode: str = "max",
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ParameterError(f"The 'patience' parameter must be an integer >= 1. Got {patience!r} instead.")
        if mode not in MODES:
            raise ParameterError(f"The 'mode' parameter must be 'max' or 'min'. Got {mode!r} instead.")
        if not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise ParameterError(f"The 'min_delta' parameter must be a number >= 0. Got {min_delta!r} instead.")
        self.patience, self.monitor, self.restore_best = patience, monitor, restore_best
        self.mode, self.min_delta = mode, float(min_delta)
        self.best_accuracy: float | None = None  # the best value of ``monitor`` (named for format-2 checkpoints)
        self.best_epoch: int | None = None
        self.best_parameters: list[np.ndarray] = []

    def on_epoch_end(self, network: Network, history: History) -> bool:
        series: list[Any] | None = getattr(history, self.monitor, None) if self.monitor != "extra" else None
        value = (series or history.extra.get(self.monitor) or [None])[-1]
        if value is None:
            raise ParameterError(
                f"EarlyStopping watches {self.monitor!r}, which this run does not record"
                + (": pass validation_data= to fit." if self.monitor.startswith("validation") else ".")
            )
        if improves(value, self.best_accuracy, self.mode, self.min_delta):  # ties keep the earlier epoch
            self.best_accuracy, self.best_epoch = value, history.epoch[-1]
            if self.restore_best:
                self.best_parameters = network.backend.to_host(network.parameters())  # NumPy copies
        return history.epoch[-1] - self.best_epoch >= self.patience  # type: ignore[operator]

    def on_train_end(self, network: Network, history: History) -> None:
        if history.interrupted:
            return
        for p, best in zip(network.parameters(), self.best_parameters):
            p[...] = network.backend.asarray(best)

    def state_dict(self) -> dict[str, Any]:
        return {"accuracy": self.best_accuracy, "epoch": self.best_epoch, "parameters": self.best_parameters}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_accuracy, self.best_epoch = state["accuracy"], state["epoch"]
        self.best_parameters = [np.array(p) for p in state["parameters"]]


class GradientNorms(Callback):
    """Records how fast each layer learns at the start of every epoch, on a fixed probe batch:
    ``history.extra["grad_norm_l"]`` = ‖∂C/∂w^l‖ / √(n_l n_{l−1}), the root-mean-square gradient of
    one weight of layer l (so row 0 is the untrained network).

    Scaled per weight because a step moves each weight by −η ∂C/∂w^l_jk: the RMS is how fast a
    typical weight of the layer changes. The unscaled norm grows with the layer's size — the
    784×30 first layer of a deep sigmoid network has a norm close to its 30×10 last layer's
    even when each of its weights moves 80× more slowly.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y
        self.pending: list[float] = []

    def on_epoch_begin(self, network: Network, epoch: int) -> None:
        self.pending = gradient_sizes(network, self.X, self.y)

    def on_epoch_end(self, network: Network, history: History) -> bool:
        for l, value in enumerate(self.pending, start=1):
            history.extra.setdefault(f"grad_norm_{l}", []).append(value)
        return False


def gradient_sizes(network: Network, X: np.ndarray, y: np.ndarray) -> list[float]:
    """Each layer's ‖∂C/∂w^l‖ / √(n_l n_{l−1}) on the batch (X, y): the RMS gradient of one weight."""
    return rms_sizes(network.backprop(X, y)[1])


def rms_sizes(nabla_w: list[np.ndarray]) -> list[float]:
    """‖∂C/∂w^l‖ / √(n_l n_{l−1}) for each layer's weight gradient: the RMS of one weight's."""
    return [float(np.linalg.norm(g) / np.sqrt(g.size)) for g in nabla_w]


class TrainingAccuracy(Callback):
    """Records the accuracy on a fixed sample of the training set after each epoch, as
    ``history.extra["train_accuracy"]`` (dropout off, as at evaluation)."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def on_epoch_end(self, network: Network, history: History) -> bool:
        history.extra.setdefault("train_accuracy", []).append(network.accuracy(self.X, self.y))
        return False
