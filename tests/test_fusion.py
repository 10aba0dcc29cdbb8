"""Rank fusions on small arrays whose ranks are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.fusion import (
    FittedFusion,
    fit_log_rank_fusion,
    fit_rank_regression,
    kendall,
    log_rank_fusion,
    mean_rank_fusion,
    ranks,
    select_rank_regression,
)


def test_ranks_put_nan_and_minus_inf_last_and_average_ties():
    np.testing.assert_array_equal(ranks([3.0, 1.0, -math.inf, 1.0, math.nan]), [5, 3.5, 1.5, 3.5, 1.5])
    with pytest.raises(ValueError):
        ranks(np.zeros((2, 2)))


def test_log_rank_fusion_by_hand():
    columns = {"a": [1.0, 2.0, 3.0], "b": [30.0, 10.0, 20.0]}  # ranks a: 1 2 3, b: 3 1 2
    expected = [math.log(1 / 3) + 0.0, math.log(2 / 3) + math.log(1 / 3), 0.0 + math.log(2 / 3)]
    np.testing.assert_allclose(log_rank_fusion(columns), expected)
    weighted = [2 * math.log(1 / 3), 2 * math.log(2 / 3) + math.log(1 / 3), math.log(2 / 3)]
    np.testing.assert_allclose(log_rank_fusion(columns, {"a": 2.0}), weighted)
    with pytest.raises(ValueError, match="not columns"):
        log_rank_fusion(columns, {"c": 1.0})


def test_mean_rank_fusion_and_its_errors():
    np.testing.assert_allclose(mean_rank_fusion({"a": [1, 2, 3], "b": [-np.inf, 5, 4]}), [1, 2.5, 2.5])
    with pytest.raises(ValueError):
        mean_rank_fusion({})
    with pytest.raises(ValueError):
        mean_rank_fusion({"a": [1, 2], "b": [1, 2, 3]})


def test_kendall_ignores_cells_without_accuracy():
    assert kendall([1, 2, 3, 4], [1, 2, np.nan, 3]) == pytest.approx(1.0)
    assert kendall([3, 2, -np.inf], [3, 2, 1]) == pytest.approx(1.0)  # -inf ranks below every value
    assert kendall([1, 2, -np.inf], [3, 2, 1]) == pytest.approx(1 / 3)
    assert math.isnan(kendall([1, 2], [1, 2]))


def test_greedy_fit_picks_the_informative_proxy_and_applies_unchanged():
    rng = np.random.default_rng(0)
    acc = rng.normal(size=40)
    columns = {"noise": rng.normal(size=40), "good": acc + 0.3 * rng.normal(size=40), "anti": -acc}
    fit = fit_log_rank_fusion(columns, acc)
    assert fit.members[0] == "good" and "anti" not in fit.members
    assert list(fit.fit_tau) == sorted(fit.fit_tau)
    held = {name: values[::-1] for name, values in columns.items()}  # other "cells"
    np.testing.assert_allclose(fit.apply(held), log_rank_fusion({m: held[m] for m in fit.members}, dict(fit.weights)))
    with pytest.raises(KeyError, match="good"):
        fit.apply({"noise": columns["noise"]})


def test_greedy_fit_stops_when_nothing_gains_and_validates_inputs():
    acc = np.arange(6.0)
    fit = fit_log_rank_fusion({"exact": acc, "reversed": -acc}, acc)
    assert fit.weights == (("exact", 0.5),) and fit.fit_tau == pytest.approx((1.0,))
    assert isinstance(fit, FittedFusion)
    with pytest.raises(ValueError, match="3 cells"):
        fit_log_rank_fusion({"a": [1.0, 2.0]}, [1.0, np.nan])
    with pytest.raises(ValueError, match="positive"):
        fit_log_rank_fusion({"a": acc}, acc, weight_grid=())
    with pytest.raises(ValueError, match="shape"):
        fit_log_rank_fusion({"a": acc}, acc[:3])
    assert fit_log_rank_fusion({"a": acc, "b": acc}, acc, max_members=1).members == ("a",)


def test_rank_regression_recovers_a_linear_mix_of_ranks_and_applies_to_other_cells():
    """Accuracy ranks that are exactly 2 * rank(a) - rank(b) (up to scale) give those weights."""
    rng = np.random.default_rng(0)
    n = 200
    ra, rb = rng.permutation(n) + 1.0, rng.permutation(n) + 1.0
    acc = 2 * ra - rb  # ties broken below by a tiny third term
    acc = acc + 1e-6 * np.arange(n)
    fitted = fit_rank_regression({"a": ra, "b": rb, "noise": rng.random(n)}, acc)
    w = dict(fitted.weights)
    assert fitted.members == ("a", "b", "noise")
    assert w["a"] > 0 > w["b"] and abs(w["noise"]) < 0.1 * w["a"]
    assert w["a"] / -w["b"] == pytest.approx(2.0, rel=0.15)
    assert fitted.fit_tau > 0.9
    # other cells: ranked among themselves, the same rule
    ra2, rb2 = rng.permutation(50) + 1.0, rng.permutation(50) + 1.0
    fused = fitted.apply({"a": ra2, "b": rb2, "noise": rng.random(50), "unused": np.zeros(50)})
    assert kendall(fused, 2 * ra2 - rb2 + 1e-6 * np.arange(50)) > 0.8
    with pytest.raises(KeyError, match="noise"):
        fitted.apply({"a": ra2, "b": rb2})


def test_rank_regression_shares_weight_between_identical_columns_and_validates():
    x = np.arange(10.0)
    fitted = fit_rank_regression({"params": x, "flops": x}, x)
    w = dict(fitted.weights)
    assert w["params"] == pytest.approx(w["flops"]) and w["params"] > 0
    assert fitted.fit_tau == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 3 cells"):
        fit_rank_regression({"a": x}, np.full(10, np.nan))
    with pytest.raises(ValueError, match="shape"):
        fit_rank_regression({"a": x}, x[:5])
    with pytest.raises(ValueError, match="at least one proxy"):
        fit_rank_regression({}, x)


def test_a_quadratic_rank_regression_fits_an_accuracy_that_peaks_in_the_middle_of_a_proxy():
    """Accuracy highest for mid-ranked ``a`` (a U turned over): no linear weight can rank it, the
    squared term can, and cross-validation inside the fit cells picks degree 2."""
    rng = np.random.default_rng(1)
    n = 300
    ra = rng.permutation(n) + 1.0
    acc = -((ra / n - 0.5) ** 2) + 1e-4 * rng.random(n)
    linear, quadratic = fit_rank_regression({"a": ra}, acc), fit_rank_regression({"a": ra}, acc, degree=2)
    assert linear.degree == 1 and quadratic.degree == 2 and linear.squares == ()
    assert abs(linear.fit_tau) < 0.2 < 0.9 < quadratic.fit_tau
    w, v = dict(quadratic.weights)["a"], dict(quadratic.squares)["a"]
    assert v < 0 < w and w / -v == pytest.approx(1.0, rel=0.1)  # the peak at rank / N = 0.5
    assert "a^2" in quadratic.describe()
    chosen, cv = select_rank_regression({"a": ra}, acc, repeats=2, seed=3)
    assert chosen.degree == 2 and cv[2] > 0.9 > 0.2 > abs(cv[1])
    held = rng.permutation(40) + 1.0
    assert kendall(chosen.apply({"a": held}), -((held / 40 - 0.5) ** 2)) > 0.9


def test_selection_keeps_the_linear_fusion_when_squares_do_not_help_and_validates():
    rng = np.random.default_rng(2)
    ra = rng.permutation(200) + 1.0
    chosen, cv = select_rank_regression({"a": ra, "noise": rng.random(200)}, 3 * ra + rng.normal(0, 20, 200), seed=0)
    assert set(cv) == {1, 2} and chosen.degree == (2 if cv[2] > cv[1] else 1)
    assert cv[1] > 0.8
    assert select_rank_regression({"a": ra}, ra, seed=0)[0].degree == 1  # a tie goes to degree 1
    with pytest.raises(ValueError, match="degree"):
        fit_rank_regression({"a": ra}, ra, degree=3)
    with pytest.raises(ValueError, match="at least 6 cells"):
        select_rank_regression({"a": ra[:4]}, ra[:4])
