"""count() equals numpy on every label dtype, dimension, memory layout and thread count."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastweights

DTYPES = ["uint8", "int8", "uint16", "int16", "int32", "uint32", "int64", "uint64", "bool"]
THREADS = [1, 2, 4]


def shrink_chunks(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    from fastweights.engine import run as engine
    from fastweights.io import images

    monkeypatch.setattr(images, "CHUNK_BYTES", size)
    monkeypatch.setattr(engine, "CHUNK_BYTES", size)


def random_labels(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], high: int = 12) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, high, shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1000,), (37, 53), (5, 19, 23), (3, 4, 17, 9)])
@pytest.mark.parametrize("threads", THREADS)
def test_equals_numpy_every_dtype_and_dimension(dtype: str, shape: tuple[int, ...], threads: int) -> None:
    rng = np.random.default_rng(sum(shape) + threads)
    images = [random_labels(rng, dtype, shape) for _ in range(3)]
    got = fastweights.count(images, threads=threads, per_image=True)
    assert_same_statistics(got, numpy_counts(images, per_image=True))


def layouts(array: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "C": array,
        "Fortran": np.asfortranarray(array),
        "transposed": array.transpose(2, 0, 1),
        "every other column": array[:, ::2, :],
        "reversed": array[::-1, :, ::-1],
        "strided and reversed": array[::-2, 1::3, ::-1],
        "broadcast": np.broadcast_to(array[:1], (4, *array.shape[1:])),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", THREADS)
def test_every_memory_layout(dtype: str, threads: int) -> None:
    rng = np.random.default_rng(7)
    base = random_labels(rng, dtype, (9, 31, 17))
    for layout, view in layouts(base).items():
        got = fastweights.count(view, threads=threads)
        assert_same_statistics(got, numpy_counts([np.ascontiguousarray(view)])), layout


def test_strided_view_larger_than_a_chunk_is_copied_in_bounded_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    shrink_chunks(monkeypatch, 1000)
    rng = np.random.default_rng(3)
    base = rng.integers(0, 50, (40, 300, 3)).astype(np.int16)
    for view in (base[:, ::3, 1], base[::-1, 7:, ::2].transpose(1, 0, 2), np.asfortranarray(base)[:, :, 0]):
        assert_same_statistics(fastweights.count(view, threads=2), numpy_counts([view]))


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("ignore", [255, (255, 0), (-1,), (-1, 3, 200)])
@pytest.mark.parametrize("num_classes", [None, 12])
def test_ignore_index_single_and_many(dtype: str, ignore: int | tuple[int, ...], num_classes: int | None) -> None:
    ignored = (ignore,) if isinstance(ignore, int) else ignore
    info = np.iinfo(dtype)
    usable = tuple(v for v in ignored if info.min <= v <= info.max)
    rng = np.random.default_rng(11)
    images = [rng.integers(0, 12, (30, 40)).astype(dtype) for _ in range(4)]
    for image, value in zip(images, usable):
        image[::3, ::5] = value
    got = fastweights.count(images, ignore_index=ignore, num_classes=num_classes, per_image=True)
    expected = numpy_counts(images, ignored, num_classes, per_image=True)
    assert got.ignored > 0 or not usable
    assert_same_statistics(got, expected)
    assert got.num_classes == expected.num_classes


@pytest.mark.parametrize("threads", THREADS)
def test_result_does_not_depend_on_threads_or_order(threads: int) -> None:
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 30, rng.integers(1, 5000)).astype(np.uint16) for _ in range(60)]
    forward = fastweights.count(images, threads=threads, per_image=True)
    backward = fastweights.count(images[::-1], threads=threads, per_image=True)
    assert_same_statistics(forward, fastweights.count(images, threads=1, per_image=True))
    np.testing.assert_array_equal(forward.pixels, backward.pixels)
    np.testing.assert_array_equal(forward.per_image, backward.per_image[::-1])


def test_large_input_is_split_across_kernel_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    shrink_chunks(monkeypatch, 1 << 16)
    rng = np.random.default_rng(9)
    big = rng.integers(0, 7, 1_000_003).astype(np.int32)
    small = [rng.integers(0, 9, 500).astype(np.int32) for _ in range(10)]
    got = fastweights.count([small[0], big, *small[1:]], threads=2, per_image=True)
    assert_same_statistics(got, numpy_counts([small[0], big, *small[1:]], per_image=True))


def test_stack_axis_counts_each_slice_as_an_image() -> None:
    rng = np.random.default_rng(2)
    volume = rng.integers(0, 6, (5, 8, 9)).astype(np.uint8)
    volume[1] = 0
    for axis in (0, 1, -1):
        got = fastweights.count(volume, stack_axis=axis, per_image=True)
        slices = [np.take(volume, i, axis=axis) for i in range(volume.shape[axis])]
        assert_same_statistics(got, numpy_counts(slices, per_image=True))
        assert got.sources[1] == "<array 0>[1]"


def test_wide_and_sparse_label_spaces() -> None:
    instance_ids = np.array([0, 24000, 26002, 24000, 0, 70000, 100_000], dtype=np.int32)
    got = fastweights.count(instance_ids)
    assert got.num_classes == 100_001
    np.testing.assert_array_equal(np.flatnonzero(got.pixels), [0, 24000, 26002, 70000, 100_000])
    assert got.pixels[24000] == 2 and got.pixels[0] == 2

    # A range too wide for a dense table: the sparse kernel counts it.
    sparse = np.array([5, 9_000_000, 5, 12, 9_000_000, 9_000_000], dtype=np.int64)
    assert fastweights.count(sparse, ignore_index=9_000_000).pixels.tolist() == [0] * 5 + [2] + [0] * 6 + [1]
    assert fastweights.count(sparse).pixels[9_000_000] == 3


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_integral_float_labels_are_counted_and_said_so(dtype: type) -> None:
    labels = np.array([[0.0, 1.0], [2.0, 2.0]], dtype=dtype)
    with pytest.warns(UserWarning, match="float labels, all integral") as record:
        got = fastweights.count(labels)
    assert got.pixels.tolist() == [1, 1, 2]
    assert [type(warning.message) for warning in record] == [UserWarning]  # float16: no overflow warning


def test_empty_images_are_counted_as_images() -> None:
    got = fastweights.count([np.zeros((0, 5), np.uint8), np.full((2, 2), 255, np.uint8)], ignore_index=255)
    assert (got.n_images, got.n_pixels, got.ignored, got.num_classes) == (2, 0, 4, 0)


def test_class_count_above_two_to_the_32_is_exact() -> None:
    # A broadcast view: 2**32 + 7 pixels of class 3 without allocating 4 GiB.
    n = 2**32 + 7
    got = fastweights.count(np.broadcast_to(np.uint8(3), (n,)), threads=2)
    assert int(got.pixels[3]) == n
    assert got.n_pixels == n and got.image_pixels[3] == n


label_dtypes = st.sampled_from([np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32, np.int64, np.bool_])


@st.composite
def label_arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(label_dtypes))
    if dtype == np.bool_:
        elements = st.booleans()
    else:
        elements = st.integers(0, min(int(np.iinfo(dtype).max), draw(st.sampled_from([1, 5, 300, 70_000]))))
    array = draw(
        hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=12), elements=elements)
    )
    # A random strided / reversed / transposed view of it.
    if array.ndim and draw(st.booleans()):
        axis = draw(st.integers(0, array.ndim - 1))
        step = draw(st.sampled_from([-2, -1, 2, 3]))
        array = (
            np.take(array, np.arange(array.shape[axis])[::step], axis=axis)
            if draw(st.booleans())
            else array.swapaxes(0, axis)[::step]
        )
    return array


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(label_arrays(), min_size=1, max_size=4), st.sampled_from(THREADS), st.sampled_from([None, 0, (0, 2)]))
def test_property_equals_numpy(images: list[np.ndarray], threads: int, ignore: int | tuple[int, ...] | None) -> None:
    ignored = () if ignore is None else (ignore,) if isinstance(ignore, int) else ignore
    # Label 255 beside classes up to 100 only, with no ignore_index, is warned of (engine/review.py).
    labels = {int(label) for image in images for label in np.unique(image.astype(np.int64))}
    void = ignore is None and max(labels, default=0) == 255 and max(labels - {255}, default=0) <= 100
    with pytest.warns(UserWarning, match="255") if void else nullcontext():
        got = fastweights.count(images, threads=threads, ignore_index=ignore, per_image=True)
    assert_same_statistics(got, numpy_counts(images, ignored, per_image=True))


def test_bool_arrays_whose_true_bytes_are_not_one() -> None:
    raw = np.frombuffer(bytes([0, 255, 1, 7, 0]), dtype=np.bool_)  # as a decoder may hand them over
    assert fastweights.count(raw).pixels.tolist() == [2, 3]


@pytest.mark.parametrize("dtype", ["uint16", "int16", "int32", "uint32", "int64"])
def test_big_chunks_counted_over_a_guessed_range_and_again_when_a_label_falls_outside(dtype: str) -> None:
    """Big chunks of wide labels are first counted over [-1, 65535) without a min/max pass."""
    rng = np.random.default_rng(21)
    labels = np.repeat(rng.integers(0, 200, 20_000), 70).astype(dtype)  # 1.4M labels: a big chunk
    assert_same_statistics(fastweights.count(labels, threads=2), numpy_counts([labels]))
    info = np.iinfo(dtype)
    labels[123_456] = min(int(info.max), 100_000)  # beyond the guessed range
    labels[999] = max(int(info.min), -7) if info.min < 0 else 0  # below it, where the dtype allows
    ignore = (-7,) if info.min < 0 else ()
    got = fastweights.count(labels, ignore_index=ignore or None, threads=2)
    assert_same_statistics(got, numpy_counts([labels], ignore))
