"""Counting cold files, against a cat-like reader of the same files: a few MB, so that it runs in CI.
The figures at scale (1 GiB to more than RAM, peak RSS) come from benchmarks/bench_out_of_core.py.

The page cache is dropped before every round and fincore checks that it was; a file system that
keeps the pages anyway (or a machine without fincore) skips, rather than time warm reads as cold.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from ooc_data import cold, png_bytes
from speed_data import SEED, blocky_masks, skewed
from test_count_speed import run, same_counts

import fastweights

GROUP = "out-of-core"
DATA = "8 .npy files of 2 MiB (mapped) and 8 PNGs of 512 x 512, page cache dropped before every round"
ROUNDS = 3
BLOCK = 1 << 20


@pytest.fixture(scope="module")
def cold_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], np.ndarray]:
    if not hasattr(os, "posix_fadvise") or shutil.which("fincore") is None:
        pytest.skip("needs posix_fadvise and util-linux fincore to drop and check the page cache")
    folder = tmp_path_factory.mktemp("cold")
    masks, expected = blocky_masks(np.random.default_rng(SEED + 9), 16, 512, 4096, skewed(10, 0.6), np.uint8)
    paths = []
    for index, mask in enumerate(masks[:8]):  # 2 MiB: above the size read whole, so mapped
        paths.append(folder / f"volume_{index}.npy")
        np.save(paths[-1], mask)
    for index, mask in enumerate(masks[8:]):
        paths.append(folder / f"mask_{index}.png")
        paths[-1].write_bytes(png_bytes(np.ascontiguousarray(mask[:, :512])))
    expected = expected.copy()
    for mask in masks[8:]:  # the PNGs hold the first 512 columns only
        expected -= np.bincount(mask[:, 512:].ravel(), minlength=expected.size).astype(np.uint64)
    os.sync()  # DONTNEED leaves dirty pages where they are
    if cold(paths) > len(paths) * 4096:
        pytest.skip("the page cache kept the files after DONTNEED (a file system that ignores it)")
    return folder, paths, expected


def made_cold(paths: list[Path]) -> None:
    assert cold(paths) <= len(paths) * 4096, "the files stayed in the page cache"


def cat(paths: list[Path]) -> int:
    buffer = bytearray(BLOCK)
    read = 0
    for path in paths:
        with open(path, "rb", buffering=0) as stream:
            while size := stream.readinto(buffer):
                read += size
    return read


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("threads", [1, 2])
def test_cold_count_is_exact(benchmark, cold_set, threads: int) -> None:
    folder, paths, expected = cold_set
    result = run(
        benchmark,
        lambda: fastweights.count(folder, threads=threads),
        variant=f"fastweights.count(folder), cold, threads={threads}",
        role="fastweights",
        nbytes=sum(path.stat().st_size for path in paths),
        data=DATA,
        rounds=ROUNDS,
        setup=lambda: made_cold(paths),
    )
    assert same_counts(result.pixels, expected)


@pytest.mark.benchmark(group=GROUP)
def test_cold_cat_reader(benchmark, cold_set) -> None:
    _, paths, _ = cold_set
    nbytes = sum(path.stat().st_size for path in paths)
    result = run(
        benchmark,
        lambda: cat(paths),
        variant="cat: the same files, 1 MiB reads into one buffer, cold",
        role="sequential read",
        nbytes=nbytes,
        data=DATA,
        rounds=ROUNDS,
        setup=lambda: made_cold(paths),
    )
    assert result == nbytes
