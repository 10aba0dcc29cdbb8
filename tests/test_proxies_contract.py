"""The contract every registered proxy keeps, on tiny NAS-Bench-201 networks."""

from __future__ import annotations

import math

import pytest
import torch

from scoring.proxies import available_proxies, get_proxy
from search_spaces import get_space
from search_spaces.nb201.space import NB201Cell

MIXED = NB201Cell(("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect"))
EMPTY = NB201Cell(("none",) * 6)


@pytest.fixture(scope="module")
def tiny():
    return get_space("nb201", channels=4, cells_per_stage=1)


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(3)
    images = torch.randn(8, 3, 16, 16, generator=g)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    return images, labels


def build(space, cell, seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return space.build(cell, 10)


def no_hooks(model) -> bool:
    return all(
        not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks)
        for m in model.modules()
    )


@pytest.mark.parametrize("name", available_proxies())
def test_contract_on_a_tiny_nb201_network(name, tiny, batch):
    images, labels = batch
    model = build(tiny, MIXED)
    weights = [p.detach().clone() for p in model.parameters()]
    model.eval()
    first = get_proxy(name)(model, images, labels)
    assert type(first) is float and not math.isnan(first) and first != math.inf
    assert no_hooks(model)
    assert all(p.grad is None for p in model.parameters())
    assert not any(m.training for m in model.modules()), "eval mode must be restored"
    assert all(torch.equal(w, p) for w, p in zip(weights, model.parameters())), "weights must not change"
    model.train()
    second = get_proxy(name)(model, images, labels)
    assert all(m.training for m in model.modules()), "train mode must be restored"
    assert second == pytest.approx(first, rel=1e-6, abs=1e-9) or (first == second == -math.inf)
    assert get_proxy(name)(build(tiny, MIXED), images, labels) == pytest.approx(first, rel=1e-6, abs=1e-9) or (
        first == -math.inf
    )


@pytest.mark.parametrize("name", available_proxies())
@pytest.mark.parametrize("kind", ["empty cell", "zero weights"])
def test_degenerate_networks_give_a_number_or_minus_inf(name, kind, tiny, batch):
    images, labels = batch
    model = build(tiny, EMPTY if kind == "empty cell" else MIXED)
    if kind == "zero weights":
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
    value = get_proxy(name)(model, images, labels)
    assert type(value) is float and not math.isnan(value) and value != math.inf
    assert no_hooks(model) and all(p.grad is None for p in model.parameters())


def test_a_gradient_the_caller_left_is_cleared(tiny, batch):
    images, labels = batch
    model = build(tiny, MIXED)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    get_proxy("naswot")(model, images, labels)
    assert all(p.grad is None for p in model.parameters())
