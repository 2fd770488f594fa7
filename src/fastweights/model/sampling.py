"""Per-image sampling weights from a per-image count table: images holding rare classes are drawn
more often, instead of (or as well as) weighting the loss.

- "repeat_factor": Gupta, Dollar & Girshick, LVIS (CVPR 2019): f_c is the fraction of images
  containing class c, r_c = max(1, sqrt(t / f_c)), and an image's factor is the largest r_c of the
  classes it contains (1 for an image with none). t defaults to 0.001, as in LVIS.
- "rare_class": Hoyer, Dai & Van Gool, DAFormer (CVPR 2022), rare class sampling: with f_c the
  pixel frequency of class c, a class is drawn with P(c) = softmax((1 - f_c) / T) (T = 0.01, as in
  DAFormer), then an image uniformly among those holding at least `min_pixels` of it; an image's
  weight is its probability of being drawn, sum over its classes of P(c) / (images holding c).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from .per_image import PerImageTable

__all__ = ["SAMPLING_SCHEMES", "SamplingScheme", "sample_weights"]

SamplingScheme = Literal["repeat_factor", "rare_class"]

SAMPLING_SCHEMES = {
    "repeat_factor": "max over the image's classes of max(1, sqrt(t / f_c)), f_c = share of images with c (LVIS)",
    "rare_class": "P(image drawn) when a class is drawn by softmax((1 - f_c) / T), then an image with it (DAFormer)",
}


def sample_weights(
    per_image: npt.NDArray[np.uint64] | PerImageTable,
    scheme: SamplingScheme,
    *,
    t: float = 0.001,
    temperature: float = 0.01,
    min_pixels: int = 1,
) -> npt.NDArray[np.float64]:
    """One weight per row of `per_image` (images x classes pixel counts: a dense array or a
    `PerImageTable`). Computed over the table's non-zero cells: its memory and time follow them,
    not the number of classes."""
    if isinstance(per_image, PerImageTable):
        table = per_image
    else:
        dense = np.asarray(per_image)
        if dense.ndim != 2:
            raise ValueError("sample_weights needs a per-image table: count with per_image=True")
        table = PerImageTable.from_dense(dense)
    n_images = table.shape[0]
    if n_images == 0:
        raise ValueError("sample_weights needs a per-image table: count with per_image=True")
    if isinstance(min_pixels, bool) or not isinstance(min_pixels, (int, np.integer)) or min_pixels < 1:
        raise ValueError(f"min_pixels={min_pixels!r}: expected a positive integer")
    holds = table.data >= np.uint64(min_pixels)
    # The classes seen, numbered 0..K-1: per-class arrays have one entry per class present.
    seen, column = np.unique(table.indices, return_inverse=True)
    images = np.bincount(column[holds], minlength=seen.size)
    rows = table.row_ids()
    if scheme == "repeat_factor":
        if not t > 0:
            raise ValueError(f"t={t!r}: expected a positive threshold")
        share = images / n_images
        with np.errstate(divide="ignore"):
            factor = np.maximum(1.0, np.sqrt(t / share))
        factor[share == 0] = 1.0
        weights = np.ones(n_images)
        np.maximum.at(weights, rows[holds], factor[column[holds]])
        return weights
    if scheme == "rare_class":
        if not temperature > 0:
            raise ValueError(f"temperature={temperature!r}: expected a positive number")
        pixels = np.bincount(column, weights=table.data.astype(np.float64), minlength=seen.size)
        drawable = images > 0
        if not drawable.any():
            raise ValueError(f"no image holds {min_pixels} pixels of any class")
        frequency = pixels / pixels.sum()
        logits = (1.0 - frequency[drawable]) / temperature
        chance = np.zeros(seen.size)
        chance[drawable] = np.exp(logits - logits.max())
        chance /= chance.sum()
        per_image_of_class = np.divide(chance, images, out=np.zeros_like(chance), where=drawable)
        # numpy's stub types bincount as intp even with weights=, which make it float64.
        return np.bincount(rows[holds], weights=per_image_of_class[column[holds]], minlength=n_images)  # type: ignore[return-value]
    raise ValueError(f"scheme={scheme!r}: expected one of {', '.join(map(repr, SAMPLING_SCHEMES))}")
