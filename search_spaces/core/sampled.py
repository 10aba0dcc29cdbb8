"""A search space restricted to the cells of a sample benchmark (e.g. NB101's embedded 500 rows).

Score-only searches on a benchmark that holds only a sample draw their candidates from the sample,
so every candidate has reported metrics. Everything but sampling and mutation is the wrapped
space's.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from search_spaces.core.errors import InvalidArchitectureError
from search_spaces.core.space import SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


class SampledSpace:
    """``space`` whose ``sample`` draws uniformly (with replacement) from ``cells``.

    Args:
        space: the full space (parses, formats, keys and builds cells).
        cells: the sample's cells (at least one).

    Raises:
        ValueError: ``cells`` is empty.
    """

    def __init__(self, space: SearchSpace, cells: Sequence[Hashable]) -> None:
        if not cells:
            raise ValueError("a sampled space needs at least one cell")
        self.space = space
        self.name = space.name
        self.cells = tuple(cells)
        self._keys = {space.key(c) for c in self.cells}

    def parse(self, text: str) -> Hashable:
        return self.space.parse(text)

    def format(self, arch: Hashable) -> str:
        return self.space.format(arch)

    def key(self, arch: Hashable) -> str:
        return self.space.key(arch)

    @property
    def size(self) -> int:
        """The number of distinct cells of the sample."""
        return len(self._keys)

    def __contains__(self, arch: Hashable) -> bool:
        return self.space.key(arch) in self._keys

    def sample(self, rng: np.random.Generator) -> Hashable:
        """One of the sample's cells, uniformly."""
        return self.cells[int(rng.integers(len(self.cells)))]

    def mutate(self, arch: Hashable, rng: np.random.Generator, tries: int = 1000) -> Hashable:
        """A mutation of ``arch`` (the space's) that lies in the sample.

        Raises:
            InvalidArchitectureError: no such mutation was found in ``tries`` draws.
        """
        for _ in range(tries):
            child = self.space.mutate(arch, rng)
            if self.space.key(child) in self._keys:
                return child
        raise InvalidArchitectureError(
            f"no mutation of {self.space.format(arch)} in {tries} draws lies in the sample of {self.size} cells"
        )

    def build(self, arch: Hashable, num_classes: int) -> nn.Module:
        return self.space.build(arch, num_classes)

    def __getattr__(self, name: str):
        if name == "space":  # not yet set (during unpickling): avoid infinite recursion
            raise AttributeError(name)
        return getattr(self.space, name)
