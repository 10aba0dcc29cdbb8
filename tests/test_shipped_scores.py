"""Shipped scores: how each file was made is recorded, a store answers from them (its own records
first), and re-scoring a random subset of every shipped file gives the same values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring import store as store_module
from scoring.scorer import CellScorer
from scoring.ship_scores import scorer_config_of, select
from scoring.store import (
    ScoreKey,
    ScoreRecord,
    ScoreStore,
    shipped_files,
    shipped_metadata,
    shipped_records,
    write_shipped,
)
from search_spaces import get_space
from search_spaces.core.status import Status

SHIPPED = shipped_files()
RESCORED_PER_FILE = 2


def _record(arch_key: str, score: float, status: Status = Status.OK) -> ScoreRecord:
    key = ScoreKey("nb201", arch_key, "cifar10", "h", 8, 0, 0)
    return ScoreRecord(key, f"arch{arch_key}", score, 0.01, 0.1, status, hardware="cpu:test")


def test_a_store_answers_from_shipped_scores_after_its_own(tmp_path, monkeypatch):
    shipped_dir = tmp_path / "shipped"
    shipped_dir.mkdir()
    write_shipped(
        [_record("1", 10.0), _record("2", 20.0)],
        shipped_dir / "a.parquet",
        command="python -m scoring.sweep --n 2",
        code="naswot test",
        created="2026-12-02",
        hardware="cpu:test",
    )
    monkeypatch.setattr(store_module, "SHIPPED_DIR", shipped_dir)
    own = ScoreStore(tmp_path / "own")
    own.put(_record("2", 99.0))
    own.flush()
    store = ScoreStore(tmp_path / "own")
    assert store.get(_record("1", 0).key).score == 10.0  # shipped
    assert store.get(_record("2", 0).key).score == 99.0  # the store's own record wins
    assert len(store) == 1 and [r.score for r in store.records()] == [99.0]  # shipped ones are not its own
    assert ScoreStore(tmp_path / "own", shipped=False).get(_record("1", 0).key) is None
    assert shipped_metadata(shipped_dir / "a.parquet")["command"] == "python -m scoring.sweep --n 2"
    store.put(_record("3", 1.0))
    store.flush()
    assert len(list((tmp_path / "own").glob("part-*"))) == 2  # writes go to the directory only
    assert len(shipped_records(shipped_dir)) == 2


def test_failed_records_are_never_shipped():
    records = [_record("1", 1.0), _record("2", math.nan, Status.FAILED)]
    assert [r.key.arch_key for r in select(records, "nb201", None, None)] == ["1"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_a_shipped_file_says_how_it_was_made(path):
    meta = shipped_metadata(path)
    assert meta["command"].startswith("python -m ") and meta["code"].startswith("naswot ")
    assert meta["created"] and meta["hardware"]
    assert (path.parent / "PROVENANCE.md").read_text().count(path.name) >= 1


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_rescoring_a_random_subset_of_a_shipped_file_gives_its_values(path):
    from scoring.store import _from_row, read_store_part

    records = [_from_row(row) for row in read_store_part(path)]
    rng = np.random.default_rng()  # a different subset in every run
    drawn = [records[int(i)] for i in rng.choice(len(records), size=min(20, len(records)), replace=False)]
    cheapest = sorted(drawn, key=lambda r: r.build_s + r.score_s)[:RESCORED_PER_FILE]  # keeps CI on 2 cores short
    for record in cheapest:
        config = scorer_config_of(record.key)
        assert config.images_hash(config.proxy) == record.key.images, "the embedded images changed"
        scorer = CellScorer(config)
        space = get_space(config.space, **dict(config.space_options))
        again = scorer.score(record.arch, record.key.init_seed)
        assert space.key(space.parse(record.arch)) == record.key.arch_key
        assert again.status is record.status, (record.arch, again.error)
        if math.isfinite(record.score):
            # float32 sums may round differently on another CPU or thread count (a code near 0 may flip)
            assert again.score == pytest.approx(record.score, rel=1e-4, abs=1e-9), record.arch
        else:
            assert again.score == record.score
