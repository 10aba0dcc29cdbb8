"""Proxies from the input Jacobian of the network (one backward pass of the summed outputs)."""

from __future__ import annotations

import math

import torch
from torch import nn

from scoring.proxies._common import model_device
from scoring.proxies.facts import register_proxy

JACOB_K = 1e-5
"""The small constant k both jacob_cov and EPE-NAS add (the authors' value)."""

EPE_MANY_CLASSES = 100
"""EPE-NAS switches from summing per-class scores to summing their pairwise differences above
this many classes in the head (the authors' rule)."""


def jacobian_rows(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, input size) float64: row n is d(sum of the outputs of image n)/d(image n), the network
    in train mode (one backward pass of the batch's summed outputs, as the authors compute it)."""
    model.train()
    x = images.to(model_device(model)).clone().requires_grad_(True)
    y = model(x)
    (jac,) = torch.autograd.grad(y.sum(), x)
    return jac.reshape(jac.shape[0], -1).double()


@register_proxy(
    cost="backward",
    summary="-sum log(l + k) + 1/(l + k) over eigenvalues of the input-Jacobian correlation",
    source="Mellor et al., arXiv v1 (2020)",
)
def jacob_cov(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """-sum_i log(l_i + k) + 1/(l_i + k) over the eigenvalues l_i of the correlation matrix of the
    per-image input Jacobians, k = 1e-5 (Mellor et al., arXiv v1, 2020). ``-inf`` when the
    correlation is undefined (a constant Jacobian row)."""
    corr = torch.corrcoef(jacobian_rows(model, images))
    if not torch.isfinite(corr).all():
        return -math.inf
    eig = torch.linalg.eigvalsh(corr)
    return float(-torch.sum(torch.log(eig + JACOB_K) + 1.0 / (eig + JACOB_K)))


@register_proxy(
    cost="backward",
    summary="jacob_cov's Jacobians correlated per class: sum_c abs(sum log(abs(R_c) + k))",
    source="Lopes et al., ICANN 2021",
)
def epe_nas(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """EPE-NAS (Lopes et al., ICANN 2021): jacob_cov's Jacobians, correlated within each class.

    For each label c present at least twice in the batch, s_c = sum_ij log(|R_c[i, j]| + k) over
    the correlation matrix R_c of that class's Jacobian rows (k = 1e-5); for a head of at most 100
    classes the score is sum_c |s_c|, above that s_c is first divided by the class's sample count
    and the score is sum_c sum_c' |s_c - s_c'| / (number of classes seen), as the authors compute.

    Choices: a class with a single image in the batch is left out (its correlation is undefined;
    the authors' code keeps it as log(1 + k) below 100 classes and drops it above); labels are
    only grouped, so they need not be below the head's size. ``-inf`` when a correlation is
    undefined or no class has two images. Raises ``ValueError`` without labels.

    Needs several images of most classes in the batch: at batch 128 it ranks the NB201 protocol's
    cells well on CIFAR-10 (tau 0.59) and nearly at random on ImageNet16-120 (0.03), where about one
    image of each of the 120 classes leaves few classes to correlate.
    """
    if labels is None:
        raise ValueError("epe_nas groups the Jacobians by label: it needs the batch's labels")
    model.train()
    x = images.to(model_device(model)).clone().requires_grad_(True)
    y = model(x)
    num_classes = y.shape[1] if y.dim() > 1 else 1
    (jac,) = torch.autograd.grad(y.sum(), x)
    rows = jac.reshape(jac.shape[0], -1).double()
    labels = labels.to(rows.device).reshape(-1)
    scores = []
    for c in torch.unique(labels):
        members = rows[labels == c]
        if members.shape[0] < 2:
            continue
        s = torch.log(torch.corrcoef(members).abs() + JACOB_K).sum()
        if num_classes > EPE_MANY_CLASSES:
            s = s / members.shape[0]
        scores.append(s)
    if not scores:
        return -math.inf
    per_class = torch.stack(scores)
    if not torch.isfinite(per_class).all():
        return -math.inf
    if num_classes <= EPE_MANY_CLASSES:
        return float(per_class.abs().sum())
    return float((per_class[:, None] - per_class[None, :]).abs().sum() / len(scores))
