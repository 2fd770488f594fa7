"""Bad input: each a clear error naming the input and the problem, never a silently wrong count."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import fastweights
from fastweights.errors import InputError


def test_non_integral_float_labels_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "intensity.npy", np.array([[0.0, 0.5], [1.0, 2.0]]))
    with pytest.raises(
        InputError,
        match=r"intensity\.npy: float labels with non-integral value 0\.5; this looks like an intensity image",
    ):
        fastweights.count(tmp_path / "intensity.npy")
    with pytest.raises(InputError, match=r"<array 0>: float labels with non-finite value nan"):
        fastweights.count(np.array([1.0, np.nan]))


def test_negative_labels_are_refused_unless_ignored(tmp_path: Path) -> None:
    np.save(tmp_path / "neg.npy", np.array([0, 1, -1, -1], np.int32))
    with pytest.raises(
        InputError,
        match=r"neg\.npy: negative label -1 \(2 pixels\); if it marks unlabelled pixels, pass ignore_index=-1",
    ):
        fastweights.count(tmp_path / "neg.npy")
    with pytest.raises(InputError, match=r"neg\.npy: negative label -1"):
        fastweights.count(tmp_path / "neg.npy", num_classes=2)
    assert fastweights.count(tmp_path / "neg.npy", ignore_index=-1).ignored == 2


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "int64"])
def test_labels_at_or_above_num_classes_are_refused(tmp_path: Path, dtype: str) -> None:
    np.save(tmp_path / "big.npy", np.array([0, 3, 12, 12, 12], dtype))
    with pytest.raises(InputError, match=r"big\.npy: label 12 \(3 pixels\) is not below num_classes=12"):
        fastweights.count(tmp_path / "big.npy", num_classes=12)
    assert fastweights.count(tmp_path / "big.npy", num_classes=13).pixels[12] == 3


def test_huge_label_ids_are_refused_as_class_ids() -> None:
    with pytest.raises(InputError, match=r"<array 0>: label 2000000000 is too large for a class id"):
        fastweights.count(np.array([1, 2_000_000_000], np.int32))
    with pytest.raises(InputError, match="is too large to be a class id"):
        fastweights.count(np.array([2**64 - 1], np.uint64))


def test_arrays_that_cannot_hold_labels() -> None:
    with pytest.raises(InputError, match=r"<array 0>: dtype <U1 cannot hold labels"):
        fastweights.count(np.array(["a", "b"]))
    with pytest.raises(InputError, match="complex128 cannot hold labels"):
        fastweights.count(np.array([1j]))


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"num_classes": 0}, "num_classes=0: expected an integer from 1"),
        ({"num_classes": 2.5}, "num_classes=2.5"),
        ({"threads": 0}, "threads=0: expected a positive integer"),
        ({"ignore_index": "255"}, "ignore_index='255'"),
        ({"ignore_index": [1.5]}, "1.5 is not an integer"),
        ({"stack_axis": "0"}, "stack_axis='0'"),
        ({"stack_axis": 3}, r"<array 0>: stack_axis=3 is out of range for an array of shape \(2, 2\)"),
    ],
)
def test_bad_options_name_the_argument_and_value(option: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        fastweights.count(np.zeros((2, 2), np.uint8), **option)


def test_the_first_bad_file_stops_the_count_and_is_named(tmp_path: Path) -> None:
    for i in range(20):
        np.save(tmp_path / f"m{i:02d}.npy", np.zeros(10, np.uint8))
    np.save(tmp_path / "m13.npy", np.array([1, 99], np.uint8))
    with pytest.raises(InputError, match=r"m13\.npy: label 99"):
        fastweights.count(tmp_path, num_classes=10, threads=2)


def test_an_unreadable_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.npy"
    np.save(path, np.zeros(3, np.uint8))
    path.chmod(0)
    if os.access(path, os.R_OK):
        # Root reads anything: make the reader meet the error a user would.
        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr("fastweights.io.readers.numpy_files.open", refuse, raising=False)
        # The batch reader (C++) would read it too: leave the file to the general reader.
        monkeypatch.setattr("fastweights.io.readers.tally_npy_files", lambda paths: [None] * len(paths))
    with pytest.raises(InputError, match=r"locked\.npy: cannot be read: Permission denied"):
        fastweights.count(path)


def test_a_file_deleted_between_listing_and_reading_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastweights.engine import plan

    for name in ("a.npy", "b.npy"):
        np.save(tmp_path / name, np.zeros(3, np.uint8))
    listed = plan.iter_inputs

    def list_then_delete(inputs: object) -> list:
        items = list(listed(inputs))
        (tmp_path / "b.npy").unlink()
        return items

    monkeypatch.setattr(plan, "iter_inputs", list_then_delete)
    with pytest.raises(InputError, match=r"b\.npy: cannot be read: No such file or directory"):
        fastweights.count(tmp_path)
