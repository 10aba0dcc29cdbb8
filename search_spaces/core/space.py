"""The search-space interface every space implements.

A space knows what a cell is (an immutable, hashable value), how to read and write its string
form, how to draw and mutate cells with an explicit :class:`numpy.random.Generator`, and how to
build the untrained torch network of a cell. Nothing here imports torch; ``build`` does so lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn

# A cell of some space: an immutable, hashable value whose type each space defines (NB201Cell,
# NB101Cell, ...). Typed ``Any`` here so that each space can name its own cell type in its methods.
Arch = Any


@runtime_checkable
class SearchSpace(Protocol):
    """Contract of a cell-based search space.

    ``Arch`` values are immutable and hashable. All randomness comes from the ``rng`` argument;
    no method touches global random state.
    """

    name: str

    def parse(self, text: str) -> Arch:
        """Return the cell that ``text`` describes; raise ``InvalidArchitectureError`` naming the fault."""

    def format(self, arch: Arch) -> str:
        """Return the canonical string of ``arch`` (``parse(format(a)) == a``)."""

    def sample(self, rng: np.random.Generator) -> Arch:
        """Draw a cell uniformly at random from the space."""

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """Return a valid cell that differs from ``arch`` by one mutation; ``arch`` is not changed."""

    def build(self, arch: Arch, num_classes: int) -> torch.nn.Module:
        """Return a freshly initialised (untrained) network for ``arch``."""

    def key(self, arch: Arch) -> str:
        """A stable string identifier of ``arch``: the benchmark index (``"1234"``) where the space
        has one, else a canonical hash (isomorphic cells share it). Score stores and histories key
        cells by it."""

    @property
    def size(self) -> int | None:
        """How many distinct cells the space holds, or ``None`` when it is too large to enumerate."""


@runtime_checkable
class IndexedSpace(SearchSpace, Protocol):
    """A space whose cells are numbered by its benchmark (NB201: 0..15624, NATS sss: 0..32767).

    ``size`` is an int; ``from_index(index(a)) == a`` for every cell ``a``.
    """

    def index(self, arch: Arch) -> int:
        """The benchmark index of ``arch``."""

    def from_index(self, index: int) -> Arch:
        """The cell at benchmark index ``index``; raises ``InvalidArchitectureError`` out of range."""
