"""Finding and opening a GPU: numba-cuda imported (only here, and only when a count asks for a
GPU), why none is usable when none is, and one `GpuCounter` per device and process."""

from __future__ import annotations

import threading
from typing import Any

from ...base._optional import MissingDependency
from ...base.errors import DeviceUnavailable
from .counter import GpuCounter

__all__ = ["open_counter", "unusable_reason"]

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
