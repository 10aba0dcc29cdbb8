"""A stateful cell scorer: loads the space, the image batch and the score function once.

This is what a scoring worker holds (a Ray actor in ``cluster/``, or inline in tests and sweeps).
Faults of a candidate (an exception while building or scoring, a non-finite score) come back as a
:class:`~scoring.store.ScoreRecord` with a status, never as an exception or a silent 0.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

from search_spaces import get_space

from .cells import build_seeded
from .data import NUM_CLASSES, load_pool
from .proxies import get_proxy
from .status import Status
from .store import ScoreKey, ScoreRecord

INPUT_KINDS = ("images", "noise")


@dataclass(frozen=True)
class ScorerConfig:
    """What a scorer needs to know; validated on construction."""

    space: str = "nb201"
    dataset: str = "cifar10"
    batch_size: int = 128
    batch_seed: int = 0
    data_dir: str | None = None
    device: str = "cpu"
    proxy: str = "naswot"
    inputs: str = "images"  # "images" (the real minibatch) or "noise" (Gaussian, same shape; ablation)

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2, got {self.batch_size}")
        if self.dataset not in NUM_CLASSES:
            from search_spaces import UnknownNameError

            raise UnknownNameError("dataset", self.dataset, tuple(NUM_CLASSES))
        from .proxies import get_proxy

        get_proxy(self.proxy)
        if self.inputs not in INPUT_KINDS:
            from search_spaces import UnknownNameError

            raise UnknownNameError("input kind", self.inputs, INPUT_KINDS)

    @property
    def store_proxy(self) -> str:
        """The proxy field of the store key (the input kind is part of what a score depends on)."""
        return self.store_name(self.proxy)

    def store_name(self, proxy: str) -> str:
        return proxy if self.inputs == "images" else f"{proxy}+{self.inputs}"

    def key(self, arch_key: int, init_seed: int, proxy: str | None = None) -> ScoreKey:
        return ScoreKey(
            self.space,
            int(arch_key),
            self.dataset,
            self.batch_size,
            self.batch_seed,
            int(init_seed),
            self.store_name(proxy or self.proxy),
        )


class CellScorer:
    """Scores cells of one space on one fixed minibatch."""

    def __init__(self, config: ScorerConfig) -> None:
        self.config = config
        self.space = get_space(config.space)
        pool = load_pool(config.dataset, Path(config.data_dir) if config.data_dir else None)
        images, labels = pool.batch(config.batch_size, config.batch_seed)
        if config.inputs == "noise":
            generator = torch.Generator().manual_seed(int(config.batch_seed))
            images = torch.randn(images.shape, generator=generator)
        self.device = torch.device(config.device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        get_proxy(config.proxy)
        self.num_classes = NUM_CLASSES[config.dataset]

    def score(self, arch: str, init_seed: int = 0, proxy: str | None = None) -> ScoreRecord:
        """Score the cell written ``arch`` with ``proxy`` (default: the configured one).

        Every candidate fault is a status in the record; an unknown proxy raises ``UnknownNameError``.
        """
        proxy = proxy or self.config.proxy
        function = get_proxy(proxy)
        start = time.perf_counter()
        arch_key = -1
        try:
            cell = self.space.parse(arch)
            arch_key = int(self.space.key(cell))
            model = build_seeded(self.space, cell, self.num_classes, init_seed, self.device)
            built = time.perf_counter()
            value = float(function(model, self.images, self.labels))
            done = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - a candidate's fault is an outcome, not a crash of the worker
            message = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            return ScoreRecord(
                self.config.key(arch_key, init_seed, proxy),
                arch,
                math.nan,
                0.0,
                time.perf_counter() - start,
                Status.FAILED,
                message,
                str(self.device),
                time.time(),
            )
        return ScoreRecord(
            self.config.key(arch_key, init_seed, proxy),
            arch,
            value,
            built - start,
            done - built,
            Status.of_value(value),
            "",
            str(self.device),
            time.time(),
        )
