"""Training-free proxies: each a function ``proxy(model, images, labels) -> float``, looked up by name.

| name | definition (higher is better) | source |
|---|---|---|
| naswot | log det of the ReLU-code kernel N_A - Hamming | Mellor et al., ICML 2021 |
| naswot_official | the same kernel as the official code builds it: hooks every module whose type name contains "ReLU", so blocks such as ReLUConvBN count their input's codes a second time (about 88 higher on NB201 at batch 128, nearly the same ranking) | BayesWatch/nas-without-training |
| jacob_cov | -sum_i log(l_i + k) + 1/(l_i + k) over eigenvalues l_i of the correlation matrix of the per-image input Jacobians, k = 1e-5 | Mellor et al., arXiv v1 (2020) |
| grad_norm | sum over conv/linear weights of the Frobenius norm of dL/dW | Abdelfattah et al., ICLR 2021 |
| snip | sum over conv/linear weights of abs(W * dL/dW) | Lee et al., ICLR 2019 |
| grasp | -sum over conv/linear weights of W * (H g), H g a Hessian-gradient product of the loss | Wang et al., ICLR 2020 |
| fisher | sum over ReLU outputs a and channels c of 0.5 * mean_n (sum_spatial a * dL/da)^2 | Turner et al., ICLR 2020; Abdelfattah et al. |
| synflow | sum over conv/linear weights of abs(W * dR/dW), R = sum of the output for an all-ones input with all weights made positive, in float64 | Tanaka et al., NeurIPS 2020 |
| params | number of trainable parameters | |
| flops | multiply-accumulates of conv and linear layers for one input, plus one per bias output (NATS-Bench's count) | |

Choices the papers leave open, made here:

* the loss L of the loss-based proxies (grad_norm, snip, grasp, fisher; ``LABEL_PROXIES``) is the
  cross-entropy of the batch against its real labels; a label that is not below the head's number
  of classes is an error (scorers draw such batches from the task's classes only, see
  ``scoring.data.ImagePool.batch(labelled=True)``);
* the network is in train mode (batch statistics) for every proxy except synflow;
* synflow runs on a float64 copy in eval mode with freshly initialised BatchNorm statistics, i.e.
  BatchNorm is (up to 1/sqrt(1 + eps)) the identity: "BatchNorm off", as its authors prescribe;
  the copy leaves the caller's network untouched;
* grasp uses one batch and the exact Hessian-gradient product (no temperature scaling).

Each proxy may mutate gradients and BatchNorm statistics of ``model``; none changes its weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from scoring.naswot import naswot_score
from search_spaces.core.errors import UnknownNameError

Proxy = Callable[[nn.Module, torch.Tensor, torch.Tensor], float]

_WEIGHTED = (nn.Conv2d, nn.Linear)


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, _WEIGHTED)]


def _fit_labels(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    labels = labels.to(logits.device).long()
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]):
        raise ValueError(
            f"labels must be in [0, {logits.shape[1]}) for a {logits.shape[1]}-class head, got "
            f"[{int(labels.min())}, {int(labels.max())}]: draw the batch from the task's classes"
        )
    return labels


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _loss_grads(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, create_graph: bool = False):
    model.train()
    model.zero_grad(set_to_none=True)
    x = images.to(_device(model))
    logits = model(x)
    loss = F.cross_entropy(logits, _fit_labels(labels, logits))
    weights = _weights(model)
    grads = torch.autograd.grad(loss, weights, create_graph=create_graph)
    return weights, grads


def naswot(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """NASWOT (see :mod:`scoring.naswot`)."""
    return naswot_score(model, images)


def grad_norm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, grads = _loss_grads(model, images, labels)
    return float(sum(g.norm() for g in grads))


def snip(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    weights, grads = _loss_grads(model, images, labels)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads)))


def grasp(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    weights, grads = _loss_grads(model, images, labels)
    g = [t.detach() for t in grads]
    _, grads2 = _loss_grads(model, images, labels, create_graph=True)
    z = sum((a * b).sum() for a, b in zip(grads2, g))
    hg = torch.autograd.grad(z, weights)
    return float(-sum((w.detach() * h).sum() for w, h in zip(weights, hg)))


def fisher(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    acts: list[torch.Tensor] = []

    def keep(_m, _i, out):
        out.retain_grad()
        acts.append(out)

    handles = [m.register_forward_hook(keep) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model.train()
        model.zero_grad(set_to_none=True)
        x = images.to(_device(model))
        logits = model(x)
        F.cross_entropy(logits, _fit_labels(labels, logits)).backward()
    finally:
        for h in handles:
            h.remove()
    total = 0.0
    for a in acts:
        if a.grad is None:
            continue
        prod = (a * a.grad).detach()
        per_channel = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        total += float(0.5 * per_channel.pow(2).mean(0).sum())
    model.zero_grad(set_to_none=True)
    return total


def synflow(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    net = copy.deepcopy(model).double()
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
    net.eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    ones = torch.ones((1, *images.shape[1:]), dtype=torch.float64, device=_device(net))
    net(ones).sum().backward()
    return float(sum((w.detach() * w.grad).abs().sum() for w in _weights(net) if w.grad is not None))


def jacob_cov(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.train()
    model.zero_grad(set_to_none=True)
    x = images.to(_device(model)).clone().requires_grad_(True)
    y = model(x)
    (jac,) = torch.autograd.grad(y.sum(), x)
    j = jac.reshape(jac.shape[0], -1).double()
    corr = torch.corrcoef(j)
    if not torch.isfinite(corr).all():
        return -math.inf
    eig = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-torch.sum(torch.log(eig + k) + 1.0 / (eig + k)))


def params(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))


def flops(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    total = [0]

    def count(module, _inputs, out):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * (module.in_channels // module.groups)
            total[0] += out[0].numel() * k
        elif isinstance(module, nn.Linear):
            total[0] += out[0].numel() * module.in_features
        if getattr(module, "bias", None) is not None:
            total[0] += out[0].numel()

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, _WEIGHTED)]
    try:
        with torch.no_grad():
            was = model.training
            model.eval()
            model(images[:1].to(_device(model)))
            model.train(was)
    finally:
        for h in handles:
            h.remove()
    return float(total[0])


def naswot_official(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return naswot_score(model, images, hook="official")


PROXIES: dict[str, Proxy] = {
    "naswot": naswot,
    "naswot_official": naswot_official,
    "jacob_cov": jacob_cov,
    "grad_norm": grad_norm,
    "snip": snip,
    "grasp": grasp,
    "fisher": fisher,
    "synflow": synflow,
    "params": params,
    "flops": flops,
}


def get_proxy(name: str) -> Proxy:
    """The proxy called ``name``; raises ``UnknownNameError`` listing the known ones."""
    try:
        return PROXIES[name]
    except KeyError:
        raise UnknownNameError("proxy", name, tuple(PROXIES)) from None


def available_proxies() -> tuple[str, ...]:
    """Names accepted by :func:`get_proxy`."""
    return tuple(PROXIES)


LABEL_PROXIES: frozenset[str] = frozenset({"grad_norm", "snip", "grasp", "fisher"})


def uses_labels(name: str) -> bool:
    """Whether proxy ``name`` computes a loss against the batch's labels (it then needs images of the
    task's classes only)."""
    get_proxy(name)
    return name in LABEL_PROXIES
