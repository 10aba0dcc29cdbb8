"""Scoring requests of the driver: answered from the shared score store, else by a pool of scorers.

A pool is where scoring runs: :class:`InlinePool` in this process (tests, ``--workers 0``), or
``cluster.ray_pool.RayScoringPool`` on Ray actors (CPUs or GPUs).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

from scoring.scorer import CellScorer, ScorerConfig
from scoring.store import ScoreRecord, ScoreStore


class ScoringPool(Protocol):
    """Scores (arch string, init seed) requests; a candidate's fault is a FAILED record, never a raise."""

    def score_many(self, requests: Sequence[tuple[str, int]]) -> list[ScoreRecord]: ...

    def close(self) -> None: ...


class InlinePool:
    """Scores in the calling process, one request after the other."""

    def __init__(self, config: ScorerConfig) -> None:
        self.config = config
        self._scorer: CellScorer | None = None

    def score_many(self, requests: Sequence[tuple[str, int]]) -> list[ScoreRecord]:
        if self._scorer is None:
            self._scorer = CellScorer(self.config)
        return [self._scorer.score(arch, seed) for arch, seed in requests]

    def close(self) -> None:
        self._scorer = None


class ScoringService:
    """Store first, pool for the misses; new records are added to the store.

    ``score_many`` returns ``(record, cached)`` per request, in request order.
    """

    def __init__(self, config: ScorerConfig, pool: ScoringPool, store: ScoreStore | None = None, space=None) -> None:
        self.config = config
        self.pool = pool
        self.store = store
        self.space = space
        self.fresh = 0
        self.cached = 0

    def _key(self, arch: str, init_seed: int):
        return self.config.key(self.space.key(self.space.parse(arch)), init_seed)

    def score_many(self, requests: Sequence[tuple[str, int]]) -> list[tuple[ScoreRecord, bool]]:
        out: list[tuple[ScoreRecord, bool] | None] = [None] * len(requests)
        misses: list[int] = []
        for i, (arch, seed) in enumerate(requests):
            record = self.store.get(self._key(arch, seed)) if self.store is not None and self.space is not None else None
            if record is not None:
                out[i] = (record, True)
            else:
                misses.append(i)
        if misses:
            records = self.pool.score_many([requests[i] for i in misses])
            for i, record in zip(misses, records):
                arch, seed = requests[i]
                if self.space is not None:
                    record = dataclasses.replace(record, key=self._key(arch, seed))
                out[i] = (record, False)
                if self.store is not None:
                    self.store.put(record)
        self.cached += len(requests) - len(misses)
        self.fresh += len(misses)
        return out  # type: ignore[return-value]

    def flush(self) -> None:
        if self.store is not None:
            self.store.flush()
