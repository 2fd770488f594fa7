"""The input rules of docs/input-rules.md for NIfTI (.nii, .nii.gz) and HDF5: one hand-made file per
rule, breaking exactly that rule, refused with an InputError naming the file and the problem."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import refused_matching, write

import fastweights

# ---------------------------------------------------------------- NIfTI

nibabel = pytest.importorskip("nibabel")

VOLUME = np.arange(60, dtype=np.uint8).reshape(3, 4, 5) % 4


def nifti_bytes(volume: np.ndarray = VOLUME, version: int = 1) -> bytearray:
    kind = nibabel.Nifti1Image if version == 1 else nibabel.Nifti2Image
    image = kind(volume, np.eye(4))
    image.header.set_data_dtype(volume.dtype)
    return bytearray(image.to_bytes())


def patch(data: bytearray, offset: int, fmt: str, *values: object) -> bytearray:
    data[offset : offset + struct.calcsize("<" + fmt)] = struct.pack("<" + fmt, *values)
    return data


def nifti_refused(tmp_path: Path, data: bytes, match: str, gz: bool = True) -> None:
    plain = write(tmp_path, "bad.nii", bytes(data))
    refused_matching(plain, r"bad\.nii: " + match)
    if gz:
        packed = write(tmp_path, "bad.nii.gz", gzip.compress(bytes(data)))
        refused_matching(packed, r"bad\.nii\.gz: " + match)


def test_nifti_good_files_are_counted(tmp_path: Path) -> None:
    for version in (1, 2):
        path = write(tmp_path, f"v{version}.nii", bytes(nifti_bytes(version=version)))
        assert fastweights.count(path).pixels.tolist() == [15, 15, 15, 15]
        packed = write(tmp_path, f"v{version}.nii.gz", gzip.compress(bytes(nifti_bytes(version=version))))
        assert fastweights.count(packed).pixels.tolist() == [15, 15, 15, 15]


def test_nifti_vox_offset_inside_the_header(tmp_path: Path) -> None:
    data = patch(nifti_bytes(), 108, "f", 0.0)
    nifti_refused(tmp_path, data, r"vox_offset 0 is inside the header \(a .nii's data starts at 352 or later\)")


def test_nifti_vox_offset_past_any_file(tmp_path: Path) -> None:
    # found by the fuzz suite: a .nii.gz's stream was asked to seek there, and its ValueError escaped
    data = patch(nifti_bytes(), 108, "f", 1e20)
    nifti_refused(tmp_path, data, r"vox_offset 1e\+20 lies past the end of any file")


def test_nifti_vox_offset_not_an_integer(tmp_path: Path) -> None:
    data = patch(nifti_bytes(), 108, "f", 352.5)
    nifti_refused(tmp_path, data, r"vox_offset 352\.5 is not a whole number of bytes")


def test_nifti_vox_offset_lenient_nibabel_settings_do_not_matter(tmp_path: Path) -> None:
    data = patch(nifti_bytes(), 108, "f", 100.0)
    level = nibabel.imageglobals.error_level
    nibabel.imageglobals.error_level = 50
    try:
        nifti_refused(tmp_path, data, r"vox_offset 100 is inside the header")
    finally:
        nibabel.imageglobals.error_level = level


@pytest.mark.parametrize(
    ("dims", "match"),
    [
        ((3, 3, -4, 5, 1, 1, 1, 1), r"dim\[2\] is -4; the sizes dim\[1\]\.\.dim\[3\] must be positive"),
        ((3, 3, 0, 5, 1, 1, 1, 1), r"dim\[2\] is 0; the sizes dim\[1\]\.\.dim\[3\] must be positive"),
        ((0, 3, 4, 5, 1, 1, 1, 1), r"dim\[0\] is 0, not a number of dimensions from 1 to 7"),
        ((8, 3, 4, 5, 1, 1, 1, 1), r"dim\[0\] is 8, not a number of dimensions from 1 to 7"),
        ((3, 3, 4, 4, 1, 1, 1, 1), r"48 voxels of uint8 need 400 bytes, the file has 412 \(12 bytes after"),
        ((3, 3, 4, 6, 1, 1, 1, 1), r"truncated NIfTI: \(3, 4, 6\) voxels of uint8 need 424 bytes, the file has 412"),
        (
            (7, 32767, 32767, 32767, 32767, 32767, 32767, 32767),
            r"truncated NIfTI: .* need 40556154420345561286839839719775 bytes",
        ),
    ],
    ids=["negative", "zero", "dim0-zero", "dim0-eight", "too-small", "too-big", "overflowing"],
)
def test_nifti_dims(tmp_path: Path, dims: tuple[int, ...], match: str) -> None:
    data = patch(nifti_bytes(), 40, "8h", *dims)
    nifti_refused(tmp_path, data, match)


@pytest.mark.parametrize(
    ("datatype", "bitpix", "match"),
    [
        (2, 16, r"bitpix 16 disagrees with datatype 2 \(uint8, 8 bits\)"),
        (4, 8, r"bitpix 8 disagrees with datatype 4 \(int16, 16 bits\)"),
        (3, 8, r"datatype 3 is not a NIfTI data type"),
        (32, 64, r"datatype 32 \(complex64\) cannot hold labels"),
        (128, 24, r"datatype 128 \(RGB24\) cannot hold labels"),
    ],
)
def test_nifti_datatype_and_bitpix(tmp_path: Path, datatype: int, bitpix: int, match: str) -> None:
    data = patch(nifti_bytes(), 70, "hh", datatype, bitpix)
    nifti_refused(tmp_path, data, match)


def test_nifti_magic(tmp_path: Path) -> None:
    data = nifti_bytes()
    data[344:348] = b"ni1\0"
    nifti_refused(tmp_path, data, r"magic 'ni1' is a header of a \.hdr/\.img pair, not a single-file NIfTI")
    data[344:348] = b"xyz\0"
    nifti_refused(tmp_path, data, r"magic 'xyz' is not NIfTI's")


def test_nifti_header_cut_short(tmp_path: Path) -> None:
    data = nifti_bytes()[:200]
    nifti_refused(tmp_path, data, r"the file ends inside the 348-byte NIfTI-1 header")


def test_nifti_infinite_slope(tmp_path: Path) -> None:
    data = patch(nifti_bytes(), 112, "ff", float("inf"), 0.0)
    nifti_refused(tmp_path, data, r"invalid scaling scl_slope=inf")


def test_nifti2_rules(tmp_path: Path) -> None:
    data = patch(nifti_bytes(version=2), 168, "q", 500)
    nifti_refused(tmp_path, data, r"vox_offset 500 is inside the header \(a .nii's data starts at 544 or later\)")
    data = patch(nifti_bytes(version=2), 16, "8q", 3, 3, -4, 5, 1, 1, 1, 1)
    nifti_refused(tmp_path, data, r"dim\[2\] is -4")


def gz_trailer(data: bytes, crc: int | None = None, isize: int | None = None) -> bytes:
    body = gzip.compress(data)[:-8]
    return body + struct.pack("<II", zlib.crc32(data) if crc is None else crc, len(data) if isize is None else isize)


def test_nii_gz_crc_mismatch(tmp_path: Path) -> None:
    data = bytes(nifti_bytes())
    path = write(tmp_path, "crc.nii.gz", gz_trailer(data, crc=zlib.crc32(data) ^ 1))
    refused_matching(path, r"crc\.nii\.gz: damaged gzip data \(CRC check failed")
    refused_matching(path, r"crc\.nii\.gz: damaged gzip data \(CRC check failed", stack_axis=0)


def test_nii_gz_isize_mismatch(tmp_path: Path) -> None:
    data = bytes(nifti_bytes())
    path = write(tmp_path, "isize.nii.gz", gz_trailer(data, isize=len(data) + 1))
    refused_matching(path, r"isize\.nii\.gz: damaged gzip data \(Incorrect length of data produced")


def test_nii_gz_cut_before_its_trailer(tmp_path: Path) -> None:
    data = bytes(nifti_bytes())
    path = write(tmp_path, "cut.nii.gz", gzip.compress(data)[:-8])
    refused_matching(path, r"cut\.nii\.gz: damaged gzip data")


def test_nii_gz_with_data_after_the_volume(tmp_path: Path) -> None:
    data = bytes(nifti_bytes()) + bytes(5)
    path = write(tmp_path, "long.nii.gz", gzip.compress(data))
    refused_matching(path, r"long\.nii\.gz: 60 voxels of uint8 need 412 bytes, the file has 417 \(5 bytes after")


# ---------------------------------------------------------------- HDF5

h5py = pytest.importorskip("h5py")


def test_hdf5_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("labels", data=np.ones((64, 64), np.uint8))
    path.write_bytes(path.read_bytes()[:-1000])
    refused_matching(Path(f"{path}:/labels"), r"cut\.h5: not a readable HDF5 file \(.*truncated file")


def test_hdf5_damaged_chunk(tmp_path: Path) -> None:
    path = tmp_path / "chunk.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("labels", data=np.ones((64, 64), np.uint8), chunks=(64, 64), compression="gzip")
        offset = file["labels"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    refused_matching(Path(f"{path}:/labels"), r"chunk\.h5:/labels: cannot read")


def test_hdf5_fletcher32_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "sum.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("labels", data=np.ones((64, 64), np.uint8), chunks=(64, 64), fletcher32=True)
        offset = file["labels"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 100] = 2
    path.write_bytes(bytes(data))
    refused_matching(Path(f"{path}:/labels"), r"sum\.h5:/labels: cannot read")


def test_hdf5_virtual_dataset_with_a_missing_source(tmp_path: Path) -> None:
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as file:
        file.create_dataset("labels", data=np.ones((4, 4), np.uint8))
    layout = h5py.VirtualLayout(shape=(4, 4), dtype=np.uint8)
    layout[:] = h5py.VirtualSource(str(source), "labels", shape=(4, 4))
    path = tmp_path / "virtual.h5"
    with h5py.File(path, "w") as file:
        file.create_virtual_dataset("labels", layout, fillvalue=0)
    assert fastweights.count(Path(f"{path}:/labels")).pixels.tolist() == [0, 16]
    source.unlink()
    refused_matching(
        Path(f"{path}:/labels"), r"virtual\.h5:/labels: a virtual dataset whose source .*source\.h5 is missing"
    )


def test_hdf5_external_storage_with_a_missing_file(tmp_path: Path) -> None:
    external = tmp_path / "external.bin"
    external.write_bytes(np.ones(16, np.uint8).tobytes())
    path = tmp_path / "ext.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("labels", shape=(4, 4), dtype=np.uint8, external=[(str(external), 0, 16)])
    assert fastweights.count(Path(f"{path}:/labels")).pixels.tolist() == [0, 16]
    external.write_bytes(bytes(8))
    refused_matching(Path(f"{path}:/labels"), r"ext\.h5:/labels: ")


def damaged_metadata(tmp_path: Path) -> Path:
    """An HDF5 file that opens but whose metadata HDF5 cannot walk (a byte flipped in an object
    header, found by trying each byte in turn: where it lies depends on the HDF5 version)."""
    good = tmp_path / "good.h5"
    with h5py.File(good, "w", libver="latest") as file:  # checksummed metadata
        file.create_group("masks").create_dataset("labels", data=np.ones((4, 4), np.uint8))
    data = good.read_bytes()
    path = tmp_path / "damaged.h5"
    for offset in range(len(data)):
        path.write_bytes(data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :])
        try:
            with h5py.File(path, "r") as file:
                file.visit_links(lambda name: file.get(name) and None)  # as the listing walks it
        except OSError:  # the file does not open at all
            continue
        except RuntimeError:  # opens, and the walk fails
            return path
    pytest.skip("no single flipped byte damages this HDF5 version's metadata that way")


def test_hdf5_metadata_that_cannot_be_walked(tmp_path: Path) -> None:
    path = damaged_metadata(tmp_path)
    refused_matching(
        path, r"damaged\.h5: an HDF5 file: name the dataset .*damaged HDF5 metadata \(.*; its datasets cannot be listed"
    )
    refused_matching(
        Path(f"{path}:/masks/labels"), r"damaged\.h5: '/masks/labels' cannot be (found|read): damaged HDF5 metadata"
    )


def test_hdf5_symbol_table_whose_b_tree_node_is_its_own_sibling(tmp_path: Path) -> None:
    """HDF5's object visit (h5py's visititems) never returns on such a file: asked for each group's
    metadata size, it follows the node's right sibling forever (found by the fuzz suite). The
    listing walks links instead. In a child process, so that a hang fails the test."""
    path = tmp_path / "cycle.h5"
    with h5py.File(path, "w") as file:  # the default format: groups are symbol tables (v1 B-trees)
        file.create_group("masks").create_dataset("labels", data=np.ones((4, 4), np.uint8))
    data = bytearray(path.read_bytes())
    nodes = [at for at in range(len(data)) if data[at : at + 4] == b"TREE"]
    assert nodes
    for at in nodes:
        data[at + 16 : at + 24] = struct.pack("<Q", at)  # the right sibling's address: the node itself
    path.write_bytes(bytes(data))
    script = textwrap.dedent(
        """
        import sys
        import fastweights
        from fastweights.errors import InputError
        path = sys.argv[1]
        print(fastweights.count(path + ":/masks/labels").pixels.tolist())
        for target in (path, path + ":/nope"):
            try:
                fastweights.count(target)
            except InputError as error:
                print(error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    counted, listed, missing = result.stdout.strip().splitlines()
    assert counted == "[0, 16]"
    assert listed == f"{path}: an HDF5 file: name the dataset that holds the labels, as {path}:/dataset " + (
        "(the file holds the datasets /masks/labels)"
    )
    assert missing == f"{path}: '/nope': no such dataset; the file holds the datasets /masks/labels"


def test_hdf5_listing_of_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    """h5py hands such a name to the listing as bytes (an error raised in its visit would surface
    as a SystemError)."""
    path = tmp_path / "latin.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset(b"l\xe1bels", data=np.ones((4, 4), np.uint8))
    refused_matching(
        Path(f"{path}:/labels"), r"latin\.h5: '/labels': no such dataset; the file holds the datasets /l\\xe1bels$"
    )
