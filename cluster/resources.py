"""What each Ray scoring actor asks the cluster for: the user's choice, resolved once, no Ray needed.

``--device auto|cpu|cuda`` with ``--gpus-per-worker`` / ``--cpus-per-worker`` becomes one
:class:`ActorResources` (device, ``num_cpus``, ``num_gpus``) that every actor of a pool requests:

* ``cuda``: each actor asks Ray for ``num_gpus`` (default 1; a fraction such as 0.5 packs several
  actors on one GPU) and ``num_cpus`` (default 1). On an autoscaling cluster this request is what
  makes the autoscaler launch GPU nodes, so it never depends on what the cluster has right now.
* ``cpu``: no GPU; ``num_cpus`` defaults to the cluster's CPUs shared among the W actors (at most
  1 each), so 8 actors also start on 2 cores.
* ``auto``: ``cuda`` when ``--gpus-per-worker`` is given or the cluster has GPUs now, else ``cpu``.

Also the start-up timeouts: a local private Ray starts W actors in seconds, while an autoscaling
cluster may need minutes to launch the nodes they ask for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from search_spaces.core.errors import NaswotError, UnknownNameError

DEVICES = ("auto", "cpu", "cuda")
LOCAL_STARTUP_TIMEOUT_S = 120.0  # a private local Ray: actors start in seconds (torch import included)
CLUSTER_STARTUP_TIMEOUT_S = 900.0  # an existing cluster: room for the autoscaler to launch GPU nodes
DEFAULT_TASK_TIMEOUT_S = 600.0  # one scoring request (an NB201 cell takes 0.2 s on a CPU)


class ResourceRequestError(NaswotError, ValueError):
    """Contradictory or impossible per-actor resources (e.g. ``--device cpu --gpus-per-worker 1``)."""


@dataclass(frozen=True)
class ActorResources:
    """What one scoring actor asks Ray for, and the torch device it scores on."""

    device: str  # "cpu" or "cuda"
    num_cpus: float
    num_gpus: float

    def describe(self, workers: int) -> str:
        """``"W x {CPU: c, GPU: g}"``, the way error messages name a request."""
        return f"{workers} x {{CPU: {self.num_cpus:g}, GPU: {self.num_gpus:g}}}"


def _positive(name: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "at least 0" if allow_zero else "positive"
        raise ResourceRequestError(f"{name} must be {bound}, got {value}")


def resolve_resources(
    device: str,
    workers: int,
    cluster: Mapping[str, float],
    *,
    gpus_per_worker: float | None = None,
    cpus_per_worker: float | None = None,
) -> ActorResources:
    """The resources each of ``workers`` actors asks for (see the module docstring).

    Args:
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        cluster: ``ray.cluster_resources()`` (only ``"CPU"`` and ``"GPU"`` are read; only ``auto``
            and the CPU default look at it).

    Raises:
        UnknownNameError: an unknown device.
        ResourceRequestError: W < 1, a negative or non-finite amount, ``cpu`` with GPUs, ``cuda``
            with ``gpus_per_worker=0``, or more than one GPU per actor that is not a whole number
            (Ray only accepts fractions below 1).
    """
    if device not in DEVICES:
        raise UnknownNameError("device", device, DEVICES)
    if workers < 1:
        raise ResourceRequestError(f"workers must be at least 1, got {workers}")
    _positive("gpus_per_worker", gpus_per_worker, allow_zero=True)
    _positive("cpus_per_worker", cpus_per_worker, allow_zero=True)
    if device == "auto":
        if gpus_per_worker is not None:
            device = "cuda" if gpus_per_worker > 0 else "cpu"
        else:
            device = "cuda" if float(cluster.get("GPU", 0.0)) > 0 else "cpu"
    if device == "cpu":
        if gpus_per_worker:
            raise ResourceRequestError(f"--device cpu with --gpus-per-worker {gpus_per_worker:g}: choose one")
        if cpus_per_worker is None:
            total = float(cluster.get("CPU", 0.0)) or 1.0
            cpus_per_worker = min(1.0, round(total / workers, 4))
        return ActorResources("cpu", float(cpus_per_worker), 0.0)
    if gpus_per_worker is None:
        gpus_per_worker = 1.0
    if gpus_per_worker == 0:
        raise ResourceRequestError("--device cuda needs --gpus-per-worker above 0")
    if gpus_per_worker > 1 and not float(gpus_per_worker).is_integer():
        raise ResourceRequestError(f"--gpus-per-worker above 1 must be a whole number, got {gpus_per_worker:g}")
    return ActorResources("cuda", 1.0 if cpus_per_worker is None else float(cpus_per_worker), float(gpus_per_worker))


def default_startup_timeout(address: str | None) -> float:
    """Seconds to wait for W actors: short for a private local Ray, minutes for an existing cluster."""
    return LOCAL_STARTUP_TIMEOUT_S if address is None else CLUSTER_STARTUP_TIMEOUT_S
