"""Multi-objective regularised evolution: accuracy up, one cost (latency, parameters, FLOPs) down.

:class:`MORegularizedEvolution` (``mo_rea``) is REA (:class:`~orchestrator.searchers.RegularizedEvolution`)
with an NSGA-II-style tournament, in the manner of syne-tune's multi-objective REA: the population is
the last ``population_size`` evaluated cells (aging), and the parent of each child is the winner of
``sample_size`` members drawn without replacement, judged by

1. non-dominated rank within the population (:func:`orchestrator.pareto.pareto_ranks`, moocore),
   lower first, over (fitness: maximised, cost: minimised);
2. then, among equal ranks, the larger spread of its front: NSGA-II's crowding distance
   (:data:`CROWDING`) or the exclusive hypervolume contribution (:data:`HV_CONTRIBUTION`); a front's
   two ends count as infinitely spread, so the search keeps stretching the front both ways;
3. then the earlier drawn member (the generator's order).

The cost of a cell is read from the told result's metrics (``objective_cost``, one of
:data:`OBJECTIVE_COSTS`: the history columns that :class:`~orchestrator.oracles.CostedOracle` adds
when a run has constraints or a latency device). Like the other searchers it does no I/O and draws
every random number from the generator it is given.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from orchestrator.pareto import ACCURACY_VS_COST, MAX, pareto_front, pareto_ranks
from orchestrator.searchers import DEFAULT_MAX_DRAWS, Feasible, RegularizedEvolution
from search_spaces.core.errors import NaswotError, UnknownNameError
from search_spaces.core.records import Kind, Phase, Result, Trial
from search_spaces.core.space import SearchSpace

LATENCY_COST, PARAMS_COST, FLOPS_COST = "cell_latency_ms", "cell_params_m", "cell_flops_m"
OBJECTIVE_COSTS: tuple[str, ...] = (LATENCY_COST, PARAMS_COST, FLOPS_COST)
DEFAULT_OBJECTIVE_COST = LATENCY_COST
CROWDING, HV_CONTRIBUTION = "crowding", "hvc"
SELECTIONS: tuple[str, ...] = (CROWDING, HV_CONTRIBUTION)
DEFAULT_SELECTION = CROWDING


class ObjectiveMissingError(NaswotError, KeyError):
    """A told evaluation carries no value of the search's cost objective (the run records no costs)."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


def crowding_distances(points: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each point of one front (an ``(n, k)`` array): per objective,
    the gap between its two neighbours divided by the objective's range, summed; the ends of every
    objective get ``inf``. An objective with no range adds nothing. Does not mutate ``points``."""
    points = np.asarray(points, dtype=float)
    n = len(points)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for column in points.T:
        order = np.argsort(column, kind="stable")
        span = column[order[-1]] - column[order[0]]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            gaps = (column[order[2:]] - column[order[:-2]]) / span
            distance[order[1:-1]] += gaps
    return distance


def hv_contributions(points: np.ndarray, senses: Sequence[str] = ACCURACY_VS_COST) -> np.ndarray:
    """The exclusive hypervolume contribution of each point of one front (moocore), with the front's
    ends (best value of any objective) given ``inf``, as SMS-EMOA does: their contribution would only
    measure the distance to an arbitrary reference point. Equal points contribute 0."""
    import moocore

    points = np.asarray(points, dtype=float)
    n = len(points)
    if n <= 2:
        return np.full(n, np.inf)
    maximise = [s == MAX for s in senses]
    reference = np.where(maximise, points.min(axis=0), points.max(axis=0))  # the front's nadir
    contribution = np.asarray(moocore.hv_contributions(points, ref=reference, maximise=maximise), dtype=float)
    for j, up in enumerate(maximise):
        best = points[:, j].max() if up else points[:, j].min()
        ends = np.flatnonzero(points[:, j] == best)
        contribution[ends[0]] = np.inf  # one end per objective: duplicates of it stay at 0
    return contribution


def selection_keys(points: np.ndarray, selection: str = DEFAULT_SELECTION) -> tuple[np.ndarray, np.ndarray]:
    """``(rank, spread)`` of every point of a population (``(n, 2)``: fitness maximised, cost
    minimised): its non-dominated rank (0 = the population's front) and, within its rank, its
    crowding distance or hypervolume contribution (``selection``). Lower rank wins, then larger spread.

    Raises:
        UnknownNameError: ``selection`` is not one of :data:`SELECTIONS`.
        ParetoInputError: a non-finite point.
    """
    if selection not in SELECTIONS:
        raise UnknownNameError("selection", selection, SELECTIONS)
    points = np.asarray(points, dtype=float)
    ranks = pareto_ranks(points, ACCURACY_VS_COST)
    spread = np.zeros(len(points))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        front = points[members]
        spread[members] = crowding_distances(front) if selection == CROWDING else hv_contributions(front)
    return ranks, spread


def tournament_winner(points: np.ndarray, picks: Sequence[int], selection: str = DEFAULT_SELECTION) -> int:
    """The index (into ``points``) of the winner among ``picks``: lowest non-dominated rank in the
    whole population ``points``, then largest spread (:func:`selection_keys`), then the earliest pick.

    Raises:
        ValueError: ``picks`` is empty.
    """
    if len(picks) == 0:
        raise ValueError("a tournament needs at least one member")
    ranks, spread = selection_keys(points, selection)
    return min(picks, key=lambda i: (ranks[i], -spread[i], list(picks).index(i)))


@dataclass(frozen=True)
class MOMember:
    """An evaluated cell of a multi-objective search: its trial, result, fitness and cost."""

    trial: Trial
    result: Result
    fitness: float
    cost: float


@runtime_checkable
class FrontSearcher(Protocol):
    """A searcher with a Pareto front: the runner writes ``front()`` to ``RUN_DIR/front.parquet`` when
    each seed ends, so the run directory marks the front it found."""

    def front(self) -> list[MOMember]: ...


class MORegularizedEvolution(RegularizedEvolution):
    """Multi-objective aging evolution over (fitness, ``objective_cost``); see the module docstring.

    ``best()`` is the best fitness among the non-dominated cells evaluated so far (ties: the lower
    cost, then the earlier trial), so a report of one chosen cell works as for REA; :meth:`front`
    is the whole non-dominated set. An evaluation whose cost is NaN (a cell that could not be
    costed) is treated as failed: it enters neither the population nor the front.

    Raises:
        ValueError: bad population or tournament sizes.
        UnknownNameError: ``objective_cost`` or ``selection`` is not a known one.
        ObjectiveMissingError: from ``tell``, an evaluation whose metrics lack ``objective_cost``.
    """

    name = "mo_rea"

    def __init__(
        self,
        space: SearchSpace,
        rng: np.random.Generator,
        population_size: int = 10,
        sample_size: int = 3,
        objective_cost: str = DEFAULT_OBJECTIVE_COST,
        selection: str = DEFAULT_SELECTION,
        feasible: Feasible | None = None,
        max_draws: int = DEFAULT_MAX_DRAWS,
    ) -> None:
        super().__init__(space, rng, population_size, sample_size, feasible, max_draws)
        if objective_cost not in OBJECTIVE_COSTS:
            raise UnknownNameError("objective cost", objective_cost, OBJECTIVE_COSTS)
        if selection not in SELECTIONS:
            raise UnknownNameError("selection", selection, SELECTIONS)
        self.objective_cost = objective_cost
        self.selection = selection
        self.population: deque[MOMember] = deque()  # type: ignore[assignment]
        self.archive: list[MOMember] = []  # every evaluated member with a cost, in tell order

    def _child(self) -> Trial:
        members = list(self.population)
        size = min(self.sample_size, len(members))
        picks = [int(i) for i in self.rng.choice(len(members), size=size, replace=False)]
        points = np.array([(m.fitness, m.cost) for m in members])
        parent = members[tournament_winner(points, picks, self.selection)]
        child = self._mutate(self.space.parse(parent.trial.arch))
        return self._trial(child, Kind.EVALUATE, Phase.CHILD, parent=parent.trial.trial_id)

    def tell(self, trial: Trial, result: Result) -> None:
        """Record how ``trial`` ended; a successful evaluation with a finite cost joins the population
        (pushing out the oldest member) and the archive. Mutates the searcher only.

        Raises:
            ObjectiveMissingError: a successful evaluation's metrics lack ``objective_cost``.
        """
        self.outstanding.discard(trial.trial_id)
        if not (result.ok and trial.kind is Kind.EVALUATE):
            return
        if self.objective_cost not in result.metrics:
            raise ObjectiveMissingError(
                f"mo_rea: the result of trial {trial.trial_id} has no {self.objective_cost!r}; the run must record "
                "costs (give --latency-device DEVICE, or a limit such as --max-params)"
            )
        cost = float(result.metrics[self.objective_cost])
        if not math.isfinite(cost):
            return
        member = MOMember(trial, result, float(result.value), cost)
        self.archive.append(member)
        self.population.append(member)
        while len(self.population) > self.population_size:
            self.population.popleft()

    def front(self) -> list[MOMember]:
        """The non-dominated members among every cell evaluated so far, by rising cost."""
        if not self.archive:
            return []
        points = np.array([(m.fitness, m.cost) for m in self.archive])
        members = [self.archive[i] for i in pareto_front(points, ACCURACY_VS_COST)]
        return sorted(members, key=lambda m: (m.cost, -m.fitness, m.trial.trial_id))

    def best(self) -> tuple[Trial, Result] | None:
        """The front's member of best fitness (ties: lower cost, then earlier trial), or None."""
        front = self.front()
        if not front:
            return None
        top = min(front, key=lambda m: (-m.fitness, m.cost, m.trial.trial_id))
        return top.trial, top.result
