"""Bad input: each a clear error naming the input and the problem, never a silently wrong count.

First single cases (labels, options, files that vanish or cannot be read), then the matrix: every
kind of broken input beside a good mask, counted with on_error="raise" (an error naming the file
and the problem) and on_error="skip" (the input listed in counts.errors, and the Counts exactly
those of the good mask alone: nothing partial)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastweights
from fastweights.errors import InputError


def test_non_integral_float_labels_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "intensity.npy", np.array([[0.0, 0.5], [1.0, 2.0]]))
    with pytest.raises(
        InputError,
        match=r"intensity\.npy: float labels with non-integral value 0\.5; this looks like an intensity image",
    ):
        fastweights.count(tmp_path / "intensity.npy")
    with pytest.raises(InputError, match=r"<array 0>: float labels with non-finite value nan"):
        fastweights.count(np.array([1.0, np.nan]))


def test_negative_labels_are_refused_unless_ignored(tmp_path: Path) -> None:
    np.save(tmp_path / "neg.npy", np.array([0, 1, -1, -1], np.int32))
    with pytest.raises(
        InputError,
        match=r"neg\.npy: negative label -1 \(2 pixels\); if it marks unlabelled pixels, pass ignore_index=-1",
    ):
        fastweights.count(tmp_path / "neg.npy")
    with pytest.raises(InputError, match=r"neg\.npy: negative label -1"):
        fastweights.count(tmp_path / "neg.npy", num_classes=2)
    assert fastweights.count(tmp_path / "neg.npy", ignore_index=-1).ignored == 2


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "int64"])
def test_labels_at_or_above_num_classes_are_refused(tmp_path: Path, dtype: str) -> None:
    np.save(tmp_path / "big.npy", np.array([0, 3, 12, 12, 12], dtype))
    with pytest.raises(InputError, match=r"big\.npy: label 12 \(3 pixels\) is not below num_classes=12"):
        fastweights.count(tmp_path / "big.npy", num_classes=12)
    assert fastweights.count(tmp_path / "big.npy", num_classes=13).pixels[12] == 3


def test_huge_label_ids_are_refused_as_class_ids() -> None:
    with pytest.raises(InputError, match=r"<array 0>: label 2000000000 is too large for a class id"):
        fastweights.count(np.array([1, 2_000_000_000], np.int32))
    with pytest.raises(InputError, match="is too large to be a class id"):
        fastweights.count(np.array([2**64 - 1], np.uint64))


def test_arrays_that_cannot_hold_labels() -> None:
    with pytest.raises(InputError, match=r"<array 0>: dtype <U1 cannot hold labels"):
        fastweights.count(np.array(["a", "b"]))
    with pytest.raises(InputError, match="complex128 cannot hold labels"):
        fastweights.count(np.array([1j]))


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"num_classes": 0}, "num_classes=0: expected an integer from 1"),
        ({"num_classes": 2.5}, "num_classes=2.5"),
        ({"threads": 0}, "threads=0: expected a positive integer"),
        ({"ignore_index": "255"}, "ignore_index='255'"),
        ({"ignore_index": [1.5]}, "1.5 is not an integer"),
        ({"stack_axis": "0"}, "stack_axis='0'"),
        ({"stack_axis": 3}, r"<array 0>: stack_axis=3 is out of range for an array of shape \(2, 2\)"),
    ],
)
def test_bad_options_name_the_argument_and_value(option: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        fastweights.count(np.zeros((2, 2), np.uint8), **option)


def test_the_first_bad_file_stops_the_count_and_is_named(tmp_path: Path) -> None:
    for i in range(20):
        np.save(tmp_path / f"m{i:02d}.npy", np.zeros(10, np.uint8))
    np.save(tmp_path / "m13.npy", np.array([1, 99], np.uint8))
    with pytest.raises(InputError, match=r"m13\.npy: label 99"):
        fastweights.count(tmp_path, num_classes=10, threads=2)


@pytest.mark.parametrize("threads", [1, 2])
def test_bad_files_inside_a_batch_of_good_ones_are_never_dropped(tmp_path: Path, threads: int) -> None:
    """The C++ batch reader takes a folder's small files together: a bad file among them is named
    (or, with on_error="skip", listed), and the good ones around it are counted exactly."""
    from PIL import Image

    rng = np.random.default_rng(3)
    bad = {30: "m30.npy", 45: "m45.png"}
    expected = np.zeros(5, np.int64)
    for i in range(60):
        mask = rng.integers(0, 5, (16, 16), dtype=np.uint8)
        if i in bad:
            continue
        expected += np.bincount(mask.ravel(), minlength=5)
        if i % 2:
            Image.fromarray(mask).save(tmp_path / f"m{i:02d}.png")
        else:
            np.save(tmp_path / f"m{i:02d}.npy", mask)
    (tmp_path / bad[30]).write_bytes(b"\x93NUMPY\x01\x00garbage")  # a header cut short
    (tmp_path / bad[45]).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # no image in it
    with pytest.raises(InputError, match=r"m30\.npy"):
        fastweights.count(tmp_path, threads=threads)
    with pytest.warns(UserWarning, match="skipped 2 of 60 inputs"):
        counts = fastweights.count(tmp_path, threads=threads, on_error="skip")
    assert sorted(Path(path).name for path, _ in counts.errors) == sorted(bad.values())
    assert counts.n_images == 58
    np.testing.assert_array_equal(counts.pixels, expected)


def test_an_unreadable_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.npy"
    np.save(path, np.zeros(3, np.uint8))
    path.chmod(0)
    if os.access(path, os.R_OK):
        # Root reads anything: make the reader meet the error a user would.
        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr("fastweights.io.readers.numpy_files.open_regular", refuse)
        # The batch reader (C++) would read it too: leave the file to the general reader.
        monkeypatch.setattr("fastweights.io.sources.batch_kind", lambda path: None)
    with pytest.raises(InputError, match=r"locked\.npy: cannot be read: Permission denied"):
        fastweights.count(path)


def test_a_file_deleted_between_listing_and_reading_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastweights.engine import plan

    for name in ("a.npy", "b.npy"):
        np.save(tmp_path / name, np.zeros(3, np.uint8))
    listed = plan.iter_inputs

    def list_then_delete(inputs: object, storage_options: object) -> list:
        items = list(listed(inputs, storage_options))
        (tmp_path / "b.npy").unlink()
        return items

    monkeypatch.setattr(plan, "iter_inputs", list_then_delete)
    with pytest.raises(InputError, match=r"b\.npy: cannot be read: No such file or directory"):
        fastweights.count(tmp_path)


# The matrix.


def pil() -> Any:
    """Pillow, or a skip where it is not installed (only the matrix's image cases need it)."""
    return pytest.importorskip("PIL.Image")


GOOD = np.array([[0, 0, 1], [1, 2, 2]], np.uint8)


def png_bytes(mask: np.ndarray) -> bytes:
    from io import BytesIO

    out = BytesIO()
    pil().fromarray(mask).save(out, format="PNG")
    return out.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# Each case writes one bad input into `folder` and returns (its path, words the message must hold,
# count options). The folder also holds good.npy.
Case = Callable[[Path], tuple[Path, str, dict[str, Any]]]


def zero_byte(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "empty.png"
    path.write_bytes(b"")
    return path, "0-byte file", {}


def truncated_png(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "cut.png"
    path.write_bytes(png_bytes(np.arange(64, dtype=np.uint8).reshape(8, 8))[:-20])
    return path, "truncated", {}


def bad_crc(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    data = bytearray(png_bytes(GOOD))
    data[29] ^= 0xFF  # the IHDR's CRC
    path = folder / "crc.png"
    path.write_bytes(bytes(data))
    return path, "CRC", {}


def truncated_npy(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "cut.npy"
    np.save(path, np.zeros((50, 50), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    return path, "bytes", {}


def bad_npy_header(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "header.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': oops}\n" + b"\0" * 16)
    return path, "header", {}


def corrupt_gzip(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    pytest.importorskip("nibabel")
    import nibabel

    path = folder / "volume.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.ones((20, 20, 20), np.uint8), np.eye(4)), str(path))
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return path, "volume.nii.gz", {}


def deleted_after_listing(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "gone.npy"
    np.save(path, GOOD)
    return path, "No such file", {"delete_after_listing": path}


def permission_denied(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "secret.npy"
    np.save(path, GOOD)
    path.chmod(0)
    return path, "Permission denied", {"without_root_powers": True}


def symlink_loop(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    (folder / "sub").mkdir()
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)
    return folder / "sub" / "loop", "symbolic link loop", {"whole_count_fails": True}


def text_as_mask(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "notes.png"
    path.write_text("these are not the pixels you are looking for\n" * 5)
    return path, "not a .png file", {}


def huge_header(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path = folder / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)))
    return path, "100000 x 100000", {}


def label_out_of_range(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "seven.npy"
    np.save(path, np.array([[0, 7]], np.uint8))
    return path, "label 7", {"num_classes": 3}


def float_intensities(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "scan.npy"
    np.save(path, np.random.default_rng(0).random((8, 8)).astype(np.float32) * 1000)
    return path, "intensity image", {}


def jpeg_mask(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "mask.jpg"
    pil().fromarray(np.zeros((8, 8), np.uint8)).save(path)
    return path, "allow_lossy", {}


def rgb_png(path: Path, shape: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    """A black RGB PNG with one pixel of `colour`."""
    rgb = np.zeros((*shape, 3), np.uint8)
    rgb[shape[0] // 2, shape[1] // 2] = colour
    pil().fromarray(rgb).save(path)
    return path


def rgb_without_colormap(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    return rgb_png(folder / "colour.png", (4, 4), (128, 0, 0)), "no colormap", {}


def colour_not_in_colormap(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = rgb_png(folder / "odd.png", (4, 4), (1, 2, 3))
    (folder / "good.npy").unlink()  # with a colormap, the good mask is an RGB one too
    rgb_png(folder / "good.png", (2, 3), (128, 0, 0))
    return path, "(1, 2, 3)", {"colormap": "voc"}


def fifo(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "pipe.npy"
    os.mkfifo(path)
    return path, "FIFO", {}


def grows_while_read(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "big.npy"
    np.save(path, np.zeros((5000, 5000), np.uint8))  # 25 MB: memory-mapped, counted in chunks
    return path, "changed size while it was being counted", {"append_while_counting": path}


def shrinks_while_read(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    path = folder / "big.npy"
    np.save(path, np.zeros((5000, 5000), np.uint8))
    return path, "shrank", {"truncate_while_counting": path}


CASES: list[Case] = [
    zero_byte,
    truncated_png,
    bad_crc,
    truncated_npy,
    bad_npy_header,
    corrupt_gzip,
    deleted_after_listing,
    permission_denied,
    symlink_loop,
    text_as_mask,
    huge_header,
    label_out_of_range,
    float_intensities,
    jpeg_mask,
    rgb_without_colormap,
    colour_not_in_colormap,
    fifo,
    grows_while_read,
    shrinks_while_read,
]


def count_with(folder: Path, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch, **extra: Any):
    """fastweights.count with the case's options, and its faults staged."""
    options = dict(options)
    gone = options.pop("delete_after_listing", None)
    grows = options.pop("append_while_counting", None)
    shrinks = options.pop("truncate_while_counting", None)
    options.pop("whole_count_fails", None)
    options.pop("without_root_powers", None)
    if gone is not None:
        count_work = fastweights.engine.run._count_work

        def delete_first(*args: Any, **kwargs: Any) -> Any:
            if gone.exists():  # listed already: the work to count it is under way
                gone.unlink()
            return count_work(*args, **kwargs)

        monkeypatch.setattr(fastweights.engine.run, "_count_work", delete_first)
    if grows is not None or shrinks is not None:
        release = fastweights.io.readers._mapped.MappedFile.release

        def meddle(self: Any, region: np.ndarray) -> None:
            if grows is not None:
                with open(grows, "ab") as file:
                    file.write(b"\0" * 4096)
            else:
                os.truncate(shrinks, 1000)
            release(self, region)

        monkeypatch.setattr(fastweights.io.readers._mapped.MappedFile, "release", meddle)
    return fastweights.count(folder, **options, **extra)


def expected_good(folder: Path, options: dict[str, Any]) -> fastweights.Counts:
    good = [path for path in (folder / "good.npy", folder / "good.png") if path.exists()]
    kept = {key: value for key, value in options.items() if key in ("num_classes", "colormap")}
    return fastweights.count(good, **kept)


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    np.save(folder / "good.npy", GOOD)
    bad, phrase, options = case(folder)
    if options.get("without_root_powers") and os.geteuid() == 0:
        return check_in_a_process_without_root_powers(folder, bad, phrase)
    with pytest.raises((InputError, ValueError)) as raised:
        count_with(folder, options, monkeypatch)
    message = str(raised.value)
    assert bad.name in message and phrase in message, message
    assert "\n" not in message

    if case in (grows_while_read, shrinks_while_read):  # stage the fault afresh
        case(folder)
    if options.get("whole_count_fails"):  # a folder-level fault: never a partial count, even when skipping
        with pytest.raises(InputError, match=phrase):
            count_with(folder, options, monkeypatch, on_error="skip")
        return
    if options.get("delete_after_listing"):
        case(folder)
    with pytest.warns(UserWarning, match="skipped 1 of 2 inputs"):
        counts = count_with(folder, options, monkeypatch, on_error="skip")
    assert [name for name, _ in counts.errors] == [str(bad)]
    assert phrase in counts.errors[0][1]
    reference = expected_good(folder, options)
    for field in ("pixels", "images", "image_pixels"):
        np.testing.assert_array_equal(getattr(counts, field), getattr(reference, field))
    assert (counts.n_images, counts.n_pixels, counts.ignored) == (1, reference.n_pixels, reference.ignored)


def check_in_a_process_without_root_powers(folder: Path, bad: Path, phrase: str) -> None:
    """Root reads any file: the count runs in a child that has lost CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH (util-linux setpriv), so that the file's mode 000 really denies it."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and util-linux setpriv (to drop root's file powers) is not installed")
    script = (
        "import json, sys, warnings, fastweights\n"
        "warnings.simplefilter('ignore')\n"
        "try:\n"
        f"    fastweights.count({str(folder)!r})\n"
        "    print(json.dumps(['counted', '']))\n"
        "except Exception as error:\n"
        "    print(json.dumps([type(error).__name__, str(error)]))\n"
        f"skipped = fastweights.count({str(folder)!r}, on_error='skip')\n"
        "print(json.dumps([skipped.errors, skipped.pixels.tolist(), skipped.n_images]))\n"
    )
    result = subprocess.run(
        [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    raised, skipped = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert raised[0] == "InputError" and bad.name in raised[1] and phrase in raised[1]
    errors, pixels, n_images = skipped
    assert [name for name, _ in errors] == [str(bad)] and phrase in errors[0][1]
    assert pixels == np.bincount(GOOD.ravel()).tolist() and n_images == 1


def test_mixed_dtypes_across_files_count_exactly(tmp_path: Path) -> None:
    """Not an error: labels are compared as integers, never wrapped to the narrowest dtype."""
    np.save(tmp_path / "a.npy", np.array([[0, 1, 1]], np.uint8))
    np.save(tmp_path / "b.npy", np.array([[300, 1]], np.uint16))
    np.save(tmp_path / "c.npy", np.array([[2, 300]], np.int64))
    counts = fastweights.count(tmp_path)
    assert counts.num_classes == 301
    assert {c: int(counts.pixels[c]) for c in np.flatnonzero(counts.pixels)} == {0: 1, 1: 3, 2: 1, 300: 2}
    with pytest.raises(InputError, match=r"b\.npy: label 300"):
        fastweights.count(tmp_path, num_classes=256)


def test_a_folder_with_no_masks_and_a_device(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no masks here")
    for on_error in ("raise", "skip"):
        with pytest.raises(InputError, match="folder holds no masks"):
            fastweights.count(tmp_path, on_error=on_error)
    with pytest.raises(InputError, match="/dev/null: is a character device"):
        fastweights.count("/dev/null")
