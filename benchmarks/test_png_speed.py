"""PNG mask folders: fastweights.count against a plain loop of Pillow + np.bincount over the same
files, measured in the same run (DESIGN.md §4: >= 3x on one thread, >= 1.6x more on two).

    python -m pytest benchmarks/test_png_speed.py -q --benchmark-disable   # correctness only
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from speed_data import SEED, blocky_masks, skewed
from test_count_speed import Contender, paired_medians, record_paired, run, same_counts

import fastweights

pil = pytest.importorskip("PIL.Image")

REAL_DATA = Path(
    os.environ.get("FASTWEIGHTS_REAL_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)
PAIRED_ROUNDS = 15  # the thread gain: paired rounds, see test_png_thread_gain_interleaved
ROUNDS = 5


class PngFolder:
    def __init__(self, paths: list[Path], description: str) -> None:
        self.paths = paths
        self.description = description
        self.expected = pillow_loop(paths)
        self.pixels = int(self.expected.sum())


def pillow_loop(paths: list[Path]) -> np.ndarray:
    """The reference every seed script amounts to: decode with Pillow, np.bincount, add."""
    total = np.zeros(65536, np.int64)
    for path in paths:
        with pil.open(path) as image:
            labels = np.asarray(image)
        total[: int(labels.max()) + 1] += np.bincount(labels.ravel())
    return total


@pytest.fixture(scope="session")
def camvid() -> PngFolder:
    folder = REAL_DATA / "camvid" / "trainannot"
    if not folder.is_dir():
        pytest.skip(f"CamVid masks not found at {folder}")
    paths = sorted(folder.glob("*.png"))
    return PngFolder(paths, f"CamVid trainannot: {len(paths)} gray 480 x 360 PNGs (SegNet)")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """300 gray and 300 palette PNGs of 512 x 512 blocky masks, 20 classes (one at 70 %), saved by Pillow."""
    folder = tmp_path_factory.mktemp("png")
    masks, _ = blocky_masks(np.random.default_rng(SEED + 9), 600, 512, 512, skewed(20, 0.70), np.uint8)
    palette = [value for index in range(256) for value in (index * 37 % 256, index * 91 % 256, index * 13 % 256)]
    paths = []
    for index, mask in enumerate(masks):
        image = pil.fromarray(mask)
        if index % 2:
            image = image.convert("P")
            image.putpalette(palette)
            image.putdata(mask.ravel())  # the indices are the labels
        path = folder / f"mask_{index:04d}.png"
        image.save(path)
        paths.append(path)
    yield PngFolder(paths, "600 PNGs of 512 x 512 blocky masks (300 gray 'L', 300 palette 'P'), 20 classes")
    shutil.rmtree(folder)


def folders() -> list:
    return [
        pytest.param(name, id=name, marks=pytest.mark.benchmark(group=f"png-{name}"))
        for name in ("camvid", "generated")
    ]


@pytest.fixture
def png_folder(request: pytest.FixtureRequest) -> PngFolder:
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("png_folder", folders(), indirect=True)
def test_png_fastweights(benchmark, png_folder: PngFolder, threads: int) -> None:
    result = run(
        benchmark,
        lambda: fastweights.count(png_folder.paths, threads=threads),
        variant=f"fastweights.count threads={threads}",
        role="fastweights",
        nbytes=png_folder.pixels,
        data=png_folder.description,
        rounds=ROUNDS,
    )
    assert same_counts(result.pixels, png_folder.expected)
    assert result.n_images == len(png_folder.paths)


SEED_IMAGES = 2  # the per-pixel loop takes ~0.1 s per 100,000 pixels: two images, extrapolated


def seed_loop(paths: list[Path]) -> dict[int, int]:
    """What the seed scripts do: every pixel through Python, from PIL's pixel access object."""
    counts: dict[int, int] = {}
    for path in paths:
        with pil.open(path) as image:
            pixels = image.load()
            width, height = image.size
            for y in range(height):
                for x in range(width):
                    label = pixels[x, y]
                    counts[label] = counts.get(label, 0) + 1
    return counts


@pytest.mark.parametrize("png_folder", folders(), indirect=True)
def test_png_seed_loop(benchmark, png_folder: PngFolder) -> None:
    sample = png_folder.paths[:SEED_IMAGES]
    result = run(
        benchmark,
        lambda: seed_loop(sample),
        variant=f"seed: per-pixel Python loop over PIL's load(), {SEED_IMAGES} images, extrapolated",
        role="seed",
        nbytes=png_folder.pixels,
        data=png_folder.description,
        rounds=1,
        scale=len(png_folder.paths) / SEED_IMAGES,
    )
    expected = pillow_loop(sample)
    assert result == {label: int(expected[label]) for label in np.flatnonzero(expected)}


@pytest.mark.parametrize("png_folder", folders(), indirect=True)
def test_png_pillow_loop(benchmark, png_folder: PngFolder) -> None:
    result = run(
        benchmark,
        lambda: pillow_loop(png_folder.paths),
        variant="Pillow + np.bincount loop",
        role="bincount",
        nbytes=png_folder.pixels,
        data=png_folder.description,
        rounds=ROUNDS,
    )
    assert same_counts(result, png_folder.expected)


def decoder_alone(paths: list[Path]) -> Callable[[int], np.ndarray]:
    """The C++ batch reader and decoder on its own (the files listed beforehand), on `threads`
    threads: the pixels of every label, summed over the files."""
    from fastweights import _core
    from fastweights.io.readers.png import MAX_PIXELS

    names = [str(path) for path in paths]
    stats = [os.stat(path) for path in paths]
    sizes = np.array([info.st_size for info in stats], np.int64)
    mtimes = np.array([info.st_mtime_ns for info in stats], np.int64)
    kinds = np.zeros(len(paths), np.uint8)

    def decode(threads: int) -> np.ndarray:
        found = _core.count_files(names, sizes, mtimes, kinds, MAX_PIXELS, threads)
        assert (found.statuses == int(_core.PngStatus.ok)).all() and not found.errors.any()
        pixels = np.zeros(65536, np.int64)
        np.add.at(pixels, found.values, found.counts.astype(np.int64))
        return pixels

    return decode


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("png_folder", folders(), indirect=True)
def test_png_decoder_alone(benchmark, png_folder: PngFolder, threads: int) -> None:
    """The ceiling of the two-thread gain: the C++ reader and decoder on their own, with no Python
    between files (how much the second core adds to reading and decoding itself)."""
    decode = decoder_alone(png_folder.paths)
    result = run(
        benchmark,
        lambda: decode(threads),
        variant=f"C++ reader and decoder alone, threads={threads}",
        role="decoder",
        nbytes=png_folder.pixels,
        data=png_folder.description,
        rounds=ROUNDS,
    )
    assert same_counts(result, png_folder.expected)


@pytest.mark.parametrize("png_folder", folders(), indirect=True)
def test_png_thread_gain_interleaved(benchmark, png_folder: PngFolder) -> None:
    """What a second thread gains, measured paired: one thread, then two, then one again, ...
    A shared machine's slow spells then hit both alike, which separate blocks of rounds do not."""
    decode = decoder_alone(png_folder.paths)

    def decoded(pixels: np.ndarray) -> bool:
        return same_counts(pixels, png_folder.expected)

    def check(result) -> bool:
        return same_counts(result.pixels, png_folder.expected)

    contenders: dict[str, Contender] = {}
    for threads in (1, 2):
        contenders[f"count {threads}"] = (lambda t=threads: fastweights.count(png_folder.paths, threads=t), check, 1)
        contenders[f"decoder {threads}"] = (lambda t=threads: decode(t), decoded, 1)
    medians = paired_medians(benchmark, contenders, PAIRED_ROUNDS)
    record_paired(
        benchmark,
        variant="paired: threads=1 and threads=2 alternating",
        nbytes=png_folder.pixels,
        data=png_folder.description,
        rounds=PAIRED_ROUNDS,
        count_gain=medians["count 1"] / medians["count 2"],
        decoder_gain=medians["decoder 1"] / medians["decoder 2"],
    )
