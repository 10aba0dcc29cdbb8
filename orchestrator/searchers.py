"""Search algorithms as ask/tell state machines: no I/O, no clock, no Ray, no torch.

Every searcher draws all its randomness from the ``numpy.random.Generator`` it is given.
``ask()`` returns the next :class:`~orchestrator.records.Trial`, or ``None`` when it must wait for
results already asked (or has nothing more to ask). ``tell(trial, result)`` hands back how a trial
ended; failed or non-finite trials are remembered as such and never used as a score of 0.
``best()`` is the trial the search would return now.

Budgets: every searcher takes an optional ``feasible(arch) -> bool`` (e.g. an
:class:`orchestrator.constraints.ConstraintChecker`). Random draws and mutations that it rejects
are drawn again, at most ``max_draws`` times per asked cell, then
:class:`~orchestrator.constraints.InfeasibleError` is raised. Without it (``None``) no draw is
repeated and the same seed gives exactly the trials it gave before filters existed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from orchestrator.constraints import InfeasibleError
from search_spaces.core.errors import UnknownNameError
from search_spaces.core.records import Kind, Phase, Result, Trial
from search_spaces.core.space import SearchSpace

# How many draws a feasibility filter may reject for one asked cell before the search gives up.
DEFAULT_MAX_DRAWS = 1000
Feasible = Callable[[Any], bool]


FUSIONS = ("rank", "logrank")
"""How an ensemble's proxies combine: the sum of their ranks, or the sum of log(rank / N) (AZ-NAS)."""


def fused_order(
    items: list[tuple[Trial, Result]], proxies: tuple[str, ...], fusion: str = "rank"
) -> list[tuple[Trial, Result]]:
    """``items`` best first by the ``fusion`` of ``proxies``' ranks among ``items`` (a missing,
    failed or -inf score ranks last; ties go to the earlier trial).

    Raises:
        UnknownNameError: ``fusion`` is not one of :data:`FUSIONS`.
    """
    from scoring.correlation import rank_ensemble
    from scoring.fusion import log_rank_fusion

    if fusion not in FUSIONS:
        raise UnknownNameError("fusion", fusion, FUSIONS)
    if not items:
        return []
    columns = {p: np.array([r.proxy_scores.get(p, np.nan) for _, r in items]) for p in proxies}
    total = rank_ensemble(columns) if fusion == "rank" else log_rank_fusion(columns)
    order = sorted(range(len(items)), key=lambda i: (-total[i], items[i][0].trial_id))
    return [items[i] for i in order]


def ensemble_order(items: list[tuple[Trial, Result]], proxies: tuple[str, ...]) -> list[tuple[Trial, Result]]:
    """``items`` best first by the rank ensemble of ``proxies`` (sum of per-proxy ranks among
    ``items``; ties go to the earlier trial)."""
    return fused_order(items, proxies, "rank")


class Searcher(Protocol):
    name: str

    def ask(self) -> Trial | None: ...

    def tell(self, trial: Trial, result: Result) -> None: ...

    def best(self) -> tuple[Trial, Result] | None: ...

    @property
    def finished(self) -> bool:
        """True when the search will ask nothing more (budgets are the driver's business)."""


class _Base:
    name = "base"

    def __init__(
        self,
        space: SearchSpace,
        rng: np.random.Generator,
        feasible: Feasible | None = None,
        max_draws: int = DEFAULT_MAX_DRAWS,
    ) -> None:
        if max_draws < 1:
            raise ValueError(f"max_draws must be at least 1, got {max_draws}")
        self.space = space
        self.rng = rng
        self.feasible = feasible
        self.max_draws = max_draws
        self._next_id = 0
        self._best: tuple[Trial, Result] | None = None
        self.outstanding: set[int] = set()

    def _draw(self, make: Callable[[], Any], what: str, parent: Any = None):
        """``make()`` until ``feasible`` accepts it (once when there is no filter); ``what`` and
        ``parent`` (a mutated cell) name the draws in the error.

        Raises:
            InfeasibleError: ``max_draws`` draws in a row were rejected.
        """
        if self.feasible is None:
            return make()
        for _ in range(self.max_draws):
            arch = make()
            if self.feasible(arch):
                return arch
        of = "" if parent is None else f" of {self.space.format(parent)}"
        raise InfeasibleError(
            f"{self.name}: {self.max_draws} {what}{of} in a row were all infeasible; loosen the constraints "
            "(orchestrator.constraints.check_satisfiable names the smallest costs the space offers)"
        )

    def _sample(self):
        """A random cell of the space that ``feasible`` accepts."""
        return self._draw(lambda: self.space.sample(self.rng), "random cells")

    def _mutate(self, arch):
        """A mutation of ``arch`` that ``feasible`` accepts (``arch`` is not changed)."""
        return self._draw(lambda: self.space.mutate(arch, self.rng), "mutations", parent=arch)

    def _trial(self, arch, kind: Kind, phase: Phase, parent: int = -1, prefetchable: bool = False) -> Trial:
        trial = Trial(self._next_id, self.space.format(arch), kind, phase, parent, prefetchable)
        self._next_id += 1
        self.outstanding.add(trial.trial_id)
        return trial

    def _consider(self, trial: Trial, result: Result) -> None:
        self.outstanding.discard(trial.trial_id)
        if result.ok and (self._best is None or result.value > self._best[1].value):
            self._best = (trial, result)

    def best(self) -> tuple[Trial, Result] | None:
        return self._best


class RandomSearch(_Base):
    """Evaluate uniformly random cells until the driver's budget ends."""

    name = "random"

    def ask(self) -> Trial | None:
        return self._trial(self._sample(), Kind.EVALUATE, Phase.SAMPLE)

    def tell(self, trial: Trial, result: Result) -> None:
        self._consider(trial, result)

    @property
    def finished(self) -> bool:
        return False


class NASWOTSearch(_Base):
    """Score ``n`` random untrained cells and keep the best score (Mellor et al., 2021)."""

    name = "naswot"

    def __init__(
        self,
        space: SearchSpace,
        rng: np.random.Generator,
        n: int = 100,
        ensemble: tuple[str, ...] | None = None,
        feasible: Feasible | None = None,
        max_draws: int = DEFAULT_MAX_DRAWS,
        fusion: str = "rank",
    ) -> None:
        super().__init__(space, rng, feasible, max_draws)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        fused_order([], (), fusion)  # validates the fusion's name
        self.fusion = fusion
        self.n = n
        self.told = 0
        self.ensemble = tuple(ensemble) if ensemble and len(ensemble) > 1 else None
        self._ok: list[tuple[Trial, Result]] = []

    def ask(self) -> Trial | None:
        if self._next_id >= self.n:
            return None
        return self._trial(self._sample(), Kind.SCORE, Phase.SAMPLE, prefetchable=True)

    def tell(self, trial: Trial, result: Result) -> None:
        self.told += 1
        self._consider(trial, result)
        if result.ok:
            self._ok.append((trial, result))

    def best(self) -> tuple[Trial, Result] | None:
        """The best score; with an ensemble, the best fused rank among the cells told so far."""
        if self.ensemble is None:
            return self._best
        ranked = fused_order(self._ok, self.ensemble, self.fusion)
        return ranked[0] if ranked else None

    @property
    def finished(self) -> bool:
        return self.told >= self.n


@dataclass
class _Member:
    trial: Trial
    fitness: float


class RegularizedEvolution(_Base):
    """Aging evolution (Real et al., 2019) as in the NAS-Bench-201 paper's REA.

    The population holds the last ``population_size`` evaluated cells. A child is the mutation of
    the fittest of ``sample_size`` members drawn without replacement; each new member pushes out
    the oldest. Asynchronous: children may be asked while others are still being evaluated.
    Failed evaluations do not enter the population.
    """

    name = "rea"

    def __init__(
        self,
        space: SearchSpace,
        rng: np.random.Generator,
        population_size: int = 10,
        sample_size: int = 3,
        feasible: Feasible | None = None,
        max_draws: int = DEFAULT_MAX_DRAWS,
    ) -> None:
        super().__init__(space, rng, feasible, max_draws)
        if population_size < 1 or not 1 <= sample_size <= population_size:
            raise ValueError(f"need 1 <= sample_size <= population_size, got {sample_size}, {population_size}")
        self.population_size = population_size
        self.sample_size = sample_size
        self.population: deque[_Member] = deque()
        self._initial_asked = 0
        self._initial_ids: set[int] = set()

    def _initial_trial(self) -> Trial | None:
        """The next member of the initial population, or None once all are asked."""
        if self._initial_asked < self.population_size:
            self._initial_asked += 1
            trial = self._trial(self._sample(), Kind.EVALUATE, Phase.POPULATION, prefetchable=True)
            self._initial_ids.add(trial.trial_id)
            return trial
        return None

    def _child(self) -> Trial:
        members = list(self.population)
        size = min(self.sample_size, len(members))
        picks = self.rng.choice(len(members), size=size, replace=False)
        parent = max((members[i] for i in picks), key=lambda m: m.fitness)
        child = self._mutate(self.space.parse(parent.trial.arch))
        return self._trial(child, Kind.EVALUATE, Phase.CHILD, parent=parent.trial.trial_id)

    def ask(self) -> Trial | None:
        trial = self._initial_trial()
        if trial is not None:
            return trial
        if self._initial_ids & self.outstanding or self._waiting():
            return None  # evolution starts once the whole initial population is evaluated
        if not self.population:  # every initial member failed: draw another random member
            return self._trial(self._sample(), Kind.EVALUATE, Phase.POPULATION)
        return self._child()

    def _waiting(self) -> bool:
        return False

    def tell(self, trial: Trial, result: Result) -> None:
        self._consider(trial, result)
        if result.ok and trial.kind is Kind.EVALUATE:
            self.population.append(_Member(trial, result.value))
            while len(self.population) > self.population_size:
                self.population.popleft()

    @property
    def finished(self) -> bool:
        return False


class AREA(RegularizedEvolution):
    """Assisted REA (Mellor et al., 2021): score ``m`` random cells, seed REA's population with
    the ``population_size`` best scores, then evolve on accuracy.

    ``best()`` considers only evaluated (accuracy) trials, never the training-free scores.
    """

    name = "area"

    def __init__(
        self,
        space: SearchSpace,
        rng: np.random.Generator,
        population_size: int = 10,
        sample_size: int = 3,
        m: int = 20,
        ensemble: tuple[str, ...] | None = None,
        feasible: Feasible | None = None,
        max_draws: int = DEFAULT_MAX_DRAWS,
        fusion: str = "rank",
    ) -> None:
        super().__init__(space, rng, population_size, sample_size, feasible, max_draws)
        fused_order([], (), fusion)  # validates the fusion's name
        self.fusion = fusion
        self.ensemble = tuple(ensemble) if ensemble and len(ensemble) > 1 else None
        self._scored_results: list[tuple[Trial, Result]] = []
        if m < population_size:
            raise ValueError(f"m ({m}) must be at least population_size ({population_size})")
        self.m = m
        self._scored: list[tuple[float, int, str]] = []
        self._scores_told = 0
        self._seeds: list[str] | None = None

    def _initial_trial(self) -> Trial | None:
        if self._next_id < self.m:
            return self._trial(self._sample(), Kind.SCORE, Phase.SAMPLE, prefetchable=True)
        if self._scores_told < self.m:
            return None  # every score is needed before the population is chosen
        if self._seeds is None:
            if self.ensemble is None:
                by_score = sorted(self._scored, key=lambda s: (-s[0], s[1]))
                self._seeds = [arch for _score, _tid, arch in by_score[: self.population_size]]
            else:
                by_rank = fused_order(self._scored_results, self.ensemble, self.fusion)
                self._seeds = [t.arch for t, _r in by_rank[: self.population_size]]
        if self._initial_asked < len(self._seeds):
            arch = self.space.parse(self._seeds[self._initial_asked])
            self._initial_asked += 1
            trial = self._trial(arch, Kind.EVALUATE, Phase.POPULATION, prefetchable=True)
            self._initial_ids.add(trial.trial_id)
            return trial
        return None

    def _waiting(self) -> bool:
        return self._seeds is None

    def tell(self, trial: Trial, result: Result) -> None:
        if trial.kind is Kind.SCORE:
            self.outstanding.discard(trial.trial_id)
            self._scores_told += 1
            if result.ok:
                self._scored.append((result.value, trial.trial_id, trial.arch))
                self._scored_results.append((trial, result))
            return
        super().tell(trial, result)
