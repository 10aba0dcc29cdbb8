"""Image minibatches for scoring: the embedded real images, or a user's CIFAR python batches.

Images are stored as uint8 and normalised at load with each dataset's standard mean and std (the
values the NAS-Bench-201 training pipeline uses). A minibatch is chosen without replacement from a
seed, so the same ``(dataset, batch_size, seed)`` always gives the same images; no augmentation.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from search_spaces.errors import BenchmarkDataError, UnknownNameError

# Per-channel mean/std in [0, 1] units, as in the NAS-Bench-201 data pipeline.
NORMALISATION: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    "cifar100": ((129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255)),
    "imagenet16": ((122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255)),
}
NUM_CLASSES: dict[str, int] = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
DATASETS: tuple[str, ...] = tuple(NORMALISATION)


@dataclass(frozen=True)
class ImagePool:
    """A pool of uint8 NCHW images with labels, from which minibatches are drawn."""

    dataset: str
    images: np.ndarray  # uint8, (n, 3, h, w)
    labels: np.ndarray  # int64, (n,)
    source: str

    def __post_init__(self) -> None:
        if self.dataset not in NORMALISATION:
            raise UnknownNameError("dataset", self.dataset, DATASETS)
        if self.images.ndim != 4 or self.images.shape[1] != 3 or self.images.dtype != np.uint8:
            raise BenchmarkDataError(f"images must be uint8 (n, 3, h, w), got {self.images.dtype} {self.images.shape}")
        if len(self.labels) != len(self.images):
            raise BenchmarkDataError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.images)

    def indices(self, batch_size: int, seed: int) -> np.ndarray:
        """The pool indices of the minibatch for ``seed`` (sorted draw without replacement)."""
        if not 1 <= batch_size <= len(self):
            raise ValueError(f"batch_size must be in [1, {len(self)}] for this pool of {self.source}, got {batch_size}")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x1A4E]))
        return np.sort(rng.choice(len(self), size=batch_size, replace=False))

    def batch(self, batch_size: int = 128, seed: int = 0):
        """``(images, labels)`` as torch tensors: float32 normalised NCHW and int64 labels."""
        import torch

        idx = self.indices(batch_size, seed)
        mean, std = NORMALISATION[self.dataset]
        x = self.images[idx].astype(np.float32) / 255.0
        x = (x - np.asarray(mean, np.float32)[:, None, None]) / np.asarray(std, np.float32)[:, None, None]
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(self.labels[idx].astype(np.int64))


@cache
def embedded_pool(dataset: str) -> ImagePool:
    """The real training images shipped with naswot (960 per dataset; see ``scoring/images/PROVENANCE.md``)."""
    if dataset not in NORMALISATION:
        raise UnknownNameError("dataset", dataset, DATASETS)
    with resources.as_file(resources.files("scoring") / "images" / f"{dataset}.npz") as path:
        with np.load(path) as data:
            images, labels = data["images"], data["labels"].astype(np.int64)
    return ImagePool(dataset, images, labels, f"embedded {dataset}")


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="bytes")
    except FileNotFoundError:
        raise BenchmarkDataError(f"missing CIFAR batch file {str(path)!r}") from None
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise BenchmarkDataError(f"{str(path)!r} is not a CIFAR python batch: {exc}") from exc


def cifar_python_pool(directory: str | Path, dataset: str) -> ImagePool:
    """The training set of a standard ``cifar-10-batches-py`` or ``cifar-100-python`` directory.

    Raises:
        BenchmarkDataError: the directory or a batch file is missing or not in the python format.
        UnknownNameError: ``dataset`` is not cifar10 or cifar100.
    """
    root = Path(directory).expanduser()
    if dataset not in ("cifar10", "cifar100"):
        raise UnknownNameError("CIFAR dataset", dataset, ("cifar10", "cifar100"))
    if not root.is_dir():
        raise BenchmarkDataError(f"CIFAR directory {str(root)!r} does not exist")
    if dataset == "cifar10":
        files, label_key = [root / f"data_batch_{i}" for i in range(1, 6)], b"labels"
    else:
        files, label_key = [root / "train"], b"fine_labels"
    images, labels = [], []
    for file in files:
        batch = _read_pickle(file)
        if b"data" not in batch or label_key not in batch:
            raise BenchmarkDataError(
                f"{str(file)!r} lacks b'data' or {label_key!r}: is {str(root)!r} a {dataset} python directory?"
            )
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise BenchmarkDataError(f"{str(file)!r}: expected (n, 3072) uint8 rows, got {data.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    return ImagePool(dataset, np.concatenate(images), np.concatenate(labels), f"{dataset} python batches at {root}")


def load_pool(dataset: str, data_dir: str | Path | None = None) -> ImagePool:
    """The embedded pool of ``dataset``, or the user's CIFAR python directory when ``data_dir`` is given."""
    if data_dir is None:
        return embedded_pool(dataset)
    return cifar_python_pool(data_dir, dataset)


def load_batch(dataset: str = "cifar10", batch_size: int = 128, seed: int = 0, data_dir: str | Path | None = None):
    """One deterministic minibatch ``(images, labels)``; see :meth:`ImagePool.batch`."""
    return load_pool(dataset, data_dir).batch(batch_size, seed)
