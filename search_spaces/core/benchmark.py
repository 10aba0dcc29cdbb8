"""The benchmark seam: what a tabular benchmark knows about the cells of one search space.

A benchmark declares its metrics (names and units), which of them a search may optimise
(``fitness_names``, default ``default_fitness``) and which one is the cost an evaluation charges
(``cost_name``, seconds; ``None`` when the source records no training time, so budgeted searches
cannot run on it). ``lookup`` answers every metric of one cell at once. The run history's metric
columns are the benchmark's metric names, and ``config.json`` records them.

Modelled on syne-tune's ``Blackbox``: a benchmark is a read-only function from a configuration to
a dict of named objectives.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class MetricSpec:
    """One quantity a benchmark records for a cell.

    Attributes:
        name: the column name in histories and tables (``[a-z0-9_]+``), e.g. ``cifar10_valid``.
        unit: ``"%"`` for accuracies, ``"s"`` for times, ``"M"`` for millions (params), ...
        description: one line for humans (what was measured, after how many epochs).
        title: a short column title for tables (``"C10 valid"``); empty: the name.
        reported: whether a report's summary table shows it (the final accuracies a search is
            judged by), as opposed to search-time proxies, costs and sizes.
    """

    name: str
    unit: str
    description: str = ""
    title: str = ""  # a short column title for tables (default: the name)
    reported: bool = False  # a result a report's table shows (the final accuracies), not a search-time proxy


@runtime_checkable
class Benchmark(Protocol):
    """Contract of a tabular benchmark over one search space. Every method is a pure read.

    Attributes:
        name: short name, e.g. ``nb201-embedded`` or ``nb101-tfrecord``.
        space_name: the registered search space whose cells it describes.
        metrics: every metric it can report, in history column order.
        fitness_names: the metric names a search may optimise (a subset of ``metrics``).
        default_fitness: the fitness a search uses unless told otherwise.
        cost_name: the metric (seconds) charged per evaluation, or ``None`` when unknown.
    """

    name: str
    space_name: str
    metrics: tuple[MetricSpec, ...]
    fitness_names: tuple[str, ...]
    default_fitness: str
    cost_name: str | None

    def lookup(self, arch: Hashable) -> dict[str, float]:
        """Every metric of ``arch`` by name (``NaN`` where this source lacks that metric for it).

        Raises:
            ArchitectureNotInBenchmarkError: the benchmark holds no record of ``arch``.
        """

    def cells(self) -> Sequence[Hashable] | None:
        """The cells the benchmark holds when it covers only part of its space (a sample table),
        in a stable order; ``None`` when it covers the whole space."""


def metric_names(benchmark: Benchmark) -> tuple[str, ...]:
    """The metric names of ``benchmark`` in column order."""
    return tuple(m.name for m in benchmark.metrics)


def nan_metrics(benchmark: Benchmark) -> dict[str, float]:
    """A metrics dict of ``benchmark`` with every value NaN (a failed lookup's row)."""
    return {m.name: math.nan for m in benchmark.metrics}
