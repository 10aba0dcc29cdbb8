"""Budget constraints: validation, per-cell costs, satisfiability, and the searchers' feasibility filter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.constraints import (
    ConstraintError,
    Constraints,
    InfeasibleError,
    check_satisfiable,
)
from orchestrator.searchers import AREA, NASWOTSearch, RandomSearch, RegularizedEvolution
from search_spaces import get_space
from search_spaces.core.errors import UnknownNameError
from search_spaces.nb201 import latency
from search_spaces.nb201.table import embedded_table
from tests.test_searchers import drive

SEARCHERS = {
    "random": lambda s, r, **kw: RandomSearch(s, r, **kw),
    "naswot": lambda s, r, **kw: NASWOTSearch(s, r, n=30, **kw),
    "rea": lambda s, r, **kw: RegularizedEvolution(s, r, population_size=10, sample_size=3, **kw),
    "area": lambda s, r, **kw: AREA(s, r, population_size=10, sample_size=3, m=20, **kw),
}


def params_column() -> np.ndarray:
    return embedded_table().column("params_m").to_numpy()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_params_m": -1.0}, ConstraintError, "positive finite"),
        ({"max_flops_m": math.nan}, ConstraintError, "positive finite"),
        ({"max_params_m": True}, ConstraintError, "positive finite"),
        ({"max_latency_ms": 3.0}, ConstraintError, "needs a latency_device"),
        ({"latency_device": "pixel3"}, UnknownNameError, "hwnb_pixel3"),
        ({"input_shape": (32, 32)}, ConstraintError, "input_shape"),
        ({"num_classes": 0}, ConstraintError, "num_classes"),
        ({"measure_repeats": 0}, ConstraintError, "measure_repeats"),
    ],
)
def test_constraints_are_validated(kwargs, error, message):
    with pytest.raises(error, match=message):
        Constraints(**kwargs)


def test_constraints_json_round_trip_and_description():
    c = Constraints(max_params_m=0.5, max_latency_ms=3, latency_device="hwnb_pixel3")
    assert Constraints.from_json(c.to_json()) == c
    assert c.describe() == "params_m <= 0.5, latency_ms <= 3 (hwnb_pixel3)"
    assert c.limits == {"params_m": 0.5, "latency_ms": 3.0}
    assert not Constraints().active and Constraints().describe() == "no limits"


def test_table_costs_of_a_cell(nb201, nb201_table):
    checker = Constraints(max_params_m=0.2, latency_device="hwnb_fpga").bind(nb201)
    assert checker.table
    cell = nb201.from_index(11)
    costs = checker.costs(cell)
    assert costs == {
        "params_m": nb201_table.params_m(cell),
        "flops_m": latency.flops_m(11),
        "latency_ms": latency.latency_ms(11, "hwnb_fpga"),
    }
    assert checker.feasible(cell) is (costs["params_m"] <= 0.2)
    costs["params_m"] = 0.0  # a copy: the cache is not changed
    assert checker.costs(cell)["params_m"] == nb201_table.params_m(cell)


def test_counted_costs_for_another_network():
    space = get_space("nb201", channels=4, cells_per_stage=1)
    checker = Constraints(max_flops_m=1000).bind(space)
    assert not checker.table
    cell = space.from_index(11)
    costs = checker.costs(cell)
    assert set(costs) == {"params_m", "flops_m"}
    assert costs["params_m"] == sum(p.numel() for p in space.build(cell, 10).parameters()) / 1e6
    assert checker(cell)


def test_table_device_needs_the_table_network():
    with pytest.raises(ConstraintError, match="use 'measured'"):
        Constraints(latency_device="hwnb_pixel3").bind(get_space("nb201", channels=8))
    with pytest.raises(ConstraintError, match="only the nb201"):
        Constraints(max_latency_ms=1, latency_device="help_pixel2").bind(get_space("nds_darts"))


def test_measured_latency(nb201):
    checker = Constraints(max_latency_ms=1e6, latency_device="measured", measure_repeats=2).bind(
        get_space("nb201", channels=4, cells_per_stage=1)
    )
    costs = checker.costs(nb201.from_index(3))
    assert costs["latency_ms"] > 0 and checker.measured_on.startswith("cpu:")


def test_check_satisfiable_nb201_is_exact_and_agrees_cell_by_cell(nb201):
    constraints = Constraints(max_params_m=0.3, max_latency_ms=4.0, latency_device="hwnb_pixel3")
    found = check_satisfiable(nb201, constraints)
    assert found.exact and found.checked == 15625
    checker = constraints.bind(nb201)
    assert found.feasible == sum(checker(nb201.from_index(i)) for i in range(15625))
    assert 0 < found.feasible < 15625
    assert found.smallest["params_m"] == params_column().min()


def test_a_limit_below_the_space_names_its_smallest_value(nb201):
    with pytest.raises(InfeasibleError, match=r"smallest params_m in nb201 is 0\.073306 M params \(0 of 15625"):
        check_satisfiable(nb201, Constraints(max_params_m=0.01))


def test_limits_that_hold_alone_but_not_together(nb201):
    params, pixel3 = params_column(), latency.latency_column("hwnb_pixel3")
    smallest = params.min()
    fastest_small = pixel3[params == smallest].min()
    assert pixel3.min() < fastest_small  # some larger cell is faster than every smallest cell
    limit = float((pixel3.min() + fastest_small) / 2)
    constraints = Constraints(max_params_m=float(smallest), max_latency_ms=limit, latency_device="hwnb_pixel3")
    with pytest.raises(InfeasibleError, match="alone") as caught:
        check_satisfiable(nb201, constraints)
    alone = int((pixel3 <= limit).sum())
    assert f"{alone} of 15625 cells meet latency_ms" in str(caught.value)


def test_check_satisfiable_samples_other_spaces():
    space = get_space("nb201", channels=4, cells_per_stage=1)
    found = check_satisfiable(space, Constraints(max_params_m=10.0), sample=6, seed=2)
    assert (found.feasible, found.checked, found.exact) == (6, 6, False)
    with pytest.raises(InfeasibleError, match="none of 6 nb201 cells drawn from seed 2"):
        check_satisfiable(space, Constraints(max_params_m=1e-4), sample=6, seed=2)


@pytest.mark.parametrize("name", SEARCHERS)
def test_searchers_only_ask_feasible_cells(name, nb201):
    checker = Constraints(max_params_m=0.3).bind(nb201)
    searcher = SEARCHERS[name](nb201, np.random.default_rng(5), feasible=checker)
    told = drive(searcher, 60)
    assert len(told) >= 30
    assert all(checker(nb201.parse(t.arch)) for t, _ in told)
    unconstrained = drive(SEARCHERS[name](nb201, np.random.default_rng(5)), 60)
    assert any(not checker(nb201.parse(t.arch)) for t, _ in unconstrained)  # the filter did something


@pytest.mark.parametrize("name", SEARCHERS)
def test_an_accept_all_filter_changes_nothing(name, nb201):
    plain = drive(SEARCHERS[name](nb201, np.random.default_rng(9)), 50, fail_every=6)
    filtered = drive(SEARCHERS[name](nb201, np.random.default_rng(9), feasible=lambda a: True), 50, fail_every=6)
    assert [(t.arch, t.kind, t.phase, t.parent) for t, _ in plain] == [
        (t.arch, t.kind, t.phase, t.parent) for t, _ in filtered
    ]


def test_bounded_draws_raise_a_clear_error(nb201):
    searcher = RandomSearch(nb201, np.random.default_rng(0), feasible=lambda a: False, max_draws=5)
    with pytest.raises(InfeasibleError, match="random: 5 random cells in a row were all infeasible"):
        searcher.ask()
    with pytest.raises(ValueError, match="max_draws"):
        RandomSearch(nb201, np.random.default_rng(0), max_draws=0)


def test_rea_mutations_are_bounded_too(nb201):
    accepted = []

    def first_two(arch) -> bool:  # the initial population passes, every later cell fails
        if len(accepted) < 2:
            accepted.append(arch)
            return True
        return False

    searcher = RegularizedEvolution(nb201, np.random.default_rng(0), 2, 2, feasible=first_two, max_draws=7)
    drive(searcher, 2)
    with pytest.raises(InfeasibleError, match=r"rea: 7 mutations of \|.*\| in a row"):
        searcher.ask()
