"""COCO segmentations as runs: polygons rasterized by pycocotools, RLE (compressed and
uncompressed) read and checked here: its size is the image's, its runs add up to its pixels."""

from __future__ import annotations

from typing import Any

import numpy as np

# Characters of one compressed RLE number: 35 bits hold any run (and difference of runs) of an image
# of MAX_PIXELS.
MAX_RLE_DIGITS = 7


def polygon_mask(polygon: Any, position: int, height: int, width: int) -> np.ndarray:
    try:
        coordinates = np.asarray(polygon) if isinstance(polygon, list) else np.empty((0, 0))
    except (OverflowError, ValueError):  # ragged, or an integer wider than 64 bits
        coordinates = np.empty((0, 0))
    if coordinates.ndim != 1 or (coordinates.size and coordinates.dtype.kind not in "iuf"):
        raise ValueError(f"polygon {position} is not a flat list of numbers [x1, y1, x2, y2, ...]")
    if coordinates.size % 2:
        raise ValueError(f"polygon {position} has an odd number of coordinates ({coordinates.size})")
    points = coordinates.astype(np.float64).reshape(-1, 2)
    # pycocotools walks the outline pixel by pixel (5x finer) with int coordinates: a point far
    # outside the image would cost memory without bound, and one past int's range is undefined.
    limits = np.array([width, height], np.float64)
    if not (np.isfinite(points).all() and (points >= -limits).all() and (points <= 2 * limits).all()):
        raise ValueError(
            f"polygon {position} has a point that is not a number within one image size of the image "
            f"(x from {-width} to {2 * width}, y from {-height} to {2 * height})"
        )
    return points.ravel()


def uncompressed_runs(counts: Any) -> np.ndarray:
    try:
        runs = np.asarray(counts)
    except (OverflowError, ValueError):
        runs = np.empty((0, 0))
    if runs.ndim != 1 or (runs.size and runs.dtype.kind not in "iu"):
        raise ValueError("uncompressed RLE counts are not a list of integers")
    return runs.astype(np.int64)


def compressed_runs(text: bytes) -> np.ndarray:
    """The run lengths a compressed RLE string holds, decoded as pycocotools' rleFrString does
    (5 bits a character from '0', 0x20 continues a number, 0x10 on its last character makes it
    negative, each run from the third on stored as the difference to the run two before it)."""
    codes = np.frombuffer(text, np.uint8).astype(np.int64) - 48
    if codes.size == 0:
        return codes
    if codes.min() < 0 or codes.max() > 63:
        raise ValueError("compressed RLE counts hold a character outside '0'..'o'")
    more = (codes & 0x20) != 0
    if more[-1]:
        raise ValueError("compressed RLE counts end inside a number")
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > MAX_RLE_DIGITS:
        raise ValueError(f"compressed RLE counts hold a number of more than {MAX_RLE_DIGITS} characters")
    digit = np.arange(codes.size) - np.repeat(starts, lengths)
    values = np.add.reduceat((codes & 0x1F) << (5 * digit), starts)
    negative = (codes[ends] & 0x10) != 0
    values[negative] |= np.left_shift(-1, 5 * lengths[negative])
    runs: np.ndarray = values.copy()
    runs[1::2] = np.cumsum(values[1::2])
    runs[2::2] = np.cumsum(values[2::2])
    return runs


def check_runs(runs: np.ndarray, pixels: int, kind: str) -> None:
    if runs.size and (runs.min() < 0 or runs.max() > pixels):
        raise ValueError(f"{kind} holds a run of {int(runs.min() if runs.min() < 0 else runs.max())} pixels")
    total = int(runs.sum())
    if total != pixels:
        raise ValueError(f"{kind} runs add up to {total} pixels, not the image's {pixels}")
