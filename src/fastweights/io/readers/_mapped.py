"""Read-only memory maps whose pages are handed back once counted, so RSS stays flat, read a chunk
ahead of the count, and that survive the file changing while it is counted.

A file cut short under a map would kill the process (SIGBUS) at the first page touched past its
new end: the C++ map (`_core.GuardedMap`) reads zeros there instead and says so, and `release`,
called after every chunk, refuses the file. A file that grew or was rewritten in place is refused
there too, from its size and modification time. Windows has no GuardedMap, and needs none: it
refuses to shrink a file while a view of it is mapped.
"""

from __future__ import annotations

import math
import mmap
import os
import stat
from typing import Any

import numpy as np

from ... import _core
from ...base.errors import InputError
from .. import pagecache
from ..images import CHUNK_BYTES
from ._regular import not_a_regular_file, open_regular, special_kind

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # numpy < 2
    from numpy import byte_bounds  # type: ignore[attr-defined,no-redef]

__all__ = ["MappedFile", "byte_bounds"]

_PAGE = mmap.PAGESIZE
# How far ahead of the count the disk reads: the next chunk, while this one is counted.
AHEAD_BYTES = CHUNK_BYTES


class MappedFile:
    def __init__(self, path: str, drop_behind: bool = False) -> None:
        self.path = path
        self._drop_behind = drop_behind
        self._map: Any
        self._guarded = hasattr(_core, "GuardedMap")
        if self._guarded:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                raise not_a_regular_file(path, special_kind(info.st_mode))
            self._map = _core.GuardedMap(os.fsencode(path))
        else:
            with open_regular(path) as file:
                info = os.fstat(file.fileno())
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if info.st_size else None
        self._stamp = (info.st_size, info.st_mtime_ns)
        self.size = len(memoryview(self._map)) if self._map is not None else 0
        if self.size != info.st_size:
            raise InputError(f"{path}: changed size while it was being opened; count it once it is complete")
        self._base = np.frombuffer(self._map, np.uint8).ctypes.data if self.size else 0
        if self.size > AHEAD_BYTES:
            pagecache.prefetch(path, 0, AHEAD_BYTES)

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
        """Drops this process's mapping of the pages under `region` (the page cache keeps them, unless
        drop_behind), once counted; refuses the file if it changed meanwhile, since that count is of
        neither version."""
        info = os.stat(self.path)
        if (self._guarded and self._map.faulted()) or info.st_size < self.size:
            raise InputError(
                f"{self.path}: shrank from {self.size:,} to {info.st_size:,} bytes while it was being counted"
            )
        if info.st_size != self.size:
            raise InputError(
                f"{self.path}: changed size while it was being counted ({self.size:,} bytes when opened, "
                f"{info.st_size:,} now); count it once it is complete"
            )
        if info.st_mtime_ns != self._stamp[1]:
            raise InputError(
                f"{self.path}: was written to while it was being counted (its modification time changed); "
                "count it once it is complete"
            )
        if self.size == 0 or region.size == 0:
            return
        low, high = byte_bounds(region)
        start = (low - self._base) // _PAGE * _PAGE
        end = min(high - self._base, self.size)
        if not 0 <= start < end:
            return
        if self._guarded:
            self._map.discard(start, end - start)
        elif hasattr(self._map, "madvise"):
            self._map.madvise(mmap.MADV_DONTNEED, start, end - start)
        if end < self.size:
            pagecache.prefetch(self.path, end, min(AHEAD_BYTES, self.size - end))
        if self._drop_behind:  # unmapped first: the page cache keeps pages a process maps
            pagecache.drop(self.path, start, end - start)
