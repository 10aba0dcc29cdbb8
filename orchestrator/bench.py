"""Benchmarks of the orchestrator (scripts that print figures, not tests).

    python -m orchestrator.bench driver                 # driver overhead per evaluation (lookup oracle)
    python -m orchestrator.bench scoring --workers 1 2 4 8 --cells 32
    python -m orchestrator.bench scoring --workers 1 2 4 8 --local-cluster 2 --node-cpus 1   # multi-node, here

``driver`` runs REA with the embedded table on simulated time (no history written, then with the
history) and prints the real time per evaluation and for 500 runs of 12,000 simulated seconds.
``scoring`` scores the same random cells with W Ray actors (no score store) and prints cells/s per
W, on a private local Ray, a cluster (``--address``) or a multi-node Ray started on this machine
(``--local-cluster N``; ``--node-gpus`` gives its nodes logical GPUs, then actors ask for GPUs
but compute on the CPU).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from cluster.local_cluster import start_local_cluster
from cluster.ray_pool import RayScoringPool, ensure_ray
from orchestrator.config import PoolOptions
from orchestrator.driver import SimulatedDriver
from orchestrator.experiment import ExperimentConfig, run_experiment
from orchestrator.oracles import open_oracle
from orchestrator.pools import make_pool
from orchestrator.searchers import RegularizedEvolution
from scoring.scorer import ScorerConfig
from search_spaces import get_space, open_benchmark
from search_spaces.core.errors import NaswotError
from search_spaces.core.options import add_space_options


def bench_driver(space_name: str, runs: int, budget: float | None, max_evaluations: int | None = None) -> None:
    """Print the driver's real time per evaluation of REA with the space's embedded benchmark.

    Raises:
        NaswotError: the space has no embedded benchmark, or it records no training time and no
            ``max_evaluations`` was given.
    """
    space = get_space(space_name)
    benchmark = open_benchmark(space)
    if benchmark is None:
        raise NaswotError(f"{space_name} has no embedded benchmark to drive a search on")
    _space, oracle, _note = open_oracle(space, benchmark, evaluates=True, timed=budget is not None)
    start, evaluations = time.perf_counter(), 0
    for seed in range(runs):
        driver = SimulatedDriver(
            RegularizedEvolution(space, np.random.default_rng(seed)),
            oracle=oracle,
            scoring=None,
            writer=None,
            run_id="bench",
            algorithm="rea",
            seed=seed,
            arch_key=lambda a: space.key(space.parse(a)),
            budget_s=budget,
            max_evaluations=max_evaluations,
        )
        evaluations += driver.run().told
    bare = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        config = ExperimentConfig(
            algorithm="rea",
            space=space_name,
            runs=runs,
            budget_s=budget,
            max_evaluations=max_evaluations,
            store=None,
            executor="inline",
        )
        start = time.perf_counter()
        run_experiment(config, tmp, progress=False)
        full = time.perf_counter() - start
    limit = f"{budget:.0f} simulated s" if budget is not None else f"{max_evaluations} evaluations"
    print(f"REA, {benchmark.name}, {limit} per run, {runs} runs, {evaluations} evaluations")
    print(
        f"  driver + searcher + lookup:        {1000 * bare / evaluations:.3f} ms per evaluation, {bare:.1f} s in all"
    )
    print(
        f"  with the Parquet history written:  {1000 * full / evaluations:.3f} ms per evaluation, {full:.1f} s in all"
    )


def _print_scoring_row(pool, w: int, k: int, cells: int, elapsed: float, records: list, noop: bool) -> None:
    if noop:
        print(
            f"  W={w}, {k:>2} cells/call: no-op requests {cells / elapsed:8.0f} cells/s, Ray overhead "
            f"{1000 * elapsed / cells:.3f} ms per cell (wall / cells, {w} calls in flight)"
        )
        return
    used = len({p["node_id"] for p in pool.placements if p is not None})
    computes = {p["device"] for p in pool.placements if p is not None}
    busy = sum(r.build_s + r.score_s for r in records)
    built = sum(r.build_s for r in records)
    print(
        f"  W={w}, {k:>2} cells/call: {cells / elapsed:6.2f} cells/s   ({pool.cpus_per_worker:g} CPU, "
        f"{pool.gpus_per_worker:g} GPU per actor, asks {pool.config.device}, computes on "
        f"{'/'.join(sorted(computes))}, {used} node(s); {elapsed:.1f} s wall, {busy / cells * 1000:.0f} ms per cell "
        f"in the actor, of which {built / cells * 1000:.1f} ms building: {100 * built / max(busy, 1e-12):.0f} %)"
    )


def bench_scoring(
    space_name: str,
    workers: list[int],
    cells: int,
    batch: int,
    *,
    address: str | None = None,
    local_cluster: int = 0,
    node_cpus: float = 1.0,
    node_gpus: float = 0.0,
    device: str = "auto",
    gpus_per_worker: float | None = None,
    cpus_per_worker: float | None = None,
    noop: bool = False,
    cells_per_call: list[int] | None = None,
) -> None:
    """Print archs/s of W Ray scoring actors for each W in ``workers`` (no score store); with
    ``noop`` the actors answer without building or scoring, so the figure is the pool's own
    overhead per cell (Ray calls and scheduling).

    With ``local_cluster=N`` a multi-node Ray (``cluster.local_cluster``) of N worker nodes with
    ``node_cpus`` CPUs and ``node_gpus`` logical GPUs each is started and joined; its GPUs are not
    real, so actors that ask for them compute on the CPU (and say so). ``address`` joins a cluster.
    Each of ``cells_per_call`` (default: the pool's own default) is measured on the same actors.
    """
    import ray

    local = None
    if local_cluster:
        local = start_local_cluster(local_cluster, cpus_per_node=node_cpus, gpus_per_node=node_gpus)
        address = local.address
    try:
        ensure_ray(address)
        space = get_space(space_name)
        rng = np.random.default_rng(0)
        archs = [space.format(space.sample(rng)) for _ in range(cells)]
        resources = ray.cluster_resources()
        where = (
            f"{local_cluster} local worker nodes ({node_cpus:g} CPU, {node_gpus:g} logical GPU each)" if local else ""
        )
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        print(
            f"NASWOT scoring throughput, {cells} random {space_name} cells, batch {batch}, "
            f"cluster {resources.get('CPU', 0):g} CPU / {resources.get('GPU', 0):g} GPU on {nodes} node(s)"
            + (f": {where}" if where else "")
        )
        for w in workers:
            pool = make_pool(
                ScorerConfig(space=space_name, batch_size=batch),
                PoolOptions(
                    workers=w,
                    address=address,
                    device=device,
                    gpus_per_worker=gpus_per_worker,
                    cpus_per_worker=cpus_per_worker,
                ),
                compute_device="cpu" if local is not None and node_gpus > 0 else None,
            )
            assert isinstance(pool, RayScoringPool)  # the executor is ray
            try:
                pool.score_many([(archs[0], 0)] * w)  # warm every actor
                for k in cells_per_call or [pool.cells_per_call]:
                    pool.cells_per_call = k
                    start = time.perf_counter()
                    records = (pool.noop_many if noop else pool.score_many)([(a, 0) for a in archs])
                    elapsed = time.perf_counter() - start
                    _print_scoring_row(pool, w, k, cells, elapsed, records, noop)
            finally:
                pool.close()
    finally:
        if local is not None:
            ray.shutdown()
            local.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    d = sub.add_parser("driver")
    add_space_options(d)
    d.add_argument("--runs", type=int, default=500)
    d.add_argument("--budget", type=float, default=None, help="simulated seconds per run (default 12000)")
    d.add_argument("--max-evaluations", type=int, default=None, help="evaluations per run instead of seconds")
    s = sub.add_parser("scoring")
    add_space_options(s)
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    s.add_argument("--cells", type=int, default=32)
    s.add_argument("--batch", type=int, default=128)
    s.add_argument("--address", default=None, help="an existing Ray cluster (default: a private local Ray)")
    s.add_argument(
        "--local-cluster", type=int, default=0, metavar="N", help="start a multi-node Ray of N worker nodes here"
    )
    s.add_argument("--node-cpus", type=float, default=1.0, help="with --local-cluster: CPUs per worker node")
    s.add_argument(
        "--node-gpus", type=float, default=0.0, help="with --local-cluster: logical GPUs per node (computed on CPU)"
    )
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    s.add_argument("--gpus-per-worker", type=float, default=None)
    s.add_argument("--cpus-per-worker", type=float, default=None)
    s.add_argument("--noop", action="store_true", help="actors answer without scoring: the pool's overhead per cell")
    s.add_argument(
        "--cells-per-call", type=int, nargs="+", default=None, help="requests per actor call, each measured in turn"
    )
    args = parser.parse_args(argv)
    if args.what == "driver":
        budget = args.budget if args.budget is not None or args.max_evaluations is not None else 12000.0
        bench_driver(args.space, args.runs, budget, args.max_evaluations)
    else:
        if args.local_cluster and args.address:
            parser.error("--local-cluster and --address exclude each other")
        bench_scoring(
            args.space,
            args.workers,
            args.cells,
            args.batch,
            address=args.address,
            local_cluster=args.local_cluster,
            node_cpus=args.node_cpus,
            node_gpus=args.node_gpus,
            device=args.device,
            gpus_per_worker=args.gpus_per_worker,
            cpus_per_worker=args.cpus_per_worker,
            noop=args.noop,
            cells_per_call=args.cells_per_call,
        )


if __name__ == "__main__":
    main()
