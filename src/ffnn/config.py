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

from ffnn import optimizers, schedules
from ffnn._files import atomic_open
from ffnn.callbacks import EarlyStopping
from ffnn.data.augment import Augment
from ffnn.network import Network

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
    "optimizer": "sgd",  # sgd (plain, the seeds') | momentum | nesterov | rmsprop | adam | adamw
    "momentum": 0.9,  # for momentum and nesterov
    "weight_decay": 0.0,  # the optimiser's L2 (adamw: decoupled); plain sgd uses lmbda
    "schedule": "constant",  # constant | step | exponential | cosine | halve-on-plateau
    "warmup_epochs": 0,  # linear warm-up before the cosine schedule
    "clip_norm": 0.0,  # clip the gradient's global norm (0 = off)
    "dropout": 0.0,  # inverted dropout of the hidden layers
    "input_dropout": 0.0,  # inverted dropout of the inputs
    "max_norm": 0.0,  # max-norm constraint on each neuron's incoming weights (0 = off)
    "patience": 0,  # early stopping on validation accuracy (0 = off; needs validation > 0)
    "augment": "",  # "" | affine | elastic (random affine + elastic distortion of 28×28 images)
    "checkpoint_every": 1,  # write the whole training state every N epochs (0 = never)
    "keep_checkpoints": 2,  # how many of the newest checkpoints to keep
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


def build_network(settings: Mapping[str, Any]) -> Network:
    """The :class:`ffnn.Network` a resolved settings table describes."""
    return Network(
        settings["sizes"],
        activation=settings["activation"],
        output_activation=settings["output_activation"] or None,
        cost=settings["cost"],
        init=settings["init"],
        dtype=settings["dtype"],
        seed=settings["seed"],
        dropout=settings["dropout"],
        input_dropout=settings["input_dropout"],
    )


def fit_options(settings: Mapping[str, Any], n_train: int) -> tuple[dict[str, Any], list[Any]]:
    """(keyword arguments for ``fit``, callbacks) for the training a settings table describes.

    Plain SGD with a constant rate keeps the seeds' fused path (``eta``, ``lmbda``); anything
    else builds an optimiser whose learning rate ``eta`` follows ``schedule``.
    """
    epochs, eta = settings["epochs"], settings["eta"]
    per_epoch = -(-n_train // settings["batch_size"])
    if settings["batches_per_epoch"]:
        per_epoch = min(per_epoch, settings["batches_per_epoch"])
    kwargs: dict[str, Any] = {
        "epochs": epochs,
        "batch_size": settings["batch_size"],
        "seed": settings["seed"],
        "batches_per_epoch": settings["batches_per_epoch"] or None,
        "max_norm": settings["max_norm"] or None,
    }
    callbacks: list[Any] = []
    if settings["augment"]:
        kwargs["augment"] = AUGMENTATIONS[settings["augment"]]()
    if settings["patience"]:
        callbacks.append(EarlyStopping(settings["patience"]))
    plain = settings["optimizer"] == "sgd" and settings["schedule"] == "constant" and not settings["clip_norm"]
    if plain and not settings["weight_decay"]:
        kwargs.update(eta=eta, lmbda=settings["lmbda"])
        return kwargs, callbacks
    if settings["lmbda"]:
        raise ConfigError("'lmbda' is plain SGD's L2; with an optimiser or schedule use 'weight_decay' instead.")
    rate: Any = eta
    total = epochs * per_epoch
    warmup = settings["warmup_epochs"] * per_epoch
    if settings["schedule"] == "step":
        rate = schedules.step_decay(eta, 0.1, max(1, total // 3))
    elif settings["schedule"] == "exponential":
        rate = schedules.exponential(eta, 0.01, max(1, total))
    elif settings["schedule"] == "cosine":
        rate = schedules.cosine(eta, max(total, warmup + 1), warmup)
    elif settings["schedule"] == "halve-on-plateau":
        rate = schedules.HalveOnPlateau(eta, patience=settings["patience"] or 10)
        callbacks.append(rate)
    elif settings["schedule"] != "constant":
        raise ConfigError(f"unknown schedule {settings['schedule']!r}; known: {', '.join(schedules.SCHEDULES)}.")
    extra: dict[str, Any] = {"clip_norm": settings["clip_norm"] or None}
    if settings["weight_decay"]:
        extra["weight_decay"] = settings["weight_decay"]
    if settings["optimizer"] in ("momentum", "nesterov"):
        extra["momentum"] = settings["momentum"]
    kwargs["optimizer"] = optimizers.get_optimizer(settings["optimizer"], rate, **extra)
    return kwargs, callbacks


AUGMENTATIONS = {
    "affine": lambda: Augment(shift=2.0, rotation=10.0, scale=0.1),
    "elastic": lambda: Augment(shift=2.0, rotation=10.0, scale=0.1, elastic_alpha=8.0, elastic_sigma=4.0),
}
