"""Speed and memory benchmark of the NASWOT score (a script that prints figures, not a test).

    python -m scoring.bench --cells 100 --batch 128
    python -m scoring.bench --space nb101 --cells 10 --no-paper
    python -m scoring.bench --space nats_sss --cells 50
    python -m scoring.bench --cells 30 --no-paper --gram popcount --repeats 2 --build-ahead

For random cells of a space (``--space``; a space whose benchmark holds only a sample, e.g. NB101's
embedded 500 rows, draws from the sample) it times, on the same network and batch: construction;
our scoring pass (one forward with the code hooks, split into the hooked forward and the final
kernel + logdet); the paper's original recipe (:mod:`scoring.reference`, skipped with
``--no-paper``); and a bare forward pass without hooks (the floor). It prints medians, the speed-up,
the largest score disagreement, the process's peak resident memory (``ru_maxrss``: torch, the
batch and the largest network scored) and the Kendall tau of the score against CIFAR-10 validation
accuracy over the cells the benchmark knows.

``--gram`` forces one way of multiplying the codes (:data:`scoring.naswot.GRAM_METHODS`; all
exact); ``--repeats R`` alternates R bare and R scored forwards per cell and keeps the fastest of
each (the per-cell ratios are then less exposed to other processes' bursts); ``--build-ahead``
builds the next network on a background thread (:class:`scoring.cells.BuildAhead`) and counts as
build time only the wait for it.
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import time

import numpy as np
import torch
from scipy.stats import kendalltau
from tqdm import tqdm

from scoring.allocator import retain_freed_memory
from scoring.cells import BuildAhead, build_seeded
from scoring.data import NUM_CLASSES, load_batch
from scoring.naswot import GRAM_METHODS, KernelAccumulator, cpu_gram_method, log_abs_det, relu_hooks
from scoring.options import add_seed_option, add_space_options, space_options_from_args
from scoring.reference import paper_naswot_score
from search_spaces import get_space, open_benchmark
from search_spaces.core.errors import ArchitectureNotInBenchmarkError
from search_spaces.core.sampled import SampledSpace


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def peak_rss_mb() -> float:
    """The peak resident set size of this process so far, in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_cell(
    model: torch.nn.Module, images: torch.Tensor, paper: bool = True, method: str = "auto", repeats: int = 1
) -> dict[str, float]:
    """Time every variant on one network; returns seconds, both scores (the paper's NaN when
    ``paper`` is off) and the network's parameter count.

    The bare channels-last forward and our scoring pass (with the code products by ``method``) are
    run ``repeats`` times, alternating, and each keeps its fastest run, so that a burst of load
    from other processes on a shared machine hits both alike."""
    x_cl = images.contiguous(memory_format=torch.channels_last)
    model.train()
    with torch.no_grad():
        model(x_cl)  # warm-up: allocator and kernels
        _, bare = _timed(lambda: model(images))

    def bare_forward():
        with torch.no_grad():
            model(x_cl)

    def score() -> tuple[float, KernelAccumulator, float, float]:
        acc = KernelAccumulator(method)
        start = time.perf_counter()
        with relu_hooks(model, acc), torch.no_grad():
            model(x_cl)
        hooked = time.perf_counter()
        value = log_abs_det(acc.result())
        return value, acc, hooked - start, time.perf_counter() - hooked

    bare_cl, hooked, finish = math.inf, math.inf, math.inf
    for _ in range(max(1, repeats)):
        bare_cl = min(bare_cl, _timed(bare_forward)[1])
        ours, acc, run_hooked, run_finish = score()
        if run_hooked + run_finish < hooked + finish:
            hooked, finish = run_hooked, run_finish
    reference, paper_s = _timed(lambda: paper_naswot_score(model, images)) if paper else (math.nan, math.nan)
    return {
        "bare_forward_s": bare_cl,
        "bare_forward_nchw_s": bare,
        "hooked_forward_s": hooked,
        "kernel_logdet_s": finish,
        "ours_s": hooked + finish,
        "paper_s": paper_s,
        "ours": ours,
        "paper": reference,
        "relus": acc.num_relus,
        "reused": acc.num_reused,
        "params": sum(p.numel() for p in model.parameters()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_space_options(parser)
    parser.add_argument("--cells", type=int, default=100, help="random cells to time (default 100)")
    parser.add_argument("--batch", type=int, default=128, help="minibatch size (default 128, as the paper)")
    parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100", "imagenet16"])
    add_seed_option(parser, "seed of the cells, batch and initialisations")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-paper", action="store_true", help="skip the paper's recipe (halves the time)")
    parser.add_argument(
        "--gram", default="auto", choices=GRAM_METHODS, help="how the code products are multiplied (default auto)"
    )
    parser.add_argument(
        "--build-ahead",
        action="store_true",
        help="build the next network on a background thread while the current one is timed (build = the wait)",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="alternating runs of the bare and scored forward per cell, fastest kept"
    )
    parser.add_argument(
        "--default-malloc",
        action="store_true",
        help="leave glibc's malloc as it is (the scoring pools keep freed memory: scoring.allocator)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    retained = False if args.default_malloc else retain_freed_memory()
    print(f"malloc: {'keeps freed memory (scoring.allocator)' if retained else 'glibc defaults'}")

    space = get_space(args.space, **dict(space_options_from_args(args)))
    benchmark = open_benchmark(space, args.benchmark)
    sample = benchmark.cells() if benchmark is not None else None
    search = SampledSpace(space, sample) if sample is not None else space
    images, _ = load_batch(args.dataset, args.batch, args.seed)
    rss_before = peak_rss_mb()
    rng = np.random.default_rng(args.seed)
    rows, valid, build_times = [], [], []
    pairs = [(search.sample(rng), args.seed + i) for i in range(args.cells)]
    num_classes = NUM_CLASSES[args.dataset]
    with BuildAhead(space, num_classes) as ahead:
        if args.build_ahead:
            built_cells = ((b.arch, b.model, b.wait_s) for b in ahead.iterate(pairs))
        else:
            built_cells = (
                (arch, *_timed(lambda arch=arch, seed=seed: build_seeded(space, arch, num_classes, seed)))
                for arch, seed in pairs
            )
        for arch, model, built in tqdm(built_cells, total=len(pairs), desc="cells", unit="cell"):
            build_times.append(built)
            rows.append(bench_cell(model, images, paper=not args.no_paper, method=args.gram, repeats=args.repeats))
            del model
            try:
                known = benchmark.lookup(arch).get("cifar10_valid", math.nan) if benchmark is not None else math.nan
            except ArchitectureNotInBenchmarkError:
                known = math.nan
            valid.append(known)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    ours, paper = np.array([r["ours"] for r in rows]), np.array([r["paper"] for r in rows])
    valid_a = np.array(valid, dtype=float)
    known = np.isfinite(valid_a)
    tau = kendalltau(ours[known], valid_a[known]).statistic if known.sum() > 2 else math.nan
    ms = 1000.0
    gram = f"auto ({cpu_gram_method()})" if args.gram == "auto" else args.gram
    print(
        f"\nNASWOT scoring, {args.cells} random {args.space} cells, batch {args.batch} of {args.dataset}, "
        f"{torch.get_num_threads()} torch threads, code products {gram}, median per architecture:"
    )
    build_share = [b / (b + r["ours_s"]) for b, r in zip(build_times, rows, strict=True)]
    print(
        f"  build network{' (wait, built ahead)' if args.build_ahead else '                    '} "
        f"{statistics.median(build_times) * ms:8.1f} ms "
        f"({100 * statistics.median(build_share):.1f} % of build + score, median)"
    )
    print(f"  ours: forward with codes + K       {med('hooked_forward_s') * ms:8.1f} ms")
    print(f"  ours: kernel finish + logdet       {med('kernel_logdet_s') * ms:8.1f} ms")
    print(f"  ours: total score                  {med('ours_s') * ms:8.1f} ms")
    print(f"  bare forward, channels-last (floor) {med('bare_forward_s') * ms:7.1f} ms")
    print(f"  bare forward, NCHW                  {med('bare_forward_nchw_s') * ms:7.1f} ms")
    if not args.no_paper:
        finite = np.isfinite(ours) & np.isfinite(paper)
        rel = np.abs(ours[finite] - paper[finite]) / np.abs(paper[finite])
        ratios = [r["paper_s"] / r["ours_s"] for r in rows]
        print(f"  paper's recipe (fwd+bwd, fwd, numpy) {med('paper_s') * ms:6.1f} ms")
        print(f"  speed-up over the paper's recipe   {statistics.median(ratios):8.2f} x (median of per-cell ratios)")
        print(
            f"  scores agree: max relative difference {rel.max() if rel.size else float('nan'):.2e} "
            f"over {int(finite.sum())} finite pairs; -inf: ours {int((~np.isfinite(ours)).sum())}, "
            f"paper {int((~np.isfinite(paper)).sum())}"
        )
    overhead = [(r["ours_s"] - r["bare_forward_s"]) / r["bare_forward_s"] for r in rows]
    print(f"  overhead over the bare forward     {100 * statistics.median(overhead):8.1f} % (median)")
    print(
        f"  ReLU calls per net {statistics.median(r['relus'] for r in rows):.0f}, "
        f"products reused (same input) {statistics.median(r['reused'] for r in rows):.0f}, "
        f"parameters median {statistics.median(r['params'] for r in rows) / 1e6:.2f} M"
    )
    print(f"  peak resident memory {peak_rss_mb():8.0f} MiB (after loading torch and the batch: {rss_before:.0f} MiB)")
    print(f"  Kendall tau (score vs CIFAR-10 validation accuracy, {int(known.sum())} cells): {tau:.3f}")


if __name__ == "__main__":
    main()
