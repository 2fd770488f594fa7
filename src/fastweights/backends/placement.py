"""Where a count's arrays are counted: `count(..., device=...)`.

- None (the default): host data on the CPU; device arrays (CuPy, PyTorch CUDA tensors) on their GPU.
- "cpu": everything on the CPU; a device array is refused (copy it to the host first).
- "cuda": arrays and the arrays readers make of files on the GPU (a PNG's labels are counted by
  its decoder, on the CPU threads, as it decodes). No usable GPU is an error saying why.
- "auto": "cuda" when a GPU is usable, else the CPU.

A `Placement` is the `fastweights.io.device.Device` of a count: the backend sets it around the
count (`fastweights.io.device.placed`), and the readers and device-array inputs reach the GPU
through it. The GPU module is imported only when a count needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base._optional import MissingDependency
from ..base.errors import DeviceUnavailable
from ..engine.settings import DeviceChoice
from ..io.images import Bounds, Image
from ..kernels._tally import Tally

if TYPE_CHECKING:
    from .cuda import GpuCounter

__all__ = ["Placement"]


class Placement:
    """`device`: as checked by `Settings`; `threads`: the CPU threads that fill the GPU's staging
    buffers from host memory."""

    def __init__(self, device: DeviceChoice, threads: int) -> None:
        self.asked = device
        self.threads = threads
        self._gpus: dict[int | None, GpuCounter] = {}  # by device ordinal (None: the current device)
        self._lock = threading.Lock()
        self.host_on_gpu = False
        if device == "cuda":
            self.gpu("device='cuda'")
            self.host_on_gpu = True
        elif device == "auto":
            try:
                self.gpu("device='auto'")
                self.host_on_gpu = True
            except (DeviceUnavailable, MissingDependency):  # no usable GPU: the CPU counts
                pass

    def gpu(self, who: str, ordinal: int | None = None) -> GpuCounter:
        """The counter of GPU `ordinal` (default: the current device), opened on first use."""
        if self.asked == "cpu":
            raise TypeError(
                f"{who}: a CUDA device array, and device='cpu': count it on its GPU with device='cuda' "
                "(or the default, device=None), or copy it to the host first"
            )
        with self._lock:
            counter = self._gpus.get(ordinal)
            if counter is None:
                from .cuda import open_counter

                counter = self._gpus[ordinal] = open_counter(ordinal)
            return counter

    def tally_host(self, name: str, chunks: Iterable[np.ndarray], bounds: Bounds) -> Tally:
        return self.gpu(name).tally_host(name, chunks, bounds, self.threads)

    def device_images(self, name: str, array: Any, stack_axis: int | None) -> Iterator[Image]:
        return self.gpu(name, _device_ordinal(array)).device_images(name, array, stack_axis)

    @property
    def used(self) -> str:
        """What counted the arrays: "cpu", or the GPUs ("cuda:0 (NVIDIA H100 ...)")."""
        names = sorted({counter.name for counter in self._gpus.values()})
        return ", ".join(names) if names else "cpu"


def _device_ordinal(array: Any) -> int | None:
    """The GPU a device array lives on, where it says (PyTorch: device.index, CuPy: device.id);
    None for the current device."""
    device = getattr(array, "device", None)
    for attribute in ("index", "id"):
        ordinal = getattr(device, attribute, None)
        if isinstance(ordinal, int) and not isinstance(ordinal, bool):
            return ordinal
    return None
