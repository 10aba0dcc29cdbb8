"""Image minibatches for scoring: the embedded real images, or a user's CIFAR / ImageNet16 batches.

The embedded ImageNet16 pool holds 960 downsampled-ImageNet training images from all 1000 classes;
only 106 of them belong to the 120 classes of ImageNet16-120. Label-free scores (naswot) use all of
them; loss-based proxies draw from the 106 in-class images only (``labelled=True``) and fail clearly
when a batch needs more. A user's real ImageNet16 batch files (``train_data_batch_1`` ...) are read
with ``--data-dir`` and keep the 120 classes, as NAS-Bench-201 does.

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

from search_spaces.core.errors import BenchmarkDataError, UnknownNameError

# Per-channel mean/std in [0, 1] units, as in the NAS-Bench-201 data pipeline.
NORMALISATION: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    "cifar100": ((129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255)),
    "imagenet16": ((122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255)),
}
NUM_CLASSES: dict[str, int] = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
# (channels, height, width) of one image of each dataset (ImageNet16-120: 16x16)
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
    "imagenet16": (3, 16, 16),
}
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

    @property
    def num_classes(self) -> int:
        """Classes of the benchmark task (ImageNet16-120: 120)."""
        return NUM_CLASSES[self.dataset]

    def in_class(self) -> np.ndarray:
        """Pool indices whose label belongs to the task's classes (all of them except for ImageNet16)."""
        return np.flatnonzero(self.labels < self.num_classes)

    def indices(self, batch_size: int, seed: int, labelled: bool = False) -> np.ndarray:
        """The pool indices of the minibatch for ``seed`` (sorted draw without replacement).

        With ``labelled``, only images of the task's classes are drawn.

        Raises:
            ValueError: ``batch_size`` is larger than the images available (the message says why).
        """
        candidates = self.in_class() if labelled else np.arange(len(self))
        if not 1 <= batch_size <= len(candidates):
            if labelled and len(candidates) < len(self):
                raise ValueError(
                    f"a loss-based proxy needs images of the {self.num_classes} classes of {self.dataset}: only "
                    f"{len(candidates)} of the {len(self)} images of {self.source} are, fewer than the batch size "
                    f"{batch_size}; use --batch-size {len(candidates)} or less, or --data-dir with the real batches"
                )
            raise ValueError(
                f"batch_size must be in [1, {len(candidates)}] for this pool of {self.source}, got {batch_size}"
            )
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x1A4E]))
        if not labelled or len(candidates) == len(self):
            return np.sort(rng.choice(len(self), size=batch_size, replace=False))
        return np.sort(candidates[rng.choice(len(candidates), size=batch_size, replace=False)])

    def batch(self, batch_size: int = 128, seed: int = 0, labelled: bool = False):
        """``(images, labels)`` as torch tensors: float32 normalised NCHW and int64 labels.

        ``labelled``: draw only images of the task's classes (for loss-based proxies)."""
        import torch

        idx = self.indices(batch_size, seed, labelled)
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


IMAGENET16_TRAIN_FILES = tuple(f"train_data_batch_{i}" for i in range(1, 11))


def _field(batch: dict, name: str):
    for key in (name, name.encode()):
        if key in batch:
            return batch[key]
    return None


def imagenet16_pool(directory: str | Path, max_classes: int = 120) -> ImagePool:
    """The ImageNet16-120 training images of a downsampled-ImageNet 16x16 directory.

    Reads the ``train_data_batch_1`` .. ``train_data_batch_10`` files present (python pickles with
    ``data`` (n, 768) uint8 rows, channel-planar, and 1-indexed ``labels``) and keeps the images of
    classes 1..120 with labels shifted to 0..119, as NAS-Bench-201's ImageNet16-120 does.

    Raises:
        BenchmarkDataError: the directory, or every batch file, is missing, or a file is not in that format.
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise BenchmarkDataError(f"ImageNet16 directory {str(root)!r} does not exist")
    files = [root / name for name in IMAGENET16_TRAIN_FILES if (root / name).is_file()]
    if not files:
        raise BenchmarkDataError(
            f"{str(root)!r} has no ImageNet16 batch file (expected train_data_batch_1 .. train_data_batch_10)"
        )
    images, labels = [], []
    for file in files:
        batch = _read_pickle(file)
        data, raw = _field(batch, "data"), _field(batch, "labels")
        if data is None or raw is None:
            raise BenchmarkDataError(f"{str(file)!r} lacks 'data' or 'labels': is it an ImageNet16 batch file?")
        data = np.asarray(data, dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 16 * 16:
            raise BenchmarkDataError(f"{str(file)!r}: expected (n, 768) uint8 rows, got {data.shape}")
        label = np.asarray(raw, dtype=np.int64) - 1
        keep = (label >= 0) & (label < max_classes)
        images.append(data[keep].reshape(-1, 3, 16, 16))
        labels.append(label[keep])
    return ImagePool("imagenet16", np.concatenate(images), np.concatenate(labels), f"ImageNet16 batches at {root}")


def load_pool(dataset: str, data_dir: str | Path | None = None) -> ImagePool:
    """The embedded pool of ``dataset``, or the user's directory when ``data_dir`` is given (CIFAR
    python batches for cifar10/cifar100, downsampled-ImageNet batches for imagenet16)."""
    if data_dir is None:
        return embedded_pool(dataset)
    if dataset == "imagenet16":
        return imagenet16_pool(data_dir)
    return cifar_python_pool(data_dir, dataset)


def load_batch(
    dataset: str = "cifar10",
    batch_size: int = 128,
    seed: int = 0,
    data_dir: str | Path | None = None,
    labelled: bool = False,
):
    """One deterministic minibatch ``(images, labels)``; see :meth:`ImagePool.batch`."""
    return load_pool(dataset, data_dir).batch(batch_size, seed, labelled)
