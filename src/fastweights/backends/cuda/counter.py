"""`GpuCounter`: counts label arrays on one GPU: device arrays where they lie (without a copy,
gathered a slab at a time when strided), host arrays streamed through `stream`. numba's kernels
are in `kernels`; finding and opening a GPU is `device`'s job."""

from __future__ import annotations

import ctypes
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ...base.errors import InputError
from ...io._device_layout import Layout
from ...io.images import Bounds, Image, check_stack_axis
from ...kernels._tally import (
    DENSE_TABLE_LIMIT,
    EMPTY,
    RANGE_SAMPLE,
    SAMPLED_RANGE_MIN_LABELS,
    Tally,
    _exact,
    _sampled_range,
    clipped_bounds,
    merge_all,
)
from .stream import _BYTE_VALUES, COPY_THREADS, PIECE_BYTES, SLOTS, _HostStream, _Slot, _without

__all__ = ["GpuCounter"]

# Label ranges wider than DENSE_TABLE_LIMIT are counted in windows of that many labels, one pass
# each, up to this many passes; wider still, the labels go to the host's sparse kernel.
MAX_WINDOWS = 16
# numba warns about launches of fewer blocks than this.
LOW_OCCUPANCY_BLOCKS = 128
# Device arrays that are not one dense block are gathered into buffers of this many bytes.
GATHER_BYTES = 64 << 20

_INT64_MIN = int(np.iinfo(np.int64).min)
_INT64_MAX = int(np.iinfo(np.int64).max)


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

        from . import kernels as _cuda_kernels

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
