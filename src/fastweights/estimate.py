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

__all__ = ["EstimatedWeights", "estimated_weights"]


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
    per_image: npt.NDArray[np.uint64],
    weights: npt.NDArray[np.float64],
    scheme: str,
    options: dict[str, Any],
    *,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> EstimatedWeights:
    table = np.asarray(per_image, np.float64)
    n_images, n_classes = table.shape
    pixels = table.sum(axis=0)
    unseen = [int(c) for c in np.flatnonzero(pixels == 0)]
    if unseen:
        warnings.warn(
            f"fastweights: classes {unseen} were never seen in the sample of {n_images} inputs: their weight "
            "is a guess (the absent policy's), with no interval; a larger sample may find them",
            UserWarning,
            stacklevel=3,
        )
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=resamples).astype(np.float64)
    totals = table.sum(axis=1)
    resampled_pixels = draws @ table
    resampled_image_pixels = draws @ ((table > 0) * totals[:, None])
    options = {**options, "absent": 0.0}  # a class a resample lacks is left out of that resample
    samples = np.full((resamples, n_classes), np.nan)
    for index in range(resamples):
        present = resampled_pixels[index] > 0
        value = _weights.class_weights(resampled_pixels[index], resampled_image_pixels[index], scheme, **options)
        samples[index, present] = value[present]
    tail = (1.0 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: the unseen classes
        low = np.nanquantile(samples, tail, axis=0)
        high = np.nanquantile(samples, 1.0 - tail, axis=0)
    result = np.asarray(weights, np.float64).view(EstimatedWeights)
    result.low, result.high, result.level, result.unseen = low, high, level, unseen
    return result
