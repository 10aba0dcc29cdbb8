"""``python -m orchestrator.train RUN_DIR`` trains a finished run's chosen cell through the Tune
trainable, and a second call continues the experiment instead of starting over."""

from __future__ import annotations

import pytest

from orchestrator import naswot, train

TINY = ["--epochs", "1", "--channels", "4", "--cells-per-stage", "1", "--train-images", "96"]
TINY += ["--train-batch-size", "32", "--no-progress"]


@pytest.mark.timeout(180)
def test_train_the_chosen_cell_then_continue(tmp_path, capsys, ray_session):
    args = ["--n", "3", "--executor", "inline", "--batch-size", "8", "--no-store", "--no-progress"]
    assert naswot.main([*args, "--out", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert train.main([str(run_dir), *TINY]) == 0
    out = capsys.readouterr().out
    assert "final valid_acc:" in out
    curve = (run_dir / "train" / "seed-0.curve.csv").read_text().splitlines()
    assert len(curve) == 2  # header and the one epoch
    assert train.main([str(run_dir), *TINY]) == 0  # the finished experiment is restored, not retrained
    assert "continuing" in capsys.readouterr().err


def test_train_refuses_a_seed_the_run_does_not_have(tmp_path, capsys):
    args = ["--n", "2", "--executor", "inline", "--batch-size", "8", "--no-store", "--no-progress"]
    assert naswot.main([*args, "--out", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert train.main([str(run_dir), "--seed", "7", *TINY]) == 2
    assert "seed 7 is not a run" in capsys.readouterr().err
