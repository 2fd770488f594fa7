"""The command line, in-process through main(argv) for every subcommand and option, and once each
as a real process and in a pseudo-terminal (the progress bar)."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import CAMVID_IMAGES, CAMVID_PIXELS

import fastweights
from fastweights import Counts
from fastweights.cli import main

pil = pytest.importorskip("PIL.Image")


@pytest.fixture
def masks(tmp_path: Path) -> Path:
    """Three .npy masks: classes 0-2 and the ignore label 255."""
    folder = tmp_path / "masks"
    folder.mkdir()
    np.save(folder / "a.npy", np.array([[0, 0, 1], [1, 255, 2]], np.uint8))
    np.save(folder / "b.npy", np.array([[0, 0, 0], [0, 0, 255]], np.uint8))
    np.save(folder / "c.npy", np.array([[2, 2, 1], [0, 0, 0]], np.uint8))
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def table_rows(out: str) -> dict[int, list[str]]:
    """The class rows of a printed table: class id -> its columns."""
    rows = {}
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0].isdigit():
            rows[int(fields[0])] = fields[1:]
    return rows


# ---- count -------------------------------------------------------------------------------------


def test_count_table_has_every_column_totals_and_ignored(capsys, masks: Path) -> None:
    code, out, err = run(capsys, "count", masks, "--ignore-index", "255", "--scheme", "inverse", "-q")
    assert code == 0 and err == ""
    rows = table_rows(out)
    assert rows[0] == ["10", "62.500%", "3", f"{16 / 10:.4f}"]  # pixels, share, images, weight (N / n_c)
    assert rows[1] == ["3", "18.750%", "2", f"{16 / 3:.4f}"]
    assert rows[2] == ["3", "18.750%", "2", f"{16 / 3:.4f}"]
    assert "weight (inverse)" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "16", "100.000%", "3"]
    assert next(line for line in out.splitlines() if "ignored" in line.split()[:1]).split() == ["ignored", "2"]


def test_count_json_loads_back_to_the_same_counts(capsys, masks: Path) -> None:
    code, out, _ = run(capsys, "count", masks, "--ignore-index", "255", "--format", "json", "--scheme", "enet")
    assert code == 0
    data = json.loads(out)
    assert Counts.from_dict(data) == fastweights.count(masks, ignore_index=255)
    assert data["weights"]["scheme"] == "enet" and len(data["weights"]["values"]) == 3


def test_count_csv(capsys, masks: Path) -> None:
    names = masks.parent / "names.txt"
    names.write_text("background\ncat\ndog\n")
    code, out, _ = run(capsys, "count", masks, "--ignore-index", "255", "--format", "csv", "--class-names", names)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["name"] for row in rows] == ["background", "cat", "dog"]
    assert [int(row["pixels"]) for row in rows] == [10, 3, 3]
    assert [int(row["images"]) for row in rows] == [3, 2, 2]
    assert float(rows[1]["weight"]) == pytest.approx(fastweights.count(masks, ignore_index=255).weights()[1])


def test_count_class_names_by_builtin_name_or_id_lines_are_saved_and_shown(capsys, masks: Path) -> None:
    with pytest.warns(UserWarning, match=r"21 class names for 3 classes"):
        code, out, _ = run(capsys, "count", masks, "--ignore-index", "255", "--class-names", "voc", "-q")
    assert code == 0
    assert [table_rows(out)[c][0] for c in range(3)] == ["background", "aeroplane", "bicycle"]
    names = masks.parent / "labels.txt"
    names.write_text('# id name category\n0 road flat\n1 "traffic light" object\n2 sky sky\n', encoding="utf-8")
    saved = masks.parent / "named.json"
    code, out, _ = run(capsys, "count", masks, "--ignore-index", "255", "--class-names", names, "-q", "-o", saved)
    assert code == 0 and table_rows(out)[1][:2] == ["traffic", "light"]
    assert Counts.load(saved).class_names == ("road", "traffic light", "sky")
    code, out, _ = run(capsys, "weights", saved)  # the names saved with the counts
    assert code == 0 and [table_rows(out)[c][0] for c in (0, 2)] == ["road", "sky"]
    code, out, _ = run(capsys, "weights", saved, "--format", "json")
    assert json.loads(out)["class_names"] == ["road", "traffic light", "sky"]
    code, out, _ = run(capsys, "weights", saved, "--format", "csv")
    assert [row["name"] for row in csv.DictReader(io.StringIO(out))] == ["road", "traffic light", "sky"]
    with pytest.warns(UserWarning, match=r"11 class names for 3 classes"):
        code, out, _ = run(capsys, "weights", saved, "--class-names", "camvid")
    assert code == 0 and table_rows(out)[0][0] == "Sky"
    code, _, err = run(capsys, "count", masks, "--class-names", masks.parent / "nope.txt", "-q")
    assert code == 1 and "--class-names" in err and "nope.txt: no such file" in err
    other, extra = masks.parent / "other.json", masks.parent / "d.npy"
    np.save(extra, np.array([[2, 1, 0]], np.uint8))
    options = ("--ignore-index", "255", "--class-names", names, "-q", "-o")
    assert main(["count", str(extra), *map(str, options), str(other)]) == 0
    code, _, err = run(capsys, "merge", other, saved, "-o", masks.parent / "total.json")
    assert code == 0  # the same names
    relabelled = masks.parent / "relabelled.txt"
    relabelled.write_text("road\nsidewalk\nsky\n", encoding="utf-8")
    options = ("--ignore-index", "255", "--class-names", relabelled, "-q", "-o")
    assert main(["count", str(extra), *map(str, options), str(other)]) == 0
    code, _, err = run(capsys, "merge", other, saved, "-o", masks.parent / "total.json")
    assert code == 2 and "different class names" in err and "class 1 is 'sidewalk' and 'traffic light'" in err


def test_warnings_are_one_line_like_errors(masks: Path) -> None:
    command = [sys.executable, "-m", "fastweights", "count", str(masks / "b.npy"), "-q"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stderr.startswith("fastweights: warning: the labels are 0 and 255 only (1 pixel of 255)")
    assert result.stderr.count("\n") == 1 and "UserWarning" not in result.stderr


def test_count_options_reach_the_count(capsys, masks: Path) -> None:
    saved = masks.parent / "counts.json"
    code, out, err = run(
        capsys,
        "count",
        masks / "a.npy",
        masks / "b.npy",
        "--num-classes",
        "4",
        "--ignore-index",
        "255",
        "0",
        "--threads",
        "1",
        "--per-image",
        "--scheme",
        "balanced",
        "--normalize",
        "max",
        "--absent",
        "max",
        "-o",
        saved,
    )
    assert code == 0 and f"counts saved to {saved}" in err
    counts = Counts.load(saved)
    assert counts.num_classes == 4 and counts.ignored == 2 + 7
    assert counts.per_image is not None and counts.per_image.tolist() == [[0, 2, 1, 0], [0, 0, 0, 0]]
    rows = table_rows(out)
    assert rows[0][-1] == rows[3][-1] == "1.0000"  # absent classes take the largest weight, normalised to 1


def test_count_stack_axis_counts_slices_as_images(capsys, tmp_path: Path) -> None:
    np.save(tmp_path / "volume.npy", np.array([[[0, 1]], [[1, 1]], [[0, 0]]], np.uint8))
    code, out, _ = run(capsys, "count", tmp_path / "volume.npy", "--stack-axis", "0", "--format", "json")
    assert code == 0 and json.loads(out)["n_images"] == 3


def test_count_colormap_gives_builtin_names_and_unknown_colours(capsys, tmp_path: Path) -> None:
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (128, 0, 0)  # VOC aeroplane
    rgb[1, 2] = (1, 2, 3)  # not a VOC colour
    pil.fromarray(rgb).save(tmp_path / "rgb.png")
    code, _, err = run(capsys, "count", tmp_path / "rgb.png", "--colormap", "voc")
    assert code == 1 and "(1, 2, 3)" in err
    code, out, _ = run(capsys, "count", tmp_path / "rgb.png", "--colormap", "voc", "--unknown-color", "ignore")
    assert code == 0
    rows = table_rows(out)
    assert rows[0][:2] == ["background", "4"] and rows[1][:2] == ["aeroplane", "1"]


def test_count_allow_lossy_and_on_error_skip(capsys, tmp_path: Path) -> None:
    pil.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "mask.jpg")
    (tmp_path / "broken.npy").write_bytes(b"not a numpy file")
    code, _, err = run(capsys, "count", tmp_path / "mask.jpg")
    assert code == 1 and "--allow-lossy" in err
    code, out, _ = run(capsys, "count", tmp_path / "mask.jpg", "--allow-lossy")
    assert code == 0 and table_rows(out)[0][0] == "64"
    code, out, _ = run(capsys, "count", tmp_path, "--allow-lossy", "--on-error", "skip")
    assert code == 0 and "1 skipped" in out and f"skipped {tmp_path / 'broken.npy'}" in out
    code, _, err = run(capsys, "count", tmp_path, "--allow-lossy", "--on-error", "skip", "--format", "json")
    assert code == 0 and "skipped" in err and "broken.npy" in err


def test_count_checkpoint_and_cache_options(capsys, masks: Path) -> None:
    state, cache = masks.parent / "state.json", masks.parent / "cache.sqlite"
    options = ["--checkpoint", state, "--checkpoint-every", "0.5", "--cache", cache, "--format", "json"]
    code, out, err = run(capsys, "count", masks, "--ignore-index", "255", *options)
    assert code == 0 and "0 inputs taken from the checkpoint" in err and "0 inputs taken from the cache" in err
    assert not state.exists()  # the count ended: its checkpoint is removed
    assert Counts.from_dict(json.loads(out)) == fastweights.count(masks, ignore_index=255)
    code, _, err = run(capsys, "count", masks, "--ignore-index", "255", "--cache", cache, "-q")
    assert code == 0 and "3 inputs taken from the cache" in err and "0 counted" in err
    # A count stopped by a bad file keeps its checkpoint: refused to another count, resumed by the same.
    bad = masks / "b_broken.npy"  # after a.npy and b.npy
    bad.write_bytes(b"not a mask")
    code, _, err = run(capsys, "count", masks, "--ignore-index", "255", "--checkpoint", state, "--threads", "1", "-q")
    assert code == 1 and "b_broken.npy" in err and state.exists()
    code, _, err = run(capsys, "count", masks, "--checkpoint", state, "-q")
    assert code == 2 and "--ignore-index [255]" in err
    bad.unlink()
    code, _, err = run(capsys, "count", masks, "--ignore-index", "255", "--checkpoint", state, "-q")
    assert code == 0 and "inputs taken from the checkpoint" in err and "0 inputs" not in err
    assert not state.exists()


def test_count_plot(capsys, masks: Path) -> None:
    pytest.importorskip("matplotlib")
    chart = masks.parent / "chart.png"
    code, _, err = run(capsys, "count", masks, "--ignore-index", "255", "--plot", chart)
    assert code == 0 and f"chart saved to {chart}" in err
    with pil.open(chart) as image:
        assert image.format == "PNG" and image.width >= 800


# ---- weights -----------------------------------------------------------------------------------


@pytest.fixture
def saved(capsys, masks: Path) -> Path:
    path = masks.parent / "counts.json"
    assert main(["count", str(masks), "--ignore-index", "255", "-q", "-o", str(path)]) == 0
    capsys.readouterr()
    return path


def test_weights_in_every_format(capsys, saved: Path) -> None:
    expected = Counts.load(saved).weights("enet", normalize="mean")
    common = ["weights", saved, "--scheme", "enet", "--normalize", "mean", "--format"]
    code, out, _ = run(capsys, *common, "json")
    entry = json.loads(out)["weights"]
    assert code == 0 and entry["values"] == expected.tolist()
    assert entry["scheme"] == "enet" and entry["options"]["normalize"] == "mean"
    _, out, _ = run(capsys, *common, "csv")
    assert [float(row["weight"]) for row in csv.DictReader(io.StringIO(out))] == expected.tolist()
    _, out, _ = run(capsys, *common, "torch")
    assert out.startswith("weight = torch.tensor([") and "dtype=torch.float32" in out
    assert eval(out.split("tensor(", 1)[1].split("], ")[0] + "]") == expected.tolist()
    _, out, _ = run(capsys, *common, "keras")
    labels = np.arange(expected.size).reshape(1, 1, -1)
    scope: dict[str, Any] = {"y": labels}
    exec(out, scope)  # the recipe runs as printed
    assert "class_weight = {" not in out and "tf.gather(weights, y)" in out
    np.testing.assert_array_equal(scope["sample_weight"], expected.astype(np.float32)[labels])
    _, out, _ = run(capsys, *common, "mmseg")
    assert eval(out.split("=", 1)[1]) == expected.tolist()
    _, out, _ = run(capsys, *common, "table")
    assert [float(row[-1]) for row in table_rows(out).values()] == pytest.approx(expected, abs=5e-5)


def test_weights_absent_class_and_names(capsys, tmp_path: Path) -> None:
    np.save(tmp_path / "m.npy", np.array([0, 0, 2], np.uint8))
    saved = tmp_path / "c.json"
    assert main(["count", str(tmp_path / "m.npy"), "-o", str(saved), "-q"]) == 0
    names = tmp_path / "names.txt"
    names.write_text("sky\nroad\ncar\n")
    code, out, _ = run(capsys, "weights", saved, "--scheme", "inverse", "--absent", "max", "--class-names", names)
    assert code == 0
    rows = table_rows(out)
    assert rows[0] == ["sky", f"{3 / 2:.4f}"] and rows[2] == ["car", f"{3 / 1:.4f}"]
    assert rows[1] == ["road", f"{3 / 1:.4f}"]  # absent: the largest weight
    with pytest.raises(SystemExit) as exit_info:
        main(["weights", str(saved), "--absent", "often"])
    assert exit_info.value.code == 2


def test_weights_to_files(capsys, saved: Path) -> None:
    expected = Counts.load(saved).weights("median")
    folder = saved.parent
    code, _, err = run(capsys, "weights", saved, "--format", "mmseg", "-o", folder / "w.npy")
    assert code == 0 and "weights saved" in err
    np.testing.assert_array_equal(np.load(folder / "w.npy"), expected.astype(np.float32))
    assert run(capsys, "weights", saved, "--format", "mmseg", "-o", folder / "w.json")[0] == 0
    assert json.loads((folder / "w.json").read_text()) == expected.tolist()
    assert run(capsys, "weights", saved, "--format", "keras", "-o", folder / "w.py")[0] == 0
    assert "sample_weight = weights[y]" in (folder / "w.py").read_text()
    code, _, err = run(capsys, "weights", saved, "--format", "mmseg", "-o", folder / "w.txt")
    assert code == 0 and (folder / "w.txt").read_text().startswith("class_weight=[")


def test_weights_torch_file(capsys, saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = saved.parent / "w.pt"
    try:
        import torch
    except ImportError:
        code, _, err = run(capsys, "weights", saved, "--format", "torch", "-o", target)
        assert code == 1 and "pip install torch" in err and err.count("\n") == 1
    else:
        assert run(capsys, "weights", saved, "--format", "torch", "-o", target)[0] == 0
        loaded = torch.load(target)
        assert loaded.dtype == torch.float32 and loaded.tolist() == pytest.approx(Counts.load(saved).weights())
    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed: the error names the fix
    code, _, err = run(capsys, "weights", saved, "--format", "torch", "-o", target)
    assert code == 1 and "pip install torch" in err


def test_weights_plot(capsys, saved: Path) -> None:
    pytest.importorskip("matplotlib")
    code, _, _ = run(capsys, "weights", saved, "--plot", saved.parent / "w.svg")
    assert code == 0 and "<svg" in (saved.parent / "w.svg").read_text()[:2000]


def test_weights_of_a_file_that_is_not_counts(capsys, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"a": 1}')
    code, _, err = run(capsys, "weights", tmp_path / "x.json")
    assert code == 2 and "not a fastweights Counts file" in err


# ---- merge -------------------------------------------------------------------------------------


def test_merge_adds_to_the_count_of_the_whole(capsys, masks: Path) -> None:
    parts = []
    for name in ("a", "b", "c"):
        part = masks.parent / f"{name}.json"
        assert main(["count", str(masks / f"{name}.npy"), "--ignore-index", "255", "-q", "-o", str(part)]) == 0
        parts.append(part)
    total = masks.parent / "total.json"
    code, _, err = run(capsys, "merge", *parts, "-o", total)
    assert code == 0 and "3 counts merged" in err
    whole = fastweights.count(masks, ignore_index=255)
    merged = Counts.load(total)
    np.testing.assert_array_equal(merged.pixels, whole.pixels)
    np.testing.assert_array_equal(merged.images, whole.images)
    assert (merged.n_images, merged.ignored) == (3, 2)


def test_merge_refuses_other_settings_and_names_them(capsys, masks: Path) -> None:
    first, second = masks.parent / "first.json", masks.parent / "second.json"
    assert main(["count", str(masks / "a.npy"), "--ignore-index", "255", "-q", "-o", str(first)]) == 0
    with pytest.warns(UserWarning, match=r"labels are 0 and 255 only \(1 pixel of 255\)"):
        assert main(["count", str(masks / "b.npy"), "-q", "-o", str(second)]) == 0
    code, _, err = run(capsys, "merge", first, second, "-o", masks.parent / "total.json")
    assert code == 2 and "ignore_index" in err and str(second) in err and str(first) in err
    assert not (masks.parent / "total.json").exists()
    code, _, err = run(capsys, "merge", first, first, "-o", masks.parent / "total.json")
    assert code == 2 and "count them twice" in err and "a.npy" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["merge", str(first)])  # -o is required
    assert exit_info.value.code == 2


# ---- info, errors, exit codes -----------------------------------------------------------------


def test_info_lists_kernel_extras_and_gpus(capsys) -> None:
    code, out, _ = run(capsys, "info")
    assert code == 0
    for key in ("version", "kernel", "cpu features", "openmp", "threads", "optional packages", "CUDA devices"):
        assert key in out
    assert "numpy" not in out and "pillow" in out and "mpi4py" in out
    gpu = next(line for line in out.splitlines() if "GPU path (--device cuda):" in line)
    assert "usable, on cuda:0 (" in gpu or "not usable: " in gpu or "not installed" in gpu


def test_errors_are_one_line_and_debug_shows_the_traceback(capsys, tmp_path: Path) -> None:
    (tmp_path / "text.png").write_text("hello")
    code, out, err = run(capsys, "count", tmp_path / "text.png")
    assert code == 1 and out == "" and err.count("\n") == 1 and "text.png" in err and "Traceback" not in err
    with pytest.raises(fastweights.errors.InputError):
        main(["--debug", "count", str(tmp_path / "text.png")])


def test_interrupt_exits_130(capsys, masks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("fastweights.api.count.count", interrupted)
    code, _, err = run(capsys, "count", masks)
    assert code == 130 and "interrupted" in err


def test_usage_errors_exit_2(capsys, masks: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["count"])
    assert exit_info.value.code == 2
    code, _, err = run(capsys, "count", masks, "--num-classes", "-3")
    assert code == 2 and "--num-classes -3" in err


# ---- real processes ----------------------------------------------------------------------------


def test_a_real_process_prints_json_that_loads_back(masks: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fastweights", "count", str(masks), "--ignore-index", "255", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert Counts.from_dict(json.loads(result.stdout)) == fastweights.count(masks, ignore_index=255)
    assert "[#" not in result.stderr  # not a terminal: no bar


def test_progress_bar_on_a_terminal_and_none_when_piped(masks: Path) -> None:
    for index in range(40):
        np.save(masks / f"more_{index:02d}.npy", np.zeros((64, 64), np.uint8))
    command = [sys.executable, "-m", "fastweights", "count", str(masks), "--ignore-index", "255"]
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, close_fds=True)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            seen += chunk
        assert process.wait(timeout=60) == 0
    finally:
        os.close(leader)
    text = seen.decode()
    assert "\r[" in text and "100.0 %" in text and "43/43 files" in text and "Mpx/s" in text
    assert "weight (median)" in text
    piped = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "%" not in piped.stderr and "[" not in piped.stderr and "weight (median)" in piped.stdout
    quiet = subprocess.run([*command, "-q"], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)
    assert quiet.stderr == ""


def test_a_closed_pipe_ends_quietly() -> None:
    """`fastweights demo | head -1`, with the reader gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        demo = subprocess.run(
            [sys.executable, "-m", "fastweights", "demo"], stdout=write_end, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(write_end)
    assert demo.returncode == 141 and demo.stderr == ""


# ---- real data ---------------------------------------------------------------------------------


def test_camvid_table_matches_the_published_counts(capsys, real_data: Path, tmp_path: Path) -> None:
    folder = real_data / "camvid" / "trainannot"
    code, out, _ = run(capsys, "count", folder, "--ignore-index", "11", "--scheme", "median", "-q")
    assert code == 0
    rows = table_rows(out)
    assert [int(rows[c][0].replace(",", "")) for c in range(11)] == CAMVID_PIXELS[:11]
    assert [int(rows[c][2].replace(",", "")) for c in range(11)] == CAMVID_IMAGES[:11]
    direct = fastweights.count(folder, ignore_index=11)
    assert [float(rows[c][3]) for c in range(11)] == pytest.approx(direct.weights("median"), abs=5e-5)
    assert (
        f"ignored{CAMVID_PIXELS[11]:>16,}".split()
        == next(line for line in out.splitlines() if line.split()[:1] == ["ignored"]).split()
    )
    code, out, _ = run(capsys, "count", folder, "--ignore-index", "11", "--format", "json")
    assert code == 0 and Counts.from_dict(json.loads(out)) == direct
