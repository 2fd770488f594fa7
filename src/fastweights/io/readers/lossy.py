"""JPEG masks: refused unless the user allows lossy masks, because compression noise around every
edge invents labels (a 0/255 mask saved as JPEG holds dozens of values).

Pillow decodes them, but only after the file's marker structure has been walked here: Pillow set to
load truncated images (ImageFile.LOAD_TRUNCATED_IMAGES, a process-wide setting a user's program may
have made) would pad a truncated file with grey, so a JPEG must reach its end-of-image marker first.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator

import numpy as np

from ...base._optional import require
from ...base.errors import InputError
from ...kernels._tally import Tally
from ..colormaps import rgb_tally
from ..images import Bounds, Image, ReadOptions, array_image
from ._regular import open_regular
from .png import MAX_PIXELS

__all__ = ["JPEG_MAGIC", "open_jpeg"]

JPEG_MAGIC = b"\xff\xd8\xff"


def open_jpeg(path: str, options: ReadOptions) -> Iterator[Image]:
    if not options.allow_lossy:
        raise InputError(
            f"{path}: a JPEG mask: lossy compression changes labels near every edge and invents classes "
            "that are not in the data; save masks as PNG, or pass allow_lossy=True (--allow-lossy) to count "
            "it anyway"
        )

    def tally(bounds: Bounds, threads: int) -> Tally:
        pil = require("PIL.Image", "png", "reading JPEG masks")
        with open_regular(path) as file:
            data = file.read()
        check_jpeg(path, data)
        try:
            with warnings.catch_warnings(), pil.open(io.BytesIO(data), formats=["JPEG"]) as picture:
                warnings.simplefilter("ignore", pil.DecompressionBombWarning)
                picture.load()
                mode = picture.mode
                pixels = np.asarray(picture.convert("RGB") if mode not in ("L", "RGB") else picture)
        except (OSError, SyntaxError, ValueError, pil.DecompressionBombError) as error:
            raise InputError(f"{path}: cannot decode JPEG ({error})") from error
        if pixels.ndim == 2:
            return array_image(path, pixels).tally(bounds, threads)
        return rgb_tally(path, pixels, options.colormap, bounds, threads)

    yield Image(path, tally)


# Start-of-frame markers (every coding process; C4, C8 and CC are other markers), and the two
# sequential Huffman ones, where every 8 x 8 block of a component costs at least 2 bits (a DC code
# and an end of block): at most 256 pixels per byte of the file.
_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SEQUENTIAL_HUFFMAN = frozenset((0xC0, 0xC1))
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn and TEM: no length


def check_jpeg(path: str, data: bytes) -> None:
    """Refuses a JPEG whose markers are cut short or out of place, that ends before its end-of-image
    marker, or whose frame header gives an image larger than its data can hold or than MAX_PIXELS."""

    def fail(message: str) -> InputError:
        return InputError(f"{path}: {message}")

    size = len(data)
    frame = None
    pos = 2  # after SOI (checked by the caller's magic)
    while True:
        if pos + 2 > size:
            raise fail("truncated JPEG: the file ends before its end-of-image marker")
        if data[pos] != 0xFF:
            raise fail(f"damaged JPEG: byte {pos} should start a marker (0xff), it is {data[pos]:#04x}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            break
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > size:
            raise fail(f"truncated JPEG: the file ends inside marker {marker:#04x}")
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if length < 2 or pos + 2 + length > size:
            raise fail(f"truncated JPEG: marker {marker:#04x} at byte {pos} claims {length} bytes, past the file's end")
        if marker in _FRAMES:
            if frame is not None:
                raise fail("damaged JPEG: a second frame header")
            if length < 8:
                raise fail(f"damaged JPEG: a frame header of {length} bytes")
            height, width = struct.unpack_from(">HH", data, pos + 5)
            if width == 0 or height == 0:
                raise fail(
                    f"JPEG frame header gives a size of {width} x {height} pixels (a height given later, "
                    "in a DNL marker, is not supported)"
                )
            if width * height > MAX_PIXELS:
                raise fail(
                    f"JPEG frame header claims {width} x {height} pixels, more than the limit of {MAX_PIXELS} "
                    "(fastweights.io.readers.png.MAX_PIXELS)"
                )
            if marker in _SEQUENTIAL_HUFFMAN and width * height > 256 * size:
                raise fail(f"damaged JPEG: {size} bytes cannot hold {width} x {height} pixels")
            frame = marker
        pos += 2 + length
        if marker == 0xDA:  # a scan: its entropy-coded data runs to the next marker that is not RSTn
            if frame is None:
                raise fail("damaged JPEG: a scan before the frame header")
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= size:
                    raise fail("truncated JPEG: the file ends inside the image data, before its end-of-image marker")
                following = data[pos + 1]
                if following == 0 or 0xD0 <= following <= 0xD7:
                    pos += 2
                    continue
                if following == 0xFF:
                    pos += 1
                    continue
                break
    if frame is None:
        raise fail("damaged JPEG: no frame header before the end-of-image marker")
