"""COCO annotations as inputs, counted by category id: COCO-panoptic PNGs with their JSON, and COCO
instance / stuff JSON (polygons and RLE).

Panoptic: a PNG's colours are segment ids (R + 256 G + 256² B). The PNG is tallied by colour (the
packing is the only pass over its pixels), then that tally is folded into category counts through
the image's `segments_info`. Segment id 0 is void: its pixels are ignored pixels.

Instances / stuff: an image's annotations (polygons rasterized by pycocotools, RLE read here) are
painted at the image's height x width in the JSON's order, a later annotation over an earlier one,
as COCO-stuff's `cocoSegmentationToSegmentationMap` does (cocostuffapi, with its overlap check off).
Pixels that no annotation covers (COCO-stuff's label 0, "unlabeled") are ignored pixels.

The JSON's structure is checked when the input is described (a wrong one names the file and the
place); the pixels of each image when it is counted, so that on_error="skip" leaves out only the
images that are wrong.
"""

from .inputs import InstanceImage, PanopticImage, RefusedInput
from .sets import CocoInstances, CocoPanoptic, CocoSet, coco_category_names, coco_instances, coco_panoptic, names_by_id

__all__ = [
    "CocoInstances",
    "CocoPanoptic",
    "CocoSet",
    "InstanceImage",
    "PanopticImage",
    "RefusedInput",
    "coco_category_names",
    "coco_instances",
    "coco_panoptic",
    "names_by_id",
]
