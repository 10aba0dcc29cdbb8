"""The space registry: every space declares one :class:`SpaceEntry`, and commands look spaces up by name.

A space lives in one folder (``search_spaces/<space>/``: its space, network and benchmark) whose
``__init__`` lists the entries it offers in ``SPACES``; ``search_spaces/__init__.py`` names the
folder once. Everything a command or a test needs to know about a space (how to make it, how to
open its benchmark, what ``--benchmark`` takes, which build options it has, which test fixture
stands in for a benchmark that is not embedded) is declared here, never probed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search_spaces.core.errors import UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from search_spaces.core.benchmark import Benchmark
    from search_spaces.core.space import SearchSpace


@dataclass(frozen=True)
class SpaceEntry:
    """A registered space.

    Attributes:
        name: the ``--space`` name.
        factory: ``factory(**build_options) -> SearchSpace``.
        open_benchmark: ``open_benchmark(space, path)``: the benchmark of the user's file or
            directory ``path``, else the embedded table when ``path`` is None, else None (the space
            can only be scored). Raises ``BenchmarkDataError`` for a path it cannot read.
        benchmark_help: what ``--benchmark PATH`` takes for this space (help texts list it).
        build_options: the constructor options commands may pass (e.g. ``("stem_channels",)``).
        test_fixture: a benchmark stand-in under ``tests/fixtures`` for the contract suite, when the
            space embeds no table (``None``: the embedded table, if any).
        fixture_cells: cell strings the fixture holds; ``missing_cell``: one it has no record of.
    """

    name: str
    factory: Callable[..., SearchSpace]
    open_benchmark: Callable[[SearchSpace, str | None], Benchmark | None]
    benchmark_help: str = ""
    build_options: tuple[str, ...] = ()
    test_fixture: str | None = None
    fixture_cells: tuple[str, ...] = field(default=())
    missing_cell: str | None = None


_REGISTRY: dict[str, SpaceEntry] = {}


def register_space(entry: SpaceEntry) -> None:
    """Register ``entry`` under its name (replacing any earlier entry of that name)."""
    _REGISTRY[entry.name] = entry


def register_folder(module: str) -> None:
    """Import the space folder ``module`` and register every entry of its ``SPACES``.

    Raises:
        AttributeError: the folder declares no ``SPACES``.
    """
    for entry in importlib.import_module(module).SPACES:
        register_space(entry)


def available_spaces() -> tuple[str, ...]:
    """Names accepted by :func:`get_space`, sorted."""
    return tuple(sorted(_REGISTRY))


def space_entry(name: str) -> SpaceEntry:
    """The entry of the space called ``name``; raises ``UnknownNameError`` listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("search space", name, available_spaces()) from None


def get_space(name: str, **options) -> SearchSpace:
    """A new instance of the space called ``name`` (``options`` go to its constructor, e.g.
    ``stem_channels``); raises ``UnknownNameError`` listing the known ones."""
    return space_entry(name).factory(**options)


def open_benchmark(space: SearchSpace | str, path: str | None = None) -> Benchmark | None:
    """The benchmark of ``space``: the user's file or directory ``path``, else the embedded table,
    else None (the space can only be scored). Raises ``BenchmarkDataError`` for an unreadable path."""
    if isinstance(space, str):
        space = get_space(space)
    return space_entry(space.name).open_benchmark(space, None if path is None else str(path))
