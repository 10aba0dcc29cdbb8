"""Speed benchmark of the NASWOT score (a script that prints figures, not a test).

    python -m scoring.bench --cells 100 --batch 128

For random NAS-Bench-201 cells it times, on the same network and batch: construction; our scoring
pass (one forward with the code hooks, split into the hooked forward and the final kernel + logdet);
the paper's original recipe (:mod:`scoring.reference`); and a bare forward pass without hooks (the
floor). It prints medians, the speed-up, the largest score disagreement, and the Kendall tau of the
score against CIFAR-10 validation accuracy over the cells.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from scipy.stats import kendalltau
from tqdm import tqdm

from search_spaces import get_space
from search_spaces.benchmarks import EmbeddedNB201Table

from .cells import build_seeded
from .data import NUM_CLASSES, load_batch
from .naswot import KernelAccumulator, log_abs_det, relu_hooks
from .reference import paper_naswot_score


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench_cell(model: torch.nn.Module, images: torch.Tensor) -> dict[str, float]:
    """Time every variant on one network; returns seconds and both scores."""
    x_cl = images.contiguous(memory_format=torch.channels_last)
    model.train()
    with torch.no_grad():
        model(x_cl)  # warm-up: allocator and kernels
        _, bare_cl = _timed(lambda: model(x_cl))
        _, bare = _timed(lambda: model(images))
    acc = KernelAccumulator()

    def hooked_forward():
        with relu_hooks(model, acc), torch.no_grad():
            model(x_cl)

    _, hooked = _timed(hooked_forward)
    ours, finish = _timed(lambda: log_abs_det(acc.result()))
    paper, paper_s = _timed(lambda: paper_naswot_score(model, images))
    return {
        "bare_forward_s": bare_cl,
        "bare_forward_nchw_s": bare,
        "hooked_forward_s": hooked,
        "kernel_logdet_s": finish,
        "ours_s": hooked + finish,
        "paper_s": paper_s,
        "ours": ours,
        "paper": paper,
        "relus": acc.num_relus,
        "reused": acc.num_reused,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=100, help="random NB201 cells to time (default 100)")
    parser.add_argument("--batch", type=int, default=128, help="minibatch size (default 128, as the paper)")
    parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100", "imagenet16"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the cells, batch and initialisations")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    space = get_space("nb201")
    table = EmbeddedNB201Table(space)
    images, _ = load_batch(args.dataset, args.batch, args.seed)
    rng = np.random.default_rng(args.seed)
    rows, valid = [], []
    build_times = []
    for i in tqdm(range(args.cells), desc="cells", unit="cell"):
        arch = space.sample(rng)
        model, built = _timed(lambda arch=arch, i=i: build_seeded(space, arch, NUM_CLASSES[args.dataset], args.seed + i))
        build_times.append(built)
        rows.append(bench_cell(model, images))
        valid.append(table.accuracy(arch, "cifar10", "valid"))

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    ours, paper = np.array([r["ours"] for r in rows]), np.array([r["paper"] for r in rows])
    finite = np.isfinite(ours) & np.isfinite(paper)
    rel = np.abs(ours[finite] - paper[finite]) / np.abs(paper[finite])
    ratios = [r["paper_s"] / r["ours_s"] for r in rows]
    overhead = [(r["ours_s"] - r["bare_forward_s"]) / r["bare_forward_s"] for r in rows]
    tau = kendalltau(ours, valid).statistic
    ms = 1000.0
    print(
        f"\nNASWOT scoring, {args.cells} random NB201 cells, batch {args.batch} of {args.dataset}, "
        f"{torch.get_num_threads()} torch threads, median per architecture:"
    )
    print(f"  build network                      {statistics.median(build_times) * ms:8.1f} ms")
    print(f"  ours: forward with codes + K       {med('hooked_forward_s') * ms:8.1f} ms")
    print(f"  ours: kernel finish + logdet       {med('kernel_logdet_s') * ms:8.1f} ms")
    print(f"  ours: total score                  {med('ours_s') * ms:8.1f} ms")
    print(f"  paper's recipe (fwd+bwd, fwd, numpy) {med('paper_s') * ms:6.1f} ms")
    print(f"  bare forward, channels-last (floor) {med('bare_forward_s') * ms:7.1f} ms")
    print(f"  bare forward, NCHW                  {med('bare_forward_nchw_s') * ms:7.1f} ms")
    print(f"  speed-up over the paper's recipe   {statistics.median(ratios):8.2f} x (median of per-cell ratios)")
    print(f"  overhead over the bare forward     {100 * statistics.median(overhead):8.1f} % (median)")
    print(
        f"  ReLU calls per net {statistics.median(r['relus'] for r in rows):.0f}, "
        f"products reused (same input) {statistics.median(r['reused'] for r in rows):.0f}"
    )
    print(
        f"  scores agree: max relative difference {rel.max() if rel.size else float('nan'):.2e} "
        f"over {int(finite.sum())} finite pairs; -inf: ours {int((~np.isfinite(ours)).sum())}, "
        f"paper {int((~np.isfinite(paper)).sum())}"
    )
    print(f"  Kendall tau (score vs CIFAR-10 validation accuracy, {len(valid)} cells): {tau:.3f}")


if __name__ == "__main__":
    main()
