"""Counts through a label map are exactly those of the mapped masks, whichever way they are counted:
arrays one by one, small files in batches, threads, checkpoints, the cache, shards merged, Dask,
MPI; oracles are numpy over the official tables (tests/label_map_oracles.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, mpiexec, numpy_counts, stop_after
from label_map_oracles import (
    OFFICIAL_TRAIN_IDS,
    cityscapes_oracle,
    compact_oracle,
    mmseg_reduce_zero_label,
    reduce_oracle,
)
from PIL import Image

import fastweights
from fastweights import Counts
from fastweights.cli import main
from fastweights.engine import run as engine_run
from fastweights.errors import InputError, Interrupted

CITYSCAPES_IDS = np.arange(-1, 34)

# Dask's own sockets and clusters warn as they come and go: not this project's to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:.*[Pp]ort.*:UserWarning"),
]


def cityscapes_masks(n: int, dtype: str, seed: int = 0, ids: np.ndarray = CITYSCAPES_IDS) -> list[np.ndarray]:
    """Random labelIds masks; together they hold every id of `ids` (the first one holds them all)."""
    rng = np.random.default_rng(seed)
    masks = [rng.choice(ids, size=(12, 16)).astype(dtype) for _ in range(n)]
    masks[0].flat[: ids.size] = ids
    return masks


def write(folder: Path, masks: list[np.ndarray], start: int = 0) -> list[Path]:
    """uint8 masks as PNGs, others as .npy, named in the order given."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, mask in enumerate(masks, start):
        if mask.dtype == np.uint8:
            path = folder / f"m{index:03d}.png"
            Image.fromarray(mask, mode="L").save(path)
        else:
            path = folder / f"m{index:03d}.npy"
            np.save(path, mask)
        paths.append(path)
    return paths


def batches_used(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many inputs each batch classified at once held (the small-file path)."""
    sizes: list[int] = []
    original = engine_run.classify_tallies

    def spy(*arguments):  # type: ignore[no-untyped-def]
        batch = original(*arguments)
        if batch is not None:
            sizes.append(len(batch.indices))
        return batch

    monkeypatch.setattr(engine_run, "classify_tallies", spy)
    return sizes


# ---- threads, arrays and files -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64"])
@pytest.mark.parametrize("threads", [1, 2])
def test_cityscapes_arrays_equal_the_official_table(dtype: str, threads: int) -> None:
    masks = cityscapes_masks(5, dtype, seed=threads)
    counts = fastweights.count(masks, label_map="cityscapes", per_image=True, threads=threads)
    assert counts.num_classes == 19
    assert_same_statistics(counts, cityscapes_oracle(masks))


@pytest.mark.parametrize("threads", [1, 2])
def test_cityscapes_files_in_batches_equal_the_official_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    masks = cityscapes_masks(6, "uint8", ids=np.arange(34)) + cityscapes_masks(6, "int16", seed=1)
    write(tmp_path, masks)
    sizes = batches_used(monkeypatch)
    counts = fastweights.count(tmp_path, label_map="cityscapes", per_image=True, threads=threads)
    assert sum(sizes) == 12  # every file went through the batched path
    assert_same_statistics(counts, cityscapes_oracle(masks))


def test_reduce_zero_label_equals_mmsegmentation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    masks = [rng.choice([0, 1, 2, 75, 150, 254, 255], size=(10, 11)).astype(np.uint8) for _ in range(5)]
    masks[1][:] = 0  # an image of ignored pixels only
    write(tmp_path, masks)
    sizes = batches_used(monkeypatch)
    expected = reduce_oracle(masks)
    assert_same_statistics(fastweights.count(tmp_path, reduce_zero_label=True, per_image=True, threads=2), expected)
    assert sum(sizes) == 5
    wide = [mask.astype(np.uint16) for mask in masks]
    counts = fastweights.count(wide, reduce_zero_label=True, per_image=True, threads=1)
    assert_same_statistics(counts, expected)
    assert counts.params["reduce_zero_label"] is True and counts.params["label_map"] is None


def test_labels_past_255_with_reduce_zero_label(tmp_path: Path) -> None:
    mask = np.array([[0, 1, 256, 256]], np.uint16)
    np.save(tmp_path / "wide.npy", mask)
    with pytest.raises(InputError, match=r"wide\.npy: label 256 \(2 pixels\) is outside 0\.\.255"):
        fastweights.count(tmp_path, reduce_zero_label=True)
    counts = fastweights.count(tmp_path, reduce_zero_label=True, ignore_index=256)
    assert counts.pixels.tolist() == [1] and counts.ignored == 3


def test_a_map_and_reduce_zero_label_together_map_first() -> None:
    # as mmseg's LoadAnnotations: label_map, then reduce_zero_label
    mask = np.array([[5, 6, 7, 8, 7]], np.int32)
    table = {5: 0, 6: 1, 7: 3, 8: 255}
    counts = fastweights.count(mask, label_map=table, reduce_zero_label=True)
    mapped = np.vectorize(table.__getitem__)(mask)
    assert_same_statistics(counts, numpy_counts([mmseg_reduce_zero_label(mapped)], ignore=(255,)))
    assert counts.pixels.tolist() == [1, 0, 2]


def test_compact_files_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    masks = [rng.choice([4, 77, 70_000, 255, 1_000_000], size=(8, 9)).astype(np.int32) for _ in range(9)]
    write(tmp_path, masks)
    sizes = batches_used(monkeypatch)
    counts = fastweights.count(tmp_path, label_map="compact", ignore_index=255, per_image=True, threads=2)
    expected, ids = compact_oracle(masks, ignore=(255,))
    assert sum(sizes) == 9
    assert_same_statistics(counts, expected)
    np.testing.assert_array_equal(counts.label_ids, ids)


def test_an_unmapped_label_names_the_file_and_skip_counts_the_rest(tmp_path: Path) -> None:
    masks = cityscapes_masks(6, "int16")
    masks[3][2, 2] = 40
    paths = write(tmp_path, masks)
    for threads in (1, 2):
        with pytest.raises(InputError) as error:
            fastweights.count(tmp_path, label_map="cityscapes", threads=threads)
        assert str(error.value).startswith(f"{paths[3]}: label 40 (1 pixels) is not in the cityscapes label map")
    with pytest.raises(InputError, match=r"<array 3>: label 40 \(1 pixels\) is not in the cityscapes label map"):
        fastweights.count(masks, label_map="cityscapes")
    with pytest.warns(UserWarning, match="skipped 1 of 6 inputs"):
        counts = fastweights.count(tmp_path, label_map="cityscapes", on_error="skip", per_image=True, threads=2)
    assert [name for name, _ in counts.errors] == [str(paths[3])]
    assert_same_statistics(counts, cityscapes_oracle(masks[:3] + masks[4:]))
    # an ignore_index value the map does not name is ignored, not an error
    ignoring = fastweights.count(tmp_path, label_map="cityscapes", ignore_index=40, per_image=True)
    expected = cityscapes_oracle([np.where(mask == 40, 0, mask) for mask in masks])  # 0 is ignored too
    assert_same_statistics(ignoring, expected)


# ---- checkpoints, the cache, shards ------------------------------------------------------------


def test_a_checkpoint_resumes_through_the_map_and_refuses_another(tmp_path: Path) -> None:
    folder, state = tmp_path / "masks", tmp_path / "state.json"
    masks = cityscapes_masks(8, "int16", seed=7)
    write(folder, masks[:5])
    write(folder, masks)
    with pytest.raises(Interrupted):
        fastweights.count(folder, label_map="cityscapes", per_image=True, checkpoint=state, progress=stop_after(5))
    resumed = fastweights.count(folder, label_map="cityscapes", per_image=True, checkpoint=state)
    assert resumed.params["resumed"] >= 5
    assert_same_statistics(resumed, cityscapes_oracle(masks))
    with pytest.raises(Interrupted):
        fastweights.count(folder, label_map="cityscapes", per_image=True, checkpoint=state, progress=stop_after(5))
    for other in ({"label_map": "compact"}, {}, {"reduce_zero_label": True, "label_map": "cityscapes"}):
        with pytest.raises(ValueError, match=r"this checkpoint was made with a different label_map"):
            fastweights.count(folder, per_image=True, checkpoint=state, **other)  # type: ignore[arg-type]


def test_the_cache_is_kept_per_map(tmp_path: Path) -> None:
    folder, cache = tmp_path / "masks", tmp_path / "cache.sqlite"
    masks = cityscapes_masks(6, "int32", seed=8)
    write(folder, masks)
    for reused in (0, 6):
        counts = fastweights.count(folder, label_map="cityscapes", per_image=True, cache=cache)
        assert counts.params["cache"]["reused"] == reused
        assert_same_statistics(counts, cityscapes_oracle(masks))
    table = {int(label): 0 for label in CITYSCAPES_IDS}
    other = fastweights.count(folder, label_map=table, per_image=True, cache=cache)
    assert other.params["cache"]["reused"] == 0 and other.pixels.tolist() == [6 * 12 * 16]
    compact = fastweights.count(folder, label_map="compact", ignore_index=-1, per_image=True, cache=cache)
    expected, ids = compact_oracle(masks, ignore=(-1,))
    assert compact.params["cache"]["reused"] == 0
    assert_same_statistics(compact, expected)
    np.testing.assert_array_equal(compact.label_ids, ids)


@pytest.mark.parametrize("label_map", ["cityscapes", "compact"])
def test_shards_merge_to_the_full_count(tmp_path: Path, label_map: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "masks"
    # compact: the shares hold different labels (the first few only up to 9, the rest more)
    low = -1 if label_map == "cityscapes" else 0  # compact takes class ids only
    masks = cityscapes_masks(4, "int16", 9, np.arange(low, 10)) + cityscapes_masks(6, "int16", 10, np.arange(low, 34))
    write(folder, masks)
    parts = []
    for index in range(3):
        part = tmp_path / f"part{index}.json"
        command = ["count", str(folder), "--label-map", label_map, "--per-image", "--shard", f"{index}/3"]
        assert main([*command, "-q", "-o", str(part)]) == 0
        parts.append(str(part))
    total = tmp_path / "total.json"
    assert main(["merge", *parts, "-o", str(total)]) == 0
    merged = Counts.load(total)
    assert merged == fastweights.count(folder, label_map=label_map, per_image=True)
    if label_map == "compact":
        expected, ids = compact_oracle(masks)
        np.testing.assert_array_equal(merged.label_ids, ids)
        assert len({tuple(Counts.load(part).label_ids) for part in parts}) > 1
    else:
        expected = cityscapes_oracle(masks)
    assert_same_statistics(merged, expected)


# ---- Dask, MPI ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def in_process():  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as client:
        yield client


@pytest.mark.parametrize("label_map", ["cityscapes", "compact"])
def test_dask_counts_through_the_map(in_process, tmp_path: Path, label_map: str) -> None:  # type: ignore[no-untyped-def]
    low = -1 if label_map == "cityscapes" else 0  # compact takes class ids only
    masks = cityscapes_masks(5, "int16", 11, np.arange(low, 12)) + cityscapes_masks(7, "int32", 12, np.arange(low, 34))
    write(tmp_path, masks)
    counts = fastweights.count(tmp_path, label_map=label_map, per_image=True, client=in_process)
    assert counts.params["dask"]["tasks"] > 1
    assert counts == fastweights.count(tmp_path, label_map=label_map, per_image=True)
    expected = cityscapes_oracle(masks) if label_map == "cityscapes" else compact_oracle(masks)[0]
    assert_same_statistics(counts, expected)


@pytest.mark.parametrize("label_map", ["cityscapes", "compact"])
def test_mpi_ranks_count_through_the_map(tmp_path: Path, label_map: str) -> None:
    low = -1 if label_map == "cityscapes" else 0  # compact takes class ids only
    masks = cityscapes_masks(4, "int16", 13, np.arange(low, 8)) + cityscapes_masks(4, "int16", 14, np.arange(low, 34))
    write(tmp_path, masks)
    command = [mpiexec(), "-n", "2", sys.executable, "-m", "fastweights", "count", str(tmp_path)]
    result = subprocess.run(
        [*command, "--label-map", label_map, "--per-image", "--mpi", "--format", "json", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    counts = Counts.from_dict(json.loads(result.stdout))
    assert counts == fastweights.count(tmp_path, label_map=label_map, per_image=True)
    expected = cityscapes_oracle(masks) if label_map == "cityscapes" else compact_oracle(masks)[0]
    assert_same_statistics(counts, expected)


# ---- real masks --------------------------------------------------------------------------------


def test_real_cityscapes_label_ids_map_to_its_train_ids(real_data: Path) -> None:
    folder = real_data / "formats" / "cityscapes"
    label_ids = sorted(folder.glob("*_gtFine_labelIds.png"))
    if not label_ids:
        pytest.skip(f"no Cityscapes labelIds PNGs in {folder}")
    train_ids = [path.with_name(path.name.replace("_labelIds", "_labelTrainIds")) for path in label_ids]
    mapped = fastweights.count(label_ids, label_map="cityscapes", per_image=True)
    images = [np.asarray(Image.open(path)) for path in label_ids]
    assert_same_statistics(mapped, cityscapes_oracle(images))
    assert mapped.n_pixels > 0 and mapped.ignored > 0
    # This sample (mmsegmentation's pseudo_cityscapes_dataset, scaled down) has labelIds and
    # labelTrainIds resampled apart: they disagree on a few pixels (~0.3 %), and the counts of
    # the two files differ by exactly what those pixels move from class to class.
    reference = fastweights.count(train_ids, ignore_index=255, num_classes=19, per_image=True)
    moved = np.zeros(20, np.int64)  # pixels gained by each of the 19 classes and by "ignored" (19)
    disagree = 0
    for image, path in zip(images, train_ids):
        mine = np.vectorize(OFFICIAL_TRAIN_IDS.__getitem__, otypes=[np.int64])(image)
        mine[(mine == 255) | (mine == -1)] = 19
        theirs = np.asarray(Image.open(path)).astype(np.int64)
        theirs[theirs == 255] = 19
        differ = mine != theirs
        disagree += int(differ.sum())
        np.add.at(moved, mine[differ], -1)
        np.add.at(moved, theirs[differ], 1)
    assert 0 < disagree < 0.005 * (mapped.n_pixels + mapped.ignored)
    np.testing.assert_array_equal(reference.pixels.astype(np.int64) - mapped.pixels.astype(np.int64), moved[:19])
    assert reference.ignored - mapped.ignored == moved[19]
