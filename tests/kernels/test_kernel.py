"""The C++ kernel on its own: dense, out-of-range and sparse counts, every dtype, several threads."""

from __future__ import annotations

import numpy as np
import pytest

from fastweights import _core

DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "int64"]
# Enough elements that the kernel splits them across threads (it wants 65,536 per thread).
N = 300_001


def labels(dtype: str, seed: int = 0) -> np.ndarray:
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    low, high = max(info.min, -40), min(info.max, 300)
    array = rng.integers(low, high + 1, N).astype(dtype)
    array[:7] = [info.min, info.max, 0, info.min, info.max, low, high]  # the extremes of the dtype
    return array


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_dense_table_over_a_range_counts_outside_values_without_writing_them(dtype: str, threads: int) -> None:
    array = labels(dtype)
    lo, size = -5, 200
    table, below, above = _core.count_dense(array, lo, size, threads)
    wide = array.astype(np.int64)
    inside = wide[(wide >= lo) & (wide < lo + size)]
    np.testing.assert_array_equal(table, np.bincount(inside - lo, minlength=size))
    assert below == int((wide < lo).sum()) and above == int((wide >= lo + size).sum())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
def test_min_max_and_a_table_over_the_whole_range(dtype: str, threads: int) -> None:
    array = labels(dtype, 1)
    info = np.iinfo(dtype)
    lo, hi = _core.min_max(array, threads)
    assert (lo, hi) == (info.min, info.max)
    if hi - lo < 1 << 17:
        table, below, above = _core.count_dense(array, lo, hi - lo + 1, threads)
        np.testing.assert_array_equal(table, np.bincount(array.astype(np.int64) - lo, minlength=hi - lo + 1))
        assert below == above == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_sparse_counts(dtype: str, threads: int) -> None:
    array = labels(dtype, 2)
    values, counts = _core.count_sparse(array, threads)
    expected_values, expected_counts = np.unique(array.astype(np.int64), return_counts=True)
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(counts, expected_counts)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_table_larger_than_the_replicated_limit(threads: int) -> None:
    array = np.random.default_rng(3).integers(0, 200_000, N).astype(np.int32)
    table, below, above = _core.count_dense(array, 0, 200_000, threads)
    np.testing.assert_array_equal(table, np.bincount(array, minlength=200_000))
    assert _core.replicated_table_limit == 65_536 and below == above == 0


def test_long_runs_and_unaligned_tails() -> None:
    for n in (0, 1, 7, 8, 9, 65_537, 262_147):
        array = np.repeat(np.arange(5, dtype=np.uint8), n // 5 + 1)[:n]
        table, _, _ = _core.count_dense(array, 0, 256, 2)
        np.testing.assert_array_equal(table, np.bincount(array, minlength=256))


def test_arguments_are_not_converted_silently() -> None:
    with pytest.raises(TypeError, match="dtype float32"):
        _core.count_dense(np.zeros(4, np.float32), 0, 256, 1)
    with pytest.raises(TypeError, match="dtype uint64"):
        _core.count_sparse(np.zeros(4, np.uint64), 1)
    with pytest.raises(TypeError, match="not a C-contiguous array"):
        _core.count_dense(np.zeros((4, 4), np.uint8)[:, ::2], 0, 256, 1)
    with pytest.raises(TypeError):
        _core.min_max(np.zeros(4, np.int16).tolist(), 1)
    with pytest.raises(TypeError, match="dtype >i4"):
        _core.min_max(np.zeros(4, ">i4"), 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_are_named(dtype: str) -> None:
    array = np.array([3, 1, 3], dtype)
    assert _core.min_max(array, 1) == _core.MinMax(min=1, max=3)
    dense = _core.count_dense(array, 0, 3, 1)
    assert dense.table.tolist() == [0, 1, 0] and (dense.below, dense.above) == (0, 2)
    sparse = _core.count_sparse(array, 1)
    assert sparse.values.tolist() == [1, 3] and sparse.counts.tolist() == [1, 2]


def test_copy_bytes_with_threads() -> None:
    # What fills the GPU's pinned staging buffers: every byte, in place, from several threads.
    source = np.random.default_rng(0).integers(0, 256, (1 << 20) + 3, dtype=np.uint8)
    for threads in (1, 2, 8):
        target = np.zeros(source.size + 5, np.uint8)
        _core.copy_bytes(target, source, threads)
        assert np.array_equal(target[: source.size], source) and not target[source.size :].any()
    with pytest.raises(ValueError, match="target is smaller"):
        _core.copy_bytes(np.zeros(3, np.uint8), source, 1)
