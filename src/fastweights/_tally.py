"""Counting one contiguous chunk of labels with the C++ kernel: dtype checks, range choice.

A chunk's result is a `Tally`: the distinct label values it holds and how many pixels hold each,
exact uint64. Tallies of the chunks of one image add up with `merge`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from . import _core
from .errors import InputError

__all__ = ["Tally", "label_bounds", "merge", "tally"]

# 16-bit chunks at least this long are counted over their whole range in one pass, without the
# min/max pass first: zeroing and summing a 65,536-entry table costs less than reading them twice.
WHOLE_RANGE_MIN_LABELS = 1 << 20
# A big chunk of wider labels is first counted over this range, without a min/max pass: label maps
# almost always hold small class ids (and perhaps -1). A label outside it makes the chunk count again.
LIKELY_LABELS = (-1, 65_535)
# Widest label range counted through a dense table; wider ones go through the sparse kernel.
DENSE_TABLE_LIMIT = 1 << 20

# The label range [min, max + 1) of each dtype the kernel counts.
_DTYPE_RANGE = {
    name: (int(np.iinfo(name).min), int(np.iinfo(name).max) + 1)
    for name in ("uint8", "int8", "uint16", "int16", "uint32", "int32", "int64")
}
_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Tally:
    values: np.ndarray  # int64, sorted, distinct
    counts: np.ndarray  # uint64, > 0
    ignored: int = 0  # pixels a reader already knows to leave out (e.g. colours not in a colormap)

    @property
    def total(self) -> int:
        return int(self.counts.sum(dtype=np.uint64))


EMPTY = Tally(np.empty(0, np.int64), np.empty(0, np.uint64))


def merge(a: Tally, b: Tally) -> Tally:
    ignored = a.ignored + b.ignored
    if a.values.size == 0:
        return Tally(b.values, b.counts, ignored)
    if b.values.size == 0:
        return Tally(a.values, a.counts, ignored)
    values = np.union1d(a.values, b.values)
    counts = np.zeros(values.size, np.uint64)
    np.add.at(counts, np.searchsorted(values, a.values), a.counts)
    np.add.at(counts, np.searchsorted(values, b.values), b.counts)
    return Tally(values, counts, ignored)


def label_bounds(num_classes: int | None, ignore: tuple[int, ...]) -> tuple[int, int] | None:
    """The label range [lo, hi) that a valid chunk stays inside, when it is known in advance."""
    if num_classes is None:
        return None
    return min((0, *ignore)), max((num_classes, *(v + 1 for v in ignore)))


def countable(chunk: np.ndarray, name: str) -> np.ndarray:
    """The chunk as an integer array the kernel takes, or an InputError naming the input."""
    dtype = chunk.dtype
    if dtype.kind == "b":
        # Not a view: a bool array made from a buffer (Pillow's mode "1") may hold True as 255.
        return chunk.astype(np.uint8)
    if dtype.kind in "iu":
        if not dtype.isnative:
            chunk = chunk.astype(dtype.newbyteorder("="))
        if chunk.dtype.name == "uint64":
            if chunk.size and int(chunk.max()) > _INT64_MAX:
                raise InputError(f"{name}: label {int(chunk.max())} is too large to be a class id")
            return chunk.view(np.int64)
        return chunk
    if dtype.kind == "f":
        return _integral_floats(chunk, name)
    raise InputError(f"{name}: dtype {dtype} cannot hold labels (expected integers, bool or integral floats)")


def _integral_floats(chunk: np.ndarray, name: str) -> np.ndarray:
    finite = np.isfinite(chunk)
    if not finite.all():
        bad = float(chunk[~finite][0])
        raise InputError(
            f"{name}: float labels with non-finite value {bad}; this looks like an intensity image, not a mask"
        )
    fractional = chunk != np.trunc(chunk)
    if fractional.any():
        bad = float(chunk[fractional][0])
        raise InputError(
            f"{name}: float labels with non-integral value {bad}; this looks like an intensity image, not a mask"
        )
    if chunk.size and (chunk.min() < -(2.0**63) or chunk.max() >= 2.0**63):
        raise InputError(f"{name}: float label out of the int64 range")
    warnings.warn(f"{name}: float labels, all integral: counted as integers", UserWarning, stacklevel=2)
    return chunk.astype(np.int64)


def tally(chunk: np.ndarray, bounds: tuple[int, int] | None, threads: int) -> Tally:
    """Counts a C-contiguous integer chunk (from `countable`)."""
    if chunk.size == 0:
        return EMPTY
    assert chunk.flags.c_contiguous
    lowest, highest = _DTYPE_RANGE[chunk.dtype.name]
    big = chunk.size >= WHOLE_RANGE_MIN_LABELS
    if chunk.dtype.itemsize == 1 or (chunk.dtype.itemsize == 2 and big):
        guess = (lowest, highest)
    elif bounds is not None:
        guess = (max(bounds[0], lowest), min(bounds[1], highest))
    elif big:
        guess = (max(LIKELY_LABELS[0], lowest), min(LIKELY_LABELS[1], highest))
    else:
        return _exact(chunk, threads)
    counted = _dense(chunk, *guess, threads)
    # Labels outside the range: rare (an error upstream, or ids beyond the likely range); count
    # them all exactly, so that nothing is lost and a message can name them.
    return counted if counted is not None else _exact(chunk, threads)


def _exact(chunk: np.ndarray, threads: int) -> Tally:
    """Counts over the chunk's own label range (a min/max pass first), sparse when it is too wide."""
    lo, hi = _min_max(chunk, threads)
    if hi - lo > DENSE_TABLE_LIMIT:
        return _sparse(chunk, threads)
    counted = _dense(chunk, lo, hi, threads)
    assert counted is not None  # the range holds every label
    return counted


def _dense(chunk: np.ndarray, lo: int, hi: int, threads: int) -> Tally | None:
    """The tally over a table of [lo, hi); None when a label falls outside it."""
    if lo >= hi or hi - lo > DENSE_TABLE_LIMIT:
        return None
    table, below, above = getattr(_core, f"count_dense_{chunk.dtype.name}")(chunk, lo, hi - lo, threads)
    if below or above:
        return None
    nonzero = np.flatnonzero(table)
    return Tally(nonzero.astype(np.int64) + lo, table[nonzero])


def _min_max(chunk: np.ndarray, threads: int) -> tuple[int, int]:
    lo, hi = getattr(_core, f"min_max_{chunk.dtype.name}")(chunk, threads)
    return lo, hi + 1


def _sparse(chunk: np.ndarray, threads: int) -> Tally:
    values, counts = getattr(_core, f"count_sparse_{chunk.dtype.name}")(chunk, threads)
    return Tally(values, counts)
