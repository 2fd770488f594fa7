"""COCO-panoptic PNGs counted by category id, checked against numpy on the category arrays the test
drew; every refused case with its message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coco_helpers import PANOPTIC_CATEGORIES, segment_rgb, write_panoptic
from helpers import assert_same_statistics, numpy_counts

import fastweights
from fastweights.errors import InputError

pil = pytest.importorskip("PIL.Image")


@pytest.mark.parametrize("threads", [1, 2])
def test_counts_by_category_match_numpy(tmp_path: Path, threads: int) -> None:
    path, folder, pngs, labels = write_panoptic(tmp_path, seed=threads)
    counts = fastweights.count(fastweights.coco_panoptic(path, folder), per_image=True, threads=threads)
    assert_same_statistics(counts, numpy_counts(labels, ignore=(-1,), per_image=True))
    assert counts.sources == tuple(str(png) for png in pngs)  # the JSON's image order
    assert counts.ignored >= len(pngs)  # every image has void
    assert set(np.flatnonzero(counts.pixels)) <= {1, 3, 92, 200}


def test_with_other_inputs_and_ignore_index(tmp_path: Path) -> None:
    path, folder, _, labels = write_panoptic(tmp_path, seed=5, n_images=2)
    extra = np.array([[1, 1, 92], [255, 3, 3]], np.uint8)
    counts = fastweights.count([extra, fastweights.coco_panoptic(path, folder)], ignore_index=[255, 92])
    assert_same_statistics(counts, numpy_counts([extra, *labels], ignore=(-1, 255, 92)))


def test_category_names_indexed_by_id(tmp_path: Path) -> None:
    path, folder, _, _ = write_panoptic(tmp_path, seed=0, n_images=1)
    names = fastweights.coco_category_names(path)
    assert len(names) == 201 and names[1] == "person" and names[92] == "banner" and names[200] == "rug-merged"
    assert names[0] == names[2] == names[199] == ""
    assert fastweights.coco_category_names(fastweights.coco_panoptic(path, folder)) == names


def write_one(root: Path, segments: np.ndarray, info: list[dict[str, int]], **image: Any) -> tuple[Path, Path]:
    folder = root / "pngs"
    folder.mkdir(exist_ok=True)
    pil.fromarray(segment_rgb(segments), "RGB").save(folder / "a.png")
    entry = {"id": 1, "file_name": "a.jpg", "height": segments.shape[0], "width": segments.shape[1], **image}
    data = {
        "images": [entry],
        "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": info}],
        "categories": PANOPTIC_CATEGORIES,
    }
    path = root / "panoptic.json"
    path.write_text(json.dumps(data))
    return path, folder


def test_void_is_ignored_and_segments_of_one_category_add_up(tmp_path: Path) -> None:
    segments = np.array([[0, 70000, 70000], [5, 5, 0x0A0B0C]])
    info = [{"id": 5, "category_id": 3}, {"id": 70000, "category_id": 92}, {"id": 0x0A0B0C, "category_id": 3}]
    path, folder = write_one(tmp_path, segments, info)
    counts = fastweights.count(fastweights.coco_panoptic(path, folder))
    assert counts.pixels.tolist() == [0, 0, 0, 3] + [0] * 88 + [2] and counts.ignored == 1


def test_segment_not_in_segments_info_is_refused(tmp_path: Path) -> None:
    path, folder = write_one(tmp_path, np.array([[5, 6, 7]]), [{"id": 5, "category_id": 3}])
    with pytest.raises(
        InputError, match=r"a\.png: 2 segment id\(s\) not in its segments_info in .*panoptic\.json: 6, 7"
    ):
        fastweights.count(fastweights.coco_panoptic(path, folder))


def test_unlisted_and_missing_pngs_are_refused(tmp_path: Path) -> None:
    path, folder = write_one(tmp_path, np.array([[5, 0]]), [{"id": 5, "category_id": 3}])
    pil.fromarray(segment_rgb(np.array([[5]])), "RGB").save(folder / "b.png")
    data = fastweights.coco_panoptic(path, folder)
    with pytest.raises(InputError, match=r"b\.png: a PNG that .*panoptic\.json does not list"):
        fastweights.count(data)
    with pytest.warns(UserWarning, match="skipped"):
        counts = fastweights.count(data, on_error="skip")
    assert counts.sources == (str(folder / "a.png"),) and [name for name, _ in counts.errors] == [str(folder / "b.png")]
    (folder / "a.png").unlink()
    (folder / "b.png").unlink()
    with pytest.raises(InputError, match=r"a\.png: listed in .*panoptic\.json, and missing"):
        fastweights.count(data)


@pytest.mark.parametrize(
    ("rgb", "message"),
    [
        (np.zeros((1, 2), np.uint8), "a gray or palette PNG; a COCO panoptic PNG is 8-bit RGB"),
        (np.zeros((1, 2, 3), np.uint16), "a 16-bit colour PNG"),
        (np.zeros((2, 2, 3), np.uint8), r"2 x 2 pixels, but .*panoptic\.json gives its image as 2 x 1"),
    ],
)
def test_png_of_the_wrong_kind_is_refused(tmp_path: Path, rgb: np.ndarray, message: str) -> None:
    path, folder = write_one(tmp_path, np.array([[5, 0]]), [{"id": 5, "category_id": 3}])
    _write_png(folder / "a.png", rgb)
    with pytest.raises(InputError, match=r"a\.png: " + message):
        fastweights.count(fastweights.coco_panoptic(path, folder))


def _write_png(path: Path, array: np.ndarray) -> None:
    """A PNG of any bit depth: Pillow writes no 16-bit colour, so that one through the C++ test
    writer's plain zlib stream."""
    import struct
    import zlib

    if array.dtype == np.uint8:
        pil.fromarray(array).save(path)
        return
    height, width = array.shape[:2]
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in array)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


Mutation = Callable[[dict[str, Any]], object]

BAD_JSON: list[tuple[str, Mutation, str]] = [
    ("no annotations", lambda d: d.pop("annotations"), r"the top level: no 'annotations'"),
    ("no categories", lambda d: d.pop("categories"), r"the top level: no 'categories'"),
    ("images not a list", lambda d: d.update(images={}), r"images: expected a list, got a JSON object"),
    ("image height text", lambda d: d["images"][0].update(height="2"), r"images\[0\]\.height: expected an integer"),
    ("image id twice", lambda d: d["images"].append(dict(d["images"][0])), r"images\[1\]\.id: image id 1 is listed"),
    (
        "annotation of an unknown image",
        lambda d: d["annotations"][0].update(image_id=9),
        r"annotations\[0\]: image_id 9 is not among the images",
    ),
    (
        "second annotation of an image",
        lambda d: d["annotations"].append(dict(d["annotations"][0], file_name="b.png")),
        r"annotations\[1\]: a second annotation of image_id 1",
    ),
    (
        "image without annotation",
        lambda d: d["images"].append({"id": 2, "file_name": "b.jpg", "height": 1, "width": 1}),
        r"image id 2 \(b\.jpg\) has no annotation",
    ),
    (
        "segments_info not a list",
        lambda d: d["annotations"][0].update(segments_info=5),
        r"annotations\[0\]\.segments_info: expected a list, got a number",
    ),
    (
        "segment without id",
        lambda d: d["annotations"][0]["segments_info"][0].pop("id"),
        r"annotations\[0\]\.segments_info\[0\]: no 'id'",
    ),
    (
        "segment id 0",
        lambda d: d["annotations"][0]["segments_info"][0].update(id=0),
        r"annotations\[0\]\.segments_info\[0\]\.id: segment id 0 is void",
    ),
    (
        "segment id past 24 bits",
        lambda d: d["annotations"][0]["segments_info"][0].update(id=1 << 24),
        r"annotations\[0\]\.segments_info\[0\]\.id: expected an integer from 1 to 16777215, got 16777216",
    ),
    (
        "segment id twice",
        lambda d: d["annotations"][0]["segments_info"].append({"id": 5, "category_id": 1}),
        r"annotations\[0\]\.segments_info: segment id 5 is listed twice",
    ),
    (
        "unknown category",
        lambda d: d["annotations"][0]["segments_info"][0].update(category_id=4),
        r"annotations\[0\]\.segments_info\[0\]\.category_id: 4 is not among the categories",
    ),
    (
        "category id twice",
        lambda d: d["categories"].append({"id": 3, "name": "again"}),
        r"categories\[4\]\.id: category id 3 is listed twice",
    ),
    ("category without name", lambda d: d["categories"][0].pop("name"), r"categories\[0\]: no 'name'"),
    (
        "one PNG for two images",
        lambda d: (
            d["images"].append({"id": 2, "file_name": "b.jpg", "height": 1, "width": 2}),
            d["annotations"].append({"image_id": 2, "file_name": "./a.png", "segments_info": []}),
        ),
        r"annotations\[1\]\.file_name: '\./a\.png' is the PNG of annotations\[0\] too",
    ),
    (
        "PNG outside the folder",
        lambda d: d["annotations"][0].update(file_name="../a.png"),
        r"annotations\[0\]\.file_name: '\.\./a\.png' is not a name inside the PNG folder",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [case[1:] for case in BAD_JSON], ids=[case[0] for case in BAD_JSON])
def test_bad_json_is_refused_naming_the_file_and_the_place(tmp_path: Path, mutate: Mutation, message: str) -> None:
    path, folder = write_one(tmp_path, np.array([[5, 0]]), [{"id": 5, "category_id": 3}])
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"panoptic\.json: " + message):
        fastweights.coco_panoptic(path, folder)


def test_files_that_are_not_annotations(tmp_path: Path) -> None:
    folder = tmp_path / "pngs"
    folder.mkdir()
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(InputError, match=r"a\.json: COCO annotations that are not JSON"):
        fastweights.coco_panoptic(tmp_path / "a.json", folder)
    (tmp_path / "a.json").write_text("[]")
    with pytest.raises(InputError, match=r"a\.json: COCO annotations are a JSON object, not a list"):
        fastweights.coco_category_names(tmp_path / "a.json")
    with pytest.raises(FileNotFoundError, match=r"b\.json: no such file"):
        fastweights.coco_panoptic(tmp_path / "b.json", folder)
    with pytest.raises(FileNotFoundError, match=r"nowhere: no such folder"):
        fastweights.coco_panoptic(tmp_path / "a.json", tmp_path / "nowhere")


def test_stack_axis_does_not_apply(tmp_path: Path) -> None:
    path, folder = write_one(tmp_path, np.array([[5, 0]]), [{"id": 5, "category_id": 3}])
    with pytest.raises(ValueError, match="stack_axis=0: COCO images are counted whole"):
        fastweights.count(fastweights.coco_panoptic(path, folder), stack_axis=0)
