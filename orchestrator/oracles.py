"""Accuracy oracles: what a cell's accuracy is and what finding it out costs.

``LookupOracle`` answers from any :class:`~search_spaces.core.benchmark.Benchmark` on simulated
cost; ``NoBenchmarkOracle`` stands in when a space has no benchmark (score-only searches, metrics
NaN). Real training is not an oracle that answers a call: Tune schedules the trials, so it is a
driver (``orchestrator/tune_driver.py``); :class:`TrainingOracle` declares what its trials report
(the history's metric column and the fitness) and answers the metrics of scored cells.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol

from search_spaces.core.benchmark import Benchmark, MetricSpec, metric_names
from search_spaces.core.errors import NaswotError, UnknownNameError
from search_spaces.core.records import Result, Status
from search_spaces.core.sampled import SampledSpace
from search_spaces.core.space import SearchSpace


class Oracle(Protocol):
    """Contract: ``evaluate`` never raises for a candidate's fault (it returns a FAILED result) and
    ``metrics`` never raises at all (NaN where unknown).

    Attributes:
        fitness_name: the metric a search optimises.
        metric_names: the metric names every result carries (the history's metric columns).
        metric_specs: the same metrics with their units and descriptions (``config.json``, reports).
        cost_name: the metric an evaluation charges (seconds), or None when it records none.
    """

    @property
    def fitness_name(self) -> str: ...

    @property
    def metric_names(self) -> tuple[str, ...]: ...

    @property
    def metric_specs(self) -> tuple[MetricSpec, ...]: ...

    @property
    def cost_name(self) -> str | None: ...

    def evaluate(self, arch: str) -> Result:
        """Fitness (what the search optimises), metrics (what is reported) and the cost charged."""

    def metrics(self, arch: str) -> dict[str, float]:
        """The reported metrics of ``arch`` without charging anything (NaN where unknown)."""


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class LookupOracle:
    """Metrics from a benchmark on simulated time, as in the benchmark papers.

    Args:
        space: parses the history's cell strings.
        benchmark: any :class:`~search_spaces.core.benchmark.Benchmark`.
        fitness: the metric the search optimises, by name (``"cifar10_valid_12ep"``) or as the
            older ``(dataset, split)`` pair; default the benchmark's ``default_fitness``.

    Each evaluation charges the benchmark's ``cost_name`` metric (seconds), or 0 when the benchmark
    records no cost (``cost_name`` None; budgeted searches refuse such benchmarks before they start).

    Raises:
        UnknownNameError: ``fitness`` is not one of the benchmark's ``fitness_names``.
    """

    def __init__(self, space: SearchSpace, benchmark: Benchmark, fitness: str | tuple[str, str] | None = None) -> None:
        self.space = space
        self.benchmark = benchmark
        if isinstance(fitness, (tuple, list)):
            fitness = "_".join(fitness)
        fitness = fitness or benchmark.default_fitness
        if fitness not in benchmark.fitness_names:
            raise UnknownNameError(f"fitness metric of {benchmark.name}", fitness, benchmark.fitness_names)
        self.fitness_name = fitness
        self.cost_name = benchmark.cost_name
        self.metric_names = metric_names(benchmark)
        self.metric_specs = tuple(benchmark.metrics)

    def _nan(self) -> dict[str, float]:
        return {name: math.nan for name in self.metric_names}

    def metrics(self, arch: str) -> dict[str, float]:
        """Every metric of ``arch``; all NaN when it does not parse or the benchmark has no record
        of it (or its lookup fails in any other way). Never raises."""
        try:
            values = self.benchmark.lookup(self.space.parse(arch))
        except Exception:  # noqa: BLE001 - metrics are informative; a failed lookup is NaN, the caller decides
            return self._nan()
        return {name: float(values.get(name, math.nan)) for name in self.metric_names}

    def evaluate(self, arch: str) -> Result:
        """Fitness, metrics and cost of ``arch``; any exception of this one lookup becomes a FAILED
        result carrying its message (the search goes on)."""
        try:
            values = self.benchmark.lookup(self.space.parse(arch))
            fitness = float(values[self.fitness_name])
            cost = float(values[self.cost_name]) if self.cost_name else 0.0
            metrics = {name: float(values.get(name, math.nan)) for name in self.metric_names}
        except Exception as exc:  # noqa: BLE001 - one candidate's fault is an outcome, never a crash of the run
            return Result(Status.FAILED, error=_message(exc), worker="lookup")
        if not math.isfinite(cost) or cost < 0:
            return Result(Status.FAILED, error=f"benchmark cost {self.cost_name}={cost} is not usable", worker="lookup")
        status = Status.of_value(fitness)
        return Result(status, value=fitness, cost_s=cost, fitness=fitness, metrics=metrics, worker="lookup")


class TrainingOracle:
    """What a run with real training reports: one metric, the final validation accuracy after
    ``epochs`` epochs on ``dataset`` (``<dataset>_valid_<epochs>ep``, also the fitness). Evaluations
    are Tune trials run by the Tune driver, never this object's ``evaluate``."""

    cost_name = None

    def __init__(self, dataset: str, epochs: int) -> None:
        self.fitness_name = f"{dataset}_valid_{epochs}ep"
        self.metric_specs = (
            MetricSpec(
                self.fitness_name,
                "%",
                f"{dataset} validation accuracy after {epochs} epochs of real training",
                f"{dataset} valid {epochs}ep",
                reported=True,
            ),
        )
        self.metric_names = (self.fitness_name,)

    def metrics(self, arch: str) -> dict[str, float]:
        return {}

    def evaluate(self, arch: str) -> Result:
        return Result(Status.FAILED, error="evaluations of a training run are Tune trials", worker="tune")


class NoBenchmarkOracle:
    """The oracle of a space without a benchmark: scores only, metrics NaN, evaluations FAILED."""

    fitness_name = ""
    cost_name = None
    metric_names: tuple[str, ...] = ()
    metric_specs: tuple[MetricSpec, ...] = ()

    def __init__(self, space_name: str = "") -> None:
        self.space_name = space_name

    def metrics(self, arch: str) -> dict[str, float]:
        return {}

    def evaluate(self, arch: str) -> Result:
        return Result(
            Status.FAILED, error=f"space {self.space_name!r} has no benchmark to evaluate cells", worker="lookup"
        )


def open_oracle(
    space: SearchSpace,
    benchmark: Benchmark | None,
    *,
    evaluates: bool,
    timed: bool,
    fitness: str | None = None,
) -> tuple[SearchSpace, LookupOracle | NoBenchmarkOracle, str]:
    """The space a search draws from, its oracle and a note for the user (or "").

    ``evaluates``: the search looks up accuracies (REA, AREA, random search), so it needs a
    benchmark of the whole space; ``timed``: its budget is in seconds, so the benchmark must record
    a training time (``cost_name``). A score-only search (NASWOT) runs without a benchmark (metrics
    NaN) and, on a benchmark that holds only a sample, draws from the sample's cells
    (:class:`~search_spaces.core.sampled.SampledSpace`). A ``fitness`` the benchmark does not know
    falls back to its default when the search does not evaluate.

    Raises:
        NaswotError: the benchmark is missing or a sample (``evaluates``), or records no training
            time (``timed``); one line saying what to give instead.
        UnknownNameError: ``fitness`` is not one of the benchmark's fitness names (``evaluates``).
    """
    if benchmark is None:
        if evaluates:
            raise NaswotError(
                f"this search needs the full benchmark of {space.name}: the space has no embedded table; "
                "give --benchmark PATH"
            )
        return (
            space,
            NoBenchmarkOracle(space.name),
            f"note: {space.name} has no benchmark here: scores only, metrics NaN",
        )
    cells = benchmark.cells()
    if evaluates and cells is not None:
        raise NaswotError(
            f"this search needs the full benchmark of {space.name}: {benchmark.name} holds only {len(cells)} cells; "
            "give --benchmark PATH"
        )
    if evaluates and timed and benchmark.cost_name is None:
        raise NaswotError(
            f"{benchmark.name} records no training time, so a budget in seconds cannot be charged: give "
            "--max-evaluations N (a budget in evaluations), or --benchmark PATH with training times"
        )
    if not evaluates and fitness not in benchmark.fitness_names:
        fitness = None
    oracle = LookupOracle(space, benchmark, fitness)
    if cells is not None:
        return (
            SampledSpace(space, cells),
            oracle,
            f"note: {benchmark.name} holds only {len(cells)} cells of {space.name}: candidates are drawn from them",
        )
    return space, oracle, ""


COST_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("cell_params_m", "M", "parameters of the cell's network (millions), as the constraints count them"),
    MetricSpec("cell_flops_m", "M", "multiply-adds of one image through the cell's network (millions)"),
    MetricSpec("cell_latency_ms", "ms", "latency of the cell's network on the constraints' device (NaN: none set)"),
    MetricSpec("cell_feasible", "bool", "1 when the cell meets every limit of the run's constraints, else 0"),
)


def cell_cost_metrics(space: SearchSpace, costs, feasible, arch: str) -> dict[str, float]:
    """The :data:`COST_METRICS` of ``arch`` from ``costs(cell)`` and ``feasible(cell)``; all NaN when
    the cell cannot be costed (costs are informative, never a reason to fail a trial)."""
    try:
        cell = space.parse(arch)
        cell_costs = costs(cell)
        is_feasible = float(feasible(cell))
    except Exception:  # noqa: BLE001 - a cell that cannot be costed is recorded NaN
        return {m.name: math.nan for m in COST_METRICS}
    return {
        "cell_params_m": float(cell_costs.get("params_m", math.nan)),
        "cell_flops_m": float(cell_costs.get("flops_m", math.nan)),
        "cell_latency_ms": float(cell_costs.get("latency_ms", math.nan)),
        "cell_feasible": is_feasible,
    }


class CostedOracle:
    """``inner`` with each candidate's costs and feasibility added to its metrics (:data:`COST_METRICS`),
    so the history records them; everything else is ``inner``'s.

    Args:
        inner: any oracle.
        costs: ``costs(arch) -> {"params_m", "flops_m"[, "latency_ms"]}`` (``ConstraintChecker.costs``).
        feasible: ``feasible(arch) -> bool``.
    """

    def __init__(self, inner: Oracle, space: SearchSpace, costs, feasible) -> None:
        self.inner, self.space, self._costs, self._feasible = inner, space, costs, feasible
        self.fitness_name = inner.fitness_name
        self.cost_name = inner.cost_name
        self.metric_specs = (*inner.metric_specs, *COST_METRICS)
        self.metric_names = tuple(m.name for m in self.metric_specs)

    def cell_metrics(self, arch: str) -> dict[str, float]:
        """The :data:`COST_METRICS` of ``arch`` (all NaN when it cannot be costed); never raises."""
        return cell_cost_metrics(self.space, self._costs, self._feasible, arch)

    def metrics(self, arch: str) -> dict[str, float]:
        return {**self.inner.metrics(arch), **self.cell_metrics(arch)}

    def evaluate(self, arch: str) -> Result:
        result = self.inner.evaluate(arch)
        return dataclasses.replace(result, metrics={**result.metrics, **self.cell_metrics(arch)})


class CellCostMetrics:
    """``metrics(arch) -> COST_METRICS`` of a run's constraints, picklable and light: what the Tune
    driver hands its searcher adapter, so a trained cell's result carries its costs (mo_rea
    minimises one; the history records them) as on the lookup. Pickles as the space's name and
    options and the constraints; the checker is rebuilt on first use in each process."""

    def __init__(self, space_name: str, space_options: tuple, constraints) -> None:
        self.space_name, self.space_options, self.constraints = space_name, tuple(space_options), constraints
        self._bound: tuple[SearchSpace, Any] | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_bound": None}

    def __call__(self, arch: str) -> dict[str, float]:
        if self._bound is None:
            from search_spaces import get_space

            space = get_space(self.space_name, **dict(self.space_options))
            self._bound = (space, self.constraints.bind(space))
        space, checker = self._bound
        return cell_cost_metrics(space, checker.costs, checker.feasible, arch)
