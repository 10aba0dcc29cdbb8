"""Score a few random cells of a space on the embedded CIFAR-10 images and show their accuracies.

python -m scoring.demo --cells 10
python -m scoring.demo --space nb101 --cells 5
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.stats import kendalltau
from tqdm import tqdm

from scoring.cells import score_cell
from scoring.data import NUM_CLASSES, load_batch
from scoring.options import add_seed_option, add_space_options, space_options_from_args
from search_spaces import get_space, open_benchmark
from search_spaces.core.errors import ArchitectureNotInBenchmarkError
from search_spaces.core.sampled import SampledSpace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_space_options(parser)
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    add_seed_option(parser, "seed of the cell and the batch")
    args = parser.parse_args(argv)
    space = get_space(args.space, **dict(space_options_from_args(args)))
    benchmark = open_benchmark(space, args.benchmark)
    sample = benchmark.cells() if benchmark is not None else None
    search = SampledSpace(space, sample) if sample is not None else space
    images, _ = load_batch("cifar10", args.batch, args.seed)
    rng = np.random.default_rng(args.seed)
    rows = []
    for _ in tqdm(range(args.cells), desc="scoring", unit="cell"):
        arch = search.sample(rng)
        result = score_cell(space, arch, images, NUM_CLASSES["cifar10"], init_seed=args.seed)
        try:
            acc = benchmark.lookup(arch).get("cifar10_valid", math.nan) if benchmark is not None else math.nan
        except ArchitectureNotInBenchmarkError:
            acc = math.nan
        rows.append((space.key(arch), result.score, acc, result.score_s))
    width = max(6, *(len(r[0]) for r in rows))
    print(f"{'key':>{width}} {'NASWOT score':>13} {'CIFAR-10 valid %':>17} {'time s':>7}")
    for key, score, acc, seconds in sorted(rows, key=lambda r: -r[1]):
        print(f"{key:>{width}} {score:>13.2f} {acc:>17.2f} {seconds:>7.3f}")
    known = [r for r in rows if math.isfinite(r[2])]
    tau = kendalltau([r[1] for r in known], [r[2] for r in known]).statistic if len(known) > 2 else math.nan
    print(f"Kendall tau over the {len(known)} cells with an accuracy: {tau:.3f}")


if __name__ == "__main__":
    main()
