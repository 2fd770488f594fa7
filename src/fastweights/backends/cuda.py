"""Counting on an NVIDIA GPU with numba-cuda: `count(..., device="cuda")`.

Two kinds of input reach the GPU:
- device arrays (CuPy arrays, PyTorch CUDA tensors, numba device arrays: anything with
  `__cuda_array_interface__`), counted where they are, without a copy;
- host arrays and the arrays readers make of files (memory-mapped .npy, raw, TIFF, NIfTI, HDF5...),
  streamed through pinned staging buffers on several CUDA streams, so that filling one buffer,
  copying another to the device and counting a third overlap.

The result of every image is the same exact `Tally` the CPU kernel gives, so everything downstream
(classification, per-image presence, the Counts) is shared with the CPU path. numba is imported
when a counter is opened, and `fastweights` imports this module only when a count asks for the GPU.
"""

from __future__ import annotations

import ctypes
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import _core
from ..base._optional import MissingDependency
from ..base.errors import DeviceUnavailable, InputError
from ..io._device_layout import Layout
from ..io.images import Bounds, Image, check_stack_axis
from ..kernels._tally import (
    DENSE_TABLE_LIMIT,
    EMPTY,
    RANGE_SAMPLE,
    SAMPLED_RANGE_MIN_LABELS,
    Tally,
    _exact,
    _min_max,
    _sampled_range,
    clipped_bounds,
    guessed_range,
    merge_all,
)

__all__ = ["GpuCounter", "open_counter", "unusable_reason"]

# Bytes of one staging buffer: big enough that a copy runs at the bus's speed, small enough that
# the pipeline fills quickly.
PIECE_BYTES = 16 << 20
# Staging buffers (and streams): one being filled by the CPU, one being copied, one being counted.
SLOTS = 3
# Label ranges wider than DENSE_TABLE_LIMIT are counted in windows of that many labels, one pass
# each, up to this many passes; wider still, the labels go to the host's sparse kernel.
MAX_WINDOWS = 16
# Threads that fill a staging buffer from host memory, at most (one thread's memcpy is slower
# than a PCIe 4 or 5 bus).
COPY_THREADS = 8
# numba warns about launches of fewer blocks than this.
LOW_OCCUPANCY_BLOCKS = 128
# Device arrays that are not one dense block are gathered into buffers of this many bytes.
GATHER_BYTES = 64 << 20

_INT64_MIN = int(np.iinfo(np.int64).min)
_INT64_MAX = int(np.iinfo(np.int64).max)
_BYTE_VALUES = {
    "uint8": np.arange(256, dtype=np.int64),
    "int8": np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64),
}
_INSTALL = (
    'pip install "fastweights[cuda]" (numba-cuda; on a machine without the CUDA toolkit, '
    'pip install "numba-cuda[cu12]" or "numba-cuda[cu13]" to match the driver)'
)


def _numba_cuda() -> Any:
    """numba's CUDA target, from the numba-cuda package (numba's own CUDA target is deprecated)."""
    try:
        import numba_cuda  # noqa: F401
        from numba import cuda
    except ImportError as error:
        raise MissingDependency(f"the GPU path needs numba-cuda, which is not installed: {_INSTALL}") from error
    except Exception as error:  # installed but broken, e.g. numba-cuda 0.30 under numpy 2.5 (no np.row_stack)
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise MissingDependency(
            f"numba-cuda is installed but cannot be imported ({reason}); install versions of numba-cuda and "
            "numpy that work together"
        ) from error
    return cuda


def unusable_reason() -> str | None:
    """Why no GPU can count here (numba-cuda missing, no driver, no device), or None when one can."""
    try:
        cuda = _numba_cuda()
    except MissingDependency as error:
        return str(error)
    try:
        if not cuda.is_available():
            return f"numba-cuda finds no usable CUDA driver or GPU ({_driver_error(cuda)})"
        cuda.get_current_device()
    except Exception as error:  # the driver's errors are of several kinds, each with its message
        return f"numba-cuda cannot open a GPU: {error}"
    return None


def _driver_error(cuda: Any) -> str:
    """numba's reason, in one line, why the driver did not start (or "no CUDA device found")."""
    try:
        driver = cuda.cudadrv.driver.driver
        driver.ensure_initialized()
        error = driver.initialization_error
    except Exception as raised:
        error = raised
    text = " ".join(str(error or "").split()).rstrip(": ")
    return text or "no CUDA device found"


_counters: dict[int | None, GpuCounter] = {}  # by device ordinal; None: the current device
_counters_lock = threading.Lock()


def open_counter(ordinal: int | None = None) -> GpuCounter:
    """The counter of GPU `ordinal` (default: the current device), or an error that says what is
    missing and how to fix it. One per device and process: its staging buffers and streams are
    made once, not at every count."""
    cuda = _numba_cuda()  # not installed: MissingDependency, with the pip command
    with _counters_lock:
        if ordinal not in _counters:
            reason = unusable_reason()
            if reason is not None:
                raise DeviceUnavailable(f"device='cuda': {reason}; count on the CPU with device='cpu'")
            key = int(getattr(cuda.get_current_device(), "id", 0)) if ordinal is None else ordinal
            if key not in _counters:
                with cuda.gpus[key]:
                    _counters[key] = GpuCounter(cuda)
            _counters[ordinal] = _counters[key]
        return _counters[ordinal]


class GpuCounter:
    """Counts label arrays on one GPU. Safe to share between threads: one count at a time runs
    on the device (the CPU threads go on decoding meanwhile)."""

    def __init__(self, cuda: Any) -> None:
        self.cuda = cuda
        device = cuda.get_current_device()
        self.simulated = type(device).__module__.startswith("numba.cuda.simulator")
        self.device_id = int(getattr(device, "id", 0))
        name = getattr(device, "name", "the CUDA simulator")
        name = name.decode() if isinstance(name, bytes) else str(name)
        self.name = f"cuda:{self.device_id} ({name})"

        from . import cuda_kernels as _cuda_kernels

        self.kernels = _cuda_kernels
        if self.simulated:  # the simulator runs each GPU thread as a Python thread: keep launches small
            self.threads_per_block, self.min_blocks, self.max_blocks = 32, 1, 2
        else:
            self.threads_per_block = 32 * _cuda_kernels.MAX_WARPS
            self.min_blocks = LOW_OCCUPANCY_BLOCKS
            self.max_blocks = max(LOW_OCCUPANCY_BLOCKS, 8 * int(device.MULTIPROCESSOR_COUNT))
        self._lock = threading.Lock()
        self._slots: list[_Slot] | None = None

    # ---- launches ---------------------------------------------------------------------------------

    def _grid(self, items: int, stream: Any = 0) -> tuple[int, int, Any]:
        # Enough blocks to fill the device, each thread taking at least 64 items in its grid-stride
        # loop; never fewer than numba's low-occupancy warning threshold on a real GPU (an idle
        # block costs next to nothing, a warning per small image would be noise).
        blocks = max(self.min_blocks, min(self.max_blocks, -(-items // (self.threads_per_block * 64))))
        return blocks, self.threads_per_block, stream

    def _zeros(self, size: int) -> Any:
        return self.cuda.to_device(np.zeros(size, np.uint64))

    @contextmanager
    def _device(self) -> Iterator[None]:
        with self._lock, self.cuda.gpus[self.device_id]:
            yield

    # ---- arrays already on the device -------------------------------------------------------------

    def device_images(self, name: str, array: Any, stack_axis: int | None) -> Iterator[Image]:
        """The images of a device array: the whole of it, or each slice along `stack_axis`."""
        layout = self._layout_of(name, array)
        if stack_axis is None:
            yield self._image(name, array, layout)
            return
        check_stack_axis(name, layout.shape, stack_axis)
        axis = stack_axis % len(layout.shape)
        for index in range(layout.shape[axis]):
            yield self._image(f"{name}[{index}]", array, layout.index(axis, index))

    def _image(self, name: str, owner: Any, layout: Layout) -> Image:
        def tally(bounds: Bounds, threads: int) -> Tally:
            return self.tally_device(name, owner, layout, bounds)

        return Image(name, tally)

    def _layout_of(self, name: str, array: Any) -> Layout:
        layout = Layout.of(array)
        if layout.dtype.kind not in "biuf":
            raise InputError(
                f"{name}: dtype {layout.dtype} cannot hold labels (expected integers, bool or integral floats)"
            )
        if not layout.dtype.isnative:
            raise InputError(f"{name}: a device array of non-native byte order ({layout.dtype}); convert it first")
        interface = getattr(array, "__cuda_array_interface__", None)
        if interface is not None and interface.get("stream") is not None:
            # The producer (PyTorch, CuPy) may still be writing it on its own stream.
            self.cuda.synchronize()
        return layout

    def tally_device(self, name: str, owner: Any, layout: Layout, bounds: Bounds) -> Tally:
        """The exact tally of the elements `layout` describes in the memory of the device array `owner`."""
        with self._device():
            return merge_all(self._tally_dense(name, piece, bounds) for piece in self._dense_pieces(owner, layout))

    def _dense_pieces(self, owner: Any, layout: Layout) -> Iterator[Any]:
        """The elements as 1-D C-contiguous device arrays: one view when they fill a block of memory
        (in any axis order), else gathered a bounded slab at a time."""
        if layout.size == 0:
            return
        layout = layout.normalized()
        if layout.is_dense():
            yield self._view(owner, layout.flat())
            return
        if len(layout.shape) > 3:
            for index in range(layout.shape[0]):
                yield from self._dense_pieces(owner, layout.index(0, index))
            return
        row = int(np.prod(layout.shape[1:], dtype=np.int64))
        rows = max(1, GATHER_BYTES // (row * layout.dtype.itemsize))
        gather = (self.kernels.gather_1d, self.kernels.gather_2d, self.kernels.gather_3d)[len(layout.shape) - 1]
        for start in range(0, layout.shape[0], rows):
            slab = layout.rows(start, start + rows)
            target = self.cuda.device_array(slab.size, dtype=layout.dtype)
            gather[self._grid(slab.size)](self._view(owner, slab), target)
            yield target

    def _view(self, owner: Any, layout: Layout) -> Any:
        """A device array over the memory `layout` describes (strides non-negative), kept valid by `owner`."""
        if self.simulated:  # the simulator's arrays are numpy arrays in host memory
            from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

            memory = (ctypes.c_char * max(1, layout.extent)).from_address(layout.address)
            host = np.ndarray(layout.shape, layout.dtype, buffer=memoryview(memory), strides=layout.strides)
            return FakeCUDAArray(host)
        interface = {
            "shape": layout.shape,
            "strides": layout.strides,
            "typestr": layout.dtype.str,
            "data": (layout.address, False),
            "version": 2,
        }
        return self.cuda.from_cuda_array_interface(interface, owner=owner, sync=False)

    def _tally_dense(self, name: str, labels: Any, bounds: Bounds) -> Tally:
        """Tallies a 1-D contiguous device array (called with the device held)."""
        dtype = np.dtype(labels.dtype)
        if dtype.kind == "b":
            counted = self._tally_bytes(labels.view(np.uint8), "uint8")  # any non-zero byte is True
            ones = counted.counts[counted.values > 0].sum(dtype=np.uint64)
            table = np.array([counted.total - int(ones), ones], np.uint64)
            held = np.flatnonzero(table)
            return Tally(held.astype(np.int64), table[held])
        if dtype.kind == "f":
            return self._tally_floats(name, labels, bounds)
        if dtype.itemsize == 1:
            return self._tally_bytes(labels.view(np.uint8), dtype.name)
        if dtype.name == "uint64":
            labels = labels.view(np.int64)
            lowest, _ = self._min_max(labels, 0, 0)
            if lowest < 0:
                raise InputError(f"{name}: label {lowest + (1 << 64)} is too large to be a class id")
        return self._tally_wide(labels, bounds)

    def _tally_bytes(self, labels: Any, dtype_name: str) -> Tally:
        """Byte labels: the aligned middle four to a word, the ends label by label."""
        table = self._zeros(256)
        outside = self._zeros(1)
        head = min(labels.size, -Layout.of(labels).address % 4)
        words = (labels.size - head) // 4
        for part in (labels[:head], labels[head + 4 * words :]):
            if part.size:
                self.kernels.ranged_shared[self._grid(part.size)](part, 0, 256, 0, 0, table, outside)
        for start in range(0, words, self.kernels.LABELS_PER_LAUNCH // 4):
            stop = min(words, start + self.kernels.LABELS_PER_LAUNCH // 4)
            body = labels[head + 4 * start : head + 4 * stop].view(np.uint32)
            self.kernels.byte_words[self._grid(body.size)](body, table)
        counts = table.copy_to_host()
        held = np.flatnonzero(counts)
        values = _BYTE_VALUES[dtype_name][held]
        order = np.argsort(values)
        return Tally(values[order], counts[held][order])

    def _tally_wide(self, labels: Any, bounds: Bounds, skip: tuple[int, int] = (0, 0)) -> Tally:
        """Labels wider than a byte: a table over the known bounds, or over a range guessed from a
        sample (labels outside either tallied again, exactly), or over the labels' own range."""
        if skip == (0, 0):
            guess = clipped_bounds(bounds, labels.dtype)
            if guess is None and labels.size >= SAMPLED_RANGE_MIN_LABELS:
                guess = self._sampled_range(labels)
            if guess is not None and 0 < guess[1] - guess[0] <= DENSE_TABLE_LIMIT:
                counted, missed = self._count_range(labels, *guess, skip)
                if not missed:
                    return counted
                return merge_all([counted, self._tally_wide(labels, None, guess)])
        lowest, highest = self._min_max(labels, *skip)
        if lowest > highest:  # every label was in the skipped range
            return EMPTY
        span = highest - lowest + 1
        if span > MAX_WINDOWS * DENSE_TABLE_LIMIT:
            return self._tally_on_host(labels, skip)
        parts = []
        for start in range(lowest, highest + 1, DENSE_TABLE_LIMIT):
            counted, _ = self._count_range(labels, start, min(highest + 1, start + DENSE_TABLE_LIMIT), skip)
            parts.append(counted)
        return merge_all(parts)

    def _sampled_range(self, labels: Any) -> tuple[int, int]:
        """A table range likely to hold every label, from a sample (as on the CPU): one pass over
        the labels instead of a min/max pass and a counting pass."""
        step = max(1, labels.size // RANGE_SAMPLE)
        strided = labels[::step]
        sample = self.cuda.device_array(strided.size, dtype=labels.dtype)
        self.kernels.gather_1d[self._grid(strided.size)](strided, sample)
        info = np.iinfo(labels.dtype)
        return _sampled_range(sample.copy_to_host(), int(info.min), int(info.max) + 1)

    def _count_range(self, labels: Any, lo: int, hi: int, skip: tuple[int, int]) -> tuple[Tally, int]:
        """The tally of the labels in [lo, hi) (not in `skip`), and how many fell outside it."""
        table = self._zeros(hi - lo)
        outside = self._zeros(1)
        self._launch_range(labels, lo, hi, skip, table, outside, 0)
        counts = table.copy_to_host()
        missed = int(outside.copy_to_host()[0])
        held = np.flatnonzero(counts)
        return Tally(held.astype(np.int64) + lo, counts[held]), missed

    def _launch_range(
        self, labels: Any, lo: int, hi: int, skip: tuple[int, int], table: Any, outside: Any, stream: Any
    ) -> None:
        bins = hi - lo
        kernel = self.kernels.ranged_shared if bins <= self.kernels.SHARED_BINS else self.kernels.ranged_global
        for start in range(0, labels.size, self.kernels.LABELS_PER_LAUNCH):
            part = labels[start : start + self.kernels.LABELS_PER_LAUNCH]
            kernel[self._grid(part.size, stream)](part, lo, bins, skip[0], skip[1], table, outside)

    def _min_max(self, labels: Any, skip_lo: int, skip_hi: int) -> tuple[int, int]:
        found = self.cuda.to_device(np.array([_INT64_MAX, _INT64_MIN], np.int64))
        for start in range(0, labels.size, self.kernels.LABELS_PER_LAUNCH):
            part = labels[start : start + self.kernels.LABELS_PER_LAUNCH]
            self.kernels.min_max[self._grid(part.size)](part, skip_lo, skip_hi, found)
        lowest, highest = found.copy_to_host().tolist()
        return int(lowest), int(highest)

    def _tally_on_host(self, labels: Any, skip: tuple[int, int]) -> Tally:
        """Labels spread too widely for tables on the device: the host's sparse kernel, a piece at a time."""
        step = max(1, PIECE_BYTES // labels.dtype.itemsize)
        parts = []
        for start in range(0, labels.size, step):
            host = labels[start : start + step].copy_to_host()
            parts.append(_without(_exact(host, 1), skip))
        return merge_all(parts)

    def _tally_floats(self, name: str, labels: Any, bounds: Bounds) -> Tally:
        """Float labels: counted as int64 when every one is integral, as on the CPU; refused otherwise."""
        parts = []
        step = max(1, GATHER_BYTES // 8)
        for start in range(0, labels.size, step):
            part = labels[start : start + step]
            converted = self.cuda.device_array(part.size, np.int64)
            first_bad = self.cuda.to_device(np.full(3, part.size, np.int64))
            self.kernels.floats_to_int64[self._grid(part.size)](part, converted, first_bad)
            bad = first_bad.copy_to_host()
            for problem, index in zip(("non-finite", "out-of-range", "non-integral"), bad.tolist()):
                if index < part.size:
                    value = float(part[index : index + 1].copy_to_host()[0])
                    if problem == "out-of-range":
                        raise InputError(f"{name}: float label out of the int64 range")
                    raise InputError(
                        f"{name}: float labels with {problem} value {value}; "
                        "this looks like an intensity image, not a mask"
                    )
            parts.append(self._tally_wide(converted, bounds))
        warnings.warn(f"{name}: float labels, all integral: counted as integers", UserWarning, stacklevel=2)
        return merge_all(parts)

    # ---- host arrays, streamed --------------------------------------------------------------------

    def tally_host(self, name: str, chunks: Iterable[np.ndarray], bounds: Bounds, threads: int) -> Tally:
        """The exact tally of one image given as host chunks (C-contiguous integer arrays, as
        `countable` makes them), streamed through the staging buffers, which `threads` CPU threads
        fill (at most COPY_THREADS)."""
        with self._device():
            stream = _HostStream(self, min(COPY_THREADS, threads))
            parts = []
            for chunk in chunks:
                parts.extend(stream.add(chunk, bounds))
            parts.extend(stream.finish())
            return merge_all(parts)

    def slots(self) -> list[_Slot]:
        if self._slots is None:
            self._slots = [_Slot(self.cuda) for _ in range(SLOTS)]
        return self._slots


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
