"""`.npy` (memory-mapped), `.npz` (stored members memory-mapped, compressed ones streamed) and raw
binary files (memory-mapped, through `fastweights.raw`)."""

from __future__ import annotations

import ast
import lzma
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import numpy as np

from ... import _core
from ...base.errors import InputError
from ...kernels._tally import Tally
from ..images import Bounds, Image, ReadOptions, check_stack_axis, images_of_array, stream_chunks, tally_chunks
from ._magic import check_magic
from ._mapped import MappedFile, byte_bounds
from ._regular import open_regular

if TYPE_CHECKING:
    from typing_extensions import TypeGuard  # typing.TypeGuard is Python >= 3.10

__all__ = ["RawFile", "open_npy", "open_npz", "raw"]

NPY_MAGIC = b"\x93NUMPY"
_DAMAGED_ARCHIVE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int  # where the data starts, from the start of the file

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: a huge shape cannot wrap


# How numpy writes every header of a plain array: parsed without `ast`, which costs more than
# counting a small mask. The same grammar as the C++ batch path (cpp/include/fastweights/npy.hpp).
# Anything else goes through `_parse_header_text`, which checks it against the format.
_DIM = "(?:0|[1-9][0-9]*)"
_PLAIN_HEADER = re.compile(
    r"\{'descr': '([<>|=][a-z][0-9]+)', 'fortran_order': (True|False), "
    rf"'shape': \((|{_DIM},|{_DIM}(?:, {_DIM})+)\), *\}} *\n?"
)
_HEADER_KEYS = ("descr", "fortran_order", "shape")
# numpy's own limit on header text (np.load's max_header_size): evaluating longer text is slow.
MAX_HEADER_TEXT = 10_000
# numpy's largest array in bytes (its npy_intp): larger shapes are refused, even with a 0 in them.
NPY_MAX_BYTES = (1 << 63) - 1
_VERSIONS = {1: 2, 2: 4, 3: 4}  # major version -> bytes of its header length field
# Below this size a .npy is read with one read() instead of memory-mapped.
SMALL_FILE_BYTES = 1 << 20


def read_npy_header(file: IO[bytes], name: str, size: int, what: str = "the file") -> NpyHeader:
    """The header of the .npy that starts at `file`'s position and is `size` bytes long, checked
    against the .npy format (docs/input-rules.md): every rule broken is an InputError naming `name`.
    Reads only the header: nothing is allocated or mapped from what it says before it is checked."""
    preamble = file.read(8)
    if not preamble or not NPY_MAGIC.startswith(preamble[:6]):
        raise InputError(f"{name}: not a .npy file (it does not start with {NPY_MAGIC!r})")
    if len(preamble) < 8:
        raise InputError(f"{name}: the file ends inside the .npy preamble")
    major, minor = preamble[6], preamble[7]
    if major not in _VERSIONS or minor != 0:
        raise InputError(f"{name}: .npy format version {major}.{minor} is not one of 1.0, 2.0, 3.0")
    field = file.read(_VERSIONS[major])
    if len(field) < _VERSIONS[major]:
        raise InputError(f"{name}: the file ends inside the .npy preamble")
    length = int.from_bytes(field, "little")
    offset = 8 + len(field) + length
    if offset > size:
        raise InputError(f"{name}: header length {length} runs past the end of {what} ({size} bytes)")
    if length > MAX_HEADER_TEXT:
        raise InputError(f"{name}: header length {length} is over numpy's limit of {MAX_HEADER_TEXT}")
    raw_text = file.read(length)
    if len(raw_text) < length:
        raise InputError(f"{name}: the file ends inside the .npy header")
    try:
        text = raw_text.decode("utf-8" if major == 3 else "latin-1")
    except UnicodeDecodeError as error:
        raise InputError(f"{name}: not a valid .npy header (a version 3.0 header must be UTF-8: {error})") from error
    match = _PLAIN_HEADER.fullmatch(text)
    if match:
        descr: object = match[1]
        fortran: object = match[2] == "True"
        shape: object = tuple(int(dim) for dim in match[3].split(",") if dim)
    else:
        descr, fortran, shape = _parse_header_text(text, name, major)
    header = NpyHeader(
        _checked_shape(shape, name), _checked_fortran(fortran, name), _checked_dtype(descr, name), offset
    )
    _check_numpy_size(header, name)
    end = offset + header.nbytes
    if size < end:
        raise InputError(
            f"{name}: truncated .npy: shape {header.shape} of {header.dtype} needs {end} bytes, {what} has {size}"
        )
    if size > end:
        raise InputError(
            f"{name}: {size - end} bytes of data after the array ({what} has {size} bytes, the header describes {end})"
        )
    return header


def _parse_header_text(text: str, name: str, major: int) -> tuple[object, object, object]:
    """descr, fortran_order and shape of a header that is not numpy's plain spelling: a Python dict
    literal with exactly those three keys, each once (numpy would keep the last of a key named
    twice, a simpler parser the first: such a file means two different arrays)."""
    # Only spaces and tabs before the dict, as numpy's ast.literal_eval strips: str.strip() would
    # also drop what Python's tokenizer refuses (a Latin-1 no-break space, \xa0) and count a file
    # that numpy cannot parse.
    text = text.lstrip(" \t")
    try:
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            if major == 3:
                raise
            # numpy also reads headers written by Python 2, whose ints may end in L.
            tree = ast.parse(re.sub(r"\b([0-9]+)[lL]\b", r"\1", text), mode="eval")
        node = tree.body
        if not isinstance(node, ast.Dict):
            raise InputError(f"{name}: the .npy header is not a dict")
        keys: list[str] = []
        for key in node.keys:
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise InputError(f"{name}: the .npy header has a key that is not a string")
            if key.value in keys:
                raise InputError(f"{name}: the .npy header names {key.value!r} twice")
            if key.value not in _HEADER_KEYS:
                raise InputError(f"{name}: the .npy header has the unknown key {key.value!r}")
            keys.append(key.value)
        values = {key: ast.literal_eval(value) for key, value in zip(keys, node.values)}
        for required in _HEADER_KEYS:
            if required not in keys:
                raise InputError(f"{name}: the .npy header lacks the key {required!r}")
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{name}: not a valid .npy header ({type(error).__name__}: {error})") from error
    return values["descr"], values["fortran_order"], values["shape"]


def _checked_shape(shape: object, name: str) -> tuple[int, ...]:
    if not (isinstance(shape, tuple) and all(type(dim) is int and dim >= 0 for dim in shape)):
        raise InputError(f"{name}: shape {shape!r} must be a tuple of non-negative integers")
    return shape


def _check_numpy_size(header: NpyHeader, name: str) -> None:
    """numpy refuses an array whose non-zero dimensions and item size multiply past its signed
    64-bit size, even when another dimension is 0 (an empty array that no file can make)."""
    nonzero = math.prod(dim for dim in header.shape if dim) * header.dtype.itemsize
    if nonzero > NPY_MAX_BYTES:
        raise InputError(
            f"{name}: shape {header.shape} of {header.dtype} is past numpy's largest array "
            f"(its non-zero dimensions need {nonzero} bytes, over 2**63 - 1)"
        )


def _checked_fortran(fortran: object, name: str) -> bool:
    if type(fortran) is not bool:
        raise InputError(f"{name}: fortran_order {fortran!r} must be True or False")
    return fortran


def _checked_dtype(descr: object, name: str) -> np.dtype:
    try:
        if not isinstance(descr, (str, list)):
            raise TypeError("neither a string nor a list of fields")
        # numpy's stub lists only the list-of-fields form; the string form ('<i8') is the usual one.
        dtype = np.lib.format.descr_to_dtype(descr)  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise InputError(f"{name}: descr {descr!r} is not a numpy dtype ({error})") from error
    if dtype.hasobject:
        raise InputError(f"{name}: holds Python objects (a pickled array), not labels")
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise InputError(f"{name}: dtype {dtype.str} cannot hold labels (expected integers, bool or integral floats)")
    return dtype


def open_npy(path: str, options: ReadOptions) -> Iterator[Image]:
    with open_regular(path) as file:
        check_magic(path, file.peek(len(NPY_MAGIC))[: len(NPY_MAGIC)], NPY_MAGIC)
        size = os.fstat(file.fileno()).st_size
        header = read_npy_header(file, path, size)
        if size <= SMALL_FILE_BYTES:
            data = file.read(header.nbytes)
            if len(data) != header.nbytes:
                raise InputError(f"{path}: shrank from {size:,} bytes while it was being read")
            array = np.frombuffer(data, header.dtype).reshape(header.shape, order="F" if header.fortran else "C")
            yield from images_of_array(path, array, options.stack_axis)
            return
    mapped = MappedFile(path, options.drop_behind)
    array = mapped.array(header.dtype, header.shape, header.offset, header.fortran)
    yield from images_of_array(path, array, options.stack_axis, mapped.release)


def open_npz(path: str, options: ReadOptions) -> Iterator[Image]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as error:
        raise InputError(f"{path}: not a valid .npz archive ({error})") from error
    with archive:
        # Not ZipInfo.is_dir(): it indexes the name's last character, and an empty name is no folder.
        members = [info for info in archive.infolist() if not info.filename.endswith("/")]
        if not members:
            raise InputError(f"{path}: the .npz archive holds no arrays")
        size = os.stat(path).st_size
        seen: set[str] = set()
        for info in members:
            if not info.filename:
                raise InputError(f"{path}: the archive holds a member with an empty name")
            if info.filename in seen:
                raise InputError(f"{path}: the archive holds {info.filename!r} twice (numpy reads only one of them)")
            seen.add(info.filename)
        for info in members:
            name = f"{path}:{info.filename.removesuffix('.npy')}"
            start = _check_member(path, name, info, size)
            if info.compress_type == zipfile.ZIP_STORED:
                yield from _stored_member(path, name, info, start, options.stack_axis)
            else:
                yield from _compressed_member(archive, name, info, options.stack_axis)


_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
# Deflate's largest expansion: a 258-byte match costs at least 2 bits (RFC 1951), about 1032:1.
_DEFLATE_MAX_RATIO = 1032
_DATA_DESCRIPTOR = 0x08  # general purpose flag: the local header's CRC and sizes are zero
# General purpose flags: encrypted (bit 0), strong encryption (bit 6, which also sets bit 0 when
# written as the specification says; either alone still means data that is not the array's bytes).
_ENCRYPTED = 0x41
_ZIP64_SIZE = 0xFFFFFFFF  # a local size that the zip64 extra field carries instead
_ZIP64_EXTRA = 0x0001  # the extra field's header id of zip64 sizes
# A stored member's CRC-32 is computed over its memory map this many bytes at a time, each slice's
# pages handed back once done, so checking a big member does not hold it all in RSS.
CRC_SLICE_BYTES = 64 << 20


def _check_member(path: str, name: str, info: zipfile.ZipInfo, size: int) -> int:
    """Checks a member's central directory entry and local header against each other and the
    archive's size (docs/input-rules.md); returns where its data starts."""
    if info.flag_bits & _ENCRYPTED:
        raise InputError(f"{name}: the member is encrypted")
    if info.compress_type not in _COMPRESSIONS:
        raise InputError(
            f"{name}: compression method {info.compress_type} is not one this reads (stored, deflate, bzip2, lzma)"
        )
    with open_regular(path) as file:
        file.seek(info.header_offset)
        local = file.read(30)
        if len(local) < 30 or local[:4] != ZIP_MAGIC:
            raise InputError(f"{name}: damaged .npz member header (no local header at offset {info.header_offset})")
        flags, method, _, _, crc, compressed, uncompressed, name_length, extra_length = struct.unpack(
            "<HHHHIIIHH", local[6:30]
        )
        local_name = file.read(name_length).decode("utf-8" if flags & 0x800 else "cp437", "replace")
        extra = file.read(extra_length)
    if flags & _ENCRYPTED:
        raise InputError(f"{name}: the member is encrypted (its local header says so)")
    if local_name != info.orig_filename:
        raise InputError(
            f"{name}: the member's local header names {local_name!r}, the central directory {info.orig_filename!r}"
        )
    if method != info.compress_type:
        raise InputError(
            f"{name}: the member's local header says compression {method}, the central directory {info.compress_type}"
        )
    if not flags & _DATA_DESCRIPTOR:
        if compressed == uncompressed == _ZIP64_SIZE:
            compressed, uncompressed = _zip64_local_sizes(name, extra)
        if (crc, compressed, uncompressed) != (info.CRC, info.compress_size, info.file_size):
            raise InputError(
                f"{name}: the member's local header (CRC {crc:#010x}, {compressed} bytes compressed, {uncompressed} "
                f"bytes) disagrees with the central directory (CRC {info.CRC:#010x}, {info.compress_size}, "
                f"{info.file_size})"
            )
    start: int = info.header_offset + 30 + name_length + extra_length
    if start + info.compress_size > size:
        raise InputError(
            f"{name}: the member's data ({info.compress_size} bytes from offset {start}) runs past the end of "
            f"the archive ({size} bytes)"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise InputError(
            f"{name}: a stored member must have equal compressed and uncompressed sizes "
            f"({info.compress_size} and {info.file_size})"
        )
    if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > info.compress_size * _DEFLATE_MAX_RATIO:
        raise InputError(
            f"{name}: the member claims {info.file_size} bytes, more than its {info.compress_size} compressed "
            "bytes can hold"
        )
    return start


def _zip64_local_sizes(name: str, extra: bytes) -> tuple[int, int]:
    """The compressed and uncompressed sizes of a zip64 local header (both of its 32-bit sizes
    0xFFFFFFFF): in its zip64 extra field, which there holds both (APPNOTE 4.5.3), uncompressed first."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack("<HH", extra[at : at + 4])
        if kind == _ZIP64_EXTRA and length >= 16 and at + 4 + length <= len(extra):
            uncompressed, compressed = struct.unpack("<QQ", extra[at + 4 : at + 20])
            return compressed, uncompressed
        at += 4 + length
    raise InputError(f"{name}: the member's local header gives zip64 sizes without the zip64 field that holds them")


def _stored_member(path: str, name: str, info: zipfile.ZipInfo, start: int, stack_axis: int | None) -> Iterator[Image]:
    with open_regular(path) as file:
        file.seek(start)
        header = read_npy_header(file, name, info.file_size, "the member")
    mapped = MappedFile(path)
    array = mapped.array(header.dtype, header.shape, start + header.offset, header.fortran)
    if stack_axis is None and header.nbytes:
        # The whole array is counted in memory order: its CRC-32 is folded into that one pass.
        folded = _FoldedCrc(name, mapped, start, header.offset, info)
        yield from images_of_array(name, array, None, folded.release)
        return
    _check_crc(name, mapped, start, info)
    yield from images_of_array(name, array, stack_axis, mapped.release)


class _FoldedCrc:
    """A stored member's CRC-32 computed region by region as the count hands its regions back,
    and checked once the last one is in: the member's pages are read once, not twice. Regions
    out of memory order (never expected) make it check the whole member over again at the end."""

    def __init__(self, name: str, mapped: MappedFile, start: int, data_offset: int, info: zipfile.ZipInfo) -> None:
        self.name, self.mapped, self.start, self.info = name, mapped, start, info
        self.crc = _core.crc32(mapped.array(np.dtype(np.uint8), (data_offset,), start, False))
        self.next = mapped.address(start + data_offset)
        self.left = info.file_size - data_offset
        self.in_order = True

    def release(self, region: np.ndarray) -> None:
        low, high = byte_bounds(region)
        if low != self.next or not region.flags.c_contiguous:
            self.in_order = False
        if self.in_order:
            self.crc = _core.crc32(region, self.crc)
        self.next = high
        self.left -= high - low
        self.mapped.release(region)
        if self.left:
            return
        if self.in_order:
            _check_crc_value(self.name, self.crc, self.info)
        else:
            _check_crc(self.name, self.mapped, self.start, self.info)


def _check_crc(name: str, mapped: MappedFile, start: int, info: zipfile.ZipInfo) -> None:
    """A stored member is read through a memory map, not through zipfile, which would check its
    CRC-32: checked here, with libdeflate's CRC (about 8x zlib.crc32's speed here)."""
    member = mapped.array(np.dtype(np.uint8), (info.file_size,), start, False)
    crc = 0
    for at in range(0, info.file_size, CRC_SLICE_BYTES):
        piece = member[at : at + CRC_SLICE_BYTES]
        crc = _core.crc32(piece, crc)
        mapped.release(piece)
    _check_crc_value(name, crc, info)


def _check_crc_value(name: str, crc: int, info: zipfile.ZipInfo) -> None:
    if crc != info.CRC:
        raise InputError(
            f"{name}: CRC-32 of the member's data ({crc:#010x}) disagrees with the archive's ({info.CRC:#010x}): "
            "the data is damaged"
        )


def _compressed_member(
    archive: zipfile.ZipFile, name: str, info: zipfile.ZipInfo, stack_axis: int | None
) -> Iterator[Image]:
    try:
        with archive.open(info) as stream:
            header = read_npy_header(stream, name, info.file_size, "the member")
            check_stack_axis(name, header.shape, stack_axis)
            ndim = len(header.shape)
            outer_axis = ndim - 1 if header.fortran else 0
            if stack_axis is None or stack_axis % ndim == outer_axis:
                # The images are consecutive runs of the stream: count it as it inflates.
                yield from _streamed_images(stream, name, header, stack_axis)
            else:
                data = _read_exactly(stream, header.nbytes, name)
                _check_end(stream, name)
                array = np.frombuffer(data, header.dtype).reshape(header.shape, order="F" if header.fortran else "C")
                yield from images_of_array(name, array, stack_axis)
    except _DAMAGED_ARCHIVE as error:
        raise InputError(f"{name}: damaged .npz member ({_crc_said(error)})") from error


def _crc_said(error: BaseException) -> str:
    """zipfile's words for a CRC mismatch, said as the stored members' check says it."""
    text = str(error)
    if text.startswith("Bad CRC-32"):
        return f"CRC-32 of the member's data disagrees with the archive's: {text}"
    return text


def _read_exactly(stream: IO[bytes], want: int, name: str) -> bytes:
    try:
        data = stream.read(want)
    except _DAMAGED_ARCHIVE as error:
        raise InputError(f"{name}: damaged .npz member ({_crc_said(error)})") from error
    if len(data) != want:
        raise InputError(f"{name}: truncated .npz member")
    return data


def _check_end(stream: IO[bytes], name: str) -> None:
    """Reads a member's stream to its end, which makes zipfile check the member's CRC-32."""
    try:
        extra = stream.read(1)
    except _DAMAGED_ARCHIVE as error:
        raise InputError(f"{name}: damaged .npz member ({_crc_said(error)})") from error
    if extra:
        raise InputError(f"{name}: the member inflates to more bytes than its header describes")


def _streamed_images(stream: IO[bytes], name: str, header: NpyHeader, stack_axis: int | None) -> Iterator[Image]:
    total = math.prod(header.shape)
    if stack_axis is None:
        sizes = [(name, total)]
    else:
        depth = header.shape[stack_axis]
        sizes = [(f"{name}[{index}]", total // depth if depth else 0) for index in range(depth)]

    def chunks(image_name: str, size: int) -> Iterator[np.ndarray]:
        return stream_chunks(lambda want: _read_exactly(stream, want, image_name), size, header.dtype)

    def image(image_name: str, size: int) -> Image:
        def tally_image(bounds: Bounds, threads: int) -> Tally:
            return tally_chunks(image_name, chunks(image_name, size), bounds, threads)

        return Image(image_name, tally_image)

    # The images are read in order from one stream: each must be tallied before the next, and the
    # member's CRC-32 is checked once the last one has been read.
    for image_name, size in sizes:
        yield image(image_name, size)
    _check_end(stream, name)


@dataclass(frozen=True)
class RawFile:
    """A headerless binary file of labels: made by `fastweights.raw`, counted by `fastweights.count`."""

    path: str
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int = 0
    order: str = "C"

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def images(self, options: ReadOptions) -> Iterator[Image]:
        mapped = MappedFile(self.path, options.drop_behind)
        _check_raw_size(self.path, mapped.size, self)
        array = mapped.array(self.dtype, self.shape, self.offset, self.order == "F")
        yield from images_of_array(self.path, array, options.stack_axis, mapped.release)


def raw(
    path: str | os.PathLike[str],
    dtype: object,
    shape: int | tuple[int, ...],
    *,
    offset: int = 0,
    order: Literal["C", "F"] = "C",
) -> RawFile:
    """Describes a headerless binary label file for `fastweights.count` (memory-mapped when counted).

    The file must hold exactly `offset` bytes of header to skip and then the array: a file of any
    other size is refused.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    dtype : numpy dtype or anything `np.dtype` takes
        The labels' type: integers, bool or floats (whose values must be integral).
    shape : int or tuple of int
        The array's shape.
    offset : int, default 0
        Header bytes to skip before the array.
    order : {"C", "F"}, default "C"
        The array's memory layout.

    Returns
    -------
    RawFile
        The description `fastweights.count` takes as an input.

    Raises
    ------
    TypeError
        `dtype` is not a numpy dtype, or not one that holds labels.
    ValueError
        `shape`, `offset` or `order` is not valid.
    FileNotFoundError
        No file at `path`.
    fastweights.errors.InputError
        The file's size is not `offset` plus the array's bytes.
    """
    path = os.fspath(path)
    try:
        label_dtype = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError as error:
        raise TypeError(f"raw({path!r}): dtype={dtype!r} is not a numpy dtype") from error
    if label_dtype.kind not in "biuf" or label_dtype.fields is not None or label_dtype.subdtype is not None:
        raise TypeError(
            f"raw({path!r}): dtype={dtype!r} cannot hold labels (expected integers, bool or integral floats)"
        )
    # Not an int: by the signature, a tuple (any iterable of sizes works at run time).
    dims = (shape,) if _is_int(shape) else tuple(cast("tuple[int, ...]", shape))
    if not all(_is_int(d) and d >= 0 for d in dims):
        raise ValueError(f"raw({path!r}): shape={shape!r} must be non-negative integers")
    if not _is_int(offset) or offset < 0:
        raise ValueError(f"raw({path!r}): offset={offset!r} must be a non-negative integer")
    if order not in ("C", "F"):
        raise ValueError(f"raw({path!r}): order={order!r} must be 'C' or 'F'")
    described = RawFile(path, label_dtype, tuple(int(d) for d in dims), int(offset), order)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    _check_raw_size(path, size, described)
    return described


def _is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_raw_size(path: str, size: int, described: RawFile) -> None:
    expected = described.offset + described.nbytes
    if size != expected:
        raise InputError(
            f"{path}: raw file is {size} bytes, but shape {described.shape} of {described.dtype}"
            f"{f' after {described.offset} header bytes' if described.offset else ''} needs {expected}"
        )
