"""Speed of `fastweights.count` against np.bincount and a plain read of the same memory.

The test suite runs them untimed (pyproject's addopts has --benchmark-disable): each once, its result
asserted. benchmarks/report.py times them.

    python -m pytest benchmarks -q --benchmark-disable   # correctness only: every benchmark once
    python benchmarks/report.py                          # timed run -> BENCHMARKS.md

Each group holds one kind of data with its references, all measured in the same run: ratios
between them mean something on a noisy machine, absolute times much less. Every benchmark checks
what it computed, so one that times nothing, or counts wrong, fails.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from typing import Callable

import numpy as np
import pytest
from speed_data import KINDS, Dataset, SmallFiles, read_words

import fastweights
from fastweights.kernels import available_kernels, use_kernel

ROUNDS = 7  # fast variants (fastweights, the read ceiling)
SLOW_ROUNDS = 3  # np.bincount: 10-100x slower
COLD_ROUNDS = 3  # each reads 256 MiB from disk
PAIRED_ROUNDS = 15  # the goal ratios: rounds of a paired measurement (see paired_medians)
PAIRED_COLD_ROUNDS = 5
READ_BLOCK = 16 << 20


def same_counts(got: np.ndarray, expected: np.ndarray) -> bool:
    """Equal, once the shorter array is padded with zeros (count() stops at the largest label)."""
    size = max(got.size, expected.size)
    return np.array_equal(
        np.pad(got, (0, size - got.size)),
        np.pad(expected.astype(np.uint64), (0, size - expected.size)),
    )


def run(
    benchmark,
    fn: Callable[[], object],
    *,
    variant: str,
    role: str,
    nbytes: int,
    data: str,
    rounds: int = ROUNDS,
    scale: float = 1.0,
    setup: Callable[[], object] | None = None,
) -> object:
    """Times fn with pedantic settings; records what report.py needs to build its tables.

    `scale`: fn does 1/scale of the work (a reference too slow to run whole); report.py multiplies
    its times by `scale`. `setup` runs before every round, untimed."""
    benchmark.extra_info.update(variant=variant, role=role, nbytes=nbytes, data=data, scale=scale)
    if setup is None:
        return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    results: list[object] = []

    def timed() -> None:
        results.append(fn())

    benchmark.pedantic(timed, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
    return results[-1]


# A contender of a paired measurement: what it runs, the check its result must pass, and its period
# (it runs in every period-th round: np.bincount is too slow to run in every one).
Contender = tuple[Callable[[], object], Callable[[object], bool], int]


def paired_medians(
    benchmark, contenders: dict[str, Contender], rounds: int, before: Callable[[], object] | None = None
) -> dict[str, float]:
    """Median seconds of each contender, timed in turn within every round (a, b, a, b, ...), so that
    a shared machine's slow spells hit them alike; separate blocks of rounds, minutes apart, do not
    (the ratio of two such blocks moved by ±20 % from run to run here). `before` runs, untimed,
    before every timed call. Each contender first runs once untimed, as pedantic's warm-up round
    does: np.bincount's first call here took 2-10x its usual time, getting 8 bytes a label of fresh
    memory from the system. Under --benchmark-disable (the test suite) one round checks the results.
    """
    rounds = 1 if benchmark.disabled else rounds

    def alternate() -> dict[str, float]:
        if not benchmark.disabled:
            for fn, _, _ in contenders.values():
                if before is not None:
                    before()
                fn()
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for index in range(rounds):
            for name, (fn, check, period) in contenders.items():
                if index % period != min(period // 2, rounds - 1):  # mid-period; round 0 if only one
                    continue
                if before is not None:
                    before()
                start = time.perf_counter()
                result = fn()
                times[name].append(time.perf_counter() - start)
                assert check(result), f"{name}: wrong result"
        return {name: statistics.median(values) for name, values in times.items()}

    return benchmark.pedantic(alternate, rounds=1, iterations=1)


def record_paired(
    benchmark, *, variant: str, nbytes: int, data: str, rounds: int, role: str = "paired", **ratios: object
) -> None:
    """Records a paired measurement's ratios for report.py (its row in the group, role "paired" unless
    told otherwise)."""
    benchmark.extra_info.update(variant=variant, role=role, nbytes=nbytes, data=data, paired_rounds=rounds, **ratios)


# One group per kind of data: its fastweights variants and their references side by side.
# "few" holds 255 beside labels 0-3: counted as it is (no ignore_index), which the count warns of.
VOID_WARNING = pytest.mark.filterwarnings("ignore:fastweights. label 255 .* was counted as class 255:UserWarning")
IN_MEMORY = [
    pytest.param(key, id=key, marks=[pytest.mark.benchmark(group=key), *([VOID_WARNING] if key == "few" else [])])
    for key in KINDS
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dataset", IN_MEMORY, indirect=True)
def test_fastweights(benchmark, dataset: Dataset, threads: int) -> None:
    result = run(
        benchmark,
        lambda: fastweights.count(dataset.array, threads=threads),
        variant=f"fastweights.count, threads={threads}",
        role="fastweights",
        nbytes=dataset.nbytes,
        data=dataset.description,
    )
    assert same_counts(result.pixels, dataset.expected)
    assert (result.n_images, result.n_pixels) == (1, dataset.array.size)


@pytest.mark.parametrize("dataset", IN_MEMORY, indirect=True)
def test_bincount(benchmark, dataset: Dataset) -> None:
    result = run(
        benchmark,
        lambda: np.bincount(dataset.array.ravel(), minlength=dataset.classes),
        variant="np.bincount(arr.ravel(), minlength)",
        role="bincount",
        nbytes=dataset.nbytes,
        data=dataset.description,
        rounds=SLOW_ROUNDS,
    )
    assert same_counts(result, dataset.expected)


# np.unique sorts: 7 s for 128 MiB here. It is timed on a prefix of this many bytes and scaled up
# linearly, which flatters it (sorting grows faster than linearly).
UNIQUE_PREFIX = 16 << 20


@pytest.mark.parametrize("dataset", IN_MEMORY, indirect=True)
def test_unique(benchmark, dataset: Dataset) -> None:
    prefix = dataset.array.reshape(-1)[: UNIQUE_PREFIX // dataset.array.itemsize]
    expected = np.bincount(prefix, minlength=dataset.classes)
    values, counts = run(
        benchmark,
        lambda: np.unique(prefix, return_counts=True),
        variant="np.unique(arr, return_counts=True), timed on 16 MiB, scaled",
        role="unique",
        nbytes=dataset.nbytes,
        data=dataset.description,
        rounds=1,
        scale=dataset.nbytes / prefix.nbytes,
    )
    assert np.array_equal(values, np.flatnonzero(expected))
    assert np.array_equal(counts, expected[values])


@pytest.mark.parametrize("dataset", IN_MEMORY, indirect=True)
def test_read_ceiling(benchmark, dataset: Dataset) -> None:
    result = run(
        benchmark,
        lambda: read_words(dataset.array),
        variant="read ceiling: np.add.reduce(uint64 view)",
        role="ceiling",
        nbytes=dataset.nbytes,
        data=dataset.description,
    )
    assert result == dataset.checksum


@pytest.mark.parametrize("dataset", IN_MEMORY, indirect=True)
def test_paired_goal_ratios(benchmark, dataset: Dataset) -> None:
    """fastweights (one thread) and the read ceiling alternating, np.bincount every third round: the
    ratios DESIGN.md's goals are stated in, measured paired."""
    counted: Contender = (
        lambda: fastweights.count(dataset.array, threads=1),
        lambda result: same_counts(result.pixels, dataset.expected),
        1,
    )
    ceiling: Contender = (lambda: read_words(dataset.array), lambda result: result == dataset.checksum, 1)
    bincount: Contender = (
        lambda: np.bincount(dataset.array.ravel(), minlength=dataset.classes),
        lambda result: same_counts(result, dataset.expected),
        3,  # five of the fifteen rounds: a few of its calls take 3x the others here
    )
    medians = paired_medians(
        benchmark, {"fastweights": counted, "ceiling": ceiling, "bincount": bincount}, PAIRED_ROUNDS
    )
    record_paired(
        benchmark,
        variant="paired: fastweights threads=1, the read ceiling, np.bincount",
        nbytes=dataset.nbytes,
        data=dataset.description,
        rounds=PAIRED_ROUNDS,
        of_ceiling=medians["ceiling"] / medians["fastweights"],
        vs_bincount=medians["bincount"] / medians["fastweights"],
    )


@pytest.mark.parametrize("dataset", IN_MEMORY, indirect=True)
def test_kernel_variants_paired(benchmark, dataset: Dataset) -> None:
    """Every kernel variant this CPU offers (one thread), forced in turn, alternating with the read
    ceiling: what a CPU without AVX2, or a build without it, gets from the portable variant."""
    variants = available_kernels()

    def forced(name: str) -> Callable[[], object]:
        def count() -> object:
            use_kernel(name)
            try:
                return fastweights.count(dataset.array, threads=1)
            finally:
                use_kernel("auto")

        return count

    contenders: dict[str, Contender] = {
        name: (forced(name), lambda result: same_counts(result.pixels, dataset.expected), 1) for name in variants
    }
    contenders["ceiling"] = (lambda: read_words(dataset.array), lambda result: result == dataset.checksum, 1)
    medians = paired_medians(benchmark, contenders, ROUNDS)
    record_paired(
        benchmark,
        variant="paired: each kernel variant, threads=1, and the read ceiling",
        role="variants",
        nbytes=dataset.nbytes,
        data=dataset.description,
        rounds=ROUNDS,
        of_ceiling={name: medians["ceiling"] / medians[name] for name in variants},
    )


MAPPED = "mapped"
MAPPED_DATA = "the realistic masks (256 MiB) as a .npy file, warm page cache"


@pytest.mark.benchmark(group=MAPPED)
@pytest.mark.parametrize("threads", [1, 2])
def test_mapped_file(benchmark, masks_npy, masks: Dataset, threads: int) -> None:
    result = run(
        benchmark,
        lambda: fastweights.count(str(masks_npy), threads=threads),
        variant=f"fastweights.count(path), threads={threads}",
        role="fastweights",
        nbytes=masks.nbytes,
        data=MAPPED_DATA,
    )
    assert same_counts(result.pixels, masks.expected)
    assert (result.n_images, result.n_pixels) == (1, masks.array.size)


@pytest.mark.benchmark(group=MAPPED)
@pytest.mark.parametrize("threads", [1, 2])
def test_mapped_in_memory(benchmark, masks_npy, masks: Dataset, threads: int) -> None:
    result = run(
        benchmark,
        lambda: fastweights.count(masks.array, threads=threads),
        variant=f"fastweights.count(array in memory), threads={threads}",
        role="in-memory",
        nbytes=masks.nbytes,
        data=MAPPED_DATA,
    )
    assert same_counts(result.pixels, masks.expected)


@pytest.mark.benchmark(group=MAPPED)
def test_mapped_read(benchmark, masks_npy, masks: Dataset) -> None:
    result = run(
        benchmark,
        lambda: read_words(np.load(masks_npy, mmap_mode="r")),
        variant="plain read of the memory map: np.add.reduce(uint64 view)",
        role="mapped read",
        nbytes=masks.nbytes,
        data=MAPPED_DATA,
    )
    assert result == masks.checksum


@pytest.mark.benchmark(group=MAPPED)
def test_mapped_ceiling(benchmark, masks_npy, masks: Dataset) -> None:
    result = run(
        benchmark,
        lambda: read_words(masks.array),
        variant="read ceiling (in memory): np.add.reduce(uint64 view)",
        role="ceiling",
        nbytes=masks.nbytes,
        data=MAPPED_DATA,
    )
    assert result == masks.checksum


@pytest.mark.benchmark(group=MAPPED)
def test_mapped_paired(benchmark, masks_npy, masks: Dataset) -> None:
    """The file and the same labels in memory, one thread each, alternating."""

    def check(result) -> bool:
        return same_counts(result.pixels, masks.expected)

    medians = paired_medians(
        benchmark,
        {
            "file": (lambda: fastweights.count(str(masks_npy), threads=1), check, 1),
            "in-memory": (lambda: fastweights.count(masks.array, threads=1), check, 1),
        },
        PAIRED_ROUNDS,
    )
    record_paired(
        benchmark,
        variant="paired: from the file and in memory, threads=1",
        nbytes=masks.nbytes,
        data=MAPPED_DATA,
        rounds=PAIRED_ROUNDS,
        file_share=medians["in-memory"] / medians["file"],
    )


COLD = "mapped-cold"
COLD_DATA = "the realistic masks (256 MiB) as a .npy file, page cache dropped before every round"


def drop_from_page_cache(path) -> None:
    """Asks the kernel to drop the file's pages (posix_fadvise DONTNEED: no root needed), then checks
    with util-linux `fincore` that at most a few pages stayed; skips where that cannot be shown."""
    if not hasattr(os, "posix_fadvise") or shutil.which("fincore") is None:
        pytest.skip("needs posix_fadvise and util-linux fincore to drop and check the page cache")
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)
    resident = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if resident.returncode != 0 or not resident.stdout.strip().isdigit():
        pytest.skip(f"fincore could not say what stayed cached: {resident.stderr.strip()}")
    if int(resident.stdout) > 1 << 20:
        kept = int(resident.stdout)
        pytest.skip(f"the page cache kept {kept} bytes of the file (a file system that ignores DONTNEED)")


def read_whole_file(path) -> int:
    """The cold reference: read() of the whole file in 16 MiB blocks; returns the bytes read."""
    total = 0
    with open(path, "rb", buffering=0) as stream:
        while block := stream.read(READ_BLOCK):
            total += len(block)
    return total


@pytest.mark.benchmark(group=COLD)
@pytest.mark.parametrize("threads", [1, 2])
def test_cold_mapped_file(benchmark, masks_npy, masks: Dataset, threads: int) -> None:
    result = run(
        benchmark,
        lambda: fastweights.count(str(masks_npy), threads=threads),
        variant=f"fastweights.count(path), cold, threads={threads}",
        role="fastweights",
        nbytes=masks.nbytes,
        data=COLD_DATA,
        rounds=COLD_ROUNDS,
        setup=lambda: drop_from_page_cache(masks_npy),
    )
    assert same_counts(result.pixels, masks.expected)


@pytest.mark.benchmark(group=COLD)
def test_cold_sequential_read(benchmark, masks_npy, masks: Dataset) -> None:
    result = run(
        benchmark,
        lambda: read_whole_file(masks_npy),
        variant="sequential read of the file: read() in 16 MiB blocks, cold",
        role="sequential read",
        nbytes=masks.nbytes,
        data=COLD_DATA,
        rounds=COLD_ROUNDS,
        setup=lambda: drop_from_page_cache(masks_npy),
    )
    assert result == masks_npy.stat().st_size


@pytest.mark.benchmark(group=COLD)
def test_cold_paired(benchmark, masks_npy, masks: Dataset) -> None:
    """Counting the file and reading it sequentially, one thread, alternating, each from a cold cache."""
    medians = paired_medians(
        benchmark,
        {
            "count": (
                lambda: fastweights.count(str(masks_npy), threads=1),
                lambda result: same_counts(result.pixels, masks.expected),
                1,
            ),
            "read": (lambda: read_whole_file(masks_npy), lambda size: size == masks_npy.stat().st_size, 1),
        },
        PAIRED_COLD_ROUNDS,
        before=lambda: drop_from_page_cache(masks_npy),
    )
    record_paired(
        benchmark,
        variant="paired: count and sequential read, cold, threads=1",
        nbytes=masks.nbytes,
        data=COLD_DATA,
        rounds=PAIRED_COLD_ROUNDS,
        cold_share=medians["read"] / medians["count"],
    )


SMALL = "small-files"
SMALL_DATA = "a folder of 2,000 .npy files of 128 x 128 uint8 blocky masks (20 classes), warm cache"


@pytest.mark.benchmark(group=SMALL)
@pytest.mark.parametrize("threads", [1, 2])
def test_small_files(benchmark, small_files: SmallFiles, threads: int) -> None:
    result = run(
        benchmark,
        lambda: fastweights.count(str(small_files.folder), threads=threads),
        variant=f"fastweights.count(folder), threads={threads}",
        role="fastweights",
        nbytes=small_files.nbytes,
        data=SMALL_DATA,
    )
    assert same_counts(result.pixels, small_files.expected)
    assert result.n_images == len(small_files.paths)


@pytest.mark.benchmark(group=SMALL)
def test_small_files_numpy(benchmark, small_files: SmallFiles) -> None:
    def numpy_loop() -> np.ndarray:
        total = np.zeros(small_files.classes, np.int64)
        for path in small_files.paths:
            total += np.bincount(np.load(path).ravel(), minlength=small_files.classes)
        return total

    result = run(
        benchmark,
        numpy_loop,
        variant="loop: np.load + np.bincount per file",
        role="bincount",
        nbytes=small_files.nbytes,
        data=SMALL_DATA,
        rounds=SLOW_ROUNDS,
    )
    assert same_counts(result, small_files.expected)
