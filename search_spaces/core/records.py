"""Immutable records of a search: what was asked (Trial) and how it ended (Result).

Each has one serialisation: :meth:`Trial.fields` / :meth:`Trial.from_fields` and
:func:`result_fields` / :func:`result_from_fields`, flat dicts of plain values. The run history's row
is a trial's fields plus its result's fields plus the run's context (``orchestrator.history``); the
Tune adapter's ask/tell log stores the same dicts (``cluster.tune_searcher``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from search_spaces.core.status import Status

__all__ = ["Kind", "Phase", "Result", "Status", "Trial", "result_fields", "result_from_fields"]


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

    def fields(self) -> dict[str, Any]:
        """The trial as a flat dict of plain values (the history's trial columns)."""
        return {
            "trial_id": self.trial_id,
            "arch": self.arch,
            "kind": self.kind.value,
            "phase": self.phase.value,
            "parent": self.parent,
            "prefetchable": self.prefetchable,
        }

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> Trial:
        """Inverse of :meth:`fields` (``prefetchable`` defaults to False where absent, as in history rows)."""
        return cls(
            int(data["trial_id"]),
            str(data["arch"]),
            Kind(data["kind"]),
            Phase(data["phase"]),
            int(data["parent"]),
            bool(data.get("prefetchable", False)),
        )


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


# the Result attributes that are columns of their own (the metrics become one column each)
RESULT_COLUMNS: tuple[str, ...] = (
    "status", "score", "score_s", "proxy_scores", "fitness", "cost_s", "worker", "cached", "error"
)  # fmt: skip


def result_fields(result: Result) -> dict[str, Any]:
    """The result as a flat dict: :data:`RESULT_COLUMNS` (``proxy_scores`` as ``(name, value)``
    pairs) and then one entry per metric. ``value`` is not stored: it is the score of a SCORE trial
    and the fitness of an EVALUATE trial (:func:`result_from_fields`)."""
    return {
        "status": result.status.value,
        "score": result.score,
        "score_s": result.score_s,
        "proxy_scores": list(result.proxy_scores.items()),
        "fitness": result.fitness,
        "cost_s": result.cost_s,
        "worker": result.worker,
        "cached": result.cached,
        "error": result.error,
        **result.metrics,
    }


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def result_from_fields(data: Mapping[str, Any], kind: Kind | str, metric_names: Sequence[str] | None = None) -> Result:
    """Inverse of :func:`result_fields` for a trial of ``kind``.

    ``metric_names``: which entries are metrics (None: every entry but :data:`RESULT_COLUMNS`; a
    caller whose dict holds other columns too, e.g. a history row, names the metrics).
    """
    kind = Kind(kind)
    if metric_names is None:
        metric_names = [k for k in data if k not in RESULT_COLUMNS]
    score, fitness = _float(data["score"]), _float(data["fitness"])
    return Result(
        status=Status(data["status"]),
        value=score if kind is Kind.SCORE else fitness,
        cost_s=_float(data["cost_s"]),
        score=score,
        score_s=_float(data["score_s"]),
        fitness=fitness,
        metrics={m: _float(data[m]) for m in metric_names if m in data},
        proxy_scores={str(k): _float(v) for k, v in (data.get("proxy_scores") or [])},
        error=str(data.get("error") or ""),
        worker=str(data.get("worker") or ""),
        cached=bool(data.get("cached", False)),
    )
