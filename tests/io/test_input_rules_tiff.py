"""The input rules of TIFF masks (docs/input-rules.md): for each rule, a hand-made file that breaks
exactly that rule, refused with an InputError naming the file and the problem."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts, record_memory_maps, refused

import fastweights
from fastweights.io.readers import tiff as tiff_reader

tifffile = pytest.importorskip("tifffile")


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
        form = {1: "B", SHORT: "H", LONG: "I", RATIONAL: "II", 8: "h", 9: "i", LONG8: "Q"}[kind]
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
    "tile_offsets": 324, "tile_counts": 325, "sample_format": 339, "fill_order": 266, "predictor": 317,
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


@pytest.mark.parametrize(("kind", "name"), [(1, "BYTE"), (8, "SSHORT"), (9, "SLONG")])
def test_tiff_layout_tag_of_a_type_the_specification_does_not_allow(tmp_path: Path, kind: int, name: str) -> None:
    # tifffile reads a BYTE RowsPerStrip as bytes and fails on it; a signed one is no size
    path = write_tiff(tmp_path, width=(kind, [8]))
    refused(path, rf"tag 256 of IFD 0 has field type {kind}, not SHORT, LONG or LONG8")


def test_tiff_layout_tag_twice_in_one_ifd(tmp_path: Path) -> None:
    good = write_tiff(tmp_path).read_bytes()
    ifd = struct.unpack_from("<I", good, 4)[0]
    entries = struct.unpack_from("<H", good, ifd)[0]
    tags = [struct.unpack_from("<H", good, ifd + 2 + 12 * k)[0] for k in range(entries)]
    # the (optional) Photometric entry overwritten with a second ImageWidth entry of another value
    width, photometric = tags.index(256), tags.index(262)
    entry = bytearray(good[ifd + 2 + 12 * width : ifd + 14 + 12 * width])
    entry[8:10] = struct.pack("<H", 4)
    patched = good[: ifd + 2 + 12 * photometric] + bytes(entry) + good[ifd + 14 + 12 * photometric :]
    path = tmp_path / "twice.tif"
    path.write_bytes(patched)
    refused(path, r"damaged TIFF: tag 256 appears twice in IFD 0")


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


@pytest.mark.parametrize("photometric", [4, 5, 6, 8, 32767])
def test_tiff_photometric_not_a_mask(tmp_path: Path, photometric: int) -> None:
    """CMYK, YCbCr (uncompressed: tifffile would hand on its raw samples), CIE L*a*b*, unknown codes."""
    path = write_tiff(tmp_path, photometric=(SHORT, [photometric]))
    refused(path, rf"IFD 0 has photometric interpretation {photometric}, not one of a label or colour mask")


@pytest.mark.parametrize("compression", [0, 2, 32767])
def test_tiff_compression_not_a_codec_fastweights_reads(tmp_path: Path, compression: int) -> None:
    """Unknown codes, fax codecs, camera-raw codecs: tifffile reads some as raw bytes, others not at all."""
    path = write_tiff(tmp_path, compression=(SHORT, [compression]))
    refused(path, rf"IFD 0 has compression {compression}, not a codec fastweights reads \(1 uncompressed, 5 LZW")


def test_tiff_unknown_predictor(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, predictor=(SHORT, [7])), r"damaged TIFF: IFD 0 has an unknown predictor 7")


def test_tiff_unknown_fill_order(tmp_path: Path) -> None:
    refused(write_tiff(tmp_path, fill_order=(SHORT, [3])), r"damaged TIFF: IFD 0 has an unknown fill order 3")


def patch_entry(data: bytearray, tag: int, field_type: int | None = None, value: int | None = None) -> None:
    """Edits, in place, the entry of `tag` in the first IFD of a little-endian classic TIFF."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * k
        if struct.unpack_from("<H", data, at)[0] == tag:
            if field_type is not None:
                struct.pack_into("<H", data, at + 2, field_type)
            if value is not None:
                struct.pack_into("<I", data, at + 8, value)
            return
    raise AssertionError(f"no tag {tag}")


def test_tiff_layout_tag_with_an_unknown_field_type(tmp_path: Path) -> None:
    """tifffile logs such a tag and goes on with its default (min-is-black for Photometric)."""
    data = bytearray(write_tiff(tmp_path).read_bytes())
    patch_entry(data, 262, field_type=255)
    path = tmp_path / "type.tif"
    path.write_bytes(data)
    refused(path, r"damaged TIFF: tag 262 of IFD 0 has an unknown field type 255")


def test_tiff_layout_tag_value_inside_the_header(tmp_path: Path) -> None:
    """A SHORT turned LONG8: its 8 bytes no longer fit the entry, so the entry's 1 reads as an offset."""
    data = bytearray(write_tiff(tmp_path).read_bytes())
    patch_entry(data, 262, field_type=LONG8)
    path = tmp_path / "offset.tif"
    path.write_bytes(data)
    refused(path, r"damaged TIFF: the value of tag 262 of IFD 0 lies at byte 1, inside the file's header")


VOLUME = (np.arange(4 * 6 * 8).reshape(4, 6, 8) % 7).astype(np.uint16)


def volume_file(tmp_path: Path, **options: object) -> tuple[Path, list[object]]:
    """A 4-page volume written by tifffile (uncompressed: one contiguous, memory-mapped series), and its pages."""
    path = tmp_path / "volume.tif"
    tifffile.imwrite(path, VOLUME, photometric="minisblack", **options)
    with tifffile.TiffFile(path) as tif:
        pages = list(tif.pages)
    return path, pages


def patch_page(path: Path, page: object, tag: int, value: int) -> None:
    """Sets the (inline, SHORT or LONG) value of `tag` in the IFD of one page."""
    entry = page.tags[tag]  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    struct.pack_into("<H" if entry.dtype == SHORT else "<I", data, entry.valueoffset, value)
    path.write_bytes(data)


def test_the_volume_is_memory_mapped_and_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = volume_file(tmp_path)
    mapped = record_memory_maps(monkeypatch, tiff_reader)
    assert_same_statistics(fastweights.count(path), numpy_counts([VOLUME]))
    assert mapped == [str(path)]


@pytest.mark.parametrize(
    ("tag", "value", "difference"),
    [
        (256, 4, r"size \(4, 6, 1\) \(not \(8, 6, 1\)\)"),
        (258, 8, r"bits 8 \(not 16\)"),
        (259, 32773, r"compression 32773 \(not 1\)"),
        (262, 0, r"photometric 0 \(not 1\)"),
    ],
)
def test_tiff_page_disagreeing_with_the_first_page(tmp_path: Path, tag: int, value: int, difference: str) -> None:
    """tifffile would read (or map) page 2 by page 0's tags; its own IFD says otherwise."""
    path, pages = volume_file(tmp_path)
    patch_page(path, pages[2], tag, value)
    refused(path, rf"page 2 of the series differs from its first page in {difference}; the pages of one image")


def test_tiff_page_whose_data_lies_elsewhere_is_not_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Page 2's strip moved onto page 0's pixels: counted from where its IFD says, so not memory-mapped."""
    path, pages = volume_file(tmp_path)
    patch_page(path, pages[2], 273, pages[0].dataoffsets[0])  # type: ignore[attr-defined]
    mapped = record_memory_maps(monkeypatch, tiff_reader)
    expected = VOLUME.copy()
    expected[2] = VOLUME[0]
    assert_same_statistics(fastweights.count(path), numpy_counts([expected]))
    assert mapped == []


def test_tiff_chain_of_ifds_shorter_than_the_shape_in_the_description(tmp_path: Path) -> None:
    """A tifffile file cut after 2 of its 4 IFDs: tifffile takes it for one written truncated."""
    path, pages = volume_file(tmp_path)
    data = bytearray(path.read_bytes())
    ifd = pages[1].offset  # type: ignore[attr-defined]
    struct.pack_into("<I", data, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0], 0)
    path.write_bytes(data)
    refused(path, r"gives the image shape \(4, 6, 8\), but the file has fewer pages and does not say it was written")


def test_tiff_written_truncated_counts_exactly(tmp_path: Path) -> None:
    path, pages = volume_file(tmp_path, truncate=True)
    assert len(pages) == 1
    assert_same_statistics(fastweights.count(path), numpy_counts([VOLUME]))


def test_imagej_chain_of_ifds_shorter_than_its_images(tmp_path: Path) -> None:
    """ImageJ's description says 4 images; the chain ends after 2: tifffile would map the 4 anyway."""
    path = tmp_path / "imagej.tif"
    tifffile.imwrite(path, VOLUME, imagej=True)
    with tifffile.TiffFile(path) as tif:
        ifd = tif.pages[1].offset
    data = bytearray(path.read_bytes())
    order = "<" if data[:2] == b"II" else ">"
    struct.pack_into(order + "I", data, ifd + 2 + 12 * struct.unpack_from(order + "H", data, ifd)[0], 0)
    path.write_bytes(data)
    refused(path, r"the series has 4 pages, but the file's chain of IFDs ends after 2 of them")


@pytest.mark.parametrize(
    ("shape", "tag", "value", "message"),
    [
        ((6, 8), 256, 4, r"\(written by tifffile\) gives the image shape \(6, 8\), its pages make \(6, 4\)"),
        ((3, 6, 8), 257, 5, r"its pages do not make the image shape that its description \(written by tifffile"),
    ],
)
def test_tiff_pages_disagreeing_with_the_shape_in_the_description(
    tmp_path: Path, shape: tuple[int, ...], tag: int, value: int, message: str
) -> None:
    """tifffile logs the mismatch and reads the pages by their own tags; which is damaged cannot be told."""
    labels = (np.arange(np.prod(shape)).reshape(shape) % 5).astype(np.uint8)
    path = tmp_path / "shaped.tif"
    tifffile.imwrite(path, labels, photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        pages = list(tif.pages)
    for page in pages:
        patch_page(path, page, tag, value)
    refused(path, message)
