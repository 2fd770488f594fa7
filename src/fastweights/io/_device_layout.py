"""Where the elements of a device array lie: an address, a shape and byte strides, read from its
`__cuda_array_interface__` and rearranged by arithmetic alone.

numba's own device-array views are not used for this: its slicing assumes positive strides (a
reversed view counts as empty), its `transpose` copies (and only 2-D arrays), and slicing a strided
array lists every element. Here a stack slice, a reversal or a permutation of the axes costs
nothing, and each finished layout becomes one view (`GpuCounter._view`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    address: int  # of element (0, ..., 0)
    shape: tuple[int, ...]
    strides: tuple[int, ...]  # in bytes
    dtype: np.dtype

    @classmethod
    def of(cls, array: Any) -> Layout:
        """The layout of anything with `__cuda_array_interface__` (or, for the CUDA simulator's
        arrays, which are numpy underneath, `__array_interface__`)."""
        interface = getattr(array, "__cuda_array_interface__", None)
        if interface is None:
            interface = array.__array_interface__
        dtype = np.dtype(interface["typestr"])
        shape = tuple(int(n) for n in interface["shape"])
        strides = interface.get("strides")
        if strides is None:  # C-contiguous
            strides = tuple(
                int(np.prod(shape[axis + 1 :], dtype=np.int64)) * dtype.itemsize for axis in range(len(shape))
            )
        return cls(int(interface["data"][0]), shape, tuple(int(s) for s in strides), dtype)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def index(self, axis: int, position: int) -> Layout:
        """The slice at `position` along `axis` (the axis dropped)."""
        return Layout(
            self.address + position * self.strides[axis],
            self.shape[:axis] + self.shape[axis + 1 :],
            self.strides[:axis] + self.strides[axis + 1 :],
            self.dtype,
        )

    def rows(self, start: int, stop: int) -> Layout:
        """Positions [start, stop) of the first axis."""
        return Layout(
            self.address + start * self.strides[0],
            (min(stop, self.shape[0]) - start, *self.shape[1:]),
            self.strides,
            self.dtype,
        )

    def normalized(self) -> Layout:
        """The same elements (counting ignores their order) with no axis of length 1, no negative
        stride (the address moves to the lowest element), and the largest stride first."""
        address = self.address
        axes = []
        for length, stride in zip(self.shape, self.strides):
            if length == 1:
                continue
            if stride < 0:
                address += stride * (length - 1)
                stride = -stride
            axes.append((length, stride))
        axes.sort(key=lambda axis: -axis[1])
        if not axes:
            axes = [(1, self.dtype.itemsize)]
        return Layout(address, tuple(a[0] for a in axes), tuple(a[1] for a in axes), self.dtype)

    def is_dense(self) -> bool:
        """Whether the elements fill one block of memory with no gap and no repeat (C order);
        meaningful on a normalized layout."""
        expected = self.dtype.itemsize
        for length, stride in zip(reversed(self.shape), reversed(self.strides)):
            if stride != expected:
                return False
            expected *= length
        return True

    def flat(self) -> Layout:
        """A dense layout as one axis."""
        return Layout(self.address, (self.size,), (self.dtype.itemsize,), self.dtype)

    @property
    def extent(self) -> int:
        """Bytes from the address to the end of the last element (strides non-negative)."""
        if self.size == 0:
            return 0
        return sum(stride * (length - 1) for length, stride in zip(self.shape, self.strides)) + self.dtype.itemsize
