"""Early stopping: stop when the watched series has not improved for a while, keep the best epoch.

Which epoch is best is decided by :func:`ffnn.monitor.improves`, the one rule that the halving
schedule and the run summary use too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ffnn.callbacks.base import Callback
from ffnn.errors import ParameterError
from ffnn.monitor import MODES, improves
from ffnn.network import Network
from ffnn.state import History


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
