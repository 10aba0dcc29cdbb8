"""Every exact way of multiplying the NASWOT codes agrees with a brute-force count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import naswot
from scoring.naswot import GRAM_METHODS, KernelAccumulator, binary_gram, cpu_gram_method, hamming_kernel
from search_spaces.core.errors import UnknownNameError
from tests.test_naswot_score import brute_force_kernel

EXACT_METHODS = ("int8", "float32", "popcount", "jit_popcount")


def brute_force_gram(codes: np.ndarray) -> np.ndarray:
    n = codes.shape[0]
    return np.array([[np.count_nonzero(codes[i] & codes[j]) for j in range(n)] for i in range(n)], dtype=float)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 11), st.integers(1, 300), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_every_method_counts_like_brute_force(n, units, seed, p_on):
    codes = np.random.default_rng(seed).random((n, units)) < p_on
    expected = brute_force_gram(codes)
    for method in GRAM_METHODS:
        for as_type in (torch.bool, torch.int8, torch.float32):
            got = binary_gram(torch.from_numpy(codes).to(as_type), method)
            assert got.dtype == torch.float64
            np.testing.assert_array_equal(got.numpy(), expected, err_msg=f"{method} on {as_type}")


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 20), st.integers(1, 700), st.integers(0, 2**32 - 1), st.integers(1, 7), st.integers(1, 5))
def test_popcount_blocks_of_rows_and_words_cover_the_upper_triangle(n, units, seed, rows, words):
    """Small blocks make every edge case of the blocked loop show up on small codes."""
    codes = np.random.default_rng(seed).random((n, units)) < 0.5
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(naswot, "_POPCOUNT_ROWS", rows)
        patch.setattr(naswot, "_POPCOUNT_WORDS", words)
        got = hamming_kernel(torch.from_numpy(codes), "popcount").numpy()
    np.testing.assert_array_equal(got, brute_force_kernel(codes))


SPECIAL = np.array(
    [0.0, -0.0, 1e-45, -1e-45, 1e-38, -1e-38, 1.0, -1.0, np.inf, -np.inf, np.nan, -np.nan, 3.5, -2.0],
    dtype=np.float64,
)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_codes_are_x_greater_than_zero_for_every_dtype_and_special_value(n, units, seed):
    """The accumulator reads ``x > 0`` (False for NaN, -0.0, +0.0) whatever the dtype and method."""
    values = np.random.default_rng(seed).choice(SPECIAL, size=(n, units))
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        x = torch.from_numpy(values).to(dtype)
        expected = brute_force_kernel((x > 0).numpy())
        for method in GRAM_METHODS:
            acc = KernelAccumulator(method)
            acc.add(x, x)
            np.testing.assert_array_equal(acc.result().numpy(), expected, err_msg=f"{method} on {dtype}")


def test_channels_last_and_strided_activations_read_every_unit():
    x = torch.randn(5, 3, 4, 6)
    for layout in (x.contiguous(memory_format=torch.channels_last), x[:, :, :, ::2], x.transpose(2, 3)):
        codes = (layout > 0).reshape(5, -1).numpy()
        for method in EXACT_METHODS:
            acc = KernelAccumulator(method)
            acc.add(layout, layout)
            np.testing.assert_array_equal(acc.result().numpy(), brute_force_kernel(codes))
            assert acc.num_units == codes.shape[1]


def test_methods_give_the_same_score_on_a_network(nb201):
    from scoring.cells import build_seeded
    from scoring.data import load_batch
    from scoring.naswot import naswot_kernel

    images, _ = load_batch("cifar10", 16, seed=0)
    model = build_seeded(nb201, nb201.from_index(77), 10, init_seed=3)
    kernels = [naswot_kernel(model, images, method=method) for method in GRAM_METHODS]
    for kernel in kernels[1:]:
        assert torch.equal(kernel, kernels[0])


def test_unknown_method_raises():
    with pytest.raises(UnknownNameError, match="gram method"):
        KernelAccumulator("int4")
    with pytest.raises(UnknownNameError, match="gram method"):
        binary_gram(torch.ones(2, 3, dtype=torch.bool), "int4")


def test_auto_resolves_to_a_method_and_stays():
    assert cpu_gram_method() in EXACT_METHODS
    assert cpu_gram_method() == cpu_gram_method()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 900), st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_jit_popcount_split_over_threads_counts_like_brute_force(n, units, seed, threads):
    """Every split of the upper triangle's rows over threads covers each pair once."""
    from scoring import popcount

    codes = np.random.default_rng(seed).random((n, units)) < 0.5
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(popcount, "WORDS_PER_THREAD", 1)
        got = popcount.packed_gram(codes, threads=threads)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, brute_force_gram(codes))


@pytest.mark.parametrize("n", [1, 2, 7, 128])
@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_row_splits_balance_the_upper_triangle(n, parts):
    from scoring.popcount import _row_splits

    splits = _row_splits(n, parts)
    assert splits[0][0] == 0 and splits[-1][1] == n
    assert all(a < b for a, b in splits) and all(b == c for (_, b), (c, _) in zip(splits, splits[1:]))
    pairs = [sum(n - i for i in range(a, b)) for a, b in splits]
    assert len(splits) <= parts
    if n >= 8 * parts:
        assert max(pairs) - min(pairs) <= 2 * n  # each boundary is within one row of its target


def test_calibration_times_int8_only_with_vnni(monkeypatch):
    monkeypatch.setattr(naswot, "cpu_has_vnni", lambda: False)
    assert "int8" not in naswot._calibration_candidates()
    monkeypatch.setattr(naswot, "cpu_has_vnni", lambda: True)
    assert "int8" in naswot._calibration_candidates()


def test_jit_popcount_without_numba_raises_an_install_hint(monkeypatch):
    import builtins

    from scoring import popcount

    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("No module named 'numba'")
        return real_import(name, *args, **kwargs)

    popcount._kernel.cache_clear()
    popcount.available.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_numba)
    try:
        assert not popcount.available()
        assert "jit_popcount" not in naswot._calibration_candidates()
        with pytest.raises(ImportError, match="pip install numba"):
            popcount.packed_gram(np.ones((2, 3), dtype=bool))
    finally:
        monkeypatch.undo()
        popcount._kernel.cache_clear()
        popcount.available.cache_clear()


def test_calibration_leaves_out_a_method_that_fails_here_with_a_warning(monkeypatch):
    real = naswot._positive_gram

    def broken_jit(t, method):
        if method == "jit_popcount":
            raise RuntimeError("no LLVM target")
        return real(t, method)

    monkeypatch.setattr(naswot, "_positive_gram", broken_jit)
    monkeypatch.setattr(naswot, "_calibration_candidates", lambda: ("float32", "jit_popcount"))
    naswot.cpu_gram_method.cache_clear()
    try:
        with pytest.warns(UserWarning, match="jit_popcount.*not used"):
            assert naswot.cpu_gram_method() == "float32"
    finally:
        naswot.cpu_gram_method.cache_clear()
