"""A spiking reservoir (liquid-state machine) for Mackey-Glass: fixed random LIF reservoir, ridge readout.

Per prediction step i (one series point; the reservoir runs ``substeps`` LIF steps per point)::

    z_i   = last W standardised inputs (x − μ)/σ           register (μ, σ: train window)
    c_i   = W_in z_i + b                                    input layer, W·R MACs (real input), once per point
    for k in 1..K:                                          K = substeps
        s, v = LIF(c_i + W_rec s_prev)                      nsb LIF (``nsb.neurons.lif``), hard reset;
                                                            W_rec sees binary spikes: ACs, sparse
        e ← λ_e·e + s                                        low-pass spike trace (element-wise)
    ŷ_i   = μ + σ · (w_out · [z_i; e; (v)] + b_out)           readout, fitted by ridge regression

W_rec is sparse (``density``), rescaled to spectral radius ``spectral_radius``·θ (θ the firing
threshold), W_in and the biases uniform, all drawn from ``numpy.random.default_rng(seed)``; only
W_out/b_out are fitted, by ridge regression on teacher-forced features after the 45-point warm-up
(as the ESN). Cost per step as ``nsb.metrics`` counts it: W·R MACs (input layer) + D MACs (readout on
the real-valued register/traces/membranes, D = W + R or W + 2R) + ACs for every (spike, non-zero recurrent
weight) pair. The neuron state (v, last spikes, trace) lives in buffers, so footprint counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nsb.tasks.mackey_glass.baselines import ridge_readout
from nsb.tasks.mackey_glass.protocol import check_step_input
from nsb.tasks.mackey_glass.training import FitOptions
from nsb.errors import NsbError
from nsb.neurons import build_neuron

LSM_READOUTS = ("trace", "membrane", "both")


@dataclass
class LSMOptions:
    reservoir: int = 400
    window: int = 1                # look-back register of the last W standardised inputs (input layer + readout)
    density: float = 0.05          # fraction of non-zero recurrent weights
    spectral_radius: float = 1.0   # of W_rec, in units of the threshold
    input_scale: float = 1.0       # W_in ~ U(−1, 1)·input_scale·θ
    bias: float = 0.0              # b ~ (bias + bias_spread·U(−1, 1))·θ
    bias_spread: float = 0.5
    decay: float = 0.5             # LIF membrane decay per step
    threshold: float = 1.0
    reset: str = "hard"
    substeps: int = 1              # LIF steps per series point
    trace_decay: float = 0.5       # λ_e of the spike trace
    readout: str = "trace"         # trace | membrane | both
    ridge: float = 1e-4
    # candidates for ridge, chosen per repeat on the validation window (run.select_ridge); empty: ridge as set
    ridge_grid: list[float] = field(default_factory=list)
    fit_noise: float = 0.0         # std of Gaussian noise on the standardised teacher inputs (fit only)


class SpikingReservoir(nn.Module):
    def __init__(self, opts: LSMOptions, seed: int) -> None:
        super().__init__()
        r = opts.reservoir
        if r < 1 or not 0 < opts.density <= 1 or opts.substeps < 1 or not 0 <= opts.trace_decay < 1:
            raise NsbError(f"lsm needs reservoir >= 1, density in (0, 1], substeps >= 1, trace_decay in [0, 1); "
                           f"got {opts}")
        if opts.readout not in LSM_READOUTS:
            raise NsbError(f"unknown lsm readout '{opts.readout}'; choose one of: {', '.join(LSM_READOUTS)}")
        if opts.ridge < 0 or opts.fit_noise < 0:
            raise NsbError(f"lsm ridge and fit_noise must be >= 0, got {opts.ridge}, {opts.fit_noise}")
        self.opts, self.seed = opts, seed
        rng = np.random.default_rng(seed)
        w = rng.uniform(-1, 1, (r, r)) * (rng.random((r, r)) < opts.density)
        radius = np.max(np.abs(np.linalg.eigvals(w))) if r > 1 else np.abs(w).max()
        if radius == 0:
            raise NsbError("lsm reservoir came out all zeros; raise the density")
        th = opts.threshold
        f64 = torch.float64
        wdw = opts.window
        if wdw < 1:
            raise NsbError(f"lsm window must be >= 1, got {wdw}")
        self.w_in = nn.Linear(wdw, r, bias=True, dtype=f64)
        self.w_rec = nn.Linear(r, r, bias=False, dtype=f64)
        # the reset right after the spike (the seed's RLIF timing) is what the measured results used
        self.neuron = build_neuron("lif", r, decay=opts.decay, threshold=th, reset=opts.reset,
                                   reset_timing="immediate", backend="torch")
        feats = wdw + r * (2 if opts.readout == "both" else 1)
        self.readout = nn.Linear(feats, 1, bias=True, dtype=f64)
        with torch.no_grad():
            self.w_rec.weight.copy_(torch.from_numpy(w * (opts.spectral_radius * th / radius)))
            self.w_in.weight.copy_(torch.from_numpy(rng.uniform(-1, 1, (r, wdw)) * opts.input_scale * th))
            self.w_in.bias.copy_(torch.from_numpy((opts.bias + opts.bias_spread * rng.uniform(-1, 1, r)) * th))
            self.readout.weight.zero_()
            self.readout.bias.zero_()
        self.requires_grad_(False)
        self.register_buffer("mu", torch.zeros((), dtype=f64))
        self.register_buffer("sigma", torch.ones((), dtype=f64))
        for name in ("v", "s", "trace"):
            self.register_buffer(name, torch.zeros(1, r, dtype=f64))
        self.register_buffer("register", torch.zeros(1, wdw, dtype=f64))

    def reset_state(self) -> None:
        for b in (self.v, self.s, self.trace, self.register):
            b.zero_()

    def _features(self, z: Tensor) -> Tensor:
        """One series point through the reservoir; ``z [1, 1]`` standardised → features ``[1, D]``."""
        self.register = torch.cat([self.register[:, 1:], z], 1)
        z = self.register
        current = self.w_in(z)
        lam = self.opts.trace_decay
        for _ in range(self.opts.substeps):
            spikes, (v, _) = self.neuron((current + self.w_rec(self.s))[None], (self.v, self.s))
            self.s, self.v = spikes[0], v
            self.trace = lam * self.trace + self.s
        if self.opts.readout == "trace":
            return torch.cat([z, self.trace], 1)
        if self.opts.readout == "membrane":
            return torch.cat([z, self.v], 1)
        return torch.cat([z, self.trace, self.v], 1)

    def other_ops(self) -> int:
        """Operations per step beside synapses and membranes: (x − μ)/σ and μ + σ·y (4), the spike
        trace e ← λ_e·e + s per neuron and substep (2RK)."""
        return 4 + 2 * self.opts.reservoir * self.opts.substeps

    def step(self, x: Tensor) -> Tensor:
        check_step_input(x)
        z = (x.double() - self.mu) / self.sigma
        return self.mu + self.sigma * self.readout(self._features(z))

    def fit(self, inputs: Tensor, targets: Tensor, opts: FitOptions | None = None, seed: int = 0) -> list[float]:
        """Teacher-forced features from the zero state, ridge readout on steps ≥ 45 (standardised
        targets); leaves the state at the end of the train window."""
        u = inputs.double()
        self.mu.fill_(float(u.mean()))
        self.sigma.fill_(float(u.std()))
        z = (u - self.mu) / self.sigma
        if self.opts.fit_noise > 0:
            g = torch.Generator().manual_seed(10_000 + self.seed)
            z = z + self.opts.fit_noise * torch.randn(z.shape, generator=g, dtype=z.dtype)
        self.reset_state()
        with torch.no_grad():
            feats = torch.cat([self._features(z[i:i + 1]) for i in range(z.shape[0])])
            w, b, mse = ridge_readout(feats, (targets.double() - self.mu) / self.sigma, self.opts.ridge)
            self.readout.weight.copy_(w[None])
            self.readout.bias.copy_(b)
        return [mse]

    def firing_rate(self) -> float:
        """Mean spikes per neuron per LIF step of the last step (diagnostic)."""
        return float(self.s.mean())
