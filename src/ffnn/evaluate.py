"""``ffnn evaluate``: a model file scored on a split of a data set — by default the data its run
trained on, split as that run split it (its ``metadata["config"]``) — as accuracy, mean cost and a
confusion matrix, or for a regression, mean squared error and R².
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ffnn.build import classes_of, load_data
from ffnn.config import RunConfig
from ffnn.data import named
from ffnn.errors import ParameterError
from ffnn.metrics import confusion_matrix, per_class_accuracy
from ffnn.network import Network
from ffnn.serialization import load


@dataclass
class Evaluation:
    """A model scored on one split of a data set."""

    dataset: str
    split: str
    n: int
    accuracy: float
    cost: float
    cost_name: str
    confusion: np.ndarray
    classes: list[str] | None = None  # the class names, when the model has them
    mse: float | None = None  # regression: the mean squared error and R² (accuracy is then NaN)
    r2: float | None = None

    @property
    def per_class_accuracy(self) -> np.ndarray:
        return per_class_accuracy(self.confusion)


def evaluate(model: str | Path, dataset: str | None = None, split: str = "test") -> Evaluation:
    """Score the model file ``model`` (or a run folder's model.npz) on ``split`` of ``dataset``
    (default: the one it was trained on, with its validation split)."""
    network = load(Path(model) / "model.npz" if Path(model).is_dir() else model)
    config = RunConfig.of_table(network.metadata.get("config", {}))
    name = dataset or config.dataset
    classes = classes_of(network)
    if dataset is None:  # the run's own data, split as it was
        data = load_data(config, classes, "float32")
    else:
        label = named.label_column(config.label_column) if named.is_csv(name) else None
        data = named.load(name, 0, config.seed, label=label, classes=classes, regression=config.regression)
        if data.test is None and named.is_file(name):  # a file of its own: all of it is the test
            data = named.Splits(data.train, None, data.train, data.classes)
    parts = {"test": data.test, "validation": data.validation, "train": data.train}
    if split not in parts:
        raise ParameterError(f"The 'split' parameter must be one of {sorted(parts)}. Got {split!r} instead.")
    part = parts[split]
    if part is None:
        raise ParameterError(f"the dataset {name!r} has no {split} split")
    X, y = part
    if config.regression:
        scores = regression_scores(network, part)
        return Evaluation(
            name, split, len(y), float("nan"), network.cost(X, y), network.cost_function.name, np.zeros((0, 0), int),
            mse=scores["test_mse"], r2=scores["test_r2"],
        )  # fmt: skip
    predicted = network.predict(X)  # refused first if the outputs are not finite (ffnn.outputs)
    accuracy, cost = network.score(X, y)
    confusion = confusion_matrix(y, predicted, max(network.sizes[-1], 2))
    return Evaluation(name, split, len(y), accuracy, cost, network.cost_function.name, confusion, network.classes)


def regression_scores(network: Network, test: named.Split) -> dict[str, float]:
    """The test split's mean squared error (over every target) and R² (1 − SSE / SST, averaged over targets)."""
    X, Y = test
    Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
    A = np.asarray(network.outputs(X), dtype=np.float64)
    sse, sst = ((A - Y) ** 2).sum(axis=0), ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), 0.0)
    return {"test_mse": float(((A - Y) ** 2).mean()), "test_r2": float(r2.mean())}
