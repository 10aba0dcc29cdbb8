"""NAS-Bench-101: pruning and validity, the isomorphism-invariant hash, sampling, mutation, networks,
the embedded sample, and searches that need training times (the embedded table of every cell is
tested in test_nb101_table.py)."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import torch

from search_spaces import (
    ArchitectureNotInBenchmarkError,
    InvalidArchitectureError,
    NaswotError,
    get_space,
    open_benchmark,
)
from search_spaces.nb101.benchmark import NB101SampleTable
from search_spaces.nb101.space import OPS, NB101Cell, graph_hash, make_cell, parse_cell, prune
from search_spaces.nb101.table import embedded_table

CONV3, CONV1, POOL = OPS


@pytest.fixture(scope="module")
def space():
    return get_space("nb101")


@pytest.fixture(scope="module")
def sample_table(space):
    return NB101SampleTable(space)


def _topological_relabelling(cell: NB101Cell, rng: np.random.Generator) -> NB101Cell:
    """The same graph with its interior vertices renumbered in another random topological order."""
    n = cell.num_vertices
    adj = cell.array
    order, placed = [0], {0}
    while len(order) < n - 1:
        ready = [v for v in range(1, n - 1) if v not in placed and all(u in placed for u in np.flatnonzero(adj[:, v]))]
        v = ready[int(rng.integers(len(ready)))]
        order.append(v)
        placed.add(v)
    order.append(n - 1)
    new = adj[np.ix_(order, order)]
    return make_cell(new, [cell.ops[v] for v in order])


def _isomorphic(a: NB101Cell, b: NB101Cell) -> bool:
    """Brute force over the interior vertices (input and output are fixed)."""
    if a.num_vertices != b.num_vertices or sorted(a.ops) != sorted(b.ops):
        return False
    n = a.num_vertices
    A, B = a.array, b.array
    for perm in itertools.permutations(range(1, n - 1)):
        p = [0, *perm, n - 1]
        if np.array_equal(A[np.ix_(p, p)], B) and [a.ops[i] for i in p] == list(b.ops):
            return True
    return False


def test_pruning_removes_vertices_off_the_input_output_path():
    # vertex 2 hangs (no way to the output), vertex 3 is not reachable from the input
    matrix = np.zeros((5, 5), dtype=int)
    matrix[0, 1] = matrix[1, 4] = matrix[0, 2] = matrix[3, 4] = 1
    cell = make_cell(matrix, ["input", CONV3, CONV1, POOL, "output"])
    assert cell.ops == ("input", CONV3, "output")
    assert cell.matrix == ((0, 1, 0), (0, 0, 1), (0, 0, 0))
    pruned, ops = prune(matrix, ["input", CONV3, CONV1, POOL, "output"])
    assert pruned.shape == (3, 3) and ops == ["input", CONV3, "output"]


@pytest.mark.parametrize(
    "matrix, ops, message",
    [
        ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", CONV3, "output"], "does not reach the output"),
        ([[0, 1], [1, 0]], ["input", "output"], "upper triangular"),
        ([[0, 1], [0, 0]], ["input", "output", "x"], "needs 2 ops"),
        ([[0, 2], [0, 0]], ["input", "output"], "only 0 and 1"),
        ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"], "unknown NB101 op"),
        ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [CONV3, CONV3, "output"], "first op"),
    ],
)
def test_invalid_cells_are_refused_naming_the_fault(matrix, ops, message):
    with pytest.raises(InvalidArchitectureError, match=message):
        make_cell(matrix, ops)


def test_limits_of_the_benchmark():
    full = np.triu(np.ones((7, 7), dtype=int), 1)  # 21 edges
    with pytest.raises(InvalidArchitectureError, match="at most 9 edges"):
        make_cell(full, ["input", *[CONV3] * 5, "output"])
    chain = np.eye(8, k=1, dtype=int)
    with pytest.raises(InvalidArchitectureError, match="at most 7 vertices"):
        make_cell(chain, ["input", *[CONV3] * 6, "output"])
    with pytest.raises(InvalidArchitectureError, match="pruned"):
        NB101Cell(((0, 1, 1), (0, 0, 0), (0, 0, 0)), ("input", CONV3, "output"))  # vertex 1 hangs


def test_string_form_and_parse_errors(space):
    cell = parse_cell("0110/0001/0001/0000|input,conv3x3-bn-relu,maxpool3x3,output")
    assert space.format(cell) == "0110/0001/0001/0000|input,conv3x3-bn-relu,maxpool3x3,output"
    with pytest.raises(InvalidArchitectureError, match="ROWS|OPS"):
        space.parse("0110/0001")
    with pytest.raises(InvalidArchitectureError, match="0/1 digits"):
        space.parse("012/001/000|input,conv3x3-bn-relu,output")


def test_hash_matches_the_benchmark_code_and_known_sample_keys(space, sample_table):
    from nasbench_pytorch.model import graph_util  # the benchmark's own implementation, as vendored there

    rng = np.random.default_rng(0)
    for _ in range(100):
        cell = space.sample(rng)
        assert space.key(cell) == graph_util.hash_module(cell.array.astype(int), cell.labels())
    # the hash of NASLib's first sample row, recorded when the table was converted
    first = sample_table.cells()[0]
    assert space.key(first) == "4a0ab8bbe2441a002e07b0f445ec2d63"


def test_hash_is_equal_for_isomorphic_cells(space):
    rng = np.random.default_rng(1)
    relabelled_differently = 0
    for _ in range(150):
        cell = space.sample(rng)
        other = _topological_relabelling(cell, rng)
        relabelled_differently += other != cell
        assert space.key(other) == space.key(cell)
        # any permutation of the graph (not only topological ones) keeps the fingerprint
        perm = [0, *rng.permutation(range(1, cell.num_vertices - 1)), cell.num_vertices - 1]
        labels = cell.labels()
        assert graph_hash(cell.array[np.ix_(perm, perm)], [labels[i] for i in perm]) == space.key(cell)
    assert relabelled_differently > 15  # the property was exercised on really different matrices


def test_hash_differs_for_non_isomorphic_cells(space):
    rng = np.random.default_rng(2)
    cells = {}
    for _ in range(400):
        cell = space.sample(rng)
        cells.setdefault(space.format(cell), cell)
    by_key: dict[str, list[NB101Cell]] = {}
    for cell in cells.values():
        by_key.setdefault(space.key(cell), []).append(cell)
    assert len(by_key) > 150
    for group in by_key.values():
        for a, b in itertools.combinations(group, 2):
            assert _isomorphic(a, b), (space.format(a), space.format(b))
    # an op change or an edge change is a different cell
    base = parse_cell("0110/0001/0001/0000|input,conv3x3-bn-relu,maxpool3x3,output")
    assert space.key(base) != space.key(parse_cell("0110/0001/0001/0000|input,conv3x3-bn-relu,conv1x1-bn-relu,output"))
    assert space.key(base) != space.key(parse_cell("0111/0001/0001/0000|input,conv3x3-bn-relu,maxpool3x3,output"))


def test_sampling_and_mutation_follow_the_benchmark(space):
    rng = np.random.default_rng(3)
    cells = [space.sample(rng) for _ in range(300)]
    assert all(c.num_vertices <= 7 and c.num_edges <= 9 for c in cells)
    assert max(c.num_vertices for c in cells) >= 6  # pruning leaves most random cells smaller
    table = embedded_table()
    assert all(space.key(c) in table for c in cells)  # every valid cell is in the benchmark
    sizes, op_changes, edge_changes = [], 0, 0
    for cell in cells[:100]:
        child = space.mutate(cell, rng)
        assert space.key(child) != space.key(cell) and space.key(child) in table
        sizes.append(child.num_vertices)
        op_changes += sorted(child.ops) != sorted(cell.ops)
        edge_changes += child.num_edges != cell.num_edges
    assert min(sizes) < max(sizes)  # mutation both grows and shrinks cells
    assert op_changes > 10 and edge_changes > 10  # it changes ops and it changes edges
    tiny = parse_cell("01/00|input,output")
    assert space.mutate(tiny, rng).num_vertices >= 2  # a pruned cell can grow again


def test_uniform_sampling_follows_the_benchmarks_cells(space):
    rng = np.random.default_rng(5)
    table = embedded_table()
    cells = [space.sample_uniform(rng) for _ in range(300)]
    assert all(space.key(c) in table for c in cells) and len({space.key(c) for c in cells}) > 290
    seven = sum(c.num_vertices == 7 for c in cells) / len(cells)
    assert 0.75 < seven < 0.95  # 85 % of the benchmark's cells have 7 vertices
    assert sum(space.sample(rng).num_vertices == 7 for _ in range(300)) / 300 > 0.75  # sample() is uniform too
    paper = [space.sample_benchmark_rule(rng) for _ in range(300)]
    assert sum(c.num_vertices == 7 for c in paper) / len(paper) < 0.05  # the paper's draw favours small cells


def test_mutation_rate_sets_how_much_changes():
    from search_spaces.nb101.space import mutate_cell

    rng = np.random.default_rng(4)
    parent = parse_cell(
        "0100001/0010000/0001000/0000100/0000010/0000001/0000000|input," + ",".join([CONV3] * 5) + ",output"
    )

    def mean_change(rate: float) -> float:
        """Mean (ops gained or lost) + (edges gained or lost) of 150 children."""
        changes = []
        for _ in range(150):
            child = mutate_cell(parent, rng, rate)
            ops = Counter(child.ops)
            ops.subtract(parent.ops)
            changes.append(sum(map(abs, ops.values())) + abs(child.num_edges - parent.num_edges))
        return float(np.mean(changes))

    assert 1.0 <= mean_change(0.3) < mean_change(3.0)
    with pytest.raises(ValueError, match="positive"):
        mutate_cell(parent, rng, 0.0)


def test_network_builds_at_any_stem_width_and_matches_benchmark_params(space, sample_table):
    cell = sample_table.cells()[0]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        small = get_space("nb101", stem_channels=16).build(cell, 10)
    out = small(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    relus = sum(isinstance(m, torch.nn.ReLU) for m in small.modules())
    assert relus > 9  # every ConvBnRelu has its own nn.ReLU, so NASWOT sees them
    assert not any(type(m).__name__ == "Placeholder" for m in small.modules())
    params = sum(p.numel() for p in space.build(cell, 10).parameters())
    assert params == round(sample_table.lookup(cell)["params_m"] * 1e6)  # NASLib's record of this labelling
    assert params == round(open_benchmark(space).lookup(cell)["params_m"] * 1e6)


def test_embedded_sample(space, sample_table):
    assert sample_table.rows == 500 and len(sample_table) == len(sample_table.cells()) == 292
    values = sample_table.lookup(sample_table.cells()[0])
    assert values == pytest.approx({"cifar10_valid": 92.578125, "params_m": 4.095778, "flops_m": 624.55808})
    # isomorphic rows of one cell (training repeats) are averaged
    mean_of_repeats = sample_table.lookup(parse_cell("01/00|input,output"))["cifar10_valid"]
    assert 83.16 < mean_of_repeats < 83.59
    assert sample_table.cost_name is None
    chain = make_cell(np.eye(7, k=1, dtype=int), ["input", *[CONV3] * 5, "output"])
    assert space.key(chain) not in {space.key(c) for c in sample_table.cells()}
    with pytest.raises(ArchitectureNotInBenchmarkError, match="not in the embedded 500-row sample"):
        sample_table.lookup(chain)
    with pytest.raises(ArchitectureNotInBenchmarkError, match="not a NAS-Bench-101 cell"):
        sample_table.lookup("not a cell")


@pytest.mark.parametrize("algorithm", ["rea", "area", "random"])
def test_a_budget_in_seconds_is_refused_on_a_table_without_training_times(algorithm):
    from orchestrator.experiment import ExperimentConfig, prepare

    config = ExperimentConfig(algorithm=algorithm, space="nb101", budget_s=1000.0, executor="inline", store=None)
    with pytest.raises(NaswotError, match="nb101-embedded records no training time.*--max-evaluations"):
        prepare(config)
    counted = ExperimentConfig(algorithm=algorithm, space="nb101", max_evaluations=20, executor="inline", store=None)
    assert prepare(counted).oracle.fitness_name == "cifar10_test"  # a budget in evaluations runs


def test_naswot_draws_from_the_whole_space(capsys):
    from orchestrator.experiment import ExperimentConfig, prepare

    prepared = prepare(ExperimentConfig(algorithm="naswot", space="nb101", executor="inline", store=None, n=5))
    assert "holds only" not in capsys.readouterr().err
    assert prepared.benchmark.name == "nb101-embedded" and prepared.benchmark.cells() is None
    assert prepared.space.size == 423_624  # the space itself, not a sample of it
    assert prepared.oracle.fitness_name == "cifar10_test"
