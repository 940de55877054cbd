"""Stacked spiking layers with a linear readout, for sequence classification and regression.

``x [T, B, F]`` → layer 1 … layer L (Linear → norm → neuron, optionally recurrent) → Linear readout,
giving per-step outputs ``[T, B, C]``; the trainer reduces them over time as the task's
readout says (mean, last step, sum, or every step for regression). The seed's networks:
PSMNIST 1 → 64 → 256 → 256 → 10 and Binary Adding 2 → 128 → 128 → 10, last hidden layer never
recurrent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from nsb.models.layers import SpikingLayer
from nsb.neurons import Neuron


class SpikingClassifier(nn.Module):
    def __init__(self, input_size: int, hidden: Sequence[int], output_size: int,
                 make_neuron: Callable[[int, bool], Neuron], make_norm: Callable[[int, int], nn.Module],
                 recurrent: Sequence[bool], dropouts: Sequence[float] | None = None) -> None:
        super().__init__()
        sizes = [input_size, *hidden]
        dropouts = dropouts or [0.0] * len(hidden)
        owns = getattr(make_neuron, "owns_input", False)  # a neuron holding its input layer (DH-LIF, GSN)
        self.layers = nn.ModuleList(
            SpikingLayer(nn.Identity() if owns else nn.Linear(sizes[i], sizes[i + 1]), make_norm(sizes[i + 1], i),
                         make_neuron(sizes[i + 1], recurrent[i], *([sizes[i]] if owns else [])), dropouts[i])
            for i in range(len(hidden))
        )
        self.readout = nn.Linear(sizes[-1], output_size)

    def forward(self, x: Tensor, state: list | None = None, t0: int = 0) -> tuple[Tensor, list]:
        state = state or [None] * len(self.layers)
        new_state = []
        for layer, st in zip(self.layers, state):
            x, st = layer(x, st, t0)
            new_state.append(st)
        return self.readout(x), new_state
