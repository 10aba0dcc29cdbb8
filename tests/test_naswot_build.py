"""Seeded construction: the thread-safe build and the build-ahead thread give today's weights."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from scoring.cells import BuildAhead, build_seeded, build_seeded_threadsafe
from search_spaces import InvalidArchitectureError, available_spaces, get_space


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


@pytest.mark.parametrize("name", available_spaces())
def test_threadsafe_build_gives_the_seeded_weights_and_leaves_the_global_rng(name):
    space = get_space(name)
    arch = space.sample(np.random.default_rng(3))
    state = torch.random.get_rng_state()
    private = build_seeded_threadsafe(space, arch, 10, init_seed=11)
    assert torch.equal(state, torch.random.get_rng_state())
    assert_same_weights(private, build_seeded(space, arch, 10, init_seed=11))
    with torch.random.fork_rng(devices=[]):  # what build_seeded has always meant
        torch.manual_seed(11)
        assert_same_weights(private, space.build(arch, 10))


def test_other_threads_draws_do_not_change_a_threadsafe_build(nb201):
    arch = nb201.from_index(500)
    expected = build_seeded(nb201, arch, 10, init_seed=2)
    stop = threading.Event()

    def draw_from_the_global_rng():
        while not stop.is_set():
            torch.rand(64)

    drawer = threading.Thread(target=draw_from_the_global_rng)
    drawer.start()
    try:
        got = [build_seeded_threadsafe(nb201, arch, 10, init_seed=2) for _ in range(3)]
    finally:
        stop.set()
        drawer.join()
    for model in got:
        assert_same_weights(model, expected)


def test_build_ahead_yields_every_pair_in_order_with_the_seeded_weights(nb201):
    rng = np.random.default_rng(0)
    pairs = [(nb201.sample(rng), seed) for seed in (4, 5, 4)]
    with BuildAhead(nb201, 10) as ahead:
        built = list(ahead.iterate(pairs))
    assert [(b.arch, b.init_seed) for b in built] == pairs
    for b, (arch, seed) in zip(built, pairs, strict=True):
        assert b.wait_s >= 0
        assert_same_weights(b.model, build_seeded(nb201, arch, 10, seed))
    with BuildAhead(nb201, 10) as ahead:
        assert list(ahead.iterate([])) == []


class _FailsOnBad:
    """A space stand-in whose build refuses the cell "bad"."""

    def build(self, arch, num_classes):
        if arch == "bad":
            raise InvalidArchitectureError("bad cell")
        return torch.nn.Linear(2, num_classes)


def test_build_ahead_raises_a_failed_construction_at_its_turn():
    with BuildAhead(_FailsOnBad(), 3) as ahead:
        seen = ahead.iterate([("good", 0), ("bad", 0), ("good", 1)])
        assert next(seen).arch == "good"
        with pytest.raises(InvalidArchitectureError, match="bad cell"):
            next(seen)
