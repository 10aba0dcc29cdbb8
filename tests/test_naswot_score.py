from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from scoring.cells import build_seeded, score_cell
from scoring.data import load_batch
from scoring.naswot import KernelAccumulator, hamming_kernel, log_abs_det, naswot_kernel, naswot_score, relu_hooks
from scoring.reference import paper_naswot_score


def brute_force_kernel(codes: np.ndarray) -> np.ndarray:
    n, units = codes.shape
    k = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            k[i, j] = units - np.count_nonzero(codes[i] != codes[j])
    return k


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 9), st.integers(1, 70), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_kernel_equals_hamming_definition(n, units, seed, p_on):
    codes = np.random.default_rng(seed).random((n, units)) < p_on
    expected = brute_force_kernel(codes)
    for as_type in (torch.bool, torch.int8, torch.float32):
        got = hamming_kernel(torch.from_numpy(codes).to(as_type)).numpy()
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.lists(st.integers(1, 40), min_size=1, max_size=4), st.integers(0, 2**32 - 1))
def test_accumulated_layers_equal_concatenated_codes(n, widths, seed):
    rng = np.random.default_rng(seed)
    acc = KernelAccumulator()
    layers = [torch.from_numpy(rng.standard_normal((n, w)).astype(np.float32)) for w in widths]
    for x in layers:
        acc.add(x, torch.relu(x))
    codes = torch.cat([x > 0 for x in layers], dim=1).numpy()
    np.testing.assert_array_equal(acc.result().numpy(), brute_force_kernel(codes))
    assert acc.num_units == sum(widths)


def test_same_input_reuse_counts_twice_and_inplace_change_is_not_reused():
    x = torch.randn(4, 10)
    acc = KernelAccumulator()
    acc.add(x, torch.relu(x))
    acc.add(x, torch.relu(x))
    assert acc.num_reused == 1
    x.neg_()  # same tensor object, new version: must not reuse
    acc.add(x, torch.relu(x))
    assert acc.num_reused == 1
    x.neg_()
    codes = torch.cat([x > 0, x > 0, -x > 0], dim=1).numpy()
    np.testing.assert_array_equal(acc.result().numpy(), brute_force_kernel(codes))


@pytest.fixture(scope="module")
def batch():
    images, _ = load_batch("cifar10", 32, seed=0)
    return images


@pytest.fixture(scope="module")
def net(nb201):
    cell = nb201.parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    )
    return build_seeded(nb201, cell, 10, init_seed=0)


def test_score_is_batch_permutation_invariant(net, batch):
    perm = torch.from_numpy(np.random.default_rng(0).permutation(len(batch)))
    a, b = naswot_score(net, batch), naswot_score(net, batch[perm])
    assert math.isfinite(a)
    assert a == pytest.approx(b, rel=1e-7)


def test_kernel_matches_brute_force_on_a_real_network(net, batch):
    captured = []
    handles = [
        m.register_forward_hook(lambda _m, i, _o: captured.append((i[0] > 0).reshape(8, -1)))
        for m in net.modules()
        if isinstance(m, nn.ReLU)
    ]
    try:
        kernel = naswot_kernel(net, batch[:8], channels_last=False)
    finally:
        for h in handles:
            h.remove()
    codes = torch.cat(captured, dim=1).numpy()
    np.testing.assert_array_equal(kernel.numpy(), brute_force_kernel(codes))


def test_duplicated_images_give_minus_inf(net, batch):
    dup = torch.cat([batch[:16], batch[:1]])
    assert naswot_score(net, dup) == -math.inf


def test_log_abs_det():
    assert log_abs_det(torch.eye(3) * 2) == pytest.approx(3 * math.log(2))
    assert log_abs_det(torch.ones(3, 3)) == -math.inf
    assert log_abs_det(torch.zeros(2, 2)) == -math.inf
    with pytest.raises(ValueError, match="square"):
        log_abs_det(torch.ones(2, 3))


def test_agrees_with_the_papers_recipe(nb201, batch):
    rng = np.random.default_rng(1)
    for i in range(3):
        model = build_seeded(nb201, nb201.sample(rng), 10, init_seed=i)
        ours, paper = naswot_score(model, batch), paper_naswot_score(model, batch)
        assert ours == pytest.approx(paper, rel=1e-5)


def test_hooks_removed_and_mode_restored(net, batch):
    net.eval()
    naswot_score(net, batch)
    assert not net.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_hooks_removed_when_forward_raises():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()

        def forward(self, x):
            self.relu(x)
            raise RuntimeError("boom")

    model = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        naswot_score(model, torch.randn(4, 3))
    assert not model.relu._forward_hooks
    assert model.training


def test_functional_relu_is_not_seen_and_empty_kernel_raises():
    model = nn.Sequential(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="no nn.ReLU"):
        naswot_score(model, torch.randn(4, 3))
    acc = KernelAccumulator()
    with relu_hooks(nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.ReLU(inplace=True)), acc) as count:
        assert count == 2


def test_bad_batch_raises(net):
    with pytest.raises(ValueError, match="at least 2"):
        naswot_score(net, torch.randn(1, 3, 32, 32))


def test_score_cell_is_reproducible_and_leaves_global_rng(nb201, batch):
    cell = nb201.from_index(123)
    state = torch.random.get_rng_state()
    a = score_cell(nb201, cell, batch, 10, init_seed=5)
    b = score_cell(nb201, cell, batch, 10, init_seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    assert a.score == b.score and a.finite and a.build_s > 0 and a.score_s > 0
