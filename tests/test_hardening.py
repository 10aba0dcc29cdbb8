"""Regression tests of the hardening issue: each failed on the code before it and passes now."""

from __future__ import annotations

import json
import math
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestrator import naswot as naswot_cli
from orchestrator import rea as rea_cli
from orchestrator.driver import SimulatedDriver
from orchestrator.history import HISTORY_DIR, HistoryWriter, load_history
from orchestrator.searchers import RegularizedEvolution
from scoring.scorer import ScorerConfig
from scoring.service import InlinePool, ScoringService
from scoring.store import ScoreStore, ScoreStoreError
from search_spaces.core.records import Result, Status

ROOT = Path(__file__).resolve().parents[1]
TSS_FIXTURE = ROOT / "tests" / "fixtures" / "NATS-tss-v1_0-3ffb9-simple"


def _write_cifar10(directory: Path, per_file: int = 24) -> Path:
    """A tiny cifar-10-batches-py directory of random images (the real format)."""
    rng = np.random.default_rng(7)
    directory.mkdir(parents=True)
    for i in range(1, 6):
        batch = {
            b"data": rng.integers(0, 256, size=(per_file, 3072), dtype=np.uint8),
            b"labels": [int(x) for x in rng.integers(0, 10, size=per_file)],
        }
        (directory / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    return directory


def _naswot(tmp_path: Path, *extra: str) -> int:
    args = ["--n", "3", "--executor", "inline", "--batch-size", "16", "--no-progress"]
    args += ["--store", str(tmp_path / "store"), "--out", str(tmp_path / "runs"), *extra]
    return naswot_cli.main(args)


def _only_run(tmp_path: Path) -> Path:
    (run_dir,) = list((tmp_path / "runs").iterdir())
    return run_dir


# -- a user's images never get the embedded images' scores ------------------------------------------------
def test_a_data_dir_without_cifar_files_fails_even_with_a_full_store(tmp_path, capsys):
    assert _naswot(tmp_path) == 0  # fills the store with embedded-image scores
    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert _naswot(tmp_path, "--data-dir", str(empty)) == 2
    assert "missing CIFAR batch file" in capsys.readouterr().err


def test_a_users_images_are_scored_afresh_not_taken_from_the_store(tmp_path):
    assert _naswot(tmp_path) == 0
    first = load_history(_only_run(tmp_path))
    for run in (tmp_path / "runs").iterdir():
        run.rename(tmp_path / f"embedded-{run.name}")
    assert _naswot(tmp_path, "--data-dir", str(_write_cifar10(tmp_path / "cifar"))) == 0
    second = load_history(_only_run(tmp_path))
    assert list(second["arch"]) == list(first["arch"])  # the same cells (same seed) ...
    assert not second["cached"].any()  # ... scored on the user's images
    assert (second["score"] != first["score"]).all()
    keys = {r.key.images for r in ScoreStore(tmp_path / "store").records()}
    assert len(keys) == 2


def test_a_cached_time_from_other_hardware_is_measured_afresh(nb201, tmp_path):
    config = ScorerConfig(batch_size=16)
    arch = nb201.format(nb201.sample(np.random.default_rng(0)))
    store = ScoreStore(tmp_path)
    pool = InlinePool(config)
    first = ScoringService(config, pool, store, nb201).score_many([(arch, 0)])[0][0][0]
    assert first.hardware == pool.hardware and first.hardware.startswith("cpu:")
    gpu_record = type(first)(**{**first.__dict__, "hardware": "cuda:Some GPU", "score_s": 0.001})
    store.put(gpu_record)
    service = ScoringService(config, pool, store, nb201)
    ((record, cached),) = service.score_many([(arch, 0)])[0]
    assert not cached and service.remeasured == 1 and record.hardware == pool.hardware
    ((_again, cached_again),) = service.score_many([(arch, 0)])[0]
    assert cached_again  # now measured here, it is reused


def test_an_old_store_is_refused_clearly(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    old = pa.table({"space": ["nb201"], "arch_key": [3], "dataset": ["cifar10"], "score": [1.0]})
    pq.write_table(old, tmp_path / "part-0001.parquet")
    with pytest.raises(ScoreStoreError, match="format version 1"):
        ScoreStore(tmp_path)


def test_an_old_store_fails_the_cli_before_anything_is_created(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "store").mkdir()
    pq.write_table(pa.table({"space": ["nb201"]}), tmp_path / "store" / "part-0001.parquet")
    assert _naswot(tmp_path) == 2
    assert "move the old store aside" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# -- validate, then act --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [["--n", "0"], ["--data-dir", "/nonexistent/cifar"], ["--batch-size", "1"], ["--proxy", "nope"]],
)
def test_bad_options_fail_with_one_line_and_leave_nothing(tmp_path, capsys, monkeypatch, bad):
    import cluster.ray_pool

    started = []
    monkeypatch.setattr(cluster.ray_pool, "ensure_ray", lambda *a, **k: started.append(a) or pytest.fail("Ray"))
    code = naswot_cli.main(["--out", str(tmp_path / "runs"), "--store", str(tmp_path / "s"), "--no-progress", *bad])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "s").exists()
    assert not started  # the default executor is Ray: it must not have been started


# -- no stalls, no run-killing candidates ---------------------------------------------------------------
@pytest.mark.timeout(120)
def test_a_benchmark_lacking_most_cells_stops_clearly_instead_of_stalling(tmp_path, capsys):
    args = ["--benchmark", str(TSS_FIXTURE), "--out", str(tmp_path), "--no-progress", "--budget", "12000"]
    assert rea_cli.main(args) == 2
    err = capsys.readouterr().err
    assert "100 candidates failed in a row" in err and "--max-consecutive-failures" in err
    (run_dir,) = list(tmp_path.iterdir())
    frame = load_history(run_dir)
    assert len(frame) == 100 and (frame["status"] == "failed").all()
    assert frame["error"].str.contains("no record of|not in the", regex=True).all()


@pytest.mark.timeout(120)
def test_failures_charge_a_minimum_cost_so_the_budget_ends_the_run(tmp_path):
    args = ["--benchmark", str(TSS_FIXTURE), "--out", str(tmp_path), "--no-progress", "--budget", "300"]
    assert rea_cli.main([*args, "--max-consecutive-failures", "0", "--failure-cost", "2"]) == 0
    frame = load_history(next(tmp_path.iterdir()))
    assert len(frame) == 150 and frame["sim_end_s"].max() == pytest.approx(300)


class _ExplodingOracle:
    """An oracle whose lookups raise an arbitrary error for some cells."""

    fitness_name = "fitness"

    def __init__(self, inner, bad: set[str]) -> None:
        self.inner, self.bad = inner, bad

    def evaluate(self, arch: str) -> Result:
        if arch in self.bad:
            raise RuntimeError("disk on fire")
        return self.inner.evaluate(arch)

    def metrics(self, arch: str) -> dict[str, float]:
        if arch in self.bad:
            raise OSError("table unreadable")
        return self.inner.metrics(arch)


def test_any_exception_of_one_candidate_is_a_failed_row_and_the_run_goes_on(nb201, tmp_path):
    from orchestrator.driver import combine_scores
    from orchestrator.oracles import LookupOracle
    from search_spaces.nb201.benchmark import EmbeddedNB201Table

    inner = LookupOracle(nb201, EmbeddedNB201Table(nb201))
    rng = np.random.default_rng(0)
    first = [nb201.format(nb201.sample(rng)) for _ in range(3)]  # what REA(seed 0) asks first
    oracle = _ExplodingOracle(inner, set(first))
    with HistoryWriter(tmp_path, metric_names=inner.metric_names) as writer:
        outcome = SimulatedDriver(
            RegularizedEvolution(nb201, np.random.default_rng(0)),
            oracle=oracle,
            scoring=None,
            writer=writer,
            run_id="t",
            algorithm="rea",
            seed=0,
            arch_key=lambda a: nb201.key(nb201.parse(a)),
            budget_s=3000,
        ).run()
    frame = load_history(tmp_path)
    assert outcome.told > 10 and outcome.best is not None
    failed = frame[frame["status"] == "failed"]
    assert set(failed["arch"]) == set(first) and failed["error"].str.contains("disk on fire").all()
    # a score whose metrics lookup raises keeps its score, with NaN metrics
    from scoring.store import ScoreKey, ScoreRecord

    record = ScoreRecord(ScoreKey("nb201", "1", "cifar10", "h", 16, 0, 0), first[0], 1.5, 0.1, 0.2, Status.OK)
    result = combine_scores([(record, False)], oracle, first[0])
    assert result.status is Status.OK and result.score == 1.5 and result.metrics == {}


# -- resume keeps the record ----------------------------------------------------------------------------
def test_resume_keeps_the_config_and_appends_an_event(tmp_path):
    assert _naswot(tmp_path, "--runs", "2") == 0
    run_dir = _only_run(tmp_path)
    before = json.loads((run_dir / "config.json").read_text())
    before["versions"]["torch"] = "0.0-the-version-the-run-began-with"
    (run_dir / "config.json").write_text(json.dumps(before))
    assert naswot_cli.main(["--resume", str(run_dir), "--no-progress"]) == 0
    after = json.loads((run_dir / "config.json").read_text())
    assert after["versions"]["torch"] == "0.0-the-version-the-run-began-with"
    assert after["config"] == before["config"] and after["written_unix"] == before["written_unix"]
    assert len(after["resumes"]) == 1 and after["resumes"][0]["argv"][0] == "--resume"


def test_resume_refuses_conflicting_options_by_name_and_allows_harmless_ones(tmp_path, capsys):
    assert _naswot(tmp_path) == 0
    run_dir = str(_only_run(tmp_path))
    capsys.readouterr()
    assert naswot_cli.main(["--resume", run_dir, "--n", "5", "--batch-seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "--n (5; the run has 3)" in err and "--batch-seed (2; the run has 0)" in err
    assert naswot_cli.main(["--resume", run_dir, "--n", "3", "--no-progress", "--executor", "inline"]) == 0
    assert rea_cli.main(["--resume", run_dir]) == 2
    assert "resume it with python -m orchestrator.naswot" in capsys.readouterr().err


def test_a_corrupt_part_is_named_and_repair_moves_it_aside(tmp_path, capsys):
    assert _naswot(tmp_path, "--runs", "2") == 0
    run_dir = _only_run(tmp_path)
    rows = len(load_history(run_dir))
    part = sorted((run_dir / HISTORY_DIR).glob("part-*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:-40] + b"\0" * 40)  # a torn write of the footer
    capsys.readouterr()
    assert naswot_cli.main(["--resume", str(run_dir), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert part.name in err and "--repair" in err
    assert naswot_cli.main(["--resume", str(run_dir), "--repair", "--no-progress"]) == 0
    assert (run_dir / "corrupt-parts" / part.name).is_file()
    assert len(load_history(run_dir)) == rows  # the lost rows were replayed afresh


# -- ImageNet16-120 honestly ----------------------------------------------------------------------------
def test_loss_based_proxies_use_only_the_120_classes(nb201):
    from scoring.scorer import CellScorer

    with pytest.raises(ValueError, match="only 106 of the 960"):
        ScorerConfig(dataset="imagenet16", proxy="grad_norm", batch_size=128).batch()
    config = ScorerConfig(dataset="imagenet16", proxy="grad_norm", batch_size=64)
    _images, labels, _hash = config.batch()
    assert int(labels.max()) < 120
    unlabelled = ScorerConfig(dataset="imagenet16", batch_size=128).batch()[1]
    assert int(unlabelled.max()) >= 120  # naswot uses the whole pool
    record = CellScorer(config).score(nb201.format(nb201.sample(np.random.default_rng(0))))
    assert record.status is Status.OK and math.isfinite(record.score)


def test_reads_real_imagenet16_batch_files(tmp_path):
    from scoring.data import load_pool

    rng = np.random.default_rng(0)
    labels = [1, 5, 120, 121, 999, 7]
    batch = {"data": rng.integers(0, 256, size=(6, 768), dtype=np.uint8), "labels": labels}
    (tmp_path / "train_data_batch_1").write_bytes(pickle.dumps(batch))
    pool = load_pool("imagenet16", tmp_path)
    assert len(pool) == 4 and list(pool.labels) == [0, 4, 119, 6]
    assert pool.images.shape == (4, 3, 16, 16)
    assert np.array_equal(pool.images[0, 1].ravel(), batch["data"][0, 256:512])  # channel-planar rows


# -- the public API the README shows --------------------------------------------------------------------
def test_every_import_the_readme_shows_works():
    text = (ROOT / "README.md").read_text()
    lines = re.findall(r"^\s*(from (?:scoring|search_spaces|orchestrator|cluster)[\w.]* import [\w, ]+)$", text, re.M)
    assert any("from scoring import naswot_score" in line for line in lines)
    for line in lines:
        exec(line, {})  # the README's own import lines


def test_naswot_official_reproduces_the_official_recipe(nb201):
    from scipy.stats import spearmanr

    from scoring import get_proxy, naswot_score
    from scoring.cells import build_seeded
    from scoring.data import load_batch
    from scoring.reference import paper_naswot_score

    images, labels = load_batch("cifar10", 32, seed=0)
    rng = np.random.default_rng(3)
    ours, official, reference = [], [], []
    for _ in range(6):
        cell = nb201.sample(rng)
        ours.append(naswot_score(build_seeded(nb201, cell, 10, 0), images))
        official.append(get_proxy("naswot_official")(build_seeded(nb201, cell, 10, 0), images, labels))
        reference.append(paper_naswot_score(build_seeded(nb201, cell, 10, 0), images, modules="official"))
    finite = [i for i in range(6) if math.isfinite(ours[i])]
    assert len(finite) >= 4
    for i in finite:
        assert official[i] == pytest.approx(reference[i], rel=1e-6)
        assert official[i] > ours[i]
    assert spearmanr([ours[i] for i in finite], [official[i] for i in finite]).statistic > 0.8


def test_history_records_the_searchers_choice(tmp_path):
    assert _naswot(tmp_path, "--runs", "2") == 0
    frame = pd.read_parquet(_only_run(tmp_path) / HISTORY_DIR)
    for _seed, group in frame.groupby("seed"):
        last = group.sort_values("tell_order").iloc[-1]
        chosen = group[group["trial_id"] == last["incumbent"]].iloc[0]
        assert chosen["score"] == group["score"].max()


# -- Ray's authentication stays on ----------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_a_private_local_ray_keeps_token_authentication():
    import os
    import subprocess
    import sys

    assert "RAY_AUTH_MODE" not in (ROOT / ".ci" / "run").read_text()
    probe = (
        "import os, ray\n"
        "from cluster.ray_pool import ensure_ray\n"
        "ensure_ray(num_cpus=1)\n"
        "print('mode', os.environ.get('RAY_AUTH_MODE', 'unset'))\n"
        "print('sum', ray.get(ray.remote(lambda: 1 + 1).options(num_cpus=0).remote()))\n"
        "ray.shutdown()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=100)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "sum 2" in out.stdout
    assert "mode disabled" not in out.stdout  # Ray's default (token) is kept: nothing switched it off


def test_a_tune_run_with_a_bad_data_dir_fails_before_anything_starts(tmp_path, capsys, monkeypatch):
    import cluster.ray_pool

    monkeypatch.setattr(cluster.ray_pool, "ensure_ray", lambda *a, **k: pytest.fail("Ray was started"))
    args = ["--oracle", "tune", "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "runs"), "--no-progress"]
    assert rea_cli.main(args) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
