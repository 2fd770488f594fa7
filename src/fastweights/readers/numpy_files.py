"""`.npy` (memory-mapped), `.npz` (stored members memory-mapped, compressed ones streamed) and raw
binary files (memory-mapped, through `fastweights.raw`)."""

from __future__ import annotations

import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np

from .. import _core
from .._tally import Tally
from ..errors import InputError
from ..images import Bounds, Image, ReadOptions, check_stack_axis, images_of_array, stream_chunks, tally_chunks
from ._magic import check_magic
from ._mapped import MappedFile

__all__ = ["RawFile", "open_npy", "open_npz", "raw", "tally_npy_files"]

NPY_MAGIC = b"\x93NUMPY"
_DAMAGED_ARCHIVE = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int  # where the data starts, from the start of the file

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


# How numpy writes every header of a plain array: parsed without `ast`, which costs more than
# counting a small mask. Anything else goes through numpy's own parser.
_PLAIN_HEADER = re.compile(
    r"\{'descr': '([<>|=][a-z][0-9]+)', 'fortran_order': (True|False), 'shape': \(([0-9, ]*)\), *\} *\n?$"
)
# Below this size a .npy is read with one read() instead of memory-mapped.
SMALL_FILE_BYTES = 1 << 20


def read_npy_header(file: IO[bytes], name: str) -> NpyHeader:
    start = file.tell()
    prefix = file.read(12)
    if len(prefix) >= 10 and prefix[:6] == NPY_MAGIC and prefix[6] in (1, 2, 3):
        size_bytes = 2 if prefix[6] == 1 else 4
        length = int.from_bytes(prefix[8 : 8 + size_bytes], "little")
        text_start = 8 + size_bytes
        text = (prefix[text_start:] + file.read(length - (len(prefix) - text_start)))[:length]
        match = _PLAIN_HEADER.match(text.decode("latin-1"))
        if match and len(text) == length:
            shape = tuple(int(dim) for dim in match[3].split(",") if dim.strip())
            dtype = np.dtype(match[1])
            file.seek(start + text_start + length)
            return NpyHeader(shape, match[2] == "True", dtype, text_start + length)
    file.seek(start)
    try:
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
        else:
            shape, fortran, dtype = np.lib.format._read_array_header(file, version)  # type: ignore[attr-defined]
    except (ValueError, OSError, SyntaxError) as error:
        raise InputError(f"{name}: not a valid .npy header ({error})") from error
    if dtype.hasobject:
        raise InputError(f"{name}: holds Python objects (a pickled array), not labels")
    return NpyHeader(tuple(shape), bool(fortran), dtype, file.tell() - start)


def open_npy(path: str, options: ReadOptions) -> Iterator[Image]:
    with open(path, "rb") as file:
        check_magic(path, file.peek(len(NPY_MAGIC))[: len(NPY_MAGIC)], NPY_MAGIC)
        header = read_npy_header(file, path)
        size = os.fstat(file.fileno()).st_size
        if size < header.offset + header.nbytes:
            raise InputError(
                f"{path}: truncated .npy: shape {header.shape} of {header.dtype} needs "
                f"{header.offset + header.nbytes} bytes, the file has {size}"
            )
        if size <= SMALL_FILE_BYTES:
            data = file.read(header.nbytes)
            if len(data) != header.nbytes:
                raise InputError(f"{path}: shrank from {size:,} bytes while it was being read")
            array = np.frombuffer(data, header.dtype).reshape(header.shape, order="F" if header.fortran else "C")
            yield from images_of_array(path, array, options.stack_axis)
            return
    mapped = MappedFile(path)
    array = mapped.array(header.dtype, header.shape, header.offset, header.fortran)
    yield from images_of_array(path, array, options.stack_axis, mapped.release)


def tally_npy_files(paths: list[str]) -> list[Tally | None]:
    """The tallies of many small .npy files, read and counted in one call that releases the GIL once;
    None for a file that needs the general reader (not a plain integer array, or damaged). The paths
    go as the file system's bytes, so that names that are not valid UTF-8 get there too."""
    found = _core.count_npy_files([os.fsencode(path) for path in paths])
    return [None if result is None else Tally(*result) for result in found]


def open_npz(path: str, options: ReadOptions) -> Iterator[Image]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"{path}: not a valid .npz archive ({error})") from error
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if not members:
            raise InputError(f"{path}: the .npz archive holds no arrays")
        for info in members:
            name = f"{path}:{info.filename.removesuffix('.npy')}"
            if info.compress_type == zipfile.ZIP_STORED:
                yield from _stored_member(path, name, info, options.stack_axis)
            else:
                yield from _compressed_member(archive, name, info, options.stack_axis)


def _stored_member(path: str, name: str, info: zipfile.ZipInfo, stack_axis: int | None) -> Iterator[Image]:
    with open(path, "rb") as file:
        file.seek(info.header_offset)
        local = file.read(30)
        if len(local) < 30 or local[:4] != ZIP_MAGIC:
            raise InputError(f"{name}: damaged .npz member header")
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_length + extra_length
        file.seek(start)
        header = read_npy_header(file, name)
    if header.offset + header.nbytes != info.file_size:
        raise InputError(
            f"{name}: member is {info.file_size} bytes, its header describes {header.offset + header.nbytes}"
        )
    mapped = MappedFile(path)
    array = mapped.array(header.dtype, header.shape, start + header.offset, header.fortran)
    yield from images_of_array(name, array, stack_axis, mapped.release)


def _compressed_member(
    archive: zipfile.ZipFile, name: str, info: zipfile.ZipInfo, stack_axis: int | None
) -> Iterator[Image]:
    try:
        with archive.open(info) as stream:
            header = read_npy_header(stream, name)
            if header.offset + header.nbytes != info.file_size:
                raise InputError(
                    f"{name}: member is {info.file_size} bytes, its header describes {header.offset + header.nbytes}"
                )
            check_stack_axis(name, header.shape, stack_axis)
            ndim = len(header.shape)
            outer_axis = ndim - 1 if header.fortran else 0
            if stack_axis is None or stack_axis % ndim == outer_axis:
                # The images are consecutive runs of the stream: count it as it inflates.
                yield from _streamed_images(stream, name, header, stack_axis)
            else:
                data = stream.read()
                array = np.frombuffer(data, header.dtype).reshape(header.shape, order="F" if header.fortran else "C")
                yield from images_of_array(name, array, stack_axis)
    except _DAMAGED_ARCHIVE as error:
        raise InputError(f"{name}: damaged .npz member ({error})") from error


def _streamed_images(stream: IO[bytes], name: str, header: NpyHeader, stack_axis: int | None) -> Iterator[Image]:
    total = int(np.prod(header.shape, dtype=np.int64))
    if stack_axis is None:
        sizes = [(name, total)]
    else:
        depth = header.shape[stack_axis]
        sizes = [(f"{name}[{index}]", total // depth if depth else 0) for index in range(depth)]

    def chunks(image_name: str, size: int) -> Iterator[np.ndarray]:
        def read(want: int) -> bytes:
            try:
                data = stream.read(want)
            except _DAMAGED_ARCHIVE as error:
                raise InputError(f"{image_name}: damaged .npz member ({error})") from error
            if len(data) != want:
                raise InputError(f"{image_name}: truncated .npz member")
            return data

        return stream_chunks(read, size, header.dtype)

    def image(image_name: str, size: int) -> Image:
        def tally_image(bounds: Bounds, threads: int) -> Tally:
            return tally_chunks(image_name, chunks(image_name, size), bounds, threads)

        return Image(image_name, tally_image)

    # The images are read in order from one stream: each must be tallied before the next.
    for image_name, size in sizes:
        yield image(image_name, size)


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
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def images(self, options: ReadOptions) -> Iterator[Image]:
        mapped = MappedFile(self.path)
        _check_raw_size(self.path, mapped.size, self)
        array = mapped.array(self.dtype, self.shape, self.offset, self.order == "F")
        yield from images_of_array(self.path, array, options.stack_axis, mapped.release)


def raw(
    path: str | os.PathLike,
    dtype: object,
    shape: int | tuple[int, ...],
    *,
    offset: int = 0,
    order: str = "C",
) -> RawFile:
    """Describes a headerless binary label file for `fastweights.count` (memory-mapped when counted).

    The file must hold exactly `offset` bytes of header to skip and then the array: a file of any
    other size is refused.
    """
    path = os.fspath(path)
    try:
        label_dtype = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError as error:
        raise TypeError(f"raw({path!r}): dtype={dtype!r} is not a numpy dtype") from error
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in dims):
        raise ValueError(f"raw({path!r}): shape={shape!r} must be non-negative integers")
    if not isinstance(offset, (int, np.integer)) or offset < 0:
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


def _check_raw_size(path: str, size: int, described: RawFile) -> None:
    expected = described.offset + described.nbytes
    if size != expected:
        raise InputError(
            f"{path}: raw file is {size} bytes, but shape {described.shape} of {described.dtype}"
            f"{f' after {described.offset} header bytes' if described.offset else ''} needs {expected}"
        )
