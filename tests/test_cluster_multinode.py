"""A real multi-node Ray cluster on this machine (``ray.cluster_utils.Cluster``), with logical GPUs.

A head without GPUs and two worker nodes with two logical GPUs each. The scoring actors ask Ray for
GPUs (``device="cuda"``) but run torch on the CPU (the pool's test-only ``compute_device="cpu"``),
so Ray's placement is real while no GPU is needed. Token authentication stays on. The cluster is
shut down even when a test fails, and the session's local Ray is started again afterwards.
"""

from __future__ import annotations

import threading
import time

import pytest

from orchestrator.experiment import ExperimentConfig, run_experiment
from orchestrator.history import load_history
from scoring.scorer import ScorerConfig
from search_spaces.core.status import Status

from .conftest import LOCAL_RAY

pytestmark = pytest.mark.ray

CONFIG = ScorerConfig(batch_size=16)
GPU_NODE = {"num_cpus": 1, "num_gpus": 2}


@pytest.fixture(scope="module")
def cluster():
    import ray

    from cluster.local_cluster import start_local_cluster

    had_local = ray.is_initialized()
    ray.shutdown()
    local = start_local_cluster(2, cpus_per_node=GPU_NODE["num_cpus"], gpus_per_node=GPU_NODE["num_gpus"], head_cpus=1)
    try:
        ray.init(address=local.address, log_to_driver=False, configure_logging=False)
        yield local.cluster, list(local.nodes)
    finally:
        ray.shutdown()
        local.shutdown()
        if had_local:
            ray.init(**LOCAL_RAY)


@pytest.mark.timeout(240)  # about 20 s on an idle 2-core machine; generous for a loaded CI runner
def test_search_on_gpu_nodes_survives_losing_a_node(cluster, tmp_path):
    import ray

    from cluster.ray_pool import RayScoringPool

    cluster_obj, nodes = cluster
    assert ray.cluster_resources()["GPU"] == 4 and ray.cluster_resources()["CPU"] == 3
    gpu_nodes = {n.node_id for n in nodes}
    config = ExperimentConfig(
        algorithm="naswot",
        n=30,
        runs=2,
        batch_size=16,
        store=None,
        workers=2,
        device="cuda",
        address=cluster_obj.address,
    )
    pool = RayScoringPool(
        config.scorer_config(),
        workers=2,
        address=config.address,
        device="cuda",
        cpus_per_worker=0.5,
        compute_device="cpu",
        startup_timeout_s=60,
    )
    try:
        # every actor sits on a GPU node, on a GPU of its own
        placed = [(p["node_id"], tuple(p["gpu_ids"])) for p in pool.placements]
        assert all(node in gpu_nodes and len(gpus) == 1 for node, gpus in placed), placed
        assert len(set(placed)) == 2
        assert all(p["worker"].endswith(f"/gpu{p['gpu_ids'][0]}") for p in pool.placements)
        assert pool.config.device == "cuda" and pool.resources.num_gpus == 1

        # lose the node of actor 0 once a few cells of the first of two runs are scored (if the first
        # run's scoring is done before the node is gone, the second run meets the dead actor)
        victim_node = pool.placements[0]["node_id"]
        victim = next(n for n in nodes if n.node_id == victim_node)
        removed = threading.Event()

        def remove_when_running() -> None:
            deadline = time.monotonic() + 60
            while pool.completed < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            cluster_obj.remove_node(victim)
            removed.set()

        remover = threading.Thread(target=remove_when_running, daemon=True)
        remover.start()
        run_experiment(config, tmp_path / "run", pool=pool, progress=False)
        remover.join(timeout=60)
        assert removed.is_set()
        history = load_history(tmp_path / "run")
        assert len(history) == 60 and (history.status == Status.OK.value).all()  # nothing lost
        assert pool.restarts >= 1  # the lost actor was replaced ...
        survivor = (gpu_nodes - {victim_node}).pop()
        assert all(p is not None and p["node_id"] == survivor for p in pool.placements)  # ... on the other node
        assert len({tuple(p["gpu_ids"]) for p in pool.placements}) == 2  # each still on its own GPU
        assert all(w.split("@")[1].split("/")[1].startswith("gpu") for w in pool.last_workers)
    finally:
        pool.close()


@pytest.mark.timeout(60)
def test_a_cuda_actor_without_a_visible_gpu_fails_with_a_clear_error(cluster):
    from cluster.ray_pool import ActorStartupError, RayScoringPool

    with pytest.raises(ActorStartupError, match="GPUNotVisibleError") as info:
        RayScoringPool(CONFIG, workers=1, device="cuda", cpus_per_worker=0.25, startup_timeout_s=60)
    assert "torch" in str(info.value) and "1 x {CPU: 0.25, GPU: 1}" in str(info.value)
