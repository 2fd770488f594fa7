"""Helpers the tests share: the numpy reference, comparisons, published reference numbers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import fastweights
from fastweights import Counts
from fastweights.errors import InputError

# ../shared/data/README.md: alexgkendall/caffe-segnet issue #37, CamVid trainannot (367 images, 480x360).
CAMVID_PIXELS = [
    10682767,
    14750079,
    623349,
    20076880,
    2845085,
    6166762,
    743859,
    714595,
    3719877,
    405385,
    184967,
    2503995,
]
CAMVID_IMAGES = [366, 365, 366, 367, 349, 319, 351, 173, 360, 317, 201, 367]
CAMVID_MEDIAN = [0.2565, 0.1853, 4.3963, 0.1369, 0.9185, 0.3873, 3.5331, 1.8127, 0.7246, 5.8550, 8.1365, 1.0974]


def stop_after(inputs: int, number: int = signal.SIGINT) -> Callable[[fastweights.progress.Progress], None]:
    """A progress callable that sends this process `number` once `inputs` inputs are done: a count
    with a checkpoint stops there and keeps it (one that ends removes it)."""
    sent = []

    def report(progress: fastweights.progress.Progress) -> None:
        if progress.done >= inputs and not sent:
            sent.append(True)
            os.kill(os.getpid(), number)

    return report


def mpiexec() -> str:
    """The mpiexec beside this python (pip install mpich) or on PATH; skips the test without one."""
    pytest.importorskip("mpi4py")
    found = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if found is None:
        pytest.skip("no mpiexec (pip install mpich gives one next to python)")
    return found


def numpy_counts(
    images: list[np.ndarray], ignore: tuple[int, ...] = (), num_classes: int | None = None, per_image: bool = False
) -> Counts:
    """The reference: what count() must return, computed with plain numpy (with the per-image table
    when the count it checks was asked for one)."""
    rows = []
    for image in images:
        labels = np.asarray(image).astype(np.int64).ravel()
        labels = labels[~np.isin(labels, ignore)]
        rows.append(np.bincount(labels, minlength=num_classes or 0).astype(np.uint64))
    size = max([row.size for row in rows] + [num_classes or 0])
    table = np.zeros((len(rows), size), np.uint64)
    for row, counts in enumerate(rows):
        table[row, : counts.size] = counts
    ignored = sum(int(np.isin(np.asarray(image), ignore).sum()) for image in images)
    return counts_of_table(table, ignored, per_image)


def counts_of_table(table: np.ndarray, ignored: int = 0, per_image: bool = True) -> Counts:
    """The Counts of a dense (images x classes) table of pixel counts, computed with plain numpy."""
    totals = table.sum(axis=1, dtype=np.uint64)
    present = table > 0
    return Counts(
        pixels=table.sum(axis=0, dtype=np.uint64),
        images=present.sum(axis=0).astype(np.uint64),
        image_pixels=(present * totals[:, None]).sum(axis=0, dtype=np.uint64),
        n_images=table.shape[0],
        n_pixels=int(totals.sum(dtype=np.uint64)),
        ignored=ignored,
        per_image=table if per_image else None,
    )


def assert_same_statistics(got: Counts, expected: Counts) -> None:
    np.testing.assert_array_equal(got.pixels, expected.pixels)
    np.testing.assert_array_equal(got.images, expected.images)
    np.testing.assert_array_equal(got.image_pixels, expected.image_pixels)
    assert (got.n_images, got.n_pixels, got.ignored) == (expected.n_images, expected.n_pixels, expected.ignored)
    # a table on one side only is a difference, not a comparison to skip
    assert (got.per_image is None) == (expected.per_image is None), "per-image table on one side only"
    if expected.per_image is not None:
        np.testing.assert_array_equal(got.per_image, expected.per_image)


def record_memory_maps(monkeypatch: pytest.MonkeyPatch, reader_module: object) -> list[str]:
    """The paths a reader module memory-maps from now on (its MappedFile, recording)."""
    paths: list[str] = []
    mapped_file = reader_module.MappedFile  # type: ignore[attr-defined]

    class Recording(mapped_file):  # type: ignore[misc,valid-type]
        def __init__(self, path: str, drop_behind: bool = False) -> None:
            paths.append(path)
            super().__init__(path, drop_behind)

    monkeypatch.setattr(reader_module, "MappedFile", Recording)
    return paths


def compiler() -> str:
    """The C++ compiler the tests build their small programs with; skips the test without one."""
    found = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if found is None:
        pytest.skip("no C++ compiler on PATH")
    return found


ROOT = Path(__file__).resolve().parents[1]
NOT_RUN = re.compile(r"<!-- not run: (\S.*?) -->")


@dataclass(frozen=True)
class Snippet:
    """A ```python block of the README or of docs/."""

    name: str  # "document > heading", and " (2)" for the second block under one heading
    code: str
    not_run: str | None  # why it is not run, from a `<!-- not run: why -->` line just above it


def doc_snippets() -> list[Snippet]:
    """Every ```python block of README.md and docs/*.md, in order."""
    snippets: list[Snippet] = []
    seen: dict[str, int] = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        heading, fence, code, note, above = "", None, [], None, ""
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if fence is None and stripped.startswith("```"):
                fence, code = stripped[3:], []
                marker = NOT_RUN.fullmatch(above)
                note = marker.group(1) if marker else None
            elif fence is not None and stripped == "```":
                if fence == "python":
                    name = f"{path.relative_to(ROOT).as_posix()} > {heading}"
                    seen[name] = seen.get(name, 0) + 1
                    name += f" ({seen[name]})" if seen[name] > 1 else ""
                    snippets.append(Snippet(name, "\n".join(code) + "\n", note))
                fence = None
            elif fence is not None:
                code.append(line)
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
            if stripped:
                above = stripped
    return snippets


def gpu_snippet() -> str:
    """The example of docs/gpu.md: what tests/backends/test_cuda.py runs on a real GPU."""
    (snippet,) = [s for s in doc_snippets() if s.name.startswith("docs/gpu.md > ")]
    return snippet.code


def refused(path: Path, pattern: str, **options: object) -> None:
    """An input rule: the count refuses the file with an InputError that starts with its path, and
    on_error="skip" leaves it out."""
    with pytest.raises(InputError) as error:
        fastweights.count(path, **options)  # type: ignore[arg-type]
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(pattern, message), message
    with pytest.warns(UserWarning, match="skipped 1 of 1 inputs"):
        counts = fastweights.count(path, on_error="skip", **options)  # type: ignore[arg-type]
    assert counts.n_images == 0
    assert [str(p) for p, _ in counts.errors] == [str(path)]


def refused_matching(path: Path, pattern: str, **options: object) -> None:
    """An input rule whose message `pattern` names the file itself (an HDF5 dataset or an .npz member
    is reported under its file's name): refused by the count, and left out by on_error="skip"."""
    with pytest.raises(InputError, match=pattern):
        fastweights.count(path, **options)  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="skipped 1 of 1 inputs"):
        skipped = fastweights.count(path, on_error="skip", **options)  # type: ignore[arg-type]
    assert [name for name, _ in skipped.errors] == [str(path)]
    assert skipped.n_images == 0


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def small_files(paths: list[str], kind: int = 1, threads: int = 1, drop_behind: bool = False):  # type: ignore[no-untyped-def]
    """The C++ batch reader's result for these files as listed now (kind 0: PNG, 1: .npy)."""
    from fastweights.io.images import ReadOptions
    from fastweights.io.readers.small_files import tally_small_files

    stats = [os.stat(path) for path in paths]
    return tally_small_files(
        paths,
        np.array([info.st_size for info in stats], np.int64),
        np.array([info.st_mtime_ns for info in stats], np.int64),
        np.full(len(paths), kind, np.uint8),
        ReadOptions(drop_behind=drop_behind),
        threads,
    )


def counted_in_batch(paths: list[str]) -> set[str]:
    """The stems of the .npy files the C++ batch reader counts itself (the rest go to the general reader)."""
    return {Path(paths[position]).stem for position in small_files(paths).counted.tolist()}


def resident_pages(path: str | Path) -> list[bool]:
    """Which of the file's pages are in the page cache: mincore(2) on a fresh shared map of it, which
    faults nothing in and reads nothing (a read to probe would start the disk reading). Linux."""
    import ctypes
    import ctypes.util
    import mmap

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = os.stat(path).st_size
    if size == 0:
        return []
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    descriptor = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, descriptor, 0)
        assert address not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
        try:
            vector = ctypes.create_string_buffer(pages)
            assert libc.mincore(address, size, vector) == 0, os.strerror(ctypes.get_errno())
            return [bool(byte & 1) for byte in vector.raw]
        finally:
            libc.munmap(address, size)
    finally:
        os.close(descriptor)


def resident_fraction(path: str | Path) -> float:
    """The share of the file's pages in the page cache."""
    pages = resident_pages(path)
    return sum(pages) / len(pages) if pages else 0.0
