"""Search spaces: cells, their networks, and the benchmark tables that describe them.

Each space is one folder (``search_spaces/<space>/``: its space, network and benchmark) registered
by the one line :data:`SPACE_FOLDERS` below. Use :func:`get_space` to look a space up by name::

    >>> from search_spaces import get_space
    >>> space = get_space("nb201")
"""

from __future__ import annotations

from search_spaces.core.errors import (
    ArchitectureNotInBenchmarkError,
    BenchmarkDataError,
    InvalidArchitectureError,
    NaswotError,
    UnknownNameError,
)
from search_spaces.core.registry import (
    SpaceEntry,
    available_spaces,
    get_space,
    open_benchmark,
    register_folder,
    register_space,
    space_entry,
)
from search_spaces.core.space import IndexedSpace, SearchSpace

# The registered spaces: one folder each (adding a space = its folder + its name here).
SPACE_FOLDERS: tuple[str, ...] = ("nb201", "nats_sss", "nb101", "nds")

for _folder in SPACE_FOLDERS:
    register_folder(f"search_spaces.{_folder}")

__all__ = [
    "SPACE_FOLDERS",
    "ArchitectureNotInBenchmarkError",
    "BenchmarkDataError",
    "IndexedSpace",
    "InvalidArchitectureError",
    "NaswotError",
    "SearchSpace",
    "SpaceEntry",
    "UnknownNameError",
    "available_spaces",
    "get_space",
    "open_benchmark",
    "register_folder",
    "register_space",
    "space_entry",
]
