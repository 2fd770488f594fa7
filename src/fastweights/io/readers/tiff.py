"""TIFF masks (.tif, .tiff; classic TIFF and BigTIFF, either byte order), through tifffile.

An uncompressed series stored contiguously is memory-mapped and counted in chunks, like a .npy,
once every page's own IFD (as check_tiff read it) agrees with the first page and puts its pixels
where the map reads them.
Anything else is decoded one page at a time (a page bigger than a chunk: strip by strip or tile by
tile), so memory stays bounded by a page or a chunk, never the whole volume. A multi-page series
is one image (a volume) unless `stack_axis` makes each slice one.

Each image carries its series' voxel size, when the tags give one (docs/count.md): the pixel width
and height are 1 / XResolution and 1 / YResolution in the unit of ResolutionUnit (inch, the
default, or centimetre; tifffile's millimetre and micrometre codes too), or of the ImageJ
description's `unit` in an ImageJ file; a stack of ImageJ slices adds the description's `spacing`
as depth. A series of several pages with no ImageJ slice spacing, a unit of none or one not known,
or a resolution that is not a positive number give no size.
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...base._optional import require
from ...base.errors import InputError
from ...kernels._tally import Tally, merge_all
from ...model.voxels import VoxelSize
from ..colormaps import rgb_tally
from ..images import (
    CHUNK_BYTES,
    Bounds,
    Image,
    ReadOptions,
    check_stack_axis,
    images_of_array,
    tally_chunks,
    with_voxel,
)
from ._mapped import MappedFile
from ._regular import open_regular
from ._tiff_rules import Layout, check_tiff

__all__ = ["TIFF_MAGICS", "open_tiff"]

# Little- and big-endian classic TIFF, then little- and big-endian BigTIFF.
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

# Codecs whose decoded values may differ from the labels that were encoded (JPEG, JPEG 2000,
# JPEG XR, JPEG XL and WebP also have lossless modes that a TIFF tag does not tell apart: a mask
# is too easily damaged by them to count one without being told to).
_LOSSY_CODEC = re.compile(r"JPEG|JP2000|WEBP|LERC|SGILOG")

# What a damaged file raises from tifffile's parser or from imagecodecs' decoders.
_DAMAGED = (ValueError, RuntimeError, NotImplementedError, struct.error, IndexError, KeyError, EOFError, TypeError)


def open_tiff(path: str, options: ReadOptions) -> Iterator[Image]:
    """The images of a TIFF file: each series one image (or one per slice along `stack_axis`).

    The file stays open while the images are tallied: tally each before asking for the next."""
    tifffile = require("tifffile", "tiff", "reading TIFF masks")
    with open_regular(path) as file:
        start = file.read(4)
        if start not in TIFF_MAGICS:
            raise InputError(f"{path}: not a TIFF file (it does not start with {' or '.join(map(repr, TIFF_MAGICS))})")
        # Before tifffile reads anything: it is lenient with damaged files, a count must not be.
        layouts, chain = check_tiff(path, file, os.fstat(file.fileno()).st_size)
    try:
        tif = tifffile.TiffFile(path)
    except _DAMAGED as error:
        raise InputError(f"{path}: damaged TIFF file ({error})") from error
    with tif:
        try:
            series = [s for s in tif.series if s is not None and len(s) and s.keyframe is not None]
        except _DAMAGED as error:
            raise InputError(f"{path}: damaged TIFF file ({error})") from error
        full = [s for s in series if not s.keyframe.is_reduced]
        series = full or series  # thumbnails and reduced-resolution pages are not masks
        if not series:
            raise InputError(f"{path}: the TIFF file holds no image")
        if tif.is_shaped:
            _check_shaped(tifffile, series, path)
        for index, one in enumerate(series):
            name = path if len(series) == 1 else f"{path}:series{index}"
            images = _series_images(tif, one, name, path, options, layouts, chain)
            yield from with_voxel(images, _voxel_size(tif, one))


# ResolutionUnit -> mm per unit: inch (the TIFF default), centimetre; 4 and 5 are the millimetre
# and micrometre codes tifffile reads and some microscopes write. 1 (none) has no length.
_RESOLUTION_UNITS = {2: 25.4, 3: 10.0, 4: 1.0, 5: 1e-3}
# The `unit` of an ImageJ description -> mm per unit ("pixel", ImageJ's default, has no length).
_IMAGEJ_UNITS = {
    "nm": 1e-6,
    "um": 1e-3,
    "µm": 1e-3,
    "\\u00b5m": 1e-3,
    "micron": 1e-3,
    "microns": 1e-3,
    "mm": 1.0,
    "cm": 10.0,
    "m": 1000.0,
    "inch": 25.4,
}


def _voxel_size(tif: Any, series: Any) -> VoxelSize | None:
    """The series' pixel width and height (and, for ImageJ slices, their spacing) in mm, or None."""
    tags = series.keyframe.tags
    x_tag, y_tag = tags.get("XResolution"), tags.get("YResolution")
    if x_tag is None or y_tag is None:
        return None
    try:
        imagej = tif.imagej_metadata if tif.is_imagej else None
    except _DAMAGED:
        imagej = None
    if imagej is not None and "unit" in imagej:
        scale = _IMAGEJ_UNITS.get(str(imagej["unit"]).strip().lower())
    else:
        unit = tags.get("ResolutionUnit")
        scale = _RESOLUTION_UNITS.get(2 if unit is None else int(unit.value))
    if scale is None:
        return None
    lengths = [scale / _rational(x_tag.value), scale / _rational(y_tag.value)]
    if imagej is None:
        if len(series) > 1:  # pages of a stack, at a depth no tag gives
            return None
    else:
        slices = _number(imagej.get("slices", 1))
        if slices != 1:  # slices `spacing` apart: either missing or damaged (nan) leaves no size
            lengths.append(_number(imagej.get("spacing")) * scale if slices > 1 else math.nan)
    if not all(math.isfinite(length) and length > 0 for length in lengths):
        return None
    return tuple(lengths)


def _number(value: Any) -> float:
    """A value of an ImageJ description as a float; nan when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _rational(value: Any) -> float:
    """A TIFF RATIONAL (numerator, denominator) as a float; nan when it is not a positive one."""
    try:
        numerator, denominator = (float(part) for part in value)
    except (TypeError, ValueError):
        return math.nan
    return numerator / denominator if numerator > 0 and denominator > 0 else math.nan


def _check_shaped(tifffile: Any, series: list[Any], path: str) -> None:
    """A file tifffile wrote with its shape in the description: its pages must make that shape.

    Where they do not, tifffile logs it and falls back on the pages' own sizes: the tags or the
    description were damaged, and which one is right cannot be told."""
    for one in series:
        shape = tuple(int(n) for n in one.get_shape(False))
        described = one.keyframe.shaped_description
        if one.kind != "shaped" or described is None:
            raise InputError(
                f"{path}: damaged TIFF: its pages do not make the image shape that its description "
                "(written by tifffile) gives"
            )
        try:
            metadata = tifffile.tifffile.shaped_description_metadata(described)
            wanted = tuple(int(n) for n in metadata["shape"])
        except _DAMAGED as error:
            raise InputError(f"{path}: damaged TIFF: its description (written by tifffile) is unreadable") from error
        if wanted != shape:
            raise InputError(
                f"{path}: damaged TIFF: its description (written by tifffile) gives the image shape "
                f"{wanted}, its pages make {shape}"
            )
        if one.is_truncated and not metadata.get("truncated"):
            raise InputError(
                f"{path}: damaged TIFF: its description (written by tifffile) gives the image shape "
                f"{wanted}, but the file has fewer pages and does not say it was written truncated"
            )


def _codec(keyframe: Any) -> str:
    try:
        return str(keyframe.compression.name)
    except AttributeError:  # a code tifffile does not name
        return str(keyframe.compression)


def _series_images(
    tif: Any,
    series: Any,
    name: str,
    path: str,
    options: ReadOptions,
    layouts: dict[int, Layout],
    chain: list[int],
) -> Iterator[Image]:
    keyframe = series.keyframe
    starts = _page_starts(series, layouts, chain, name)
    codec = _codec(keyframe)
    if _LOSSY_CODEC.search(codec) and not options.allow_lossy:
        raise InputError(
            f"{name}: compressed with {codec}, a lossy codec that alters labels near region edges; "
            "save the masks losslessly (uncompressed, deflate, LZW, zstd) or pass allow_lossy=True "
            "to count it anyway"
        )
    if series.dtype is None:
        raise InputError(f"{name}: a TIFF sample format tifffile cannot read (compression {codec})")
    shape = tuple(int(n) for n in series.shape)
    stack_axis = options.stack_axis
    check_stack_axis(name, shape, stack_axis)
    colour = "S" in keyframe.axes
    if not colour and _mappable(series, keyframe, starts):
        dtype = np.dtype(tif.byteorder + series.dtype.char)
        mapped = MappedFile(path, options.drop_behind)
        end = series.dataoffset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if mapped.size < end:
            raise InputError(f"{name}: truncated TIFF: its image data needs {end} bytes, the file has {mapped.size}")
        array = mapped.array(dtype, shape, series.dataoffset, False)
        yield from images_of_array(name, array, stack_axis, mapped.release)
        return
    # Decoded page by page: the series' leading axes index its pages.
    lead_shape = shape[: len(shape) - len(keyframe.shape)]
    if int(np.prod(lead_shape, dtype=np.int64)) != len(series):  # an unusual squeeze: pages in a row
        lead_shape = (len(series),)
        if stack_axis is not None:
            raise InputError(f"{name}: pages of shape {keyframe.shape} do not tile the series shape {shape}")
    axis = None if stack_axis is None else stack_axis % len(shape)
    if colour:
        yield from _colour_images(series, name, shape, lead_shape, axis, options)
        return
    if axis is not None and axis >= len(lead_shape):
        # Slices across the pages: each needs a part of every page, so the series is decoded
        # once, whole, rather than every page once per slice.
        try:
            array = series.asarray(maxworkers=1)
        except _DAMAGED as error:
            raise InputError(f"{name}: damaged TIFF data ({error})") from error
        yield from images_of_array(name, array.reshape(shape), stack_axis)
        return
    for image_name, pages in _page_groups(name, len(series), lead_shape, axis):
        yield _pages_image(image_name, series, pages)


def _page_starts(series: Any, layouts: dict[int, Layout], chain: list[int], name: str) -> list[tuple[int, int | None]]:
    """(page index, where its pixels start if stored uncompressed as one run) for each page with an IFD.

    tifffile reads the later pages of a series by the first page's tags (and maps a contiguous
    series by the first page's data offset), so every page's own IFD must agree with the first's:
    one that does not is refused, never counted as what the first page's tags would make of it."""
    first = layouts.get(series.keyframe.offset)
    starts: list[tuple[int, int | None]] = []
    for index, offset in enumerate(_page_offsets(series, chain, name)):
        if offset <= 0:  # a virtual frame, with no IFD: tifffile places it after the one before
            continue
        layout = layouts.get(offset)
        if layout is None or first is None:
            raise InputError(f"{name}: page {index} of the series is not in the file's chain of IFDs")
        differences = layout.differences(first)
        if differences:
            raise InputError(
                f"{name}: page {index} of the series differs from its first page in {', '.join(differences)}; "
                "the pages of one image must agree"
            )
        starts.append((index, layout.start))
    return starts


def _page_offsets(series: Any, chain: list[int], name: str) -> Iterator[int]:
    """The offset of each page's IFD (0 or less: a virtual frame).

    A series tifffile holds as its first page only (a contiguous one: tifffile skips reading the
    other IFDs) is the following pages of the main chain, as tifffile itself reads them: those come
    from the offsets the checks already walked, rather than from tifffile reading every IFD again
    (for a volume of thousands of pages, most of the time of the count). tifffile has no public
    word for such a series (its private `_pages`); without it, every page is asked of tifffile."""
    loaded = getattr(series, "_pages", None)
    first = loaded[0].index if loaded else None
    if loaded is not None and len(loaded) == 1 < len(series) and isinstance(first, int):
        if first + len(series) > len(chain):
            raise InputError(
                f"{name}: the series has {len(series)} pages, but the file's chain of IFDs ends after "
                f"{len(chain) - first} of them"
            )
        yield from chain[first : first + len(series)]
        return
    for index in range(len(series)):
        yield _page(series, index, name).offset


def _mappable(series: Any, keyframe: Any, starts: list[tuple[int, int | None]]) -> bool:
    """Whether the series is uncompressed and every page's pixels lie where one map of it reads them."""
    offset = series.dataoffset
    if offset is None or not (
        keyframe.is_memmappable and keyframe.bitspersample == series.dtype.itemsize * 8 and series.dtype.kind in "biuf"
    ):
        return False
    page_bytes = int(keyframe.nbytes)
    return all(start == offset + index * page_bytes for index, start in starts)


def _page_groups(
    name: str, n_pages: int, lead_shape: tuple[int, ...], axis: int | None
) -> Iterator[tuple[str, list[int]]]:
    """(image name, the page indices it is made of), one per image."""
    if axis is None:
        yield name, list(range(n_pages))
        return
    grid: np.ndarray = np.moveaxis(np.arange(n_pages).reshape(lead_shape), axis, 0)
    for index in range(len(grid)):
        yield f"{name}[{index}]", [int(i) for i in grid[index].ravel()]


def _pages_image(name: str, series: Any, pages: list[int]) -> Image:
    def chunks(threads: int) -> Iterator[np.ndarray]:
        for index in pages:
            page = _page(series, index, name)
            try:
                yield from _page_chunks(page, threads)
            except _DAMAGED as error:
                raise InputError(f"{name}: damaged TIFF data in page {index} ({error})") from error

    return Image(name, lambda bounds, threads: tally_chunks(name, chunks(threads), bounds, threads))


def _page(series: Any, index: int, name: str) -> Any:
    try:
        page = series[index]
    except _DAMAGED as error:
        raise InputError(f"{name}: damaged TIFF page {index} ({error})") from error
    if page is None:
        raise InputError(f"{name}: page {index} of the series is missing (a truncated or damaged TIFF)")
    return page


def _page_chunks(page: Any, threads: int) -> Iterator[np.ndarray]:
    keyframe = page.keyframe
    if keyframe.nbytes > CHUNK_BYTES and "JPEG" not in _codec(keyframe):
        yield from _segment_chunks(page, threads)
    else:
        yield np.ascontiguousarray(page.asarray(maxworkers=threads)).reshape(-1)


def _segment_chunks(page: Any, threads: int) -> Iterator[np.ndarray]:
    """A big page, decoded strip by strip (or tile by tile), handed on in chunks of CHUNK_BYTES."""
    keyframe = page.keyframe
    depth, length, width = keyframe.imagedepth, keyframe.imagelength, keyframe.imagewidth
    pending: list[np.ndarray] = []
    held = 0
    for segment, (_, d, h, w, _), _ in page.segments(maxworkers=threads, sort=True):
        # Never None (a missing segment, which tifffile would fill with zeros): check_tiff refused
        # those. Tiles are stored whole: the parts beyond the image's edges are padding.
        piece = segment[: depth - d, : length - h, : width - w].reshape(-1)
        pending.append(piece)
        held += piece.nbytes
        if held >= CHUNK_BYTES:
            yield np.concatenate(pending)
            pending, held = [], 0
    if pending:
        yield np.concatenate(pending)


def _colour_images(
    series: Any,
    name: str,
    shape: tuple[int, ...],
    lead_shape: tuple[int, ...],
    axis: int | None,
    options: ReadOptions,
) -> Iterator[Image]:
    """Multi-sample pages: RGB colour masks (a colormap maps colours to classes), page by page."""
    keyframe = series.keyframe
    samples = int(keyframe.samplesperpixel)
    if samples != 3:
        raise InputError(
            f"{name}: {samples} samples per pixel; fastweights counts single-channel label masks and RGB "
            "colour masks (3 samples)"
        )
    if axis is not None and axis >= len(lead_shape):
        raise InputError(
            f"{name}: stack_axis={options.stack_axis} is inside the pages of an RGB TIFF of shape {shape}; "
            "only an axis across its pages can be stacked"
        )
    sample_axis = keyframe.axes.index("S")

    def image(image_name: str, pages: list[int]) -> Image:
        def page_tally(index: int, image_name: str, bounds: Bounds, threads: int) -> Tally:
            page = _page(series, index, image_name)
            try:
                rgb = np.moveaxis(page.asarray(maxworkers=threads), sample_axis, -1)
            except _DAMAGED as error:
                raise InputError(f"{image_name}: damaged TIFF data in page {index} ({error})") from error
            return rgb_tally(image_name, rgb, options.colormap, bounds, threads)

        def tally_image(bounds: Bounds, threads: int) -> Tally:
            return merge_all(page_tally(index, image_name, bounds, threads) for index in pages)

        return Image(image_name, tally_image)

    for image_name, pages in _page_groups(name, len(series), lead_shape, axis):
        yield image(image_name, pages)
