"""Score many cells of a space into the shared score store (resumable: scored cells are skipped).

    python -m scoring.sweep --all                 # every NB201 cell, CIFAR-10, batch 128
    python -m scoring.sweep --n 1000 --seed 0     # 1000 random cells (those of orchestrator.correlate --n 1000)
    python -m scoring.sweep --naswot-runs 500      # the cells of `orchestrator.naswot --runs 500`, in order
    python -m scoring.sweep --all --shard 1/2      # half of the work, e.g. in a second process
    python -m scoring.sweep --space nb101 --naswot-runs 30   # the NB101 cells of 30 NASWOT runs (and of correlate --naswot-runs)
    python -m scoring.sweep --all --proxies synflow,naswot   # several proxies, one after the other

Options combine: --n cells first, then --naswot-runs cells, then --all. Scored cells are skipped.
``--all`` needs a space with a benchmark index (NB201, nats_sss, NB101) or a sample benchmark.
"""

from __future__ import annotations

import argparse
import dataclasses

from tqdm import tqdm

from scoring.options import (
    add_image_options,
    add_seed_option,
    add_space_options,
    add_store_options,
    space_options_from_args,
)
from scoring.proxies import available_proxies, check_proxy_space
from scoring.scorer import ScorerConfig
from scoring.service import InlinePool, ScoringService
from scoring.store import ScoreStore
from search_spaces import get_space, open_benchmark
from search_spaces.core.cells import all_cells, naswot_run_cells, random_cells
from search_spaces.core.errors import NaswotError


def sweep_cells(space, benchmark, *, n: int, seed: int, naswot_runs: int, naswot_n: int, every: bool) -> list:
    """The cells a sweep scores, in first-use order, each once (by ``space.key``).

    Raises:
        NaswotError: ``every`` for a space that can neither be enumerated nor has a sample benchmark.
    """
    sample = benchmark.cells() if benchmark is not None else None
    ordered = []
    if n:
        ordered.extend(random_cells(space, n, seed, sample))
    if naswot_runs:
        ordered.extend(naswot_run_cells(space, naswot_runs, naswot_n, sample))
    if every:
        ordered.extend(all_cells(space, sample))
    unique: dict[str, object] = {}
    for arch in ordered:
        unique.setdefault(space.key(arch), arch)
    return list(unique.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_space_options(parser)
    add_image_options(parser)
    add_store_options(parser)
    parser.add_argument("--all", action="store_true", help="every cell of the space (or of its sample benchmark)")
    parser.add_argument("--n", type=int, default=0, help="this many distinct random cells")
    add_seed_option(parser, "seed of the random cells")
    parser.add_argument(
        "--naswot-runs", type=int, default=0, help="the cells NASWOT runs 0..K-1 sample, first use first"
    )
    parser.add_argument("--naswot-n", type=int, default=100, help="N of those NASWOT runs")
    parser.add_argument(
        "--proxies", default="naswot", help=f"comma list, scored in this order, of: {', '.join(available_proxies())}"
    )
    parser.add_argument("--device", default="cpu", help="torch device the cells are scored on (cpu, cuda, cuda:1)")
    parser.add_argument("--shard", default="1/1", help="i/k: take every k-th cell of the list, starting at the i-th")
    args = parser.parse_args(argv)
    if args.no_store:
        parser.error("a sweep fills the store: --no-store makes no sense here")

    proxies = [name.strip() for name in args.proxies.split(",") if name.strip()]
    if not proxies:
        parser.error("--proxies names no proxy")
    try:
        for name in proxies:
            check_proxy_space(name, args.space)
    except NaswotError as exc:
        parser.error(str(exc))
    options = space_options_from_args(args)
    config = ScorerConfig(
        args.space, args.dataset, args.batch_size, args.batch_seed, args.data_dir, args.device, space_options=options
    )
    space = get_space(args.space, **dict(options))
    try:
        benchmark = open_benchmark(space, args.benchmark)
        cells = sweep_cells(
            space,
            benchmark,
            n=args.n,
            seed=args.seed,
            naswot_runs=args.naswot_runs,
            naswot_n=args.naswot_n,
            every=args.all,
        )
    except (NaswotError, ValueError) as exc:
        parser.error(str(exc))
    if not cells:
        parser.error("give --all, --n or --naswot-runs")
    shard, shards = (int(x) for x in args.shard.split("/"))
    cells = cells[shard - 1 :: shards]
    store = ScoreStore(args.store, shipped=not args.no_shipped_scores)
    for proxy in proxies:
        proxy_config = dataclasses.replace(config, proxy=proxy)
        todo = [c for c in cells if proxy_config.key(space.key(c), args.init_seed) not in store]
        print(f"{proxy}: {len(cells) - len(todo)} of {len(cells)} cells already in {args.store}; scoring {len(todo)}")
        service = ScoringService(proxy_config, InlinePool(proxy_config), store, space)
        try:
            for arch in tqdm(todo, desc=f"scoring {proxy}", unit="cell"):
                service.score_many([(space.format(arch), args.init_seed)])
        finally:
            service.flush()


if __name__ == "__main__":
    main()
