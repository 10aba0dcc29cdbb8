"""Check that the networks built here have the benchmark's parameter counts, for any space.

    python -m search_spaces.verify                                   # all 15,625 NB201 cells
    python -m search_spaces.verify --space nb101 --n 200             # the first 200 cells of NB101's table
    python -m search_spaces.verify --space nats_sss --benchmark DIR  # the cells a NATS sss directory holds

Builds the 10-class networks on PyTorch's ``meta`` device (shapes only, no memory, no init; NB101's
on the CPU, as ``nasbench_pytorch`` needs real tensors) and
compares their parameter count with the benchmark's ``params_m``. Which cells: the benchmark's
own cells when it holds a sample, else every cell when the space has a benchmark index
(``from_index``), else ``--n`` random cells; cells the benchmark has no record of are counted, not
compared. ``--tolerance`` allows a difference in parameters (NB101: ``nasbench_pytorch`` counts
18-40 parameters more than the TensorFlow original on some cells).
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch
from tqdm import tqdm

from search_spaces import available_spaces, get_space, open_benchmark
from search_spaces.core.cells import all_cells
from search_spaces.core.errors import ArchitectureNotInBenchmarkError
from search_spaces.core.options import add_seed_option
from search_spaces.core.space import IndexedSpace

DEFAULT_TOLERANCE: dict[str, int] = {}  # every space builds the benchmark's exact parameter counts
# nasbench_pytorch turns tensors into numpy arrays while it builds: its networks are built on the CPU.
NOT_ON_META = {"nb101"}


def cells_to_check(space, benchmark, n: int, seed: int) -> list:
    """The cells :func:`main` compares (see the module docstring)."""
    sample = benchmark.cells()
    if sample is not None:
        return list(sample)
    if isinstance(space, IndexedSpace):
        return all_cells(space, limit=None if n <= 0 else n)
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(max(n, 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="nb201", choices=list(available_spaces()))
    parser.add_argument("--benchmark", default=None, help="the space's benchmark file or directory")
    parser.add_argument("--n", type=int, default=0, help="check only the first n cells (0: all)")
    add_seed_option(parser, "seed of the sampled cells (spaces without an index)")
    parser.add_argument("--tolerance", type=int, default=None, help="allowed difference in parameters")
    args = parser.parse_args(argv)
    space = get_space(args.space)
    benchmark = open_benchmark(space, args.benchmark)
    if benchmark is None or "params_m" not in {m.name for m in benchmark.metrics}:
        parser.error(f"{args.space} has no benchmark with parameter counts here: give --benchmark PATH")
    tolerance = args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE.get(args.space, 0)
    cells = cells_to_check(space, benchmark, args.n, args.seed)
    start = time.perf_counter()
    mismatches, missing, worst = [], 0, 0
    device = contextlib.nullcontext() if args.space in NOT_ON_META else torch.device("meta")
    with device:
        for cell in tqdm(cells, desc=f"{args.space} params", unit="cell"):
            try:
                expected = benchmark.lookup(cell)["params_m"]
            except ArchitectureNotInBenchmarkError:
                missing += 1
                continue
            count = sum(p.numel() for p in space.build(cell, 10).parameters())
            diff = abs(count - round(expected * 1e6))
            worst = max(worst, diff)
            if diff > tolerance:
                mismatches.append((space.format(cell), count, expected))
    checked = len(cells) - missing
    print(
        f"checked {checked} {args.space} cells in {time.perf_counter() - start:.1f} s: "
        f"{checked - len(mismatches)} match the benchmark's params_m (within {tolerance} parameters; "
        f"largest difference {worst}), {len(mismatches)} differ, {missing} not in the benchmark"
    )
    for text, count, expected in mismatches[:20]:
        print(f"  {text}: built {count} parameters, benchmark {expected} M")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
