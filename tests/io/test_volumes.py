"""Physical volumes: each image's voxel size read from NIfTI and TIFF headers, carried through the
engine (threads, checkpoint, cache) into `Counts.volumes`, added, saved and loaded exactly, and
shown by the command line. The oracle: numpy's bincount times the voxel volume nibabel's
`get_zooms()` (or the resolution written with tifffile) gives."""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import stop_after

import fastweights
from fastweights import Counts
from fastweights.cli import main
from fastweights.errors import Interrupted
from fastweights.model.voxels import VoxelGroup

nib = pytest.importorskip("nibabel")
tifffile = pytest.importorskip("tifffile")

MM_PER_UNIT = {"mm": 1.0, "meter": 1000.0, "micron": 1e-3}


def labels(seed: int, shape: tuple[int, ...] = (6, 7, 5), classes: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, classes, shape).astype(np.uint8)


def write_nifti(path: Path, data: np.ndarray, zooms: tuple[float, ...], unit: str | None = "mm") -> Path:
    image = nib.Nifti1Image(data, np.eye(4))
    image.header.set_zooms(zooms)
    if unit is not None:
        image.header.set_xyzt_units(unit)
    image.to_filename(path)
    return path


def oracle(path: Path, data: np.ndarray, num_classes: int) -> np.ndarray:
    """numpy counts times the voxel volume nibabel reads from the file, in mm³."""
    header = nib.load(path).header
    unit = MM_PER_UNIT[header.get_xyzt_units()[0]]
    spatial = [float(z) * unit for z in header.get_zooms()[: min(data.ndim, 3)]]
    return np.bincount(data.ravel(), minlength=num_classes) * math.prod(spatial)


# ---- NIfTI -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize(
    ("zooms", "unit"), [((0.5, 2.0, 3.0), "mm"), ((0.0007, 0.0007, 0.0012), "meter"), ((0.7, 0.7, 1.3), "micron")]
)
def test_nifti_volumes_are_counts_times_nibabels_voxel_volume(
    tmp_path: Path, suffix: str, zooms: tuple[float, ...], unit: str
) -> None:
    data = labels(0)
    path = write_nifti(tmp_path / f"v{suffix}", data, zooms, unit)
    counts = fastweights.count(path)
    assert counts.volumes is not None and counts.volume_unit == "mm³"
    np.testing.assert_allclose(counts.volumes, oracle(path, data, counts.num_classes), rtol=1e-12)
    (size,) = counts.voxel_sizes
    np.testing.assert_allclose(size, np.float32(zooms).astype(np.float64) * MM_PER_UNIT[unit], rtol=1e-12)
    assert counts.voxel_sizes[size] == 1
    sliced = fastweights.count(path, stack_axis=2)  # each slice keeps its volume's voxel
    assert sliced.voxel_sizes == {size: data.shape[2]}
    np.testing.assert_allclose(sliced.volumes, counts.volumes, rtol=1e-12)


def test_nifti_of_unknown_unit_or_bad_pixdim_has_no_size(tmp_path: Path) -> None:
    unknown = fastweights.count(write_nifti(tmp_path / "u.nii", labels(1), (1.0, 1.0, 1.0), unit=None))
    assert unknown.voxel_sizes == {} and unknown.volumes is None and unknown.volume_unit is None
    path = write_nifti(tmp_path / "z.nii", labels(1), (1.0, 1.0, 1.0))
    raw = bytearray(path.read_bytes())
    raw[80:84] = np.float32(0).tobytes()  # pixdim[1]
    path.write_bytes(bytes(raw))
    assert fastweights.count(path).volumes is None


def test_nifti_2d_is_an_area_and_4d_counts_every_time_point(tmp_path: Path) -> None:
    flat = labels(2, (9, 8))
    path = write_nifti(tmp_path / "flat.nii", flat, (0.5, 0.25))
    counts = fastweights.count(path)
    assert counts.volume_unit == "mm²" and counts.voxel_sizes == {(0.5, 0.25): 1}
    np.testing.assert_allclose(counts.volumes, oracle(path, flat, counts.num_classes), rtol=1e-12)
    series = labels(3, (4, 5, 3, 2))
    path = write_nifti(tmp_path / "series.nii.gz", series, (2.0, 2.0, 2.5, 1.5))
    counts = fastweights.count(path)
    assert counts.voxel_sizes == {(2.0, 2.0, 2.5): 1}
    np.testing.assert_allclose(counts.volumes, np.bincount(series.ravel()) * 10.0, rtol=1e-12)


def test_real_volumes(real_data: Path) -> None:
    nifti, atlas = real_data / "formats" / "nifti", real_data / "formats" / "atlas"
    if not nifti.is_dir() or not atlas.is_dir():
        pytest.skip("formats/nifti or formats/atlas is not in the real data")
    for path in [*sorted(nifti.glob("*.nii.gz")), atlas / "dk_native_int32.nii.gz"]:
        data = np.asarray(nib.load(path).dataobj).astype(np.int64)
        counts = fastweights.count(path)
        assert counts.volumes is not None
        np.testing.assert_allclose(counts.volumes, oracle(path, data, counts.num_classes), rtol=1e-12)
    unknown = atlas / "dk_mni_uint8.nii.gz"  # xyzt_units 0: no unit, so no size
    assert nib.load(unknown).header.get_xyzt_units()[0] == "unknown"
    assert fastweights.count(unknown).volumes is None
    both = fastweights.count(atlas)
    assert both.volumes is None and sum(both.voxel_sizes.values()) == 1 and both.n_images == 2


# ---- TIFF --------------------------------------------------------------------------------------


def test_tiff_resolution_tags(tmp_path: Path) -> None:
    data = labels(4, (6, 9))
    expected = np.bincount(data.ravel())
    tifffile.imwrite(tmp_path / "cm.tif", data, resolution=(10, 20), resolutionunit="CENTIMETER")
    counts = fastweights.count(tmp_path / "cm.tif")
    assert counts.voxel_sizes == {(1.0, 0.5): 1} and counts.volume_unit == "mm²"
    np.testing.assert_allclose(counts.volumes, expected * 0.5, rtol=1e-12)
    tifffile.imwrite(tmp_path / "inch.tif", data, resolution=(10, 20), resolutionunit="INCH")
    assert fastweights.count(tmp_path / "inch.tif").voxel_sizes == {(2.54, 1.27): 1}
    tifffile.imwrite(tmp_path / "none.tif", data)  # tifffile's default: (1, 1) per no unit
    assert fastweights.count(tmp_path / "none.tif").volumes is None
    pages = labels(5, (2, 6, 9))  # a stack of pages: no tag gives its depth
    tifffile.imwrite(tmp_path / "pages.tif", pages, resolution=(10, 20), resolutionunit="CENTIMETER")
    assert fastweights.count(tmp_path / "pages.tif").volumes is None


def test_imagej_stack_spacing(tmp_path: Path) -> None:
    data = labels(6, (3, 6, 9))
    metadata = {"spacing": 3.0, "unit": "micron", "axes": "ZYX"}
    tifffile.imwrite(tmp_path / "z.tif", data, imagej=True, resolution=(2, 4), metadata=metadata)
    counts = fastweights.count(tmp_path / "z.tif")
    assert counts.voxel_sizes == {(0.5e-3, 0.25e-3, 3e-3): 1}
    np.testing.assert_allclose(counts.volumes, np.bincount(data.ravel()) * (0.5 * 0.25 * 3.0 * 1e-9), rtol=1e-12)
    sliced = fastweights.count(tmp_path / "z.tif", stack_axis=0)
    np.testing.assert_allclose(sliced.volumes, counts.volumes, rtol=1e-12)
    del metadata["spacing"]
    tifffile.imwrite(tmp_path / "no_spacing.tif", data, imagej=True, resolution=(2, 4), metadata=metadata)
    assert fastweights.count(tmp_path / "no_spacing.tif").volumes is None
    metadata.update(unit="pixel", axes="YX")
    tifffile.imwrite(tmp_path / "pixel.tif", data[0], imagej=True, resolution=(2, 4), metadata=metadata)
    assert fastweights.count(tmp_path / "pixel.tif").volumes is None


# ---- mixed sizes, inputs without one -----------------------------------------------------------


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Path, dict[tuple[float, ...], np.ndarray]]:
    """Four volumes of two voxel sizes, and the numpy pixels per class of each size."""
    folder = tmp_path / "volumes"
    folder.mkdir()
    by_size: dict[tuple[float, ...], np.ndarray] = {}
    for index, zooms in enumerate([(1.0, 1.0, 1.0), (0.5, 0.5, 2.0), (1.0, 1.0, 1.0), (0.5, 0.5, 2.0)]):
        data = labels(10 + index, classes=4 + index)
        write_nifti(folder / f"v{index}.nii.gz", data, zooms)
        by_size[zooms] = by_size.get(zooms, np.zeros(8, np.uint64)) + np.bincount(data.ravel(), minlength=8).astype(
            np.uint64
        )
    return folder, by_size


def test_mixed_sizes_warn_and_keep_exact_pixels_per_size(mixed: tuple[Path, dict[Any, np.ndarray]]) -> None:
    folder, by_size = mixed
    with pytest.warns(UserWarning, match=r"2 voxel sizes .*1 x 1 x 1 mm \(2 images\).*each image's own voxel size"):
        counts = fastweights.count(folder, threads=2)
    assert counts.voxel_sizes == {(0.5, 0.5, 2.0): 2, (1.0, 1.0, 1.0): 2}
    for size, pixels in by_size.items():
        np.testing.assert_array_equal(counts.voxel_pixels[size], pixels[: counts.num_classes])
    expected = sum(
        pixels[: counts.num_classes].astype(np.float64) * math.prod(size) for size, pixels in by_size.items()
    )
    np.testing.assert_allclose(counts.volumes, expected, rtol=1e-12)
    np.testing.assert_array_equal(sum(counts.voxel_pixels.values()), counts.pixels)


def test_inputs_without_a_size_leave_volumes_out(tmp_path: Path) -> None:
    sized = write_nifti(tmp_path / "v.nii", labels(20), (1.0, 1.0, 1.0))
    np.save(tmp_path / "flat.npy", labels(21, (4, 4)))
    counts = fastweights.count([sized, tmp_path / "flat.npy", labels(22, (3, 3))])
    assert counts.voxel_sizes == {(1.0, 1.0, 1.0): 1} and counts.volumes is None
    table = fastweights.api.table.format_table(counts)
    assert "No volumes: 2 of 3 images have no physical size" in table and "volume (" not in table


def test_2d_and_3d_sizes_do_not_add(tmp_path: Path) -> None:
    write_nifti(tmp_path / "a.nii", labels(23), (1.0, 1.0, 1.0))
    write_nifti(tmp_path / "b.nii", labels(24, (5, 5)), (1.0, 1.0))
    with pytest.warns(UserWarning, match="2 voxel sizes"):
        counts = fastweights.count(tmp_path)
    assert counts.volumes is None and len(counts.voxel_sizes) == 2
    assert "2-D and 3-D voxel sizes" in fastweights.api.table.format_table(counts)


# ---- Counts: add, save, load, check ------------------------------------------------------------


def test_volumes_add_save_and_load(mixed: tuple[Path, dict[Any, np.ndarray]], tmp_path: Path) -> None:
    folder, _ = mixed
    paths = sorted(folder.iterdir())
    with pytest.warns(UserWarning):
        whole = fastweights.count(paths)
    first, second = fastweights.count(paths[:1]), fastweights.count(paths[1:2])
    with pytest.warns(UserWarning):
        rest = fastweights.count(paths[2:])
    total = first + second + rest
    assert total == whole and total.voxel_sizes == whole.voxel_sizes
    np.testing.assert_allclose(total.volumes, whole.volumes, rtol=1e-12)
    whole.save(tmp_path / "c.json")
    loaded = Counts.load(tmp_path / "c.json")
    assert loaded == whole and loaded.voxel_pixels.keys() == whole.voxel_pixels.keys()
    np.testing.assert_array_equal(loaded.volumes, whole.volumes)  # the sizes travel as exact floats
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["volume_unit"] == "mm³" and saved["volumes"] == whole.volumes.tolist()
    older = {key: value for key, value in saved.items() if key not in ("voxels", "volumes", "volume_unit")}
    assert Counts.from_dict(older).volumes is None and Counts.from_dict(older).voxel_sizes == {}
    assert pickle.loads(pickle.dumps(whole)) == whole  # as Dask and MPI move Counts
    unsized = fastweights.count(labels(30, (3, 3)))
    assert (first + unsized).volumes is None and (first + unsized).voxel_sizes == first.voxel_sizes


def test_counts_refuse_inconsistent_voxel_groups() -> None:
    base: dict[str, Any] = {"pixels": [5, 3], "images": [1, 1], "image_pixels": [8, 8], "n_images": 1, "n_pixels": 8}
    good = Counts(**base, voxels={(1.0, 2.0): VoxelGroup.of(1, [0, 1], [5, 3])})
    np.testing.assert_array_equal(good.volumes, [10.0, 6.0])
    with pytest.raises(ValueError, match="2 images have a voxel size, but n_images=1"):
        Counts(**base, voxels={(1.0, 2.0): VoxelGroup.of(2, [0, 1], [5, 3])})
    with pytest.raises(ValueError, match="do not add up"):
        Counts(**base, voxels={(1.0, 2.0): VoxelGroup.of(1, [0, 1], [5, 2])})
    with pytest.raises(ValueError, match="do not add up"):
        Counts(**base, voxels={(1.0, 2.0): VoxelGroup.of(1, [0, 1], [6, 3])})
    with pytest.raises(ValueError, match="voxel size"):
        Counts(**base, voxels={(0.0, 2.0): VoxelGroup.of(1, [0, 1], [5, 3])})
    damaged = good.to_dict()
    damaged["voxels"][0]["pixels"] = [5]
    with pytest.raises(ValueError, match="damaged Counts file"):
        Counts.from_dict(damaged)


# ---- checkpoint and cache ----------------------------------------------------------------------


def test_volumes_survive_a_checkpoint(mixed: tuple[Path, dict[Any, np.ndarray]], tmp_path: Path) -> None:
    folder, _ = mixed
    warnings.simplefilter("ignore", UserWarning)  # the mixed sizes, told by the test above
    full = fastweights.count(folder, threads=1)
    state = tmp_path / "state.json"
    with pytest.raises(Interrupted):
        fastweights.count(folder, threads=1, checkpoint=state, progress=stop_after(2))
    saved = json.loads(state.read_text())
    assert len(saved["state"]["inputs"]) == 2 and saved["state"]["voxels"]
    resumed = fastweights.count(folder, threads=1, checkpoint=state)
    assert resumed == full and resumed.params["resumed"] == 2
    np.testing.assert_array_equal(resumed.volumes, full.volumes)
    # A checkpoint written before voxel sizes were kept: its images have none.
    del saved["state"]["voxels"]
    saved["complete"] = False
    state.write_text(json.dumps(saved))
    older = fastweights.count(folder, threads=1, checkpoint=state)
    assert (
        older.volumes is None and sum(older.voxel_sizes.values()) == 2 and older.pixels.tolist() == full.pixels.tolist()
    )


def test_volumes_survive_the_cache(mixed: tuple[Path, dict[Any, np.ndarray]], tmp_path: Path) -> None:
    folder, _ = mixed
    warnings.simplefilter("ignore", UserWarning)
    cache = tmp_path / "cache.sqlite"
    first = fastweights.count(folder, cache=cache)
    again = fastweights.count(folder, cache=cache)
    assert again.params["cache"] == {"reused": 4, "counted": 0}
    assert again == first and again.volumes is not None
    np.testing.assert_array_equal(again.volumes, first.volumes)
    with sqlite3.connect(cache) as connection:  # entries of an older version, without voxel sizes
        for path, images in connection.execute("SELECT path, images FROM counts").fetchall():
            older = json.dumps([entry[:5] for entry in json.loads(images)])
            connection.execute("UPDATE counts SET images = ? WHERE path = ?", (older, path))
    recounted = fastweights.count(folder, cache=cache)
    assert recounted.params["cache"] == {"reused": 0, "counted": 4} and recounted == first


# ---- the command line --------------------------------------------------------------------------


def test_cli_shows_volumes(mixed: tuple[Path, dict[Any, np.ndarray]], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = mixed
    assert main(["count", str(folder), "-q"]) == 0  # no warning (warnings are errors): the table's note says it
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("class"))
    assert header.split()[-4:] == ["volume", "(mm³)", "weight", "(median)"]
    assert "Voxel sizes: 0.5 x 0.5 x 2 mm (2 images); 1 x 1 x 1 mm (2 images)" in out
    assert "Volumes account for each image's own voxel size" in out
    assert main(["count", str(folder), "-q", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["volume_unit"] == "mm³" and len(data["voxels"]) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        counts = fastweights.count(folder)
    assert data["volumes"] == counts.volumes.tolist()
    assert main(["count", str(folder), "-q", "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [float(row["volume_mm3"]) for row in table] == counts.volumes.tolist()
    rows = [line.split() for line in out.splitlines()]
    shown = [float(row[-2]) for row in rows if len(row) == 6 and row[0].isdigit()]  # class, pixels ... weight
    assert shown == pytest.approx(counts.volumes.tolist(), rel=1e-5)


def test_volumes_follow_a_label_map(mixed: tuple[Path, dict[Any, np.ndarray]]) -> None:
    """Compact renumbers the voxel groups' classes with the rest; a map folds their pixels as it
    folds the counts (the oracle: the numpy pixels per size, relabelled by hand)."""
    folder, by_size = mixed
    with pytest.warns(UserWarning, match="2 voxel sizes"):
        plain = fastweights.count(folder, ignore_index=[0, 2])
    with pytest.warns(UserWarning, match="2 voxel sizes"):
        compact = fastweights.count(folder, ignore_index=[0, 2], label_map="compact")
    present = [1, 3, 4, 5, 6]
    assert compact.label_ids.tolist() == present
    np.testing.assert_allclose(compact.volumes, plain.volumes[present], rtol=1e-12)
    for size, pixels in by_size.items():
        np.testing.assert_array_equal(compact.voxel_pixels[size], pixels[present])
    with pytest.warns(UserWarning, match="2 voxel sizes"):
        merged = fastweights.count(folder, label_map={0: 0, 1: 0, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2})
    for size, pixels in by_size.items():
        folded = [pixels[:2].sum(), pixels[2:5].sum(), pixels[5:7].sum()]
        np.testing.assert_array_equal(merged.voxel_pixels[size], folded)
    again = compact + compact
    np.testing.assert_allclose(again.volumes, 2 * compact.volumes, rtol=1e-12)
