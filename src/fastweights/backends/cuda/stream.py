"""Host arrays streamed to a GPU: pinned staging buffers on several CUDA streams, so that filling
one buffer (CPU threads), copying another to the device and counting a third overlap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ... import _core
from ...io.images import Bounds
from ...kernels._tally import DENSE_TABLE_LIMIT, Tally, _exact, _min_max, guessed_range

if TYPE_CHECKING:
    from .counter import GpuCounter

# Bytes of one staging buffer: big enough that a copy runs at the bus's speed, small enough that
# the pipeline fills quickly.
PIECE_BYTES = 16 << 20
# Staging buffers (and streams): one being filled by the CPU, one being copied, one being counted.
SLOTS = 3
# Threads that fill a staging buffer from host memory, at most (one thread's memcpy is slower
# than a PCIe 4 or 5 bus).
COPY_THREADS = 8
# Byte labels are counted by byte value: the label of each byte value (int8 wraps around).
_BYTE_VALUES = {
    "uint8": np.arange(256, dtype=np.int64),
    "int8": np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64),
}


class _Slot:
    """A pinned host buffer, a device buffer and a stream: one piece in flight."""

    def __init__(self, cuda: Any) -> None:
        self.host = cuda.pinned_array(PIECE_BYTES, dtype=np.uint8)
        self.device = cuda.device_array(PIECE_BYTES, dtype=np.uint8)
        self.stream = cuda.stream()
        self.busy = False

    def wait(self) -> None:
        if self.busy:
            self.stream.synchronize()
            self.busy = False


class _HostStream:
    """The pieces of one image's host chunks in flight through the slots, counted into one table
    per label range on the device."""

    def __init__(self, counter: GpuCounter, copy_threads: int) -> None:
        self.counter = counter
        self.copy_threads = copy_threads
        self.slots = counter.slots()
        self.turn = 0
        self.table: Any = None  # the device table the pieces are counted into
        self.key: tuple[str, int, int] | None = None  # (dtype, lo, hi) of that table
        self.outside: Any = None

    def add(self, chunk: np.ndarray, bounds: Bounds) -> list[Tally]:
        """Streams one chunk; returns the tallies finished on the way (a table whose range no
        longer fits, labels the table's range missed)."""
        if chunk.size == 0:
            return []
        done: list[Tally] = []
        lo, hi = self._range(chunk, bounds)
        if not 0 < hi - lo <= DENSE_TABLE_LIMIT:  # no table fits: the host's exact kernels
            return [_exact(chunk, 1)]
        key = (chunk.dtype.name, lo, hi)
        if key != self.key:
            done.extend(self.finish())
            self.key, self.table = key, self.counter._zeros(key[2] - key[1])
            self.outside = self.counter._zeros(1)
        raw = chunk.reshape(-1).view(np.uint8)
        step = PIECE_BYTES - PIECE_BYTES % max(4, chunk.dtype.itemsize)
        for start in range(0, raw.size, step):
            self._send(raw[start : start + step], chunk.dtype)
        if chunk.dtype.itemsize > 1:
            # A label outside the table's range is rare (the range comes from a sample, or from
            # num_classes); count the chunk again on the host, keeping only those labels.
            self._drain()
            missed = int(self.outside.copy_to_host()[0])
            if missed:
                done.append(_without(_exact(chunk, 1), (lo, hi)))  # the table's range
                self.outside = self.counter._zeros(1)
        return done

    def _range(self, chunk: np.ndarray, bounds: Bounds) -> tuple[int, int]:
        if chunk.dtype.itemsize == 1:
            return (0, 256)  # counted by byte value; _BYTE_VALUES maps int8 back
        guess = guessed_range(chunk, bounds)
        lo, hi = guess if guess is not None else _min_max(chunk, 1)
        if self.key is not None and self.key[0] == chunk.dtype.name and self.key[1] <= lo and hi <= self.key[2]:
            return self.key[1], self.key[2]  # the current table already covers it
        return lo, hi

    def _send(self, piece: np.ndarray, dtype: np.dtype) -> None:
        slot = self.slots[self.turn % len(self.slots)]
        self.turn += 1
        slot.wait()
        _core.copy_bytes(slot.host, piece, self.copy_threads)
        target = slot.device[: piece.size]
        target.copy_to_device(slot.host[: piece.size], stream=slot.stream)
        counter = self.counter
        if dtype.itemsize == 1:
            head = piece.size - piece.size % 4
            if head:
                words = target[:head].view(np.uint32)
                counter.kernels.byte_words[counter._grid(words.size, slot.stream)](words, self.table)
            if piece.size > head:
                tail = target[head:]
                counter.kernels.ranged_shared[counter._grid(tail.size, slot.stream)](
                    tail, 0, 256, 0, 0, self.table, self.outside
                )
        else:
            assert self.key is not None
            labels = target.view(dtype)
            counter._launch_range(labels, self.key[1], self.key[2], (0, 0), self.table, self.outside, slot.stream)
        slot.busy = True

    def _drain(self) -> None:
        for slot in self.slots:
            slot.wait()

    def finish(self) -> list[Tally]:
        """The tally of the current table (waiting for its pieces), and a fresh start."""
        if self.table is None or self.key is None:
            return []
        self._drain()
        counts = self.table.copy_to_host()
        dtype_name, lo, _ = self.key
        held = np.flatnonzero(counts)
        if dtype_name in _BYTE_VALUES:
            values = _BYTE_VALUES[dtype_name][held]
            order = np.argsort(values)
            tally = Tally(values[order], counts[held][order])
        else:
            tally = Tally(held.astype(np.int64) + lo, counts[held])
        self.table = self.key = None
        return [tally]


def _without(tally: Tally, skip: tuple[int, int]) -> Tally:
    """The part of a tally outside the label range `skip`."""
    keep = (tally.values < skip[0]) | (tally.values >= skip[1])
    return Tally(tally.values[keep], tally.counts[keep], tally.ignored)
