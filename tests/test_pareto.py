"""Pareto fronts, non-dominated sorting and hypervolume on hand-made points and on NB201's whole table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orchestrator.pareto import (
    MAX,
    MIN,
    ParetoInputError,
    hypervolume,
    hypervolume_ratio,
    pareto_front,
    pareto_ranks,
    true_front,
)


def test_front_when_minimising_both():
    points = [[1, 5], [2, 2], [5, 1], [3, 3], [2, 2], [6, 6]]
    assert pareto_front(points, (MIN, MIN)).tolist() == [0, 1, 2, 4]  # ties are all kept


def test_front_of_accuracy_against_cost():
    points = [[90.0, 1.0], [91.0, 2.0], [89.0, 1.5], [91.0, 1.9], [85.0, 0.5]]
    assert pareto_front(points, (MAX, MIN)).tolist() == [0, 3, 4]


def test_non_dominated_sorting_layers():
    points = [[1, 1], [2, 2], [3, 3], [1, 3], [3, 1], [2, 4]]
    assert pareto_ranks(points, (MIN, MIN)).tolist() == [0, 1, 2, 1, 1, 2]


def test_hypervolume_of_small_sets():
    assert hypervolume([[1, 2], [2, 1]], (3, 3)) == pytest.approx(3.0)
    assert hypervolume([[4, 1]], (3, 3)) == 0.0  # does not improve on the reference
    assert hypervolume(np.zeros((0, 2)), (3, 3)) == 0.0
    assert hypervolume([[1, 1, 1]], (2, 3, 4)) == pytest.approx(1 * 2 * 3)
    # accuracy up, cost down: rectangles (90-70)x(2-1) and (80-70)x(1-0.5)
    assert hypervolume([[90, 1], [80, 0.5]], (70, 2), (MAX, MIN)) == pytest.approx(25.0)
    # a dominated point adds nothing
    assert hypervolume([[90, 1], [80, 0.5], [75, 1.5]], (70, 2), (MAX, MIN)) == pytest.approx(25.0)


def test_bad_inputs_are_refused():
    with pytest.raises(ParetoInputError, match="senses"):
        pareto_front([[1, 2]], (MIN,))
    with pytest.raises(ParetoInputError, match="unknown sense"):
        pareto_front([[1, 2]], (MIN, "minimize"))
    with pytest.raises(ParetoInputError, match="finite"):
        hypervolume([[np.nan, 1]], (3, 3))
    with pytest.raises(ParetoInputError, match="reference"):
        hypervolume([[1, 1]], (3, 3, 3))


def test_true_front_of_a_frame_keeps_ids_and_sorts_by_cost():
    frame = pd.DataFrame(
        {"acc": [90.0, 91.0, 89.0, np.nan, 85.0, 91.0], "cost": [1.0, 2.0, 1.5, 0.1, 0.5, 1.9]},
        index=[10, 11, 12, 13, 14, 15],
    )
    front = true_front(frame, "acc", "cost")
    assert front.index.tolist() == [14, 10, 15]  # 13 has no accuracy, 11 and 12 are dominated
    assert front["cost"].tolist() == [0.5, 1.0, 1.9]
    with pytest.raises(ParetoInputError, match="no column 'latency'"):
        true_front(frame, "acc", "latency")


def test_true_front_of_nb201_is_the_brute_force_front(nb201_table):
    acc, cost = nb201_table.column("cifar10_test"), nb201_table.column("params_m")
    front = true_front(nb201_table, "cifar10_test", "params_m")
    members = front.index.to_numpy()
    assert len(members) >= 5
    for i in members:  # no cell beats a front member
        better = (acc >= acc[i]) & (cost <= cost[i]) & ((acc > acc[i]) | (cost < cost[i]))
        assert not better.any(), i
    others = np.setdiff1d(np.arange(len(acc)), members)
    fa, fc = acc[members][:, None], cost[members][:, None]
    dominated = ((fa >= acc[others]) & (fc <= cost[others]) & ((fa > acc[others]) | (fc < cost[others]))).any(axis=0)
    assert dominated.all()  # and every other cell is beaten by one of them
    assert acc[members].max() == acc.max() and cost[members].min() == cost.min()


def test_hypervolume_ratio(nb201_table):
    front = true_front(nb201_table, "cifar10_test", "params_m").to_numpy()
    reference = (80.0, 1.6)
    assert hypervolume_ratio(front, front, reference) == pytest.approx(1.0)
    partial = hypervolume_ratio(front[::2], front, reference)
    assert 0 < partial < 1
    assert hypervolume_ratio(front[:1], front, reference) < partial
    with pytest.raises(ParetoInputError, match="dominates nothing"):
        hypervolume_ratio(front, front, (99.0, 0.01))
