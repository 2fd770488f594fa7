""".npy and .npz mutators: header text and prefix fields, zip records and members, cuts."""

from __future__ import annotations

import io
import re
import struct
import warnings
import zipfile

import numpy as np

from .mutate_common import GENERIC, Mutation, _pick, boundaries, mutate, register

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


def _npy_cuts(data: bytes) -> set[int]:
    """.npy: the prefix fields, the end of the header, the data."""
    cuts: set[int] = set()
    parts = _npy_split(data)
    if parts:
        start = len(data) - len(parts[2])
        cuts.update((6, 7, 8, 9, 10, 11, start - 1, start, start + 1, len(data) - 1, (start + len(data)) // 2))
    return cuts


def _npz_cuts(data: bytes) -> set[int]:
    """zip: every local header, central directory entry and the end record."""
    cuts: set[int] = set()
    records = _zip_records(data)
    if records:
        local, central, end = records
        for offset in (*local, *central, end):
            cuts.update((offset, offset + 4, offset + 20, offset + 30))
        cuts.update(o + 60 for o in local)
    return cuts


_NPY = [(npy_header, 8), (npy_prefix, 3), (npy_truncate, 3)]
_ZIP = [(zip_field, 6), (zip_member_npy, 6), (zip_members, 2), (zip_truncate, 2)]

register(".npy", _NPY + GENERIC, _npy_cuts)
register(".npz", _ZIP + GENERIC, _npz_cuts)
