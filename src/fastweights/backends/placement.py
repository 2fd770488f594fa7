"""Where a count's arrays are counted: `count(..., device=...)`.

- None (the default): host data on the CPU; device arrays (CuPy, PyTorch CUDA tensors) on their GPU.
- "cpu": everything on the CPU; a device array is refused (copy it to the host first).
- "cuda": arrays and the arrays readers make of files on the GPU (a PNG's labels are counted by
  its decoder, on the CPU threads, as it decodes). No usable GPU is an error saying why.
- "auto": "cuda" when a GPU is usable, else the CPU.

The engine sets the placement of the running count in a context variable that `tally_chunks` and
the device-array inputs read; the GPU module is imported only when a count needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from ..base._optional import MissingDependency
from ..base.errors import DeviceUnavailable

if TYPE_CHECKING:
    from .cuda import GpuCounter

__all__ = ["DEVICES", "Placement", "current", "placed"]

DEVICES = (None, "cpu", "cuda", "auto")


class Placement:
    def __init__(self, device: str | None) -> None:
        if device not in DEVICES:
            raise ValueError(f"device={device!r}: expected 'cpu', 'cuda', 'auto' or None")
        self.asked = device
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

    @property
    def used(self) -> str:
        """What counted the arrays: "cpu", or the GPUs ("cuda:0 (NVIDIA H100 ...)")."""
        names = sorted({counter.name for counter in self._gpus.values()})
        return ", ".join(names) if names else "cpu"


_current: ContextVar[Placement | None] = ContextVar("fastweights_placement", default=None)


def current() -> Placement | None:
    """The placement of the count running in this thread (None outside a count: the CPU)."""
    return _current.get()


@contextmanager
def placed(placement: Placement) -> Iterator[None]:
    token = _current.set(placement)
    try:
        yield
    finally:
        _current.reset(token)
