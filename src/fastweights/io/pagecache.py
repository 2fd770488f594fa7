"""Dropping counted files from the page cache (`drop_behind`).

A count reads each byte once. Over more data than memory, the kernel would keep the counted pages
and evict older ones to make room: the files the rest of the machine is using. posix_fadvise
DONTNEED hands clean pages back at once and needs no privileges; pages some process still maps
stay, so callers unmap theirs first. Only a hint: where it is missing (Windows, macOS) or fails,
nothing changes, and the counts never depend on it.
"""

from __future__ import annotations

import os

__all__ = ["drop"]


def drop(path: str, offset: int = 0, length: int = 0) -> None:
    """Drops the cached pages of `length` bytes of `path` from `offset` (0: to the file's end)."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:  # gone or unreadable since it was counted: nothing of ours to hand back
        return
    try:
        os.posix_fadvise(descriptor, offset, length, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(descriptor)
