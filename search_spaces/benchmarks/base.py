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
    """

    name: str
    unit: str
    description: str = ""


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


def nats_metrics(epochs: int) -> tuple[MetricSpec, ...]:
    """The metrics of a NATS-Bench-style table whose full training is ``epochs`` long (NB201 / tss:
    200, sss: 90): accuracies of the three datasets, the 12-epoch proxy, its training time, params."""
    return (
        MetricSpec("cifar10_valid", "%", f"CIFAR-10 validation accuracy after {epochs} epochs"),
        MetricSpec("cifar10_test", "%", f"CIFAR-10 test accuracy after {epochs} epochs (trained on train+valid)"),
        MetricSpec("cifar100_valid", "%", f"CIFAR-100 validation accuracy after {epochs} epochs"),
        MetricSpec("cifar100_test", "%", f"CIFAR-100 test accuracy after {epochs} epochs"),
        MetricSpec("imagenet16_valid", "%", f"ImageNet16-120 validation accuracy after {epochs} epochs"),
        MetricSpec("imagenet16_test", "%", f"ImageNet16-120 test accuracy after {epochs} epochs"),
        MetricSpec("cifar10_valid_12ep", "%", "CIFAR-10 validation accuracy after 12 epochs (REA's fitness)"),
        MetricSpec("train_time_12ep_s", "s", "seconds to train the 12-epoch proxy on CIFAR-10 (the search's cost)"),
        MetricSpec("params_m", "M", "parameters (millions) of the benchmark's 10-class network"),
    )


NATS_KINDS = {"tss": ("topology", "NATS-tss-v1_0-3ffb9-simple"), "sss": ("size", "NATS-sss-v1_0-50262-simple")}


def open_nats_api(path, kind: str):
    """``nats_bench.create(path, kind, fast_mode=True)`` for a user's NATS-Bench directory.

    Args:
        path: the unpacked ``NATS-tss-v1_0-3ffb9-simple`` or ``NATS-sss-v1_0-50262-simple`` folder.
        kind: ``"tss"`` (topology) or ``"sss"`` (size).

    Raises:
        BenchmarkDataError: the directory is missing, has no ``meta.pickle.pbz2``, or cannot be read
            (the message names the directory and the folder expected).
    """
    from pathlib import Path

    from ..errors import BenchmarkDataError

    words, folder = NATS_KINDS[kind]
    path = Path(path).expanduser()
    if not path.is_dir():
        raise BenchmarkDataError(f"NATS-Bench {words} directory {str(path)!r} does not exist")
    if not (path / "meta.pickle.pbz2").is_file():
        raise BenchmarkDataError(
            f"{str(path)!r} is not a NATS-Bench directory: it has no meta.pickle.pbz2 "
            f"(expected the unpacked {folder} folder)"
        )
    import nats_bench

    try:
        return nats_bench.create(str(path), kind, fast_mode=True, verbose=False)
    except (OSError, ValueError, AssertionError, EOFError) as exc:
        raise BenchmarkDataError(f"cannot read NATS-Bench {words} directory {str(path)!r}: {exc}") from exc
