"""Physical sizes: the pixels of each class kept apart by the voxel size of the images they lie in,
so that a class's volume is exact whatever sizes a data set mixes (the sum over the sizes of pixels
times that size's voxel volume), and sizes add, save and load as the rest of a Counts does.

A voxel size is the spacing along each spatial axis of an image, in mm (docs/count.md says where
readers find it): three lengths for a volume, two for a 2-D image (whose "volume" is an area).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["VoxelGroup", "VoxelSize", "add_groups", "check_size", "groups_from_json", "groups_to_json", "volumes_of"]

VoxelSize = tuple[float, ...]  # mm along each spatial axis, x first


@dataclass(frozen=True)
class VoxelGroup:
    """The images of one voxel size: how many, and the pixels of each class present in them."""

    images: int
    classes: np.ndarray  # int64, ascending, distinct
    pixels: np.ndarray  # uint64, one per class

    @classmethod
    def of(cls, images: int, classes: Any, pixels: Any) -> VoxelGroup:
        """A group from any integer sequences, checked."""
        classes = np.asarray(classes, np.int64).reshape(-1)
        pixels = np.asarray(pixels, np.uint64).reshape(-1)
        if isinstance(images, bool) or not isinstance(images, (int, np.integer)) or images < 0:
            raise ValueError(f"voxel sizes: {images!r} images, expected a non-negative integer")
        if classes.size != pixels.size or np.any(np.diff(classes) <= 0) or (classes.size and classes[0] < 0):
            raise ValueError("voxel sizes: expected distinct ascending class ids, one pixel count each")
        return cls(int(images), classes, pixels)


def check_size(values: Any) -> VoxelSize:
    """A voxel size as a tuple of floats; ValueError when it is not 1 to 3 positive lengths."""
    size = tuple(float(v) for v in values)
    if not 1 <= len(size) <= 3 or not all(math.isfinite(v) and v > 0 for v in size):
        raise ValueError(f"voxel size {values!r}: expected 1 to 3 positive lengths in mm")
    return size


def add_groups(parts: Iterable[Mapping[VoxelSize, VoxelGroup]]) -> dict[VoxelSize, VoxelGroup]:
    """The exact sum of several {voxel size: group} tables, sizes in ascending order."""
    gathered: dict[VoxelSize, list[VoxelGroup]] = {}
    for part in parts:
        for size, group in part.items():
            gathered.setdefault(size, []).append(group)
    summed = {}
    for size in sorted(gathered):
        groups = gathered[size]
        if len(groups) == 1:
            summed[size] = groups[0]
            continue
        classes, slots = np.unique(np.concatenate([group.classes for group in groups]), return_inverse=True)
        pixels = np.zeros(classes.size, np.uint64)
        np.add.at(pixels, slots, np.concatenate([group.pixels for group in groups]))
        summed[size] = VoxelGroup(sum(group.images for group in groups), classes, pixels)
    return summed


def volumes_of(groups: Mapping[VoxelSize, VoxelGroup], n_images: int, num_classes: int) -> np.ndarray | None:
    """Each class's physical volume (mm^d, d the sizes' number of axes): None unless every image
    counted has a size, and all sizes have the same number of axes."""
    if not groups or sum(group.images for group in groups.values()) != n_images:
        return None
    if len({len(size) for size in groups}) != 1:
        return None
    volumes = np.zeros(num_classes, np.float64)
    for size, group in groups.items():
        # Exact integers until here: one rounding per class and size.
        np.add.at(volumes, group.classes, group.pixels.astype(np.float64) * math.prod(size))
    return volumes


def groups_to_json(groups: Mapping[VoxelSize, VoxelGroup]) -> list[dict[str, Any]]:
    return [
        {"size": list(size), "images": group.images, "classes": group.classes.tolist(), "pixels": group.pixels.tolist()}
        for size, group in groups.items()
    ]


def groups_from_json(data: Any) -> dict[VoxelSize, VoxelGroup]:
    """The table `groups_to_json` wrote; ValueError, KeyError or TypeError when it is damaged."""
    groups: dict[VoxelSize, VoxelGroup] = {}
    for entry in data:
        size = check_size(entry["size"])
        if size in groups:
            raise ValueError(f"voxel size {list(size)} is listed twice")
        groups[size] = VoxelGroup.of(entry["images"], entry["classes"], entry["pixels"])
    return add_groups([groups])
