from __future__ import annotations

import numpy as np
import pytest
import torch

from search_spaces import InvalidArchitectureError, UnknownNameError, get_space
from search_spaces.nb201.space import NUM_CELLS, OPS, NB201Cell, cell_from_code, format_cell, parse_cell

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_get_space_unknown_lists_known():
    with pytest.raises(UnknownNameError, match="nb201"):
        get_space("nb999")


def test_all_cells_round_trip_and_match_table_order(nb201, nb201_table):
    from search_spaces.nb201.table import embedded_arch_strings

    strings = embedded_arch_strings()
    assert len(strings) == NUM_CELLS == len(set(strings))
    for index, text in enumerate(strings):
        cell = nb201.parse(text)
        assert nb201.format(cell) == text
        assert nb201.index(cell) == index
        assert nb201.from_index(index) == cell


def test_codes_cover_the_space():
    cells = {cell_from_code(c) for c in range(NUM_CELLS)}
    assert len(cells) == NUM_CELLS
    assert all(cell_from_code(c.code) == c for c in list(cells)[:500])


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "3 nodes"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 .* 2 input edge"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~1|", "must read from node 2"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~7|", "must read from node 2, got input '7'"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "lacks '~input'"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "must be written"),
        (42, "is a str"),
    ],
)
def test_malformed_strings_name_the_fault(text, fragment):
    with pytest.raises(InvalidArchitectureError, match=fragment):
        parse_cell(text)


def test_invalid_cells_and_indices():
    with pytest.raises(InvalidArchitectureError, match="6 edges"):
        NB201Cell(("none",) * 5)
    with pytest.raises(InvalidArchitectureError, match="unknown"):
        NB201Cell(("none",) * 5 + ("conv",))
    with pytest.raises(InvalidArchitectureError, match="index"):
        get_space("nb201").from_index(15625)


def test_sample_is_reproducible_and_covers_ops(nb201):
    a = [nb201.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = np.random.default_rng(0)
    seen = {op for _ in range(200) for op in nb201.sample(rng).ops}
    assert seen == set(OPS)


def test_mutate_changes_exactly_one_edge(nb201, rng):
    for _ in range(2000):
        cell = nb201.sample(rng)
        child = nb201.mutate(cell, rng)
        assert isinstance(child, NB201Cell)
        diff = [i for i in range(6) if cell.ops[i] != child.ops[i]]
        assert len(diff) == 1
        nb201.format(child)  # valid and formattable


def test_mutate_reaches_every_neighbour(nb201):
    rng = np.random.default_rng(3)
    cell = nb201.parse(BEST)
    children = {nb201.mutate(cell, rng) for _ in range(3000)}
    assert len(children) == 6 * 4


def test_parameter_counts_match_table_on_a_large_sample(nb201, nb201_table):
    rng = np.random.default_rng(2024)
    indices = rng.choice(NUM_CELLS, size=400, replace=False)
    with torch.device("meta"):
        for index in indices:
            cell = nb201.from_index(int(index))
            count = sum(p.numel() for p in nb201.build(cell, 10).parameters())
            assert round(count / 1e6, 6) == nb201_table.params_m(cell), format_cell(cell)


def test_network_forward_shapes(nb201):
    model = nb201.build(nb201.parse(BEST), 100)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 100)
    out16 = model(torch.randn(2, 3, 16, 16))
    assert out16.shape == (2, 100)
