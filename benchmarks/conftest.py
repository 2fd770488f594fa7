"""Fixtures of the speed benchmarks; the data itself is built in speed_data.py."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from speed_data import SEED, Dataset, SmallFiles, blocky_masks, build, read_words, skewed


@pytest.fixture
def dataset(request: pytest.FixtureRequest) -> Dataset:
    return build(request.param)


@pytest.fixture(scope="session")
def masks() -> Dataset:
    return build("masks")


@pytest.fixture(scope="session")
def masks_npy(tmp_path_factory: pytest.TempPathFactory, masks: Dataset):
    """The realistic masks as a .npy file, written and read once so the page cache is warm."""
    path = tmp_path_factory.mktemp("mapped") / "masks.npy"
    np.save(path, masks.array)
    assert read_words(np.load(path, mmap_mode="r")) == masks.checksum
    yield path
    path.unlink()


@pytest.fixture(scope="session")
def small_files(tmp_path_factory: pytest.TempPathFactory):
    """2,000 .npy files of 128 x 128 uint8 blocky masks (20 classes, one at 70 %), cache warm."""
    folder = tmp_path_factory.mktemp("small")
    probs = skewed(20, 0.70)
    masks, expected = blocky_masks(np.random.default_rng(SEED + 5), 2000, 128, 128, probs, np.uint8)
    paths = [folder / f"mask_{index:04d}.npy" for index in range(len(masks))]
    for path, mask in zip(paths, masks):
        np.save(path, mask)
    for path in paths:  # read once: warm cache
        path.read_bytes()
    yield SmallFiles(folder, paths, probs.size, expected, int(masks.nbytes))
    shutil.rmtree(folder)


def pytest_benchmark_generate_commit_info(config: pytest.Config) -> dict[str, str]:
    """Keeps pytest-benchmark from calling git: the report names the command that reproduces it."""
    return {}
