"""`fastweights.mpi`, the public path of `fastweights.backends.mpi` (documented there)."""

from __future__ import annotations

from .backends.mpi import count

__all__ = ["count"]
