"""Score many cells of a space into the shared score store (resumable: scored cells are skipped).

    python -m scoring.sweep --all                 # every NB201 cell, CIFAR-10, batch 128
    python -m scoring.sweep --n 1000 --seed 0     # 1000 random cells (those of scoring.correlate --n 1000)
    python -m scoring.sweep --naswot-runs 500      # the cells of `orchestrator.naswot --runs 500`, in order
    python -m scoring.sweep --all --shard 1/2      # half of the work, e.g. in a second process

Options combine: --n cells first, then --naswot-runs cells, then --all. Scored cells are skipped.
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from search_spaces import get_space

from .scorer import CellScorer, ScorerConfig
from .store import DEFAULT_STORE, ScoreStore


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batch-seed", type=int, default=0)
    parser.add_argument("--init-seed", type=int, default=0)
    parser.add_argument("--all", action="store_true", help="every cell of the space, in index order")
    parser.add_argument("--n", type=int, default=0, help="this many distinct random cells")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random cells")
    parser.add_argument(
        "--naswot-runs", type=int, default=0, help="the cells NASWOT runs 0..K-1 sample, first use first"
    )
    parser.add_argument("--naswot-n", type=int, default=100, help="N of those NASWOT runs")
    parser.add_argument("--shard", default="1/1", help="i/k: take every k-th cell of the list, starting at the i-th")
    parser.add_argument("--store", default=str(DEFAULT_STORE))
    args = parser.parse_args(argv)

    config = ScorerConfig(args.space, args.dataset, args.batch_size, args.batch_seed)
    space = get_space(args.space)
    ordered: list[int] = []
    if args.n:
        ordered.extend(int(i) for i in np.random.default_rng(args.seed).choice(len(space), size=args.n, replace=False))
    for run in range(args.naswot_runs):
        rng = np.random.default_rng(np.random.SeedSequence(run))  # as orchestrator.experiment seeds a run
        ordered.extend(space.index(space.sample(rng)) for _ in range(args.naswot_n))
    if args.all:
        ordered.extend(range(len(space)))
    if not ordered:
        parser.error("give --all, --n or --naswot-runs")
    shard, shards = (int(x) for x in args.shard.split("/"))
    indices = list(dict.fromkeys(ordered))[shard - 1 :: shards]
    store = ScoreStore(args.store)
    todo = [int(i) for i in indices if config.key(int(i), args.init_seed) not in store]
    print(f"{len(indices) - len(todo)} of {len(indices)} cells already in {args.store}; scoring {len(todo)}")
    scorer = CellScorer(config)
    with store:
        for index in tqdm(todo, desc="scoring", unit="cell"):
            store.put(scorer.score(space.format(space.from_index(index)), args.init_seed))


if __name__ == "__main__":
    main()
