"""Shared fixtures. Real data lives in ../shared/data (see its README); a user's clone lacks it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NSB_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real MNIST/PTB files, or a skip that says why they are missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set NSB_SHARED_DATA to its folder)")
    return SHARED_DATA
