"""Scoring requests of the driver: answered from the shared score store, else by a pool of scorers.

A pool is where scoring runs: :class:`InlinePool` in this process (tests, ``--workers 0``), or
``cluster.ray_pool.RayScoringPool`` on Ray actors (CPUs or GPUs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from scoring.scorer import CellScorer, ScorerConfig
from scoring.store import ScoreRecord, ScoreStore

Request = tuple  # (arch string, init seed) or (arch string, init seed, proxy name)


class ScoringPool(Protocol):
    """Scores requests (arch, init seed[, proxy]); a candidate's fault is a FAILED record, never a raise."""

    def score_many(self, requests: Sequence[Request]) -> list[ScoreRecord]: ...

    def close(self) -> None: ...


class InlinePool:
    """Scores in the calling process, one request after the other."""

    def __init__(self, config: ScorerConfig) -> None:
        self.config = config
        self._scorer: CellScorer | None = None

    def score_many(self, requests: Sequence[Request]) -> list[ScoreRecord]:
        if self._scorer is None:
            self._scorer = CellScorer(self.config)
        return [self._scorer.score(*request) for request in requests]

    def close(self) -> None:
        self._scorer = None


class ScoringService:
    """Store first, pool for the misses; new records are added to the store.

    Every request is scored with each of ``proxies`` (default: the config's one proxy);
    ``score_many`` returns, per request and in request order, ``[(record, cached), ...]`` with one
    entry per proxy.
    """

    def __init__(
        self,
        config: ScorerConfig,
        pool: ScoringPool,
        store: ScoreStore | None = None,
        space=None,
        proxies: Sequence[str] | None = None,
    ) -> None:
        self.config = config
        self.pool = pool
        self.store = store
        self.space = space
        self.proxies = tuple(proxies or (config.proxy,))
        self.fresh = 0
        self.cached = 0

    def _key(self, arch: str, init_seed: int, proxy: str):
        return self.config.key(self.space.key(self.space.parse(arch)), init_seed, proxy)

    def score_many(self, requests: Sequence[tuple[str, int]]) -> list[list[tuple[ScoreRecord, bool]]]:
        flat = [(arch, seed, proxy) for arch, seed in requests for proxy in self.proxies]
        out: list[tuple[ScoreRecord, bool] | None] = [None] * len(flat)
        misses: list[int] = []
        for i, (arch, seed, proxy) in enumerate(flat):
            record = None
            if self.store is not None and self.space is not None:
                record = self.store.get(self._key(arch, seed, proxy))
            if record is not None:
                out[i] = (record, True)
            else:
                misses.append(i)
        if misses:
            single = self.proxies == (self.config.proxy,)
            asked = [flat[i][:2] if single else flat[i] for i in misses]
            for i, record in zip(misses, self.pool.score_many(asked)):
                arch, seed, proxy = flat[i]
                if self.space is not None:
                    record = dataclasses.replace(record, key=self._key(arch, seed, proxy))
                out[i] = (record, False)
                if self.store is not None:
                    self.store.put(record)
        self.cached += len(flat) - len(misses)
        self.fresh += len(misses)
        k = len(self.proxies)
        return [out[j * k : (j + 1) * k] for j in range(len(requests))]  # type: ignore[misc]

    def flush(self) -> None:
        if self.store is not None:
            self.store.flush()
