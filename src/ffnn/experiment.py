"""One experiment of ``ffnn playground``: a 2-D data set, a network and ffnn's own
backpropagation, advanced one mini-batch at a time (the server and its sessions:
:mod:`ffnn.playground`).

A :class:`Config` names everything that decides the numbers; :func:`check_config` builds one
from a request's JSON, each field checked by :func:`ffnn.settings.check_value` against its
:class:`ffnn.settings.Setting` in :data:`FIELDS` (the same table the page builds its controls from):
the run settings' own rules, capped, and the playground's few of its own. An :class:`Experiment`
holds what the config makes:

- the points (:func:`make_data`): ``points`` drawn from ``seed``, half for training and half for
  testing; source 002's four examples (``four``) train and test on the same four;
- a :class:`ffnn.Network` with 2 inputs, the hidden layers, and 2 outputs (one per class) whose
  activation follows the cost: softmax for ``cross_entropy``, sigmoid otherwise — built, with its
  training, from the run configuration the config is a subset of (:meth:`Config.run_config`), as
  ``ffnn train`` builds them;
- the training loop, an :class:`ffnn.training.Trainer` over the training points: plain SGD
  (``sgd``) through the same fused step as ``ffnn.fit``, any other optimizer through its own, each
  mini-batch's ∂C/∂w^l kept (for the gradient sizes), and non-finite numbers left to be seen
  rather than raised (:meth:`Experiment.frame` shows them as divergence).

:meth:`Experiment.step` is one :meth:`~ffnn.training.Trainer.step` of that loop — the mini-batch
``ffnn.fit`` takes at that point, with the same network, data, batch size and seed, bit for bit;
the same config gives the same numbers, step for step. :meth:`Experiment.explain` takes one
training point through one step of backpropagation (``ffnn explain``'s numbers) without changing
the network.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ffnn.build import build_network, build_training
from ffnn.config import RunConfig, of_values
from ffnn.costs import get_cost
from ffnn.data import toy
from ffnn.errors import ParameterError
from ffnn.explain import explain
from ffnn.metrics import rms_sizes
from ffnn.optimizers import Optimizer
from ffnn.settings import BY_NAME, Setting, check_value
from ffnn.training import Trainer

GRID = 60  # the decision regions: GRID × GRID points over the data's box
MAX_LAYERS, MAX_NEURONS = 8, 16  # hidden layers, neurons in each


def _run_setting(name: str, default: Any, high: float | None = None, field: str | None = None) -> Setting:
    """The run setting ``name`` as the playground's field ``field`` (by default ``name``): its rule,
    with the playground's default and, for a number, the playground's cap ``high`` (included)."""
    setting = dataclasses.replace(BY_NAME[name], name=field or name, default=default)
    return setting if high is None else dataclasses.replace(setting, high=high, at_most=True)


FIELDS = {
    "dataset": Setting(
        "dataset", "spirals", "the points' shape", choices=("spirals", "circles", "moons", "xor", "four")
    ),
    "points": Setting("points", 400, "points drawn, half to train on", low=4, high=2000, at_most=True),
    "noise": Setting("noise", 0.1, "how far the points stray from their shape", low=0.0, high=0.5, at_most=True),
    # one layer's size, MAX_LAYERS layers at most; not named "hidden", which check_value reads as the run's "64,32"
    "hidden": Setting("hidden_size", 8, "neurons in a hidden layer", low=1, high=MAX_NEURONS, at_most=True),
    "activation": _run_setting("activation", "tanh"),
    "cost": _run_setting("cost", "cross_entropy"),
    "init": _run_setting("init", "glorot"),
    "optimizer": _run_setting("optimizer", "sgd"),
    "learning_rate": _run_setting("eta", 0.3, high=10.0, field="learning_rate"),
    "batch_size": _run_setting("batch_size", 10, high=1000),  # and at most the training points
    "seed": _run_setting("seed", 0, high=2**32 - 1),
}


@dataclass(frozen=True)
class Config:
    """Everything that decides an experiment's numbers (:data:`FIELDS` gives each its default and rule)."""

    dataset: str = FIELDS["dataset"].default
    points: int = FIELDS["points"].default
    noise: float = FIELDS["noise"].default
    hidden: tuple[int, ...] = (FIELDS["hidden"].default,) * 2
    activation: str = FIELDS["activation"].default
    cost: str = FIELDS["cost"].default
    init: str = FIELDS["init"].default
    optimizer: str = FIELDS["optimizer"].default
    learning_rate: float = FIELDS["learning_rate"].default
    batch_size: int = FIELDS["batch_size"].default
    seed: int = FIELDS["seed"].default

    def run_config(self) -> RunConfig:
        """The run configuration this experiment is a subset of: 2 inputs, the hidden layers, 2
        outputs whose activation follows the cost (softmax for cross_entropy, else sigmoid), float64,
        plain SGD (the sources' fused step) or the optimizer at a constant rate. The network and the
        training are built from it as ``ffnn train`` builds them (``ffnn.build``)."""
        return of_values(
            {
                "sizes": [2, *self.hidden, 2], "activation": self.activation, "cost": self.cost,
                "output_activation": get_cost(self.cost).matching_activation or "sigmoid", "init": self.init,
                "dtype": "float64", "optimizer": self.optimizer, "eta": self.learning_rate,
                "batch_size": self.batch_size, "seed": self.seed,
            }
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "hidden": list(self.hidden)}


DEEP = Config(dataset="circles", noise=0.05, hidden=(8,) * 8, activation="sigmoid", learning_rate=0.05)
PRESETS = {
    "four-example toy (source 002)": Config(
        dataset="four",
        hidden=(4,),
        activation="sigmoid",
        cost="quadratic",
        init="normal",
        learning_rate=2.0,
        batch_size=4,
    ),
    "spirals": Config(dataset="spirals", points=600, hidden=(16, 16, 16), optimizer="adam", learning_rate=0.02),
    "deep sigmoid (stops learning)": DEEP,
    "deep ReLU (keeps learning)": dataclasses.replace(DEEP, activation="relu"),
}


def training_points(config: Config) -> int:
    """How many of the points the network trains on: half of them (all four of ``four``)."""
    return 4 if config.dataset == "four" else config.points // 2


def check_config(raw: Any, base: Config | None = None) -> Config:
    """``base`` (by default the defaults) with the fields of the JSON object ``raw`` changed, each
    checked by :func:`ffnn.settings.check_value` against its setting in :data:`FIELDS` (an old
    ``init`` name reads as its successor), and ``batch_size`` at most the training points."""
    if not isinstance(raw, dict):
        raise ParameterError(f"the config must be a JSON object with some of the fields {', '.join(FIELDS)}")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise ParameterError(f"unknown config field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
    values = {name: check_value(FIELDS[name], value, repr(name)) for name, value in raw.items() if name != "hidden"}
    if "hidden" in raw:
        values["hidden"] = _checked_layers(raw["hidden"])
    config = dataclasses.replace(base or Config(), **values)
    most = training_points(config)
    if config.batch_size > most:
        rule = dataclasses.replace(FIELDS["batch_size"], high=most).rule()
        raise ParameterError(
            f"'batch_size' must be {rule} (the training points: "
            f"{'all four' if config.dataset == 'four' else 'half of points'}); got {config.batch_size}."
        )
    return config


def _checked_layers(value: Any) -> tuple[int, ...]:
    """``hidden``: a list of at most MAX_LAYERS layer sizes, each checked against ``FIELDS["hidden"]``."""
    if not isinstance(value, list) or len(value) > MAX_LAYERS:
        raise ParameterError(f"'hidden' must be a list of at most {MAX_LAYERS} layer sizes; got {value!r}")
    return tuple(check_value(FIELDS["hidden"], size, "each 'hidden' layer size") for size in value)


def make_data(config: Config) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((X, y) to train on, (X, y) to test on), drawn from ``config.seed``: a random half of the
    points each; source 002's four examples (its constant third input is the network's bias) both."""
    if config.dataset == "four":
        X, y = toy.punnen()
        return (X[:, :2], y), (X[:, :2], y)
    make = toy.TOY_SETS["quadrants" if config.dataset == "xor" else config.dataset]
    extra = {"classes": 2} if config.dataset == "spirals" else {}
    X, y = make(n=config.points, noise=config.noise, seed=config.seed, **extra)
    order = np.random.default_rng(config.seed).permutation(config.points)
    train, test = order[: training_points(config)], order[training_points(config) :]
    return (X[train], y[train]), (X[test], y[test])


class Experiment:
    """The network, data and training state a :class:`Config` makes (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        (self.X, self.y), (self.X_test, self.y_test) = make_data(config)
        run = config.run_config()
        self.network = build_network(run)
        training, _ = build_training(run, len(self.X))  # a constant rate: no callbacks
        training["epochs"] = sys.maxsize  # no last epoch: the page steps until Reset
        self.trainer = Trainer(self.network, self.X, self.y, check_finite=False, keep_gradients=True, **training)
        self._optimizer: Optimizer | None = training.get("optimizer")  # None: plain SGD at the rate eta
        self.steps = 0
        both = np.concatenate([self.X, self.X_test])
        low, high = both.min(axis=0), both.max(axis=0)
        margin = 0.1 * np.maximum(high - low, 1e-3)
        self.box = [
            float(v) for v in (low[0] - margin[0], high[0] + margin[0], low[1] - margin[1], high[1] + margin[1])
        ]

    def step(self) -> float:
        """One mini-batch of the training loop: the next ``batch_size`` examples of the epoch's
        shuffled order (the epoch's last batch may be smaller) through ``backpropagate`` and the
        update; a new order each epoch. Returns the mini-batch's cost (not finite once training
        diverged)."""
        with np.errstate(all="ignore"):  # a diverging step shows as non-finite numbers (see frame())
            cost = self.trainer.step()
        self.steps += 1
        return cost

    @property
    def epoch(self) -> int:
        """The epochs completed."""
        return self.trainer.epoch

    @property
    def order(self) -> Any:
        """The epoch's order of the training points (the mini-batches are its slices)."""
        return self.trainer.order

    @property
    def advice(self) -> str:
        """What to do once training diverged, in the page's words."""
        return f"try a smaller learning rate (it is {self.config.learning_rate})"

    def gradient_sizes(self) -> list[float] | None:
        """Each layer's RMS weight gradient of the last mini-batch, ‖∂C/∂w^l‖ / √(n_l n_{l−1})
        (None before the first step)."""
        if self.steps == 0:
            return None
        return rms_sizes(self.trainer.ws.nabla_w)

    def regions(self) -> bytes:
        """P(class 1) on a GRID × GRID grid of cell centres over :attr:`box` as bytes 0–255, row by
        row from the top (largest x2), each row from the smallest x1."""
        x0, x1, y0, y1 = self.box
        xs = x0 + (np.arange(GRID) + 0.5) * (x1 - x0) / GRID
        ys = y1 - (np.arange(GRID) + 0.5) * (y1 - y0) / GRID
        grid = np.column_stack([np.tile(xs, GRID), np.repeat(ys, GRID)])
        p = self.network.predict_proba(grid)[:, 1]
        return bytes(np.clip(np.rint(255 * p), 0, 255).astype(np.uint8))

    def points(self) -> dict[str, Any]:
        """The points as [x1, x2, class] rows, training and test, and the box the regions cover."""

        def rows(X: np.ndarray, y: np.ndarray) -> list[list[float]]:
            return [[round(float(a), 4), round(float(b), 4), int(c)] for (a, b), c in zip(X, y)]

        return {"train": rows(self.X, self.y), "test": rows(self.X_test, self.y_test), "box": self.box}

    def explain(self, point: Any) -> dict[str, Any]:
        """One step of backpropagation of the training point ``point`` (its index in
        :meth:`points`' ``train``) through the network as it is now, every number in it:
        :func:`ffnn.explain.explain` with the training's update rule (plain SGD at the learning
        rate, or the optimizer from its initial state), as ``ffnn explain`` computes it; the
        network is not changed. Returns ``{"point", "explanation"}``
        (:meth:`ffnn.explain.Explanation.as_dict`) with what the page shows beside it:
        ``sigma_prime``, each layer's σ'(z^l) from its activation (None for softmax, whose
        Jacobian is not one number per neuron), and ``fused_bp1``, whether BP1 is δ^L = a^L − y
        (the cost's matching output) rather than (a^L − y) ⊙ σ'(z^L). ParameterError for a point
        that is not an index of a training point, or once training diverged."""
        last = len(self.X) - 1
        rule = Setting("point", 0, "the training point to explain", low=0, high=last, at_most=True)
        i = check_value(rule, point, "'point' (the index of a training point)")
        with np.errstate(all="ignore"):
            explanation = explain(
                self.network, self.X[i], self.y[i], eta=self.config.learning_rate, optimizer=self._optimizer
            )
        arrays = [explanation.cost] + [
            v for s in explanation.layers for v in (s.w, s.b, s.z, s.a, s.delta, s.grad_b, s.grad_w, s.w_new, s.b_new)
        ]
        if not all(np.isfinite(v).all() for v in arrays if v is not None):
            raise ParameterError(f"the network's numbers are not finite (training diverged): {self.advice}, and Reset")
        output = self.network.activations[-1].name
        return {
            "point": i,
            "explanation": explanation.as_dict(),
            "sigma_prime": [
                None if s.activation == "softmax" else activation.derivative(s.a[0]).tolist()
                for s, activation in zip(explanation.layers, self.network.activations)
            ],
            "fused_bp1": self.network.cost_function.matching_activation == output,
        }

    def frame(self) -> dict[str, Any] | None:
        """The state to draw: step, epoch, the whole sets' cost and accuracy, the decision regions
        (base64), the gradient sizes, and every weight and bias; None once training diverged (a
        number is not finite)."""
        with np.errstate(all="ignore"):
            train_accuracy, train_cost = self.network.score(self.X, self.y)
            test_accuracy, test_cost = self.network.score(self.X_test, self.y_test)
            gradients = self.gradient_sizes()
            numbers = [
                train_cost,
                test_cost,
                *(gradients or []),
                *(float(np.abs(p).max()) for p in self.network.parameters()),
            ]
            if not all(math.isfinite(v) for v in numbers):
                return None
            regions = self.regions()
        return {
            "step": self.steps,
            "epoch": self.epoch,
            "train_cost": train_cost,
            "test_cost": test_cost,
            "train_accuracy": train_accuracy,
            "test_accuracy": test_accuracy,
            "regions": base64.b64encode(regions).decode("ascii"),
            "grid": GRID,
            "gradients": gradients,
            "weights": [np.round(w, 4).tolist() for w in self.network.weights],
            "biases": [np.round(b, 4).tolist() for b in self.network.biases],
        }
