"""Label maps resolved from every form count() takes (docs/label-maps.md), checked against the
official tables, and the Counts they make: recorded in params, saved and loaded, added only to
Counts of the same map, "compact" Counts added by label id."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from label_map_oracles import OFFICIAL_CITYSCAPES, compact_oracle

import fastweights
from fastweights import Counts
from fastweights.engine.settings import MAX_CLASSES
from fastweights.model.label_maps import resolve_label_map


def resolve(spec: object, reduce: bool = False, ignore: tuple[int, ...] = (), num_classes: int | None = None):  # type: ignore[no-untyped-def]
    return resolve_label_map(spec, reduce, ignore, num_classes, MAX_CLASSES)


def test_cityscapes_is_the_official_table() -> None:
    # The table's trainIds 255 and -1 are exactly the rows it leaves out of evaluation.
    assert all(ignore == (train in (255, -1)) for _, train, ignore in OFFICIAL_CITYSCAPES)
    resolved = resolve("cityscapes")
    assert resolved is not None and resolved.num_classes == 19 and resolved.folds
    labels = np.array([label for label, _, _ in OFFICIAL_CITYSCAPES] + [34, 255, -2])
    targets, ignored, named = resolved.lookup(labels)
    for position, (_, train, ignore) in enumerate(OFFICIAL_CITYSCAPES):
        assert named[position] and ignored[position] == ignore
        if not ignore:
            assert targets[position] == train
    assert not named[-3:].any()  # ids the table does not list


def test_reduce_zero_label_is_mmsegmentations_three_lines() -> None:
    resolved = resolve(None, reduce=True)
    assert resolved is not None and resolved.num_classes is None
    labels = np.arange(-1, 258)
    targets, ignored, named = resolved.lookup(labels)
    gt = np.arange(256).astype(np.uint8)  # mmseg/datasets/transforms/loading.py, LoadAnnotations
    gt[gt == 0] = 255
    gt = gt - 1
    gt[gt == 254] = 255
    inside = (labels >= 0) & (labels <= 255)
    np.testing.assert_array_equal(named, inside)
    np.testing.assert_array_equal(ignored[inside], gt == 255)
    np.testing.assert_array_equal(targets[inside][gt != 255], gt[gt != 255])


def test_dicts_tables_arrays_and_json_files_resolve_alike(tmp_path: Path) -> None:
    table = [3, 3, 0, 255, 1]
    as_dict = {index: target for index, target in enumerate(table)}
    (tmp_path / "list.json").write_text(json.dumps(table))
    (tmp_path / "object.json").write_text(json.dumps({str(key): value for key, value in as_dict.items()}))
    forms = [
        table,
        tuple(table),
        np.array(table, np.int16),
        as_dict,
        tmp_path / "list.json",
        str(tmp_path / "object.json"),
    ]
    for form in forms:
        resolved = resolve(form, ignore=(255,))
        assert resolved is not None
        np.testing.assert_array_equal(resolved.sources, np.arange(5))
        np.testing.assert_array_equal(resolved.ignored, [False, False, False, True, False])
        np.testing.assert_array_equal(resolved.targets[~resolved.ignored], [3, 3, 0, 1])
        assert resolved.num_classes == 4 and resolved.describe() == [[s, t] for s, t in enumerate(table)]
        assert pickle.loads(pickle.dumps(resolved)).identity() == resolved.identity()


@pytest.mark.parametrize(
    ("spec", "error", "pattern"),
    [
        (3.5, TypeError, r"label_map=3\.5: expected a dict"),
        ("nosuchmap", ValueError, r"label_map='nosuchmap': not a built-in map \(cityscapes, compact\)"),
        ({1: "a"}, TypeError, r"label_map: target label 'a' is not an integer"),
        ({"1": 2}, TypeError, r"label_map: source label '1' is not an integer"),
        ({True: 2}, TypeError, r"label_map: source label True"),
        ([0, 1.5], TypeError, r"label_map: target label 1\.5"),
        (np.zeros((2, 2), np.int64), TypeError, r"label_map: a look-up table must be a 1-D integer array"),
        (np.array([0.0, 1.0]), TypeError, r"label_map: a look-up table must be a 1-D integer array"),
        ({}, ValueError, r"label_map: the map is empty"),
        ({1: -5}, ValueError, r"label_map: label 1 maps to -5, not a class id"),
        ({1: MAX_CLASSES}, ValueError, r"label_map: label 1 maps to 16777216"),
    ],
)
def test_wrong_maps_name_label_map(spec: object, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        fastweights.count(np.zeros((2, 2), np.uint8), label_map=spec)


def test_wrong_files_and_combinations(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"label_map file .*bad\.json: not JSON"):
        resolve(tmp_path / "bad.json")
    (tmp_path / "keys.json").write_text('{"one": 2}')
    with pytest.raises(ValueError, match=r"label_map file .*keys\.json: source label 'one' is not an integer"):
        resolve(tmp_path / "keys.json")
    (tmp_path / "number.json").write_text("7")
    with pytest.raises(TypeError, match=r"label_map file .*number\.json: expected an object"):
        resolve(tmp_path / "number.json")
    with pytest.raises(ValueError, match=r"label 9 maps to 9, not a class id below num_classes=5"):
        resolve({9: 9}, num_classes=5)
    with pytest.raises(ValueError, match="label_map='compact' and num_classes"):
        resolve("compact", num_classes=5)
    with pytest.raises(ValueError, match=r"with reduce_zero_label: target 300 is outside 0\.\.255"):
        resolve({1: 300}, reduce=True)
    with pytest.raises(TypeError, match="reduce_zero_label='yes'"):
        fastweights.count(np.zeros((2, 2), np.uint8), reduce_zero_label="yes")  # type: ignore[arg-type]
    assert resolve(None) is None


def test_targets_equal_to_an_ignore_index_are_ignored() -> None:
    image = np.array([[1, 1, 2, 3]], np.int32)
    counts = fastweights.count(image, label_map={1: 0, 2: 7, 3: 0}, ignore_index=7)
    assert counts.pixels.tolist() == [3] and counts.ignored == 1
    # num_classes is of the targets: 8 classes from labels up to 3
    counts = fastweights.count(image, label_map={1: 0, 2: 7, 3: 0}, num_classes=8)
    assert counts.num_classes == 8 and counts.pixels[7] == 1


# ---- Counts of a map ---------------------------------------------------------------------------


def sparse_ids(seed: int, ids: list[int]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.choice(ids, size=(6, 7)).astype(np.int32) for _ in range(4)]


def test_compact_renumbers_the_labels_met(tmp_path: Path) -> None:
    images = sparse_ids(0, [5, 70_000, 123_456, 9, 255])
    counts = fastweights.count(images, label_map="compact", ignore_index=255, per_image=True)
    expected, ids = compact_oracle(images, ignore=(255,))
    assert counts.num_classes == 4 and counts.params["label_map"] == "compact"
    np.testing.assert_array_equal(counts.label_ids, ids)
    np.testing.assert_array_equal(counts.per_image, expected.per_image)
    np.testing.assert_array_equal(counts.pixels, expected.pixels)
    np.testing.assert_array_equal(counts.image_pixels, expected.image_pixels)
    assert counts.ignored == expected.ignored
    counts.save(tmp_path / "c.json")
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["format_version"] == 4 and saved["label_ids"] == ids.tolist()
    loaded = Counts.load(tmp_path / "c.json")
    assert loaded == counts
    np.testing.assert_array_equal(loaded.label_ids, ids)
    assert pickle.loads(pickle.dumps(counts)) == counts


def test_compact_counts_add_by_label_id() -> None:
    first, second = sparse_ids(1, [3, 40, 900]), sparse_ids(2, [40, 7, 5000, 900])
    a = fastweights.count(first, label_map="compact", per_image=True)
    b = fastweights.count(second, label_map="compact", per_image=True)
    total = a + b
    expected, ids = compact_oracle(first + second)
    np.testing.assert_array_equal(total.label_ids, ids)  # [3, 7, 40, 900, 5000]
    np.testing.assert_array_equal(total.pixels, expected.pixels)
    np.testing.assert_array_equal(total.images, expected.images)
    np.testing.assert_array_equal(total.image_pixels, expected.image_pixels)
    np.testing.assert_array_equal(total.per_image, expected.per_image)
    assert total.sources == a.sources + b.sources and total.params["label_map"] == "compact"
    assert (total.n_images, total.n_pixels) == (8, 8 * 42)
    assert sum([a, b]) == total


def test_maps_are_recorded_and_counts_of_other_maps_do_not_add(tmp_path: Path) -> None:
    image = np.array([[7, 8, 0]], np.int16)
    city = fastweights.count(image, label_map="cityscapes")
    table = fastweights.count(image, label_map={7: 0, 8: 1, 0: 255}, ignore_index=255)
    plain = fastweights.count(image)
    assert city.params["label_map"] == "cityscapes" and city.params["reduce_zero_label"] is False
    assert table.params["label_map"] == [[0, 255], [7, 0], [8, 1]]
    assert plain.params["label_map"] is None
    city.save(tmp_path / "city.json")
    assert Counts.load(tmp_path / "city.json").params["label_map"] == "cityscapes"
    with pytest.raises(ValueError, match=r"different label_map: 'cityscapes' and None"):
        city + plain
    with pytest.raises(ValueError, match=r"different label_map: 'cityscapes' and \[\[0, 255\]"):
        city + table.__class__.from_dict({**table.to_dict(), "params": {**table.params, "ignore_index": []}})
    reduced = fastweights.count(image.astype(np.uint8), reduce_zero_label=True)
    with pytest.raises(ValueError, match=r"different reduce_zero_label: True and False"):
        reduced + plain
    compact = fastweights.count(image, label_map="compact")
    with pytest.raises(ValueError, match="different label_map: 'compact' and None"):
        compact + plain
    twice = fastweights.count([image, image], label_map="cityscapes")
    assert (city + city).to_dict()["pixels"] == twice.to_dict()["pixels"] == [2, 2] + [0] * 17
    assert (city.pixels.tolist(), city.ignored) == ([1, 1] + [0] * 17, 1)


def test_older_counts_files_still_load(tmp_path: Path) -> None:
    counts = fastweights.count(np.array([[1, 2, 2]], np.uint8), per_image=True)
    data = counts.to_dict()
    assert data["format_version"] == 2 and "label_ids" not in data
    loaded = Counts.from_dict(data)
    assert loaded == counts and loaded.label_ids is None
