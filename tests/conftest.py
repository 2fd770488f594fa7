from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_DATA = Path(
    os.environ.get("FASTWEIGHTS_REAL_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real masks not found at {REAL_DATA} (set FASTWEIGHTS_REAL_DATA)")
    return REAL_DATA
