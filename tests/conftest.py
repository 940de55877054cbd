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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A trained run (one epoch of a one-layer LIF net on random manifolds) that tests copy, never change."""
    from badinput import TINY

    from nsb.config import load_config
    from nsb.train import Trainer

    base = tmp_path_factory.mktemp("tiny")
    cfg = load_config(None, TINY + [f'out_dir="{base / "runs"}"', 'name="tiny"'])
    Trainer(cfg, progress=False).fit()
    return base / "runs" / "tiny"


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported with ONNX and TorchScript, for tests that copy it."""
    from nsb.export.run import export_run

    return export_run(tiny_run, tmp_path_factory.mktemp("tinyb") / "bundle", ("onnx", "torchscript"), samples=8)
