"""Search spaces: cells, their networks, and the benchmark tables that describe them.

Use :func:`get_space` to look a space up by name::

    >>> from search_spaces import get_space
    >>> space = get_space("nb201")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import SearchSpace
from .errors import (
    ArchitectureNotInBenchmarkError,
    BenchmarkDataError,
    InvalidArchitectureError,
    NaswotError,
    UnknownNameError,
)
from .nb201 import NB201Cell, NB201Space

if TYPE_CHECKING:  # pragma: no cover
    from .benchmarks.base import Benchmark


@dataclass(frozen=True)
class SpaceEntry:
    """A registered space: how to make it, and how to open its benchmark.

    ``open_benchmark(space, path)`` returns the benchmark for the user's file or directory ``path``,
    or the embedded table when ``path`` is None, or None when the space has no embedded table
    (score-only searches). It raises ``BenchmarkDataError`` for a path it cannot read.
    """

    factory: Callable[..., SearchSpace]
    open_benchmark: Callable[[SearchSpace, str | None], Benchmark | None]


_REGISTRY: dict[str, SpaceEntry] = {}


def register_space(name: str, factory: Callable[..., SearchSpace], open_benchmark) -> None:
    """Register a space under ``name`` (replacing any earlier entry of that name)."""
    _REGISTRY[name] = SpaceEntry(factory, open_benchmark)


def available_spaces() -> tuple[str, ...]:
    """Names accepted by :func:`get_space`."""
    return tuple(sorted(_REGISTRY))


def _entry(name: str) -> SpaceEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("search space", name, available_spaces()) from None


def get_space(name: str, **options) -> SearchSpace:
    """A new instance of the space called ``name`` (``options`` go to its constructor, e.g.
    ``stem_channels``); raises ``UnknownNameError`` listing the known ones."""
    return _entry(name).factory(**options)


def open_benchmark(space: SearchSpace | str, path: str | None = None) -> Benchmark | None:
    """The benchmark of ``space``: the user's file or directory ``path``, else the embedded table,
    else None (the space can only be scored). Raises ``BenchmarkDataError`` for an unreadable path."""
    if isinstance(space, str):
        space = get_space(space)
    return _entry(space.name).open_benchmark(space, path)


def _open_nb201(space: SearchSpace, path: str | None):
    from .benchmarks import open_nb201_benchmark

    return open_nb201_benchmark(path, space)  # type: ignore[arg-type]


register_space("nb201", NB201Space, _open_nb201)


def _open_nb101(space: SearchSpace, path: str | None):
    from .benchmarks.nb101 import open_nb101_benchmark

    return open_nb101_benchmark(space, path)  # type: ignore[arg-type]


def _open_nats_sss(space: SearchSpace, path: str | None):
    from .benchmarks.nats_sss import open_nats_sss_benchmark

    return open_nats_sss_benchmark(space, path)  # type: ignore[arg-type]


def _nb101_space(**options) -> SearchSpace:
    from .nb101 import NB101Space

    return NB101Space(**options)


def _nats_sss_space(**options) -> SearchSpace:
    from .nats_sss import NATSSizeSpace

    return NATSSizeSpace(**options)


register_space("nb101", _nb101_space, _open_nb101)
register_space("nats_sss", _nats_sss_space, _open_nats_sss)


def _open_nds(space: SearchSpace, path: str | None):
    from .benchmarks.nds import open_nds_benchmark

    return open_nds_benchmark(path, space)  # type: ignore[arg-type]


def _register_nds() -> None:
    from functools import partial

    from .nds import NDSSpace, nds_space_names

    for _name in nds_space_names():
        register_space(_name, partial(NDSSpace, _name), _open_nds)


_register_nds()


__all__ = [
    "ArchitectureNotInBenchmarkError",
    "BenchmarkDataError",
    "InvalidArchitectureError",
    "NB201Cell",
    "NB201Space",
    "NaswotError",
    "SearchSpace",
    "SpaceEntry",
    "UnknownNameError",
    "available_spaces",
    "get_space",
    "open_benchmark",
    "register_space",
]
