"""Oracles of the label-map tests, independent of fastweights' own tables: the official Cityscapes
table copied by hand, mmsegmentation's reduce_zero_label in numpy, np.unique for "compact"."""

from __future__ import annotations

import numpy as np
from helpers import numpy_counts

from fastweights import Counts

# cityscapesScripts, cityscapesscripts/helpers/labels.py at commit
# 0bcc4a72549590fd80d71d8465be3a0c4b1c06e8: (id, trainId, ignoreInEval) of every Label row, copied
# by hand from that file (not from fastweights' table).
OFFICIAL_CITYSCAPES = [
    (0, 255, True), (1, 255, True), (2, 255, True), (3, 255, True), (4, 255, True), (5, 255, True),
    (6, 255, True), (7, 0, False), (8, 1, False), (9, 255, True), (10, 255, True), (11, 2, False),
    (12, 3, False), (13, 4, False), (14, 255, True), (15, 255, True), (16, 255, True), (17, 5, False),
    (18, 255, True), (19, 6, False), (20, 7, False), (21, 8, False), (22, 9, False), (23, 10, False),
    (24, 11, False), (25, 12, False), (26, 13, False), (27, 14, False), (28, 15, False), (29, 255, True),
    (30, 255, True), (31, 16, False), (32, 17, False), (33, 18, False), (-1, -1, True),
]  # fmt: skip

OFFICIAL_TRAIN_IDS = {label: train for label, train, _ in OFFICIAL_CITYSCAPES}


def cityscapes_oracle(images: list[np.ndarray]) -> Counts:
    """Each pixel's trainId looked up in the official table, counted with numpy (255 and -1 ignored)."""
    mapped = [np.vectorize(OFFICIAL_TRAIN_IDS.__getitem__, otypes=[np.int64])(image) for image in images]
    return numpy_counts(mapped, ignore=(255, -1), num_classes=19, per_image=True)


def mmseg_reduce_zero_label(image: np.ndarray) -> np.ndarray:
    """mmseg/datasets/transforms/loading.py, LoadAnnotations, on the uint8 mask mmseg reads."""
    gt = image.astype(np.uint8)
    gt[gt == 0] = 255
    gt = gt - 1
    gt[gt == 254] = 255
    return gt


def reduce_oracle(images: list[np.ndarray]) -> Counts:
    return numpy_counts([mmseg_reduce_zero_label(image) for image in images], ignore=(255,), per_image=True)


def compact_oracle(images: list[np.ndarray], ignore: tuple[int, ...] = ()) -> tuple[Counts, np.ndarray]:
    """np.unique's labels, renumbered 0..K-1 with np.searchsorted, counted with numpy."""
    ids = np.unique(np.concatenate([image.ravel() for image in images]))
    ids = ids[~np.isin(ids, ignore)]
    renumbered = [np.where(np.isin(image, ignore), -1, np.searchsorted(ids, image)) for image in images]
    return numpy_counts(renumbered, ignore=(-1,), num_classes=ids.size, per_image=True), ids
