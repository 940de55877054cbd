"""Mackey-Glass chaotic series with NeuroBench's parameters, from a delay-differential solver of our own.

    dx/dt = β·x(t − τ) / (1 + x(t − τ)^n) − γ·x(t),   τ = 17, n = 10, β = 0.2, γ = 0.1

History x(t ≤ 0) = 0.7206597. NeuroBench samples 1,501 points with ``linspace(offset,
offset + 20·L + L/75, 1501)``, L = 197 the Lyapunov time (75 points per L, spacing ≈ 2.628), the
first 750 for training and the next 750 for testing, ``start_offset`` shifting the window.
NeuroBench ships its series as files because its solver (jitcdde) gave different series on
different machines; nsb integrates with classical Runge-Kutta 4 on a fixed step ``dt`` (τ/dt an
integer, so the delayed value at a full step is a stored one; at the half steps it is the cubic
Hermite interpolant of the stored values and slopes), which is deterministic everywhere. Against a
step-halved run (dt = 0.05) the series agree to 2e-5 over the first Lyapunov time and 2e-3 over five;
like any chaotic series,
two solvers drift apart after many Lyapunov times, so compare statistics, not points, with
NeuroBench's files. The training task is next-value prediction on windows of ``time_steps`` points
(teacher forcing); the whole series and the split index are in ``info`` for autoregressive tests.
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
    tau: float = 17.0
    n: float = 10.0
    beta: float = 0.2
    gamma: float = 0.1
    history: float = 0.7206597  # x(t) for t <= 0
    lyapunov_time: float = 197.0
    points_per_lyapunov: int = 75
    train_points: int = 750
    test_points: int = 750
    start_offset: float = 0.0  # time units before the first sample (NeuroBench repeats k·0.5·L)
    dt: float = 0.1  # solver step; tau/dt must be an integer
    time_steps: int = 50  # window length T of a training sample


def _rhs(x: float, delayed: float, o: Options) -> float:
    return o.beta * delayed / (1.0 + delayed**o.n) - o.gamma * x


def integrate(o: Options, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Values and slopes on the grid ``0, dt, …`` up to ``t_end`` (RK4, Hermite-interpolated delay)."""
    lag = o.tau / o.dt
    if abs(lag - round(lag)) > 1e-9 or lag < 1:
        raise ConfigError(f"mackey_glass needs tau/dt to be a whole number >= 1, got tau={o.tau}, dt={o.dt}")
    lag = int(round(lag))
    steps = int(np.ceil(t_end / o.dt)) + 1
    x = np.empty(steps + lag)
    dx = np.empty(steps + lag)
    x[: lag + 1] = o.history  # index lag is t = 0
    dx[:lag] = 0.0
    dx[lag] = _rhs(o.history, o.history, o)
    for i in range(lag, steps + lag - 1):
        d0, d1 = x[i - lag], x[i + 1 - lag]
        s0, s1 = dx[i - lag], dx[i + 1 - lag]
        d_half = 0.5 * (d0 + d1) + o.dt * (s0 - s1) / 8.0  # cubic Hermite at the midpoint
        k1 = _rhs(x[i], d0, o)
        k2 = _rhs(x[i] + 0.5 * o.dt * k1, d_half, o)
        k3 = _rhs(x[i] + 0.5 * o.dt * k2, d_half, o)
        k4 = _rhs(x[i] + o.dt * k3, d1, o)
        x[i + 1] = x[i] + o.dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6.0
        dx[i + 1] = _rhs(x[i + 1], x[i + 1 - lag], o)
    return x[lag:], dx[lag:]


def generate_series(o: Options | None = None) -> np.ndarray:
    """The ``train_points + test_points + 1`` samples of NeuroBench's grid (float64)."""
    o = o or Options()
    count = o.train_points + o.test_points + 1
    span = 20 * o.lyapunov_time + o.lyapunov_time / o.points_per_lyapunov
    t = np.linspace(o.start_offset, o.start_offset + span, count)
    x, dx = integrate(o, t[-1] + o.dt)
    # cubic Hermite between grid points
    pos = t / o.dt
    i = np.minimum(np.floor(pos).astype(int), len(x) - 2)
    s = pos - i
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * x[i] + h10 * o.dt * dx[i] + h01 * x[i + 1] + h11 * o.dt * dx[i + 1]


def windows(series: np.ndarray, start: int, stop: int, steps: int) -> TensorDataset:
    """Windows whose targets lie in ``series[start + 1 : stop + 1]``: x = series[i : i+T], y = next values."""
    first, last = start, stop - steps
    if last < first:
        raise ConfigError(f"mackey_glass time_steps = {steps} is longer than the split ({stop - start} points)")
    idx = np.arange(first, last + 1)[:, None] + np.arange(steps)[None]
    x = torch.from_numpy(series[idx]).float().unsqueeze(-1)
    y = torch.from_numpy(series[idx + 1]).float().unsqueeze(-1)
    return TensorDataset(x, y)


def load(options: Options, root: Path, seed: int) -> TaskData:
    series = generate_series(options)
    split = options.train_points
    train = windows(series, 0, split, options.time_steps)
    test = windows(series, split, len(series) - 1, options.time_steps)
    return TaskData("regression", train, test, input_size=1, num_classes=1, time_steps=options.time_steps,
                    info={"series": series.tolist(), "split": split})
