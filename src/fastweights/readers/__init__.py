"""Readers: a file path -> the images it holds. One module per format family."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Callable

from ..errors import InputError
from ..images import Image, ReadOptions
from .numpy_files import NPY_MAGIC, ZIP_MAGIC, RawFile, open_npy, open_npz, raw

__all__ = ["READERS", "RawFile", "is_mask_file", "open_path", "raw", "supported_extensions"]

Reader = Callable[[str, ReadOptions], Iterator[Image]]

# extension -> (reader, the magic bytes a file of that kind starts with)
READERS: dict[str, tuple[Reader, bytes]] = {
    ".npy": (open_npy, NPY_MAGIC),
    ".npz": (open_npz, ZIP_MAGIC),
}

# Mask formats a folder may hold that this version cannot read yet: listing a folder refuses them
# rather than leave part of a data set out of the count silently.
UNREADABLE_MASK_EXTENSIONS = frozenset(
    [".png", ".tif", ".tiff", ".nii", ".nii.gz", ".h5", ".hdf5", ".zarr", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"]
)


def supported_extensions() -> str:
    return ", ".join(sorted(READERS)) + " and raw binary files through fastweights.raw(path, dtype, shape)"


def extension_of(path: str) -> str:
    lower = path.lower()
    return ".nii.gz" if lower.endswith(".nii.gz") else os.path.splitext(lower)[1]


def is_mask_file(path: str) -> bool:
    """Whether a file found in a folder is a mask to count; refuses masks it cannot read."""
    extension = extension_of(path)
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
    with open(path, "rb") as file:
        start = file.read(len(magic))
    if not start:
        raise InputError(f"{path}: 0-byte file")
    if start != magic:
        raise InputError(f"{path}: not a {extension} file (it does not start with {magic!r})")
    return reader(path, options)
