"""Small files not in the page cache: the batch reader reads a file without waiting for the disk
first, and a file found cold has the disk asked for the files after it. The counts are those of
the files, whether they are cold, partly cached (the first page only) or warm."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import resident_pages

import fastweights
from fastweights.io import pagecache

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and hasattr(os, "RWF_NOWAIT")), reason="RWF_NOWAIT reads: Linux"
)


def _write(folder: Path) -> tuple[list[Path], np.ndarray]:
    """PNG and .npy masks in two folders (the .npy ones span two pages), and their counts."""
    from PIL import Image

    rng = np.random.default_rng(11)
    paths, total = [], np.zeros(9, np.int64)
    for kind, count, side in (("npy", 400, 70), ("png", 200, 40)):
        (folder / kind).mkdir()
        for index in range(count):
            mask = rng.integers(0, 9, (side, side), dtype=np.uint8)
            path = folder / kind / f"{index:04d}.{kind}"
            if kind == "npy":
                np.save(path, mask)
            else:
                Image.fromarray(mask).save(path)
            paths.append(path)
            total += np.bincount(mask.ravel(), minlength=9)
    return paths, total


def _drop(path: Path, offset: int = 0) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # only clean pages can be dropped
    finally:
        os.close(descriptor)
    pagecache.drop(str(path), offset)


def _cached(path: Path, offset: int = 0) -> bool:
    """Whether the page at `offset` is cached, asked without reading it (a read would start the disk)."""
    return resident_pages(path)[offset // mmap.PAGESIZE]


@pytest.mark.parametrize("threads", [1, 2])
def test_cold_partly_cold_and_warm_small_files_are_counted_exactly(tmp_path: Path, threads: int) -> None:
    paths, expected = _write(tmp_path)
    for path in paths:
        _drop(path)
    if _cached(paths[0]):
        pytest.skip("this file system keeps its files in memory (tmpfs): none can be made cold")
    assert [path.name for path in paths if _cached(path)] == []  # nothing reads them back in
    counts = fastweights.count(str(tmp_path), threads=threads, progress=False)
    assert counts.pixels.tolist() == expected.tolist() and counts.n_images == len(paths)
    # Every other file cold; the .npy ones cached in their first page only, read on from there. The
    # files are read again first: a VM may page out cached files it finds idle (here a DAMON scheme
    # does, within seconds), so pages read by the count above may be gone already.
    for path in paths:
        path.read_bytes()
    npys = [path for path in paths if path.suffix == ".npy"]
    for path in paths[::2]:
        _drop(path)
    for path in npys[1::2]:
        _drop(path, offset=4096)
    assert [path.name for path in paths[::2] if _cached(path)] == []
    assert any(_cached(path) and not _cached(path, offset=4096) for path in npys[1::2])
    counts = fastweights.count(str(tmp_path), threads=threads, progress=False)
    assert counts.pixels.tolist() == expected.tolist() and counts.n_images == len(paths)
