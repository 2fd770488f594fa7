"""`fastweights.per_image`, the public path of `fastweights.model.per_image` (documented there)."""

from __future__ import annotations

from .model.per_image import PerImageTable

__all__ = ["PerImageTable"]
