"""The command lines, end to end, including a driver killed with SIGKILL and resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from orchestrator import naswot as naswot_cli
from orchestrator import report
from orchestrator.experiment import ExperimentConfig, run_experiment
from orchestrator.history import HISTORY_DIR, load_history
from orchestrator.report import final_choices

ROOT = Path(__file__).resolve().parents[1]


def test_naswot_cli_inline_and_report(tmp_path, capsys):
    code = naswot_cli.main(
        [
            "--n",
            "4",
            "--runs",
            "2",
            "--executor",
            "inline",
            "--batch-size",
            "16",
            "--store",
            str(tmp_path / "store"),
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "naswot" in out and "C10 test" in out and "+-" in out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.name.startswith("naswot-")]
    frame = pd.read_parquet(run_dir / HISTORY_DIR)
    assert len(frame) == 8 and set(frame["kind"]) == {"score"}
    assert (run_dir / "config.json").is_file()
    assert report.main([str(run_dir), "--plot", str(tmp_path / "fig.png")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 1000


def test_cli_errors_are_clear(tmp_path, capsys):
    assert naswot_cli.main(["--resume", str(tmp_path / "nope"), "--no-progress"]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert naswot_cli.main(["--n", "0", "--executor", "inline", "--out", str(tmp_path), "--no-progress"]) == 2
    assert report.main([str(tmp_path / "nope")]) == 2


def test_sigkill_then_resume_gives_the_uninterrupted_answers(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [
        sys.executable,
        "-m",
        "orchestrator.rea",
        "--runs",
        "120",
        "--budget",
        "12000",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    history = None
    deadline = time.time() + 120
    while time.time() < deadline:
        dirs = [p for p in tmp_path.iterdir() if p.name.startswith("rea-")]
        if dirs and (dirs[0] / HISTORY_DIR).is_dir() and len(list((dirs[0] / HISTORY_DIR).glob("part-*"))) >= 2:
            history = dirs[0]
            break
        time.sleep(0.05)
    assert history is not None, proc.communicate(timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = load_history(history)
    assert 0 < partial["seed"].nunique() < 120  # it really stopped mid-way
    done = subprocess.run(
        args[:3] + ["--resume", str(history), "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    config = ExperimentConfig(algorithm="rea", runs=120, budget_s=12000, store=None, executor="inline")
    run_experiment(config, tmp_path / "reference", progress=False)
    resumed, reference = final_choices(load_history(history)), final_choices(load_history(tmp_path / "reference"))
    assert list(resumed["arch"]) == list(reference["arch"])
    assert len(pd.read_parquet(history / HISTORY_DIR)) == len(load_history(tmp_path / "reference"))
