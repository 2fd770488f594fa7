"""The strict references for .npy, .npz and raw (numpy, zipfile), NIfTI (nibabel) and HDF5 (h5py)."""

from __future__ import annotations

import ast
import gzip
import io
import logging
import re
import struct
import warnings
import zipfile
import zlib
from typing import Any

import numpy as np

from .oracle_common import MAX_CLASSES, Refused, _add, _Collect, _read, pixels_of

# ---------------------------------------------------------------- .npy / .npz / raw


def _npy_header(data: bytes) -> tuple[str | None, int | None]:
    """What numpy's own header parser lets through (a repeated key, a negative dimension), and the
    bytes the header describes (None when numpy is left to refuse the header itself)."""
    if len(data) < 10 or data[:6] != b"\x93NUMPY":
        return None, None
    major = data[6]
    size_bytes = 2 if major == 1 else 4
    length = int.from_bytes(data[8 : 8 + size_bytes], "little")
    text = data[8 + size_bytes : 8 + size_bytes + length]
    try:
        tree = ast.parse(text.decode("utf8" if major == 3 else "latin1"), mode="eval").body
        if not isinstance(tree, ast.Dict):
            return None, None
        keys = [ast.literal_eval(key) for key in tree.keys if key is not None]
        if len(keys) != len(set(map(repr, keys))):
            return "a key repeated in the .npy header", None
        values = {key: ast.literal_eval(value) for key, value in zip(keys, tree.values)}
    except (SyntaxError, ValueError, TypeError, UnicodeDecodeError, MemoryError, RecursionError):
        return None, None
    shape, descr = values.get("shape"), values.get("descr")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) for d in shape):
        return None, None
    if any(d < 0 for d in shape):
        return "negative dimension", None
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError):
        return None, None
    if dtype.hasobject:
        return "object dtype", None
    return None, int(np.prod(shape, dtype=object)) * dtype.itemsize


def _npy_array(data: bytes) -> np.ndarray:
    problem, needed = _npy_header(data)
    if problem is not None:
        raise Refused(problem)
    if needed is not None and needed > len(data):
        raise Refused(f"the header describes {needed} bytes, the file has {len(data)}")
    return np.load(io.BytesIO(data), allow_pickle=False)


def _npy(path: str, spec: dict[str, Any]) -> list[int]:
    return pixels_of(_npy_array(_read(path)))


def _npz(path: str, spec: dict[str, Any]) -> list[int]:
    data = _read(path)
    total: list[int] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        for info in members:
            _check_local_header(data, info)
            member = archive.read(info)  # checks the CRC, whatever the method
            total = _add(total, pixels_of(_npy_array(member)))
    return total


def _check_local_header(data: bytes, info: zipfile.ZipInfo) -> None:
    """The local header must agree with the central directory (zipfile reads sizes only from the latter)."""
    local = data[info.header_offset : info.header_offset + 30]
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise Refused("damaged local header")
    flags, method, _, _, crc, compressed, size, name_length, _ = struct.unpack("<HHHHIIIHH", local[6:30])
    if method != info.compress_type:
        raise Refused("compression method differs between local header and central directory")
    if flags & 1:
        raise Refused("encrypted member")
    if not flags & 8 and (crc, compressed, size) != (info.CRC, info.compress_size, info.file_size):
        if not (compressed == size == 0xFFFFFFFF):  # ZIP64: the sizes live in the extra field
            raise Refused("sizes or CRC differ between local header and central directory")
    if data[info.header_offset + 30 : info.header_offset + 30 + name_length] != info.orig_filename.encode(
        "utf8" if info.flag_bits & 0x800 else "cp437"
    ):
        raise Refused("member name differs between local header and central directory")


def _raw(path: str, spec: dict[str, Any]) -> list[int]:
    dtype = np.dtype(spec["dtype"])
    shape = tuple(spec["shape"])
    offset = spec.get("offset", 0)
    data = _read(path)
    needed = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != needed:
        raise Refused(f"raw file is {len(data)} bytes, {needed} described")
    return pixels_of(np.frombuffer(data, dtype, offset=offset).reshape(shape))


# ---------------------------------------------------------------- NIfTI

_NIFTI_DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4", 1024: "i8", 1280: "u8"}


def _nifti_header_problem(data: bytes) -> str | None:
    """Header fields nibabel would "fix" or read loosely, checked as the standard states them."""
    if len(data) < 4:
        return "short header"
    for endian in "<>":
        (size,) = struct.unpack(endian + "i", data[:4])
        if size in (348, 540):
            break
    else:
        return "sizeof_hdr"
    two = size == 540
    if len(data) < size + 4:
        return "short header"
    if two:
        magic = data[4:12]
        datatype, bitpix = struct.unpack(endian + "hh", data[12:16])
        dims = struct.unpack(endian + "8q", data[16:80])
        offset = struct.unpack(endian + "q", data[168:176])[0]
        header_end = 544
        good_magic = magic == b"n+2\x00\r\n\x1a\n"
    else:
        magic = data[344:348]
        dims = struct.unpack(endian + "8h", data[40:56])
        datatype, bitpix = struct.unpack(endian + "hh", data[70:74])
        offset_float = struct.unpack(endian + "f", data[108:112])[0]
        if not np.isfinite(offset_float) or offset_float != int(offset_float):
            return "vox_offset not a whole number"
        offset = int(offset_float)
        header_end = 352
        good_magic = magic == b"n+1\x00"
    if not good_magic:
        return "magic (not a single-file NIfTI)"
    if not 1 <= dims[0] <= 7:
        return "dim[0]"
    if any(d < 1 for d in dims[1 : dims[0] + 1]):
        return "zero or negative dimension"
    if datatype not in _NIFTI_DTYPES:
        return f"datatype {datatype}"
    if bitpix != np.dtype(_NIFTI_DTYPES[datatype]).itemsize * 8:
        return "bitpix disagrees with datatype"
    if offset < header_end:
        return "vox_offset inside the header"
    return None


# nibabel's "fixes" of the fields that place the volume in space (voxel sizes and qfac in pixdim,
# the qform and sform codes): they change the affine, never which value a voxel holds, and
# fastweights does not run nibabel's header checks (docs/input-rules.md), so a file they would
# mend counts as it is.
_NIBABEL_SPATIAL_FIX = re.compile(r"pixdim\[|qform_code |sform_code ")


def _nifti(path: str, spec: dict[str, Any]) -> list[int]:
    import nibabel

    raw = _read(path)
    if path.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)  # every member whole: CRC and ISIZE checked
        except (OSError, EOFError, zlib.error) as error:
            raise Refused(f"gzip: {error}") from None
    problem = _nifti_header_problem(raw)
    if problem is not None:
        raise Refused(problem)
    two = struct.unpack("<i", raw[:4])[0] in (540, 0x1C020000)
    image_type = nibabel.Nifti2Image if two else nibabel.Nifti1Image
    collected = _Collect()
    logger = logging.getLogger("nibabel")
    logger.addHandler(collected)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            image = image_type.from_bytes(raw)
            shape = image.shape
            dtype = image.get_data_dtype()
            needed = image.dataobj.offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if needed > len(raw):
                raise Refused(f"voxels need {needed} bytes, the file has {len(raw)}")
            stored = np.asarray(image.dataobj.get_unscaled())
            slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)
    finally:
        logger.removeHandler(collected)
    fixes = [message for message in collected.messages if not _NIBABEL_SPATIAL_FIX.match(message)]
    if fixes:
        raise Refused(f"nibabel: {fixes[0]}"[:300])
    if not (np.isfinite(slope) and np.isfinite(inter)):
        raise Refused("non-finite scaling")
    if stored.dtype.kind not in "biuf":
        raise Refused(f"voxels of {stored.dtype}")
    if slope == 1 and inter == 0:
        return pixels_of(stored)
    if stored.dtype.kind in "biu" and slope.is_integer() and inter.is_integer():
        labels = stored.astype(object) * int(slope) + int(inter)  # exact, whatever the magnitude
        values = np.array([int(v) for v in labels.ravel()], dtype=object)
        if values.size and (min(values) < 0 or max(values) >= MAX_CLASSES):
            raise Refused("scaled label out of range")
        return pixels_of(values.astype(np.int64))
    return pixels_of(stored.astype(np.float64) * slope + inter)


# ---------------------------------------------------------------- HDF5


def _hdf5(path: str, spec: dict[str, Any]) -> list[int]:
    import h5py

    with h5py.File(path, "r") as file:
        dataset = file[spec["dataset"]]
        if not isinstance(dataset, h5py.Dataset) or dataset.shape is None:
            raise Refused("no dataset")
        if dataset.dtype.kind not in "biuf":
            raise Refused(f"dtype {dataset.dtype}")
        if dataset.size * dataset.dtype.itemsize > 1 << 28:
            raise Refused("too big for a test file")
        return pixels_of(dataset[()])
