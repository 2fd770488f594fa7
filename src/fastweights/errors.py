"""`fastweights.errors`, the public path of `fastweights.base.errors` (documented there)."""

from __future__ import annotations

from .base.errors import DeviceUnavailable, InputError, Interrupted

__all__ = ["DeviceUnavailable", "InputError", "Interrupted"]
