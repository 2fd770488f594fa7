"""fastweights: exact, fast per-class pixel counts of segmentation masks, and class weights."""

from __future__ import annotations

# The public modules a plain `import fastweights` has always made reachable as attributes.
from . import errors, per_image, progress  # noqa: F401
from .api.config import show_config
from .api.count import count
from .base._version import __version__
from .io.coco import coco_category_names, coco_instances, coco_panoptic
from .io.readers import raw
from .model.counts import Counts
from .model.weights import SCHEMES

__all__ = [
    "SCHEMES",
    "Counts",
    "__version__",
    "coco_category_names",
    "coco_instances",
    "coco_panoptic",
    "count",
    "raw",
    "show_config",
]
