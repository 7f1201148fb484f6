"""Runs: settings → network, data and callbacks → a run folder with its config, metrics, model,
checkpoints and summary. The command line, the web pages and the scikit-learn estimators all
train through here; none of them holds training logic of its own.

A run folder holds

    config.toml        the resolved settings (``--config`` with it repeats the run)
    metrics.csv        one row per epoch, rewritten after each
    checkpoints/       the whole training state: every minute (or ``checkpoint_every`` epochs),
                       at the end and on Ctrl-C
    model.npz          the trained network with its settings and summary (``ffnn.load``)
    summary.json       final and best accuracies, epoch times

Started by an MPI launcher (``mpiexec -n K ffnn train …``), a run trains data-parallel over the K
processes (``ffnn.distributed``); rank 0 alone writes the folder and prints.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ffnn import checkpoint, distributed, optimizers, recipes, schedules
from ffnn import settings as settings_table
from ffnn._files import atomic_open
from ffnn._validation import as_inputs
from ffnn._version import __version__
from ffnn.callbacks import (
    Callback,
    EarlyStopping,
    EpochTable,
    GradientNorms,
    MetricsLog,
    ProgressBar,
    StopOnInterrupt,
    TrainingAccuracy,
)
from ffnn.data import named
from ffnn.data.augment import Augment
from ffnn.errors import ModelFileError, NonFiniteOutputError, ParameterError, RunFolderError, TrainingDivergedError
from ffnn.feed import Feed
from ffnn.live import LiveView
from ffnn.metrics import confusion_matrix, per_class_accuracy
from ffnn.monitor import best_epoch
from ffnn.network import Network
from ffnn.serialization import load, save
from ffnn.settings import is_regression
from ffnn.state import History
from ffnn.training import count_batches, fit

AUGMENTATIONS: dict[str, Callable[[], Augment]] = {
    "affine": lambda: Augment(shift=2.0, rotation=10.0, scale=0.1),
    "elastic": lambda: Augment(shift=2.0, rotation=10.0, scale=0.1, elastic_alpha=8.0, elastic_sigma=4.0),
}
_GRADIENT_PROBE, _ACCURACY_SAMPLE = 1000, 10_000  # training examples the figures' callbacks look at
_LIVE_PROBE = 256  # training examples whose gradient the live page shows (every second)
_METRICS_SECONDS = 2.0  # metrics.csv is rewritten at most this often (and at the end)


def resolve_settings(
    recipe: str | None = None, config: str | None = None, flags: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults ← recipe ← TOML file ← command-line flags, checked whole (see ``ffnn.settings``)."""
    layers = []
    if recipe:
        layers.append(settings_table.Layer(recipes.settings(recipe), settings_table.in_recipe(recipe), unused="drop"))
    if config:
        layers.append(
            settings_table.Layer(settings_table.read(config), settings_table.in_file(config), "refuse-changed")
        )
    layers.append(settings_table.Layer(flags or {}, settings_table.flag))
    return settings_table.resolve(*layers)


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
        backend=settings["backend"],
        device=settings.get("device"),  # in force for torch only
    )


def build_training(settings: Mapping[str, Any], n_train: int) -> tuple[dict[str, Any], list[Callback]]:
    """(keyword arguments for ``ffnn.fit``, callbacks) for the training a settings table describes.

    Plain SGD with a constant rate keeps the sources' fused path (``eta``, ``lmbda``); anything
    else builds an optimizer whose learning rate ``eta`` follows ``schedule``, counted in
    mini-batch steps: ``total`` = epochs × batches per epoch.
    """
    per_epoch = count_batches(n_train, settings["batch_size"], settings["batches_per_epoch"] or None)
    kwargs: dict[str, Any] = {
        "epochs": settings["epochs"],
        "batch_size": settings["batch_size"],
        "seed": settings["seed"],
        "batches_per_epoch": settings["batches_per_epoch"] or None,
        "max_norm": settings["max_norm"] or None,
    }
    callbacks: list[Callback] = []
    if settings["augment"]:
        kwargs["augment"] = AUGMENTATIONS[settings["augment"]]()
    if settings["patience"]:
        callbacks.append(EarlyStopping(settings["patience"]))
    if settings_table.in_force(settings, "lmbda"):  # plain SGD: the sources' fused path
        kwargs.update(eta=settings["eta"], lmbda=settings["lmbda"])
        return kwargs, callbacks
    rate = _learning_rate(settings, per_epoch)
    if isinstance(rate, schedules.HalveOnPlateau):
        callbacks.append(rate)
    extra: dict[str, Any] = {"clip_norm": settings["clip_norm"] or None}
    if settings["weight_decay"]:
        extra["weight_decay"] = settings["weight_decay"]
    if settings_table.in_force(settings, "momentum"):
        extra["momentum"] = settings["momentum"]
    kwargs["optimizer"] = optimizers.get_optimizer(settings["optimizer"], rate, **extra)
    return kwargs, callbacks


def _learning_rate(settings: Mapping[str, Any], per_epoch: int) -> Any:
    """η, or the schedule of η over the run's steps that ``settings["schedule"]`` names."""
    eta, name = settings["eta"], settings["schedule"]
    total = settings["epochs"] * per_epoch
    if name == "step":
        every = settings["step_every"] * per_epoch or total // 3
        return schedules.step_decay(eta, settings["step_factor"], max(1, every))
    if name == "exponential":
        return schedules.exponential(eta, settings["exponential_final"], max(1, total))
    if name == "cosine":
        warmup = settings["warmup_epochs"] * per_epoch
        return schedules.cosine(eta, max(total, warmup + 1), warmup)
    if name == "halve-on-plateau":
        return schedules.HalveOnPlateau(eta, patience=settings["plateau_patience"])
    return eta


@dataclass
class RunResult:
    """What a training run left: its folder, the trained network, the history and the summary."""

    folder: Path
    network: Network
    history: History
    summary: dict[str, Any]

    @property
    def interrupted(self) -> bool:
        return self.history.interrupted


def train(
    settings: Mapping[str, Any],
    folder: str | Path,
    *,
    recipe: str | None = None,
    quiet: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    feed: Feed | None = None,
) -> RunResult:
    """Train the run ``settings`` describe into ``folder``, which must be new or empty — or, with
    ``overwrite``, a run folder, emptied first. Nothing is written before the data and the network
    have been checked, and a run that fails before its first epoch ends leaves nothing behind.

    Ctrl-C stops after the current batch and keeps the last complete epoch (``interrupted``);
    a diverging run saves the last good model and raises :class:`ffnn.TrainingDivergedError`.
    With a ``feed``, the run is published to it as it trains (:class:`ffnn.live.LiveView`), its
    ``summary`` when it ends. Under an MPI launcher the ranks train together and rank 0 alone
    writes and prints (the others are quiet, their results those of rank 0).
    """
    folder = Path(folder)
    if settings.get("hidden"):  # the sizes will come from the data (a table resolved before carries the default)
        settings = {k: v for k, v in settings.items() if k != "sizes"}
    settings = settings_table.resolve(settings_table.Layer(settings, settings_table.as_written))  # whole, checked
    data = load_data(settings)
    settings = resolve_sizes(settings, data)
    network = build_network(settings)
    _check_data(network, data)
    comm = distributed.world()
    created = bool(distributed.on_root(comm, lambda: _start_folder(folder, overwrite, settings, recipe)))
    epochs = _EpochCount()
    try:
        result = _fit(settings, folder, network, data, None, recipe, quiet, [*callbacks, epochs], feed=feed)
    except TrainingDivergedError:
        raise  # the folder keeps the last good model, saying it diverged
    except BaseException:
        if not epochs.count and distributed.rank(comm) == 0:
            _release_folder(folder, created)
        raise
    if result.interrupted and not epochs.count and distributed.rank(comm) == 0:  # Ctrl-C before any epoch ended
        _release_folder(folder, created)
    return result


def _start_folder(folder: Path, overwrite: bool, settings: Mapping[str, Any], recipe: str | None) -> bool:
    """Claim ``folder`` and write config.toml (undone if that fails); return whether it was created."""
    created = _claim_folder(folder, overwrite)
    try:
        _prepare_folder(folder, settings, recipe)
    except BaseException:
        _release_folder(folder, created)
        raise
    return created


def load_data(settings: Mapping[str, Any], classes: list[str] | None = None) -> named.Splits:
    """The data set a resolved settings table names, split as it says."""
    return data_of_run(settings, classes, settings["dtype"])


def data_of_run(config: Mapping[str, Any], classes: list[str] | None = None, dtype: str = "float32") -> named.Splits:
    """The data of the run whose settings (``config.toml``, or a model's ``metadata["config"]``)
    are ``config``, split as that run split it (``settings.of_run``: those it lacks as it ran)."""
    s = settings_table.of_run(config)
    return named.load(
        s["dataset"], s["validation"], s["seed"], dtype,
        label=named.label_column(s["label_column"]) if named.is_csv(s["dataset"]) else None,
        test_fraction=s["test_fraction"], classes=classes, test_file=s["test"], regression=is_regression(s),
    )  # fmt: skip


def resolve_sizes(settings: Mapping[str, Any], data: named.Splits) -> dict[str, Any]:
    """``settings`` with ``sizes`` = [inputs, *hidden, outputs] from the data when ``hidden`` is given
    (and ``hidden`` then cleared: the resolved sizes are what config.toml and the model keep);
    the class names checked against the output layer."""
    settings = dict(settings)
    X = data.train[0]
    n_classes = _class_count(data)
    if is_regression(settings) and not settings["output_activation"]:
        settings["output_activation"] = "identity"  # targets are any real numbers
    hidden = settings_table.hidden_sizes(settings)
    if hidden:
        settings["sizes"], settings["hidden"] = [int(np.shape(X)[1]), *hidden, n_classes], ""
    elif (
        data.classes is not None
        and settings["sizes"][-1] != len(data.classes)
        and not (settings["sizes"][-1] == 1 and len(data.classes) == 2)
    ):
        raise ParameterError(
            f"sizes ends in {settings['sizes'][-1]} outputs, but {settings['dataset']} has {len(data.classes)} "
            f"classes ({', '.join(data.classes)}): end sizes in {len(data.classes)}, or give --hidden instead."
        )
    return settings


def _class_count(data: named.Splits) -> int:
    if data.classes is not None:
        return len(data.classes)
    labels = [np.asarray(split[1]) for split in (data.train, data.validation, data.test) if split is not None]
    if any(y.ndim != 1 for y in labels):  # targets, one column per output
        return int(labels[0].shape[1])
    return max(2, max(int(y.max()) for y in labels if len(y)) + 1)


def input_statistics(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of each input over the rows of ``X``; a constant input's std is taken as 1."""
    X = np.asarray(X, dtype=np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std < 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
    return mean, std


def run_tag(settings: Mapping[str, Any]) -> str:
    """A fingerprint of the settings that decide a run's numbers, stored in its checkpoints.

    The backend and device are left out: checkpoints hold NumPy arrays and resume on any backend
    (to rounding, the same numbers), and run folders from before there were backends keep their tags."""
    ignored = ("checkpoint_", "keep_checkpoints", "backend", "device")
    decisive = {k: v for k, v in settings.items() if not k.startswith(ignored)}
    return hashlib.sha256(settings_table.to_toml(decisive).encode()).hexdigest()[:16]


def resume(
    folder: str | Path, *, quiet: bool = False, callbacks: Sequence[Callback] = (), feed: Feed | None = None
) -> RunResult:
    """Continue the run in ``folder`` from its newest checkpoint that loads, with its own config.toml.

    Refused when the folder is no run folder, or when the checkpoint was written by a run with
    other settings or is of an epoch outside the run. A damaged newest checkpoint (a crash while
    it was written) is passed over, with a warning, for the one before it. A complete run's model
    and summary are written again from its last checkpoint (a kill may have come between them).
    """
    folder = Path(folder)
    config = folder / "config.toml"
    if not config.is_file():
        raise RunFolderError(f"{folder} is not a run folder (no config.toml); name a folder that ffnn train wrote.")
    own = settings_table.Layer(settings_table.read(config), settings_table.in_file(config), unused="drop")
    settings = settings_table.resolve(own)  # the run's own file, as an older ffnn may have written it
    found = checkpoint.load_newest(folder / "checkpoints")
    newest = checkpoint.latest(folder / "checkpoints")
    if found is None and newest is not None:  # there are some, and none loads
        try:
            checkpoint.load(newest)  # raises what is wrong with the newest, naming it
        except ModelFileError as e:
            raise ModelFileError(f"{e} No earlier checkpoint loads either.") from e
    if found is None:
        raise RunFolderError(
            f"{folder} has no checkpoint that loads (checkpoints/checkpoint-*.npz): the run stopped before its "
            f"first one. Start it again: ffnn train --config {config} --out {folder} --overwrite"
        )
    path, state, problems = found
    root = distributed.rank(distributed.world()) == 0
    for problem in problems if root else ():
        print(f"ffnn: warning: {problem} Resuming from an earlier checkpoint, {path.name}.", file=sys.stderr)
    if state.get("run", run_tag(settings)) != run_tag(settings):
        raise RunFolderError(
            f"{path} belongs to another run: it was written with settings other than those of {config}. "
            "Resume with the config.toml it was written with, or start a new run (--out NEW, or --overwrite)."
        )
    last = settings["epochs"] - 1
    if not 0 <= state["epoch"] <= last:
        raise RunFolderError(
            f"{path} is of epoch {state['epoch']}, but the run's epochs are 0 to {last}: it does not belong to "
            f"{config}. Start a new run (--out NEW, or --overwrite)."
        )
    finished = state.get("finished") is True or state["epoch"] == last
    quiet = quiet or not root
    if finished and not quiet:  # killed between its last checkpoint and its model, say: finish that
        print(f"The run in {folder} is complete; writing its model and summary again from {path.name}.")
    for orphan in folder.glob(".*.tmp") if root else ():  # the remains of a write that a kill cut short
        orphan.unlink(missing_ok=True)
    if not (quiet or finished):
        print(f"Resuming {folder} after epoch {state['epoch']} ({path.name})")
    network = build_network(settings)
    data = load_data(settings)
    epochs = state["epoch"] + 1 if finished else None  # a finished run trains no further
    return _fit(settings, folder, network, data, state, None, quiet, callbacks, epochs, feed)


class _EpochCount(Callback):
    """How many epochs ended (to tell a failed start from a run that has something to keep)."""

    def __init__(self) -> None:
        self.count = 0

    def on_epoch_end(self, network: Network, history: History) -> bool:
        self.count += 1
        return False


def _fit(
    settings: Mapping[str, Any],
    folder: Path,
    network: Network,
    data: named.Splits,
    state: dict[str, Any] | None,
    recipe: str | None,
    quiet: bool,
    extra: Sequence[Callback],
    epochs: int | None = None,
    feed: Feed | None = None,
) -> RunResult:
    X, y = data.train
    network.classes = data.classes
    if settings.get("standardize"):  # from the training split only, before anything is scored
        network.standardization = input_statistics(X)
    options, callbacks = build_training(settings, len(X))
    if epochs is not None:
        options["epochs"] = epochs
    comm = distributed.world()
    if distributed.rank(comm) != 0:  # another rank of an MPI run: it trains, rank 0 writes and prints
        return _fit_quietly(network, data, state, options, [*callbacks, *extra], comm, folder)
    callbacks += [
        GradientNorms(X[:_GRADIENT_PROBE], y[:_GRADIENT_PROBE]),
        TrainingAccuracy(X[:_ACCURACY_SAMPLE], y[:_ACCURACY_SAMPLE]),
        MetricsLog(folder / "metrics.csv", seconds=_METRICS_SECONDS),
    ]
    n_batches = count_batches(len(X), settings["batch_size"], settings["batches_per_epoch"] or None)
    if not quiet:
        callbacks += [ProgressBar(n_batches), EpochTable(costs=is_regression(settings))]
    callbacks += extra
    if feed is not None:
        held_out = data.validation if data.validation is not None else data.test
        callbacks.append(LiveView(feed, (X[:_LIVE_PROBE], y[:_LIVE_PROBE]), held_out, n_batches, len(X)))
    interrupt = StopOnInterrupt()
    callbacks += [interrupt, _checkpointer(settings, folder)]
    start = time.perf_counter()
    try:
        with interrupt:
            history = fit(
                network, X, y, test_data=data.test, validation_data=data.validation, callbacks=callbacks,
                resume=state, comm=comm, **options,
            )  # fmt: skip
    except TrainingDivergedError as e:
        save(network, folder / "model.npz", {"config": dict(settings), "summary": {"diverged": True}})
        error = TrainingDivergedError(f"{e} The last good model is in {folder / 'model.npz'}.")
        if feed is not None:
            feed.set("status", {"state": "diverged", "message": str(error)})
        raise error from e
    history.interrupted = history.interrupted or interrupt.requested  # Ctrl-C between two epochs too
    summary = _summary(history, settings, recipe, time.perf_counter() - start)
    summary["processes"] = 1 if comm is None else int(comm.Get_size())  # data-parallel over MPI: K ranks
    if is_regression(settings):  # accuracy means nothing here: MSE and R² of the test split instead
        summary.update(final_test_accuracy=None, best_test=None, task="regression")
        try:
            summary.update(_regression_scores(network, data.test) if data.test is not None else {})
        except NonFiniteOutputError:  # the trained model overflows on the test split: it has no scores (kept)
            summary.update(test_mse=None, test_r2=None)
    network.metadata = {"config": dict(settings), "summary": summary}
    save(network, folder / "model.npz")
    with atomic_open(folder / "summary.json") as f:
        f.write(json.dumps(summary, indent=2).encode())
    if feed is not None:
        feed.set("summary", summary)
        if history.interrupted:  # Ctrl-C between two epochs too (the live view saw a finished epoch)
            feed.set("status", {"state": "interrupted"})
    return RunResult(folder, network, history, summary)


def _fit_quietly(
    network: Network,
    data: named.Splits,
    state: dict[str, Any] | None,
    options: dict[str, Any],
    callbacks: list[Callback],
    comm: Any,
    folder: Path,
) -> RunResult:
    """A rank other than 0 of an MPI run: the same training (the callbacks that change it, and
    Ctrl-C), nothing written or printed; its result is rank 0's but for the summary."""
    interrupt = StopOnInterrupt()
    with interrupt:
        history = fit(
            network, *data.train, test_data=data.test, validation_data=data.validation,
            callbacks=[*callbacks, interrupt], resume=state, comm=comm, **options,
        )  # fmt: skip
    history.interrupted = history.interrupted or interrupt.requested
    return RunResult(folder, network, history, {})


def _regression_scores(network: Network, test: named.Split) -> dict[str, float]:
    """The test split's mean squared error (over every target) and R² (1 − SSE / SST, averaged over targets)."""
    X, Y = test
    Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
    A = np.asarray(network.outputs(X), dtype=np.float64)
    sse, sst = ((A - Y) ** 2).sum(axis=0), ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), 0.0)
    return {"test_mse": float(((A - Y) ** 2).mean()), "test_r2": float(r2.mean())}


def _checkpointer(settings: Mapping[str, Any], folder: Path) -> checkpoint.Checkpointer:
    every = settings["checkpoint_every"] or None
    return checkpoint.Checkpointer(
        folder / "checkpoints", every, settings["keep_checkpoints"], None if every else settings["checkpoint_seconds"],
        tag=run_tag(settings),
    )  # fmt: skip


def _check_data(network: Network, data: named.Splits) -> None:
    """Every split's inputs and targets fit the network — checked before any file is written."""
    for name, split in (("training", data.train), ("validation", data.validation), ("test", data.test)):
        if split is not None:
            X = as_inputs(split[0], network.sizes[0], network.dtype, f"the {name} inputs")
            network.check_targets(split[1], len(X), f"the {name} labels")


def _claim_folder(folder: Path, overwrite: bool) -> bool:
    """Make ``folder`` ready for a new run; return whether it was created. A non-empty folder is
    refused, or with ``overwrite`` emptied — if it is a run folder (it has a config.toml)."""
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{folder} is a file, not a folder; choose another --out.")
    contents = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if contents and not overwrite:
        shown = ", ".join(contents[:4]) + (", …" if len(contents) > 4 else "")
        raise RunFolderError(
            f"{folder} is not empty ({shown}). Continue that run with ffnn train --resume {folder}, replace it "
            "with --overwrite, or choose another --out."
        )
    if contents and "config.toml" not in contents:
        raise RunFolderError(
            f"{folder} is not a run folder (no config.toml), so --overwrite will not empty it; choose another --out."
        )
    for name in contents:
        path = folder / name
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot write the run folder {folder}: {e.strerror or e}; choose another with --out") from e
    return created


def _release_folder(folder: Path, created: bool) -> None:
    """Undo a start that failed: the folder as it was (gone if this run created it, else empty)."""
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for path in folder.iterdir():
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() else path.unlink(
            missing_ok=True
        )


def _prepare_folder(folder: Path, settings: Mapping[str, Any], recipe: str | None) -> None:
    """Write config.toml — before training, so an unwritable folder fails first."""
    try:
        settings_table.write(folder / "config.toml", settings, f"ffnn {__version__} — {recipe or 'custom'} run")
    except OSError as e:
        raise OSError(f"cannot write the run folder {folder}: {e.strerror or e}; choose another with --out") from e


def _summary(history: History, settings: Mapping[str, Any], recipe: str | None, seconds: float) -> dict[str, Any]:
    def best(values: list[float | None]) -> dict[str, Any] | None:
        found = best_epoch(values, history.epoch)  # ties: the earliest epoch, as early stopping decides
        return None if found is None else {"accuracy": found[0], "epoch": found[1]}

    done = bool(history.epoch)
    return {
        "recipe": recipe,
        "epochs_completed": len(history.epoch),
        "interrupted": history.interrupted,
        "final_test_accuracy": history.test_accuracy[-1] if done else None,
        "best_test": best(history.test_accuracy),
        "final_validation_accuracy": history.validation_accuracy[-1] if done else None,
        "best_validation": best(history.validation_accuracy),
        "final_train_cost": history.train_cost[-1] if done else None,
        "epoch_seconds": history.seconds,
        "wall_seconds": seconds,
        "ffnn_version": __version__,
        "seed": settings["seed"],
    }


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
    config = settings_table.of_run(network.metadata.get("config", {}))
    name = dataset or config["dataset"]
    regression = is_regression(config)
    if dataset is None:  # the run's own data, split as it was
        data = data_of_run(config, network.classes)
    else:
        label = named.label_column(config["label_column"]) if named.is_csv(name) else None
        data = named.load(name, 0, config["seed"], label=label, classes=network.classes, regression=regression)
        if data.test is None and named.is_file(name):  # a file of its own: all of it is the test
            data = named.Splits(data.train, None, data.train, data.classes)
    if data.classes is not None and network.classes is None:
        raise ParameterError(
            f"{name} labels its examples by class names, but {model} was trained on class indices (it has no "
            "class names); evaluate it on data labelled by index."
        )
    parts = {"test": data.test, "validation": data.validation, "train": data.train}
    if split not in parts:
        raise ParameterError(f"The 'split' parameter must be one of {sorted(parts)}. Got {split!r} instead.")
    part = parts[split]
    if part is None:
        raise ParameterError(f"the dataset {name!r} has no {split} split")
    X, y = part
    if regression:
        scores = _regression_scores(network, part)
        return Evaluation(
            name, split, len(y), float("nan"), network.cost(X, y), network.cost_function.name, np.zeros((0, 0), int),
            mse=scores["test_mse"], r2=scores["test_r2"],
        )  # fmt: skip
    predicted = network.predict(X)  # refused first if the outputs are not finite (ffnn.outputs)
    accuracy, cost = network.score(X, y)
    confusion = confusion_matrix(y, predicted, max(network.sizes[-1], 2))
    return Evaluation(name, split, len(y), accuracy, cost, network.cost_function.name, confusion, network.classes)
