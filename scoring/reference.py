"""A faithful re-implementation of the NASWOT paper's original scoring recipe, for comparison.

The authors' ``score_networks.py`` (BayesWatch/nas-without-training) scores a network by

1. a forward and a backward pass of the batch (their ``get_batch_jacobian``), during which backward
   hooks mark every ReLU as visited;
2. a second forward pass, in which a forward hook on every ReLU module computes, on the device in
   float32, ``x = (input > 0).float()``, ``K1 = x @ x.T`` and ``K2 = (1 - x) @ (1 - x).T`` and adds
   both, copied to the CPU, to a float64 numpy matrix;
3. ``numpy.linalg.slogdet`` of that matrix, keeping the log-absolute-determinant.

Written from the paper and that recipe (no code copied). It is slow on purpose: it is the baseline
that :mod:`scoring.bench` measures :func:`scoring.naswot.naswot_score` against.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def paper_naswot_score(model: nn.Module, images: torch.Tensor, modules: str = "relu") -> float:
    """The paper's recipe; returns log|det K| (``-inf`` for a singular K). Hooks are removed afterwards.

    ``modules="official"`` hooks what the official code hooks: every module whose type name contains
    "ReLU" (``nn.ReLU`` and blocks such as ``ReLUConvBN``); ``"relu"`` only ``nn.ReLU`` modules.
    """
    device = next(model.parameters()).device
    batch = images.shape[0]
    state = {"K": np.zeros((batch, batch), dtype=np.float64)}
    visited: set[int] = set()

    def forward_hook(module: nn.Module, inputs, _output) -> None:
        if id(module) not in visited:
            return
        flat = inputs[0].reshape(inputs[0].shape[0], -1)
        x = (flat > 0).float()
        k1 = x @ x.t()
        k2 = (1.0 - x) @ (1.0 - x.t())
        state["K"] = state["K"] + k1.cpu().numpy() + k2.cpu().numpy()

    def backward_hook(module: nn.Module, _grad_in, _grad_out) -> None:
        visited.add(id(module))

    handles = []
    try:
        for module in model.modules():
            hooked = "ReLU" in type(module).__name__ if modules == "official" else isinstance(module, nn.ReLU)
            if hooked:
                handles.append(module.register_forward_hook(forward_hook))
                handles.append(module.register_full_backward_hook(backward_hook))
        model.train()
        x = images.to(device).clone().requires_grad_(True)
        model.zero_grad()
        y = model(x)
        y.backward(torch.ones_like(y))
        with torch.no_grad():
            model(images.to(device))
    finally:
        for handle in handles:
            handle.remove()
    _sign, logdet = np.linalg.slogdet(state["K"])
    return float(logdet)
