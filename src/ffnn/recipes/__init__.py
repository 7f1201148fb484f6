"""Named configurations that reproduce the sources' and the book's experiments.

Each recipe is a TOML file in this package, ``<name>.toml``: ``name``, ``description`` (what it
reproduces), ``expected`` (the published result, and the one measured with ffnn) and settings
(the keys of :data:`ffnn.settings.DEFAULTS`). A recipe names only the settings it changes:

- with ``extends = "BASE"``, those in which it differs from recipe BASE, whose settings (resolved
  the same way) it takes for the rest — so an experiment that builds on another reads as its
  changes (``nielsen-ch3`` ← ``nielsen-ch1-100`` ← ``nielsen-ch1``);
- without ``extends``, those in which it differs from the defaults.

``ffnn recipes`` lists them, ``ffnn recipes show NAME`` prints a file, ``ffnn train --recipe NAME``
runs one.

They are listed in the book's order, which :data:`_ORDER` states. The order is a list here rather
than a numeric prefix on the file names because it belongs to the collection, not to any one
recipe: a file keeps its recipe's name (``show NAME`` prints ``NAME.toml``), and a recipe is added
or moved by editing one line. A test checks that the list and the files agree.
"""

from __future__ import annotations

import sys
from importlib import resources
from typing import Any

from ffnn.errors import SettingError
from ffnn.settings import check, in_recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_ORDER = (
    "nielsen-ch1",
    "nielsen-ch1-100",
    "nielsen-ch3",
    "source-000",
    "source-000-fixed",
    "mlp-best",
    "mlp-augmented",
    "vanishing-gradient",
    "vanishing-gradient-relu",
    "punnen-toy",
    "source-002",
    "xor",
)
_FOLDER = resources.files(__name__)
_NOT_SETTINGS = ("name", "description", "expected", "extends")


def names() -> list[str]:
    """The recipes' names, in the order they are listed."""
    return list(_ORDER)


FORMER_NAMES = {"seed-000": "source-000", "seed-000-fixed": "source-000-fixed"}  # accepted, never offered


def text(name: str) -> str:
    """The recipe's TOML text: its file, as written (a former name finds its recipe)."""
    name = FORMER_NAMES.get(name, name)
    if name not in _ORDER:
        raise SettingError(f"unknown recipe {name!r}; known: {', '.join(_ORDER)} (see: ffnn recipes).")
    return _FOLDER.joinpath(f"{name}.toml").read_text(encoding="utf-8")


def info(name: str) -> dict[str, Any]:
    """The whole recipe table, description and expected result included."""
    name = FORMER_NAMES.get(name, name)
    table: dict[str, Any] = tomllib.loads(text(name))
    return table


def settings(name: str) -> dict[str, Any]:
    """The recipe's settings (keys of :data:`ffnn.settings.DEFAULTS`), its bases' included.

    A recipe with ``extends = "BASE"`` takes BASE's settings and overrides the ones it names; the
    chain must end in a recipe without ``extends``, whose settings override the defaults.
    """
    return _settings(name, ())


def _settings(name: str, extended_by: tuple[str, ...]) -> dict[str, Any]:
    table = info(name)
    own = check({k: v for k, v in table.items() if k not in _NOT_SETTINGS}, in_recipe(name))
    if "extends" not in table:
        return own
    base, chain = table["extends"], (*extended_by, name)
    if base in chain:
        cycle = " -> ".join((*chain[chain.index(base) :], base))
        raise SettingError(f"recipe {name}: 'extends' makes a cycle ({cycle}); one of them must extend nothing.")
    if base not in _ORDER:
        raise SettingError(
            f"recipe {name}: 'extends' must name another recipe; got {base!r}; known: {', '.join(_ORDER)}."
        )
    return {**_settings(base, chain), **own}
