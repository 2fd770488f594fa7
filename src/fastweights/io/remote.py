"""Masks in object storage and behind URLs (s3://, gs://, az://, http(s)://, any fsspec protocol).

A URL is listed once: a prefix's objects come with their sizes and ETags (or versions) from the
listing itself, not from a request per object. Objects are fetched many at a time (fsspec's async
file systems fetch a batch concurrently) and decoded and counted from memory by the same C++ path as
local files: no temporary file. fsspec is imported only when a URL is met (`pip install
"fastweights[remote]"`); `storage_options` go to it as they are.
"""

from __future__ import annotations

import glob
import io
import math
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base._optional import MissingDependency, require
from ..base.errors import InputError
from ..kernels._tally import Tally
from .images import Image, ReadOptions, array_image, images_of_array
from .readers import is_mask_file, supported_extensions
from .readers._magic import check_magic, extension_of
from .readers.numpy_files import NPY_MAGIC, read_npy_header
from .readers.png import png_images, tally_png_bytes

__all__ = ["RemoteInput", "fetch", "is_url", "list_objects", "tally_objects"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# The formats read from memory; the others are read from files only (their readers map or seek them).
REMOTE_EXTENSIONS = (".npy", ".png")
# Where each file system's listing keeps what changes with the object's content, best first.
_VERSION_KEYS = (
    ("VersionId", "version"),  # s3fs with version_aware=True
    ("generation", "generation"),  # gcsfs
    ("ETag", "etag"),  # s3fs, http(s)
    ("etag", "etag"),  # gcsfs, adlfs
    ("LastModified", "modified"),
    ("Last-Modified", "modified"),  # http(s) without an ETag
    ("last_modified", "modified"),
    ("updated", "modified"),
    ("mtime", "modified"),
)


def is_url(text: str) -> bool:
    """Whether a path names a remote object or prefix: a URL, other than file://."""
    match = _SCHEME.match(text)
    return match is not None and match[1].lower() != "file"


@dataclass(frozen=True)
class RemoteInput:
    url: str  # protocol://bucket/key: the input's name
    path: str  # the same object as its file system names it
    nbytes: int
    version: str | None  # "etag:...", "version:...": with nbytes, what a checkpoint or the cache knows it by
    fs: Any = field(compare=False, repr=False)  # the fsspec file system (pickles as its options)

    @property
    def name(self) -> str:
        return self.url

    def images(self, options: ReadOptions) -> Iterator[Image]:
        _check_readable(self.url)  # before fetching what would be refused
        data = fetch([self])[0]
        if isinstance(data, InputError):
            raise data
        yield from _images_of_bytes(self.url, data, options)


def list_objects(url: str, storage_options: Mapping[str, Any] | None) -> Iterator[RemoteInput]:
    """The objects a URL names: itself, the masks under a prefix (sorted as a local folder's files,
    hidden ones left out), or a glob's matches, each with its size and version from one listing."""
    fs, path = _file_system(url, storage_options)
    try:
        if glob.has_magic(path):
            found = fs.glob(path, detail=True)
            # A folder (prefix) the pattern matches holds masks, as a local folder matched does.
            for name, info in list(found.items()):
                if info.get("type") == "directory":
                    del found[name]
                    found.update(_masks_under(fs.find(name, detail=True), name, fs.unstrip_protocol(name)))
        else:
            found = fs.find(path, detail=True)
            single = len(found) == 1 and _strip(fs, next(iter(found))) == _strip(fs, path)
            if not single:
                found = _masks_under(found, path, url)
        _complete(fs, found)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{url}: {_reason(error, 'no such bucket or container')}") from error
    except PermissionError as error:
        raise PermissionError(f"{url}: access denied when listing it ({_reason(error, 'forbidden')})") from error
    except OSError as error:
        raise OSError(f"{url}: cannot be listed: {_reason(error, type(error).__name__)}") from error
    if not found:
        if glob.has_magic(path):
            raise FileNotFoundError(f"{url}: no object matches this pattern")
        raise FileNotFoundError(f"{url}: no such object or prefix")
    for name in sorted(found, key=lambda key: key.split("/")):
        info = found[name]
        yield RemoteInput(fs.unstrip_protocol(name), name, int(info["size"]), _version(info), fs)


def fetch(items: list[RemoteInput]) -> list[bytes | InputError]:
    """The bytes of each object, fetched concurrently (one call per file system); an InputError
    naming the object in place of one that cannot be read."""
    fetched: dict[int, bytes | InputError] = {}
    groups: dict[int, list[int]] = {}
    for position, item in enumerate(items):
        groups.setdefault(id(item.fs), []).append(position)
    for positions in groups.values():
        fs = items[positions[0]].fs
        # cat_ranges, not cat: cat expands its paths as globs, and a key may hold "*" or "[".
        found = fs.cat_ranges([items[p].path for p in positions], None, None, on_error="return")
        for position, data in zip(positions, found):
            fetched[position] = _checked(items[position], data)
    return [fetched[position] for position in range(len(items))]


def tally_objects(items: list[RemoteInput], options: ReadOptions) -> dict[int, Tally | InputError]:
    """Tallies of the objects (by position) read from memory in C++ (PNG, .npy), fetched in one
    concurrent batch; the others are left to `RemoteInput.images`."""
    if options.stack_axis is not None:
        return {}
    wanted = [position for position, item in enumerate(items) if extension_of(item.url) in REMOTE_EXTENSIONS]
    tallied: dict[int, Tally | InputError] = {}
    for position, data in zip(wanted, fetch([items[position] for position in wanted])):
        url = items[position].url
        try:
            if isinstance(data, InputError):
                raise data
            if extension_of(url) == ".png":
                tallied[position] = tally_png_bytes(url, data, options)
            else:
                (image,) = _images_of_bytes(url, data, options)
                tallied[position] = image.tally(None, 1)
        except InputError as error:
            tallied[position] = error
    return tallied


def _images_of_bytes(url: str, data: bytes, options: ReadOptions) -> Iterator[Image]:
    """The images of a .png or .npy object (`_check_readable` has passed it)."""
    if extension_of(url) == ".png":
        return png_images(url, data, options)
    return _npy_images(url, data, options)


def _check_readable(url: str) -> None:
    """Refuses an object of a format that is read from local files only, or of none."""
    extension = extension_of(url)
    if extension in REMOTE_EXTENSIONS:
        return
    if is_mask_file(url):
        raise InputError(
            f"{url}: {extension} masks are read from local files only; from object storage fastweights reads "
            f"{', '.join(REMOTE_EXTENSIONS)} (copy the others to a local disk)"
        )
    raise InputError(f"{url}: unknown extension {extension or '(none)'!r}; fastweights reads {supported_extensions()}")


def _npy_images(url: str, data: bytes, options: ReadOptions) -> Iterator[Image]:
    """A .npy held in memory: its header checked as a file's, its data viewed, never copied."""
    check_magic(url, data[: len(NPY_MAGIC)], NPY_MAGIC)
    header = read_npy_header(io.BytesIO(data), url, len(data), "the object")
    array = np.frombuffer(data, header.dtype, math.prod(header.shape), header.offset)
    array = array.reshape(header.shape, order="F" if header.fortran else "C")
    if options.stack_axis is None:
        return iter([array_image(url, array)])
    return images_of_array(url, array, options.stack_axis)


def _file_system(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    fsspec = require("fsspec", "remote", f"reading {url}")
    try:
        return fsspec.core.url_to_fs(url, **dict(storage_options or {}))  # type: ignore[no-any-return]
    except ImportError as error:  # the protocol's package (s3fs, gcsfs, adlfs, aiohttp) is missing
        raise MissingDependency(
            f'{url}: {error} (pip install "fastweights[remote]" installs fsspec and s3fs for s3://; '
            "gs:// needs gcsfs, az:// adlfs, http(s):// aiohttp)"
        ) from error
    except ValueError as error:  # an unknown protocol
        raise ValueError(f"{url}: {error}") from error


def _masks_under(found: dict[str, dict[str, Any]], prefix: str, url: str) -> dict[str, dict[str, Any]]:
    """The masks below a prefix, as a local folder's: hidden names at any level left out, formats it
    cannot read refused (is_mask_file), other files left out."""
    start = len(prefix.rstrip("/")) + 1
    kept = {}
    for name, info in found.items():
        relative = name[start:]
        if info.get("type") == "directory" or any(part.startswith(".") for part in relative.split("/")):
            continue
        if is_mask_file(f"{url.rstrip('/')}/{relative}"):  # its refusal names the URL
            kept[name] = info
    if found and not kept:
        raise InputError(f"{url}: holds no masks (fastweights reads {supported_extensions()})")
    return kept


def _complete(fs: Any, found: dict[str, dict[str, Any]]) -> None:
    """Sizes (and ETags) of the objects whose listing gave none: an http(s) page's links, or an
    object that fsspec's find names without its details. One request each, several in flight."""
    missing = [name for name, info in found.items() if info.get("size") is None]
    if not missing:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(missing))) as pool:
        for name, info in zip(missing, pool.map(fs.info, missing)):
            found[name] = {**found[name], **info}
            if info.get("size") is None:
                raise InputError(
                    f"{fs.unstrip_protocol(name)}: the server gives no size for it (no Content-Length), "
                    "which fastweights needs to tell a complete object"
                )


def _strip(fs: Any, path: str) -> str:
    return str(fs._strip_protocol(path)).rstrip("/")


def _version(info: Mapping[str, Any]) -> str | None:
    for key, kind in _VERSION_KEYS:
        value = info.get(key)
        if value not in (None, "", "null"):
            return f"{kind}:{value}"
    return None


def _checked(item: RemoteInput, data: object) -> bytes | InputError:
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) != item.nbytes:
            return InputError(
                f"{item.url}: changed while it was being counted ({item.nbytes:,} bytes when listed, "
                f"{len(data):,} read); count it once it is complete"
            )
        return bytes(data) if not isinstance(data, bytes) else data
    if isinstance(data, FileNotFoundError):
        return InputError(f"{item.url}: cannot be read: the object no longer exists ({_reason(data, 'not found')})")
    if isinstance(data, PermissionError):
        return InputError(f"{item.url}: cannot be read: access denied ({_reason(data, 'forbidden')})")
    if isinstance(data, Exception):
        return InputError(f"{item.url}: cannot be read: {_reason(data, type(data).__name__)}")
    raise TypeError(f"{item.url}: the file system returned {type(data).__name__}, not bytes")


def _reason(error: BaseException, fallback: str) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or fallback
