"""Runs: a configuration (``ffnn.config``) → data, network and callbacks (``ffnn.build``) → a run
folder (``ffnn.folder``) with its config, metrics, model, checkpoints and summary; ``resume``
continues one. The command line and the live page train through here; none of them holds
training logic of its own.

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

import contextlib
import functools
import hashlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ffnn import checkpoint, distributed, environment, runs
from ffnn import folder as run_folder
from ffnn import settings as settings_table
from ffnn._files import atomic_open
from ffnn._version import __version__
from ffnn.build import (
    build_network,
    build_training,
    check_data,
    input_statistics,
    learning_rate,
    load_data,
    planned_for_length,
    resolve_sizes,
)
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
from ffnn.config import RunConfig, of_values
from ffnn.data import named
from ffnn.data.arrays import index_names
from ffnn.errors import ModelFileError, NonFiniteOutputError, RunFolderError, SettingError, TrainingDivergedError
from ffnn.evaluate import regression_scores
from ffnn.feed import Feed
from ffnn.live import LiveView
from ffnn.monitor import best_epoch
from ffnn.network import Network
from ffnn.schedules import HalveOnPlateau
from ffnn.serialization import save
from ffnn.state import History
from ffnn.training import count_batches, fit

_GRADIENT_PROBE, _ACCURACY_SAMPLE = 1000, 10_000  # training examples the figures' callbacks look at
_LIVE_PROBE = 256  # training examples whose gradient the live page shows (every second)
_METRICS_SECONDS = 2.0  # metrics.csv is rewritten at most this often (and at the end)


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
    config: RunConfig | Mapping[str, Any],
    folder: str | Path,
    *,
    recipe: str | None = None,
    quiet: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    feed: Feed | None = None,
) -> RunResult:
    """Train the run ``config`` describes into ``folder``, which must be new or empty — or, with
    ``overwrite``, a run folder, emptied first. Nothing is written before the data and the network
    have been checked, and a run that fails before its first epoch ends leaves nothing behind.

    ``config`` may also be a table of settings by name, the rest defaulting (``config.of_values``).

    Ctrl-C stops after the current batch and keeps the last complete epoch (``interrupted``);
    a diverging run saves the last good model and raises :class:`ffnn.TrainingDivergedError`.
    With a ``feed``, the run is published to it as it trains (:class:`ffnn.live.LiveView`), its
    ``summary`` when it ends. Under an MPI launcher the ranks train together and rank 0 alone
    writes and prints (the others are quiet, their results those of rank 0).
    """
    folder = Path(folder)
    with distributed.starting():  # under MPI: every rank's checks agreed before the first collective
        if not isinstance(config, RunConfig):
            config = of_values(config)
        data = load_data(config)
        config = resolve_sizes(config, data)
        network = build_network(config)
        check_data(network, data)
        distributed.agree(functools.partial(_shared, config, data), config.mpi_timeout)
    comm = distributed.world()
    start = functools.partial(_start, folder, overwrite, config, recipe)
    created = bool(distributed.on_root(comm, start, config.mpi_timeout))
    epochs = _EpochCount()
    try:
        with _training(folder, comm):
            result = _fit(config, folder, network, data, None, recipe, quiet, [*callbacks, epochs], feed=feed)
    except TrainingDivergedError:
        raise  # the folder keeps the last good model, saying it diverged
    except BaseException:
        if not epochs.count and distributed.rank(comm) == 0:
            run_folder.release(folder, created)
        raise
    if result.interrupted and not epochs.count and distributed.rank(comm) == 0:  # Ctrl-C before any epoch ended
        run_folder.release(folder, created)
    return result


def _start(folder: Path, overwrite: bool, config: RunConfig, recipe: str | None) -> bool:
    """``folder.start`` — but not in a folder that another process trains, which ``overwrite``
    would empty under it."""
    if folder.is_dir() and runs.is_running(folder):
        raise RunFolderError(
            f"{folder} is being trained by another process; wait for it to end, or choose another --out"
        )
    return run_folder.start(folder, overwrite, config, recipe)


def run_tag(config: RunConfig) -> str:
    """A fingerprint of the settings that decide a run's numbers, stored in its checkpoints.

    The backend and device are left out: checkpoints hold NumPy arrays and resume on any backend
    (to rounding, the same numbers), and run folders from before there were backends keep their tags."""
    return hashlib.sha256(settings_table.to_toml(_decisive(config)).encode()).hexdigest()[:16]


_SESSION = ("checkpoint_", "keep_checkpoints", "backend", "device", "mpi_", "threads")  # see session_setting


def session_setting(name: str) -> bool:
    """Whether the setting ``name`` is one of how a run is saved, where it runs (on how many
    threads, too) and how long an MPI rank waits for the others: not one that decides its numbers,
    so a resumed run may change it (:func:`resume`'s ``session``)."""
    return name.startswith(_SESSION)


def _decisive(config: RunConfig) -> dict[str, Any]:
    """The settings that decide a run's numbers: all but the session's (:func:`session_setting`)."""
    table = {k: v for k, v in config.table().items() if not session_setting(k)}
    # settings added since checkpoints were tagged: at their defaults (what every earlier run did), left out
    return {k: v for k, v in table.items() if not (k in _SINCE_TAGGED and v == settings_table.DEFAULTS[k])}


_SINCE_TAGGED = ("reduction", "biases")  # issue 23


def _shared(config: RunConfig, data: named.Splits, **more: str) -> dict[str, str]:
    """What every rank of an MPI run must hold alike (``distributed.agree``), as a message shows
    it: ffnn's version, each setting that decides the numbers but the data files' paths — their
    contents are compared instead: the data's shapes, classes and digest — and ``more``."""
    facts = {"ffnn": __version__}
    facts.update((k, repr(v)) for k, v in _decisive(config).items() if k not in ("dataset", "test"))
    named_splits = (("training", data.train), ("validation", data.validation), ("test", data.test))
    splits = [(n, s) for n, s in named_splits if s is not None]
    shapes = ", ".join(f"{n} {'×'.join(map(str, np.shape(s[0])))}" for n, s in splits)
    facts["classes"] = repr(data.classes)
    facts["data"] = f"{shapes}, digest {distributed.digest(a for _, s in splits for a in s)}"
    return {**facts, **more}


def resume(
    folder: str | Path,
    *,
    quiet: bool = False,
    callbacks: Sequence[Callback] = (),
    feed: Feed | None = None,
    epochs: int | None = None,
    replan_schedule: bool = False,
    session: Mapping[str, Any] | None = None,
) -> RunResult:
    """Continue the run in ``folder`` from its newest checkpoint that loads, with its own config.toml
    — but for the ``session`` settings given, of where it runs and how it is saved
    (:func:`session_setting`: ``threads``, ``backend``, ``device``, ``mpi_timeout``,
    ``checkpoint_every``, …), which its config.toml then records.

    Refused when the folder is no run folder, or when the checkpoint was written by a run with
    other settings or is of an epoch outside the run. A damaged newest checkpoint (a crash while
    it was written) is passed over, with a warning, for the one before it. A complete run's model
    and summary are written again from its last checkpoint (a kill may have come between them).

    With ``epochs``, the run — finished or interrupted — is trained on (or only) to that many
    epochs in the same folder, its config.toml saying so: exactly the run that ``epochs`` would
    have been from the start, bit for bit, unless its learning rate follows a plan drawn for its
    old length (``build.planned_for_length``: cosine, warm-up, exponential, step decay every third
    of the run). Such a run is refused unless ``replan_schedule``: then the epochs left follow the
    schedule as planned for ``epochs`` from the start (η jumps to where that plan is). A run that
    early stopping ended continues from its last epoch's parameters — not the best epoch's, which
    its model.npz holds — and its patience counts afresh from there, the best so far standing. A
    run that halve-on-plateau ended (η at its floor) is refused: the run of ``epochs`` ends there too.
    """
    folder = Path(folder)
    with distributed.starting():  # under MPI: every rank's checks agreed before the first collective
        config, network, data, state, until, quiet = _resume_start(folder, quiet, epochs, replan_schedule, session)
        facts = functools.partial(_shared, config, data, checkpoint=f"epoch {state['epoch']}")
        distributed.agree(facts, config.mpi_timeout)
    comm = distributed.world()
    recipe = run_folder.recipe_of(folder)
    with _training(folder, comm):  # nothing written before this process holds the folder
        for orphan in folder.glob(".*.tmp") if distributed.rank(comm) == 0 else ():  # a write a kill cut short
            orphan.unlink(missing_ok=True)
        extending = "extended_to" in state  # asked for, or one that a kill cut short (_resume_start)
        if extending or session:  # by rank 0; the others hear whether it could
            record = _record_extension if extending else _record_session
            distributed.on_root(comm, functools.partial(record, folder, config, recipe, state), config.mpi_timeout)
        return _fit(config, folder, network, data, state, recipe, quiet, callbacks, until, feed)


def _training(folder: Path, comm: Any) -> contextlib.AbstractContextManager[None]:
    """The folder marked as being trained by this process (``runs.training``: by rank 0 of an MPI run)."""
    return runs.training(folder) if distributed.rank(comm) == 0 else contextlib.nullcontext()


def _resume_start(
    folder: Path,
    quiet: bool,
    extend_to: int | None = None,
    replan_schedule: bool = False,
    session: Mapping[str, Any] | None = None,
) -> tuple[RunConfig, Network, named.Splits, dict[str, Any], int | None, bool]:
    """What :func:`resume` continues from — the run's config (``extend_to`` epochs long, when
    given; its ``session`` settings changed), its network, data and newest checkpoint that loads,
    the epochs to train (None: all), whether to stay quiet — checked."""
    file = folder / "config.toml"
    config = runs.read_config(folder)  # the run's own file, as an older ffnn may have written it
    deciding = sorted(k for k in session or {} if not session_setting(k))
    if deciding:
        raise SettingError(
            f"{', '.join(deciding)} decide{'s' * (len(deciding) == 1)} the run's numbers: a resumed run keeps its own "
            "(those of where it runs and how it is saved may change)."
        )
    if session:
        config = config.replace(**session)  # checked as the caller's words
    network = build_network(config)  # the run's: a checkpoint whose parameters do not fit it is passed over
    found = checkpoint.load_newest(folder / "checkpoints", network)
    newest = checkpoint.latest(folder / "checkpoints")
    if found is None and newest is not None:  # there are some, and none loads
        try:
            checkpoint.load(newest, network)  # raises what is wrong with the newest, naming it
        except ModelFileError as e:
            raise ModelFileError(f"{e} No earlier checkpoint loads either.") from e
    if found is None:
        raise RunFolderError(
            f"{folder} has no checkpoint that loads (checkpoints/checkpoint-*.npz): the run stopped before its "
            f"first one. Start it again: ffnn train --config {file} --out {folder} --overwrite"
        )
    path, state, problems = found
    root = distributed.rank(distributed.world()) == 0
    for problem in problems if root else ():
        print(f"ffnn: warning: {problem} Resuming from an earlier checkpoint, {path.name}.", file=sys.stderr)
    cut_short = state.get("extended_to")  # the length of an extension whose config.toml was not written (a kill)
    if (
        extend_to is None
        and isinstance(cut_short, int)
        and cut_short != config.epochs
        and state.get("run") == run_tag(config.replace(epochs=cut_short))
    ):
        extend_to, replan_schedule = cut_short, True  # as it was asked for: the checkpoint says so
        if root and not quiet:
            print(f"{folder} was being trained on to {cut_short} epochs when it stopped: continuing that.")
    longer = config if extend_to is None else config.replace(epochs=extend_to)  # checked as the caller's words
    if state.get("run", run_tag(config)) not in (run_tag(config), run_tag(longer)):  # longer: an extension cut short
        raise RunFolderError(
            f"{path} belongs to another run: it was written with settings other than those of {file}. "
            "Resume with the config.toml it was written with, or start a new run (--out NEW, or --overwrite)."
        )
    last = max(config.epochs, longer.epochs) - 1
    if not 0 <= state["epoch"] <= last:
        raise RunFolderError(
            f"{path} is of epoch {state['epoch']}, but the run's epochs are 0 to {last}: it does not belong to "
            f"{file}. Start a new run (--out NEW, or --overwrite)."
        )
    if extend_to is not None:
        config, state = _extended(folder, config, extend_to, replan_schedule, state)
        last = extend_to - 1
    finished = state.get("finished") is True or state["epoch"] == last
    quiet = quiet or not root
    if finished and not quiet:  # killed between its last checkpoint and its model, say: finish that
        print(f"The run in {folder} is complete; writing its model and summary again from {path.name}.")
    if not (quiet or finished):
        to = f", to {extend_to} epochs" if extend_to is not None else ""
        print(f"Resuming {folder} after epoch {state['epoch']}{to} ({path.name})")
    data = load_data(config)
    outputs = network.sizes[-1]
    if data.classes is not None and outputs not in (len(data.classes), 1 if len(data.classes) == 2 else 0):
        # begun by ffnn 0.1, which numbered integer labels by value (3, 5, 8: 9 outputs): encode them so
        data = replace(load_data(config, index_names(outputs)), classes=None)
    epochs = state["epoch"] + 1 if finished else None  # a finished run trains no further
    return config, network, data, state, epochs, quiet


def _extended(
    folder: Path, config: RunConfig, epochs: int, replan_schedule: bool, state: dict[str, Any]
) -> tuple[RunConfig, dict[str, Any]]:
    """The config and checkpoint state of the run in ``folder`` trained on to ``epochs`` (see
    :func:`resume`), checked: more epochs than it has trained, a schedule not planned for its old
    length unless ``replan_schedule``, and not a run that halve-on-plateau ended (η at its floor:
    the run of ``epochs`` ends there too). A run whose early stopping has run out of patience —
    which ended it, or would end it after its next epoch — has its patience count from its last
    epoch (its best so far stands)."""
    done = state["epoch"] + 1
    if epochs <= done:
        raise SettingError(
            f"{folder} has trained {done} epoch{'s' * (done > 1)} already: give --epochs more than {done}, the "
            "number of epochs to train it to."
        )
    if epochs != config.epochs and planned_for_length(config) and not replan_schedule:
        raise SettingError(
            f"{folder}'s learning rate follows a {config.schedule} schedule planned for its {config.epochs} epochs, "
            f"so trained on to {epochs} it would not be the run of {epochs} epochs. Add --replan-schedule to train "
            f"the epochs left on the schedule planned for {epochs} (η jumps to where that plan is at epoch {done}), "
            f"or start a new run with --epochs {epochs}."
        )
    rate = learning_rate(config, 1)
    if isinstance(rate, HalveOnPlateau) and HalveOnPlateau.state_key in state["callbacks"]:
        rate.load_state_dict(state["callbacks"][HalveOnPlateau.state_key])
        if rate.exhausted:
            raise SettingError(
                f"{folder} ended when halve-on-plateau had halved η to η₀/{rate.stop_below:g} ({rate.value:g}), where "
                f"it stops a run: the run of {epochs} epochs ends there too. Start a new run (--out NEW) with "
                "another schedule or a larger --plateau-patience to train longer."
            )
    stopping = state["callbacks"].get(EarlyStopping.state_key)
    if config.patience and stopping and state["epoch"] - stopping["epoch"] >= config.patience:
        state["callbacks"][EarlyStopping.state_key] = {**stopping, "epoch": state["epoch"]}  # patience afresh
    state = {k: v for k, v in state.items() if k != "finished"}
    longer = config.replace(epochs=epochs)
    return longer, {**state, "run": run_tag(longer), "extended_to": epochs}


def _record_extension(folder: Path, config: RunConfig, recipe: str | None, state: dict[str, Any]) -> None:
    """Make the folder the longer run's: its newest checkpoint retagged (no longer finished), its
    summary.json removed (the run has not ended), then its config.toml — in this order, so a kill
    at any point leaves a folder that reads as interrupted (not finished at its old length) and
    that the same ``--resume RUN --epochs N`` continues (``_resume_start`` accepts the longer
    run's tag)."""
    checkpoint.save(state["path"], {k: v for k, v in state.items() if k != "path"})
    (folder / "summary.json").unlink(missing_ok=True)
    run_folder.write_config(folder, config, recipe, "make room or make it writable, then run the same command again")


def _record_session(folder: Path, config: RunConfig, recipe: str | None, state: dict[str, Any]) -> None:
    """Record in config.toml the session settings a resumed run changed (its checkpoints stand)."""
    run_folder.write_config(folder, config, recipe, "make room or make it writable, then run the same command again")


class _EpochCount(Callback):
    """How many epochs ended (to tell a failed start from a run that has something to keep)."""

    def __init__(self) -> None:
        self.count = 0

    def on_epoch_end(self, network: Network, history: History) -> bool:
        self.count += 1
        return False


def _fit(
    config: RunConfig,
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
    if config.standardize:  # from the training split only, before anything is scored
        network.standardization = input_statistics(X)
    options, callbacks = build_training(config, len(X))
    if epochs is not None:
        options["epochs"] = epochs
    strategy = distributed.strategy_for(distributed.world(), config.mpi_timeout)  # the loop's: over MPI, DataParallel
    if not strategy.root:  # another rank of an MPI run: it trains, rank 0 writes and prints
        return _fit_quietly(network, data, state, options, [*callbacks, *extra], strategy, folder)
    log = MetricsLog(folder / "metrics.csv", seconds=_METRICS_SECONDS)
    callbacks += [
        GradientNorms(X[:_GRADIENT_PROBE], y[:_GRADIENT_PROBE]),
        TrainingAccuracy(X[:_ACCURACY_SAMPLE], y[:_ACCURACY_SAMPLE]),
        log,
    ]
    n_batches = count_batches(len(X), config.batch_size, config.batches_per_epoch or None)
    if not quiet:
        # over MPI, rank 0's stderr is the launcher's pipe: the bar is drawn where mpiexec's stderr is a terminal
        terminal = distributed.launcher_terminal() if strategy.size > 1 else None
        callbacks += [ProgressBar(n_batches, terminal=terminal), EpochTable(costs=config.regression)]
    callbacks += extra
    if feed is not None:
        held_out = data.validation if data.validation is not None else data.test
        callbacks.append(LiveView(feed, (X[:_LIVE_PROBE], y[:_LIVE_PROBE]), held_out, n_batches, len(X)))
    interrupt = StopOnInterrupt()
    callbacks += [interrupt, _checkpointer(config, folder)]
    start = time.perf_counter()
    try:
        with interrupt:
            history = fit(
                network, X, y, test_data=data.test, validation_data=data.validation, callbacks=callbacks,
                resume=state, strategy=strategy, **options,
            )  # fmt: skip
    except TrainingDivergedError as e:
        log.flush()  # the epochs before it, as ffnn runs lists them
        save(network, folder / "model.npz", {"config": config.table(), "summary": {"diverged": True}})
        error = TrainingDivergedError(f"{e} The last good model is in {folder / 'model.npz'}.")
        if feed is not None:
            feed.set("status", {"state": "diverged", "message": str(error)})
        raise error from e
    history.interrupted = history.interrupted or interrupt.requested  # Ctrl-C between two epochs too
    earlier = sum(history.seconds[: state["epoch"] + 1]) if state is not None else 0.0  # resumed: the epochs before
    summary = _summary(history, config, recipe, earlier + time.perf_counter() - start)
    summary["processes"] = strategy.size  # data-parallel over MPI: K ranks
    if config.regression:  # accuracy means nothing here: MSE and R² of the test split instead
        summary.update(final_test_accuracy=None, best_test=None, task="regression")
        try:
            summary.update(regression_scores(network, data.test) if data.test is not None else {})
        except NonFiniteOutputError:  # the trained model overflows on the test split: it has no scores (kept)
            summary.update(test_mse=None, test_r2=None)
    network.metadata = {"config": config.table(), "summary": summary}
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
    strategy: distributed.SingleProcess,
    folder: Path,
) -> RunResult:
    """A rank other than 0 of an MPI run: the same training (the callbacks that change it, and
    Ctrl-C), nothing written or printed; its result is rank 0's but for the summary."""
    interrupt = StopOnInterrupt()
    with interrupt:
        history = fit(
            network, *data.train, test_data=data.test, validation_data=data.validation,
            callbacks=[*callbacks, interrupt], resume=state, strategy=strategy, **options,
        )  # fmt: skip
    history.interrupted = history.interrupted or interrupt.requested
    return RunResult(folder, network, history, {})


def _checkpointer(config: RunConfig, folder: Path) -> checkpoint.Checkpointer:
    every = config.checkpoint_every or None
    return checkpoint.Checkpointer(
        folder / "checkpoints", every, config.keep_checkpoints, None if every else config.checkpoint_seconds,
        tag=run_tag(config),
    )  # fmt: skip


def _summary(history: History, config: RunConfig, recipe: str | None, seconds: float) -> dict[str, Any]:
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
        "seed": config.seed,
        "environment": environment.recorded(config.backend),  # what reproducing the run needs
    }
