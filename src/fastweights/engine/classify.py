"""Per-input counts: an input's images tallied (a batch of small ones at once where the format
allows) and classified: each tally split into class counts and ignored pixels, bad labels refused
with the file and the value, and the error policy (on_error) applied."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from ..base.errors import InputError
from ..io.images import Image
from ..io.sources import FileInput, Input
from ..kernels._tally import Tally
from ..model.voxels import VoxelSize
from .settings import MAX_CLASSES, Settings

__all__ = [
    "BatchCount",
    "Failed",
    "ImageCount",
    "Outcome",
    "Result",
    "Skipped",
    "classify",
    "classify_batch",
    "classify_tallies",
    "count_input",
]


@dataclass(frozen=True)
class ImageCount:
    name: str
    classes: np.ndarray  # int64: the classes present, ascending
    pixels: np.ndarray  # uint64: the pixels of each of them
    total: int  # pixels counted (ignored ones excluded)
    ignored: int
    voxel: VoxelSize | None = None  # the image's voxel size in mm, when it has one


@dataclass(frozen=True)
class Skipped:
    """An input left out of the count with on_error="skip", and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Failed:
    """A bad input with on_error="raise": raised once every input before it is counted, so that the
    error is that of the first bad input in input order, whichever thread met it first."""

    name: str
    error: InputError


Outcome = Union[list[ImageCount], Skipped, Failed]


@dataclass(frozen=True)
class BatchCount:
    """The images of several inputs (one image each) classified together: a batch of decoded PNGs
    costs a handful of numpy calls instead of a handful per image, all under the GIL. The formats
    counted in batches (PNG, .npy) have no physical size: no voxel sizes travel with them."""

    indices: list[int]  # the inputs' positions
    names: list[str]
    owner: np.ndarray  # int64: the position in the batch of the image of each entry, ascending
    classes: np.ndarray  # int64: the classes present in that image
    pixels: np.ndarray  # uint64: their pixels
    totals: np.ndarray  # uint64: pixels counted per image
    ignored: np.ndarray  # uint64: pixels ignored per image

    def bounds(self) -> np.ndarray:
        """Where each image's entries start (and the last one ends) in classes and pixels."""
        return np.searchsorted(self.owner, np.arange(len(self.indices) + 1))

    def split(self) -> list[tuple[int, list[tuple[str, np.ndarray, np.ndarray, int, int, VoxelSize | None]]]]:
        """Per input: (position, [(name, classes, pixels, total, ignored, no voxel size)])."""
        bounds = self.bounds()
        return [
            (
                index,
                [
                    (
                        self.names[position],
                        self.classes[bounds[position] : bounds[position + 1]],
                        self.pixels[bounds[position] : bounds[position + 1]],
                        int(self.totals[position]),
                        int(self.ignored[position]),
                        None,
                    )
                ],
            )
            for position, index in enumerate(self.indices)
        ]


Result = Union[tuple[int, str, Outcome], BatchCount]  # (input position, input name, outcome)


def classify_batch(entries: Sequence[tuple[int, Input, Tally]], settings: Settings) -> BatchCount | None:
    """`classify` of many one-image inputs at once; None when one of them has a label to refuse
    (they are then classified one by one, so that the error names the right file)."""
    if not entries:
        return None
    tallies = [tally for _, _, tally in entries]
    return _classify_entries(
        [index for index, _, _ in entries],
        [item.name for _, item, _ in entries],
        np.repeat(np.arange(len(tallies)), [tally.values.size for tally in tallies]),
        np.concatenate([tally.values for tally in tallies]),
        np.concatenate([tally.counts for tally in tallies]),
        np.array([tally.ignored for tally in tallies], np.uint64),
        settings,
    )


def classify_tallies(
    indices: list[int],
    names: list[str],
    offsets: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
    settings: Settings,
) -> BatchCount | None:
    """classify_batch of images whose labels lie end to end (image k's at offsets[k]:offsets[k + 1]),
    as a batch of small files comes back from the C++ reader."""
    if not indices:
        return None
    owner = np.repeat(np.arange(len(indices)), np.diff(offsets))
    return _classify_entries(indices, names, owner, values, counts, np.zeros(len(indices), np.uint64), settings)


def _classify_entries(
    indices: list[int],
    names: list[str],
    owner: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
    ignored: np.ndarray,
    settings: Settings,
) -> BatchCount | None:
    label_map = settings.label_map
    if label_map is not None and label_map.folds:
        targets, left_out, named = label_map.lookup(values)
        left_out |= ~named & np.isin(values, settings.ignore_index)
        if not (named | left_out).all():
            return None
        np.add.at(ignored, owner[left_out], counts[left_out])
        values, counts, owner = _fold_batch(targets[~left_out], counts[~left_out], owner[~left_out])
    elif settings.ignore_index:
        left_out = np.isin(values, settings.ignore_index)
        np.add.at(ignored, owner[left_out], counts[left_out])
        values, counts, owner = values[~left_out], counts[~left_out], owner[~left_out]
    limit = settings.num_classes if settings.num_classes is not None else MAX_CLASSES
    if values.size and (values.min() < 0 or values.max() >= limit):
        return None
    totals = np.zeros(len(indices), np.uint64)
    np.add.at(totals, owner, counts)
    return BatchCount(indices, names, owner, values, counts, totals, ignored)


def count_input(
    item: Input, settings: Settings, kernel_threads: int, tallied: Tally | InputError | None = None
) -> Outcome:
    """The counts of every image of one input, or why it was left out (on_error="skip") or stops
    the count (on_error="raise").
    `tallied`: the input's tally (or error), when it was decoded with others in one call."""
    try:
        try:
            if isinstance(tallied, InputError):
                raise tallied
            if tallied is not None:
                return [classify(item.name, tallied, settings)]
            images = item.images(settings.read)
            try:
                counted = [_count_image(image, settings, kernel_threads) for image in images]
            finally:
                # A reader holds its file open while its images are tallied: an image that fails
                # leaves the reader suspended, and only closing it closes the file now rather
                # than whenever the garbage collector gets to it.
                close = getattr(images, "close", None)
                if close is not None:
                    close()
            if isinstance(item, FileInput):
                _check_unchanged(item)
            return counted
        except OSError as error:
            reason = error.strerror or str(error)
            raise InputError(f"{item.name}: cannot be read: {reason}") from error
    except InputError as error:
        if settings.on_error == "raise":
            return Failed(item.name, error)
        return Skipped(item.name, str(error))


def _check_unchanged(item: FileInput) -> None:
    """A file written to while it was counted gives a count of neither version: refused."""
    size = os.stat(item.path).st_size
    if size != item.nbytes:
        raise InputError(
            f"{item.path}: changed size while it was being counted ({item.nbytes:,} bytes when listed, "
            f"{size:,} now); count it once it is complete"
        )


def _count_image(image: Image, settings: Settings, kernel_threads: int) -> ImageCount:
    return classify(image.name, image.tally(settings.bounds, kernel_threads), settings, image.voxel)


def classify(name: str, total: Tally, settings: Settings, voxel: VoxelSize | None = None) -> ImageCount:
    """Splits an image's label tally into class counts and ignored pixels; refuses bad labels."""
    values, counts, ignored = total.values, total.counts, total.ignored
    label_map = settings.label_map
    if label_map is not None and label_map.folds:
        targets, left_out, named = label_map.lookup(values)
        left_out |= ~named & np.isin(values, settings.ignore_index)
        unnamed = np.flatnonzero(~(named | left_out))
        if unnamed.size:
            first = unnamed[0]
            raise InputError(label_map.unnamed(name, int(values[first]), int(counts[first])))
        ignored += int(counts[left_out].sum(dtype=np.uint64))
        values, inverse = np.unique(targets[~left_out], return_inverse=True)
        counts = np.zeros(values.size, np.uint64)
        np.add.at(counts, inverse, total.counts[~left_out])
    elif settings.ignore_index:
        ignored_mask = np.isin(values, settings.ignore_index)
        ignored += int(counts[ignored_mask].sum(dtype=np.uint64))
        values, counts = values[~ignored_mask], counts[~ignored_mask]
    if values.size and values[0] < 0:
        raise InputError(
            f"{name}: negative label {values[0]} ({counts[0]} pixels); if it marks unlabelled pixels, "
            f"pass ignore_index={values[0]}"
        )
    if settings.num_classes is not None:
        if values.size and values[-1] >= settings.num_classes:
            raise InputError(
                f"{name}: label {values[-1]} ({counts[-1]} pixels) is not below num_classes={settings.num_classes}; "
                "raise num_classes, or pass ignore_index if it marks pixels to leave out"
            )
    elif values.size and values[-1] >= MAX_CLASSES:
        raise InputError(
            f"{name}: label {values[-1]} is too large for a class id (at most {MAX_CLASSES - 1}); "
            "pass ignore_index if it marks pixels to leave out"
        )
    return ImageCount(name, values, counts, int(counts.sum(dtype=np.uint64)), ignored, voxel)


def _fold_batch(
    targets: np.ndarray, counts: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of each (image, target) pair, by image then target: sources mapped to one class add up."""
    # Targets kept are class ids below MAX_CLASSES (2**24): one int64 key orders and joins both.
    keys, inverse = np.unique((owner << 32) | targets, return_inverse=True)
    summed = np.zeros(keys.size, np.uint64)
    np.add.at(summed, inverse, counts)
    return keys & 0xFFFFFFFF, summed, keys >> 32
