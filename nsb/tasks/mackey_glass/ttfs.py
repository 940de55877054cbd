"""A first-spike (ramp-coded) spiking network for Mackey-Glass: random spiking features, ridge readout.

Per prediction step i (one series point; the spiking layer runs K substeps per point)::

    z_i  = last W standardised inputs (x − μ)/σ                  register (μ, σ: train window)
    c_i  = W_in z_i + b                                         input synapse, once per point:
                                                                fan_in·R MACs (real input)
    r_kn = logit((k + u_n)/K) / gain,  k = 0…K−1                 a rising ramp, the same logistic
                                                                quantiles for all, phase u_n per neuron
    IF neuron n (nsb LIF, decay 1, θ = 1, hard reset to −∞):    input c_i + θ + r_0 at k = 0 (θ rides
        v_k = c_i,n + θ + r_kn until the first spike,          in the bias), then the ramp's increments
        spike at k*_n = min{k : c_i,n + r_kn > 0}, then silent  r_k − r_{k−1}; at most one spike each
    a_k  = w_out · s_k                                          readout synapse: one AC per spike
    I_k  = Σ_{j≤k} a_j,   V = (1/K) Σ_k I_k                      output neuron: non-leaking synaptic
                                                                current, integrating membrane
    ŷ_i  = μ + σ · (V + w_z · z_i + b_out)                      (+ W MACs for the register skip)

so V = Σ_n w_out,n · (K − k*_n)/K, and (K − k*_n)/K = #{k : r_kn > −c_i,n}/K is the logistic CDF
σ(gain · c_i,n) read on K quantiles: the first-spike time codes a smooth, saturating feature of
the input. Why this shape: a linear readout of kinked (ReLU-like) or quantised-at-few-levels spike
counts drives the closed loop off the attractor (docs/mackey_glass.md lists what was tried); smooth,
bounded features at K = 256 levels keep it on. Only W_out, w_z and b_out are fitted, by ridge
regression on teacher-forced features after the 45-point warm-up, as the ESN.

Full cost per step: fan_in·R MACs (input synapse) + W MACs (skip) + one AC per spike (≤ R), counted
by ``nsb.metrics``' synaptic operations; K·R membrane updates of the IF layer (its membrane_updates
metric: every neuron takes the ramp increment at every substep, fired or not); and ``other_ops()``:
the output neuron's 2K accumulations and the 4 operations of the input/output scaling. The ramp is
input-independent, so it is precomputed once as a [K, R] table of increments: a buffer, so the
footprint holds it (8·K·R bytes, 2 MB for K = 256, R = 1000) and no logit is evaluated per point.
The neuron's state does not outlive a point (each point starts from v = 0), so the model is
feed-forward in time apart from the register.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nsb.tasks.mackey_glass.baselines import ridge_readout
from nsb.tasks.mackey_glass.protocol import check_step_input
from nsb.tasks.mackey_glass.training import FitOptions, register_windows
from nsb.errors import NsbError
from nsb.neurons import build_neuron

# far enough below θ = 0 that no ramp increment sum can bring a fired neuron back within a point
_REFRACTORY = -1e6
# nsb's LIF needs θ > 0; the input bias carries +θ, so v = c + θ + r_k crosses θ exactly when c + r_k crosses 0
_THRESHOLD = 1.0
# phases stay this far inside (0, 1): the ramp's first and last values are finite
_PHASE_MARGIN = 1e-3
_FIT_SLICE = 32


@dataclass
class TTFSOptions:
    neurons: int = 1000            # R
    window: int = 10               # W: register of the last W standardised inputs
    fan_in: int = 3                # non-zero input weights per neuron (0: all W)
    substeps: int = 256            # K: ramp steps per series point (levels of the first-spike code)
    gain: float = 2.0              # ramp slope: a neuron's feature is σ(gain · c)
    input_scale: float = 1.0       # W_in ~ U(−1, 1)·input_scale (·√(W/fan_in) when sparse)
    bias_scale: float = 1.0        # b ~ U(−1, 1)·bias_scale
    ridge: float = 1e-6
    # candidates for ridge, chosen per repeat on the validation window (run.select_ridge); empty: ridge as set
    ridge_grid: list[float] = field(default_factory=list)


def ramp(phases: Tensor, substeps: int, gain: float) -> Tensor:
    """The ramp current ``r [K, R]``: logistic quantiles (k + u_n)/K, rising in k."""
    k = torch.arange(substeps, dtype=phases.dtype)[:, None]
    return torch.logit((k + phases[None, :]) / substeps) / gain


class FirstSpikeNetwork(nn.Module):
    def __init__(self, opts: TTFSOptions, seed: int) -> None:
        super().__init__()
        r, w, k = opts.neurons, opts.window, opts.substeps
        if r < 1 or w < 1 or k < 2 or not 0 <= opts.fan_in <= w:
            raise NsbError(f"ttfs needs neurons >= 1, window >= 1, substeps >= 2 and fan_in in 0..window; got {opts}")
        if opts.gain <= 0 or opts.ridge < 0:
            raise NsbError(f"ttfs gain must be > 0 and ridge >= 0, got {opts.gain}, {opts.ridge}")
        self.opts, self.seed = opts, seed
        rng = np.random.default_rng(seed)
        w_in = rng.uniform(-1, 1, (r, w)) * opts.input_scale
        if opts.fan_in:
            mask = np.zeros((r, w))
            for n in range(r):
                mask[n, rng.choice(w, opts.fan_in, replace=False)] = 1.0
            w_in = w_in * mask * np.sqrt(w / opts.fan_in)
        phases = np.clip(rng.random(r), _PHASE_MARGIN, 1 - _PHASE_MARGIN)
        bias = rng.uniform(-1, 1, r) * opts.bias_scale
        f64 = torch.float64
        self.w_in = nn.Linear(w, r, bias=True, dtype=f64)
        # the reset right after the spike (the seed's RLIF timing) is what the measured results used
        self.neuron = build_neuron("lif", r, decay=1.0, threshold=_THRESHOLD, v_rest=_REFRACTORY, reset="hard",
                                   reset_timing="immediate", backend="torch")
        self.w_out = nn.Linear(r, 1, bias=False, dtype=f64)
        self.skip = nn.Linear(w, 1, bias=True, dtype=f64)
        with torch.no_grad():
            self.w_in.weight.copy_(torch.from_numpy(w_in))
            self.w_in.bias.copy_(torch.from_numpy(bias + _THRESHOLD))
            for p in (self.w_out.weight, self.skip.weight, self.skip.bias):
                p.zero_()
        self.requires_grad_(False)
        self.phases = torch.from_numpy(phases)
        # the neuron's input per substep: r_0 at the first, then the ramp's increments; input-independent,
        # so precomputed once, and a buffer so that the footprint holds the table
        r_k = ramp(self.phases, k, opts.gain)
        self.register_buffer("ramp_current", torch.cat([r_k[:1], r_k[1:] - r_k[:-1]]))
        self.register_buffer("mu", torch.zeros((), dtype=f64))
        self.register_buffer("sigma", torch.ones((), dtype=f64))
        self.register_buffer("register", torch.zeros(1, w, dtype=f64))

    def reset_state(self) -> None:
        self.register.zero_()

    def spikes(self, regs: Tensor) -> Tensor:
        """Registers ``[B, W]`` (standardised) → the spiking layer's spikes ``[K, B, R]``."""
        current = self.ramp_current[:, None, :].repeat(1, regs.shape[0], 1)
        current[0] += self.w_in(regs)  # the synaptic drive enters once, at the first substep
        v0 = regs.new_zeros(regs.shape[0], self.opts.neurons)  # from 0, not from the refractory V_rest
        spikes, _ = self.neuron(current, (v0, torch.zeros_like(v0)))
        return spikes

    def first_spike_features(self, spikes: Tensor) -> Tensor:
        """What the output neuron integrates per input neuron: Σ_k s_k·(K − k)/K → ``[B, R]``."""
        k = spikes.shape[0]
        weights = (k - torch.arange(k, dtype=spikes.dtype)) / k
        return torch.einsum("kbr,k->br", spikes, weights)

    def _readout(self, spikes: Tensor, regs: Tensor) -> Tensor:
        """Readout synapse per substep (ACs on spikes), synaptic current, integrating membrane."""
        current = torch.cumsum(self.w_out(spikes), 0)
        return current.sum(0) / spikes.shape[0] + self.skip(regs)

    def other_ops(self) -> int:
        """Operations per step outside synapses and membranes: (x − μ)/σ and μ + σ·y (4), the output
        neuron's current accumulation and membrane integration over K substeps (2K), its 1/K (1)."""
        return 2 * self.opts.substeps + 5

    def step(self, x: Tensor) -> Tensor:
        check_step_input(x)
        z = (x.double() - self.mu) / self.sigma
        self.register = torch.cat([self.register[:, 1:], z], 1)
        return self.mu + self.sigma * self._readout(self.spikes(self.register), self.register)

    def fit(self, inputs: Tensor, targets: Tensor, opts: FitOptions | None = None, seed: int = 0) -> list[float]:
        """Teacher-forced features (all points in one batch: a point's spikes depend only on its
        register), ridge readout on steps ≥ 45 (standardised targets); leaves the register at the end
        of the train window."""
        u = inputs.double()
        self.mu.fill_(float(u.mean()))
        self.sigma.fill_(float(u.std()))
        z = (u - self.mu) / self.sigma
        regs = register_windows(z, self.opts.window)
        with torch.no_grad():
            # in slices of points: the spikes of all 750 at once would be K·750·R doubles
            coded = torch.cat([self.first_spike_features(self.spikes(part)) for part in regs.split(_FIT_SLICE)])
            feats = torch.cat([coded, regs], 1)
            w, b, mse = ridge_readout(feats, (targets.double() - self.mu) / self.sigma, self.opts.ridge)
            r = self.opts.neurons
            self.w_out.weight.copy_(w[:r][None])
            self.skip.weight.copy_(w[r:][None])
            self.skip.bias.copy_(b)
        self.register.copy_(regs[-1:])
        return [mse]
