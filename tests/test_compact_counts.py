"""The statistics of a count cost memory by the classes present, not by the largest label (issue 20)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import stop_after

import fastweights
from fastweights import Counts
from fastweights.errors import Interrupted

HUGE_LABEL = 16_777_215  # the largest class id count() takes
SLACK_MB = 100  # the old dense statistics needed over 800 MB more than the process had before counting

# 300 tiny masks holding a label near 16.7M (and a small one): dense statistics are 134 MB an array,
# and a count made several of them. Counted, checkpointed, saved, loaded, pickled and added under an
# address-space limit of the process's size before counting plus SLACK_MB (then 160 MB more to read
# one dense array).
BOUNDED_SCRIPT = textwrap.dedent(
    """
    import os, pickle, resource, signal, sys
    from pathlib import Path
    import numpy as np
    import fastweights
    from fastweights import Counts

    folder, slack = Path(sys.argv[1]), int(sys.argv[2]) << 20
    warm = folder / "warm"
    warm.mkdir()
    for i in range(4):
        np.save(warm / f"{{i}}.npy", np.full(8, i, np.int32))
    for threads in (1, 2):  # threads, their stacks and malloc arenas exist before the limit
        fastweights.count(warm, threads=threads, per_image=True)
    size = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:"))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = (size << 10) + slack
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

    masks = folder / "masks"
    masks.mkdir()
    pixels, images, image_pixels = {{}}, {{}}, {{}}
    for i in range(300):
        mask = np.zeros((4, 4), np.int32)
        mask[0, : 1 + i % 4] = {huge} - i % 5
        mask[1, 0] = i % 7
        np.save(masks / f"{{i:03d}}.npy", mask)
        labels, tally = np.unique(mask, return_counts=True)
        for label, n in zip(labels.tolist(), tally.tolist()):
            pixels[label] = pixels.get(label, 0) + n
            images[label] = images.get(label, 0) + 1
            image_pixels[label] = image_pixels.get(label, 0) + 16
    stopped = []

    def stop_halfway(progress):
        if progress.done >= 150 and not stopped:
            stopped.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    checkpoint = folder / "checkpoint.json"
    try:
        fastweights.count(masks, threads=1, checkpoint=checkpoint, progress=stop_halfway)
    except fastweights.errors.Interrupted:
        pass
    one = fastweights.count(masks, threads=1, checkpoint=checkpoint)
    assert one.params["resumed"] >= 150 and not checkpoint.exists(), one.params
    two = fastweights.count(masks, threads=2)
    assert one == two
    data = one.to_dict()
    assert data["format_version"] == 3 and data["num_classes"] == {huge} + 1, data["format_version"]
    assert data["classes"] == sorted(pixels)
    assert data["pixels"] == [pixels[c] for c in data["classes"]]
    assert data["images"] == [images[c] for c in data["classes"]]
    assert data["image_pixels"] == [image_pixels[c] for c in data["classes"]]
    assert (one.n_images, one.n_pixels, one.ignored) == (300, 4800, 0)
    one.save(folder / "counts.json")
    loaded = Counts.load(folder / "counts.json")
    assert loaded == one and pickle.loads(pickle.dumps(one)) == one
    total = sum([one, two, loaded])
    assert total.num_classes == {huge} + 1 and total.n_images == 900
    assert total.to_dict()["pixels"] == [3 * pixels[c] for c in data["classes"]]
    assert "16777216 classes" in repr(total)
    # What the user asks for: one dense array (128 MiB), made on first access.
    resource.setrlimit(resource.RLIMIT_AS, (limit + (160 << 20), hard))
    dense = total.pixels
    assert dense.size == {huge} + 1 and int(dense[{huge}]) == 3 * pixels[{huge}] and not dense.flags.writeable
    assert int(dense.sum()) == 3 * 4800 and total.pixels is dense
    print("ok")
    """
).format(huge=HUGE_LABEL)


@pytest.mark.parametrize("threads", [1, 2])
def test_huge_labels_in_tiny_masks_cost_memory_by_the_classes_present(tmp_path: Path, threads: int) -> None:
    script = BOUNDED_SCRIPT.replace("for threads in (1, 2)", f"for threads in ({threads},)")
    script = script.replace(
        "two = fastweights.count(masks, threads=2)", f"two = fastweights.count(masks, threads={threads})"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(SLACK_MB)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ok"


def test_the_dense_statistics_are_made_on_access_read_only_and_cached() -> None:
    counts = Counts(pixels=[3, 0, 5], images=[1, 0, 2], image_pixels=[8, 0, 8], n_images=2, n_pixels=8)
    assert counts.pixels.tolist() == [3, 0, 5] and counts.pixels.dtype == np.uint64
    assert counts.images.tolist() == [1, 0, 2] and counts.image_pixels.tolist() == [8, 0, 8]
    assert counts.pixels is counts.pixels and not counts.images.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        counts.image_pixels[0] = 1
    assert pickle.loads(pickle.dumps(counts)) == counts


def test_many_classes_few_present_save_by_the_classes_present(tmp_path: Path) -> None:
    pixels = np.zeros(5000, np.uint64)
    pixels[[0, 4999]] = [7, 2]
    counts = Counts(
        pixels=pixels,
        images=(pixels > 0).astype(np.uint64),
        image_pixels=pixels * 0 + (pixels > 0) * 9,
        n_images=1,
        n_pixels=9,
    )
    data = counts.to_dict()
    assert data["format_version"] == 3 and data["num_classes"] == 5000
    assert (data["classes"], data["pixels"], data["images"], data["image_pixels"]) == (
        [0, 4999],
        [7, 2],
        [1, 1],
        [9, 9],
    )
    counts.save(tmp_path / "c.json")
    loaded = Counts.load(tmp_path / "c.json")
    assert loaded == counts and loaded.pixels.tolist() == pixels.tolist()
    dense = {**data, "format_version": 2, "classes": None}
    for key in ("pixels", "images", "image_pixels"):
        dense[key] = getattr(counts, key).tolist()
    assert Counts.from_dict(dense) == counts  # files of today (one entry per class) still load


def test_half_or_more_classes_present_or_few_classes_save_dense() -> None:
    few = Counts.from_arrays(pixels=[0, 0, 0, 4])
    assert few.to_dict()["format_version"] == 2 and few.to_dict()["pixels"] == [0, 0, 0, 4]
    half = Counts.from_arrays(pixels=np.arange(4096) % 2)
    assert half.to_dict()["format_version"] == 2 and len(half.to_dict()["pixels"]) == 4096


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classes": [4999, 0]}, "increasing"),
        ({"classes": [0, 5000]}, "increasing"),
        ({"classes": [0]}, "entries"),
        ({"num_classes": "5000"}, "num_classes"),
        ({"classes": [-1, 3]}, "increasing"),
    ],
)
def test_a_damaged_compact_file_is_refused(change: dict[str, object], message: str) -> None:
    pixels = np.zeros(5000, np.uint64)
    pixels[[0, 4999]] = [7, 2]
    data = Counts.from_arrays(pixels=pixels).to_dict()
    assert data["format_version"] == 3
    with pytest.raises(ValueError, match=f"damaged Counts file.*{message}"):
        Counts.from_dict({**data, **change})


def test_counts_of_different_class_ranges_add_exactly() -> None:
    small = fastweights.count(np.array([[0, 1, 1]], np.int32))
    big = fastweights.count(np.array([[1, 1, 1, 1, 1, 19_999]], np.int32))
    total = small + big
    assert total.num_classes == 20_000 and total.n_pixels == 9 and total.n_images == 2
    expected = np.zeros(20_000, np.uint64)
    expected[[0, 1, 19_999]] = [1, 7, 1]
    assert total.pixels.tolist() == expected.tolist() and total.images[[0, 1, 19_999]].tolist() == [1, 2, 1]
    assert total.image_pixels[[0, 1, 19_999]].tolist() == [3, 9, 6]
    assert total == big + small and total != small
    assert "20000 classes" in repr(total) and repr(total).splitlines()[3].split()[:2] == ["1", "7"]


def test_a_checkpoint_of_the_dense_format_resumes(tmp_path: Path) -> None:
    for i in range(6):
        np.save(tmp_path / f"{i}.npy", np.array([i % 3, 9_000 * (i % 2)], np.int32))
    fresh = fastweights.count(tmp_path, threads=1)
    checkpoint = tmp_path / "checkpoint.json"
    with pytest.raises(Interrupted):
        fastweights.count(tmp_path, threads=1, checkpoint=checkpoint, progress=stop_after(6))
    data = json.loads(checkpoint.read_text())
    state = data["state"]
    assert data["format_version"] == 2 and state["classes"] == [0, 1, 2, 9000]
    for key in ("pixels", "images", "image_pixels"):  # version 1: one sum per class
        dense = np.zeros(state["num_classes"], np.uint64)
        dense[state["classes"]] = state[key]
        state[key] = dense.tolist()
    del state["classes"], state["num_classes"]
    checkpoint.write_text(json.dumps({**data, "format_version": 1}))
    assert fastweights.count(tmp_path, threads=1, checkpoint=checkpoint) == fresh


@pytest.mark.parametrize(("files", "ranks"), [(8, 2), (2, 3)])  # (2, 3): a rank counts nothing
def test_mpi_ranks_sum_the_classes_present(tmp_path: Path, files: int, ranks: int) -> None:
    pytest.importorskip("mpi4py")
    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if mpiexec is None:
        pytest.skip("no mpiexec (pip install mpich gives one next to python)")
    for i in range(files):
        np.save(tmp_path / f"{i}.npy", np.array([i % 3, HUGE_LABEL - i % 2, HUGE_LABEL], np.int32))
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "fastweights", "count", str(tmp_path), "--mpi"]
    result = subprocess.run([*command, "--format", "json", "-q"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    present = sorted({label for i in range(files) for label in (i % 3, HUGE_LABEL - i % 2, HUGE_LABEL)})
    assert data["format_version"] == 3 and data["classes"] == present
    assert Counts.from_dict(data) == fastweights.count(tmp_path)


@pytest.mark.parametrize("threads", [1, 2])
def test_many_distinct_labels_sum_exactly(tmp_path: Path, threads: int) -> None:
    rng = np.random.default_rng(threads)
    masks = [rng.integers(0, 200_000, (8, 32, 32)).astype(np.int32) for _ in range(12)]
    for i, mask in enumerate(masks):
        np.save(tmp_path / f"{i:02d}.npy", mask if i % 2 else mask[:1])  # stacks: several images per input
    got = fastweights.count(tmp_path, threads=threads, stack_axis=0)
    images = [image for i, mask in enumerate(masks) for image in (mask if i % 2 else mask[:1])]
    pixels, holders, image_pixels = {}, {}, {}
    for image in images:
        labels, tally = np.unique(image, return_counts=True)
        for label, n in zip(labels.tolist(), tally.tolist()):
            pixels[label] = pixels.get(label, 0) + n
            holders[label] = holders.get(label, 0) + 1
            image_pixels[label] = image_pixels.get(label, 0) + image.size
    data = got.to_dict()
    assert data["format_version"] == 3 and data["classes"] == sorted(pixels) and got.n_images == len(images)
    assert data["pixels"] == [pixels[c] for c in data["classes"]]
    assert data["images"] == [holders[c] for c in data["classes"]]
    assert data["image_pixels"] == [image_pixels[c] for c in data["classes"]]
