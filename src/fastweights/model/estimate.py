"""Class weights estimated from a random sample of the inputs, with bootstrap confidence intervals.

The sample's images are resampled with replacement (`resamples` times); each resample's pixel
counts and image pixels give the scheme's weights, and the interval is the percentile range of
those (Efron & Tibshirani 1993, ch. 13). A class never seen in the sample has no interval: its
weight is the `absent` policy's, and a warning names it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from . import weights as _weights
from .per_image import PerImageTable
from .weights import Scheme

__all__ = ["EstimatedWeights", "estimated_weights"]

# Unseen class ids a warning names before it says "...".
UNSEEN_SHOWN = 20
# Floats in one block of the bootstrap's sparse sums (32 MiB).
SUM_BLOCK = 1 << 22


class EstimatedWeights(np.ndarray):
    """Class weights (a float64 array, usable wherever the plain one is) with, per class, the
    bounds of a `level` bootstrap interval (`low`, `high`: NaN for a class never seen)."""

    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    level: float
    unseen: list[int]

    def __array_finalize__(self, obj: object) -> None:
        for name, default in (("low", None), ("high", None), ("level", None), ("unseen", [])):
            setattr(self, name, getattr(obj, name, default))


def estimated_weights(
    per_image: npt.NDArray[np.uint64] | PerImageTable,
    weights: npt.NDArray[np.float64],
    scheme: Scheme,
    options: dict[str, Any],
    *,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> EstimatedWeights:
    table = per_image if isinstance(per_image, PerImageTable) else PerImageTable.from_dense(per_image)
    n_images, n_classes = table.shape
    # Resampled statistics are kept for the classes seen only (an unseen class has no pixels in
    # any resample): memory follows the table's non-zero cells, not the number of classes.
    seen, column = np.unique(table.indices, return_inverse=True)
    unseen = np.setdiff1d(np.arange(n_classes), seen).tolist()
    if unseen:
        shown = ", ".join(map(str, unseen[:UNSEEN_SHOWN]))
        if len(unseen) > UNSEEN_SHOWN:
            shown += f", ... ({len(unseen):,} in all)"
        warnings.warn(
            f"fastweights: classes [{shown}] were never seen in the sample of {n_images} inputs: "
            "their weight is a guess (the absent policy's), with no interval; a larger sample may find them",
            UserWarning,
            stacklevel=3,
        )
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=resamples).astype(np.float64)
    rows = table.row_ids()
    totals = np.bincount(rows, weights=table.data.astype(np.float64), minlength=n_images)
    resampled_pixels = _weighted_sums(draws, rows, column, table.data.astype(np.float64), seen.size)
    resampled_image_pixels = _weighted_sums(draws, rows, column, totals[rows], seen.size)
    options = {**options, "absent": 0.0}  # a class a resample lacks is left out of that resample
    samples = np.full((resamples, seen.size), np.nan)
    pixels, image_pixels = np.zeros(n_classes), np.zeros(n_classes)
    for index in range(resamples):
        pixels[seen], image_pixels[seen] = resampled_pixels[index], resampled_image_pixels[index]
        present = resampled_pixels[index] > 0
        value = _weights.class_weights(pixels, image_pixels, scheme, **options)[seen]
        samples[index, present] = value[present]
    tail = (1.0 - level) / 2
    low, high = np.full(n_classes, np.nan), np.full(n_classes, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a class seen in no resample: all NaN
        low[seen] = np.nanquantile(samples, tail, axis=0)
        high[seen] = np.nanquantile(samples, 1.0 - tail, axis=0)
    result = np.asarray(weights, np.float64).view(EstimatedWeights)
    result.low, result.high, result.level, result.unseen = low, high, level, unseen
    return result


def _weighted_sums(
    draws: np.ndarray, rows: np.ndarray, column: np.ndarray, values: np.ndarray, width: int
) -> np.ndarray:
    """draws @ M, (resamples, width), for the sparse (images, width) matrix M whose cells are
    values at (rows, column): by blocks of cells sorted by column, each block's columns summed
    with one reduceat, so no dense M and no temporary beyond SUM_BLOCK floats."""
    order = np.argsort(column, kind="stable")
    rows, column, values = rows[order], column[order], values[order]
    by_image = np.ascontiguousarray(draws.T)
    sums = np.zeros((width, draws.shape[0]))
    step = max(1, SUM_BLOCK // max(1, draws.shape[0]))
    for start in range(0, rows.size, step):
        part = slice(start, start + step)
        block = by_image[rows[part]] * values[part, None]
        columns = column[part]
        firsts = np.flatnonzero(np.concatenate([[True], columns[1:] != columns[:-1]]))
        sums[columns[firsts]] += np.add.reduceat(block, firsts, axis=0)
    return np.transpose(sums)
