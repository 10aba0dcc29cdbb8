"""Test doubles for the driver: a fast, deterministic scoring pool (the real one is tested apart)."""

from __future__ import annotations

import math
import time

from scoring.scorer import ScorerConfig
from scoring.store import ScoreRecord
from search_spaces.core.status import Status


class FormulaPool:
    """Scores a cell by a fixed formula of its string (deterministic, instant).

    ``fail`` / ``nonfinite``: archs for which the pool reports an exception or a -inf score.
    """

    def __init__(self, config: ScorerConfig | None = None, fail=(), nonfinite=(), cost_s: float = 0.5) -> None:
        self.config = config or ScorerConfig()
        self.fail, self.nonfinite = set(fail), set(nonfinite)
        self.cost_s = cost_s
        self.calls: list[list[tuple[str, int]]] = []

    def score_many(self, requests):
        self.calls.append(list(requests))
        out = []
        for arch, seed in requests:
            key = self.config.key(-1, seed)
            if arch in self.fail:
                out.append(
                    ScoreRecord(
                        key, arch, math.nan, 0.0, 0.01, Status.FAILED, "RuntimeError: boom", "fake", time.time()
                    )
                )
            elif arch in self.nonfinite:
                out.append(
                    ScoreRecord(key, arch, -math.inf, 0.1, self.cost_s, Status.NONFINITE, "", "fake", time.time())
                )
            else:
                value = (
                    1000.0 + 10 * arch.count("nor_conv_3x3") + 3 * arch.count("nor_conv_1x1") - 5 * arch.count("none")
                )
                value += (sum(map(ord, arch)) % 97) / 97.0  # break ties deterministically
                out.append(ScoreRecord(key, arch, value, 0.1, self.cost_s, Status.OK, "", "fake", time.time()))
        return out

    def close(self) -> None:
        pass


class MultiProxyPool(FormulaPool):
    """FormulaPool that also answers (arch, seed, proxy) requests, with a different formula per proxy."""

    def score_many(self, requests):
        plain = super().score_many([r[:2] for r in requests])
        out = []
        for request, record in zip(requests, plain):
            proxy = request[2] if len(request) > 2 else self.config.proxy
            if proxy != self.config.proxy and record.status is Status.OK:
                value = 100.0 - 7 * request[0].count("skip_connect") + (sum(map(ord, request[0] + proxy)) % 13)
                record = ScoreRecord(
                    self.config.key(-1, request[1], proxy),
                    record.arch,
                    value,
                    record.build_s,
                    record.score_s,
                    Status.OK,
                    "",
                    "fake",
                    record.created_unix,
                )
            out.append(record)
        return out
