"""The .npy, .npz and raw readers: memory-mapped, exact, and bounded in memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, counted_in_batch, numpy_counts
from hypothesis import given, settings
from hypothesis import strategies as st

import fastweights


@pytest.fixture
def masks() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 9, (20, 30)).astype(np.uint8) for _ in range(3)]


def test_npy_files_c_fortran_and_big_endian(tmp_path: Path, masks: list[np.ndarray]) -> None:
    np.save(tmp_path / "c.npy", masks[0])
    np.save(tmp_path / "f.npy", np.asfortranarray(masks[1].astype(np.int32)))
    np.save(tmp_path / "be.npy", masks[2].astype(">u2"))
    got = fastweights.count(tmp_path, per_image=True)
    assert [Path(s).name for s in got.sources] == ["be.npy", "c.npy", "f.npy"]
    assert_same_statistics(got, numpy_counts([masks[2], masks[0], masks[1]], per_image=True))


def test_npz_stored_and_compressed_members(tmp_path: Path, masks: list[np.ndarray]) -> None:
    np.savez(tmp_path / "stored.npz", a=masks[0], b=np.asfortranarray(masks[1]))
    np.savez_compressed(tmp_path / "packed.npz", c=masks[2].astype(np.int16), d=masks[0])
    got = fastweights.count([tmp_path / "stored.npz", tmp_path / "packed.npz"], per_image=True)
    assert [s.rsplit(":", 1)[1] for s in got.sources] == ["a", "b", "c", "d"]
    assert_same_statistics(got, numpy_counts([masks[0], masks[1], masks[2], masks[0]], per_image=True))


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("fortran", [False, True])
def test_npz_stack_axis(tmp_path: Path, save, axis: int, fortran: bool) -> None:  # type: ignore[no-untyped-def]
    volume = np.random.default_rng(1).integers(0, 5, (4, 6, 7)).astype(np.uint8)
    save(tmp_path / "v.npz", v=np.asfortranarray(volume) if fortran else volume)
    got = fastweights.count(tmp_path / "v.npz", stack_axis=axis, per_image=True)
    slices = [np.take(volume, i, axis=axis) for i in range(volume.shape[axis])]
    assert_same_statistics(got, numpy_counts(slices, per_image=True))


def test_npy_stack_axis_of_a_memory_map(tmp_path: Path) -> None:
    volume = np.random.default_rng(4).integers(0, 5, (6, 10, 11)).astype(np.int16)
    np.save(tmp_path / "v.npy", volume)
    got = fastweights.count(tmp_path / "v.npy", stack_axis=2, per_image=True)
    assert_same_statistics(got, numpy_counts([volume[:, :, i] for i in range(11)], per_image=True))
    assert got.sources[3].endswith("v.npy[3]")


def test_raw_file(tmp_path: Path, masks: list[np.ndarray]) -> None:
    path = tmp_path / "labels.bin"
    header = b"H" * 16
    path.write_bytes(header + masks[0].astype("<u2").tobytes())
    got = fastweights.count(fastweights.raw(path, "<u2", masks[0].shape, offset=16))
    assert_same_statistics(got, numpy_counts([masks[0]]))
    assert got.sources == (str(path),)


def test_raw_file_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.raw"
    path.write_bytes(bytes(999))
    with pytest.raises(
        ValueError, match=r"labels\.raw: raw file is 999 bytes, but shape \(10, 50\) of uint16 needs 1000"
    ):
        fastweights.raw(path, np.uint16, (10, 50))
    described = fastweights.raw(path, np.uint8, 999)
    path.write_bytes(bytes(1000))  # changed after it was described
    with pytest.raises(ValueError, match="raw file is 1000 bytes"):
        fastweights.count(described)
    with pytest.raises(ValueError, match="order='X'"):
        fastweights.raw(path, np.uint8, 1000, order="X")
    with pytest.raises(FileNotFoundError, match=r"missing\.raw: no such file"):
        fastweights.raw(tmp_path / "missing.raw", np.uint8, 1)


# The peak RSS of this process's own memory: VmHWM, which exec resets. (getrusage's ru_maxrss would
# report the pytest process's peak too: Linux carries it over fork and exec.)
PEAK_RSS_MIB = "int(next(line for line in open('/proc/self/status') if line.startswith('VmHWM')).split()[1]) // 1024"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_big_npy_is_not_read_into_memory(tmp_path: Path) -> None:
    """Counting a 384 MiB .npy (24 chunks) must not raise peak RSS by anything near its size."""
    path = tmp_path / "big.npy"
    size = 384 << 20
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(size,))
    array[::4096] = 7
    array.flush()
    del array
    script = textwrap.dedent(
        f"""
        import fastweights
        before = {PEAK_RSS_MIB}
        counts = fastweights.count({str(path)!r}, threads=2)
        after = {PEAK_RSS_MIB}
        assert counts.pixels[7] == {size // 4096}, counts.pixels
        assert counts.pixels[0] == {size - size // 4096}
        print(after - before)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    grown_mib = int(result.stdout.split()[-1])
    assert grown_mib < 96, f"peak RSS grew by {grown_mib} MiB counting a 384 MiB file"


def test_corrupt_numpy_files_are_named(tmp_path: Path, masks: list[np.ndarray]) -> None:
    good = tmp_path / "good.npy"
    np.save(good, masks[0])
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"truncated\.npy: truncated \.npy: shape \(20, 30\) of uint8 needs"):
        fastweights.count(truncated)

    bad_header = tmp_path / "bad_header.npy"
    bad_header.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': oops}   \n")
    with pytest.raises(ValueError, match=r"bad_header\.npy: not a valid \.npy header"):
        fastweights.count(bad_header)

    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"objects\.npy: holds Python objects"):
        fastweights.count(pickled)

    text = tmp_path / "notes.npy"
    text.write_text("not numpy at all")
    with pytest.raises(ValueError, match=r"notes\.npy: not a \.npy file"):
        fastweights.count(text)

    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz: 0-byte file"):
        fastweights.count(empty)

    archive = tmp_path / "damaged.npz"
    np.savez_compressed(archive, a=np.zeros(10_000, np.uint8))
    data = bytearray(archive.read_bytes())
    data[80:120] = bytes(40)
    archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged\.npz"):
        fastweights.count(archive)

    no_arrays = tmp_path / "no_arrays.npz"
    with zipfile.ZipFile(no_arrays, "w") as zf:
        zf.mkdir("folder") if hasattr(zf, "mkdir") else zf.writestr("folder/", b"")
    with pytest.raises(ValueError, match=r"no_arrays\.npz: the \.npz archive holds no arrays"):
        fastweights.count(no_arrays)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_peak_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Counting a 1 GiB and a 4 GiB .npy (sparse files: no disk needed) peaks at the same RSS."""
    peaks = []
    for gib in (1, 4):
        path = tmp_path / f"labels_{gib}.npy"
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(gib << 30,))
        array[-1] = 3
        array.flush()
        del array
        script = textwrap.dedent(
            f"""
            import fastweights
            counts = fastweights.count({str(path)!r}, threads=2)
            assert counts.pixels.tolist() == [{(gib << 30) - 1}, 0, 0, 1], counts.pixels
            print({PEAK_RSS_MIB})
            """
        )
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        peaks.append(int(result.stdout.split()[-1]))
        path.unlink()
    assert abs(peaks[1] - peaks[0]) <= 8, f"peak RSS {peaks[0]} MiB for 1 GiB, {peaks[1]} MiB for 4 GiB"
    assert max(peaks) < 256


@pytest.mark.parametrize("threads", [1, 2])
def test_small_npy_files_are_counted_in_batches_and_the_unusual_ones_by_the_general_reader(
    tmp_path: Path, threads: int
) -> None:
    rng = np.random.default_rng(30)
    plain = ["|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<i8"]
    arrays = {f"plain_{i}": rng.integers(0, 90, (13, 21)).astype(dtype) for i, dtype in enumerate(plain)}
    arrays["plain_fortran"] = np.asfortranarray(rng.integers(0, 9, (7, 5)).astype(np.uint8))
    arrays["plain_empty"] = np.zeros((0, 4), np.uint16)
    arrays["plain_wide_ids"] = np.array([0, 3_000_000, 3_000_000, 7], np.int32)  # sparse in C++
    arrays["other_big_endian"] = rng.integers(0, 9, (4, 4)).astype(">u2")
    arrays["other_bool"] = rng.integers(0, 2, (4, 4)).astype(bool)
    arrays["other_uint64"] = rng.integers(0, 9, (4, 4)).astype(np.uint64)
    paths = []
    for name, array in sorted(arrays.items()):
        np.save(tmp_path / f"{name}.npy", array)
        paths.append(str(tmp_path / f"{name}.npy"))
    assert {Path(p).stem for p in paths} - counted_in_batch(paths) == {"other_big_endian", "other_bool", "other_uint64"}
    got = fastweights.count(tmp_path, threads=threads, per_image=True)
    assert_same_statistics(got, numpy_counts([arrays[Path(p).stem] for p in paths], per_image=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="aZ.é/_ ", max_size=6), min_size=1, max_size=4))
def test_extension_of_agrees_with_splitext(parts: list[str]) -> None:
    from fastweights.io.readers._magic import extension_of

    path = "/".join(parts)
    lower = path.lower()
    expected = ".nii.gz" if lower.endswith(".nii.gz") else os.path.splitext(lower)[1]
    assert extension_of(path) == expected
