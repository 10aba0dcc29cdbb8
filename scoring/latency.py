"""Forward latency as a measurement the scorers take: what ``--latency-device measured`` asks of the
scoring pool, so the latency of a cell is timed where the cells are scored (the Ray actors, on
their CPU or GPU) and stored with the hardware it ran on like any score.

A request ``(arch, init_seed, LATENCY_PROXY)`` to any :class:`~scoring.service.ScoringPool` returns a
:class:`~scoring.store.ScoreRecord` whose ``score`` is the median milliseconds of one forward pass of
a single image (:func:`search_spaces.core.costs.measure_latency_ms`, :data:`LATENCY_REPEATS` timed
passes after its warm-up) and whose ``hardware`` says where. It is not a proxy (lower is better, and
it varies between runs), so it is not in the proxy registry.
"""

from __future__ import annotations

import torch

LATENCY_PROXY = "latency_ms"
"""The request's and store key's proxy name of a forward-latency measurement."""

LATENCY_REPEATS = 10
"""Timed forward passes per cell (their median is the latency)."""


def forward_latency_ms(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Median milliseconds of one forward pass of ``model`` on one image of ``images``' shape, on
    the device ``model`` lives on (a proxy's signature, so the scorers run it like one; ``labels``
    unused). The model is put in eval mode (mutated)."""
    from search_spaces.core.costs import measure_latency_ms

    del labels
    return measure_latency_ms(model, (1, *images.shape[1:]), repeats=LATENCY_REPEATS).ms
