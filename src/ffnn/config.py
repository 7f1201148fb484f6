"""The run configuration: one typed, frozen :class:`RunConfig`, built once from the settings table.

Every face produces one — the command line (:func:`configure`: defaults ← recipe ← TOML file ←
flags), a run folder's ``config.toml`` and a model's ``metadata["config"]``
(:meth:`RunConfig.of_table`), the scikit-learn estimators and the playground — and building the
network and the training takes it (``ffnn.build``). Settings are read by attribute; this module
and ``ffnn.settings`` (the table that declares each setting's type, default and rule, and merges
and checks the layers) are the only ones that read a setting by its name as a string.

A config holds every setting. Those the run does not use (``momentum`` for plain SGD, say) hold
their defaults and are left out of :meth:`RunConfig.table`, the resolved table that
``config.toml``, model files and checkpoints' run tags are made of — so it is the table that
``ffnn.settings.resolve`` gives, key for key and in its order, as before there was a config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ffnn import recipes, settings
from ffnn.data import named


@dataclass(frozen=True)
class RunConfig:
    """A run's settings, each declared in :data:`ffnn.settings.SETTINGS` (its rule and meaning)."""

    dataset: str
    validation: int
    test: str
    task: str
    label_column: str
    test_fraction: float
    sizes: tuple[int, ...]
    hidden: str
    standardize: bool
    activation: str
    output_activation: str
    cost: str
    reduction: str
    init: str
    biases: bool
    dtype: str
    backend: str
    device: str
    epochs: int
    batch_size: int
    eta: float
    lmbda: float
    seed: int
    batches_per_epoch: int
    optimizer: str
    momentum: float
    weight_decay: float
    clip_norm: float
    schedule: str
    warmup_epochs: int
    step_factor: float
    step_every: int
    exponential_final: float
    plateau_patience: int
    dropout: float
    input_dropout: float
    max_norm: float
    patience: int
    augment: str
    checkpoint_every: int
    checkpoint_seconds: float
    keep_checkpoints: int
    mpi_timeout: float
    threads: int

    @classmethod
    def of_table(cls, table: Mapping[str, Any]) -> RunConfig:
        """The config of a resolved settings table (``settings.resolve``, ``config.toml``, a model's
        ``metadata["config"]``); settings it lacks take the value such a run used (``settings.of_run``)."""
        values = {k: v for k, v in settings.of_run(table).items() if k in settings.BY_NAME}  # not a newer ffnn's
        return cls(**{**values, "sizes": tuple(values["sizes"])})

    def table(self) -> dict[str, Any]:
        """The resolved table: the settings in force, in the table's order (what ``config.toml`` holds)."""
        values = {**dataclasses.asdict(self), "sizes": list(self.sizes)}
        return {s.name: values[s.name] for s in settings.SETTINGS if s.used is None or s.used(values)}

    def replace(self, **changes: Any) -> RunConfig:
        """This config with ``changes``, checked whole again (as :func:`configure` checks): the
        changes as a caller's own words, this config's table as a file is (its settings at their
        defaults are not taken as chosen)."""
        table = settings.Layer(self.table(), settings.as_written, "refuse-changed")
        return RunConfig.of_table(settings.resolve(table, settings.Layer(changes, settings.as_written)))

    # -- what the settings imply ------------------------------------------------------------------

    @property
    def own_file(self) -> bool:
        """Whether the data set is the user's own file (.csv or .npz) rather than a named set."""
        return named.is_file(self.dataset)

    @property
    def csv(self) -> bool:
        """Whether the data set is the user's own .csv file (which has a label column)."""
        return named.is_csv(self.dataset)

    @property
    def regression(self) -> bool:
        """Whether the run fits real-valued targets (``task = 'regression'``) rather than classes."""
        return settings.is_regression(dataclasses.asdict(self))

    def uses(self, name: str) -> bool:
        """Whether the run uses setting ``name`` (``momentum`` only for momentum and Nesterov, …)."""
        return settings.in_force(dataclasses.asdict(self), name)

    @property
    def plain_sgd(self) -> bool:
        """Whether the update is the sources' plain SGD with a constant rate (the fused path, ``lmbda``)."""
        return self.uses("lmbda")

    @property
    def hidden_sizes(self) -> list[int]:
        """The hidden layers' sizes ``hidden`` gives ([] when the sizes are given whole)."""
        return [int(v) for v in self.hidden.split(",")] if self.hidden else []

    @property
    def label(self) -> str | int | None:
        """The label column of a .csv data set (a header name or an index; None: the last), else None."""
        return named.label_column(self.label_column) if self.csv else None


def of_values(values: Mapping[str, Any]) -> RunConfig:
    """The config of settings a Python caller gives by name (the rest default), checked whole."""
    return RunConfig.of_table(settings.resolve(settings.Layer(values, settings.as_written)))


def configure(recipe: str | None = None, file: str | None = None, flags: Mapping[str, Any] | None = None) -> RunConfig:
    """Defaults ← recipe ← TOML file ← command-line flags, checked whole (see ``ffnn.settings``)."""
    layers = []
    if recipe:
        layers.append(settings.Layer(recipes.settings(recipe), settings.in_recipe(recipe), unused="drop"))
    if file:
        layers.append(settings.Layer(settings.read(file), settings.in_file(file), "refuse-changed"))
    layers.append(settings.Layer(flags or {}, settings.flag))
    return RunConfig.of_table(settings.resolve(*layers))
