"""The strict references for PNG (Pillow, after checks of its own) and TIFF (tifffile, its warnings
refusals)."""

from __future__ import annotations

import io
import logging
import os
import re
import struct
import warnings
import zlib
from typing import Any

import numpy as np

from .oracle_common import MAX_EXPANSION, Refused, _add, _Collect, _colour_pixels, _read, pixels_of

# ---------------------------------------------------------------- PNG

_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_structure(data: bytes) -> tuple[str | None, bytes]:
    """What the PNG specification forbids in the chunk layout that Pillow lets through (None: fine),
    and the file with its ancillary chunks dropped: none changes the labels, and libpng ignores a
    damaged one (bad CRC, bad length) where Pillow may refuse the file for it."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "signature", data
    position, kinds, idat, kept = 8, [], bytearray(), [data[:8]]
    header = None
    while True:
        if position + 12 > len(data):
            return "truncated chunk list (no IEND)", data
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if length > 0x7FFFFFFF or position + 12 + length > len(data):
            return f"chunk {kind!r} runs past the end", data
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        ancillary = bool(kind[0] & 0x20)
        if ancillary and kinds:
            position += 12 + length
            continue
        if zlib.crc32(kind + body) != crc:
            return f"bad CRC in {kind!r}", data
        kept.append(data[position : position + 12 + length])
        if not kinds and kind != b"IHDR":
            return "first chunk is not IHDR", data
        if kind == b"IHDR":
            if kinds or length != 13:
                return "IHDR repeated or of the wrong length", data
            header = struct.unpack(">IIBBBBB", body)
        if kind == b"IDAT":
            if kinds and kinds[-1] != b"IDAT" and b"IDAT" in kinds:
                return "IDAT chunks not consecutive", data
            idat += body
        kinds.append(kind)
        position += 12 + length
        if kind == b"IEND":
            if length:
                return "IEND with data", data
            break
    cleaned = b"".join(kept)
    assert header is not None
    width, height, depth, colour, compression, filtering, interlace = header
    if not (0 < width < 2**31 and 0 < height < 2**31):
        return "zero or huge dimension", cleaned
    if colour not in _DEPTHS or depth not in _DEPTHS[colour] or compression or filtering or interlace > 1:
        return "invalid IHDR field", cleaned
    if colour == 3 and b"PLTE" not in kinds:
        return "palette image without PLTE", cleaned
    if b"IDAT" not in kinds:
        return "no IDAT", cleaned
    if width * height > 1 << 26:
        return "too many pixels for a test file", cleaned
    bits = _CHANNELS[colour] * depth
    passes = (
        [(width, height)]
        if not interlace
        else [(-(-(width - x) // dx), -(-(height - y) // dy)) for x, y, dx, dy in _ADAM7]
    )
    expected = sum(h * (1 + (w * bits + 7) // 8) for w, h in passes if w > 0 and h > 0)
    try:
        inflater = zlib.decompressobj()
        stream = inflater.decompress(bytes(idat), expected)
    except zlib.error as error:
        return f"IDAT stream: {error}", cleaned
    if len(stream) != expected:
        return f"IDAT holds {len(stream)} bytes, the image {expected}", cleaned
    # Data past the image (more rows, a second stream) is a benign error to libpng: not a refusal.
    position = 0
    for w, h in passes:
        if w <= 0 or h <= 0:
            continue
        row = 1 + (w * bits + 7) // 8
        if any(stream[position + r * row] > 4 for r in range(h)):
            return "invalid filter type", cleaned
        position += h * row
    # A PLTE out of place, repeated, or in a gray image: libpng refuses some of these, but none
    # changes a label (palette images count indices, not colours), so they are no refusal here.
    return None, cleaned


def _png(path: str, spec: dict[str, Any]) -> list[int]:
    from PIL import Image, ImageFile

    problem, data = _png_structure(_read(path))
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    depth, colour = (data[24], data[25]) if len(data) > 25 else (8, 0)
    if problem is None and depth == 16 and colour != 0:
        raise Refused("16-bit colour PNG: Pillow reduces it to 8 bits")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                image.load()
                pixels = _pillow_pixels(image, depth, spec.get("colormap"))
        except Refused:
            if problem is not None:
                raise Refused(problem) from None
            raise
        except Exception as error:
            raise Refused(f"{problem or 'Pillow'}: {type(error).__name__}: {error}"[:300]) from None
    if problem is not None:
        raise Refused(problem, pixels)
    return pixels


def _pillow_pixels(image: Any, depth: int, colormap: list[list[int]] | None) -> list[int]:
    mode = image.mode
    array = np.asarray(image)
    if mode == "1":
        return pixels_of(array.astype(bool))
    if mode == "L" and depth in (2, 4):
        return pixels_of(array // (255 // ((1 << depth) - 1)))
    if mode in ("L", "P", "I") or mode.startswith("I;16"):
        return pixels_of(array)
    if mode in ("LA", "PA"):
        return pixels_of(array[..., 0])
    if mode in ("RGB", "RGBA"):
        return _colour_pixels(array[..., :3], colormap)
    raise Refused(f"Pillow mode {mode}")


# ---------------------------------------------------------------- TIFF


def _tiff(path: str, spec: dict[str, Any]) -> list[int]:
    import tifffile

    size = os.path.getsize(path)
    collected = _Collect()
    logger = logging.getLogger("tifffile")
    logger.addHandler(collected)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with tifffile.TiffFile(path) as tif:
                series = [s for s in tif.series if s is not None and len(s) and s.keyframe is not None]
                full = [s for s in series if not s.keyframe.is_reduced]
                series = full or series
                if not series:
                    raise Refused("no image")
                problem = None
                total: list[int] = []
                for one in series:
                    for index in range(len(one)):
                        page = one[index]
                        if page is None:
                            raise Refused("missing page")
                        problem = problem or _segment_problem(page, size)
                        if problem and "past" in problem:
                            raise Refused(problem)
                    total = _add(total, _series_pixels(one, spec.get("colormap")))
                relevant = [m for m in collected.messages if not _benign_tiff_warning(m)]
                if relevant:
                    problem = problem or f"tifffile: {relevant[0]}"[:300]
    finally:
        logger.removeHandler(collected)
        logger.propagate = True
    if problem:
        raise Refused(problem, total)
    return total


# Tags that decide which bytes are labels and how they decode: a warning about any other tag
# (a description, a resolution) changes no count.
_LAYOUT_TAGS = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 338, 339, 32997, 32998}


def _benign_tiff_warning(message: str) -> bool:
    tag = re.search(r"TiffTag (\d+)", message)
    return tag is not None and int(tag[1]) not in _LAYOUT_TAGS and "TiffPage" not in message


def _segment_problem(page: Any, size: int) -> str | None:
    """A strip or tile that is empty, past the end of the file, or fewer than the page needs."""
    key = page.keyframe  # a TiffFrame has the offsets; its keyframe, the layout
    codec = str(getattr(key.compression, "name", key.compression))
    if "JPEG" in codec or "WEBP" in codec:
        raise Refused("lossy codec")
    offsets, counts = page.dataoffsets, page.databytecounts
    if len(offsets) != len(counts) or not len(offsets):
        return "no segments, or offsets and byte counts differ in number"
    if any(o + c > size for o, c in zip(offsets, counts)):
        return "segment past the end of the file"
    if any(c == 0 for c in counts) or any(o == 0 for o in offsets):
        return "empty segment"
    nbytes = int(key.nbytes)
    if key.compression == 1:
        if sum(counts) < int(key.size) * key.bitspersample // 8:
            return "uncompressed segments shorter than the page"
    elif nbytes > MAX_EXPANSION * sum(counts) + 4096:
        raise Refused(f"page of {nbytes} bytes from {sum(counts)} compressed bytes")
    if key.is_tiled:
        expected = (
            -(-key.imagedepth // key.tiledepth)
            * -(-key.imagelength // key.tilelength)
            * -(-key.imagewidth // key.tilewidth)
        )
    else:
        expected = key.imagedepth * -(-key.imagelength // max(1, min(key.rowsperstrip, key.imagelength)))
    if key.planarconfig == 2:
        expected *= key.samplesperpixel
    if len(offsets) != expected:
        return f"{len(offsets)} segments, the page needs {expected}"
    return None


def _series_pixels(series: Any, colormap: list[list[int]] | None) -> list[int]:
    total: list[int] = []
    keyframe = series.keyframe
    if series.dtype is None:
        raise Refused("unknown sample format")
    if int(keyframe.nbytes) * len(series) > 1 << 28:
        raise Refused("too big for a test file")
    for index in range(len(series)):
        array = series[index].asarray(maxworkers=1)
        if "S" in keyframe.axes:
            if keyframe.samplesperpixel != 3:
                raise Refused(f"{keyframe.samplesperpixel} samples per pixel")
            total = _add(total, _colour_pixels(np.moveaxis(array, keyframe.axes.index("S"), -1), colormap))
        else:
            total = _add(total, pixels_of(array))
    return total
