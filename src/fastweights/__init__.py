"""fastweights: exact, fast per-class pixel counts of segmentation masks, and class weights."""

from __future__ import annotations

from .api.config import show_config
from .base._version import __version__
from .engine.run import count
from .io.readers import raw
from .model.counts import Counts
from .model.weights import SCHEMES

__all__ = ["SCHEMES", "Counts", "__version__", "count", "raw", "show_config"]
