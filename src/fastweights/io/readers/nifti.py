"""NIfTI label volumes (.nii, .nii.gz; NIfTI-1 and NIfTI-2, either byte order), through nibabel.

nibabel lays out the header's bytes; every field is checked here against the NIfTI standard
(docs/input-rules.md), and the voxels are read here. A `.nii` file is memory-mapped at its data
offset and counted in chunks. A `.nii.gz` file is inflated as a stream and counted chunk by chunk
as it inflates (NIfTI stores voxels first axis fastest, and counting ignores order, so the volume,
or each slice along its last axis, is one run of the stream); only slices along another axis need
the whole volume inflated at once. The stream is read to its end, so that gzip checks its CRC-32
and length.

`scl_slope` / `scl_inter` are applied when set; scaled or float voxels must be integral, else the
file is an intensity image, not a label volume, and is refused.

Each image carries the file's voxel size: pixdim[1..3] (of the spatial dims among dim[1..dim[0]])
in mm, converted from the xyzt_units length unit (metres, microns). Unknown units (0) or a pixdim
that is not a positive number give no size: a count's volumes are then None (docs/count.md).
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from collections.abc import Iterator
from typing import Any, Literal, Optional

import numpy as np

from ...base._optional import require
from ...base.errors import InputError
from ...kernels._chunks import contiguous_chunks
from ...kernels._tally import Tally
from ...model.voxels import VoxelSize
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
    with_voxel,
)
from ._mapped import MappedFile
from ._regular import open_regular

__all__ = ["GZIP_MAGIC", "NII_MAGICS", "open_nifti"]

GZIP_MAGIC = b"\x1f\x8b"
# sizeof_hdr, the first field: 348 (NIfTI-1) or 540 (NIfTI-2), little- or big-endian.
NII_MAGICS = (b"\x5c\x01\x00\x00", b"\x00\x00\x01\x5c", b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c")

Scale = Optional[tuple[float, float]]  # (slope, intercept), None when the voxels are stored as they are

_DAMAGED_GZIP = (gzip.BadGzipFile, EOFError, zlib.error)


# NIfTI datatype code -> (name, bits per voxel, the numpy type of a label-holding one or None).
_DATATYPES: dict[int, tuple[str, int, str | None]] = {
    1: ("binary", 1, None),
    2: ("uint8", 8, "u1"),
    4: ("int16", 16, "i2"),
    8: ("int32", 32, "i4"),
    16: ("float32", 32, "f4"),
    32: ("complex64", 64, None),
    64: ("float64", 64, "f8"),
    128: ("RGB24", 24, None),
    256: ("int8", 8, "i1"),
    512: ("uint16", 16, "u2"),
    768: ("uint32", 32, "u4"),
    1024: ("int64", 64, "i8"),
    1280: ("uint64", 64, "u8"),
    1536: ("float128", 128, None),
    1792: ("complex128", 128, None),
    2048: ("complex256", 256, None),
    2304: ("RGBA32", 32, None),
}
# sizeof_hdr -> (version, the single-file magic, a .hdr/.img pair's magic)
_VERSIONS = {348: (1, b"n+1\0", b"ni1\0"), 540: (2, b"n+2\0\r\n\x1a\n", b"ni2\0\r\n\x1a\n")}


def open_nifti(path: str, options: ReadOptions) -> Iterator[Image]:
    """The images of a .nii or .nii.gz file: the volume, or each slice along `stack_axis`."""
    nibabel = require("nibabel", "nifti", "reading NIfTI masks")
    compressed = path.lower().endswith(".gz")
    with open_regular(path) as file:
        start = file.read(4)
    if compressed and not start.startswith(GZIP_MAGIC):
        raise InputError(f"{path}: not a gzip file (it does not start with {GZIP_MAGIC!r})")
    if not compressed and start not in NII_MAGICS:
        raise InputError(f"{path}: not a NIfTI file (its header size is neither 348 nor 540)")
    if compressed:
        try:
            with open_regular(path) as file, gzip.GzipFile(fileobj=file, mode="rb") as stream:
                block = stream.read(540)
        except _DAMAGED_GZIP as error:
            raise InputError(f"{path}: damaged gzip data ({error})") from error
    else:
        with open_regular(path) as file:
            block = file.read(540)
    shape, dtype, offset, scale, voxel = _header(nibabel, path, block)
    check_stack_axis(path, shape, options.stack_axis)
    if compressed:
        yield from with_voxel(_gzip_images(path, shape, dtype, offset, scale, options.stack_axis), voxel)
        return
    mapped = MappedFile(path, options.drop_behind)
    _check_size(path, shape, dtype, offset, mapped.size)
    array = mapped.array(dtype, shape, offset, True)
    yield from with_voxel(_voxel_images(path, array, scale, options.stack_axis, mapped.release), voxel)


def _header(nibabel: Any, path: str, block: bytes) -> tuple[tuple[int, ...], np.dtype, int, Scale, VoxelSize | None]:
    """The shape, dtype, data offset, scaling and voxel size of a NIfTI-1 or NIfTI-2 header, each field checked
    against the NIfTI standard (docs/input-rules.md). nibabel only lays out the bytes: its header
    checks would mend some broken fields (a vox_offset inside the header, say), as far as its
    global error_level lets them, so none of them is run."""
    order: Literal["<", ">"] = "<" if block[:4] in (b"\x5c\x01\x00\x00", b"\x1c\x02\x00\x00") else ">"
    sizeof_hdr = struct.unpack(f"{order}i", block[:4])[0] if len(block) >= 4 else 0
    if sizeof_hdr not in _VERSIONS:
        raise InputError(f"{path}: not a NIfTI file (its header size is neither 348 nor 540)")
    version, magic, pair_magic = _VERSIONS[sizeof_hdr]
    if len(block) < sizeof_hdr:
        raise InputError(f"{path}: the file ends inside the {sizeof_hdr}-byte NIfTI-{version} header")
    kind = nibabel.Nifti1Header if version == 1 else nibabel.Nifti2Header
    try:
        header = kind(binaryblock=block[:sizeof_hdr], endianness=order, check=False)
    except (nibabel.spatialimages.HeaderDataError, ValueError) as error:
        raise InputError(f"{path}: damaged NIfTI header ({error})") from error
    at = 344 if version == 1 else 4
    found = block[at : at + len(magic)]
    shown = found.split(b"\0")[0].decode("latin-1")
    if found == pair_magic:
        raise InputError(f"{path}: magic {shown!r} is a header of a .hdr/.img pair, not a single-file NIfTI")
    if found != magic:
        raise InputError(f"{path}: magic {shown!r} is not NIfTI's ({magic[:3].decode()!r})")
    dim = [int(n) for n in header["dim"]]
    if not 1 <= dim[0] <= 7:
        raise InputError(f"{path}: dim[0] is {dim[0]}, not a number of dimensions from 1 to 7")
    for axis in range(1, dim[0] + 1):
        if dim[axis] < 1:
            raise InputError(f"{path}: dim[{axis}] is {dim[axis]}; the sizes dim[1]..dim[{dim[0]}] must be positive")
    code, bitpix = int(header["datatype"]), int(header["bitpix"])
    if code not in _DATATYPES:
        raise InputError(f"{path}: datatype {code} is not a NIfTI data type")
    type_name, bits, numpy_type = _DATATYPES[code]
    if bitpix != bits:
        raise InputError(f"{path}: bitpix {bitpix} disagrees with datatype {code} ({type_name}, {bits} bits)")
    if numpy_type is None:
        raise InputError(f"{path}: datatype {code} ({type_name}) cannot hold labels")
    vox_offset = float(header["vox_offset"])
    if not vox_offset.is_integer():
        raise InputError(f"{path}: vox_offset {vox_offset:g} is not a whole number of bytes")
    if vox_offset < sizeof_hdr + 4:  # the header, then 4 bytes that flag extensions
        raise InputError(
            f"{path}: vox_offset {vox_offset:g} is inside the header "
            f"(a .nii's data starts at {sizeof_hdr + 4} or later)"
        )
    if vox_offset > _LARGEST_OFFSET:  # a .nii.gz's size is not known before it is inflated
        raise InputError(f"{path}: vox_offset {vox_offset:g} lies past the end of any file")
    slope, inter = float(header["scl_slope"]), float(header["scl_inter"])
    # scl_slope 0 means no scaling (the standard); nibabel writes nan for the same.
    if slope == 0 or np.isnan(slope):
        scale = None
    elif not (np.isfinite(slope) and np.isfinite(inter)):
        raise InputError(f"{path}: invalid scaling scl_slope={slope}, scl_inter={inter}")
    else:
        scale = None if slope == 1 and inter == 0 else (slope, inter)
    shape = tuple(dim[1 : dim[0] + 1])
    return shape, np.dtype(numpy_type).newbyteorder(order), int(vox_offset), scale, _voxel_size(header, dim[0])


# xyzt_units & 7 (the code of pixdim[1..3]'s unit, NIfTI-1 and -2) -> mm per unit; 0 is unknown.
_MM_PER_UNIT = {1: 1000.0, 2: 1.0, 3: 1e-3}


def _voxel_size(header: Any, ndim: int) -> VoxelSize | None:
    """pixdim[1..3] of the spatial dims, in mm; None when the unit is unknown or a pixdim is not a
    positive number. Dims past the third (time, components) repeat the voxels, not their size."""
    scale = _MM_PER_UNIT.get(int(header["xyzt_units"]) & 7)
    if scale is None:
        return None
    lengths = [float(header["pixdim"][axis]) for axis in range(1, min(ndim, 3) + 1)]
    if not all(math.isfinite(length) and length > 0 for length in lengths):
        return None
    return tuple(length * scale for length in lengths)


def _check_size(path: str, shape: tuple[int, ...], dtype: np.dtype, offset: int, size: int) -> None:
    """The voxel data fills the file from vox_offset to its end: a file shorter or longer than the
    dims say means a damaged file or a wrong dim."""
    voxels = math.prod(shape)
    end = offset + voxels * dtype.itemsize
    if size < end:
        raise InputError(f"{path}: truncated NIfTI: {shape} voxels of {dtype} need {end} bytes, the file has {size}")
    if size > end:
        raise InputError(
            f"{path}: {voxels} voxels of {dtype} need {end} bytes, the file has {size} "
            f"({size - end} bytes after the volume: a damaged file or a wrong dim)"
        )


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
    """The images of a .nii.gz, inflated as one stream that is read to its end once the last image
    is tallied: only then does gzip check the CRC-32 and length its trailer carries."""
    total = math.prod(shape)
    layout = (shape, dtype, offset)
    try:
        with open_regular(path) as file, gzip.GzipFile(fileobj=file, mode="rb") as stream:
            stream.seek(offset)
            if stack_axis is not None and stack_axis % len(shape) != len(shape) - 1:
                # Slices along an axis other than the last are spread over the whole stream:
                # the volume is inflated once, whole, a bounded read at a time (a read of the size
                # the header claims would allocate it before a byte is inflated).
                step = max(1, CHUNK_BYTES // dtype.itemsize)
                data = b"".join(
                    _read(stream, min(step, total - at) * dtype.itemsize, path, layout) for at in range(0, total, step)
                )
                _check_end(stream, path, layout)
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
                yield _stream_image(stream, name, size, scale, path, layout)
            _check_end(stream, path, layout)
    except _DAMAGED_GZIP as error:
        raise InputError(f"{path}: damaged gzip data ({error})") from error


# The largest offset a file (and Python's gzip seek) can have.
_LARGEST_OFFSET = 2**63 - 1
Layout = tuple[tuple[int, ...], np.dtype, int]  # shape, dtype, vox_offset: for the size messages


def _stream_image(stream: gzip.GzipFile, name: str, size: int, scale: Scale, path: str, layout: Layout) -> Image:
    def chunks() -> Iterator[np.ndarray]:
        for chunk in stream_chunks(lambda want: _read(stream, want, path, layout), size, layout[1]):
            yield _labels(chunk, scale, name)

    def tally_image(bounds: Bounds, threads: int) -> Tally:
        return tally_chunks(name, chunks(), bounds, threads)

    return Image(name, tally_image)


def _read(stream: gzip.GzipFile, want: int, path: str, layout: Layout) -> bytes:
    try:
        data = stream.read(want)
    except _DAMAGED_GZIP as error:
        raise InputError(f"{path}: damaged gzip data ({error})") from error
    if len(data) != want:
        _check_size(path, *layout, stream.tell())
    return data


def _check_end(stream: gzip.GzipFile, path: str, layout: Layout) -> None:
    """Reads the stream to its end: refuses inflated bytes after the volume, and has gzip check
    the trailer's CRC-32 and length."""
    end = stream.tell()
    try:
        while piece := stream.read(CHUNK_BYTES):
            end += len(piece)
    except _DAMAGED_GZIP as error:
        raise InputError(f"{path}: damaged gzip data ({error})") from error
    _check_size(path, *layout, end)
