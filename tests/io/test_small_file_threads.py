"""The batch reader's helper threads open files in tables of their own: the process's files, fds
and locks are as they were after a count on several threads."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastweights

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd and unshare: Linux")


def _masks(folder: Path, count: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    total = np.zeros(6, np.int64)
    for index in range(count):
        mask = rng.integers(0, 6, (16, 16), dtype=np.uint8)
        np.save(folder / f"{index:04d}.npy", mask)
        total += np.bincount(mask.ravel(), minlength=6)
    return total


def test_counts_on_several_threads_leave_the_open_files_as_they_were(tmp_path: Path) -> None:
    expected = _masks(tmp_path, 300)
    before = sorted(os.listdir("/proc/self/fd"))
    for threads in (2, 3):
        counts = fastweights.count(str(tmp_path), threads=threads, progress=False)
        assert counts.pixels.tolist() == expected.tolist()
    assert sorted(os.listdir("/proc/self/fd")) == before


def test_a_lock_the_process_holds_outlives_a_count_on_several_threads(tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    _masks(masks, 300)
    lock_file = tmp_path / "lock"
    lock_file.write_bytes(b"x")
    with open(lock_file, "r+b") as held:
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fastweights.count(str(masks), threads=2, progress=False)
        # Another process must still find the file locked.
        probe = textwrap.dedent(
            f"""
            import fcntl, sys
            with open({str(lock_file)!r}, "r+b") as f:
                try:
                    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    sys.exit(0)
            sys.exit(1)
            """
        )
        assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0
