"""Choosing a space's cells for a study: the one helper every study and check uses.

A benchmark that holds only a sample of its space (``Benchmark.cells()`` not None) restricts the
choice to its cells. Otherwise an :class:`~search_spaces.core.space.IndexedSpace` draws distinct
benchmark indices, and any other space samples until enough distinct keys are found.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from search_spaces.core.errors import NaswotError
from search_spaces.core.sampled import SampledSpace
from search_spaces.core.space import IndexedSpace, SearchSpace


def random_cells(space: SearchSpace, n: int, seed: int, sample: Sequence[Hashable] | None = None) -> list:
    """``n`` distinct cells of ``space`` drawn from ``seed`` (the same cells for the same arguments).

    ``sample``: the benchmark's cells when it holds only a sample (then ``n`` of them, or all of them
    when ``n`` is at least their number).

    Raises:
        ValueError: ``n`` is not in ``[1, size]``.
    """
    rng = np.random.default_rng(seed)
    if sample is not None:
        cells = list(sample)
        if n >= len(cells):
            return cells
        return [cells[int(i)] for i in rng.choice(len(cells), size=n, replace=False)]
    size = space.size
    if n < 1 or (size is not None and n > size):
        raise ValueError(f"n must be in [1, {size}], got {n}")
    if isinstance(space, IndexedSpace):
        return [space.from_index(int(i)) for i in rng.choice(int(space.size or 0), size=n, replace=False)]
    chosen: dict[str, Hashable] = {}
    while len(chosen) < n:
        arch = space.sample(rng)
        chosen.setdefault(space.key(arch), arch)
    return list(chosen.values())


def all_cells(space: SearchSpace, sample: Sequence[Hashable] | None = None, limit: int | None = None) -> list:
    """Every cell of ``space`` in benchmark order (or of ``sample``), the first ``limit`` if given.

    Raises:
        NaswotError: the space has no index to enumerate and no sample to take the cells from.
    """
    if sample is not None:
        cells = list(sample)
        return cells if limit is None else cells[:limit]
    if isinstance(space, IndexedSpace):
        size = int(space.size or 0)
        count = size if limit is None else min(limit, size)
        return [space.from_index(i) for i in range(count)]
    raise NaswotError(f"{space.name} has no index to enumerate and no sample benchmark")


def naswot_run_cells(space: SearchSpace, runs: int, n: int, sample: Sequence[Hashable] | None = None) -> list:
    """The distinct cells NASWOT runs ``0 .. runs-1`` with ``N = n`` draw, first use first.

    Run ``r`` samples from ``numpy.random.default_rng(SeedSequence(r))``, as
    ``orchestrator.experiment`` seeds a run, from ``sample`` when the benchmark holds only a sample.
    Studies that take their cells from here share them with the NASWOT runs (so with the score store).

    Raises:
        ValueError: ``runs`` or ``n`` is less than 1.
    """
    if runs < 1 or n < 1:
        raise ValueError(f"NASWOT runs and N must be at least 1, got runs={runs}, N={n}")
    search_space = SampledSpace(space, sample) if sample is not None else space
    unique: dict[str, Hashable] = {}
    for run in range(runs):
        rng = np.random.default_rng(np.random.SeedSequence(run))
        for _ in range(n):
            arch = search_space.sample(rng)
            unique.setdefault(space.key(arch), arch)
    return list(unique.values())
