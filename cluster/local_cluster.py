"""A multi-node Ray cluster inside this machine, for tests and the throughput benchmark.

It wraps Ray's own test utility ``ray.cluster_utils.Cluster``: a head node and N worker nodes, each
a separate raylet with its own resources. GPUs there are *logical* (``num_gpus`` is a resource
count; no hardware is needed), so scoring actors placed on them must compute on the CPU
(``RayScoringPool(..., compute_device="cpu")``). Token authentication stays on, as for a local
``ray.init``: the mode is set to ``token`` for this process and the nodes it starts, and Ray's
default token (``~/.ray/auth_token``) is generated if there is none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search_spaces.core.errors import NaswotError


class LocalClusterError(NaswotError, RuntimeError):
    """The local multi-node cluster could not be started."""


def enable_token_auth() -> None:
    """Turn Ray's token authentication on for this process and the Ray processes it starts.

    Mutates ``os.environ`` (``RAY_AUTH_MODE=token``), refreshes Ray's cached configuration of this
    process, and writes Ray's default token with ``ray get-auth-token --generate`` when neither
    ``RAY_AUTH_TOKEN`` nor ``~/.ray/auth_token`` exists.

    Raises:
        LocalClusterError: the token could not be generated.
    """
    from ray._raylet import Config  # type: ignore[attr-defined]  # compiled module, no stubs

    if not (os.environ.get("RAY_AUTH_TOKEN") or (Path.home() / ".ray" / "auth_token").is_file()):
        ray_cli = Path(sys.executable).with_name("ray")
        command = str(ray_cli) if ray_cli.exists() else (shutil.which("ray") or "ray")
        try:
            subprocess.run([command, "get-auth-token", "--generate"], check=True, capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            raise LocalClusterError(f"cannot generate Ray's authentication token with {command!r}: {exc}") from exc
    os.environ["RAY_AUTH_MODE"] = "token"
    Config.initialize("")  # this process read the mode at import time; ray.init refreshes it the same way


@dataclass
class LocalCluster:
    """A running ``ray.cluster_utils.Cluster`` and its worker nodes; see :func:`start_local_cluster`."""

    cluster: Any
    nodes: list[Any] = field(default_factory=list)

    @property
    def address(self) -> str:
        """The GCS address to pass as ``--address`` / ``ray.init(address=...)``."""
        return self.cluster.address

    def remove_node(self, node: Any) -> None:
        """Stop one worker node (its actors die); mutates :attr:`nodes`."""
        self.cluster.remove_node(node)
        self.nodes = [n for n in self.nodes if n is not node]

    def shutdown(self) -> None:
        """Stop every node (idempotent). Does not touch this process's ``ray.init`` connection."""
        self.cluster.shutdown()
        self.nodes = []

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def start_local_cluster(nodes: int, cpus_per_node: float = 1, gpus_per_node: float = 0, head_cpus: float = 0):
    """Start a head (``head_cpus`` CPUs, no GPU) and ``nodes`` worker nodes; wait until all joined.

    The caller joins it with ``ray.init(address=cluster.address)`` (or ``--address``) and must call
    :meth:`LocalCluster.shutdown` (or use it as a context manager). Mutates ``os.environ``
    (see :func:`enable_token_auth`).

    Raises:
        LocalClusterError: bad sizes, or the nodes did not start (every started node is stopped).
    """
    if nodes < 1 or cpus_per_node < 0 or gpus_per_node < 0 or head_cpus < 0:
        raise LocalClusterError(
            f"need nodes >= 1 and non-negative resources, got {nodes} nodes, {cpus_per_node} CPUs, "
            f"{gpus_per_node} GPUs, head {head_cpus} CPUs"
        )
    from ray.cluster_utils import Cluster

    enable_token_auth()
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": head_cpus, "include_dashboard": False})
    except Exception as exc:  # Ray raises several types while starting a head: one clear error
        raise LocalClusterError(f"cannot start a local Ray head node: {type(exc).__name__}: {exc}") from exc
    local = LocalCluster(cluster)
    try:
        local.nodes = [cluster.add_node(num_cpus=cpus_per_node, num_gpus=gpus_per_node) for _ in range(nodes)]
        cluster.wait_for_nodes()
    except Exception as exc:  # stop what was started, then one clear error
        local.shutdown()
        raise LocalClusterError(f"cannot start {nodes} local Ray worker nodes: {type(exc).__name__}: {exc}") from exc
    return local
