"""Small COCO data sets written for the tests, and the label arrays they stand for, computed without
fastweights: panoptic ones from the segment map the test drew, instance ones through pycocotools'
own COCO API (COCO-stuff's cocoSegmentationToSegmentationMap: annotations in JSON order, a later one
over an earlier one). -1 marks void / unannotated pixels in the arrays."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

PANOPTIC_CATEGORIES: list[dict[str, Any]] = [
    {"id": 1, "name": "person", "supercategory": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 3, "name": "car", "supercategory": "vehicle", "isthing": 1, "color": [0, 0, 142]},
    {"id": 92, "name": "banner", "supercategory": "textile", "isthing": 0, "color": [255, 0, 0]},
    {"id": 200, "name": "rug-merged", "supercategory": "floor", "isthing": 0, "color": [0, 255, 0]},
]
INSTANCE_CATEGORIES: list[dict[str, Any]] = [{"id": 1, "name": "person", "supercategory": "person"}] + [
    {"id": c, "name": f"category {c}", "supercategory": "s"} for c in (2, 7, 90, 183)
]


def segment_rgb(segments: np.ndarray) -> np.ndarray:
    """The COCO-panoptic colour of each segment id: id = R + 256 G + 256^2 B."""
    return np.stack([segments & 255, (segments >> 8) & 255, segments >> 16], axis=-1).astype(np.uint8)


def write_panoptic(root: Path, seed: int, n_images: int = 4) -> tuple[Path, Path, list[Path], list[np.ndarray]]:
    """A panoptic JSON and PNG folder: random rectangles of random segment ids (over all three
    channels) on a void background, each segment a random thing or stuff category, and one listed
    segment in no pixel. Returns the JSON, the folder, and the PNGs and category arrays
    in the JSON's image order (which is neither the files' order nor the annotations')."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = root / "panoptic_val"
    folder.mkdir()
    images, annotations, pngs, labels = [], [], [], []
    for k in rng.permutation(n_images):
        height, width = (int(v) for v in rng.integers(6, 40, 2))
        # ids in the red channel only, in red and green, and in all three
        ids = np.unique(
            np.concatenate([rng.integers(2, 256, 1), rng.integers(256, 1 << 16, 1), rng.integers(1 << 16, 1 << 24, 3)])
        )
        segments = np.zeros((height, width), np.int64)
        category_of = {int(i): int(rng.choice([c["id"] for c in PANOPTIC_CATEGORIES])) for i in ids}
        for i in ids:
            y, x = rng.integers(0, height), rng.integers(0, width)
            segments[y : y + rng.integers(1, height), x : x + rng.integers(1, width)] = i
        segments[0, 0] = 0  # some void in every image
        category_of[1] = 3  # listed, in no pixel
        name = f"{int(k) + 1000:012d}"
        Image.fromarray(segment_rgb(segments), "RGB").save(folder / f"{name}.png")
        image_id = int(k) * 7 + 3
        images.append({"id": image_id, "file_name": f"{name}.jpg", "height": height, "width": width})
        info = [
            {"id": i, "category_id": c, "iscrowd": 0, "area": 1, "bbox": [0, 0, 1, 1]} for i, c in category_of.items()
        ]
        annotations.append({"image_id": image_id, "file_name": f"{name}.png", "segments_info": info})
        category = np.full(segments.shape, -1, np.int64)
        for i, c in category_of.items():
            category[segments == i] = c
        pngs.append(folder / f"{name}.png")
        labels.append(category)
    order = rng.permutation(n_images)
    path = root / "panoptic_val.json"
    data = {"images": images, "annotations": [annotations[i] for i in order], "categories": PANOPTIC_CATEGORIES}
    path.write_text(json.dumps(data))
    return path, folder, pngs, labels


def runs_of(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE counts of a 0/1 mask: column-major run lengths, starting with zeros."""
    flat = mask.ravel(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(edges).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


def _blob(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    y, x = rng.integers(0, height), rng.integers(0, width)
    mask[y : y + rng.integers(1, height + 1), x : x + rng.integers(1, width + 1)] = 1
    mask[rng.random((height, width)) < 0.1] ^= 1  # ragged edges and holes: many runs
    return mask


def _polygon(rng: np.random.Generator, height: int, width: int) -> list[float]:
    points = rng.integers(3, 7)
    # a little outside the image too, as real annotations sometimes are
    xs = rng.uniform(-2, width + 2, points)
    ys = rng.uniform(-2, height + 2, points)
    return [round(float(v), 2) for v in np.stack([xs, ys], axis=1).ravel()]


def write_instances(root: Path, seed: int, n_images: int = 5) -> Path:
    """An instance JSON: images of random sizes (one with no annotation), annotations in a shuffled
    order across images, as polygons (one or two parts), compressed RLE and uncompressed crowd RLE,
    overlapping each other."""
    import pycocotools.mask as mask_api

    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for k in range(n_images):
        height, width = (int(v) for v in rng.integers(8, 40, 2))
        images.append({"id": 100 - 11 * k, "file_name": f"image_{k}.jpg", "height": height, "width": width})
        for _ in range(0 if k == 1 else int(rng.integers(3, 7))):
            form = rng.integers(0, 3)
            segmentation: Any
            if form == 0:
                segmentation = [_polygon(rng, height, width) for _ in range(rng.integers(1, 3))]
            elif form == 1:
                encoded = mask_api.encode(np.asfortranarray(_blob(rng, height, width)))
                segmentation = {"size": [height, width], "counts": encoded["counts"].decode("ascii")}
            else:
                segmentation = {"size": [height, width], "counts": runs_of(_blob(rng, height, width))}
            category = int(rng.choice([c["id"] for c in INSTANCE_CATEGORIES]))
            annotations.append(
                {
                    "image_id": 100 - 11 * k,
                    "category_id": category,
                    "segmentation": segmentation,
                    "iscrowd": int(form == 2),
                    "area": 1.0,
                    "bbox": [0, 0, 1, 1],
                }
            )
    order = rng.permutation(len(annotations))
    annotations = [dict(annotations[i], id=int(n) + 1) for n, i in enumerate(order)]
    path = root / "instances_val.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": INSTANCE_CATEGORIES}))
    return path


def instance_labels(path: Path, include_crowd: bool = True, later_wins: bool = True) -> list[np.ndarray]:
    """Each image's category array as COCO-stuff paints it, through pycocotools' COCO API; with
    later_wins=False the first annotation keeps a pixel instead (to show the rule matters)."""
    from pycocotools.coco import COCO

    coco = COCO(str(path))
    labels = []
    for image in coco.dataset["images"]:
        label = np.full((image["height"], image["width"]), -1, np.int64)
        for annotation in coco.dataset["annotations"]:
            if annotation["image_id"] != image["id"] or (annotation["iscrowd"] and not include_crowd):
                continue
            with warnings.catch_warnings():  # pycocotools' decode, under numpy 2
                warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
                covered = coco.annToMask(annotation) == 1
            label[covered if later_wins else covered & (label == -1)] = annotation["category_id"]
        labels.append(label)
    return labels
