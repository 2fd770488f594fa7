"""The input rules of PNG, TIFF and JPEG masks (docs/input-rules.md): for each rule, a hand-made file
that breaks exactly that rule, refused with an InputError naming the file and the problem."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts

import fastweights
from fastweights.errors import InputError

pytest.importorskip("tifffile")


def refused(path: Path, pattern: str, **options: object) -> None:
    """The count refuses the file with an InputError naming it, and on_error="skip" leaves it out."""
    with pytest.raises(InputError) as error:
        fastweights.count(path, **options)  # type: ignore[arg-type]
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(pattern, message), message
    with pytest.warns(UserWarning, match="skipped 1 of 1 inputs"):
        counts = fastweights.count(path, on_error="skip", **options)  # type: ignore[arg-type]
    assert counts.n_images == 0
    assert [str(p) for p, _ in counts.errors] == [str(path)]


# ---- TIFF: a tiny classic (or BigTIFF) writer with every tag under the test's control ----

SHORT, LONG, RATIONAL, LONG8 = 3, 4, 5, 16
LABELS = (np.arange(48).reshape(6, 8) % 5).astype(np.uint8)


def tiff_bytes(
    tags: dict[int, tuple[int, list[int]]], data: bytes, *, big: bool = False, first: int | None = None
) -> bytes:
    """Header, then `data` (strip offsets are relative to its start), then one IFD of `tags`."""
    entry, count, offset, pointer = ("<HHQ8s", "<Q", "<Q", 8) if big else ("<HHI4s", "<H", "<I", 4)
    head = b"II+\x00" + struct.pack("<HHQ", 8, 0, 0) if big else b"II*\x00" + struct.pack("<I", 0)
    start = len(head)
    ifd_at = start + len(data) + (start + len(data)) % 2
    body = head + data + b"\0" * ((start + len(data)) % 2)
    entries, extra = [], b""
    values_at = ifd_at + struct.calcsize(count) + len(tags) * struct.calcsize(entry) + pointer
    for tag in sorted(tags):
        kind, values = tags[tag]
        if tag in (273, 324):  # offsets of the data
            values = [start + v for v in values]
        form = {SHORT: "H", LONG: "I", RATIONAL: "II", LONG8: "Q"}[kind]
        packed = b"".join(struct.pack("<" + form, *((v, 1) if kind == RATIONAL else (v,))) for v in values)
        if len(packed) <= pointer:
            inline = packed.ljust(pointer, b"\0")
        else:
            inline = struct.pack(offset, values_at + len(extra))
            extra += packed
        entries.append(struct.pack(entry, tag, kind, len(values), inline))
    ifd = struct.pack(count, len(tags)) + b"".join(entries) + struct.pack(offset, 0)
    header_offset = ifd_at if first is None else first
    if big:
        body = body[:8] + struct.pack("<Q", header_offset) + body[16:]
    else:
        body = body[:4] + struct.pack("<I", header_offset) + body[8:]
    return body + ifd + extra


def strips(
    labels: np.ndarray = LABELS,
    compress: int = 1,
    strip_rows: int = 2,
    **changes: tuple[int, list[int]] | None,
) -> tuple[dict[int, tuple[int, list[int]]], bytes]:
    """The tags and data of a strip TIFF of `labels`; `changes` (tag name -> value, None to drop) edit them."""
    codec = {1: lambda b: b, 8: zlib.compress}[compress]
    height, width = labels.shape
    pieces = [codec(labels[y : y + strip_rows].tobytes()) for y in range(0, height, strip_rows)]
    offsets = list(np.cumsum([0] + [len(p) for p in pieces[:-1]]))
    tags: dict[str, tuple[int, list[int]]] = {
        "width": (SHORT, [width]),
        "length": (SHORT, [height]),
        "bits": (SHORT, [labels.dtype.itemsize * 8]),
        "compression": (SHORT, [compress]),
        "photometric": (SHORT, [1]),
        "offsets": (LONG, [int(o) for o in offsets]),
        "samples": (SHORT, [1]),
        "rows": (SHORT, [strip_rows]),
        "counts": (LONG, [len(p) for p in pieces]),
    }
    for name, value in changes.items():
        if value is None:
            del tags[name]
        else:
            tags[name] = value
    return {TAG[name]: value for name, value in tags.items()}, b"".join(pieces)


TAG = {
    "width": 256, "length": 257, "bits": 258, "compression": 259, "photometric": 262, "offsets": 273,
    "samples": 277, "rows": 278, "counts": 279, "planar": 284, "tile_width": 322, "tile_length": 323,
    "tile_offsets": 324, "tile_counts": 325, "sample_format": 339,
}  # fmt: skip


def write_tiff(tmp_path: Path, **kwargs: object) -> Path:
    big = bool(kwargs.pop("big", False))
    first = kwargs.pop("first", None)
    tags, data = strips(**kwargs)  # type: ignore[arg-type]
    path = tmp_path / "mask.tif"
    path.write_bytes(tiff_bytes(tags, data, big=big, first=first))  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize("compress", [1, 8])
@pytest.mark.parametrize("big", [False, True])
def test_the_hand_made_tiffs_count_exactly(tmp_path: Path, compress: int, big: bool) -> None:
    path = write_tiff(tmp_path, compress=compress, big=big)
    assert_same_statistics(fastweights.count(path), numpy_counts([LABELS]))


def test_tiff_header_without_an_ifd(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, first=0), r"the TIFF file holds no image \(its header points to no IFD\)")


def test_tiff_ifd_with_no_entries(tmp_path: Path) -> None:
    path = tmp_path / "empty.tif"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<HI", 0, 0))
    refused(path, r"damaged TIFF: IFD 0 at byte 8 has no entries")


def test_tiff_ifd_past_the_end(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, first=10_000), r"damaged TIFF: IFD 0 at byte 10000 \(\d+ bytes\) lies past the end")


def test_tiff_ifd_inside_the_header(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, first=2), r"damaged TIFF: IFD 0 at byte 2 lies inside the file's header")


def test_tiff_ifd_loop(tmp_path: Path) -> None:
    data = bytearray(write_tiff(tmp_path).read_bytes())
    first = struct.unpack_from("<I", data, 4)[0]
    entries = struct.unpack_from("<H", data, first)[0]
    struct.pack_into("<I", data, first + 2 + 12 * entries, first)  # the next IFD is itself
    path = tmp_path / "loop.tif"
    path.write_bytes(bytes(data))
    refused(path, r"damaged TIFF: IFD 1 at byte \d+ was already read \(a loop of IFDs\)")


def test_bigtiff_offset_size(tmp_path: Path) -> None:
    data = bytearray(write_tiff(tmp_path, big=True).read_bytes())
    data[4] = 4
    path = tmp_path / "big.tif"
    path.write_bytes(bytes(data))
    refused(path, r"damaged TIFF: a BigTIFF header with offset size 4 \(not 8\)")


def test_tiff_required_tag_missing(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, width=None), r"damaged TIFF: IFD 0 lacks required tag 256")


def test_tiff_tag_with_several_values(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, width=(SHORT, [8, 8])), r"tag 256 of IFD 0 has 2 values, not 1")


def test_tiff_tag_not_an_integer(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, width=(RATIONAL, [8])), r"tag 256 of IFD 0 has field type 5, not an integer type")


def test_tiff_tag_value_past_the_end(tmp_path: Path) -> None:
    path = write_tiff(tmp_path, offsets=(LONG, [0, 16, 32]), counts=(LONG, [16, 16, 16]))
    path.write_bytes(path.read_bytes()[:-4])  # the byte counts are the last value written
    refused(path, r"damaged TIFF: the value of tag 279 of IFD 0 at byte \d+ \(12 bytes\) lies past the end")


def test_tiff_zero_size(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, width=(SHORT, [0])), r"damaged TIFF: IFD 0 has an invalid size of 0 x 6 x 1 pixels")


def test_tiff_zero_samples(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, samples=(SHORT, [0])), r"damaged TIFF: IFD 0 has 0 samples per pixel")


@pytest.mark.parametrize(
    ("bits", "sample_format", "kind"),
    [(8, 3, "float"), (4, 2, "signed integer"), (64, 6, "complex float"), (8, 4, "void"), (0, 1, "unsigned integer")],
)
def test_tiff_bits_and_sample_format(tmp_path: Path, bits: int, sample_format: int, kind: str) -> None:
    path = write_tiff(tmp_path, bits=(SHORT, [bits]), sample_format=(SHORT, [sample_format]))
    refused(
        path, rf"IFD 0 has samples of {bits} bits in sample format {sample_format} \({kind}\), which is not a label"
    )


def test_tiff_bits_differ_between_samples(tmp_path: Path) -> None:
    path = write_tiff(tmp_path, samples=(SHORT, [3]), bits=(SHORT, [8, 8, 16]))
    refused(path, r"damaged TIFF: IFD 0 gives bits per sample \[8, 8, 16\] for 3 samples per pixel")


def test_tiff_planar_configuration(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, planar=(SHORT, [3])), r"damaged TIFF: IFD 0 has an unknown planar configuration 3")


def test_tiff_zero_rows_per_strip(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, **{"rows": (SHORT, [0])}), r"damaged TIFF: IFD 0 has 0 rows per strip")


def test_tiff_strip_offsets_missing(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, offsets=None), r"damaged TIFF: IFD 0 lacks the offsets or byte counts of its strips")


def test_tiff_strip_count_inconsistent_with_the_size(tmp_path: Path) -> None:
    path = write_tiff(tmp_path, length=(SHORT, [8]))  # 8 rows need 4 strips of 2 rows; 3 are listed
    refused(path, r"damaged TIFF: IFD 0 of 8 x 8 pixels needs 4 strips, but its header lists 3 offsets and 3 byte")


@pytest.mark.parametrize("compress", [1, 8])
def test_tiff_strip_with_no_bytes(tmp_path: Path, compress: int) -> None:
    tags, data = strips(compress=compress)
    tags[279] = (LONG, [tags[279][1][0], 0, tags[279][1][2]])  # tifffile reads it as zeros
    path = tmp_path / "hole.tif"
    path.write_bytes(tiff_bytes(tags, data))
    refused(path, r"damaged TIFF: strip 1 of IFD 0 is missing \(byte count 0\)")


def test_tiff_strip_past_the_end(tmp_path: Path) -> None:
    tags, data = strips(compress=8)
    tags[273] = (LONG, [*tags[273][1][:2], 100_000])
    path = tmp_path / "far.tif"
    path.write_bytes(tiff_bytes(tags, data))
    refused(path, r"damaged TIFF: strip 2 of IFD 0 \(bytes 100008 to \d+\) lies outside the file")


def test_tiff_uncompressed_strip_too_short(tmp_path: Path) -> None:
    tags, data = strips()
    tags[279] = (LONG, [16, 16, 15])
    path = tmp_path / "short.tif"
    path.write_bytes(tiff_bytes(tags, data))
    refused(path, r"damaged TIFF: uncompressed strip 2 of IFD 0 holds 15 bytes, its pixels need 16")


def test_a_358_byte_tiff_declaring_huge_dimensions(tmp_path: Path) -> None:
    """Refused from its header, before anything sized by the header is allocated."""
    payload = zlib.compress(b"\0" * 1000)
    tags = {
        256: (LONG, [200_000]), 257: (LONG, [170_000]), 258: (SHORT, [8]), 259: (SHORT, [8]), 262: (SHORT, [1]),
        273: (LONG, [0]), 277: (SHORT, [1]), 278: (LONG, [170_000]), 279: (LONG, [len(payload)]),
    }  # fmt: skip
    path = tmp_path / "huge.tif"
    path.write_bytes(tiff_bytes(tags, payload))
    refused(path, r"damaged TIFF: \d+ bytes of deflate data cannot hold the 34000000000 bytes of strip 0 of IFD 0")
    tags[259] = (SHORT, [1])
    path.write_bytes(tiff_bytes(tags, payload))
    refused(path, r"damaged TIFF: uncompressed strip 0 of IFD 0 holds \d+ bytes, its pixels need 34000000000")


@pytest.mark.parametrize(("code", "name"), [(5, "LZW"), (32773, "PackBits")])
def test_tiff_codec_ratio_bounds(tmp_path: Path, code: int, name: str) -> None:
    tags = {
        256: (LONG, [100_000]), 257: (LONG, [1000]), 258: (SHORT, [8]), 259: (SHORT, [code]), 262: (SHORT, [1]),
        273: (LONG, [0]), 277: (SHORT, [1]), 278: (LONG, [1000]), 279: (LONG, [10]),
    }  # fmt: skip
    path = tmp_path / "ratio.tif"
    path.write_bytes(tiff_bytes(tags, b"\0" * 10))
    refused(path, rf"damaged TIFF: 10 bytes of {name} data cannot hold the 100000000 bytes of strip 0 of IFD 0")


def test_tiff_codec_without_a_bound_and_more_than_memory(tmp_path: Path) -> None:
    tags = {
        256: (LONG, [1 << 31]), 257: (LONG, [1 << 31]), 258: (SHORT, [8]), 259: (SHORT, [50000]),
        262: (SHORT, [1]), 273: (LONG, [0]), 277: (SHORT, [1]), 278: (LONG, [1 << 31]), 279: (LONG, [10]),
    }  # fmt: skip
    path = tmp_path / "zstd.tif"
    path.write_bytes(tiff_bytes(tags, b"\0" * 10))
    refused(path, r"strip 0 of IFD 0 decodes to 4611686018427387904 bytes, more than half this machine's memory")


def tiled(**changes: tuple[int, list[int]]) -> dict[int, tuple[int, list[int]]]:
    tags, _ = strips()
    for tag in (273, 278, 279):
        del tags[tag]
    tags.update({322: (SHORT, [16]), 323: (SHORT, [16]), 324: (LONG, [0]), 325: (LONG, [256])})
    tags.update({TAG[name]: value for name, value in changes.items()})
    return tags


def test_the_hand_made_tiled_tiff_counts_exactly(tmp_path: Path) -> None:
    tile = np.zeros((16, 16), np.uint8)
    tile[:6, :8] = LABELS
    path = tmp_path / "tiled.tif"
    path.write_bytes(tiff_bytes(tiled(), tile.tobytes()))
    assert_same_statistics(fastweights.count(path), numpy_counts([LABELS]))


def test_tiff_tile_count_inconsistent_with_the_size(tmp_path: Path) -> None:
    path = tmp_path / "tiles.tif"
    path.write_bytes(tiff_bytes(tiled(width=(SHORT, [40])), b"\0" * 256))  # 40 columns need 3 tiles
    refused(path, r"damaged TIFF: IFD 0 of 40 x 6 pixels needs 3 tiles, but its header lists 1 offsets")


def test_tiff_tile_of_zero_size(tmp_path: Path) -> None:
    path = tmp_path / "tiles.tif"
    path.write_bytes(tiff_bytes(tiled(tile_width=(SHORT, [0])), b"\0" * 256))
    refused(path, r"damaged TIFF: IFD 0 has an invalid tile size of 0 x 16 x 1")
