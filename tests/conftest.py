from __future__ import annotations

import os
from pathlib import Path

import pytest

from fastweights.api.config import cuda_devices

# The CUDA tests run on a real GPU when nvidia-smi lists one, else on numba-cuda's simulator (small
# inputs); the choice must be made before anything imports numba.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "0" if isinstance(cuda_devices(), list) else "1")

REAL_DATA = Path(
    os.environ.get("FASTWEIGHTS_REAL_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real masks not found at {REAL_DATA} (set FASTWEIGHTS_REAL_DATA)")
    return REAL_DATA
