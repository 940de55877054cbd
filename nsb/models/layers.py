"""A spiking layer: synapse → normalisation → neuron, over a whole time-major sequence.

The synapse is a Linear (or a Conv2d applied to every step); the normalisation sees the whole
feed-forward current ``[T, B, N]`` before the neuron's time loop and never the recurrent input,
as the seed's ``RLIF`` applies it. With ``input_trace`` (OTTT, e-prop) the Linear's weight
gradient goes through a presynaptic trace, which then joins the layer's state.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nsb.learning.traces import traced_linear
from nsb.neurons import Neuron, State


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared by every time step (Gal & Ghahramani 2016)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        mask = torch.empty_like(x[:1]).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask


class SpikingLayer(nn.Module):
    def __init__(self, synapse: nn.Module, norm: nn.Module, neuron: Neuron, dropout: float = 0.0) -> None:
        super().__init__()
        self.synapse = synapse
        self.norm = norm
        self.neuron = neuron
        self.dropout = LockedDropout(dropout)
        self.input_trace = False

    def initial_trace(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x[0])

    def forward(self, x: Tensor, state: State | None = None, t0: int = 0) -> tuple[Tensor, State]:
        neuron_state = state
        if self.input_trace:
            if not isinstance(self.synapse, nn.Linear):
                raise TypeError("presynaptic traces are implemented for Linear synapses")
            trace = self.initial_trace(x) if state is None else state[-1]
            neuron_state = None if state is None else state[:-1]
            current, trace = traced_linear(x, trace, self.synapse, self.neuron.trace_decay)
        else:
            current = self.synapse(x)
        current = self.norm(current, t0=t0)
        spikes, neuron_state = self.neuron(current, neuron_state)
        if self.input_trace:
            neuron_state = neuron_state + (trace,)
        return self.dropout(spikes), neuron_state


class TimeDistributed(nn.Module):
    """Apply a per-sample module (Conv2d, pooling) to every step of ``[T, B, ...]``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        y = self.module(x.flatten(0, 1))
        return y.reshape(x.shape[:2] + y.shape[1:])
