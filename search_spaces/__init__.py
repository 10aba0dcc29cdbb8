"""Search spaces: cells, their networks, and the benchmark tables that describe them.

Use :func:`get_space` to look a space up by name::

    >>> from search_spaces import get_space
    >>> space = get_space("nb201")
"""

from __future__ import annotations

from collections.abc import Callable

from .base import SearchSpace
from .errors import (
    ArchitectureNotInBenchmarkError,
    BenchmarkDataError,
    InvalidArchitectureError,
    NaswotError,
    UnknownNameError,
)
from .nb201 import NB201Cell, NB201Space

_REGISTRY: dict[str, Callable[[], SearchSpace]] = {"nb201": NB201Space}


def available_spaces() -> tuple[str, ...]:
    """Names accepted by :func:`get_space`."""
    return tuple(sorted(_REGISTRY))


def get_space(name: str) -> SearchSpace:
    """A new instance of the space called ``name``; raises ``UnknownNameError`` listing the known ones."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("search space", name, available_spaces()) from None
    return factory()


__all__ = [
    "ArchitectureNotInBenchmarkError",
    "BenchmarkDataError",
    "InvalidArchitectureError",
    "NB201Cell",
    "NB201Space",
    "NaswotError",
    "SearchSpace",
    "UnknownNameError",
    "available_spaces",
    "get_space",
]
