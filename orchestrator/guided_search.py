"""Few-query search: a training-free screen, then hill-climbing on accuracy guided by a fused score.

The training-free scores say which cells are worth an accuracy query; the few queries say where
the scores are wrong. :class:`GuidedLocalSearch` (``guided_ls``):

1. scores ``m`` random cells (SCORE trials, all prefetchable, so W actors score them at once);
2. evaluates the best of them by the fused score (one EVALUATE trial: one accuracy query);
3. then, again and again: takes the *incumbent* (the best evaluated cell), scores up to
   ``neighbours`` distinct mutations of it (once per incumbent; cells scored before are not scored
   again) and evaluates the incumbent's unevaluated neighbour with the best fused score. When the
   incumbent has no unevaluated neighbour left, the next best evaluated cell's neighbours are used,
   and when no evaluated cell has any, the best-fused scored cell not yet evaluated.

The fused score of a cell is its rank fusion among *every* cell scored so far (with one proxy, the
proxy's own ranking; with an ensemble, :func:`orchestrator.searchers.ensemble_order`, log-rank by
default). The budget (how many queries, how many seconds) is the driver's, as for every searcher:
``--max-evaluations 20`` is a 20-query search. Same seed, same trials: all randomness comes from the
given generator, and nothing depends on how many actors score.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from orchestrator.searchers import DEFAULT_MAX_DRAWS, Feasible, _Base, fused_order
from search_spaces.core.records import Kind, Phase, Result, Trial
from search_spaces.core.space import SearchSpace

DEFAULT_NEIGHBOURS = 24
"""Distinct mutations scored around each incumbent (every one-edge change of an NB201 cell)."""


@dataclass
class _Cell:
    """What the search knows of one distinct cell (by ``space.key``)."""

    arch: str
    scored: tuple[Trial, Result] | None = None
    evaluated: tuple[Trial, Result] | None = None
    asked: bool = False  # an EVALUATE trial was asked (its result may still be pending)
    neighbours: list[str] = field(default_factory=list)  # keys; filled once, when it is an incumbent
    expanded: bool = False


class GuidedLocalSearch(_Base):
    """Training-free screen of ``m`` random cells, then accuracy hill-climbing over scored neighbours.

    Args:
        m: random cells scored before the first query.
        neighbours: distinct mutations scored around each incumbent (at most; a space with fewer
            distinct mutations gives fewer).
        ensemble: proxies fused by rank (two or more); None or one proxy: the trials' ``value``.
        fusion: ``"logrank"`` (AZ-NAS's sum of log ranks) or ``"rank"`` (sum of ranks).

    ``best()`` considers evaluated (accuracy) trials only. Failed or non-finite results are kept as
    such: a cell whose score failed ranks last, one whose evaluation failed is never an incumbent.

    Raises:
        ValueError: ``m`` or ``neighbours`` below 1, or an unknown fusion.
    """

    name = "guided_ls"

    def __init__(
        self,
        space: SearchSpace,
        rng: np.random.Generator,
        m: int = 1000,
        neighbours: int = DEFAULT_NEIGHBOURS,
        ensemble: tuple[str, ...] | None = None,
        fusion: str = "logrank",
        feasible: Feasible | None = None,
        max_draws: int = DEFAULT_MAX_DRAWS,
    ) -> None:
        super().__init__(space, rng, feasible, max_draws)
        if m < 1 or neighbours < 1:
            raise ValueError(f"m and neighbours must be at least 1, got {m}, {neighbours}")
        fused_order([], (), fusion)  # validates the fusion's name
        self.m = m
        self.neighbours = neighbours
        self.ensemble = tuple(ensemble) if ensemble and len(ensemble) > 1 else None
        self.fusion = fusion
        self._cells: dict[str, _Cell] = {}
        self._order: list[str] = []  # keys in first-scored order (ties go to the earlier cell)
        self._sampled = 0
        self._pending_scores: set[int] = set()
        self._pending_evaluations: set[int] = set()
        self._rank_cache: dict[str, int] | None = None
        self._queue: deque[Trial] = deque()  # neighbour SCORE trials made together, handed out one by one

    # -- bookkeeping ---------------------------------------------------------------------
    def _key(self, arch: str) -> str:
        return self.space.key(self.space.parse(arch))

    def _ranked(self) -> dict[str, int]:
        """Position of every scored cell by the fused score, best first (0)."""
        if self._rank_cache is None:
            items = [self._cells[k].scored for k in self._order]
            scored = [s for s in items if s is not None]
            if self.ensemble is None:
                order = sorted(
                    scored,
                    key=lambda tr: (0 if tr[1].ok else 1, -(tr[1].value if tr[1].ok else 0.0), tr[0].trial_id),
                )
            else:
                order = fused_order(scored, self.ensemble, self.fusion)
            self._rank_cache = {self._key(t.arch): i for i, (t, _r) in enumerate(order)}
        return self._rank_cache

    def _evaluated(self) -> list[_Cell]:
        """Evaluated cells whose evaluation succeeded, best accuracy first (ties: earlier trial)."""
        done = [c for c in self._cells.values() if c.evaluated is not None and c.evaluated[1].ok]
        assert all(c.evaluated is not None for c in done)
        return sorted(done, key=lambda c: (-c.evaluated[1].value, c.evaluated[0].trial_id))  # type: ignore[index]

    # -- asking --------------------------------------------------------------------------
    def _score_trial(self, arch, phase: Phase, parent: int = -1) -> Trial:
        trial = self._trial(arch, Kind.SCORE, phase, parent=parent, prefetchable=True)
        self._pending_scores.add(trial.trial_id)
        key = self.space.key(arch)
        self._cells.setdefault(key, _Cell(trial.arch))
        return trial

    def _evaluate_trial(self, key: str, phase: Phase, parent: int = -1) -> Trial:
        trial = self._trial(self.space.parse(self._cells[key].arch), Kind.EVALUATE, phase, parent=parent)
        self._pending_evaluations.add(trial.trial_id)
        self._cells[key].asked = True
        return trial

    def _expand(self, cell: _Cell) -> list:
        """Up to ``neighbours`` distinct mutations of ``cell`` (their archs) not yet known to the search."""
        cell.expanded = True
        parent = self.space.parse(cell.arch)
        own = self.space.key(parent)
        fresh = []
        for _ in range(10 * self.neighbours):
            if len(cell.neighbours) >= self.neighbours:
                break
            child = self._mutate(parent)
            key = self.space.key(child)
            if key == own or key in cell.neighbours:
                continue
            cell.neighbours.append(key)
            if key not in self._cells:
                fresh.append(child)
                self._cells[key] = _Cell(self.space.format(child))
        return fresh

    def ask(self) -> Trial | None:
        if self._sampled < self.m:
            self._sampled += 1
            for _ in range(self.max_draws):
                arch = self._sample()
                if self.space.key(arch) not in self._cells:
                    return self._score_trial(arch, Phase.SAMPLE)
            return self._score_trial(arch, Phase.SAMPLE)  # a space with fewer than m cells: repeats
        if self._queue:
            return self._queue.popleft()
        if self._pending_scores or self._pending_evaluations:
            return None  # every choice below depends on the results asked so far
        for incumbent in self._evaluated():
            if not incumbent.expanded:
                fresh = self._expand(incumbent)
                if fresh:
                    parent = incumbent.evaluated[0].trial_id  # type: ignore[index]
                    self._queue.extend(self._score_trial(arch, Phase.CHILD, parent) for arch in fresh)
                    return self._queue.popleft()
            ranked = self._ranked()
            open_ = [k for k in incumbent.neighbours if not self._cells[k].asked and k in ranked]
            if open_:
                parent = incumbent.evaluated[0].trial_id  # type: ignore[index]
                return self._evaluate_trial(min(open_, key=ranked.__getitem__), Phase.CHILD, parent)
        ranked = self._ranked()
        for key in sorted(ranked, key=ranked.__getitem__):
            if not self._cells[key].asked:
                return self._evaluate_trial(key, Phase.POPULATION)
        return None

    # -- telling -------------------------------------------------------------------------
    def tell(self, trial: Trial, result: Result) -> None:
        self.outstanding.discard(trial.trial_id)
        key = self._key(trial.arch)
        cell = self._cells.setdefault(key, _Cell(trial.arch, asked=trial.kind is Kind.EVALUATE))
        if trial.kind is Kind.SCORE:
            self._pending_scores.discard(trial.trial_id)
            if cell.scored is None:
                cell.scored = (trial, result)
                self._order.append(key)
                self._rank_cache = None
            return
        self._pending_evaluations.discard(trial.trial_id)
        cell.evaluated = (trial, result)
        self._consider(trial, result)

    @property
    def finished(self) -> bool:
        return False
