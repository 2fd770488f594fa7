"""The built-in example: a small synthetic street-scene mask set, written to a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["CLASS_NAMES", "IGNORE_INDEX", "write_demo_masks"]

CLASS_NAMES = ("road", "sky", "building", "car", "person", "sign")
IGNORE_INDEX = 255


def write_demo_masks(
    folder: Path, n_images: int = 24, shape: tuple[int, int] = (240, 320), seed: int = 0
) -> list[Path]:
    """Writes `n_images` uint8 .npy masks with the class imbalance of street scenes: large road,
    sky and building regions, a few cars, rare people and signs, and a void border marked 255."""
    rng = np.random.default_rng(seed)
    height, width = shape
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n_images):
        mask = np.zeros(shape, np.uint8)  # road
        horizon = int(rng.integers(height // 4, height // 2))
        mask[:horizon] = 1  # sky
        for _ in range(rng.integers(2, 5)):  # buildings along the horizon
            left, span = int(rng.integers(0, width)), int(rng.integers(width // 8, width // 3))
            top = int(rng.integers(horizon // 4, horizon))
            mask[top : horizon + height // 10, left : left + span] = 2
        for _ in range(rng.integers(0, 4)):  # cars on the road
            top, left = int(rng.integers(horizon, height - 20)), int(rng.integers(0, width - 40))
            mask[top : top + 18, left : left + 36] = 3
        if rng.random() < 0.5:  # a person, in half of the images
            top, left = int(rng.integers(horizon, height - 30)), int(rng.integers(0, width - 8))
            mask[top : top + 28, left : left + 7] = 4
        if rng.random() < 0.25:  # a sign, in a quarter
            top, left = int(rng.integers(0, horizon)), int(rng.integers(0, width - 6))
            mask[top : top + 6, left : left + 6] = 5
        mask[:2] = mask[-2:] = IGNORE_INDEX
        path = folder / f"mask_{index:03d}.npy"
        np.save(path, mask)
        paths.append(path)
    return paths
