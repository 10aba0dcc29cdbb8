"""Score a few random NAS-Bench-201 cells on the embedded CIFAR-10 images and show their accuracies.

python -m scoring.demo --cells 10
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import kendalltau
from tqdm import tqdm

from search_spaces import get_space
from search_spaces.benchmarks import EmbeddedNB201Table

from .cells import score_cell
from .data import NUM_CLASSES, load_batch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    space, table = get_space("nb201"), EmbeddedNB201Table()
    images, _ = load_batch("cifar10", args.batch, args.seed)
    rng = np.random.default_rng(args.seed)
    rows = []
    for _ in tqdm(range(args.cells), desc="scoring", unit="cell"):
        arch = space.sample(rng)
        result = score_cell(space, arch, images, NUM_CLASSES["cifar10"], init_seed=args.seed)
        rows.append((space.index(arch), result.score, table.accuracy(arch, "cifar10", "valid"), result.score_s))
    print(f"{'index':>6} {'NASWOT score':>13} {'CIFAR-10 valid %':>17} {'time s':>7}")
    for index, score, acc, seconds in sorted(rows, key=lambda r: -r[1]):
        print(f"{index:>6} {score:>13.2f} {acc:>17.2f} {seconds:>7.3f}")
    tau = kendalltau([r[1] for r in rows], [r[2] for r in rows]).statistic
    print(f"Kendall tau over these {len(rows)} cells: {tau:.3f}")


if __name__ == "__main__":
    main()
