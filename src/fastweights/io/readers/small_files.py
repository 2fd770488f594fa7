"""Small PNG and .npy files in batches: read, decoded and counted by one C++ call per batch, on
several threads, with the GIL released once. Each file is read against the size and modification
time its listing gave (a file that changed since is read again the careful way). The labels of the
whole batch come back end to end, so that a batch costs a few numpy calls, not a few per file."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ... import _core
from ...base.errors import InputError
from ...kernels._tally import Tally
from .. import pagecache
from ..images import ReadOptions
from ._magic import check_magic
from .png import MAX_PIXELS, PNG_MAGIC, general_tally, png_error, read_whole

__all__ = ["SmallFiles", "batch_kind", "tally_small_files"]

_PNG, _NPY = 0, 1
_OK, _UNSUPPORTED, _NOT_PNG = int(_core.PngStatus.ok), int(_core.PngStatus.unsupported), int(_core.PngStatus.not_png)


def batch_kind(path: str) -> int | None:
    """The batch reader's kind of a file by its extension; None for the formats it leaves to their readers."""
    extension = path[-4:].lower()
    return _PNG if extension == ".png" else _NPY if extension == ".npy" else None


@dataclass(frozen=True)
class SmallFiles:
    """The tallies of a batch of small files. `counted`: the positions (in the batch) of the files
    tallied in one go, whose labels are values[offsets[k]:offsets[k + 1]] (ascending) with their
    pixels in counts. `others`: by position, a tally found another way (a PNG for the general
    decoder) or why the file cannot be counted. A position in neither: left to its reader."""

    counted: np.ndarray
    offsets: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    others: dict[int, Tally | InputError]


def tally_small_files(
    paths: list[str], sizes: np.ndarray, mtimes: np.ndarray, kinds: np.ndarray, options: ReadOptions, threads: int
) -> SmallFiles:
    """Reads and counts a batch of PNG (kind 0) and .npy (kind 1) files listed with these sizes and
    modification times (ns), on `threads` threads."""
    found = _core.count_files(paths, sizes, mtimes, kinds, MAX_PIXELS, threads)
    good = (found.statuses == _OK) & (found.errors == 0) & ~found.changed
    counted = np.flatnonzero(good)
    others: dict[int, Tally | InputError] = {}
    if counted.size < len(paths):
        for position in np.flatnonzero(~good & (kinds == _PNG)).tolist():
            others[position] = _png_outcome(paths[position], found, position, options)
        # A .npy the batch could not take (not a plain integer array, damaged, unreadable, changed)
        # goes to the general reader, which reads it again and says what is wrong with it.
    if options.drop_behind:  # the files read here (the others are dropped by their readers)
        for position in [*counted.tolist(), *others]:
            pagecache.drop(paths[position])
    # Only the files counted have labels: theirs lie end to end, in batch order.
    offsets = np.append(found.offsets[counted], found.values.size)
    return SmallFiles(counted, offsets, found.values, found.counts, others)


def _png_outcome(path: str, found: _core.FileBatch, position: int, options: ReadOptions) -> Tally | InputError:
    error, changed, size = found.errors[position], found.changed[position], found.sizes[position]
    status = int(found.statuses[position])
    try:
        if error:
            raise InputError(f"{path}: cannot be read: {os.strerror(int(error))}")
        if changed:
            raise InputError(
                f"{path}: changed while it was being read (its size, modification time or type); "
                "count it once it is complete"
            )
        if size < len(PNG_MAGIC) or status == _NOT_PNG:
            check_magic(path, read_whole(path)[: len(PNG_MAGIC)], PNG_MAGIC)
        if status == _UNSUPPORTED:  # the general decoder's kinds: rare in mask sets
            return general_tally(path, read_whole(path), options, None, 1)
        message = found.messages.get(position, "")
        return png_error(path, _core.PngStatus(status), message)
    except InputError as bad:
        return bad
    except OSError as bad:  # changed since it was read
        return InputError(f"{path}: cannot be read: {bad.strerror or bad}")
