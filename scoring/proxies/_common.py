"""What every proxy shares: the call contract, hooks that always come off, labels and seeds.

The contract (enforced by :func:`proxy_contract`, which wraps every registered proxy):

* the value is a Python float; NaN (an undefined statistic of a degenerate network, e.g. a
  correlation of all-zero features) becomes ``-inf``, which ranks last;
* every module's train/eval flag is restored, and every parameter's ``.grad`` is ``None`` after
  the call (gradients the caller had accumulated are discarded);
* hooks registered by a proxy are removed even when the forward pass raises;
* randomness comes only from a local ``torch.Generator`` seeded with :data:`PROXY_SEED` (or a
  documented argument), so a proxy is deterministic given the model and the batch.

What a proxy may change: BatchNorm running statistics (every train-mode forward pass updates
them). No proxy changes a weight; the ones that need other weights (Zen-NAS) or fresh statistics
(synflow, VKDNW) work on a deep copy.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

Proxy = Callable[[nn.Module, torch.Tensor, torch.Tensor], float]

PROXY_SEED = 0
"""Seed of the local generator of every proxy that draws random numbers (crops, noise inputs,
Rademacher vectors, channel subsets)."""

WEIGHTED = (nn.Conv2d, nn.Linear)
"""The layer types whose weights the gradient-based proxies sum over."""


def proxy_contract(function: Callable[[nn.Module, torch.Tensor, torch.Tensor], float]) -> Proxy:
    """Wrap ``function`` so that it keeps the contract in this module's docstring."""

    @functools.wraps(function)
    def wrapper(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
        modes = [(module, module.training) for module in model.modules()]
        try:
            value = float(function(model, images, labels))
        finally:
            for module, training in modes:
                module.training = training
            for parameter in model.parameters():
                parameter.grad = None
        return -math.inf if math.isnan(value) else value

    return wrapper


def generator(seed: int = PROXY_SEED) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (draws are made on the CPU, then moved)."""
    return torch.Generator().manual_seed(int(seed))


def model_device(model: nn.Module) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    for buffer in model.buffers():
        return buffer.device
    return torch.device("cpu")


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    """The ``nn.Conv2d`` and ``nn.Linear`` modules of ``model``, in ``modules()`` order."""
    return [m for m in model.modules() if isinstance(m, WEIGHTED)]


def layer_weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in weighted_layers(model) if isinstance(m.weight, torch.Tensor)]


def fit_labels(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``labels`` on the logits' device as int64; raises ``ValueError`` for a label outside the head."""
    labels = labels.to(logits.device).long()
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]):
        raise ValueError(
            f"labels must be in [0, {logits.shape[1]}) for a {logits.shape[1]}-class head, got "
            f"[{int(labels.min())}, {int(labels.max())}]: draw the batch from the task's classes"
        )
    return labels


def cross_entropy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``model`` (put in train mode) on the batch, with its graph."""
    model.train()
    logits = model(images.to(model_device(model)))
    return F.cross_entropy(logits, fit_labels(labels, logits))


@contextmanager
def hooks(modules: Iterable[nn.Module], hook: Callable, *, pre: bool = False) -> Iterator[int]:
    """Register ``hook`` as a forward hook (``pre``: forward pre-hook) on each of ``modules``;
    yields how many; always removes them."""
    handles = []
    try:
        for module in modules:
            register = module.register_forward_pre_hook if pre else module.register_forward_hook
            handles.append(register(hook))
        yield len(handles)
    finally:
        for handle in handles:
            handle.remove()


def fresh_statistics_copy(model: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A deep copy of ``model`` (optionally cast to ``dtype``) with reset BatchNorm running
    statistics, in eval mode: BatchNorm is then x / sqrt(1 + eps), "BatchNorm off"."""
    net = copy_model(model)
    if dtype is not None:
        net = net.to(dtype)
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
            module.reset_running_stats()
    net.eval()
    return net


def copy_model(model: nn.Module) -> nn.Module:
    """A deep copy without the gradients (a copy never hands gradients back to the original)."""
    net = copy.deepcopy(model)
    for parameter in net.parameters():
        parameter.grad = None
    return net
