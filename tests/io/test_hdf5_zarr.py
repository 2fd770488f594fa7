"""HDF5 datasets and Zarr arrays: read in bounded, chunk-aligned blocks, exact like numpy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastweights.base._optional
from fastweights.base._optional import MissingDependency
from fastweights.errors import InputError
from fastweights.io.images import Image, ReadOptions
from fastweights.io.readers import arrays
from fastweights.io.readers.arrays import (
    array_like_images,
    is_array_like,
    is_zarr_store,
    open_hdf5,
    open_zarr,
    split_hdf5_path,
)

h5py = pytest.importorskip("h5py")
zarr = pytest.importorskip("zarr")


def dense(images: Iterator[Image], threads: int = 1, names: list[str] | None = None) -> list[np.ndarray]:
    """Each image's tally as a bincount-style array, tallied as it comes (a reader's images are
    tallied in order, each before the next is asked for: an HDF5 file closes after the last)."""
    rows = []
    for image in images:
        if names is not None:
            names.append(image.name)
        total = image.tally(None, threads)
        row = np.zeros(int(total.values.max()) + 1 if total.values.size else 0, np.uint64)
        row[total.values] = total.counts
        rows.append(row)
    return rows


def expected(volume: np.ndarray, axis: int | None) -> list[np.ndarray]:
    parts = [volume] if axis is None else [np.take(volume, i, axis=axis) for i in range(volume.shape[axis])]
    return [np.bincount(np.asarray(part, np.int64).ravel()).astype(np.uint64) for part in parts]


def assert_rows(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    assert len(got) == len(want)
    for row, reference in zip(got, want):
        np.testing.assert_array_equal(np.trim_zeros(row, "b"), np.trim_zeros(reference, "b"))


@pytest.fixture
def volume() -> np.ndarray:
    rng = np.random.default_rng(5)
    volume = rng.integers(0, 4, (12, 10, 9)).astype(np.uint16)
    volume[3:9, 2:8] = 17
    return volume


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Records the index of every read from a store."""
    seen: list[tuple[Any, ...]] = []
    original = arrays._read_block

    def recording(name: str, obj: Any, index: tuple[Any, ...]) -> np.ndarray:
        seen.append(index)
        return original(name, obj, index)

    monkeypatch.setattr(arrays, "_read_block", recording)
    return seen


def test_split_hdf5_path() -> None:
    assert split_hdf5_path("data/masks.h5:/train/labels") == ("data/masks.h5", "/train/labels")
    assert split_hdf5_path("M.HDF5:labels") == ("M.HDF5", "labels")
    assert split_hdf5_path("a.he5:/x:y") == ("a.he5", "/x:y")
    assert split_hdf5_path("dir.h5/inner.hdf5:/d") == ("dir.h5/inner.hdf5", "/d")
    for text in ("masks.h5", "masks.h5:", "masks.npy:/x", "C:/data/masks.npz", "/x/y.zarr"):
        assert split_hdf5_path(text) is None


@pytest.mark.parametrize("layout", ["contiguous", "chunked", "gzip", "big-endian"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_hdf5_datasets(tmp_path: Path, volume: np.ndarray, layout: str, axis: int | None) -> None:
    path = tmp_path / "masks.h5"
    options: dict[str, Any] = {
        "contiguous": {},
        "chunked": {"chunks": (5, 4, 9)},
        "gzip": {"chunks": (3, 10, 9), "compression": "gzip"},
        "big-endian": {"dtype": ">i4", "chunks": True},
    }[layout]
    with h5py.File(path, "w") as file:
        file.create_dataset("group/labels", data=volume, **options)
    names: list[str] = []
    assert_rows(
        dense(open_hdf5(str(path), "/group/labels", ReadOptions(stack_axis=axis)), names=names), expected(volume, axis)
    )
    assert names[0] == f"{path}:/group/labels" + ("" if axis is None else "[0]")


def test_hdf5_is_read_in_chunk_aligned_slabs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list) -> None:
    volume = np.random.default_rng(1).integers(0, 9, (64, 50, 40)).astype(np.uint8)  # 128,000 bytes
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("chunked", data=volume, chunks=(8, 50, 40), compression="gzip")
        file.create_dataset("contiguous", data=volume)
        file.create_dataset("one_chunk", data=volume, chunks=volume.shape)
    monkeypatch.setattr(arrays, "CHUNK_BYTES", 40_000)  # 20 slices of 2,000 bytes

    assert_rows(dense(open_hdf5(str(path), "chunked", ReadOptions())), expected(volume, None))
    assert [index[0] for index in reads] == [slice(0, 16), slice(16, 32), slice(32, 48), slice(48, 64)]
    reads.clear()
    assert_rows(dense(open_hdf5(str(path), "contiguous", ReadOptions())), expected(volume, None))
    assert [index[0] for index in reads] == [slice(0, 20), slice(20, 40), slice(40, 60), slice(60, 64)]
    reads.clear()
    assert_rows(dense(open_hdf5(str(path), "one_chunk", ReadOptions())), expected(volume, None))
    assert len(reads) == 1  # a stored chunk is inflated whole anyway: reading less would repeat it
    reads.clear()

    # One image per slice along the first axis: 4 slabs of 16 slices, each read once.
    assert_rows(dense(open_hdf5(str(path), "chunked", ReadOptions(stack_axis=0))), expected(volume, 0))
    assert [index[0] for index in reads] == [slice(0, 16), slice(16, 32), slice(32, 48), slice(48, 64)]
    reads.clear()
    # Along the last axis, slabs of 12 slices (12 x 3,200 bytes): 4 reads for 40 images.
    assert_rows(dense(open_hdf5(str(path), "contiguous", ReadOptions(stack_axis=-1))), expected(volume, -1))
    assert [index[2] for index in reads] == [slice(0, 12), slice(12, 24), slice(24, 36), slice(36, 40)]
    reads.clear()
    # Along axis 1, the chunks are 50 slices thick (160,000 bytes): each slice is read by itself.
    assert_rows(dense(open_hdf5(str(path), "chunked", ReadOptions(stack_axis=1))), expected(volume, 1))
    assert len(reads) == 50 and all(index[1] == i for i, index in enumerate(reads))


def test_block_steps_follow_the_chunks() -> None:
    assert arrays.block_steps((64, 50, 40), (8, 50, 40), 1, 40_000) == (16, 50, 40)
    assert arrays.block_steps((64, 50, 40), (1, 1, 1), 1, 40_000) == (20, 50, 40)
    assert arrays.block_steps((64, 50, 40), (8, 10, 40), 1, 1000) == (8, 10, 40)  # one chunk at least
    assert arrays.block_steps((64, 500, 400), (1, 1, 1), 2, 40_000) == (1, 50, 400)
    assert arrays.block_steps((10, 10), (4, 4), 1, 1000) == (10, 10)
    assert arrays.block_steps((), (), 1, 1) == ()


def test_hdf5_errors(tmp_path: Path, volume: np.ndarray) -> None:
    path = tmp_path / "masks.h5"
    with h5py.File(path, "w") as file:
        for index in range(12):
            file.create_dataset(f"set/d{index:02d}", data=volume[index])
        file.create_dataset("text", data=np.array([b"a", b"b"]))
        file.create_dataset("intensity", data=volume * 0.5)
    with pytest.raises(
        InputError,
        match=r"masks\.h5: 'missing': no such dataset; the file holds the datasets "
        r"/intensity, /set/d00, /set/d01, .*, /set/d08, \.\.\.",
    ):
        list(open_hdf5(str(path), "missing", ReadOptions()))
    with pytest.raises(InputError, match=r"masks\.h5: '/set': group, not a dataset"):
        list(open_hdf5(str(path), "/set", ReadOptions()))
    with pytest.raises(InputError, match=r"masks\.h5:text: dtype \|S1 cannot hold labels"):
        list(open_hdf5(str(path), "text", ReadOptions()))
    with pytest.raises(InputError, match=r"masks\.h5:intensity: float labels with non-integral value \d+\.5"):
        dense(open_hdf5(str(path), "intensity", ReadOptions()))
    with pytest.raises(InputError, match=r"out of range"):
        list(open_hdf5(str(path), "set/d00", ReadOptions(stack_axis=2)))
    (tmp_path / "empty.h5").write_bytes(b"")
    with h5py.File(tmp_path / "none.h5", "w"):
        pass
    with pytest.raises(InputError, match=r"none\.h5: 'x': no such dataset; the file holds no datasets"):
        list(open_hdf5(str(tmp_path / "none.h5"), "x", ReadOptions()))
    (tmp_path / "fake.h5").write_bytes(b"not HDF5" * 100)
    with pytest.raises(InputError, match=r"fake\.h5: not a readable HDF5 file"):
        list(open_hdf5(str(tmp_path / "fake.h5"), "x", ReadOptions()))
    with pytest.raises(FileNotFoundError, match=r"nowhere\.h5: no such file"):
        list(open_hdf5(str(tmp_path / "nowhere.h5"), "x", ReadOptions()))


def test_zarr_array_and_group_stores(tmp_path: Path, volume: np.ndarray) -> None:
    single = tmp_path / "single.zarr"
    array = zarr.create_array(store=str(single), shape=volume.shape, chunks=(5, 10, 3), dtype=volume.dtype)
    array[:] = volume
    assert is_zarr_store(str(single))
    for axis in (None, 0, 2):
        names: list[str] = []
        assert_rows(dense(open_zarr(str(single), ReadOptions(stack_axis=axis)), names=names), expected(volume, axis))
        assert names[0] == str(single) + ("" if axis is None else "[0]")

    group_path = tmp_path / "group.zarr"
    group = zarr.open_group(str(group_path), mode="w")
    group.create_array("b", shape=(4, 5), dtype="int32")[:] = np.arange(20).reshape(4, 5) % 3
    group.create_array("a", shape=(6,), dtype="bool")[:] = [True, False, True, True, False, True]
    group.create_group("sub").create_array("c", shape=(3, 3), dtype="uint8", chunks=(2, 2))[:] = 7
    names = []
    got = dense(open_zarr(str(group_path) + "/", ReadOptions()), names=names)
    assert names == [f"{group_path}/a", f"{group_path}/b", f"{group_path}/sub/c"]
    assert_rows(got, [np.array([2, 4]), np.array([7, 7, 6]), np.array([0] * 7 + [9])])

    zarr.open_group(str(tmp_path / "empty.zarr"), mode="w")
    with pytest.raises(InputError, match=r"empty\.zarr: the Zarr group holds no arrays"):
        list(open_zarr(str(tmp_path / "empty.zarr"), ReadOptions()))
    (tmp_path / "bare.zarr").mkdir()
    assert is_zarr_store(str(tmp_path / "bare.zarr"))
    with pytest.raises(InputError, match=r"bare\.zarr: not a readable Zarr store"):
        list(open_zarr(str(tmp_path / "bare.zarr"), ReadOptions()))
    (tmp_path / "plain").mkdir()
    assert not is_zarr_store(str(tmp_path / "plain"))
    assert not is_zarr_store(str(tmp_path / "missing.zarr"))


def test_objects_are_array_like(tmp_path: Path, volume: np.ndarray) -> None:
    with h5py.File(tmp_path / "m.h5", "w") as file:
        dataset = file.create_dataset("labels", data=volume, chunks=(2, 10, 9))
        assert is_array_like(dataset) and not is_array_like(file) and not is_array_like(file["/"])
        for axis in (None, 0, 1):
            assert_rows(dense(array_like_images("h5", dataset, ReadOptions(stack_axis=axis))), expected(volume, axis))
    array = zarr.create_array(store=zarr.storage.MemoryStore(), shape=volume.shape, chunks=(4, 4, 4), dtype="u2")
    array[:] = volume
    group = zarr.group(store=zarr.storage.MemoryStore())
    assert is_array_like(array) and not is_array_like(group)
    assert not is_array_like(volume) and not is_array_like([1, 2]) and not is_array_like("x.h5")
    for axis in (None, 1, -1):
        names = []
        assert_rows(
            dense(array_like_images("z", array, ReadOptions(stack_axis=axis)), 2, names), expected(volume, axis)
        )
        assert names[-1] == ("z" if axis is None else f"z[{volume.shape[axis] - 1}]")


def test_is_array_like_imports_nothing() -> None:
    script = textwrap.dedent(
        """
        import sys, numpy as np
        from fastweights.io.readers.arrays import is_array_like
        assert not is_array_like(np.zeros(3)) and not is_array_like([1])
        print([m for m in ("h5py", "zarr") if m in sys.modules])
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(("module", "extra"), [("h5py", "hdf5"), ("zarr", "zarr")])
def test_missing_dependency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, extra: str) -> None:
    real = fastweights.base._optional.importlib.import_module

    def without(name: str, *args: Any) -> Any:
        if name.split(".")[0] == module:
            raise ImportError(f"No module named {module!r}")
        return real(name, *args)

    monkeypatch.setattr(fastweights.base._optional.importlib, "import_module", without)
    with pytest.raises(MissingDependency, match=rf'pip install "fastweights\[{extra}\]"'):
        if module == "h5py":
            list(open_hdf5(str(tmp_path / "x.h5"), "d", ReadOptions()))
        else:
            list(open_zarr(str(tmp_path / "x.zarr"), ReadOptions()))


class Store:
    """A numpy array behind the read interface of a chunked store; records every read."""

    def __init__(self, array: np.ndarray, chunks: tuple[int, ...] | None) -> None:
        self.array, self.shape, self.dtype, self.chunks = array, array.shape, array.dtype, chunks
        self.reads: list[int] = []

    def __getitem__(self, index: tuple[Any, ...]) -> np.ndarray:
        block = self.array[index]
        self.reads.append(block.nbytes)
        return block


@settings(max_examples=150, deadline=None)
@given(
    shape=st.lists(st.integers(0, 9), min_size=1, max_size=4),
    data=st.data(),
    dtype=st.sampled_from([np.uint8, np.int16, np.uint32, np.int64, bool]),
    budget=st.integers(1, 600),
)
def test_any_shape_chunks_and_stack_axis(shape: list[int], data: st.DataObject, dtype: type, budget: int) -> None:
    rng = np.random.default_rng(len(shape) * 1000 + budget)
    volume = rng.integers(0, 5, shape).astype(dtype)
    chunked = data.draw(st.booleans())
    chunks = tuple(data.draw(st.integers(1, max(n, 1))) for n in shape) if chunked else None
    axis = data.draw(st.sampled_from([None, *range(-len(shape), len(shape))]))
    store = Store(volume, chunks)
    original = arrays.CHUNK_BYTES
    arrays.CHUNK_BYTES = budget  # not monkeypatch: hypothesis reruns the body in one test
    try:
        got = dense(array_like_images("s", store, ReadOptions(stack_axis=axis)))
    finally:
        arrays.CHUNK_BYTES = original
    assert_rows(got, expected(volume, axis))
    chunk_bytes = int(np.prod(chunks or 1)) * volume.itemsize
    assert all(size <= max(budget, chunk_bytes) for size in store.reads)


def test_count_takes_hdf5_paths_zarr_stores_and_objects_in_one_list(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    zarr = pytest.importorskip("zarr")
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 6, (4, 9, 11)).astype(np.uint8)
    with h5py.File(tmp_path / "data.h5", "w") as file:
        file["labels"] = labels
        file["image"] = labels.astype(np.float32) / 7
    store = zarr.open_array(
        str(tmp_path / "tree" / "s.zarr"), mode="w", shape=labels.shape, dtype="u1", chunks=(1, 9, 11)
    )
    store[:] = labels
    np.save(tmp_path / "tree" / "a.npy", labels[0])

    got = fastweights.count([f"{tmp_path / 'data.h5'}:/labels", tmp_path / "tree"], per_image=True)
    assert got.sources[0] == f"{tmp_path / 'data.h5'}:/labels"
    assert [Path(name).name for name in got.sources[1:]] == ["a.npy", "s.zarr"]
    np.testing.assert_array_equal(got.pixels, 2 * np.bincount(labels.ravel()) + np.bincount(labels[0].ravel()))

    with h5py.File(tmp_path / "data.h5") as file:
        objects = fastweights.count([file["labels"], store], stack_axis=0)
        assert objects.n_images == 8 and objects.sources[0] == f"{tmp_path / 'data.h5'}:/labels[0]"
        np.testing.assert_array_equal(objects.pixels, 2 * np.bincount(labels.ravel()))


def test_an_hdf5_file_without_a_dataset_asks_for_one(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.h5", "w") as file:
        file["labels"] = np.zeros(3, np.uint8)
        file["image"] = np.zeros(3, np.float32)
    with pytest.raises(
        InputError, match=r"x\.h5: an HDF5 file: name the dataset .* holds the datasets /image, /labels"
    ):
        fastweights.count(tmp_path / "x.h5")
    with pytest.raises(InputError, match=r"x\.h5: '/nope': no such dataset"):
        fastweights.count(f"{tmp_path / 'x.h5'}:/nope")
