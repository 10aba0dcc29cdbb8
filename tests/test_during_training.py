"""``python -m orchestrator.during_training`` at tiny settings on CPU: trains, writes curves, draws the figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from orchestrator.during_training import main, plot_curves, score_accuracy_tau


def test_tau_and_plot_from_curves(tmp_path):
    rows = []
    for trial in range(4):
        for epoch in range(3):
            rows.append({"trial_id": trial, "epoch": epoch, "score": 100.0 + trial + epoch,
                         "valid_acc": math.nan if epoch == 0 else 10.0 * trial + epoch})  # fmt: skip
    curves = pd.DataFrame(rows)
    tau = score_accuracy_tau(curves)
    assert list(tau.epoch) == [0, 1, 2] and np.allclose(tau.tau_score_vs_final_acc, 1.0)
    path = plot_curves(curves, tmp_path / "fig.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="no trained epoch"):
        plot_curves(curves[curves.epoch == 0], tmp_path / "none.png")


@pytest.mark.timeout(120)
def test_during_training_cli_small(tmp_path, ray_session, capsys):
    from orchestrator.history import load_curves

    code = main(
        ["--nets", "2", "--epochs", "1", "--train-images", "200", "--channels", "4", "--cells-per-stage", "1",
         "--train-batch-size", "64", "--concurrent-trials", "2", "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    (run_dir,) = tmp_path.glob("during-training-*")
    assert (run_dir / "score_during_training.png").stat().st_size > 1000
    curves = load_curves(run_dir)
    assert len(curves) == 4 and sorted(curves.epoch.unique()) == [0, 1]
    assert curves.score.map(math.isfinite).all()
    assert "tau_score_vs_final_acc" in capsys.readouterr().out
    assert main(["--from", str(run_dir), "--plot", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").exists()
