"""`Image`: one counted unit (an image or a volume) and how to tally its labels.

A reader turns a file into images. An image read as a numpy array (memory-mapped or decoded) is
tallied chunk by chunk; a decoder that counts as it decodes (the fast PNG path) tallies directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from ..base.errors import InputError
from ..kernels._chunks import contiguous_chunks
from ..kernels._tally import Tally, countable, merge_all, tally
from ..model.voxels import VoxelSize
from .device import current

if TYPE_CHECKING:
    from .colormaps import Colormap

__all__ = [
    "CHUNK_BYTES",
    "Image",
    "ReadOptions",
    "check_stack_axis",
    "images_of_array",
    "stream_chunks",
    "tally_chunks",
    "with_voxel",
]

# Elements of one chunk handed to the kernel: big enough to amortise a call, small enough that
# a copied or converted chunk stays cheap and memory stays flat.
CHUNK_BYTES = 16 << 20
# An array in memory that the kernel takes as it is (native integers, contiguous) is handed over in
# views this big: nothing is copied, and fewer calls cost less Python per byte.
VIEW_CHUNK_BYTES = 1 << 30

Bounds = Optional[tuple[int, int]]
Release = Callable[[np.ndarray], None]


@dataclass(frozen=True)
class ReadOptions:
    """How readers turn files into images."""

    stack_axis: int | None = None
    colormap: Colormap | None = None  # RGB colour -> class id, for colour masks
    allow_lossy: bool = False  # count JPEG (and other lossy) masks anyway
    drop_behind: bool = False  # hand a file's pages back to the page cache's free list once counted


@dataclass(frozen=True)
class Image:
    name: str
    tally: Callable[[Bounds, int], Tally]  # (label bounds, kernel threads) -> exact label counts
    voxel: VoxelSize | None = None  # mm along each spatial axis; None: no physical size


def with_voxel(images: Iterator[Image], voxel: VoxelSize | None) -> Iterator[Image]:
    """A reader's images, each with the voxel size of the file they come from (slices along
    `stack_axis` keep the voxel of their volume). Closing it closes the reader, and its file."""
    try:
        for image in images:
            yield image if voxel is None else replace(image, voxel=voxel)
    finally:
        close = getattr(images, "close", None)
        if close is not None:
            close()


def tally_chunks(name: str, chunks: Iterator[np.ndarray], bounds: Bounds, threads: int) -> Tally:
    """Tallies a stream of label chunks (any dtype `countable` takes) of one image."""
    device = current()
    if device is not None and device.host_on_gpu:
        return device.tally_host(name, (countable(chunk, name) for chunk in chunks), bounds)
    return merge_all(tally(countable(chunk, name), bounds, threads) for chunk in chunks)


def stream_chunks(read: Callable[[int], bytes], size: int, dtype: np.dtype) -> Iterator[np.ndarray]:
    """`size` elements of `dtype` from a stream, a bounded chunk at a time. `read(n)` returns exactly
    n bytes, or raises an InputError that says what is wrong with the stream."""
    step = max(1, CHUNK_BYTES // dtype.itemsize)
    for start in range(0, size, step):
        yield np.frombuffer(read(min(step, size - start) * dtype.itemsize), dtype)


def images_of_array(
    name: str, array: np.ndarray, stack_axis: int | None, release: Release | None = None
) -> Iterator[Image]:
    """The images of an array: the whole array, or each slice along `stack_axis`."""
    if stack_axis is None:
        yield array_image(name, array, release)
        return
    check_stack_axis(name, array.shape, stack_axis)
    stacked = np.moveaxis(array, stack_axis, 0)
    for index in range(stacked.shape[0]):
        yield array_image(f"{name}[{index}]", stacked[index], release)


def array_image(name: str, array: np.ndarray, release: Release | None = None) -> Image:
    """An image held as an array of any layout; `release` is told when a region has been counted."""

    def chunks() -> Iterator[np.ndarray]:
        as_it_is = release is None and array.dtype.kind in "iu" and array.dtype.isnative and array.dtype.itemsize < 8
        max_elements = max(1, (VIEW_CHUNK_BYTES if as_it_is else CHUNK_BYTES) // max(array.dtype.itemsize, 1))
        for chunk, region in contiguous_chunks(array, max_elements):
            yield chunk
            if release is not None:
                release(region)

    return Image(name, lambda bounds, threads: tally_chunks(name, chunks(), bounds, threads))


def check_stack_axis(name: str, shape: tuple[int, ...], stack_axis: int | None) -> None:
    if stack_axis is not None and not -len(shape) <= stack_axis < len(shape):
        raise InputError(f"{name}: stack_axis={stack_axis} is out of range for an array of shape {shape}")
