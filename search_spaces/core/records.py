"""Immutable records of a search: what was asked (Trial) and how it ended (Result).

Each Result becomes one row of the run's history (see :mod:`orchestrator.history`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from search_spaces.core.status import Status

__all__ = ["Kind", "Phase", "Result", "Status", "Trial", "METRIC_NAMES"]

# NAS-Bench-201's 200-epoch accuracies, in the paper's table order: the report's column order, and
# the default metric columns of a history. A run's history columns come from its benchmark's
# metric names (``search_spaces.benchmarks.base.Benchmark.metrics``), not from this list.
METRIC_NAMES: tuple[str, ...] = (
    "cifar10_valid",
    "cifar10_test",
    "cifar100_valid",
    "cifar100_test",
    "imagenet16_valid",
    "imagenet16_test",
)


class Kind(str, enum.Enum):
    """What a trial asks for."""

    SCORE = "score"  # a training-free score of the untrained network (real compute)
    EVALUATE = "evaluate"  # an accuracy from the oracle (lookup or training)


class Phase(str, enum.Enum):
    """Where in its search a trial comes from."""

    SAMPLE = "sample"  # a random cell (NASWOT's N, AREA's M, random search)
    POPULATION = "population"  # a member of REA's initial population
    CHILD = "child"  # a mutation of a tournament winner


@dataclass(frozen=True)
class Trial:
    """One request of a searcher.

    ``prefetchable`` trials do not depend on any result not yet told, so a driver may run them
    ahead of time (in parallel) without changing what the search does.
    """

    trial_id: int
    arch: str
    kind: Kind
    phase: Phase
    parent: int = -1
    prefetchable: bool = False


@dataclass(frozen=True)
class Result:
    """How a trial ended. ``value`` is the score (SCORE) or the fitness (EVALUATE)."""

    status: Status
    value: float = math.nan
    cost_s: float = 0.0  # what the trial charges the search budget (simulated or real seconds)
    score: float = math.nan
    score_s: float = math.nan
    fitness: float = math.nan
    metrics: dict[str, float] = field(default_factory=dict)
    proxy_scores: dict[str, float] = field(default_factory=dict)  # every proxy a SCORE trial was scored with
    error: str = ""
    worker: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status is Status.OK
