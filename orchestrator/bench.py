"""Benchmarks of the orchestrator (scripts that print figures, not tests).

    python -m orchestrator.bench driver                 # driver overhead per evaluation (lookup oracle)
    python -m orchestrator.bench scoring --workers 1 2 4 8 --cells 32

``driver`` runs REA with the embedded table on simulated time (no history written, then with the
history) and prints the real time per evaluation and for 500 runs of 12,000 simulated seconds.
``scoring`` scores the same random cells with W Ray actors (no score store) and prints archs/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from scoring.scorer import ScorerConfig
from search_spaces import get_space
from search_spaces.benchmarks import EmbeddedNB201Table

from .driver import SimulatedDriver
from .experiment import ExperimentConfig, run_experiment
from .oracles import LookupOracle
from .searchers import RegularizedEvolution


def bench_driver(runs: int, budget: float) -> None:
    space = get_space("nb201")
    oracle = LookupOracle(space, EmbeddedNB201Table(space))
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
        )
        evaluations += driver.run().told
    bare = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        config = ExperimentConfig(algorithm="rea", runs=runs, budget_s=budget, store=None, executor="inline")
        start = time.perf_counter()
        run_experiment(config, tmp, progress=False)
        full = time.perf_counter() - start
    print(f"REA, embedded NB201 table, {budget:.0f} simulated s per run, {runs} runs, {evaluations} evaluations")
    print(
        f"  driver + searcher + lookup:        {1000 * bare / evaluations:.3f} ms per evaluation, {bare:.1f} s in all"
    )
    print(
        f"  with the Parquet history written:  {1000 * full / evaluations:.3f} ms per evaluation, {full:.1f} s in all"
    )


def bench_scoring(workers: list[int], cells: int, batch: int) -> None:
    from cluster.ray_pool import RayScoringPool, ensure_ray

    ray = ensure_ray()
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [space.format(space.sample(rng)) for _ in range(cells)]
    print(
        f"NASWOT scoring throughput, {cells} random NB201 cells, batch {batch}, "
        f"cluster {ray.cluster_resources().get('CPU', 0):.0f} CPU / {ray.cluster_resources().get('GPU', 0):.0f} GPU"
    )
    for w in workers:
        pool = RayScoringPool(ScorerConfig(batch_size=batch), workers=w)
        pool.score_many([(archs[0], 0)] * w)  # warm every actor
        start = time.perf_counter()
        records = pool.score_many([(a, 0) for a in archs])
        elapsed = time.perf_counter() - start
        pool.close()
        busy = sum(r.build_s + r.score_s for r in records)
        print(
            f"  {w} worker(s) ({pool.cpus_per_worker:g} CPU, {pool.gpus_per_worker:g} GPU each, {pool.config.device}): "
            f"{cells / elapsed:6.2f} archs/s   ({elapsed:.1f} s wall, {busy / cells * 1000:.0f} ms per cell in the actor)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    d = sub.add_parser("driver")
    d.add_argument("--runs", type=int, default=500)
    d.add_argument("--budget", type=float, default=12000.0)
    s = sub.add_parser("scoring")
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    s.add_argument("--cells", type=int, default=32)
    s.add_argument("--batch", type=int, default=128)
    args = parser.parse_args(argv)
    if args.what == "driver":
        bench_driver(args.runs, args.budget)
    else:
        bench_scoring(args.workers, args.cells, args.batch)


if __name__ == "__main__":
    main()
