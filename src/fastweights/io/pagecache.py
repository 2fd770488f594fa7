"""Page-cache hints for files counted once, front to back: read the next stretch ahead, and
(`drop_behind`) hand counted stretches back.

Read-ahead: the kernel reads ahead of faults in a memory map too, but only once a fault asks;
WILLNEED on the next chunk while this one is counted keeps the disk busy during the count
(BENCHMARKS.md, "Data larger than memory", says what it gained). Drop-behind: over more data than
memory, the kernel would keep the counted pages and evict older ones to make room, the files the
rest of the machine is using; DONTNEED hands clean pages back at once, needs no privileges, and
leaves pages some process still maps, so callers unmap theirs first. Both are hints: where
posix_fadvise is missing (Windows, macOS) or fails, nothing changes, and the counts never depend on them.
"""

from __future__ import annotations

import os

__all__ = ["drop", "prefetch"]


def drop(path: str, offset: int = 0, length: int = 0) -> None:
    """Drops the cached pages of `length` bytes of `path` from `offset` (0: to the file's end)."""
    _advise(path, offset, length, "POSIX_FADV_DONTNEED")


def prefetch(path: str, offset: int, length: int) -> None:
    """Starts reading `length` bytes of `path` from `offset` into the page cache, without waiting,
    unless they are cached: asking for cached pages costs as much as counting them, so the last
    page, read without waiting (RWF_NOWAIT fails where it would wait), is asked first. That read
    starts the kernel reading the page, and a disk fast enough to answer before the read gives up
    makes it look cached: the stretch is then not asked for, which costs speed, never a count."""
    _advise(path, offset, length, "POSIX_FADV_WILLNEED", skip_if_cached=True)


def _advise(path: str, offset: int, length: int, advice: str, skip_if_cached: bool = False) -> None:
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        # Not blocking: a FIFO put in the file's place would hold the open until a writer came.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:  # gone or unreadable since it was opened: the reader says so, not a hint
        return
    try:
        if not (skip_if_cached and _cached(descriptor, offset + length - 1)):
            os.posix_fadvise(descriptor, offset, length, getattr(os, advice))
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _cached(descriptor: int, position: int) -> bool:
    if not hasattr(os, "RWF_NOWAIT"):
        return False
    try:
        os.preadv(descriptor, [bytearray(1)], position, os.RWF_NOWAIT)
    except BlockingIOError:
        return False
    return True
