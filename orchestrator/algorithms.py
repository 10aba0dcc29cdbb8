"""The search algorithms, defined once: what each needs, and the one searcher factory.

Every command and both drivers (simulated clock, Ray Tune) make their searchers here, so an
algorithm means the same thing wherever it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.constraints import Constraints
from orchestrator.guided_search import DEFAULT_NEIGHBOURS, GuidedLocalSearch
from orchestrator.mo_searchers import DEFAULT_OBJECTIVE_COST, DEFAULT_SELECTION, MORegularizedEvolution
from orchestrator.searchers import AREA, NASWOTSearch, RandomSearch, RegularizedEvolution, Searcher
from search_spaces import get_space
from search_spaces.core.errors import UnknownNameError
from search_spaces.core.space import SearchSpace


@dataclass(frozen=True)
class Algorithm:
    """What a search algorithm needs.

    Attributes:
        scores: it asks training-free SCORE trials (so a run needs a scoring pool and images).
        evaluates: it asks EVALUATE trials (so it needs a benchmark, or training, and a budget).
        trains: it can run with real training (``--oracle tune``).
    """

    name: str
    scores: bool
    evaluates: bool
    trains: bool


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("naswot", scores=True, evaluates=False, trains=False),
        Algorithm("random", scores=False, evaluates=True, trains=True),
        Algorithm("rea", scores=False, evaluates=True, trains=True),
        Algorithm("area", scores=True, evaluates=True, trains=True),
        Algorithm("mo_rea", scores=False, evaluates=True, trains=True),
        Algorithm("guided_ls", scores=True, evaluates=True, trains=True),
    )
}


def algorithm(name: str) -> Algorithm:
    """The algorithm called ``name``; raises ``UnknownNameError`` listing the known ones."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UnknownNameError("algorithm", name, tuple(ALGORITHMS)) from None


@dataclass(frozen=True)
class SearchParams:
    """The algorithm's own parameters (see each searcher): NASWOT's ``n``, REA's ``population_size``
    and ``sample_size``, AREA's and guided_ls's ``m``, the proxies' ``ensemble`` (empty: one proxy)
    and how it is fused (``fusion``: ``rank`` or ``logrank``), MO-REA's ``objective_cost`` and
    tournament ``selection`` (:mod:`orchestrator.mo_searchers`), and guided_ls's ``neighbours``
    (:mod:`orchestrator.guided_search`)."""

    n: int = 100
    m: int = 20
    population_size: int = 10
    sample_size: int = 3
    ensemble: tuple[str, ...] = ()
    objective_cost: str = DEFAULT_OBJECTIVE_COST
    selection: str = DEFAULT_SELECTION
    fusion: str = "rank"
    neighbours: int = DEFAULT_NEIGHBOURS


def make_searcher(
    name: str,
    space: SearchSpace,
    rng: np.random.Generator,
    params: SearchParams,
    feasible: Callable[[Any], bool] | None = None,
) -> Searcher:
    """A fresh searcher of algorithm ``name`` over ``space``, drawing from ``rng``; with ``feasible``,
    sampling and mutation skip cells it rejects (so the searcher returns feasible cells only).

    Raises:
        UnknownNameError: ``name`` is not an algorithm.
    """
    algorithm(name)
    if name == "naswot":
        return NASWOTSearch(space, rng, n=params.n, ensemble=params.ensemble, feasible=feasible, fusion=params.fusion)
    if name == "random":
        return RandomSearch(space, rng, feasible=feasible)
    if name == "rea":
        return RegularizedEvolution(space, rng, params.population_size, params.sample_size, feasible=feasible)
    if name == "mo_rea":
        return MORegularizedEvolution(
            space,
            rng,
            params.population_size,
            params.sample_size,
            objective_cost=params.objective_cost,
            selection=params.selection,
            feasible=feasible,
        )
    if name == "guided_ls":
        return GuidedLocalSearch(
            space,
            rng,
            m=params.m,
            neighbours=params.neighbours,
            ensemble=params.ensemble,
            fusion=params.fusion,
            feasible=feasible,
        )
    return AREA(
        space,
        rng,
        params.population_size,
        params.sample_size,
        m=params.m,
        ensemble=params.ensemble,
        feasible=feasible,
        fusion=params.fusion,
    )


@dataclass(frozen=True)
class SearcherFactory:
    """``factory(rng) -> Searcher`` for one run; picklable (Tune pickles it with its search algorithm),
    so it holds the space's name and options rather than the space."""

    name: str
    space: str
    space_options: tuple[tuple[str, object], ...]
    params: SearchParams
    constraints: Constraints | None = None

    def __call__(self, rng: np.random.Generator) -> Searcher:
        space = get_space(self.space, **dict(self.space_options))
        feasible = self.constraints.bind(space) if self.constraints is not None and self.constraints.active else None
        return make_searcher(self.name, space, rng, self.params, feasible)
