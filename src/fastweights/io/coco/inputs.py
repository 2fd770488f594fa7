"""What count() takes of COCO annotations: one input per image (a panoptic PNG with its segments,
an image's instance annotations to paint), and the files the annotations and the folder disagree about."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...base._optional import require
from ...base.errors import InputError
from ...kernels._tally import Tally
from ..colormaps import colour_tally
from ..images import Bounds, Image, ReadOptions, array_image
from ..readers.png import decode_png
from .fields import shown
from .masks import check_runs, compressed_runs, polygon_mask, uncompressed_runs

# ---- what count() takes ------------------------------------------------------------------------


@dataclass(frozen=True)
class RefusedInput:
    """A file the annotations and the folder disagree about: an InputError when counted, so that
    on_error="skip" lists it and counts the rest."""

    name: str
    reason: str
    nbytes: int = 0

    def images(self, options: ReadOptions) -> Iterator[Image]:
        raise InputError(f"{self.name}: {self.reason}")


@dataclass(frozen=True)
class PanopticImage:
    """One COCO-panoptic PNG and the category of each of its segment ids."""

    path: str
    annotations: str  # the JSON, named in messages
    height: int
    width: int
    segments: np.ndarray = field(repr=False)  # int64 segment ids, ascending
    categories: np.ndarray = field(repr=False)  # int64 category id of each
    nbytes: int = 0

    @property
    def name(self) -> str:
        return self.path

    def images(self, options: ReadOptions) -> Iterator[Image]:
        check_not_stacked(options)
        yield Image(self.path, self._tally)

    def _tally(self, bounds: Bounds, threads: int) -> Tally:
        rgb = decode_png(self.path)
        if rgb.ndim != 3 or rgb.dtype != np.uint8:
            kind = "16-bit colour" if rgb.ndim == 3 else "gray or palette"
            raise InputError(
                f"{self.path}: a {kind} PNG; a COCO panoptic PNG is 8-bit RGB (segment id = R + 256 G + 256² B)"
            )
        if rgb.shape[:2] != (self.height, self.width):
            raise InputError(
                f"{self.path}: {rgb.shape[1]} x {rgb.shape[0]} pixels, but {self.annotations} gives its image "
                f"as {self.width} x {self.height}"
            )
        colours = colour_tally(rgb, threads)
        packed = colours.values  # 0xRRGGBB
        segment = (packed >> 16) | (packed & 0xFF00) | ((packed & 0xFF) << 16)
        void = segment == 0
        slot = np.minimum(np.searchsorted(self.segments, segment), max(self.segments.size - 1, 0))
        known = self.segments[slot] == segment if self.segments.size else np.zeros(segment.size, bool)
        unknown = ~known & ~void
        if unknown.any():
            ids = np.sort(segment[unknown])
            shown = ", ".join(str(int(i)) for i in ids[:5]) + (" ..." if ids.size > 5 else "")
            raise InputError(
                f"{self.path}: {ids.size} segment id(s) not in its segments_info in {self.annotations}: {shown} "
                f"({int(colours.counts[unknown].sum(dtype=np.uint64))} pixels)"
            )
        classes, slots = np.unique(self.categories[slot[known]], return_inverse=True)
        counts = np.zeros(classes.size, np.uint64)
        np.add.at(counts, slots, colours.counts[known])
        return Tally(classes.astype(np.int64), counts, colours.ignored + int(colours.counts[void].sum(dtype=np.uint64)))


@dataclass(frozen=True)
class Annotation:
    where: str  # "annotations[12] (id 345)", for messages
    category: int
    segmentation: Any  # as the JSON holds it: a list of polygons, or an RLE object


@dataclass(frozen=True)
class InstanceImage:
    """One image of a COCO instance / stuff JSON: its annotations, painted in the JSON's order."""

    annotations: str  # the JSON
    file_name: str
    height: int
    width: int
    painted: tuple[Annotation, ...] = field(repr=False)
    dtype: str = "uint8"  # the label map's: wide enough for every category id of the JSON

    @property
    def name(self) -> str:
        return self.file_name

    @property
    def nbytes(self) -> int:
        return self.height * self.width * np.dtype(self.dtype).itemsize

    def images(self, options: ReadOptions) -> Iterator[Image]:
        check_not_stacked(options)
        yield Image(self.file_name, self._tally)

    def _tally(self, bounds: Bounds, threads: int) -> Tally:
        labels = np.zeros(self.height * self.width, self.dtype)  # column-major, as COCO's RLE runs are
        for annotation in self.painted:
            runs = self._runs(annotation)
            labels[np.repeat(np.arange(runs.size) % 2 == 1, runs)] = annotation.category
        counted = array_image(self.file_name, labels).tally(bounds, threads)
        if counted.values.size and counted.values[0] == 0:  # unannotated
            return Tally(counted.values[1:], counted.counts[1:], counted.ignored + int(counted.counts[0]))
        return counted

    def _runs(self, annotation: Annotation) -> np.ndarray:
        """The annotation's mask as RLE run lengths (column-major, from a run of 0s), checked to cover
        the image exactly. pycocotools rasterizes the polygons; RLE is read here, since pycocotools
        checks none of it (its decoder writes past its buffer on runs that overshoot)."""
        h, w = self.height, self.width
        segmentation = annotation.segmentation
        try:
            if isinstance(segmentation, list):
                polygons = [polygon_mask(polygon, k, h, w) for k, polygon in enumerate(segmentation)]
                # Fewer than 3 points cover no pixel (pycocotools' frPoly gives none), and a first
                # polygon of 4 numbers would make frPyObjects read the list as boxes.
                polygons = [polygon for polygon in polygons if polygon.size >= 6]
                if not polygons:
                    return np.array([h * w])
                mask_api = require("pycocotools.mask", "coco", "rasterizing COCO polygons")
                runs = compressed_runs(mask_api.merge(mask_api.frPyObjects(polygons, h, w))["counts"])
                kind = "rasterized polygon"
            else:
                size = segmentation["size"]
                if not (isinstance(size, list) and [type(v) for v in size] == [int, int] and size == [h, w]):
                    raise ValueError(f"RLE size {shown(size)} is not the image's [height, width] [{h}, {w}]")
                counts = segmentation["counts"]
                if isinstance(counts, str):
                    if not counts.isascii():
                        raise ValueError("compressed RLE counts hold a character outside '0'..'o'")
                    runs, kind = compressed_runs(counts.encode("ascii")), "compressed RLE"
                else:
                    runs, kind = uncompressed_runs(counts), "uncompressed RLE"
            check_runs(runs, h * w, kind)
        except ValueError as problem:
            raise InputError(
                f"{self.file_name}: {self.annotations}: {annotation.where}.segmentation: {problem}"
            ) from None
        return runs


def check_not_stacked(options: ReadOptions) -> None:
    if options.stack_axis is not None:
        raise ValueError(f"stack_axis={options.stack_axis}: COCO images are counted whole; leave stack_axis out")
