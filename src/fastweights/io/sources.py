"""What the user passed -> an ordered list of inputs: files (folders walked recursively and
sorted, globs expanded, duplicates dropped, symlink loops refused), objects behind URLs (listed
once, through fsspec: `remote`), arrays, raw files and COCO annotations (one input per image)."""

from __future__ import annotations

import errno
import glob
import os
import stat
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .. import _core
from ..base.errors import InputError
from ._device_layout import Layout
from .coco import CocoInstances, CocoPanoptic, InstanceImage, PanopticImage, RefusedInput
from .colormaps import colour_image
from .device import current
from .images import Image, ReadOptions, images_of_array
from .readers import (
    LISTED_EXTENSIONS,
    READERS,
    RawFile,
    extension_of,
    is_mask_extension,
    open_path,
    supported_extensions,
)
from .readers._regular import not_a_regular_file, special_kind
from .readers.arrays import array_like_images, is_array_like, is_zarr_store, open_hdf5, open_zarr, split_hdf5_path
from .readers.small_files import batch_kind
from .remote import RemoteInput, is_url, list_objects

_list_folder = getattr(_core, "list_folder", None)  # POSIX
# By the position of an extension in LISTED_EXTENSIONS: those of the readers come first.
_LISTED_CODES = {extension: code for code, extension in enumerate(LISTED_EXTENSIONS)}
_READABLE = [extension in READERS for extension in LISTED_EXTENSIONS]
_BATCH_KINDS = [batch_kind(extension) for extension in LISTED_EXTENSIONS]
S_ISDIR, S_ISREG = stat.S_ISDIR, stat.S_ISREG

__all__ = ["Input", "RemoteInput", "expand", "is_device_array", "iter_inputs"]


class FileInput:
    """A mask file: its path, and its size and modification time when it was listed (what the cache
    and the batch reader recognise it by). `batch`: the C++ batch reader's kind of file, or None.
    A plain class with slots, not a dataclass: a folder of a million tiles makes a million of them,
    and a frozen dataclass took three times as long to make."""

    __slots__ = ("batch", "mtime_ns", "nbytes", "path")

    def __init__(self, path: str, nbytes: int, mtime_ns: int = 0, batch: int | None = None) -> None:
        self.path, self.nbytes, self.mtime_ns, self.batch = path, nbytes, mtime_ns, batch

    def _key(self) -> tuple[str, int, int, int | None]:
        return self.path, self.nbytes, self.mtime_ns, self.batch

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileInput) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"FileInput({self.path!r}, {self.nbytes}, {self.mtime_ns}, {self.batch})"

    @property
    def name(self) -> str:
        return self.path

    def images(self, options: ReadOptions) -> Iterator[Image]:
        return open_path(self.path, options)


@dataclass(frozen=True)
class NotAFileInput:
    """A path with a mask's name that is not a regular file (a FIFO, a device, a broken link):
    refused without opening it, since opening a FIFO waits for a writer that may never come."""

    path: str
    kind: str
    nbytes: int = 0

    @property
    def name(self) -> str:
        return self.path

    def images(self, options: ReadOptions) -> Iterator[Image]:
        raise not_a_regular_file(self.path, self.kind)


@dataclass(frozen=True)
class ArrayInput:
    array: np.ndarray
    name: str

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def images(self, options: ReadOptions) -> Iterator[Image]:
        if options.colormap is not None and self.array.dtype == np.uint8 and self.array.shape[-1:] == (3,):
            # With a colormap, an (..., 3) uint8 array is a colour mask.
            yield colour_image(self.name, self.array, options)
            return
        yield from images_of_array(self.name, self.array, options.stack_axis)


@dataclass(frozen=True)
class RawInput:
    raw: RawFile

    @property
    def name(self) -> str:
        return self.raw.path

    @property
    def nbytes(self) -> int:
        return self.raw.nbytes

    def images(self, options: ReadOptions) -> Iterator[Image]:
        return self.raw.images(options)


@dataclass(frozen=True)
class HDF5Input:
    path: str
    dataset: str
    nbytes: int

    @property
    def name(self) -> str:
        return f"{self.path}:{self.dataset}"

    def images(self, options: ReadOptions) -> Iterator[Image]:
        return open_hdf5(self.path, self.dataset, options)


@dataclass(frozen=True)
class ZarrInput:
    path: str
    # Unknown without opening the store: count it as a big input, with every thread on its chunks.
    nbytes: int = 1 << 62

    @property
    def name(self) -> str:
        return self.path

    def images(self, options: ReadOptions) -> Iterator[Image]:
        return open_zarr(self.path, options)


@dataclass(frozen=True)
class ArrayLikeInput:
    """An h5py dataset or a zarr array passed in: read a block at a time, never whole."""

    array: Any
    name: str

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.array.shape, dtype=np.int64)) * int(np.dtype(self.array.dtype).itemsize)

    def images(self, options: ReadOptions) -> Iterator[Image]:
        return array_like_images(self.name, self.array, options)


@dataclass(frozen=True)
class DeviceArrayInput:
    """A CUDA device array (CuPy, a PyTorch CUDA tensor, a numba device array): counted on its GPU."""

    array: Any
    name: str

    @property
    def nbytes(self) -> int:
        layout = Layout.of(self.array)
        return layout.size * layout.dtype.itemsize

    def images(self, options: ReadOptions) -> Iterator[Image]:
        if options.colormap is not None:
            raise InputError(f"{self.name}: colour masks are read on the host; pass the array as a numpy array")
        device = current()
        if device is None:
            raise TypeError(f"{self.name}: a CUDA device array is counted by fastweights.count, which picks its GPU")
        return device.device_images(self.name, self.array, options.stack_axis)


Input = Union[
    FileInput,
    NotAFileInput,
    ArrayInput,
    RawInput,
    HDF5Input,
    ZarrInput,
    ArrayLikeInput,
    DeviceArrayInput,
    PanopticImage,
    InstanceImage,
    RefusedInput,
    RemoteInput,
]
StorageOptions = Union[Mapping[str, Any], None]


def expand(inputs: object, storage_options: StorageOptions = None) -> list[Input]:
    """The inputs in order: each file and array once, folders' files sorted."""
    expanded = list(iter_inputs(inputs, storage_options))
    if not expanded:
        raise ValueError("inputs: nothing to count (an empty list)")
    return expanded


def iter_inputs(inputs: object, storage_options: StorageOptions = None) -> Iterator[Input]:
    """The inputs in order, as they are found: counting can start before a big folder is listed.
    Folders are walked in tree order, each folder's entries sorted by name; a URL's objects are
    listed through fsspec, with `storage_options`."""
    if _is_single(inputs):
        inputs = [inputs]
    if not isinstance(inputs, Iterable):
        raise TypeError(f"inputs: expected a path, folder, glob, array or a list of them, got {type(inputs).__name__}")
    seen_files: set[tuple[int, int]] = set()
    seen_objects: set[str] = set()
    arrays = 0
    for position, item in enumerate(inputs):
        if isinstance(item, (str, os.PathLike)):
            text = os.fspath(item)
            if is_url(text):
                for remote in list_objects(text, storage_options):
                    if remote.url not in seen_objects:
                        seen_objects.add(remote.url)
                        yield remote
                continue
            hdf5 = split_hdf5_path(text)
            if hdf5 is not None and not os.path.exists(text):
                yield HDF5Input(*hdf5, _size(hdf5[0]))
                continue
            yield from _inputs_of(text, seen_files)
        elif is_device_array(item):
            yield DeviceArrayInput(item, f"<array {arrays}>")
            arrays += 1
        elif is_array_like(item):
            yield ArrayLikeInput(item, _array_like_name(item, arrays))
            arrays += 1
        elif isinstance(item, RawFile):
            yield RawInput(item)
        elif isinstance(item, (CocoPanoptic, CocoInstances)):
            yield from item.inputs()
        elif isinstance(item, np.ndarray) or hasattr(item, "__array__"):
            yield ArrayInput(np.asarray(item), f"<array {arrays}>")
            arrays += 1
        else:
            raise TypeError(
                f"inputs[{position}]: expected a path, folder, glob, numpy array, fastweights.raw(...) or "
                f"fastweights.coco_panoptic / coco_instances(...), got {type(item).__name__}"
            )


def file_paths(items: list[Input], who: str) -> list[str]:
    """The paths (or URLs) of listed inputs that another process will open itself; arrays cannot go there."""
    paths = []
    for item in items:
        if isinstance(item, FileInput):
            paths.append(item.path)
        elif isinstance(item, RemoteInput):
            paths.append(item.url)
        else:
            raise TypeError(f"{who} counts files: pass paths, folders, globs or URLs, not arrays")
    return paths


def is_device_array(obj: object) -> bool:
    """A CUDA device array: anything with `__cuda_array_interface__` (CuPy, a PyTorch CUDA tensor),
    or a numba device array (the CUDA simulator's too), told apart without importing any of them."""
    if hasattr(type(obj), "__cuda_array_interface__"):
        try:
            if getattr(obj, "__cuda_array_interface__", None) is not None:
                return True
        except Exception:  # a PyTorch CPU tensor raises when asked
            pass
    module = type(obj).__module__ or ""
    return module.startswith("numba.cuda") and hasattr(obj, "copy_to_host")


def _is_single(inputs: object) -> bool:
    return (
        isinstance(inputs, (str, os.PathLike, np.ndarray, RawFile, CocoPanoptic, CocoInstances))
        or is_device_array(inputs)
        or is_array_like(inputs)
        or (hasattr(inputs, "__array__") and not isinstance(inputs, (list, tuple)))
    )


# What the listing knows of a file, following symbolic links: its mode, size, modification time and
# (device, inode); None for a broken symbolic link.
Facts = Union[tuple[int, int, int, tuple[int, int]], None]


def _facts(info: os.stat_result) -> Facts:
    return info.st_mode, info.st_size, info.st_mtime_ns, (info.st_dev, info.st_ino)


def _kind(facts: Facts) -> str:
    return "broken symbolic link" if facts is None else special_kind(facts[0])


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _array_like_name(array: Any, position: int) -> str:
    file = getattr(getattr(array, "file", None), "filename", None)  # h5py
    return f"{file}:{array.name}" if file else f"<{type(array).__name__} {position}>"


def _inputs_of(path: str, seen_files: set[tuple[int, int]]) -> Iterator[Input]:
    """The inputs a path names: itself, a folder's masks, or a glob's matches; a file met before
    under another name (`seen_files`: device and inode) is left out."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if glob.has_magic(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{path}: no file matches this pattern") from None
            for match in matches:
                yield from _inputs_of(match, seen_files)
            return
        raise FileNotFoundError(f"{path}: no such file or folder") from None
    if not stat.S_ISDIR(info.st_mode) or is_zarr_store(path):
        yield from _input(path, _facts(info), seen_files)
        return
    if not (yield from _walk(path, seen_files)):
        raise InputError(f"{path}: folder holds no masks (fastweights reads {supported_extensions()})")


def _input(path: str, facts: Facts, seen_files: set[tuple[int, int]]) -> Iterator[Input]:
    """The input of one path found, unless its file was met before under another name."""
    if facts is None or not (S_ISREG(facts[0]) or S_ISDIR(facts[0])):
        yield NotAFileInput(path, _kind(facts))
        return
    mode, size, mtime_ns, identity = facts
    if identity not in seen_files:
        seen_files.add(identity)
        # Folders were walked: a folder here is a Zarr store.
        yield ZarrInput(path) if S_ISDIR(mode) else FileInput(path, size, mtime_ns, batch_kind(path))


def _walk(
    folder: str, seen_files: set[tuple[int, int]], ancestors: tuple[tuple[int, int], ...] = ()
) -> Generator[Input, None, int]:
    """The inputs below `folder`, following symbolic links but refusing a link back to an ancestor;
    each folder's entries in name order, hidden ones left out. Returns how many masks it met (those
    met before under another name too)."""
    met = 0
    info = os.stat(folder)
    identity = (info.st_dev, info.st_ino)
    if identity in ancestors:
        raise InputError(f"{folder}: symbolic link loop (this folder contains itself)")
    for path, error, facts, code in _entries(folder):
        if facts is not None and S_ISDIR(facts[0]):
            if is_zarr_store(path):
                met += 1
                yield from _input(path, facts, seen_files)
            else:
                met += yield from _walk(path, seen_files, (*ancestors, identity))
        elif code >= 0 and _READABLE[code]:
            met += 1
            if error and error != errno.ENOENT:
                raise OSError(error, os.strerror(error), path)
            if facts is not None and S_ISREG(facts[0]):  # most entries: made here, without a call
                if facts[3] not in seen_files:
                    seen_files.add(facts[3])
                    yield FileInput(path, facts[1], facts[2], _BATCH_KINDS[code])
            elif facts is None and not os.path.lexists(path):  # stat'ed after its name was read
                yield NotAFileInput(path, "file removed while its folder was being listed")
            else:  # a FIFO or a broken link with a mask's name too: refused
                yield NotAFileInput(path, _kind(facts))
        elif code >= 0:
            is_mask_extension(path, LISTED_EXTENSIONS[code])  # refuses the masks this version cannot read
    return met


# Entries stat'ed at a time by the C++ listing: a big folder's first files are counted while its
# later ones are stat'ed (a stat costs about as much as reading a tiny file). On 100,000 tiny .npy
# files in one folder, two threads took 0.72 s a count stat'ing every entry first, 0.61 s so.
STAT_STRETCH = 1024


def _entries(folder: str) -> Iterator[tuple[str, int, Facts, int]]:
    """A folder's entries by name, hidden ones left out: path, errno of its stat (following links)
    or 0, what it knows of the entry, and the position of its extension in LISTED_EXTENSIONS (-1 for
    none of them). Read in one pass in C++ where the extension module lists folders (POSIX), and
    stat'ed STAT_STRETCH entries at a time as they are asked for; else os.scandir."""
    if _list_folder is not None:
        listed = _list_folder(folder, LISTED_EXTENSIONS)
        for start in range(0, len(listed), STAT_STRETCH):
            yield from listed.entries(start, start + STAT_STRETCH)
        return
    entries = []
    with os.scandir(folder) as scanned:
        for entry in sorted(scanned, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            code = _LISTED_CODES.get(extension_of(entry.path), -1)
            try:
                entries.append((entry.path, 0, _facts(entry.stat()), code))
            except OSError as error:
                entries.append((entry.path, error.errno or errno.EIO, None, code))
    yield from entries
