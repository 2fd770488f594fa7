"""Reading a COCO annotation JSON: each field checked where it is read, a wrong one an InputError
naming the file and the place (e.g. `annotations[12].category_id`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...base.errors import InputError
from ..readers.png import MAX_PIXELS

# Category ids become class ids: the engine's limit on those (engine.settings.MAX_CLASSES).
MAX_CATEGORY_ID = (1 << 24) - 1
# A panoptic segment id is a 24-bit colour.
MAX_SEGMENT_ID = (1 << 24) - 1
MAX_IMAGE_ID = (1 << 63) - 1


@dataclass(frozen=True)
class ImageEntry:
    """An image of the JSON's "images"."""

    id: int
    file_name: str
    height: int
    width: int


@dataclass(frozen=True)
class PanopticEntry:
    file_name: str  # the PNG, relative to the folder
    height: int
    width: int
    segments: np.ndarray
    categories: np.ndarray


def load_json(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            data = json.load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file (COCO annotations)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: COCO annotations that are not JSON ({error})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: COCO annotations are a JSON object, not a {kind_of(data)}")
    return data


def categories_of(path: str, data: dict[str, Any]) -> dict[int, str]:
    names: dict[int, str] = {}
    for position, category in enumerate(list_field(path, data, "categories", "")):
        where = f"categories[{position}]"
        identity = int_field(path, category, "id", where, 0, MAX_CATEGORY_ID)
        if identity in names:
            raise InputError(f"{path}: {where}.id: category id {identity} is listed twice")
        names[identity] = str_field(path, category, "name", where)
    return names


def images_of(path: str, data: dict[str, Any]) -> list[ImageEntry]:
    images: list[ImageEntry] = []
    seen: set[int] = set()
    for position, image in enumerate(list_field(path, data, "images", "")):
        where = f"images[{position}]"
        identity = int_field(path, image, "id", where, 0, MAX_IMAGE_ID)
        if identity in seen:
            raise InputError(f"{path}: {where}.id: image id {identity} is listed twice")
        seen.add(identity)
        height = int_field(path, image, "height", where, 1, MAX_PIXELS)
        width = int_field(path, image, "width", where, 1, MAX_PIXELS)
        if height * width > MAX_PIXELS:
            raise InputError(
                f"{path}: {where}: {width} x {height} pixels, more than the limit of {MAX_PIXELS} "
                "(fastweights.io.readers.png.MAX_PIXELS)"
            )
        images.append(ImageEntry(identity, str_field(path, image, "file_name", where), height, width))
    return images


def segments_of(path: str, annotation: Any, where: str, categories: dict[int, str]) -> tuple[np.ndarray, np.ndarray]:
    """The segment ids of a panoptic annotation, ascending, and the category of each."""
    ids: list[int] = []
    classes: list[int] = []
    for position, segment in enumerate(list_field(path, annotation, "segments_info", where)):
        place = f"{where}.segments_info[{position}]"
        if isinstance(segment, dict) and segment.get("id") == 0:
            raise InputError(f"{path}: {place}.id: segment id 0 is void (unlabelled) and has no category")
        ids.append(int_field(path, segment, "id", place, 1, MAX_SEGMENT_ID))
        category = int_field(path, segment, "category_id", place, 0, MAX_CATEGORY_ID)
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


def is_segmentation(value: Any) -> bool:
    if isinstance(value, list):
        return True
    return isinstance(value, dict) and "size" in value and isinstance(value.get("counts"), (str, list))


def any_field(path: str, record: Any, key: str, where: str) -> Any:
    if not isinstance(record, dict):
        raise InputError(f"{path}: {where or 'the top level'}: expected a JSON object, got a {kind_of(record)}")
    if key not in record:
        raise InputError(f"{path}: {where or 'the top level'}: no {key!r}")
    return record[key]


def list_field(path: str, record: Any, key: str, where: str) -> list[Any]:
    value = any_field(path, record, key, where)
    if not isinstance(value, list):
        raise InputError(f"{path}: {at(where, key)}: expected a list, got a {kind_of(value)}")
    return value


def int_field(path: str, record: Any, key: str, where: str, low: int, high: int) -> int:
    value = any_field(path, record, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{path}: {at(where, key)}: expected an integer from {low} to {high}, got {shown(value)}")
    return value


def str_field(path: str, record: Any, key: str, where: str) -> str:
    value = any_field(path, record, key, where)
    if not isinstance(value, str) or not value:
        raise InputError(f"{path}: {at(where, key)}: expected a non-empty string, got {shown(value)}")
    return value


def at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def kind_of(value: Any) -> str:
    return {dict: "JSON object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
