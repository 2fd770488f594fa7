"""`fastweights count --coco-panoptic / --coco-instances`: the same counts as the Python API's
references, the category names in the table, and the usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from coco_helpers import instance_labels, write_instances, write_panoptic
from helpers import numpy_counts

from fastweights.cli import main

pil = pytest.importorskip("PIL.Image")


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_panoptic_and_instances_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pycocotools.mask")
    panoptic, folder, _, panoptic_labels = write_panoptic(tmp_path, seed=7, n_images=2)
    instances = write_instances(tmp_path, seed=7, n_images=3)
    expected = numpy_counts([*instance_labels(instances, include_crowd=False), *panoptic_labels], ignore=(-1,))
    saved = tmp_path / "counts.json"
    code, out, err = run(
        capsys,
        "count",
        "--coco-instances",
        instances,
        "--coco-no-crowd",
        "--coco-panoptic",
        panoptic,
        folder,
        "-q",
        "-o",
        saved,
    )
    assert code == 0, err
    saved_counts = json.loads(saved.read_text())
    assert saved_counts["pixels"] == expected.pixels.tolist() and saved_counts["ignored"] == expected.ignored
    # the table names the categories by their id, from both JSONs
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0].isdigit()}
    assert "person" in rows["1"] and "category 7" in rows["7"] and "rug-merged" in rows["200"]


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["count"])
    assert exit_info.value.code == 2
    assert "give the masks to count: PATH(s), --coco-panoptic or --coco-instances" in capsys.readouterr().err
    code, _, err = run(capsys, "count", tmp_path, "--coco-no-crowd")
    assert code == 2 and "--coco-no-crowd goes with --coco-instances" in err


def test_bad_annotations_are_one_line_bad_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": "1"}]}))
    code, _, err = run(capsys, "count", "--coco-instances", tmp_path / "a.json")
    assert code == 1 and err.count("\n") == 1
    assert 'a.json: categories[0].id: expected an integer from 0 to 16777215, got "1"' in err
    code, _, err = run(capsys, "count", "--coco-panoptic", tmp_path / "missing.json", tmp_path)
    assert code == 1 and "missing.json: no such file" in err


def test_categories_named_differently_need_class_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, category in (("a", "cat"), ("b", "dog")):
        data = {"images": [], "annotations": [], "categories": [{"id": 1, "name": category}]}
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    code, _, err = run(
        capsys, "count", "--coco-instances", tmp_path / "a.json", "--coco-instances", tmp_path / "b.json"
    )
    assert code == 2 and "category 1 is 'dog', and 'cat' in other COCO annotations" in err
