"""`fastweights.progress`, the public path of `fastweights.engine.progress` (documented there)."""

from __future__ import annotations

from .engine.progress import Progress, ProgressSpec

__all__ = ["Progress", "ProgressSpec"]
