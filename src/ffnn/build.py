"""A run configuration (:class:`ffnn.config.RunConfig`) made into what trains: its data (split as
the run splits it), the network, and the arguments and callbacks of :func:`ffnn.fit` — the
optimizer, its learning-rate schedule, early stopping and augmentation. Every face that trains
builds here: ``ffnn train`` (``ffnn.run``), ``ffnn evaluate``, the scikit-learn estimators and
the playground.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ffnn import optimizers, schedules
from ffnn._validation import as_inputs
from ffnn.callbacks import Callback, EarlyStopping
from ffnn.config import RunConfig
from ffnn.data import named
from ffnn.data.arrays import index_names
from ffnn.data.augment import Augment
from ffnn.errors import ParameterError
from ffnn.network import Network
from ffnn.training import count_batches

AUGMENTATIONS: dict[str, Callable[[], Augment]] = {
    "affine": lambda: Augment(shift=2.0, rotation=10.0, scale=0.1),
    "elastic": lambda: Augment(shift=2.0, rotation=10.0, scale=0.1, elastic_alpha=8.0, elastic_sigma=4.0),
}


def build_network(config: RunConfig) -> Network:
    """The :class:`ffnn.Network` ``config`` describes, its weights drawn from ``config.seed``."""
    return Network(
        config.sizes,
        activation=config.activation,
        output_activation=config.output_activation or None,
        cost=config.cost,
        reduction=config.reduction,
        init=config.init,
        bias=config.biases,
        dtype=config.dtype,
        seed=config.seed,
        dropout=config.dropout,
        input_dropout=config.input_dropout,
        backend=config.backend,
        device=config.device if config.uses("device") else None,
    )


def build_training(config: RunConfig, n_train: int) -> tuple[dict[str, Any], list[Callback]]:
    """(keyword arguments for ``ffnn.fit``, callbacks) for the training ``config`` describes.

    Plain SGD with a constant rate keeps the sources' fused path (``eta``, ``lmbda``); anything
    else builds an optimizer whose learning rate ``eta`` follows ``schedule``, counted in
    mini-batch steps: ``total`` = epochs × batches per epoch.
    """
    per_epoch = count_batches(n_train, config.batch_size, config.batches_per_epoch or None)
    kwargs: dict[str, Any] = {
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "batches_per_epoch": config.batches_per_epoch or None,
        "max_norm": config.max_norm or None,
    }
    callbacks: list[Callback] = []
    if config.threads:  # else automatic, fit's default
        kwargs["threads"] = config.threads
    if config.augment:
        kwargs["augment"] = AUGMENTATIONS[config.augment]()
    if config.patience:
        callbacks.append(EarlyStopping(config.patience))
    if config.plain_sgd:  # the sources' fused path
        kwargs.update(eta=config.eta, lmbda=config.lmbda)
        return kwargs, callbacks
    rate = learning_rate(config, per_epoch)
    if isinstance(rate, schedules.HalveOnPlateau):
        callbacks.append(rate)
    extra: dict[str, Any] = {"clip_norm": config.clip_norm or None}
    if config.weight_decay:
        extra["weight_decay"] = config.weight_decay
    if config.uses("momentum"):
        extra["momentum"] = config.momentum
    kwargs["optimizer"] = optimizers.get_optimizer(config.optimizer, rate, **extra)
    return kwargs, callbacks


def learning_rate(config: RunConfig, per_epoch: int) -> Any:
    """η, or the schedule of η over the run's steps that ``config.schedule`` names."""
    eta, name = config.eta, config.schedule
    total = config.epochs * per_epoch
    if name == "step":
        every = config.step_every * per_epoch or total // 3
        return schedules.step_decay(eta, config.step_factor, max(1, every))
    if name == "exponential":
        return schedules.exponential(eta, config.exponential_final, max(1, total))
    if name == "cosine":
        warmup = config.warmup_epochs * per_epoch
        return schedules.cosine(eta, max(total, warmup + 1), warmup)
    if name == "halve-on-plateau":
        return schedules.HalveOnPlateau(eta, patience=config.plateau_patience)
    return eta


def planned_for_length(config: RunConfig) -> bool:
    """Whether the run's learning rate follows a plan drawn for its number of epochs — cosine (with
    its warm-up), exponential, or step decay stepping every third of the run — so that a run
    trained on to more epochs would not be the run planned for them (:func:`learning_rate`)."""
    if config.plain_sgd:
        return False
    return config.schedule in ("cosine", "exponential") or (config.schedule == "step" and not config.step_every)


def input_statistics(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of each input over the rows of ``X``; a constant input's std is taken as 1."""
    X = np.asarray(X, dtype=np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std < 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
    return mean, std


def load_data(config: RunConfig, classes: list[str] | None = None, dtype: str | None = None) -> named.Splits:
    """The data set ``config`` names, split as that run splits it (in ``dtype``, by default the run's)."""
    return named.load(
        config.dataset, config.validation, config.seed, dtype or config.dtype, label=config.label,
        test_fraction=config.test_fraction, classes=classes, test_file=config.test, regression=config.regression,
    )  # fmt: skip


def classes_of(network: Network) -> list[str]:
    """The classes a model's outputs stand for, by name, to encode data as it was trained: its own
    names, or for a model without names (labels 0..k−1, or a run of ffnn 0.1 on labels like
    3, 5, 8 with 9 outputs) its indices '0' … 'k−1'."""
    return network.classes or index_names(max(network.sizes[-1], 2))


def resolve_sizes(config: RunConfig, data: named.Splits) -> RunConfig:
    """``config`` with ``sizes`` = [inputs, *hidden, outputs] from the data when ``hidden`` is given
    (and ``hidden`` then cleared: the resolved sizes are what config.toml and the model keep);
    the class names checked against the output layer."""
    changes: dict[str, Any] = {}
    if config.regression and not config.output_activation:
        changes["output_activation"] = "identity"  # targets are any real numbers
    if config.hidden_sizes:
        changes.update(sizes=[int(np.shape(data.train[0])[1]), *config.hidden_sizes, _class_count(data)], hidden="")
    elif (
        data.classes is not None
        and config.sizes[-1] != len(data.classes)
        and not (config.sizes[-1] == 1 and len(data.classes) == 2)
    ):
        raise ParameterError(
            f"sizes ends in {config.sizes[-1]} outputs, but {config.dataset} has {len(data.classes)} "
            f"classes ({', '.join(data.classes)}): end sizes in {len(data.classes)}, or give --hidden instead."
        )
    return config.replace(**changes) if changes else config


def _class_count(data: named.Splits) -> int:
    if data.classes is not None:
        return len(data.classes)
    labels = [np.asarray(split[1]) for split in (data.train, data.validation, data.test) if split is not None]
    if any(y.ndim != 1 for y in labels):  # targets, one column per output
        return int(labels[0].shape[1])
    return max(2, max(int(y.max()) for y in labels if len(y)) + 1)


def check_data(network: Network, data: named.Splits) -> None:
    """Every split's inputs and targets fit the network — checked before any file is written."""
    for name, split in (("training", data.train), ("validation", data.validation), ("test", data.test)):
        if split is not None:
            X = as_inputs(split[0], network.sizes[0], network.dtype, f"the {name} inputs")
            network.check_targets(split[1], len(X), f"the {name} labels")
