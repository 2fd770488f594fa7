"""PNG masks: the C++ decoder (count_png / decode_png) against Pillow and against the arrays that
a tiny encoder in this file wrote, with every bit depth, colour type, filter type and interlacing."""

from __future__ import annotations

import re
import struct
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import fastweights
from fastweights import _core
from fastweights.errors import InputError
from fastweights.io.colormaps import resolve_colormap
from fastweights.io.images import ReadOptions, array_image
from fastweights.io.readers import png
from fastweights.kernels import available_kernels, use_kernel
from fastweights.kernels._tally import Tally

PIL_Image = pytest.importorskip("PIL.Image")

SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# (colour type, bit depth): every combination PNG allows
KINDS = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (3, 1), (3, 2), (3, 4), (3, 8), (4, 8), (4, 16)]
KINDS += [(2, 8), (2, 16), (6, 8), (6, 16)]


# ---- a tiny PNG encoder: every filter type under the test's control ----


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def ihdr(width: int, height: int, depth: int, color_type: int, interlace: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace))


def pack(samples: np.ndarray, depth: int) -> np.ndarray:
    """(h, w, channels) samples -> (h, rowbytes) bytes: big-endian 16-bit, sub-byte MSB first."""
    height = samples.shape[0]
    if depth == 16:
        return samples.astype(">u2").view(np.uint8).reshape(height, -1)
    flat = samples.reshape(height, -1).astype(np.uint8)
    if depth == 8:
        return flat
    bits = (flat[:, :, None] >> np.arange(depth - 1, -1, -1, dtype=np.uint8)) & 1
    return np.packbits(bits.reshape(height, -1), axis=1)  # pads each row's last byte with zero bits


def filter_rows(rows: np.ndarray, bpp: int, filters: Sequence[int]) -> bytes:
    out = []
    prev = np.zeros(rows.shape[1], np.int32)
    for y, row in enumerate(rows.astype(np.int32)):
        kind = filters[y % len(filters)]
        a = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
        c = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        if kind == 4:
            pa, pb, pc = np.abs(prev - c), np.abs(a - c), np.abs(a + prev - 2 * c)
            predictor = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, prev, c))
        else:
            predictor = [np.zeros_like(row), a, prev, (a + prev) // 2][kind]
        out.append(bytes([kind]) + ((row - predictor) % 256).astype(np.uint8).tobytes())
        prev = row
    return b"".join(out)


def encode(
    samples: np.ndarray,
    color_type: int,
    depth: int,
    filters: Sequence[int] = (0,),
    interlace: bool = False,
    idat_parts: int = 1,
    level: int = 6,
) -> bytes:
    """A PNG of samples ((h, w) or (h, w, channels)), rows filtered as `filters` says (cycled)."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    height, width, channels = samples.shape
    assert channels == CHANNELS[color_type]
    bpp = max(1, channels * depth // 8)
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    raw = b""
    for x0, y0, dx, dy in passes:
        part = samples[y0::dy, x0::dx]
        if part.size:
            raw += filter_rows(pack(part, depth), bpp, filters)
    data = zlib.compress(raw, level)
    step = -(-len(data) // idat_parts)
    idats = b"".join(chunk(b"IDAT", data[i : i + step]) for i in range(0, len(data), step))
    palette = b""
    if color_type == 3:
        palette = chunk(b"PLTE", bytes(v for i in range(1 << depth) for v in (i, 255 - i, i // 2)))
    return (
        SIGNATURE
        + ihdr(width, height, depth, color_type, int(interlace))
        + palette
        + chunk(b"tEXt", b"Comment\x00written by test_png")
        + idats
        + chunk(b"IEND", b"")
    )


# ---- the paths under test ----


def fast_tally(path: Path, options: ReadOptions | None = None) -> Tally:
    (image,) = png.open_png(str(path), options or ReadOptions())
    return image.tally(None, 1)


def pillow_tally(path: Path, options: ReadOptions | None = None) -> Tally:
    labels = png._pillow_labels(str(path), path.read_bytes())
    if labels.ndim == 3:
        return png._colour_tally(str(path), labels, options or ReadOptions(), None, 1)
    return array_image(str(path), labels).tally(None, 1)


def assert_tally(got: Tally, labels: np.ndarray) -> None:
    values, counts = np.unique(np.asarray(labels, np.int64), return_counts=True)
    np.testing.assert_array_equal(got.values, values)
    np.testing.assert_array_equal(got.counts, counts.astype(np.uint64))
    assert got.ignored == 0


def assert_same_tally(a: Tally, b: Tally) -> None:
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.ignored == b.ignored


def expected_labels(samples: np.ndarray, color_type: int) -> np.ndarray:
    """What decode_png must return: gray or index, the gray of gray + alpha, RGB without alpha."""
    if color_type in (0, 3):
        return samples
    return samples[:, :, 0] if color_type == 4 else samples[:, :, :3]


@st.composite
def masks(draw: st.DrawFn) -> tuple[np.ndarray, int, int, list[int], bool, int]:
    color_type, depth = draw(st.sampled_from(KINDS))
    top = (1 << depth) - 1
    if draw(st.booleans()):  # blocky, as masks are: long runs, flat rows
        small = draw(arrays(np.int64, (draw(st.integers(1, 6)), draw(st.integers(1, 6))), elements=st.integers(0, top)))
        labels = np.repeat(np.repeat(small, draw(st.integers(1, 4)), axis=0), draw(st.integers(1, 24)), axis=1)
    else:
        shape = (draw(st.integers(1, 12)), draw(st.integers(1, 40)))
        labels = draw(arrays(np.int64, shape, elements=st.integers(0, top)))
    alpha = draw(arrays(np.int64, labels.shape, elements=st.integers(0, top)))
    if color_type in (0, 3):
        samples = labels
    elif color_type == 4:
        samples = np.stack([labels, alpha], axis=-1)
    else:  # colour masks whose three channels are equal: gray without a colormap
        samples = np.stack([labels] * 3 + ([alpha] if color_type == 6 else []), axis=-1)
    mode = draw(st.sampled_from([0, 1, 2, 3, 4, -1]))
    filters = draw(st.lists(st.integers(0, 4), min_size=1, max_size=12)) if mode == -1 else [mode]
    interlace = draw(st.integers(0, 3)) == 0
    return samples, color_type, depth, filters, interlace, draw(st.integers(1, 3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=masks())
def test_every_kind_filter_and_interlacing_counts_exactly(tmp_path: Path, case: tuple) -> None:
    samples, color_type, depth, filters, interlace, idat_parts = case
    path = tmp_path / "mask.png"
    data = encode(samples, color_type, depth, filters, interlace, idat_parts)
    path.write_bytes(data)
    labels = expected_labels(samples, color_type)
    gray = labels if labels.ndim == 2 else labels[:, :, 0]

    np.testing.assert_array_equal(png.decode_png(str(path)), labels)
    status, message, table, width, height, bit_depth, kind = _core.count_png(data, png.MAX_PIXELS)
    assert (width, height, bit_depth, kind) == (samples.shape[1], samples.shape[0], depth, color_type)
    if color_type in (2, 6):  # colours go through decode_png and the colormap
        assert (status, table) == (_core.PngStatus.unsupported, None), message
    else:
        assert status == _core.PngStatus.ok, message
        assert table is not None and table.size == (65536 if depth == 16 else 256)
        np.testing.assert_array_equal(table, np.bincount(gray.ravel(), minlength=table.size))
    fast = fast_tally(path)
    assert_tally(fast, gray)
    # Pillow reduces 16-bit RGB, RGBA and gray + alpha to 8 bits: there it cannot be the reference.
    if not (depth == 16 and color_type in (2, 4, 6)):
        assert_same_tally(pillow_tally(path), fast)


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_large_blocky_masks_take_the_skip_paths_of_every_filter(tmp_path: Path, kind: tuple, interlace: bool) -> None:
    color_type, depth = kind
    rng = np.random.default_rng(depth * 10 + color_type)
    top = (1 << depth) - 1
    labels = np.repeat(np.repeat(rng.integers(0, top + 1, (6, 9)), 23, axis=0), 37, axis=1)
    labels[50:53, 100:260] = top  # thin stripes, rows that differ from the one above
    labels[:, 5] = rng.integers(0, top + 1, labels.shape[0])
    channels = [labels] * CHANNELS[color_type]
    samples = labels if color_type in (0, 3) else np.stack(channels, axis=-1)
    for filters in ([0], [1], [2], [3], [4], [4, 1, 2, 0, 3]):
        path = tmp_path / f"mask_{''.join(map(str, filters))}.png"
        path.write_bytes(encode(samples, color_type, depth, filters, interlace))
        assert_tally(fast_tally(path), labels)
        np.testing.assert_array_equal(png.decode_png(str(path)), expected_labels(samples, color_type))


@pytest.mark.parametrize("variant", available_kernels())
@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind[0] in (0, 3, 4)])
def test_rows_count_the_same_with_every_kernel_variant(kind: tuple, variant: str) -> None:
    """Rows are counted with the shared byte and run kernels: every variant this CPU runs, on rows
    longer than the kernels' blocks, with their long runs, noise (spans counted label by label),
    {0, 1} stretches and stretches of a few labels (the byte kernel's first steps)."""
    color_type, depth = kind
    rng = np.random.default_rng(depth * 10 + color_type)
    top = (1 << depth) - 1
    width = 4096 * 8 // depth + 77
    runs = np.repeat(rng.integers(0, top + 1, width // 50 + 1), 50)[:width]
    rows = [runs, rng.integers(0, top + 1, width), rng.integers(0, 2, width), rng.choice([0, top, top // 2], width)]
    labels = np.stack(rows + [np.sort(row) for row in rows])
    samples = labels if color_type != 4 else np.stack([labels, rng.integers(0, top + 1, labels.shape)], -1)
    data = encode(samples, color_type, depth, [0, 1, 4])
    use_kernel(variant)
    try:
        found = _core.count_png(data, png.MAX_PIXELS)
    finally:
        use_kernel("auto")
    assert found.status == _core.PngStatus.ok, found.message
    assert found.table is not None
    np.testing.assert_array_equal(found.table, np.bincount(labels.ravel(), minlength=found.table.size))


def test_sixteen_bit_gray_keeps_large_ids(tmp_path: Path) -> None:
    labels = np.array([[24000, 24000, 26002, 0], [65535, 1, 24000, 26002]])
    path = tmp_path / "ids.png"
    path.write_bytes(encode(labels, 0, 16, [4]))
    assert_tally(fast_tally(path), labels)
    counts = fastweights.count(path)
    assert counts.pixels[24000] == 3 and counts.pixels[26002] == 2 and counts.pixels[65535] == 1


def test_sixteen_bit_colour_and_gray_alpha_keep_all_16_bits(tmp_path: Path) -> None:
    labels = np.array([[1000, 2000], [300, 65535]])
    alpha = np.full_like(labels, 65535)
    for color_type, samples in [(4, np.stack([labels, alpha], -1)), (2, np.stack([labels] * 3, -1))]:
        path = tmp_path / f"wide_{color_type}.png"
        path.write_bytes(encode(samples, color_type, 16))
        assert_tally(fast_tally(path), labels)  # 1000 and 1001 would both be 3 after Pillow's 8 bits


def test_colour_masks_count_through_the_colormap(tmp_path: Path) -> None:
    colours = np.array([[[128, 0, 0], [128, 0, 0], [0, 128, 0]], [[0, 0, 0], [128, 0, 0], [0, 128, 0]]])
    colormap = resolve_colormap({(0, 0, 0): 0, (128, 0, 0): 1, (0, 128, 0): 2})
    options = ReadOptions(colormap=colormap)
    expected = np.array([1, 1, 2, 0, 1, 2])
    for color_type, depth, samples in [
        (2, 8, colours),
        (6, 8, np.concatenate([colours, np.full((*colours.shape[:2], 1), 255)], axis=-1)),
        (2, 16, colours * 257),  # 8-bit colours saved at 16 bits
    ]:
        path = tmp_path / f"colour_{color_type}_{depth}.png"
        path.write_bytes(encode(samples, color_type, depth, [1, 4], interlace=depth == 16))
        assert_tally(fast_tally(path, options), expected)
        if depth == 8:
            assert_same_tally(pillow_tally(path, options), fast_tally(path, options))
        with pytest.raises(InputError, match=re.escape(f"{path}: an RGB colour mask, and no colormap was given")):
            fast_tally(path)
    path = tmp_path / "deep_colour.png"
    path.write_bytes(encode(colours * 257 + 1, 2, 16))
    with pytest.raises(InputError, match=re.escape(f"{path}: a 16-bit colour PNG whose colours are not 8-bit")):
        fast_tally(path, options)


def test_stack_axis_counts_each_row_or_column(tmp_path: Path) -> None:
    labels = np.array([[0, 1, 1, 2], [3, 3, 3, 3], [0, 0, 2, 2]])
    path = tmp_path / "rows.png"
    path.write_bytes(encode(labels, 0, 8, [4]))
    for axis, slices in [(0, list(labels)), (1, list(labels.T)), (-1, list(labels.T))]:
        counts = fastweights.count(path, stack_axis=axis, per_image=True)
        assert_same_statistics(counts, numpy_counts(slices, per_image=True))
    with pytest.raises(InputError, match=re.escape(f"{path}: stack_axis=2 is out of range")):
        fastweights.count(path, stack_axis=2)


def test_a_folder_counts_the_same_on_one_and_two_threads(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    images = []
    for index in range(200):
        kind = KINDS[index % 5]  # gray 1, 2, 4, 8, 16
        top = (1 << kind[1]) - 1
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 60)))
        labels = np.repeat(rng.integers(0, min(top, 30) + 1, (shape[0], 1 + shape[1] // 8)), 8, axis=1)[:, : shape[1]]
        labels[rng.random(shape) < 0.05] = top
        (tmp_path / f"{index:03d}.png").write_bytes(encode(labels, 0, kind[1], [index % 5, 4]))
        images.append(labels)
    one = fastweights.count(tmp_path, threads=1, per_image=True)
    two = fastweights.count(tmp_path, threads=2, per_image=True)
    assert_same_statistics(two, one)
    assert_same_statistics(one, numpy_counts(images, per_image=True))


# ---- corrupt input: an InputError naming the file and the problem ----


def small_png(**kwargs: object) -> bytes:
    labels = np.arange(60).reshape(6, 10) % 7
    return encode(labels, 0, 8, [1, 2, 3, 4, 0], **kwargs)  # type: ignore[arg-type]


def count_error(path: Path) -> str:
    with pytest.raises(InputError) as error:
        fastweights.count(path)
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    return message[len(f"{path}: ") :]


def test_a_bad_crc_names_the_chunk(tmp_path: Path) -> None:
    data = bytearray(small_png())
    idat = data.index(b"IDAT")
    data[idat + 8] ^= 0x40
    path = tmp_path / "bad_crc.png"
    path.write_bytes(bytes(data))
    assert count_error(path) == "PNG chunk IDAT has a bad CRC"
    data = bytearray(small_png())
    data[data.index(b"tEXt") + 6] ^= 1  # ancillary chunks are checked too
    path.write_bytes(bytes(data))
    assert count_error(path) == "PNG chunk tEXt has a bad CRC"


def test_every_truncation_is_an_error_naming_the_file(tmp_path: Path) -> None:
    data = small_png()
    path = tmp_path / "cut.png"
    for end in range(len(data)):
        path.write_bytes(data[:end])
        message = count_error(path)
        if end == 0:
            assert message == "0-byte file"
        elif end < len(SIGNATURE):
            assert message.startswith("not a .png file")
        else:
            assert message.startswith("truncated PNG"), (end, message)
    path.write_bytes(data[: -len(chunk(b"IEND", b""))])
    assert count_error(path) == "truncated PNG: the file ends after chunk IDAT without an IEND chunk"


def test_a_huge_header_is_refused_before_anything_is_allocated(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(SIGNATURE + ihdr(100_000, 100_000, 8, 0) + chunk(b"IDAT", zlib.compress(b"\0" * 100)))
    start = time.perf_counter()
    message = count_error(path)
    assert time.perf_counter() - start < 2
    assert message.startswith(f"PNG header claims 100000 x 100000 pixels, more than the limit of {png.MAX_PIXELS}")
    # Below the limit but far more than its compressed data can hold: refused before the 2 GB buffer.
    compressed = zlib.compress(b"\0" * 100)
    path.write_bytes(SIGNATURE + ihdr(46_000, 46_000, 8, 0) + chunk(b"IDAT", compressed) + chunk(b"IEND", b""))
    start = time.perf_counter()
    expected = f"corrupt image data: {len(compressed)} bytes of compressed data cannot hold 46000 x 46000 pixels"
    assert count_error(path) == f"{expected} at bit depth 8"
    assert time.perf_counter() - start < 2


def test_an_unknown_filter_type(tmp_path: Path) -> None:
    raw = b"\0\1\2\3" + b"\7\1\2\3"  # 2 rows of 3 pixels, the second with filter type 7
    path = tmp_path / "filter.png"
    path.write_bytes(SIGNATURE + ihdr(3, 2, 8, 0) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    assert count_error(path) == "corrupt image data: row 1 has an unknown filter type 7"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\0\1\2\3", "corrupt image data: it inflates to 4 bytes, but 3 x 2 pixels at bit depth 8 need 8"),
        (b"\0\1\2\3" * 3, "corrupt image data: it inflates to more than the 8 bytes that 3 x 2 pixels at bit"),
    ],
)
def test_the_wrong_amount_of_image_data(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "size.png"
    path.write_bytes(SIGNATURE + ihdr(3, 2, 8, 0) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    assert count_error(path).startswith(expected)


def test_damaged_streams_and_chunk_order(tmp_path: Path) -> None:
    path = tmp_path / "order.png"
    head = SIGNATURE + ihdr(3, 2, 8, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 8))
    cases = [
        (head + chunk(b"IEND", b""), "PNG has no IDAT chunk (no image data)"),
        (head + idat + chunk(b"tEXt", b"a\0b") + idat + chunk(b"IEND", b""), "PNG IDAT chunks are not consecutive"),
        (head + chunk(b"IDAT", b"\x78\x9c\xff\xff") + chunk(b"IEND", b""), "corrupt image data: the IDAT data is not"),
        (SIGNATURE + chunk(b"IHDR", b"\0" * 13) + idat, "PNG header gives an invalid size of 0 x 0 pixels"),
        (SIGNATURE + ihdr(3, 2, 3, 0) + idat, "PNG header gives an invalid bit depth 3 for colour type 0"),
        (SIGNATURE + idat, "the first PNG chunk is IDAT, not IHDR"),
    ]
    for data, expected in cases:
        path.write_bytes(data)
        assert count_error(path).startswith(expected)


def test_a_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are not pixels\n")
    assert count_error(path) == r"not a .png file (it does not start with b'\x89PNG\r\n\x1a\n')"


def test_an_unknown_critical_chunk_is_left_to_pillow(tmp_path: Path) -> None:
    labels = np.array([[1, 2], [3, 3]])
    data = encode(labels, 0, 4)
    iend = data.index(b"IEND") - 4
    path = tmp_path / "critical.png"
    path.write_bytes(data[:iend] + chunk(b"ZZZZ", b"?") + data[iend:])
    assert _core.count_png(path.read_bytes(), png.MAX_PIXELS).status == _core.PngStatus.unsupported
    assert_tally(fast_tally(path), labels)  # through Pillow, its 4-bit gray scaled back
    data = encode(np.stack([labels, labels], axis=-1), 4, 16)
    iend = data.index(b"IEND") - 4
    path.write_bytes(data[:iend] + chunk(b"ZZZZ", b"?") + data[iend:])
    with pytest.raises(InputError, match=re.escape(f"{path}: a 16-bit colour or gray + alpha PNG with a chunk")):
        fast_tally(path)


# ---- real masks ----


def real_pngs(root: Path) -> list[Path]:
    folders = [root / "camvid", root / "voc_labelme" / "SegmentationClass", *sorted((root / "formats").iterdir())]
    files = sorted(p for folder in folders if folder.is_dir() for p in folder.rglob("*.png"))
    return [p for p in files if p.stat().st_size and p.read_bytes()[:8] == SIGNATURE]


def test_real_pngs_fast_path_matches_pillow(real_data: Path) -> None:
    files = real_pngs(real_data)
    assert len(files) > 500
    for path in files:
        fast = fast_tally(path)
        assert_same_tally(fast, pillow_tally(path))
        with PIL_Image.open(path) as image:
            array = np.asarray(image)
        if array.ndim == 3:
            if not (array == array[:, :, :1]).all():
                continue  # a colour mask: counted only with a colormap
            array = array[:, :, 0]
        else:
            assert _core.count_png(path.read_bytes(), png.MAX_PIXELS).status == _core.PngStatus.ok, path
        # num_classes given: label 255 beside a few classes is what these masks hold, and not warned of.
        size = max(256, int(array.max()) + 1)
        expected = np.bincount(array.ravel(), minlength=size).astype(np.uint64)
        np.testing.assert_array_equal(fastweights.count(path, num_classes=size).pixels, expected)
    assert any("rgb_gray_channels" in str(path) for path in files)


def test_real_voc_palette_pngs_count_as_their_npy_twins(real_data: Path) -> None:
    pngs = sorted((real_data / "voc_labelme" / "SegmentationClass").glob("*.png"))
    assert pngs
    for path in pngs:
        twin = real_data / "voc_labelme" / "SegmentationClassNpy" / f"{path.stem}.npy"
        with PIL_Image.open(path) as image:
            assert image.mode == "P"
        a = fastweights.count(path, ignore_index=255)
        b = fastweights.count(twin, ignore_index=-1)
        np.testing.assert_array_equal(a.pixels, b.pixels)
        np.testing.assert_array_equal(a.images, b.images)
        assert (a.n_pixels, a.ignored) == (b.n_pixels, b.ignored)


def test_real_cityscapes_instance_ids(real_data: Path) -> None:
    path = real_data / "formats" / "cityscapes" / "frankfurt_000000_000294_gtFine_instanceIds.png"
    status, message, table, width, height, depth, color_type = _core.count_png(path.read_bytes(), png.MAX_PIXELS)
    assert (status, width, height, depth, color_type) == (_core.PngStatus.ok, 256, 128, 16, 0), message
    with PIL_Image.open(path) as image:
        ids = np.asarray(image).astype(np.int64)
    assert table is not None and ids.max() > 24000
    np.testing.assert_array_equal(table, np.bincount(ids.ravel(), minlength=65536))
    assert_tally(fast_tally(path), ids)


def test_real_zero_byte_pngs(real_data: Path) -> None:
    for path in sorted((real_data / "formats" / "zero_byte").glob("*.png")):
        assert count_error(path) == "0-byte file"
