"""The nsb spiking model for Mackey-Glass: look-back register → LIF layer → linear readout.

Per prediction step i (one network step per series point, state carried from step to step)::

    z_i   = (r_i − μ) / σ                      register of the last W values, standardised
    s_i, v_i = LIF(W_in z_i [+ W_rec s_{i−1}])  nsb ``SpikingLayer`` (Linear → LIF), surrogate gradients
    ŷ_i   = μ + σ · (w_out · f_i + b)          f_i = v_i (membrane readout) or s_i (spike readout)

μ, σ are the train window's mean and std (buffers; the affine output map folds into w_out, b).
Cost per step, as ``nsb.metrics`` counts it: the input synapse sees real values, W·H MACs; the
recurrent synapse sees spikes, ACs for every (active spike, weight) pair; the readout H MACs on the
membrane or ACs on spikes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from nsb.tasks.mackey_glass.protocol import check_step_input
from nsb.tasks.mackey_glass.training import FitOptions, fit_sequences, register_windows
from nsb.errors import NsbError
from nsb.models.layers import SpikingLayer
from nsb.neurons import build_neuron
from nsb.norm import NoNorm

READOUTS = ("membrane", "spikes")


@dataclass
class SNNOptions:
    window: int = 32
    hidden: int = 128
    neuron: str = "lif"
    recurrent: bool = False
    readout: str = "membrane"
    neuron_kwargs: dict[str, Any] = field(default_factory=dict)


class SpikingPredictor(nn.Module):
    def __init__(self, opts: SNNOptions) -> None:
        super().__init__()
        if opts.readout not in READOUTS:
            raise NsbError(f"unknown snn readout '{opts.readout}'; choose one of: {', '.join(READOUTS)}")
        if opts.window < 1 or opts.hidden < 1:
            raise NsbError(f"snn window and hidden must be >= 1, got {opts.window}, {opts.hidden}")
        self.opts = opts
        neuron = build_neuron(opts.neuron, opts.hidden, recurrent=opts.recurrent, **opts.neuron_kwargs)
        self.layer = SpikingLayer(nn.Linear(opts.window, opts.hidden), NoNorm(), neuron)
        self.readout = nn.Linear(opts.hidden, 1)
        self.register_buffer("register", torch.zeros(1, opts.window))
        self.register_buffer("mu", torch.zeros(()))
        self.register_buffer("sigma", torch.ones(()))
        # the neuron state lives in buffers so that footprint counts it (NeuroBench counts LSTM h, c)
        for name in neuron.full_state_names:
            self.register_buffer(f"state_{name}", torch.zeros(1, opts.hidden))

    def _state(self) -> tuple[Tensor, ...]:
        return tuple(getattr(self, f"state_{n}") for n in self.layer.neuron.full_state_names)

    def reset_state(self) -> None:
        self.register.zero_()
        for s in self._state():
            s.zero_()

    def _out(self, spikes: Tensor, state: tuple[Tensor, ...]) -> Tensor:
        feature = state[0] if self.opts.readout == "membrane" else spikes
        return self.mu + self.sigma * self.readout(feature)

    def other_ops(self) -> int:
        """Operations per step beside synapses and membranes: the register's (r − μ)/σ (2W) and the
        output's μ + σ·y (2)."""
        return 2 * self.opts.window + 2

    def step(self, x: Tensor) -> Tensor:
        check_step_input(x)
        self.register = torch.cat([self.register[:, 1:], x.to(self.register.dtype)], 1)
        z = ((self.register - self.mu) / self.sigma)[None]
        spikes, state = self.layer(z, self._state())
        for n, s in zip(self.layer.neuron.full_state_names, state):
            setattr(self, f"state_{n}", s)
        return self._out(spikes[0], state)

    def sequence(self, regs: Tensor) -> Tensor:
        """Training path: registers ``[T, B, W]`` from a zero state → predictions ``[T, B, 1]``."""
        z = (regs - self.mu) / self.sigma
        state, out = None, []
        for t in range(z.shape[0]):  # step by step: the membrane readout needs v at every step
            spikes, state = self.layer(z[t:t + 1], state)
            out.append(self._out(spikes[0], state))
        return torch.stack(out)

    def fit(self, inputs: Tensor, targets: Tensor, opts: FitOptions, seed: int) -> list[float]:
        u = inputs.float()
        self.mu.fill_(float(u.mean()))
        self.sigma.fill_(float(u.std()))
        regs = register_windows(u, self.opts.window)
        g = torch.Generator().manual_seed(seed)
        self.train()
        losses = fit_sequences(self.sequence, self.parameters(), regs, targets.float(), opts, g)
        self.eval()
        return losses
