"""NIfTI and gzip mutators: header fields, consistent edits, cuts, the gzip member and its frame."""

from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np

from .mutate_common import _I16, GENERIC, Mutation, _pick, boundaries, mutate, register

# ---------------------------------------------------------------- NIfTI

# NIfTI-1 fields: (offset, format, name, values)
_NII1_FIELDS = (
    (0, "i", "sizeof_hdr", (0, 347, 349, 540, -348, 1 << 30)),
    (40, "h", "dim[0]", (0, -1, 1, 2, 3, 4, 7, 8, 9, 32767)),
    (42, "h", "dim[1]", _I16),
    (44, "h", "dim[2]", _I16),
    (46, "h", "dim[3]", _I16),
    (48, "h", "dim[4]", _I16),
    (
        70,
        "h",
        "datatype",
        (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, 255, -1, 9999),
    ),
    (72, "h", "bitpix", (0, 1, 8, 16, 32, 64, 7, -8, 128)),
    (
        108,
        "f",
        "vox_offset",
        (0.0, 1.0, 100.0, 348.0, 351.0, 352.0, 353.0, 356.0, 1e20, -352.0, float("nan"), float("inf"), 352.5, 4096.0),
    ),
    (112, "f", "scl_slope", (0.0, 1.0, -1.0, 2.0, 0.5, float("nan"), float("inf"), -float("inf"), 1e-30, 1e30, 3.0)),
    (116, "f", "scl_inter", (0.0, 1.0, -1.0, 0.5, float("nan"), float("inf"), 1e30, -1000.0, 255.0)),
    (344, "4s", "magic", (b"n+1\x00", b"ni1\x00", b"n+2\x00", b"XXXX", b"\x00\x00\x00\x00")),
    (348, "4s", "extension", (b"\x01\x00\x00\x00", b"\x01\x00\x00\x00", b"\xff\xff\xff\xff")),
)
_NII2_FIELDS = (
    (0, "i", "sizeof_hdr", (0, 348, 541, -540)),
    (12, "h", "datatype", (0, 2, 4, 8, 16, 32, 64, 128, 512, 1024, 9999)),
    (14, "h", "bitpix", (0, 8, 16, 7, 64)),
    (16, "q", "dim[0]", (0, -1, 1, 3, 7, 8, 1 << 40)),
    (24, "q", "dim[1]", (0, -1, 1, 1 << 31, 1 << 40, 1 << 62, 3)),
    (32, "q", "dim[2]", (0, -1, 1, 1 << 31, 1 << 40, 3)),
    (168, "q", "vox_offset", (0, 1, 540, 543, 544, 545, -544, 1 << 40, 4096)),
    (176, "d", "scl_slope", (0.0, 1.0, -1.0, 2.0, 0.5, float("nan"), float("inf"), 1e300)),
    (184, "d", "scl_inter", (0.0, 1.0, 0.5, float("nan"), float("inf"), 1e300)),
    (4, "8s", "magic", (b"n+2\x00\r\n\x1a\n", b"n+1\x00\r\n\x1a\n", b"ni2\x00\r\n\x1a\n", bytes(8))),
    (540, "4s", "extension", (b"\x01\x00\x00\x00", b"\xff\xff\xff\xff")),
)


def _nii_endian(data: bytes) -> tuple[str, bool] | None:
    for endian in "<>":
        if len(data) >= 4 and struct.unpack(endian + "i", data[:4])[0] in (348, 540):
            return endian, struct.unpack(endian + "i", data[:4])[0] == 540
    return None


def nii_field(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """A header field set to 0 / negative / huge / inconsistent: sizeof_hdr, dim, datatype, bitpix,
    vox_offset, scl_slope, scl_inter, magic, the extension flag."""
    found = _nii_endian(data)
    if found is None:
        return None
    endian, two = found
    offset, fmt, name, values = _pick(rng, _NII2_FIELDS if two else _NII1_FIELDS)
    value = _pick(rng, values)
    if name == "vox_offset" and rng.random() < 0.3:
        value = type(value)(len(data) + _pick(rng, (0, 1, -1, 100)))
    out = bytearray(data)
    if offset + struct.calcsize(fmt) > len(out):
        return None
    struct.pack_into(endian + fmt, out, offset, value)
    return bytes(out), f"nifti {name} = {value!r}"


def nii_consistent(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """datatype and bitpix changed together (each consistent with the other, not with the data);
    or dims grown so the voxels run past the end of the file."""
    found = _nii_endian(data)
    if found is None or found[1] or len(data) < 348:
        return None
    endian = found[0]
    out = bytearray(data)
    if rng.random() < 0.5:
        datatype, bitpix = _pick(
            rng,
            (
                (2, 8),
                (4, 16),
                (8, 32),
                (16, 32),
                (64, 64),
                (256, 8),
                (512, 16),
                (768, 32),
                (1024, 64),
                (1280, 64),
                (32, 64),
                (128, 24),
                (1, 1),
            ),
        )
        struct.pack_into(endian + "hh", out, 70, datatype, bitpix)
        return bytes(out), f"nifti datatype {datatype} bitpix {bitpix}"
    k = int(rng.integers(1, 4))
    (old,) = struct.unpack_from(endian + "h", out, 40 + 2 * k)
    value = _pick(rng, (old + 1, old * 2, 32767))
    struct.pack_into(endian + "h", out, 40 + 2 * k, value)
    return bytes(out), f"nifti dim[{k}] {old} -> {value}"


def nii_truncate(data: bytes, rng: np.random.Generator) -> Mutation | None:
    cuts = boundaries(".nii", data)
    cut = int(np.clip(_pick(rng, cuts) + _pick(rng, (0, 0, 1, -1, 4)), 0, len(data) - 1))
    return data[:cut], f"nifti truncated at {cut} of {len(data)}"


def gzip_inner(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """The .nii inside the gzip member mutated, then compressed again (valid gzip)."""
    try:
        inner = gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return None
    mutated, what = mutate(".nii", inner, rng)
    return gzip.compress(mutated, mtime=0), f"inside gzip: {what}"


def gzip_frame(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """The gzip framing: CRC, ISIZE, header flags, the deflate stream cut, a second member or
    garbage appended."""
    if len(data) < 18 or data[:2] != b"\x1f\x8b":
        return None
    out = bytearray(data)
    op = _pick(rng, ("crc", "isize", "flags", "method", "cut", "cut-trailer", "member", "garbage", "zeros"))
    if op == "crc":
        out[-8 + int(rng.integers(4))] ^= 0x01
    elif op == "isize":
        struct.pack_into("<I", out, len(out) - 4, _pick(rng, (0, 1, 0xFFFFFFFF, struct.unpack("<I", data[-4:])[0] + 1)))
    elif op == "flags":
        out[3] = _pick(rng, (0x02, 0x04, 0x08, 0x10, 0x20, 0xE0, 0xFF))
    elif op == "method":
        out[2] = _pick(rng, (0, 7, 9, 255))
    elif op == "cut":
        return data[: int(rng.integers(10, len(data) - 8))], "gzip deflate stream cut"
    elif op == "cut-trailer":
        return data[: len(data) - int(rng.integers(1, 9))], "gzip trailer cut"
    elif op == "member":
        return data + gzip.compress(b"\x00" * int(rng.integers(1, 100)), mtime=0), "gzip second member appended"
    elif op == "garbage":
        return data + bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8)), "gzip garbage appended"
    else:
        return data + bytes(int(rng.integers(1, 40))), "gzip zero padding appended"
    return bytes(out), f"gzip {op}"


def _nii_cuts(data: bytes) -> set[int]:
    """NIfTI-1 and -2: the fields a reader checks, the end of each header, the data."""
    cuts: set[int] = set()
    cuts.update((40, 70, 108, 112, 344, 347, 348, 351, 352, 540, 544, (352 + len(data)) // 2))
    return cuts


_NII = [(nii_field, 8), (nii_consistent, 2), (nii_truncate, 2)]

register(".nii", _NII + GENERIC, _nii_cuts)
register(".nii.gz", [(gzip_inner, 12), (gzip_frame, 4), *GENERIC])
