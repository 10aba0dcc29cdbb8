"""The contract every registered search space and its benchmark keep.

Parametrised over ``search_spaces.available_spaces()``: a space registered later joins these tests
by itself. A space whose benchmark is not embedded may name a small fixture in BENCHMARK_FIXTURES
(a path under tests/fixtures) and the cells it holds in its ``SpaceEntry``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from scoring.naswot import naswot_score
from search_spaces import (
    ArchitectureNotInBenchmarkError,
    InvalidArchitectureError,
    available_spaces,
    get_space,
    open_benchmark,
    space_entry,
)
from search_spaces.core.benchmark import Benchmark
from search_spaces.core.space import SearchSpace

FIXTURES = Path(__file__).parent / "fixtures"
# space -> fixture path for open_benchmark (None: the space's embedded table, if any), as each space declares
BENCHMARK_FIXTURES: dict[str, Path] = {
    name: FIXTURES / space_entry(name).test_fixture for name in available_spaces() if space_entry(name).test_fixture
}
# space -> cell strings its fixture holds (for benchmarks that cover the space but ship few records)
FIXTURE_CELLS: dict[str, tuple[str, ...]] = {n: c for n in available_spaces() if (c := space_entry(n).fixture_cells)}
# space -> a cell string its benchmark (fixture) has no record of
MISSING_CELLS: dict[str, str] = {n: m for n in available_spaces() if (m := space_entry(n).missing_cell)}

SPACES = available_spaces()


@pytest.fixture(scope="module", params=SPACES)
def space(request) -> SearchSpace:
    return get_space(request.param)


@pytest.fixture(scope="module")
def benchmark(space):
    return open_benchmark(space, BENCHMARK_FIXTURES.get(space.name))


def test_every_issue_space_is_registered():
    assert {"nb201", "nb101", "nats_sss"} <= set(SPACES)


def test_protocol_and_size(space):
    assert isinstance(space, SearchSpace)
    assert space.name in SPACES
    assert space.size is None or (isinstance(space.size, int) and space.size > 1)


def test_sampling_is_reproducible_and_round_trips(space):
    a = [space.sample(np.random.default_rng(7)) for _ in range(1)]
    b = [space.sample(np.random.default_rng(7)) for _ in range(1)]
    assert a == b  # the rng is the only source of randomness
    rng = np.random.default_rng(0)
    for _ in range(20):
        cell = space.sample(rng)
        text = space.format(cell)
        assert isinstance(text, str)
        again = space.parse(text)
        assert again == cell and hash(again) == hash(cell)
        assert space.format(again) == text
        key = space.key(cell)
        assert isinstance(key, str) and key and space.key(again) == key


def test_mutation_gives_a_valid_different_cell_and_leaves_the_parent(space):
    rng = np.random.default_rng(1)
    for _ in range(20):
        parent = space.sample(rng)
        before = space.format(parent)
        child = space.mutate(parent, rng)
        assert space.format(parent) == before
        assert child != parent
        assert space.parse(space.format(child)) == child


@pytest.mark.parametrize("text", ["", "not a cell", "|x~0|", "1:2"])
def test_garbage_is_refused_with_the_space_error(space, text):
    with pytest.raises(InvalidArchitectureError):
        space.parse(text)


@pytest.mark.timeout(300)
def test_build_and_score_on_cpu(space):
    cell = space.sample(np.random.default_rng(3))
    torch.manual_seed(0)
    model = space.build(cell, 10)
    images = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    model.train()
    with torch.no_grad():
        logits = model(images)
    logits = logits[1] if isinstance(logits, tuple) else logits
    assert logits.shape == (8, 10)
    score = naswot_score(model, images)
    assert math.isfinite(score) or score == -math.inf


def test_benchmark_declares_a_consistent_schema(space, benchmark):
    if benchmark is None:  # a score-only space: searches that evaluate must refuse it (test_nb101/nats)
        assert space.name not in BENCHMARK_FIXTURES
        return
    assert isinstance(benchmark, Benchmark)
    assert benchmark.space_name == space.name
    names = [m.name for m in benchmark.metrics]
    assert len(set(names)) == len(names) and all(n.replace("_", "").isalnum() and n.islower() for n in names)
    assert benchmark.default_fitness in benchmark.fitness_names
    assert set(benchmark.fitness_names) <= set(names)
    assert benchmark.cost_name is None or benchmark.cost_name in names
    assert all(m.unit for m in benchmark.metrics)


def _known_cells(space, benchmark) -> list:
    if FIXTURE_CELLS.get(space.name):
        return [space.parse(t) for t in FIXTURE_CELLS[space.name]]
    held = benchmark.cells()
    if held is not None:
        return list(held)[:5]
    rng = np.random.default_rng(5)
    return [space.sample(rng) for _ in range(5)]  # a full benchmark holds every cell


def test_benchmark_lookup_answers_every_metric(space, benchmark):
    if benchmark is None:
        return
    names = {m.name for m in benchmark.metrics}
    for cell in _known_cells(space, benchmark):
        values = benchmark.lookup(cell)
        assert set(values) == names
        assert all(isinstance(v, float) for v in values.values())
        assert math.isfinite(values[benchmark.default_fitness])


def test_benchmark_lookup_of_a_cell_it_lacks_raises(space, benchmark):
    if benchmark is None:
        return
    held = benchmark.cells()
    if space.name in MISSING_CELLS:
        missing = space.parse(MISSING_CELLS[space.name])
    elif held is not None:
        keys = {space.key(c) for c in held}
        rng = np.random.default_rng(11)
        missing = next(c for c in (space.sample(rng) for _ in range(1000)) if space.key(c) not in keys)
    else:  # a full benchmark holds every cell of its space: a foreign object is what it lacks
        missing = object()
    with pytest.raises(ArchitectureNotInBenchmarkError):
        benchmark.lookup(missing)
    with pytest.raises(KeyError):  # the natural builtin too
        benchmark.lookup(missing)


def test_sample_benchmarks_hold_distinct_valid_cells(space, benchmark):
    if benchmark is None or benchmark.cells() is None:
        return
    cells = list(benchmark.cells())
    assert len({space.key(c) for c in cells}) == len(cells)
    assert all(space.parse(space.format(c)) == c for c in cells)
