"""The input rules of docs/input-rules.md for .npy, .npz and raw files: one hand-made file per rule,
breaking exactly that rule, refused with an InputError naming the file and the problem."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import counted_in_batch, refused_matching, write

import fastweights
from fastweights.errors import InputError

MASK = np.array([[0, 1, 2], [2, 2, 1]], np.uint8)
PLAIN = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }"


def npy_bytes(header: str, data: bytes = MASK.tobytes(), version: int = 1, length: int | None = None) -> bytes:
    """A .npy file: the header text padded as numpy pads it, and the data."""
    encoded = header.encode("utf-8" if version == 3 else "latin-1")
    prefix = 10 if version == 1 else 12
    encoded += b" " * (-(prefix + len(encoded) + 1) % 64) + b"\n"
    size = len(encoded) if length is None else length
    field = struct.pack("<H" if version == 1 else "<I", size)
    return b"\x93NUMPY" + bytes([version, 0]) + field + encoded + data


# ---------------------------------------------------------------- .npy


@pytest.mark.parametrize("stack_axis", [None, 0])
def test_npy_plain_file_is_counted_on_both_paths(tmp_path: Path, stack_axis: int | None) -> None:
    path = write(tmp_path, "a.npy", npy_bytes(PLAIN))
    assert fastweights.count(path, stack_axis=stack_axis).pixels.tolist() == [1, 2, 3]


@pytest.mark.parametrize("stack_axis", [None, 0])
def test_npy_version_3_is_counted(tmp_path: Path, stack_axis: int | None) -> None:
    path = write(tmp_path, "v3.npy", npy_bytes(PLAIN, version=3))
    assert fastweights.count(path, stack_axis=stack_axis).pixels.tolist() == [1, 2, 3]
    odd = write(tmp_path, "v3_spaced.npy", npy_bytes(PLAIN.replace("(2, 3)", "(2,3)"), version=3))
    assert fastweights.count(odd, stack_axis=stack_axis).pixels.tolist() == [1, 2, 3]


@pytest.mark.parametrize("stack_axis", [None, 0])
@pytest.mark.parametrize(
    ("header", "data", "match"),
    [
        (PLAIN.replace("(2, 3)", "(-2, 3)"), MASK.tobytes(), r"shape \(-2, 3\) must be a tuple of non-negative"),
        (PLAIN.replace("(2, 3)", "(6, -1)"), MASK.tobytes(), r"shape \(6, -1\) must be a tuple of non-negative"),
        (PLAIN.replace("(2, 3)", "[2, 3]"), MASK.tobytes(), r"shape \[2, 3\] must be a tuple"),
        (PLAIN.replace("(2, 3)", "(2.0, 3)"), MASK.tobytes(), r"shape \(2\.0, 3\) must be a tuple"),
        (PLAIN.replace("(2, 3)", "(True, 6)"), MASK.tobytes(), r"shape \(True, 6\) must be a tuple"),
        (
            "{'descr': '|u1', 'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }",
            MASK.tobytes(),
            r"the \.npy header names 'descr' twice",
        ),
        (
            "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), 'shape': (6,), }",
            MASK.tobytes() * 2,
            r"the \.npy header names 'shape' twice",
        ),
        ("[1, 2]", MASK.tobytes(), r"the \.npy header is not a dict"),
        ("{'descr': '|u1', 'fortran_order': False}", MASK.tobytes(), r"the \.npy header lacks the key 'shape'"),
        (PLAIN.replace("}", "'extra': 1}"), MASK.tobytes(), r"the \.npy header has the unknown key 'extra'"),
        (PLAIN.replace("'|u1'", "'zz'"), MASK.tobytes(), r"descr 'zz' is not a numpy dtype"),
        (PLAIN.replace("'|u1'", "3"), MASK.tobytes(), r"descr 3 is not a numpy dtype"),
        (PLAIN.replace("False", "0"), MASK.tobytes(), r"fortran_order 0 must be True or False"),
        (PLAIN.replace("'|u1'", "'<U1'"), MASK.tobytes() * 4, r"dtype <U1 cannot hold labels"),
        (PLAIN.replace("'|u1'", "'|V1'"), MASK.tobytes(), r"dtype \|V1 cannot hold labels"),
        (PLAIN, MASK.tobytes()[:-1], r"truncated \.npy: shape \(2, 3\) of uint8 needs 134 bytes, the file has 133"),
        (
            PLAIN,
            MASK.tobytes() + b"\0",
            r"1 bytes of data after the array \(the file has 135 bytes, the header describes 134\)",
        ),
        (
            PLAIN.replace("(2, 3)", "(34359738368,)"),
            MASK.tobytes(),
            r"truncated \.npy: shape \(34359738368,\) of uint8 needs 34359738496",
        ),
        (
            PLAIN.replace("(2, 3)", "(4294967296, 4294967296, 4294967296)"),
            MASK.tobytes(),
            r"shape \(4294967296, 4294967296, 4294967296\) of uint8 is past numpy's largest array \(its non-zero "
            r"dimensions need 79228162514264337593543950336 bytes",
        ),
        ("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), ", MASK.tobytes(), r"not a valid \.npy header"),
        (
            PLAIN + " \xa0",  # Latin-1 no-break space: Python's tokenizer (numpy's parser) refuses it
            MASK.tobytes(),
            r"not a valid \.npy header \(SyntaxError: invalid non-printable character U\+00A0",
        ),
        (
            PLAIN.replace("(2, 3)", "(0, 9223372036854775808)"),
            b"",
            r"shape \(0, 9223372036854775808\) of uint8 is past numpy's largest array \(its non-zero dimensions "
            r"need 9223372036854775808 bytes",
        ),
        (
            PLAIN.replace("'|u1'", "'<u2'").replace("(2, 3)", "(4611686018427387904, 0)"),
            b"",
            r"shape \(4611686018427387904, 0\) of uint16 is past numpy's largest array",
        ),
    ],
    ids=[
        "negative-first-dim",
        "negative-last-dim",
        "shape-list",
        "shape-float",
        "shape-bool",
        "duplicate-descr",
        "duplicate-shape",
        "not-a-dict",
        "missing-key",
        "extra-key",
        "bad-descr",
        "descr-not-a-string",
        "fortran-not-bool",
        "text-dtype",
        "void-dtype",
        "short-data",
        "trailing-data",
        "34-GB-header",
        "overflowing-shape",
        "not-a-literal",
        "no-break-space",
        "empty-but-past-numpy-s-size",
        "empty-but-past-numpy-s-size-in-bytes",
    ],
)
def test_npy_header_rules(tmp_path: Path, header: str, data: bytes, match: str, stack_axis: int | None) -> None:
    path = write(tmp_path, "bad.npy", npy_bytes(header, data))
    refused_matching(path, r"bad\.npy: " + match, stack_axis=stack_axis)


def test_the_batch_path_counts_only_numpy_s_plain_spelling_of_the_exact_size(tmp_path: Path) -> None:
    """The C++ batch path leaves every other file to the general reader, which checks it."""

    files = {
        "plain": npy_bytes(PLAIN),
        "plain_v2": npy_bytes(PLAIN, version=2),
        "plain_v3": npy_bytes(PLAIN, version=3),
        "one_dim": npy_bytes(PLAIN.replace("(2, 3)", "(6,)")),
        "no_space": npy_bytes(PLAIN.replace("(2, 3)", "(2,3)")),
        "leading_zero": npy_bytes(PLAIN.replace("(2, 3)", "(02, 3)")),
        "negative": npy_bytes(PLAIN.replace("(2, 3)", "(-2, 3)")),
        "one_dim_no_comma": npy_bytes(PLAIN.replace("(2, 3)", "(6)")),
        "twice": npy_bytes(PLAIN.replace("{", "{'descr': '<u2', ")),
        "short": npy_bytes(PLAIN, MASK.tobytes()[:-1]),
        "long": npy_bytes(PLAIN, MASK.tobytes() + b"\0"),
        "overflow": npy_bytes(PLAIN.replace("(2, 3)", "(4294967296, 4294967296, 4294967296)")),
        "minor_version": npy_bytes(PLAIN)[:7] + b"\x01" + npy_bytes(PLAIN)[8:],
        "empty_past_numpy_s_size": npy_bytes(PLAIN.replace("(2, 3)", "(0, 9223372036854775808)"), b""),
    }
    paths = [str(write(tmp_path, f"{name}.npy", data)) for name, data in files.items()]
    assert counted_in_batch(paths) == {"plain", "plain_v2", "plain_v3", "one_dim"}


@pytest.mark.parametrize("stack_axis", [None, 0])
def test_npy_header_length_field_past_the_end(tmp_path: Path, stack_axis: int | None) -> None:
    path = write(tmp_path, "long.npy", npy_bytes(PLAIN, version=2, length=1 << 31))
    refused_matching(
        path, r"long\.npy: header length 2147483648 runs past the end of the file \(134 bytes\)", stack_axis=stack_axis
    )


@pytest.mark.parametrize("stack_axis", [None, 0])
def test_npy_unknown_version(tmp_path: Path, stack_axis: int | None) -> None:
    data = bytearray(npy_bytes(PLAIN))
    data[6] = 4
    path = write(tmp_path, "v4.npy", bytes(data))
    refused_matching(path, r"v4\.npy: \.npy format version 4\.0 is not one of 1\.0, 2\.0, 3\.0", stack_axis=stack_axis)


@pytest.mark.parametrize("stack_axis", [None, 0])
def test_npy_version_3_header_that_is_not_utf8(tmp_path: Path, stack_axis: int | None) -> None:
    data = npy_bytes(PLAIN.replace("}", "          }"), version=3).replace(b"          }", b"\xff\xfe        }")
    path = write(tmp_path, "latin.npy", data)
    refused_matching(
        path, r"latin\.npy: not a valid \.npy header \(a version 3\.0 header must be UTF-8", stack_axis=stack_axis
    )


def test_npy_header_short_of_its_length_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "stub.npy", b"\x93NUMPY\x02\x00\x10")
    refused_matching(path, r"stub\.npy: the file ends inside the \.npy preamble")


# ---------------------------------------------------------------- .npz


def set_sizes(data: bytearray, compressed: int | None = None, uncompressed: int | None = None) -> bytes:
    """Sets a one-member archive's sizes, in its central directory and its local header alike."""
    central = data.index(b"PK\x01\x02")
    for at in (central + 20, 18):
        old = struct.unpack("<II", data[at : at + 8])
        data[at : at + 8] = struct.pack("<II", compressed or old[0], uncompressed or old[1])
    return bytes(data)


def npz_of(path: Path, compression: int = zipfile.ZIP_STORED, **arrays: np.ndarray) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=False) as member:
                np.lib.format.write_array(member, array)
    return path


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_npz_member_whose_crc_disagrees_with_its_data(tmp_path: Path, compression: int) -> None:
    path = npz_of(tmp_path / "crc.npz", compression, a=np.zeros(4096, np.uint8))
    data = bytearray(path.read_bytes())
    if compression == zipfile.ZIP_STORED:
        data[200] = 1  # a label changed, the CRC kept
    else:
        central = data.index(b"PK\x01\x02")
        data[central + 16 : central + 20] = b"\0\0\0\0"
        data[14:18] = b"\0\0\0\0"
    path.write_bytes(bytes(data))
    refused_matching(path, r"crc\.npz:a: .*CRC-32 of the member's data .*disagrees with the archive's")


def test_npz_stored_member_crc_is_checked_in_slices(tmp_path: Path) -> None:
    from fastweights.io.readers import numpy_files

    path = npz_of(tmp_path / "big.npz", a=np.zeros(3 * numpy_files.CRC_SLICE_BYTES // 2, np.uint8))
    data = bytearray(path.read_bytes())
    data[-200] = 1
    path.write_bytes(bytes(data))
    refused_matching(path, r"big\.npz:a: CRC-32")


@pytest.mark.parametrize("stack_axis", [0, 1])
def test_npz_stored_member_crc_is_checked_before_slices_are_counted(tmp_path: Path, stack_axis: int) -> None:
    path = npz_of(tmp_path / "crc.npz", a=np.zeros((64, 64), np.uint8))
    data = bytearray(path.read_bytes())
    data[300] = 1
    path.write_bytes(bytes(data))
    refused_matching(path, r"crc\.npz:a: CRC-32 of the member's data", stack_axis=stack_axis)


@pytest.mark.parametrize("damaged", [False, True])
def test_npz_folded_crc_of_regions_out_of_order_checks_the_whole_member(tmp_path: Path, damaged: bool) -> None:
    from fastweights.io.readers import numpy_files

    path = npz_of(tmp_path / "order.npz", a=np.arange(1000, dtype=np.uint16))
    if damaged:
        data = bytearray(path.read_bytes())
        data[-300] ^= 1
        path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
    start = numpy_files._check_member(str(path), "order.npz:a", info, path.stat().st_size)
    mapped = numpy_files.MappedFile(str(path))
    with path.open("rb") as file:
        file.seek(start)
        header = numpy_files.read_npy_header(file, "order.npz:a", info.file_size)
    array = mapped.array(header.dtype, header.shape, start + header.offset, header.fortran)
    folded = numpy_files._FoldedCrc("order.npz:a", mapped, start, header.offset, info)
    folded.release(array[500:])
    if damaged:
        with pytest.raises(InputError, match=r"order\.npz:a: CRC-32 of the member's data"):
            folded.release(array[:500])
    else:
        folded.release(array[:500])
    assert not folded.in_order


def test_npz_member_sizes_beyond_the_file(tmp_path: Path) -> None:
    path = npz_of(tmp_path / "sizes.npz", a=MASK)
    path.write_bytes(set_sizes(bytearray(path.read_bytes()), 1 << 30, 1 << 30))
    refused_matching(path, r"sizes\.npz:a: the member's data \(1073741824 bytes from offset \d+\) runs past the end")


def test_npz_stored_member_sizes_that_disagree(tmp_path: Path) -> None:
    path = npz_of(tmp_path / "sizes.npz", a=MASK)
    path.write_bytes(set_sizes(bytearray(path.read_bytes()), compressed=133))
    refused_matching(path, r"sizes\.npz:a: a stored member must have equal compressed and uncompressed sizes")


def test_npz_local_sizes_that_disagree_with_the_central_directory(tmp_path: Path) -> None:
    path = npz_of(tmp_path / "sizes.npz", a=MASK)
    data = bytearray(path.read_bytes())
    data[22:26] = struct.pack("<I", 200)
    path.write_bytes(bytes(data))
    refused_matching(
        path, r"sizes\.npz:a: the member's local header \(CRC 0x\w+, 134 bytes compressed, 200 bytes\) disagrees"
    )


def test_npz_local_header_that_disagrees_with_the_central_directory(tmp_path: Path) -> None:
    path = npz_of(tmp_path / "local.npz", a=MASK)
    data = bytearray(path.read_bytes())
    data[30:35] = b"b.npy"  # the local header's name
    path.write_bytes(bytes(data))
    refused_matching(path, r"local\.npz:a: the member's local header names 'b\.npy', the central directory 'a\.npy'")
    data[30:35] = b"a.npy"
    data[8:10] = struct.pack("<H", 8)  # the local header says deflated
    path.write_bytes(bytes(data))
    refused_matching(path, r"local\.npz:a: the member's local header says compression 8, the central directory 0")


def test_npz_bad_local_header_magic(tmp_path: Path) -> None:
    path = npz_of(tmp_path / "magic.npz", a=MASK)
    data = bytearray(path.read_bytes())
    data[0:4] = b"PK\x05\x06"
    path.write_bytes(bytes(data))
    refused_matching(path, r"magic\.npz")


@pytest.mark.parametrize("where", ["both", "central", "local"])
@pytest.mark.parametrize("flag", [0x01, 0x40], ids=["encrypted", "strong-encryption"])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_npz_encrypted_member(tmp_path: Path, compression: int, flag: int, where: str) -> None:
    path = npz_of(tmp_path / "secret.npz", compression, a=MASK)
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    if where != "local":
        data[central + 8] |= flag
    if where != "central":
        data[6] |= flag
    path.write_bytes(bytes(data))
    refused_matching(
        path, r"secret\.npz:a: the member is encrypted" + (r" \(its local header says so\)" * (where == "local"))
    )


def test_npz_member_with_an_empty_name(tmp_path: Path) -> None:
    path = npz_of(tmp_path / "nameless.npz", a=MASK)
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    # The central directory's name length 0 and comment length 5: the name's bytes become a comment.
    data[central + 28 : central + 34] = struct.pack("<HHH", 0, 0, 5)
    path.write_bytes(bytes(data))
    refused_matching(path, r"nameless\.npz: the archive holds a member with an empty name")


def savez_bytes(**arrays: np.ndarray) -> bytearray:
    """An archive as numpy writes it: every member's local header zip64 (both sizes 0xFFFFFFFF, the
    real ones in its zip64 extra field, uncompressed first)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = bytearray(buffer.getvalue())
    assert struct.unpack("<II", data[18:26]) == (0xFFFFFFFF, 0xFFFFFFFF)
    return data


def test_npz_zip64_local_sizes_are_checked(tmp_path: Path) -> None:
    data = savez_bytes(a=MASK)
    assert fastweights.count(write(tmp_path, "numpy.npz", bytes(data))).pixels.tolist() == [1, 2, 3]
    name_length = struct.unpack("<H", data[26:28])[0]
    extra = 30 + name_length
    wrong = bytearray(data)
    wrong[extra + 4 : extra + 12] = struct.pack("<Q", 135)  # the uncompressed size
    refused_matching(
        write(tmp_path, "sizes.npz", bytes(wrong)),
        r"sizes\.npz:a: the member's local header \(CRC 0x\w+, 134 "
        r"bytes compressed, 135 bytes\) disagrees with the central directory",
    )
    one = bytearray(data)
    one[18:22] = struct.pack("<I", 134)  # only the uncompressed size left to zip64: APPNOTE wants both
    refused_matching(
        write(tmp_path, "one.npz", bytes(one)),
        r"one\.npz:a: the member's local header \(CRC 0x\w+, 134 bytes "
        r"compressed, 4294967295 bytes\) disagrees",
    )
    missing = bytearray(data)
    missing[extra : extra + 2] = struct.pack("<H", 0xCAFE)  # the zip64 field's id: an unknown field
    refused_matching(
        write(tmp_path, "missing.npz", bytes(missing)),
        r"missing\.npz:a: the member's local header gives "
        r"zip64 sizes without the zip64 field that holds them",
    )


def test_npz_unknown_compression_method(tmp_path: Path) -> None:
    path = npz_of(tmp_path / "method.npz", zipfile.ZIP_DEFLATED, a=MASK)
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 10 : central + 12] = struct.pack("<H", 99)
    data[8:10] = struct.pack("<H", 99)
    path.write_bytes(bytes(data))
    refused_matching(path, r"method\.npz:a: compression method 99 is not one this reads")


def test_npz_member_named_twice(tmp_path: Path) -> None:
    path = tmp_path / "twice.npz"
    with zipfile.ZipFile(path, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        for array in (MASK, MASK + 1):
            with archive.open("a.npy", "w") as member:
                np.lib.format.write_array(member, array)
    refused_matching(path, r"twice\.npz: the archive holds 'a\.npy' twice")


def test_npz_compressed_member_larger_than_deflate_can_inflate(tmp_path: Path) -> None:
    path = npz_of(tmp_path / "bomb.npz", zipfile.ZIP_DEFLATED, a=np.zeros(100, np.uint8))
    path.write_bytes(set_sizes(bytearray(path.read_bytes()), uncompressed=4_000_000_000))
    refused_matching(
        path, r"bomb\.npz:a: the member claims 4000000000 bytes, more than its \d+ compressed bytes can hold"
    )


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_npz_damaged_bzip2_and_lzma_members(tmp_path: Path, compression: int) -> None:
    path = npz_of(tmp_path / "packed.npz", compression, a=np.arange(4096, dtype=np.uint16))
    data = bytearray(path.read_bytes())
    for at in range(60, 90):
        data[at] ^= 0x55
    path.write_bytes(bytes(data))
    refused_matching(path, r"packed\.npz:a: ")


def test_npy_shrunk_between_its_check_and_its_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastweights.io.readers import _mapped, numpy_files

    path = tmp_path / "shrinking.npy"
    np.save(path, np.zeros(numpy_files.SMALL_FILE_BYTES + 1, np.uint8))
    real = _mapped.MappedFile.__init__

    def cut_then_map(self: _mapped.MappedFile, mapped_path: str, drop_behind: bool = False) -> None:
        with open(mapped_path, "r+b") as file:
            file.truncate(1000)
        real(self, mapped_path, drop_behind)

    monkeypatch.setattr(_mapped.MappedFile, "__init__", cut_then_map)
    with pytest.raises(InputError, match=r"shrinking\.npy: 1,048,705 bytes needed, the file now has 1,000"):
        fastweights.count(path, stack_axis=0)  # the general reader (the batch path reads small files whole)


def test_npz_member_that_is_not_an_npy(tmp_path: Path) -> None:
    path = tmp_path / "notes.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", b"hello")
    refused_matching(path, r"notes\.npz:notes\.txt: ")


def test_npz_member_header_rules_apply(tmp_path: Path) -> None:
    path = tmp_path / "dup.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "a.npy", npy_bytes("{'descr': '|u1', 'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }")
        )
    refused_matching(path, r"dup\.npz:a: the \.npy header names 'descr' twice")


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_npz_good_members_are_counted(tmp_path: Path, compression: int) -> None:
    path = npz_of(tmp_path / "good.npz", compression, a=MASK, b=MASK.astype(np.uint16))
    assert fastweights.count(path).pixels.tolist() == [2, 4, 6]
    assert fastweights.count(path, stack_axis=1).pixels.tolist() == [2, 4, 6]


# ---------------------------------------------------------------- raw


@pytest.mark.parametrize(
    ("dtype", "match"),
    [(object, r"dtype=<class 'object'> cannot hold labels"), ("U2", r"dtype='U2' cannot hold labels")],
)
def test_raw_dtype_that_cannot_hold_labels(tmp_path: Path, dtype: object, match: str) -> None:
    path = write(tmp_path, "labels.raw", bytes(64))
    with pytest.raises(TypeError, match=r"raw\('.*labels\.raw'\): " + match):
        fastweights.raw(path, dtype, 4)


def test_raw_shape_whose_product_overflows(tmp_path: Path) -> None:
    path = write(tmp_path, "labels.raw", bytes(64))
    with pytest.raises(InputError, match=r"needs 1237940039285380274899124224"):
        fastweights.raw(path, np.uint8, (2**30, 2**30, 2**30))


def test_raw_bool_shape_and_offset_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "labels.raw", bytes(2))
    with pytest.raises(ValueError, match=r"shape=\(True, 2\) must be non-negative integers"):
        fastweights.raw(path, np.uint8, (True, 2))
    with pytest.raises(ValueError, match=r"offset=True must be a non-negative integer"):
        fastweights.raw(path, np.uint8, 1, offset=True)
