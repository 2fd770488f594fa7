"""The device the running count hands arrays to, as this floor sees it: a context variable that the
backend counting sets around a count (`placed`), read where arrays are tallied (`tally_chunks`) and
where device arrays become images. This floor knows no GPU code: a `Device` is anything with these
three members (`fastweights.backends.placement.Placement` is the one the backends make).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from ..kernels._tally import Tally
    from .images import Image

__all__ = ["Device", "current", "placed"]


class Device(Protocol):
    @property
    def host_on_gpu(self) -> bool:
        """Whether host arrays (and the arrays read from files) are counted on a GPU."""

    def tally_host(self, name: str, chunks: Iterable[np.ndarray], bounds: tuple[int, int] | None) -> Tally:
        """The exact tally of one image given as host chunks, counted on the GPU."""

    def device_images(self, name: str, array: Any, stack_axis: int | None) -> Iterator[Image]:
        """The images of a CUDA device array, counted on its GPU."""


_current: ContextVar[Device | None] = ContextVar("fastweights_device", default=None)


def current() -> Device | None:
    """The device of the count running in this thread (None outside a count)."""
    return _current.get()


@contextmanager
def placed(device: Device) -> Iterator[None]:
    token = _current.set(device)
    try:
        yield
    finally:
        _current.reset(token)
