"""Scoring a cell of a search space: seeded construction plus the NASWOT score, timed.

Construction is seeded without touching torch's global RNG for good (:func:`build_seeded`), or
with a private generator on a background thread that builds the next cell while the current one
scores (:class:`BuildAhead`); both give the same weights.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from scoring.naswot import naswot_score
from search_spaces.core.space import SearchSpace

_TENSOR_DRAWS: frozenset[Callable[..., Any]] = frozenset(
    {
        torch.Tensor.uniform_,
        torch.Tensor.normal_,
        torch.Tensor.random_,
        torch.Tensor.bernoulli_,
        torch.Tensor.exponential_,
        torch.Tensor.geometric_,
        torch.Tensor.cauchy_,
        torch.Tensor.log_normal_,
        torch.rand,
        torch.randn,
        torch.randint,
        torch.randperm,
        torch.normal,
        torch.bernoulli,
        torch.multinomial,
        torch.poisson,
        torch.rand_like,
        torch.randn_like,
        torch.randint_like,
    }
)
# nn.init's functions take a generator too; with a function mode active they are handed to the
# mode whole (and then draw without it), so they must be given the generator themselves.
_INIT_DRAWS: frozenset[Callable[..., Any]] = frozenset(
    f
    for name, f in vars(nn.init).items()
    if inspect.isfunction(f) and not name.startswith("_") and "generator" in inspect.signature(f).parameters
)


class _DrawFrom(TorchFunctionMode):
    """Hands ``generator`` to every torch draw that names none, on this thread only (torch's mode
    stack is thread-local), so construction reads and advances neither torch's global RNG nor
    another thread's stream."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.generator = generator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if (func in _TENSOR_DRAWS or func in _INIT_DRAWS) and kwargs.get("generator") is None:
            kwargs = {**kwargs, "generator": self.generator}
        return func(*args, **kwargs)


def _to_device(model: nn.Module, device: str | torch.device) -> nn.Module:
    # Construction is on the CPU; a no-op .to("cpu") still walks every module (2.5 of 13.6 ms, NB201).
    return model if torch.device(device).type == "cpu" else model.to(device)


def build_seeded(
    space: SearchSpace, arch: Hashable, num_classes: int, init_seed: int, device: str | torch.device = "cpu"
) -> nn.Module:
    """Build ``arch`` with its weights drawn from ``init_seed``, then move it to ``device``.

    The weights are those of ``torch.manual_seed(init_seed)`` followed by a plain build on the
    CPU. The global torch RNG is forked for the construction and restored afterwards, so callers'
    random state is untouched and the same seed always gives the same initial weights. Not safe
    to call while another thread draws from the global RNG: :class:`BuildAhead` builds with a
    private generator instead, to the same weights. Exceptions of ``space.build`` propagate.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(init_seed))
        model = space.build(arch, num_classes)
    return _to_device(model, device)


def build_seeded_threadsafe(
    space: SearchSpace, arch: Hashable, num_classes: int, init_seed: int, device: str | torch.device = "cpu"
) -> nn.Module:
    """:func:`build_seeded` without the global RNG: every draw of the construction is given a
    generator of its own seeded with ``init_seed`` (the same stream, so the same weights; tested
    for every registered space), so it can run on a background thread. About 5 ms slower than
    :func:`build_seeded` for an NB201 network (every torch call goes through a function mode)."""
    generator = torch.Generator().manual_seed(int(init_seed))
    with _DrawFrom(generator):
        model = space.build(arch, num_classes)
    return _to_device(model, device)


@dataclass(frozen=True)
class Built:
    """A network :class:`BuildAhead` built, with the seconds the caller waited for it."""

    arch: Hashable
    init_seed: int
    model: nn.Module
    wait_s: float


class BuildAhead:
    """Builds the next seeded network on a background thread while the caller scores the current one.

    ``for built in builder.iterate(pairs)`` yields, in order, one :class:`Built` per (arch,
    init_seed) pair, with the construction of the following pair already under way; the networks
    are those :func:`build_seeded` gives (built by :func:`build_seeded_threadsafe`, so the
    caller's thread may use torch's global RNG meanwhile). The builder keeps no network once it
    is yielded: besides the caller's, only the one under construction is alive. An exception of
    a construction is raised by ``iterate`` when that pair's turn comes. Use it as a context
    manager, or call :meth:`close`, to stop the thread.

    On a GPU, where the forward takes a few milliseconds, the CPU-bound construction (10-40 ms)
    then overlaps the scoring instead of adding to it.
    """

    def __init__(self, space: SearchSpace, num_classes: int, device: str | torch.device = "cpu") -> None:
        self.space = space
        self.num_classes = num_classes
        self.device = device
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="naswot-build")

    def _submit(self, arch: Hashable, init_seed: int) -> Future[nn.Module]:
        return self._pool.submit(build_seeded_threadsafe, self.space, arch, self.num_classes, init_seed, self.device)

    def iterate(self, pairs: Iterable[tuple[Hashable, int]]) -> Iterator[Built]:
        """Yield the built network of every (arch, init_seed) of ``pairs``, one construction ahead."""
        items = iter(pairs)
        current = next(items, None)
        pending = self._submit(*current) if current is not None else None
        while current is not None and pending is not None:
            following = next(items, None)
            start = time.perf_counter()
            model = pending.result()
            wait_s = time.perf_counter() - start
            pending = self._submit(*following) if following is not None else None
            yield Built(current[0], int(current[1]), model, wait_s)
            del model
            current = following

    def close(self) -> None:
        """Stop the background thread (waits for a construction under way)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BuildAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class CellScore:
    """The NASWOT score of one cell and what it cost (seconds)."""

    score: float
    build_s: float
    score_s: float

    @property
    def finite(self) -> bool:
        return math.isfinite(self.score)


def score_cell(
    space: SearchSpace,
    arch: Hashable,
    images: torch.Tensor,
    num_classes: int,
    init_seed: int = 0,
    device: str | torch.device = "cpu",
) -> CellScore:
    """Build ``arch`` (seeded) and return its NASWOT score on ``images`` with timings.

    Exceptions from building or the forward pass propagate; a singular kernel gives ``-inf``.
    """
    start = time.perf_counter()
    model = build_seeded(space, arch, num_classes, init_seed, device)
    built = time.perf_counter()
    score = naswot_score(model, images)
    return CellScore(score, built - start, time.perf_counter() - built)
