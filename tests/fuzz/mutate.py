"""Mutations of valid files: generic (bit flips, truncations, inserted / removed / repeated bytes)
and structure-aware per format (PNG chunks, .npy header text, zip records, TIFF IFD entries,
NIfTI header fields, gzip members), so that a mutation reaches past the first checksum or magic.

A mutator takes (bytes, rng) and returns (mutated bytes, what it did), or None when it does not
apply to that file. `mutations(fmt, data, rng)` picks one at random."""

from __future__ import annotations

import gzip
import io
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable

import numpy as np

__all__ = ["MUTATORS", "boundaries", "mutate"]

Mutation = tuple[bytes, str]
Mutator = Callable[[bytes, np.random.Generator], "Mutation | None"]

# Values a header field is set to: zero, one, negative, huge, just past a power of two.
_U32 = (0, 1, 2, 7, 255, 256, 65535, 65536, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x10000, 1 << 20, 3)
_I16 = (0, 1, -1, 2, 3, 7, 8, 9, 255, 32767, -32768, 16, 64, 1000)


def _pick(rng: np.random.Generator, items: tuple | list):  # type: ignore[no-untyped-def]
    return items[int(rng.integers(len(items)))]


# ---------------------------------------------------------------- generic


def bit_flips(data: bytes, rng: np.random.Generator) -> Mutation | None:
    if not data:
        return None
    out = bytearray(data)
    n = int(rng.integers(1, 5))
    # Headers are where a flip changes meaning: half the flips land in the first 512 bytes.
    limit = min(len(out), 512) if rng.random() < 0.5 else len(out)
    positions = rng.integers(0, limit, n)
    for position in positions:
        out[position] ^= 1 << int(rng.integers(8))
    return bytes(out), f"bit flips at {sorted(int(p) for p in positions)}"


def byte_set(data: bytes, rng: np.random.Generator) -> Mutation | None:
    if not data:
        return None
    out = bytearray(data)
    position = int(rng.integers(min(len(out), 1024) if rng.random() < 0.7 else len(out)))
    value = _pick(rng, (0, 0xFF, 0x7F, 0x80, int(rng.integers(256))))
    out[position] = value
    return bytes(out), f"byte {position} = {value:#x}"


def truncate(data: bytes, rng: np.random.Generator) -> Mutation | None:
    if len(data) < 2:
        return None
    cut = int(rng.integers(0, len(data)))
    return data[:cut], f"truncated at {cut} of {len(data)}"


def truncate_end(data: bytes, rng: np.random.Generator) -> Mutation | None:
    if len(data) < 2:
        return None
    cut = len(data) - int(rng.integers(1, min(64, len(data))))
    return data[:cut], f"last {len(data) - cut} bytes cut"


def append(data: bytes, rng: np.random.Generator) -> Mutation | None:
    extra = bytes(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8))
    return data + extra, f"{len(extra)} bytes appended"


def delete_range(data: bytes, rng: np.random.Generator) -> Mutation | None:
    if len(data) < 4:
        return None
    start = int(rng.integers(0, len(data) - 1))
    length = int(rng.integers(1, min(64, len(data) - start) + 1))
    return data[:start] + data[start + length :], f"bytes {start}:{start + length} deleted"


def repeat_range(data: bytes, rng: np.random.Generator) -> Mutation | None:
    if len(data) < 4:
        return None
    start = int(rng.integers(0, len(data) - 1))
    length = int(rng.integers(1, min(64, len(data) - start) + 1))
    return data[: start + length] + data[start:], f"bytes {start}:{start + length} repeated"


def insert_bytes(data: bytes, rng: np.random.Generator) -> Mutation | None:
    position = int(rng.integers(0, len(data) + 1))
    extra = bytes(rng.integers(0, 256, int(rng.integers(1, 32)), dtype=np.uint8))
    return data[:position] + extra + data[position:], f"{len(extra)} bytes inserted at {position}"


def word_set(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """A 2-, 4- or 8-byte field somewhere in the header region set to an extreme value."""
    width = _pick(rng, (2, 4, 8))
    if len(data) < width:
        return None
    position = int(rng.integers(0, min(len(data), 2048) - width + 1))
    value = _pick(rng, (0, 1, -1, 0x7FFF, 0x7FFFFFFF, 1 << 40, 1 << 62))
    endian = _pick(rng, "<>")
    kind = {2: "h", 4: "i", 8: "q"}[width]
    clipped = int(np.clip(value, -(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1))
    out = bytearray(data)
    struct.pack_into(endian + kind, out, position, clipped)
    return bytes(out), f"{width}-byte field at {position} = {clipped} ({endian})"


GENERIC: list[tuple[Mutator, int]] = [
    (bit_flips, 4),
    (byte_set, 2),
    (truncate, 2),
    (truncate_end, 1),
    (append, 1),
    (delete_range, 1),
    (repeat_range, 1),
    (insert_bytes, 1),
    (word_set, 2),
]


# ---------------------------------------------------------------- PNG

Chunk = tuple[bytes, bytes, bytes]  # (kind, data, crc)


def _png_chunks(data: bytes) -> list[Chunk] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    chunks, position = [], 8
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if end > len(data):
            return None
        chunks.append((kind, data[position + 8 : end - 4], data[end - 4 : end]))
        position = end
    return chunks


def _crc(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", zlib.crc32(kind + body))


def _png_join(chunks: list[Chunk]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(struct.pack(">I", len(b)) + k + b + c for k, b, c in chunks)


def _fresh(kind: bytes, body: bytes) -> Chunk:
    return kind, body, _crc(kind, body)


def png_chunk_edit(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """A chunk removed, repeated, moved, swapped, or a new one inserted (CRCs kept valid)."""
    chunks = _png_chunks(data)
    if not chunks:
        return None
    i = int(rng.integers(len(chunks)))
    op = _pick(rng, ("remove", "repeat", "swap", "move", "insert", "insert", "split-idat", "merge-idat"))
    if op == "remove":
        what = chunks.pop(i)[0]
    elif op == "repeat":
        chunks.insert(i, chunks[i])
        what = chunks[i][0]
    elif op in ("swap", "move"):
        j = int(rng.integers(len(chunks)))
        if op == "swap":
            chunks[i], chunks[j] = chunks[j], chunks[i]
        else:
            chunks.insert(j, chunks.pop(i))
        what = (chunks[i][0], chunks[j][0])
    elif op == "insert":
        ihdr = chunks[0][1] if chunks[0][0] == b"IHDR" else bytes(13)
        idat = b"".join(b for k, b, _ in chunks if k == b"IDAT")
        new = _pick(
            rng,
            (
                _fresh(b"ABCD", b"unknown critical"),
                _fresh(b"zzZz", bytes(5)),
                _fresh(b"IHDR", ihdr),
                _fresh(b"IHDR", struct.pack(">IIBBBBB", 4096, 4096, 8, 0, 0, 0, 0)),
                _fresh(b"PLTE", bytes(range(48))),
                _fresh(b"PLTE", bytes(4)),
                _fresh(b"tRNS", bytes(3)),
                _fresh(b"IEND", b""),
                _fresh(b"IDAT", b""),
                _fresh(b"IDAT", zlib.compress(bytes(64))),
                _fresh(b"IDAT", idat),
                _fresh(b"IDAT", bytes(rng.integers(0, 256, 20, dtype=np.uint8))),
                _fresh(b"CgBI", bytes(4)),
            ),
        )
        chunks.insert(i, new)
        what = new[0]
    elif op == "split-idat":
        idats = [k for k, (kind, body, _) in enumerate(chunks) if kind == b"IDAT" and len(body) > 1]
        if not idats:
            return None
        k = _pick(rng, idats)
        body = chunks[k][1]
        cut = int(rng.integers(1, len(body)))
        chunks[k : k + 1] = [_fresh(b"IDAT", body[:cut]), _fresh(b"IDAT", body[cut:])]
        what = f"IDAT {k} at {cut}"
    else:
        idats = [k for k, (kind, _, _) in enumerate(chunks) if kind == b"IDAT"]
        if len(idats) < 2:
            return None
        merged = b"".join(chunks[k][1] for k in idats)
        chunks = [c for c in chunks if c[0] != b"IDAT"]
        chunks.insert(idats[0], _fresh(b"IDAT", merged))
        what = len(idats)
    return _png_join(chunks), f"png {op} chunk {i} {what!r}"


def png_ihdr_field(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """An IHDR field set to an odd value, the CRC fixed so that the value is read."""
    chunks = _png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        return None
    fields = list(struct.unpack(">IIBBBBB", chunks[0][1]))
    index = int(rng.integers(7))
    names = ("width", "height", "depth", "colour", "compression", "filter", "interlace")
    if index < 2:
        old = fields[index]
        fields[index] = _pick(rng, (0, 1, old + 1, max(0, old - 1), old * 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 65536))
    elif index == 2:
        fields[index] = _pick(rng, (0, 1, 2, 3, 4, 8, 16, 32, 255))
    elif index == 3:
        fields[index] = _pick(rng, (0, 1, 2, 3, 4, 5, 6, 7, 255))
    else:
        fields[index] = _pick(rng, (0, 1, 2, 255))
    body = struct.pack(">IIBBBBB", *fields)
    keep_crc = rng.random() < 0.15
    chunks[0] = (b"IHDR", body, chunks[0][2] if keep_crc else _crc(b"IHDR", body))
    return _png_join(chunks), f"png IHDR {names[index]} = {fields[index]}{' (old CRC)' if keep_crc else ''}"


def png_length_crc(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """A chunk's length field or CRC damaged."""
    chunks = _png_chunks(data)
    if not chunks:
        return None
    i = int(rng.integers(len(chunks)))
    out = bytearray(data)
    position = 8 + sum(12 + len(b) for _, b, _ in chunks[:i])
    if rng.random() < 0.5:
        old = len(chunks[i][1])
        value = _pick(rng, (0, old + 1, max(0, old - 1), old + 12, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000))
        struct.pack_into(">I", out, position, value)
        return bytes(out), f"png chunk {i} {chunks[i][0]!r} length = {value}"
    out[position + 8 + len(chunks[i][1]) + int(rng.integers(4))] ^= 0x10
    return bytes(out), f"png chunk {i} {chunks[i][0]!r} bad CRC"


def png_stream(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """The inflated image data changed, then deflated again into valid chunks: short, long,
    a filter byte out of range, bits flipped; or the zlib stream itself damaged."""
    chunks = _png_chunks(data)
    if not chunks:
        return None
    idats = [k for k, (kind, _, _) in enumerate(chunks) if kind == b"IDAT"]
    if not idats:
        return None
    stream = b"".join(chunks[k][1] for k in idats)
    try:
        raw = bytearray(zlib.decompress(stream))
    except zlib.error:
        return None
    op = _pick(rng, ("short", "long", "filter", "flip", "adler", "cut-stream", "raw-deflate", "empty"))
    if op == "short" and raw:
        raw = raw[: int(rng.integers(0, len(raw)))]
    elif op == "long":
        raw += bytes(int(rng.integers(1, 200)))
    elif op == "filter" and raw:
        raw[0] = int(rng.integers(5, 256))
    elif op == "flip" and raw:
        raw[int(rng.integers(len(raw)))] ^= 1 << int(rng.integers(8))
    elif op == "empty":
        raw = bytearray()
    if op == "adler":
        new = stream[:-4] + bytes(b ^ 0xFF for b in stream[-4:])
    elif op == "cut-stream":
        new = stream[: max(0, len(stream) - int(rng.integers(1, 8)))]
    elif op == "raw-deflate":
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        new = packer.compress(bytes(raw)) + packer.flush()
    else:
        new = zlib.compress(bytes(raw))
    chunks = [c for k, c in enumerate(chunks) if k not in idats[1:]]
    chunks[idats[0]] = _fresh(b"IDAT", new)
    return _png_join(chunks), f"png image data {op}"


def png_palette(data: bytes, rng: np.random.Generator) -> Mutation | None:
    chunks = _png_chunks(data)
    if not chunks:
        return None
    plte = [k for k, (kind, _, _) in enumerate(chunks) if kind == b"PLTE"]
    if not plte:
        return None
    k = plte[0]
    body = chunks[k][1]
    new = _pick(rng, (b"", body[:3], body[:-3], body[:-1], body + bytes(3), bytes(769), body * 2))
    chunks[k] = _fresh(b"PLTE", new)
    return _png_join(chunks), f"png PLTE of {len(new)} bytes"


def png_general_decoder(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """An unknown critical chunk inserted (a reader must then leave the file to a general decoder,
    Pillow), then a second PNG mutation: what that fallback makes of damaged data."""
    chunks = _png_chunks(data)
    if not chunks:
        return None
    chunks.insert(1, _fresh(_pick(rng, (b"ABCD", b"QxQX", b"CgBI")), bytes(int(rng.integers(0, 9)))))
    marked = _png_join(chunks)
    then = _pick(rng, (png_truncate, png_truncate, png_stream, png_chunk_edit, png_ihdr_field, bit_flips))
    result = then(marked, rng)
    if result is None:
        return None
    return result[0], f"png unknown critical chunk, then {result[1]}"


def png_truncate(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """Cut at a chunk boundary, or inside a chunk's length, type, data or CRC."""
    cuts = boundaries(".png", data)
    if not cuts:
        return None
    cut = _pick(rng, cuts) + _pick(rng, (0, 0, 1, 3, 5, 9, -1, -2))
    cut = int(np.clip(cut, 0, len(data) - 1))
    return data[:cut], f"png truncated at {cut} of {len(data)}"


# ---------------------------------------------------------------- .npy

_HEADER = re.compile(rb"^\x93NUMPY(.)(.)")


def _npy_split(data: bytes) -> tuple[int, bytes, bytes] | None:
    """(major version, header text, array data)."""
    if len(data) < 10 or data[:6] != b"\x93NUMPY" or data[6] not in (1, 2, 3):
        return None
    size = 2 if data[6] == 1 else 4
    length = int.from_bytes(data[8 : 8 + size], "little")
    start = 8 + size
    return data[6], data[start : start + length], data[start + length :]


def npy_join(major: int, text: bytes, body: bytes, minor: int = 0, length: int | None = None) -> bytes:
    size = 2 if major == 1 else 4
    declared = len(text) if length is None else length
    prefix = b"\x93NUMPY" + bytes([major, minor]) + declared.to_bytes(size, "little", signed=False)
    return prefix + text + body


def _npy_text(descr: str, fortran: object, shape: str, extra: str = "") -> bytes:
    text = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, {extra}}}"
    return _pad(text.encode("latin1"))


def _pad(text: bytes) -> bytes:
    text = text.rstrip(b" \n")
    total = -(-(len(text) + 11) // 64) * 64
    return text + b" " * (total - 11 - len(text)) + b"\n"


def npy_header(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """The header's dict edited: dimensions, dtype, order, keys repeated, missing or added."""
    parts = _npy_split(data)
    if parts is None:
        return None
    major, text, body = parts
    match = re.match(rb"\{'descr': ('[^']*'), 'fortran_order': (True|False), 'shape': (\([^)]*\)), *\}", text.strip())
    if match is None:
        return None
    descr, fortran, shape = (m.decode("latin1") for m in match.groups())
    dims = [int(d) for d in shape.strip("()").split(",") if d.strip()]
    op = _pick(
        rng,
        ("dim", "dim", "dims", "descr", "descr", "fortran", "repeat", "repeat", "missing", "extra", "list", "spaces"),
    )
    extra = ""
    if op == "dim":
        if not dims:
            dims = [1]
        k = int(rng.integers(len(dims)))
        dims[k] = _pick(
            rng, (-1, -dims[k] or -1, 0, dims[k] + 1, max(0, dims[k] - 1), 2**31, 2**40, 2**62, 2**63, 2**64)
        )
    elif op == "dims":
        dims = _pick(rng, ([], [*dims, 1], [*dims, 2], dims[:-1], dims[::-1], [int(np.prod(dims))], [-2, -3]))
    elif op == "descr":
        descr = repr(
            _pick(
                rng,
                (
                    "|b1",
                    "<u2",
                    ">i4",
                    "<f8",
                    "<c8",
                    "|O",
                    "<U4",
                    "|V2",
                    "<M8[s]",
                    "<f2",
                    "|u1",
                    "<i8",
                    ">u8",
                    "|S3",
                    "<x9",
                    "",
                    "u1",
                    "<i16",
                    "[('a', '<u2')]",
                    "<f16",
                ),
            )
        )
    elif op == "fortran":
        fortran = _pick(rng, ("True", "False", "1", "'no'", "None"))
    elif op == "repeat":
        key = _pick(rng, ("descr", "shape", "fortran_order"))
        other = {
            "descr": _pick(rng, ("'<u2'", "'|u1'", "'<i8'")),
            "shape": _pick(rng, ("(1,)", "(2, 2)", "()")),
            "fortran_order": _pick(rng, ("True", "False")),
        }[key]
        extra = f"'{key}': {other}, "
        if rng.random() < 0.5:  # repeated first: the first value is the one a naive parser keeps
            text = _pad(text.replace(b"{", f"{{'{key}': {other}, ".encode(), 1))
            return npy_join(major, text, body), f"npy key {key!r} repeated (first {other})"
    elif op == "missing":
        key = _pick(rng, ("descr", "shape", "fortran_order"))
        new = {"descr": descr, "fortran_order": fortran, "shape": shape}
        del new[key]
        text = _pad(("{" + ", ".join(f"'{k}': {v}" for k, v in new.items()) + ", }").encode())
        return npy_join(major, text, body), f"npy key {key!r} missing"
    elif op == "extra":
        extra = "'extra': 1, "
    elif op == "list":
        return npy_join(major, _pad(f"[{descr}, {fortran}, {shape}]".encode()), body), "npy header a list"
    else:
        text = text.rstrip(b"\n") + b" " * int(rng.integers(1, 70))
        if rng.random() < 0.5:
            text = text.rstrip() + b"\n"
        return npy_join(major, text.rstrip(b"\n"), body), "npy header without its newline / odd padding"
    shape_text = "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"
    return npy_join(
        major, _npy_text(descr, fortran, shape_text, extra), body
    ), f"npy {op}: {descr} {fortran} {shape_text} {extra}"


def npy_prefix(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """The magic's version bytes or the header length field changed; or the header re-encoded."""
    parts = _npy_split(data)
    if parts is None:
        return None
    major, text, body = parts
    op = _pick(rng, ("version", "length", "length", "reencode"))
    if op == "version":
        version = _pick(rng, ((1, 0), (2, 0), (3, 0), (4, 0), (0, 0), (1, 1), (3, 1), (255, 0)))
        if version[0] in (1, 2, 3) and (2 if version[0] == 1 else 4) != (2 if major == 1 else 4):
            return npy_join(version[0], text, body, version[1]), f"npy version {version} (header length field refit)"
        out = bytearray(data)
        out[6:8] = bytes(version)
        return bytes(out), f"npy version bytes {version}"
    if op == "length":
        delta = _pick(rng, (-64, -1, 1, 63, 64, 1 << 15, -len(text), 0xFFFF - len(text)))
        length = max(0, len(text) + delta)
        if major == 1:
            length = min(length, 0xFFFF)
        return npy_join(major, text, body, length=length), f"npy header length {length} (true {len(text)})"
    new_major = _pick(rng, (1, 2, 3))
    return npy_join(new_major, text, body), f"npy header re-encoded as version {new_major}"


def npy_truncate(data: bytes, rng: np.random.Generator) -> Mutation | None:
    cuts = boundaries(".npy", data)
    if not cuts:
        return None
    cut = int(np.clip(_pick(rng, cuts) + _pick(rng, (0, 0, 1, -1, 2)), 0, len(data) - 1))
    return data[:cut], f"npy truncated at {cut} of {len(data)}"


# ---------------------------------------------------------------- zip (.npz)


def _zip_records(data: bytes) -> tuple[list[int], list[int], int] | None:
    """(local header offsets, central directory entry offsets, end record offset)."""
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(data):
        return None
    count, _, cd_offset = struct.unpack("<HII", data[end + 10 : end + 20])
    central, position = [], cd_offset
    for _ in range(count):
        if data[position : position + 4] != b"PK\x01\x02":
            return None
        central.append(position)
        name, extra, comment = struct.unpack("<HHH", data[position + 28 : position + 34])
        position += 46 + name + extra + comment
    local = [struct.unpack("<I", data[c + 42 : c + 46])[0] for c in central]
    return local, central, end


# (offset in the record, struct format, name): fields of a local header and a central entry
_LOCAL_FIELDS = (
    (6, "<H", "flags"),
    (8, "<H", "method"),
    (14, "<I", "crc"),
    (18, "<I", "compressed size"),
    (22, "<I", "size"),
    (26, "<H", "name length"),
    (28, "<H", "extra length"),
)
_CENTRAL_FIELDS = (
    (8, "<H", "flags"),
    (10, "<H", "method"),
    (16, "<I", "crc"),
    (20, "<I", "compressed size"),
    (24, "<I", "size"),
    (28, "<H", "name length"),
    (30, "<H", "extra length"),
    (42, "<I", "local header offset"),
)
_END_FIELDS = (
    (8, "<H", "entries here"),
    (10, "<H", "entries"),
    (12, "<I", "directory size"),
    (16, "<I", "directory offset"),
)


def zip_field(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """A field of a local header, a central directory entry or the end record: CRC, sizes,
    method, flags, name length, offsets; in one record only (so the two disagree) or in both."""
    records = _zip_records(data)
    if records is None or not records[0]:
        return None
    local, central, end = records
    member = int(rng.integers(len(local)))
    where = _pick(rng, ("local", "central", "both", "both", "end"))
    out = bytearray(data)
    if where == "end":
        offset, fmt, name = _pick(rng, _END_FIELDS)
        old = struct.unpack_from(fmt, out, end + offset)[0]
        value = _pick(rng, (0, old + 1, max(0, old - 1), 0xFFFF if fmt == "<H" else 0xFFFFFFFF, old + 30))
        value = min(value, 0xFFFF if fmt == "<H" else 0xFFFFFFFF)
        struct.pack_into(fmt, out, end + offset, value)
        return bytes(out), f"zip end record {name} = {value}"
    fields = _CENTRAL_FIELDS if where == "central" else _LOCAL_FIELDS
    offset, fmt, name = _pick(rng, fields)
    targets = []
    if where in ("local", "both"):
        targets.append((local[member], dict((n, o) for o, _, n in _LOCAL_FIELDS).get(name)))
    if where in ("central", "both"):
        targets.append((central[member], dict((n, o) for o, _, n in _CENTRAL_FIELDS).get(name)))
    old = struct.unpack_from(fmt, out, (local[member] if where != "central" else central[member]) + offset)[0]
    top = 0xFFFF if fmt == "<H" else 0xFFFFFFFF
    if name == "method":
        value = _pick(rng, (0, 8, 12, 14, 9, 1, 99, 93))
    elif name == "flags":
        value = old ^ _pick(rng, (1, 8, 0x40, 0x800, 0x2000))
    elif name == "crc":
        value = old ^ (1 << int(rng.integers(32)))
    else:
        value = min(top, _pick(rng, (0, old + 1, max(0, old - 1), old + 64, top, old // 2, 0x7FFFFFFF)))
    for record, field_offset in targets:
        if field_offset is not None and record + field_offset + struct.calcsize(fmt) <= len(out):
            struct.pack_into(fmt, out, record + field_offset, value)
    return bytes(out), f"zip member {member} {name} = {value} in {where}"


def _zip_members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [(info, archive.read(info)) for info in archive.infolist()]
    except Exception:  # whatever a damaged archive raises: that mutation does not apply
        return None


def _zip_write(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a repeated member is what the mutation wants
        with zipfile.ZipFile(out, "w") as archive:
            for info, body in members:
                archive.writestr(info, body)
    return out.getvalue()


def zip_member_npy(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """A member's .npy mutated, then the archive rewritten validly around it (CRC and sizes right),
    so the mutation reaches the .npy reader."""
    members = _zip_members(data)
    if members is None:
        return None
    if not members:
        return None
    k = int(rng.integers(len(members)))
    mutated = mutate(".npy", members[k][1], rng)
    return _zip_write(
        [(info, mutated[0] if index == k else body) for index, (info, body) in enumerate(members)]
    ), f"npz member {k}: {mutated[1]}"


def zip_members(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """A member removed, repeated or renamed (a directory, no .npy suffix); the archive emptied."""
    members = _zip_members(data)
    if members is None:
        return None
    op = _pick(rng, ("remove", "repeat", "rename", "dir", "empty", "store-as-deflate"))
    k = int(rng.integers(len(members))) if members else 0
    if op == "remove" and members:
        members.pop(k)
    elif op == "repeat" and members:
        members.insert(k, members[k])
    elif op == "rename" and members:
        members[k][0].filename = _pick(rng, ("x", "a/b.npy", "../up.npy", "dup.npy", "")) or "x"
    elif op == "dir":
        members.insert(k, (zipfile.ZipInfo("folder/"), b""))
    elif op == "empty":
        members = []
    elif members:
        members[k][0].compress_type = zipfile.ZIP_DEFLATED if members[k][0].compress_type == 0 else 0
    return _zip_write(members), f"npz members: {op} {k}"


def zip_truncate(data: bytes, rng: np.random.Generator) -> Mutation | None:
    cuts = boundaries(".npz", data)
    if not cuts:
        return None
    cut = int(np.clip(_pick(rng, cuts) + _pick(rng, (0, 0, 1, -1, 10)), 0, len(data) - 1))
    return data[:cut], f"zip truncated at {cut} of {len(data)}"


# ---------------------------------------------------------------- TIFF

_TIFF_TAGS = {
    256: "ImageWidth",
    257: "ImageLength",
    258: "BitsPerSample",
    259: "Compression",
    262: "Photometric",
    273: "StripOffsets",
    277: "SamplesPerPixel",
    278: "RowsPerStrip",
    279: "StripByteCounts",
    284: "PlanarConfig",
    317: "Predictor",
    322: "TileWidth",
    323: "TileLength",
    324: "TileOffsets",
    325: "TileByteCounts",
    338: "ExtraSamples",
    339: "SampleFormat",
    32997: "ImageDepth",
    32998: "TileDepth",
}
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}


class _Tiff:
    """The IFDs of a classic or Big TIFF: where each entry is and what it holds."""

    def __init__(self, data: bytes) -> None:
        self.e = "<" if data[:2] == b"II" else ">"
        self.big = struct.unpack(self.e + "H", data[2:4])[0] == 43
        self.count_fmt, self.entry_size, self.offset_fmt = ("Q", 20, "Q") if self.big else ("H", 12, "I")
        first = struct.unpack(self.e + self.offset_fmt, data[8:16] if self.big else data[4:8])[0]
        self.ifds: list[tuple[int, int]] = []  # (offset, number of entries)
        offset, seen = first, set()
        while offset and offset not in seen and offset + 8 < len(data) and len(self.ifds) < 64:
            seen.add(offset)
            count_size = struct.calcsize(self.count_fmt)
            (n,) = struct.unpack_from(self.e + self.count_fmt, data, offset)
            if offset + count_size + n * self.entry_size + 8 > len(data):
                break
            self.ifds.append((offset, n))
            offset = struct.unpack_from(self.e + self.offset_fmt, data, offset + count_size + n * self.entry_size)[0]

    def entries(self, data: bytes) -> list[tuple[int, int, int, int, int]]:
        """(position of the entry, tag, type, count, position of the value(s))."""
        out = []
        count_size = struct.calcsize(self.count_fmt)
        inline = 8 if self.big else 4
        for offset, n in self.ifds:
            for k in range(n):
                position = offset + count_size + k * self.entry_size
                tag, kind = struct.unpack_from(self.e + "HH", data, position)
                (count,) = struct.unpack_from(self.e + self.offset_fmt, data, position + 4)
                value_at = position + (12 if self.big else 8)
                size = _TYPE_SIZES.get(kind, 1) * count
                if size > inline:
                    value_at = struct.unpack_from(self.e + self.offset_fmt, data, value_at)[0]
                out.append((position, tag, kind, count, value_at))
        return out


def _tiff_parse(data: bytes) -> _Tiff | None:
    if data[:4] not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+") or len(data) < 16:
        return None
    try:
        tiff = _Tiff(data)
    except struct.error:
        return None
    return tiff if tiff.ifds else None


def tiff_tag(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """A tag's value (one element of an array, or all of them) set to 0 / 1 / huge / past the end /
    off by one; its type or count changed."""
    tiff = _tiff_parse(data)
    if tiff is None:
        return None
    entries = [e for e in tiff.entries(data) if e[1] in _TIFF_TAGS]
    if not entries:
        return None
    position, tag, kind, count, value_at = _pick(rng, entries)
    out = bytearray(data)
    name = _TIFF_TAGS[tag]
    what = _pick(rng, ("value", "value", "value", "all", "type", "count"))
    if what == "type":
        new_kind = _pick(rng, (0, 1, 2, 3, 4, 7, 13, 16, 99))
        struct.pack_into(tiff.e + "H", out, position + 2, new_kind)
        return bytes(out), f"tiff {name} type {kind} -> {new_kind}"
    if what == "count":
        new_count = _pick(rng, (0, count + 1, max(0, count - 1), 0xFFFF, 0xFFFFFFFF if not tiff.big else 1 << 40))
        struct.pack_into(tiff.e + tiff.offset_fmt, out, position + 4, new_count)
        return bytes(out), f"tiff {name} count {count} -> {new_count}"
    fmt = {3: "H", 4: "I", 16: "Q", 8: "h", 9: "i", 1: "B", 6: "b"}.get(kind)
    if fmt is None or value_at >= len(data):
        return None
    item = struct.calcsize(fmt)
    top = (1 << (8 * item)) - 1 if fmt.isupper() or fmt == "B" else (1 << (8 * item - 1)) - 1
    k = int(rng.integers(count)) if count else 0
    at = value_at + k * item
    if at + item > len(data):
        return None
    old = struct.unpack_from(tiff.e + fmt, out, at)[0]
    choices = [0, 1, old + 1, max(0, old - 1), old * 2, top, top // 2, len(data), len(data) - 1, 0xFFFF, 65536]
    if tag in (258,):
        choices += [1, 2, 4, 7, 12, 16, 24, 32, 64]
    if tag == 259:
        choices += [1, 2, 5, 7, 8, 32773, 34712, 50000, 99]
    if tag == 339:
        choices += [1, 2, 3, 4, 5, 6]
    if tag == 262:
        choices += [0, 1, 2, 3, 4, 5, 6, 8]
    value = min(_pick(rng, choices), top)
    if fmt.islower():
        value = int(np.clip(value, -(top + 1), top))
    if what == "all":
        for j in range(count):
            if value_at + (j + 1) * item <= len(out):
                struct.pack_into(tiff.e + fmt, out, value_at + j * item, value)
        return bytes(out), f"tiff {name} all {count} = {value}"
    struct.pack_into(tiff.e + fmt, out, at, value)
    return bytes(out), f"tiff {name}[{k}] {old} -> {value}"


def tiff_ifd(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """An IFD's entry count (0, 1, one less, huge); its next-IFD offset (0, a loop, past the end);
    an entry removed, repeated or swapped; the header's first offset or magic."""
    tiff = _tiff_parse(data)
    if tiff is None:
        return None
    out = bytearray(data)
    offset, n = _pick(rng, tiff.ifds)
    count_size = struct.calcsize(tiff.count_fmt)
    op = _pick(rng, ("count", "count", "next", "remove", "repeat", "swap", "first", "magic"))
    if op == "count":
        value = _pick(rng, (0, 1, max(0, n - 1), n + 1, 0xFFFF, 2))
        struct.pack_into(tiff.e + tiff.count_fmt, out, offset, value)
        return bytes(out), f"tiff IFD at {offset}: {value} entries (of {n})"
    next_at = offset + count_size + n * tiff.entry_size
    if op == "next":
        value = _pick(rng, (0, offset, len(data), len(data) + 1000, 8, 0xFFFFFFFF, offset + 2))
        struct.pack_into(tiff.e + tiff.offset_fmt, out, next_at, value)
        return bytes(out), f"tiff IFD at {offset}: next IFD = {value}"
    if op in ("remove", "repeat", "swap") and n >= 2:
        entries = [bytes(out[offset + count_size + k * tiff.entry_size :][: tiff.entry_size]) for k in range(n)]
        k = int(rng.integers(n))
        if op == "remove":
            entries.pop(k)
            entries.append(entries[-1])  # keep the IFD's size; the count says one less
            struct.pack_into(tiff.e + tiff.count_fmt, out, offset, n - 1)
            next_value = out[next_at : next_at + struct.calcsize(tiff.offset_fmt)]
            body = b"".join(entries[: n - 1]) + next_value
            out[offset + count_size : offset + count_size + len(body)] = body
            return bytes(out), f"tiff IFD at {offset}: entry {k} removed"
        j = int(rng.integers(n))
        if op == "repeat":
            entries[j] = entries[k]
        else:
            entries[j], entries[k] = entries[k], entries[j]
        out[offset + count_size : offset + count_size + n * tiff.entry_size] = b"".join(entries)
        return bytes(out), f"tiff IFD at {offset}: entry {op} {k} {j}"
    if op == "magic":
        out[2:4] = _pick(rng, (b"\x2b\x00", b"\x00\x2b", b"\x2a\x2a", bytes(out[3:4] + out[2:3])))
        return bytes(out), "tiff magic number changed"
    value = _pick(rng, (0, 1, 7, len(data), len(data) - 2, 0xFFFFFFFF, offset + 1))
    if tiff.big:
        struct.pack_into(tiff.e + "Q", out, 8, value)
    else:
        struct.pack_into(tiff.e + "I", out, 4, value)
    return bytes(out), f"tiff first IFD offset = {value}"


def tiff_huge(data: bytes, rng: np.random.Generator) -> Mutation | None:
    """ImageWidth and ImageLength of the first IFD made huge (the 358-byte file asking for 34 GB)."""
    tiff = _tiff_parse(data)
    if tiff is None:
        return None
    out = bytearray(data)
    first = tiff.ifds[0][0]
    changed = []
    for position, tag, kind, _, value_at in tiff.entries(data):
        if position > first + 8 + tiff.ifds[0][1] * tiff.entry_size:
            break
        if tag in (256, 257) and kind in (3, 4) and value_at + 4 <= len(out):
            value = _pick(rng, (65535, 100000, 185000, 0x7FFFFFFF)) if kind == 4 else 65535
            struct.pack_into(tiff.e + ("I" if kind == 4 else "H"), out, value_at, value)
            changed.append(value)
    if not changed:
        return None
    return bytes(out), f"tiff huge dimensions {changed}"


def tiff_truncate(data: bytes, rng: np.random.Generator) -> Mutation | None:
    cuts = boundaries(".tif", data)
    if not cuts:
        return None
    cut = int(np.clip(_pick(rng, cuts) + _pick(rng, (0, 0, 1, -1, 2, 7)), 0, len(data) - 1))
    return data[:cut], f"tiff truncated at {cut} of {len(data)}"


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


# ---------------------------------------------------------------- structural boundaries


def boundaries(ext: str, data: bytes) -> list[int]:
    """The offsets where a structure starts or ends: where a cut is most likely to be mishandled."""
    cuts: set[int] = {0, 1, 4, 8, len(data) - 1}
    if ext == ".png":
        chunks = _png_chunks(data) or []
        position = 8
        for _, body, _ in chunks:
            cuts.update((position, position + 4, position + 8, position + 8 + len(body) // 2, position + 8 + len(body)))
            position += 12 + len(body)
    elif ext == ".npy":
        parts = _npy_split(data)
        if parts:
            start = len(data) - len(parts[2])
            cuts.update((6, 7, 8, 9, 10, 11, start - 1, start, start + 1, len(data) - 1, (start + len(data)) // 2))
    elif ext == ".npz":
        records = _zip_records(data)
        if records:
            local, central, end = records
            for offset in (*local, *central, end):
                cuts.update((offset, offset + 4, offset + 20, offset + 30))
            cuts.update(o + 60 for o in local)
    elif ext == ".tif":
        tiff = _tiff_parse(data)
        if tiff:
            for offset, n in tiff.ifds:
                cuts.update(
                    (offset, offset + 2, offset + 2 + n * tiff.entry_size // 2, offset + 2 + n * tiff.entry_size)
                )
            for _, tag, _, count, value_at in tiff.entries(data):
                if tag in (273, 324):
                    cuts.add(value_at)
                    fmt = tiff.e + ("I" if not tiff.big else "Q")
                    for k in range(min(count, 8)):
                        try:
                            cuts.add(struct.unpack_from(fmt, data, value_at + k * struct.calcsize(fmt))[0])
                        except struct.error:
                            break
    elif ext == ".nii":
        cuts.update((40, 70, 108, 112, 344, 347, 348, 351, 352, 540, 544, (352 + len(data)) // 2))
    return sorted(c for c in cuts if 0 <= c < len(data))


_PNG = [
    (png_chunk_edit, 6),
    (png_ihdr_field, 4),
    (png_length_crc, 2),
    (png_stream, 4),
    (png_palette, 1),
    (png_truncate, 3),
    (png_general_decoder, 4),
]
_NPY = [(npy_header, 8), (npy_prefix, 3), (npy_truncate, 3)]
_ZIP = [(zip_field, 6), (zip_member_npy, 6), (zip_members, 2), (zip_truncate, 2)]
_TIFF = [(tiff_tag, 10), (tiff_ifd, 4), (tiff_huge, 1), (tiff_truncate, 3)]
_NII = [(nii_field, 8), (nii_consistent, 2), (nii_truncate, 2)]

MUTATORS: dict[str, list[tuple[Mutator, int]]] = {
    ".png": _PNG + GENERIC,
    ".npy": _NPY + GENERIC,
    ".npz": _ZIP + GENERIC,
    ".raw": GENERIC,
    ".tif": _TIFF + GENERIC,
    ".nii": _NII + GENERIC,
    ".nii.gz": [(gzip_inner, 12), (gzip_frame, 4), *GENERIC],
    ".h5": GENERIC,
}


def mutate(ext: str, data: bytes, rng: np.random.Generator) -> Mutation:
    """One mutation of `data`, a file of extension `ext`, chosen by weight among those that apply."""
    mutators = MUTATORS[ext]
    weights = np.array([w for _, w in mutators], float)
    for _ in range(20):
        mutator = mutators[int(rng.choice(len(mutators), p=weights / weights.sum()))][0]
        try:
            result = mutator(data, rng)
        except (ValueError, IndexError, struct.error, UnicodeError, OverflowError):
            # A structure-aware mutator reading a file an earlier mutation already broke: it
            # does not apply, as when it returns None.
            continue
        if result is not None and result[0] != data:
            return result
    flipped = bytearray(data or b"\x00")
    flipped[0] ^= 0xFF
    return bytes(flipped), "first byte flipped"
