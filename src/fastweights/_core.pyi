"""Stubs of the C++ extension (cpp/bindings.cpp). Every function takes a C-contiguous array of
its dtype, releases the GIL, and counts with up to `threads` OpenMP threads."""

import numpy as np
import numpy.typing as npt

__version__: str
replicated_table_limit: int

def openmp_enabled() -> bool: ...
def min_max_uint8(labels: npt.NDArray[np.uint8], threads: int) -> tuple[int, int]: ...
def count_dense_uint8(
    labels: npt.NDArray[np.uint8], lo: int, size: int, threads: int
) -> tuple[npt.NDArray[np.uint64], int, int]: ...
def count_sparse_uint8(
    labels: npt.NDArray[np.uint8], threads: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]: ...
def min_max_int8(labels: npt.NDArray[np.int8], threads: int) -> tuple[int, int]: ...
def count_dense_int8(
    labels: npt.NDArray[np.int8], lo: int, size: int, threads: int
) -> tuple[npt.NDArray[np.uint64], int, int]: ...
def count_sparse_int8(
    labels: npt.NDArray[np.int8], threads: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]: ...
def min_max_uint16(labels: npt.NDArray[np.uint16], threads: int) -> tuple[int, int]: ...
def count_dense_uint16(
    labels: npt.NDArray[np.uint16], lo: int, size: int, threads: int
) -> tuple[npt.NDArray[np.uint64], int, int]: ...
def count_sparse_uint16(
    labels: npt.NDArray[np.uint16], threads: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]: ...
def min_max_int16(labels: npt.NDArray[np.int16], threads: int) -> tuple[int, int]: ...
def count_dense_int16(
    labels: npt.NDArray[np.int16], lo: int, size: int, threads: int
) -> tuple[npt.NDArray[np.uint64], int, int]: ...
def count_sparse_int16(
    labels: npt.NDArray[np.int16], threads: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]: ...
def min_max_uint32(labels: npt.NDArray[np.uint32], threads: int) -> tuple[int, int]: ...
def count_dense_uint32(
    labels: npt.NDArray[np.uint32], lo: int, size: int, threads: int
) -> tuple[npt.NDArray[np.uint64], int, int]: ...
def count_sparse_uint32(
    labels: npt.NDArray[np.uint32], threads: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]: ...
def min_max_int32(labels: npt.NDArray[np.int32], threads: int) -> tuple[int, int]: ...
def count_dense_int32(
    labels: npt.NDArray[np.int32], lo: int, size: int, threads: int
) -> tuple[npt.NDArray[np.uint64], int, int]: ...
def count_sparse_int32(
    labels: npt.NDArray[np.int32], threads: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]: ...
def min_max_int64(labels: npt.NDArray[np.int64], threads: int) -> tuple[int, int]: ...
def count_dense_int64(
    labels: npt.NDArray[np.int64], lo: int, size: int, threads: int
) -> tuple[npt.NDArray[np.uint64], int, int]: ...
def count_sparse_int64(
    labels: npt.NDArray[np.int64], threads: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]: ...

# PNG (fastweights::png): status 0 ok, 1 unsupported (left to a general decoder), 2.. errors whose
# message says what is wrong. Any buffer-protocol object of bytes is accepted; the GIL is released
# while decoding.
def count_png(
    data: bytes | memoryview | npt.NDArray[np.uint8], max_pixels: int
) -> tuple[int, str, npt.NDArray[np.uint64] | None, int, int, int, int]:
    """(status, message, counts by sample value (256 or 65,536 entries), width, height, bit depth, colour type)"""

def decode_png(
    data: bytes | memoryview | npt.NDArray[np.uint8], max_pixels: int
) -> tuple[int, str, npt.NDArray[np.uint8] | None, int, int, int, int, int]:
    """(status, message, samples in raster order, width, height, bit depth, colour type, interlace)"""

def png_header(data: bytes | memoryview | npt.NDArray[np.uint8]) -> tuple[int, str, int, int, int, int, int]:
    """(status, message, width, height, bit depth, colour type, interlace) from the signature and IHDR"""

def count_png_files(
    paths: list[str], max_pixels: int
) -> list[tuple[int, int, int, str, npt.NDArray[np.int64], npt.NDArray[np.uint64]]]: ...
