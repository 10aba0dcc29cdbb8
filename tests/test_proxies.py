"""Each proxy against a hand computation or its definition, on tiny networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau, spearmanr
from torch import nn

from scoring.correlation import correlate, rank_ensemble
from scoring.naswot import naswot_score
from scoring.proxies import PROXIES, fisher, flops, get_proxy, grad_norm, grasp, jacob_cov, params, snip, synflow
from search_spaces import UnknownNameError

torch.set_default_dtype(torch.float32)


def linear_net(weight, bias=False):
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
    return nn.Sequential(layer)


X = torch.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.7]])
Y = torch.tensor([0, 1, 1])
W = np.array([[0.2, -0.4], [0.5, 0.1]])


def ce_grad(weight, x, y):
    """dL/dW of mean cross-entropy of softmax(x W^T), by hand."""
    logits = x @ weight.T
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(weight.shape[0])[y]
    return (p - onehot).T @ x / len(x)


def test_unknown_proxy_lists_known():
    with pytest.raises(UnknownNameError, match="synflow"):
        get_proxy("no_such_proxy")
    assert set(PROXIES) >= {"naswot", "grad_norm", "synflow", "snip", "grasp", "fisher", "jacob_cov", "params", "flops"}


def test_grad_norm_and_snip_by_hand():
    g = ce_grad(W, X.numpy(), Y.numpy())
    assert grad_norm(linear_net(W), X, Y) == pytest.approx(np.linalg.norm(g), rel=1e-5)
    assert snip(linear_net(W), X, Y) == pytest.approx(np.abs(W * g).sum(), rel=1e-5)


def test_grasp_matches_an_explicit_hessian():
    net = nn.Sequential(nn.Linear(2, 3, bias=False), nn.Tanh(), nn.Linear(3, 2, bias=False))
    torch.manual_seed(0)
    weights = [net[0].weight, net[2].weight]
    flat0 = torch.cat([w.detach().reshape(-1) for w in weights])

    def loss_of(flat):
        w1, w2 = flat[:6].reshape(3, 2), flat[6:].reshape(2, 3)
        return nn.functional.cross_entropy(torch.tanh(X @ w1.T) @ w2.T, Y)

    h = torch.autograd.functional.hessian(loss_of, flat0)
    g = torch.autograd.functional.jacobian(loss_of, flat0)
    expected = float(-(flat0 * (h @ g)).sum())
    assert grasp(net, X, Y) == pytest.approx(expected, rel=1e-4)


def test_fisher_by_hand():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    w1, b1, w2, b2 = [p.detach().numpy().astype(np.float64) for p in net.parameters()]
    x = X.numpy().astype(np.float64)
    a = np.maximum(x @ w1.T + b1, 0)
    logits = a @ w2.T + b2
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dlogits = (p - np.eye(2)[Y.numpy()]) / len(x)
    da = dlogits @ w2
    expected = 0.5 * ((a * da) ** 2).mean(0).sum()
    assert fisher(net, X, Y) == pytest.approx(expected, rel=1e-4)


def test_synflow_of_a_linear_chain_and_caller_untouched():
    w1 = torch.tensor([[1.0, -2.0, 3.0], [0.5, 1.0, -1.0]])
    w2 = torch.tensor([[2.0, -1.0]])
    net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(w1)
        net[1].weight.copy_(w2)
    # R = |w2| |w1| 1 = 2*6 + 1*2.5 = 14.5; each layer contributes R (degree-1 homogeneous): 29
    assert synflow(net, torch.randn(5, 3), Y) == pytest.approx(29.0)
    assert torch.equal(net[0].weight, w1) and net[0].weight.grad is None


def test_synflow_turns_batchnorm_off():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.BatchNorm1d(2), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 0.0]]))
        net[2].weight.copy_(torch.tensor([[1.0, 3.0]]))
        net[1].running_var.fill_(100.0)  # must be ignored: fresh statistics
    scale = 1 / math.sqrt(1 + net[1].eps)
    r = (1 * 2 + 3 * 2) * scale  # R; only the two linear weights are summed, each contributing R
    assert synflow(net, torch.randn(4, 2), Y) == pytest.approx(2 * r, rel=1e-9)


def test_jacob_cov_of_a_linear_model():
    net = linear_net(W)
    # every sample's input Jacobian is W^T 1: the correlation matrix is all ones, eigenvalues (n, 0, 0)
    eig = np.array([0.0, 0.0, 3.0])
    k = 1e-5
    expected = -np.sum(np.log(eig + k) + 1 / (eig + k))
    assert jacob_cov(net, X, Y) == pytest.approx(expected, rel=1e-6)


def test_params_and_flops_of_known_networks(nb201, nb201_table):
    assert params(nn.Linear(3, 2), X, Y) == 8
    cell = nb201.from_index(11)
    net = nb201.build(cell, 10)
    assert params(net, X, Y) == round(nb201_table.params_m(cell) * 1e6)
    nats = {0: 15.64737, 11: 113.95137, 284: 11.71521}  # NATS-Bench get_cost_info(i, 'cifar10')['flops']
    for index, mflops in nats.items():
        assert flops(nb201.build(nb201.from_index(index), 10), torch.zeros(2, 3, 32, 32), None) / 1e6 == pytest.approx(
            mflops, abs=1e-5
        )


def test_naswot_proxy_is_the_score(nb201):
    torch.manual_seed(0)
    net = nb201.build(nb201.from_index(3), 10)
    x = torch.randn(8, 3, 32, 32)
    assert get_proxy("naswot")(net, x, None) == naswot_score(net, x)


def test_correlation_equals_scipy_on_fixed_data():
    rng = np.random.default_rng(0)
    v, a = rng.normal(size=50), rng.normal(size=50)
    c = correlate(v, a)
    assert c.kendall_tau == pytest.approx(kendalltau(v, a).statistic)
    assert c.spearman_rho == pytest.approx(spearmanr(v, a).statistic)
    assert c.cells == 50 and c.excluded == 0
    v2 = v.copy()
    v2[:3] = np.nan
    c2 = correlate(v2, a)
    assert c2.cells == 47 and c2.excluded == 3
    assert c2.kendall_tau == pytest.approx(kendalltau(v[3:], a[3:]).statistic)
    v3 = v.copy()
    v3[0] = -np.inf  # ranks last, like the lowest finite value would
    v4 = v.copy()
    v4[0] = v.min() - 1
    assert correlate(v3, a).kendall_tau == pytest.approx(correlate(v4, a).kendall_tau)
    with pytest.raises(ValueError):
        correlate([1, 2], [1, 2, 3])


def test_rank_ensemble_by_hand():
    total = rank_ensemble({"a": np.array([1.0, 3.0, 2.0]), "b": np.array([10.0, np.nan, 30.0])})
    np.testing.assert_array_equal(total, [1 + 2, 3 + 1, 2 + 3])
    with pytest.raises(ValueError):
        rank_ensemble({})
