"""Class names: the built-in lists against their official sources, names files, and the names a
Counts keeps through JSON and addition."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastweights import Counts
from fastweights.model.class_names import BUILTIN_NAMES, read_names_file, resolve_class_names, warn_if_mismatched


# Spot values written from the sources, not from the module: cityscapesScripts
# cityscapesscripts/helpers/labels.py (name of each trainId), mmsegmentation mmseg/datasets/voc.py
# and ade.py (METAINFO classes), SegNet-Tutorial Scripts/test_segmentation_camvid.py (label_colours).
@pytest.mark.parametrize(
    ("name", "length", "spots"),
    [
        ("cityscapes", 19, {0: "road", 6: "traffic light", 7: "traffic sign", 10: "sky", 12: "rider", 18: "bicycle"}),
        ("voc", 21, {0: "background", 1: "aeroplane", 11: "diningtable", 15: "person", 20: "tvmonitor"}),
        ("camvid", 11, {0: "Sky", 4: "Pavement", 6: "SignSymbol", 9: "Pedestrian", 10: "Bicyclist"}),
        ("ade20k", 150, {0: "wall", 7: "bed", 12: "person", 44: "chest of drawers", 100: "poster", 149: "flag"}),
    ],
)
def test_builtin_lists_match_their_sources(name: str, length: int, spots: dict[int, str]) -> None:
    names = resolve_class_names(name)
    assert names is not None and len(names) == length
    assert {c: names[c] for c in spots} == spots
    assert resolve_class_names(name.upper()) == names
    assert all(entry == entry.strip() and entry for entry in names)


def test_builtin_colormaps_name_their_classes_from_the_same_lists() -> None:
    from fastweights.io.colormaps import BUILTIN

    assert BUILTIN["cityscapes"][1] == BUILTIN_NAMES["cityscapes"]
    assert BUILTIN["voc"][1] == BUILTIN_NAMES["voc"]
    assert BUILTIN["camvid"][1] == (*BUILTIN_NAMES["camvid"], "Unlabelled")  # label 11, black


def test_a_file_of_one_name_per_line_keeps_spaces_and_skips_blanks_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("# CamVid, SegNet's order\nSky\n\n  traffic light  \nSign#Symbol\n", encoding="utf-8")
    assert read_names_file(path) == ("Sky", "traffic light", "Sign#Symbol")
    assert resolve_class_names(str(path)) == resolve_class_names(path) == ("Sky", "traffic light", "Sign#Symbol")


def test_a_file_of_id_name_lines_is_read_by_id(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text(
        '# id name category\n2 building construction\n0 road flat\n1\tsidewalk\tflat\n5 "traffic light" object\n',
        encoding="utf-8",
    )
    assert read_names_file(path) == ("road", "sidewalk", "building", "", "", "traffic light")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 road\n0 sidewalk\n", r"line 2: class 0 named twice"),
        ("-1 license plate\n0 road\n", r"line 1: a negative class id"),
        ("0 road\n1 'unclosed\n", r"line 2: No closing quotation"),
    ],
)
def test_bad_id_lines_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"class_names {path}, {message}"):
        read_names_file(path)


def test_names_arguments_that_are_not_names_are_refused(tmp_path: Path) -> None:
    assert resolve_class_names(None) is None
    assert resolve_class_names(["a", "b"]) == ("a", "b")
    with pytest.raises(TypeError, match=r"class_names: 3 is not a str"):
        resolve_class_names(["a", 3])
    with pytest.raises(TypeError, match=r"class_names=5: expected a list of str, a names file or a built-in list"):
        resolve_class_names(5)
    with pytest.raises(FileNotFoundError, match=r"--class-names nope\.txt: no such file \(built-in lists: cityscapes"):
        resolve_class_names("nope.txt", "--class-names")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"not a UTF-8 text file"):
        resolve_class_names(tmp_path / "binary.txt")


def test_a_number_of_names_other_than_the_classes_is_a_warning_with_both_numbers() -> None:
    with pytest.warns(UserWarning, match=r"19 class names for 20 classes: class 19 has no name"):
        warn_if_mismatched(BUILTIN_NAMES["cityscapes"], 20)
    with pytest.warns(UserWarning, match=r"21 class names for 3 classes: the last 18 names name no class"):
        warn_if_mismatched(BUILTIN_NAMES["voc"], 3)
    with pytest.warns(UserWarning, match=r"2 class names for 5 classes: classes 2 to 4 have no name"):
        warn_if_mismatched(("a", "b"), 5)
    warn_if_mismatched(("a", "b"), 2)  # as many: no warning (pytest turns one into an error)


def named(names: tuple[str, ...], pixels: list[int] | None = None) -> Counts:
    return Counts.from_arrays(pixels=pixels or [3, 0, 5], class_names=names)


def test_names_travel_through_json_and_files(tmp_path: Path) -> None:
    counts = named(("road", "traffic light"))
    data = json.loads(json.dumps(counts.to_dict()))
    assert data["class_names"] == ["road", "traffic light"]
    assert Counts.from_dict(data).class_names == ("road", "traffic light")
    counts.save(tmp_path / "c.json")
    assert Counts.load(tmp_path / "c.json") == counts
    assert Counts.load(tmp_path / "c.json").class_names == ("road", "traffic light")
    assert Counts.from_dict(data) != named(("road", "sidewalk"))


def test_files_written_before_names_load_with_none() -> None:
    data = named(("a", "b", "c")).to_dict()
    del data["class_names"]
    assert data["format_version"] == 2
    assert Counts.from_dict(data).class_names == ()


def test_damaged_names_in_a_file_are_refused() -> None:
    data = named(("a",)).to_dict()
    data["class_names"] = ["a", 7]
    with pytest.raises(ValueError, match=r"counts: damaged Counts file .*7 is not a str"):
        Counts.from_dict(data)


def test_names_are_kept_across_addition_or_refused_when_they_differ() -> None:
    assert (named(("a", "b", "c")) + named(("a", "b", "c"))).class_names == ("a", "b", "c")
    assert (named(()) + named(("a", "b", "c"))).class_names == ("a", "b", "c")
    assert (named(("a", "b", "c")) + named(())).class_names == ("a", "b", "c")
    assert sum([named(()), named(())]).class_names == ()
    with pytest.raises(ValueError, match=r"different class names: 3 names and 3, class 1 is 'b' and 'car'"):
        named(("a", "b", "c")) + named(("a", "car", "c"))
    with pytest.raises(ValueError, match=r"different class names: 2 names and 3, class 2 is unnamed and 'c'"):
        named(("a", "b")) + named(("a", "b", "c"))


def test_names_are_strs_and_the_repr_shows_them() -> None:
    with pytest.raises(TypeError, match=r"class_names='abc': expected a sequence of str"):
        named("abc")  # type: ignore[arg-type]
    text = repr(named(("road", "traffic light"), [3, 0, 5]))
    rows = text.splitlines()[1:]
    assert rows[0].split() == ["class", "name", "pixels", "share", "images"]
    assert rows[1].split()[:3] == ["0", "road", "3"] and rows[2].split()[:4] == ["1", "traffic", "light", "0"]
    assert rows[3].split()[:2] == ["2", "5"]  # past the names: no name
    assert "name" not in repr(named(())).splitlines()[1]
    np.testing.assert_array_equal(named(("a",)).pixels, [3, 0, 5])
