"""The proxies added from 2021-2025 papers against hand or independent numpy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from scoring.proxies import (
    PROXY_SEED,
    az_complexity,
    az_expressivity,
    az_nas_scores,
    az_progressivity,
    az_trainability,
    epe_nas,
    flops,
    l2_norm,
    linear_regions,
    log_synflow,
    meco,
    meco_opt,
    ntk_cond,
    plain,
    reg_swap,
    swap,
    trainable_layers,
    vkdnw,
    zen,
    zico,
)
from scoring.proxies.activation import REG_SWAP_MU, REG_SWAP_SIGMA, count_unique_rows, relu_codes
from scoring.proxies.tenas import REGION_CROP, REGION_SAMPLES, random_crops
from scoring.proxies.vkdnw import vkdnw_jacobian

X = torch.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.7], [2.0, -1.0]])
Y = torch.tensor([0, 1, 1, 0])
W = np.array([[0.2, -0.4], [0.5, 0.1]])


def linear_net(weight):
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
    return nn.Sequential(layer)


def ce_grad(weight, x, y):
    logits = x @ weight.T
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return (p - np.eye(weight.shape[0])[y]).T @ x / len(x)


def seeded(module_fn, seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return module_fn()


def test_plain_and_l2_norm_by_hand():
    g = ce_grad(W, X.numpy().astype(np.float64), Y.numpy())
    assert plain(linear_net(W), X, Y) == pytest.approx((W * g).sum(), rel=1e-5)
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
        net[2].weight.copy_(torch.tensor([[1.0, 0.0]]))
    assert l2_norm(net, X, Y) == pytest.approx(5.0 + 1.0)


def test_trainable_layers_counts_conv_and_linear_with_gradients():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))
    assert trainable_layers(net, X, Y) == 2
    net[4].weight.requires_grad_(False)
    assert trainable_layers(net, X, Y) == 1


def test_log_synflow_of_a_linear_chain():
    w1 = np.array([[1.0, -2.0, 3.0], [0.5, 1.0, -1.0]])
    w2 = np.array([[2.0, -1.0]])
    net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(w1))
        net[1].weight.copy_(torch.tensor(w2))
    a1, a2 = np.abs(w1), np.abs(w2)
    d1 = np.repeat(a2.T, 3, axis=1)  # dR/dW1[i, j] = |w2|[i] for the all-ones input
    d2 = (a1 @ np.ones(3))[None, :]  # dR/dW2[0, i] = (|w1| 1)[i]
    expected = (a1 * np.log1p(d1)).sum() + (a2 * np.log1p(d2)).sum()
    assert log_synflow(net, torch.randn(5, 3), Y) == pytest.approx(expected, rel=1e-9)


def test_zico_from_two_half_batch_gradients():
    x, y = X.numpy().astype(np.float64), Y.numpy()
    g = np.stack([ce_grad(W, x[:2], y[:2]), ce_grad(W, x[2:], y[2:])]).reshape(2, -1)
    std, mean_abs = g.std(axis=0), np.abs(g).mean(axis=0)
    keep = std != 0
    assert zico(linear_net(W), X, Y) == pytest.approx(math.log((mean_abs[keep] / std[keep]).sum()), rel=1e-5)


def test_epe_nas_against_numpy_jacobians():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 3))
    w1, b1, w2, _ = [p.detach().numpy().astype(np.float64) for p in net.parameters()]
    x = torch.randn(6, 2)
    labels = torch.tensor([0, 1, 0, 1, 1, 2])  # class 2 has one image: left out
    xn = x.numpy().astype(np.float64)
    on = (xn @ w1.T + b1 > 0).astype(np.float64)
    jac = (on * (np.ones(3) @ w2)) @ w1  # d(sum of outputs)/dx per image
    expected = 0.0
    for c in (0, 1):
        corr = np.corrcoef(jac[labels.numpy() == c])
        expected += abs(np.log(np.abs(corr) + 1e-5).sum())
    assert epe_nas(net, x, labels) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="labels"):
        epe_nas(net, x, None)


def conv1x1(weight):
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.as_tensor(weight, dtype=torch.float32)[:, :, None, None])
    return conv


def min_eig_corr(features):
    corr = np.corrcoef(features)
    corr[~np.isfinite(corr)] = 0
    return np.linalg.eigvalsh(corr)[0]


def test_meco_sums_each_distinct_feature_map_once():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3))
    net = nn.Sequential(conv1x1(w), nn.ReLU(), nn.Identity())  # Identity and the root repeat the ReLU's tensor
    images = torch.tensor(rng.normal(size=(2, 3, 3, 3)), dtype=torch.float32)
    x0 = images[0].numpy().astype(np.float64).reshape(3, -1)
    conv_out = w @ x0
    expected = min_eig_corr(conv_out) + min_eig_corr(np.maximum(conv_out, 0))
    assert meco(net, images, None) == pytest.approx(expected, abs=1e-5)
    assert meco_opt(net, images, None) == pytest.approx(expected, abs=1e-5)  # 4 <= 8 channels: all of them


def test_meco_opt_scales_a_channel_subset():
    net = seeded(lambda: nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()))
    images = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    value = meco_opt(net, images, None)
    assert math.isfinite(value) and value >= 0
    assert value == meco_opt(net, images, None)


def test_swap_counts_distinct_unit_patterns_by_hand():
    w = np.array([[1.0], [-1.0], [2.0]])  # unit 2 has the same on/off pattern as unit 0
    net = nn.Sequential(conv1x1(w), nn.ReLU())
    x = torch.tensor([[1.0, -1.0], [-2.0, 3.0], [0.5, 0.5]])[:, None, None, :]  # (3, 1, 1, 2)
    codes = (w[None, :, :] * x.numpy()[:, :, 0, :] > 0).reshape(3, -1)  # (samples, units)
    expected = len({tuple(col) for col in codes.T})
    assert swap(net, x, None) == expected == 4
    thousands = 3 / 1e3
    factor = math.exp(-((thousands - REG_SWAP_MU) ** 2) / REG_SWAP_SIGMA)
    assert reg_swap(net, x, None) == pytest.approx(expected * factor)


def test_count_unique_rows_past_one_packed_word():
    rng = np.random.default_rng(2)
    rows = rng.integers(0, 2, size=(40, 130)).astype(bool)
    rows[5] = rows[7]
    rows[11] = rows[7]
    assert count_unique_rows(torch.tensor(rows)) == len({r.tobytes() for r in rows}) == 38
    assert count_unique_rows(torch.zeros((3, 0), dtype=torch.bool)) == 1


def test_linear_regions_counts_patterns_of_the_crops():
    images = torch.randn(3, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    crops = random_crops(images, REGION_SAMPLES, REGION_CROP, torch.Generator().manual_seed(PROXY_SEED))
    assert crops.shape == (REGION_SAMPLES, 1, REGION_CROP, REGION_CROP)
    windows = images.unfold(2, REGION_CROP, 1).unfold(3, REGION_CROP, 1)  # every crop position
    assert all((windows == c[0]).flatten(-2).all(-1).any() for c in crops[:20])
    net = nn.Sequential(conv1x1(np.array([[1.0], [-0.5]])), nn.ReLU())
    codes = (crops.numpy()[:, 0] > 0).reshape(REGION_SAMPLES, -1)
    codes = np.concatenate([codes, ~codes & (crops.numpy()[:, 0] != 0).reshape(REGION_SAMPLES, -1)], axis=1)
    assert linear_regions(net, images, None) == len({r.tobytes() for r in codes})
    assert relu_codes(net, crops).shape == (REGION_SAMPLES, 2 * REGION_CROP**2)


def test_ntk_cond_of_a_linear_model():
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    net = linear_net(np.array([[0.3, -0.2], [0.1, 0.4], [1.0, 1.0]]))
    # d(sum of outputs)/dW = 1 x^T, so NTK = K x_i . x_j: its conditioning is that of X X^T
    eig = np.linalg.eigvalsh(x.numpy().astype(np.float64) @ x.numpy().T)
    assert eig[0] < 1e-9 * eig[-1]  # 3 images in 2 dimensions: singular
    assert ntk_cond(net, x, None) == -math.inf
    eig2 = np.linalg.eigvalsh(x[:2].numpy().astype(np.float64) @ x[:2].numpy().T)
    assert ntk_cond(net, x[:2], None) == pytest.approx(-eig2[-1] / eig2[0], rel=1e-5)


def test_zen_of_a_batchnorm_and_pool_network():
    net = nn.Sequential(nn.BatchNorm2d(3), nn.AdaptiveAvgPool2d(1))
    images = torch.zeros(4, 3, 5, 5)
    rng = torch.Generator().manual_seed(PROXY_SEED)  # zen draws x then eps from this generator
    x = torch.randn(images.shape, generator=rng).double().numpy()
    eps = torch.randn(images.shape, generator=rng).double().numpy()

    def bn(t):
        mean = t.mean(axis=(0, 2, 3), keepdims=True)
        return (t - mean) / np.sqrt(t.var(axis=(0, 2, 3), keepdims=True) + 1e-5)

    delta = np.abs(bn(x) - bn(x + 0.01 * eps)).reshape(4, -1).sum(axis=1).mean()
    sigma = math.sqrt(x.var(axis=(0, 2, 3)).mean())
    assert zen(net, images, None) == pytest.approx(math.log(delta) + math.log(sigma), rel=1e-4)


def entropy_of_spectrum(feature):
    flat = feature - feature.mean(axis=0)
    s = np.clip(np.linalg.eigvalsh(flat.T @ flat / flat.shape[0]), 0, None)
    p = s / s.sum()
    return -(p * np.log(p + 1e-8)).sum()


def test_az_nas_scores_of_a_small_mlp():
    net = seeded(lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4)), seed=5)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(2))
    w1, b1, w2, b2 = [p.detach().numpy().astype(np.float64) for p in net.parameters()]
    xn = x.numpy().astype(np.float64)
    f1 = xn @ w1.T + b1
    f2 = np.maximum(f1, 0)
    f3 = f2 @ w2.T + b2
    entropies = np.array([entropy_of_spectrum(f) for f in (f1, f2, f3)])
    assert az_expressivity(net, x, None) == pytest.approx(entropies.sum(), rel=1e-5)
    assert az_progressivity(net, x, None) == pytest.approx(np.diff(entropies).min(), rel=1e-4, abs=1e-6)
    rng = torch.Generator().manual_seed(PROXY_SEED)  # Rademacher vectors for the last block first
    scores = []
    for f_out, vjp in ((f3, lambda g: g @ w2), (f2, lambda g: g * (f1 > 0))):
        g_out = (torch.randint(0, 2, f_out.shape, generator=rng) * 2 - 1).double().numpy()
        sigma = np.linalg.svd(vjp(g_out).T @ g_out / len(xn), compute_uv=False).max()
        scores.append(2 - sigma - 1 / (sigma + 1e-6))
    assert az_trainability(net, x, None) == pytest.approx(np.mean(scores), rel=1e-5)
    images = torch.zeros(1, 3, 8, 8)
    conv = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.ReLU())
    assert az_complexity(conv, images, None) == flops(conv, images, None)


def test_the_entropy_scores_do_not_depend_on_the_trainability_pass():
    net = small_conv_net()
    x = torch.randn(6, 2, 8, 8, generator=torch.Generator().manual_seed(4))
    full, entropies_only = az_nas_scores(net, x), az_nas_scores(net, x, trainability=False)
    assert (entropies_only.expressivity, entropies_only.progressivity) == (full.expressivity, full.progressivity)
    assert math.isnan(entropies_only.trainability) and not math.isnan(full.trainability)
    assert all(p.grad is None for p in net.parameters())


def test_az_trainability_is_minus_inf_for_an_identity_block():
    net = nn.Sequential(nn.Linear(3, 3), nn.Identity(), nn.Linear(3, 2))
    assert az_trainability(net, torch.randn(4, 3), None) == -math.inf


def small_conv_net():
    return seeded(
        lambda: nn.Sequential(
            nn.Conv2d(2, 3, 3, stride=2, padding=1),
            nn.BatchNorm2d(3),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(3, 4),
        ),
        seed=7,
    )


def test_vkdnw_jacobian_matches_autodiff_of_the_sampled_weights():
    net = small_conv_net()
    x = torch.randn(5, 2, 6, 6, generator=torch.Generator().manual_seed(3))
    jacobian, logits = vkdnw_jacobian(net, x)
    reference = small_conv_net().eval()  # fresh statistics, eval mode, as vkdnw scores
    named = dict(reference.named_parameters())
    first = {k: v.detach().reshape(-1)[:1] for k, v in named.items()}

    def logits_of(sampled):
        params = {k: torch.cat([sampled[k], v.detach().reshape(-1)[1:]]).reshape(v.shape) for k, v in named.items()}
        return functional_call(reference, params, (x,))

    jac = jacrev(logits_of)(first)
    expected = torch.cat([jac[k].reshape(5, 4, 1) for k in named], dim=2)
    assert jacobian.shape == (5, 4, len(named))
    torch.testing.assert_close(jacobian, expected, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(logits, logits_of(first).detach())
    # the score: entropy of the normalised deciles of the Fisher information's eigenvalues
    j = expected.double().numpy()
    p = torch.softmax(logits.double(), 1).numpy() * 0.95 + 0.05 / 4
    fim = sum(j[n].T @ (np.diag(p[n]) - np.outer(p[n], p[n])) @ j[n] for n in range(5)) / 5
    q = np.quantile(np.clip(np.linalg.eigvalsh(fim), 0, None), np.arange(1, 10) / 10)
    q = q / (np.abs(q).sum() + 1e-10)
    assert vkdnw(net, x, None) == pytest.approx(-(q * np.log(q + 1e-10)).sum(), rel=1e-4)
