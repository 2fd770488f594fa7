"""The checks a Counts passes when it is made, and the rules of adding two (names, voxel sizes): the
validation of `fastweights.model.counts`, kept apart so that the class holds the data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .per_image import PerImageTable
from .voxels import VoxelGroup, VoxelSize, add_groups

if TYPE_CHECKING:
    from .counts import Counts


def checked_counts_array(name: str, values: Any, length: int | None = None) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.trunc(array)):
        array = array.astype(np.uint64)
    if array.ndim != 1 or (array.dtype.kind not in "iu" and array.size):
        raise ValueError(f"{name}: expected a 1-D array of integer counts, got {array.dtype} of shape {array.shape}")
    if array.size and array.dtype.kind == "i" and array.min() < 0:
        raise ValueError(f"{name}: counts cannot be negative (found {array.min()})")
    if length is not None and array.size != length:
        raise ValueError(f"{name}: {array.size} entries, expected one per class ({length})")
    return array.astype(np.uint64)


def checked_names(names: Any) -> tuple[str, ...]:
    if isinstance(names, (str, bytes)):
        raise TypeError(f"class_names={names!r}: expected a sequence of str, one per class")
    checked: tuple[str, ...] = tuple(names)
    for name in checked:
        if not isinstance(name, str):
            raise TypeError(f"class_names: {name!r} is not a str")
    return checked


def names_of_sum(mine: tuple[str, ...], theirs: tuple[str, ...]) -> tuple[str, ...]:
    """The names of a + b: the same names, or those of the one that has names (a part counted
    without names adds to one with them); different names are refused, as they would mislabel
    classes that add up."""
    if mine and theirs and mine != theirs:
        differ = next(
            (c for c, (one, other) in enumerate(zip(mine, theirs)) if one != other), min(len(mine), len(theirs))
        )
        raise ValueError(
            f"cannot add Counts with different class names: {len(mine)} names and {len(theirs)}, "
            f"class {differ} is {name_or_class(mine, differ)} and {name_or_class(theirs, differ)}"
        )
    return mine or theirs


def name_or_class(names: tuple[str, ...], c: int) -> str:
    return repr(names[c]) if c < len(names) else "unnamed"


def checked_per_image(values: Any, n_images: int, num_classes: int) -> PerImageTable:
    if not isinstance(values, PerImageTable):
        return PerImageTable.from_dense(values, (n_images, num_classes))
    if values.shape != (n_images, num_classes):
        raise ValueError(f"per_image: expected a ({n_images}, {num_classes}) table, got {values.shape}")
    return values


def checked_label_ids(values: Any, num_classes: int) -> np.ndarray:
    ids = np.asarray(values)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu") or ids.size != num_classes:
        raise ValueError(f"label_ids: expected one integer label per class ({num_classes})")
    ids = ids.astype(np.int64)
    if np.any(np.diff(ids) <= 0):
        raise ValueError("label_ids: expected distinct increasing labels")
    ids.flags.writeable = False
    return ids


def checked_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}={value!r}: expected a non-negative integer")
    return int(value)


def check_consistent(counts: Counts) -> None:
    classes, (pixels, images, image_pixels) = counts._classes, counts._stats
    if images.size and int(images.max()) > counts.n_images:
        raise ValueError(f"images: a class is in {int(images.max())} images, but n_images={counts.n_images}")
    missing = np.flatnonzero((pixels > 0) & (images == 0))
    if missing.size:
        raise ValueError(f"images: class {classes[missing[0]]} has pixels but is in no image")
    short = np.flatnonzero(image_pixels < pixels)
    if short.size:
        raise ValueError(f"image_pixels: class {classes[short[0]]} has fewer image pixels than pixels")
    if counts.sources and len(counts.sources) != counts.n_images:
        raise ValueError(f"sources: {len(counts.sources)} names for {counts.n_images} images")
    if counts._voxels:
        check_voxels(counts)


def check_voxels(counts: Counts) -> None:
    """The pixels kept by voxel size are part of the class totals: never more, and all of them
    when every image has a size."""
    sized = sum(group.images for group in counts._voxels.values())
    if sized > counts.n_images:
        raise ValueError(f"voxels: {sized} images have a voxel size, but n_images={counts.n_images}")
    total = add_groups([{(1.0,): VoxelGroup(0, group.classes, group.pixels)} for group in counts._voxels.values()])
    summed = next(iter(total.values()))
    where = np.searchsorted(counts._classes, summed.classes)
    known = where < counts._classes.size
    known[known] = counts._classes[where[known]] == summed.classes[known]
    if not known.all():
        raise ValueError(f"voxels: class {summed.classes[~known][0]} has pixels of a voxel size but none in all")
    pixels = counts._stats[0][where]
    all_sized = sized == counts.n_images
    if np.any(summed.pixels > pixels) or (
        all_sized and int(summed.pixels.sum(dtype=np.uint64)) != int(counts._stats[0].sum(dtype=np.uint64))
    ):
        raise ValueError("voxels: the pixels kept by voxel size do not add up to the pixels of each class")


def same_voxels(mine: Mapping[VoxelSize, VoxelGroup], theirs: Mapping[VoxelSize, VoxelGroup]) -> bool:
    return mine.keys() == theirs.keys() and all(
        mine[size].images == theirs[size].images
        and np.array_equal(mine[size].classes, theirs[size].classes)
        and np.array_equal(mine[size].pixels, theirs[size].pixels)
        for size in mine
    )
