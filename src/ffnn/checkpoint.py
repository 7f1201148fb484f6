"""Checkpoints: the whole training state, so that a resumed run is bit-identical to one never stopped.

A checkpoint holds the state :func:`ffnn.training.fit` snapshots after an epoch: the parameters,
the optimiser's state (moments, step count, and so the schedule's position), the random
generator's state (shuffling, dropout and augmentation draw from it), the history, and the state
of the callbacks that have one (early stopping's best weights, the book's halving rule). It is an
``.npz`` file: a JSON ``header`` (format "ffnn-checkpoint", ``format_version``, the epoch, and the
state as a tree whose arrays are named ``a0``, ``a1``, … beside it), read with
``allow_pickle=False``, size-checked before anything is allocated, written atomically.

:class:`Checkpointer` writes one every ``every`` epochs or every ``seconds``, at the end (marked
``finished`` when training ended by itself: its last epoch, or a callback such as early stopping)
and on Ctrl-C, into a folder, and keeps the newest ``keep``; :func:`latest` finds the newest and
:func:`load_newest` the newest that loads (and fits the run's network).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from ffnn._files import atomic_open, check_npz
from ffnn._version import __version__
from ffnn.callbacks import Callback
from ffnn.errors import ModelFileError, ParameterError
from ffnn.network import Network
from ffnn.state import History, TrainingState, array_difference

FORMAT = "ffnn-checkpoint"
FORMAT_VERSION = 2  # 2: callback states keyed by state_key (1: a list of [class name, state])
_V1_CALLBACK_KEYS = {"EarlyStopping": "early_stopping", "HalveOnPlateau": "halve_on_plateau"}
_NAME = re.compile(r"checkpoint-(\d{5,})\.npz$")


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """A JSON-able tree; arrays are moved into ``arrays`` and replaced by {"__array__": name}."""
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("checkpoint state dictionaries need string keys")
        return {"__dict__": {k: _encode(v, arrays) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint")


def _decode(value: Any, archive: Any, path: Path) -> Any:
    if isinstance(value, list):
        return [_decode(v, archive, path) for v in value]
    if isinstance(value, dict):
        if "__array__" in value:
            name = value["__array__"]
            if name not in archive.files:
                raise ModelFileError(f"{path}: array {name!r} is missing; the checkpoint is incomplete.")
            return np.array(archive[name])
        if "__tuple__" in value:
            return tuple(_decode(v, archive, path) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: _decode(v, archive, path) for k, v in value["__dict__"].items()}
        raise ModelFileError(f"{path}: the checkpoint's state has an unknown node {sorted(value)}.")
    return value


def save(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (a snapshot from ``TrainingState.snapshot``) to ``path``, atomically."""
    arrays: dict[str, Any] = {}
    tree = _encode(state, arrays)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "ffnn_version": __version__, "state": tree}
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    data = buffer.getvalue()
    with atomic_open(path) as f:
        f.write(data)


def load(path: str | os.PathLike[str], network: Network | None = None) -> dict[str, Any]:
    """The state stored in a checkpoint file, checked; :class:`ffnn.errors.ModelFileError` if not.

    Checked here, whatever run it is for: every part a snapshot has is there; the epoch and the
    history agree; the parameters are finite float arrays of one dtype, (w, b) per layer, each
    layer's w taking the layer below's outputs; the optimiser's arrays are finite, one per
    parameter, of its shape and dtype; the random generator's state is one NumPy accepts. With
    ``network`` (the run's), the parameters must also be of its sizes and dtype. What else depends
    on the run (the optimiser's kind, the callbacks, the epochs) is checked by
    ``TrainingState.restore``, whose messages name the file: the state carries it under ``"path"``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file.")
    try:
        with open(path, "rb") as f:
            check_npz(f)
            f.seek(0)
            with np.load(f, allow_pickle=False) as archive:
                if "header" not in archive.files:
                    raise ModelFileError(f"{path}: not an ffnn checkpoint (no header).")
                header = json.loads(np.asarray(archive["header"]).tobytes().decode())
                if not isinstance(header, dict) or header.get("format") != FORMAT:
                    raise ModelFileError(f"{path}: not an ffnn checkpoint (its header does not say format={FORMAT!r}).")
                version = header.get("format_version")
                if not isinstance(version, int) or version > FORMAT_VERSION:
                    raise ModelFileError(
                        f"{path}: checkpoint format {version!r} from ffnn {header.get('ffnn_version', '?')}; "
                        f"this ffnn ({__version__}) reads format {FORMAT_VERSION}. Upgrade ffnn to resume it."
                    )
                state = _decode(header.get("state"), archive, path)
    except ModelFileError:
        raise
    except Exception as e:  # zip, npy and JSON layers raise many types for a damaged file
        raise ModelFileError(f"{path}: not a readable ffnn checkpoint ({type(e).__name__}: {e}).") from e
    if not isinstance(state, dict) or not state.keys() >= _PARTS:
        missing = sorted(_PARTS - state.keys()) if isinstance(state, dict) else sorted(_PARTS)
        raise ModelFileError(f"{path}: the checkpoint's state is incomplete: it lacks {', '.join(missing)}.")
    if version == 1 and isinstance(state.get("callbacks"), list):
        pairs = state["callbacks"]
        if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs):
            raise ModelFileError(f"{path}: the checkpoint is corrupt: 'callbacks' must be [name, state] pairs.")
        state["callbacks"] = {_V1_CALLBACK_KEYS.get(name, name): value for name, value in pairs}
    problem = _state_problem(state) or (network is not None and _network_problem(state["parameters"], network))
    if problem:
        raise ModelFileError(f"{path}: the checkpoint is corrupt: {problem}. Resume from another checkpoint.")
    state["path"] = str(path)
    return state


_PARTS = {"epoch", "parameters", "optimizer", "rng", "history", "callbacks"}  # what every snapshot has
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _state_problem(state: dict[str, Any]) -> str:
    """What is wrong with a loaded state whatever the run (see :func:`load`), or ""."""
    epoch = state["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        return f"'epoch' must be an integer >= 0, got {epoch!r}"
    parameters = state["parameters"]
    if not isinstance(parameters, list) or not parameters or len(parameters) % 2:
        return "'parameters' must be a list of weight and bias arrays, two per layer"
    for i, p in enumerate(parameters):
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f" or p.ndim != (2 if i % 2 == 0 else 1):
            kind = f"a {p.dtype} array of shape {p.shape}" if isinstance(p, np.ndarray) else type(p).__name__
            return f"parameters[{i}] must be a float {'weight matrix' if i % 2 == 0 else 'bias vector'}, got {kind}"
        if not np.isfinite(p).all():
            return f"parameters[{i}] contains NaN or inf"
    problem = _layers_problem(parameters) or _optimizer_problem(state["optimizer"], parameters)
    if problem:
        return problem
    rng = state["rng"]
    name = rng.get("bit_generator") if isinstance(rng, dict) else None
    if name not in _BIT_GENERATORS:
        return f"'rng' must be the state of one of NumPy's bit generators {list(_BIT_GENERATORS)}, got {name!r}"
    try:
        getattr(np.random, name)().state = rng
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        return f"'rng' is not a valid {name} state ({type(e).__name__}: {e})"
    if not isinstance(state.get("callbacks", {}), dict) or not all(isinstance(k, str) for k in state["callbacks"]):
        return "'callbacks' must map each callback's key to its state"
    return _history_problem(state["history"], epoch)


def _layers_problem(parameters: list[np.ndarray]) -> str:
    """Where the (w, b) pairs ``parameters`` (float arrays, 2-d and 1-d) are no network's, or ""."""
    dtype = parameters[0].dtype
    for i in range(0, len(parameters), 2):
        w, b = parameters[i], parameters[i + 1]
        if w.dtype != dtype or b.dtype != dtype:
            return f"parameters[{i}] and [{i + 1}] must be {dtype} as parameters[0] is, got {w.dtype} and {b.dtype}"
        if i and w.shape[1] != parameters[i - 2].shape[0]:
            return (
                f"parameters[{i}] must have {parameters[i - 2].shape[0]} columns (the outputs of parameters[{i - 2}]), "
                f"got the shape {w.shape}"
            )
        if b.shape != w.shape[:1]:
            return (
                f"parameters[{i + 1}] must have the shape ({w.shape[0]},) (a bias per row of parameters[{i}]), "
                f"got {b.shape}"
            )
    return ""


def _optimizer_problem(tree: Any, parameters: list[np.ndarray], where: str = "optimizer") -> str:
    """Where the optimiser's state ``tree`` holds an array that is not one of a list of one per
    parameter, of its shape and dtype and finite (what every optimiser keeps: ``ffnn.optimizers``), or ""."""
    if isinstance(tree, np.ndarray):
        return f"{where} must be a list of one array per parameter, got an array of shape {tree.shape}"
    if isinstance(tree, tuple):
        parts = enumerate(tree)
        return next((p for i, t in parts if (p := _optimizer_problem(t, parameters, f"{where}[{i}]"))), "")
    if isinstance(tree, list) and any(isinstance(t, np.ndarray) for t in tree):
        if len(tree) != len(parameters):
            return f"{where} must list one array per parameter ({len(parameters)}), got {len(tree)}"
        checks = (array_difference(t, p, f"{where}[{i}]") for i, (t, p) in enumerate(zip(tree, parameters)))
        return next((p for p in checks if p), "")
    return ""


def _network_problem(parameters: list[np.ndarray], network: Network) -> str:
    """Why ``parameters`` (those of a checkpoint, checked as a network's) are not ``network``'s, or ""."""
    ours = network.parameters()
    if len(parameters) == len(ours) and all(
        p.shape == tuple(q.shape) and p.dtype == network.dtype for p, q in zip(parameters, ours)
    ):
        return ""
    sizes = [parameters[0].shape[1], *(w.shape[0] for w in parameters[::2])]
    return (
        f"its parameters are those of a network of sizes {sizes} in {parameters[0].dtype}, not of this run's "
        f"({network.sizes} in {network.dtype})"
    )


def _history_problem(history: Any, epoch: int) -> str:
    fields = {f.name: f for f in dataclasses.fields(History)}
    if not isinstance(history, dict) or not set(history) <= set(fields):
        unknown = sorted(set(history) - set(fields)) if isinstance(history, dict) else history
        return f"'history' must hold History's fields, got {unknown!r}"
    epochs = history.get("epoch")
    if not isinstance(epochs, list) or not epochs or epochs[-1] != epoch:
        last = epochs[-1] if isinstance(epochs, list) and epochs else None
        return f"it says epoch {epoch}, but its history ends at epoch {last}"
    for name, value in history.items():
        if name in ("n_test", "interrupted", "extra"):
            continue
        if not isinstance(value, list) or len(value) != len(epochs) or not all(_number(v) for v in value):
            return f"history {name!r} must list one number (or null) per epoch ({len(epochs)})"
    extra = history.get("extra", {})
    if not isinstance(extra, dict) or not all(
        isinstance(v, list) and all(_number(x) for x in v) for v in extra.values()
    ):
        return "history 'extra' must map names to lists of numbers"
    n_test = history.get("n_test")
    if n_test is not None and not (isinstance(n_test, int) and not isinstance(n_test, bool) and n_test >= 0):
        return f"history 'n_test' must be an integer >= 0 or null, got {n_test!r}"
    if not isinstance(history.get("interrupted", False), bool):
        return "history 'interrupted' must be true or false"
    return ""


def _number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def latest(folder: str | os.PathLike[str]) -> Path | None:
    """The newest ``checkpoint-NNNNN.npz`` in ``folder`` (by epoch), or None."""
    found = _checkpoints(Path(folder))
    return found[-1] if found else None


def _checkpoints(folder: Path) -> list[Path]:
    """The checkpoint files in ``folder``, oldest first."""
    found = [(int(m.group(1)), p) for p in folder.glob("checkpoint-*.npz") if (m := _NAME.search(p.name))]
    return [p for _, p in sorted(found)]


def load_newest(
    folder: str | os.PathLike[str], network: Network | None = None
) -> tuple[Path, dict[str, Any], list[str]] | None:
    """(path, state, problems) of the newest checkpoint in ``folder`` that loads (:func:`load`,
    with the run's ``network`` if given), or None if none does; ``problems`` says, one line each,
    why each newer one was passed over (a file damaged by a crash, or by hand), for the caller to
    tell the user."""
    problems: list[str] = []
    for path in reversed(_checkpoints(Path(folder))):
        try:
            return path, load(path, network), problems
        except ModelFileError as e:
            problems.append(str(e))
    return None


class Checkpointer(Callback):
    """A ``fit`` callback that writes the whole training state to ``folder/checkpoint-EEEEE.npz``
    and deletes all but the newest ``keep``: after every ``every``-th epoch or, with ``seconds``,
    after the first epoch ending ``seconds`` or more after the last write — and always when
    training ends, Ctrl-C included (the state after each epoch is kept in memory for that).
    Resuming from any of them is exact: each is taken at an epoch's end.

    ``tag`` (a fingerprint of the run's settings) is stored in each, for ``resume`` to check that
    a checkpoint belongs to the run it continues. Temporary files left by a killed write are
    removed when training starts. The checkpointer runs after the other callbacks
    (``runs_last``), so the state it saves includes theirs.
    """

    runs_last = True

    def __init__(
        self,
        folder: str | os.PathLike[str],
        every: int | None = 1,
        keep: int = 2,
        seconds: float | None = None,
        tag: str | None = None,
    ) -> None:
        if (every is None) == (seconds is None):
            raise ParameterError("Checkpointer needs either every (epochs) or seconds, not both nor neither.")
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ParameterError(f"The 'every' parameter must be an integer >= 1. Got {every!r} instead.")
        if seconds is not None and not (isinstance(seconds, (int, float)) and 0 <= seconds < float("inf")):
            raise ParameterError(f"The 'seconds' parameter must be a number >= 0. Got {seconds!r} instead.")
        if not isinstance(keep, int) or keep < 1:
            raise ParameterError(f"The 'keep' parameter must be an integer >= 1. Got {keep!r} instead.")
        self.folder, self.every, self.keep, self.seconds, self.tag = Path(folder), every, keep, seconds, tag
        self.state: TrainingState | None = None
        self._pending: dict[str, Any] | None = None  # the newest snapshot not yet written
        self._latest: dict[str, Any] | None = None  # the newest snapshot
        self._written_at = time.monotonic()

    def bind(self, state: TrainingState) -> None:
        self.state = state
        self.folder.mkdir(parents=True, exist_ok=True)
        for orphan in self.folder.glob(".checkpoint-*.tmp"):  # a write that a kill cut short
            orphan.unlink(missing_ok=True)
        self._written_at = time.monotonic()

    def on_epoch_end(self, network: Network, history: History) -> bool:
        epoch = history.epoch[-1]
        assert self.state is not None, "fit binds the checkpointer before training"
        snapshot = self.state.snapshot() if self.tag is None else {**self.state.snapshot(), "run": self.tag}
        if self.every is not None:
            due = (epoch + 1) % self.every == 0
        else:
            due = time.monotonic() - self._written_at >= (self.seconds or 0.0)
        self._latest = snapshot
        if due:
            self._write(snapshot)
        else:
            self._pending = snapshot
        return False

    def on_train_end(self, network: Network, history: History) -> None:
        if history.interrupted:  # Ctrl-C: the last complete epoch, to continue from
            if self._pending is not None:
                self._write(self._pending)
        elif self._latest is not None:  # ended by itself: nothing left to train
            self._write({**self._latest, "finished": True})

    def _write(self, snapshot: dict[str, Any]) -> None:
        save(self.folder / f"checkpoint-{snapshot['epoch']:05d}.npz", snapshot)
        self._pending, self._written_at = None, time.monotonic()
        for old in _checkpoints(self.folder)[: -self.keep]:
            old.unlink(missing_ok=True)
