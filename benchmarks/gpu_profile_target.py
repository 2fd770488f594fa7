"""A short program for a profiler (gpu_device_check.sh runs it under Nsight Compute): counts 1 GiB
of device-resident uint8 masks (19 classes) and 1 GiB of int32 labels, three times each."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from numba import cuda
from speed_data import SEED, blocky_masks, skewed

import fastweights

rng = np.random.default_rng(SEED)
masks, _ = blocky_masks(rng, 1024, 1024, 1024, skewed(19, 0.70), np.uint8)
wide, _ = blocky_masks(rng, 256, 1024, 1024, skewed(19, 0.70), np.int32)
for labels in (masks, wide):
    device = cuda.to_device(labels.reshape(-1))
    for _ in range(3):
        fastweights.count(device)
