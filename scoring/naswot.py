"""The NASWOT score (Mellor et al., "Neural Architecture Search without Training", ICML 2021).

For a minibatch of N images, every unit in front of a ReLU is on (input > 0) or off, which gives
each image a binary code c_i. The kernel is

    K[i, j] = N_A - Hamming(c_i, c_j) = sum over ReLUs of (C C^T + (1 - C)(1 - C)^T)[i, j]

and the score is log|det K|. This module computes it in one forward pass without gradients:

* each ``nn.ReLU`` module gets a forward pre-hook; **functional relu calls (``F.relu``,
  ``torch.relu``, ``x.relu()``) are not seen**, as in the paper's code, which hooks modules;
* C C^T + (1-C)(1-C)^T = 2G - d_i - d_j + N_A with G = C C^T and d = diag(G), so each ReLU costs
  one matrix product of its 0/1 codes on the model's device: int8 with int32 accumulation on the
  CPU (AVX-512 VNNI), float32 in chunks below 2^24 units elsewhere; both exact, and layers are
  summed in float64, so K holds exact integer counts;
* ReLUs that read the very same tensor (several ops on one cell node) reuse the first product;
* the network runs in train mode (batch-statistics BatchNorm), as the paper scores.

``hook="official"`` reproduces the official code's numbers instead: it hooks every module whose
type name contains "ReLU", so a block like NB201's ``ReLUConvBN`` adds the codes of its input a
second time (same ranking up to a few swaps; about 88 higher on NB201 at batch 128).
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

_EXACT_FEATURES = 1 << 24  # float32 holds every integer below 2^24 exactly
_INT_MM_MIN_UNITS = 8


@functools.lru_cache(maxsize=1)
def _cpu_has_vnni() -> bool:
    """Whether this CPU multiplies int8 fast (AVX-512 VNNI or AVX-VNNI). Without VNNI,
    ``torch._int_mm`` on the CPU was measured 20x slower than float32 (an AMD EPYC without VNNI:
    5.7 s against 0.26 s for 128 x 262,144 codes), so the float32 path is used there."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def _flatten_units(t: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, units) without copying when possible; unit order does not change S S^T."""
    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        t = t.permute(0, 2, 3, 1)
    return t.reshape(t.shape[0], -1)


def binary_gram(codes: torch.Tensor) -> torch.Tensor:
    """C C^T in float64 for 0/1 ``codes`` of shape (N, F) (bool, integer or float), exactly.

    On a CPU with VNNI the codes are multiplied as int8 with int32 accumulation (exact up to 2^31
    units); elsewhere (other CPUs, GPUs), and for fewer than 8 units (where ``torch._int_mm`` on the CPU was seen to
    return garbage with a single unit), as float32 in chunks of fewer than 2^24 units (each exact).
    """
    if codes.dtype == torch.bool:
        codes = codes.view(torch.int8)
    if codes.device.type == "cpu" and _INT_MM_MIN_UNITS <= codes.shape[1] < 2**31 and _cpu_has_vnni():
        c8 = codes if codes.dtype == torch.int8 else codes.to(torch.int8)
        return torch._int_mm(c8, c8.T).to(torch.float64)
    total = torch.zeros((codes.shape[0],) * 2, dtype=torch.float64, device=codes.device)
    for start in range(0, codes.shape[1], _EXACT_FEATURES - 1):
        c = codes[:, start : start + _EXACT_FEATURES - 1].to(torch.float32)
        total += (c @ c.T).to(torch.float64)
    return total


def kernel_from_gram(gram: torch.Tensor, num_units: int) -> torch.Tensor:
    """K = C C^T + (1 - C)(1 - C)^T from G = C C^T alone: K = 2G - d_i - d_j + N_A with d = diag(G)."""
    g = gram.to(torch.float64)
    d = torch.diagonal(g)
    return 2 * g - d[:, None] - d[None, :] + num_units


def hamming_kernel(codes: torch.Tensor) -> torch.Tensor:
    """K = N_A - Hamming distance for binary ``codes`` (N, N_A) (bool or 0/1), in float64."""
    return kernel_from_gram(binary_gram(codes), codes.shape[1])


class KernelAccumulator:
    """Collects the NASWOT kernel from ReLU calls during one forward pass.

    The code of a unit is ``relu(x) > 0``, i.e. ``x > 0``, read from the ReLU's own output.
    G = sum over ReLUs of C C^T is accumulated exactly in float64 (see :func:`binary_gram`).

    Attributes:
        num_units: N_A, the number of ReLU units per sample seen so far.
        num_relus: ReLU calls seen; ``num_reused`` of them reused the product of an earlier
            ReLU that read the very same input tensor (same object, same version).
    """

    def __init__(self) -> None:
        self.num_units = 0
        self.num_relus = 0
        self.num_reused = 0
        self._gram: torch.Tensor | None = None
        self._seen: dict[tuple[int, int], tuple[weakref.ref, torch.Tensor]] = {}

    def add(self, relu_input: torch.Tensor, relu_output: torch.Tensor | None = None) -> None:
        """Add one ReLU call on a (N, ...) batch; only this accumulator is mutated.

        The codes are ``relu_output > 0``, or ``relu_input > 0`` when no output is given (the same
        for a ReLU; what the official code reads from any "ReLU" module)."""
        key = (id(relu_input), relu_input._version)
        cached = self._seen.get(key)
        codes_of = relu_input if relu_output is None else relu_output
        if cached is not None and cached[0]() is relu_input:
            gram = cached[1]
            self.num_reused += 1
        else:
            gram = binary_gram(_flatten_units(codes_of.detach()) > 0)
            self._seen[key] = (weakref.ref(relu_input), gram)
        self._gram = gram.clone() if self._gram is None else self._gram.add_(gram)
        self.num_units += codes_of[0].numel()
        self.num_relus += 1

    def result(self) -> torch.Tensor:
        """The kernel N_A - Hamming as float64; raises ``ValueError`` if no ReLU was seen."""
        if self._gram is None:
            raise ValueError("the network has no nn.ReLU module that ran: the NASWOT kernel is empty")
        return kernel_from_gram(self._gram, self.num_units)


HOOKS = ("relu", "official")


@contextmanager
def relu_hooks(model: nn.Module, accumulator: KernelAccumulator, hook: str = "relu") -> Iterator[int]:
    """Attach a forward hook to every ``nn.ReLU`` of ``model`` (``hook="relu"``), or to every module
    whose type name contains "ReLU" (``hook="official"``, codes from the module's input); yields how
    many; always removes them. Raises ``ValueError`` for another ``hook``."""
    if hook not in HOOKS:
        raise ValueError(f"hook must be one of {HOOKS}, got {hook!r}")
    handles = []
    try:
        for module in model.modules():
            if hook == "relu" and isinstance(module, nn.ReLU):
                handles.append(
                    module.register_forward_hook(lambda _m, inputs, output: accumulator.add(inputs[0], output))
                )
            elif hook == "official" and "ReLU" in type(module).__name__:
                handles.append(module.register_forward_hook(lambda _m, inputs, _output: accumulator.add(inputs[0])))
        yield len(handles)
    finally:
        for handle in handles:
            handle.remove()


def log_abs_det(kernel: torch.Tensor) -> float:
    """log|det K| of a symmetric positive semi-definite kernel; ``-inf`` when K is singular.

    Uses the eigenvalues in float64; K counts as singular when its smallest eigenvalue is at most
    N * eps * largest (numerical rank deficiency), e.g. when two images share all their codes.
    Never raises for a finite square matrix and never returns NaN.
    """
    k = kernel.detach().to(device="cpu", dtype=torch.float64)
    if k.dim() != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"kernel must be square, got shape {tuple(k.shape)}")
    if not torch.isfinite(k).all():
        raise ValueError("kernel has non-finite entries")
    eig = torch.linalg.eigvalsh(k)
    largest = float(eig[-1])
    if largest <= 0 or float(eig[0]) <= k.shape[0] * torch.finfo(torch.float64).eps * largest:
        return -math.inf
    return float(torch.log(eig).sum())


def _model_device(model: nn.Module) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    for buffer in model.buffers():
        return buffer.device
    return torch.device("cpu")


def naswot_kernel(
    model: nn.Module, images: torch.Tensor, *, channels_last: bool | None = None, hook: str = "relu"
) -> torch.Tensor:
    """The (N, N) float64 kernel N_A - Hamming of ``model`` on ``images`` (see module docstring).

    ``model`` runs once in train mode under ``torch.no_grad``; its previous train/eval mode is
    restored afterwards, but BatchNorm running statistics are updated by that pass (as in the
    paper). Hooks are removed even when the forward pass raises.

    Args:
        channels_last: feed 4-D images in channels-last layout (2-3x faster convolutions on CPU);
            default: on for CPU models. The model itself is not converted.

    Raises:
        ValueError: ``images`` is not a batch of at least 2 samples, or no ReLU ran.
    """
    if images.dim() < 2 or images.shape[0] < 2:
        raise ValueError(f"images must be a batch of at least 2 samples, got shape {tuple(images.shape)}")
    device = _model_device(model)
    x = images.to(device)
    if channels_last is None:
        channels_last = device.type == "cpu"
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    accumulator = KernelAccumulator()
    was_training = model.training
    try:
        model.train()
        with relu_hooks(model, accumulator, hook), torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
    return accumulator.result()


def naswot_score(
    model: nn.Module, images: torch.Tensor, *, channels_last: bool | None = None, hook: str = "relu"
) -> float:
    """The NASWOT score log|det K| of an untrained ``model`` on a minibatch ``images``.

    Returns ``-inf`` when K is singular (e.g. duplicated images); never NaN for finite inputs.
    See :func:`naswot_kernel` for what is mutated and raised.
    """
    return log_abs_det(naswot_kernel(model, images, channels_last=channels_last, hook=hook))
