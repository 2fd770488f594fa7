"""PNG masks, decoded by the C++ extension (libdeflate; GIL released), Pillow only as a fallback.

Gray and palette PNGs (every bit depth) and gray + alpha ones are decoded and counted in one pass,
without an array. Colour PNGs (RGB, RGBA) are decoded to their samples and counted by colour through
the colormap. Pillow is the fallback for the PNGs the extension leaves to a general decoder (an
unknown critical chunk); it is not the main decoder because it reduces 16-bit RGB, RGBA and gray +
alpha to 8 bits, which would merge labels.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ... import _core
from ...base._optional import require
from ...base.errors import InputError
from ...kernels._tally import Tally
from ..colormaps import rgb_tally
from ..images import Bounds, Image, ReadOptions, array_image, check_stack_axis, images_of_array
from ._magic import check_magic
from ._regular import open_regular

__all__ = [
    "MAX_PIXELS",
    "PNG_MAGIC",
    "decode_png",
    "general_tally",
    "open_png",
    "png_error",
    "png_images",
    "read_whole",
    "tally_png_bytes",
]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Images with more pixels than this are refused from their header, before anything is allocated:
# a header claiming more is far more likely corrupt (or hostile) than a mask.
MAX_PIXELS = 1 << 31

_Status = _core.PngStatus

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def open_png(path: str, options: ReadOptions) -> Iterator[Image]:
    # One read of the whole file (masks are small). It happens when the engine asks for the images,
    # in the worker thread that then tallies them, and gives the size without a second open().
    yield from png_images(path, read_whole(path), options)


def png_images(name: str, data: bytes, options: ReadOptions) -> Iterator[Image]:
    """The images of a PNG held in memory (a file read whole, or an object fetched from storage)."""
    check_magic(name, data[: len(PNG_MAGIC)], PNG_MAGIC)
    if options.stack_axis is not None:
        yield from _stacked_images(name, _labels(name, data), options)
        return

    def tally_png(bounds: Bounds, threads: int) -> Tally:
        return _tally(name, data, options, bounds, threads)

    yield Image(name, tally_png)


def tally_png_bytes(name: str, data: bytes, options: ReadOptions) -> Tally:
    """The tally of a PNG held in memory, decoded and counted in one pass without the GIL."""
    check_magic(name, data[: len(PNG_MAGIC)], PNG_MAGIC)
    return _tally(name, data, options, None, 1)


def decode_png(path: str) -> np.ndarray:
    """The labels of a PNG as an array: (height, width) for gray and palette images (palette indices,
    never colours; gray + alpha gives its gray channel), (height, width, 3) for colour images."""
    return _labels(path, read_whole(path))


def read_whole(path: str) -> bytes:
    with open_regular(path, buffering=0) as file:
        return file.readall()


def png_error(path: str, status: _Status, message: str) -> InputError:
    if status == _Status.too_large:
        message += " (fastweights.io.readers.png.MAX_PIXELS)"
    return InputError(f"{path}: {message}")


def _tally(path: str, data: bytes, options: ReadOptions, bounds: Bounds, threads: int) -> Tally:
    found = _core.count_png(data, MAX_PIXELS)
    if found.status == _Status.ok:
        assert found.table is not None
        values = found.table.nonzero()[0]
        return Tally(values.astype(np.int64), found.table[values])
    if found.status != _Status.unsupported:
        raise png_error(path, found.status, found.message)
    return general_tally(path, data, options, bounds, threads)


def general_tally(path: str, data: bytes, options: ReadOptions, bounds: Bounds, threads: int) -> Tally:
    """The kinds the fast path leaves to the general decoders: decoded to an array, then counted."""
    labels = _labels(path, data)
    if labels.ndim == 3:
        return _colour_tally(path, labels, options, bounds, threads)
    return array_image(path, labels).tally(bounds, threads)


def _labels(path: str, data: bytes) -> np.ndarray:
    found = _core.decode_png(data, MAX_PIXELS)
    if found.status == _Status.unsupported:
        return _pillow_labels(path, data)
    if found.status != _Status.ok:
        raise png_error(path, found.status, found.message)
    assert found.samples is not None
    channels = _CHANNELS[found.color_type]
    array = found.samples.view(">u2" if found.bit_depth == 16 else np.uint8)
    array = array.reshape(found.height, found.width, channels)
    if channels <= 2:
        return array[:, :, 0]  # gray or palette index; gray + alpha: the gray channel
    return array[:, :, :3]  # colour: RGB, alpha dropped


def _colour_tally(path: str, rgb: np.ndarray, options: ReadOptions, bounds: Bounds, threads: int) -> Tally:
    """Colour masks through the colormap. Sixteen-bit colours match an 8-bit colormap only when they
    are 8-bit colours scaled by 257 (what a tool that saves 8-bit colours at 16 bits writes)."""
    if rgb.dtype.itemsize == 2 and options.colormap is not None:
        if np.any(rgb % 257):
            raise InputError(
                f"{path}: a 16-bit colour PNG whose colours are not 8-bit colours (each channel a multiple "
                "of 257), so they cannot be matched to a colormap"
            )
        rgb = (rgb // 257).astype(np.uint8)
    return rgb_tally(path, rgb, options.colormap, bounds, threads)


def _stacked_images(path: str, labels: np.ndarray, options: ReadOptions) -> Iterator[Image]:
    """Each row (stack_axis 0) or column (stack_axis 1) of the image as its own image."""
    if labels.ndim == 2:
        yield from images_of_array(path, labels, options.stack_axis)
        return
    axis = options.stack_axis
    check_stack_axis(path, labels.shape[:2], axis)
    assert axis is not None
    stacked = np.moveaxis(labels, axis % 2, 0)  # colour: the channel axis stays last
    for index in range(stacked.shape[0]):
        yield _colour_image(f"{path}[{index}]", stacked[index], options)


def _colour_image(name: str, rgb: np.ndarray, options: ReadOptions) -> Image:
    def tally_colours(bounds: Bounds, threads: int) -> Tally:
        return _colour_tally(name, rgb, options, bounds, threads)

    return Image(name, tally_colours)


def _pillow_labels(path: str, data: bytes) -> np.ndarray:
    """The general decoder (Pillow), for PNGs the extension leaves to it."""
    pil = require("PIL.Image", "png", "reading this PNG")
    status, _, width, height, depth, color_type, _ = _core.png_header(data)
    if status == _Status.ok and width * height > MAX_PIXELS:
        raise png_error(
            path, _Status.too_large, f"PNG header claims {width} x {height} pixels, more than the limit of {MAX_PIXELS}"
        )
    if status == _Status.ok and depth == 16 and color_type in (2, 4, 6):
        raise InputError(
            f"{path}: a 16-bit colour or gray + alpha PNG with a chunk only a general decoder may read, and "
            "Pillow (the general decoder here) reduces such images to 8 bits, which would merge labels"
        )
    gray_depth = depth if status == _Status.ok and color_type == 0 else 8
    bomb_limit = pil.MAX_IMAGE_PIXELS
    try:
        if bomb_limit is not None and width * height > bomb_limit:
            # Our own limit was checked above. Only then touch the (process-wide) warning filters.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pil.DecompressionBombWarning)
                return _pillow_decode(pil, path, data, gray_depth)
        return _pillow_decode(pil, path, data, gray_depth)
    except InputError:
        raise
    except (pil.UnidentifiedImageError, pil.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: cannot decode this PNG ({error})") from error


def _pillow_decode(pil: Any, path: str, data: bytes, gray_depth: int) -> np.ndarray:
    with pil.open(io.BytesIO(data), formats=["PNG"]) as image:
        image.load()
        return _pillow_array(path, image, gray_depth)


def _pillow_array(path: str, image: Any, gray_depth: int) -> np.ndarray:
    mode = image.mode
    if mode == "1":  # np.asarray gives bools stored as 0/255 bytes, which count as 255 when viewed as uint8
        nonzero: np.ndarray = np.asarray(image.convert("L")) != 0
        return nonzero
    array = np.asarray(image)
    if mode == "L" and gray_depth in (2, 4):
        return array // (255 // ((1 << gray_depth) - 1))  # Pillow scales 2- and 4-bit gray up to 0..255
    if mode in ("L", "P", "I") or mode.startswith("I;16"):
        return array
    if mode in ("LA", "PA"):
        return array[:, :, 0]
    if mode in ("RGB", "RGBA"):
        return array[:, :, :3]
    raise InputError(f"{path}: PNG of Pillow mode {mode!r}, which fastweights cannot read as labels")
