"""The strict reference reader: the per-class counts a file must give, or its refusal.

Each format is read by an independent library configured strictly (numpy with allow_pickle=False,
zipfile with every member's CRC checked, Pillow with truncated images refused, tifffile, nibabel,
h5py), after structural checks of its own where that library is lenient (a tifffile warning, a
segment missing or past the end of the file, a nibabel header "fix", a duplicate .npy key, a bad
PNG CRC or a short IDAT stream are refusals here). The labels are then mapped as fastweights
maps them (DESIGN §2).

A result is {"status": "counts", "pixels": [...]} or {"status": "refused", "reason": ...,
"lenient": [...] or None}, where "lenient" is what the library itself decoded when only a check of
this module refused the file (so a count that equals it is told apart from an invented one).
"""

from __future__ import annotations

import ast
import gzip
import io
import logging
import os
import re
import struct
import warnings
import zipfile
import zlib
from typing import Any

import numpy as np

__all__ = ["Refused", "reference"]

MAX_CLASSES = 1 << 24  # fastweights.engine.settings.MAX_CLASSES: a larger label is refused
# Deflate expands at most ~1032:1, LZW ~1800:1, PackBits 64:1: a page claiming more than this
# many bytes per compressed byte is not in the file.
MAX_EXPANSION = 3000


class Refused(Exception):
    """The reference refuses the file; `lenient` holds the library's own decode, if any."""

    def __init__(self, reason: str, lenient: list[int] | None = None) -> None:
        super().__init__(reason)
        self.lenient = lenient


def reference(path: str, spec: dict[str, Any]) -> dict[str, Any]:
    try:
        pixels = _READERS[_format_of(path, spec)](path, spec)
    except Refused as refused:
        return {"status": "refused", "reason": str(refused), "lenient": refused.lenient}
    except MemoryError:
        return {"status": "refused", "reason": "MemoryError in the reference reader", "lenient": None}
    except Exception as error:  # the strict library's own refusal, whatever it raises
        return {"status": "refused", "reason": f"{type(error).__name__}: {error}"[:300], "lenient": None}
    return {"status": "counts", "pixels": pixels}


def _format_of(path: str, spec: dict[str, Any]) -> str:
    if spec.get("kind") == "raw":
        return "raw"
    if spec.get("kind") == "hdf5":
        return "hdf5"
    lower = path.lower()
    for ext in (".nii.gz", ".png", ".npy", ".npz", ".tif", ".tiff", ".nii"):
        if lower.endswith(ext):
            return ext
    raise ValueError(f"no reference for {path}")


def pixels_of(labels: np.ndarray) -> list[int]:
    """fastweights' counts of an array of labels (DESIGN §2), or Refused."""
    labels = np.asarray(labels)
    if labels.dtype.kind == "b":
        labels = labels.astype(np.uint8)
    elif labels.dtype.kind == "f":
        if labels.size and not np.isfinite(labels).all():
            raise Refused("non-finite float label")
        if labels.size and (labels != np.trunc(labels)).any():
            raise Refused("non-integral float label")
    elif labels.dtype.kind not in "iu":
        raise Refused(f"dtype {labels.dtype} holds no labels")
    if labels.size == 0:
        return []
    if labels.dtype.kind == "u" and labels.dtype.itemsize == 8 and int(labels.max()) >= MAX_CLASSES:
        raise Refused("label too large")
    if labels.min() < 0:
        raise Refused("negative label")
    if labels.max() >= MAX_CLASSES:
        raise Refused("label too large")
    return [int(n) for n in np.bincount(labels.astype(np.int64).ravel())]


def _colour_pixels(rgb: np.ndarray, colormap: list[list[int]] | None) -> list[int]:
    """(..., 3) colours: through the colormap, or as gray when the three channels are equal."""
    if colormap is None:
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise Refused("colour mask without a colormap")
        return pixels_of(rgb[..., 0])
    if rgb.dtype != np.uint8:
        raise Refused(f"{rgb.dtype} colours")
    table = {(r, g, b): c for r, g, b, c in colormap}
    flat = rgb.reshape(-1, 3)
    if flat.size == 0:
        return []
    colours, inverse = np.unique(flat, axis=0, return_inverse=True)
    classes = []
    for colour in colours:
        key = tuple(int(v) for v in colour)
        if key not in table:
            raise Refused(f"colour {key} not in the colormap")
        classes.append(table[key])
    return pixels_of(np.array(classes, np.int64)[inverse.ravel()])


def _add(total: list[int], more: list[int]) -> list[int]:
    out = [0] * max(len(total), len(more))
    for source in (total, more):
        for index, value in enumerate(source):
            out[index] += value
    return out


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


# ---------------------------------------------------------------- PNG

_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_structure(data: bytes) -> tuple[str | None, bytes]:
    """What the PNG specification forbids in the chunk layout that Pillow lets through (None: fine),
    and the file with its ancillary chunks dropped: none changes the labels, and libpng ignores a
    damaged one (bad CRC, bad length) where Pillow may refuse the file for it."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "signature", data
    position, kinds, idat, kept = 8, [], bytearray(), [data[:8]]
    header = None
    while True:
        if position + 12 > len(data):
            return "truncated chunk list (no IEND)", data
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if length > 0x7FFFFFFF or position + 12 + length > len(data):
            return f"chunk {kind!r} runs past the end", data
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        ancillary = bool(kind[0] & 0x20)
        if ancillary and kinds:
            position += 12 + length
            continue
        if zlib.crc32(kind + body) != crc:
            return f"bad CRC in {kind!r}", data
        kept.append(data[position : position + 12 + length])
        if not kinds and kind != b"IHDR":
            return "first chunk is not IHDR", data
        if kind == b"IHDR":
            if kinds or length != 13:
                return "IHDR repeated or of the wrong length", data
            header = struct.unpack(">IIBBBBB", body)
        if kind == b"IDAT":
            if kinds and kinds[-1] != b"IDAT" and b"IDAT" in kinds:
                return "IDAT chunks not consecutive", data
            idat += body
        kinds.append(kind)
        position += 12 + length
        if kind == b"IEND":
            if length:
                return "IEND with data", data
            break
    cleaned = b"".join(kept)
    assert header is not None
    width, height, depth, colour, compression, filtering, interlace = header
    if not (0 < width < 2**31 and 0 < height < 2**31):
        return "zero or huge dimension", cleaned
    if colour not in _DEPTHS or depth not in _DEPTHS[colour] or compression or filtering or interlace > 1:
        return "invalid IHDR field", cleaned
    if colour == 3 and b"PLTE" not in kinds:
        return "palette image without PLTE", cleaned
    if b"IDAT" not in kinds:
        return "no IDAT", cleaned
    if width * height > 1 << 26:
        return "too many pixels for a test file", cleaned
    bits = _CHANNELS[colour] * depth
    passes = (
        [(width, height)]
        if not interlace
        else [(-(-(width - x) // dx), -(-(height - y) // dy)) for x, y, dx, dy in _ADAM7]
    )
    expected = sum(h * (1 + (w * bits + 7) // 8) for w, h in passes if w > 0 and h > 0)
    try:
        inflater = zlib.decompressobj()
        stream = inflater.decompress(bytes(idat), expected)
    except zlib.error as error:
        return f"IDAT stream: {error}", cleaned
    if len(stream) != expected:
        return f"IDAT holds {len(stream)} bytes, the image {expected}", cleaned
    # Data past the image (more rows, a second stream) is a benign error to libpng: not a refusal.
    position = 0
    for w, h in passes:
        if w <= 0 or h <= 0:
            continue
        row = 1 + (w * bits + 7) // 8
        if any(stream[position + r * row] > 4 for r in range(h)):
            return "invalid filter type", cleaned
        position += h * row
    # A PLTE out of place, repeated, or in a gray image: libpng refuses some of these, but none
    # changes a label (palette images count indices, not colours), so they are no refusal here.
    return None, cleaned


def _png(path: str, spec: dict[str, Any]) -> list[int]:
    from PIL import Image, ImageFile

    problem, data = _png_structure(_read(path))
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    depth, colour = (data[24], data[25]) if len(data) > 25 else (8, 0)
    if problem is None and depth == 16 and colour != 0:
        raise Refused("16-bit colour PNG: Pillow reduces it to 8 bits")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                image.load()
                pixels = _pillow_pixels(image, depth, spec.get("colormap"))
        except Refused:
            if problem is not None:
                raise Refused(problem) from None
            raise
        except Exception as error:
            raise Refused(f"{problem or 'Pillow'}: {type(error).__name__}: {error}"[:300]) from None
    if problem is not None:
        raise Refused(problem, pixels)
    return pixels


def _pillow_pixels(image: Any, depth: int, colormap: list[list[int]] | None) -> list[int]:
    mode = image.mode
    array = np.asarray(image)
    if mode == "1":
        return pixels_of(array.astype(bool))
    if mode == "L" and depth in (2, 4):
        return pixels_of(array // (255 // ((1 << depth) - 1)))
    if mode in ("L", "P", "I") or mode.startswith("I;16"):
        return pixels_of(array)
    if mode in ("LA", "PA"):
        return pixels_of(array[..., 0])
    if mode in ("RGB", "RGBA"):
        return _colour_pixels(array[..., :3], colormap)
    raise Refused(f"Pillow mode {mode}")


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


# ---------------------------------------------------------------- TIFF


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _tiff(path: str, spec: dict[str, Any]) -> list[int]:
    import tifffile

    size = os.path.getsize(path)
    collected = _Collect()
    logger = logging.getLogger("tifffile")
    logger.addHandler(collected)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with tifffile.TiffFile(path) as tif:
                series = [s for s in tif.series if s is not None and len(s) and s.keyframe is not None]
                full = [s for s in series if not s.keyframe.is_reduced]
                series = full or series
                if not series:
                    raise Refused("no image")
                problem = None
                total: list[int] = []
                for one in series:
                    for index in range(len(one)):
                        page = one[index]
                        if page is None:
                            raise Refused("missing page")
                        problem = problem or _segment_problem(page, size)
                        if problem and "past" in problem:
                            raise Refused(problem)
                    total = _add(total, _series_pixels(one, spec.get("colormap")))
                relevant = [m for m in collected.messages if not _benign_tiff_warning(m)]
                if relevant:
                    problem = problem or f"tifffile: {relevant[0]}"[:300]
    finally:
        logger.removeHandler(collected)
        logger.propagate = True
    if problem:
        raise Refused(problem, total)
    return total


# Tags that decide which bytes are labels and how they decode: a warning about any other tag
# (a description, a resolution) changes no count.
_LAYOUT_TAGS = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 338, 339, 32997, 32998}


def _benign_tiff_warning(message: str) -> bool:
    tag = re.search(r"TiffTag (\d+)", message)
    return tag is not None and int(tag[1]) not in _LAYOUT_TAGS and "TiffPage" not in message


def _segment_problem(page: Any, size: int) -> str | None:
    """A strip or tile that is empty, past the end of the file, or fewer than the page needs."""
    key = page.keyframe  # a TiffFrame has the offsets; its keyframe, the layout
    codec = str(getattr(key.compression, "name", key.compression))
    if "JPEG" in codec or "WEBP" in codec:
        raise Refused("lossy codec")
    offsets, counts = page.dataoffsets, page.databytecounts
    if len(offsets) != len(counts) or not len(offsets):
        return "no segments, or offsets and byte counts differ in number"
    if any(o + c > size for o, c in zip(offsets, counts)):
        return "segment past the end of the file"
    if any(c == 0 for c in counts) or any(o == 0 for o in offsets):
        return "empty segment"
    nbytes = int(key.nbytes)
    if key.compression == 1:
        if sum(counts) < int(key.size) * key.bitspersample // 8:
            return "uncompressed segments shorter than the page"
    elif nbytes > MAX_EXPANSION * sum(counts) + 4096:
        raise Refused(f"page of {nbytes} bytes from {sum(counts)} compressed bytes")
    if key.is_tiled:
        expected = (
            -(-key.imagedepth // key.tiledepth)
            * -(-key.imagelength // key.tilelength)
            * -(-key.imagewidth // key.tilewidth)
        )
    else:
        expected = key.imagedepth * -(-key.imagelength // max(1, min(key.rowsperstrip, key.imagelength)))
    if key.planarconfig == 2:
        expected *= key.samplesperpixel
    if len(offsets) != expected:
        return f"{len(offsets)} segments, the page needs {expected}"
    return None


def _series_pixels(series: Any, colormap: list[list[int]] | None) -> list[int]:
    total: list[int] = []
    keyframe = series.keyframe
    if series.dtype is None:
        raise Refused("unknown sample format")
    if int(keyframe.nbytes) * len(series) > 1 << 28:
        raise Refused("too big for a test file")
    for index in range(len(series)):
        array = series[index].asarray(maxworkers=1)
        if "S" in keyframe.axes:
            if keyframe.samplesperpixel != 3:
                raise Refused(f"{keyframe.samplesperpixel} samples per pixel")
            total = _add(total, _colour_pixels(np.moveaxis(array, keyframe.axes.index("S"), -1), colormap))
        else:
            total = _add(total, pixels_of(array))
    return total


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


_READERS = {
    ".png": _png,
    ".npy": _npy,
    ".npz": _npz,
    "raw": _raw,
    ".tif": _tiff,
    ".tiff": _tiff,
    ".nii": _nifti,
    ".nii.gz": _nifti,
    "hdf5": _hdf5,
}
