"""Shared fixtures. Ray is started once per session, only by the tests that need it.

Ray's token authentication stays on, as for users: a local ``ray.init`` generates its token in
``~/.ray/auth_token`` and sets ``RAY_AUTH_MODE=token`` for this process and its children.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


@pytest.fixture(scope="session")
def nb201():
    from search_spaces import get_space

    return get_space("nb201")


@pytest.fixture(scope="session")
def nb201_table(nb201):
    from search_spaces.nb201.benchmark import EmbeddedNB201Table

    return EmbeddedNB201Table(nb201)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


LOCAL_RAY = {
    "address": "local",
    "num_cpus": 2,
    "include_dashboard": False,
    "log_to_driver": False,
    "configure_logging": False,
}


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (2 CPUs, no dashboard, token authentication on).

    A test that must join another Ray (``tests/test_cluster_multinode.py``) shuts this one down and
    starts it again with :data:`LOCAL_RAY` when it is done.
    """
    import ray

    if not ray.is_initialized():
        ray.init(**LOCAL_RAY)
    yield ray
    ray.shutdown()
