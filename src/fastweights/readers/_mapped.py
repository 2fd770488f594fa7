"""Read-only memory maps whose pages are handed back once counted, so RSS stays flat."""

from __future__ import annotations

import math
import mmap
import os

import numpy as np

from ..errors import InputError

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # numpy < 2
    from numpy import byte_bounds  # type: ignore[attr-defined,no-redef]

__all__ = ["MappedFile", "byte_bounds"]

_PAGE = mmap.PAGESIZE


class MappedFile:
    def __init__(self, path: str) -> None:
        self.path = path
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        self.size = size
        self._base = np.frombuffer(self._map, np.uint8).ctypes.data if self._map is not None else 0

    def array(self, dtype: np.dtype, shape: tuple[int, ...], offset: int, fortran: bool) -> np.ndarray:
        count = math.prod(shape)
        if count == 0:
            return np.empty(shape, dtype)
        if self._map is None or offset + count * dtype.itemsize > self.size:
            # The reader checked the size it saw: the file was cut short since.
            raise InputError(
                f"{self.path}: {offset + count * dtype.itemsize:,} bytes needed, the file now has {self.size:,}"
            )
        flat = np.frombuffer(self._map, dtype, count=count, offset=offset)
        return flat.reshape(shape, order="F" if fortran else "C")

    def address(self, offset: int) -> int:
        """The address in memory of the byte at `offset` in the file."""
        return self._base + offset

    def release(self, region: np.ndarray) -> None:
        """Drops this process's mapping of the pages under `region` (the page cache keeps them), and
        stops the count if the file was cut short meanwhile: touching a page past its new end would
        kill the process (SIGBUS)."""
        size = os.stat(self.path).st_size
        if size < self.size:
            raise InputError(f"{self.path}: shrank from {self.size:,} to {size:,} bytes while it was being counted")
        if self._map is None or region.size == 0 or not hasattr(self._map, "madvise"):
            return
        low, high = byte_bounds(region)
        start = (low - self._base) // _PAGE * _PAGE
        end = min(high - self._base, self.size)
        if 0 <= start < end:
            self._map.madvise(mmap.MADV_DONTNEED, start, end - start)
