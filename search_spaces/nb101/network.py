"""The NAS-Bench-101 network of a cell spec: ``nasbench_pytorch``'s ``Network``, without its placeholders.

``nasbench_pytorch`` fills the op slots a cell does not use (vertex 0's op, the input projections of
vertices the input does not feed) with ``Placeholder`` modules, an identity that holds one unused
scalar parameter each (4 to 7 per cell, 36 to 63 per network). The TensorFlow original has no such
parameters, so the networks built here swap them for parameter-free ``nn.Identity`` modules: the
parameter count is then exactly the benchmark's ``trainable_parameters`` of the spec. The forward
pass is unchanged (a placeholder's parameter never enters it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn


def _drop_placeholders(network: nn.Module) -> int:
    """Replace every ``nasbench_pytorch`` placeholder below ``network`` by ``nn.Identity`` (in place);
    return how many were replaced."""
    from nasbench_pytorch.model.model import Placeholder

    replaced = 0
    for module in list(network.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Placeholder):
                module.register_module(name, nn.Identity())
                replaced += 1
    return replaced


def build_network(
    matrix: np.ndarray,
    ops: Sequence[str],
    num_classes: int,
    stem_channels: int,
    num_stacks: int,
    modules_per_stack: int,
) -> nn.Module:
    """A freshly initialised NAS-Bench-101 network of the pruned, valid spec ``(matrix, ops)``.

    The stem is a 3x3 convolution to ``stem_channels``; ``num_stacks`` stacks of
    ``modules_per_stack`` cells follow, each stack after the first starting with a 2x2 max-pool and
    doubling the channels; then global average pooling and a linear layer to ``num_classes``.
    Initialisation draws from torch's global generator, as ``nasbench_pytorch`` does (seed it around
    the call, e.g. in ``torch.random.fork_rng()``, for a reproducible network).
    """
    from nasbench_pytorch.model import ModelSpec, Network

    spec = ModelSpec(np.asarray(matrix, dtype=np.int64), list(ops))
    network = Network(
        spec,
        num_labels=num_classes,
        stem_out_channels=stem_channels,
        num_stacks=num_stacks,
        num_modules_per_stack=modules_per_stack,
    )
    _drop_placeholders(network)
    return network
