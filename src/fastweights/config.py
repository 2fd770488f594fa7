"""`show_config()`: what this build of fastweights runs with."""

from __future__ import annotations

import platform
from typing import Any

__all__ = ["config", "show_config"]


def config() -> dict[str, Any]:
    from . import _core
    from ._version import __version__
    from .engine import default_threads
    from .kernels import active_kernel, apply_environment, available_kernels

    apply_environment()

    return {
        "version": __version__,
        "kernel": f"{active_kernel()} (run-aware; available: {', '.join(available_kernels())})",
        "cpu features": ", ".join(name for name, found in _core.cpu_features().items() if found) or "baseline",
        "openmp": bool(_core.openmp_enabled()),
        "threads": default_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def show_config() -> dict[str, Any]:
    """Prints the build and run-time configuration, and returns it as a dict."""
    settings = config()
    for key, value in settings.items():
        print(f"{key:>12}: {value}")
    return settings
