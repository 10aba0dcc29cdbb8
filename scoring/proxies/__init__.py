"""Training-free proxies: each a function ``proxy(model, images, labels) -> float``, looked up by name.

Higher is better for every proxy (TE-NAS's NTK condition number is negated). ``model`` is a
freshly built untrained network, ``images`` a float batch (N, 3, H, W), ``labels`` int64 (N,).

| name | definition (short; each function's docstring has the full one and the choices made) | source |
|---|---|---|
| naswot | log det of the ReLU-code kernel N_A - Hamming | Mellor et al., ICML 2021 |
| naswot_official | the same kernel as the official code builds it (hooks every "ReLU"-named module) | BayesWatch/nas-without-training |
| jacob_cov | -sum log(l + k) + 1/(l + k) over eigenvalues of the input-Jacobian correlation | Mellor et al., arXiv v1 (2020) |
| epe_nas | jacob_cov's Jacobians correlated per class: sum_c abs(sum log(abs(R_c) + k)) | Lopes et al., ICANN 2021 |
| grad_norm | sum of Frobenius norms of dL/dW | Abdelfattah et al., ICLR 2021 |
| snip | sum of abs(W * dL/dW) | Lee et al., ICLR 2019 |
| plain | sum of W * dL/dW | Abdelfattah et al., ICLR 2021 |
| grasp | -sum of W * (H g) | Wang et al., ICLR 2020 |
| fisher | sum over ReLU outputs of 0.5 mean_n (sum_spatial a dL/da)^2 | Turner et al., ICLR 2020 |
| zico | sum over layers of log sum_w mean abs(g_w) / std(g_w) over two half-batches | Li et al., ICLR 2023 |
| synflow | sum of abs(W) dR/dW of the positive, BatchNorm-off network on an all-ones input | Tanaka et al., NeurIPS 2020 |
| log_synflow | sum of abs(W) log(1 + dR/dW) | Cavagnero et al., WACV 2023 (FreeREA) |
| swap | number of distinct per-unit activation patterns over 16 images | Peng et al., ICLR 2024 |
| reg_swap | swap times a Gaussian prior on the parameter count | Peng et al., ICLR 2024 |
| meco | sum over layers of the smallest eigenvalue of the channel correlation, one image | Jiang et al., NeurIPS 2023 |
| meco_opt | meco on 8 random channels per layer, scaled by C/8 | Jiang et al., NeurIPS 2023 |
| zen | log E abs(f(x) - f(x + 0.01 eps)) + sum log BatchNorm sigma, Gaussian weights and inputs | Lin et al., ICCV 2021 |
| ntk_cond | minus the condition number of the empirical NTK (16 images) | Chen et al., ICLR 2021 (TE-NAS) |
| linear_regions | number of distinct ReLU patterns over 1000 random 4x4 crops | Chen et al., ICLR 2021 (TE-NAS) |
| az_expressivity | sum over blocks of the entropy of the feature covariance spectrum | Lee & Ham, CVPR 2024 (AZ-NAS) |
| az_progressivity | smallest block-to-block increase of that entropy | Lee & Ham, CVPR 2024 |
| az_trainability | mean over blocks of 2 - s - 1/s, s the block Jacobian's spectral norm | Lee & Ham, CVPR 2024 |
| az_complexity | FLOPs (as flops) | Lee & Ham, CVPR 2024 |
| vkdnw | entropy of the deciles of the Fisher information spectrum of sampled weights | Tybl & Neumann, CVPR 2025 |
| params | number of trainable parameters | |
| flops | multiply-accumulates of conv and linear layers for one input, plus bias outputs (NATS-Bench's count) | |
| l2_norm | sum of Frobenius norms of the conv/linear weights | Abdelfattah et al., ICLR 2021 |
| trainable_layers | number of conv/linear layers with trainable weights | VKDNW, FreeREA |
| skipped_layers | mean number of cell nodes a skip connection bypasses (data-free, NB201 cells) | Cavagnero et al., WACV 2023 (FreeREA) |

The loss L of the loss-based proxies (``LABEL_PROXIES``) is the cross-entropy of the batch against
its real labels; a label that is not below the head's number of classes is an error (scorers draw
such batches from the task's classes only, see ``scoring.data.ImagePool.batch(labelled=True)``).
Every proxy keeps the contract of :mod:`scoring.proxies._common` (float; NaN becomes ``-inf``;
modes restored; no gradients, no hooks left; deterministic; only BatchNorm statistics change).
Rank fusions of several proxies are in :mod:`scoring.fusion`.
"""

from __future__ import annotations

from scoring.proxies._common import PROXY_SEED, Proxy
from scoring.proxies.activation import meco, meco_opt, naswot, naswot_official, reg_swap, swap
from scoring.proxies.aznas import (
    AZScores,
    az_complexity,
    az_expressivity,
    az_nas_scores,
    az_progressivity,
    az_trainability,
)
from scoring.proxies.gradient import fisher, grad_norm, grasp, plain, snip, zico
from scoring.proxies.jacobian import epe_nas, jacob_cov
from scoring.proxies.size import flops, l2_norm, params, trainable_layers
from scoring.proxies.structure import skipped_layers
from scoring.proxies.synflow import log_synflow, synflow
from scoring.proxies.tenas import linear_regions, ntk_cond
from scoring.proxies.vkdnw import vkdnw
from scoring.proxies.zen import zen
from search_spaces.core.errors import ProxyNotApplicableError, UnknownNameError

_FUNCTIONS = (
    naswot,
    naswot_official,
    jacob_cov,
    epe_nas,
    grad_norm,
    snip,
    plain,
    grasp,
    fisher,
    zico,
    synflow,
    log_synflow,
    swap,
    reg_swap,
    meco,
    meco_opt,
    zen,
    ntk_cond,
    linear_regions,
    az_expressivity,
    az_progressivity,
    az_trainability,
    az_complexity,
    vkdnw,
    params,
    flops,
    l2_norm,
    trainable_layers,
    skipped_layers,
)

PROXIES: dict[str, Proxy] = {f.__name__: f for f in _FUNCTIONS}
"""Every registered proxy by name (each wrapped in :func:`~scoring.proxies._common.proxy_contract`)."""

LABEL_PROXIES: frozenset[str] = frozenset({"grad_norm", "snip", "plain", "grasp", "fisher", "zico"})
"""Proxies whose loss needs labels below the head's number of classes. ``epe_nas`` reads the
labels too, only to group images, so any label values do."""


PROXY_SPACES: dict[str, frozenset[str]] = {"skipped_layers": frozenset({"nb201", "nats_sss"})}
"""The spaces a proxy is defined on, for the proxies not defined on every space (those reading a
cell structure that only some spaces' networks declare)."""


def check_proxy_space(name: str, space: str) -> None:
    """Raise ``ProxyNotApplicableError`` when proxy ``name`` has no definition on ``space`` (see
    :data:`PROXY_SPACES`), ``UnknownNameError`` when it is not registered; otherwise return."""
    get_proxy(name)
    spaces = PROXY_SPACES.get(name)
    if spaces is not None and space not in spaces:
        raise ProxyNotApplicableError(
            f"proxy {name!r} is defined on the spaces {', '.join(sorted(spaces))} only, not on {space!r}"
        )


def get_proxy(name: str) -> Proxy:
    """The proxy called ``name``; raises ``UnknownNameError`` listing the known ones."""
    try:
        return PROXIES[name]
    except KeyError:
        raise UnknownNameError("proxy", name, tuple(PROXIES)) from None


def available_proxies() -> tuple[str, ...]:
    """Names accepted by :func:`get_proxy`."""
    return tuple(PROXIES)


def uses_labels(name: str) -> bool:
    """Whether proxy ``name`` computes a loss against the batch's labels (it then needs images of the
    task's classes only)."""
    get_proxy(name)
    return name in LABEL_PROXIES


__all__ = [
    "LABEL_PROXIES",
    "PROXIES",
    "PROXY_SPACES",
    "PROXY_SEED",
    "AZScores",
    "Proxy",
    "available_proxies",
    "check_proxy_space",
    "az_nas_scores",
    "get_proxy",
    "uses_labels",
    *PROXIES,
]
