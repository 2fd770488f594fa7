"""`fastweights count --label-map NAME|FILE --reduce-zero-label`: the count's map, errors named by flag."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics
from label_map_oracles import cityscapes_oracle, reduce_oracle

import fastweights
from fastweights import Counts
from fastweights.cli import main


@pytest.fixture
def masks(tmp_path: Path) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    images = [rng.choice(np.arange(-1, 34), size=(10, 12)).astype(np.int16) for _ in range(3)]
    for index, image in enumerate(images):
        np.save(tmp_path / f"m{index}.npy", image)
    return images


def test_label_map_flags_reach_the_count(tmp_path: Path, masks: list[np.ndarray], capsys) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "out.json"
    assert main(["count", str(tmp_path), "--label-map", "cityscapes", "--per-image", "-q", "-o", str(saved)]) == 0
    counts = Counts.load(saved)
    assert counts.params["label_map"] == "cityscapes" and counts.num_classes == 19
    assert_same_statistics(counts, cityscapes_oracle(masks))
    capsys.readouterr()
    table = tmp_path / "map.json"
    table.write_text(json.dumps({str(label): 0 if label < 20 else 1 for label in range(-1, 34)}))
    assert main(["count", str(tmp_path), "--label-map", str(table), "-q", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pixels"] == [
        int(sum((image < 20).sum() for image in masks)),
        int(sum((image >= 20).sum() for image in masks)),
    ]
    assert data["params"]["label_map"][0] == [-1, 0]


def test_reduce_zero_label_flag(tmp_path: Path) -> None:
    images = [np.array([[0, 1, 2, 255], [3, 3, 3, 0]], np.uint8), np.array([[9, 9, 255, 1]], np.uint8)]
    for index, image in enumerate(images):
        np.save(tmp_path / f"r{index}.npy", image)
    saved = tmp_path / "out.json"
    assert main(["count", str(tmp_path), "--reduce-zero-label", "--per-image", "-q", "-o", str(saved)]) == 0
    counts = Counts.load(saved)
    assert counts.params["reduce_zero_label"] is True
    assert_same_statistics(counts, reduce_oracle(images))
    # both: the map first, then mmseg's reduction of its trainIds (0 ignored, k -> k - 1)
    cityscapes = [np.array([[7, 8, 26, -1, 0]], np.int16)]
    np.save(tmp_path / "c.npy", cityscapes[0])
    assert (
        main(
            [
                "count",
                str(tmp_path / "c.npy"),
                "--label-map",
                "cityscapes",
                "--reduce-zero-label",
                "-q",
                "-o",
                str(saved),
            ]
        )
        == 0
    )
    both = Counts.load(saved)
    assert (both.num_classes, both.pixels.tolist(), both.ignored) == (18, [1] + [0] * 11 + [1] + [0] * 5, 3)


def test_label_map_errors_name_the_flags(tmp_path: Path, masks: list[np.ndarray], capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["count", str(tmp_path), "--label-map", "nosuchmap"]) == 2
    assert "--label-map 'nosuchmap': not a built-in map (cityscapes, compact)" in capsys.readouterr().err
    assert main(["count", str(tmp_path), "--label-map", "compact", "--num-classes", "4"]) == 2
    assert "--label-map 'compact' and --num-classes" in capsys.readouterr().err
    bad = tmp_path / "label_map.json"
    bad.write_text('{"1": 40}')
    assert main(["count", str(tmp_path), "--label-map", str(bad), "--num-classes", "19"]) == 2
    err = capsys.readouterr().err
    assert "--label-map: label 1 maps to 40, not a class id below --num-classes=19" in err
    assert "map it to an --ignore-index value" in err
    bad.write_text("{not json")
    assert main(["count", str(tmp_path), "--label-map", str(bad)]) == 2
    assert f"--label-map file {bad}: not JSON" in capsys.readouterr().err  # the path itself left as it is
    # an unmapped label is bad data (exit 1), named with the file
    masks[1][0, 0] = 77
    np.save(tmp_path / "m1.npy", masks[1])
    assert main(["count", str(tmp_path), "--label-map", "cityscapes"]) == 1
    assert f"{tmp_path / 'm1.npy'}: label 77 (1 pixels) is not in the cityscapes label map" in capsys.readouterr().err
    assert fastweights.count(tmp_path, label_map="cityscapes", ignore_index=77).ignored > 0


def test_compact_counts_show_each_class_s_label_in_the_table_and_csv(tmp_path: Path) -> None:
    from fastweights.api.export import counts_csv
    from fastweights.api.table import format_table

    counts = fastweights.count([np.array([[5, 70_000, 70_000, 9]], np.int32)], label_map="compact")
    rows = [line.split() for line in format_table(counts).splitlines()]
    assert rows[0][:3] == ["class", "label", "name"]
    assert [row[:3] for row in rows[2:5]] == [["0", "5", "1"], ["1", "9", "1"], ["2", "70000", "2"]]
    assert rows[6][:2] == ["total", "4"] and rows[7][:2] == ["ignored", "0"]
    lines = counts_csv(counts).splitlines()
    assert lines[0].startswith("class,label,name,pixels") and lines[3].startswith("2,70000,,2,")
    assert "label" not in format_table(fastweights.count([np.zeros((2, 2), np.uint8)])).splitlines()[0]
