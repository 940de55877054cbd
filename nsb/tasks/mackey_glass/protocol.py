"""NeuroBench's Mackey-Glass protocol: series per repeat, splits, the autoregressive loop.

Grid: 1,501 points ``linspace(t0, t0 + 20·L + L/75, 1501)`` (spacing Δ = (20L + L/75)/1500 ≈ 2.6284,
L = 197), from ``nsb.data.mackey_glass`` (τ = 17, n = 10, β = 0.2, γ = 0.1, history 0.7206597), by
default NeuroBench's solver (jitcdde, t0 = τ where ``step_on_discontinuities`` leaves it). One series of
1501 + 1087 points is generated once; repeat k (k = 0…29) is its slice starting ``o_k = int(k · 0.5 · 75)``
points in (0, 37, 75, …, 1087), as NeuroBench's loader slices its one file, and the models of repeat k
are seeded with k. With bin window 1, sample i is ``u[i]`` and its target ``u[i+1]``:

    train:  inputs u[0 … 749],   targets u[1 … 750]     (teacher forcing)
    test:   inputs u[750 … 1499], targets u[751 … 1500]  (autoregressive: only u[750] is given,
            every later input is the model's previous prediction)

The score of a repeat is sMAPE = 200/N · Σ |ŷ − y| / (|ŷ| + |y|) over the 750 test targets; the
benchmark reports its mean over the repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor, nn

from nsb.data.mackey_glass import Options, sample
from nsb.errors import NsbError

LYAPUNOV_TIME = 197.0
POINTS_PER_LYAPUNOV = 75
TRAIN_POINTS = 750
TEST_POINTS = 750
WARMUP_POINTS = int(0.6 * POINTS_PER_LYAPUNOV)  # 45: dropped from the ESN's readout fit
MAX_REPEATS = 30


def offset_points(repeat: int) -> int:
    """Start of repeat ``k`` in grid points: int(k · 0.5 · 75)."""
    if not 0 <= repeat < MAX_REPEATS:
        raise NsbError(f"mackey_glass repeat must be in 0..{MAX_REPEATS - 1}, got {repeat}")
    return int(repeat * 0.5 * POINTS_PER_LYAPUNOV)


@lru_cache(maxsize=4)
def _long_series(solver: str, dt: float, seed: int) -> np.ndarray:
    count = TRAIN_POINTS + TEST_POINTS + 1 + offset_points(MAX_REPEATS - 1)
    return sample(Options(solver=solver, dt=dt, seed=seed), count)


def series_for(repeat: int, dt: float = 0.1, solver: str = "jitcdde", seed: int = 0) -> np.ndarray:
    """The 1,501-point float64 series of repeat ``repeat``: a copy of its slice of the one long series
    (``solver`` jitcdde, numpy seed ``seed``; or nsb's rk4 with step ``dt``)."""
    start = offset_points(repeat)
    return _long_series(solver, dt, seed)[start:start + TRAIN_POINTS + TEST_POINTS + 1].copy()


@dataclass
class Split:
    train_inputs: Tensor  # [750, 1] float64
    train_targets: Tensor  # [750, 1]
    test_inputs: Tensor  # [750, 1]; only row 0 is used by the autoregressive test
    test_targets: Tensor  # [750, 1]


def split(series: np.ndarray) -> Split:
    """Cut a 1,501-point series into NeuroBench's train and test samples (bin window 1)."""
    u = np.asarray(series, dtype=np.float64)
    need = TRAIN_POINTS + TEST_POINTS + 1
    if u.ndim != 1 or u.shape[0] != need:
        raise NsbError(f"mackey_glass series must be 1-D with {need} points, got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise NsbError("mackey_glass series contains NaN or inf; check the solver options")
    t = torch.from_numpy(u).unsqueeze(-1)
    a, b = TRAIN_POINTS, TRAIN_POINTS + TEST_POINTS
    return Split(t[:a], t[1:a + 1], t[a:b], t[a + 1:b + 1])


def check_step_input(x: Tensor) -> None:
    """A model step takes one value per sample: ``[B, 1]``."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != 1:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise NsbError(f"a Mackey-Glass model step takes a [B, 1] tensor (one value per sample), got {shape}")


def autoregress(model: nn.Module, first: Tensor, steps: int) -> Tensor:
    """Closed loop: y_1 = f(first), y_{k+1} = f(y_k); returns ``[steps, 1]``.

    The model keeps its own state (look-back register, hidden state) between calls, so it must
    have been primed with the training inputs first (``run_teacher_forced``).
    """
    if steps < 1:
        raise NsbError(f"autoregressive test needs at least 1 step, got {steps}")
    x = first.reshape(1, 1) if isinstance(first, Tensor) and first.numel() == 1 else first
    check_step_input(x)
    preds = []
    for _ in range(steps):
        y = model.step(x)
        check_step_input(y)
        preds.append(y)
        x = y  # the feedback: the prediction is the next input
    return torch.cat(preds, 0)


def run_teacher_forced(model: nn.Module, inputs: Tensor) -> Tensor:
    """Open loop over ``inputs [N, 1]`` (true values in, one prediction per value out)."""
    if inputs.dim() != 2 or inputs.shape[1] != 1:
        raise NsbError(f"teacher-forced inputs must be [N, 1], got {tuple(inputs.shape)}")
    return torch.cat([model.step(inputs[i:i + 1]) for i in range(inputs.shape[0])], 0)
