"""Readers: a file path -> the images it holds. One module per format family."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Callable

from ...base.errors import InputError
from .. import pagecache
from ..images import Image, ReadOptions
from ._magic import check_magic, extension_of, magic_choices
from ._regular import open_regular
from .arrays import open_hdf5
from .lossy import JPEG_MAGIC, open_jpeg
from .nifti import GZIP_MAGIC, NII_MAGICS, open_nifti
from .numpy_files import NPY_MAGIC, ZIP_MAGIC, RawFile, open_npy, open_npz, raw
from .png import PNG_MAGIC, open_png
from .tiff import TIFF_MAGICS, open_tiff

__all__ = [
    "LISTED_EXTENSIONS",
    "READERS",
    "RawFile",
    "extension_of",
    "is_mask_extension",
    "is_mask_file",
    "open_path",
    "raw",
    "supported_extensions",
]

Reader = Callable[[str, ReadOptions], Iterator[Image]]

# extension -> (reader, the magic bytes a file of that kind starts with, or a tuple of the choices)
READERS: dict[str, tuple[Reader, bytes | tuple[bytes, ...]]] = {
    ".npy": (open_npy, NPY_MAGIC),
    ".npz": (open_npz, ZIP_MAGIC),
    ".png": (open_png, PNG_MAGIC),
    ".jpg": (open_jpeg, JPEG_MAGIC),
    ".jpeg": (open_jpeg, JPEG_MAGIC),
    ".tif": (open_tiff, TIFF_MAGICS),
    ".tiff": (open_tiff, TIFF_MAGICS),
    ".nii": (open_nifti, NII_MAGICS),
    ".nii.gz": (open_nifti, GZIP_MAGIC),
}

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# Readers that call check_magic on the bytes they read first: one open() per file, not two.
CHECK_THEIR_OWN_MAGIC = frozenset([open_png, open_npy])


def open_hdf5_file(path: str, options: ReadOptions) -> Iterator[Image]:
    """An HDF5 file named without a dataset."""
    return open_hdf5(path, None, options)


for _extension in (".h5", ".hdf5", ".he5"):
    READERS[_extension] = (open_hdf5_file, HDF5_MAGIC)

# Mask formats a folder may hold that this version cannot read yet: listing a folder refuses them
# rather than leave part of a data set out of the count silently.
UNREADABLE_MASK_EXTENSIONS = frozenset([".bmp", ".gif", ".webp"])


def supported_extensions() -> str:
    return ", ".join(sorted(READERS)) + " and raw binary files through fastweights.raw(path, dtype, shape)"


# The extensions a folder's listing looks for: the readers' and those refused.
LISTED_EXTENSIONS = sorted(READERS) + sorted(UNREADABLE_MASK_EXTENSIONS)


def is_mask_file(path: str) -> bool:
    """Whether a file found in a folder is a mask to count; refuses masks it cannot read."""
    return is_mask_extension(path, extension_of(path))


def is_mask_extension(path: str, extension: str) -> bool:
    """is_mask_file, the extension known."""
    if extension in UNREADABLE_MASK_EXTENSIONS:
        raise InputError(
            f"{path}: {extension} masks cannot be read by this version of fastweights; "
            f"it reads {supported_extensions()}"
        )
    return extension in READERS


def open_path(path: str, options: ReadOptions) -> Iterator[Image]:
    extension = extension_of(path)
    if extension not in READERS:
        raise InputError(
            f"{path}: unknown extension {extension or '(none)'!r}; fastweights reads {supported_extensions()}"
        )
    reader, magic = READERS[extension]
    if reader not in CHECK_THEIR_OWN_MAGIC:
        with open_regular(path) as file:
            check_magic(path, file.read(max(len(m) for m in magic_choices(magic))), magic)
    images = reader(path, options)
    return _dropped_once_read(path, images) if options.drop_behind else images


def _dropped_once_read(path: str, images: Iterator[Image]) -> Iterator[Image]:
    """The images of a file whose pages leave the page cache once the last is counted (or the file is
    refused): the whole file, for the readers that stream it or map only part of it."""
    try:
        yield from images
    finally:
        pagecache.drop(path)
