"""The report's anytime curves, its Pareto judging (hypervolume ratio to NB201's true front) and its CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestrator import mo_rea, rea, report
from orchestrator.history import load_history
from orchestrator.pareto_study import TrueFrontError, seed_ratios, truth_of, union_ratio
from orchestrator.report import (
    ReportInputError,
    anytime_curves,
    anytime_summary,
    default_figure_metric,
    final_choices,
    time_grid,
)
from search_spaces.nb201.latency import latency_column

ACC, LAT = "cifar10_test", "cell_latency_ms"


def _history() -> pd.DataFrame:
    """Two seeds; seed 0 has no incumbent after its first tell, and its incumbent changes twice."""
    rows = [
        # seed, tell_order, trial_id, sim_end_s, incumbent, accuracy
        (0, 0, 0, 10.0, -1, 60.0),
        (0, 1, 1, 20.0, 1, 80.0),
        (0, 2, 2, 30.0, 1, 75.0),
        (0, 3, 3, 40.0, 3, 90.0),
        (1, 0, 0, 5.0, 0, 70.0),
        (1, 1, 1, 25.0, 1, 85.0),
    ]
    frame = pd.DataFrame(rows, columns=["seed", "tell_order", "trial_id", "sim_end_s", "incumbent", ACC])
    return frame.assign(run_id="rea-x", algorithm="rea")


def test_anytime_curve_is_the_incumbents_accuracy_after_each_tell():
    curves = anytime_curves(_history(), ACC)
    seed0 = curves[curves["seed"] == 0]
    assert seed0["time_s"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert math.isnan(seed0["value"].iloc[0])  # no incumbent yet
    assert seed0["value"].iloc[1:].tolist() == [80.0, 80.0, 90.0]  # trial 2 (75) never was the incumbent
    assert curves[curves["seed"] == 1]["value"].tolist() == [70.0, 85.0]
    with pytest.raises(ReportInputError, match="not a column"):
        anytime_curves(_history(), "cifar10_valid")


def test_anytime_summary_on_a_common_grid():
    summary = anytime_summary(anytime_curves(_history(), ACC), grid=np.array([4.0, 15.0, 25.0, 45.0]))
    assert summary["runs"].tolist() == [0, 1, 2, 2]
    assert summary["mean"].iloc[:2].isna().all()  # statistics only once every seed has an incumbent
    at25, at45 = summary.iloc[2], summary.iloc[3]
    assert at25["mean"] == pytest.approx((80 + 85) / 2) and at25["std"] == pytest.approx(2.5)
    assert (at25["q25"], at25["q75"]) == pytest.approx((81.25, 83.75))
    assert at45["mean"] == pytest.approx((90 + 85) / 2)  # seed 1 ended at 25 s and keeps its choice


def test_time_grid_is_log_spaced_from_the_first_tell():
    grid = time_grid(anytime_curves(_history(), ACC), points=5)
    assert grid[0] == pytest.approx(5.0) and grid[-1] == pytest.approx(40.0)
    assert np.allclose(np.diff(np.log(grid)), np.log(8) / 4)


def test_default_figure_metric_prefers_test_accuracy():
    assert default_figure_metric(["cifar10_valid", "cifar10_test", "cifar100_test"]) == "cifar10_test"
    assert default_figure_metric(["cifar10_valid_12ep"]) == "cifar10_valid_12ep"
    assert default_figure_metric([]) is None


@pytest.fixture(scope="module")
def truth():
    return truth_of(ACC, LAT, "hwnb_pixel3")


def test_truth_is_the_whole_table_with_its_worst_corner_as_reference(truth, nb201_table):
    latency = np.asarray(latency_column("hwnb_pixel3"), dtype=float)
    accuracy = nb201_table.column(ACC)
    assert truth.reference == (pytest.approx(accuracy.min()), pytest.approx(latency.max()))
    assert truth.points.shape == (15625, 2) and 5 <= len(truth.front) < 200


def _evaluated(points: np.ndarray, seed: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": "mo_rea-x",
            "algorithm": "mo_rea",
            "seed": seed,
            "kind": "evaluate",
            "status": "ok",
            ACC: points[:, 0],
            LAT: points[:, 1],
        }
    )


def test_hypervolume_ratio_of_the_true_front_is_one(truth):
    front = truth.front[[ACC, LAT]].to_numpy()
    others = truth.points[::500]  # dominated cells add nothing
    frame = pd.concat([_evaluated(np.vstack([front, others]), 0), _evaluated(front[::2], 1)], ignore_index=True)
    ratios = seed_ratios(frame, truth)
    assert ratios["hv_ratio"].iloc[0] == pytest.approx(1.0)
    assert ratios["front_size"].iloc[0] == len(front)
    assert 0 < ratios["hv_ratio"].iloc[1] < 1  # half of the front reaches less
    assert union_ratio(frame, truth) == pytest.approx(1.0)


def test_failed_and_scored_rows_are_not_found_cells(truth):
    front = truth.front[[ACC, LAT]].to_numpy()
    frame = _evaluated(front, 0)
    frame.loc[frame.index[-1], "status"] = "failed"  # the most accurate front cell failed
    assert seed_ratios(frame, truth)["hv_ratio"].iloc[0] < 1


def test_report_cli_anytime_figure_on_tiny_runs(tmp_path: Path, capsys):
    args = ["--runs", "3", "--budget", "2000", "--no-progress", "--out", str(tmp_path)]
    assert rea.main(args) == 0
    run_dir = next(tmp_path.iterdir())
    frame = load_history(run_dir)
    curves = anytime_curves(frame, ACC)
    last = curves.groupby("seed")["value"].last()
    choices = final_choices(frame).set_index("seed")[ACC]
    assert np.allclose(last.sort_index(), choices.sort_index())  # the curve ends at each run's answer
    figure = tmp_path / "anytime.png"
    scatter = tmp_path / "scatter.png"
    assert report.main([str(run_dir), "--plot", str(figure), "--scatter", str(scatter)]) == 0
    assert figure.stat().st_size > 0 and scatter.stat().st_size > 0
    assert report.main([str(run_dir), "--pareto"]) == 2  # it recorded no costs
    assert "recorded no costs" in capsys.readouterr().err


def test_mo_rea_cli_and_pareto_report(tmp_path: Path, capsys):
    args = ["--latency-device", "hwnb_pixel3", "--runs", "2", "--budget", "2000", "--no-progress"]
    assert mo_rea.main([*args, "--out", str(tmp_path)]) == 0
    run_dir = next(tmp_path.iterdir())
    capsys.readouterr()
    assert report.main([str(run_dir), "--pareto"]) == 0
    out = capsys.readouterr().out
    assert "reference point: cifar10_test 10.00 %, cell_latency_ms 36.77 ms on hwnb_pixel3" in out
    assert out.count("mo_rea P=10 (") >= 3  # two seeds and their mean
    assert (run_dir / report.PARETO_FIGURE).stat().st_size > 0
    with pytest.raises(TrueFrontError, match="latency table"):
        truth_of(ACC, LAT, "measured")


def test_method_label_names_the_score_and_sizes():
    from orchestrator.report import method_label

    assert method_label({"algorithm": "guided_ls", "proxy": "synflow", "m": 1000}, "x") == "guided_ls synflow M=1000"
    fused = {"algorithm": "naswot", "proxy": "naswot", "ensemble": ["synflow", "params"], "fusion": "logrank", "n": 9}
    assert method_label(fused, "x") == "naswot logrank(synflow+params) N=9"
    assert method_label({"algorithm": "rea", "population_size": 10}, "x") == "rea P=10"
    assert method_label({}, "random") == "random"
