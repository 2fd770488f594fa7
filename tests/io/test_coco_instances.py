"""COCO instance / stuff annotations (polygons, compressed and uncompressed RLE) counted by category
id, checked against pycocotools' COCO API painting as COCO-stuff does; every refused case."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_helpers import INSTANCE_CATEGORIES, instance_labels, runs_of, write_instances
from helpers import assert_same_statistics, numpy_counts

import fastweights
from fastweights.base._optional import MissingDependency
from fastweights.errors import InputError
from fastweights.io.coco.masks import compressed_runs

mask_api = pytest.importorskip("pycocotools.mask")


@pytest.mark.parametrize("seed", [0, 1])
def test_counts_by_category_match_the_coco_api(tmp_path: Path, seed: int) -> None:
    path = write_instances(tmp_path, seed)
    labels = instance_labels(path)
    # The data overlap: which annotation keeps a pixel changes the counts.
    first_wins = instance_labels(path, later_wins=False)
    assert any(not np.array_equal(a, b) for a, b in zip(labels, first_wins))
    counts = fastweights.count(fastweights.coco_instances(path), per_image=True, threads=1 + seed)
    assert_same_statistics(counts, numpy_counts(labels, ignore=(-1,), per_image=True))
    images = json.loads(path.read_text())["images"]
    assert counts.sources == tuple(image["file_name"] for image in images)
    assert counts.per_image is not None and not counts.per_image[1].any()  # the image with no annotation


def test_crowd_left_out_on_request(tmp_path: Path) -> None:
    path = write_instances(tmp_path, seed=2)
    with_crowd = instance_labels(path)
    labels = instance_labels(path, include_crowd=False)
    assert any(not np.array_equal(a, b) for a, b in zip(labels, with_crowd))
    counts = fastweights.count(fastweights.coco_instances(path, include_crowd=False))
    assert_same_statistics(counts, numpy_counts(labels, ignore=(-1,)))
    with pytest.raises(TypeError, match="include_crowd=0"):
        fastweights.coco_instances(path, include_crowd=0)  # type: ignore[arg-type]


def test_compressed_rle_runs_are_read_as_pycocotools_writes_them() -> None:
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (3, 200), (200, 3), (37, 41)]:
        for density in (0.0, 0.02, 0.5, 0.98, 1.0):
            mask = (rng.random(shape) < density).astype(np.uint8)
            text = mask_api.encode(np.asfortranarray(mask))["counts"]
            assert compressed_runs(text).tolist() == runs_of(mask)
    long = np.zeros((2000, 2000), np.uint8)
    long[1500:, 1700:] = 1  # runs of millions: numbers of several characters, negative differences
    assert compressed_runs(mask_api.encode(np.asfortranarray(long))["counts"]).tolist() == runs_of(long)


def one_image(root: Path, segmentation: Any, height: int = 4, width: int = 5, **annotation: Any) -> Path:
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": height, "width": width}],
        "annotations": [
            {"id": 7, "image_id": 1, "category_id": 2, "segmentation": segmentation, "iscrowd": 0, **annotation}
        ],
        "categories": INSTANCE_CATEGORIES,
    }
    path = root / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_polygons_of_fewer_than_three_points_cover_nothing(tmp_path: Path) -> None:
    path = one_image(tmp_path, [[1, 1, 3, 2], [0.5, 0.5]])
    counts = fastweights.count(fastweights.coco_instances(path))
    assert counts.n_pixels == 0 and counts.ignored == 20


def test_category_ids_past_a_byte(tmp_path: Path) -> None:
    path = one_image(tmp_path, {"size": [4, 5], "counts": [2, 3, 15]}, category_id=70000)
    data = json.loads(path.read_text())
    data["categories"].append({"id": 70000, "name": "wide"})
    path.write_text(json.dumps(data))
    counts = fastweights.count(fastweights.coco_instances(path))
    assert counts.num_classes == 70001 and counts.pixels[70000] == 3 and counts.ignored == 17


def test_category_names(tmp_path: Path) -> None:
    path = one_image(tmp_path, [])
    names = fastweights.coco_category_names(path)
    assert len(names) == 184 and names[7] == "category 7" and names[183] == "category 183" and names[3] == ""
    assert fastweights.coco_category_names(fastweights.coco_instances(path)) == names


def test_missing_pycocotools_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = fastweights.coco_instances(one_image(tmp_path, [[0, 0, 4, 0, 4, 3]]))
    monkeypatch.setitem(sys.modules, "pycocotools.mask", None)
    with pytest.raises(
        MissingDependency, match=r'rasterizing COCO polygons needs .* pip install "fastweights\[coco\]"'
    ):
        fastweights.count(data)
    # RLE alone (stuff annotations) needs no pycocotools
    rle = fastweights.coco_instances(one_image(tmp_path, {"size": [4, 5], "counts": [2, 3, 15]}))
    assert fastweights.count(rle).pixels.tolist() == [0, 0, 3]


Mutation = Callable[[dict[str, Any]], object]

BAD_JSON: list[tuple[str, Mutation, str]] = [
    ("no images", lambda d: d.pop("images"), r"the top level: no 'images'"),
    ("no annotations", lambda d: d.pop("annotations"), r"the top level: no 'annotations'"),
    ("image without size", lambda d: d["images"][0].pop("width"), r"images\[0\]: no 'width'"),
    ("image of no pixels", lambda d: d["images"][0].update(height=0), r"images\[0\]\.height: expected an integer"),
    (
        "image too large",
        lambda d: d["images"][0].update(height=1 << 16, width=1 << 16),
        r"images\[0\]: 65536 x 65536 pixels, more than the limit of 2147483648",
    ),
    ("file_name not text", lambda d: d["images"][0].update(file_name=3), r"images\[0\]\.file_name: expected a non"),
    (
        "annotation of an unknown image",
        lambda d: d["annotations"][0].update(image_id=2),
        r"annotations\[0\]: image_id 2 is not among the images",
    ),
    ("annotation not an object", lambda d: d["annotations"].append([1]), r"annotations\[1\]: expected a JSON object"),
    (
        "unknown category",
        lambda d: d["annotations"][0].update(category_id=3),
        r"annotations\[0\]\.category_id: 3 is not among the categories",
    ),
    ("category id 0", lambda d: d["categories"].append({"id": 0, "name": "x"}), r"category id 0 is listed, but"),
    ("iscrowd 2", lambda d: d["annotations"][0].update(iscrowd=2), r"annotations\[0\]\.iscrowd: expected 0 or 1"),
    ("no segmentation", lambda d: d["annotations"][0].pop("segmentation"), r"annotations\[0\]: no 'segmentation'"),
    (
        "segmentation of an unknown form",
        lambda d: d["annotations"][0].update(segmentation={"counts": 3, "size": [4, 5]}),
        r"annotations\[0\]\.segmentation: of an unknown form",
    ),
    (
        "segmentation a number",
        lambda d: d["annotations"][0].update(segmentation=5),
        r"annotations\[0\]\.segmentation: of an unknown form",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [case[1:] for case in BAD_JSON], ids=[case[0] for case in BAD_JSON])
def test_bad_json_is_refused_naming_the_file_and_the_place(tmp_path: Path, mutate: Mutation, message: str) -> None:
    path = one_image(tmp_path, [[0, 0, 4, 0, 4, 3]])
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"instances\.json: " + message):
        fastweights.coco_instances(path)


def _compressed(mask: np.ndarray) -> str:
    text: bytes = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"]
    return text.decode("ascii")


BAD_SEGMENTATIONS: list[tuple[str, Any, str]] = [
    ("polygon of odd length", [[0, 0, 4, 0, 4]], "polygon 0 has an odd number of coordinates"),
    ("polygon of text", [[0, 0, 4, 0, "4", 3]], "polygon 0 is not a flat list of numbers"),
    ("polygon nested", [[[0, 0], [4, 0], [4, 3]]], "polygon 0 is not a flat list of numbers"),
    ("polygon not a list", [{"x": 1}], "polygon 0 is not a flat list of numbers"),
    ("polygon far outside", [[0, 0, 4, 0, 4, 1e9]], "polygon 0 has a point that is not a number within one image"),
    ("polygon NaN", [[0, 0, 4, 0, 4, float("nan")]], "polygon 0 has a point that is not a number within"),
    ("RLE of another size", {"size": [5, 4], "counts": [20]}, r"RLE size \[5, 4\] is not the image's"),
    ("RLE size as text", {"size": "4 5", "counts": [20]}, r"RLE size \"4 5\" is not the image's"),
    ("uncompressed short", {"size": [4, 5], "counts": [3, 4]}, "uncompressed RLE runs add up to 7 pixels, not the"),
    ("uncompressed negative", {"size": [4, 5], "counts": [25, -5]}, "uncompressed RLE holds a run of -5 pixels"),
    ("uncompressed floats", {"size": [4, 5], "counts": [10.0, 10]}, "uncompressed RLE counts are not a list of int"),
    (
        "compressed short",
        {"size": [4, 5], "counts": _compressed(np.ones((2, 5)))},
        "compressed RLE runs add up to 10 pixels, not the image's 20",
    ),
    (
        "compressed bad character",
        {"size": [4, 5], "counts": "4~"},
        r"compressed RLE counts hold a character outside '0'\.\.'o'",
    ),
    (
        "compressed non-ASCII",
        {"size": [4, 5], "counts": "4é"},
        r"compressed RLE counts hold a character outside '0'\.\.'o'",
    ),
    ("compressed cut short", {"size": [4, 5], "counts": "4P"}, "compressed RLE counts end inside a number"),
    (
        "compressed overlong number",
        {"size": [4, 5], "counts": "PPPPPPP0"},
        "compressed RLE counts hold a number of more than 7 characters",
    ),
    ("compressed negative run", {"size": [4, 5], "counts": "4O"}, "compressed RLE holds a run of -1 pixels"),
]


@pytest.mark.parametrize(
    ("segmentation", "message"), [case[1:] for case in BAD_SEGMENTATIONS], ids=[case[0] for case in BAD_SEGMENTATIONS]
)
def test_bad_segmentation_is_refused_when_counted(tmp_path: Path, segmentation: Any, message: str) -> None:
    path = one_image(tmp_path, segmentation)
    data = fastweights.coco_instances(path)
    with pytest.raises(
        InputError, match=r"a\.jpg: .*instances\.json: annotations\[0\] \(id 7\)\.segmentation: " + message
    ):
        fastweights.count(data)


def test_a_bad_image_is_skipped_on_request(tmp_path: Path) -> None:
    path = write_instances(tmp_path, seed=4, n_images=3)
    labels = instance_labels(path)
    data = json.loads(path.read_text())
    data["annotations"].append(
        {"id": 999, "image_id": data["images"][2]["id"], "category_id": 1, "segmentation": [[0, 1, 2]]}
    )
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="skipped"):
        counts = fastweights.count(fastweights.coco_instances(path), on_error="skip")
    assert_same_statistics(counts, numpy_counts(labels[:2], ignore=(-1,)))
    assert counts.errors[0][0] == "image_2.jpg" and "polygon 0 has an odd number" in counts.errors[0][1]
