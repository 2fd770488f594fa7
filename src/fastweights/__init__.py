"""fastweights: exact, fast per-class pixel counts of segmentation masks, and class weights."""

from __future__ import annotations

from ._version import __version__
from .config import show_config
from .counts import Counts
from .engine import count
from .readers import raw
from .weights import SCHEMES

__all__ = ["SCHEMES", "Counts", "__version__", "count", "raw", "show_config"]
