"""Counts: addition, JSON round trips with exact integers, from_arrays, the published CamVid weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import CAMVID_IMAGES, CAMVID_MEDIAN, CAMVID_PIXELS, assert_same_statistics

import fastweights
from fastweights import Counts


def camvid() -> Counts:
    images = np.array(CAMVID_IMAGES, np.uint64)
    return Counts.from_arrays(pixels=CAMVID_PIXELS, images=images, image_pixels=images * 480 * 360, n_images=367)


def test_from_arrays_with_published_camvid_statistics_gives_the_published_median_weights() -> None:
    counts = camvid()
    assert counts.n_pixels == 367 * 480 * 360
    np.testing.assert_array_equal(np.round(counts.weights("median"), 4), CAMVID_MEDIAN)
    assert counts.class_weight_dict("median")[10] == pytest.approx(8.1365, abs=5e-5)


def test_real_camvid_statistics_in_shared_data_readme_match(real_data: Path) -> None:
    """Guards the constants above against the published reference shipped with the data."""
    text = (real_data / "README.md").read_text()
    assert " ".join(map(str, CAMVID_PIXELS)) in text
    assert " ".join(map(str, CAMVID_IMAGES)) in text
    assert " ".join(f"{w:.4f}" for w in CAMVID_MEDIAN) in text


def sample(seed: int, per_image: bool = True) -> Counts:
    rng = np.random.default_rng(seed)
    return fastweights.count(
        [rng.integers(0, 4 + seed, (7, 9)).astype(np.uint8) for _ in range(3)], per_image=per_image
    )


def test_counts_add_like_one_count_over_all_inputs() -> None:
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 6, (10, 10)).astype(np.uint8) for _ in range(6)]
    images[4][:] = 9  # the second half has classes the first lacks
    first, second = fastweights.count(images[:3], per_image=True), fastweights.count(images[3:], per_image=True)
    together = fastweights.count(images, per_image=True)
    # Array names are positions within one call, so compare everything but the names.
    for added in (first + second, sum([first, second])):
        assert_same_statistics(added, together)
        assert added.num_classes == 10 and added.params == first.params
    assert (first + second).sources == first.sources + second.sources


def test_counts_with_different_settings_do_not_add() -> None:
    a = fastweights.count(np.zeros(4, np.uint8), ignore_index=255)
    b = fastweights.count(np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"different ignore_index: \[255\] and \[\]"):
        a + b


def test_save_and_load_keep_exact_integers_beyond_float_precision(tmp_path: Path) -> None:
    huge = 2**64 - 1  # the largest uint64: a float or an int64 would change it
    counts = Counts(
        pixels=np.array([huge, 2**53 + 1, 0], np.uint64),
        images=np.array([2, 1, 0], np.uint64),
        image_pixels=np.array([huge, huge, 0], np.uint64),
        n_images=2,
        n_pixels=huge + 2**53 + 1,
        ignored=2**60 + 3,
        per_image=np.array([[huge, 0, 0], [0, 2**53 + 1, 0]], np.uint64),
        sources=("a.npy", "b.npy"),
        params={"num_classes": 3, "ignore_index": [255], "stack_axis": None, "version": fastweights.__version__},
    )
    path = tmp_path / "counts.json"
    counts.save(path)
    loaded = Counts.load(path)
    assert loaded == counts
    assert int(loaded.pixels[0]) == huge and loaded.n_pixels == huge + 2**53 + 1
    data = json.loads(path.read_text())
    assert data["format"] == "fastweights.counts" and data["format_version"] == 2


def test_a_real_count_round_trips(tmp_path: Path) -> None:
    counts = sample(2)
    counts.save(tmp_path / "c.json")
    assert Counts.load(tmp_path / "c.json") == counts


def test_loading_something_else_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text('{"format": "something"}')
    with pytest.raises(ValueError, match=r"other\.json: not a fastweights Counts file"):
        Counts.load(tmp_path / "other.json")
    data = sample(0).to_dict()
    data["format_version"] = 99
    (tmp_path / "future.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="format version 99"):
        Counts.load(tmp_path / "future.json")
    data["format_version"] = 1
    data["pixels"] = [1, -2]
    (tmp_path / "damaged.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"damaged\.json: damaged Counts file"):
        Counts.load(tmp_path / "damaged.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ValueError, match="not JSON"):
        Counts.load(tmp_path / "text.json")


def test_inconsistent_statistics_are_refused() -> None:
    with pytest.raises(ValueError, match="image_pixels: class 0 has fewer image pixels than pixels"):
        Counts.from_arrays(pixels=[10, 5], images=[1, 1], image_pixels=[5, 5], n_images=1)
    with pytest.raises(ValueError, match="images: a class is in 3 images, but n_images=2"):
        Counts.from_arrays(pixels=[10, 5], images=[3, 1], n_images=2)
    with pytest.raises(ValueError, match="images: class 1 has pixels but is in no image"):
        Counts.from_arrays(pixels=[10, 5], images=[1, 0])
    with pytest.raises(ValueError, match="images: 3 entries, expected one per class"):
        Counts.from_arrays(pixels=[10, 5], images=[1, 1, 1])


def test_repr_is_a_readable_summary() -> None:
    text = repr(camvid())
    assert text.startswith("Counts(12 classes, 367 images, 63,417,600 pixels, 0 ignored)")
    assert "14,750,079" in text and "23.26%" in text


def test_weights_and_pos_weight_from_counts() -> None:
    binary = fastweights.count(np.array([0] * 900 + [1] * 100, np.uint8))
    np.testing.assert_allclose(binary.pos_weight(), [9.0])
    counts = fastweights.count(np.array([0, 0, 0, 2], np.uint8), num_classes=4)
    assert counts.weights("inverse").tolist() == [4 / 3, 0.0, 4.0, 0.0]
    assert counts.weights("inverse", absent="max").tolist() == [4 / 3, 4.0, 4.0, 4.0]
    with pytest.raises(ValueError, match=r"classes with no pixels: \[1, 3\]"):
        counts.weights("inverse", absent="error")


@pytest.mark.parametrize(
    ("setting", "mine", "theirs"),
    [("num_classes", 4, None), ("stack_axis", 0, None), ("colormap", "voc", "camvid"), ("ignore_index", [255], [])],
)
def test_counts_made_with_any_other_setting_do_not_add(setting: str, mine: object, theirs: object) -> None:
    a, b = Counts.from_arrays(pixels=[1, 2]), Counts.from_arrays(pixels=[3, 4])
    a.params[setting], b.params[setting] = mine, theirs
    with pytest.raises(
        ValueError,
        match=rf"cannot add Counts made with different {setting}: {mine!r} and {theirs!r}".replace("[", r"\["),
    ):
        a + b
