"""Stubs of the C++ extension (cpp/bindings/). The counting functions take a C-contiguous array of
any label dtype the kernels count (uint8, int8, uint16, int16, uint32, int32, int64), release the GIL,
and count with up to `threads` OpenMP threads."""

from typing import ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

__version__: str
replicated_table_limit: int

_Labels = npt.NDArray[np.uint8 | np.int8 | np.uint16 | np.int16 | np.uint32 | np.int32 | np.int64]
_Bytes = bytes | memoryview | npt.NDArray[np.uint8]

class LabelCounts(NamedTuple):
    values: npt.NDArray[np.int64]
    counts: npt.NDArray[np.uint64]

class DenseCounts(NamedTuple):
    table: npt.NDArray[np.uint64]
    below: int
    above: int

class MinMax(NamedTuple):
    min: int
    max: int

def min_max(labels: _Labels, threads: int) -> MinMax: ...
def count_dense(labels: _Labels, lo: int, size: int, threads: int) -> DenseCounts: ...
def count_sparse(labels: _Labels, threads: int) -> LabelCounts: ...
def openmp_enabled() -> bool: ...
def kernel_variants() -> list[str]: ...
def kernel_variant() -> str: ...
def set_kernel_variant(name: str) -> None: ...
def cpu_features() -> dict[str, bool]: ...
def copy_bytes(target: npt.NDArray[np.uint8], source: npt.NDArray[np.uint8], threads: int) -> None: ...

# PNG (fastweights::png): any buffer-protocol object of bytes; the GIL is released while decoding.
class PngStatus:
    ok: ClassVar[PngStatus]
    unsupported: ClassVar[PngStatus]  # a valid PNG left to a general decoder
    not_png: ClassVar[PngStatus]
    truncated: ClassVar[PngStatus]
    bad_crc: ClassVar[PngStatus]
    bad_header: ClassVar[PngStatus]
    too_large: ClassVar[PngStatus]
    bad_structure: ClassVar[PngStatus]
    corrupt_data: ClassVar[PngStatus]
    bad_filter: ClassVar[PngStatus]
    out_of_memory: ClassVar[PngStatus]
    internal_error: ClassVar[PngStatus]
    def __init__(self, value: int) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...

class PngHeader(NamedTuple):
    status: PngStatus
    message: str
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int

class PngCount(NamedTuple):
    status: PngStatus
    message: str
    table: npt.NDArray[np.uint64] | None  # by sample value: 256 or 65,536 entries
    width: int
    height: int
    bit_depth: int
    color_type: int

class PngSamples(NamedTuple):
    status: PngStatus
    message: str
    samples: npt.NDArray[np.uint8] | None  # raster order; two big-endian bytes each at bit depth 16
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int

def png_header(data: _Bytes) -> PngHeader: ...
def count_png(data: _Bytes, max_pixels: int) -> PngCount: ...
def decode_png(data: _Bytes, max_pixels: int) -> PngSamples: ...

# Files.
def crc32(data: _Bytes, value: int = 0) -> int: ...

class FileBatch(NamedTuple):
    errors: npt.NDArray[np.int32]
    changed: npt.NDArray[np.bool_]
    sizes: npt.NDArray[np.int64]
    statuses: npt.NDArray[np.uint8]
    messages: dict[int, str]
    offsets: npt.NDArray[np.int64]
    values: npt.NDArray[np.int64]
    counts: npt.NDArray[np.uint64]

def count_files(
    paths: list[str],
    sizes: npt.NDArray[np.int64],
    mtimes: npt.NDArray[np.int64],
    kinds: npt.NDArray[np.uint8],
    max_pixels: int,
    threads: int,
) -> FileBatch: ...

_Facts = tuple[int, int, int, tuple[int, int]]  # mode, size, mtime_ns, (device, inode)

class ListedFolder:
    """A folder's entries, read in one readdir pass and sorted by path; entries(start, stop) stats those."""

    def __len__(self) -> int: ...
    def entries(self, start: int, stop: int) -> list[tuple[str, int, _Facts | None, int]]: ...

def list_folder(folder: str, extensions: list[str]) -> ListedFolder: ...

class GuardedMap:
    """A read-only map of a whole file (not on Windows); reads past the end of a file that shrank
    read zeros and set faulted() instead of killing the process."""

    def __init__(self, path: bytes) -> None: ...
    def __buffer__(self, flags: int) -> memoryview: ...
    def faulted(self) -> bool: ...
    def discard(self, offset: int, length: int) -> None: ...
