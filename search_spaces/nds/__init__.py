"""The five NDS design spaces (DARTS, ENAS, AmoebaNet, NASNet, PNAS): genotypes (``space.py``),
the NDS CIFAR networks (``network.py``) and a user's NDS json file (``benchmark.py``)."""

from __future__ import annotations

from functools import partial

from search_spaces.core.registry import SpaceEntry
from search_spaces.nds.space import NDSCell, NDSSpace, nds_space_names


def _open(space, path):
    from search_spaces.nds.benchmark import open_nds_benchmark

    return open_nds_benchmark(path, space)


_FIXTURES = {
    "nds_darts": "DARTS",
    "nds_enas": "ENAS",
    "nds_amoeba": "Amoeba",
    "nds_nasnet": "NASNet",
    "nds_pnas": "PNAS",
}

SPACES = tuple(
    SpaceEntry(
        name,
        partial(NDSSpace, name),
        _open,
        benchmark_help=f"the NDS json file ({_FIXTURES[name]}.json)",
        test_fixture=f"nds/{_FIXTURES[name]}.json",  # synthetic files in the published format
    )
    for name in nds_space_names()
)

__all__ = ["SPACES", "NDSCell", "NDSSpace"]
