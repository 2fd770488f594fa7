"""The NIfTI reader: .nii memory-mapped, .nii.gz inflated as a stream, scaling applied, intensity
images and damaged files refused."""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts, record_memory_maps

import fastweights
from fastweights.errors import InputError
from fastweights.io.images import ReadOptions
from fastweights.io.readers import nifti

nibabel = pytest.importorskip("nibabel")


def save(path: Path, volume: np.ndarray, *, version: int = 1, endianness: str = "<") -> Path:
    kind = nibabel.Nifti1Image if version == 1 else nibabel.Nifti2Image
    header = (nibabel.Nifti1Header if version == 1 else nibabel.Nifti2Header)(endianness=endianness)
    header.set_data_dtype(volume.dtype)
    nibabel.save(kind(volume, np.eye(4), header=header), path)
    return path


def set_scaling(path: Path, slope: float, inter: float) -> None:
    """Writes scl_slope and scl_inter into a NIfTI-1 header (nibabel resets them when saving)."""
    data = bytearray(path.read_bytes())
    order = "<" if data[:4] == struct.pack("<i", 348) else ">"
    data[112:120] = struct.pack(f"{order}ff", slope, inter)
    path.write_bytes(bytes(data))


@pytest.fixture
def volume() -> np.ndarray:
    rng = np.random.default_rng(11)
    volume = np.zeros((9, 11, 7), np.int64)
    volume[2:7, 3:9, 1:6] = rng.integers(1, 5, (5, 6, 5))
    return volume


@pytest.fixture
def mapped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every file the NIfTI reader memory-maps."""
    return record_memory_maps(monkeypatch, nifti)


def slices(volume: np.ndarray, axis: int) -> list[np.ndarray]:
    return [np.take(volume, i, axis=axis) for i in range(volume.shape[axis])]


def test_real_annotation_and_atlases(real_data: Path) -> None:
    paths = [
        real_data / "formats" / "nifti" / "biomedical_ann.nii.gz",
        real_data / "formats" / "atlas" / "dk_mni_uint8.nii.gz",
        real_data / "formats" / "atlas" / "dk_native_int32.nii.gz",
    ]
    volumes = [np.asarray(nibabel.load(path).dataobj) for path in paths]
    assert [v.dtype for v in volumes] == [np.uint8, np.uint8, np.int32]
    assert [np.unique(v).size for v in volumes] == [3, 84, 83]
    got = fastweights.count(paths, per_image=True, threads=2)
    assert_same_statistics(got, numpy_counts(volumes, per_image=True))
    assert got.sources == tuple(str(path) for path in paths)
    for axis in (0, 2):
        per_slice = fastweights.count(paths[0], stack_axis=axis, per_image=True)
        assert_same_statistics(per_slice, numpy_counts(slices(volumes[0], axis), per_image=True))


def test_real_intensity_image(real_data: Path) -> None:
    # biomedical.nii.gz is an intensity image stored as uint8 (values 2..139), not float: its
    # dtype cannot tell it from a label volume, but num_classes does.
    path = real_data / "formats" / "nifti" / "biomedical.nii.gz"
    assert nibabel.load(path).get_data_dtype() == np.uint8
    with pytest.raises(InputError, match=r"biomedical\.nii\.gz: label 139 \(\d+ pixels\) is not below num_classes=3"):
        fastweights.count(path, num_classes=3)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.int64])
@pytest.mark.parametrize("version", [1, 2])
def test_nii_is_memory_mapped(tmp_path: Path, volume: np.ndarray, mapped: list[str], dtype: type, version: int) -> None:
    labels = volume.astype(dtype)
    path = save(tmp_path / "labels.nii", labels, version=version)
    got = fastweights.count(path, per_image=True)
    assert_same_statistics(got, numpy_counts([labels], per_image=True))
    assert mapped == [str(path)]
    for axis in (0, 1, -1):
        assert_same_statistics(
            fastweights.count(path, stack_axis=axis, per_image=True), numpy_counts(slices(labels, axis), per_image=True)
        )


@pytest.mark.parametrize("name", ["be.nii", "be.nii.gz"])
def test_big_endian(tmp_path: Path, volume: np.ndarray, name: str) -> None:
    path = save(tmp_path / name, volume.astype(np.int16), endianness=">")
    assert nibabel.load(path).get_data_dtype() == np.dtype(">i2")
    assert_same_statistics(fastweights.count(path), numpy_counts([volume]))


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1])
def test_nii_gz_streamed_or_whole(tmp_path: Path, volume: np.ndarray, axis: int | None) -> None:
    path = save(tmp_path / "labels.nii.gz", volume.astype(np.uint16))
    got = fastweights.count(path, stack_axis=axis, per_image=True)
    assert_same_statistics(got, numpy_counts([volume] if axis is None else slices(volume, axis), per_image=True))


def test_nii_gz_is_counted_in_bounded_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = np.random.default_rng(2).integers(0, 40, (30, 40, 50)).astype(np.int32)
    path = save(tmp_path / "labels.nii.gz", labels)
    monkeypatch.setattr(nifti, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(fastweights.io.images, "CHUNK_BYTES", 4096)
    reads: list[int] = []
    original = nifti._read

    def recording(stream, want: int, name: str, layout) -> bytes:  # type: ignore[no-untyped-def]
        reads.append(want)
        return original(stream, want, name, layout)

    monkeypatch.setattr(nifti, "_read", recording)
    assert_same_statistics(fastweights.count(path), numpy_counts([labels]))
    assert max(reads) <= 4096 and sum(reads) == labels.nbytes
    reads.clear()
    got = fastweights.count(path, stack_axis=-1, per_image=True)
    assert_same_statistics(got, numpy_counts(slices(labels, -1), per_image=True))
    assert max(reads) <= 4096 and sum(reads) == labels.nbytes


def test_four_d_is_one_volume_unless_stacked(tmp_path: Path, volume: np.ndarray) -> None:
    series = np.stack([volume, volume * 2, volume % 3], axis=-1).astype(np.uint8)
    for name in ("4d.nii", "4d.nii.gz"):
        path = save(tmp_path / name, series)
        assert_same_statistics(fastweights.count(path), numpy_counts([series]))
        got = fastweights.count(path, stack_axis=3, per_image=True)
        assert_same_statistics(got, numpy_counts(slices(series, 3), per_image=True))
        assert got.sources[2] == f"{path}[2]"


@pytest.mark.parametrize("name", ["scaled.nii", "scaled.nii.gz"])
def test_scaling_is_applied(tmp_path: Path, volume: np.ndarray, name: str) -> None:
    stored = volume.astype(np.int16)
    path = tmp_path / name
    raw = save(tmp_path / "raw.nii", stored)
    set_scaling(raw, 2.0, 1.0)  # integral: exact integer arithmetic, no warning
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(raw.read_bytes()))
    else:
        raw.rename(path)
    proxy = nibabel.load(path).dataobj
    assert (proxy.slope, proxy.inter) == (2.0, 1.0)
    assert_same_statistics(fastweights.count(path), numpy_counts([stored * 2 + 1]))

    halves = save(tmp_path / f"halves{name[6:]}", stored * 2)
    if name.endswith(".gz"):
        plain = tmp_path / "halves_plain.nii"
        plain.write_bytes(gzip.decompress(halves.read_bytes()))
        set_scaling(plain, 0.5, 0.0)
        halves.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        set_scaling(halves, 0.5, 0.0)
    with pytest.warns(UserWarning, match="integral"):
        assert_same_statistics(fastweights.count(halves), numpy_counts([stored]))

    fractions = save(tmp_path / "fractions.nii", stored)
    set_scaling(fractions, 0.37, 0.0)
    with pytest.raises(
        InputError,
        match=r"fractions\.nii: float voxel values such as 0\.37 \(after scl_slope and scl_inter\): "
        r"this looks like an intensity image, not a label volume",
    ):
        fastweights.count(fractions)


@pytest.mark.parametrize("name", ["float.nii", "float.nii.gz"])
def test_float_volumes(tmp_path: Path, volume: np.ndarray, name: str) -> None:
    path = save(tmp_path / name, volume.astype(np.float32))
    with pytest.warns(UserWarning, match="integral"):
        assert_same_statistics(fastweights.count(path), numpy_counts([volume]))
    intensity = save(tmp_path / f"intensity_{name}", volume.astype(np.float32) * 0.37)
    with pytest.raises(
        InputError,
        match=rf"intensity_{re.escape(name)}: float voxel values such as 0\.37: "
        "this looks like an intensity image, not a label volume",
    ):
        fastweights.count(intensity)


def test_damaged_files_are_refused(tmp_path: Path, volume: np.ndarray) -> None:
    good = save(tmp_path / "good.nii.gz", volume.astype(np.int32)).read_bytes()
    plain = save(tmp_path / "plain.nii", volume.astype(np.int32)).read_bytes()
    damaged = bytearray(good)
    damaged[len(good) // 2 : len(good) // 2 + 40] = bytes(40)
    files = {
        "damaged.nii.gz": bytes(damaged),
        "cut.nii.gz": good[: len(good) // 2],
        "header.nii.gz": good[:30],
        "short.nii": plain[:-10],
        "notgzip.nii.gz": plain,
        "text.nii": b"this is not a NIfTI header" * 20,
    }
    messages = {
        "damaged.nii.gz": "damaged gzip data|truncated",
        "cut.nii.gz": "damaged gzip data|truncated",
        "header.nii.gz": "damaged NIfTI file|damaged gzip data",
        "short.nii": r"truncated NIfTI: \(9, 11, 7\) voxels of int32 need 3124 bytes, the file has 3114",
        "notgzip.nii.gz": "not a .nii.gz file",
        "text.nii": "not a .nii file",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError, match=rf"{re.escape(name)}: ({messages[name]})"):
            fastweights.count(tmp_path / name)
    with pytest.raises(InputError, match=r"text\.nii: not a NIfTI file"):
        list(nifti.open_nifti(str(tmp_path / "text.nii"), ReadOptions()))


def test_a_folder_of_volumes(tmp_path: Path, volume: np.ndarray) -> None:
    save(tmp_path / "a.nii.gz", volume.astype(np.uint8))
    save(tmp_path / "b.nii", (volume + 1).astype(np.int16))
    got = fastweights.count(tmp_path, per_image=True)
    assert [Path(s).name for s in got.sources] == ["a.nii.gz", "b.nii"]
    assert_same_statistics(got, numpy_counts([volume, volume + 1], per_image=True))


def test_missing_nibabel(tmp_path: Path, volume: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastweights.base._optional

    path = save(tmp_path / "m.nii.gz", volume.astype(np.uint8))
    real = fastweights.base._optional.importlib.import_module

    def without(name: str, *args: object) -> object:
        if name.split(".")[0] == "nibabel":
            raise ImportError("No module named 'nibabel'")
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(fastweights.base._optional.importlib, "import_module", without)
    with pytest.raises(ImportError, match=r'reading NIfTI masks needs .*pip install "fastweights\[nifti\]"'):
        fastweights.count(path)
