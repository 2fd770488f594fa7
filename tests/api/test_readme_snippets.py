"""Every ```python example of README.md and docs/*.md, run as it is in a folder holding the demo's
masks as `masks/`, then checked: what it printed and what it made. An example that cannot run there
says why in a `<!-- not run: why -->` line just above it (the GPU one runs in tests/backends/test_cuda.py)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import runpy
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from dataset_layouts import LAYOUTS
from helpers import doc_snippets, gpu_snippet

import fastweights
from fastweights.api.demo import CLASS_NAMES, write_demo_masks

Namespace = dict[str, Any]


def demo_counts(**params: Any) -> fastweights.Counts:
    """The Counts an example's `fastweights.count("masks/", ignore_index=255)` must give."""
    return fastweights.count("masks/", ignore_index=255, **params)


def check_count_a_folder(out: str, names: Namespace, folder: Path) -> None:
    counts = demo_counts()
    assert out == f"{counts}\n"
    np.testing.assert_array_equal(names["weights"], counts.weights("median"))
    assert fastweights.Counts.load(folder / "counts.json") == counts


def check_pytorch(out: str, names: Namespace, folder: Path) -> None:
    counts = demo_counts(per_image=True)
    median = counts.weights("median")
    np.testing.assert_allclose(names["criterion"].weight.numpy(), median, rtol=1e-6)
    assert names["criterion"].ignore_index == 255
    assert tuple(names["bce"].pos_weight.shape) == (len(CLASS_NAMES), 1, 1)
    np.testing.assert_allclose(names["bce"].pos_weight.numpy().ravel(), counts.pos_weight(), rtol=1e-6)
    assert len(names["image_weights"]) == counts.n_images == len(counts.sources)
    loss, drawn = out.split()
    assert float(loss) == pytest.approx(names["criterion"](names["logits"], names["labels"]).item())
    assert int(drawn) == counts.n_images


def check_keras(out: str, names: Namespace, folder: Path) -> None:
    median = demo_counts().weights("median")
    labels, pixel_weights = names["labels"], names["pixel_weights"]
    assert pixel_weights.shape == labels.shape == (240, 320)
    assert (pixel_weights[labels == 255] == 0).all()
    np.testing.assert_allclose(pixel_weights[labels != 255], median[labels[labels != 255]], rtol=1e-6)
    assert out == f"{pixel_weights.shape} {pixel_weights.max()!s}\n"
    assert pixel_weights.max() == np.float32(median[np.unique(labels[labels != 255])].max())


def check_dice(out: str, names: Namespace, folder: Path) -> None:
    counts = demo_counts()
    assert names["smp_weights"] == pytest.approx(list(counts.weights("median")))
    inverse = counts.weights("inverse")[1:]
    np.testing.assert_allclose(names["monai_dice"].class_weight.numpy(), inverse / inverse.mean(), rtol=1e-6)
    classes = len(CLASS_NAMES)
    assert out == f"{classes} torch.Size([{classes - 1}])\n"


def check_mmseg(out: str, names: Namespace, folder: Path) -> None:
    assert out == ""
    written = json.loads((folder / "class_weight.json").read_text())
    assert written == pytest.approx(list(demo_counts().weights("median")))


def check_sample(out: str, names: Namespace, folder: Path) -> None:
    weights = names["weights"]
    lines = out.splitlines()
    assert len(lines) == len(weights) >= 4  # the sample of 6 of 24 masks sees at least the common classes
    widths = []
    for c, line in enumerate(lines):
        match = re.fullmatch(r"class (\d+): (\S+) \((\S+) - (\S+)\)", line)
        assert match, line
        index, weight, low, high = int(match[1]), float(match[2]), float(match[3]), float(match[4])
        assert index == c and math.isfinite(weight) and low <= weight <= high
        assert (weight, low, high) == pytest.approx((weights[c], weights.low[c], weights.high[c]), abs=5e-4)
        widths.append(high - low)
    assert max(widths) > 0  # the intervals are bootstrap intervals, not the point estimates again
    assert names["estimate"].n_images == 6 and names["estimate"].num_classes == len(CLASS_NAMES)


def check_label_maps(out: str, names: Namespace, folder: Path) -> None:
    assert out == ""
    assert names["counts"].params["label_map"] == "cityscapes" and names["counts"].pixels.sum() == 4
    assert names["ade"].params["reduce_zero_label"] is True and names["ade"].num_classes == 150
    assert names["sparse"].num_classes == 2 and names["merged"].params["label_map"] == [[1, 0], [2, 0], [3, 255]]


# Each example that runs, by "document > heading", and what must hold after it ran.
CHECKS: dict[str, Callable[[str, Namespace, Path], None]] = {
    "README.md > Common tasks": check_count_a_folder,
    "docs/frameworks.md > PyTorch": check_pytorch,
    "docs/frameworks.md > Keras": check_keras,
    "docs/frameworks.md > Dice: segmentation_models_pytorch and MONAI": check_dice,
    "docs/frameworks.md > mmsegmentation": check_mmseg,
    "docs/frameworks.md > A first look from a sample": check_sample,
    "docs/label-maps.md > Label maps: `label_map=` and `reduce_zero_label=`": check_label_maps,
}


def test_every_example_that_runs_has_a_check() -> None:
    run = [snippet.name for snippet in doc_snippets() if snippet.not_run is None]
    assert sorted(run) == sorted([*CHECKS, *LAYOUTS])


def test_examples_not_run_say_why_and_the_gpu_one_is_found() -> None:
    not_run = {snippet.name: snippet.not_run for snippet in doc_snippets() if snippet.not_run is not None}
    assert "docs/gpu.md > On a GPU" in not_run
    assert all(len(why) > 10 for why in not_run.values())
    code = gpu_snippet()
    assert 'device="cuda"' in code
    assert code.rstrip().splitlines()[-1].startswith('print(counts.params["device"])')


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_data_set_example_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """The examples of README.md > Data sets' conventions, each on masks laid out as its data set's."""
    (snippet,) = [snippet for snippet in doc_snippets() if snippet.name == name]
    write, check = LAYOUTS[name]
    masks = write(tmp_path)
    capsys.readouterr()  # what writing printed (pycocotools' COCO API talks) is not the example's
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "snippet.py"
    script.write_text(snippet.code)
    names = runpy.run_path(os.fspath(script), run_name="__main__")
    check(capsys.readouterr().out, names, masks)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    (snippet,) = [snippet for snippet in doc_snippets() if snippet.name == name]
    needs = re.match(r"# needs: (.+)\n", snippet.code)
    for module in needs.group(1).split(", ") if needs else ():
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{name} needs {module}, which is not installed")
    write_demo_masks(tmp_path / "masks")
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "snippet.py"
    script.write_text(snippet.code)
    names = runpy.run_path(os.fspath(script), run_name="__main__")
    out = capsys.readouterr().out
    CHECKS[name](out, names, tmp_path)
