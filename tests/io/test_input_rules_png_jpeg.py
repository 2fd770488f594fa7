"""The input rules of PNG and JPEG masks (docs/input-rules.md): for each rule, a hand-made file that
breaks exactly that rule, refused with an InputError naming the file and the problem."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts, refused

import fastweights

# ---- PNG ----

SIGNATURE = b"\x89PNG\r\n\x1a\n"
GRAY = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [7, 7, 7, 7]], np.uint8)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def ihdr(width: int = 4, height: int = 3, depth: int = 8, color_type: int = 0, *rest: int) -> bytes:
    compression, filtering, interlace = (*rest, 0, 0, 0)[:3]
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, compression, filtering, interlace))


def idat(labels: np.ndarray = GRAY) -> bytes:
    return chunk(b"IDAT", zlib.compress(b"".join(b"\0" + row.tobytes() for row in labels)))


IEND = chunk(b"IEND", b"")
PLTE = chunk(b"PLTE", bytes(range(24)))  # 8 entries


def write_png(tmp_path: Path, *chunks: bytes) -> Path:
    path = tmp_path / "mask.png"
    path.write_bytes(SIGNATURE + b"".join(chunks))
    return path


def test_the_hand_made_pngs_count_exactly(tmp_path: Path) -> None:
    assert_same_statistics(fastweights.count(write_png(tmp_path, ihdr(), idat(), IEND)), numpy_counts([GRAY]))
    path = write_png(tmp_path, ihdr(4, 3, 8, 3), PLTE, idat(), IEND)
    assert_same_statistics(fastweights.count(path), numpy_counts([GRAY]))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (ihdr(0, 3), "PNG header gives an invalid size of 0 x 3 pixels"),
        (ihdr(4, 1 << 31), "PNG header gives an invalid size of 4 x 2147483648 pixels"),
        (ihdr(4, 3, 8, 5), "PNG header gives an invalid bit depth 8 for colour type 5"),
        (ihdr(4, 3, 16, 3), "PNG header gives an invalid bit depth 16 for colour type 3"),
        (ihdr(4, 3, 4, 2), "PNG header gives an invalid bit depth 4 for colour type 2"),
        (ihdr(4, 3, 8, 0, 1), "PNG header gives an unknown compression method 1"),
        (ihdr(4, 3, 8, 0, 0, 1), "PNG header gives an unknown filter method 1"),
        (ihdr(4, 3, 8, 0, 0, 0, 2), "PNG header gives an unknown interlace method 2"),
        (chunk(b"IHDR", ihdr()[8:-4] + b"\0"), "PNG chunk IHDR is 14 bytes long, not 13"),
        (chunk(b"tEXt", b"a\0b") + ihdr(), "the first PNG chunk is tEXt, not IHDR"),
        (ihdr() + ihdr(), "PNG has a second IHDR chunk"),
    ],
)
def test_png_header_rules(tmp_path: Path, header: bytes, message: str) -> None:
    refused(write_png(tmp_path, header, idat(), IEND), re.escape(message))


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ((ihdr(4, 3, 8, 3), idat(), IEND), "a palette PNG without a PLTE chunk before its image data"),
        ((ihdr(4, 3, 8, 3), PLTE, idat(), PLTE, IEND), "PNG chunk PLTE comes after the image data"),
        ((ihdr(4, 3, 8, 3), PLTE, PLTE, idat(), IEND), "PNG has a second PLTE chunk"),
        ((ihdr(4, 3, 8, 3), chunk(b"PLTE", b"\0" * 4), idat(), IEND), "PNG chunk PLTE is 4 bytes long, not 1 to"),
        ((ihdr(4, 3, 8, 3), chunk(b"PLTE", b""), idat(), IEND), "PNG chunk PLTE is 0 bytes long, not 1 to 256"),
        ((ihdr(4, 3, 8, 3), chunk(b"PLTE", b"\0" * 771), idat(), IEND), "PNG chunk PLTE is 771 bytes long"),
        ((ihdr(), idat(), chunk(b"tEXt", b"a\0b"), idat(), IEND), "PNG IDAT chunks are not consecutive"),
        ((ihdr(), IEND), "PNG has no IDAT chunk (no image data)"),
        ((ihdr(), idat()), "truncated PNG: the file ends after chunk IDAT without an IEND chunk"),
    ],
)
def test_png_chunk_order_rules(tmp_path: Path, chunks: tuple[bytes, ...], message: str) -> None:
    refused(write_png(tmp_path, *chunks), re.escape(message))


def test_png_chunk_crc(tmp_path: Path) -> None:
    damaged = bytearray(idat())
    damaged[-1] ^= 1
    refused(write_png(tmp_path, ihdr(), bytes(damaged), IEND), "PNG chunk IDAT has a bad CRC")


def test_png_chunk_length_beyond_the_spec(tmp_path: Path) -> None:
    path = write_png(tmp_path, ihdr(), struct.pack(">I", 1 << 31) + b"IDAT" + b"\0" * 8, IEND)
    refused(path, "PNG chunk IDAT claims an invalid length of 2147483648")


def zlib_idat(data: bytes) -> bytes:
    return chunk(b"IDAT", data)


def raw_rows(labels: np.ndarray = GRAY) -> bytes:
    return b"".join(b"\0" + row.tobytes() for row in labels)


def test_png_adler32(tmp_path: Path) -> None:
    stream = bytearray(zlib.compress(raw_rows()))
    stream[-1] ^= 1
    refused(write_png(tmp_path, ihdr(), zlib_idat(bytes(stream)), IEND), "the IDAT data is not a valid zlib stream")


def test_png_data_after_the_zlib_stream(tmp_path: Path) -> None:
    stream = zlib.compress(raw_rows()) * 2  # a second image stream appended
    refused(write_png(tmp_path, ihdr(), zlib_idat(stream), IEND), r"goes on for \d+ bytes after the end of its zlib")


@pytest.mark.parametrize(
    ("rows", "message"),
    [(raw_rows()[:-1], "it inflates to 14 bytes, but 4 x 3 pixels"), (raw_rows() + b"\0", "it inflates to more")],
)
def test_png_amount_of_image_data(tmp_path: Path, rows: bytes, message: str) -> None:
    refused(write_png(tmp_path, ihdr(), zlib_idat(zlib.compress(rows)), IEND), re.escape(message))


def test_png_size_beyond_what_its_data_can_hold(tmp_path: Path) -> None:
    """Refused before its 2 GB buffer is allocated, on the fast path and on the way to Pillow."""
    tiny = zlib_idat(zlib.compress(b"\0" * 100))
    refused(write_png(tmp_path, ihdr(46_000, 46_000), tiny, IEND), "bytes of compressed data cannot hold 46000")
    unknown = chunk(b"ZZZZ", b"?")
    path = write_png(tmp_path, ihdr(46_000, 46_000), unknown, tiny, IEND)
    refused(path, "bytes of compressed data cannot hold 46000")


def with_unknown_critical_chunk(*chunks: bytes) -> tuple[bytes, ...]:
    return (chunks[0], chunk(b"ZZZZ", b"?"), *chunks[1:])


def test_png_truncated_stream_whatever_pillow_is_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PNG left to Pillow (an unknown critical chunk): Pillow set to load truncated images would
    pad the short stream with zeros; the data is found whole before Pillow sees it."""
    image_file = pytest.importorskip("PIL.ImageFile")
    monkeypatch.setattr(image_file, "LOAD_TRUNCATED_IMAGES", True)
    good = write_png(tmp_path, *with_unknown_critical_chunk(ihdr(), idat(), IEND))
    assert_same_statistics(fastweights.count(good), numpy_counts([GRAY]))
    short = zlib_idat(zlib.compress(raw_rows())[:-6])
    refused(write_png(tmp_path, *with_unknown_critical_chunk(ihdr(), short, IEND)), "not a valid zlib stream")


@pytest.mark.parametrize(
    ("interlace", "bad", "where"),
    # 4 x 3 pixels interlaced: passes 1, 4, 5, 6 and 7 hold 1, 1, 1, 2 and 1 rows of 1, 1, 2, 2 and 4
    # pixels; the bad filter type is in the last row of the image data, after rows that are fine.
    [(0, 10, "row 2"), (1, 13, "row 0 of interlace pass 7")],
)
def test_png_bad_filter_type_whatever_pillow_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interlace: int, bad: int, where: str
) -> None:
    """A PNG left to Pillow (an unknown critical chunk): Pillow set to load truncated images would
    keep the rows before a bad filter type and pad the rest; the filter types are checked before
    Pillow sees it."""
    image_file = pytest.importorskip("PIL.ImageFile")
    monkeypatch.setattr(image_file, "LOAD_TRUNCATED_IMAGES", True)
    rows = bytearray(len(raw_rows()) if not interlace else 2 + 2 + 3 + 2 * 3 + 5)
    header = ihdr(4, 3, 8, 0, 0, 0, interlace)
    good = write_png(tmp_path, *with_unknown_critical_chunk(header, zlib_idat(zlib.compress(bytes(rows))), IEND))
    assert fastweights.count(good).pixels.tolist() == [12]
    rows[bad] = 5
    path = write_png(tmp_path, *with_unknown_critical_chunk(header, zlib_idat(zlib.compress(bytes(rows))), IEND))
    refused(path, re.escape(f"corrupt image data: {where} has an unknown filter type 5"))


def test_png_above_pillows_bomb_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pil = pytest.importorskip("PIL.Image")
    monkeypatch.setattr(pil, "MAX_IMAGE_PIXELS", 5)  # 12 pixels: over twice the limit
    path = write_png(tmp_path, *with_unknown_critical_chunk(ihdr(), idat(), IEND))
    refused(path, r"cannot decode this PNG \(Image size \(12 pixels\) exceeds limit of 10 pixels")


@pytest.mark.parametrize(
    "chunks",
    [
        (ihdr(4, 3, 8, 3), chunk(b"PLTE", bytes(6)), idat(), IEND),  # indices up to 7, 2 entries
        (
            ihdr(4, 3, 4, 3),
            chunk(b"PLTE", bytes(3 * 256)),
            idat((GRAY[:, 0::2] << 4) | GRAY[:, 1::2]),
            IEND,
        ),  # 256 entries at 4 bits
        (ihdr(), PLTE, idat(), IEND),  # a suggested palette in a gray image
        (ihdr(), chunk(b"tRNS", b"\0" * 7), idat(), IEND),  # a malformed ancillary chunk
        (ihdr(), idat(), IEND, b"trailing bytes"),
    ],
    ids=["index-beyond-PLTE", "PLTE-longer-than-the-depth", "PLTE-in-gray", "bad-tRNS", "after-IEND"],
)
def test_png_what_does_not_change_labels_is_accepted(tmp_path: Path, chunks: tuple[bytes, ...]) -> None:
    assert_same_statistics(fastweights.count(write_png(tmp_path, *chunks)), numpy_counts([GRAY]))


# ---- JPEG (counted only with allow_lossy=True) ----

BLOCKS = np.kron(np.array([[0, 255], [255, 0]], np.uint8), np.ones((16, 16), np.uint8))


def jpeg_bytes() -> bytes:
    pil = pytest.importorskip("PIL.Image")
    buffer = __import__("io").BytesIO()
    pil.fromarray(BLOCKS).save(buffer, "JPEG", quality=100)
    return buffer.getvalue()


def segment(data: bytes, marker: int) -> tuple[int, int]:
    """Where the segment of `marker` starts (its 0xff) and ends."""
    start = data.index(bytes([0xFF, marker]))
    return start, start + 2 + struct.unpack_from(">H", data, start + 2)[0]


def write_jpeg(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "mask.jpg"
    path.write_bytes(data)
    return path


def test_the_jpeg_counts_with_allow_lossy(tmp_path: Path) -> None:
    counts = fastweights.count(write_jpeg(tmp_path, jpeg_bytes()), allow_lossy=True, num_classes=256)
    assert counts.n_pixels == BLOCKS.size


@pytest.mark.parametrize("where", ["no-EOI", "inside-the-scan"])
def test_jpeg_truncated_whatever_pillow_is_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    image_file = pytest.importorskip("PIL.ImageFile")
    monkeypatch.setattr(image_file, "LOAD_TRUNCATED_IMAGES", True)  # Pillow would pad the image
    data = jpeg_bytes()
    _, scan = segment(data, 0xDA)
    path = write_jpeg(tmp_path, data[:-2] if where == "no-EOI" else data[: (scan + len(data)) // 2])
    refused(
        path, "truncated JPEG: the file ends inside the image data, before its end-of-image marker", allow_lossy=True
    )


def test_jpeg_segment_past_the_end(tmp_path: Path) -> None:
    data = jpeg_bytes()
    _, end = segment(data, 0xDB)
    refused(write_jpeg(tmp_path, data[: end - 3]), r"truncated JPEG: marker 0xdb at byte \d+ claims", allow_lossy=True)


def test_jpeg_byte_that_is_not_a_marker(tmp_path: Path) -> None:
    data = bytearray(jpeg_bytes())
    _, end = segment(bytes(data), 0xDB)
    data[end] = 0x12
    refused(write_jpeg(tmp_path, bytes(data)), rf"damaged JPEG: byte {end} should start a marker", allow_lossy=True)


def test_jpeg_without_a_frame_header(tmp_path: Path) -> None:
    refused(write_jpeg(tmp_path, b"\xff\xd8\xff\xd9"), "no frame header before the end-of-image", allow_lossy=True)
    data = jpeg_bytes()
    start, end = segment(data, 0xC0)
    path = write_jpeg(tmp_path, data[:start] + data[end:])
    refused(path, "damaged JPEG: a scan before the frame header", allow_lossy=True)


def test_jpeg_second_frame_header(tmp_path: Path) -> None:
    data = jpeg_bytes()
    start, end = segment(data, 0xC0)
    path = write_jpeg(tmp_path, data[:end] + data[start:])
    refused(path, "damaged JPEG: a second frame header", allow_lossy=True)


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (0, 32, "JPEG frame header gives a size of 0 x 32 pixels"),
        (65535, 65535, "JPEG frame header claims 65535 x 65535 pixels, more than the limit of 2147483648"),
        (20000, 20000, r"damaged JPEG: \d+ bytes cannot hold 20000 x 20000 pixels"),
    ],
)
def test_jpeg_frame_size(tmp_path: Path, width: int, height: int, message: str) -> None:
    data = bytearray(jpeg_bytes())
    start, _ = segment(bytes(data), 0xC0)
    struct.pack_into(">HH", data, start + 5, height, width)
    refused(write_jpeg(tmp_path, bytes(data)), message, allow_lossy=True)


def test_jpeg_above_pillows_bomb_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pil = pytest.importorskip("PIL.Image")
    monkeypatch.setattr(pil, "MAX_IMAGE_PIXELS", 100)  # 1024 pixels: over twice the limit
    path = write_jpeg(tmp_path, jpeg_bytes())
    refused(path, r"cannot decode JPEG \(Image size \(1024 pixels\) exceeds limit of 200 pixels", allow_lossy=True)
