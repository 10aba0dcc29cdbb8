"""How fast the embedded NAS-Bench-101 table loads and answers::

    python -m search_spaces.nb101.bench [--lookups 20000] [--seed 0]

Prints, for this process (its modules, numpy and pyarrow already imported): the time and
resident-memory cost of loading the table (``NB101Benchmark()``: the 423,624-row Parquet file and the sample's validation
accuracies; the peak RSS increase from ``getrusage``), then lookups per second by hash
(``lookup_key``, random rows of the table) and by cell (``lookup``, which computes the cell's hash
first), and the rate of a hash lookup on a few hundred cells against the whole table, which shows
that a lookup costs the same wherever the cell lies.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time


def _rss_mb() -> float:
    """The current resident set size (MB), from /proc (Linux); NaN elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _peak_mb() -> float:
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _rate(calls, repeat: int = 1) -> float:
    """Calls per second of the zero-argument callables ``calls`` (each run ``repeat`` times)."""
    start = time.perf_counter()
    for _ in range(repeat):
        for call in calls:
            call()
    return repeat * len(calls) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lookups", type=int, default=20000, help="hash lookups to time (cell lookups: a tenth)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import numpy as np

    from search_spaces.nb101.benchmark import NB101Benchmark
    from search_spaces.nb101.space import NB101Space, make_cell

    peak0, rss0, start = _peak_mb(), _rss_mb(), time.perf_counter()
    benchmark = NB101Benchmark(NB101Space())
    load_s = time.perf_counter() - start
    print(
        f"load: {load_s:.3f} s for {len(benchmark):,} cells, peak RSS +{_peak_mb() - peak0:.1f} MB "
        f"(RSS +{_rss_mb() - rss0:.1f} MB; the modules, numpy and pyarrow were imported before)"
    )

    table = benchmark.table
    rng = np.random.default_rng(args.seed)
    rows = rng.integers(len(table), size=max(args.lookups, 1))
    keys = [table.key_at(int(r)) for r in rows]
    by_key = _rate([lambda k=k: benchmark.lookup_key(k) for k in keys])
    print(f"lookup by hash: {by_key:,.0f} lookups/s ({len(keys):,} random rows)")

    cells = [make_cell(*table.spec_at(int(r))) for r in rows[: max(len(rows) // 10, 1)]]
    by_cell = _rate([lambda c=c: benchmark.lookup(c) for c in cells])
    print(f"lookup by cell (hashes the cell first): {by_cell:,.0f} lookups/s ({len(cells):,} cells)")

    few = keys[:300]
    repeat = max(len(keys) // len(few), 1)
    few_rate = _rate([lambda k=k: benchmark.lookup_key(k) for k in few], repeat=repeat)
    print(f"lookup by hash, the same 300 cells {repeat} times: {few_rate:,.0f} lookups/s (all rows: {by_key:,.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
