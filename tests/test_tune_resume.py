"""SIGKILL of the ``--oracle tune`` CLI mid-search, then ``--resume``: finished trials are not trained
again and the search completes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--oracle", "tune", "--budget", "600", "--population", "2", "--sample-size", "2", "--trials", "4",
    "--epochs", "2", "--train-images", "200", "--channels", "4", "--cells-per-stage", "1",
    "--train-batch-size", "64", "--concurrent-trials", "1", "--no-progress",
]  # fmt: skip


def _env(ray_tmp: str) -> dict[str, str]:
    env = dict(os.environ, RAY_TMPDIR=ray_tmp, RAY_ENABLE_UV_RUN_RUNTIME_ENV="0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _kill_leftovers(marker: str) -> None:
    """SIGKILL the processes our subprocess's Ray left behind (their command lines name its temp dir)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _evaluated(run_dir: Path):
    from orchestrator.history import load_history

    try:
        h = load_history(run_dir)
    except FileNotFoundError:
        return None
    return h[h.kind == "evaluate"]


@pytest.mark.timeout(240)
def test_sigkill_mid_search_then_resume_does_not_retrain(tmp_path):
    from orchestrator.history import load_curves

    out = tmp_path / "runs"
    ray_tmp = [tempfile.mkdtemp(prefix="rk", dir="/tmp"), tempfile.mkdtemp(prefix="rk", dir="/tmp")]
    cmd = [sys.executable, "-m", "orchestrator.rea", *ARGS]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out)],
        cwd=ROOT,
        env=_env(ray_tmp[0]),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 150
        run_dir = None
        while time.monotonic() < deadline and proc.poll() is None:
            runs = list(out.glob("rea-*"))
            run_dir = runs[0] if runs else None
            evals = _evaluated(run_dir) if run_dir else None
            if evals is not None and len(evals) >= 2:
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the search ended before it could be killed"
        assert run_dir is not None and len(_evaluated(run_dir)) >= 2, "no finished trials in time"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        _kill_leftovers(ray_tmp[0])
    before = _evaluated(run_dir)
    finished = set(before.trial_id)
    attempts_before = load_curves(run_dir).groupby("trial_id").attempt.agg(set)
    try:
        done = subprocess.run(
            [*cmd, "--resume", str(run_dir)],
            cwd=ROOT,
            env=_env(ray_tmp[1]),
            start_new_session=True,
            capture_output=True,
            text=True,
            timeout=150,
        )
    finally:
        _kill_leftovers(ray_tmp[1])
        for d in ray_tmp:
            shutil.rmtree(d, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    after = _evaluated(run_dir)
    assert sorted(after.trial_id) == [0, 1, 2, 3] and (after.status == "ok").all()
    curves = load_curves(run_dir)
    trained = curves[curves.epoch >= 1]
    for trial_id in finished:  # no new training attempt of a trial that had finished before the kill
        rows = trained[trained.trial_id == trial_id]
        assert set(rows.attempt) <= attempts_before[trial_id], f"trial {trial_id} was trained again"
        assert sorted(rows.epoch) == [1, 2]
    assert not trained.duplicated(["trial_id", "epoch", "attempt"]).any()
    assert (Path(run_dir) / "tune" / "seed-0.done").exists()
