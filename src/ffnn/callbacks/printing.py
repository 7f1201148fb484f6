"""What a run prints: the sources' line per epoch, a progress bar over the batches, the epoch table."""

from __future__ import annotations

import sys
from typing import IO, Any

from ffnn.callbacks.base import Callback
from ffnn.network import Network
from ffnn.state import History


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def _cost(value: float | None) -> str:
    return "—" if value is None else f"{value:.5g}"


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
    neither). tqdm comes with the ``progress`` extra; without it there is no bar. ``terminal``
    says whether ``stream`` reaches a terminal when its own ``isatty`` cannot (None: ask it) —
    under MPI, rank 0's stream is the launcher's pipe (``distributed.launcher_terminal``)."""

    def __init__(self, n_batches: int, stream: IO[str] | None = None, terminal: bool | None = None) -> None:
        try:
            from tqdm.auto import tqdm  # an extra: imported only when a bar is asked for
        except ImportError:
            tqdm = None
        self.n_batches, self.stream, self._tqdm = n_batches, stream or sys.stderr, tqdm
        self._disable = None if terminal is None else not terminal
        self._bar: Any = None

    def on_epoch_begin(self, network: Network, epoch: int) -> None:
        if self._tqdm is not None:
            self._bar = self._tqdm(
                total=self.n_batches, desc=f"epoch {epoch}", unit="batch", leave=False, file=self.stream,
                disable=self._disable, dynamic_ncols=True,
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
