"""Data for the speed benchmarks (fixtures in conftest.py): fixed seeds, built once per session.

Every data set comes with its exact expected counts, obtained without running `np.bincount` over
the full array where possible (a blocky mask's counts follow from its low-resolution class map),
and with the checksum that a plain read of its bytes must return.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIB = 1 << 20
SEED = 20240601

# (height, width) of the constant rectangles the masks are made of; every image takes the next
# one in turn, so the data mixes short and long runs, wide and tall regions. All divide 128.
BLOCKS = ((8, 32), (16, 16), (32, 8), (4, 64), (64, 64), (16, 128), (2, 16), (128, 32))


@dataclass(frozen=True)
class Dataset:
    key: str  # the benchmark group
    description: str
    array: np.ndarray
    classes: int  # bincount's minlength
    expected: np.ndarray  # uint64 pixels per class id, exact
    checksum: int  # what read_words(array) must return

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


def read_words(array: np.ndarray) -> int:
    """The memory-read ceiling's work: every byte of `array` read once, as native uint64 words,
    and summed (modulo 2**64).

    Why not `array.sum(dtype=np.uint64)`: on uint8 that widens every byte to 64 bits before adding,
    which is compute-bound (measured here: ~5x slower than this), so it would understate the
    ceiling and flatter every ratio against it. `np.add.reduce` over a uint64 view does one
    vectorised add per 8 bytes: it is as close to "just read the memory" as numpy gets.
    """
    return int(np.add.reduce(array.reshape(-1).view(np.uint64)))


def _word_checksum(array: np.ndarray) -> int:
    """`read_words(array)` computed another way: column sums of the bytes, weighted by position."""
    columns = array.reshape(-1).view(np.uint8).reshape(-1, 8).sum(axis=0, dtype=np.uint64)
    order = range(8) if sys.byteorder == "little" else range(7, -1, -1)
    return sum(int(column) << (8 * shift) for column, shift in zip(columns, order)) % (1 << 64)


def skewed(classes: int, dominant: float | None) -> np.ndarray:
    """Class probabilities: Zipf-like (1/rank); with `dominant`, class 0 takes that share."""
    if dominant is None:
        weights = 1.0 / np.arange(1, classes + 1)
        return weights / weights.sum()
    rest = 1.0 / np.arange(1, classes)
    return np.concatenate([[dominant], (1.0 - dominant) * rest / rest.sum()])


def blocky_masks(
    rng: np.random.Generator, n_images: int, height: int, width: int, probs: np.ndarray, dtype: type
) -> tuple[np.ndarray, np.ndarray]:
    """Masks made of constant rectangles: a low-resolution random class map per image, drawn with
    `probs`, upsampled with np.repeat. Returns the masks and their exact per-class counts."""
    masks = np.empty((n_images, height, width), dtype)
    expected = np.zeros(probs.size, np.uint64)
    for index in range(n_images):
        block_h, block_w = BLOCKS[index % len(BLOCKS)]
        low = rng.choice(probs.size, size=(height // block_h, width // block_w), p=probs)
        masks[index] = np.repeat(np.repeat(low.astype(dtype), block_h, axis=0), block_w, axis=1)
        area = np.uint64(block_h * block_w)
        expected += np.bincount(low.ravel(), minlength=probs.size).astype(np.uint64) * area
    return masks, expected


def _dataset(key: str, description: str, array: np.ndarray, expected: np.ndarray) -> Dataset:
    assert array.flags.c_contiguous and array.nbytes % 8 == 0
    assert int(expected.sum(dtype=np.uint64)) == array.size
    return Dataset(key, description, array, expected.size, expected, _word_checksum(array))


def _chunked_bincount(array: np.ndarray, classes: int) -> np.ndarray:
    flat = array.reshape(-1)
    step = 16 * MIB
    total = np.zeros(classes, np.uint64)
    for start in range(0, flat.size, step):
        total += np.bincount(flat[start : start + step], minlength=classes).astype(np.uint64)
    return total


def _random_uint8(key: str, description: str) -> Dataset:
    labels = np.random.default_rng(SEED + 2).integers(0, 256, (128, 1024, 1024), np.uint8)
    return _dataset(key, description, labels, _chunked_bincount(labels, 256))


def _few_labels(key: str, description: str) -> Dataset:
    values = np.array([0, 1, 2, 3, 255], np.uint8)
    labels = np.random.default_rng(SEED + 5).choice(values, (128, 1024, 1024))
    return _dataset(key, description, labels, _chunked_bincount(labels, 256))


def _zeros(key: str, description: str) -> Dataset:
    # np.zeros would hand back untouched pages that all map the kernel's one zero page, so reading
    # them would never leave the cache; fill() makes the array real memory, like the others.
    labels = np.empty((128, 1024, 1024), np.uint8)
    labels.fill(0)
    return _dataset(key, description, labels, np.array([labels.size], np.uint64))


def _blocky(seed: int, shape: tuple[int, int, int], probs: np.ndarray, dtype: type):
    def make(key: str, description: str) -> Dataset:
        masks, expected = blocky_masks(np.random.default_rng(seed), *shape, probs, dtype)
        return _dataset(key, description, masks, expected)

    return make


# key (the benchmark group) -> (description, builder). 256 MiB of realistic masks, 128 MiB of the
# rest: large enough to leave the caches, small enough for the suite to run in a few minutes.
KINDS = {
    "masks": (
        "uint8 masks: 20 classes, class 0 at 70 %, blocky rectangles, 256 x 1024 x 1024 (256 MiB)",
        _blocky(SEED, (256, 1024, 1024), skewed(20, 0.70), np.uint8),
    ),
    "binary": (
        "{0,1} uint8 masks, 30 % foreground, blocky, 128 MiB",
        _blocky(SEED + 1, (128, 1024, 1024), skewed(2, 0.70), np.uint8),
    ),
    "random": ("uniform random uint8 labels (0-255), 128 MiB: the worst case", _random_uint8),
    "few": ("uint8 labels drawn uniformly from {0, 1, 2, 3, 255}, 128 MiB: noise of a few labels", _few_labels),
    "zeros": ("all zeros, uint8, 128 MiB", _zeros),
    "uint16": (
        "uint16 labels: 1000 classes (Zipf), blocky, 128 MiB",
        _blocky(SEED + 3, (64, 1024, 1024), skewed(1000, None), np.uint16),
    ),
    "int32": (
        "int32 labels: 150 classes (Zipf), blocky, 128 MiB",
        _blocky(SEED + 4, (32, 1024, 1024), skewed(150, None), np.int32),
    ),
}


@functools.cache
def build(key: str) -> Dataset:
    """Each data set once per session, on first use."""
    description, make = KINDS[key]
    return make(key, description)


@dataclass(frozen=True)
class SmallFiles:
    folder: Path
    paths: list[Path]  # sorted, as count() walks them
    classes: int
    expected: np.ndarray
    nbytes: int  # of the labels, headers left out
