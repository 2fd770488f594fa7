"""Chunked array stores: HDF5 datasets (h5py) and Zarr arrays and groups, as files or as objects.

A dataset is read a bounded block at a time, never whole when it is bigger than a chunk: blocks
follow the dataset's own chunks (whole chunks along the first axes that fit in CHUNK_BYTES), so
each stored chunk is decompressed once. With `stack_axis`, slabs of whole slices are read along
that axis and each slice is an image; a slice too big for one slab is read in blocks of its own.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...base._optional import require
from ...base.errors import InputError
from ...kernels._chunks import contiguous_chunks
from ..images import CHUNK_BYTES, Image, ReadOptions, check_stack_axis, tally_chunks

__all__ = ["array_like_images", "is_array_like", "is_zarr_store", "open_hdf5", "open_zarr", "split_hdf5_path"]

HDF5_EXTENSIONS = (".h5", ".hdf5", ".he5")
_HDF5_PATH = re.compile(r"(.+?\.(?:h5|hdf5|he5)):(.+)", re.IGNORECASE | re.DOTALL)
_ZARR_METADATA = (".zarray", ".zgroup", "zarr.json")
_LISTED = 10  # datasets named in the message about a missing one
_DAMAGED = "damaged HDF5 metadata"

# What a failed read raises: h5py (OSError for a damaged chunk), zarr and its codecs.
_READ_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError)


def split_hdf5_path(text: str) -> tuple[str, str] | None:
    """("file.h5", "/path/to/dataset") for "file.h5:/path/to/dataset" (.h5, .hdf5, .he5); else None."""
    if ":" not in text:  # most paths: asked once per file listed, so the regex is spared
        return None
    match = _HDF5_PATH.fullmatch(text)
    return (match[1], match[2]) if match else None


def open_hdf5(path: str, dataset: str | None, options: ReadOptions) -> Iterator[Image]:
    """The images of one dataset of an HDF5 file, named "path:dataset". Without a dataset, an error
    that lists them: which one holds the labels is the user's call.

    The file stays open while the images are tallied: tally each before asking for the next."""
    h5py = require("h5py", "hdf5", "reading HDF5 masks")
    try:
        file = h5py.File(path, "r")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({error})") from error
    with file:
        if dataset is None:
            raise InputError(
                f"{path}: an HDF5 file: name the dataset that holds the labels, as {path}:/dataset "
                f"({_listing(file, h5py)})"
            )
        try:
            node = file.get(dataset)
        except (KeyError, TypeError, ValueError):  # a path through a dataset, or a broken link
            node = None
        except (OSError, RuntimeError) as error:  # damaged metadata on the way to it
            raise InputError(f"{path}: {dataset!r} cannot be read: damaged HDF5 metadata ({error})") from error
        if not isinstance(node, h5py.Dataset):
            listing = _listing(file, h5py)
            if node is None and listing.startswith(_DAMAGED):
                raise InputError(f"{path}: {dataset!r} cannot be found: {listing}")
            what = "no such dataset" if node is None else f"{type(node).__name__.lower()}, not a dataset"
            raise InputError(f"{path}: {dataset!r}: {what}; {listing}")
        yield from array_like_images(f"{path}:{dataset}", node, options)


def _check_storage(name: str, node: Any) -> None:
    """Refuses a dataset whose data lives in other files that are missing or short: HDF5 reads
    fill values in their place (a virtual dataset's missing source, an external file's missing
    bytes) without an error, which would be counted as labels."""
    h5py = require("h5py", "hdf5", "reading HDF5 masks")
    path = node.file.filename
    access = node.id.get_access_plist()
    if node.is_virtual:
        here = os.path.dirname(os.path.abspath(path))
        prefix = os.fsdecode(access.get_virtual_prefix() or b"")
        for source in node.virtual_sources():
            if source.file_name == "." or "%" in source.file_name:  # this file; a printf pattern of names
                continue
            found = _located(source.file_name, [prefix, here, os.getcwd()])
            if found is None:
                raise InputError(
                    f"{name}: a virtual dataset whose source {source.file_name} is missing "
                    "(HDF5 would read fill values for it)"
                )
            try:
                with h5py.File(found, "r") as file:
                    present = isinstance(file.get(source.dset_name), h5py.Dataset)
            except OSError as error:
                raise InputError(f"{name}: the virtual dataset's source {found} cannot be read ({error})") from error
            if not present:
                raise InputError(
                    f"{name}: a virtual dataset whose source {found} has no dataset {source.dset_name} "
                    "(HDF5 would read fill values for it)"
                )
    external = node.external
    if external:
        prefix = os.fsdecode(access.get_efile_prefix() or b"").replace(
            "${ORIGIN}", os.path.dirname(os.path.abspath(path))
        )
        for file_name, offset, size in external:
            file_name = os.fsdecode(file_name)
            found = _located(file_name, [prefix, os.getcwd()])
            have = os.path.getsize(found) if found is not None else None
            if have is None or (size != h5py.h5f.UNLIMITED and have < offset + size):
                raise InputError(
                    f"{name}: its external data file {file_name} is "
                    f"{'missing' if have is None else f'{have} bytes, short of the {offset + size} it declares'} "
                    "(HDF5 would read fill values for the missing bytes)"
                )


def _located(file_name: str, folders: list[str]) -> str | None:
    """Where HDF5 finds a file another file names: as named, else (its base name, when the name is
    absolute) in each folder in turn."""
    if os.path.isabs(file_name):
        if os.path.isfile(file_name):
            return file_name
        file_name = os.path.basename(file_name)
    for folder in folders:
        candidate = os.path.join(folder, file_name)
        if folder and os.path.isfile(candidate):
            return candidate
    return None


def _listing(file: Any, h5py: Any) -> str:
    names: list[str] = []
    failed: list[Exception] = []

    def visit(name: str | bytes) -> bool | None:
        # h5py hands over a name that is not UTF-8 as bytes, and turns an exception raised here into
        # a SystemError: the visit is stopped by returning True, and the error kept.
        key = name if isinstance(name, bytes) else name.encode()
        try:
            # Only objects that hard or soft links reach in this file: a listing opens no other file.
            # The link's type from the link itself: h5py's get(getclass=True) first asks HDF5 for
            # the info of each group on the path, the walk that never ends (below).
            if file.id.links.get_info(key).type != h5py.h5l.TYPE_EXTERNAL and isinstance(file.get(key), h5py.Dataset):
                names.append("/" + (name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else name))
        except _READ_ERRORS as error:
            failed.append(error)
            return True
        return len(names) > _LISTED or None  # True stops the visit

    try:
        # Links, not objects (visititems): HDF5's object visit asks each group for the size of its
        # metadata, and on a damaged symbol table whose B-tree nodes point back to each other that
        # walk never ends (found by the fuzz suite); the link visit asks for no such size.
        file.visit_links(visit)
        if failed:
            raise failed[0]
    except _READ_ERRORS as error:  # damaged metadata: HDF5 gives up the visit
        found = f" (found before it: {', '.join(names[:_LISTED])})" if names else ""
        return f"{_DAMAGED} ({error}); its datasets cannot be listed{found}"
    if not names:
        return "the file holds no datasets"
    more = ", ..." if len(names) > _LISTED else ""
    return f"the file holds the datasets {', '.join(names[:_LISTED])}{more}"


def is_zarr_store(path: str) -> bool:
    """A folder holding Zarr metadata (.zarray, .zgroup, zarr.json), or any folder named *.zarr."""
    if not os.path.isdir(path):
        return False
    if path.rstrip("/" + os.sep).lower().endswith(".zarr"):
        return True
    return any(os.path.exists(os.path.join(path, name)) for name in _ZARR_METADATA)


def open_zarr(path: str, options: ReadOptions) -> Iterator[Image]:
    """The images of a Zarr store: its array, or every array of its group (and subgroups), sorted
    by name, each named "store.zarr/name"."""
    zarr = require("zarr", "zarr", "reading Zarr masks")
    try:
        node = zarr.open(path, mode="r")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a readable Zarr store ({error})") from error
    if is_array_like(node):
        yield from array_like_images(path, node, options)
        return
    arrays = sorted(_zarr_arrays(node, ""), key=lambda item: item[0])
    if not arrays:
        raise InputError(f"{path}: the Zarr group holds no arrays")
    store = path.rstrip("/" + os.sep)
    for name, array in arrays:
        yield from array_like_images(f"{store}/{name}", array, options)


def _zarr_arrays(group: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for name, array in group.arrays():
        yield prefix + name, array
    for name, subgroup in group.groups():
        yield from _zarr_arrays(subgroup, f"{prefix}{name}/")


def is_array_like(obj: object) -> bool:
    """An h5py Dataset or a zarr Array (told apart without importing h5py or zarr)."""
    kind = type(obj)
    root = (kind.__module__ or "").partition(".")[0]
    return root in ("h5py", "zarr") and all(hasattr(kind, name) for name in ("shape", "dtype", "__getitem__"))


def array_like_images(name: str, obj: Any, options: ReadOptions) -> Iterator[Image]:
    """The images of an array-like object (h5py Dataset, zarr Array): read in bounded blocks."""
    if type(obj).__module__.partition(".")[0] == "h5py":
        _check_storage(name, obj)
    dtype = np.dtype(obj.dtype)
    if dtype.kind not in "biuf":
        raise InputError(f"{name}: dtype {dtype} cannot hold labels (expected integers, bool or integral floats)")
    if obj.shape is None:  # an HDF5 dataset with an empty dataspace
        raise InputError(f"{name}: the dataset holds no data (an empty dataspace)")
    shape = tuple(int(n) for n in obj.shape)
    stack_axis = options.stack_axis
    check_stack_axis(name, shape, stack_axis)
    chunks = _chunk_shape(obj, shape)
    if stack_axis is None:
        yield _block_image(name, obj, shape, chunks, dtype.itemsize, None)
        return
    axis = stack_axis % len(shape)
    slice_bytes = int(np.prod(_without(shape, axis), dtype=np.int64)) * dtype.itemsize
    if chunks[axis] * slice_bytes <= CHUNK_BYTES:
        yield from _slab_images(name, obj, shape, chunks[axis], axis, slice_bytes)
    else:
        for index in range(shape[axis]):
            yield _block_image(f"{name}[{index}]", obj, shape, chunks, dtype.itemsize, (axis, index))


def _chunk_shape(obj: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The stored chunk shape (1 along every axis for a contiguous dataset), within the shape."""
    try:
        chunks = getattr(obj, "chunks", None)
    except (NotImplementedError, ValueError, TypeError):
        chunks = None
    if not isinstance(chunks, tuple) or len(chunks) != len(shape):
        chunks = (1,) * len(shape)
    return tuple(max(1, min(int(c), n)) for c, n in zip(chunks, shape))


def _without(items: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return items[:axis] + items[axis + 1 :]


def block_steps(shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int, budget: int) -> tuple[int, ...]:
    """Block extents: whole along the last axes, a multiple of the chunk along the first axis that
    does not fit whole; at least one chunk (a stored chunk is decompressed whole anyway)."""
    steps = list(shape)
    outer = 1  # elements of a block across the axes already cut
    for axis, (length, chunk) in enumerate(zip(shape, chunks)):
        inner = int(np.prod(shape[axis + 1 :], dtype=np.int64)) * itemsize
        fit = budget // max(outer * inner, 1)
        if fit >= length:
            break
        if fit >= chunk:
            steps[axis] = fit // chunk * chunk
            break
        steps[axis] = chunk
        outer *= chunk
    return tuple(steps)


def _blocks(shape: tuple[int, ...], steps: tuple[int, ...]) -> Iterator[tuple[slice, ...]]:
    starts = (range(0, length, max(step, 1)) for length, step in zip(shape, steps))
    for corner in itertools.product(*starts):
        yield tuple(slice(s, min(s + step, n)) for s, step, n in zip(corner, steps, shape))


def _read_block(name: str, obj: Any, index: tuple[Any, ...]) -> np.ndarray:
    """One read from the store (the only one: tests count them)."""
    try:
        return np.asarray(obj[index])
    except _READ_ERRORS as error:
        raise InputError(f"{name}: cannot read {_show(index)} ({error})") from error


def _show(index: tuple[Any, ...]) -> str:
    parts = [f"{i.start}:{i.stop}" if isinstance(i, slice) else str(i) for i in index]
    return f"[{', '.join(parts)}]"


def _block_image(
    name: str, obj: Any, shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int, fixed: tuple[int, int] | None
) -> Image:
    """An image read block by block: the whole array, or the slice `fixed` = (axis, index)."""
    region = shape if fixed is None else _without(shape, fixed[0])
    steps = block_steps(region, chunks if fixed is None else _without(chunks, fixed[0]), itemsize, CHUNK_BYTES)

    def blocks() -> Iterator[np.ndarray]:
        for block in _blocks(region, steps):
            index: tuple[Any, ...] = block
            if fixed is not None:
                index = (*block[: fixed[0]], fixed[1], *block[fixed[0] :])
            yield np.ascontiguousarray(_read_block(name, obj, index)).reshape(-1)

    return Image(name, lambda bounds, threads: tally_chunks(name, blocks(), bounds, threads))


def _slab_images(
    name: str, obj: Any, shape: tuple[int, ...], chunk: int, axis: int, slice_bytes: int
) -> Iterator[Image]:
    """One image per slice along `axis`, read in slabs of whole chunks along it, each read once
    when the images are tallied in order."""
    depth = shape[axis]
    step = max(chunk, CHUNK_BYTES // max(slice_bytes, 1) // chunk * chunk)
    held: list[tuple[int, np.ndarray] | None] = [None]  # the last slab read: (its first slice, its data)
    max_elements = max(1, CHUNK_BYTES // max(np.dtype(obj.dtype).itemsize, 1))

    def slab_slice(index: int) -> np.ndarray:
        start = index // step * step
        current = held[0]
        if current is None or current[0] != start:
            held[0] = None  # drop the old slab before reading the next
            selection = tuple(
                slice(start, min(start + step, depth)) if a == axis else slice(None) for a in range(len(shape))
            )
            current = (start, _read_block(name, obj, selection))
            held[0] = current
        return current[1][(slice(None),) * axis + (index - start,)]

    def image(index: int) -> Image:
        image_name = f"{name}[{index}]"

        def chunks() -> Iterator[np.ndarray]:
            for part, _ in contiguous_chunks(slab_slice(index), max_elements):
                yield part

        return Image(image_name, lambda bounds, threads: tally_chunks(image_name, chunks(), bounds, threads))

    for index in range(depth):
        yield image(index)
