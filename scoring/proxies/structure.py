"""Cell-structure proxies: scores read from a network's wiring, with no data and no weights."""

from __future__ import annotations

import torch
from torch import nn

from scoring.proxies.facts import register_proxy
from search_spaces.core.errors import ProxyNotApplicableError


def dag_cells(model: nn.Module) -> list[tuple[tuple[tuple[int, int], ...], nn.ModuleList]]:
    """``(dag_edges, edges)`` of every submodule of ``model`` that declares its DAG: an ``edges``
    module list and, for each edge, its ``(source, destination)`` node pair in ``dag_edges``
    (NB201's / NATS-Bench's cell)."""
    cells = []
    for module in model.modules():
        edges = getattr(module, "edges", None)
        pairs = tuple(getattr(module, "dag_edges", ()))
        if isinstance(edges, nn.ModuleList) and len(pairs) == len(edges) > 0:
            cells.append((pairs, edges))
    return cells


@register_proxy(
    spaces=("nats_sss", "nb201"),
    cost="free",
    summary="mean number of cell nodes a skip connection bypasses (data-free, NB201 cells)",
    source="Cavagnero et al., WACV 2023 (FreeREA)",
)
def skipped_layers(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """FreeREA's skip score (Cavagnero et al., "FreeREA: Training-Free Evolution-based Architecture
    Search", WACV 2023): the mean, over the skip connections (identity edges) of the network's DAG
    cells, of the number of intermediate nodes an edge bypasses, ``destination - source - 1``;
    0 when no edge is an identity. On NAS-Bench-201 a skip from the input to the output node
    scores 2 (the residual cell every top cell of the benchmark has), one between neighbours 0.

    The paper defines it on the genotype string; this reads the same wiring from the built modules
    (``nn.Identity`` edges of the cells :func:`dag_cells` finds; every cell of a NB201 network has
    the same genotype, so the mean over all cells equals the genotype's). Data-free: ``images``
    and ``labels`` are ignored. Raises ``ProxyNotApplicableError`` for a network without DAG
    cells (e.g. NAS-Bench-101's or the NDS spaces' networks, which do not declare theirs)."""
    cells = dag_cells(model)
    if not cells:
        raise ProxyNotApplicableError(
            "skipped_layers reads cells that declare their DAG (an `edges` ModuleList and `dag_edges`); "
            f"{type(model).__name__} has none (NB201 / NATS-Bench topology networks do)"
        )
    spans = [
        destination - source - 1
        for pairs, edges in cells
        for (source, destination), edge in zip(pairs, edges)
        if isinstance(edge, nn.Identity)
    ]
    return float(sum(spans) / len(spans)) if spans else 0.0
