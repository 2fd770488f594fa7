"""What every mutator shares, and the generic mutators: bit flips, set bytes and words, truncations,
inserted, removed and repeated bytes."""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

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


# Filled by each format's module as it is imported (mutate.py imports them all): its mutators, and
# where its structures start and end.
MUTATORS: dict[str, list[tuple[Mutator, int]]] = {".raw": GENERIC, ".h5": GENERIC}
_CUTS: dict[str, Callable[[bytes], set[int]]] = {}


def register(ext: str, mutators: list[tuple[Mutator, int]], cuts: Callable[[bytes], set[int]] | None = None) -> None:
    MUTATORS[ext] = mutators
    if cuts is not None:
        _CUTS[ext] = cuts


def boundaries(ext: str, data: bytes) -> list[int]:
    """The offsets where a structure starts or ends: where a cut is most likely to be mishandled."""
    cuts: set[int] = {0, 1, 4, 8, len(data) - 1}
    if ext in _CUTS:
        cuts |= _CUTS[ext](data)
    return sorted(c for c in cuts if 0 <= c < len(data))


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
