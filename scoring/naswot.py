"""The NASWOT score (Mellor et al., "Neural Architecture Search without Training", ICML 2021).

For a minibatch of N images, every unit in front of a ReLU is on (input > 0) or off, which gives
each image a binary code c_i. The kernel is

    K[i, j] = N_A - Hamming(c_i, c_j) = sum over ReLUs of (C C^T + (1 - C)(1 - C)^T)[i, j]

and the score is log|det K|. This module computes it in one forward pass without gradients:

* each ``nn.ReLU`` module gets a forward hook; **functional relu calls (``F.relu``,
  ``torch.relu``, ``x.relu()``) are not seen**, as in the paper's code, which hooks modules;
* C C^T + (1-C)(1-C)^T = 2G - d_i - d_j + N_A with G = C C^T and d = diag(G), so each ReLU costs
  one pass that reads its codes (numpy's comparison on the CPU) and one exact product of them
  (:func:`binary_gram`): int8 with int32 accumulation, float32 in chunks below 2^24 units, or a
  bit-packed AND + popcount (numpy's, or compiled), whichever this CPU runs fastest
  (:func:`cpu_gram_method`); float32 off the CPU. Layers are summed in float64, so K holds exact
  integer counts;
* ReLUs that read the very same tensor (several ops on one cell node) reuse the first product;
* the network runs in train mode (batch-statistics BatchNorm), as the paper scores.

``hook="official"`` reproduces the official code's numbers instead: it hooks every module whose
type name contains "ReLU", so a block like NB201's ``ReLUConvBN`` adds the codes of its input a
second time (same ranking up to a few swaps; about 88 higher on NB201 at batch 128).
"""

from __future__ import annotations

import functools
import math
import time
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from scoring import popcount
from scoring.hardware import cpu_has_vnni
from search_spaces.core.errors import UnknownNameError

GRAM_METHODS = ("auto", "int8", "float32", "popcount", "jit_popcount")
"""How C C^T is multiplied; every method is exact (see :func:`binary_gram`)."""

_EXACT_FEATURES = 1 << 24  # float32 holds every integer below 2^24 exactly
_INT_MM_MIN_UNITS = 8  # torch._int_mm on the CPU was seen to return garbage with a single unit
_POPCOUNT_ROWS = 8  # rows of the block ANDed against every later row at once
_POPCOUNT_WORDS = 256  # 64-bit words per block: the temporary stays in L2 (8 x 128 x 256 x 8 bytes)
_CALIBRATION_SHAPE = (128, 8192)


def _flatten_units(t: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, units) without copying when possible; unit order does not change S S^T."""
    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        t = t.permute(0, 2, 3, 1)
    return t.reshape(t.shape[0], -1)


def _positive_codes_numpy(flat: torch.Tensor, dtype: type = np.bool_) -> np.ndarray:
    """``flat > 0`` for a 2-D CPU tensor as a C-contiguous numpy array of 0/1 in ``dtype``.

    numpy's comparison is used where it can read the tensor: one thread of it was measured 2x
    faster than torch's ``>`` on two threads (AVX-512 Xeon, 128 x 16,384 float32), and writing
    float32 codes directly saves a conversion pass."""
    if flat.dtype == torch.bfloat16 or flat.is_complex():
        return (flat > 0).numpy().astype(dtype, copy=False)
    if dtype is np.bool_:
        return np.greater(flat.numpy(), 0)
    return np.greater(flat.numpy(), 0, out=np.empty(tuple(flat.shape), dtype=dtype), casting="unsafe")


def _gram_int8(codes: np.ndarray) -> torch.Tensor:
    """C C^T of (N, F) bool codes as int8 products with int32 accumulation (exact below 2^31)."""
    c8 = torch.from_numpy(codes).view(torch.int8)
    return torch._int_mm(c8, c8.T).to(torch.float64)


def _gram_float32(codes: torch.Tensor) -> torch.Tensor:
    """C C^T of (N, F) bool codes on their device as float32 products, in chunks of fewer than
    2^24 units (every partial sum is then an exactly representable integer)."""
    total = torch.zeros((codes.shape[0],) * 2, dtype=torch.float64, device=codes.device)
    for start in range(0, codes.shape[1], _EXACT_FEATURES - 1):
        c = codes[:, start : start + _EXACT_FEATURES - 1].to(torch.float32)
        total += (c @ c.T).to(torch.float64)
    return total


def _gram_popcount(codes: np.ndarray) -> torch.Tensor:
    """C C^T of (N, F) bool codes by bit packing: G[i, j] = popcount(c_i AND c_j) over 64-bit words,
    for the upper triangle only (in blocks of rows, so the temporaries stay small), mirrored."""
    n = codes.shape[0]
    words = popcount.pack_codes(codes)
    num_words = words.shape[1]
    upper = np.zeros((n, n), dtype=np.int64)
    block = np.empty((_POPCOUNT_ROWS, n, min(_POPCOUNT_WORDS, num_words)), dtype=np.uint64)
    counts = np.empty(block.shape, dtype=np.uint8)
    for r0 in range(0, n, _POPCOUNT_ROWS):
        rows = words[r0 : r0 + _POPCOUNT_ROWS, None, :]
        later = words[None, r0:, :]
        nr, nc = rows.shape[0], later.shape[1]
        for w0 in range(0, num_words, _POPCOUNT_WORDS):
            nw = min(_POPCOUNT_WORDS, num_words - w0)
            anded = np.bitwise_and(rows[..., w0 : w0 + nw], later[..., w0 : w0 + nw], out=block[:nr, :nc, :nw])
            ones = np.bitwise_count(anded, out=counts[:nr, :nc, :nw])
            upper[r0 : r0 + nr, r0:] += ones.sum(axis=2, dtype=np.int64)
    upper = np.triu(upper)
    return torch.from_numpy((upper + np.triu(upper, 1).T).astype(np.float64))


def _best_seconds(fn, repeats: int = 3) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _calibration_candidates() -> tuple[str, ...]:
    """The methods worth timing on this CPU: int8 only with VNNI (without it ``torch._int_mm`` runs
    a reference loop, measured 7x slower than float32 on a whole score), the compiled popcount only
    where numba imports."""
    return (
        ("float32", "popcount")
        + (("jit_popcount",) if popcount.available() else ())
        + (("int8",) if cpu_has_vnni() else ())
    )


@functools.lru_cache(maxsize=1)
def cpu_gram_method() -> str:
    """The method ``"auto"`` uses on this CPU, chosen once per process.

    The fastest of :func:`_calibration_candidates`, each timed (after one warm-up call, which
    compiles the jit kernel) on 128 x 8,192 random codes, best of 3: tens of milliseconds once per
    process. Which wins depends on the CPU: on an Intel Xeon with VNNI and AMX ``"int8"`` was 6x
    float32; on an AMD EPYC without VNNI the compiled popcount was 5x float32 and 3x numpy's
    popcount. Every method gives the same exact counts, so the choice changes only the speed.
    """
    activations = torch.from_numpy(np.random.default_rng(0).standard_normal(_CALIBRATION_SHAPE, dtype=np.float32))
    seconds = {}
    for method in _calibration_candidates():
        try:
            _positive_gram(activations, method)  # warm-up: compiles, faults pages in
        except Exception as error:  # noqa: BLE001 - a fast path that fails here is left out, loudly
            warnings.warn(f"the {method!r} code product failed on this machine and is not used: {error}", stacklevel=2)
            continue
        seconds[method] = _best_seconds(lambda m=method: _positive_gram(activations, m))
    return min(seconds, key=seconds.__getitem__)


def _resolve(method: str, device: torch.device) -> str:
    if method not in GRAM_METHODS:
        raise UnknownNameError("gram method", method, GRAM_METHODS)
    if method == "auto":
        return cpu_gram_method() if device.type == "cpu" else "float32"
    return method


def _positive_gram(t: torch.Tensor, method: str) -> torch.Tensor:
    """G = C C^T in float64 for the codes C = ``t > 0`` of a (N, ...) tensor, exactly, by ``method``
    (already resolved: any :data:`GRAM_METHODS` entry but ``"auto"``)."""
    flat = _flatten_units(t.detach())
    if method == "float32" and flat.device.type != "cpu":
        return _gram_float32(flat > 0)
    flat = flat.cpu()
    if method == "int8" and _INT_MM_MIN_UNITS <= flat.shape[1] < 2**31:
        gram = _gram_int8(_positive_codes_numpy(flat))
    elif method == "popcount":
        gram = _gram_popcount(_positive_codes_numpy(flat))
    elif method == "jit_popcount":
        upper = popcount.packed_gram(_positive_codes_numpy(flat), threads=torch.get_num_threads())
        gram = torch.from_numpy(upper.astype(np.float64))
    else:
        gram = _gram_float32(torch.from_numpy(_positive_codes_numpy(flat, np.float32)))
    return gram.to(t.device)


def binary_gram(codes: torch.Tensor, method: str = "auto") -> torch.Tensor:
    """C C^T in float64 for 0/1 ``codes`` of shape (N, F) (bool, integer or float), exactly.

    Methods (all exact, all give the same integers):

    * ``"int8"``: int8 products with int32 accumulation (exact below 2^31 units), CPU only; used
      by ``"auto"`` on CPUs with VNNI; below 8 units it falls back to float32;
    * ``"float32"``: float32 products in chunks of fewer than 2^24 units; on any device, and
      ``"auto"``'s choice off the CPU;
    * ``"popcount"``: bits packed into 64-bit words, AND + ``numpy.bitwise_count``, upper
      triangle only; CPU only;
    * ``"jit_popcount"``: the same count in one compiled loop (:mod:`scoring.popcount`, numba), its
      rows split over torch's intra-op thread count; CPU only; raises ``ImportError`` without numba.

    ``"auto"`` takes :func:`cpu_gram_method` on the CPU. Codes on another device are read on the
    CPU for the CPU-only methods; the result is on the codes' device. Raises ``UnknownNameError``
    (a ``KeyError``) for another ``method``.
    """
    return _positive_gram(codes, _resolve(method, codes.device))


def kernel_from_gram(gram: torch.Tensor, num_units: int) -> torch.Tensor:
    """K = C C^T + (1 - C)(1 - C)^T from G = C C^T alone: K = 2G - d_i - d_j + N_A with d = diag(G)."""
    g = gram.to(torch.float64)
    d = torch.diagonal(g)
    return 2 * g - d[:, None] - d[None, :] + num_units


def hamming_kernel(codes: torch.Tensor, method: str = "auto") -> torch.Tensor:
    """K = N_A - Hamming distance for binary ``codes`` (N, N_A) (bool or 0/1), in float64."""
    return kernel_from_gram(binary_gram(codes, method), codes.shape[1])


class KernelAccumulator:
    """Collects the NASWOT kernel from ReLU calls during one forward pass.

    The code of a unit is ``relu(x) > 0``, i.e. ``x > 0``, read from the ReLU's own output.
    G = sum over ReLUs of C C^T is accumulated exactly in float64 (see :func:`binary_gram`; every
    ``method`` there gives the same kernel). Raises ``UnknownNameError`` for another ``method``.

    Attributes:
        method: the :data:`GRAM_METHODS` entry asked for (``"auto"`` resolves on the first call).
        num_units: N_A, the number of ReLU units per sample seen so far.
        num_relus: ReLU calls seen; ``num_reused`` of them reused the product of an earlier
            ReLU that read the very same input tensor (same object, same version).
    """

    def __init__(self, method: str = "auto") -> None:
        if method not in GRAM_METHODS:
            raise UnknownNameError("gram method", method, GRAM_METHODS)
        self.method = method
        self._resolved: str | None = None
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
            if self._resolved is None:
                self._resolved = _resolve(self.method, codes_of.device)
            gram = _positive_gram(codes_of, self._resolved)
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
    model: nn.Module,
    images: torch.Tensor,
    *,
    channels_last: bool | None = None,
    hook: str = "relu",
    method: str = "auto",
) -> torch.Tensor:
    """The (N, N) float64 kernel N_A - Hamming of ``model`` on ``images`` (see module docstring).

    ``model`` runs once in train mode under ``torch.no_grad``; its previous train/eval mode is
    restored afterwards, but BatchNorm running statistics are updated by that pass (as in the
    paper). Hooks are removed even when the forward pass raises.

    Args:
        channels_last: feed 4-D images in channels-last layout (2-3x faster convolutions on CPU);
            default: on for CPU models. The model itself is not converted.
        method: how the code products are multiplied (:data:`GRAM_METHODS`); all are exact.

    Raises:
        ValueError: ``images`` is not a batch of at least 2 samples, or no ReLU ran.
        UnknownNameError: ``method`` is not one of :data:`GRAM_METHODS`.
    """
    if images.dim() < 2 or images.shape[0] < 2:
        raise ValueError(f"images must be a batch of at least 2 samples, got shape {tuple(images.shape)}")
    device = _model_device(model)
    x = images.to(device)
    if channels_last is None:
        channels_last = device.type == "cpu"
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    accumulator = KernelAccumulator(method)
    was_training = model.training
    try:
        model.train()
        with relu_hooks(model, accumulator, hook), torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
    return accumulator.result()


def naswot_score(
    model: nn.Module,
    images: torch.Tensor,
    *,
    channels_last: bool | None = None,
    hook: str = "relu",
    method: str = "auto",
) -> float:
    """The NASWOT score log|det K| of an untrained ``model`` on a minibatch ``images``.

    Returns ``-inf`` when K is singular (e.g. duplicated images); never NaN for finite inputs.
    See :func:`naswot_kernel` for what is mutated and raised.
    """
    return log_abs_det(naswot_kernel(model, images, channels_last=channels_last, hook=hook, method=method))
