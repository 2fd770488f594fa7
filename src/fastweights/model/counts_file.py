"""The Counts file: the JSON mapping `Counts.to_dict` writes and `Counts.from_dict` reads, and its
format versions. Knows the statistics' layout, not the Counts class."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from .per_image import PerImageTable

__all__ = ["FORMAT", "FORMAT_VERSION", "STATISTIC_NAMES", "decode", "encode", "read_json"]

Statistics = tuple[np.ndarray, np.ndarray, np.ndarray]  # pixels, images, image_pixels of some classes

FORMAT = "fastweights.counts"
# 2: per_image saved by its non-zero cells (CSR); version 1 files (a dense per_image) still load.
# 3: the statistics of the classes present only ("classes" lists them), written when most of many
# classes are absent (labels up to 16M make dense lists of 16M zeros); otherwise files stay version 2.
# 4: "label_ids", the label of each class, renumbered by label_map="compact" (a reader that does
# not know it would take class k for label k); the layout of version 2 or 3, as "classes" says.
FORMAT_VERSION = 2
_COMPACT_VERSION = 3
_LABEL_IDS_VERSION = 4
_READS = (1, 2, 3, 4)
# Below this many classes the dense lists are written whatever is present: small files keep their form.
_COMPACT_FROM = 4096
STATISTIC_NAMES = ("pixels", "images", "image_pixels")


def encode(
    num_classes: int, classes: np.ndarray, statistics: Statistics, label_ids: np.ndarray | None = None
) -> dict[str, Any]:
    """The format keys and the statistics: lists of num_classes entries (format_version 2), or, when
    fewer than half of at least 4096 classes are present, lists over the classes present, which
    "classes" names (format_version 3); with `label_ids`, format_version 4 and either layout."""
    encoded = _encode(num_classes, classes, statistics)
    if label_ids is None:
        return encoded
    return {**encoded, "format_version": _LABEL_IDS_VERSION, "label_ids": label_ids.tolist()}


def _encode(num_classes: int, classes: np.ndarray, statistics: Statistics) -> dict[str, Any]:
    if num_classes >= _COMPACT_FROM and 2 * classes.size < num_classes:
        return {
            "format": FORMAT,
            "format_version": _COMPACT_VERSION,
            "num_classes": num_classes,
            "classes": classes.tolist(),
            **{name: values.tolist() for name, values in zip(STATISTIC_NAMES, statistics)},
        }
    dense = {}
    for name, values in zip(STATISTIC_NAMES, statistics):
        full = np.zeros(num_classes, np.uint64)
        full[classes] = values
        dense[name] = full.tolist()
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "num_classes": num_classes, **dense}


def decode(
    data: Mapping[str, Any], origin: str
) -> tuple[int, np.ndarray, Statistics, PerImageTable | np.ndarray | None, np.ndarray | None]:
    """(num_classes, the classes present, their statistics, the per-image table, the label ids) of
    a `to_dict` mapping of format version 1 to 4; ValueError naming `origin` when it is not one,
    KeyError, TypeError or ValueError when it is damaged."""
    if data.get("format") != FORMAT:
        raise ValueError(f"{origin}: not a fastweights Counts file (format={data.get('format')!r})")
    if data.get("format_version") not in _READS:
        raise ValueError(
            f"{origin}: Counts format version {data.get('format_version')!r}; "
            f"this fastweights reads versions {', '.join(map(str, _READS))}"
        )
    values = tuple(_from_json(data[name]) for name in STATISTIC_NAMES)
    version = data["format_version"]
    if version == _COMPACT_VERSION or (version == _LABEL_IDS_VERSION and "classes" in data):
        num_classes, classes = data["num_classes"], _from_json(data["classes"], np.int64)
    else:  # one entry per class
        num_classes, classes = values[0].size, np.arange(values[0].size)
    if not isinstance(num_classes, int):
        raise TypeError(f"num_classes={num_classes!r}: expected an integer")
    table = data.get("per_image")
    if isinstance(table, Mapping):
        table = PerImageTable.from_json(table, (data["n_images"], num_classes))
    elif table is not None:
        table = _from_json(table)
    label_ids = _from_json(data["label_ids"], np.int64) if version == _LABEL_IDS_VERSION else None
    return num_classes, classes, (values[0], values[1], values[2]), table, label_ids


def read_json(path: str) -> dict[str, Any]:
    """The mapping a Counts file holds; ValueError naming the file when it is not JSON or no mapping."""
    with open(path, encoding="utf-8") as file:
        try:
            data = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not JSON ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a fastweights Counts file")
    return data


def _from_json(values: Any, dtype: type[np.integer[Any]] = np.uint64) -> np.ndarray:
    return np.array(values, dtype=dtype)
