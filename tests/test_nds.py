"""The five NDS cell spaces: genotype strings, sampling, mutation, keys, networks, the json reader."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from search_spaces import available_spaces, get_space, open_benchmark
from search_spaces.core.benchmark import Benchmark
from search_spaces.core.errors import ArchitectureNotInBenchmarkError, BenchmarkDataError, InvalidArchitectureError
from search_spaces.core.space import SearchSpace
from search_spaces.nds.space import SPECS, concat_for, nds_space_names

FIXTURES = Path(__file__).parent / "fixtures" / "nds"
NAMES = nds_space_names()
FILES = {"nds_darts": "DARTS", "nds_enas": "ENAS", "nds_amoeba": "Amoeba", "nds_nasnet": "NASNet", "nds_pnas": "PNAS"}

# DARTS (second order), as published by Liu et al. 2019 and listed in pycls' genotypes.
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
    "reduce_concat=range(2, 6))"
)


def tiny(name: str):
    return get_space(name, width=4, depth=3)


def test_registered_with_the_paper_op_sets_and_node_counts():
    assert set(NAMES) <= set(available_spaces())
    expected = {
        "nds_darts": (8, 4, "all"),
        "nds_enas": (5, 5, "loose"),
        "nds_amoeba": (8, 5, "loose"),
        "nds_nasnet": (13, 5, "loose"),
        "nds_pnas": (8, 5, "all"),
    }
    for name, (ops, nodes, concat) in expected.items():
        space = get_space(name)
        assert isinstance(space, SearchSpace)
        assert (len(space.ops), space.nodes, space.spec.concat) == (ops, nodes, concat)
        assert len(set(space.ops)) == ops
        assert space.size is None
    assert "none" in SPECS["nds_darts"].ops


@pytest.mark.parametrize("name", NAMES)
def test_sample_format_parse_round_trip_and_rules(name):
    space = get_space(name)
    rng = np.random.default_rng(1)
    seen_ops = set()
    for _ in range(40):
        cell = space.sample(rng)
        assert space.parse(space.format(cell)) == cell
        assert (cell.width, cell.depth) == (space.width, space.depth)
        for pairs, concat in ((cell.normal, cell.normal_concat), (cell.reduce, cell.reduce_concat)):
            assert len(pairs) == 2 * space.nodes
            for n, (op, src) in enumerate(pairs):
                assert 0 <= src < n // 2 + 2
                seen_ops.add(op)
            assert concat == concat_for(pairs, space.spec.concat)
    assert seen_ops == set(space.ops)  # every op of the set is drawn (DARTS: 'none' too)
    a = [space.format(space.sample(np.random.default_rng(7))) for _ in range(2)]
    assert a[0] == a[1]


def test_loose_concat_takes_the_unused_nodes():
    space = get_space("nds_nasnet")
    pairs = [("skip_connect", 0), ("skip_connect", 1)] * 2 + [("skip_connect", 2), ("skip_connect", 3)] * 3
    cell = space.make(pairs, pairs)
    assert cell.normal_concat == (4, 5, 6)
    assert get_space("nds_pnas").make(pairs, pairs).normal_concat == (2, 3, 4, 5, 6)


def test_parses_the_darts_repr_and_a_record_net():
    space = get_space("nds_darts")
    cell = space.parse(DARTS_V2)
    assert cell.normal[7] == ("dil_conv_3x3", 2) and cell.reduce_concat == (2, 3, 4, 5)
    net = json.dumps({"genotype": cell.genotype(), "width": 36, "depth": 20, "aux": True})
    big = space.parse(net)
    assert (big.width, big.depth) == (36, 20)
    assert dataclasses.replace(big, width=space.width, depth=space.depth) == cell


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("not a cell", "JSON or Genotype"),
        ("{bad json", "invalid JSON"),
        ('{"normal": [], "reduce": []}', "must have 8 .* pairs"),
        (DARTS_V2.replace("'sep_conv_3x3', 0", "'conv_9x9', 0", 1), "unknown op 'conv_9x9'"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 6)"), r"normal\[7\] \(node 3\) reads state 6"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 9]"), "normal_concat holds 9"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 2]"), "repeats a state"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', '2')"), "must be an int"),
        ("Genotype(normal=foo)", "not a literal"),
        ("Genotype(normal=[])", "lacks reduce"),
    ],
)
def test_parse_errors_name_the_fault(text, fault):
    with pytest.raises(InvalidArchitectureError, match=fault):
        get_space("nds_darts").parse(text)


def test_parse_rejects_non_strings_and_bad_width():
    space = get_space("nds_enas")
    with pytest.raises(InvalidArchitectureError, match="is a str"):
        space.parse(None)  # type: ignore[arg-type]
    cell = space.sample(np.random.default_rng(0))
    bad = json.loads(space.format(cell))
    bad["width"] = 0
    with pytest.raises(InvalidArchitectureError, match="width must be a positive int"):
        space.parse(json.dumps(bad))
    with pytest.raises(ValueError):
        get_space("nds_enas", width=0)


@pytest.mark.parametrize("name", NAMES)
def test_mutate_changes_one_op_or_one_input(name):
    space = get_space(name)
    rng = np.random.default_rng(3)
    for _ in range(60):
        parent = space.sample(rng)
        before = space.format(parent)
        child = space.mutate(parent, rng)
        assert space.format(parent) == before
        assert space.validate(child) == child
        assert space.key(child) != space.key(parent)
        diffs = [
            (a, b)
            for which in ("normal", "reduce")
            for a, b in zip(getattr(parent, which), getattr(child, which))
            if a != b
        ]
        assert len(diffs) == 1
        (op_a, src_a), (op_b, src_b) = diffs[0]
        assert (op_a != op_b) != (src_a != src_b)
        assert child.normal_concat == concat_for(child.normal, space.spec.concat)
        assert child.reduce_concat == concat_for(child.reduce, space.spec.concat)


def test_key_ignores_the_order_of_a_nodes_two_inputs_only():
    space = get_space("nds_amoeba")
    cell = space.sample(np.random.default_rng(5))
    swapped = list(cell.normal)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    twin = dataclasses.replace(cell, normal=tuple(swapped))
    assert space.key(twin) == space.key(cell)
    assert len(space.key(cell)) == 16 and int(space.key(cell), 16) >= 0
    assert space.key(dataclasses.replace(cell, width=cell.width + 2)) != space.key(cell)
    assert get_space("nds_pnas").key(cell) != space.key(cell)  # the space name is part of the key


def test_darts_v2_network_has_the_published_parameter_count():
    # DARTS (Liu et al. 2019) reports 3.3M parameters for this cell at C=36, 20 cells (no auxiliary head).
    space = get_space("nds_darts")
    cell = dataclasses.replace(space.parse(DARTS_V2), width=36, depth=20)
    net = space.build(cell, 10)
    assert sum(p.numel() for p in net.parameters()) == 3_349_342


def test_network_shape_reductions_and_relu_modules():
    space = get_space("nds_nasnet", width=4, depth=6)
    cell = space.sample(np.random.default_rng(2))
    net = space.build(cell, 7)
    seen = []
    hooks = [c.register_forward_hook(lambda m, i, o: seen.append(o.shape[-1])) for c in net.cells]
    try:
        out = net(torch.randn(2, 3, 32, 32))
    finally:
        for h in hooks:
            h.remove()
    assert out.shape == (2, 7)
    assert seen == [32, 32, 16, 16, 8, 8]  # reductions at cells 6 // 3 and 2 * 6 // 3
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    assert relus and not any(m.inplace for m in relus)


@pytest.mark.parametrize("name", NAMES)
def test_sampled_and_mutated_cells_build_and_score(name):
    from scoring.naswot import naswot_score

    space = tiny(name)
    rng = np.random.default_rng(11)
    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    parent = space.sample(rng)
    for cell in (parent, space.mutate(parent, rng)):
        torch.manual_seed(0)
        score = naswot_score(space.build(cell, 10), images)
        assert math.isfinite(score) and score > 0


# -- the json reader --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_fixture_reads_as_a_benchmark(name):
    path = FIXTURES / f"{FILES[name]}.json"
    bench = open_benchmark(name, str(path))
    assert isinstance(bench, Benchmark)
    assert bench.space_name == name
    assert bench.default_fitness in bench.fitness_names
    records = json.loads(path.read_text())
    cells = bench.cells()
    assert len(cells) == len(records) == 20
    space = get_space(name)
    for record, cell in zip(records, cells):
        assert (cell.width, cell.depth) == (record["net"]["width"], record["net"]["depth"])
        assert cell.genotype() == record["net"]["genotype"]
        row = bench.lookup(space.parse(space.format(cell)))
        assert set(row) == {m.name for m in bench.metrics}
        assert row["cifar10_test"] == pytest.approx(100 - record["test_ep_top1"][-1])
        assert row["cifar10_test_best"] == pytest.approx(100 - record["min_test_top1"])
        assert row["params_m"] == pytest.approx(record["params"] / 1e6)
        assert math.isnan(row["flops_m"])


def test_fixture_cells_build_at_their_own_size_and_score():
    from scoring.naswot import naswot_score

    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    for name in NAMES:
        bench = open_benchmark(name, str(FIXTURES / f"{FILES[name]}.json"))
        space = get_space(name)
        records = json.loads((FIXTURES / f"{FILES[name]}.json").read_text())
        cell = bench.cells()[0]
        net = space.build(cell, 10)
        assert sum(p.numel() for p in net.parameters()) == records[0]["params"]
        assert math.isfinite(naswot_score(net, images))


def test_lookup_of_an_unknown_cell_and_score_only_without_a_file():
    bench = open_benchmark("nds_darts", str(FIXTURES / "DARTS.json"))
    space = get_space("nds_darts")
    with pytest.raises(ArchitectureNotInBenchmarkError, match="holds no nds_darts network"):
        bench.lookup(space.sample(np.random.default_rng(99)))
    assert open_benchmark("nds_darts") is None


def test_reader_errors(tmp_path):
    space = get_space("nds_enas")
    with pytest.raises(BenchmarkDataError, match="not found"):
        open_benchmark(space, str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BenchmarkDataError, match="not a readable"):
        open_benchmark(space, str(tmp_path / "bad.json"))
    with pytest.raises(BenchmarkDataError, match="record 0 is not a nds_enas network"):
        open_benchmark(space, str(FIXTURES / "DARTS.json"))
    records = json.loads((FIXTURES / "ENAS.json").read_text())
    del records[1]["test_ep_top1"]
    (tmp_path / "no_err.json").write_text(json.dumps(records))
    with pytest.raises(BenchmarkDataError, match="record 1: the record has no test_ep_top1"):
        open_benchmark(space, str(tmp_path / "no_err.json"))


def test_top_mid_object_and_duplicates(tmp_path):
    records = json.loads((FIXTURES / "PNAS.json").read_text())
    path = tmp_path / "PNAS.json"
    path.write_text(json.dumps({"top": records[:5], "mid": records[5:] + records[:2]}))
    bench = open_benchmark("nds_pnas", str(path))
    assert len(bench.cells()) == 20 and bench.duplicates == 2


@pytest.mark.timeout(300)
def test_correlate_runs_end_to_end_on_a_fixture(tmp_path, capsys):
    import pandas as pd

    from orchestrator.correlate import main

    argv = ["--space", "nds_enas", "--benchmark", str(FIXTURES / "ENAS.json"), "--n", "6", "--proxies", "naswot"]
    argv += ["--batch-size", "8", "--no-store", "--no-plots", "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0
    corr = pd.read_csv(tmp_path / "correlations.csv")
    row = corr[(corr.proxy == "naswot") & (corr.accuracy == "test")].iloc[0]
    assert (row.dataset, row.cells, row.failed) == ("cifar10", 6, 0)
    assert -1.0 <= row.kendall_tau <= 1.0
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert len(scores) == 6 and (scores.status == "ok").all()
    assert "naswot" in capsys.readouterr().out
