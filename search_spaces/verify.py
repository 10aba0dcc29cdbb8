"""Check that every NAS-Bench-201 network built here has the benchmark's parameter count.

    python -m search_spaces.verify

Builds all 15,625 networks on PyTorch's ``meta`` device (shapes only, no memory, no init) and
compares the parameter count of the 10-class network with the table's ``params_m``.
"""

from __future__ import annotations

import time

import torch
from tqdm import tqdm

from . import get_space
from .benchmarks import EmbeddedNB201Table


def main() -> None:
    space = get_space("nb201")
    table = EmbeddedNB201Table(space)
    start = time.perf_counter()
    mismatches = []
    with torch.device("meta"):
        for index in tqdm(range(len(space)), desc="nb201 params", unit="cell"):
            cell = space.from_index(index)
            count = sum(p.numel() for p in space.build(cell, 10).parameters())
            if round(count / 1e6, 6) != table.params_m(cell):
                mismatches.append((index, count, table.params_m(cell)))
    print(
        f"checked {len(space)} cells in {time.perf_counter() - start:.1f} s: "
        f"{len(space) - len(mismatches)} match the table's params_m, {len(mismatches)} differ"
    )
    for index, count, expected in mismatches[:20]:
        print(f"  index {index}: built {count} parameters, table {expected} M")
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
