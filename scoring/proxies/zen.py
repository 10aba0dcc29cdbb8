"""Zen-score (Lin et al., "Zen-NAS", ICCV 2021)."""

from __future__ import annotations

import math

import torch
from torch import nn

from scoring.proxies._common import copy_model, generator, hooks, model_device
from scoring.proxies.facts import register_proxy

ZEN_MIXUP = 1e-2
"""alpha: the size of the input perturbation (the authors' ``mixup_gamma``)."""


def _gaussian_init(net: nn.Module, rng: torch.Generator) -> None:
    """Zen-NAS's initialisation: conv and linear weights N(0, 1), their biases 0, norm layers'
    scales 1 and shifts 0. Draws on the CPU from ``rng``, in ``modules()`` order."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=rng))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)) and m.weight is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()


@register_proxy(
    cost="forward",
    summary="log E abs(f(x) - f(x + 0.01 eps)) + sum log BatchNorm sigma, Gaussian weights and inputs",
    source="Lin et al., ICCV 2021",
)
def zen(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Zen-score: log E_x ||f(x) - f(x + alpha eps)||_1 + sum over BatchNorm layers of log sigma.

    f is the pre-global-pooling feature map (the input of the last ``nn.AdaptiveAvgPool2d`` that
    runs, else the network's output), x and eps standard Gaussian batches of the images' shape,
    alpha = 0.01, the network a deep copy re-initialised as Zen-NAS prescribes (Gaussian weights,
    :func:`_gaussian_init`) in train mode; ||.||_1 sums over one sample's features and E is the
    batch mean (as in the authors' code). sigma of a BatchNorm layer is sqrt(mean over channels of
    the batch variance of its input) on the clean pass x, as the paper defines it (the authors'
    code reads ``running_var`` after both passes, a momentum average with the initial 1).

    Choices: data-free like the paper (the images give only the shape); one repeat (the authors
    average 32 fresh initialisations); every draw from a local generator seeded with
    ``PROXY_SEED``. ``-inf`` when the perturbation does not change f.
    """
    rng = generator()
    net = copy_model(model)
    _gaussian_init(net, rng)
    device = model_device(net)
    x = torch.randn(images.shape, generator=rng).to(device)
    eps = torch.randn(images.shape, generator=rng).to(device)
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    captured: list[torch.Tensor] = []
    variances: list[torch.Tensor] = []

    def keep_input(_module, inputs):
        captured.append(inputs[0].detach())

    def keep_variance(_module, inputs):
        t = inputs[0].detach()
        dims = [d for d in range(t.dim()) if d != 1]
        variances.append(t.var(dim=dims, correction=0).mean())

    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    net.train()
    with torch.no_grad():
        with hooks(pools[-1:], keep_input, pre=True):
            with hooks(bns, keep_variance, pre=True):
                clean = net(x)
            clean = captured[-1] if captured else clean
            captured.clear()
            noisy = net(x + ZEN_MIXUP * eps)
            noisy = captured[-1] if captured else noisy
    delta = (clean - noisy).abs().reshape(clean.shape[0], -1).sum(dim=1).mean().double()
    if not delta > 0:
        return -math.inf
    log_sigma = sum(0.5 * math.log(float(v)) if float(v) > 0 else -math.inf for v in variances)
    return float(torch.log(delta)) + log_sigma
