"""Paths, folders, globs and arrays -> the ordered list of inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import fastweights


def save(path: Path, value: int, shape: tuple[int, ...] = (2, 3)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.full(shape, value, np.uint8))


def test_folders_are_walked_recursively_sorted_and_deduplicated(tmp_path: Path) -> None:
    save(tmp_path / "b" / "z.npy", 1)
    save(tmp_path / "b" / "a.npy", 2)
    save(tmp_path / "a.npy", 3)
    (tmp_path / "README.txt").write_text("not a mask")
    (tmp_path / ".hidden.npy").write_bytes(b"junk")
    got = fastweights.count([tmp_path, tmp_path / "a.npy", str(tmp_path / "b")])
    names = [os.path.relpath(s, tmp_path) for s in got.sources]
    assert names == ["a.npy", os.path.join("b", "a.npy"), os.path.join("b", "z.npy")]
    assert got.pixels.tolist() == [0, 6, 6, 6]


def test_glob_patterns(tmp_path: Path) -> None:
    for i in range(4):
        save(tmp_path / f"d{i % 2}" / f"m{i}.npy", i)
    got = fastweights.count(str(tmp_path / "**" / "m[12].npy"))
    assert sorted(Path(s).name for s in got.sources) == ["m1.npy", "m2.npy"]
    with pytest.raises(FileNotFoundError, match=r"nothing\*\.npy: no file matches this pattern"):
        fastweights.count(str(tmp_path / "nothing*.npy"))


def test_a_mixed_list_of_paths_arrays_and_raw_files(tmp_path: Path) -> None:
    save(tmp_path / "m.npy", 1)
    (tmp_path / "r.bin").write_bytes(bytes([2] * 6))
    inputs = (
        x for x in [tmp_path / "m.npy", np.full(4, 3, np.int32), fastweights.raw(tmp_path / "r.bin", "u1", (2, 3))]
    )
    got = fastweights.count(inputs, per_image=True)
    assert got.sources[1] == "<array 0>"
    assert got.pixels.tolist() == [0, 6, 6, 4]


def test_symlinked_duplicates_count_once_and_loops_are_refused(tmp_path: Path) -> None:
    save(tmp_path / "data" / "m.npy", 1)
    os.symlink(tmp_path / "data" / "m.npy", tmp_path / "data" / "alias.npy")
    assert fastweights.count(tmp_path / "data").n_images == 1
    os.symlink(tmp_path / "data", tmp_path / "data" / "loop")
    with pytest.raises(ValueError, match="symbolic link loop"):
        fastweights.count(tmp_path / "data")


def test_missing_paths_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.npy: no such file or folder"):
        fastweights.count(tmp_path / "nope.npy")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"empty: folder holds no masks \(fastweights reads .*\.npy, \.npz"):
        fastweights.count(tmp_path / "empty")
    with pytest.raises(ValueError, match="nothing to count"):
        fastweights.count([])


def test_unknown_extensions_are_refused_with_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "mask.xyz").write_bytes(b"1234")
    with pytest.raises(
        ValueError, match=r"mask\.xyz: unknown extension '\.xyz'; fastweights reads .*\.npy, \.npz.* and raw"
    ):
        fastweights.count(tmp_path / "mask.xyz")


def test_a_folder_with_masks_this_version_cannot_read_is_not_counted_partially(tmp_path: Path) -> None:
    save(tmp_path / "a.npy", 1)
    (tmp_path / "b.bmp").write_bytes(b"BM")
    with pytest.raises(ValueError, match=r"b\.bmp: \.bmp masks cannot be read by this version"):
        fastweights.count(tmp_path)


def test_inputs_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"inputs\[1\]: expected a path, folder, glob, numpy array"):
        fastweights.count([np.zeros(3, np.uint8), 42])
    with pytest.raises(TypeError, match="inputs: expected a path"):
        fastweights.count(3.5)


@pytest.mark.skipif(not hasattr(fastweights._core, "list_folder"), reason="the C++ listing is POSIX only")
def test_the_one_pass_listing_equals_os_scandir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The C++ listing (readdir + fstatat, extensions matched in C++, sorted as Python sorts str)
    gives what os.scandir and extension_of give: the same files, order, facts and refusals."""
    from fastweights.io import sources

    names = ["b.PNG", "a.png", "é.png", "z.NII.GZ", "y.nii.gz", "dots..npy", "..npy", "noext", "x.TIFF", "m.npz"]
    names += ["Ä.npy", "ß.npy", "a b.npy", "0.npy", "~.npy", "archive.tar.gz", "README.txt", ".hidden.png"]
    for name in names:
        (tmp_path / name).write_bytes(b"x" * len(name))
    (tmp_path / "sub.d").mkdir()
    (tmp_path / "sub.d" / "in.npy").write_bytes(b"yy")
    os.symlink(tmp_path / "missing.npy", tmp_path / "broken.npy")
    os.symlink(tmp_path / "a.png", tmp_path / "link.png")
    os.mkfifo(tmp_path / "pipe.npy")
    if os.uname().sysname == "Linux":  # a name that is not UTF-8 (macOS refuses those)
        with open(os.fsencode(tmp_path) + b"/\xff\xfe.npy", "wb") as file:
            file.write(b"zzz")
    fast = list(sources._walk(str(tmp_path), set()))
    monkeypatch.setattr(sources, "STAT_STRETCH", 3)  # stat'ed a few entries at a time: the same
    assert list(sources._walk(str(tmp_path), set())) == fast
    monkeypatch.setattr(sources, "_list_folder", None)
    slow = list(sources._walk(str(tmp_path), set()))
    assert fast == slow
    assert [os.path.basename(item.name) for item in fast][:4] == ["0.npy", "a b.npy", "a.png", "b.PNG"]
    # "..npy" has no extension; link.png is a.png under another name, counted once
    assert len(fast) == 16 + (os.uname().sysname == "Linux")
    (tmp_path / "photo.GIF").write_bytes(b"GIF89a")
    for listing in (None, fastweights._core.list_folder):
        monkeypatch.setattr(sources, "_list_folder", listing)
        with pytest.raises(fastweights.errors.InputError, match=r"photo\.GIF: \.gif masks cannot be read"):
            list(sources._walk(str(tmp_path), set()))


@pytest.mark.skipif(not hasattr(fastweights._core, "list_folder"), reason="the C++ listing is POSIX only")
def test_a_file_removed_between_its_listing_and_its_stat_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder's names are read at once and its entries stat'ed a stretch at a time: a file removed
    in between is refused by name, not taken for a broken link nor left out silently."""
    from fastweights.io import sources

    for name in ("a.npy", "b.npy"):
        np.save(tmp_path / name, np.zeros((2, 2), np.uint8))
    monkeypatch.setattr(sources, "STAT_STRETCH", 1)
    walk = sources._walk(str(tmp_path), set())
    assert next(walk).name == str(tmp_path / "a.npy")
    (tmp_path / "b.npy").unlink()
    gone = next(walk)
    with pytest.raises(
        fastweights.errors.InputError, match=r"b\.npy: is a file removed while its folder was being listed"
    ):
        list(gone.images(fastweights.io.images.ReadOptions()))
