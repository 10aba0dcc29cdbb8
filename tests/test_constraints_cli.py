"""Constraints through the one runner: every searcher returns feasible cells, the history records
each candidate's costs, and an impossible limit is a clear error before anything starts."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from orchestrator import area, guided_ls, naswot, random_search, rea
from orchestrator.report import final_choices

LIMIT = ["--max-latency-ms", "6", "--latency-device", "hwnb_pixel3", "--max-params", "0.8"]
COMMON = ["--no-progress", "--executor", "inline", "--batch-size", "8", "--no-store"]


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        (rea, ["--runs", "2", "--budget", "3000"]),
        (random_search, ["--runs", "2", "--budget", "2000"]),
        (naswot, ["--n", "4"]),
        (area, ["--m", "4", "--population", "3", "--sample-size", "2", "--budget", "2000"]),
        (guided_ls, ["--m", "4", "--neighbours", "4", "--max-evaluations", "4"]),
    ],
)
def test_every_search_returns_feasible_cells_and_records_costs(module, extra, tmp_path):
    assert module.main([*LIMIT, *COMMON, *extra, "--out", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    h = pd.read_parquet(run_dir / "history.parquet")
    assert len(h) and (h["cell_feasible"] == 1.0).all()  # sampling and mutation skipped every infeasible cell
    assert (h["cell_latency_ms"] <= 6).all() and (h["cell_params_m"] <= 0.8).all()
    assert h["cell_flops_m"].gt(0).all()
    choices = final_choices(h)
    assert choices["arch"].notna().all()
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["constraints"]["max_latency_ms"] == 6.0
    assert "cell_latency_ms" in [m["name"] for m in record["benchmark"]["metrics"]]


def test_an_impossible_limit_is_one_line_naming_the_smallest_value_and_leaves_nothing(tmp_path, capsys):
    assert rea.main(["--max-latency-ms", "0.5", "--latency-device", "hwnb_fpga", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no cell of nb201 meets latency_ms <= 0.5" in err and "smallest latency_ms in nb201 is 1.13" in err
    assert not any(tmp_path.iterdir())


def test_a_latency_limit_needs_a_device(tmp_path, capsys):
    assert rea.main(["--max-latency-ms", "3", "--out", str(tmp_path)]) == 2
    assert "needs a latency_device" in capsys.readouterr().err


class LatencyPool:
    """Answers latency requests with a formula of the cell and a made-up accelerator (a fake of the
    scoring actors timing forward passes on their own hardware)."""

    hardware = "fake:accelerator"

    def __init__(self) -> None:
        from scoring.scorer import ScorerConfig

        self.config = ScorerConfig()
        self.asked: list[str] = []

    @staticmethod
    def latency(arch: str) -> float:
        return 1.0 + arch.count("nor_conv_3x3") + 0.5 * arch.count("nor_conv_1x1")

    def score_many(self, requests):
        import dataclasses
        import time

        from scoring.latency import LATENCY_PROXY
        from scoring.store import ScoreRecord
        from search_spaces.core.status import Status

        out = []
        for arch, seed, proxy in requests:
            assert proxy == LATENCY_PROXY
            self.asked.append(arch)
            key = self.config.key(-1, seed, proxy)
            record = ScoreRecord(key, arch, self.latency(arch), 0.0, 0.001, Status.OK, "", "fake", time.time())
            out.append(dataclasses.replace(record, hardware=self.hardware))
        return out

    def close(self) -> None:
        pass


def test_measured_latency_is_timed_by_the_scoring_pool_and_recorded_with_its_hardware(tmp_path):
    from orchestrator.config import ExperimentConfig
    from orchestrator.constraints import Constraints
    from orchestrator.experiment import LATENCY_FILE, run_experiment

    pool = LatencyPool()
    config = ExperimentConfig(
        "rea",
        max_evaluations=12,
        executor="inline",
        store=None,
        constraints=Constraints(max_latency_ms=4.0, latency_device="measured"),
    )
    run_experiment(config, tmp_path / "run", pool=pool, progress=False)
    assert pool.asked, "the latencies were asked of the pool, not timed in the driver"
    h = pd.read_parquet(tmp_path / "run" / "history.parquet")
    assert (h["cell_latency_ms"] == [LatencyPool.latency(a) for a in h["arch"]]).all()
    assert (h["cell_latency_ms"] <= 4.0).all() and (h["cell_feasible"] == 1.0).all()
    latencies = pd.read_parquet(tmp_path / "run" / LATENCY_FILE)
    assert set(latencies["hardware"]) == {"fake:accelerator"}
    assert set(h["arch_key"]) <= set(latencies["arch_key"])
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["latency_measured_on"] == "fake:accelerator"
