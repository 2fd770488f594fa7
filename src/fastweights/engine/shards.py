"""Splitting a listing of inputs into contiguous shares balanced by bytes: for job arrays
(`--shard i/N`), MPI ranks and Dask tasks. Each share keeps the listing order, so shares added in
order give the Counts of one count over everything, sources in the same order."""

from __future__ import annotations

import numpy as np

__all__ = ["parse_shard", "split_by_bytes"]


def split_by_bytes(sizes: list[int], parts: int) -> list[range]:
    """`parts` contiguous ranges of positions; share k ends where the running total of bytes first
    reaches k/parts of the whole, so no share is off from an equal share by more than one input."""
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts={parts!r}: expected a positive integer")
    ends = np.cumsum(np.asarray(sizes, np.float64))
    total = float(ends[-1]) if len(sizes) else 0.0
    if total == 0:  # no bytes to balance: balance the number of inputs
        ends, total = np.arange(1, len(sizes) + 1, dtype=np.float64), float(len(sizes))
    bounds = [0]
    for k in range(1, parts):
        target = total * k / parts
        cut = int(np.searchsorted(ends, target, side="left"))  # the input that reaches the target
        if cut < len(sizes) and (cut == 0 or abs(ends[cut] - target) < abs(ends[cut - 1] - target)):
            cut += 1  # ending after it is closer to the target than ending before it
        bounds.append(max(bounds[-1], min(cut, len(sizes))))
    bounds.append(len(sizes))
    return [range(bounds[k], bounds[k + 1]) for k in range(parts)]


def parse_shard(text: str) -> tuple[int, int]:
    """ "i/N" (0 <= i < N) as (i, N)."""
    try:
        index, parts = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard={text!r}: expected i/N, e.g. 0/4 for the first of four shares") from None
    if not 0 <= index < parts:
        raise ValueError(f"shard={text!r}: expected 0 <= i < N")
    return index, parts
