"""Fault tests of the Ray scoring pool, for real: actors killed with ray.kill, bad candidates."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from orchestrator.experiment import ExperimentConfig, run_experiment
from orchestrator.history import load_history
from scoring.scorer import CellScorer, ScorerConfig
from search_spaces.core.status import Status

pytestmark = pytest.mark.ray

CONFIG = ScorerConfig(batch_size=16)


@pytest.fixture(scope="module")
def pool(ray_session):
    from cluster.ray_pool import RayScoringPool

    pool = RayScoringPool(CONFIG, workers=2, cpus_per_worker=0.5)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def archs(nb201):
    rng = np.random.default_rng(0)
    return [nb201.format(nb201.sample(rng)) for _ in range(6)]


def test_scores_in_request_order_equal_inline(pool, archs):
    records = pool.score_many([(a, 0) for a in archs])
    inline = CellScorer(CONFIG)
    assert [r.arch for r in records] == archs
    for record in records:
        assert record.status in (Status.OK, Status.NONFINITE)
        assert record.score == pytest.approx(
            inline.score(record.arch, 0).score, rel=1e-5
        )  # thread counts differ: a code near 0 may flip
        assert record.device == "cpu"


def test_dead_actor_is_replaced_and_request_retried(pool, archs, ray_session):
    before = pool.restarts
    ray_session.kill(pool.actors[0])
    records = pool.score_many([(a, 0) for a in archs])
    assert all(r.status is not Status.FAILED for r in records)
    assert pool.restarts >= before + 1


def test_actor_killed_mid_run(pool, archs, ray_session):
    before = pool.restarts
    victim = pool.actors[1]
    timer = threading.Timer(0.3, lambda: ray_session.kill(victim))
    timer.start()
    records = pool.score_many([(a, s) for a in archs for s in range(1, 7)])
    timer.join()
    assert len(records) == 36 and all(r.status is not Status.FAILED for r in records)
    assert pool.restarts >= before + 1


def test_bad_candidate_is_a_failed_record_and_the_actor_lives(pool, archs):
    records = pool.score_many([("|bogus~0|", 0), (archs[0], 0)])
    assert records[0].status is Status.FAILED and "InvalidArchitectureError" in records[0].error
    assert math.isnan(records[0].score)
    assert records[1].status is Status.OK


def test_experiment_on_ray_with_store(pool, tmp_path):
    config = ExperimentConfig(algorithm="naswot", n=6, runs=2, batch_size=16, store=str(tmp_path / "store"))
    first = run_experiment(config, tmp_path / "a", pool=pool, progress=False)
    second = run_experiment(config, tmp_path / "b", pool=pool, progress=False)
    a, b = load_history(tmp_path / "a"), load_history(tmp_path / "b")
    assert not a["cached"].all() and b["cached"].all()  # the second experiment re-uses every score
    assert list(a["score"]) == list(b["score"])
    assert list(a["score_s"]) == list(b["score_s"])  # the measured scoring time travels with the score
    assert [o.best[0].arch for o in first] == [o.best[0].arch for o in second]


def test_requests_may_name_another_proxy(pool, archs, nb201):
    records = pool.score_many([(archs[0], 0, "params"), (archs[0], 0)])
    assert records[0].key.proxy == "params" and records[1].key.proxy == "naswot"
    assert records[0].score == sum(p.numel() for p in nb201.build(nb201.parse(archs[0]), 10).parameters())


# -- resources, timeouts, placement ------------------------------------------------------------


def test_resources_are_the_users_choice():
    from cluster.resources import ResourceRequestError, resolve_resources
    from search_spaces.core.errors import UnknownNameError

    no_gpu, gpus = {"CPU": 2.0}, {"CPU": 8.0, "GPU": 4.0}
    assert resolve_resources("auto", 8, no_gpu) == resolve_resources("cpu", 8, no_gpu)
    assert resolve_resources("cpu", 8, no_gpu).num_cpus == 0.25 and resolve_resources("cpu", 1, gpus).num_cpus == 1
    cuda = resolve_resources("auto", 8, gpus)
    assert (cuda.device, cuda.num_gpus, cuda.num_cpus) == ("cuda", 1.0, 1.0)
    # cuda never depends on what an autoscaling cluster has now (its GPU nodes may not exist yet)
    assert resolve_resources("cuda", 8, {"CPU": 4.0}) == cuda
    assert resolve_resources("auto", 2, no_gpu, gpus_per_worker=0.5).num_gpus == 0.5
    assert resolve_resources("cuda", 2, no_gpu).describe(2) == "2 x {CPU: 1, GPU: 1}"
    for bad in (
        {"device": "cpu", "gpus_per_worker": 1.0},
        {"device": "cuda", "gpus_per_worker": 0.0},
        {"device": "cuda", "gpus_per_worker": 1.5},
        {"device": "cpu", "cpus_per_worker": -1.0},
    ):
        with pytest.raises(ResourceRequestError):
            resolve_resources(bad.pop("device"), 2, no_gpu, **bad)
    with pytest.raises(UnknownNameError, match="device"):
        resolve_resources("tpu", 2, no_gpu)


def test_workers_are_actors_and_the_clock_has_one_worker():
    from orchestrator.cli import build_parser, config_from_args

    args = build_parser("area", "").parse_args(["--workers", "8"])
    config = config_from_args("area", args)
    assert (config.workers, config.sim_workers, config.device) == (8, 1, "auto")
    args = build_parser("area", "").parse_args(["--workers", "2", "--sim-workers", "4", "--device", "cuda"])
    assert config.budget_s == 12000.0  # the papers' budget when none is given
    config = config_from_args("area", args)
    assert (config.workers, config.sim_workers, config.device) == (2, 4, "cuda")
    with pytest.raises(ValueError, match="gpus-per-worker"):
        ExperimentConfig(algorithm="naswot", device="cpu", gpus_per_worker=1.0)


def test_placements_say_where_each_actor_runs(pool, archs, ray_session):
    node = ray_session.get_runtime_context().get_node_id()
    assert [p["node_id"] for p in pool.placements] == [node, node]
    assert all(p["gpu_ids"] == [] and p["device"] == "cpu" for p in pool.placements)
    assert pool.hardware.startswith("cpu:")
    pool.score_many([(a, 0) for a in archs])
    assert set(pool.last_workers) <= {p["worker"] for p in pool.placements}
    assert all(w.endswith(f"@{node[:8]}/cpu") for w in pool.last_workers)


@pytest.mark.timeout(60)
def test_impossible_resources_fail_within_the_timeout_naming_them(ray_session):
    import time

    from cluster.ray_pool import ActorStartupError, RayScoringPool

    start = time.perf_counter()
    with pytest.raises(ActorStartupError) as info:
        RayScoringPool(CONFIG, workers=2, device="cuda", cpus_per_worker=0.25, startup_timeout_s=2.0)
    assert time.perf_counter() - start < 15
    message = str(info.value)
    assert "2 x {CPU: 0.25, GPU: 1}" in message and "GPU: 0" in message and "--startup-timeout" in message


@pytest.mark.timeout(90)
def test_a_request_past_the_task_timeout_is_retried_then_failed_and_actors_replaced(ray_session, archs):
    from cluster.ray_pool import RayScoringPool

    with RayScoringPool(CONFIG, workers=1, cpus_per_worker=0.25, max_retries=1, task_timeout_s=0.001) as slow:
        first = slow.placements[0]["worker"]
        records = slow.score_many([(archs[0], 0)])
        assert records[0].status is Status.FAILED and "timed out after 0.001 s (2 attempts)" in records[0].error
        assert (slow.timeouts, slow.restarts) == (2, 2)
        slow.task_timeout_s = 120.0  # the replacement actor works
        records = slow.score_many([(archs[0], 0)])
        assert records[0].status is Status.OK
        assert slow.placements[0]["worker"] != first and slow.last_workers == [slow.placements[0]["worker"]]


class _Params:
    """Asks a pool for the cheap, exact ``params`` proxy (the pool fixture's own proxy is naswot)."""

    def __init__(self, pool) -> None:
        self.pool, self.hardware = pool, pool.hardware

    def score_many(self, requests):
        return self.pool.score_many([(arch, seed, "params") for arch, seed in requests])

    def close(self) -> None:
        pass


@pytest.mark.timeout(120)
def test_the_answer_does_not_depend_on_the_number_of_actors(pool, tmp_path, ray_session):
    """Same seed, same history: inline scoring vs 1 and 2 Ray actors, one simulated worker."""
    from cluster.ray_pool import RayScoringPool
    from scoring.service import InlinePool

    config = ExperimentConfig(
        algorithm="area", m=12, budget_s=6000.0, runs=2, batch_size=16, store=None, proxy="params", workers=2
    )
    frames = {}
    with RayScoringPool(CONFIG, workers=1, cpus_per_worker=0.25) as one:
        pools = {"inline": InlinePool(config.scorer_config()), "ray1": _Params(one), "ray2": _Params(pool)}
        for name, scorer_pool in pools.items():
            run_experiment(config, tmp_path / name, pool=scorer_pool, progress=False)
            frames[name] = load_history(tmp_path / name).sort_values(["seed", "tell_order"]).reset_index(drop=True)
        assert one.completed == 2 * 12
    timing = ["run_id", "wall_s", "worker", "score_s", "cost_s", "sim_start_s", "sim_end_s"]
    base = frames["inline"].drop(columns=timing)
    assert (base.kind == "score").sum() == 2 * 12 and (base.kind == "evaluate").sum() > 2 * 10
    for name in ("ray1", "ray2"):
        assert frames[name].drop(columns=timing).equals(base), name


def test_several_cells_per_call_give_the_same_records_in_order(pool, archs):
    requests = [(a, s) for a in archs for s in range(2)]
    pool.cells_per_call = 1
    single = pool.score_many(requests)
    try:
        pool.cells_per_call = 4
        calls_before = pool.completed
        batched = pool.score_many(requests)
        assert pool.completed == calls_before + len(requests)
    finally:
        pool.cells_per_call = 1
    assert [(r.arch, r.key.init_seed) for r in batched] == [(a, s) for a, s in requests]
    assert [r.score for r in batched] == pytest.approx([r.score for r in single], rel=1e-5)


def test_a_batch_whose_actor_dies_is_retried_whole(pool, archs, ray_session):
    before = pool.restarts
    pool.cells_per_call = 6
    try:
        victim = pool.actors[0]
        timer = threading.Timer(0.3, lambda: ray_session.kill(victim))
        timer.start()
        records = pool.score_many([(a, s) for a in archs for s in range(3, 7)])
        timer.join()
    finally:
        pool.cells_per_call = 1
    assert len(records) == 24 and all(r.status is not Status.FAILED for r in records)
    assert pool.restarts >= before + 1


def test_cells_per_call_must_be_positive(ray_session):
    from cluster.ray_pool import RayScoringPool
    from cluster.resources import ResourceRequestError

    with pytest.raises(ResourceRequestError, match="cells_per_call"):
        RayScoringPool(CONFIG, workers=1, cells_per_call=0)
