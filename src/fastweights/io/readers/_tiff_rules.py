"""The rules a TIFF file must meet before any of it is decoded, mapped or allocated for.

Every IFD (page) of the main chain and of SubIFDs is walked from the file's own bytes, without
tifffile, and checked against the TIFF 6.0 / BigTIFF layout and the file's size. tifffile is lenient
with damaged files (a missing strip reads as zeros, a short one is padded): a count must not be, so
everything tifffile would be lenient about is refused here first. docs/input-rules.md lists the rules.
"""

from __future__ import annotations

import math
import os
import struct
from typing import BinaryIO, NamedTuple

from ...base.errors import InputError

__all__ = ["Layout", "check_tiff"]

# Field types: their sizes (TIFF 6.0 section 2 and BigTIFF). Unknown types are skipped, as the
# specification asks, unless a tag this module needs has one.
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_INTEGER_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}
# The field types the layout tags may have: SHORT, LONG, LONG8 (TIFF 6.0 gives SHORT or LONG for
# each; BigTIFF adds LONG8), and IFD, IFD8 for SubIFDs. BYTE and the signed types are refused:
# tifffile reads a BYTE value as bytes and fails on it.
_LAYOUT_TYPES = frozenset([3, 4, 16])
_SUB_IFD_TYPES = frozenset([3, 4, 13, 16, 18])

_WIDTH, _LENGTH, _BITS, _COMPRESSION = 256, 257, 258, 259
_PHOTOMETRIC, _FILL_ORDER, _PREDICTOR, _EXTRA_SAMPLES = 262, 266, 317, 338
_STRIP_OFFSETS, _SAMPLES, _ROWS_PER_STRIP, _STRIP_BYTES = 273, 277, 278, 279
_PLANAR, _TILE_WIDTH, _TILE_LENGTH, _TILE_OFFSETS, _TILE_BYTES = 284, 322, 323, 324, 325
_SUB_IFDS, _SAMPLE_FORMAT, _IMAGE_DEPTH, _TILE_DEPTH = 330, 339, 32997, 32998
# The tags that decide which bytes are labels and how they decode: their values are read and
# checked; a damaged one (an unknown field type, a value inside the header) is refused, where
# tifffile would log it and go on without it.
_NEEDED = {
    _WIDTH,
    _LENGTH,
    _BITS,
    _COMPRESSION,
    _PHOTOMETRIC,
    _FILL_ORDER,
    _PREDICTOR,
    _EXTRA_SAMPLES,
    _STRIP_OFFSETS,
    _SAMPLES,
    _ROWS_PER_STRIP,
    _STRIP_BYTES,
    _PLANAR,
    _TILE_WIDTH,
    _TILE_LENGTH,
    _TILE_OFFSETS,
    _TILE_BYTES,
    _SUB_IFDS,
    _SAMPLE_FORMAT,
    _IMAGE_DEPTH,
    _TILE_DEPTH,
}

# Bits per sample each sample format allows (1 unsigned, 2 signed, 3 IEEE float): what a label
# mask can be stored as and tifffile reads as such.
_SAMPLE_BITS = {1: set(range(1, 33)) | {64}, 2: {8, 16, 32, 64}, 3: {16, 24, 32, 64}}
_FORMAT_NAMES = {
    1: "unsigned integer",
    2: "signed integer",
    3: "float",
    4: "void",
    5: "complex integer",
    6: "complex float",
}

# The most a compressed segment's bytes can decode to, for the codecs where that is known:
# PackBits repeats one byte at most 128 times for 2 bytes; deflate expands at most 1032:1; an LZW
# code (9 bits at least) stands for at most 4096 bytes.
_RATIO_BOUNDS = {
    32773: lambda n: 64 * n,
    8: lambda n: 1032 * n + (1 << 16),
    32946: lambda n: 1032 * n + (1 << 16),
    5: lambda n: 4096 * (n * 8 // 9 + 1),
}
_CODEC_NAMES = {
    1: "uncompressed",
    5: "LZW",
    8: "deflate",
    32946: "deflate",
    32773: "PackBits",
    34925: "LZMA",
    34926: "zstd",
    50000: "zstd",
}
# Lossy codecs: tiff.py refuses them unless allow_lossy (JPEG, JPEG 2000, JPEG XR, JPEG XL, WebP,
# LERC, SGILOG, as tifffile names them).
_LOSSY_CODES = {6, 7, 99, 22610, 33003, 33004, 33005, 33007, 34676, 34677, 34712, 34887, 34892, 34927, 34934}
_LOSSY_CODES |= {50001, 50002, 52546}
_JPEG_CODES = {6, 7, 99, 33007, 34892}

# Photometric interpretations whose samples are a mask's labels (gray, either way round, palette
# indices) or colours (RGB); YCbCr only where a JPEG decoder turns it into RGB.
_PHOTOMETRIC_NAMES = {0: "min-is-white", 1: "min-is-black", 2: "RGB", 3: "palette", 6: "YCbCr"}
_PREDICTORS = {1, 2, 3, 34892, 34893, 34894, 34895}


class Layout(NamedTuple):
    """What one IFD's tags say its image is; the pages of one series must agree on all but `start`."""

    size: tuple[int, int, int]  # width, length, depth
    samples: int
    bits: int
    sample_format: int
    compression: int
    photometric: int | None
    planar: int
    predictor: int
    fill_order: int
    segment: tuple[int, ...]  # rows per strip, or the tile's width, length and depth
    start: int | None  # where its pixels begin, when they are stored uncompressed in order as one run

    def differences(self, other: Layout) -> list[str]:
        """The fields, but `start`, in which the two differ: 'name a (not b)'."""
        return [
            f"{field.replace('_', ' ')} {mine} (not {theirs})"
            for field, mine, theirs in zip(self._fields[:-1], self[:-1], other[:-1])
            if mine != theirs
        ]


def memory_bound() -> int:
    """The largest decoded segment accepted where its codec gives no bound: half the machine's memory."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): 8 GiB
        return 8 << 30


def check_tiff(path: str, file: BinaryIO, size: int) -> tuple[dict[int, Layout], list[int]]:
    """Refuses, with an InputError naming the file and the rule, a TIFF whose structure breaks a rule.

    Otherwise the layout of every IFD (main chain and SubIFDs) by the IFD's offset in the file, and
    the offsets of the main chain's IFDs in order."""
    walker = _Walker(path, file, size)
    walker.walk()
    return walker.layouts, walker.main_chain


class _Walker:
    def __init__(self, path: str, file: BinaryIO, size: int) -> None:
        self.path, self.file, self.size = path, file, size
        self.layouts: dict[int, Layout] = {}
        self.main_chain: list[int] = []

    def fail(self, message: str) -> InputError:
        return InputError(f"{self.path}: {message}")

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or offset + length > self.size:
            raise self.fail(
                f"damaged TIFF: {what} at byte {offset} ({length} bytes) lies past the end of the file "
                f"({self.size} bytes)"
            )
        self.file.seek(offset)
        data = self.file.read(length)
        if len(data) != length:  # shrank since its size was taken
            raise self.fail(f"truncated TIFF: {what} at byte {offset} could not be read")
        return data

    def walk(self) -> None:
        head = self.read(0, 8, "the header")
        self.order = "<" if head[:2] == b"II" else ">"
        version = struct.unpack(self.order + "H", head[2:4])[0]
        if version == 43:  # BigTIFF: offset size 8, a reserved 0, then the first IFD's offset
            rest = struct.unpack(self.order + "HHQ", self.read(4, 12, "the BigTIFF header"))
            if rest[:2] != (8, 0):
                raise self.fail(f"damaged TIFF: a BigTIFF header with offset size {rest[0]} (not 8)")
            self.big, first, self.header_size = True, rest[2], 16
        else:
            self.big, first, self.header_size = False, struct.unpack(self.order + "I", head[4:8])[0], 8
        if first == 0:
            raise self.fail("the TIFF file holds no image (its header points to no IFD)")
        self.seen: set[int] = set()
        self.chain(first, "IFD")

    def chain(self, offset: int, kind: str) -> None:
        index = 0
        while offset:
            if offset in self.seen:
                raise self.fail(f"damaged TIFF: {kind} {index} at byte {offset} was already read (a loop of IFDs)")
            self.seen.add(offset)
            if kind == "IFD":
                self.main_chain.append(offset)
            offset = self.ifd(offset, f"{kind} {index}")
            index += 1

    def ifd(self, offset: int, name: str) -> int:
        """Checks one IFD and its image; the offset of the next IFD (0 at the end of the chain)."""
        if offset < self.header_size:
            raise self.fail(f"damaged TIFF: {name} at byte {offset} lies inside the file's header")
        count_size, entry_size, next_size = (8, 20, 8) if self.big else (2, 12, 4)
        count = struct.unpack(self.order + ("Q" if self.big else "H"), self.read(offset, count_size, name))[0]
        if count == 0:
            raise self.fail(f"damaged TIFF: {name} at byte {offset} has no entries (an IFD must have at least one)")
        body = self.read(offset + count_size, count * entry_size + next_size, f"the {count} entries of {name}")
        tags: dict[int, tuple[int, ...]] = {}
        entry = struct.Struct(self.order + ("HHQ8s" if self.big else "HHI4s"))
        for k in range(count):
            tag, kind, n, inline = entry.unpack_from(body, k * entry_size)
            item = _TYPE_SIZES.get(kind)
            if item is None:
                if tag in _NEEDED:
                    raise self.fail(f"damaged TIFF: tag {tag} of {name} has an unknown field type {kind}")
                continue
            length = n * item
            where = inline
            if length > len(inline):
                value_offset = struct.unpack(self.order + ("Q" if self.big else "I"), inline)[0]
                if tag in _NEEDED and value_offset < self.header_size:
                    raise self.fail(
                        f"damaged TIFF: the value of tag {tag} of {name} lies at byte {value_offset}, "
                        "inside the file's header"
                    )
                where = self.read(value_offset, length, f"the value of tag {tag} of {name}") if tag in _NEEDED else b""
                if tag not in _NEEDED and value_offset + length > self.size:
                    raise self.fail(f"damaged TIFF: the value of tag {tag} of {name} lies past the end of the file")
            if tag in _NEEDED:
                form = _INTEGER_FORMATS.get(kind)
                if form is None:
                    raise self.fail(f"damaged TIFF: tag {tag} of {name} has field type {kind}, not an integer type")
                if kind not in (_SUB_IFD_TYPES if tag == _SUB_IFDS else _LAYOUT_TYPES):
                    raise self.fail(
                        f"damaged TIFF: tag {tag} of {name} has field type {kind}, not SHORT, LONG or LONG8"
                    )
                if tag in tags:  # which one a reader takes is its own choice: tifffile takes the first
                    raise self.fail(f"damaged TIFF: tag {tag} appears twice in {name}")
                tags[tag] = struct.unpack(f"{self.order}{n}{form}", where[:length])
        self.layouts[offset] = self.image(tags, name)
        for sub in tags.get(_SUB_IFDS, ()):
            self.chain(sub, f"SubIFD of {name}")
        return int(struct.unpack(self.order + ("Q" if self.big else "I"), body[count * entry_size :])[0])

    def one(self, tags: dict[int, tuple[int, ...]], tag: int, name: str, default: int | None = None) -> int:
        values = tags.get(tag)
        if values is None:
            if default is None:
                raise self.fail(f"damaged TIFF: {name} lacks required tag {tag}")
            return default
        if len(values) != 1:
            raise self.fail(f"damaged TIFF: tag {tag} of {name} has {len(values)} values, not 1")
        return values[0]

    def image(self, tags: dict[int, tuple[int, ...]], name: str) -> Layout:
        width, length = self.one(tags, _WIDTH, name), self.one(tags, _LENGTH, name)
        depth = self.one(tags, _IMAGE_DEPTH, name, 1)
        if width <= 0 or length <= 0 or depth <= 0:
            raise self.fail(f"damaged TIFF: {name} has an invalid size of {width} x {length} x {depth} pixels")
        samples = self.one(tags, _SAMPLES, name, 1)
        if samples <= 0:
            raise self.fail(f"damaged TIFF: {name} has {samples} samples per pixel")
        bits = self.per_sample(tags, _BITS, name, samples, "bits per sample", 1)
        sample_format = self.per_sample(tags, _SAMPLE_FORMAT, name, samples, "sample format", 1)
        if bits not in _SAMPLE_BITS.get(sample_format, ()):
            kind = _FORMAT_NAMES.get(sample_format, f"unknown ({sample_format})")
            raise self.fail(
                f"{name} has samples of {bits} bits in sample format {sample_format} ({kind}), which "
                "is not a label type (unsigned 1-32 or 64 bits, signed 8-64, float 16-64)"
            )
        planar = self.one(tags, _PLANAR, name, 1)
        if planar not in (1, 2):
            raise self.fail(f"damaged TIFF: {name} has an unknown planar configuration {planar}")
        planes, pixel_samples = (samples, 1) if planar == 2 and samples > 1 else (1, samples)
        compression = self.one(tags, _COMPRESSION, name, 1)
        if compression not in _CODEC_NAMES and compression not in _LOSSY_CODES:
            raise self.fail(
                f"{name} has compression {compression}, not a codec fastweights reads "
                f"({', '.join(f'{k} {v}' for k, v in _CODEC_NAMES.items())}, or a lossy one with allow_lossy)"
            )
        photometric = self.one(tags, _PHOTOMETRIC, name) if _PHOTOMETRIC in tags else None
        if photometric is not None and (
            photometric not in _PHOTOMETRIC_NAMES or (photometric == 6 and compression not in _JPEG_CODES)
        ):
            raise self.fail(
                f"{name} has photometric interpretation {photometric}, not one of a label or colour mask "
                "(0 min-is-white, 1 min-is-black, 2 RGB, 3 palette; 6 YCbCr only JPEG-compressed)"
            )
        predictor = self.one(tags, _PREDICTOR, name, 1)
        if predictor not in _PREDICTORS:
            raise self.fail(f"damaged TIFF: {name} has an unknown predictor {predictor}")
        fill_order = self.one(tags, _FILL_ORDER, name, 1)
        if fill_order not in (1, 2):
            raise self.fail(f"damaged TIFF: {name} has an unknown fill order {fill_order}")
        if _TILE_WIDTH in tags or _TILE_OFFSETS in tags:
            tile = (
                self.one(tags, _TILE_DEPTH, name, 1),
                self.one(tags, _TILE_LENGTH, name),
                self.one(tags, _TILE_WIDTH, name),
            )
            if min(tile) <= 0:
                raise self.fail(f"damaged TIFF: {name} has an invalid tile size of {tile[2]} x {tile[1]} x {tile[0]}")
            n_segments = math.ceil(depth / tile[0]) * math.ceil(length / tile[1]) * math.ceil(width / tile[2])
            tile_bytes = tile[0] * tile[1] * math.ceil(tile[2] * pixel_samples * bits / 8)

            def needed(k: int) -> int:  # tiles are stored whole, padding included
                return tile_bytes

            offsets_tag, counts_tag, what = _TILE_OFFSETS, _TILE_BYTES, "tiles"
            segment_shape: tuple[int, ...] = (tile[2], tile[1], tile[0])
            in_order = tile == (depth, length, width)  # one tile per plane, no padding
        else:
            rows = min(self.one(tags, _ROWS_PER_STRIP, name, (1 << 32) - 1), length)
            if rows <= 0:
                raise self.fail(f"damaged TIFF: {name} has {rows} rows per strip")
            row_bytes = math.ceil(width * pixel_samples * bits / 8)
            per_plane = math.ceil(length / rows)
            n_segments = per_plane * depth

            def needed(k: int) -> int:  # the last strip of a plane may be shorter
                return min(rows, length - (k % per_plane) * rows) * row_bytes

            offsets_tag, counts_tag, what = _STRIP_OFFSETS, _STRIP_BYTES, "strips"
            segment_shape, in_order = (rows,), True
        n_segments *= planes
        offsets = tags.get(offsets_tag)
        counts = tags.get(counts_tag)
        if offsets is None or counts is None:
            raise self.fail(f"damaged TIFF: {name} lacks the offsets or byte counts of its {what}")
        if len(offsets) != n_segments or len(counts) != n_segments:
            raise self.fail(
                f"damaged TIFF: {name} of {width} x {length} pixels needs {n_segments} {what}, "
                f"but its header lists {len(offsets)} offsets and {len(counts)} byte counts"
            )
        bound = _RATIO_BOUNDS.get(compression)
        limit = memory_bound()
        for k, (offset, count) in enumerate(zip(offsets, counts)):
            segment = f"{what[:-1]} {k} of {name}"
            decoded = needed(k)
            if count <= 0:
                raise self.fail(f"damaged TIFF: {segment} is missing (byte count {count})")
            if offset < self.header_size or offset + count > self.size:
                raise self.fail(
                    f"damaged TIFF: {segment} (bytes {offset} to {offset + count}) lies outside the file "
                    f"({self.size} bytes)"
                )
            if compression == 1 and count < decoded:
                raise self.fail(f"damaged TIFF: uncompressed {segment} holds {count} bytes, its pixels need {decoded}")
            if bound is not None and decoded > bound(count):
                raise self.fail(
                    f"damaged TIFF: {count} bytes of {_CODEC_NAMES[compression]} data cannot hold "
                    f"the {decoded} bytes of {segment}"
                )
            if bound is None and decoded > limit:
                raise self.fail(
                    f"{segment} decodes to {decoded} bytes, more than half this machine's memory ({limit} bytes)"
                )
        # Stored in order as one run: each segment starts where the pixels of the one before end.
        start = None
        if compression == 1 and in_order:
            end = offsets[0]
            for k, offset in enumerate(offsets):
                if offset != end:
                    break
                end += needed(k)
            else:
                start = offsets[0]
        return Layout(
            (width, length, depth),
            samples,
            bits,
            sample_format,
            compression,
            photometric,
            planar,
            predictor,
            fill_order,
            segment_shape,
            start,
        )

    def per_sample(
        self, tags: dict[int, tuple[int, ...]], tag: int, name: str, samples: int, what: str, default: int
    ) -> int:
        values = tags.get(tag, (default,))
        if len(values) not in (1, samples) or len(set(values)) != 1:
            raise self.fail(
                f"damaged TIFF: {name} gives {what} {list(values)} for {samples} samples per pixel; "
                "fastweights needs one value for all samples"
            )
        return values[0]
