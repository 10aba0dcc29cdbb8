"""The one way cells get scored: the shared score store first, then a pool of scorers for the misses.

A pool is where scoring runs: :class:`InlinePool` in this process, or
``cluster.ray_pool.RayScoringPool`` on Ray actors (CPUs or GPUs). The searches, ``orchestrator.correlate``
and ``scoring.sweep`` all score through :class:`ScoringService`.

Timing and the store: a stored record keeps the time it took and the hardware it ran on. A cached
score measured on other hardware than the pool's is scored afresh here (its time would be wrong for
this run's budget), and :attr:`ScoringService.remeasured` counts how often that happened.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Protocol

from scoring.scorer import CellScorer, ScorerConfig
from scoring.store import ScoreKey, ScoreRecord, ScoreStore
from search_spaces.core.space import SearchSpace
from search_spaces.core.status import Status

Request = tuple  # (arch string, init seed) or (arch string, init seed, proxy name)


class ScoringPool(Protocol):
    """Scores requests ``(arch, init seed[, proxy])``; a candidate's fault is a FAILED record, never a raise.

    ``hardware`` is the ``scoring.hardware.describe_device`` string of where it scores, or "" when
    unknown (then cached times are charged as stored).
    """

    @property
    def hardware(self) -> str: ...

    def score_many(self, requests: Sequence[Request]) -> list[ScoreRecord]: ...

    def close(self) -> None: ...


class InlinePool:
    """Scores in the calling process, one request after the other (the scorer is built on first use)."""

    def __init__(self, config: ScorerConfig) -> None:
        self.config = config
        self._scorer: CellScorer | None = None
        from scoring.hardware import describe_device

        self.hardware = describe_device(config.device)

    def score_many(self, requests: Sequence[Request]) -> list[ScoreRecord]:
        if self._scorer is None:
            self._scorer = CellScorer(self.config, retain_memory=True)
        return [self._scorer.score(*request) for request in requests]

    def close(self) -> None:
        self._scorer = None


def failed_record(key: ScoreKey, arch: str, message: str, seconds: float = 0.0, device: str = "") -> ScoreRecord:
    """A FAILED record for a request that produced no record of its own (a pool fault)."""
    return ScoreRecord(key, arch, math.nan, 0.0, seconds, Status.FAILED, message, device, time.time())


class ScoringService:
    """Store first, pool for the misses; new records are added to the store.

    Every request is scored with each of ``proxies`` (default: the config's one proxy);
    :meth:`score_many` returns, per request and in request order, ``[(record, cached), ...]`` with
    one entry per proxy. Keys come from ``space.key`` (so isomorphic cells share a score where the
    space's key says so). Mutates the store (``put``); never raises for a candidate's fault.

    Args:
        check_hardware: re-score cached records measured on other hardware than ``pool.hardware``.
    """

    def __init__(
        self,
        config: ScorerConfig,
        pool: ScoringPool,
        store: ScoreStore | None,
        space: SearchSpace,
        proxies: Sequence[str] | None = None,
        check_hardware: bool = True,
    ) -> None:
        self.config = config
        self.pool = pool
        self.store = store
        self.space = space
        self.proxies = tuple(proxies or (config.proxy,))
        self.check_hardware = check_hardware
        self.fresh = 0
        self.cached = 0
        self.remeasured = 0

    def key(self, arch: str, init_seed: int, proxy: str) -> ScoreKey | None:
        """The store key of ``arch``; None when ``arch`` does not parse (the pool then reports it)."""
        try:
            arch_key = self.space.key(self.space.parse(arch))
        except (ValueError, KeyError):
            return None
        return self.config.key(arch_key, init_seed, proxy)

    def _usable(self, record: ScoreRecord) -> bool:
        hardware = getattr(self.pool, "hardware", "")
        if not self.check_hardware or not hardware or record.hardware == hardware:
            return True
        self.remeasured += 1
        return False

    def score_many(self, requests: Sequence[tuple[str, int]]) -> list[list[tuple[ScoreRecord, bool]]]:
        flat = [(arch, int(seed), proxy) for arch, seed in requests for proxy in self.proxies]
        out: list[tuple[ScoreRecord, bool] | None] = [None] * len(flat)
        misses: list[int] = []
        keys = [self.key(arch, seed, proxy) for arch, seed, proxy in flat]
        for i, key in enumerate(keys):
            record = self.store.get(key) if self.store is not None and key is not None else None
            if record is not None and self._usable(record):
                out[i] = (record, True)
            else:
                misses.append(i)
        if misses:
            single = self.proxies == (self.config.proxy,)
            asked = [flat[i][:2] if single else flat[i] for i in misses]
            try:
                answers = self.pool.score_many(asked)
            except Exception as exc:  # noqa: BLE001 - a pool fault fails these candidates, not the run
                message = f"scoring pool failed: {type(exc).__name__}: {exc}"
                answers = [failed_record(keys[i] or self._fallback_key(*flat[i]), flat[i][0], message) for i in misses]
            for i, record in zip(misses, answers):
                key = keys[i]
                if key is not None:
                    record = dataclasses.replace(record, key=key)
                    if self.store is not None:
                        self.store.put(record)
                out[i] = (record, False)
        self.cached += len(flat) - len(misses)
        self.fresh += len(misses)
        k = len(self.proxies)
        return [out[j * k : (j + 1) * k] for j in range(len(requests))]  # type: ignore[misc]

    def _fallback_key(self, arch: str, seed: int, proxy: str) -> ScoreKey:
        return self.config.key("?", seed, proxy)

    def flush(self) -> None:
        """Write the store's pending records (no-op without a store)."""
        if self.store is not None:
            self.store.flush()
