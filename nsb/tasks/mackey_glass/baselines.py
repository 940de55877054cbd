"""NeuroBench's two Mackey-Glass baselines, as step models for ``protocol.autoregress``.

Both are float64 like NeuroBench's, so footprint counts 8 bytes per element.

LSTM (reference §3.4): register of the last 50 inputs → LayerNorm(50) → LSTMCell(50 → 100) → ReLU
→ Linear(100 → 1). Buffers: the register [1, 50] and the state h, c [1, 100], so footprint =
(61,001 params + 250 buffer elements)·8 = 490,008 B. Dense ops per step = 4H(I+H) + 3H + H
= 60,400 (nsb counts all-ones states in dense).

ESN: state r ∈ R^R, input x,

    r ← (1 − a)·r + a·tanh(W r + W_in [1; x]),     y = W_out [1; x; r]

W (R×R) sparse random with density p, rescaled to spectral radius ρ; W_in (R×2) uniform(−1, 1);
W_out fitted by ridge regression on teacher-forced states after a 45-point warm-up. Footprint
8·(R² + 2R + R + 2); R = 186 gives 281,248 B and dense 35,156 ops, NeuroBench's table row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nsb.tasks.mackey_glass.protocol import WARMUP_POINTS, check_step_input
from nsb.tasks.mackey_glass.training import FitOptions, fit_sequences, register_windows
from nsb.errors import NsbError


class LSTMBaseline(nn.Module):
    def __init__(self, window: int = 50, hidden: int = 100, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.window, self.hidden = window, hidden
        self.norm = nn.LayerNorm(window, dtype=dtype)
        self.cell = nn.LSTMCell(window, hidden, dtype=dtype)
        self.act = nn.ReLU()
        self.head = nn.Linear(hidden, 1, dtype=dtype)
        self.register_buffer("register", torch.zeros(1, window, dtype=dtype))
        self.register_buffer("h", torch.zeros(1, hidden, dtype=dtype))
        self.register_buffer("c", torch.zeros(1, hidden, dtype=dtype))

    def reset_state(self) -> None:
        for b in (self.register, self.h, self.c):
            b.zero_()

    def other_ops(self) -> int:
        """Operations per step that the synaptic count (4H(I+H) + 3H, gates and state products) leaves
        out, one per evaluation: 3H sigmoids + 2H tanh, H ReLU, LayerNorm ~5I (mean, variance,
        centre, scale, affine)."""
        return 6 * self.hidden + 5 * self.window

    def step(self, x: Tensor) -> Tensor:
        check_step_input(x)
        self.register = torch.cat([self.register[:, 1:], x.to(self.register.dtype)], 1)
        self.h, self.c = self.cell(self.norm(self.register), (self.h, self.c))
        return self.head(self.act(self.h))

    def sequence(self, regs: Tensor) -> Tensor:
        """Training path: registers ``[T, B, W]`` from a zero state → predictions ``[T, B, 1]``."""
        h = regs.new_zeros(regs.shape[1], self.hidden)
        c = torch.zeros_like(h)
        out = []
        for t in range(regs.shape[0]):
            h, c = self.cell(self.norm(regs[t]), (h, c))
            out.append(self.head(self.act(h)))
        return torch.stack(out)

    def fit(self, inputs: Tensor, targets: Tensor, opts: FitOptions, seed: int) -> list[float]:
        """Train in float32 (several times faster on CPU), then return to float64 for the test, so the
        closed loop and the footprint are NeuroBench's float64 ones."""
        dtype = self.register.dtype
        self.float()
        regs = register_windows(inputs.float(), self.window)
        g = torch.Generator().manual_seed(seed)
        self.train()
        try:
            losses = fit_sequences(self.sequence, self.parameters(), regs, targets.float(), opts, g)
        finally:
            self.to(dtype)
            self.eval()
        return losses


def ridge_fit(features: Tensor, targets: Tensor, ridge: float) -> Tensor:
    """W minimising ‖F Wᵀ − Y‖² + λ‖W‖², as the least-squares solution of the stacked system

        [F; √λ I] Wᵀ = [Y; 0]

    by SVD (LAPACK gelsd) in float64. ``features F [N, D]``, ``targets Y [N, K]`` → ``W [K, D]``.
    Not the normal equations (Fᵀ F + λ I) Wᵀ = Fᵀ Y: they square F's condition number (~1e12 for
    reservoir or first-spike features with λ = 1e-6), so rounding differences between identical fits
    moved the closed-loop sMAPE by points. The stacked matrix's condition is at most σ_max(F)/√λ, and
    the SVD does not decide ranks by pivoting.
    """
    if features.dim() != 2 or targets.dim() != 2 or features.shape[0] != targets.shape[0]:
        raise NsbError(f"ridge_fit needs features [N, D] and targets [N, K] with the same N, got "
                       f"{tuple(features.shape)} and {tuple(targets.shape)}")
    if ridge < 0:
        raise NsbError(f"ridge must be >= 0, got {ridge}")
    f, y = features.double(), targets.double()
    d = f.shape[1]
    a = torch.cat([f, ridge ** 0.5 * torch.eye(d, dtype=f.dtype)]) if ridge > 0 else f
    b = torch.cat([y, y.new_zeros(d, y.shape[1])]) if ridge > 0 else y
    return torch.linalg.lstsq(a, b, driver="gelsd").solution.T


def ridge_readout(features: Tensor, targets: Tensor, ridge: float) -> tuple[Tensor, Tensor, float]:
    """Readout ``y ≈ w · f + b`` by ridge regression on the points after the 45-point warm-up (as
    the ESN's): ``features [N, D]``, ``targets [N, 1]`` → ``w [D]``, ``b [1]`` and the fit's MSE."""
    f, y = features[WARMUP_POINTS:], targets[WARMUP_POINTS:]
    x = torch.cat([f, torch.ones(f.shape[0], 1, dtype=f.dtype)], 1)
    coef = ridge_fit(x, y, ridge)[0]
    return coef[:-1], coef[-1:], float(torch.mean((x @ coef[:, None] - y) ** 2))

@dataclass
class ESNOptions:
    reservoir: int = 186
    density: float = 0.11
    spectral_radius: float = 1.19
    leak: float = 0.69
    ridge: float = 1e-7
    # candidates for ridge, chosen per repeat on the validation window (run.select_ridge); empty: ridge as set
    ridge_grid: list[float] = field(default_factory=list)
    input_scale: float = 1.0


class ESN(nn.Module):
    def __init__(self, opts: ESNOptions, seed: int) -> None:
        super().__init__()
        r = opts.reservoir
        if r < 1 or not 0 < opts.density <= 1 or not 0 < opts.leak <= 1:
            raise NsbError(f"ESN needs reservoir >= 1, density in (0, 1], leak in (0, 1]; got {opts}")
        self.opts = opts
        rng = np.random.default_rng(seed)
        w = rng.uniform(-1, 1, (r, r)) * (rng.random((r, r)) < opts.density)
        radius = np.max(np.abs(np.linalg.eigvals(w)))
        if radius == 0:
            raise NsbError("ESN reservoir came out all zeros; raise the density")
        self.w_in = nn.Linear(2, r, bias=False, dtype=torch.float64)
        self.w = nn.Linear(r, r, bias=False, dtype=torch.float64)
        self.w_out = nn.Linear(r + 2, 1, bias=False, dtype=torch.float64)
        with torch.no_grad():
            self.w.weight.copy_(torch.from_numpy(w * (opts.spectral_radius / radius)))
            self.w_in.weight.copy_(torch.from_numpy(rng.uniform(-1, 1, (r, 2)) * opts.input_scale))
            self.w_out.weight.zero_()
        self.requires_grad_(False)
        # a plain attribute, not a buffer: NeuroBench's ESN footprint (8·(R² + 3R + 2)) has no state
        self.r = torch.zeros(1, r, dtype=torch.float64)

    def reset_state(self) -> None:
        self.r = torch.zeros_like(self.r)

    def _features(self, x: Tensor) -> Tensor:
        one = torch.ones_like(x)
        a = self.opts.leak
        self.r = (1 - a) * self.r + a * torch.tanh(self.w(self.r) + self.w_in(torch.cat([one, x], 1)))
        return torch.cat([one, x, self.r], 1)

    def other_ops(self) -> int:
        """Operations per step beside the synapses: R tanh and the leaky mix (1 − a)·r + a·h (3R)."""
        return 4 * self.opts.reservoir

    def step(self, x: Tensor) -> Tensor:
        check_step_input(x)
        return self.w_out(self._features(x.double()))

    def fit(self, inputs: Tensor, targets: Tensor, opts: FitOptions | None = None, seed: int = 0) -> list[float]:
        """Teacher-forced states from r = 0, ridge readout on steps ≥ 45; leaves r at the end state."""
        self.reset_state()
        with torch.no_grad():
            feats = torch.cat([self._features(inputs[i:i + 1].double()) for i in range(inputs.shape[0])])
            f, y = feats[WARMUP_POINTS:], targets[WARMUP_POINTS:].double()
            self.w_out.weight.copy_(ridge_fit(f, y, self.opts.ridge))
            mse = float(torch.mean((f @ self.w_out.weight.T - y) ** 2))
        return [mse]
