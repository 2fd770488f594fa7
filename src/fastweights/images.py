"""`Image`: one counted unit (an image or a volume), read as bounded chunks of labels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._chunks import contiguous_chunks
from .errors import InputError

__all__ = ["Image", "check_stack_axis", "images_of_array"]

Chunks = Callable[[int], Iterator[np.ndarray]]
Release = Callable[[np.ndarray], None]


@dataclass(frozen=True)
class Image:
    name: str
    size: int  # pixels
    dtype: np.dtype
    chunks: Chunks  # max_bytes -> C-contiguous 1-D chunks, each valid until the next is asked for


def images_of_array(
    name: str, array: np.ndarray, stack_axis: int | None, release: Release | None = None
) -> Iterator[Image]:
    """The images of an array: the whole array, or each slice along `stack_axis`."""
    if stack_axis is None:
        yield _array_image(name, array, release)
        return
    check_stack_axis(name, array.shape, stack_axis)
    stacked = np.moveaxis(array, stack_axis, 0)
    for index in range(stacked.shape[0]):
        yield _array_image(f"{name}[{index}]", stacked[index], release)


def _array_image(name: str, array: np.ndarray, release: Release | None) -> Image:
    def chunks(max_bytes: int) -> Iterator[np.ndarray]:
        max_elements = max(1, max_bytes // max(array.dtype.itemsize, 1))
        for chunk, region in contiguous_chunks(array, max_elements):
            yield chunk
            if release is not None:
                release(region)

    return Image(name, int(array.size), array.dtype, chunks)


def check_stack_axis(name: str, shape: tuple[int, ...], stack_axis: int | None) -> None:
    if stack_axis is not None and not -len(shape) <= stack_axis < len(shape):
        raise InputError(f"{name}: stack_axis={stack_axis} is out of range for an array of shape {shape}")
