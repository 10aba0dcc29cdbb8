"""A scoring request that runs out of device memory: the cache is freed and it is tried once more,
then the cell is scored on the CPU (the same score), and the record says where (tested on the CPU
by injecting the error)."""

from __future__ import annotations

import math

import torch

from orchestrator.driver import combine_scores
from scoring import scorer as scorer_module
from scoring.scorer import CellScorer, ScorerConfig, scored_after_fallback
from search_spaces.core.records import Status

CONFIG = ScorerConfig(batch_size=8, space_options=(("cells_per_stage", 1), ("channels", 4)))
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|"


class _NoMetrics:
    def metrics(self, arch: str) -> dict[str, float]:
        return {}


def _oom_on_the_device(scorer: CellScorer, failures: int, monkeypatch) -> list[str]:
    """Make ``scorer`` think its device is a GPU whose first ``failures`` attempts run out of memory."""
    calls: list[str] = []
    real = CellScorer._compute
    freed: list[str] = []
    monkeypatch.setattr(scorer_module, "_free_device_memory", lambda device: freed.append(str(device)))

    def compute(self, function, cell, init_seed, proxy, device):
        calls.append(str(device))
        if device.type != "cpu" and len([c for c in calls if c != "cpu"]) <= failures:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, function, cell, init_seed, proxy, torch.device("cpu"))

    monkeypatch.setattr(CellScorer, "_compute", compute)
    scorer.device = torch.device("cuda")
    return calls


def test_oom_twice_then_the_cpu_gives_the_same_score(monkeypatch):
    expected = CellScorer(CONFIG).score(ARCH)
    scorer = CellScorer(CONFIG)
    calls = _oom_on_the_device(scorer, failures=2, monkeypatch=monkeypatch)
    record = scorer.score(ARCH)
    assert calls == ["cuda", "cuda", "cpu"]  # retried once after freeing the cache, then the CPU
    assert record.status is Status.OK and record.score == expected.score
    assert record.device == "cpu (cuda out of memory)" and scored_after_fallback(record)
    result = combine_scores([(record, False)], _NoMetrics(), ARCH)
    assert result.worker == "cpu (cuda out of memory)"  # the history's worker column says where


def test_one_oom_then_the_retry_on_the_device_succeeds(monkeypatch):
    scorer = CellScorer(CONFIG)
    calls = _oom_on_the_device(scorer, failures=1, monkeypatch=monkeypatch)
    record = scorer.score(ARCH)
    assert calls == ["cuda", "cuda"] and record.device == "cuda" and not scored_after_fallback(record)
    assert record.status is Status.OK and math.isfinite(record.score)
