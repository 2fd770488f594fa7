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

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from ..base._optional import require
from ..base.errors import InputError
from ..kernels._tally import Tally
from .colormaps import colour_tally
from .images import Bounds, Image, ReadOptions, array_image
from .readers.png import MAX_PIXELS, decode_png

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

# Category ids become class ids: the engine's limit on those (engine.settings.MAX_CLASSES).
MAX_CATEGORY_ID = (1 << 24) - 1
# A panoptic segment id is a 24-bit colour.
MAX_SEGMENT_ID = (1 << 24) - 1
MAX_IMAGE_ID = (1 << 63) - 1
# Characters of one compressed RLE number: 35 bits hold any run (and difference of runs) of an image
# of MAX_PIXELS.
MAX_RLE_DIGITS = 7


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
        _check_not_stacked(options)
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
class _Annotation:
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
    painted: tuple[_Annotation, ...] = field(repr=False)
    dtype: str = "uint8"  # the label map's: wide enough for every category id of the JSON

    @property
    def name(self) -> str:
        return self.file_name

    @property
    def nbytes(self) -> int:
        return self.height * self.width * np.dtype(self.dtype).itemsize

    def images(self, options: ReadOptions) -> Iterator[Image]:
        _check_not_stacked(options)
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

    def _runs(self, annotation: _Annotation) -> np.ndarray:
        """The annotation's mask as RLE run lengths (column-major, from a run of 0s), checked to cover
        the image exactly. pycocotools rasterizes the polygons; RLE is read here, since pycocotools
        checks none of it (its decoder writes past its buffer on runs that overshoot)."""
        h, w = self.height, self.width
        segmentation = annotation.segmentation
        try:
            if isinstance(segmentation, list):
                polygons = [_polygon(polygon, k, h, w) for k, polygon in enumerate(segmentation)]
                # Fewer than 3 points cover no pixel (pycocotools' frPoly gives none), and a first
                # polygon of 4 numbers would make frPyObjects read the list as boxes.
                polygons = [polygon for polygon in polygons if polygon.size >= 6]
                if not polygons:
                    return np.array([h * w])
                mask_api = require("pycocotools.mask", "coco", "rasterizing COCO polygons")
                runs = _compressed_runs(mask_api.merge(mask_api.frPyObjects(polygons, h, w))["counts"])
                kind = "rasterized polygon"
            else:
                size = segmentation["size"]
                if not (isinstance(size, list) and [type(v) for v in size] == [int, int] and size == [h, w]):
                    raise ValueError(f"RLE size {_shown(size)} is not the image's [height, width] [{h}, {w}]")
                counts = segmentation["counts"]
                if isinstance(counts, str):
                    if not counts.isascii():
                        raise ValueError("compressed RLE counts hold a character outside '0'..'o'")
                    runs, kind = _compressed_runs(counts.encode("ascii")), "compressed RLE"
                else:
                    runs, kind = _uncompressed_runs(counts), "uncompressed RLE"
            _check_runs(runs, h * w, kind)
        except ValueError as problem:
            raise InputError(
                f"{self.file_name}: {self.annotations}: {annotation.where}.segmentation: {problem}"
            ) from None
        return runs


def _polygon(polygon: Any, position: int, height: int, width: int) -> np.ndarray:
    try:
        coordinates = np.asarray(polygon) if isinstance(polygon, list) else np.empty((0, 0))
    except (OverflowError, ValueError):  # ragged, or an integer wider than 64 bits
        coordinates = np.empty((0, 0))
    if coordinates.ndim != 1 or (coordinates.size and coordinates.dtype.kind not in "iuf"):
        raise ValueError(f"polygon {position} is not a flat list of numbers [x1, y1, x2, y2, ...]")
    if coordinates.size % 2:
        raise ValueError(f"polygon {position} has an odd number of coordinates ({coordinates.size})")
    points = coordinates.astype(np.float64).reshape(-1, 2)
    # pycocotools walks the outline pixel by pixel (5x finer) with int coordinates: a point far
    # outside the image would cost memory without bound, and one past int's range is undefined.
    limits = np.array([width, height], np.float64)
    if not (np.isfinite(points).all() and (points >= -limits).all() and (points <= 2 * limits).all()):
        raise ValueError(
            f"polygon {position} has a point that is not a number within one image size of the image "
            f"(x from {-width} to {2 * width}, y from {-height} to {2 * height})"
        )
    return points.ravel()


def _uncompressed_runs(counts: Any) -> np.ndarray:
    try:
        runs = np.asarray(counts)
    except (OverflowError, ValueError):
        runs = np.empty((0, 0))
    if runs.ndim != 1 or (runs.size and runs.dtype.kind not in "iu"):
        raise ValueError("uncompressed RLE counts are not a list of integers")
    return runs.astype(np.int64)


def _compressed_runs(text: bytes) -> np.ndarray:
    """The run lengths a compressed RLE string holds, decoded as pycocotools' rleFrString does
    (5 bits a character from '0', 0x20 continues a number, 0x10 on its last character makes it
    negative, each run from the third on stored as the difference to the run two before it)."""
    codes = np.frombuffer(text, np.uint8).astype(np.int64) - 48
    if codes.size == 0:
        return codes
    if codes.min() < 0 or codes.max() > 63:
        raise ValueError("compressed RLE counts hold a character outside '0'..'o'")
    more = (codes & 0x20) != 0
    if more[-1]:
        raise ValueError("compressed RLE counts end inside a number")
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > MAX_RLE_DIGITS:
        raise ValueError(f"compressed RLE counts hold a number of more than {MAX_RLE_DIGITS} characters")
    digit = np.arange(codes.size) - np.repeat(starts, lengths)
    values = np.add.reduceat((codes & 0x1F) << (5 * digit), starts)
    negative = (codes[ends] & 0x10) != 0
    values[negative] |= np.left_shift(-1, 5 * lengths[negative])
    runs: np.ndarray = values.copy()
    runs[1::2] = np.cumsum(values[1::2])
    runs[2::2] = np.cumsum(values[2::2])
    return runs


def _check_runs(runs: np.ndarray, pixels: int, kind: str) -> None:
    if runs.size and (runs.min() < 0 or runs.max() > pixels):
        raise ValueError(f"{kind} holds a run of {int(runs.min() if runs.min() < 0 else runs.max())} pixels")
    total = int(runs.sum())
    if total != pixels:
        raise ValueError(f"{kind} runs add up to {total} pixels, not the image's {pixels}")


def _check_not_stacked(options: ReadOptions) -> None:
    if options.stack_axis is not None:
        raise ValueError(f"stack_axis={options.stack_axis}: COCO images are counted whole; leave stack_axis out")


# ---- the annotation sets -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """An image of the JSON's "images"."""

    id: int
    file_name: str
    height: int
    width: int


@dataclass(frozen=True)
class _PanopticEntry:
    file_name: str  # the PNG, relative to the folder
    height: int
    width: int
    segments: np.ndarray
    categories: np.ndarray


@dataclass(frozen=True)
class CocoPanoptic:
    """COCO-panoptic annotations (`fastweights.coco_panoptic`): one input per image, in the JSON's
    image order, then any PNG of the folder the JSON does not list (refused when counted)."""

    annotations: str
    png_folder: str
    categories: dict[int, str] = field(repr=False)
    entries: tuple[_PanopticEntry, ...] = field(repr=False)

    @property
    def category_names(self) -> list[str]:
        return names_by_id(self.categories)

    def inputs(self) -> Iterator[PanopticImage | RefusedInput]:
        listed = set()
        for entry in self.entries:
            path = os.path.join(self.png_folder, entry.file_name)
            listed.add(os.path.normpath(path))
            try:
                info = os.stat(path)
            except FileNotFoundError:
                yield RefusedInput(path, f"listed in {self.annotations}, and missing")
                continue
            if not os.path.isfile(path):
                yield RefusedInput(path, f"listed in {self.annotations}, and not a regular file")
                continue
            yield PanopticImage(
                path, self.annotations, entry.height, entry.width, entry.segments, entry.categories, info.st_size
            )
        with os.scandir(self.png_folder) as found:
            names = sorted(entry.name for entry in found if not entry.name.startswith("."))
        for name in names:
            path = os.path.join(self.png_folder, name)
            if name.lower().endswith(".png") and os.path.normpath(path) not in listed:
                yield RefusedInput(
                    path, f"a PNG that {self.annotations} does not list, so its segment ids have no categories"
                )


@dataclass(frozen=True)
class CocoInstances:
    """COCO instance or stuff annotations (`fastweights.coco_instances`): one input per image of
    the JSON's "images", in its order; an image with no annotation counts as all unannotated."""

    annotations: str
    categories: dict[int, str] = field(repr=False)
    images: tuple[InstanceImage, ...] = field(repr=False)

    @property
    def category_names(self) -> list[str]:
        return names_by_id(self.categories)

    def inputs(self) -> Iterator[InstanceImage]:
        return iter(self.images)


CocoSet = Union[CocoPanoptic, CocoInstances]


def coco_panoptic(annotations: str | os.PathLike[str], png_folder: str | os.PathLike[str]) -> CocoPanoptic:
    """Describes COCO-panoptic annotations for `fastweights.count`: the PNGs of `png_folder`, counted
    by the category id of each segment.

    Each PNG is an input named by its path, in the order of the JSON's "images"; segment id 0
    (void) counts as ignored pixels.

    Parameters
    ----------
    annotations : str or os.PathLike
        The panoptic JSON (panoptic_val2017.json): "images", "annotations" (file_name, image_id,
        segments_info [{id, category_id}]) and "categories".
    png_folder : str or os.PathLike
        The folder of the PNGs the annotations' file_name values name.

    Returns
    -------
    CocoPanoptic
        What `fastweights.count` takes as an input (alone or in a list with others).

    Raises
    ------
    FileNotFoundError
        No JSON at `annotations`, or no folder at `png_folder`.
    fastweights.errors.InputError
        The JSON is not COCO-panoptic annotations: the message names the file and the place. A PNG
        that is missing, that the JSON does not list, or that holds a segment id its segments_info
        does not list is refused when counted (on_error="skip" leaves it out).
    """
    path = os.fspath(annotations)
    folder = os.fspath(png_folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder (png_folder of the COCO panoptic annotations {path})")
    data = _load(path)
    categories = _categories(path, data)
    images = _images(path, data)
    slot_of = {image.id: slot for slot, image in enumerate(images)}
    found: list[_PanopticEntry | None] = [None] * len(images)
    pngs: dict[str, str] = {}
    for position, annotation in enumerate(_list(path, data, "annotations", "")):
        where = f"annotations[{position}]"
        image_id = _int(path, annotation, "image_id", where, 0, MAX_IMAGE_ID)
        slot = slot_of.get(image_id)
        if slot is None:
            raise InputError(f"{path}: {where}: image_id {image_id} is not among the images")
        if found[slot] is not None:
            raise InputError(f"{path}: {where}: a second annotation of image_id {image_id}")
        file_name = _str(path, annotation, "file_name", where)
        if os.path.isabs(file_name) or os.path.normpath(file_name).startswith(".."):
            raise InputError(f"{path}: {where}.file_name: {file_name!r} is not a name inside the PNG folder")
        png = os.path.normpath(file_name)  # "./a.png" is "a.png"
        if png in pngs:
            raise InputError(f"{path}: {where}.file_name: {file_name!r} is the PNG of {pngs[png]} too")
        pngs[png] = where
        segments, classes = _segments(path, annotation, where, categories)
        image = images[slot]
        found[slot] = _PanopticEntry(file_name, image.height, image.width, segments, classes)
    for image, entry in zip(images, found):
        if entry is None:
            raise InputError(f"{path}: image id {image.id} ({image.file_name}) has no annotation, so no PNG")
    return CocoPanoptic(path, folder, categories, tuple(entry for entry in found if entry is not None))


def coco_instances(annotations: str | os.PathLike[str], *, include_crowd: bool = True) -> CocoInstances:
    """Describes COCO instance or stuff annotations (instances_*.json, stuff_*.json) for
    `fastweights.count`: each image's polygons and RLE masks rasterized, counted by category id.

    Each image of the JSON's "images" is an input named by its file_name, in that order. An image's
    annotations are painted in the JSON's order, a later one over an earlier one where they overlap
    (COCO-stuff's rule); pixels no annotation covers count as ignored pixels, and an image without
    annotations counts as all ignored. Polygons are rasterized by pycocotools (pip install
    "fastweights[coco]"); RLE masks need nothing more.

    Parameters
    ----------
    annotations : str or os.PathLike
        The JSON: "images" (id, file_name, height, width), "annotations" (image_id, category_id,
        segmentation: polygons, compressed or uncompressed RLE; iscrowd) and "categories".
    include_crowd : bool, default True
        Whether crowd annotations (iscrowd 1) are painted. cocostuffapi's
        `cocoSegmentationToPng` leaves them out: include_crowd=False counts what it writes.

    Returns
    -------
    CocoInstances
        What `fastweights.count` takes as an input (alone or in a list with others).

    Raises
    ------
    FileNotFoundError
        No JSON at `annotations`.
    fastweights.errors.InputError
        The JSON is not COCO annotations: the message names the file and the place. A malformed
        polygon or RLE is refused when its image is counted (on_error="skip" leaves that image out).
    """
    if not isinstance(include_crowd, bool):
        raise TypeError(f"include_crowd={include_crowd!r}: expected True or False")
    path = os.fspath(annotations)
    data = _load(path)
    categories = _categories(path, data)
    if 0 in categories:
        raise InputError(
            f"{path}: category id 0 is listed, but here 0 marks the pixels no annotation covers "
            "(COCO-stuff's 'unlabeled'); COCO category ids start at 1"
        )
    images = _images(path, data)
    slot_of = {image.id: slot for slot, image in enumerate(images)}
    painted: list[list[_Annotation]] = [[] for _ in images]
    for position, annotation in enumerate(_list(path, data, "annotations", "")):
        where = f"annotations[{position}]"
        image_id = _int(path, annotation, "image_id", where, 0, MAX_IMAGE_ID)
        slot = slot_of.get(image_id)
        if slot is None:
            raise InputError(f"{path}: {where}: image_id {image_id} is not among the images")
        category = _int(path, annotation, "category_id", where, 1, MAX_CATEGORY_ID)
        if category not in categories:
            raise InputError(f"{path}: {where}.category_id: {category} is not among the categories")
        crowd = annotation.get("iscrowd", 0)
        if crowd not in (0, 1) or not isinstance(crowd, int):
            raise InputError(f"{path}: {where}.iscrowd: expected 0 or 1, got {_shown(crowd)}")
        segmentation = _field(path, annotation, "segmentation", where)
        if not _is_segmentation(segmentation):
            raise InputError(
                f"{path}: {where}.segmentation: of an unknown form (expected a list of polygons, or an RLE "
                f"object with 'counts' (a string or a list) and 'size'), got {_shown(segmentation)}"
            )
        if crowd and not include_crowd:
            continue
        identity = annotation.get("id")
        label = f"{where} (id {identity})" if isinstance(identity, int) else where
        painted[slot].append(_Annotation(label, category, segmentation))
    dtype = np.min_scalar_type(max(categories, default=0)).name
    return CocoInstances(
        path,
        categories,
        tuple(
            InstanceImage(path, image.file_name, image.height, image.width, tuple(annotations), dtype)
            for image, annotations in zip(images, painted)
        ),
    )


def coco_category_names(annotations: str | os.PathLike[str] | CocoSet) -> list[str]:
    """The category names of COCO annotations, indexed by category id ("" for ids no category has),
    to pass as class names: ``count(data, class_names=fastweights.coco_category_names(data))``.

    Parameters
    ----------
    annotations : str, os.PathLike, or what coco_panoptic / coco_instances returned
        A COCO JSON with "categories" (id, name).
    """
    if isinstance(annotations, (CocoPanoptic, CocoInstances)):
        return annotations.category_names
    path = os.fspath(annotations)
    return names_by_id(_categories(path, _load(path)))


def names_by_id(categories: dict[int, str]) -> list[str]:
    """Category names as a list indexed by category id, "" for the ids between them."""
    names = [""] * (max(categories, default=-1) + 1)
    for identity, name in categories.items():
        names[identity] = name
    return names


# ---- reading the JSON --------------------------------------------------------------------------


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            data = json.load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file (COCO annotations)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: COCO annotations that are not JSON ({error})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: COCO annotations are a JSON object, not a {_kind(data)}")
    return data


def _categories(path: str, data: dict[str, Any]) -> dict[int, str]:
    names: dict[int, str] = {}
    for position, category in enumerate(_list(path, data, "categories", "")):
        where = f"categories[{position}]"
        identity = _int(path, category, "id", where, 0, MAX_CATEGORY_ID)
        if identity in names:
            raise InputError(f"{path}: {where}.id: category id {identity} is listed twice")
        names[identity] = _str(path, category, "name", where)
    return names


def _images(path: str, data: dict[str, Any]) -> list[_Entry]:
    images: list[_Entry] = []
    seen: set[int] = set()
    for position, image in enumerate(_list(path, data, "images", "")):
        where = f"images[{position}]"
        identity = _int(path, image, "id", where, 0, MAX_IMAGE_ID)
        if identity in seen:
            raise InputError(f"{path}: {where}.id: image id {identity} is listed twice")
        seen.add(identity)
        height = _int(path, image, "height", where, 1, MAX_PIXELS)
        width = _int(path, image, "width", where, 1, MAX_PIXELS)
        if height * width > MAX_PIXELS:
            raise InputError(
                f"{path}: {where}: {width} x {height} pixels, more than the limit of {MAX_PIXELS} "
                "(fastweights.io.readers.png.MAX_PIXELS)"
            )
        images.append(_Entry(identity, _str(path, image, "file_name", where), height, width))
    return images


def _segments(path: str, annotation: Any, where: str, categories: dict[int, str]) -> tuple[np.ndarray, np.ndarray]:
    """The segment ids of a panoptic annotation, ascending, and the category of each."""
    ids: list[int] = []
    classes: list[int] = []
    for position, segment in enumerate(_list(path, annotation, "segments_info", where)):
        place = f"{where}.segments_info[{position}]"
        if isinstance(segment, dict) and segment.get("id") == 0:
            raise InputError(f"{path}: {place}.id: segment id 0 is void (unlabelled) and has no category")
        ids.append(_int(path, segment, "id", place, 1, MAX_SEGMENT_ID))
        category = _int(path, segment, "category_id", place, 0, MAX_CATEGORY_ID)
        if category not in categories:
            raise InputError(f"{path}: {place}.category_id: {category} is not among the categories")
        classes.append(category)
    segments = np.array(ids, np.int64)
    order = np.argsort(segments, kind="stable")
    segments = segments[order]
    twice = segments[1:][segments[1:] == segments[:-1]]
    if twice.size:
        raise InputError(f"{path}: {where}.segments_info: segment id {int(twice[0])} is listed twice")
    return segments, np.array(classes, np.int64)[order]


def _is_segmentation(value: Any) -> bool:
    if isinstance(value, list):
        return True
    return isinstance(value, dict) and "size" in value and isinstance(value.get("counts"), (str, list))


def _field(path: str, record: Any, key: str, where: str) -> Any:
    if not isinstance(record, dict):
        raise InputError(f"{path}: {where or 'the top level'}: expected a JSON object, got a {_kind(record)}")
    if key not in record:
        raise InputError(f"{path}: {where or 'the top level'}: no {key!r}")
    return record[key]


def _list(path: str, record: Any, key: str, where: str) -> list[Any]:
    value = _field(path, record, key, where)
    if not isinstance(value, list):
        raise InputError(f"{path}: {_at(where, key)}: expected a list, got a {_kind(value)}")
    return value


def _int(path: str, record: Any, key: str, where: str, low: int, high: int) -> int:
    value = _field(path, record, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{path}: {_at(where, key)}: expected an integer from {low} to {high}, got {_shown(value)}")
    return value


def _str(path: str, record: Any, key: str, where: str) -> str:
    value = _field(path, record, key, where)
    if not isinstance(value, str) or not value:
        raise InputError(f"{path}: {_at(where, key)}: expected a non-empty string, got {_shown(value)}")
    return value


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    return {dict: "JSON object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
