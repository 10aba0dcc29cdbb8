"""What a cell's network costs: parameters, FLOPs and the time of one forward pass (torch only).

Counting conventions (the ones NAS-Bench-201 / NATS-Bench publish, so budgets read the same):

* ``params_m``: trainable parameters in millions (BatchNorm's running statistics are buffers, not
  parameters), as the benchmarks' ``params`` and the embedded tables' ``params_m``.
* ``flops_m``: millions of multiply-accumulates of one image's forward pass, each multiply-add
  counted **once**. :class:`torch.utils.flop_counter.FlopCounterMode` counts a multiply-add as 2
  FLOPs (of convolutions and matrix products only: pooling, additions and activations count 0), so
  ``flops_m`` is its total halved. NATS-Bench's own counter (``get_cost_info(...)['flops']``) counts
  the same multiply-adds plus the classifier's bias additions: its value is
  ``flops_m + num_classes / 1e6`` (e.g. 15.64737 against 15.64736 for NB201 cell 0 on CIFAR-10).

Both are counted on the ``meta`` device: the network is built and run without allocating a weight
or an activation (about 0.1 s for an NB201 network). A network whose construction or forward needs
real data (NAS-Bench-101's ``nasbench_pytorch`` converts its adjacency matrix to numpy) is built on
the CPU instead, which :attr:`NetworkCosts.on_meta` records.

:func:`measure_latency_ms` times real forward passes on whatever hardware the model lives on.
torch is imported by the functions that use it, so importing this module (e.g. for
:data:`MEASURED_DEVICE`) stays light.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from search_spaces.core.space import SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

# The latency "device" that means: time the forward pass here, on this process's hardware.
MEASURED_DEVICE = "measured"
# FlopCounterMode counts this many FLOPs per multiply-add; ``flops_m`` counts one.
FLOPS_PER_MULTIPLY_ADD = 2
_META_FAILURES = (TypeError, RuntimeError, NotImplementedError, ValueError)


@dataclass(frozen=True)
class NetworkCosts:
    """The static costs of one network (see the module docstring for the conventions).

    Attributes:
        params_m: trainable parameters, millions.
        flops_m: multiply-adds of a forward pass of one input, millions (each counted once).
        on_meta: True when counted on the meta device, False when the network had to be built on the CPU.
    """

    params_m: float
    flops_m: float
    on_meta: bool


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters of ``model`` (works on the meta device; nothing mutated)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_multiply_adds(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-adds of ``model(example)`` (FlopCounterMode's FLOPs halved), under ``torch.no_grad``.

    ``model`` is put in eval mode (mutated: its ``training`` flag) so BatchNorm accepts one image.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(example)
    return counter.get_total_flops() // FLOPS_PER_MULTIPLY_ADD


def _costs_on(device: str, space: SearchSpace, arch: Hashable, num_classes: int, shape: tuple[int, ...]):
    import torch

    # The build draws initial weights from torch's global RNG: fork it so the caller's state is untouched.
    with torch.random.fork_rng(devices=[]), torch.device(device):
        model = space.build(arch, num_classes)
        example = torch.zeros((1, *shape))
    return count_parameters(model), count_multiply_adds(model, example)


def network_costs(
    space: SearchSpace, arch: Hashable, num_classes: int, input_shape: Sequence[int] = (3, 32, 32)
) -> NetworkCosts:
    """Parameters and multiply-adds of ``space.build(arch, num_classes)`` for one input of ``input_shape``
    (channels, height, width), counted on the meta device where the network allows it, else on the CPU.

    Touches no global random state. Raises whatever ``space.build`` raises for an invalid cell.
    """
    shape = tuple(int(s) for s in input_shape)
    try:
        params, macs = _costs_on("meta", space, arch, num_classes, shape)
        on_meta = True
    except _META_FAILURES:
        params, macs = _costs_on("cpu", space, arch, num_classes, shape)
        on_meta = False
    return NetworkCosts(params / 1e6, macs / 1e6, on_meta)


@dataclass(frozen=True)
class LatencyMeasurement:
    """A measured forward-pass time.

    Attributes:
        ms: median milliseconds of one forward pass over ``repeats`` timed passes (after the warm-up).
        hardware: what it ran on: ``"cuda:<GPU name>"`` or ``"cpu:<processor>, <n> threads"``.
        repeats: the timed passes.
        input_shape: the input tensor's shape, batch first.
    """

    ms: float
    hardware: str
    repeats: int
    input_shape: tuple[int, ...]


def cpu_model_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` where there is one, else ``platform.processor()``)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown cpu"


def describe_hardware(device: torch.device) -> str:
    """``"cuda:<GPU name>"`` for a CUDA device, ``"cpu:<model name>, <n> threads"`` for the CPU
    (the model name from ``/proc/cpuinfo`` where there is one; the thread count matters to a CPU
    latency), else the device type."""
    import torch

    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu:{cpu_model_name()}, {torch.get_num_threads()} threads"
    return device.type


def measure_latency_ms(
    model: nn.Module,
    input_shape: Sequence[int],
    repeats: int = 20,
    warmup: int = 3,
    generator: torch.Generator | None = None,
) -> LatencyMeasurement:
    """Time ``model``'s forward pass on the device its parameters live on.

    The input is a standard-normal tensor of ``input_shape`` (batch first, e.g. ``(1, 3, 32, 32)``)
    drawn from ``generator`` (a CPU generator; a fresh one seeded 0 when None). ``warmup`` untimed
    passes come first; the result is the median of ``repeats`` timed passes under
    ``torch.inference_mode``, each synchronised on CUDA. ``model`` is put in eval mode (mutated).

    Raises:
        ValueError: ``repeats`` < 1, ``warmup`` < 0, or an empty ``input_shape``.
    """
    import torch

    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    shape = tuple(int(s) for s in input_shape)
    if not shape:
        raise ValueError("input_shape must name at least the batch dimension")
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    example = torch.randn(shape, generator=generator).to(device)
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model.eval()
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(example)
        synchronise()
        for _ in range(repeats):
            start = time.perf_counter()
            model(example)
            synchronise()
            times.append(time.perf_counter() - start)
    return LatencyMeasurement(statistics.median(times) * 1e3, describe_hardware(device), repeats, shape)
