"""Training and validation images for real training (``cluster.trainable``), with the NAS-Bench-201
augmentation.

Three sources, one shape (:class:`TrainingData`: uint8 NCHW images and int64 labels, split into a
training and a validation part):

* the embedded images (960 real training images per dataset, :func:`scoring.data.embedded_pool`),
  optionally limited to the first ``limit`` of a seeded shuffle, split in half: for demos and tests;
* a user's CIFAR python directory (``cifar-10-batches-py`` / ``cifar-100-python``): its 50,000
  training images split 25,000 / 25,000 into training and validation, the sizes of NAS-Bench-201's
  ``cifar10-valid`` split (drawn with our own seeded permutation, not the benchmark's index file);
* a user's ``.npz`` file (``images`` NCHW, ``images_uint8_nchw`` or ``images_uint8_nhwc``, and
  ``labels``), split in half, e.g. the 10,000 CIFAR-10 test images of the GPU check.

Normalisation uses :data:`scoring.data.NORMALISATION`. :func:`augment` is NAS-Bench-201's training
augmentation (random crop with 4-pixel zero padding, horizontal flip), vectorised on a torch batch.
No function here touches a global random state: every draw takes an explicit seed or generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scoring.data import NORMALISATION, NUM_CLASSES, cifar_python_pool, embedded_pool
from search_spaces.core.errors import BenchmarkDataError, UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    import torch

TRAINING_DATASETS: tuple[str, ...] = ("cifar10", "cifar100")
CIFAR_VALID_SIZE = 25_000  # NAS-Bench-201's cifar10-valid: 25k training, 25k validation images
PAD = 4


@dataclass(frozen=True)
class DataSpec:
    """Which images a trial trains on; hashable, so each process loads them once per spec.

    ``source`` is ``"embedded"``, ``"cifar"`` (``path`` = a CIFAR python directory) or ``"npz"``
    (``path`` = an ``.npz`` file). ``limit`` keeps the first ``limit`` images of a seeded shuffle
    (embedded and npz only); ``seed`` fixes that shuffle and the split.
    """

    dataset: str = "cifar10"
    source: str = "embedded"
    path: str | None = None
    limit: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in TRAINING_DATASETS:
            raise UnknownNameError("training dataset", self.dataset, TRAINING_DATASETS)
        if self.source not in ("embedded", "cifar", "npz"):
            raise UnknownNameError("training data source", self.source, ("embedded", "cifar", "npz"))
        if self.source != "embedded" and not self.path:
            raise ValueError(f"training data source {self.source!r} needs a path")
        if self.limit is not None and self.limit < 4:
            raise ValueError(f"limit must be at least 4 images, got {self.limit}")


@dataclass(frozen=True)
class TrainingData:
    """Training and validation images (uint8 NCHW) and labels (int64) of one dataset."""

    dataset: str
    train_images: np.ndarray
    train_labels: np.ndarray
    valid_images: np.ndarray
    valid_labels: np.ndarray
    source: str

    def __post_init__(self) -> None:
        for name in ("train", "valid"):
            images, labels = getattr(self, f"{name}_images"), getattr(self, f"{name}_labels")
            if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.uint8:
                raise BenchmarkDataError(f"{name} images must be uint8 (n, 3, h, w), got {images.dtype} {images.shape}")
            if len(images) != len(labels) or len(images) == 0:
                raise BenchmarkDataError(f"{len(images)} {name} images but {len(labels)} labels")
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise BenchmarkDataError(f"{name} labels of {self.source} outside [0, {self.num_classes})")

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES[self.dataset]


def split(dataset: str, images: np.ndarray, labels: np.ndarray, n_valid: int, seed: int, source: str) -> TrainingData:
    """A seeded random split of ``images`` into training and ``n_valid`` validation images."""
    if not 1 <= n_valid < len(images):
        raise ValueError(f"n_valid must be in [1, {len(images)}), got {n_valid}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5E1D]))
    order = rng.permutation(len(images))
    valid, train = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    return TrainingData(
        dataset,
        np.ascontiguousarray(images[train]),
        labels[train].astype(np.int64),
        np.ascontiguousarray(images[valid]),
        labels[valid].astype(np.int64),
        source,
    )


def _limited(images: np.ndarray, labels: np.ndarray, limit: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if limit is None or limit >= len(images):
        return images, labels
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x11A1]))
    keep = np.sort(rng.permutation(len(images))[:limit])
    return images[keep], labels[keep]


def read_npz_images(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 NCHW, labels int64)`` of an ``.npz`` file.

    Raises:
        BenchmarkDataError: the file is missing, unreadable or has no known image and label arrays.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchmarkDataError(f"image file {str(path)!r} does not exist")
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise BenchmarkDataError(f"{str(path)!r} is not a readable .npz file: {exc}") from exc
    if "labels" not in arrays:
        raise BenchmarkDataError(f"{str(path)!r} has no 'labels' array (has: {', '.join(arrays)})")
    if "images_uint8_nhwc" in arrays:
        images = np.transpose(arrays["images_uint8_nhwc"], (0, 3, 1, 2))
    elif "images_uint8_nchw" in arrays or "images" in arrays:
        images = arrays["images_uint8_nchw"] if "images_uint8_nchw" in arrays else arrays["images"]
    else:
        raise BenchmarkDataError(
            f"{str(path)!r} has no 'images', 'images_uint8_nchw' or 'images_uint8_nhwc' array (has: {', '.join(arrays)})"
        )
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise BenchmarkDataError(
            f"{str(path)!r}: expected uint8 images with 3 channels, got {images.dtype} {images.shape}"
        )
    return np.ascontiguousarray(images), np.asarray(arrays["labels"]).astype(np.int64)


@cache
def load_training_data(spec: DataSpec) -> TrainingData:
    """The training and validation images of ``spec`` (cached per process).

    Raises:
        BenchmarkDataError: a user's directory or file is missing or malformed.
        UnknownNameError: an unknown dataset or source (from :class:`DataSpec`).
    """
    if spec.source == "embedded":
        pool = embedded_pool(spec.dataset)
        images, labels = _limited(pool.images, pool.labels, spec.limit, spec.seed)
        return split(spec.dataset, images, labels, len(images) // 2, spec.seed, f"{pool.source} ({len(images)} images)")
    if spec.source == "npz":
        images, labels = read_npz_images(str(spec.path))
        images, labels = _limited(images, labels, spec.limit, spec.seed)
        return split(spec.dataset, images, labels, len(images) // 2, spec.seed, f"{spec.path} ({len(images)} images)")
    pool = cifar_python_pool(str(spec.path), spec.dataset)
    if len(pool) != 2 * CIFAR_VALID_SIZE:
        raise BenchmarkDataError(f"{pool.source} holds {len(pool)} training images, expected {2 * CIFAR_VALID_SIZE}")
    return split(spec.dataset, pool.images, pool.labels, CIFAR_VALID_SIZE, spec.seed, f"{pool.source}, 25k/25k split")


def normalise(images: torch.Tensor, dataset: str) -> torch.Tensor:
    """uint8 NCHW images (any device) as float32, normalised with ``dataset``'s mean and std."""
    import torch

    mean, std = NORMALISATION[dataset]
    mean_t = torch.tensor(mean, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    return (images.float().div_(255.0) - mean_t) / std_t


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """NAS-Bench-201's training augmentation of a uint8 NCHW batch: zero-pad by 4 pixels, crop a
    random window of the original size, flip horizontally with probability 1/2.

    ``generator`` (on the images' device) supplies every random draw and is advanced; the input is
    not modified.
    """
    import torch

    n, _c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (PAD, PAD, PAD, PAD))
    dev = images.device
    dy = torch.randint(0, 2 * PAD + 1, (n,), generator=generator, device=dev)
    dx = torch.randint(0, 2 * PAD + 1, (n,), generator=generator, device=dev)
    flip = torch.rand((n,), generator=generator, device=dev) < 0.5
    rows = dy[:, None] + torch.arange(h, device=dev)[None, :]
    ar = torch.arange(w, device=dev)[None, :]
    cols = dx[:, None] + torch.where(flip[:, None], (w - 1) - ar, ar)
    batch = torch.arange(n, device=dev)[:, None, None, None]
    chans = torch.arange(3, device=dev)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]
