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
        """The state after the last recorded epoch, as plain values and arrays copied to NumPy
        (whatever the network's backend: a checkpoint is backend-free)."""
        history = {f.name: getattr(self.history, f.name) for f in dataclasses.fields(self.history)}
        host = self.network.backend.to_host
        return {
            "epoch": self.history.epoch[-1],
            "parameters": host(self.network.parameters()),
            "optimizer": host(self.step.state_dict()),
            "rng": self.rng.bit_generator.state,
            "history": copy.deepcopy(history),
            "callbacks": {key: cb.state_dict() for key, cb in self.stateful.items()},
        }

    def restore(self, state: dict[str, Any]) -> int:
        """Load ``state`` (a :meth:`snapshot`, or ``ffnn.checkpoint.load``'s) into the run; return the
        first epoch still to train.

        Everything is checked against this run first — the parameters' shapes and dtype, the
        optimiser state's structure, the random generator's kind, the epoch against ``epochs``, the
        callbacks' keys — and :class:`ffnn.errors.ParameterError` (naming the checkpoint's file
        when the state carries it, as ``ffnn.checkpoint.load``'s does) is raised before anything
        changes; the callbacks' states are loaded next, before the network's. Its NumPy arrays are
        copied into the network's backend.
        """
        source = f"{state['path']}: " if isinstance(state.get("path"), str) else ""
        problem = self._mismatch(state)
        if problem:
            raise ParameterError(f"{source}the checkpoint does not fit this run: {problem}")
        kept = state.get("callbacks", {})
        for key, cb in self.stateful.items():
            try:
                cb.load_state_dict(kept[key])
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
                raise ParameterError(
                    f"{source}the checkpoint's state of the {key!r} callback cannot be restored "
                    f"({type(e).__name__}: {e}); it is corrupt or from another version."
                ) from e
        backend = self.network.backend
        for p, s in zip(self.network.parameters(), state["parameters"]):
            p[...] = backend.asarray(s)
        self.step.load_state_dict(backend.from_host(state["optimizer"]))
        self.rng.bit_generator.state = state["rng"]
        for name, value in state["history"].items():
            setattr(self.history, name, copy.deepcopy(value))
        return int(state["epoch"]) + 1

    def _mismatch(self, state: dict[str, Any]) -> str:
        """Why ``state`` cannot continue this run, or ""."""
        params, saved, dtype = self.network.parameters(), state["parameters"], self.network.dtype
        if len(saved) != len(params) or any(
            not isinstance(s, np.ndarray) or s.shape != tuple(p.shape) or s.dtype != dtype
            for s, p in zip(saved, params)
        ):
            return "its parameters do not fit this network's sizes and dtype; resume with the same settings."
        epoch = state["epoch"]
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < self.epochs:
            return (
                f"it was saved after epoch {epoch!r}, but this run has {self.epochs} epochs "
                f"(0–{self.epochs - 1}); it belongs to another run, or is corrupt."
            )
        difference = _difference(
            state.get("optimizer"), self.network.backend.to_host(self.step.state_dict()), "optimizer"
        )
        if difference:
            return f"{difference}; resume with the optimizer (and its settings) the checkpoint was made with."
        rng = state["rng"]
        kind = self.rng.bit_generator.state["bit_generator"]
        try:
            type(self.rng.bit_generator)().state = rng
        except (ValueError, TypeError, KeyError, OverflowError) as e:
            return f"its random generator state is not a valid {kind} state ({e})."
        kept = state.get("callbacks", {})
        if not isinstance(kept, dict) or sorted(kept) != sorted(self.stateful):
            return (
                f"it was made with stateful callbacks {sorted(kept) if isinstance(kept, dict) else kept!r}, "
                f"this run has {sorted(self.stateful)}; resume with the same ones."
            )
        for key, cb in self.stateful.items():
            fresh = cb.state_dict()
            if isinstance(fresh, dict) and not (isinstance(kept[key], dict) and sorted(kept[key]) == sorted(fresh)):
                return f"the state of the {key!r} callback must hold {sorted(fresh)}, got {kept[key]!r:.80}."
        return ""


def _difference(saved: Any, fresh: Any, where: str) -> str:
    """Where ``saved`` does not have the structure of ``fresh`` (types, lengths, array shapes), or ""."""
    if fresh is None:
        return "" if saved is None else f"{where} must be null (this run's update rule keeps no state)"
    if isinstance(fresh, np.ndarray):
        if not isinstance(saved, np.ndarray) or saved.shape != fresh.shape or saved.dtype.kind != fresh.dtype.kind:
            got = f"{saved.dtype} {saved.shape}" if isinstance(saved, np.ndarray) else type(saved).__name__
            return f"{where} must be a {fresh.dtype} array of shape {fresh.shape}, got {got}"
        if saved.dtype.kind == "f" and not np.isfinite(saved).all():
            return f"{where} contains NaN or inf"
        return ""
    if isinstance(fresh, (bool, np.bool_)):
        return "" if isinstance(saved, bool) else f"{where} must be true or false, got {saved!r}"
    if isinstance(fresh, (int, np.integer)):
        ok = isinstance(saved, int) and not isinstance(saved, bool) and saved >= 0
        return "" if ok else f"{where} must be an integer >= 0, got {saved!r}"
    if isinstance(fresh, (float, np.floating)):
        ok = isinstance(saved, (int, float)) and not isinstance(saved, bool) and np.isfinite(saved)
        return "" if ok else f"{where} must be a finite number, got {saved!r}"
    if isinstance(fresh, (list, tuple)):
        if type(saved) is not type(fresh) or len(saved) != len(fresh):
            what = f"a {type(fresh).__name__} of {len(fresh)}"
            got = f"a {type(saved).__name__} of {len(saved)}" if isinstance(saved, (list, tuple)) else repr(saved)
            return f"{where} must be {what}, got {got:.80}"
        for i, (s, f) in enumerate(zip(saved, fresh)):
            difference = _difference(s, f, f"{where}[{i}]")
            if difference:
                return difference
        return ""
    if isinstance(fresh, dict):
        if not isinstance(saved, dict) or sorted(saved) != sorted(fresh):
            return f"{where} must hold {sorted(fresh)}, got {saved!r:.80}"
        for key in fresh:
            difference = _difference(saved[key], fresh[key], f"{where}[{key!r}]")
            if difference:
                return difference
        return ""
    return "" if type(saved) is type(fresh) else f"{where} must be a {type(fresh).__name__}, got {saved!r:.80}"
