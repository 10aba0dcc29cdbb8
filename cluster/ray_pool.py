"""Scoring on Ray actors: W actors, each holding the space, the image batch and the scorer.

Resources are the user's choice (:mod:`cluster.resources`): with ``device="cuda"`` every actor asks
Ray for ``num_gpus`` (default 1, fractions pack several actors on one GPU), so an autoscaling
cluster launches GPU nodes for them; with ``"cpu"`` a fractional ``num_cpus`` lets 8 actors start
on 2 cores; ``"auto"`` is cuda when GPUs are asked for or present. Actors are spread over the
nodes (``scheduling_strategy="SPREAD"``). A cuda actor checks that torch sees the GPU Ray gave it,
and every actor reports where it runs (node id, GPU ids) in :attr:`RayScoringPool.placements` and
in each request's worker string (``ray-actor-<slot>.<generation>@<node id[:8]>/gpu<ids>`` or
``.../cpu``; :attr:`RayScoringPool.last_workers`).

The pool keeps up to W calls in flight (submit, wait for the next to finish, submit the next). A
call carries up to ``cells_per_call`` requests (fewer when there are too few to keep every actor
busy), so on a GPU, where a cell scores in milliseconds, Ray's per-call cost is shared by several
cells. Batching never changes an answer: every cell is scored alone, from its own seed, and the
records come back in request order (``orchestrator.bench scoring --noop --cells-per-call 1 4 16``
measures the pool's own cost per cell).

Timeouts and faults:

* Start-up waits at most ``startup_timeout_s`` (default: short for a private local Ray, minutes
  for an existing cluster) for all W actors, then kills what it started and raises
  :class:`ActorStartupError` naming what was asked for (``W x {CPU: c, GPU: g}``) and what the
  cluster offers. An actor that fails in its constructor (e.g. no GPU visible to torch) raises
  the same error with the actor's message.
* A request that runs past ``task_timeout_s`` has its actor killed (``ray.kill``; Ray refuses
  ``ray.cancel(force=True)`` for actor tasks) and replaced; the request is retried.
* A request whose actor dies (killed, its node removed) is retried on a replacement actor.
* After ``max_retries`` retries the request is recorded FAILED with the reason; a candidate's own
  exception is a FAILED record from the actor and does not kill it.
* A replacement that cannot start within ``startup_timeout_s`` is given up: the pool goes on
  with fewer actors, and raises :class:`PoolExhaustedError` only when none is left.

Authentication: Ray's token authentication stays on. A private local Ray generates its token
(``~/.ray/auth_token``); to join a cluster with ``address``, this process needs that cluster's
token (``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``, e.g. from ``ray get-auth-token`` on its head).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from cluster.resources import (
    DEFAULT_TASK_TIMEOUT_S,
    ActorResources,
    ResourceRequestError,
    default_startup_timeout,
    resolve_resources,
)
from scoring.scorer import CellScorer, ScorerConfig
from scoring.service import failed_record
from scoring.store import ScoreRecord
from search_spaces.core.errors import NaswotError
from search_spaces.core.status import Status

# Where a record was scored ("ray-actor-0.1@1a2b3c4d/gpu0") travels in ScoreRecord.worker, and from
# there into the history's worker column.


class RayConnectionError(NaswotError, ConnectionError):
    """Ray could not be started or joined (no cluster at the address, or an authentication failure)."""


class ActorStartupError(NaswotError, TimeoutError):
    """The scoring actors did not all start: not enough resources within the timeout, or they failed."""


class GPUNotVisibleError(NaswotError, RuntimeError):
    """Ray gave an actor a GPU, but torch in that actor sees no CUDA device."""


class PoolExhaustedError(NaswotError, RuntimeError):
    """Every scoring actor was lost and none could be replaced within the start-up timeout."""


def ensure_ray(address: str | None = None, num_cpus: int | None = None):
    """The ``ray`` module, initialised: joined to ``address`` or a private local instance.

    Does nothing when Ray is already initialised in this process. Token authentication is left as
    Ray sets it: on for a new local instance (Ray generates the token); with ``address``, Ray reads
    the cluster's token from ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / ``~/.ray/auth_token``.
    Sets ``RAY_ENABLE_UV_RUN_RUNTIME_ENV=0`` in ``os.environ`` if unset (mutates the environment).

    Raises:
        RayConnectionError: no cluster at ``address``, or its token is missing or wrong.
    """
    import ray
    from ray.exceptions import AuthenticationError

    if ray.is_initialized():
        return ray
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        if address is None:
            # address="local": always a private instance, never a cluster some other process started here
            ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except AuthenticationError as exc:
        raise RayConnectionError(
            f"Ray cluster at {address!r} refused this process's token: copy the cluster's token "
            f"(`ray get-auth-token` on its head node) into RAY_AUTH_TOKEN or ~/.ray/auth_token ({exc.message})"
        ) from exc
    except ConnectionError as exc:
        raise RayConnectionError(f"cannot connect to a Ray cluster at {address!r}: {exc}") from exc
    return ray


def check_gpu_visible(gpu_ids: Sequence[str]) -> None:
    """Raise :class:`GPUNotVisibleError` unless torch sees at least ``len(gpu_ids)`` CUDA devices."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0 or count < len(gpu_ids):
        raise GPUNotVisibleError(
            f"Ray gave this actor GPU(s) {list(gpu_ids)} (CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r}) but torch {torch.__version__} sees {count} CUDA "
            f"device(s) (built with CUDA {torch.version.cuda}): install a CUDA build of torch on the GPU nodes"
        )


class _ScoringActorImpl:
    """The actor body: finds out where it runs, loads everything once, then scores on request."""

    def __init__(self, config: ScorerConfig, name: str, compute_device: str | None = None) -> None:
        import ray

        self.name = name
        self.node_id = ray.get_runtime_context().get_node_id()
        self.gpu_ids = [str(g) for g in ray.get_gpu_ids()]
        if config.device == "cuda" and compute_device is None:
            check_gpu_visible(self.gpu_ids)
        self.scorer = CellScorer(
            dataclasses.replace(config, device=compute_device or config.device), retain_memory=True
        )
        where = f"gpu{','.join(self.gpu_ids)}" if self.gpu_ids else "cpu"
        self.worker = f"{name}@{self.node_id[:8]}/{where}"

    def ready(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "worker": self.worker,
            "node_id": self.node_id,
            "gpu_ids": list(self.gpu_ids),
            "device": str(self.scorer.device),
            "hardware": self.scorer.hardware,
            "pid": os.getpid(),
        }

    def score(self, requests: list[tuple]) -> tuple[list[ScoreRecord], str]:
        """The records of ``requests`` (each ``(arch, init_seed[, proxy])``), scored one after the other."""
        records = [self.scorer.score(arch, int(seed), *proxy) for arch, seed, *proxy in requests]
        return [dataclasses.replace(r, worker=self.worker) for r in records], self.worker

    def noop(self, requests: list[tuple]) -> tuple[list[ScoreRecord], str]:
        """A record of each request without building or scoring anything (the pool's own overhead)."""
        config = self.scorer.config
        device, hardware = str(self.scorer.device), self.scorer.hardware
        records = [
            ScoreRecord(
                config.key("noop", seed, *proxy), arch, 0.0, 0.0, 0.0, Status.OK, "", device, time.time(), hardware
            )
            for arch, seed, *proxy in requests
        ]
        return [dataclasses.replace(r, worker=self.worker) for r in records], self.worker


GPU_CELLS_PER_CALL = 8  # default batch of one actor call on a GPU


def _format_resources(resources: Mapping[str, float]) -> str:
    return f"{{CPU: {float(resources.get('CPU', 0.0)):g}, GPU: {float(resources.get('GPU', 0.0)):g}}}"


class RayScoringPool:
    """A pool of W scoring actors; see the module docstring.

    Args:
        config: what every actor scores (its ``device`` is replaced by the resolved one).
        workers: number of actors W.
        address: an existing Ray cluster (``"auto"``, ``"host:6379"``, ``"ray://..."``); None starts
            (or re-uses) a local Ray in this process.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (:func:`cluster.resources.resolve_resources`).
        gpus_per_worker: GPUs per actor (cuda default 1; fractions pack actors on one GPU).
        cpus_per_worker: CPUs per actor (cuda default 1; cpu default the cluster's CPUs / W, at most 1).
        max_retries: how often a request whose actor died or timed out is retried on a fresh actor.
        startup_timeout_s: the longest wait for the W actors (and for each replacement);
            default :func:`cluster.resources.default_startup_timeout`.
        task_timeout_s: the longest one request may run (a call of k requests: k times as long);
            None waits for ever.
        cells_per_call: the most requests one actor call carries (default 1 on the CPU, where a
            score costs far more than a call, and 8 on a GPU).
        compute_device: TEST ONLY. Run torch on this device (only ``"cpu"``) while asking Ray for the
            resources of ``device``; skips the check that torch sees the GPU. Lets tests place actors
            on the logical GPUs of a ``ray.cluster_utils.Cluster`` on a machine without one.

    Raises:
        ResourceRequestError / UnknownNameError: invalid arguments (before Ray is touched).
        RayConnectionError: Ray cannot be joined.
        ActorStartupError: the W actors did not start within the timeout, or failed to start.

    Attributes:
        resources: the :class:`~cluster.resources.ActorResources` each actor asked for.
        placements: per slot, what its actor reported (``worker``, ``node_id``, ``gpu_ids``,
            ``device``, ``hardware``, ``pid``); None for a slot that was given up.
        last_workers: the worker string of each request of the last :meth:`score_many` ("" if none).
        completed, restarts, timeouts, lost: requests answered; actors replaced; requests that
            timed out; slots given up.
    """

    def __init__(
        self,
        config: ScorerConfig,
        workers: int = 1,
        *,
        address: str | None = None,
        device: str = "auto",
        gpus_per_worker: float | None = None,
        cpus_per_worker: float | None = None,
        max_retries: int = 2,
        startup_timeout_s: float | None = None,
        task_timeout_s: float | None = DEFAULT_TASK_TIMEOUT_S,
        compute_device: str | None = None,
        cells_per_call: int | None = None,
    ) -> None:
        if workers < 1:
            raise ResourceRequestError(f"workers must be at least 1, got {workers}")
        if max_retries < 0:
            raise ResourceRequestError(f"max_retries must be at least 0, got {max_retries}")
        for name, value in (("startup_timeout_s", startup_timeout_s), ("task_timeout_s", task_timeout_s)):
            if value is not None and not value > 0:
                raise ResourceRequestError(f"{name} must be positive, got {value}")
        if cells_per_call is not None and cells_per_call < 1:
            raise ResourceRequestError(f"cells_per_call must be at least 1, got {cells_per_call}")
        if compute_device not in (None, "cpu"):
            raise ResourceRequestError(f"compute_device may only be 'cpu' (a test override), got {compute_device!r}")
        # validate the choice before Ray starts (auto and the CPU share are resolved again below)
        resolve_resources(device, workers, {}, gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker)
        self.ray = ensure_ray(address)
        self.address = address
        self.resources: ActorResources = resolve_resources(
            device,
            workers,
            self.ray.cluster_resources(),
            gpus_per_worker=gpus_per_worker,
            cpus_per_worker=cpus_per_worker,
        )
        self.config = dataclasses.replace(config, device=self.resources.device)
        self.cells_per_call = cells_per_call or (GPU_CELLS_PER_CALL if self.resources.device == "cuda" else 1)
        self.compute_device = compute_device
        self.max_retries = max_retries
        self.startup_timeout_s = float(startup_timeout_s or default_startup_timeout(address))
        self.task_timeout_s = task_timeout_s
        self._actor_cls = self.ray.remote(
            num_cpus=self.resources.num_cpus,
            num_gpus=self.resources.num_gpus,
            max_restarts=0,
            scheduling_strategy="SPREAD",
        )(_ScoringActorImpl)
        self._generation = 0
        self.actors: list[Any] = []
        self.placements: list[dict[str, Any] | None] = [None] * workers
        self._starting: dict[Any, tuple[int, float]] = {}  # ready ref -> (slot, deadline)
        self._start_failures = [0] * workers
        self.last_workers: list[str] = []
        self.completed = self.restarts = self.timeouts = self.lost = 0
        self._start_all(workers)

    # -- properties ------------------------------------------------------------------------
    @property
    def workers(self) -> int:
        """Actors in service (started or starting)."""
        return sum(a is not None for a in self.actors)

    @property
    def gpus_per_worker(self) -> float:
        return self.resources.num_gpus

    @property
    def cpus_per_worker(self) -> float:
        return self.resources.num_cpus

    @property
    def hardware(self) -> str:
        """The hardware every actor scores on (``scoring.hardware.describe_device``), "" if mixed or unknown."""
        kinds = {p["hardware"] for p in self.placements if p is not None}
        return kinds.pop() if len(kinds) == 1 else ""

    # -- actors ----------------------------------------------------------------------------
    def _new_actor(self, slot: int):
        self._generation += 1
        return self._actor_cls.remote(self.config, f"ray-actor-{slot}.{self._generation}", self.compute_device)

    def _offer(self) -> str:
        try:
            nodes = sum(1 for n in self.ray.nodes() if n.get("Alive"))
            return (
                f"the cluster offers {_format_resources(self.ray.cluster_resources())} on {nodes} node(s), "
                f"{_format_resources(self.ray.available_resources())} free now"
            )
        except Exception as exc:  # noqa: BLE001 - only for an error message; never mask the real error
            return f"(cluster resources unavailable: {type(exc).__name__})"

    def _start_all(self, workers: int) -> None:
        from ray.exceptions import RayError

        self.actors = [self._new_actor(slot) for slot in range(workers)]
        refs = {actor.ready.remote(): slot for slot, actor in enumerate(self.actors)}
        start = time.perf_counter()
        ready, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=self.startup_timeout_s)
        asked = f"asked for {self.resources.describe(workers)} ({self.resources.device})"
        errors = []
        for ref in ready:
            try:
                self.placements[refs[ref]] = self.ray.get(ref)
            except RayError as exc:
                errors.append(exc)
        if errors or len(ready) < len(refs):
            offer = self._offer()
            self.close()
            if errors:
                raise ActorStartupError(
                    f"{len(errors)} of {workers} scoring actors failed to start ({asked}; {offer}): {errors[0]}"
                )
            raise ActorStartupError(
                f"only {len(ready)} of {workers} scoring actors started within {time.perf_counter() - start:.0f} s: "
                f"{asked}; {offer}. Ask for less (--workers, --gpus-per-worker, --cpus-per-worker, --device cpu), "
                f"add nodes, or allow longer (--startup-timeout)"
            )

    def _kill(self, actor) -> None:
        try:
            self.ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone; ray raises several types here
            pass

    def _replace(self, slot: int) -> None:
        """Kill the slot's actor and start another; it serves once its ``ready`` answers."""
        self._kill(self.actors[slot])
        self.actors[slot] = self._new_actor(slot)
        self.placements[slot] = None
        self._starting[self.actors[slot].ready.remote()] = (slot, time.perf_counter() + self.startup_timeout_s)
        self.restarts += 1

    def _give_up(self, slot: int) -> None:
        self._kill(self.actors[slot])
        self.actors[slot] = None
        self.placements[slot] = None
        self.lost += 1

    # -- scoring ---------------------------------------------------------------------------
    def score_many(self, requests: Sequence[tuple]) -> list[ScoreRecord]:
        """Score every request ``(arch, init_seed[, proxy])``, W in flight; records in request order.

        Never raises for a candidate's fault (FAILED records). Mutates the pool: dead or timed-out
        actors are replaced, ``last_workers`` and the counters are updated.

        Raises:
            PoolExhaustedError: requests remain and no actor is left to score them.
        """
        return self._dispatch(requests, "score")

    def noop_many(self, requests: Sequence[tuple]) -> list[ScoreRecord]:
        """As :meth:`score_many`, but each actor answers without building or scoring: what the pool
        itself costs per request (Ray calls, scheduling, retries bookkeeping). For benchmarks."""
        return self._dispatch(requests, "noop")

    def _dispatch(self, requests: Sequence[tuple], method: str) -> list[ScoreRecord]:
        from ray.exceptions import ActorUnavailableError, RayActorError, RayError

        pending = deque(range(len(requests)))
        results: list[ScoreRecord | None] = [None] * len(requests)
        workers = [""] * len(requests)
        attempts = [0] * len(requests)
        starting_slots = {slot for slot, _ in self._starting.values()}
        idle = deque(s for s, a in enumerate(self.actors) if a is not None and s not in starting_slots)
        in_flight: dict[Any, tuple[list[int], int, float, float]] = {}  # ref -> (requests, slot, started, deadline)

        def retry_or_fail(batch: list[int], started: float, reason: str) -> None:
            for i in reversed(batch):
                attempts[i] += 1
                if attempts[i] > self.max_retries:
                    arch, seed, *proxy = requests[i]
                    results[i] = failed_record(
                        self.config.key("?", seed, *proxy),
                        arch,
                        f"{reason} ({attempts[i]} attempts)",
                        time.perf_counter() - started,
                        self.config.device,
                    )
                    self.completed += 1
                else:
                    pending.appendleft(i)

        while pending or in_flight:
            while pending and idle:
                slot = idle.popleft()
                # share what is left among the actors, at most cells_per_call per call
                serving = max(1, sum(a is not None for a in self.actors))
                size = max(1, min(self.cells_per_call, -(-len(pending) // serving)))
                batch = [pending.popleft() for _ in range(min(size, len(pending)))]
                now = time.perf_counter()
                deadline = now + self.task_timeout_s * len(batch) if self.task_timeout_s else float("inf")
                call = getattr(self.actors[slot], method)
                asked = [(requests[i][0], int(requests[i][1]), *requests[i][2:]) for i in batch]
                in_flight[call.remote(asked)] = (batch, slot, now, deadline)
            if not in_flight and not self._starting:
                raise PoolExhaustedError(
                    f"{len(pending)} scoring requests left and no actor: all {len(self.actors)} were lost and none "
                    f"could be replaced within {self.startup_timeout_s:g} s (each asks for "
                    f"{self.resources.describe(1)}); {self._offer()}"
                )
            deadlines = [d for *_, d in in_flight.values()] + [d for _, d in self._starting.values()]
            wait = max(0.0, min(deadlines) - time.perf_counter()) if deadlines else None
            if wait is not None and wait == float("inf"):
                wait = None
            ready, _ = self.ray.wait(list(in_flight) + list(self._starting), num_returns=1, timeout=wait)
            for ref in ready:
                if ref in self._starting:
                    slot, _deadline = self._starting.pop(ref)
                    try:
                        self.placements[slot] = self.ray.get(ref)
                    except RayError:
                        self._start_failures[slot] += 1
                        if self._start_failures[slot] > self.max_retries:
                            self._give_up(slot)
                        else:
                            self._replace(slot)
                        continue
                    self._start_failures[slot] = 0
                    idle.append(slot)
                    continue
                batch, slot, started, _deadline = in_flight.pop(ref)
                try:
                    records, worker = self.ray.get(ref)
                except (RayActorError, ActorUnavailableError) as exc:
                    self._replace(slot)
                    retry_or_fail(batch, started, f"scoring actor died: {type(exc).__name__}: {exc}")
                    continue
                for i, record in zip(batch, records):
                    results[i], workers[i] = record, worker
                self.completed += len(batch)
                idle.append(slot)
            now = time.perf_counter()
            for ref, (batch, slot, started, deadline) in list(in_flight.items()):
                if deadline <= now:
                    del in_flight[ref]
                    self.timeouts += 1
                    self._replace(slot)
                    retry_or_fail(batch, started, f"scoring request timed out after {self.task_timeout_s:g} s")
            for ref, (slot, deadline) in list(self._starting.items()):
                if deadline <= now:
                    del self._starting[ref]
                    self._give_up(slot)
        self.last_workers = workers
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Kill every actor (idempotent)."""
        for actor in self.actors:
            if actor is not None:
                self._kill(actor)
        self.actors = []
        self._starting.clear()

    def __enter__(self) -> RayScoringPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
