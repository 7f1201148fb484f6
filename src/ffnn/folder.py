"""A run folder on disk: claimed for a new run (a non-empty one only with ``--overwrite``, and only
if it is a run folder), given its ``config.toml`` before anything trains, and released — as it
was — when a run fails before its first epoch ends. What a run writes into it is ``ffnn.run``'s.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ffnn import settings
from ffnn._version import __version__
from ffnn.config import RunConfig
from ffnn.errors import RunFolderError


def start(folder: Path, overwrite: bool, config: RunConfig, recipe: str | None) -> bool:
    """Claim ``folder`` and write config.toml (undone if that fails); return whether it was created."""
    created = claim(folder, overwrite)
    try:
        write_config(folder, config, recipe)
    except BaseException:
        release(folder, created)
        raise
    return created


def claim(folder: Path, overwrite: bool) -> bool:
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


def release(folder: Path, created: bool) -> None:
    """Undo a start that failed: the folder as it was (gone if this run created it, else empty)."""
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for path in folder.iterdir():
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() else path.unlink(
            missing_ok=True
        )


def write_config(
    folder: Path, config: RunConfig, recipe: str | None, remedy: str = "choose another with --out"
) -> None:
    """Write config.toml — before training, so an unwritable folder fails first. Its first line
    names the recipe the run started from (:func:`recipe_of`). An error ends with ``remedy``."""
    try:
        settings.write(folder / "config.toml", config.table(), f"ffnn {__version__} — {recipe or _CUSTOM} run")
    except OSError as e:
        raise OSError(f"cannot write the run folder {folder}: {e.strerror or e}; {remedy}") from e


_CUSTOM = "custom"
_FIRST_LINE = re.compile(r"# ffnn (\S+) — (\S+) run")


def recipe_of(folder: Path) -> str | None:
    """The recipe the run in ``folder`` started from, as the first line of its config.toml names it
    (:func:`write_config`); None for a run of settings of its own, or a file without that line."""
    found = _first_line(folder)
    return found[2] if found and found[2] != _CUSTOM else None


def version_of(folder: Path) -> str | None:
    """The version of the ffnn that wrote the config.toml of the run in ``folder``, as its first
    line says (:func:`write_config`); None for a file without that line."""
    found = _first_line(folder)
    return found[1] if found else None


def _first_line(folder: Path) -> re.Match[str] | None:
    try:
        with open(folder / "config.toml", encoding="utf-8", errors="replace") as f:
            return _FIRST_LINE.fullmatch(f.readline().rstrip("\n"))
    except OSError:
        return None
