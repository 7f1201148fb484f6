"""A griffe extension (mkdocs.yml, mkdocstrings' ``extensions``): the Sphinx roles of ffnn's
docstrings (:class:`History`, :func:`ffnn.checkpoint.load`, :meth:`~Network.backprop`, …) become
links on the site, and a role naming nothing in ffnn fails the strict build.

Each role's target is resolved as Python would in the docstring's scope: a name defined or
imported there, or a dotted path from ffnn. A target found in ffnn links to its page where the API
reference shows it, and is plain code where it does not; a target outside ffnn (``numpy.ndarray``)
stays plain code; a name that resolves nowhere, or an ffnn path that names nothing, is a warning.
"""

from __future__ import annotations

import functools
import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):`(~?)([\w.]+?)(?:\(\))?`")


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name == "ffnn":
            for obj in _objects(pkg):
                if obj.docstring:
                    obj.docstring.value = ROLE.sub(functools.partial(_link, obj, loader), obj.docstring.value)


def _objects(obj: griffe.Object) -> list[griffe.Object]:
    """``obj`` and every object defined inside it (not the names it imports: aliases)."""
    found = [obj]
    for member in obj.members.values():
        if isinstance(member, griffe.Object):
            found += _objects(member)
    return found


def _link(obj: griffe.Object, loader: griffe.GriffeLoader, role: re.Match[str]) -> str:
    """The code, linked where the site shows it, for one ``role`` of ``obj``'s docstring."""
    short, target = role.groups()
    shown = target.rsplit(".", 1)[-1] if short else target
    code = f"<code>{html.escape(shown)}</code>"
    first, _, rest = target.partition(".")
    try:
        path = obj.resolve(first) if first != "ffnn" else "ffnn"
    except griffe.NameResolutionError:
        griffe.logger.warning(f"{obj.path}: the docstring's {target!r} names nothing in its scope")
        return code
    path = f"{path}.{rest}" if rest else path
    if path.split(".")[0] != "ffnn":
        return code  # outside ffnn: shown, not checked
    try:
        found = loader.modules_collection[path]
    except KeyError:
        griffe.logger.warning(f"{obj.path}: the docstring's {target!r} ({path}) names nothing in ffnn")
        return code
    return f'<autoref identifier="{found.canonical_path}" optional>{code}</autoref>'
