"""Optional dependencies, imported only when a feature needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingDependency", "require"]


class MissingDependency(ImportError):
    """An optional dependency is not installed: the message gives the pip command that installs it."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Imports `module`, or raises MissingDependency naming `pip install "fastweights[extra]"`."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependency(
            f"{purpose} needs the Python package {module.split('.')[0]!r}, which is not installed: "
            f'pip install "fastweights[{extra}]"'
        ) from error
