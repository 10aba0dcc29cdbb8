"""Scoring a cell of a search space: seeded construction plus the NASWOT score, timed."""

from __future__ import annotations

import math
import time
from collections.abc import Hashable
from dataclasses import dataclass

import torch

from scoring.naswot import naswot_score
from search_spaces.core.space import SearchSpace


def build_seeded(
    space: SearchSpace, arch: Hashable, num_classes: int, init_seed: int, device: str | torch.device = "cpu"
):
    """Build ``arch`` with its weights drawn from ``init_seed``.

    The global torch RNG is forked for the construction and restored afterwards, so callers'
    random state is untouched and the same seed always gives the same initial weights.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(init_seed))
        model = space.build(arch, num_classes)
    return model.to(device)


@dataclass(frozen=True)
class CellScore:
    """The NASWOT score of one cell and what it cost (seconds)."""

    score: float
    build_s: float
    score_s: float

    @property
    def finite(self) -> bool:
        return math.isfinite(self.score)


def score_cell(
    space: SearchSpace,
    arch: Hashable,
    images: torch.Tensor,
    num_classes: int,
    init_seed: int = 0,
    device: str | torch.device = "cpu",
) -> CellScore:
    """Build ``arch`` (seeded) and return its NASWOT score on ``images`` with timings.

    Exceptions from building or the forward pass propagate; a singular kernel gives ``-inf``.
    """
    start = time.perf_counter()
    model = build_seeded(space, arch, num_classes, init_seed, device)
    built = time.perf_counter()
    score = naswot_score(model, images)
    return CellScore(score, built - start, time.perf_counter() - built)
