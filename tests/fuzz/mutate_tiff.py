"""TIFF mutators: tag values and types, IFD chains, huge sizes, cuts."""

from __future__ import annotations

import struct

import numpy as np

from .mutate_common import GENERIC, Mutation, _pick, boundaries, register

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


def _tiff_cuts(data: bytes) -> set[int]:
    """TIFF: every IFD, its entries, and where the strips and tiles start."""
    cuts: set[int] = set()
    tiff = _tiff_parse(data)
    if tiff:
        for offset, n in tiff.ifds:
            cuts.update((offset, offset + 2, offset + 2 + n * tiff.entry_size // 2, offset + 2 + n * tiff.entry_size))
        for _, tag, _, count, value_at in tiff.entries(data):
            if tag in (273, 324):
                cuts.add(value_at)
                fmt = tiff.e + ("I" if not tiff.big else "Q")
                for k in range(min(count, 8)):
                    try:
                        cuts.add(struct.unpack_from(fmt, data, value_at + k * struct.calcsize(fmt))[0])
                    except struct.error:
                        break
    return cuts


_TIFF = [(tiff_tag, 10), (tiff_ifd, 4), (tiff_huge, 1), (tiff_truncate, 3)]

register(".tif", _TIFF + GENERIC, _tiff_cuts)
