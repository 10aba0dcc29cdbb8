"""Scoring on Ray actors: W actors, each holding the space, the image batch and the scorer.

Each actor is placed through Ray's resources: ``num_gpus`` (1, or a fraction to pack several
actors on one GPU) when the cluster has GPUs, otherwise a fractional ``num_cpus`` so that e.g. 8
workers start on 2 cores. The pool keeps up to W requests in flight (submit, wait for the next to
finish, submit the next). An actor that dies is replaced and its request retried (up to
``max_retries`` times, then the request is recorded as FAILED); a candidate's own exception comes
back as a FAILED record from the actor and does not kill it.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Sequence

from scoring.scorer import CellScorer, ScorerConfig
from scoring.status import Status
from scoring.store import ScoreRecord


def ensure_ray(address: str | None = None, num_cpus: int | None = None):
    """Connect to ``address`` (an existing cluster, e.g. after ``ray up``) or start a local Ray."""
    import ray

    if ray.is_initialized():
        return ray
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    if address is None:
        # a private local instance: no token round-trips needed on one machine
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return ray


class _ScoringActorImpl:
    """The actor body: loads everything once, then scores on request."""

    def __init__(self, config: ScorerConfig, name: str) -> None:
        self.name = name
        self.scorer = CellScorer(config)

    def ready(self) -> str:
        return self.name

    def score(self, arch: str, init_seed: int, proxy: str | None = None) -> ScoreRecord:
        return self.scorer.score(arch, init_seed, proxy)


class RayScoringPool:
    """A pool of W scoring actors; see the module docstring.

    Args:
        workers: number of actors W.
        gpus_per_worker: GPUs per actor; default 1 when the cluster has GPUs, else 0.
        cpus_per_worker: CPUs per actor; default ``cluster CPUs / W`` (at most 1) on CPU-only
            clusters, 1 when actors hold GPUs.
        max_retries: how often a request whose actor died is retried on a fresh actor.
    """

    def __init__(
        self,
        config: ScorerConfig,
        workers: int = 1,
        *,
        address: str | None = None,
        gpus_per_worker: float | None = None,
        cpus_per_worker: float | None = None,
        max_retries: int = 2,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.ray = ensure_ray(address)
        resources = self.ray.cluster_resources()
        total_gpus = float(resources.get("GPU", 0.0))
        total_cpus = float(resources.get("CPU", 1.0))
        if gpus_per_worker is None:
            gpus_per_worker = 1.0 if total_gpus >= 1 else (total_gpus if total_gpus > 0 else 0.0)
        if cpus_per_worker is None:
            cpus_per_worker = 1.0 if gpus_per_worker > 0 else min(1.0, round(total_cpus / workers, 4))
        device = "cuda" if gpus_per_worker > 0 else "cpu"
        self.config = ScorerConfig(**{**config.__dict__, "device": device})
        self.gpus_per_worker, self.cpus_per_worker = gpus_per_worker, cpus_per_worker
        self.max_retries = max_retries
        self._actor_cls = self.ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)(_ScoringActorImpl)
        self._generation = 0
        self.actors = [self._new_actor(i) for i in range(workers)]
        self.ray.get([a.ready.remote() for a in self.actors])
        self.restarts = 0

    def _new_actor(self, slot: int):
        self._generation += 1
        return self._actor_cls.remote(self.config, f"ray-actor-{slot}.{self._generation}")

    def _replace(self, slot: int) -> None:
        try:
            self.ray.kill(self.actors[slot])
        except Exception:  # already gone  # noqa: BLE001 - ray raises several types here
            pass
        self.actors[slot] = self._new_actor(slot)
        self.restarts += 1

    def score_many(self, requests: Sequence[tuple]) -> list[ScoreRecord]:
        """Score every request ``(arch, init_seed[, proxy])``, W in flight; results in request order."""
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

        pending = deque(range(len(requests)))
        results: list[ScoreRecord | None] = [None] * len(requests)
        attempts = [0] * len(requests)
        idle = deque(range(len(self.actors)))
        in_flight: dict = {}
        while pending or in_flight:
            while pending and idle:
                i, slot = pending.popleft(), idle.popleft()
                arch, seed, *proxy = requests[i]
                in_flight[self.actors[slot].score.remote(arch, int(seed), *proxy)] = (i, slot, time.perf_counter())
            ready, _ = self.ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                i, slot, started = in_flight.pop(ref)
                try:
                    results[i] = self.ray.get(ref)
                except (ActorDiedError, ActorUnavailableError, RayActorError) as exc:
                    self._replace(slot)
                    attempts[i] += 1
                    if attempts[i] > self.max_retries:
                        arch, seed, *proxy = requests[i]
                        results[i] = ScoreRecord(
                            self.config.key(-1, seed, *proxy),
                            arch,
                            float("nan"),
                            0.0,
                            time.perf_counter() - started,
                            Status.FAILED,
                            f"scoring actor died {attempts[i]} times: {type(exc).__name__}: {exc}",
                            self.config.device,
                            time.time(),
                        )
                    else:
                        pending.appendleft(i)
                idle.append(slot)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor)
            except Exception:  # noqa: BLE001 - best effort on shutdown
                pass
        self.actors = []
