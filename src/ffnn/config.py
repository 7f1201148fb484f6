"""Run configurations: one flat table of settings, from defaults ← recipe ← TOML file ← flags.

Every key is a parameter of :class:`ffnn.Network`, of ``fit``, or says which data to train on.
``ffnn train`` writes the fully resolved table to the run folder as ``config.toml``; passing that
file back with ``--config`` repeats the run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ffnn._files import atomic_open

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULTS: dict[str, Any] = {
    "dataset": "mnist",  # mnist | fashion-mnist | xor | punnen | spirals | moons | circles | PATH (.npz/.csv)
    "validation": 0,  # last k training examples held out (MNIST-style data sets)
    "sizes": [784, 30, 10],
    "activation": "sigmoid",
    "output_activation": "",  # "" = the cost's matching activation, else the hidden one
    "cost": "quadratic",
    "init": "normal",
    "dtype": "float32",
    "epochs": 30,
    "batch_size": 10,
    "eta": 3.0,
    "lmbda": 0.0,
    "seed": 0,
    "batches_per_epoch": 0,  # 0 = every batch; k = only the first k of each shuffled epoch
}
_TYPES = {key: type(value) for key, value in DEFAULTS.items()}


class ConfigError(ValueError):
    """A configuration file or value is not valid."""


def check(table: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """``table`` with every key known and every value of the right type (ints count as floats)."""
    out = {}
    for key, value in table.items():
        if key not in DEFAULTS:
            raise ConfigError(f"{origin}: unknown setting {key!r}; known: {', '.join(DEFAULTS)}.")
        kind = _TYPES[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        else:
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            expected = "a list of integers" if kind is list else kind.__name__
            raise ConfigError(f"{origin}: setting {key!r} must be {expected}; got {value!r}.")
        out[key] = value
    return out


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings in a TOML file (a flat table; the keys of :data:`DEFAULTS`)."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror or e}).") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}).") from e
    return check({k: v for k, v in table.items() if k not in ("name", "description", "expected")}, str(path))


def resolve(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults overridden by each layer in turn (later layers win)."""
    out = dict(DEFAULTS)
    for layer in layers:
        out.update(layer)
    return out


def to_toml(table: Mapping[str, Any], comment: str = "") -> str:
    """A flat table as TOML text (strings, numbers, booleans and lists of integers)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for key, value in table.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = repr(value)
        else:  # str, int, list[int]: JSON's spelling is TOML's
            text = json.dumps(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def write(path: Path, table: Mapping[str, Any], comment: str = "") -> None:
    """Write ``table`` to ``path`` as TOML, atomically."""
    with atomic_open(path) as f:
        f.write(to_toml(table, comment).encode())
