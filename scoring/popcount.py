"""A compiled bit-packed popcount for the NASWOT code product (the ``"jit_popcount"`` method).

G[i, j] = popcount(c_i AND c_j) summed over 64-bit words of the packed codes, for the upper
triangle, in one compiled loop (numba; LLVM's ``ctpop``, vectorised on AVX2 without VNNI). On the
2-core AMD EPYC without VNNI this was measured about 3x faster than numpy's AND +
``bitwise_count`` and 5x faster than float32 products, packing included: 2.0 ms against 6.6 ms
and 8.9 ms for 128 x 16,384 codes.

numba is imported on first use (it takes about a second); the kernel compiles on its first call
and is cached on disk where numba can write its cache. :func:`available` says whether numba can be
imported; :func:`packed_gram` raises ``ImportError`` with an install hint when it cannot.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

WORDS_PER_THREAD = 512
"""64-bit words per row of codes (32,768 units) that pay for one more thread."""

_INSTALL_HINT = "the 'jit_popcount' code product needs numba: pip install numba"


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether numba imports in this process (checked once)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _kernel() -> Callable[[np.ndarray, np.ndarray, int, int], None]:
    """Compile (or load from numba's cache) the upper-triangle AND + popcount loop."""
    try:
        from numba import njit, types
        from numba.extending import intrinsic
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error

    @intrinsic
    def popcount64(typingctx, word):
        def codegen(context, builder, signature, args):
            return builder.ctpop(args[0])

        return types.uint64(types.uint64), codegen

    def upper_gram(words, out, row_start, row_stop):  # pragma: no cover - compiled
        n, num_words = words.shape
        for i in range(row_start, row_stop):
            for j in range(i, n):
                total = np.uint64(0)
                for w in range(num_words):
                    total += popcount64(words[i, w] & words[j, w])
                out[i, j] = np.int64(total)

    try:
        return njit(nogil=True, cache=True, boundscheck=False)(upper_gram)
    except RuntimeError:  # numba finds no writable cache directory: compile in every process
        return njit(nogil=True, cache=False, boundscheck=False)(upper_gram)


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="naswot-popcount")


def _row_splits(n: int, parts: int) -> list[tuple[int, int]]:
    """Row ranges [start, stop) of the upper triangle with about equal numbers of pairs each
    (row i holds n - i pairs)."""
    total = n * (n + 1) / 2
    bounds = [0]
    for k in range(1, parts):
        target = total * k / parts
        # pairs in rows [0, r) = r * n - r * (r - 1) / 2; the smallest r reaching the target
        r = bounds[-1]
        while r < n and r * n - r * (r - 1) / 2 < target:
            r += 1
        bounds.append(r)
    bounds.append(n)
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """(N, F) bool codes -> (N, ceil(F / 64)) uint64 words, the last padded with zero bits."""
    packed = np.packbits(codes, axis=1)
    pad = -packed.shape[1] % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def packed_gram(codes: np.ndarray, threads: int = 1) -> np.ndarray:
    """C C^T as int64 for (N, F) bool ``codes``, exactly, by the compiled popcount.

    ``threads`` > 1 splits the rows of the upper triangle into up to that many parts of equal work
    run on a shared thread pool (the kernel releases the GIL), one part per
    :data:`WORDS_PER_THREAD` words of work per row: on the 2-core EPYC one thread took 1.5 ms and
    two 2.0 ms at 16,384 units; at 65,536 units one took 5.9 ms and two 4.2 ms.
    Nothing is mutated. Raises ``ImportError`` when numba is not installed."""
    kernel = _kernel()
    words = pack_codes(codes)
    n = words.shape[0]
    upper = np.zeros((n, n), dtype=np.int64)
    splits = _row_splits(n, max(1, min(threads, words.shape[1] // WORDS_PER_THREAD)))
    if len(splits) == 1:
        kernel(words, upper, 0, n)
    else:
        futures = [_pool().submit(kernel, words, upper, a, b) for a, b in splits]
        for future in futures:
            future.result()
    return upper + np.triu(upper, 1).T
