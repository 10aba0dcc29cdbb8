"""Score many cells of a space into the shared score store (resumable: scored cells are skipped).

    python -m scoring.sweep --all                 # every NB201 cell, CIFAR-10, batch 128
    python -m scoring.sweep --n 1000 --seed 0     # 1000 random cells
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
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--all", action="store_true", help="every cell of the space, in index order")
    group.add_argument("--n", type=int, help="this many distinct random cells")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random cells")
    parser.add_argument("--store", default=str(DEFAULT_STORE))
    args = parser.parse_args(argv)

    config = ScorerConfig(args.space, args.dataset, args.batch_size, args.batch_seed)
    space = get_space(args.space)
    if args.all:
        indices = np.arange(len(space))
    else:
        indices = np.random.default_rng(args.seed).choice(len(space), size=args.n, replace=False)
    store = ScoreStore(args.store)
    todo = [int(i) for i in indices if config.key(int(i), args.init_seed) not in store]
    print(f"{len(indices) - len(todo)} of {len(indices)} cells already in {args.store}; scoring {len(todo)}")
    scorer = CellScorer(config)
    with store:
        for index in tqdm(todo, desc="scoring", unit="cell"):
            store.put(scorer.score(space.format(space.from_index(index)), args.init_seed))


if __name__ == "__main__":
    main()
