"""``ffnn runs``: the run folders under a folder, one row each — as a table or as JSON — and
``ffnn runs compare``: the settings in which runs differ (their learning curves overlaid are
``plotting.compare_runs``'s).

**Which folders.** FOLDER itself when it is a run folder; else each folder in it that is one, and
each run folder in a folder in it that is not one (a sweep folder's runs: ``sweeps/eta/eta=0.5``)
— two levels, no deeper. A run folder is one holding any file that ``ffnn train`` writes
(``runs.FILES``: config.toml, metrics.csv, model.npz, summary.json, checkpoints/), so a folder
that lost its config.toml is listed too, as damaged, and so is one that cannot be looked into
(its mode forbids it); folders whose names begin with "." are passed over. Each run is read by
:func:`ffnn.runs.read`, the reader of ``ffnn sweep``'s table: a damaged one is listed as
damaged, with its problem, never a traceback.

**Its rows** are in the order the runs were last written (the newest modification time of their
files), the newest last, as ``ls -tr`` lists files; a run's name is its folder's path under
FOLDER. The table (``sweep.formatted``, the sweep table's own layout) shows each run's recipe —
or data set, for a run of settings of its own —, status, best and final test accuracy (test R²
and MSE for a regression), epochs, training seconds, the ffnn that wrote its summary, and the
settings in which it differs from its recipe (``RunSummary.changed``), that column cut to fit a
terminal. The JSON holds every score, the environment and the whole change of settings.
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ffnn import runs, settings
from ffnn._validation import printable
from ffnn.errors import RunFolderError, SettingError
from ffnn.sweep import aligned, formatted, value_text

DEFAULT = Path("runs")  # where ffnn train writes its runs unless --out says otherwise
SCORES = (
    "best_test_accuracy",
    "best_test_epoch",
    "final_test_accuracy",
    "best_validation_accuracy",
    "best_validation_epoch",
    "final_validation_accuracy",
    "test_mse",
    "test_r2",
)


def find(folder: Path) -> list[Path]:
    """The run folders under ``folder`` (see the module's notes), by path; RunFolderError when
    ``folder`` is not a folder or cannot be read. A folder in it that cannot be looked into is
    listed (:func:`ffnn.runs.read` calls it damaged, saying why), not passed over in silence."""
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise RunFolderError(
            f"{folder} {what}: name the folder that holds your runs (ffnn train writes them into {DEFAULT}/)."
        )
    if _is_run(folder):
        return [folder]
    found = []
    for child in _folders(folder, top=True):
        found += [child] if _is_run(child) else [grandchild for grandchild in _folders(child) if _is_run(grandchild)]
    return found


def _folders(folder: Path, top: bool = False) -> list[Path]:
    """The folders in ``folder`` but hidden ones; none when it cannot be read (but for ``top``,
    the folder named: RunFolderError)."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as e:
        if top:
            raise RunFolderError(
                f"{folder} cannot be read ({e.strerror}): name a folder of runs that you can read."
            ) from e
        return []


def _is_run(folder: Path) -> bool:
    """Whether ``folder`` holds what ``ffnn train`` writes — or cannot be looked into (to list it
    as damaged, with why)."""
    try:
        return any((folder / name).exists() for name in runs.FILES)
    except OSError:
        return True


def listed(folder: Path) -> dict[str, runs.RunSummary]:
    """The runs under ``folder``, by name (their path under it; a run folder itself: its name), in
    the order they were last written, the newest last."""
    found = {_name(path, folder): runs.read(path) for path in find(folder)}
    return dict(sorted(found.items(), key=lambda item: (item[1].updated or 0.0, item[0])))


def _name(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else path.name or str(path)


def table(found: Mapping[str, runs.RunSummary]) -> tuple[list[str], list[list[Any]]]:
    """The listing's header and rows, as ``sweep.formatted`` takes them: the best and final test
    accuracies of classification runs (``best %``, ``final %``), the test R² and MSE of
    regressions (columns for the kinds the runs hold)."""
    scores: dict[str, str] = {}  # column → the RunSummary field it shows
    if any(not r.regression for r in found.values()):
        scores.update(best_accuracy="best_test_accuracy", final_accuracy="final_test_accuracy")
    if any(r.regression for r in found.values()):
        scores.update(test_r2="test_r2", test_mse="test_mse")
    header = ["run", "recipe/data", "status", *scores, "epochs", "seconds", "ffnn", "settings"]
    rows = [
        [
            name,
            _source(r),
            r.status,
            *(getattr(r, s) for s in scores.values()),
            _epochs(r),
            r.seconds,
            r.ffnn_version,
            _changes(r),
        ]
        for name, r in found.items()
    ]
    return header, rows


def _epochs(found: runs.RunSummary) -> int | None:
    """The epochs a run completed; None for a damaged one (not known)."""
    return None if found.status == "damaged" else found.epochs


def _source(found: runs.RunSummary) -> str | None:
    """The recipe a run started from, else its data set (a file by its name)."""
    if found.recipe or found.config is None:
        return found.recipe
    dataset = found.config.dataset
    return Path(dataset).name if found.config.own_file else dataset


def _changes(found: runs.RunSummary) -> str | None:
    """The settings in which the run differs from its recipe, as ``eta=0.5 sizes=2,8,2`` (the data
    set left out where the recipe/data column shows it)."""
    if found.config is None:
        return None
    shown = {k: v for k, v in found.changed().items() if found.recipe or k != "dataset"}
    return " ".join(f"{k}={value_text(v)}" for k, v in shown.items())


def text(found: Mapping[str, runs.RunSummary], width: int | None = None) -> str:
    """The listing as a table (its settings column cut to ``width``), then each damaged run's problem."""
    header, rows = table(found)
    problems = [printable(f"{name} is damaged: {r.problem}") for name, r in found.items() if r.status == "damaged"]
    return "\n".join([formatted(header, rows, width), *problems])


def as_json(name: str, found: runs.RunSummary) -> dict[str, Any]:
    """One run as the listing's JSON writes it: always the same keys, numbers as numbers, None
    (null) where there is nothing — a damaged run's settings and scores, an older run's environment."""
    config, updated = found.config, found.updated
    return {
        "name": _unicode(name),
        "folder": _unicode(str(found.folder)),
        "status": found.status,
        "problem": _unicode(found.problem) or None,
        "recipe": found.recipe,
        "dataset": config.dataset if config else None,
        "task": config.task if config else None,
        "changed": found.changed() if config else None,
        "epochs": _epochs(found),
        "seconds": found.seconds,
        **{score: getattr(found, score) for score in SCORES},
        "ffnn_version": found.ffnn_version,
        "updated": None if updated is None else _iso(updated),
        "environment": _finite(found.environment),
    }


def _finite(value: Any) -> Any:
    """``value`` (a table read from a summary.json) with every number that is not finite — which
    JSON cannot hold — as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _unicode(text: str) -> str:
    """``text`` — a path, or a message naming one — with the bytes of a file name that are not
    UTF-8 (which Python holds as lone surrogates) written as ``\\xff``: JSON that any reader takes."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name gave
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _iso(seconds: float) -> str:
    """A time (seconds since the epoch) as ISO 8601 in local time with its offset: 2026-12-05T07:28:22+01:00."""
    return datetime.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


# -- compare -------------------------------------------------------------------------------------


def compared(folders: Sequence[str]) -> dict[str, runs.RunSummary]:
    """The runs in ``folders``, by name (their folders' names; their paths as given where two
    share a name), read and checked: at least two, each a run folder once, none damaged."""
    if len(folders) < 2:
        raise SettingError(f"compare needs two runs or more; got {len(folders)}: ffnn runs compare RUN RUN …")
    resolved = [Path(f).resolve() for f in folders]
    twice = next((f for i, f in enumerate(folders) if resolved[i] in resolved[:i]), None)
    if twice is not None:
        raise SettingError(f"{twice} is named twice; name each run once.")
    paths = [Path(f) for f in folders]
    for path in paths:
        if not path.is_dir() or not _is_run(path):
            what = "does not exist" if not path.exists() else "is not a run folder (ffnn train writes one)"
            raise RunFolderError(f"{path} {what}; name run folders, as ffnn runs lists them.")
    names = [Path(os.path.abspath(p)).name for p in paths]  # "." and ".." by the folders they are
    unique = len(set(names)) == len(names)
    found = {name if unique else str(path): runs.read(path) for name, path in zip(names, paths)}
    damaged = next((r for r in found.values() if r.status == "damaged"), None)
    if damaged is not None:
        raise RunFolderError(f"{damaged.folder} is damaged, so it cannot be compared: {damaged.problem}")
    return found


def differing(found: Mapping[str, runs.RunSummary]) -> dict[str, list[Any]]:
    """The settings in which the runs differ, each with its value in every run (None where a run
    does not use it), in the settings table's order."""
    tables = [r.config.table() if r.config is not None else {} for r in found.values()]
    values = {s.name: [t.get(s.name) for t in tables] for s in settings.SETTINGS}
    return {k: v for k, v in values.items() if any(x != v[0] for x in v)}


def differences(found: Mapping[str, runs.RunSummary]) -> str:
    """:func:`differing` as a table, a row per setting and a column per run — or one line saying
    the runs' settings are the same."""
    differ = differing(found)
    if not differ:
        return f"The {len(found)} runs have the same settings."
    columns = [list(differ)]
    columns += [["—" if v[i] is None else value_text(v[i]) for v in differ.values()] for i in range(len(found))]
    return aligned(["setting", *found], columns)
