"""Real masks from public data sets (../shared/data): skipped cleanly when the folder is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_statistics, numpy_counts

import fastweights


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
