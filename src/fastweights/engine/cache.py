"""An incremental cache of per-input counts (the standard library's sqlite3): a rerun over a data set
that grew counts only the new or changed files.

An entry is keyed by the file's absolute path (an object's URL) and the settings that change its
counts, and is used only while the file's size and modification time (the object's size and ETag or
version) are those it was counted with. Several processes may share one cache: SQLite serialises
their writes (write-ahead log, a busy timeout).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from ..io.remote import is_url
from ..model.voxels import VoxelSize

__all__ = ["Cache", "CachedImage"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    path TEXT NOT NULL,
    settings TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,  -- an object's "etag:..." or "version:..." (text, never a number)
    images TEXT NOT NULL,
    PRIMARY KEY (path, settings)
)
"""
# Seconds a process waits for another one's write before giving up.
BUSY_TIMEOUT = 600

# name, classes, pixels, total, ignored, voxel size (mm per axis, or None)
CachedImage = tuple[str, np.ndarray, np.ndarray, int, int, Optional[VoxelSize]]


class Cache:
    def __init__(self, path: str, settings: dict[str, Any]) -> None:
        self.path = path
        # Only what changes a file's counts: not the inputs, not on_error, not per_image.
        kept = {key: value for key, value in settings.items() if key not in ("inputs", "on_error", "per_image")}
        self.settings = json.dumps(kept, sort_keys=True)
        try:
            self.connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            self._set_up()
        except sqlite3.DatabaseError as error:
            raise ValueError(f"{path}: not a usable fastweights cache ({error})") from error
        self.reused = 0
        self.stored = 0

    def _set_up(self) -> None:
        """WAL mode and the table. Switching the journal mode while another process opens the same
        new cache fails at once with "database is locked" (SQLite does not wait on it): try again."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                self.connection.execute("PRAGMA journal_mode=WAL")
                self.connection.execute(SCHEMA)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01 + 0.05 * random.random())

    @classmethod
    def open(cls, path: str | os.PathLike[str], settings: dict[str, Any]) -> Cache:
        return cls(os.fspath(path), settings)

    def lookup(self, path: str, size: int, mtime_ns: int | str) -> list[CachedImage] | None:
        row = self.connection.execute(
            "SELECT size, mtime_ns, images FROM counts WHERE path = ? AND settings = ?",
            (_key(path), self.settings),
        ).fetchone()
        if row is None or (row[0], row[1]) != (size, mtime_ns):
            return None
        images = json.loads(row[2])
        if any(len(image) != 6 for image in images):  # written before voxel sizes were kept: count again
            return None
        self.reused += 1
        return [
            (
                name,
                np.array(classes, np.int64),
                np.array(pixels, np.uint64),
                total,
                ignored,
                None if voxel is None else tuple(float(length) for length in voxel),
            )
            for name, classes, pixels, total, ignored, voxel in images
        ]

    def store(self, entries: Sequence[tuple[str, int, int | str, list[CachedImage]]]) -> None:
        """(path, size, mtime_ns, images) of inputs just counted, in one transaction."""
        if not entries:
            return
        rows = [
            (
                _key(path),
                self.settings,
                size,
                mtime_ns,
                json.dumps(
                    [
                        [name, c.tolist(), p.tolist(), total, ignored, None if voxel is None else list(voxel)]
                        for name, c, p, total, ignored, voxel in images
                    ]
                ),
            )
            for path, size, mtime_ns, images in entries
        ]
        self.connection.execute("BEGIN IMMEDIATE")  # all of them or none
        try:
            self.connection.executemany("INSERT OR REPLACE INTO counts VALUES (?, ?, ?, ?, ?)", rows)
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        self.stored += len(rows)

    def close(self) -> None:
        self.connection.close()


def _key(path: str) -> str | bytes:
    """The absolute path (a URL as it is); as the file system's bytes (an SQLite blob, never equal to
    a text key) when it is not valid UTF-8, which SQLite text cannot hold."""
    if is_url(path):
        return path
    absolute = os.path.abspath(path)
    try:
        absolute.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(absolute)
    return absolute
