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

import numpy as np
import numpy.typing as npt

__all__ = ["SAMPLING_SCHEMES", "sample_weights"]

SAMPLING_SCHEMES = {
    "repeat_factor": "max over the image's classes of max(1, sqrt(t / f_c)), f_c = share of images with c (LVIS)",
    "rare_class": "P(image drawn) when a class is drawn by softmax((1 - f_c) / T), then an image with it (DAFormer)",
}


def sample_weights(
    per_image: npt.NDArray[np.uint64],
    scheme: str,
    *,
    t: float = 0.001,
    temperature: float = 0.01,
    min_pixels: int = 1,
) -> npt.NDArray[np.float64]:
    """One weight per row of `per_image` (images x classes pixel counts)."""
    table = np.asarray(per_image)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError("sample_weights needs a per-image table: count with per_image=True")
    if isinstance(min_pixels, bool) or not isinstance(min_pixels, (int, np.integer)) or min_pixels < 1:
        raise ValueError(f"min_pixels={min_pixels!r}: expected a positive integer")
    holds = table >= min_pixels
    if scheme == "repeat_factor":
        if not t > 0:
            raise ValueError(f"t={t!r}: expected a positive threshold")
        share = holds.mean(axis=0)
        with np.errstate(divide="ignore"):
            factor = np.maximum(1.0, np.sqrt(t / share))
        factor[share == 0] = 1.0
        return np.where(holds, factor, 1.0).max(axis=1)
    if scheme == "rare_class":
        if not temperature > 0:
            raise ValueError(f"temperature={temperature!r}: expected a positive number")
        pixels = table.sum(axis=0, dtype=np.float64)
        images = holds.sum(axis=0)
        drawable = images > 0
        if not drawable.any():
            raise ValueError(f"no image holds {min_pixels} pixels of any class")
        frequency = pixels / pixels.sum()
        logits = (1.0 - frequency[drawable]) / temperature
        chance = np.zeros(table.shape[1])
        chance[drawable] = np.exp(logits - logits.max())
        chance /= chance.sum()
        per_image_of_class = np.divide(chance, images, out=np.zeros_like(chance), where=drawable)
        return holds @ per_image_of_class
    raise ValueError(f"scheme={scheme!r}: expected one of {', '.join(map(repr, SAMPLING_SCHEMES))}")
