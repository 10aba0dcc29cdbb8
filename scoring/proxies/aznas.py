"""The four AZ-NAS scores (Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies", CVPR 2024).

AZ-NAS reads the feature maps f_0, ..., f_L at the ends of the network's blocks: for NAS-Bench-201
the stem's output and every cell's (reduction blocks included). For any network, the blocks here
are the children of its longest ``nn.Sequential`` / ``nn.ModuleList`` (the first such in
``modules()`` order on ties; NB201's ``cells``): f_0 is the input of the first child when the
network produced it (the stem's output), then each child's output. Features of shape (N, C) count
as (N, C, 1, 1). One train-mode forward pass of the batch, the network's own initialisation
(the authors re-initialise with Kaiming normal; BatchNorm makes the scores nearly insensitive to
the weights' scale).

* expressivity: sum over blocks of the entropy -sum_i p_i log(p_i + 1e-8) of the normalised
  eigenvalues p_i = s_i / sum s of the (C, C) covariance of the block's features over the
  N * H * W positions (eigenvalues clamped at 0 against round-off, where the authors' code can
  turn a tiny negative one into NaN);
* progressivity: the smallest increase of that entropy from one block to the next;
* trainability: the mean over consecutive blocks of 2 - sigma - 1 / (sigma + 1e-6), sigma the
  largest singular value of E[g_in g_out^T] (g_out a Rademacher vector on f_l, g_in = its
  vector-Jacobian product on f_(l-1), pixel-unshuffled when the block downsamples), i.e. a
  penalty for block Jacobians whose spectral norm leaves 1; ``-inf`` when a block is the
  identity (g_in == g_out), as the authors rule;
* complexity: the FLOPs (:func:`scoring.proxies.size.flops`).

A score is ``-inf`` when undefined (zero features, fewer than 2 blocks). Rademacher vectors come
from a local generator seeded with ``PROXY_SEED``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scoring.proxies._common import generator, hooks, model_device
from scoring.proxies.facts import register_proxy
from scoring.proxies.size import flops

_LOG_EPS = 1e-8
_SIGMA_EPS = 1e-6


@dataclass(frozen=True)
class AZScores:
    """AZ-NAS's three activation/gradient scores of one network (higher is better)."""

    expressivity: float
    progressivity: float
    trainability: float


def block_container(model: nn.Module) -> nn.Module | None:
    """The longest ``nn.Sequential`` or ``nn.ModuleList`` of ``model`` (first on ties), or None."""
    best, length = None, 0
    for module in model.modules():
        if isinstance(module, (nn.Sequential, nn.ModuleList)) and len(module) > length:
            best, length = module, len(module)
    return best


def block_features(model: nn.Module, images: torch.Tensor, graph: bool = True) -> list[torch.Tensor]:
    """f_0, ..., f_L from one train-mode forward pass (see the module docstring), with their
    autograd graph when ``graph`` (trainability needs it; the entropies do not)."""
    container = block_container(model)
    children = list(container.children()) if container is not None else []
    first_input: list[torch.Tensor] = []
    outputs: list[torch.Tensor] = []

    def keep_input(_module, inputs):
        if not first_input and isinstance(inputs[0], torch.Tensor) and inputs[0] is not x:
            first_input.append(inputs[0])

    def keep_output(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            outputs.append(output)

    x = images.to(model_device(model))
    model.train()
    with torch.set_grad_enabled(graph), hooks(children[:1], keep_input, pre=True), hooks(children, keep_output):
        out = model(x)
    return first_input + outputs if outputs else [out]


def _as_4d(t: torch.Tensor) -> torch.Tensor:
    return t if t.dim() == 4 else t.reshape(t.shape[0], -1, 1, 1)


def _entropy(feature: torch.Tensor) -> float:
    feature = _as_4d(feature.detach())
    b, c, h, w = feature.shape
    flat = feature.permute(0, 2, 3, 1).reshape(b * h * w, c).double()
    flat = flat - flat.mean(dim=0, keepdim=True)
    s = torch.linalg.eigvalsh(flat.T @ flat / flat.shape[0]).clamp_min(0)
    p = s / s.sum()
    return float(-(p * torch.log(p + _LOG_EPS)).sum())


def _block_trainability(f_in: torch.Tensor, f_out: torch.Tensor, rng: torch.Generator) -> float:
    g_out = torch.randint(0, 2, f_out.shape, generator=rng, dtype=f_out.dtype).mul_(2).sub_(1).to(f_out.device)
    g_in = None
    if f_out.requires_grad and f_in.requires_grad:
        (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=True, allow_unused=True)
    if g_in is None:  # f_out does not depend on f_in
        g_in = torch.zeros_like(f_in)
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    g_in, g_out = _as_4d(g_in), _as_4d(g_out)
    if g_in.shape[2] != g_out.shape[2] or g_in.shape[3] != g_out.shape[3]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    bo, co, ho, wo = g_out.shape
    a = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).double()
    b = g_out.permute(0, 2, 3, 1).reshape(bo * ho * wo, co).double()
    sigma = float(torch.linalg.svdvals(a.T @ b / (bo * ho * wo)).max())
    return -sigma - 1.0 / (sigma + _SIGMA_EPS) + 2.0


def az_nas_scores(model: nn.Module, images: torch.Tensor, trainability: bool = True) -> AZScores:
    """Expressivity, progressivity and trainability of ``model`` on ``images`` (module docstring).

    With ``trainability=False`` the forward pass keeps no graph and the trainability field is NaN
    (the entropy scores cost about a third of all three). Puts the model in train mode and updates
    its BatchNorm statistics; no gradient is stored on the parameters (vector-Jacobian products
    only)."""
    features = block_features(model, images, graph=trainability)
    entropies = np.array([_entropy(f) for f in features])
    expressivity = float(entropies.sum())
    progressivity = float(np.min(entropies[1:] - entropies[:-1])) if len(features) > 1 else -math.inf
    train = math.nan
    if trainability:
        rng = generator()
        scores = [_block_trainability(features[i - 1], features[i], rng) for i in reversed(range(1, len(features)))]
        train = float(np.mean(scores)) if scores else -math.inf
        train = -math.inf if math.isnan(train) else train
    expressivity, progressivity = (-math.inf if math.isnan(v) else v for v in (expressivity, progressivity))
    return AZScores(expressivity, progressivity, train)


@register_proxy(
    cost="forward",
    summary="sum over blocks of the entropy of the feature covariance spectrum",
    source="Lee & Ham, CVPR 2024 (AZ-NAS)",
)
def az_expressivity(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """AZ-NAS expressivity (see the module docstring)."""
    return az_nas_scores(model, images, trainability=False).expressivity


@register_proxy(
    cost="forward", summary="smallest block-to-block increase of that entropy", source="Lee & Ham, CVPR 2024"
)
def az_progressivity(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """AZ-NAS progressivity (see the module docstring)."""
    return az_nas_scores(model, images, trainability=False).progressivity


@register_proxy(
    cost="backward",
    summary="mean over blocks of 2 - s - 1/s, s the block Jacobian's spectral norm",
    source="Lee & Ham, CVPR 2024",
)
def az_trainability(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """AZ-NAS trainability (see the module docstring)."""
    return az_nas_scores(model, images).trainability


@register_proxy(cost="forward", summary="FLOPs (as flops)", source="Lee & Ham, CVPR 2024")
def az_complexity(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """AZ-NAS complexity: the network's FLOPs (:func:`scoring.proxies.size.flops`)."""
    return flops(model, images, labels)
