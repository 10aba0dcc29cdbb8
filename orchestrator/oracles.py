"""Accuracy oracles: what a cell's accuracy is and what finding it out costs.

Both implementations answer :meth:`Oracle.evaluate` with a :class:`~orchestrator.records.Result`:
``LookupOracle`` from a benchmark table (simulated cost), and the Ray Tune oracle in
``cluster.tune_oracle`` (real training; its own issue) through the same seam.
"""

from __future__ import annotations

import math
from typing import Protocol

from search_spaces import ArchitectureNotInBenchmarkError, UnknownNameError
from search_spaces.base import SearchSpace
from search_spaces.benchmarks import NB201Benchmark

from .records import METRIC_NAMES, Result, Status


class Oracle(Protocol):
    """Contract: ``evaluate`` never raises for a candidate's fault; it returns a FAILED result."""

    fitness_name: str

    def evaluate(self, arch: str) -> Result:
        """Fitness (what the search optimises), metrics (what is reported) and the cost charged."""

    def metrics(self, arch: str) -> dict[str, float]:
        """The reported accuracies of ``arch`` without charging anything (NaN where unknown)."""


class LookupOracle:
    """Accuracies from a NAS-Bench-201 benchmark on simulated time, as in the benchmark papers.

    Args:
        fitness: (dataset, split) the search optimises; default the 12-epoch CIFAR-10 validation
            accuracy, the proxy REA uses in the NAS-Bench-201 paper.
        cost: charged per evaluation: the 12-epoch training time of the cell.
    """

    def __init__(
        self, space: SearchSpace, benchmark: NB201Benchmark, fitness: tuple[str, str] = ("cifar10", "valid_12ep")
    ) -> None:
        self.space = space
        self.benchmark = benchmark
        if fitness not in benchmark.available():
            known = [f"{d}/{s}" for d, s in benchmark.available()]
            raise UnknownNameError("fitness metric of this benchmark", "/".join(fitness), known)
        self.fitness = fitness
        self.fitness_name = "_".join(fitness)
        self._available = set(benchmark.available())

    def metrics(self, arch: str) -> dict[str, float]:
        cell = self.space.parse(arch)
        out = {}
        for name in METRIC_NAMES:
            dataset, split = name.rsplit("_", 1)
            out[name] = (
                self.benchmark.accuracy(cell, dataset, split) if (dataset, split) in self._available else math.nan
            )
        return out

    def evaluate(self, arch: str) -> Result:
        try:
            cell = self.space.parse(arch)
            fitness = self.benchmark.accuracy(cell, *self.fitness)
            cost = self.benchmark.train_time_12ep(cell)
            metrics = self.metrics(arch)
        except ArchitectureNotInBenchmarkError as exc:
            return Result(Status.FAILED, error=str(exc), worker="lookup")
        status = Status.of_value(fitness)
        return Result(status, value=fitness, cost_s=cost, fitness=fitness, metrics=metrics, worker="lookup")
