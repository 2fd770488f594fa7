"""NIfTI label volumes (.nii, .nii.gz; NIfTI-1 and NIfTI-2, either byte order), through nibabel.

nibabel parses the header; the voxels are read here. A `.nii` file is memory-mapped at its data
offset and counted in chunks. A `.nii.gz` file is inflated as a stream and counted chunk by chunk
as it inflates (NIfTI stores voxels first axis fastest, and counting ignores order, so the volume,
or each slice along its last axis, is one run of the stream); only slices along another axis need
the whole volume inflated at once.

`scl_slope` / `scl_inter` are applied when set; scaled or float voxels must be integral, else the
file is an intensity image, not a label volume, and is refused.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator
from typing import Any, Optional

import numpy as np

from .._chunks import contiguous_chunks
from .._optional import require
from .._tally import Tally
from ..errors import InputError
from ..images import (
    CHUNK_BYTES,
    Bounds,
    Image,
    ReadOptions,
    Release,
    check_stack_axis,
    images_of_array,
    stream_chunks,
    tally_chunks,
)
from ._mapped import MappedFile

__all__ = ["GZIP_MAGIC", "NII_MAGICS", "open_nifti"]

GZIP_MAGIC = b"\x1f\x8b"
# sizeof_hdr, the first field: 348 (NIfTI-1) or 540 (NIfTI-2), little- or big-endian.
NII_MAGICS = (b"\x5c\x01\x00\x00", b"\x00\x00\x01\x5c", b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c")

Scale = Optional[tuple[float, float]]  # (slope, intercept), None when the voxels are stored as they are

_DAMAGED_GZIP = (gzip.BadGzipFile, EOFError, zlib.error)


def open_nifti(path: str, options: ReadOptions) -> Iterator[Image]:
    """The images of a .nii or .nii.gz file: the volume, or each slice along `stack_axis`."""
    nibabel = require("nibabel", "nifti", "reading NIfTI masks")
    compressed = path.lower().endswith(".gz")
    with open(path, "rb") as file:
        start = file.read(4)
    if compressed and not start.startswith(GZIP_MAGIC):
        raise InputError(f"{path}: not a gzip file (it does not start with {GZIP_MAGIC!r})")
    if not compressed and start not in NII_MAGICS:
        raise InputError(f"{path}: not a NIfTI file (its header size is neither 348 nor 540)")
    shape, dtype, offset, scale = _header(nibabel, path)
    check_stack_axis(path, shape, options.stack_axis)
    if compressed:
        yield from _gzip_images(path, shape, dtype, offset, scale, options.stack_axis)
        return
    mapped = MappedFile(path)
    end = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if mapped.size < end:
        raise InputError(
            f"{path}: truncated NIfTI: {shape} voxels of {dtype} need {end} bytes, the file has {mapped.size}"
        )
    array = mapped.array(dtype, shape, offset, True)
    yield from _voxel_images(path, array, scale, options.stack_axis, mapped.release)


def _header(nibabel: Any, path: str) -> tuple[tuple[int, ...], np.dtype, int, Scale]:
    errors = (
        nibabel.filebasedimages.ImageFileError,
        nibabel.spatialimages.HeaderDataError,
        ValueError,
        struct.error,
        *_DAMAGED_GZIP,
    )
    try:
        image = nibabel.load(path)
        if not isinstance(image, (nibabel.Nifti1Image, nibabel.Nifti2Image)):
            raise InputError(f"{path}: not a NIfTI image (nibabel reads it as {type(image).__name__})")
        header = image.header
        # nibabel moves scl_slope / scl_inter from a loaded image's header to its array proxy
        # (the header then says nan): the proxy has the values in the file.
        slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)
        offset = int(image.dataobj.offset)
        dtype = header.get_data_dtype()
    except errors as error:
        raise InputError(f"{path}: damaged NIfTI file ({error})") from error
    if dtype.kind not in "biuf":
        raise InputError(f"{path}: NIfTI data type {header.get_value_label('datatype')} cannot hold labels")
    shape = tuple(int(n) for n in image.shape)
    if not (np.isfinite(slope) and np.isfinite(inter)):
        raise InputError(f"{path}: invalid scaling scl_slope={slope}, scl_inter={inter}")
    scale = None if slope == 1 and inter == 0 else (slope, inter)
    return shape, dtype, offset, scale


def _labels(chunk: np.ndarray, scale: Scale, name: str) -> np.ndarray:
    """A chunk of voxels as labels: scaled when the header says so; floats must be integral."""
    if scale is not None:
        slope, inter = scale
        if (
            chunk.dtype.kind in "biu"
            and slope.is_integer()
            and inter.is_integer()
            and max(abs(slope), abs(inter)) < 2**31
        ):
            chunk = chunk.astype(np.int64) * np.int64(slope) + np.int64(inter)  # exact
        else:
            chunk = chunk.astype(np.float64) * slope + inter
    if chunk.dtype.kind == "f":
        bad = ~np.isfinite(chunk) | (chunk != np.trunc(chunk))
        if bad.any():
            raise InputError(
                f"{name}: float voxel values such as {chunk[bad][0]:.6g}"
                f"{' (after scl_slope and scl_inter)' if scale is not None else ''}: "
                "this looks like an intensity image, not a label volume"
            )
    return chunk  # integral floats: counted as integers by the chunk path, which says so


def _voxel_images(
    name: str, array: np.ndarray, scale: Scale, stack_axis: int | None, release: Release | None = None
) -> Iterator[Image]:
    if scale is None and array.dtype.kind != "f":
        yield from images_of_array(name, array, stack_axis, release)
        return
    if stack_axis is None:
        yield _scaled_image(name, array, scale, release)
        return
    stacked = np.moveaxis(array, stack_axis, 0)
    for index in range(stacked.shape[0]):
        yield _scaled_image(f"{name}[{index}]", stacked[index], scale, release)


def _scaled_image(name: str, array: np.ndarray, scale: Scale, release: Release | None) -> Image:
    def chunks() -> Iterator[np.ndarray]:
        step = max(1, CHUNK_BYTES // 8)  # scaled chunks are int64 or float64
        for chunk, region in contiguous_chunks(array, step):
            yield _labels(chunk, scale, name)
            if release is not None:
                release(region)

    return Image(name, lambda bounds, threads: tally_chunks(name, chunks(), bounds, threads))


def _gzip_images(
    path: str, shape: tuple[int, ...], dtype: np.dtype, offset: int, scale: Scale, stack_axis: int | None
) -> Iterator[Image]:
    total = int(np.prod(shape, dtype=np.int64))
    try:
        with gzip.open(path, "rb") as stream:
            stream.seek(offset)
            if stack_axis is not None and stack_axis % len(shape) != len(shape) - 1:
                # Slices along an axis other than the last are spread over the whole stream:
                # the volume is inflated once, whole.
                data = _read(stream, total * dtype.itemsize, path)
                array = np.frombuffer(data, dtype).reshape(shape, order="F")
                yield from _voxel_images(path, array, scale, stack_axis)
                return
            if stack_axis is None:
                runs = [(path, total)]
            else:
                depth = shape[-1]
                runs = [(f"{path}[{index}]", total // depth) for index in range(depth)]
            # The images are consecutive runs of one stream: each must be tallied before the next.
            for name, size in runs:
                yield _stream_image(stream, name, size, dtype, scale, path)
    except _DAMAGED_GZIP as error:
        raise InputError(f"{path}: damaged gzip data ({error})") from error


def _stream_image(stream: gzip.GzipFile, name: str, size: int, dtype: np.dtype, scale: Scale, path: str) -> Image:
    def chunks() -> Iterator[np.ndarray]:
        for chunk in stream_chunks(lambda want: _read(stream, want, path), size, dtype):
            yield _labels(chunk, scale, name)

    def tally_image(bounds: Bounds, threads: int) -> Tally:
        return tally_chunks(name, chunks(), bounds, threads)

    return Image(name, tally_image)


def _read(stream: gzip.GzipFile, want: int, path: str) -> bytes:
    try:
        data = stream.read(want)
    except _DAMAGED_GZIP as error:
        raise InputError(f"{path}: damaged gzip data ({error})") from error
    if len(data) != want:
        raise InputError(f"{path}: truncated NIfTI: the voxel data ends early")
    return data
