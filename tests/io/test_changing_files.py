"""A file that changes while it is counted (a data set still syncing, another job rewriting a mask)
is refused with an InputError naming it, never counted as neither version, never a crash. A memory
map touched past the end of a file cut short raises SIGBUS: these run in a child process, so that
a crash shows as a failure here rather than killing pytest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import pytest
from helpers import small_files

import fastweights
from fastweights.errors import InputError
from fastweights.io.images import CHUNK_BYTES, ReadOptions
from fastweights.io.readers.small_files import tally_small_files

T = TypeVar("T")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Windows refuses to shrink a mapped file")

# The child cuts the file short once it is mapped, before a page of it is read: the first chunk
# counted reads past the new end.
SHRINK_ONCE_MAPPED = """
import os, sys, faulthandler
import fastweights
from fastweights.io.readers import _mapped
from fastweights.errors import InputError
array = _mapped.MappedFile.array

def array_then_shrink(self, *args):
    mapped = array(self, *args)
    if {faulthandler_later}:
        faulthandler.enable()  # takes SIGBUS after the first map: the next map takes it back
    os.truncate(self.path, {keep})
    return mapped

_mapped.MappedFile.array = array_then_shrink
try:
    fastweights.count(sys.argv[1:], threads={threads}, stack_axis={stack_axis})
    print("counted")
except InputError as error:
    print("InputError:", error)
"""


def run_child(script: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def big_npy(path: Path, dtype: type = np.uint8) -> Path:
    labels = np.zeros(3 * CHUNK_BYTES // np.dtype(dtype).itemsize, dtype)
    labels[::4096] = 3
    np.save(path, labels.reshape(-1, 4096))
    return path


@pytest.mark.parametrize(
    ("dtype", "threads", "stack_axis", "keep", "faulthandler_later"),
    [
        (np.uint8, 1, None, 4096, False),  # every chunk's pages past the end
        (np.uint8, 2, None, CHUNK_BYTES + 5000, False),  # the second chunk, kernel threads on it
        (np.uint16, 1, None, 200_000, False),  # a label range sampled from the map in numpy
        (np.uint8, 2, 0, 2 * CHUNK_BYTES, True),  # slices, faulthandler enabled meanwhile
    ],
)
def test_a_file_cut_short_while_counted_is_refused(
    tmp_path: Path, dtype: type, threads: int, stack_axis: int | None, keep: int, faulthandler_later: bool
) -> None:
    path = big_npy(tmp_path / "big.npy", dtype)
    small = tmp_path / "small.npy"
    np.save(small, np.ones((4, 4), np.uint8))
    script = SHRINK_ONCE_MAPPED.format(
        keep=keep, threads=threads, stack_axis=stack_axis, faulthandler_later=faulthandler_later
    )
    result = run_child(script, small, path)
    assert result.returncode == 0, f"the child died ({result.returncode}): {result.stderr[-2000:]}"
    assert result.stdout.splitlines()[-1].startswith(f"InputError: {path}: shrank from "), result.stdout + result.stderr


def test_a_fault_outside_a_counted_file_still_ends_the_process(tmp_path: Path) -> None:
    """The handler takes only faults in its own maps; any other SIGBUS keeps its default action."""
    path = big_npy(tmp_path / "big.npy")
    script = """
    import mmap, os, sys
    import fastweights
    fastweights.count(sys.argv[1])  # a guarded map made: the handler is in place
    with open(sys.argv[1], "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    os.truncate(sys.argv[1], 0)
    print(mapped[len(mapped) - 1])
    """
    result = run_child(script, path)
    assert result.returncode == -signal.SIGBUS, (result.returncode, result.stderr[-2000:])


def test_a_file_rewritten_while_counted_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastweights.io.readers import _mapped

    path = big_npy(tmp_path / "big.npy")
    release = _mapped.MappedFile.release

    def rewrite_then_release(self: _mapped.MappedFile, region: np.ndarray) -> None:
        with open(self.path, "r+b") as file:  # same size, other labels
            file.seek(-1, os.SEEK_END)
            file.write(b"\x07")
        stamp = os.stat(self.path)
        os.utime(self.path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))  # a coarse clock
        release(self, region)

    monkeypatch.setattr(_mapped.MappedFile, "release", rewrite_then_release)
    with pytest.raises(InputError, match=f"{path}: was written to while it was being counted"):
        fastweights.count(path)


def test_a_small_npy_cut_short_between_its_size_and_its_data_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastweights.io.readers import numpy_files

    path = tmp_path / "small.npy"
    np.save(path, np.ones((64, 64), np.uint16))

    class ShrinksOnceSized:
        """`os` for the reader: the file is cut short just after the reader learns its size."""

        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        def fstat(self, fd: int) -> os.stat_result:
            info = os.fstat(fd)
            os.truncate(path, 228)
            return info

    monkeypatch.setattr(numpy_files, "os", ShrinksOnceSized())
    with pytest.raises(InputError, match=f"{path}: shrank from 8,320 bytes while it was being read"):
        fastweights.count(path, stack_axis=0)  # stack_axis: the general reader, not the batch


def _without_waiting_for_a_writer(fifo: Path, read: Callable[[], T]) -> T:
    """`read()`'s value (or its exception), `read` being given a FIFO with no writer: it runs in a
    thread, so that a reader that opens the FIFO the blocking way, and would wait for ever, fails the
    test rather than hangs it (a writer is let in to free it)."""
    outcome: list[T] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(read())
        except BaseException as error:
            raised.append(error)

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the blocked open returns, and reads nothing
        reader.join(timeout=10)
        pytest.fail(f"{fifo}: the reader waited for a writer")
    if raised:
        raise raised[0]
    return outcome[0]


@pytest.mark.parametrize("drop_behind", [False, True], ids=["", "drop_behind"])
def test_a_file_that_became_a_fifo_since_its_listing_is_refused_without_waiting(
    tmp_path: Path, drop_behind: bool
) -> None:
    from PIL import Image

    mask = tmp_path / "mask.png"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(mask)
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)  # a listed mask swapped for a named pipe, whose writer never comes
    found = _without_waiting_for_a_writer(
        fifo, lambda: small_files([str(fifo), str(mask)], kind=0, threads=2, drop_behind=drop_behind)
    )
    assert found.counted.tolist() == [1] and np.diff(found.offsets).tolist() == [64]
    refused = found.others[0]
    assert isinstance(refused, InputError)
    assert str(refused).startswith(f"{fifo}: changed while it was being read (its size, modification time or type)")


def test_a_file_changed_since_it_was_listed_is_read_again(tmp_path: Path) -> None:
    from PIL import Image

    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(mask)
    before = os.stat(mask)
    Image.fromarray(np.ones((16, 8), np.uint8)).save(mask)  # rewritten after its listing
    found = tally_small_files(
        [str(mask)],
        np.array([before.st_size], np.int64),
        np.array([before.st_mtime_ns - 1], np.int64),
        np.zeros(1, np.uint8),
        ReadOptions(),
        1,
    )
    assert found.counted.tolist() == [0] and found.values.tolist() == [1] and found.counts.tolist() == [128]


def test_a_npy_that_became_a_fifo_goes_to_the_general_reader(tmp_path: Path) -> None:
    small = tmp_path / "small.npy"
    np.save(small, np.ones((4, 4), np.uint8))
    fifo = tmp_path / "fifo.npy"
    os.mkfifo(fifo)
    found = _without_waiting_for_a_writer(fifo, lambda: small_files([str(fifo), str(small)]))
    assert found.counted.tolist() == [1] and found.counts.tolist() == [16]
    assert found.others == {}  # the general reader reads it again, and checks it


@pytest.mark.parametrize("extension", [".npy", ".npz", ".png", ".jpg", ".tif", ".nii", ".nii.gz", ".h5"])
def test_every_reader_refuses_a_mask_that_became_a_fifo_without_waiting(tmp_path: Path, extension: str) -> None:
    from fastweights.io.readers import open_path

    fifo = tmp_path / f"mask{extension}"
    os.mkfifo(fifo)  # swapped in after the listing, which refuses FIFOs it sees

    refused = f"{fifo}: is a FIFO (named pipe), not a regular file; masks are read from files"
    with pytest.raises(InputError, match=re.escape(refused)):
        _without_waiting_for_a_writer(fifo, lambda: list(open_path(str(fifo), ReadOptions())))


def test_a_mapped_npy_that_became_a_fifo_is_refused(tmp_path: Path) -> None:
    from fastweights.io.readers._mapped import MappedFile

    fifo = tmp_path / "big.npy"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is a FIFO"):
        _without_waiting_for_a_writer(fifo, lambda: MappedFile(str(fifo)))
