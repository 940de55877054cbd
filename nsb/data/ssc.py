"""Spiking Speech Commands (Cramer et al. 2020): SHD's layout and binning, 35 classes, a validation split.

Files ``ssc_train.h5``, ``ssc_valid.h5``, ``ssc_test.h5`` under ``root/SSC``, ``root/ssc`` or ``root``;
see :mod:`nsb.data.shd` for the format and the seed's binning.
"""

from __future__ import annotations

from pathlib import Path

from nsb.data.common import TaskData
from nsb.data.shd import Options, download_splits, load_splits

__all__ = ["Options", "download", "load"]


def load(options: Options, root: Path, seed: int) -> TaskData:
    return load_splits("ssc", ("train", "valid", "test"), 35, options, root)


def download(root: Path) -> None:
    download_splits("ssc", ("train", "valid", "test"), root)
