"""Costs of a cell (params and FLOPs on the meta device, measured latency) and NB201's latency table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from search_spaces import get_space, open_benchmark
from search_spaces.core.cells import random_cells
from search_spaces.core.costs import count_multiply_adds, measure_latency_ms, network_costs
from search_spaces.core.errors import InvalidArchitectureError, UnknownNameError
from search_spaces.nb201 import latency
from search_spaces.nb201.nats import open_nats_api
from search_spaces.nb201.space import NUM_CELLS

FIXTURE = Path(__file__).parent / "fixtures" / "NATS-tss-v1_0-3ffb9-simple"
FIXTURE_INDICES = (0, 11, 284)
# NATS-Bench dataset -> (classes, input shape) of its network
NATS_DATASETS = {
    "cifar10-valid": (10, (3, 32, 32)),
    "cifar100": (100, (3, 32, 32)),
    "ImageNet16-120": (120, (3, 16, 16)),
}


def test_multiply_adds_are_counted_once():
    layer = nn.Linear(4, 3, bias=False)
    assert count_multiply_adds(layer, torch.zeros(1, 4)) == 12
    conv = nn.Conv2d(2, 5, 3, padding=1, bias=False)
    assert count_multiply_adds(conv, torch.zeros(1, 2, 4, 4)) == 2 * 9 * 5 * 16


def test_meta_params_equal_the_embedded_table(nb201, nb201_table):
    for cell in random_cells(nb201, 8, seed=3):
        costs = network_costs(nb201, cell, 10)
        assert costs.on_meta
        assert costs.params_m == pytest.approx(nb201_table.params_m(cell), abs=5e-7)


def test_flops_and_params_match_nats_bench_with_its_bias_convention(nb201):
    """NATS-Bench's flops = our multiply-adds + the classifier's num_classes bias additions."""
    api = open_nats_api(FIXTURE, "tss")
    for index in FIXTURE_INDICES:
        cell = nb201.parse(api.arch(index))
        assert nb201.index(cell) == index
        for dataset, (classes, shape) in NATS_DATASETS.items():
            theirs = api.get_cost_info(index, dataset)
            ours = network_costs(nb201, cell, classes, shape)
            assert ours.flops_m + classes / 1e6 == pytest.approx(theirs["flops"], abs=1e-9), (index, dataset)
            assert ours.params_m == pytest.approx(float(theirs["params"]), abs=5e-7), (index, dataset)


def test_shipped_flops_equal_the_counter_on_a_sample(nb201):
    indices = [*FIXTURE_INDICES, *(int(i) for i in np.random.default_rng(11).choice(NUM_CELLS, 5, replace=False))]
    for index in indices:
        counted = network_costs(nb201, nb201.from_index(index), 10).flops_m
        assert latency.flops_m(index) == pytest.approx(counted, abs=5e-7), index


def test_costs_leave_the_global_rng_alone(nb201):
    state = torch.random.get_rng_state()
    network_costs(nb201, nb201.from_index(5), 10)
    assert torch.equal(state, torch.random.get_rng_state())


def test_nb101_falls_back_to_the_cpu_and_counts_its_real_parameters():
    space, benchmark = get_space("nb101"), open_benchmark("nb101")
    cell = space.from_index(0)
    costs = network_costs(space, cell, 10)
    assert not costs.on_meta  # nasbench_pytorch needs real tensors to build
    real = sum(p.numel() for p in space.build(cell, 10).parameters())
    assert costs.params_m == real / 1e6
    assert costs.params_m == pytest.approx(benchmark.lookup(cell)["params_m"], abs=1e-9)  # the table's exact count


def test_measure_latency_on_this_cpu():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 3, 8, 8))  # materialise the lazy layer
    model.train()
    measured = measure_latency_ms(model, (1, 3, 8, 8), repeats=5, warmup=1)
    assert measured.ms > 0 and measured.repeats == 5 and measured.input_shape == (1, 3, 8, 8)
    assert measured.hardware.startswith("cpu:") and "threads" in measured.hardware
    assert not model.training
    with pytest.raises(ValueError, match="repeats"):
        measure_latency_ms(model, (1, 3, 8, 8), repeats=0)


def test_latency_file_layout_and_provenance():
    table = latency.latency_table()
    assert table.num_rows == NUM_CELLS
    assert table.column_names == [latency.INDEX_COLUMN, latency.FLOPS_COLUMN, *latency.LATENCY_DEVICES]
    assert len(latency.LATENCY_DEVICES) == 27
    assert table.column(latency.INDEX_COLUMN).to_pylist() == list(range(NUM_CELLS))
    for device in latency.LATENCY_DEVICES:
        column = latency.latency_column(device)
        assert column.dtype == np.float32 and np.isfinite(column).all() and (column >= 0).all()
    metadata = table.schema.metadata
    assert b"HW-NAS-Bench" in metadata[b"provenance"] and b"sha256" in metadata[b"source"]


def test_latency_lookups(nb201):
    # HW-NAS-Bench's published index-0 value on the Pixel 3 (also in shared/data/README.md).
    assert latency.latency_ms(0, "hwnb_pixel3") == pytest.approx(3.60585, abs=1e-5)
    cell = nb201.from_index(6111)
    for device in ("hwnb_fpga", "help_pixel2", "help_titan_rtx_256"):
        value = latency.latency_ms(6111, device)
        assert latency.latency_ms(cell, device) == value == latency.latency_ms(nb201.format(cell), device)
    assert latency.flops_m(np.int64(0)) == pytest.approx(15.64736, abs=1e-9)


def test_latency_errors_are_clear():
    with pytest.raises(UnknownNameError, match="latency device 'pixel3'.*hwnb_pixel3"):
        latency.latency_ms(0, "pixel3")
    with pytest.raises(InvalidArchitectureError, match=r"\[0, 15625\)"):
        latency.latency_ms(NUM_CELLS, "hwnb_pixel3")
    with pytest.raises(InvalidArchitectureError, match="bool"):
        latency.flops_m(True)


def test_is_table_network():
    assert latency.is_table_network(get_space("nb201"), 10, (3, 32, 32))
    assert not latency.is_table_network(get_space("nb201", channels=8), 10, (3, 32, 32))
    assert not latency.is_table_network(get_space("nb201"), 100, (3, 32, 32))
    assert not latency.is_table_network(get_space("nats_sss"), 10, (3, 32, 32))
