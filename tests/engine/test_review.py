"""What a finished count warns of, once, from its classes: label 255 beside a few classes, masks of 0
and 255 only, a sample without num_classes, class names that do not match the classes."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import stop_after

import fastweights
from fastweights.errors import InputError, Interrupted

VOID = r"label 255 \(\d[\d,]* pixels?\) was counted as class 255, beside classes up to"
BINARY = r"the labels are 0 and 255 only"


def masks(*labels: int, dtype: str = "uint8") -> list[np.ndarray]:
    """Two masks holding `labels` between them (each label 3 pixels)."""
    values = np.repeat(np.array(labels, dtype), 3)
    return [values[: values.size // 2].reshape(1, -1), values[values.size // 2 :].reshape(1, -1)]


def no_warning(inputs: list[np.ndarray], **options: object) -> fastweights.Counts:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fastweights.count(inputs, **options)


def test_255_beside_a_few_classes_warns_once_naming_the_option() -> None:
    with pytest.warns(UserWarning) as record:
        counts = fastweights.count(masks(0, 1, 2, 255) * 20, threads=2)
    assert len(record) == 1  # once per count, not per input
    message = str(record[0].message)
    assert "label 255 (60 pixels) was counted as class 255, beside classes up to 2 only" in message
    assert "256 entries, 252 of them for empty classes" in message
    assert "ignore_index=255 (--ignore-index 255)" in message and "num_classes=256" in message
    assert record[0].filename == __file__  # points at the call of count()
    assert counts.num_classes == 256  # the warning changes nothing


@pytest.mark.parametrize(
    ("labels", "warned"),
    [
        ((0, 100, 255), True),  # the largest class the rule reads as "a few"
        ((7, 255), True),
        ((0, 101, 255), False),  # a label from 101 to 254: 255 may well be a class
        ((0, 1, 254, 255), False),
        ((0, 1, 2), False),  # no 255
        ((0, 1, 255, 300), False),  # labels past 255: 255 is one class among many
    ],
)
def test_the_255_rule(labels: tuple[int, ...], warned: bool) -> None:
    inputs = masks(*labels, dtype="uint16")
    if warned:
        with pytest.warns(UserWarning, match=VOID):
            fastweights.count(inputs)
    else:
        assert no_warning(inputs).num_classes == max(labels) + 1


def test_either_option_says_what_255_is_and_silences_the_warning() -> None:
    assert no_warning(masks(0, 1, 255), ignore_index=255).num_classes == 2
    assert no_warning(masks(0, 1, 255), ignore_index=[0, 7]).num_classes == 256
    assert no_warning(masks(0, 1, 255), num_classes=256).num_classes == 256


@pytest.mark.parametrize("labels", [(0, 255), (255,)])
def test_masks_of_0_and_255_only_name_both_readings(labels: tuple[int, ...]) -> None:
    with pytest.warns(UserWarning, match=BINARY) as record:
        fastweights.count(masks(*labels))
    message = str(record[0].message)
    assert "binary masks saved as 0/255, 255 is the foreground class" in message
    assert "if 255 marks void pixels, pass ignore_index=255 (--ignore-index 255)" in message
    assert "num_classes=256" in message


def test_binary_masks_counted_as_classes_0_and_1_do_not_warn() -> None:
    assert no_warning(masks(0, 1)).num_classes == 2
    assert no_warning([np.array([[True, False]])]).num_classes == 2


def test_a_negative_label_is_an_error_that_names_ignore_index_not_a_warning() -> None:
    with pytest.raises(
        InputError, match=r"negative label -1 \(3 pixels\); if it marks unlabelled pixels, pass ignore_index=-1"
    ):
        fastweights.count(masks(0, 1, -1, dtype="int16"))


def test_a_sample_without_num_classes_warns_that_it_cannot_know_the_classes_it_missed() -> None:
    inputs = [np.full((2, 2), c % 3, np.uint8) for c in range(12)]
    with pytest.warns(UserWarning, match=r"a sample of 6 of 12 inputs, and no num_classes: .* pass num_classes="):
        counts = fastweights.count(inputs, sample=0.5)
    assert counts.is_estimate


def test_with_num_classes_a_sample_has_a_weight_for_every_class() -> None:
    inputs = [np.full((2, 2), c % 3, np.uint8) for c in range(12)]
    inputs[5][0, 0] = 6  # one input with class 6; the sample of 2 may or may not draw it
    for seed in range(4):
        counts = no_warning(inputs, sample=2, seed=seed, num_classes=10)
        assert counts.num_classes == 10 and counts.per_image_sparse is not None
        with pytest.warns(UserWarning, match=r"never seen in the sample of 2 inputs"):
            weights = counts.weights("median")
        assert weights.shape == (10,) and weights.low.shape == (10,)
        assert np.isnan(weights.low[9]) and weights[9] == 0  # never seen: the absent policy's weight


def test_class_names_reach_the_counts_and_a_wrong_number_of_them_warns() -> None:
    inputs = masks(0, 1, 2)
    assert no_warning(inputs, class_names=["sky", "road", "car"]).class_names == ("sky", "road", "car")
    with pytest.warns(UserWarning, match=r"21 class names for 3 classes"):
        counts = fastweights.count(inputs, class_names="voc")
    assert counts.class_names[:3] == ("background", "aeroplane", "bicycle")
    with pytest.warns(UserWarning, match=r"2 class names for 3 classes: class 2 has no name"):
        fastweights.count(inputs, class_names=["sky", "road"])
    assert no_warning(inputs).class_names == ()
    with pytest.raises(TypeError, match=r"class_names: 1 is not a str"):
        fastweights.count(inputs, class_names=["sky", 1])


def test_a_builtin_colormap_names_the_classes_unless_names_are_given() -> None:
    rgb = np.array([[[128, 128, 128], [128, 0, 0], [0, 0, 0]]], np.uint8)  # CamVid: Sky, Building, Unlabelled
    counts = no_warning([rgb], colormap="camvid", num_classes=12)
    assert counts.class_names[:2] == ("Sky", "Building") and counts.class_names[11] == "Unlabelled"
    with pytest.warns(UserWarning, match=r"11 class names for 12 classes: class 11 has no name"):
        counts = fastweights.count([rgb], colormap="camvid", num_classes=12, class_names="camvid")
    assert counts.class_names[-1] == "Bicyclist"


def test_names_do_not_change_what_a_checkpoint_or_the_cache_holds(tmp_path: Path) -> None:
    folder = tmp_path / "masks"
    folder.mkdir()
    for position in range(4):
        np.save(folder / f"{position}.npy", np.full((3, 3), position % 3, np.uint8))
    state, cache = tmp_path / "state.json", tmp_path / "cache.sqlite"
    first = no_warning([str(folder)], threads=1, cache=cache, class_names=["a", "b", "c"])
    with pytest.raises(Interrupted):
        no_warning([str(folder)], threads=1, checkpoint=state, class_names=["a", "b", "c"], progress=stop_after(2))
    again = no_warning([str(folder)], checkpoint=state, cache=cache, class_names=["x", "y", "z"])
    assert again.params["resumed"] >= 2 and again.class_names == ("x", "y", "z")
    assert again.params["cache"]["reused"] >= 1
    assert again.pixels.tolist() == first.pixels.tolist()
    with pytest.raises(Interrupted):
        no_warning([str(folder)], threads=1, checkpoint=state, class_names=["a", "b", "c"], progress=stop_after(2))
    with pytest.raises(
        ValueError, match=r"this checkpoint was made with ignore_index=\[\], this count has ignore_index=\[0\]"
    ):
        fastweights.count([str(folder)], checkpoint=state, ignore_index=0, class_names=["a", "b", "c"])
    cached = no_warning([str(folder)], cache=cache, class_names=["p", "q", "r"])
    assert cached.params["cache"] == {"reused": 4, "counted": 0}
