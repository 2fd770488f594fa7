"""The annotation sets: `coco_panoptic` and `coco_instances` read and check a JSON into the
inputs of its images; `coco_category_names` gives the names by category id."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from ...base.errors import InputError
from .fields import (
    MAX_CATEGORY_ID,
    MAX_IMAGE_ID,
    PanopticEntry,
    any_field,
    categories_of,
    images_of,
    int_field,
    is_segmentation,
    list_field,
    load_json,
    segments_of,
    shown,
    str_field,
)
from .inputs import Annotation, InstanceImage, PanopticImage, RefusedInput


@dataclass(frozen=True)
class CocoPanoptic:
    """COCO-panoptic annotations (`fastweights.coco_panoptic`): one input per image, in the JSON's
    image order, then any PNG of the folder the JSON does not list (refused when counted)."""

    annotations: str
    png_folder: str
    categories: dict[int, str] = field(repr=False)
    entries: tuple[PanopticEntry, ...] = field(repr=False)

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
    data = load_json(path)
    categories = categories_of(path, data)
    images = images_of(path, data)
    slot_of = {image.id: slot for slot, image in enumerate(images)}
    found: list[PanopticEntry | None] = [None] * len(images)
    pngs: dict[str, str] = {}
    for position, annotation in enumerate(list_field(path, data, "annotations", "")):
        where = f"annotations[{position}]"
        image_id = int_field(path, annotation, "image_id", where, 0, MAX_IMAGE_ID)
        slot = slot_of.get(image_id)
        if slot is None:
            raise InputError(f"{path}: {where}: image_id {image_id} is not among the images")
        if found[slot] is not None:
            raise InputError(f"{path}: {where}: a second annotation of image_id {image_id}")
        file_name = str_field(path, annotation, "file_name", where)
        if os.path.isabs(file_name) or os.path.normpath(file_name).startswith(".."):
            raise InputError(f"{path}: {where}.file_name: {file_name!r} is not a name inside the PNG folder")
        png = os.path.normpath(file_name)  # "./a.png" is "a.png"
        if png in pngs:
            raise InputError(f"{path}: {where}.file_name: {file_name!r} is the PNG of {pngs[png]} too")
        pngs[png] = where
        segments, classes = segments_of(path, annotation, where, categories)
        image = images[slot]
        found[slot] = PanopticEntry(file_name, image.height, image.width, segments, classes)
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
    data = load_json(path)
    categories = categories_of(path, data)
    if 0 in categories:
        raise InputError(
            f"{path}: category id 0 is listed, but here 0 marks the pixels no annotation covers "
            "(COCO-stuff's 'unlabeled'); COCO category ids start at 1"
        )
    images = images_of(path, data)
    slot_of = {image.id: slot for slot, image in enumerate(images)}
    painted: list[list[Annotation]] = [[] for _ in images]
    for position, annotation in enumerate(list_field(path, data, "annotations", "")):
        where = f"annotations[{position}]"
        image_id = int_field(path, annotation, "image_id", where, 0, MAX_IMAGE_ID)
        slot = slot_of.get(image_id)
        if slot is None:
            raise InputError(f"{path}: {where}: image_id {image_id} is not among the images")
        category = int_field(path, annotation, "category_id", where, 1, MAX_CATEGORY_ID)
        if category not in categories:
            raise InputError(f"{path}: {where}.category_id: {category} is not among the categories")
        crowd = annotation.get("iscrowd", 0)
        if crowd not in (0, 1) or not isinstance(crowd, int):
            raise InputError(f"{path}: {where}.iscrowd: expected 0 or 1, got {shown(crowd)}")
        segmentation = any_field(path, annotation, "segmentation", where)
        if not is_segmentation(segmentation):
            raise InputError(
                f"{path}: {where}.segmentation: of an unknown form (expected a list of polygons, or an RLE "
                f"object with 'counts' (a string or a list) and 'size'), got {shown(segmentation)}"
            )
        if crowd and not include_crowd:
            continue
        identity = annotation.get("id")
        label = f"{where} (id {identity})" if isinstance(identity, int) else where
        painted[slot].append(Annotation(label, category, segmentation))
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
    return names_by_id(categories_of(path, load_json(path)))


def names_by_id(categories: dict[int, str]) -> list[str]:
    """Category names as a list indexed by category id, "" for the ids between them."""
    names = [""] * (max(categories, default=-1) + 1)
    for identity, name in categories.items():
        names[identity] = name
    return names
