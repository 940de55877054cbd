"""Random manifolds ("randman", Zenke & Vogels 2021): a spike-timing task generated in code.

Each class is a random smooth manifold of intrinsic dimension ``dim_manifold`` embedded in
``units`` dimensions: unit u maps a point ξ ∈ [0, 1]^D to
``f_u(ξ) = Σ_d Σ_k a_udk · sin(2π(k·ξ_d + φ_udk))`` with amplitudes ``a ~ U(0, 1)/k^α`` (``alpha``
sets the smoothness), rescaled to [0, 1] per unit. A sample is a random ξ; each input unit fires
exactly once, at step ``round(f_u(ξ)·(T − 1))``, so a sample is a binary raster ``[T, units]`` whose
class is in the timing only. Small jitter of the spike times (``jitter`` steps) makes the task
harder than a lookup. Deterministic given the seed; generation takes well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from nsb.data.common import TaskData
from nsb.errors import ConfigError


@dataclass
class Options:
    classes: int = 10  # number of manifolds
    units: int = 32  # input neurons, one spike each per sample
    time_steps: int = 50  # T
    dim_manifold: int = 1  # intrinsic dimension of each manifold
    alpha: float = 2.0  # smoothness: amplitude of the k-th harmonic ∝ 1/k^alpha
    harmonics: int = 3  # Fourier terms per unit and intrinsic dimension
    train_per_class: int = 500
    test_per_class: int = 100
    jitter: float = 1.0  # std of the Gaussian spike-time jitter, in steps


def _manifold(rng: np.random.Generator, o: Options) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(1, o.harmonics + 1)
    amplitude = rng.uniform(0, 1, (o.units, o.dim_manifold, o.harmonics)) / k**o.alpha
    phase = rng.uniform(0, 1, (o.units, o.dim_manifold, o.harmonics))
    return amplitude, phase


def _embed(xi: np.ndarray, amplitude: np.ndarray, phase: np.ndarray, harmonics: int) -> np.ndarray:
    """ξ [n, D] → f(ξ) [n, units]."""
    k = np.arange(1, harmonics + 1)
    angle = 2 * np.pi * (xi[:, None, :, None] * k + phase[None])  # [n, units, D, K]
    return (amplitude[None] * np.sin(angle)).sum(axis=(2, 3))


def generate(o: Options, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test rasters ``[n, T, units]`` (uint8) and labels."""
    if min(o.classes, o.units, o.time_steps, o.dim_manifold, o.harmonics, o.train_per_class, o.test_per_class) < 1:
        raise ConfigError(f"randman options must all be positive, got {o}")
    rng = np.random.default_rng(seed)
    per_class = o.train_per_class + o.test_per_class
    xs, ys = [], []
    for c in range(o.classes):
        amplitude, phase = _manifold(rng, o)
        f = _embed(rng.uniform(0, 1, (per_class, o.dim_manifold)), amplitude, phase, o.harmonics)
        # rescale each unit to [0, 1] over the manifold (a dense reference sample, not the data)
        ref = _embed(rng.uniform(0, 1, (2048, o.dim_manifold)), amplitude, phase, o.harmonics)
        lo, hi = ref.min(0), ref.max(0)
        times = np.clip((f - lo) / np.maximum(hi - lo, 1e-12), 0, 1) * (o.time_steps - 1)
        times = np.clip(np.rint(times + rng.normal(0, o.jitter, times.shape)), 0, o.time_steps - 1).astype(np.int64)
        raster = np.zeros((per_class, o.time_steps, o.units), dtype=np.uint8)
        raster[np.arange(per_class)[:, None], times, np.arange(o.units)[None]] = 1
        xs.append(raster)
        ys.append(np.full(per_class, c, dtype=np.int64))
    x, y = np.stack(xs), np.stack(ys)  # [classes, per_class, ...]
    train = (x[:, :o.train_per_class].reshape(-1, o.time_steps, o.units), y[:, :o.train_per_class].reshape(-1))
    test = (x[:, o.train_per_class:].reshape(-1, o.time_steps, o.units), y[:, o.train_per_class:].reshape(-1))
    return train[0], train[1], test[0], test[1]


def load(options: Options, root: Path, seed: int) -> TaskData:
    x_train, y_train, x_test, y_test = generate(options, seed)

    def dataset(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y))

    return TaskData("classification", dataset(x_train, y_train), dataset(x_test, y_test),
                    input_size=options.units, num_classes=options.classes, time_steps=options.time_steps,
                    info={"generator": "randman", "seed": seed})


def generated_bytes(options: Options) -> int:
    """Memory the generated splits take: float32 spikes [N, T, units], built in numpy then copied to torch."""
    samples = options.classes * (options.train_per_class + options.test_per_class)
    return 2 * 4 * samples * options.time_steps * options.units
