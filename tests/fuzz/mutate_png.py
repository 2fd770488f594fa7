"""PNG mutators: chunks edited, inserted, repeated, removed and reordered; IHDR fields; lengths and
CRCs; the zlib stream; the palette; files sent to the general decoder; cuts."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .mutate_common import GENERIC, Mutation, _pick, bit_flips, boundaries, register

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


def _png_cuts(data: bytes) -> set[int]:
    """PNG: each chunk's length, type, middle and end."""
    cuts: set[int] = set()
    chunks = _png_chunks(data) or []
    position = 8
    for _, body, _ in chunks:
        cuts.update((position, position + 4, position + 8, position + 8 + len(body) // 2, position + 8 + len(body)))
        position += 12 + len(body)
    return cuts


_PNG = [
    (png_chunk_edit, 6),
    (png_ihdr_field, 4),
    (png_length_crc, 2),
    (png_stream, 4),
    (png_palette, 1),
    (png_truncate, 3),
    (png_general_decoder, 4),
]

register(".png", _PNG + GENERIC, _png_cuts)
