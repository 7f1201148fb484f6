"""``ffnn explain``'s run layer: a recipe's or a model file's network, its data and its update rule,
and the examples to explain, made into an :class:`ffnn.explain.Explanation`.

- A recipe (``recipe``, with setting ``flags`` over it as ``ffnn train`` takes them) gives the
  network ``ffnn train --recipe`` would start from — its initial weights, drawn from its seed — and
  its training data.
- A model file gives its trained network, and the data its run trained on (its
  ``metadata["config"]``), or the data set that ``flags["dataset"]`` names (all of it: nothing
  held out) — which a model saved by ``ffnn.save`` without run settings needs; the other
  ``flags`` change the update rule (``--eta``, ``--optimizer``, …) over its run's.

The examples are the training split's: one by ``index``, the first ``batch`` of them, or one given
as numbers (``inputs``, with its label or target ``target``); by default the run's first mini-batch
(its first ``batch_size`` examples, in the data's order). The update is the run's rule, as
``ffnn.build.build_training`` makes it: plain SGD with η (and the book's L2 decay 1 − ηλ/n), or the
optimizer with its learning rate (a schedule's η at the first step) — without dropout, max-norm or
augmentation, which the explanation leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ffnn import settings
from ffnn.build import build_network, build_training, classes_of, load_data, resolve_sizes
from ffnn.config import RunConfig, configure
from ffnn.data import named
from ffnn.errors import ParameterError, SettingError
from ffnn.explain import Explanation, explain
from ffnn.network import Network
from ffnn.serialization import load

# the settings that describe a network: a model file's are its own
NETWORK_SETTINGS = frozenset(
    [
        "sizes",
        "hidden",
        "standardize",
        "activation",
        "output_activation",
        "cost",
        "reduction",
        "init",
        "biases",
        "dtype",
        "backend",
        "device",
    ]
)


@dataclass(frozen=True)
class Subject:
    """What is explained: the network, the run settings that train it, and its training data."""

    network: Network
    config: RunConfig
    X: np.ndarray  # the training inputs
    y: np.ndarray  # their labels or targets
    source: str  # "recipe NAME" or the model file
    dataset: str  # the data set's name or file


@dataclass(frozen=True)
class Explained:
    """An explanation with what it explains: its subject, the rows' names, and what was left out."""

    subject: Subject
    explanation: Explanation
    examples: list[str]  # the name of each row of the batch: "#3" (training example 3), or "input"
    title: str
    left_out: list[str]  # the run's settings the explanation does not apply (dropout, max-norm, augmentation)


def subject(
    recipe: str | None = None, model: str | None = None, flags: dict[str, Any] | None = None, needs_data: bool = True
) -> Subject:
    """The network, settings and training data of ``recipe`` or of the model file ``model`` (module
    docstring). Without ``needs_data`` (one example given as numbers), a model that does not say
    what it trained on has no data: none is loaded."""
    flags = dict(flags or {})
    if (recipe is None) == (model is None):
        raise SettingError("explain a recipe (--recipe NAME) or a model file (MODEL), one of them")
    if model is None:
        config = configure(recipe, None, flags)
        data = load_data(config)
        config = resolve_sizes(config, data)
        network = build_network(config)
        X, y = data.train
        return Subject(network, config, np.asarray(X), np.asarray(y), f"recipe {recipe}", config.dataset)
    fixed = sorted(NETWORK_SETTINGS & flags.keys())
    if fixed:
        raise SettingError(
            f"{model}: the model's network is its own; {', '.join(settings.flag(k) for k in fixed)} describe"
            f"{'s' * (len(fixed) == 1)} a recipe's (with --recipe)"
        )
    dataset = flags.pop("dataset", None)
    network = load(model)
    config = RunConfig.of_table(network.metadata.get("config", {}))
    if flags:
        config = config.replace(**flags)
    if dataset is None and "config" not in network.metadata:  # saved by ffnn.save, not by ffnn train
        if needs_data:
            raise SettingError(
                "the model does not say which data it was trained on (its metadata holds no run settings, which "
                "ffnn train writes): name it with --dataset NAME or FILE, or give an example with --input and --target."
            )
        return Subject(network, config, np.zeros((0, network.sizes[0])), np.zeros(0, dtype=int), str(model), "")
    classes = classes_of(network)
    if dataset is None:
        data = load_data(config, classes, "float64")
    else:
        label = named.label_column(config.label_column) if named.is_csv(dataset) else None
        data = named.load(
            dataset, 0, config.seed, "float64", label=label, classes=classes, regression=config.regression
        )
    X, y = data.train
    return Subject(network, config, np.asarray(X), np.asarray(y), str(model), dataset or config.dataset)


def explained(
    subj: Subject,
    *,
    index: int | None = None,
    batch: int | None = None,
    inputs: list[float] | None = None,
    target: list[float] | None = None,
) -> Explained:
    """One step of ``subj``'s training on the examples chosen (see the module docstring)."""
    chosen = sum(v is not None for v in (index, batch, inputs))
    if chosen > 1:
        raise SettingError("choose the examples one way: --index K, --batch N, or --input with --target")
    if (inputs is None) != (target is None):
        raise SettingError("--input and --target go together: the example's inputs and its label or target")
    X, y, n = subj.X, subj.y, len(subj.X)
    if not n and subj.config.lmbda:
        raise SettingError(
            "--lmbda decays the weights by 1 − ηλ/n, n being the training set's size: name the data with --dataset."
        )
    if inputs is not None:
        assert target is not None
        x = np.asarray([inputs], dtype=np.float64)
        t = np.asarray(target)
        labels = subj.network.sizes[-1] > 1 and t.size == 1  # a class label, not a row of targets
        if labels and not float(t[0]).is_integer():
            raise SettingError(f"--target: a class label is a whole number from 0 to {subj.network.sizes[-1] - 1}")
        rows, names = (x, t.astype(int) if labels else t[None, :]), ["input"]
    elif index is not None:
        if not 0 <= index < n:
            raise SettingError(f"--index must be from 0 to {n - 1} (the training data has {n} examples); got {index}")
        rows, names = (X[index : index + 1], y[index : index + 1]), [f"#{index}"]
    else:
        size = min(subj.config.batch_size, n) if batch is None else batch
        if not 1 <= size <= n:
            raise SettingError(f"--batch must be from 1 to {n} (the training data has {n} examples); got {size}")
        rows, names = (X[:size], y[:size]), [f"#{i}" for i in range(size)]
    kwargs, _ = build_training(subj.config, n)
    optimizer = kwargs.get("optimizer")
    try:
        explanation = explain(
            subj.network,
            *rows,
            eta=subj.config.eta,
            optimizer=optimizer,
            lmbda=0.0 if optimizer is not None else kwargs.get("lmbda", 0.0),
            n_train=n or None,
        )
    except ParameterError as e:
        raise ParameterError(f"{subj.source}: {e}") from None
    left_out = [
        f"{key} = {getattr(subj.config, key)!r}"
        for key in ("dropout", "input_dropout", "max_norm", "augment")
        if getattr(subj.config, key)
    ]
    which = (
        "the example given"
        if inputs is not None
        else f"training example {names[0]}"
        if len(names) == 1
        else f"training examples #0 to #{len(names) - 1}"
    )
    title = f"ffnn explain: {subj.source}, {which}" + (f" of {_dataset(subj.dataset)}" if subj.dataset else "")
    return Explained(subj, explanation, names, title, left_out)


def _dataset(name: str) -> str:
    return name if named.is_file(name) else f"the {name} data"
