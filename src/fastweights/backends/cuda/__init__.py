"""Counting on an NVIDIA GPU with numba-cuda: `count(..., device="cuda")`.

Two kinds of input reach the GPU:
- device arrays (CuPy arrays, PyTorch CUDA tensors, numba device arrays: anything with
  `__cuda_array_interface__`), counted where they are, without a copy;
- host arrays and the arrays readers make of files (memory-mapped .npy, raw, TIFF, NIfTI, HDF5...),
  streamed through pinned staging buffers on several CUDA streams, so that filling one buffer,
  copying another to the device and counting a third overlap.

The result of every image is the same exact `Tally` the CPU kernel gives, so everything downstream
(classification, per-image presence, the Counts) is shared with the CPU path. numba is imported
when a counter is opened (`device`), and `fastweights` imports this package only when a count asks
for the GPU. `counter` counts device arrays, `stream` streams host arrays, `kernels` are numba's.
"""

from __future__ import annotations

from .counter import GpuCounter
from .device import open_counter, unusable_reason
from .stream import COPY_THREADS

__all__ = ["COPY_THREADS", "GpuCounter", "open_counter", "unusable_reason"]
