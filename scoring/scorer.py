"""A stateful cell scorer: loads the space, the image batch and the score function once.

This is what a scoring worker holds (a Ray actor in ``cluster/``, or inline in tests and sweeps).
Faults of a candidate (an exception while building or scoring, a non-finite score) come back as a
:class:`~scoring.store.ScoreRecord` with a status, never as an exception or a silent 0.
"""

from __future__ import annotations

import hashlib
import math
import time
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from scoring.allocator import retain_freed_memory
from scoring.cells import build_seeded
from scoring.data import NUM_CLASSES, load_pool
from scoring.hardware import describe_device
from scoring.latency import LATENCY_PROXY, forward_latency_ms
from scoring.proxies import get_proxy, uses_labels
from scoring.store import ScoreKey, ScoreRecord
from search_spaces import UnknownNameError, get_space
from search_spaces.core.status import Status

INPUT_KINDS = ("images", "noise")


@lru_cache(maxsize=16)
def _batch(dataset: str, data_dir: str | None, batch_size: int, batch_seed: int, inputs: str, labelled: bool):
    pool = load_pool(dataset, Path(data_dir) if data_dir else None)
    images, labels = pool.batch(batch_size, batch_seed, labelled)
    if inputs == "noise":
        generator = torch.Generator().manual_seed(int(batch_seed))
        images = torch.randn(images.shape, generator=generator)
    digest = hashlib.sha256()
    digest.update(images.numpy().tobytes())
    digest.update(labels.numpy().tobytes())
    return images, labels, digest.hexdigest()[:20]


@dataclass(frozen=True)
class ScorerConfig:
    """What a scorer needs to know; validated on construction (``ValueError`` / ``UnknownNameError``).

    Attributes:
        space_options: keyword options of the space's constructor that change its networks (e.g.
            ``(("stem_channels", 64),)``); part of the store key.
        inputs: ``"images"`` (the real minibatch) or ``"noise"`` (Gaussian of the same shape; ablation).
    """

    space: str = "nb201"
    dataset: str = "cifar10"
    batch_size: int = 128
    batch_seed: int = 0
    data_dir: str | None = None
    device: str = "cpu"
    proxy: str = "naswot"
    inputs: str = "images"
    space_options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2, got {self.batch_size}")
        if self.dataset not in NUM_CLASSES:
            raise UnknownNameError("dataset", self.dataset, tuple(NUM_CLASSES))
        get_proxy(self.proxy)
        if self.inputs not in INPUT_KINDS:
            raise UnknownNameError("input kind", self.inputs, INPUT_KINDS)
        object.__setattr__(self, "space_options", tuple(sorted(tuple(p) for p in self.space_options)))

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES[self.dataset]

    @property
    def build(self) -> str:
        """The store key's ``build`` field: the space options, ``name=value`` joined by commas."""
        return ",".join(f"{k}={v}" for k, v in self.space_options)

    @property
    def store_proxy(self) -> str:
        """The proxy field of the store key (the input kind is part of what a score depends on)."""
        return self.store_name(self.proxy)

    def store_name(self, proxy: str) -> str:
        return proxy if self.inputs == "images" else f"{proxy}+{self.inputs}"

    def batch(self, proxy: str | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
        """``(images, labels, content hash)`` of the minibatch ``proxy`` is scored on (cached).

        Loss-based proxies get a batch of the task's classes only (see ``ImagePool.batch``).

        Raises:
            BenchmarkDataError: the data directory is missing or unreadable.
            ValueError: the pool has too few (in-class) images for the batch size.
        """
        labelled = _labelled(proxy or self.proxy)
        return _batch(self.dataset, self.data_dir, self.batch_size, self.batch_seed, self.inputs, labelled)

    def images_hash(self, proxy: str | None = None) -> str:
        """Content hash of the minibatch ``proxy`` is scored on (loads it once; see :meth:`batch`)."""
        return self.batch(proxy)[2]

    def key(self, arch_key: str | int, init_seed: int, proxy: str | None = None) -> ScoreKey:
        """The store key of cell ``arch_key`` scored with ``proxy`` (default: the configured one)."""
        proxy = proxy or self.proxy
        return ScoreKey(
            space=self.space,
            arch_key=str(arch_key),
            dataset=self.dataset,
            images=self.images_hash(proxy),
            batch_size=self.batch_size,
            batch_seed=self.batch_seed,
            init_seed=int(init_seed),
            proxy=self.store_name(proxy),
            num_classes=self.num_classes,
            build=self.build,
        )


def _labelled(proxy: str) -> bool:
    """Whether ``proxy`` is scored on a batch of the task's classes only (a latency never is)."""
    return proxy != LATENCY_PROXY and uses_labels(proxy)


FALLBACK_DEVICE = "cpu"  # where a cell is scored when its device runs out of memory


class CellScorer:
    """Scores cells of one space on one fixed minibatch (per proxy kind: see ``ScorerConfig.batch``).

    ``retain_memory``: on a CPU device, tune this process's malloc to keep freed memory
    (:func:`scoring.allocator.retain_freed_memory`; changes the whole process, so off unless the
    caller owns the process, as the scoring pools and their actors do).

    Raises (on construction):
        BenchmarkDataError / ValueError: the images cannot be loaded for this configuration.
    """

    def __init__(self, config: ScorerConfig, retain_memory: bool = False) -> None:
        self.config = config
        if retain_memory and torch.device(config.device).type == "cpu":
            retain_freed_memory()
        self.space = get_space(config.space, **dict(config.space_options))
        self.device = torch.device(config.device)
        self.hardware = describe_device(self.device)
        self._batches: dict[bool, tuple[torch.Tensor, torch.Tensor]] = {}
        self._images(config.proxy)
        self.num_classes = config.num_classes

    def _images(self, proxy: str) -> tuple[torch.Tensor, torch.Tensor]:
        labelled = _labelled(proxy)
        if labelled not in self._batches:
            images, labels, _hash = self.config.batch(proxy)
            self._batches[labelled] = (images.to(self.device), labels.to(self.device))
        return self._batches[labelled]

    def _compute(self, function, cell, init_seed: int, proxy: str, device: torch.device) -> tuple[float, float]:
        """(value, build seconds) of ``cell`` built and scored on ``device``."""
        start = time.perf_counter()
        images, labels = self._images(proxy)
        if device != self.device:
            images, labels = images.to(device), labels.to(device)
        model = build_seeded(self.space, cell, self.num_classes, init_seed, device)
        built = time.perf_counter() - start
        return float(function(model, images, labels)), built

    def _compute_with_fallback(self, function, cell, init_seed: int, proxy: str) -> tuple[float, float, str]:
        """(value, build seconds, device) of ``cell``: on ``self.device``; after an out-of-memory error
        the device's cache is freed and it is tried once more, then the cell is scored on the CPU (the
        same score, slower: splitting the minibatch would change BatchNorm's batch statistics, so the
        codes). ``device`` says where it was scored (e.g. ``cpu (cuda out of memory)``)."""
        for attempt in range(2):
            try:
                value, built = self._compute(function, cell, init_seed, proxy, self.device)
                return value, built, str(self.device)
            except torch.OutOfMemoryError:
                _free_device_memory(self.device)
                if attempt == 1 or self.device.type == "cpu":
                    break
        if self.device.type == "cpu":
            raise MemoryError(f"out of memory scoring on the CPU ({self.hardware})")
        value, built = self._compute(function, cell, init_seed, proxy, torch.device("cpu"))
        return value, built, f"{FALLBACK_DEVICE} ({self.device.type} out of memory)"

    def score(self, arch: str, init_seed: int = 0, proxy: str | None = None) -> ScoreRecord:
        """Score the cell written ``arch`` with ``proxy`` (default: the configured one).

        Every candidate fault is a status in the record; an out-of-memory error on the device is
        retried once after freeing its cache, then scored on the CPU (the record's ``device`` says so).
        ``proxy`` may also be :data:`scoring.latency.LATENCY_PROXY`: the record's score is then the
        cell's forward latency in ms on this scorer's device. An unknown proxy raises ``UnknownNameError``.
        """
        proxy = proxy or self.config.proxy
        function = forward_latency_ms if proxy == LATENCY_PROXY else get_proxy(proxy)
        start = time.perf_counter()
        arch_key = "?"
        try:
            cell = self.space.parse(arch)
            arch_key = self.space.key(cell)
            value, built_s, device = self._compute_with_fallback(function, cell, init_seed, proxy)
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
                self.hardware,
            )
        return ScoreRecord(
            self.config.key(arch_key, init_seed, proxy),
            arch,
            value,
            built_s,
            done - start - built_s,
            Status.of_value(value),
            "",
            device,
            time.time(),
            self.hardware,
        )


def scored_after_fallback(record: ScoreRecord) -> bool:
    """Whether ``record`` was scored on the CPU after its device ran out of memory."""
    return record.device.startswith(f"{FALLBACK_DEVICE} (")


def _free_device_memory(device: torch.device) -> None:
    """Release the cached blocks of ``device``'s allocator (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
