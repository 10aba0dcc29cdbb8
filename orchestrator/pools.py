"""The one scoring-pool builder: every command that scores cells (searches, studies, benches) gets
its pool here, so ``--executor``, ``--workers``, ``--device`` and the resources mean the same
everywhere."""

from __future__ import annotations

from cluster.ray_pool import RayScoringPool
from orchestrator.config import PoolOptions
from scoring.scorer import ScorerConfig
from scoring.service import InlinePool, ScoringPool


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
    )
