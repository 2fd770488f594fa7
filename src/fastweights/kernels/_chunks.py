"""Splitting an array of any layout into bounded, C-contiguous 1-D chunks.

Counting ignores pixel order, so a C- or Fortran-contiguous array (or one that is contiguous
after reordering and flipping its axes) is cut into views without copying; any other strided
view is copied a bounded block at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["contiguous_chunks"]


def contiguous_chunks(array: np.ndarray, max_elements: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields (chunk, region): a C-contiguous 1-D chunk and the part of `array` it was made from."""
    if not array.flags.c_contiguous:
        array = _densest_first(array)
    if array.flags.c_contiguous:
        flat = array.reshape(-1)
        for start in range(0, flat.size, max_elements):
            part = flat[start : start + max_elements]
            yield part, part
        return
    yield from _copied_blocks(array, max_elements)


def _densest_first(array: np.ndarray) -> np.ndarray:
    """The same elements with non-negative strides, largest stride first (C order when possible)."""
    if array.ndim == 0:
        return array.reshape(1)
    flips = tuple(slice(None, None, -1) if s < 0 else slice(None) for s in array.strides)
    array = array[flips]
    order = sorted(range(array.ndim), key=lambda axis: -array.strides[axis])
    return np.transpose(array, order)


def _copied_blocks(array: np.ndarray, max_elements: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    row = int(np.prod(array.shape[1:], dtype=np.int64))
    if array.ndim > 1 and row > max_elements:
        for index in range(array.shape[0]):
            yield from contiguous_chunks(array[index], max_elements)
        return
    rows = max(1, max_elements // max(row, 1))
    for start in range(0, array.shape[0], rows):
        region = array[start : start + rows]
        yield np.ascontiguousarray(region).reshape(-1), region
