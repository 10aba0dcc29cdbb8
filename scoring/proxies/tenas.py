"""TE-NAS's two indicators (Chen et al., ICLR 2021): NTK conditioning and linear regions."""

from __future__ import annotations

import math

import torch
from torch import nn

from scoring.proxies._common import generator, model_device
from scoring.proxies.activation import count_unique_rows, relu_codes
from scoring.proxies.facts import register_proxy

NTK_SAMPLES = 16
"""ntk_cond uses the first this many images of the batch: the NTK needs one backward pass per
image, so the batch is capped to keep the cost of a NAS-Bench-201 network near a second on a CPU
(the authors use a batch of 72 on a GPU)."""

REGION_SAMPLES = 1000
REGION_CROP = 4
"""linear_regions counts the activation patterns of this many random crops of this side."""


@register_proxy(
    cost="many_backward",
    summary="minus the condition number of the empirical NTK (16 images)",
    source="Chen et al., ICLR 2021 (TE-NAS)",
)
def ntk_cond(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Minus the condition number lambda_max / lambda_min of the empirical NTK (lower is better in
    TE-NAS, so the sign is flipped: higher is better here).

    NTK = J J^T, row n of J the gradient of the sum of image n's outputs with respect to every
    parameter whose name ends in "weight" (convolutions, linear layers and BatchNorm scales, as the
    authors select them), one backward pass per image through the graph of the whole batch in
    train mode (batch-statistics BatchNorm couples the images, as in the authors' code). Uses the
    first :data:`NTK_SAMPLES` images. Choices: the network's own initialisation (the authors
    re-initialise with Kaiming normal and average 3 repeats). ``-inf`` when the NTK is singular.
    """
    x = images[:NTK_SAMPLES].to(model_device(model))
    weights = [p for name, p in model.named_parameters() if name.endswith("weight") and p.requires_grad]
    model.train()
    out = model(x)
    rows = []
    for i in range(x.shape[0]):
        grads = torch.autograd.grad(out[i].sum(), weights, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(torch.zeros_like(w) if g is None else g).reshape(-1) for w, g in zip(weights, grads)]))
    j = torch.stack(rows).double()
    eig = torch.linalg.eigvalsh(j @ j.T)
    smallest, largest = float(eig[0]), float(eig[-1])
    if not math.isfinite(largest) or smallest <= x.shape[0] * torch.finfo(torch.float64).eps * abs(largest):
        return -math.inf
    return -largest / smallest


def random_crops(images: torch.Tensor, count: int, side: int, rng: torch.Generator) -> torch.Tensor:
    """``count`` crops of ``side`` x ``side`` pixels at uniform positions of uniformly drawn images."""
    n, c, h, w = images.shape
    if side > h or side > w:
        raise ValueError(f"crops of side {side} do not fit images of {h}x{w}")
    idx = torch.randint(n, (count,), generator=rng)
    top = torch.randint(h - side + 1, (count,), generator=rng)
    left = torch.randint(w - side + 1, (count,), generator=rng)
    offsets = torch.arange(side)
    rows = (top[:, None] + offsets)[:, None, :, None].expand(count, c, side, side)
    cols = (left[:, None] + offsets)[:, None, None, :].expand(count, c, side, side)
    chans = torch.arange(c)[None, :, None, None].expand(count, c, side, side)
    src = images.cpu()
    return src[idx[:, None, None, None].expand(count, c, side, side), chans, rows, cols]


@register_proxy(
    cost="forward",
    summary="number of distinct ReLU patterns over 1000 random 4x4 crops",
    source="Chen et al., ICLR 2021 (TE-NAS)",
)
def linear_regions(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The number of distinct ReLU activation patterns (linear regions) that the network shows on
    :data:`REGION_SAMPLES` random :data:`REGION_CROP` x :data:`REGION_CROP` crops of the batch.

    A pattern is the on/off state of every unit behind a ReLU with a 4-D input, in one train-mode
    forward pass of all crops (TE-NAS's ``Linear_Region_Collector``). Choices: TE-NAS counts 3000
    random 3x3 single-channel crops on a thinned copy of the network (1 channel, 1 cell per
    stage, no stem); a proxy only has the network it is given, so the crops keep the 3 channels
    and are 4 pixels wide, the smallest size NAS-Bench-201's reductions accept. Crops come from a
    local generator seeded with ``PROXY_SEED``. 4-D image batches only.
    """
    crops = random_crops(images, REGION_SAMPLES, REGION_CROP, generator())
    codes = relu_codes(model, crops.to(images.dtype))
    return float(count_unique_rows(codes))
