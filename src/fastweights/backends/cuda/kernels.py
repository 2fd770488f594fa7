"""The CUDA kernels (numba-cuda). Imported only by `fastweights.backends.cuda.counter`, and only
when a count asks for the GPU: importing this module imports numba.

Every kernel keeps a per-thread run (the label last seen and how many times in a row): masks are
long runs of one label, so a thread touches a counter once per run instead of once per pixel, and
the hot bin of a big region (the GPU's worst case: every thread adding to one address) is touched
rarely. Counters are per-block uint32 copies in shared memory, one per warp for byte labels, added
to the uint64 table once per block at the end; a launch counts fewer than 2**31 labels, so no uint32
counter can overflow. Compiled kernels are cached on disk (`_kernel`), so only the first count on
a machine pays for compiling them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float64, int64, uint32, uint64

__all__ = [
    "LABELS_PER_LAUNCH",
    "MAX_WARPS",
    "SHARED_BINS",
    "byte_words",
    "floats_to_int64",
    "gather_1d",
    "gather_2d",
    "gather_3d",
    "min_max",
    "ranged_global",
    "ranged_shared",
]

# Threads per block: a multiple of WARP, at most WARP * MAX_WARPS (the byte kernel keeps one 256-bin
# copy per warp).
WARP = 32
MAX_WARPS = 8
BYTE_BINS = 256
BYTE_SLOTS = MAX_WARPS * BYTE_BINS
# Label ranges up to this many bins are counted in shared memory (16 KiB of uint32 per block);
# wider ones with atomics on the uint64 table in global memory.
SHARED_BINS = 4096
# Labels one launch may count: below 2**31, so a block's uint32 counters cannot overflow.
LABELS_PER_LAUNCH = 1 << 30

_INT64_MIN = np.iinfo(np.int64).min


def _kernel(function):
    """cuda.jit, with the compiled kernel cached on disk where numba finds a writable place for it
    (beside this module, the user's cache folder, or NUMBA_CACHE_DIR); compiled in each process
    otherwise."""
    try:
        return cuda.jit(cache=True)(function)
    except RuntimeError:  # numba: no locator available for the cache
        return cuda.jit(function)


_INT64_MAX = np.iinfo(np.int64).max


@cuda.jit(device=True)
def _warp_span(size):
    """(first index of this thread, end of its warp's span): the items are cut into one contiguous
    span per warp, a multiple of 4 * WARP long, and lane l of a warp reads items l, l + WARP, ...
    of its span. Each load of the warp is one contiguous 32-item stretch (coalesced), and a
    thread's successive items lie WARP apart, close enough to be in the same run of a mask."""
    warps = cuda.gridsize(1) // WARP
    span = (size + warps - 1) // warps
    span = (span + 4 * WARP - 1) // (4 * WARP) * (4 * WARP)
    start = (cuda.grid(1) // WARP) * span
    return start + cuda.grid(1) % WARP, min(size, start + span)


@cuda.jit(device=True)
def _byte_word(hist, base, word, label, run):
    """Adds a word of four byte labels to the thread's run; a run that ends goes to hist. (The
    casts keep the arithmetic 32-bit: numba widens uint32 + uint32 to 64 bits.)"""
    if (word >> uint32(8)) == (word & uint32(0xFFFFFF)):  # four equal labels: one step
        first = uint32(word & uint32(0xFF))
        if first == label:
            return label, uint32(run + uint32(4))
        if run:
            cuda.atomic.add(hist, base + label, run)
        return first, uint32(4)
    for shift in range(0, 32, 8):
        byte = uint32((word >> uint32(shift)) & uint32(0xFF))
        if byte == label:
            run = uint32(run + uint32(1))
        else:
            if run:
                cuda.atomic.add(hist, base + label, run)
            label = byte
            run = uint32(1)
    return label, run


@_kernel
def byte_words(words, table):
    """Byte labels packed four to a uint32 word -> table[byte value] (uint64[256]) += count.
    Each thread loads four words before it looks at any of them, so that 16 bytes per thread are
    in flight."""
    hist = cuda.shared.array(BYTE_SLOTS, dtype=uint32)
    tid = cuda.threadIdx.x
    for slot in range(tid, BYTE_SLOTS, cuda.blockDim.x):
        hist[slot] = uint32(0)
    cuda.syncthreads()
    base = (tid // WARP) * BYTE_BINS
    label = uint32(0)
    run = uint32(0)
    index, stop = _warp_span(words.size)
    while index + 3 * WARP < stop:
        first, second, third, fourth = (
            words[index],
            words[index + WARP],
            words[index + 2 * WARP],
            words[index + 3 * WARP],
        )
        label, run = _byte_word(hist, base, uint32(first), label, run)
        label, run = _byte_word(hist, base, uint32(second), label, run)
        label, run = _byte_word(hist, base, uint32(third), label, run)
        label, run = _byte_word(hist, base, uint32(fourth), label, run)
        index += 4 * WARP
    while index < stop:
        label, run = _byte_word(hist, base, uint32(words[index]), label, run)
        index += WARP
    if run:
        cuda.atomic.add(hist, base + label, run)
    cuda.syncthreads()
    warps = cuda.blockDim.x // WARP
    for value in range(tid, BYTE_BINS, cuda.blockDim.x):
        total = uint64(0)
        for warp in range(warps):
            total += uint64(hist[warp * BYTE_BINS + value])
        if total:
            cuda.atomic.add(table, value, total)


@cuda.jit(device=True)
def _end_run(counts, lo, bins, label, run, missed):
    """A run that ends goes to counts[label - lo], or to `missed` (returned) when it lies outside
    [lo, lo + bins)."""
    if run:
        offset = label - lo
        if 0 <= offset < bins:
            cuda.atomic.add(counts, offset, run)
        else:
            missed += uint64(run)
    return missed


@cuda.jit(device=True)
def _ranged_label(counts, lo, bins, value, label, run, missed):
    """Adds one label (not skipped) to the thread's run, ending the run it does not continue."""
    if value == label and run:
        return label, uint32(run + uint32(1)), missed
    return value, uint32(1), _end_run(counts, lo, bins, label, run, missed)


@cuda.jit(device=True)
def _ranged_loop(labels, counts, lo, bins, skip_lo, skip_hi):
    """The loop of the ranged kernels over this thread's items of its warp's span, four loads in
    flight; returns how many labels fell outside [lo, lo + bins)."""
    label = int64(0)
    run = uint32(0)
    missed = uint64(0)
    index, stop = _warp_span(labels.size)
    while index < stop:
        last = stop - 1
        values = (
            int64(labels[index]),
            int64(labels[min(index + WARP, last)]),
            int64(labels[min(index + 2 * WARP, last)]),
            int64(labels[min(index + 3 * WARP, last)]),
        )
        for step in range(4):
            if index + step * WARP < stop and not (skip_lo <= values[step] < skip_hi):
                label, run, missed = _ranged_label(counts, lo, bins, values[step], label, run, missed)
        index += 4 * WARP
    return _end_run(counts, lo, bins, label, run, missed)


@_kernel
def ranged_shared(labels, lo, bins, skip_lo, skip_hi, table, outside):
    """Labels in [lo, lo + bins) (bins <= SHARED_BINS) -> table[label - lo] += count; labels outside
    it -> outside[0] += count; labels in [skip_lo, skip_hi) are passed over."""
    hist = cuda.shared.array(SHARED_BINS, dtype=uint32)
    tid = cuda.threadIdx.x
    for slot in range(tid, bins, cuda.blockDim.x):
        hist[slot] = uint32(0)
    cuda.syncthreads()
    missed = _ranged_loop(labels, hist, lo, bins, skip_lo, skip_hi)
    if missed:
        cuda.atomic.add(outside, 0, missed)
    cuda.syncthreads()
    for slot in range(tid, bins, cuda.blockDim.x):
        if hist[slot]:
            cuda.atomic.add(table, slot, uint64(hist[slot]))


@_kernel
def ranged_global(labels, lo, bins, skip_lo, skip_hi, table, outside):
    """`ranged_shared` for wide ranges: the uint64 table in global memory takes the atomics."""
    missed = _ranged_loop(labels, table, lo, bins, skip_lo, skip_hi)
    if missed:
        cuda.atomic.add(outside, 0, missed)


@_kernel
def min_max(labels, skip_lo, skip_hi, bounds):
    """bounds[0] = min, bounds[1] = max of the labels not in [skip_lo, skip_hi) (as int64); bounds
    must start as (INT64_MAX, INT64_MIN), and stays so when every label is passed over."""
    low = int64(_INT64_MAX)
    high = int64(_INT64_MIN)
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < labels.size:
        value = int64(labels[index])
        index += stride
        if skip_lo <= value < skip_hi:
            continue
        low = min(low, value)
        high = max(high, value)
    if low <= high:
        cuda.atomic.min(bounds, 0, low)
        cuda.atomic.max(bounds, 1, high)


@_kernel
def floats_to_int64(values, labels, first_bad):
    """labels[i] = int64(values[i]); first_bad[0] = the first index of a value that is not finite,
    [1] of one outside the int64 range, [2] of one that is not integral (each starts at the size)."""
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < values.size:
        value = float64(values[index])
        labels[index] = 0
        if math.isnan(value) or math.isinf(value):
            cuda.atomic.min(first_bad, 0, index)
        elif value < -9.223372036854775808e18 or value >= 9.223372036854775808e18:
            cuda.atomic.min(first_bad, 1, index)
        elif value != math.trunc(value):
            cuda.atomic.min(first_bad, 2, index)
        else:
            labels[index] = int64(value)
        index += stride


@_kernel
def gather_1d(source, target):
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < target.size:
        target[index] = source[index]
        index += stride


@_kernel
def gather_2d(source, target):
    width = source.shape[1]
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < target.size:
        target[index] = source[index // width, index % width]
        index += stride


@_kernel
def gather_3d(source, target):
    height, width = source.shape[1], source.shape[2]
    index = cuda.grid(1)
    stride = cuda.gridsize(1)
    while index < target.size:
        row = index // width
        target[index] = source[row // height, row % height, index % width]
        index += stride
