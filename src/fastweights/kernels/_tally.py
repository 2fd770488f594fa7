"""Counting one contiguous chunk of labels with the C++ kernel: dtype checks, range choice.

A chunk's result is a `Tally`: the distinct label values it holds and how many pixels hold each,
exact uint64. Tallies of the chunks of one image add up with `merge_all`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .. import _core
from ..base.errors import InputError

__all__ = ["Tally", "clipped_bounds", "guessed_range", "label_bounds", "merge_all", "tally"]

# A chunk of wider labels at least this long is counted in one pass over a range guessed from a
# sample of its labels, not after a min/max pass: reading it twice costs more than the rare recount
# when a label falls outside the guess.
SAMPLED_RANGE_MIN_LABELS = 1 << 20
# Labels sampled for that guess, evenly spaced through the chunk.
RANGE_SAMPLE = 1024
# The guessed table reaches at least this far: small class ids not sampled still fall inside it.
SMALLEST_GUESS = 256
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


# Tallies held before they are added up: adding once per group, not once per chunk, keeps the
# Python work per chunk small, and the group bound keeps memory flat for images of many chunks.
MERGE_GROUP = 64


def merge_all(tallies: Iterable[Tally]) -> Tally:
    """The sum of tallies (of the chunks or pages of one image)."""
    total = EMPTY
    pending: list[Tally] = []
    for part in tallies:
        pending.append(part)
        if len(pending) == MERGE_GROUP:
            total = _add_up([total, *pending])
            pending.clear()
    return _add_up([total, *pending])


def _add_up(tallies: list[Tally]) -> Tally:
    ignored = sum(part.ignored for part in tallies)
    held = [part for part in tallies if part.values.size]
    if not held:
        return Tally(EMPTY.values, EMPTY.counts, ignored)
    if len(held) == 1:
        return Tally(held[0].values, held[0].counts, ignored)
    values, slots = np.unique(np.concatenate([part.values for part in held]), return_inverse=True)
    counts = np.zeros(values.size, np.uint64)
    np.add.at(counts, slots, np.concatenate([part.counts for part in held]))
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
    # As Python floats: 2**63 cast to a float16 chunk's dtype overflows (a RuntimeWarning).
    if chunk.size and (float(chunk.min()) < -(2.0**63) or float(chunk.max()) >= 2.0**63):
        raise InputError(f"{name}: float label out of the int64 range")
    warnings.warn(f"{name}: float labels, all integral: counted as integers", UserWarning, stacklevel=2)
    return chunk.astype(np.int64)


def tally(chunk: np.ndarray, bounds: tuple[int, int] | None, threads: int) -> Tally:
    """Counts a C-contiguous integer chunk (from `countable`)."""
    if chunk.size == 0:
        return EMPTY
    assert chunk.flags.c_contiguous
    guess = guessed_range(chunk, bounds)
    if guess is None:
        return _exact(chunk, threads)
    counted = _dense(chunk, *guess, threads)
    # Labels outside the range: rare (an error upstream, or ids beyond the likely range); count
    # them all exactly, so that nothing is lost and a message can name them.
    return counted if counted is not None else _exact(chunk, threads)


def guessed_range(chunk: np.ndarray, bounds: tuple[int, int] | None) -> tuple[int, int] | None:
    """The table range a chunk is counted over first: the dtype's whole range for bytes, the known
    bounds, or a range guessed from a sample of a big chunk; None for a small chunk of wider labels
    with no bounds (its own min/max costs little)."""
    lowest, highest = _DTYPE_RANGE[chunk.dtype.name]
    if chunk.dtype.itemsize == 1:
        return lowest, highest
    if bounds is not None:
        return clipped_bounds(bounds, chunk.dtype)
    if chunk.size >= SAMPLED_RANGE_MIN_LABELS:
        return _sampled_range(chunk, lowest, highest)
    return None


def clipped_bounds(bounds: tuple[int, int] | None, dtype: np.dtype) -> tuple[int, int] | None:
    """The known label bounds, clipped to the labels `dtype` can hold."""
    if bounds is None:
        return None
    lowest, highest = _DTYPE_RANGE[np.dtype(dtype).name]
    return max(bounds[0], lowest), min(bounds[1], highest)


def _sampled_range(chunk: np.ndarray, lowest: int, highest: int) -> tuple[int, int]:
    """A table range that likely holds every label of the chunk: the range of a sample, from 0 (or
    the sampled minimum, if negative) up to the next power of two above the sampled maximum."""
    flat = chunk.reshape(-1)
    sample = flat[:: max(1, flat.size // RANGE_SAMPLE)]
    lo = min(int(sample.min()), 0)
    top = int(sample.max()) + 1
    hi = max(SMALLEST_GUESS, 1 << max(0, top - 1).bit_length())
    return max(lo, lowest), min(hi, highest)


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
    table, below, above = _core.count_dense(chunk, lo, hi - lo, threads)
    if below or above:
        return None
    nonzero = np.flatnonzero(table)
    return Tally(nonzero.astype(np.int64) + lo, table[nonzero])


def _min_max(chunk: np.ndarray, threads: int) -> tuple[int, int]:
    lo, hi = _core.min_max(chunk, threads)
    return lo, hi + 1


def _sparse(chunk: np.ndarray, threads: int) -> Tally:
    values, counts = _core.count_sparse(chunk, threads)
    return Tally(values, counts)
