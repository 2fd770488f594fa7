"""`show_config()`: what this build of fastweights runs with."""

from __future__ import annotations

import platform
from typing import Any

__all__ = ["config", "show_config"]


def config() -> dict[str, Any]:
    from . import _core
    from ._version import __version__
    from .engine import default_threads

    return {
        "version": __version__,
        "kernel": "portable C++17 (replicated uint32 sub-histograms)",
        "openmp": bool(_core.openmp_enabled()),
        "threads": default_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def show_config() -> dict[str, Any]:
    """Prints the build and run-time configuration, and returns it as a dict."""
    settings = config()
    for key, value in settings.items():
        print(f"{key:>8}: {value}")
    return settings
