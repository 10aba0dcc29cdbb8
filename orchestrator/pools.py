"""The one scoring-pool builder: every command that scores cells (searches, studies, benches) gets
its pool here, so ``--executor``, ``--workers``, ``--device`` and the resources mean the same
everywhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cluster.ray_pool import RayScoringPool
from orchestrator.config import PoolOptions
from scoring.scorer import ScorerConfig
from scoring.service import InlinePool, Request, ScoringPool
from scoring.store import ScoreRecord


def make_pool(scorer: ScorerConfig, options: PoolOptions, *, compute_device: str | None = None) -> ScoringPool:
    """The scoring pool ``options`` asks for.

    ``inline`` scores in this process; ``ray`` starts ``options.workers`` actors through
    :class:`cluster.ray_pool.RayScoringPool` with the options' device, resources, address and
    timeouts (``compute_device`` overrides where actors compute, e.g. ``cpu`` on logical GPUs).

    Raises:
        RayConnectionError / ActorStartupError (``cluster.ray_pool``): Ray or the actors did not start.
    """
    if options.executor == "inline":
        return InlinePool(scorer)
    return RayScoringPool(
        scorer,
        workers=options.workers,
        address=options.address,
        device=options.device,
        gpus_per_worker=options.gpus_per_worker,
        cpus_per_worker=options.cpus_per_worker,
        startup_timeout_s=options.startup_timeout_s,
        task_timeout_s=options.task_timeout_s,
        compute_device=compute_device,
        cells_per_call=options.cells_per_call,
    )


class LazyPool:
    """A pool made on its first request, so a study whose every score is already stored starts no
    Ray actor. Until then ``hardware`` is "" (a stored score's time is then charged as stored)."""

    def __init__(self, factory: Callable[[], ScoringPool]) -> None:
        self._factory = factory
        self._pool: ScoringPool | None = None

    @property
    def started(self) -> bool:
        """Whether the pool was made (some request missed the store)."""
        return self._pool is not None

    @property
    def hardware(self) -> str:
        return "" if self._pool is None else self._pool.hardware

    def score_many(self, requests: Sequence[Request]) -> list[ScoreRecord]:
        """Score ``requests`` on the pool, making it first if needed (no pool for no requests)."""
        if not requests:
            return []
        if self._pool is None:
            self._pool = self._factory()
        return self._pool.score_many(requests)

    def close(self) -> None:
        """Close the pool if it was made; safe to call twice."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
