"""The engine's policies: on_error="skip", progress, colormaps for colour masks, lossy masks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts

import fastweights
from fastweights.errors import InputError
from fastweights.progress import Progress


def mask_folder(tmp_path: Path, n: int = 12) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    masks = [rng.integers(0, 5, (16, 16)).astype(np.uint8) for _ in range(n)]
    for i, mask in enumerate(masks):
        np.save(tmp_path / f"m{i:02d}.npy", mask)
    return masks


@pytest.mark.parametrize("threads", [1, 2])
def test_skip_leaves_bad_inputs_out_entirely_and_lists_them(tmp_path: Path, threads: int) -> None:
    masks = mask_folder(tmp_path)
    (tmp_path / "m03.npy").write_bytes(b"")  # 0 bytes
    np.save(tmp_path / "m07.npy", np.array([1, 2, 77], np.uint8))  # a label out of range
    (tmp_path / "m09.npy").write_bytes((tmp_path / "m10.npy").read_bytes()[:-5])  # truncated
    with pytest.warns(UserWarning, match=r"skipped 3 of 12 inputs \(listed in counts.errors\)"):
        got = fastweights.count(tmp_path, num_classes=5, on_error="skip", threads=threads, per_image=True)
    kept = [mask for i, mask in enumerate(masks) if i not in (3, 7, 9)]
    assert_same_statistics(got, numpy_counts(kept, (), 5, per_image=True))
    assert [Path(name).name for name, _ in got.errors] == ["m03.npy", "m07.npy", "m09.npy"]
    reasons = [reason for _, reason in got.errors]
    assert "0-byte file" in reasons[0] and "label 77" in reasons[1] and "truncated .npy" in reasons[2]
    assert "3 skipped" in repr(got)
    with pytest.raises(InputError, match=r"m03\.npy: 0-byte file"):
        fastweights.count(tmp_path, num_classes=5, threads=threads)


def test_skipped_inputs_survive_save_load_and_addition(tmp_path: Path) -> None:
    mask_folder(tmp_path, 3)
    (tmp_path / "m01.npy").write_bytes(b"")
    with pytest.warns(UserWarning):
        counts = fastweights.count(tmp_path, on_error="skip")
    counts.save(tmp_path / "c.json")
    loaded = fastweights.Counts.load(tmp_path / "c.json")
    assert loaded == counts and len(loaded.errors) == 1
    assert len((counts + counts).errors) == 2


def test_errors_that_are_not_about_the_data_are_never_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug, not bad data")

    monkeypatch.setattr("fastweights.engine.classify.classify", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        fastweights.count(np.zeros(3, np.uint8), on_error="skip")
    with pytest.raises(ValueError, match="on_error='ignore': expected one of 'raise', 'skip'"):
        fastweights.count(np.zeros(3, np.uint8), on_error="ignore")


@pytest.mark.parametrize("threads", [1, 2])
def test_progress_callable_sees_every_input_once(tmp_path: Path, threads: int) -> None:
    mask_folder(tmp_path, 9)
    updates: list[Progress] = []
    fastweights.count(tmp_path, threads=threads, progress=updates.append)
    done = [u.done for u in updates]  # at least once per batch of inputs
    assert done == sorted(set(done)) and done[-1] == 9
    assert updates[-1].total == 9 and updates[-1].pixels == 9 * 256 and updates[-1].seconds_left == 0


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastweights.engine.progress import make_reporter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    report = make_reporter(True, 2, screen)
    assert report is not None
    report(1, 10**6, 0, False)
    report(2, 2 * 10**6, 1, True)
    text = screen.getvalue()
    assert "2/2 files" in text and "Mpx/s" in text and "1 skipped" in text and text.endswith("\n")
    with pytest.raises(TypeError, match="progress='yes'"):
        fastweights.count(np.zeros(2, np.uint8), progress="yes")


def colour_mask() -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([[0, 1, 1], [2, 2, 2]], np.uint8)
    palette = np.array([(0, 0, 0), (128, 0, 0), (0, 128, 0)], np.uint8)
    return palette[labels], labels


def test_colormap_from_a_dict_a_json_file_and_a_builtin_name(tmp_path: Path) -> None:
    rgb, labels = colour_mask()
    expected = np.bincount(labels.ravel()).tolist()
    as_dict = {(0, 0, 0): 0, (128, 0, 0): 1, (0, 128, 0): 2}
    assert fastweights.count(rgb, colormap=as_dict).pixels.tolist() == expected
    (tmp_path / "map.json").write_text(json.dumps({"0,0,0": 0, "#800000": 1, "(0, 128, 0)": 2}))
    assert fastweights.count(rgb, colormap=tmp_path / "map.json").pixels.tolist() == expected
    (tmp_path / "list.json").write_text(json.dumps([[0, 0, 0], [128, 0, 0], [0, 128, 0]]))
    assert fastweights.count(rgb, colormap=str(tmp_path / "list.json")).pixels.tolist() == expected
    voc = fastweights.count(rgb, colormap="voc", num_classes=21)  # VOC: black 0, (128,0,0) 1, (0,128,0) 2
    assert voc.pixels[:3].tolist() == expected and voc.params["colormap"] == "voc"


def test_several_colours_may_share_a_class_and_the_void_colour_can_be_ignored() -> None:
    rgb = np.array([[(70, 130, 180), (0, 0, 0), (128, 64, 128), (128, 64, 128)]], np.uint8)
    got = fastweights.count(rgb, colormap="cityscapes", ignore_index=255, num_classes=19)
    assert got.pixels[0] == 2 and got.pixels[10] == 1 and got.ignored == 1  # road, sky, black -> 255


def test_unknown_colours_are_an_error_naming_them_or_ignored() -> None:
    rgb, _ = colour_mask()
    rgb[0, 0] = (1, 2, 3)
    with pytest.raises(
        InputError, match=r"<array 0>: 1 colour\(s\) not in the given colormap: \(1, 2, 3\) \(1 pixels\)"
    ):
        fastweights.count(rgb, colormap={(128, 0, 0): 1, (0, 128, 0): 2})
    got = fastweights.count(rgb, colormap={(128, 0, 0): 1, (0, 128, 0): 2}, unknown_color="ignore")
    assert got.ignored == 1 and got.pixels.tolist() == [0, 2, 3]


def test_bad_colormaps_are_refused(tmp_path: Path) -> None:
    rgb, _ = colour_mask()
    with pytest.raises(ValueError, match=r"colormap given: \(1, 2\) is not an \(r, g, b\) colour"):
        fastweights.count(rgb, colormap={(1, 2): 0})
    with pytest.raises(ValueError, match=r"has a channel outside 0\.\.255"):
        fastweights.count(rgb, colormap={(1, 2, 300): 0})
    with pytest.raises(FileNotFoundError, match=r"colormap nope\.json: no such file \(built-in colormaps: voc"):
        fastweights.count(rgb, colormap="nope.json")
    with pytest.raises(ValueError, match="unknown_color='skip'"):
        fastweights.count(rgb, colormap="voc", unknown_color="skip")


def test_rgb_without_a_colormap_is_refused_unless_its_channels_are_equal() -> None:
    from fastweights.io.colormaps import rgb_tally

    rgb, _ = colour_mask()
    with pytest.raises(InputError, match=r"x\.png: an RGB colour mask, and no colormap was given: pass colormap="):
        rgb_tally("x.png", rgb, None, None, 1)
    gray = np.repeat(np.array([[3, 3, 7]], np.uint8)[..., None], 3, axis=2)
    tally = rgb_tally("g.png", gray, None, None, 1)
    assert tally.values.tolist() == [3, 7] and tally.counts.tolist() == [2, 1]


def test_jpeg_masks_are_refused_unless_allowed(tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    rows, cols = np.mgrid[:32, :32]
    mask = np.where((rows - 15.5) ** 2 + (cols - 13) ** 2 < 90, 255, 0).astype(np.uint8)  # a disc
    pil.fromarray(mask).save(tmp_path / "mask.jpg", quality=75)
    with pytest.raises(InputError, match=r"mask\.jpg: a JPEG mask: lossy compression .* pass allow_lossy=True"):
        fastweights.count(tmp_path / "mask.jpg")
    lossy = fastweights.count(tmp_path / "mask.jpg", allow_lossy=True)
    assert lossy.n_pixels == 32 * 32 and np.count_nonzero(lossy.pixels) > 2  # the fake classes it warns of


def test_real_jpeg_masks_are_refused(real_data: Path) -> None:
    folder = real_data / "formats" / "jpeg_masks"
    with pytest.raises(InputError, match=r"\.jpg: a JPEG mask"):
        fastweights.count(folder)
    with pytest.warns(UserWarning, match="skipped"):
        skipped = fastweights.count(folder, on_error="skip")
    assert skipped.n_images == 0 and len(skipped.errors) == len(list(folder.iterdir()))
    counted = fastweights.count(folder, allow_lossy=True)
    assert np.count_nonzero(counted.pixels) > 10  # compression noise: dozens of fake classes


@pytest.mark.parametrize("threads", [1, 2])
def test_a_bad_png_in_a_batch_is_named_alone_and_the_rest_counted(tmp_path: Path, threads: int) -> None:
    """PNGs are decoded and classified a batch at a time; one bad label must not hide or spoil the others."""
    pil = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(12)
    masks = [rng.integers(0, 6, (12, 17)).astype(np.uint8) for _ in range(70)]
    for mask in masks[::3]:
        mask[0, :4] = 255
    masks[41][5, 5] = 9  # not below num_classes=6
    for index, mask in enumerate(masks):
        pil.fromarray(mask).save(tmp_path / f"m{index:03d}.png")
    with pytest.raises(InputError, match=r"m041\.png: label 9 \(1 pixels\) is not below num_classes=6"):
        fastweights.count(tmp_path, num_classes=6, ignore_index=255, threads=threads)
    with pytest.warns(UserWarning, match="skipped 1 of 70 inputs"):
        got = fastweights.count(
            tmp_path, num_classes=6, ignore_index=255, threads=threads, on_error="skip", per_image=True
        )
    kept = masks[:41] + masks[42:]
    assert_same_statistics(got, numpy_counts(kept, (255,), 6, per_image=True))
    assert [Path(name).name for name, _ in got.errors] == ["m041.png"]
    assert [Path(name).name for name in got.sources] == [f"m{i:03d}.png" for i in range(70) if i != 41]


@pytest.mark.parametrize("threads", [1, 2])
def test_names_and_rows_keep_input_order_across_batches_and_other_inputs(tmp_path: Path, threads: int) -> None:
    """Inputs counted in batches are summed apart from the others (a Zarr group of two masks here):
    the names and per-image rows still come out in input order, whichever thread ended first."""
    pil = pytest.importorskip("PIL.Image")
    zarr = pytest.importorskip("zarr")
    rng = np.random.default_rng(5)
    masks = {f"m{index:03d}.png": rng.integers(0, 7, (9, 11)).astype(np.uint8) for index in range(120)}
    for name, mask in masks.items():
        pil.fromarray(mask).save(tmp_path / name)
    pair = rng.integers(0, 7, (2, 9, 11)).astype(np.uint8)
    group = zarr.open_group(str(tmp_path / "m060b.zarr"), mode="w")
    for name, mask in zip("ab", pair):
        group.create_array(name, shape=mask.shape, dtype=mask.dtype)[:] = mask
    got = fastweights.count(tmp_path, threads=threads, per_image=True)
    order = [*masks.values()]
    assert_same_statistics(got, numpy_counts([*order[:61], *pair, *order[61:]], (), 7, per_image=True))
    names = [str(Path(name).relative_to(tmp_path)) for name in got.sources]
    assert names[59:65] == ["m059.png", "m060.png", "m060b.zarr/a", "m060b.zarr/b", "m061.png", "m062.png"]
