"""Proxies from the activations of one forward pass (no gradients): NASWOT, SWAP, MeCo.

Every forward pass here runs in train mode (batch-statistics BatchNorm, as the authors score)
under ``torch.no_grad``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from scoring.naswot import naswot_score
from scoring.proxies._common import generator, hooks, model_device
from scoring.proxies.facts import register_proxy

SWAP_SAMPLES = 16
"""SWAP scores the first this many images of the batch (the authors' ``input_samples``)."""

REG_SWAP_MU = 1500.0
REG_SWAP_SIGMA = 1500.0**2
"""reg-SWAP's size prior exp(-(P - mu)^2 / sigma), P the parameter count in thousands. The paper
sets mu and sigma per search space to steer the model size without publishing one default; these
are this project's: a wide prior centred on NB201's largest networks (1.5 M parameters at C=16)."""

MECO_OPT_CHANNELS = 8
"""MeCo_opt correlates this many randomly chosen channels per layer (the authors' value)."""

_BITS = 62  # bits packed into one int64 code column (below the sign bit, with room)


@register_proxy(
    cost="forward", summary="log det of the ReLU-code kernel N_A - Hamming", source="Mellor et al., ICML 2021"
)
def naswot(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """NASWOT: log|det K|, K = N_A - Hamming of the ReLU codes (see :mod:`scoring.naswot`)."""
    return naswot_score(model, images)


@register_proxy(
    cost="forward",
    summary='the same kernel as the official code builds it (hooks every "ReLU"-named module)',
    source="BayesWatch/nas-without-training",
)
def naswot_official(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """NASWOT with the official code's hooks (every module whose type name contains "ReLU")."""
    return naswot_score(model, images, hook="official")


def relu_codes(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, units) bool: ``output > 0`` of every ``nn.ReLU`` call whose input is 4-D (the hook both
    SWAP and TE-NAS use), concatenated in call order; model in train mode, no gradients. An
    empty (N, 0) tensor when no such ReLU ran."""
    codes: list[torch.Tensor] = []

    def keep(_module, inputs, output):
        if inputs[0].dim() == 4:
            codes.append((output.detach() > 0).reshape(output.shape[0], -1))

    model.train()
    with hooks((m for m in model.modules() if isinstance(m, nn.ReLU)), keep), torch.no_grad():
        model(x.to(model_device(model)))
    if not codes:
        return torch.zeros((x.shape[0], 0), dtype=torch.bool)
    return torch.cat(codes, dim=1)


def count_unique_rows(bits: torch.Tensor) -> int:
    """Number of distinct rows of a 2-D bool tensor (rows packed into int64 words first)."""
    if bits.shape[0] == 0:
        return 0
    if bits.shape[1] == 0:
        return 1
    words = []
    weights = None
    for start in range(0, bits.shape[1], _BITS):
        chunk = bits[:, start : start + _BITS].to(torch.int64)
        if weights is None or weights.shape[0] != chunk.shape[1]:
            weights = torch.pow(2, torch.arange(chunk.shape[1], dtype=torch.int64, device=bits.device))
        words.append((chunk * weights).sum(dim=1))
    packed = torch.stack(words, dim=1)
    if packed.shape[1] == 1:
        return int(torch.unique(packed[:, 0]).numel())
    return int(torch.unique(packed, dim=0).shape[0])


@register_proxy(
    cost="forward",
    summary="number of distinct per-unit activation patterns over 16 images",
    source="Peng et al., ICLR 2024",
)
def swap(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """SWAP (Peng et al., ICLR 2024): the number of distinct sample-wise activation patterns.

    Each unit behind a ReLU (4-D ReLU inputs only) gets the pattern of its on/off states over the
    first :data:`SWAP_SAMPLES` images; the score is how many distinct patterns the units show
    (0 when no such ReLU ran). Choices: the authors average 32 repeats over fresh Gaussian
    initialisations; here the network is scored as built (one repeat, its own initialisation).
    """
    codes = relu_codes(model, images[:SWAP_SAMPLES])
    if codes.shape[1] == 0:
        return 0.0
    return float(count_unique_rows(codes.T.contiguous()))


def reg_swap_factor(model: nn.Module, mu: float = REG_SWAP_MU, sigma: float = REG_SWAP_SIGMA) -> float:
    """exp(-(P - mu)^2 / sigma), P the number of parameters in thousands (the authors' unit)."""
    thousands = sum(p.numel() for p in model.parameters()) / 1e3
    return math.exp(-((thousands - mu) ** 2) / sigma)


@register_proxy(
    cost="forward", summary="swap times a Gaussian prior on the parameter count", source="Peng et al., ICLR 2024"
)
def reg_swap(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Regularised SWAP (Peng et al., ICLR 2024): SWAP times :func:`reg_swap_factor` with the
    project's mu and sigma (:data:`REG_SWAP_MU`, :data:`REG_SWAP_SIGMA`)."""
    return swap(model, images, labels) * reg_swap_factor(model)


def _min_eig_correlation(features: torch.Tensor) -> float:
    """Smallest eigenvalue of the channel correlation matrix of one sample's (C, positions)
    features; undefined entries (constant channels) are set to 0, as the authors do."""
    corr = torch.corrcoef(features.double())
    corr = torch.where(torch.isfinite(corr), corr, torch.zeros((), dtype=corr.dtype))
    return float(torch.linalg.eigvalsh(corr)[0])


def _meco(model: nn.Module, images: torch.Tensor, channels: int | None) -> float:
    outputs: list[torch.Tensor] = []
    seen: dict[int, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        if isinstance(output, torch.Tensor) and output.dim() >= 3 and id(output) not in seen:
            seen[id(output)] = output  # holds the tensor, so its id is not reused in this pass
            outputs.append(output.detach()[0])

    model.train()
    with hooks(model.modules(), keep), torch.no_grad():
        model(images[:1].to(model_device(model)))
    rng = generator()
    total = 0.0
    for out in outputs:
        feats = out.reshape(out.shape[0], -1)
        c = feats.shape[0]
        if c < 2 or feats.shape[1] < 2:
            continue
        if channels is None or c <= channels:
            total += _min_eig_correlation(feats)
        else:
            pick = torch.randperm(c, generator=rng)[:channels].sort().values.to(feats.device)
            total += _min_eig_correlation(feats[pick]) * c / channels
    return total


@register_proxy(
    cost="forward",
    summary="sum over layers of the smallest eigenvalue of the channel correlation, one image",
    source="Jiang et al., NeurIPS 2023",
)
def meco(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """MeCo (Jiang et al., NeurIPS 2023): sum over layers of the smallest eigenvalue of the
    Pearson correlation matrix between the channels of the layer's feature map, on one image.

    A "layer" is every distinct tensor of at least 3 dimensions (N, C, ...) that a module returns,
    read on the first image of the batch (the network runs on that image alone, in train mode,
    as the authors' NAS-Bench-201 script with batch size 1). Choices: a tensor returned by several
    modules (a container and its last child, an ``nn.Identity``) is counted once, while the
    authors' hook on every module counts it once per module, which makes their sum depend on how
    a network nests its modules; a feature map with fewer than 2 channels or positions is left
    out (its correlation is undefined; the authors' code counts it as 0).
    """
    return _meco(model, images, None)


@register_proxy(
    cost="forward", summary="meco on 8 random channels per layer, scaled by C/8", source="Jiang et al., NeurIPS 2023"
)
def meco_opt(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """MeCo_opt (Jiang et al., NeurIPS 2023): MeCo on :data:`MECO_OPT_CHANNELS` channels per
    layer drawn at random (a local generator seeded with ``PROXY_SEED``), each layer's eigenvalue
    scaled by C / 8; layers with at most 8 channels use them all (scale 1)."""
    return _meco(model, images, MECO_OPT_CHANNELS)
