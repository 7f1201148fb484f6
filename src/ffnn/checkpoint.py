"""Checkpoints: the whole training state, so that a resumed run is bit-identical to one never stopped.

A checkpoint holds the state :func:`ffnn.training.fit` snapshots after an epoch: the parameters,
the optimiser's state (moments, step count, and so the schedule's position), the random
generator's state (shuffling, dropout and augmentation draw from it), the history, and the state
of the callbacks that have one (early stopping's best weights, the book's halving rule). It is an
``.npz`` file: a JSON ``header`` (format "ffnn-checkpoint", ``format_version``, the epoch, and the
state as a tree whose arrays are named ``a0``, ``a1``, … beside it), read with
``allow_pickle=False``, size-checked before anything is allocated, written atomically.

:class:`Checkpointer` writes one every ``every`` epochs into a folder and keeps the newest
``keep``; :func:`latest` finds the newest.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ffnn._files import atomic_open, check_npz
from ffnn._version import __version__
from ffnn.errors import ModelFileError

if TYPE_CHECKING:
    from ffnn.network import Network
    from ffnn.training import History, TrainingContext

FORMAT = "ffnn-checkpoint"
FORMAT_VERSION = 1
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
    """Write ``state`` (a snapshot from ``TrainingContext.snapshot``) to ``path``, atomically."""
    arrays: dict[str, Any] = {}
    tree = _encode(state, arrays)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "ffnn_version": __version__, "state": tree}
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    data = buffer.getvalue()
    with atomic_open(path) as f:
        f.write(data)


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state stored in a checkpoint file, checked; :class:`ffnn.errors.ModelFileError` if not."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file.")
    try:
        check_npz(path)
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
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
    if not isinstance(state, dict) or not {"epoch", "parameters", "rng", "history"} <= state.keys():
        raise ModelFileError(f"{path}: the checkpoint's state is incomplete.")
    return state


def latest(folder: str | os.PathLike[str]) -> Path | None:
    """The newest ``checkpoint-NNNNN.npz`` in ``folder`` (by epoch), or None."""
    found = [(int(m.group(1)), p) for p in Path(folder).glob("checkpoint-*.npz") if (m := _NAME.search(p.name))]
    return max(found)[1] if found else None


class Checkpointer:
    """A ``fit`` callback: after every ``every``-th epoch (and the last), write the whole training
    state to ``folder/checkpoint-EEEEE.npz`` and delete all but the newest ``keep``.

    Put it last among the callbacks, so the state it saves includes theirs for that epoch.
    """

    def __init__(self, folder: str | os.PathLike[str], every: int = 1, keep: int = 2) -> None:
        if not isinstance(every, int) or every < 1 or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"Checkpointer needs every >= 1 and keep >= 1. Got every={every!r}, keep={keep!r}.")
        self.folder, self.every, self.keep = Path(folder), every, keep
        self.context: TrainingContext | None = None

    def bind(self, context: TrainingContext) -> None:
        self.context = context
        self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, network: Network, history: History) -> bool:
        epoch = history.epoch[-1]
        assert self.context is not None, "fit binds the checkpointer before training"
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.context.epochs:
            save(self.folder / f"checkpoint-{epoch:05d}.npz", self.context.snapshot())
            self._prune()
        return False

    def _prune(self) -> None:
        found = sorted(
            (int(m.group(1)), p) for p in self.folder.glob("checkpoint-*.npz") if (m := _NAME.search(p.name))
        )
        for _, old in found[: -self.keep]:
            old.unlink(missing_ok=True)
