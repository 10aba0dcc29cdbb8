"""VKDNW (Tybl & Neumann, "Variance of Knowledge of Deep Network Weights", CVPR 2025).

The Fisher information of the network's predictive distribution with respect to a sample of its
weights: one weight per parameter tensor (its first element, as the authors' code takes it), for
the first :data:`VKDNW_TENSORS` parameter tensors in ``named_parameters()`` order:

    F = (1/N) sum_n J_n^T (diag(p_n) - p_n p_n^T) J_n

J_n the (K, P) Jacobian of image n's logits with respect to the P sampled weights, p_n the softmax
smoothed as the authors do, (1 - alpha) softmax + alpha / K with alpha = 0.05. The score is the
entropy -sum_j q_j log(q_j + 1e-10) of the deciles (10th ... 90th percentiles, linear
interpolation) of F's eigenvalues, normalised to sum to 1: how evenly the network's "knowledge"
spreads over its weights.

The network is a deep copy in eval mode with freshly reset BatchNorm statistics (the authors
score a fresh network in eval mode), so images do not interact and J is exact per image. Each
sampled weight's per-image derivative is read from the layer's input and the gradient of its
output, one backward pass per class (``nn.Conv2d`` with zero padding, ``nn.Linear`` and
BatchNorm with running statistics; parameters of other module types are not sampled).

Choices: the authors' code multiplies the Jacobian by the Cholesky factor L of the covariance
(cov = L L^T) from the left, which gives J^T L^T L J; here F uses the covariance itself,
J^T (L L^T) J, the Fisher information as the paper defines it. ``-inf`` when F is zero.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scoring.proxies._common import fresh_statistics_copy, hooks, model_device
from scoring.proxies.facts import register_proxy

VKDNW_TENSORS = 128
"""At most this many parameter tensors are sampled (the authors' NAS-Bench-201 ``params_grad_len``)."""

VKDNW_ALPHA = 0.05
"""Smoothing of the predicted class probabilities (the authors' value)."""

_ENTROPY_EPS = 1e-10
_DECILES = tuple(k / 10 for k in range(1, 10))
_BATCHNORM = nn.modules.batchnorm._BatchNorm


def _supported(module: nn.Module) -> bool:
    if isinstance(module, nn.Conv2d):
        return module.padding_mode == "zeros"
    if isinstance(module, _BATCHNORM):
        return module.running_mean is not None
    return isinstance(module, nn.Linear)


def _sampled(net: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, "weight" | "bias") for each sampled parameter tensor, in ``named_parameters`` order."""
    owners = {}
    for module in net.modules():
        for attr, p in module.named_parameters(recurse=False):
            owners[id(p)] = (module, attr)
    chosen = []
    for _name, p in list(net.named_parameters())[:VKDNW_TENSORS]:
        module, attr = owners[id(p)]
        if p.requires_grad and attr in ("weight", "bias") and _supported(module):
            chosen.append((module, attr))
    return chosen


def _first_element_derivative(module: nn.Module, attr: str, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """(N,) derivative of the backpropagated quantity with respect to ``module.<attr>`` [0, ...],
    per image, from the module's input ``x`` and the gradient ``delta`` of its output."""
    if isinstance(module, nn.Linear):
        d0 = delta[..., 0]
        if attr == "bias":
            return d0.reshape(d0.shape[0], -1).sum(dim=1)
        return (d0 * x[..., 0]).reshape(d0.shape[0], -1).sum(dim=1)
    d0 = delta[:, 0] if delta.dim() > 1 else delta
    if attr == "bias":
        return d0.reshape(d0.shape[0], -1).sum(dim=1)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        pick = torch.zeros((1, 1, kh, kw), dtype=x.dtype, device=x.device)
        pick[0, 0, 0, 0] = 1.0
        shifted = F.conv2d(x[:, :1], pick, stride=module.stride, padding=module.padding, dilation=module.dilation)
        return (d0 * shifted[:, 0]).reshape(d0.shape[0], -1).sum(dim=1)
    mean, var = module.running_mean, module.running_var
    assert isinstance(mean, torch.Tensor) and isinstance(var, torch.Tensor)  # BatchNorm with running statistics
    eps = float(module.eps)  # type: ignore[arg-type]  # a BatchNorm's eps is a float
    x0 = (x[:, 0] - mean[0]) / torch.sqrt(var[0] + eps)
    return (d0 * x0).reshape(d0.shape[0], -1).sum(dim=1)


def vkdnw_jacobian(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(J, logits)``: the (N, K, P) Jacobian of the logits of a fresh-statistics eval-mode copy of ``model`` with
    respect to the sampled weights (module docstring); the caller's model is untouched."""
    net = fresh_statistics_copy(model)
    chosen = _sampled(net)
    modules = list(dict.fromkeys(m for m, _ in chosen))
    calls: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {id(m): [] for m in modules}

    def keep(module, inputs, output):
        calls[id(module)].append((inputs[0].detach(), output))

    with hooks(modules, keep):
        logits = net(images.to(model_device(net)))
    flat = [(id(m), i) for m in modules for i in range(len(calls[id(m)]))]
    outputs = [calls[key][i][1] for key, i in flat]
    columns = []
    for k in range(logits.shape[1]):
        deltas = torch.autograd.grad(logits[:, k].sum(), outputs, retain_graph=True, allow_unused=True)
        grad_of = {pair: d for pair, d in zip(flat, deltas)}
        col = []
        for module, attr in chosen:
            total = torch.zeros(logits.shape[0], dtype=logits.dtype, device=logits.device)
            for i, (x, _out) in enumerate(calls[id(module)]):
                d = grad_of[(id(module), i)]
                if d is not None:
                    total = total + _first_element_derivative(module, attr, x, d)
            col.append(total)
        columns.append(torch.stack(col, dim=1) if col else logits.new_zeros((logits.shape[0], 0)))
    return torch.stack(columns, dim=1).detach(), logits.detach()


def fisher_information(jacobian: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """(P, P) float64: (1/N) sum_n J_n^T (diag(p_n) - p_n p_n^T) J_n with smoothed p_n."""
    k = logits.shape[1]
    p = torch.softmax(logits.double(), dim=1) * (1 - VKDNW_ALPHA) + VKDNW_ALPHA / k
    cov = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    j = jacobian.double()
    return torch.einsum("nkp,nkl,nlq->pq", j, cov, j) / j.shape[0]


def decile_entropy(eigenvalues: torch.Tensor) -> float:
    """-sum q log(q + 1e-10) of the deciles of ``eigenvalues`` normalised to sum 1; -inf if all 0."""
    lam = eigenvalues.double().clamp_min(0)
    q = torch.quantile(lam, torch.tensor(_DECILES, dtype=torch.float64))
    total = float(q.abs().sum())
    if total == 0:
        return -math.inf
    q = q / (total + _ENTROPY_EPS)
    return float(-(q * torch.log(q + _ENTROPY_EPS)).sum())


@register_proxy(
    cost="many_backward",
    summary="entropy of the deciles of the Fisher information spectrum of sampled weights",
    source="Tybl & Neumann, CVPR 2025",
)
def vkdnw(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """VKDNW entropy (see the module docstring); higher is better."""
    jacobian, logits = vkdnw_jacobian(model, images)
    if jacobian.shape[2] == 0:
        return -math.inf
    return decile_entropy(torch.linalg.eigvalsh(fisher_information(jacobian, logits)))
