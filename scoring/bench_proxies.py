"""Cost and ranking quality of every proxy on random NAS-Bench-201 cells, on this machine.

    python -m scoring.bench_proxies --cells 5 --batch-size 64          # median seconds per proxy
    python -m scoring.bench_proxies --tau 100 --batch-size 64          # Kendall tau per proxy

Timing: each proxy scores ``--cells`` random cells (seeded), each on a freshly built network
(seeded initialisation), and the table gives the median and the largest time per cell.
Tau probe: ``--tau N`` random cells scored by every proxy on the embedded CIFAR-10 batch, then
Kendall tau with the benchmark's ``cifar10_valid`` accuracy per proxy, and for the fusions of
:mod:`scoring.fusion`: AZ-NAS's log-rank sum, the mean rank of all proxies, and a greedy weighted
log-rank fusion fitted on the first half of the cells and reported on the second half only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import numpy as np
import torch

from scoring.cells import build_seeded
from scoring.data import NUM_CLASSES, load_batch
from scoring.fusion import fit_log_rank_fusion, kendall, log_rank_fusion, mean_rank_fusion
from scoring.proxies import available_proxies, get_proxy, uses_labels
from search_spaces import get_space, open_benchmark
from search_spaces.core.cells import random_cells

DATASET = "cifar10"
METRIC = "cifar10_valid"
AZ_MEMBERS = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")


def score_table(space, cells: Sequence, proxies: Sequence[str], batch_size: int, seed: int):
    """``(scores, seconds)``: per proxy, one value and one duration per cell."""
    batches = {
        labelled: load_batch(DATASET, batch_size=batch_size, seed=seed, labelled=labelled) for labelled in (False, True)
    }
    scores: dict[str, list[float]] = {p: [] for p in proxies}
    seconds: dict[str, list[float]] = {p: [] for p in proxies}
    for cell in cells:
        for name in proxies:
            images, labels = batches[uses_labels(name)]
            model = build_seeded(space, cell, NUM_CLASSES[DATASET], seed)
            start = time.perf_counter()
            value = get_proxy(name)(model, images, labels)
            seconds[name].append(time.perf_counter() - start)
            scores[name].append(value)
    return scores, seconds


def print_timing(seconds: dict[str, list[float]]) -> None:
    print(f"{'proxy':<18} {'median s':>9} {'max s':>8}")
    for name, values in seconds.items():
        print(f"{name:<18} {statistics.median(values):9.3f} {max(values):8.3f}")


def print_tau(space, cells: Sequence, scores: dict[str, list[float]]) -> None:
    benchmark = open_benchmark(space)
    if benchmark is None:
        raise SystemExit(f"{space.name} has no benchmark to correlate with")
    acc = np.array([benchmark.lookup(c)[METRIC] for c in cells], dtype=np.float64)
    print(f"Kendall tau with {METRIC} over {np.isfinite(acc).sum()} cells")
    for name, values in scores.items():
        print(f"{name:<26} {kendall(values, acc):+.3f}")
    columns = {name: np.array(values) for name, values in scores.items()}
    if all(m in columns for m in AZ_MEMBERS):
        az = log_rank_fusion({m: columns[m] for m in AZ_MEMBERS})
        print(f"{'fusion az_nas (log-rank)':<26} {kendall(az, acc):+.3f}")
    print(f"{'fusion mean rank (all)':<26} {kendall(mean_rank_fusion(columns), acc):+.3f}")
    half = len(cells) // 2
    if half >= 3:
        fit = fit_log_rank_fusion({n: v[:half] for n, v in columns.items()}, acc[:half])
        held = fit.apply({n: v[half:] for n, v in columns.items()})
        members = ", ".join(f"{n}x{w:g}" for n, w in fit.weights)
        print(
            f"{'fusion greedy (fit/held)':<26} {kendall(held, acc[half:]):+.3f} on the {len(cells) - half} held-out "
            f"cells (fit tau {fit.fit_tau[-1]:+.3f} on {half}): {members}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=5, help="random cells for the timing table")
    parser.add_argument("--tau", type=int, default=0, help="random cells for the Kendall tau probe (0: no probe)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="seed of the cells, the batch and the initialisation")
    parser.add_argument("--proxies", default="", help="comma list (default: every registered proxy)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()] or list(available_proxies())
    for name in proxies:
        get_proxy(name)
    space = get_space("nb201")
    count = args.tau or args.cells
    cells = random_cells(space, count, args.seed)
    scores, seconds = score_table(space, cells, proxies, args.batch_size, args.seed)
    print(f"NB201 (C=16, N=5), batch {args.batch_size}, {count} cells, {torch.get_num_threads()} threads")
    print_timing(seconds)
    if args.tau:
        print_tau(space, cells, scores)


if __name__ == "__main__":
    main()
