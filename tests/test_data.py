from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from scoring.data import NORMALISATION, cifar_python_pool, embedded_pool, load_batch, load_pool
from search_spaces import BenchmarkDataError, UnknownNameError


@pytest.mark.parametrize("dataset, size", [("cifar10", 32), ("cifar100", 32), ("imagenet16", 16)])
def test_embedded_pools(dataset, size):
    pool = embedded_pool(dataset)
    assert pool.images.shape == (960, 3, size, size) and pool.images.dtype == np.uint8
    x, y = pool.batch(128, seed=0)
    assert x.shape == (128, 3, size, size) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert abs(float(x.mean())) < 0.5 and 0.6 < float(x.std()) < 1.5  # normalised
    assert int(y.min()) >= 0


def test_batches_are_deterministic_and_seed_dependent():
    a, _ = load_batch("cifar10", 64, seed=3)
    b, _ = load_batch("cifar10", 64, seed=3)
    c, _ = load_batch("cifar10", 64, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    idx = embedded_pool("cifar10").indices(128, 0)
    assert len(np.unique(idx)) == 128


def test_normalisation_uses_standard_mean_std():
    pool = embedded_pool("cifar10")
    x, _ = pool.batch(4, 0)
    idx = pool.indices(4, 0)
    mean, std = NORMALISATION["cifar10"]
    expected = (pool.images[idx][:, 0].astype(np.float32) / 255 - mean[0]) / std[0]
    np.testing.assert_allclose(x[:, 0].numpy(), expected, rtol=1e-6)


def test_bad_requests():
    with pytest.raises(UnknownNameError, match="svhn"):
        load_batch("svhn")
    with pytest.raises(ValueError, match="batch_size"):
        load_batch("cifar10", 5000)


def _write_cifar10_dir(root, n_per_batch=20):
    root.mkdir()
    images = embedded_pool("cifar10").images
    for i in range(1, 6):
        rows = images[(i - 1) * n_per_batch : i * n_per_batch].reshape(n_per_batch, -1)
        with open(root / f"data_batch_{i}", "wb") as fh:
            pickle.dump({b"data": rows, b"labels": list(range(n_per_batch))}, fh)


def test_reads_cifar_python_batches(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    _write_cifar10_dir(root)
    pool = load_pool("cifar10", root)
    assert len(pool) == 100
    np.testing.assert_array_equal(pool.images, embedded_pool("cifar10").images[:100])
    x, _ = pool.batch(16, 0)
    assert x.shape == (16, 3, 32, 32)


def test_cifar_directory_errors(tmp_path):
    with pytest.raises(BenchmarkDataError, match="does not exist"):
        cifar_python_pool(tmp_path / "nope", "cifar10")
    with pytest.raises(BenchmarkDataError, match="missing CIFAR batch file"):
        cifar_python_pool(tmp_path, "cifar10")
    (tmp_path / "train").write_bytes(b"not a pickle")
    with pytest.raises(BenchmarkDataError, match="not a CIFAR python batch"):
        cifar_python_pool(tmp_path, "cifar100")
    with pytest.raises(UnknownNameError):
        cifar_python_pool(tmp_path, "imagenet16")
