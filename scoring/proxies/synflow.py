"""Data-free proxies from the synaptic flow of the network with all weights made positive.

R is the sum of the outputs of a float64 copy of the network, in eval mode with freshly reset
BatchNorm statistics (BatchNorm is then x / sqrt(1 + eps): "BatchNorm off", as synflow's authors
prescribe), every parameter replaced by its absolute value, on one all-ones input of the batch's
shape. The copy leaves the caller's network untouched. Sums run over the weights of every
``nn.Conv2d`` and ``nn.Linear``.
"""

from __future__ import annotations

import torch
from torch import nn

from scoring.proxies._common import WEIGHTED, fresh_statistics_copy, model_device
from scoring.proxies.facts import register_proxy


def _flow(model: nn.Module, images: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(|W|, dR/dW)`` for each conv/linear weight that R depends on."""
    net = fresh_statistics_copy(model, torch.float64)
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    ones = torch.ones((1, *images.shape[1:]), dtype=torch.float64, device=model_device(net))
    net(ones).sum().backward()
    return [
        (m.weight.detach(), m.weight.grad)
        for m in net.modules()
        if isinstance(m, WEIGHTED) and m.weight.grad is not None
    ]


@register_proxy(
    cost="backward",
    summary="sum of abs(W) dR/dW of the positive, BatchNorm-off network on an all-ones input",
    source="Tanaka et al., NeurIPS 2020",
)
def synflow(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """sum of |W| * dR/dW (SynFlow, Tanaka et al., NeurIPS 2020)."""
    return float(sum((w * g).abs().sum() for w, g in _flow(model, images)))


@register_proxy(cost="backward", summary="sum of abs(W) log(1 + dR/dW)", source="Cavagnero et al., WACV 2023 (FreeREA)")
def log_synflow(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """sum of |W| * log(1 + dR/dW) (LogSynflow, Cavagnero et al., FreeREA, WACV 2023): the log
    damps the gradients' explosion in deep networks. dR/dW >= 0 for the positive network."""
    return float(sum((w * torch.log1p(g)).abs().sum() for w, g in _flow(model, images)))
