"""Opening a mask file without waiting on what is not one: a listing refuses FIFOs and devices, but
a file swapped for one after its listing would hold a plain open until a writer came."""

from __future__ import annotations

import io
import os
import stat
from typing import Literal, cast, overload

from ...base.errors import InputError

_NOT_BLOCKING = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def special_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words."""
    for test, kind in (
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISDIR, "folder"),
    ):
        if test(mode):
            return kind
    return "special file"


def not_a_regular_file(path: str, kind: str) -> InputError:
    return InputError(f"{path}: is a {kind}, not a regular file; masks are read from files")


@overload
def open_regular(path: str) -> io.BufferedReader: ...


@overload
def open_regular(path: str, buffering: Literal[0]) -> io.FileIO: ...


def open_regular(path: str, buffering: int = -1) -> io.BufferedReader | io.FileIO:
    """`path` opened to read bytes (unbuffered with `buffering=0`); an InputError naming it when it
    is not a regular file."""
    descriptor = os.open(path, _NOT_BLOCKING)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise not_a_regular_file(path, special_kind(mode))
        return cast("io.BufferedReader | io.FileIO", os.fdopen(descriptor, "rb", buffering=buffering))
    except BaseException:
        os.close(descriptor)
        raise
