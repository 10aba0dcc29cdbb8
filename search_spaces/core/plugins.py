"""Plugins: what a user's installed package adds to naswot through entry points.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."naswot.spaces"]
    tiny = "my_package.space:ENTRY"          # a SpaceEntry, a tuple of them, or a factory returning either
    [project.entry-points."naswot.proxies"]
    mean_act = "my_package.proxy:mean_act"   # a @register_proxy function, or a module of them
    [project.entry-points."naswot.searchers"]
    walk = "my_package.searcher:ENTRY"       # read by the algorithm registry (orchestrator)

Each registry loads its group once, on its first lookup, so every command and the Python API see
the plugins with nothing to configure. A plugin that fails to load (an import error, a value of
the wrong kind, a name naswot already has) raises :class:`PluginError`, one line naming the
plugin, its entry point and its distribution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from search_spaces.core.errors import NaswotError

SPACES_GROUP = "naswot.spaces"
PROXIES_GROUP = "naswot.proxies"
SEARCHERS_GROUP = "naswot.searchers"
GROUPS: tuple[str, ...] = (SPACES_GROUP, PROXIES_GROUP, SEARCHERS_GROUP)


class PluginError(NaswotError, RuntimeError):
    """An installed plugin could not be loaded or registered (the message names it)."""


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point.

    Attributes:
        group: the entry-point group (one of :data:`GROUPS`).
        name: the entry point's name.
        target: what it points at (``module:attribute``).
        distribution: ``name version`` of the package that declares it ("" when unknown).
        value: the loaded object.
    """

    group: str
    name: str
    target: str
    distribution: str
    value: Any

    def describe(self) -> str:
        """``plugin 'tiny' (naswot.spaces = my_package.space:ENTRY, from my-package 0.1)``."""
        origin = f", from {self.distribution}" if self.distribution else ""
        return f"plugin {self.name!r} ({self.group} = {self.target}{origin})"

    def error(self, problem: str) -> PluginError:
        """A :class:`PluginError` of one line: this plugin, then ``problem``."""
        return PluginError(f"{self.describe()}: {problem}")


def _distribution(point: metadata.EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    if dist is None:
        return ""
    return f"{dist.metadata['Name']} {dist.version}"


def entry_points(group: str) -> tuple[metadata.EntryPoint, ...]:
    """The entry points of ``group`` installed on ``sys.path`` now, sorted by name, one per name
    (the first on ``sys.path`` wins, as for imports)."""
    seen: dict[str, metadata.EntryPoint] = {}
    for point in metadata.entry_points(group=group):
        seen.setdefault(point.name, point)
    return tuple(seen[name] for name in sorted(seen))


def load_plugins(group: str) -> Iterator[Plugin]:
    """Load each entry point of ``group`` and yield it as a :class:`Plugin`.

    Raises:
        PluginError: an entry point that does not import (the message names it and the error).
    """
    for point in entry_points(group):
        described = Plugin(group, point.name, point.value, _distribution(point), None)
        try:
            value = point.load()
        except Exception as exc:  # any failure of a user's import becomes one line naming it
            first = str(exc).strip().splitlines()
            raise described.error(f"{type(exc).__name__}: {first[0] if first else ''}".rstrip(": ")) from exc
        yield Plugin(group, point.name, point.value, described.distribution, value)
