"""`fastweights.export`, the public path of `fastweights.api.export` (documented there)."""

from __future__ import annotations

from .api.export import *  # noqa: F403  (the public path re-exports the whole module)
from .api.export import __all__ as __all__
