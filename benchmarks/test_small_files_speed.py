"""Many tiny files: fastweights.count on a folder of 64 x 64 masks (PNG and .npy) against the plain
loop (Pillow or np.load, then np.bincount), timed in turn within every round. The full-size run
(100,000 files a format) is bench_small_files.py; BENCHMARKS.md holds its figures.

    python -m pytest benchmarks/test_small_files_speed.py --benchmark-only
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from bench_small_files import plain_loop, write_set
from test_count_speed import Contender, paired_medians, record_paired

import fastweights

pytest.importorskip("PIL.Image")

FILES = 3000
ROUNDS = 5


@pytest.mark.parametrize("kind", ["png", "npy"])
@pytest.mark.benchmark(group="small-files-tiny")
def test_tiny_files(benchmark, tmp_path_factory: pytest.TempPathFactory, kind: str) -> None:
    folder = tmp_path_factory.mktemp(f"tiny-{kind}")
    write_set(folder, kind, FILES)
    expected = plain_loop(folder, kind)

    def count(threads: int) -> fastweights.Counts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 255 is counted as a class here, as the plain loop does
            return fastweights.count(str(folder), threads=threads)

    def same(result: object) -> bool:
        assert isinstance(result, fastweights.Counts)
        got = np.zeros(256, np.int64)
        got[: result.pixels.size] = result.pixels
        return bool(np.array_equal(got, expected)) and result.n_images == FILES

    contenders: dict[str, Contender] = {
        "plain": (lambda: plain_loop(folder, kind), lambda result: np.array_equal(result, expected), 1),
        "count 1": (lambda: count(1), same, 1),
        "count 2": (lambda: count(2), same, 1),
    }
    medians = paired_medians(benchmark, contenders, ROUNDS)
    record_paired(
        benchmark,
        variant=f"paired: plain loop, threads=1, threads=2 ({kind})",
        nbytes=FILES * 64 * 64,
        data=f"{FILES:,} {kind} files of 64 x 64 uint8 masks",
        rounds=ROUNDS,
        speedup_1=medians["plain"] / medians["count 1"],
        speedup_2=medians["plain"] / medians["count 2"],
        thread_gain=medians["count 1"] / medians["count 2"],
    )


def test_the_generated_set_is_what_it_claims(tmp_path: Path) -> None:
    paths = write_set(tmp_path, "png", 12)
    assert len(paths) == 12 and all(path.is_file() for path in paths)
    assert plain_loop(tmp_path, "png").sum() == 12 * 64 * 64
