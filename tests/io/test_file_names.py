"""File names that are not valid UTF-8 (legal on Linux; common on shared drives and old archives):
counted like any other file, named with Python's surrogate escapes in sources, errors, saved
counts, checkpoints, the cache and the command line's output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import stop_after

import fastweights
from fastweights import Counts
from fastweights.errors import InputError, Interrupted

pil = pytest.importorskip("PIL.Image")

PNG_LABELS = np.array([[0, 1], [1, 2]], np.uint8)
NPY_LABELS = np.array([[3, 3, 0]], np.uint8)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """data/sub_\\xfe/ holding mask_\\xff.png and mask_\\xff.npy, and data/plain.npy."""
    root = os.fsencode(tmp_path / "data")
    sub = root + b"/sub_\xfe"
    try:
        os.makedirs(sub)
    except (OSError, UnicodeError):  # a file system that only takes UTF-8 names (APFS)
        pytest.skip("this file system refuses names that are not valid UTF-8")
    pil.fromarray(PNG_LABELS).save(os.fsdecode(sub + b"/mask_\xff.png"))
    np.save(os.fsdecode(sub + b"/mask_\xff.npy"), NPY_LABELS)
    np.save(os.fsdecode(root + b"/plain.npy"), np.zeros((1, 1), np.uint8))
    return Path(os.fsdecode(root))


def odd(folder: Path, name: bytes) -> str:
    return os.fsdecode(os.fsencode(folder) + b"/sub_\xfe/" + name)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("how", ["folder", "glob", "paths"])
def test_counted_through_a_folder_a_glob_and_paths(folder: Path, how: str, threads: int) -> None:
    png, npy = odd(folder, b"mask_\xff.png"), odd(folder, b"mask_\xff.npy")
    inputs = {"folder": str(folder), "glob": f"{folder}/**/*", "paths": [npy, png, str(folder / "plain.npy")]}[how]
    counts = fastweights.count(inputs, threads=threads)
    assert set(counts.sources) == {npy, png, str(folder / "plain.npy")}
    expected = np.bincount(np.concatenate([PNG_LABELS.ravel(), NPY_LABELS.ravel(), [0]]))
    np.testing.assert_array_equal(counts.pixels, expected)


def test_a_bad_file_is_named_and_everything_round_trips(folder: Path, tmp_path: Path) -> None:
    bad = odd(folder, b"bad_\xfd.png")
    Path(bad).write_bytes(b"not a png")
    with pytest.raises(InputError) as raised:
        fastweights.count(folder)
    assert bad in str(raised.value)

    checkpoint, cache = tmp_path / "checkpoint.json", tmp_path / "cache.sqlite"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(Interrupted):  # once every input is done: the checkpoint holds them all
            fastweights.count(folder, on_error="skip", per_image=True, checkpoint=checkpoint, progress=stop_after(4))
        first = fastweights.count(folder, on_error="skip", per_image=True, cache=cache)
        resumed = fastweights.count(folder, on_error="skip", per_image=True, checkpoint=checkpoint)
        cached = fastweights.count(folder, on_error="skip", per_image=True, cache=cache)
    assert [name for name, _ in first.errors] == [bad]
    assert resumed.params["resumed"] == 4 and resumed == first
    assert cached.params["cache"] == {"reused": 3, "counted": 0} and cached == first
    assert json.loads(json.dumps(first.to_dict()))["sources"] == list(first.sources)
    first.save(tmp_path / "counts.json")
    loaded = Counts.load(tmp_path / "counts.json")
    assert loaded == first and loaded.sources == first.sources and loaded.errors == first.errors


def test_the_command_line_prints_them_escaped(folder: Path, tmp_path: Path) -> None:
    Path(odd(folder, b"bad_\xfd.png")).write_bytes(b"not a png")
    saved = tmp_path / "counts.json"
    # A strict stdout (a UTF-8 locale's) must not fail on such a name.
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, "-m", "fastweights", "count", str(folder), "--on-error", "skip", "-o", str(saved)]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert result.returncode == 0, result.stderr
    assert "sub_\\udcfe/bad_\\udcfd.png" in result.stdout + result.stderr
    assert "3 images" in result.stdout
    assert odd(folder, b"mask_\xff.png") in Counts.load(saved).sources
    failed = subprocess.run(command[:5], capture_output=True, text=True, env=environment, check=False)
    assert failed.returncode == 1 and "sub_\\udcfe/bad_\\udcfd.png" in failed.stderr
