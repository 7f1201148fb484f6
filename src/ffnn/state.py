"""What a training run knows: its per-epoch :class:`History`, and the whole :class:`TrainingState`
that its future depends on (for checkpoints and exact resume)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
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
    interrupted: bool = False  # Ctrl-C: inside an epoch (its partial work undone) or between two
    extra: dict[str, list[float]] = field(default_factory=dict)  # per-epoch series recorded by callbacks

    def __repr__(self) -> str:
        """One line a REPL can show: the epochs, the last training cost and the last accuracies;
        the per-epoch lists stay in the fields (``history.test_accuracy``, …)."""
        if not self.epoch:
            return "History(no epochs)"
        parts = [
            f"{len(self.epoch)} epoch{'s' if len(self.epoch) != 1 else ''}",
            f"train_cost {self.train_cost[-1]:.4g}",
        ]
        for name in ("validation_accuracy", "test_accuracy"):
            last = getattr(self, name)[-1]
            if last is not None:
                parts.append(f"{name} {last:.4f}")
        parts.append(f"{sum(self.seconds):.1f} s")
        return f"History({', '.join(parts)}{', interrupted' if self.interrupted else ''})"


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
        (whatever the network's backend: a checkpoint is backend-free); the optimiser's state as
        checkpoints store it (:func:`_stored`)."""
        history = {f.name: getattr(self.history, f.name) for f in dataclasses.fields(self.history)}
        host = self.network.backend.to_host
        return {
            "epoch": self.history.epoch[-1],
            "parameters": host(self.network.parameters()),
            "optimizer": host(_stored(self.step.state_dict())),
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
        self.step.load_state_dict(_named(backend.from_host(state["optimizer"]), self.step.state_dict()))
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
        live = self.step.state_dict()
        difference = _difference(state.get("optimizer"), _named(self.network.backend.to_host(_stored(live)), live))
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


def _is_named(state: Any) -> bool:
    return isinstance(state, tuple) and hasattr(type(state), "_fields")


def _stored(state: Any) -> Any:
    """An optimiser's state as checkpoints store it, as ffnn 0.1 did: each named state as the tuple
    of its fields in order, or a one-field state as that field's value (a chain's: a tuple of those)."""
    if _is_named(state) and len(state) == 1:
        return state[0]
    return tuple(_stored(s) for s in state) if isinstance(state, tuple) else state


def _named(stored: Any, like: Any) -> Any:
    """``stored`` (that :func:`_difference` found to fit ``like``) with ``like``'s named states."""
    if _is_named(like):
        return type(like)(*((stored,) if len(like) == 1 else stored))
    return tuple(_named(s, f) for s, f in zip(stored, like)) if isinstance(like, tuple) else stored


def _difference(saved: Any, fresh: Any, where: str = "optimizer") -> str:
    """Where the stored optimiser state ``saved`` does not fit ``fresh``, this run's (on the host), or "".

    Derived from the states' declared fields: a chain holds one state per transform, a stateless
    transform None, a named state its fields in order (one field: its value); a field is a step
    count (an integer >= 0) or one finite array per parameter, of its shape and dtype.
    """
    if fresh is None:
        return "" if saved is None else f"{where} must be null (this run's update rule keeps no state)"
    if _is_named(fresh):
        return _named_difference(saved, fresh, where)
    if not isinstance(fresh, tuple):
        return _field_difference(saved, fresh, where)
    return _tuple_difference(saved, fresh, where) or _first(
        _difference(s, f, f"{where}[{i}]") for i, (s, f) in enumerate(zip(saved, fresh))
    )


def _named_difference(saved: Any, fresh: Any, where: str) -> str:
    """Where ``saved`` does not hold the fields of the named state ``fresh``, naming the field."""
    if len(fresh) == 1:
        values, places = (saved,), [where]
    elif problem := _tuple_difference(saved, fresh, where):
        return problem
    else:
        values, places = saved, [f"{where}[{i}]" for i in range(len(fresh))]
    for name, s, f, place in zip(fresh._fields, values, fresh, places):
        if problem := _field_difference(s, f, place):
            return f"{problem} ({type(fresh).__name__}.{name})"
    return ""


def _tuple_difference(saved: Any, fresh: tuple[Any, ...], where: str) -> str:
    if type(saved) is tuple and len(saved) == len(fresh):
        return ""
    got = f"a {type(saved).__name__} of {len(saved)}" if isinstance(saved, (list, tuple)) else repr(saved)
    return f"{where} must be a tuple of {len(fresh)}, got {got:.80}"


def _field_difference(saved: Any, fresh: Any, where: str) -> str:
    """Where the field ``saved`` is not like ``fresh``: a step count, or one finite array per parameter."""
    if isinstance(fresh, int):
        ok = isinstance(saved, int) and not isinstance(saved, bool) and saved >= 0
        return "" if ok else f"{where} must be an integer >= 0, got {saved!r}"
    if not isinstance(fresh, list):
        return "" if type(saved) is type(fresh) else f"{where} must be a {type(fresh).__name__}, got {saved!r:.80}"
    if not isinstance(saved, list) or len(saved) != len(fresh):
        got = f"a list of {len(saved)}" if isinstance(saved, list) else repr(saved)
        return f"{where} must be a list of {len(fresh)}, got {got:.80}"
    return _first(array_difference(s, f, f"{where}[{i}]") for i, (s, f) in enumerate(zip(saved, fresh)))


def array_difference(saved: Any, fresh: np.ndarray, where: str) -> str:
    """Where the stored ``saved`` is not a finite array of ``fresh``'s shape and dtype, or ""."""
    if not isinstance(saved, np.ndarray) or saved.shape != fresh.shape or saved.dtype != fresh.dtype:
        got = f"{saved.dtype} {saved.shape}" if isinstance(saved, np.ndarray) else type(saved).__name__
        return f"{where} must be a {fresh.dtype} array of shape {fresh.shape}, got {got}"
    return "" if np.isfinite(saved).all() else f"{where} contains NaN or inf"


def _first(problems: Iterable[str]) -> str:
    return next((p for p in problems if p), "")
