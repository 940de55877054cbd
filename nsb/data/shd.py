"""Spiking Heidelberg Digits (Cramer et al. 2020), binned as the seed bins it.

HDF5 files ``shd_train.h5`` and ``shd_test.h5`` (``.h5.gz`` accepted after ``gunzip``) under
``root/SHD``, ``root/shd`` or ``root``, each with ``spikes/times`` (ragged float seconds),
``spikes/units`` (ragged channel ids 0…699) and ``labels``. The seed's binning (its
``SpikingHeidelbergDigits``): a 1 s window cut into T frames, dt = 1/T; frame i holds every event
not yet taken with time ≤ i·dt, at index ``700 − unit``, so unit 0 falls outside the 700 inputs and
is dropped and the channel order is reversed; events after (T − 1)·dt are dropped; frames are
binary. 20 classes. SSC (:mod:`nsb.data.ssc`) has the same layout and binning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from nsb.data import files
from nsb.data.common import TaskData
from nsb.errors import DataError

URL = "https://zenkelab.org/datasets/"
CHANNELS = 700


@dataclass
class Options:
    time_steps: int = 250  # T frames over the 1 s window
    window: float = 1.0  # seconds covered


def bin_events(times: np.ndarray, units: np.ndarray, steps: int, window: float = 1.0) -> np.ndarray:
    """One sample's events → binary frames ``[T, 700]`` (uint8), the seed's rule."""
    dt = window / steps
    thresholds = np.arange(steps) * dt
    frame = np.searchsorted(thresholds, times, side="left")  # first i with i·dt >= t
    index = CHANNELS - units.astype(np.int64)
    keep = (frame < steps) & (index >= 0) & (index < CHANNELS)
    out = np.zeros((steps, CHANNELS), dtype=np.uint8)
    out[frame[keep], index[keep]] = 1
    return out


class SpikeFrames(Dataset):
    """Reads one HDF5 split into memory as ragged arrays and bins a sample on access."""

    def __init__(self, path: Path, options: Options, classes: int | None = None) -> None:
        again = f"download it again (nsb data download {path.name.split('_')[0]} --root DIR)"
        files.check_file(path, "an SHD/SSC HDF5 file", again)
        try:
            with h5py.File(path, "r") as f:
                for name in ("spikes/times", "spikes/units", "labels"):
                    if not isinstance(f.get(name), h5py.Dataset):
                        raise DataError(f"{path} has no dataset '{name}' (an SHD/SSC file holds spikes/times, "
                                        f"spikes/units and labels); {again}")
                self.times = [np.asarray(t, dtype=np.float64) for t in f["spikes"]["times"]]
                self.units = [np.asarray(u) for u in f["spikes"]["units"]]
                self.labels = np.asarray(f["labels"])
        except (OSError, KeyError, TypeError, ValueError) as err:
            reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
            raise DataError(f"{path} is not a readable SHD/SSC HDF5 file with spikes/times, spikes/units and "
                            f"labels ({reason}); {again}") from None
        lengths = {"spikes/times": len(self.times), "spikes/units": len(self.units), "labels": len(self.labels)}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{path}: datasets of different lengths ({', '.join(f'{k} {v}' for k, v in lengths.items())}); "
                            f"the file is corrupt, {again}")
        if not lengths["labels"]:
            raise DataError(f"{path} holds no samples; {again}")
        if self.labels.ndim != 1 or not np.issubdtype(self.labels.dtype, np.integer):
            raise DataError(f"{path}: labels are {self.labels.dtype} of shape {list(self.labels.shape)}, not one "
                            f"class index per sample; {again}")
        self.labels = self.labels.astype(np.int64)
        if classes is not None and (self.labels.min() < 0 or self.labels.max() >= classes):
            bad = int(np.argmax((self.labels < 0) | (self.labels >= classes)))
            raise DataError(f"{path}: label {int(self.labels[bad])} of sample {bad} is outside the {classes} classes "
                            f"(0..{classes - 1}); {again}")
        for i, (t, u) in enumerate(zip(self.times, self.units)):
            if t.shape != u.shape or t.ndim != 1:
                raise DataError(f"{path}: sample {i} has {t.size} spike times but {u.size} units; the file is corrupt, "
                                f"{again}")
            if u.size and not np.issubdtype(u.dtype, np.integer):
                raise DataError(f"{path}: spikes/units of sample {i} are {u.dtype}, not channel numbers; {again}")
        self.options = options

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        frames = bin_events(self.times[i], self.units[i], self.options.time_steps, self.options.window)
        return torch.from_numpy(frames).float(), torch.tensor(self.labels[i])


def load_splits(name: str, splits: tuple[str, ...], classes: int, options: Options, root: Path) -> TaskData:
    where = [root / name.upper(), root / name, root]
    wanted = [f"{name}_{s}.h5" for s in splits]
    paths = [files.find(where, [w]) for w in wanted]
    if any(p is None for p in paths):
        raise files.missing(name.upper(), where, wanted,
                            f"run `nsb data download {name} --root DIR` on a machine with a network, or copy them there")
    for p in paths:
        if p.suffix == ".gz":  # type: ignore[union-attr]
            raise DataError(f"{p} is gzip-compressed; gunzip it first (h5py reads plain HDF5)")
    data = {s: SpikeFrames(p, options, classes) for s, p in zip(splits, paths)}  # type: ignore[arg-type]
    return TaskData("classification", data["train"], data["test"], valid=data.get("valid"), input_size=CHANNELS,
                    num_classes=classes, time_steps=options.time_steps, info={"files": [str(p) for p in paths]})


def download_splits(name: str, splits: tuple[str, ...], root: Path) -> None:
    import gzip
    import shutil

    target = root / name.upper()
    for s in splits:
        plain = target / f"{name}_{s}.h5"
        if plain.is_file():
            continue
        packed = target / f"{name}_{s}.h5.gz"
        files.download(f"{URL}{name}_{s}.h5.gz", packed)
        with gzip.open(packed, "rb") as src, open(plain.with_suffix(".part"), "wb") as dst:
            shutil.copyfileobj(src, dst)
        plain.with_suffix(".part").replace(plain)
        packed.unlink()


def load(options: Options, root: Path, seed: int) -> TaskData:
    return load_splits("shd", ("train", "test"), 20, options, root)


def download(root: Path) -> None:
    download_splits("shd", ("train", "test"), root)
