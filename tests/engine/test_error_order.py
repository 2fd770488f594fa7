"""With several bad inputs and several threads, the error raised is always that of the first bad
input in input order, and with on_error="skip" the errors are listed in input order."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import fastweights
from fastweights.errors import InputError
from fastweights.io.images import CHUNK_BYTES

N_FILES = 40


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """40 masks; bad ones of several kinds at positions 6, 7, 19, 23 and 33, the last one big
    enough to be counted on the calling thread rather than by a worker."""
    root = tmp_path_factory.mktemp("ordered")
    paths = [root / f"m{position:02d}.npy" for position in range(N_FILES)]
    for path in paths:
        np.save(path, np.array([[0, 1], [2, 1]], np.uint8))
    np.save(paths[6], np.array([[0, 9]], np.uint8))  # a label above num_classes
    paths[7].write_bytes(b"not an array")
    np.save(paths[19], np.array([[5]], np.uint8))
    paths[23].write_bytes(paths[23].read_bytes()[:-2])  # truncated
    big = np.zeros(CHUNK_BYTES + 1024, np.uint8)
    big[-1] = 7
    np.save(paths[33], big)
    return root, [paths[position] for position in (6, 7, 19, 23, 33)]


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_the_first_bad_input_is_the_one_raised(folder: tuple[Path, list[Path]], threads: int) -> None:
    root, bad = folder
    for _ in range(6):
        with pytest.raises(InputError) as raised:
            fastweights.count(root, num_classes=3, threads=threads)
        assert str(raised.value).startswith(f"{bad[0]}:"), raised.value


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_the_first_bad_input_after_the_first_one_is_fixed(folder: tuple[Path, list[Path]], threads: int) -> None:
    root, bad = folder
    later = sorted(set(root.glob("*.npy")) - {bad[0], bad[1]})
    for _ in range(4):
        with pytest.raises(InputError) as raised:
            fastweights.count(later, num_classes=3, threads=threads)
        assert str(raised.value).startswith(f"{bad[2]}:"), raised.value


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_skipped_inputs_are_listed_in_input_order(folder: tuple[Path, list[Path]], threads: int) -> None:
    root, bad = folder
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            counts = fastweights.count(root, num_classes=3, threads=threads, on_error="skip")
        assert [name for name, _ in counts.errors] == [str(path) for path in bad]
        assert counts.n_images == N_FILES - len(bad)
