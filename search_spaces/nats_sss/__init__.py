"""NATS-Bench size space: the space (``space.py``), its network (``network.py``, the NB201
skeleton with searchable widths) and a user's NATS-Bench sss directory (``benchmark.py``)."""

from __future__ import annotations

from search_spaces.core.registry import SpaceEntry
from search_spaces.nats_sss.space import NATSSizeCell, NATSSizeSpace


def _open(space, path):
    from search_spaces.nats_sss.benchmark import open_nats_sss_benchmark

    return open_nats_sss_benchmark(space, path)


SPACES = (
    SpaceEntry(
        "nats_sss",
        NATSSizeSpace,
        _open,
        benchmark_help="a NATS-Bench sss directory (NATS-sss-v1_0-50262-simple)",
        test_fixture="NATS-sss-v1_0-50262-simple",
        fixture_cells=("8:8:8:8:8", "8:8:8:16:32", "8:8:40:32:40"),
        missing_cell="64:64:64:64:64",
    ),
)

__all__ = ["SPACES", "NATSSizeCell", "NATSSizeSpace"]
