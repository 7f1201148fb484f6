"""Run folders read back: what a run left — its settings, how it ended, its scores, its time — as
one :class:`RunSummary`, whatever state the folder is in. ``ffnn sweep``'s table reads its runs
through :func:`read` (and so will a listing of run folders): one reader, one meaning of each status.

A run's status:

    finished     summary.json says it trained to its end (all its epochs, or early stopping)
    interrupted  stopped before its end — by Ctrl-C (summary.json says so) or by a kill (no
                 summary.json, no process training it); ``ffnn train --resume`` continues it
    diverged     its loss became NaN or inf: model.npz holds the last good model, marked so
    running      a process is training it now: it holds the folder's lock (:func:`training`)
    damaged      config.toml, summary.json, metrics.csv or model.npz is unreadable or not what
                 ffnn writes; ``problem`` says which file and why (never a traceback)

A finished run's scores come from its summary.json; those of a run that did not finish, from its
metrics.csv (the epochs it completed), the best epoch chosen as the summary chooses it
(``monitor.best_epoch``). Its recipe comes from summary.json, else from config.toml's first line
(``folder.recipe_of``); its ffnn version likewise (``folder.version_of``); its environment
(``ffnn.environment``: the versions, the BLAS, its threads, its command line) from summary.json,
the last one a session of the run wrote.
:meth:`RunSummary.changed` gives the settings in which it differs from its recipe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffnn import settings
from ffnn._files import max_data_bytes
from ffnn.callbacks.metrics_log import read_metrics
from ffnn.config import RunConfig, configure
from ffnn.errors import FFNNError, RunFolderError, SettingError
from ffnn.folder import recipe_of, version_of
from ffnn.monitor import best_epoch
from ffnn.serialization import read_header

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, so a run in progress reads as interrupted
    fcntl = None  # type: ignore[assignment]

STATUSES = ("finished", "interrupted", "diverged", "running", "damaged")
FILES = ("config.toml", "metrics.csv", "model.npz", "summary.json", "checkpoints")  # what ffnn train writes


@dataclass(frozen=True)
class RunSummary:
    """What :func:`read` found in a run folder. Scores not measured (no test split, a regression
    run's accuracy, a damaged file) are None; accuracies are fractions (0.95), epochs count from 0."""

    folder: Path
    status: str
    problem: str = ""  # why a damaged folder is damaged
    config: RunConfig | None = None
    recipe: str | None = None
    epochs: int = 0  # epochs completed
    final_test_accuracy: float | None = None
    best_test_accuracy: float | None = None
    best_test_epoch: int | None = None
    final_validation_accuracy: float | None = None
    best_validation_accuracy: float | None = None
    best_validation_epoch: int | None = None
    test_mse: float | None = None
    test_r2: float | None = None
    seconds: float | None = None  # training time: the run's wall_seconds, else the sum of its epochs
    ffnn_version: str | None = None
    environment: dict[str, Any] | None = None  # summary.json's (``ffnn.environment.recorded``)
    updated: float | None = None  # when its files were last written (their newest mtime, seconds since the epoch)

    @property
    def regression(self) -> bool:
        """Whether the run fits real-valued targets (its scores are MSE and R², not accuracies)."""
        return self.config is not None and self.config.regression

    def changed(self) -> dict[str, Any]:
        """The settings in which the run differs from its recipe — from the defaults for a run of
        settings of its own, or of a recipe this ffnn does not know: those in force in its
        config.toml whose value is not the recipe's (a setting the recipe's run does not use
        counts at its default: ``momentum = 0.9`` beside ``optimizer = "momentum"`` is no
        change), in the table's order. Sizes that ``ffnn train`` completed from the data count as
        the recipe's (:func:`completed`). Empty when the folder's settings cannot be read."""
        if self.config is None:
            return {}
        try:
            recipe = configure(self.recipe)
        except SettingError:  # a recipe this ffnn does not have (renamed, or a newer ffnn's)
            recipe = configure()
        theirs = {**settings.DEFAULTS, **completed(recipe, self.config).table()}
        return {k: v for k, v in self.config.table().items() if theirs[k] != v}


def completed(planned: RunConfig, recorded: RunConfig) -> RunConfig:
    """``planned`` as ``ffnn train`` completes a config from its data (``build.resolve_sizes``),
    the run ``recorded`` showing how: ``hidden`` made into the whole ``sizes`` (where the
    recorded hidden layers are the planned ones), a regression's output activation chosen."""
    changes: dict[str, Any] = {}
    if planned.hidden_sizes and list(recorded.sizes[1:-1]) == planned.hidden_sizes:
        changes.update(sizes=list(recorded.sizes), hidden="")
    if planned.regression and not planned.output_activation:
        changes["output_activation"] = recorded.output_activation
    return planned.replace(**changes) if changes else planned


class _DamagedError(Exception):
    """A file of the run folder is not what ffnn writes (the message says which and why)."""


def read(folder: str | os.PathLike[str]) -> RunSummary:
    """The run in ``folder``: its settings, status and scores. Never raises for what is in the
    folder: a file that cannot be read or is not ffnn's makes the status ``damaged``, with the
    ``problem`` in one line. A bad ``FFNN_MAX_DATA_BYTES`` raises (ParameterError): it is not the
    folder's."""
    folder = Path(folder)
    max_data_bytes()  # a bad FFNN_MAX_DATA_BYTES (read with model.npz) is the caller's error, not the folder's
    config: RunConfig | None = None
    summary: dict[str, Any] | None = None
    try:
        config = read_config(folder)
        if is_running(folder):
            found = _from_metrics(folder, "running", config)
        else:
            summary = _read_summary(folder)
            found = _ended(folder, config, summary)
    except (_DamagedError, FFNNError) as e:
        found = RunSummary(folder, "damaged", problem=" ".join(str(e).split()), config=config)
    except OSError as e:  # the folder or a file in it that this user may not read
        found = RunSummary(
            folder, "damaged", problem=f"{e.filename or folder} cannot be read ({e.strerror}).", config=config
        )
    return _with_provenance(found, summary)


def _ended(folder: Path, config: RunConfig, summary: Mapping[str, Any] | None) -> RunSummary:
    """A run that no process trains: finished, as its summary says, else diverged or interrupted."""
    if summary is not None and summary.get("interrupted") is False:
        return _from_summary(folder, config, summary)
    status = "diverged" if _diverged(folder) else "interrupted"
    found = _from_metrics(folder, status, config)
    if summary is not None and not found.epochs:  # interrupted, with no metrics.csv (yet): the summary's
        return _from_summary(folder, config, summary, status)
    return found


def _with_provenance(found: RunSummary, summary: Mapping[str, Any] | None) -> RunSummary:
    """``found`` with where the run came from: its recipe, ffnn version and environment (see the
    module's notes), and when its files were last written."""
    summary = summary or {}
    recipe, version, environment = summary.get("recipe"), summary.get("ffnn_version"), summary.get("environment")
    return dataclasses.replace(
        found,
        recipe=recipe if isinstance(recipe, str) else recipe_of(found.folder),
        ffnn_version=version if isinstance(version, str) else version_of(found.folder),
        environment=environment if isinstance(environment, dict) else None,
        updated=_updated(found.folder),
    )


def _updated(folder: Path) -> float | None:
    """The newest modification time of the run's files (None: it has none)."""
    times = []
    for name in FILES:
        with contextlib.suppress(OSError):
            times.append((folder / name).stat().st_mtime)
    return max(times, default=None)


def read_config(folder: Path) -> RunConfig:
    """The settings of the run in ``folder`` (its config.toml, as an older ffnn may have written
    it); RunFolderError when it has none, SettingError when the file is not a run's settings."""
    file = folder / "config.toml"
    if not file.is_file():
        raise RunFolderError(f"{folder} is not a run folder (no config.toml); name a folder that ffnn train wrote.")
    table = settings.read(file)
    if "dataset" not in table and "sizes" not in table:  # ffnn train writes every setting
        raise SettingError(f"{file} holds no run's settings (ffnn train writes all of them there).")
    own = settings.Layer(table, settings.in_file(file), unused="drop")
    return RunConfig.of_table(settings.resolve(own))


@contextlib.contextmanager
def training(folder: Path) -> Iterator[None]:
    """Hold the lock that marks ``folder`` as being trained by this process (:func:`is_running`):
    an exclusive lock on the folder itself for the block's duration — not on one of its files,
    which are replaced whole as they are written (config.toml, when a run is trained on to more
    epochs). The system drops it when the process ends, however it ends, so a killed run never
    reads as running. A folder that another process is training is refused."""
    if fcntl is None:  # pragma: no cover - no flock on this system
        yield
        return
    with _opened(folder) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderError(f"{folder} is being trained by another process; wait for it to end") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_running(folder: Path) -> bool:
    """Whether a process is training the run in ``folder`` now (it holds :func:`training`'s lock)."""
    if fcntl is None:  # pragma: no cover
        return False
    try:
        with _opened(folder) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


@contextlib.contextmanager
def _opened(folder: Path) -> Iterator[int]:
    """A read-only descriptor of the folder itself, for :func:`training`'s lock."""
    handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        yield handle
    finally:
        os.close(handle)


def _read_summary(folder: Path) -> dict[str, Any] | None:
    """summary.json as a table, or None when there is none."""
    file = folder / "summary.json"
    try:
        summary = json.loads(file.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise _DamagedError(f"{file}: not a summary written by ffnn train ({e}).") from e
    except RecursionError:
        raise _DamagedError(f"{file}: not a summary written by ffnn train (nested too deeply).") from None
    if not isinstance(summary, dict):
        raise _DamagedError(f"{file}: not a summary written by ffnn train (a JSON {type(summary).__name__}).")
    return summary


def _diverged(folder: Path) -> bool:
    """Whether model.npz is the last good model of a run that diverged (its metadata says so)."""
    file = folder / "model.npz"
    if not file.is_file():
        return False
    try:
        metadata = read_header(file).get("metadata")
    except (FFNNError, OSError, ValueError) as e:
        raise _DamagedError(f"{e}") from e
    summary = metadata.get("summary") if isinstance(metadata, dict) else None
    return isinstance(summary, dict) and summary.get("diverged") is True


# What each score of a summary or metrics.csv must be, and how a problem names it.
_KINDS: dict[str, tuple[Callable[[float], bool], str]] = {
    "count": (lambda x: x >= 0 and x.is_integer(), "a whole number >= 0"),
    "fraction": (lambda x: 0.0 <= x <= 1.0, "a fraction from 0 to 1"),
    "seconds": (lambda x: x >= 0.0, "a number of seconds >= 0"),
    "number": (lambda x: True, "a finite number"),
}


def _number(value: Any, kind: str, where: str) -> float | None:
    """``value`` (None, or a number of ``kind``) as a float; _DamagedError naming ``where`` otherwise."""
    if value is None:
        return None
    x = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an integer beyond any float
            x = float(value)
    fits, what = _KINDS[kind]
    if x is None or not math.isfinite(x) or not fits(x):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        raise _DamagedError(f"{where} is not {what} ({shown}).")
    return x


def _from_summary(folder: Path, config: RunConfig, summary: Mapping[str, Any], status: str = "finished") -> RunSummary:
    file = folder / "summary.json"

    def number(key: str, kind: str, within: Mapping[str, Any] = summary, name: str | None = None) -> float | None:
        return _number(within.get(key), kind, f"{file}: {name or key}")

    def best(key: str) -> tuple[float | None, int | None]:
        found = summary.get(key)
        if found is None:
            return None, None
        if not isinstance(found, dict):
            raise _DamagedError(f"{file}: {key} is not a table ({found!r}).")
        epoch = number("epoch", "count", found, f"{key}.epoch")
        return number("accuracy", "fraction", found, f"{key}.accuracy"), None if epoch is None else int(epoch)

    epochs, seconds = number("epochs_completed", "count"), number("wall_seconds", "seconds")
    best_test, best_validation = best("best_test"), best("best_validation")
    if status == "finished":
        _check_model(folder)
    return RunSummary(
        folder,
        status,
        config=config,
        epochs=int(epochs or 0),
        final_test_accuracy=number("final_test_accuracy", "fraction"),
        best_test_accuracy=best_test[0],
        best_test_epoch=best_test[1],
        final_validation_accuracy=number("final_validation_accuracy", "fraction"),
        best_validation_accuracy=best_validation[0],
        best_validation_epoch=best_validation[1],
        test_mse=number("test_mse", "number"),
        test_r2=number("test_r2", "number"),
        seconds=seconds,
    )


def _check_model(folder: Path) -> None:
    """A finished run's model.npz is there and its header reads (``ffnn evaluate`` would fail
    on it otherwise); _DamagedError saying what is wrong."""
    file = folder / "model.npz"
    if not file.is_file():
        raise _DamagedError(f"{file} is missing: the run's summary says it finished, but its model is gone.")
    try:
        read_header(file)
    except (FFNNError, OSError, ValueError) as e:
        raise _DamagedError(" ".join(str(e).split())) from e


def _from_metrics(folder: Path, status: str, config: RunConfig) -> RunSummary:
    """A run that did not finish, scored by the epochs its metrics.csv holds (none: no file yet)."""
    file = folder / "metrics.csv"
    if not file.is_file():
        return RunSummary(folder, status, config=config)
    metrics = read_metrics(file)  # DataFormatError (an FFNNError): damaged
    for column, kind in (("epoch", "count"), ("test_accuracy", "fraction"), ("validation_accuracy", "fraction"),
                         ("seconds", "seconds")):  # fmt: skip
        for row, value in enumerate(metrics.get(column, []), start=2):
            _number(value, kind, f"{file}: {column} on line {row}")
    epochs = [int(e) for e in metrics.get("epoch", []) if e is not None]
    test, validation = metrics.get("test_accuracy", []), metrics.get("validation_accuracy", [])
    best_test = best_epoch(test, epochs) or (None, None)
    best_validation = best_epoch(validation, epochs) or (None, None)
    seconds = [s for s in metrics.get("seconds", []) if s is not None]
    return RunSummary(
        folder,
        status,
        config=config,
        epochs=len(epochs),
        final_test_accuracy=test[-1] if test else None,
        best_test_accuracy=best_test[0],
        best_test_epoch=best_test[1],
        final_validation_accuracy=validation[-1] if validation else None,
        best_validation_accuracy=best_validation[0],
        best_validation_epoch=best_validation[1],
        seconds=sum(seconds) if seconds else None,
    )
