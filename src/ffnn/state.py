"""What a training run knows: its per-epoch :class:`History`, and the whole :class:`TrainingState`
that its future depends on (for checkpoints and exact resume)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ffnn.errors import ParameterError
from ffnn.network import Network
from ffnn.steps import Step


@dataclass
class History:
    """Per-epoch records of a ``fit``.

    ``train_cost`` is the mean, over the epoch's mini-batches, of each batch's cost measured just
    before its update (the running training cost; no extra pass over the data). ``test_*`` and
    ``validation_*`` are measured on ``test_data`` / ``validation_data`` after the epoch (None
    without them). ``seconds`` is the epoch's training time, evaluation excluded.
    """

    epoch: list[int] = field(default_factory=list)
    train_cost: list[float] = field(default_factory=list)
    test_accuracy: list[float | None] = field(default_factory=list)
    test_cost: list[float | None] = field(default_factory=list)
    validation_accuracy: list[float | None] = field(default_factory=list)
    validation_cost: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    test_correct: list[int | None] = field(default_factory=list)
    n_test: int | None = None
    interrupted: bool = False  # a batch callback stopped an epoch; its partial work was undone
    extra: dict[str, list[float]] = field(default_factory=dict)  # per-epoch series recorded by callbacks


class Stateful(Protocol):
    """What a checkpoint needs of a callback (``ffnn.callbacks.Callback`` declares it)."""

    @property
    def state_key(self) -> str | None: ...

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> None: ...


class TrainingState:
    """Everything a training run's future depends on: the parameters, the step's state (optimiser
    moments, step count), the random generator (shuffling, dropout, augmentation), the history and
    the state of every callback that declares a ``state_key``. :meth:`snapshot` after an epoch,
    :meth:`restore` before the next; callbacks get it through ``bind``."""

    def __init__(
        self,
        network: Network,
        step: Step,
        rng: np.random.Generator,
        history: History,
        callbacks: Sequence[Stateful],
        epochs: int,
    ) -> None:
        self.network, self.step, self.rng, self.history = network, step, rng, history
        self.epochs = epochs
        self.stateful = {cb.state_key: cb for cb in callbacks if cb.state_key is not None}
        keys = [cb.state_key for cb in callbacks if cb.state_key is not None]
        if len(keys) != len(self.stateful):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            raise ParameterError(f"Two callbacks keep their state under the same key {twice}; give each its own.")

    def snapshot(self) -> dict[str, Any]:
        """The state after the last recorded epoch, as plain values and copied arrays."""
        history = {f.name: getattr(self.history, f.name) for f in dataclasses.fields(self.history)}
        return {
            "epoch": self.history.epoch[-1],
            "parameters": [p.copy() for p in self.network.parameters()],
            "optimizer": self.step.state_dict(),
            "rng": self.rng.bit_generator.state,
            "history": copy.deepcopy(history),
            "callbacks": {key: cb.state_dict() for key, cb in self.stateful.items()},
        }

    def restore(self, state: dict[str, Any]) -> int:
        """Load ``state`` (a :meth:`snapshot`) into the run; return the first epoch still to train."""
        params = self.network.parameters()
        saved = state["parameters"]
        if len(saved) != len(params) or any(s.shape != p.shape for s, p in zip(saved, params)):
            raise ParameterError(
                "The checkpoint's parameters do not fit this network's sizes; resume with the same settings."
            )
        kept = state.get("callbacks", {})
        if sorted(kept) != sorted(self.stateful):
            raise ParameterError(
                f"The checkpoint was made with stateful callbacks {sorted(kept)}, this run has "
                f"{sorted(self.stateful)}; resume with the same ones."
            )
        for p, s in zip(params, saved):
            p[...] = s
        self.step.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        for name, value in state["history"].items():
            setattr(self.history, name, copy.deepcopy(value))
        for key, cb in self.stateful.items():
            cb.load_state_dict(kept[key])
        return int(state["epoch"]) + 1
