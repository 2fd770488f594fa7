"""Real masks (../shared/data) through fastweights.count: every folder of formats/, the CamVid
reference and the VOC LabelMe int32 masks; skipped cleanly when the folder is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import CAMVID_IMAGES, CAMVID_MEDIAN, CAMVID_PIXELS, assert_same_statistics, numpy_counts

import fastweights
from fastweights.errors import InputError


def pillow_labels(path: Path) -> np.ndarray:
    pil = pytest.importorskip("PIL.Image")
    with pil.open(path) as image:
        return np.asarray(image)


@pytest.mark.parametrize("threads", [1, 2])
def test_camvid_trainannot_matches_the_published_counts_and_weights(real_data: Path, threads: int) -> None:
    counts = fastweights.count(real_data / "camvid" / "trainannot", threads=threads)
    assert counts.n_images == 367 and counts.n_pixels == 367 * 480 * 360
    assert counts.pixels.tolist() == CAMVID_PIXELS
    assert counts.images.tolist() == CAMVID_IMAGES
    np.testing.assert_array_equal(np.round(counts.weights("median"), 4), CAMVID_MEDIAN)


def test_camvid_valannot_equals_numpy(real_data: Path) -> None:
    paths = sorted((real_data / "camvid" / "valannot").glob("*.png"))
    got = fastweights.count(paths, per_image=True)
    assert_same_statistics(got, numpy_counts([pillow_labels(p) for p in paths], per_image=True))


def test_cityscapes_label_ids_train_ids_and_16_bit_instance_ids(real_data: Path) -> None:
    folder = real_data / "formats" / "cityscapes"
    instance = next(folder.glob("*instanceIds.png"))
    ids = pillow_labels(instance)
    got = fastweights.count(instance)
    assert got.num_classes == int(ids.max()) + 1 and got.num_classes > 24000
    assert_same_statistics(got, numpy_counts([ids]))
    assert np.flatnonzero(got.pixels).max() >= 24000  # instance ids like 24000..26002

    label_ids = next(folder.glob("*gtFine_labelIds.png"))
    assert_same_statistics(fastweights.count(label_ids), numpy_counts([pillow_labels(label_ids)]))

    train_ids = next(folder.glob("*labelTrainIds.png"))
    got = fastweights.count(train_ids, ignore_index=255, num_classes=19)
    assert got.ignored == int((pillow_labels(train_ids) == 255).sum()) > 0
    with pytest.raises(InputError, match=r"labelTrainIds\.png: label 255 .* is not below num_classes=19"):
        fastweights.count(train_ids, num_classes=19)


def test_rgb_file_with_equal_channels_is_read_as_gray(real_data: Path) -> None:
    path = next((real_data / "formats" / "rgb_gray_channels").glob("*.png"))
    rgb = pillow_labels(path)
    assert rgb.ndim == 3 and rgb.shape[-1] == 3
    assert_same_statistics(fastweights.count(path), numpy_counts([rgb[..., 0]]))


def test_all_zero_masks_have_one_class(real_data: Path) -> None:
    got = fastweights.count(real_data / "formats" / "all_zero", num_classes=9)
    assert got.n_images == 2 and got.pixels[0] == got.n_pixels and got.pixels[1:].sum() == 0
    assert got.weights("median").tolist() == [1.0] + [0.0] * 8


def test_zero_byte_pngs_are_named_or_skipped_and_listed(real_data: Path) -> None:
    folder = real_data / "formats" / "zero_byte"
    with pytest.raises(InputError, match=r"instance_color_RGB\.png: 0-byte file"):
        fastweights.count(folder)
    with pytest.warns(UserWarning, match="skipped 2 of 2 inputs"):
        got = fastweights.count(folder, on_error="skip")
    assert got.n_images == 0 and [Path(name).name for name, _ in got.errors] == sorted(p.name for p in folder.iterdir())


def test_binary_masks_and_their_pos_weight(real_data: Path) -> None:
    paths = sorted((real_data / "formats" / "binary").glob("*.png"), key=lambda p: int(p.stem))
    labels = [pillow_labels(p) for p in paths]
    assert set(np.unique(np.concatenate([label.ravel() for label in labels]))) <= {0, 255}
    with pytest.warns(UserWarning, match=r"the labels are 0 and 255 only .* binary masks saved as 0/255"):
        got = fastweights.count(paths)
    assert_same_statistics(got, numpy_counts(labels))
    assert fastweights.count(paths, num_classes=256).pixels.tolist() == got.pixels.tolist()  # no warning
    positives, negatives = int(got.pixels[255]), int(got.pixels[0])
    assert got.pos_weight()[255] == pytest.approx(negatives / positives)


@pytest.mark.parametrize("folder", ["palette", "gray"])
def test_palette_and_gray_pngs_equal_pillow_indices(real_data: Path, folder: str) -> None:
    paths = sorted((real_data / "formats" / folder).glob("*.png"))
    got = fastweights.count(paths, per_image=True)
    assert_same_statistics(got, numpy_counts([pillow_labels(p) for p in paths], per_image=True))


def test_voc_palette_pngs_count_as_their_npy_twins(real_data: Path) -> None:
    root = real_data / "voc_labelme"
    from_png = fastweights.count(root / "SegmentationClass", ignore_index=255, per_image=True)
    from_npy = fastweights.count(root / "SegmentationClassNpy", ignore_index=-1, per_image=True)
    assert_same_statistics(from_png, from_npy)
    assert from_png.ignored > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_voc_labelme_int32_masks_with_negative_ignore(real_data: Path, threads: int) -> None:
    folder = real_data / "voc_labelme" / "SegmentationClassNpy"
    paths = sorted(folder.glob("*.npy"))
    assert paths, f"no .npy masks in {folder}"
    arrays = [np.load(path) for path in paths]
    assert all(array.dtype == np.int32 for array in arrays)
    got = fastweights.count(folder, ignore_index=-1, num_classes=21, threads=threads, per_image=True)
    assert_same_statistics(got, numpy_counts(arrays, (-1,), 21, per_image=True))
    assert got.ignored > 0 and got.sources == tuple(str(path) for path in paths)
    class_names = (real_data / "voc_labelme" / "class_names.txt").read_text().splitlines()
    assert len(class_names) == got.num_classes and class_names[0] == "_background_"

    with pytest.raises(ValueError, match=r"\.npy: negative label -1"):
        fastweights.count(folder)
