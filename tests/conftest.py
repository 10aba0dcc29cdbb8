"""Shared fixtures. Ray is started once per session, only by the tests that need it."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


@pytest.fixture(scope="session")
def nb201():
    from search_spaces import get_space

    return get_space("nb201")


@pytest.fixture(scope="session")
def nb201_table(nb201):
    from search_spaces.benchmarks import EmbeddedNB201Table

    return EmbeddedNB201Table(nb201)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (2 CPUs, no dashboard)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
