"""Mackey-Glass chaotic series with NeuroBench's parameters: NeuroBench's own solver (jitcdde) or nsb's RK4.

    dx/dt = β·x(t − τ) / (1 + x(t − τ)^n) − γ·x(t),   τ = 17, n = 10, β = 0.2, γ = 0.1

History x(t ≤ 0) = 0.7206597. NeuroBench samples 1,501 points with ``linspace(t0 + offset,
t0 + offset + 20·L + L/75, 1501)``, L = 197 the Lyapunov time (75 points per L, spacing
Δ = (20L + L/75)/1500 ≈ 2.6284), the first 750 for training and the next 750 for testing.

``solver = "jitcdde"`` is NeuroBench's construction (its ``MackeyGlass.generate_data``): numpy seeded
with ``seed``, ``jitcdde_lyap`` of the equation (the value plus one tangent vector for the largest
Lyapunov exponent; the past's tangent vector is random and its error enters the adaptive step
control, so the seed matters; recent jitcxde_common (1.5.6 here) no longer draws it from numpy's
seeded generator, and nsb puts NeuroBench's draw back, see ``jitcdde_samples``), ``constant_past``,
``step_on_discontinuities`` (which leaves the solver at t0 = τ), then ``integrate`` at every grid
time t0 + offset + i·Δ. The generated C is compiled with the system compiler; if that fails,
jitcdde's Python backend gives the same series (5e-11 over the first 5 L) in ~9 s instead of ~1 s.
jitcdde is optional (``pip install 'nsb[mackey-glass]'``).

``solver = "rk4"`` is nsb's own cross-check: classical Runge-Kutta 4 on a fixed step ``dt`` (τ/dt
an integer, so the delayed value at a full step is a stored one; at the half steps it is the cubic
Hermite interpolant of the stored values and slopes), sampled at offset + i·Δ. It agrees with
jitcdde to ~4e-5 over the first Lyapunov time; like any two solvers of a chaotic system, the two
drift apart after ~5 L (tests/test_mackey_glass_series.py). The training task is next-value
prediction on windows of ``time_steps`` points (teacher forcing); the whole series and the split
index are in ``info`` for autoregressive tests.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from nsb.data.common import TaskData
from nsb.errors import ConfigError, DataError

SOLVERS = ("rk4", "jitcdde")


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
    solver: str = "rk4"  # rk4 (nsb's, no dependency) or jitcdde (NeuroBench's; the NeuroBench task uses it)
    seed: int = 0  # jitcdde only: numpy seed of jitcdde_lyap's random tangent vector


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


def spacing(o: Options) -> float:
    """Grid step Δ = (20L + L/75)/1500 of NeuroBench's ``linspace`` (for the default split sizes)."""
    points = o.train_points + o.test_points
    span = (points / o.points_per_lyapunov) * o.lyapunov_time + o.lyapunov_time / o.points_per_lyapunov
    return span / points


def _rk4_samples(o: Options, count: int) -> np.ndarray:
    t = o.start_offset + spacing(o) * np.arange(count)
    x, dx = integrate(o, t[-1] + o.dt)
    # cubic Hermite between solver steps
    pos = t / o.dt
    i = np.minimum(np.floor(pos).astype(int), len(x) - 2)
    s = pos - i
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * x[i] + h10 * o.dt * dx[i] + h01 * x[i + 1] + h11 * o.dt * dx[i + 1]


def _seeded_direction(n: int, rng: object = None) -> np.ndarray:
    """jitcxde_common's ``random_direction`` as NeuroBench ran it: from numpy's global (seeded) generator."""
    vector = np.random.normal(0, 1, n)
    return vector / np.linalg.norm(vector)


def jitcdde_samples(o: Options, count: int) -> tuple[np.ndarray, dict[str, float | str]]:
    """``count`` grid points from jitcdde (NeuroBench's construction) and how they were made:
    ``{"backend": "C" | "python", "t0": …, "lyapunov_exponent": …}`` (the weighted mean of
    jitcdde_lyap's local exponents over the samples; 1/λ is the Lyapunov time)."""
    try:
        import jitcdde.past
        from jitcdde import jitcdde_lyap, t, y
    except ImportError:
        raise DataError("the Mackey-Glass series needs jitcdde (NeuroBench's solver): pip install "
                        "'nsb[mackey-glass]' (or jitcdde), or use solver = \"rk4\"") from None
    delayed = y(0, t - o.tau)
    f = [o.beta * delayed / (1 + delayed ** o.n) - o.gamma * y(0)]
    # NeuroBench seeds numpy's global generator, from which jitcxde_common drew the past's tangent vector
    # (np.random.normal); jitcxde_common 1.5.6 draws from an unseeded default_rng() instead, so the series
    # changed from run to run (1e-8 at once, beyond 1e-2 after ~9.5 L). The old draw is put back for the call, and
    # numpy's state restored afterwards.
    state = np.random.get_state()
    np.random.seed(o.seed)
    drawn = jitcdde.past.random_direction
    jitcdde.past.random_direction = _seeded_direction
    try:
        dde = jitcdde_lyap(f, verbose=False)
        dde.constant_past([o.history])
        backend = "C"
        try:
            with warnings.catch_warnings():  # setuptools' deprecation notes from the C build are not ours
                warnings.simplefilter("ignore")
                dde.compile_C(verbose=False)
        except Exception:  # no usable C compiler: jitcdde's own Python backend, same series, slower
            dde.generate_lambdas()
            backend = "python"
        dde.step_on_discontinuities()
        t0 = float(dde.t)
        times = t0 + o.start_offset + spacing(o) * np.arange(count)
        values, lyaps, weights = np.empty(count), np.empty(count), np.empty(count)
        for i, when in enumerate(times):
            value, lyap, weight = dde.integrate(float(when))
            values[i], lyaps[i], weights[i] = value[0], lyap[0], weight
    finally:
        jitcdde.past.random_direction = drawn
        np.random.set_state(state)
    return values, {"backend": backend, "t0": t0,
                    "lyapunov_exponent": float(lyaps @ weights / weights.sum())}


def sample(o: Options, count: int) -> np.ndarray:
    """``count`` points of the grid, from ``o.solver`` (float64)."""
    if o.solver not in SOLVERS:
        raise ConfigError(f"unknown mackey_glass solver '{o.solver}'; choose one of: {', '.join(SOLVERS)}")
    if o.solver == "jitcdde":
        return jitcdde_samples(o, count)[0]
    return _rk4_samples(o, count)


def generate_series(o: Options | None = None) -> np.ndarray:
    """The ``train_points + test_points + 1`` samples of NeuroBench's grid (float64)."""
    o = o or Options()
    return sample(o, o.train_points + o.test_points + 1)


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
