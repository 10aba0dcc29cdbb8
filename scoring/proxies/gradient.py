"""Proxies from the gradient of the cross-entropy loss against the batch's labels.

L is the mean cross-entropy of the batch against its real labels, the network in train mode
(batch-statistics BatchNorm); sums run over the weights W of every ``nn.Conv2d`` and ``nn.Linear``
(biases and BatchNorm parameters are not counted). A label that is not below the head's number of
classes raises ``ValueError``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from scoring.proxies._common import cross_entropy, hooks, layer_weights
from scoring.proxies.facts import register_proxy

ZICO_SPLITS = 2
"""ZiCo's number of sub-batches (the batch is cut into this many consecutive equal parts)."""


def _loss_grads(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, create_graph: bool = False):
    loss = cross_entropy(model, images, labels)
    weights = layer_weights(model)
    return weights, torch.autograd.grad(loss, weights, create_graph=create_graph, allow_unused=True)


def _grads_or_zeros(weights, grads):
    return [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads)]


@register_proxy(
    labels=True, cost="backward", summary="sum of Frobenius norms of dL/dW", source="Abdelfattah et al., ICLR 2021"
)
def grad_norm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """sum over layers of the Frobenius norm of dL/dW (Abdelfattah et al., ICLR 2021)."""
    weights, grads = _loss_grads(model, images, labels)
    return float(sum(g.norm() for g in _grads_or_zeros(weights, grads)))


@register_proxy(labels=True, cost="backward", summary="sum of abs(W * dL/dW)", source="Lee et al., ICLR 2019")
def snip(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """sum of abs(W * dL/dW) (SNIP, Lee et al., ICLR 2019)."""
    weights, grads = _loss_grads(model, images, labels)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, _grads_or_zeros(weights, grads))))


@register_proxy(labels=True, cost="backward", summary="sum of W * dL/dW", source="Abdelfattah et al., ICLR 2021")
def plain(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """sum of W * dL/dW without the absolute value ("plain", Abdelfattah et al., ICLR 2021)."""
    weights, grads = _loss_grads(model, images, labels)
    return float(sum((w.detach() * g).sum() for w, g in zip(weights, _grads_or_zeros(weights, grads))))


@register_proxy(labels=True, cost="many_backward", summary="-sum of W * (H g)", source="Wang et al., ICLR 2020")
def grasp(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """-sum of W * (H g), H g the exact Hessian-gradient product of L on one batch, no temperature
    (GraSP, Wang et al., ICLR 2020)."""
    weights, grads = _loss_grads(model, images, labels)
    g = [t.detach() for t in _grads_or_zeros(weights, grads)]
    _, grads2 = _loss_grads(model, images, labels, create_graph=True)
    z = sum((a * b).sum() for a, b in zip(grads2, g) if a is not None)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return 0.0
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    return float(-sum((w.detach() * h).sum() for w, h in zip(weights, _grads_or_zeros(weights, hg))))


@register_proxy(
    labels=True,
    cost="backward",
    summary="sum over ReLU outputs of 0.5 mean_n (sum_spatial a dL/da)^2",
    source="Turner et al., ICLR 2020",
)
def fisher(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """sum over ``nn.ReLU`` outputs a and channels c of 0.5 * mean_n (sum_spatial a * dL/da)^2
    (Turner et al., ICLR 2020, as Abdelfattah et al. compute it)."""
    acts: list[torch.Tensor] = []

    def keep(_module, _inputs, out):
        if out.requires_grad:
            out.retain_grad()
            acts.append(out)

    with hooks((m for m in model.modules() if isinstance(m, nn.ReLU)), keep):
        cross_entropy(model, images, labels).backward()
    total = 0.0
    for a in acts:
        if a.grad is None:
            continue
        prod = (a * a.grad).detach()
        per_channel = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        total += float(0.5 * per_channel.pow(2).mean(0).sum())
    return total


@register_proxy(
    labels=True,
    cost="backward",
    summary="sum over layers of log sum_w mean abs(g_w) / std(g_w) over two half-batches",
    source="Li et al., ICLR 2023",
)
def zico(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """ZiCo (Li et al., ICLR 2023): sum over layers of log( sum_w mean_s|g_w| / std_s(g_w) ).

    g_w is the gradient of the loss with respect to one weight w of the layer, on each of
    :data:`ZICO_SPLITS` consecutive sub-batches s of the batch (gradients zeroed between
    sub-batches, as the authors' ``getzico`` does per batch); std is the population standard
    deviation (numpy's ``np.std``). Weights whose gradient does not vary are left out, and so is a
    layer whose sum is 0, as in the authors' code. ``-inf`` when no layer contributes.

    Choices: the paper takes the statistics over training batches; here the one batch is split in
    two halves (as the NAS-Bench-Suite / MeCo code does). Needs at least ``ZICO_SPLITS`` images.
    """
    n = images.shape[0]
    if n < ZICO_SPLITS:
        raise ValueError(f"zico needs at least {ZICO_SPLITS} images, got {n}")
    per_split = []
    for s in range(ZICO_SPLITS):
        lo, hi = s * n // ZICO_SPLITS, (s + 1) * n // ZICO_SPLITS
        weights, grads = _loss_grads(model, images[lo:hi], labels[lo:hi])
        per_split.append([g.detach().reshape(-1).double() for g in _grads_or_zeros(weights, grads)])
    total = 0.0
    contributed = 0
    for layer in zip(*per_split):
        stacked = torch.stack(layer)
        std = stacked.std(dim=0, correction=0)
        keep = std != 0
        ratio = float((stacked.abs().mean(dim=0)[keep] / std[keep]).sum())
        if ratio != 0:
            total += math.log(ratio)
            contributed += 1
    return total if contributed else -math.inf
