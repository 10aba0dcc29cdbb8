"""FreeREA's skip score (``skipped_layers``): hand-computed cells, the paper's genotype formula,
and a clear error (a recorded failure when scored) for networks without declared cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from orchestrator.config import ExperimentConfig
from scoring.proxies import PROXY_SPACES, check_proxy_space, skipped_layers
from scoring.proxies.structure import dag_cells
from scoring.scorer import CellScorer, ScorerConfig
from search_spaces import available_spaces, get_space
from search_spaces.core.cells import random_cells
from search_spaces.core.errors import ProxyNotApplicableError
from search_spaces.core.status import Status
from search_spaces.nb201.space import NB201Cell

IMAGES = torch.zeros(2, 3, 8, 8)
LABELS = torch.zeros(2, dtype=torch.long)


@pytest.fixture(scope="module")
def tiny():
    return get_space("nb201", channels=4, cells_per_stage=1)


def genotype_skip(arch: str) -> float:
    """FreeREA's formula on the genotype string, written independently: level k (node k + 1) and
    gene i (source node i) of a skip edge bypass k - i nodes; the mean over skip edges, else 0."""
    spans = [
        level - gene
        for level, text in enumerate(arch.split("+"))
        for gene, op in enumerate(text.strip("|").split("|"))
        if op.startswith("skip_connect")
    ]
    return sum(spans) / len(spans) if spans else 0.0


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        (("none",) * 6, 0.0),  # no skip edge
        (("nor_conv_3x3",) * 3 + ("skip_connect",) + ("nor_conv_3x3",) * 2, 2.0),  # input -> output skip
        (("skip_connect",) * 6, 4 / 6),  # spans 0, 1, 0, 2, 1, 0
        (("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect"), 0.5),
    ],
)
def test_hand_computed_cells(tiny, ops, expected):
    assert skipped_layers(tiny.build(NB201Cell(ops), 10), IMAGES, LABELS) == pytest.approx(expected)


def test_it_equals_the_papers_genotype_formula_on_random_cells(tiny):
    for cell in random_cells(tiny, 40, np.random.default_rng(5)):
        model = tiny.build(cell, 10)
        assert len(dag_cells(model)) == 3  # one per stage at cells_per_stage=1
        assert skipped_layers(model, IMAGES, LABELS) == pytest.approx(genotype_skip(tiny.format(cell)))


def test_a_network_without_declared_cells_raises_and_a_scorer_records_a_failure():
    with pytest.raises(ProxyNotApplicableError, match="declare their DAG"):
        skipped_layers(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), IMAGES, LABELS)
    record = CellScorer(ScorerConfig(space="nb101", proxy="skipped_layers", batch_size=4)).score(
        get_space("nb101").format(random_cells(get_space("nb101"), 1, np.random.default_rng(0))[0])
    )
    assert record.status is Status.FAILED and "ProxyNotApplicableError" in record.error


def test_every_space_it_is_declared_for_builds_networks_it_reads_and_others_are_refused_up_front():
    for space_name in PROXY_SPACES["skipped_layers"]:
        assert space_name in available_spaces()
        space = get_space(space_name)
        cell = random_cells(space, 1, np.random.default_rng(0))[0]
        assert dag_cells(space.build(cell, 10)), space_name
    check_proxy_space("skipped_layers", "nb201")
    check_proxy_space("naswot", "nb101")  # proxies without a declared list work everywhere
    with pytest.raises(ProxyNotApplicableError, match="nb101"):
        check_proxy_space("skipped_layers", "nb101")
    with pytest.raises(ProxyNotApplicableError):
        ExperimentConfig(algorithm="naswot", space="nb101", ensemble=("naswot", "skipped_layers"))
