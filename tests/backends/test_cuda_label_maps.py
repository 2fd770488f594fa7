"""Label maps on the GPU path (`device="cuda"`): the GPU tallies the source labels, the engine folds
them per image as on the CPU; on numba-cuda's simulator (small inputs) or a real GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics
from label_map_oracles import cityscapes_oracle, compact_oracle, reduce_oracle

import fastweights

numba_cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")


def masks(dtype: str, ids: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    images = [rng.choice(ids, size=(9, 13)).astype(dtype) for _ in range(3)]
    images[0].flat[: ids.size] = ids
    return images


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32"])
def test_cityscapes_on_the_gpu_equals_the_official_table(dtype: str) -> None:
    images = masks(dtype, np.arange(0 if dtype == "uint8" else -1, 34), seed=len(dtype))
    expected = cityscapes_oracle(images)
    on_host = fastweights.count(images, label_map="cityscapes", per_image=True, device="cuda")
    on_device = fastweights.count(
        [numba_cuda.to_device(image) for image in images], label_map="cityscapes", per_image=True
    )
    for counts in (on_host, on_device):
        assert counts.params["device"].startswith("cuda")
        assert_same_statistics(counts, expected)


def test_reduce_zero_label_and_compact_on_the_gpu(tmp_path: Path) -> None:
    images = masks("uint16", np.array([0, 1, 7, 150, 254, 255]), seed=1)
    assert_same_statistics(
        fastweights.count(images, reduce_zero_label=True, per_image=True, device="cuda"), reduce_oracle(images)
    )
    sparse = masks("int32", np.array([3, 90_000, 2_000_000, 17]), seed=2)
    for index, image in enumerate(sparse):  # arrays read from files, counted on the GPU
        np.save(tmp_path / f"m{index}.npy", image)
    counts = fastweights.count(tmp_path, label_map="compact", per_image=True, device="cuda")
    expected, ids = compact_oracle(sparse)
    assert counts.params["device"].startswith("cuda")
    assert_same_statistics(counts, expected)
    np.testing.assert_array_equal(counts.label_ids, ids)
