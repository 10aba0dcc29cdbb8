"""Size proxies: counts of parameters, operations and layers, and the weights' norm."""

from __future__ import annotations

import torch
from torch import nn

from scoring.proxies._common import WEIGHTED, hooks, layer_weights, model_device, weighted_layers
from scoring.proxies.facts import register_proxy


@register_proxy(cost="free", summary="number of trainable parameters")
def params(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The number of trainable parameters."""
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))


@register_proxy(
    cost="forward",
    summary="multiply-accumulates of conv and linear layers for one input, plus bias outputs (NATS-Bench's count)",
)
def flops(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Multiply-accumulates of the conv and linear layers for one input image, plus one per bias
    output (NATS-Bench's count), from one eval-mode forward pass without gradients."""
    total = [0]

    def count(module, _inputs, out):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * (module.in_channels // module.groups)
            total[0] += out[0].numel() * k
        elif isinstance(module, nn.Linear):
            total[0] += out[0].numel() * module.in_features
        if getattr(module, "bias", None) is not None:
            total[0] += out[0].numel()

    model.eval()
    with hooks((m for m in model.modules() if isinstance(m, WEIGHTED)), count), torch.no_grad():
        model(images[:1].to(model_device(model)))
    return float(total[0])


@register_proxy(
    cost="free", summary="sum of Frobenius norms of the conv/linear weights", source="Abdelfattah et al., ICLR 2021"
)
def l2_norm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """sum over conv/linear layers of the Frobenius norm of the weight (Abdelfattah et al.,
    ICLR 2021); data-free."""
    return float(sum(float(w.detach().norm()) for w in layer_weights(model)))


@register_proxy(cost="free", summary="number of conv/linear layers with trainable weights", source="VKDNW, FreeREA")
def trainable_layers(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The number of layers with trainable weights: ``nn.Conv2d`` and ``nn.Linear`` modules whose
    weight requires a gradient (the depth term that VKDNW and FreeREA rank by). BatchNorm's affine
    parameters do not make a layer (VKDNW's code counts parameter tensors instead: weights, biases
    and BatchNorm parameters each count one)."""
    return float(sum(1 for m in weighted_layers(model) if m.weight.requires_grad))
