"""The TIFF reader: memory-mapped when uncompressed and contiguous, decoded page by page otherwise,
exact on every layout, codec and dtype; lossy codecs and damaged files refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts, record_memory_maps

import fastweights
from fastweights.errors import InputError
from fastweights.io.colormaps import resolve_colormap
from fastweights.io.images import Image, ReadOptions
from fastweights.io.readers import tiff

tifffile = pytest.importorskip("tifffile")


def dense(images: Iterator[Image], threads: int = 1) -> list[np.ndarray]:
    """Each image's tally as a bincount-style array."""
    rows = []
    for image in images:
        total = image.tally(None, threads)
        row = np.zeros(int(total.values.max()) + 1 if total.values.size else 0, np.uint64)
        row[total.values] = total.counts
        rows.append(row)
    return rows


def same(got: np.ndarray, labels: np.ndarray) -> bool:
    expected = np.bincount(np.asarray(labels).astype(np.int64).ravel())
    return np.array_equal(got, expected)


@pytest.fixture
def volume() -> np.ndarray:
    rng = np.random.default_rng(7)
    volume = np.zeros((5, 37, 53), np.int64)
    volume[:, 5:30, 10:40] = rng.integers(1, 6, (5, 1, 1))
    volume[rng.random(volume.shape) < 0.05] = 3
    return volume


@pytest.fixture
def mapped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every file the TIFF reader memory-maps."""
    return record_memory_maps(monkeypatch, tiff)


def test_real_2d_and_3d_masks(real_data: Path) -> None:
    for name in ("mask2d.tif", "mask3d.tif"):
        path = real_data / "formats" / "tiff" / name
        labels = tifffile.imread(path)
        got = fastweights.count(path, per_image=True)
        assert_same_statistics(got, numpy_counts([labels], per_image=True))
        assert got.sources == (str(path),)
        per_slice = fastweights.count(path, stack_axis=0, per_image=True)
        assert_same_statistics(per_slice, numpy_counts(list(labels), per_image=True))
        assert per_slice.sources[1] == f"{path}[1]"
    assert tifffile.imread(real_data / "formats" / "tiff" / "mask3d.tif").shape == (31, 61, 57)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, bool])
@pytest.mark.parametrize("compression", [None, "zlib", "lzw", "zstd", "packbits"])
def test_codecs_and_dtypes(tmp_path: Path, volume: np.ndarray, dtype: type, compression: str | None) -> None:
    labels = (volume % 2).astype(bool) if dtype is bool else volume.astype(dtype)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, labels, photometric="minisblack", compression=compression)
    assert np.array_equal(tifffile.imread(path), labels)
    assert_same_statistics(fastweights.count(path), numpy_counts([labels]))
    assert_same_statistics(
        fastweights.count(path, stack_axis=0, per_image=True), numpy_counts(list(labels), per_image=True)
    )


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_bigtiff_big_endian_and_tiled(tmp_path: Path, volume: np.ndarray, compression: str | None) -> None:
    labels = volume.astype(np.uint16)
    files = {
        "big.tif": {"bigtiff": True},
        "be.tif": {"byteorder": ">"},
        "bigbe.tiff": {"bigtiff": True, "byteorder": ">"},
        "tiled.tif": {"tile": (16, 32)},
    }
    for name, options in files.items():
        tifffile.imwrite(tmp_path / name, labels, photometric="minisblack", compression=compression, **options)
    starts = {name: (tmp_path / name).read_bytes()[:4] for name in files}
    assert starts["big.tif"] == b"II+\x00" and starts["bigbe.tiff"] == b"MM\x00+" and starts["be.tif"] == b"MM\x00*"
    got = fastweights.count(tmp_path, stack_axis=0, per_image=True)
    assert [Path(s).name for s in got.sources[::5]] == ["be.tif[0]", "big.tif[0]", "bigbe.tiff[0]", "tiled.tif[0]"]
    assert_same_statistics(got, numpy_counts(list(labels) * 4, per_image=True))


def test_uncompressed_files_are_memory_mapped(tmp_path: Path, volume: np.ndarray, mapped: list[str]) -> None:
    plain, packed = tmp_path / "plain.tif", tmp_path / "packed.tif"
    tifffile.imwrite(plain, volume.astype(">i4"), photometric="minisblack")
    tifffile.imwrite(packed, volume.astype(np.uint8), photometric="minisblack", compression="zlib")
    assert_same_statistics(fastweights.count(plain), numpy_counts([volume]))
    assert mapped == [str(plain)]
    assert_same_statistics(fastweights.count(packed), numpy_counts([volume]))
    assert mapped == [str(plain)]  # decoded, not mapped


def test_big_pages_are_decoded_strip_by_strip_and_tile_by_tile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 300, (2, 150, 170)).astype(np.uint16)  # tiles overhang both edges
    tifffile.imwrite(tmp_path / "tiled.tif", labels, photometric="minisblack", compression="zlib", tile=(32, 48))
    tifffile.imwrite(tmp_path / "strips.tif", labels, photometric="minisblack", compression="lzw", rowsperstrip=7)
    monkeypatch.setattr(tiff, "CHUNK_BYTES", 5000)
    sizes: list[int] = []
    original = tiff.tally_chunks

    def recording(name: str, chunks: Iterator[np.ndarray], bounds: object, threads: int) -> object:
        def seen() -> Iterator[np.ndarray]:
            for chunk in chunks:
                sizes.append(chunk.nbytes)
                yield chunk

        return original(name, seen(), bounds, threads)  # type: ignore[arg-type]

    def no_whole_pages(*args: object, **kwargs: object) -> None:
        raise AssertionError("a big page was decoded whole")

    monkeypatch.setattr(tiff, "tally_chunks", recording)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", no_whole_pages)
    for name in ("tiled.tif", "strips.tif"):
        sizes.clear()
        for threads in (1, 2):
            (got,) = dense(tiff.open_tiff(str(tmp_path / name), ReadOptions()), threads)
            assert same(got, labels)
        assert len(sizes) > 2 * 10 and max(sizes) < 5000 + 32 * 48 * 2


def test_stack_axis_inside_the_pages(tmp_path: Path, volume: np.ndarray) -> None:
    labels = volume.astype(np.uint8)
    for compression in (None, "zlib"):
        path = tmp_path / f"{compression}.tif"
        tifffile.imwrite(path, labels, photometric="minisblack", compression=compression)
        for axis in (1, 2, -1):
            got = fastweights.count(path, stack_axis=axis, per_image=True)
            slices = [np.take(labels, i, axis=axis) for i in range(labels.shape[axis])]
            assert_same_statistics(got, numpy_counts(slices, per_image=True))
    with pytest.raises(InputError, match=r"stack_axis=3 is out of range for an array of shape \(5, 37, 53\)"):
        fastweights.count(tmp_path / "zlib.tif", stack_axis=3)


def test_a_2d_image_and_several_series(tmp_path: Path, volume: np.ndarray) -> None:
    path = tmp_path / "two.tif"
    tifffile.imwrite(path, volume[0].astype(np.uint8), photometric="minisblack")
    tifffile.imwrite(path, volume[1:3, :20].astype(np.uint16), photometric="minisblack", append=True)
    got = fastweights.count(path, per_image=True)
    assert got.sources == (f"{path}:series0", f"{path}:series1")
    assert_same_statistics(got, numpy_counts([volume[0], volume[1:3, :20]], per_image=True))


def test_float_masks(tmp_path: Path, volume: np.ndarray) -> None:
    tifffile.imwrite(tmp_path / "integral.tif", volume.astype(np.float32), photometric="minisblack")
    with pytest.warns(UserWarning, match="integral"):
        assert_same_statistics(fastweights.count(tmp_path / "integral.tif"), numpy_counts([volume]))
    intensity = volume.astype(np.float32) + 0.25
    tifffile.imwrite(tmp_path / "intensity.tif", intensity, photometric="minisblack", compression="zlib")
    with pytest.raises(InputError, match=r"intensity\.tif: float labels with non-integral value 0\.25"):
        fastweights.count(tmp_path / "intensity.tif")


def test_jpeg_is_refused_unless_lossy_is_allowed(tmp_path: Path) -> None:
    labels = np.zeros((64, 64), np.uint8)
    labels[16:48, 8:40] = 200
    path = tmp_path / "lossy.tif"
    tifffile.imwrite(path, labels, photometric="minisblack", compression="jpeg")
    with pytest.raises(InputError, match=r"lossy\.tif: compressed with JPEG, a lossy codec.*allow_lossy=True"):
        fastweights.count(path)
    (got,) = dense(tiff.open_tiff(str(path), ReadOptions(allow_lossy=True)))
    assert same(got, tifffile.imread(path))


def test_rgb_masks_through_a_colormap(tmp_path: Path) -> None:
    voc = resolve_colormap("voc")
    assert voc is not None
    classes = np.zeros((2, 30, 40), np.int64)
    classes[0, 5:20, 5:30] = 15
    classes[1, 10:, :] = 7
    palette = {15: (192, 128, 128), 7: (128, 128, 128), 0: (0, 0, 0)}
    rgb = np.zeros((*classes.shape, 3), np.uint8)
    for class_id, colour in palette.items():
        rgb[classes == class_id] = colour
    tifffile.imwrite(tmp_path / "contig.tif", rgb, photometric="rgb", compression="zlib")
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 1), photometric="rgb", planarconfig="separate")
    for name in ("contig.tif", "planar.tif"):
        path = str(tmp_path / name)
        (got,) = dense(tiff.open_tiff(path, ReadOptions(colormap=voc)))
        assert same(got, classes)
        pages = dense(tiff.open_tiff(path, ReadOptions(stack_axis=0, colormap=voc)))
        assert all(same(row, page) for row, page in zip(pages, classes, strict=True))
        with pytest.raises(InputError, match=f"{name}: an RGB colour mask, and no colormap was given"):
            fastweights.count(path)
    gray = np.repeat(classes[0][..., None], 3, axis=-1).astype(np.uint8)
    tifffile.imwrite(tmp_path / "gray.tif", gray, photometric="rgb")
    assert_same_statistics(fastweights.count(tmp_path / "gray.tif"), numpy_counts([classes[0]]))
    with pytest.raises(InputError, match=r"inside the pages of an RGB TIFF"):
        fastweights.count(tmp_path / "gray.tif", stack_axis=1)
    tifffile.imwrite(tmp_path / "rgba.tif", np.zeros((4, 5, 4), np.uint8), photometric="rgb", extrasamples=[2])
    with pytest.raises(InputError, match=r"rgba\.tif: 4 samples per pixel"):
        fastweights.count(tmp_path / "rgba.tif")


def test_damaged_files_are_refused(tmp_path: Path, volume: np.ndarray) -> None:
    tifffile.imwrite(tmp_path / "plain.tif", volume.astype(np.uint16), photometric="minisblack")
    tifffile.imwrite(tmp_path / "packed.tif", volume.astype(np.uint16), photometric="minisblack", compression="zlib")
    plain = (tmp_path / "plain.tif").read_bytes()
    packed = (tmp_path / "packed.tif").read_bytes()
    (tmp_path / "header.tif").write_bytes(plain[:100])
    (tmp_path / "short.tif").write_bytes(plain[: len(plain) // 2])
    damaged = bytearray(packed)
    damaged[400:480] = b"x" * 80
    (tmp_path / "damaged.tif").write_bytes(bytes(damaged))
    (tmp_path / "cut.tif").write_bytes(packed[:-300])
    (tmp_path / "text.tif").write_bytes(b"not a TIFF at all")
    expected = {
        "header.tif": "damaged TIFF: the 14 entries of IFD 0",
        "short.tif": "damaged TIFF: IFD 1 at byte .* lies past the end of the file",
        "damaged.tif": "damaged TIFF data in page",
        "cut.tif": "damaged TIFF: .* past the end of the file",
        "text.tif": "not a .tif file",
    }
    for name, message in expected.items():
        with pytest.raises(InputError, match=f"{name}.*{message}"):
            fastweights.count(tmp_path / name)
    with pytest.raises(InputError, match=r"text\.tif: not a TIFF file"):
        list(tiff.open_tiff(str(tmp_path / "text.tif"), ReadOptions()))


def test_missing_tifffile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastweights.base._optional

    real = fastweights.base._optional.importlib.import_module

    def without(name: str, *args: object) -> object:
        if name.split(".")[0] == "tifffile":
            raise ImportError("No module named 'tifffile'")
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(fastweights.base._optional.importlib, "import_module", without)
    tifffile.imwrite(tmp_path / "m.tif", np.zeros((4, 4), np.uint8))
    with pytest.raises(ImportError, match=r'reading TIFF masks needs .*pip install "fastweights\[tiff\]"'):
        fastweights.count(tmp_path / "m.tif")
